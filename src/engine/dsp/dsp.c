/*
 * dsp.c - the "dsp" engine: classical, streaming separation by prompt
 * keyword.
 *
 * The engine is a thin layer over two parts: a streaming STFT per channel
 * (stft.c) and a "processor" per prompt (dsp_internal.h) that turns each
 * frame's power spectrum into a gain per bin. This file maps the prompt to
 * a processor through the table `prompts` below, so a new keyword is one
 * new row there; applies the gain to the complex spectrum (or 1 - gain for
 * a complementary prompt, which makes that target exactly the mixture minus
 * the other); and runs every channel independently with its own STFT and
 * processor state. The output is the target only: the pipeline computes
 * the residual as mixture - target.
 *
 * Streaming: process() keeps all state between calls, so its output does
 * not depend on how the input is split into calls; it is delayed by the
 * STFT frame length minus one, which stream_open() reports as the latency.
 * All memory is taken in stream_open(); process() allocates nothing.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/dsp_internal.h"
#include "engine/dsp/stft.h"
#include "engine/engines.h"
#include "samsep.h"

/* Rates the engine accepts; the frame length scales with the rate. */
#define DSP_MIN_RATE 8000
#define DSP_MAX_RATE 384000
/* Sanity bound on channels: each costs one STFT and processor state. */
#define DSP_MAX_CHANNELS 1024

typedef struct dsp_prompt {
    const char *keyword;
    const dsp_processor *proc;
    int complement; /* 1: target = mixture - what proc keeps */
} dsp_prompt;

/* The prompts the engine knows, in the order the error message lists them. */
static const dsp_prompt prompts[] = {
    {"speech", &dsp_proc_speech, 0},
    {"voice", &dsp_proc_speech, 0},
    {"noise", &dsp_proc_speech, 1},
};
#define N_PROMPTS ((int)(sizeof prompts / sizeof prompts[0]))

typedef struct dsp_engine {
    const dsp_prompt *prompt;
} dsp_engine;

struct dsp_stream;

typedef struct dsp_channel {
    struct dsp_stream *stream;
    dsp_stft *stft;
    void *state; /* the processor's */
} dsp_channel;

typedef struct dsp_stream {
    const dsp_prompt *prompt;
    int channels;
    int bins;
    int64_t max_frames;
    float *power;         /* [bins] scratch shared by the channels */
    float *gain;          /* [bins] scratch */
    dsp_channel *chan;    /* [channels] */
} dsp_stream;

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* Case-insensitive match of the keyword against s[0..n). ASCII only, so the
 * result does not depend on the locale. */
static int keyword_is(const char *keyword, const char *s, size_t n)
{
    if (strlen(keyword) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)s[i]) != keyword[i])
            return 0;
    return 1;
}

