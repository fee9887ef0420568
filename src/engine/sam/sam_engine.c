/*
 * sam_engine.c - the "sam-audio" engine: SAM-Audio separation of any sound
 * named in free text, on the model's official files (sam.c beside this
 * file).
 *
 * check() looks at the model folders without loading them (a dry run or an
 * interactive answer must not read a multi-gigabyte checkpoint). open()
 * makes the same checks, then takes the model from a process-wide table of
 * loaded models, loading it on first use: engines opened on the same
 * folders share one sam_model,
 * each with a sam_state (kernel context, buffers, prompt) of its own, so a
 * second engine costs its buffers, not another copy of the weights. The
 * prompt is encoded once, when the engine is opened (once per batch); each
 * file then runs as chunks of mono 48 kHz audio (the pipeline downmixes
 * and resamples), 10 s with 2 s of overlap by default, the length the
 * model was trained on. Each chunk draws its ODE noise and watermark bits
 * from the seed and the chunk's index within the file, so a run is
 * reproducible. Span prompts (set_anchors) come before each chunk, in the
 * chunk's own time, and condition that chunk only (every prompt's). Opened
 * for several prompts, the engine encodes them together at open, and per
 * chunk encodes the audio once and runs the DiT on all prompts as one
 * batch from the chunk's one noise, then decodes each prompt: each
 * prompt's outputs are those of a run for it alone, to float rounding (the
 * batched products sum in another order). The model returns its own
 * residual; with --residual subtract the pipeline uses mixture - target
 * instead, so the two outputs sum exactly to the mixture, and the model's
 * residual is never decoded (half the codec's decoding saved; the target
 * is the same bit for bit).
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/engines.h"
#include "engine/sam/sam.h"
#include "nn/nn.h"
#include "samsep.h"

/* A loaded model and the engines using it. */
typedef struct shared_model {
    char *key; /* the folders it was loaded from */
    sam_model *model;
    int refs;
    struct shared_model *next;
} shared_model;

static pthread_mutex_t models_mu = PTHREAD_MUTEX_INITIALIZER;
static shared_model *models;

typedef struct sam_engine {
    shared_model *shared;
    sam_state *state;
    uint64_t seed;
    int subtract;
    int n_prompts; /* of sam_set_text */
} sam_engine;

typedef struct sam_stream {
    sam_engine *e;
    int64_t max_frames;
    int64_t padded;  /* max_frames rounded up to whole frames */
    int64_t chunk;   /* index of the next chunk in this file */
    float *noise;    /* [1, T, 2C] */
    float *message;  /* [2, bits] */
    float *target;   /* [n_prompts, T * hop] */
    float *residual; /* [n_prompts, T * hop]; NULL with --residual subtract */
} sam_stream;

/* ---- the table of loaded models --------------------------------------- */

/* "model\nt5\nprecision" with both folders resolved, so that two
 * spellings of one folder share the model (and two precisions do not). */
static char *model_key(const char *dir, const char *t5_dir, int precision)
{
    char a[PATH_MAX], b[PATH_MAX], *key;
    size_t n;

    if (realpath(dir, a) == NULL)
        snprintf(a, sizeof a, "%s", dir);
    if (t5_dir == NULL)
        b[0] = '\0';
    else if (realpath(t5_dir, b) == NULL)
        snprintf(b, sizeof b, "%s", t5_dir);
    n = strlen(a) + strlen(b) + 16;
    key = malloc(n);
    if (key != NULL)
        snprintf(key, n, "%s\n%s\n%d", a, b, precision);
    return key;
}

/* The model of these folders, loaded now unless an engine holds it. */
static int acquire_model(const samsep_engine_config *cfg, shared_model **out, char *err,
                         size_t errlen)
{
    char *key = model_key(cfg->model_path, cfg->text_encoder_path, cfg->precision);
    shared_model *sm;
    int rc = SAMSEP_OK;

    if (key == NULL)
        return SAMSEP_ERR_NOMEM;
    pthread_mutex_lock(&models_mu);
    for (sm = models; sm != NULL && strcmp(sm->key, key) != 0; sm = sm->next)
        ;
    if (sm == NULL) {
        sm = calloc(1, sizeof *sm);
        if (sm == NULL)
            rc = SAMSEP_ERR_NOMEM;
        else
            rc = sam_model_load(cfg->model_path, cfg->text_encoder_path, NULL, NULL,
                                cfg->precision == SAMSEP_PRECISION_BF16
                                    ? NN_PRECISION_BF16
                                    : NN_PRECISION_F32,
                                &sm->model, err, errlen);
        if (rc == SAMSEP_OK) {
            sm->key = key;
            key = NULL;
            sm->next = models;
            models = sm;
        } else {
            free(sm);
            sm = NULL;
        }
    }
    if (sm != NULL)
        sm->refs++;
    pthread_mutex_unlock(&models_mu);
    free(key);
    *out = sm;
    return rc;
}

