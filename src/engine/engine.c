/*
 * engine.c - the engine registry and the handle that wraps an engine's table.
 *
 * An open engine is its table, the state its open() returned, the info it
 * declared and a copy of its prompts. Opened for several prompts, an
 * engine with process_prompts holds one state for all of them; any other
 * is opened once per prompt, and a chunk goes through each state in turn
 * (engine_process), which gives exactly what separate runs would. Checking an engine (its check(), or an
 * open and close when it has none) refuses what open would refuse without
 * loading a model, for dry runs and interactive answers. The pipeline talks to engines only
 * through this handle; adding an engine means adding its table to
 * builtin_engines[] and nothing else.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "engine/engine_handle.h"
#include "engine/engines.h"

static const samsep_engine_vtable *const builtin_engines[] = {
    &samsep_engine_dsp,
    &samsep_engine_sam_audio,
    &samsep_engine_exec,
};

#define N_BUILTIN ((int)(sizeof builtin_engines / sizeof builtin_engines[0]))

const samsep_engine_vtable *samsep_engine_builtin(int index)
{
    if (index < 0 || index >= N_BUILTIN)
        return NULL;
    return builtin_engines[index];
}

/* Free a handle whose states are closed (or were never opened). */
static void free_handle(samsep_engine *e)
{
    int i;

    for (i = 0; e->prompts != NULL && i < e->n_prompts; i++)
        free(e->prompts[i]);
    free(e->prompts);
    free(e->instances);
    free(e->prompt);
    free(e);
}

/* A handle for the prompts, with nothing opened yet; NULL when out of
 * memory. */
static samsep_engine *new_handle(const samsep_engine_vtable *vt,
                                 const char *const *prompts, int n)
{
    samsep_engine *e = calloc(1, sizeof *e);
    int i;

    if (e == NULL)
        return NULL;
    e->vt = vt;
    e->info.overlap_seconds = -1.0;
    e->n_prompts = n;
    e->prompts = calloc((size_t)n, sizeof *e->prompts);
    if (e->prompts == NULL || (e->prompt = strdup(prompts[0])) == NULL) {
        free_handle(e);
        return NULL;
    }
    for (i = 0; i < n; i++)
        if ((e->prompts[i] = strdup(prompts[i])) == NULL) {
            free_handle(e);
            return NULL;
        }
    return e;
}

/* vt->open with the config's prompt set to `prompt`. */
static int open_one(const samsep_engine_vtable *vt, const samsep_engine_config *config,
                    const char *prompt, void **state, samsep_engine_info *info, char *err,
                    size_t errlen)
{
    samsep_engine_config c = *config;

    c.prompt = prompt;
    return vt->open(&c, state, info, err, errlen);
}

/* Open the engine's states: one for one prompt or for an engine that takes
 * its prompts together, else one per prompt, which must all declare the
 * same needs. */
static int open_states(samsep_engine *e, const samsep_engine_config *config, char *err,
                       size_t errlen)
{
    const samsep_engine_vtable *vt = e->vt;
    int i, rc;

    if (e->n_prompts == 1 || (vt->open_prompts != NULL && vt->process_prompts != NULL)) {
        rc = e->n_prompts == 1
                 ? open_one(vt, config, e->prompts[0], &e->state, &e->info, err, errlen)
                 : vt->open_prompts(config, (const char *const *)e->prompts, e->n_prompts,
                                    &e->state, &e->info, err, errlen);
        e->n_open = rc == SAMSEP_OK;
        return rc;
    }
    e->instances = calloc((size_t)e->n_prompts, sizeof *e->instances);
    if (e->instances == NULL)
        return SAMSEP_ERR_NOMEM;
    for (i = 0; i < e->n_prompts; i++) {
        samsep_engine_info info = e->info;

        rc = open_one(vt, config, e->prompts[i], &e->instances[i],
                      i == 0 ? &e->info : &info, err, errlen);
        if (rc != SAMSEP_OK)
            return rc;
        e->n_open++;
        if (i > 0 && memcmp(&info, &e->info, sizeof info) != 0) {
            set_err(err, errlen,
                    "engine \"%s\" declares other needs for the prompt "
                    "\"%s\" than for \"%s\"; run them separately",
                    vt->name, e->prompts[i], e->prompts[0]);
            return SAMSEP_ERR_ENGINE;
        }
    }
    e->state = e->instances[0];
    return SAMSEP_OK;
}

static void close_states(samsep_engine *e)
{
    int i;

    if (e->vt->close == NULL)
        return;
    if (e->instances == NULL) {
        if (e->n_open > 0)
            e->vt->close(e->state);
        return;
    }
    for (i = 0; i < e->n_open; i++)
        e->vt->close(e->instances[i]);
}