static int dsp_open(const samsep_engine_config *config, void **engine,
                    samsep_engine_info *info, char *err, size_t errlen)
{
    if (engine == NULL || info == NULL) {
        set_err(err, errlen, "engine \"dsp\": open needs engine and info pointers");
        return SAMSEP_ERR_INVALID;
    }
    *engine = NULL;

    const char *p = config != NULL ? config->prompt : NULL;
    if (p == NULL)
        p = "speech";
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)*p)) {
        p++;
        n--;
    }
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    const dsp_prompt *found = NULL;
    if (n == 0) {
        /* An empty prompt means the default, like NULL. */
        found = &prompts[0];
    } else {
        for (int i = 0; i < N_PROMPTS && found == NULL; i++)
            if (keyword_is(prompts[i].keyword, p, n))
                found = &prompts[i];
    }
    if (found == NULL) {
        if (err != NULL && errlen > 0) {
            char known[256] = "";
            size_t used = 0;
            for (int i = 0; i < N_PROMPTS; i++) {
                int w = snprintf(known + used, sizeof known - used, "%s%s",
                                 i > 0 ? ", " : "", prompts[i].keyword);
                if (w < 0 || (size_t)w >= sizeof known - used)
                    break;
                used += (size_t)w;
            }
            snprintf(err, errlen,
                     "engine \"dsp\" does not know the prompt \"%.*s\"; it knows: %s "
                     "(free-text prompts need the sam-audio engine)",
                     n > 200 ? 200 : (int)n, p, known);
        }
        return SAMSEP_ERR_UNKNOWN_PROMPT;
    }

    dsp_engine *e = calloc(1, sizeof *e);
    if (e == NULL) {
        set_err(err, errlen, "engine \"dsp\": out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    e->prompt = found;

    info->sample_rate = 0;
    info->channels = 0;
    info->streaming = 1;
    info->residual_mode = SAMSEP_RESIDUAL_SUBTRACT;
    info->chunk_seconds = 0.0;
    info->overlap_seconds = -1.0;
    *engine = e;
    return SAMSEP_OK;
}

static void dsp_stream_close(void *stream)
{
    dsp_stream *s = stream;
    if (s == NULL)
        return;
    if (s->chan != NULL) {
        for (int c = 0; c < s->channels; c++) {
            dsp_stft_destroy(s->chan[c].stft);
            if (s->chan[c].state != NULL)
                s->prompt->proc->destroy(s->chan[c].state);
        }
    }
    free(s->chan);
    free(s->power);
    free(s->gain);
    free(s);
}

static int dsp_stream_open(void *engine, int rate, int channels, int64_t max_frames,
                           void **stream, int64_t *latency, char *err, size_t errlen)
{
    if (stream != NULL)
        *stream = NULL;
    if (engine == NULL || stream == NULL || latency == NULL) {
        set_err(err, errlen, "engine \"dsp\": stream_open needs engine, stream and latency pointers");
        return SAMSEP_ERR_INVALID;
    }
    if (rate < DSP_MIN_RATE || rate > DSP_MAX_RATE) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "engine \"dsp\": sample rate %d Hz is outside %d..%d Hz",
                     rate, DSP_MIN_RATE, DSP_MAX_RATE);
        return SAMSEP_ERR_INVALID;
    }
    if (channels < 1 || channels > DSP_MAX_CHANNELS) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "engine \"dsp\": %d channels is outside 1..%d",
                     channels, DSP_MAX_CHANNELS);
        return SAMSEP_ERR_INVALID;
    }
    if (max_frames < 1) {
        set_err(err, errlen, "engine \"dsp\": max_frames must be positive");
        return SAMSEP_ERR_INVALID;
    }

    const dsp_engine *e = engine;
    const dsp_processor *proc = e->prompt->proc;
    int len = proc->frame_length(rate);
    if (len <= 0) {
        set_err(err, errlen, "engine \"dsp\": no frame length for this sample rate");
        return SAMSEP_ERR_INVALID;
    }

    dsp_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        goto nomem;
    s->prompt = e->prompt;
    s->channels = channels;
    s->bins = len / 2 + 1;
    s->max_frames = max_frames;
    s->power = malloc((size_t)s->bins * sizeof *s->power);
    s->gain = malloc((size_t)s->bins * sizeof *s->gain);
    s->chan = calloc((size_t)channels, sizeof *s->chan);
    if (!s->power || !s->gain || !s->chan)
        goto nomem;
    for (int c = 0; c < channels; c++) {
        s->chan[c].stream = s;
        int rc = dsp_stft_create(len, &s->chan[c].stft);
        if (rc == SAMSEP_OK)
            rc = proc->create(rate, len, &s->chan[c].state);
        if (rc != SAMSEP_OK) {
            dsp_stream_close(s);
            if (rc == SAMSEP_ERR_NOMEM) {
                set_err(err, errlen, "engine \"dsp\": out of memory");
            } else if (err != NULL && errlen > 0) {
                snprintf(err, errlen, "engine \"dsp\": cannot set up %s at %d Hz (frame %d)",
                         proc->name, rate, len);
            }
            return rc;
        }
    }
    *latency = dsp_stft_latency(s->chan[0].stft);
    *stream = s;
    return SAMSEP_OK;

nomem:
    dsp_stream_close(s);
    set_err(err, errlen, "engine \"dsp\": out of memory");
    return SAMSEP_ERR_NOMEM;
}

/* Per-frame work of one channel: gains from the power spectrum, applied to
 * the complex bins. */
static void on_frame(void *user, dsp_cplx *spec, int bins)
{
    dsp_channel *ch = user;
    dsp_stream *s = ch->stream;
    float *power = s->power, *gain = s->gain;
    for (int k = 0; k < bins; k++)
        power[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
    s->prompt->proc->gains(ch->state, power, gain, bins);
    if (s->prompt->complement) {
        for (int k = 0; k < bins; k++)
            gain[k] = 1.0f - gain[k];
    }
    for (int k = 0; k < bins; k++) {
        spec[k][0] *= gain[k];
        spec[k][1] *= gain[k];
    }
}

static int dsp_process(void *stream, const float *in, float *target, float *residual,
                       int64_t frames)
{
    /* residual_mode is SUBTRACT: the pipeline passes NULL and makes the
     * residual itself; a non-NULL residual is left untouched. */
    (void)residual;
    dsp_stream *s = stream;
    if (s == NULL || frames < 0 || frames > s->max_frames)
        return SAMSEP_ERR_INVALID;
    if (frames == 0)
        return SAMSEP_OK;
    if (in == NULL || target == NULL)
        return SAMSEP_ERR_INVALID;
    for (int c = 0; c < s->channels; c++)
        dsp_stft_run(s->chan[c].stft, in + c, target + c, s->channels, frames,
                     on_frame, &s->chan[c]);
    return SAMSEP_OK;
}

static void dsp_close(void *engine)
{
    free(engine);
}

const samsep_engine_vtable samsep_engine_dsp = {
    "dsp",
    "classical DSP by keyword: speech (or voice) enhancement, noise; streaming, any rate",
    dsp_open,
    dsp_stream_open,
    dsp_process,
    dsp_stream_close,
    dsp_close,
};