static void release_model(shared_model *sm)
{
    shared_model **p;

    if (sm == NULL)
        return;
    pthread_mutex_lock(&models_mu);
    if (--sm->refs == 0) {
        for (p = &models; *p != sm; p = &(*p)->next)
            ;
        *p = sm->next;
    } else {
        sm = NULL;
    }
    pthread_mutex_unlock(&models_mu);
    if (sm != NULL) {
        sam_model_close(sm->model);
        free(sm->key);
        free(sm);
    }
}

/* ---- the engine ------------------------------------------------------- */

/* The settings and prompts that open() would refuse. */
static int check_prompts(const samsep_engine_config *cfg, const char *const *prompts,
                         int n, char *err, size_t errlen)
{
    int j;

    if (cfg->model_path == NULL) {
        set_err(err, errlen,
                "engine \"sam-audio\" needs --model DIR (the folder with "
                "SAM-Audio's config.json and checkpoint.pt)");
        return SAMSEP_ERR_INVALID;
    }
    for (j = 0; j < n; j++)
        if (prompts[j][strspn(prompts[j], " \t\r\n")] == '\0') {
            set_err(err, errlen,
                    "engine \"sam-audio\" needs a prompt naming the "
                    "sound, e.g. -p \"dog barking\"");
            return SAMSEP_ERR_UNKNOWN_PROMPT;
        }
    return sam_check(cfg->model_path, cfg->text_encoder_path, NULL, err, errlen);
}

static int se_check(const samsep_engine_config *cfg, char *err, size_t errlen)
{
    const char *prompt = cfg->prompt != NULL ? cfg->prompt : "speech";

    return check_prompts(cfg, &prompt, 1, err, errlen);
}

static void se_close(void *state)
{
    sam_engine *e = state;

    if (e == NULL)
        return;
    sam_state_destroy(e->state);
    release_model(e->shared);
    free(e);
}

/* Open for prompts[0..n): their text features are computed here, once for
 * the whole batch of files, in one batch of the text encoder. */
