/*
 * sam_engine.c - the "sam-audio" engine: SAM-Audio separation of any sound
 * named in free text, on the model's official files (sam.c beside this file).
 *
 * The model is loaded and the prompt encoded once, when the engine is
 * opened (once per batch); each file then runs as chunks of mono 48 kHz
 * audio (the pipeline downmixes and resamples), 10 s with 2 s of overlap by
 * default, the length the model was trained on. Each chunk draws its ODE
 * noise and watermark bits from the seed and the chunk's index within the
 * file, so a run is reproducible. The model returns its own residual; with
 * --residual subtract the pipeline uses mixture - target instead, so the
 * two outputs sum exactly to the mixture.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/engines.h"
#include "engine/sam/sam.h"
#include "samsep.h"

typedef struct sam_engine {
    sam_model *model;
    uint64_t seed;
    int subtract;
} sam_engine;

typedef struct sam_stream {
    sam_engine *e;
    int64_t max_frames;
    int64_t padded;       /* max_frames rounded up to whole frames */
    int64_t chunk;        /* index of the next chunk in this file */
    float *noise;         /* [1, T, 2C] */
    float *message;       /* [2, bits] */
    float *target;        /* [T * hop] */
    float *residual;      /* [T * hop] */
} sam_stream;

static int se_open(const samsep_engine_config *cfg, void **state,
                   samsep_engine_info *info, char *err, size_t errlen)
{
    const char *prompt = cfg->prompt != NULL ? cfg->prompt : "speech";
    sam_engine *e;
    int rc;

    if (cfg->model_path == NULL) {
        set_err(err, errlen, "engine \"sam-audio\" needs --model DIR (the folder with "
                "SAM-Audio's config.json and checkpoint.pt)");
        return SAMSEP_ERR_INVALID;
    }
    if (prompt[strspn(prompt, " \t\r\n")] == '\0') {
        set_err(err, errlen, "engine \"sam-audio\" needs a prompt naming the sound, "
                "e.g. -p \"dog barking\"");
        return SAMSEP_ERR_UNKNOWN_PROMPT;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return SAMSEP_ERR_NOMEM;
    rc = sam_open(cfg->model_path, cfg->text_encoder_path, NULL, cfg->threads,
                  &e->model, err, errlen);
    if (rc == SAMSEP_OK) {
        rc = sam_set_text(e->model, &prompt, 1, err, errlen);
        if (rc > 0)
            rc = SAMSEP_OK;
    }
    if (rc != SAMSEP_OK) {
        sam_close(e->model);
        free(e);
        return rc;
    }
    e->seed = cfg->seed;
    e->subtract = cfg->residual == SAMSEP_RESIDUAL_MIX_MINUS;
    info->sample_rate = sam_sample_rate(e->model);
    info->channels = 1;
    info->streaming = 0;
    info->residual_mode = e->subtract ? SAMSEP_RESIDUAL_SUBTRACT : SAMSEP_RESIDUAL_ENGINE;
    info->chunk_seconds = 10.0;
    info->overlap_seconds = 2.0;
    info->max_chunk_seconds = (double)sam_max_samples(e->model) / info->sample_rate;
    *state = e;
    return SAMSEP_OK;
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
    sam_model *m = e->model;
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
    s->target = malloc((size_t)s->padded * sizeof(float));
    s->residual = malloc((size_t)s->padded * sizeof(float));
    if (s->noise == NULL || s->message == NULL || s->target == NULL ||
        s->residual == NULL) {
        se_stream_close(s);
        set_err(err, errlen, "out of memory for chunks of %lld frames",
                (long long)max_frames);
        return SAMSEP_ERR_NOMEM;
    }
    *stream = s;
    *latency = 0;
    return SAMSEP_OK;
}

static int se_process(void *state, const float *in, float *target, float *residual,
                      int64_t frames)
{
    sam_stream *s = state;
    sam_model *m = s->e->model;
    int64_t T, hop = sam_hop(m);
    char err[SAMSEP_MSG_MAX];
    int rc;

    if (frames < 1 || frames > s->max_frames)
        return SAMSEP_ERR_INVALID;
    T = (frames + hop - 1) / hop;
    sam_noise(s->e->seed, (uint64_t)s->chunk, s->noise, T * 2 * sam_latent_channels(m));
    sam_message(s->e->seed, (uint64_t)s->chunk, s->message, 2 * sam_message_bits(m));
    s->chunk++;
    rc = sam_separate(m, in, NULL, frames, s->noise, s->message, s->target,
                      s->residual, err, sizeof err);
    if (rc != SAMSEP_OK) {
        LOG_ERROR("sam-audio: %s", err);
        return rc;
    }
    /* the model's output covers whole frames; the input's length is kept */
    memcpy(target, s->target, (size_t)frames * sizeof(float));
    if (residual != NULL)
        memcpy(residual, s->residual, (size_t)frames * sizeof(float));
    return SAMSEP_OK;
}

static void se_close(void *state)
{
    sam_engine *e = state;

    if (e == NULL)
        return;
    sam_close(e->model);
    free(e);
}

const samsep_engine_vtable samsep_engine_sam_audio = {
    "sam-audio",
    "SAM-Audio (native C): any sound named in free text; needs --model DIR",
    se_open,
    se_stream_open,
    se_process,
    se_stream_close,
    se_close,
};
