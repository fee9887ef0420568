/*
 * engine.c - the engine registry and the handle that wraps an engine's table.
 *
 * An open engine is its table, the state its open() returned, the info it
 * declared and a copy of the prompt. Checking an engine (its check(), or an
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

int samsep_engine_open_custom(const samsep_engine_vtable *vt,
                              const samsep_engine_config *config,
                              samsep_engine **out, char *err, size_t errlen)
{
    samsep_engine_config defaults;
    samsep_engine *e;
    const char *prompt;
    int rc;

    if (out == NULL)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    if (vt == NULL || vt->name == NULL || vt->open == NULL ||
        vt->stream_open == NULL || (vt->process == NULL && vt->process_at == NULL)) {
        set_err(err, errlen, "engine table is incomplete");
        return SAMSEP_ERR_INVALID;
    }
    memset(&defaults, 0, sizeof defaults);
    if (config == NULL)
        config = &defaults;
    prompt = config->prompt != NULL ? config->prompt : "speech";
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->prompt = strdup(prompt)) == NULL) {
        free(e);
        set_err(err, errlen, "out of memory opening engine \"%s\"", vt->name);
        return SAMSEP_ERR_NOMEM;
    }
    e->vt = vt;
    e->info.overlap_seconds = -1.0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    rc = vt->open(config, &e->state, &e->info, err, errlen);
    if (rc != SAMSEP_OK) {
        if (err != NULL && errlen > 0 && err[0] == '\0')
            set_err(err, errlen, "engine \"%s\": %s", vt->name,
                    samsep_strerror(rc));
        free(e->prompt);
        free(e);
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

int samsep_engine_check(const char *name, const samsep_engine_config *config,
                        char *err, size_t errlen)
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
    if (e->vt->close != NULL)
        e->vt->close(e->state);
    free(e->prompt);
    free(e);
}

const char *samsep_engine_name(const samsep_engine *e)
{
    return e != NULL ? e->vt->name : NULL;
}

const char *samsep_engine_prompt(const samsep_engine *e)
{
    return e != NULL ? e->prompt : NULL;
}

const samsep_engine_info *samsep_engine_get_info(const samsep_engine *e)
{
    return e != NULL ? &e->info : NULL;
}