static int se_open_prompts(const samsep_engine_config *cfg, const char *const *prompts,
                           int n, void **state, samsep_engine_info *info, char *err,
                           size_t errlen)
{
    sam_engine *e;
    int rc;

    rc = check_prompts(cfg, prompts, n, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return SAMSEP_ERR_NOMEM;
    rc = acquire_model(cfg, &e->shared, err, errlen);
    if (rc == SAMSEP_OK)
        rc = sam_state_create(e->shared->model, cfg->threads, &e->state, err, errlen);
    if (rc == SAMSEP_OK) {
        rc = sam_set_text(e->state, prompts, n, err, errlen);
        if (rc > 0)
            rc = SAMSEP_OK;
    }
    if (rc != SAMSEP_OK) {
        se_close(e);
        return rc;
    }
    e->n_prompts = n;
    e->seed = cfg->seed;
    e->subtract = cfg->residual == SAMSEP_RESIDUAL_MIX_MINUS;
    info->sample_rate = sam_sample_rate(e->shared->model);
    info->channels = 1;
    info->streaming = 0;
    info->residual_mode = e->subtract ? SAMSEP_RESIDUAL_SUBTRACT : SAMSEP_RESIDUAL_ENGINE;
    info->chunk_seconds = 10.0;
    info->overlap_seconds = 2.0;
    info->max_chunk_seconds =
        (double)sam_max_samples(e->shared->model) / info->sample_rate;
    *state = e;
    return SAMSEP_OK;
}

static int se_open(const samsep_engine_config *cfg, void **state,
                   samsep_engine_info *info, char *err, size_t errlen)
{
    const char *prompt = cfg->prompt != NULL ? cfg->prompt : "speech";

    return se_open_prompts(cfg, &prompt, 1, state, info, err, errlen);
}

static void se_stream_close(void *state)
{
    sam_stream *s = state;

    if (s == NULL)
        return;
    free(s->noise);
    free(s->message);
    free(s->target);
    free(s->residual);
    free(s);
}

static int se_stream_open(void *engine, int rate, int channels, int64_t max_frames,
                          void **stream, int64_t *latency, char *err, size_t errlen)
{
    sam_engine *e = engine;
    const sam_model *m = e->shared->model;
    int64_t hop = sam_hop(m), T;
    sam_stream *s;

    if (rate != sam_sample_rate(m) || channels != 1 || max_frames < 1) {
        set_err(err, errlen, "sam-audio works on mono %d Hz audio", sam_sample_rate(m));
        return SAMSEP_ERR_INVALID;
    }
    T = (max_frames + hop - 1) / hop;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SAMSEP_ERR_NOMEM;
    s->e = e;
    s->max_frames = max_frames;
    s->padded = T * hop;
    s->noise = malloc((size_t)(T * 2 * sam_latent_channels(m)) * sizeof(float));
    s->message = malloc((size_t)(2 * sam_message_bits(m)) * sizeof(float));
    s->target = malloc((size_t)e->n_prompts * (size_t)s->padded * sizeof(float));
    if (!e->subtract)
        s->residual = malloc((size_t)e->n_prompts * (size_t)s->padded * sizeof(float));
    if (s->noise == NULL || s->message == NULL || s->target == NULL ||
        (!e->subtract && s->residual == NULL)) {
        se_stream_close(s);
        set_err(err, errlen, "out of memory for chunks of %lld frames",
                (long long)max_frames);
        return SAMSEP_ERR_NOMEM;
    }
    /* a file starts without the spans of the one before */
    sam_set_anchors(e->state, 0, NULL, 0, NULL, 0);
    *stream = s;
    *latency = 0;
    return SAMSEP_OK;
}

static int se_process(void *state, const float *in, float *target, float *residual,
                      int64_t frames)
{
    sam_stream *s = state;
    const sam_model *m = s->e->shared->model;
    int64_t T, hop = sam_hop(m);
    char err[SAMSEP_MSG_MAX];
    int rc;

    if (frames < 1 || frames > s->max_frames)
        return SAMSEP_ERR_INVALID;
    T = (frames + hop - 1) / hop;
    sam_noise(s->e->seed, (uint64_t)s->chunk, s->noise, T * 2 * sam_latent_channels(m));
    sam_message(s->e->seed, (uint64_t)s->chunk, s->message, 2 * sam_message_bits(m));
    s->chunk++;
    rc = sam_separate(s->e->state, in, NULL, frames, s->noise, s->message, s->target,
                      s->residual, err, sizeof err);
    if (rc != SAMSEP_OK) {
        LOG_ERROR("sam-audio: %s", err);
        return rc;
    }
    /* the model's output covers whole frames; the input's length is kept */
    memcpy(target, s->target, (size_t)frames * sizeof(float));
    if (residual != NULL && s->residual != NULL)
        memcpy(residual, s->residual, (size_t)frames * sizeof(float));
    return SAMSEP_OK;
}

/* The chunk's span prompts, for the next chunk of every prompt (the
 * pipeline sets them before every chunk, so none are left from another
 * file). */
static int se_set_anchors(void *state, const samsep_anchor *anchors, int count, char *err,
                          size_t errlen)
{
    sam_stream *s = state;
    int j, rc = SAMSEP_OK;

    for (j = 0; j < s->e->n_prompts && rc == SAMSEP_OK; j++)
        rc = sam_set_anchors(s->e->state, j, anchors, count, err, errlen);
    return rc;
}

/* Several prompts: the chunk is encoded once and the wanted prompts run as
 * one batch of the DiT (sam_separate_prompts), from the chunk's one noise
 * and bits, so each prompt's outputs are those of a run of it alone (to
 * float rounding). */
static int se_process_prompts(void *state, const float *in, float *const *targets,
                              float *const *residuals, int64_t frames, int64_t start,
                              char *err, size_t errlen)
{
    sam_stream *s = state;
    const sam_model *m = s->e->shared->model;
    int which[SAMSEP_MAX_PROMPTS];
    float *tb[SAMSEP_MAX_PROMPTS], *rb[SAMSEP_MAX_PROMPTS];
    int64_t T, hop = sam_hop(m);
    int j, n = 0, rc;

    (void)start;
    if (frames < 1 || frames > s->max_frames)
        return SAMSEP_ERR_INVALID;
    for (j = 0; j < s->e->n_prompts; j++)
        if (targets[j] != NULL) {
            which[n] = j;
            tb[n] = s->target + (size_t)n * (size_t)s->padded;
            rb[n] = s->residual != NULL ? s->residual + (size_t)n * (size_t)s->padded
                                        : NULL;
            n++;
        }
    if (n == 0)
        return SAMSEP_OK;
    T = (frames + hop - 1) / hop;
    sam_noise(s->e->seed, (uint64_t)s->chunk, s->noise, T * 2 * sam_latent_channels(m));
    sam_message(s->e->seed, (uint64_t)s->chunk, s->message, 2 * sam_message_bits(m));
    s->chunk++;
    rc = sam_separate_prompts(s->e->state, in, frames, s->noise, s->message, which, n, tb,
                              rb, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    /* the model's output covers whole frames; the input's length is kept */
    for (j = 0; j < n; j++) {
        memcpy(targets[which[j]], tb[j], (size_t)frames * sizeof(float));
        if (residuals[which[j]] != NULL && rb[j] != NULL)
            memcpy(residuals[which[j]], rb[j], (size_t)frames * sizeof(float));
    }
    return SAMSEP_OK;
}

const samsep_engine_vtable samsep_engine_sam_audio = {
    .name = "sam-audio",
    .description =
        "SAM-Audio (native C): any sound named in free text; needs --model DIR",
    .open = se_open,
    .stream_open = se_stream_open,
    .process = se_process,
    .stream_close = se_stream_close,
    .close = se_close,
    .check = se_check,
    .set_anchors = se_set_anchors,
    .open_prompts = se_open_prompts,
    .process_prompts = se_process_prompts,
};