int samsep_engine_open_prompts_custom(const samsep_engine_vtable *vt,
                                      const samsep_engine_config *config,
                                      const char *const *prompts, int n,
                                      samsep_engine **out, char *err, size_t errlen)
{
    samsep_engine_config defaults;
    samsep_engine *e;
    int i, j, rc;

    if (out == NULL)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    if (vt == NULL || vt->name == NULL || vt->open == NULL || vt->stream_open == NULL ||
        (vt->process == NULL && vt->process_at == NULL)) {
        set_err(err, errlen, "engine table is incomplete");
        return SAMSEP_ERR_INVALID;
    }
    if (prompts == NULL || n < 1 || n > SAMSEP_MAX_PROMPTS) {
        set_err(err, errlen, "engine \"%s\": 1 to %d prompts, not %d", vt->name,
                SAMSEP_MAX_PROMPTS, n);
        return SAMSEP_ERR_INVALID;
    }
    for (i = 0; i < n; i++)
        for (j = 0; j < i; j++)
            if (prompts[i] == NULL || strcmp(prompts[i], prompts[j]) == 0) {
                set_err(err, errlen, "the prompt \"%s\" is given twice",
                        prompts[i] != NULL ? prompts[i] : "");
                return SAMSEP_ERR_INVALID;
            }
    memset(&defaults, 0, sizeof defaults);
    if (config == NULL)
        config = &defaults;
    e = new_handle(vt, prompts, n);
    if (e == NULL) {
        set_err(err, errlen, "out of memory opening engine \"%s\"", vt->name);
        return SAMSEP_ERR_NOMEM;
    }
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = open_states(e, config, err, errlen);
    if (rc != SAMSEP_OK) {
        if (err != NULL && errlen > 0 && err[0] == '\0')
            set_err(err, errlen, "engine \"%s\": %s", vt->name, samsep_strerror(rc));
        samsep_engine_close(e);
        return rc < 0 ? rc : SAMSEP_ERR_ENGINE;
    }
    if (e->info.channels != 0 && e->info.channels != 1) {
        set_err(err, errlen, "engine \"%s\" declares %d channels (0 or 1 allowed)",
                vt->name, e->info.channels);
        samsep_engine_close(e);
        return SAMSEP_ERR_ENGINE;
    }
    *out = e;
    return SAMSEP_OK;
}

int samsep_engine_open_custom(const samsep_engine_vtable *vt,
                              const samsep_engine_config *config, samsep_engine **out,
                              char *err, size_t errlen)
{
    const char *prompt = config != NULL && config->prompt != NULL ? config->prompt
                                                                  : "speech";

    return samsep_engine_open_prompts_custom(vt, config, &prompt, 1, out, err, errlen);
}

/* The built-in table of that name, or NULL with err listing the names. */
static const samsep_engine_vtable *find_builtin(const char *name, char *err,
                                                size_t errlen)
{
    char known[256] = "";
    int i;

    if (name == NULL) {
        set_err(err, errlen, "no engine name given");
        return NULL;
    }
    for (i = 0; i < N_BUILTIN; i++) {
        if (strcasecmp(builtin_engines[i]->name, name) == 0)
            return builtin_engines[i];
        if (i > 0)
            strncat(known, ", ", sizeof known - strlen(known) - 1);
        strncat(known, builtin_engines[i]->name, sizeof known - strlen(known) - 1);
    }
    set_err(err, errlen, "unknown engine \"%s\"; available engines: %s", name, known);
    return NULL;
}

int samsep_engine_open(const char *name, const samsep_engine_config *config,
                       samsep_engine **out, char *err, size_t errlen)
{
    const samsep_engine_vtable *vt;

    if (out != NULL)
        *out = NULL;
    if (name == NULL || out == NULL) {
        set_err(err, errlen, "no engine name given");
        return SAMSEP_ERR_INVALID;
    }
    vt = find_builtin(name, err, errlen);
    if (vt == NULL)
        return SAMSEP_ERR_UNKNOWN_ENGINE;
    return samsep_engine_open_custom(vt, config, out, err, errlen);
}

int samsep_engine_open_prompts(const char *name, const samsep_engine_config *config,
                               const char *const *prompts, int n, samsep_engine **out,
                               char *err, size_t errlen)
{
    const samsep_engine_vtable *vt;

    if (out != NULL)
        *out = NULL;
    if (name == NULL || out == NULL) {
        set_err(err, errlen, "no engine name given");
        return SAMSEP_ERR_INVALID;
    }
    vt = find_builtin(name, err, errlen);
    if (vt == NULL)
        return SAMSEP_ERR_UNKNOWN_ENGINE;
    return samsep_engine_open_prompts_custom(vt, config, prompts, n, out, err, errlen);
}

int samsep_engine_check_custom(const samsep_engine_vtable *vt,
                               const samsep_engine_config *config, char *err,
                               size_t errlen)
{
    samsep_engine_config defaults;
    samsep_engine *e = NULL;
    int rc;

    memset(&defaults, 0, sizeof defaults);
    if (vt == NULL || vt->check == NULL) {
        /* open and close stand in (an incomplete table is refused there) */
        rc = samsep_engine_open_custom(vt, config, &e, err, errlen);
        samsep_engine_close(e);
        return rc;
    }
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = vt->check(config != NULL ? config : &defaults, err, errlen);
    if (rc != SAMSEP_OK && err != NULL && errlen > 0 && err[0] == '\0')
        set_err(err, errlen, "engine \"%s\": %s", vt->name, samsep_strerror(rc));
    return rc == SAMSEP_OK ? SAMSEP_OK : rc < 0 ? rc : SAMSEP_ERR_ENGINE;
}

int samsep_engine_check(const char *name, const samsep_engine_config *config, char *err,
                        size_t errlen)
{
    const samsep_engine_vtable *vt = find_builtin(name, err, errlen);

    if (vt == NULL)
        return name == NULL ? SAMSEP_ERR_INVALID : SAMSEP_ERR_UNKNOWN_ENGINE;
    return samsep_engine_check_custom(vt, config, err, errlen);
}

void samsep_engine_close(samsep_engine *e)
{
    if (e == NULL)
        return;
    close_states(e);
    free_handle(e);
}

const char *samsep_engine_name(const samsep_engine *e)
{
    return e != NULL ? e->vt->name : NULL;
}

const char *samsep_engine_prompt(const samsep_engine *e)
{
    return e != NULL ? e->prompt : NULL;
}

int samsep_engine_prompt_count(const samsep_engine *e)
{
    return e != NULL ? e->n_prompts : 0;
}

const char *samsep_engine_prompt_at(const samsep_engine *e, int index)
{
    return e != NULL && index >= 0 && index < e->n_prompts ? e->prompts[index] : NULL;
}

const samsep_engine_info *samsep_engine_get_info(const samsep_engine *e)
{
    return e != NULL ? &e->info : NULL;
}

/* ---- the pipeline's side ------------------------------------------------ */

void engine_streams_close(samsep_engine *e, void **streams, int n)
{
    int i;

    if (streams == NULL)
        return;
    for (i = 0; i < n; i++)
        if (streams[i] != NULL && e->vt->stream_close != NULL)
            e->vt->stream_close(streams[i]);
    free(streams);
}

int engine_streams_open(samsep_engine *e, int rate, int channels, int64_t max_frames,
                        void ***streams, int *n, int64_t *latency, char *err,
                        size_t errlen)
{
    int j;
    int i, count = e->instances != NULL ? e->n_prompts : 1, rc = SAMSEP_OK;
    void **s = calloc((size_t)count, sizeof *s);

    *streams = NULL;
    *n = 0;
    if (s == NULL)
        return SAMSEP_ERR_NOMEM;
    for (i = 0; i < count && rc == SAMSEP_OK; i++) {
        int64_t lat = 0;

        rc = e->vt->stream_open(e->instances != NULL ? e->instances[i] : e->state, rate,
                                channels, max_frames, &s[i], &lat, err, errlen);
        latency[i] = lat;
    }
    for (j = count; j < e->n_prompts; j++) /* one stream serves all prompts */
        latency[j] = latency[0];
    if (rc != SAMSEP_OK) {
        engine_streams_close(e, s, count);
        return rc;
    }
    *streams = s;
    *n = count;
    return SAMSEP_OK;
}

/* One stream, one prompt: process_at where the table has it. */
static int process_one(const samsep_engine_vtable *vt, void *stream, const float *in,
                       float *target, float *residual, int64_t frames, int64_t start,
                       char *err, size_t errlen)
{
    if (vt->process_at != NULL)
        return vt->process_at(stream, in, target, residual, frames, start, err, errlen);
    return vt->process(stream, in, target, residual, frames);
}

int engine_process(samsep_engine *e, void **streams, const float *in,
                   float *const *targets, float *const *residuals, int64_t frames,
                   int64_t start, char *err, size_t errlen)
{
    int j, rc = SAMSEP_OK;

    if (e->n_prompts == 1)
        return process_one(e->vt, streams[0], in, targets[0], residuals[0], frames, start,
                           err, errlen);
    if (e->instances == NULL)
        return e->vt->process_prompts(streams[0], in, targets, residuals, frames, start,
                                      err, errlen);
    for (j = 0; j < e->n_prompts && rc == SAMSEP_OK; j++)
        if (targets[j] != NULL)
            rc = process_one(e->vt, streams[j], in, targets[j], residuals[j], frames,
                             start, err, errlen);
    return rc;
}
