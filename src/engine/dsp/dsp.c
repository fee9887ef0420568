/*
 * dsp.c - the "dsp" engine: classical, streaming separation by prompt
 * keyword.
 *
 * The engine is a thin layer over two parts: a streaming STFT per channel
 * (stft.c) and a "processor" per prompt (dsp_internal.h). The words of a
 * prompt are mapped to a mode by prompts.c, and the mode to a processor by
 * the table `prompts` below. A processor is of one of two kinds: a gain
 * processor turns each frame's power spectrum into a gain per bin, which
 * this file applies to the complex spectrum (or 1 - gain for a
 * complementary prompt, which makes that target exactly the mixture minus
 * the other), every channel independently with its own state, and may look
 * a fixed number of frames ahead (this file then holds each frame's
 * spectrum until its gain comes); a spectral processor (HPSS, hum, vocals)
 * writes each frame's target spectrum itself, sees all channels, and may
 * also look ahead. The output is the target only: the pipeline computes
 * the residual as mixture - target.
 *
 * Streaming: process() keeps all state between calls, so its output does
 * not depend on how the input is split into calls; it is delayed by the
 * STFT frame length minus one, plus the processor's look-ahead in hops,
 * which stream_open() reports as the latency. All memory is taken in
 * stream_open(); process() allocates nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/dsp_internal.h"
#include "engine/dsp/prompts.h"
#include "engine/dsp/stft.h"
#include "engine/engines.h"
#include "samsep.h"

/* Rates the engine accepts; the frame length scales with the rate. */
#define DSP_MIN_RATE 8000
#define DSP_MAX_RATE 384000
/* Sanity bound on channels: each costs one STFT and processor state. */
#define DSP_MAX_CHANNELS 1024

/* What a mode (prompts.h) runs: a per-frame gain processor or a spectral
 * processor (dsp_internal.h), exactly one of the two. */
typedef struct dsp_prompt {
    int mode;
    const dsp_processor *proc;
    int complement; /* 1: target = mixture - what proc keeps */
    const dsp_spectral *spec;
} dsp_prompt;

/* One row per dsp_mode, in its order; the words that select each mode are
 * in prompts.c. */
static const dsp_prompt prompts[] = {
    { DSP_MODE_SPEECH, &dsp_proc_speech, 0, NULL },
    { DSP_MODE_NOISE, &dsp_proc_speech, 1, NULL },
    { DSP_MODE_MUSIC, NULL, 0, &dsp_spec_hpss },
    { DSP_MODE_DRUMS, NULL, 0, &dsp_spec_hpss },
    { DSP_MODE_VOCALS, NULL, 0, &dsp_spec_vocals },
    { DSP_MODE_HUM, NULL, 0, &dsp_spec_hum },
};
#define N_PROMPTS ((int)(sizeof prompts / sizeof prompts[0]))
_Static_assert(N_PROMPTS == DSP_MODE_COUNT, "one row of prompts[] per dsp_mode");

typedef struct dsp_engine {
    const dsp_prompt *prompt;
} dsp_engine;

struct dsp_stream;

typedef struct dsp_channel {
    struct dsp_stream *stream;
    dsp_stft *stft;
    void *state;    /* the gain processor's */
    dsp_cplx *held; /* [delay][bins] spectra awaiting their gain (ring) */
    int next;       /* slot of held[] with the oldest spectrum */
    int index;
} dsp_channel;

typedef struct dsp_stream {
    const dsp_prompt *prompt;
    int channels;
    int bins;
    int64_t max_frames;
    float *power;      /* [bins] scratch shared by the channels */
    float *gain;       /* [bins] scratch */
    dsp_channel *chan; /* [channels] */
    void *spec_state;  /* the spectral processor's (all channels) */
    int hop;
    int delay; /* the gain processor's look-ahead, frames */
    int fill;  /* samples of the current hop pushed, 0..hop-1 */
} dsp_stream;

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* The prompt is all there is to check: every rate and channel count runs. */
static int dsp_check(const samsep_engine_config *config, char *err, size_t errlen)
{
    const char *p = config != NULL ? config->prompt : NULL;
    int mode = dsp_prompt_mode(p);

    if (mode < 0 || mode >= N_PROMPTS) {
        dsp_prompt_unknown_message(p, err, errlen);
        return SAMSEP_ERR_UNKNOWN_PROMPT;
    }
    return SAMSEP_OK;
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
    int mode = dsp_prompt_mode(p);
    if (mode < 0 || mode >= N_PROMPTS) {
        dsp_prompt_unknown_message(p, err, errlen);
        return SAMSEP_ERR_UNKNOWN_PROMPT;
    }
    const dsp_prompt *found = &prompts[mode];

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
            free(s->chan[c].held);
        }
    }
    if (s->spec_state != NULL)
        s->prompt->spec->destroy(s->spec_state);
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
        set_err(err, errlen,
                "engine \"dsp\": stream_open needs engine, stream and latency pointers");
        return SAMSEP_ERR_INVALID;
    }
    if (rate < DSP_MIN_RATE || rate > DSP_MAX_RATE) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen,
                     "engine \"dsp\": sample rate %d Hz is outside %d..%d Hz", rate,
                     DSP_MIN_RATE, DSP_MAX_RATE);
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
    const dsp_spectral *spec = e->prompt->spec;
    const char *proc_name = proc != NULL ? proc->name : spec->name;
    int len = proc != NULL ? proc->frame_length(rate) : spec->frame_length(rate);
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
    s->hop = len / (proc != NULL ? proc->overlap : DSP_SPECTRAL_OVERLAP);
    s->max_frames = max_frames;
    s->power = malloc((size_t)s->bins * sizeof *s->power);
    s->gain = malloc((size_t)s->bins * sizeof *s->gain);
    s->chan = calloc((size_t)channels, sizeof *s->chan);
    if (!s->power || !s->gain || !s->chan)
        goto nomem;
    /* A spectral processor reports its look-ahead when it is made. */
    int delay = proc != NULL ? proc->delay : 0;
    s->delay = delay;
    for (int c = 0; c <= channels; c++) {
        int rc = SAMSEP_OK;
        if (c == channels) {
            /* After the channels' STFTs: the spectral processor, once. */
            if (spec != NULL)
                rc = spec->create(rate, len, channels, e->prompt->mode, &s->spec_state,
                                  &delay);
        } else {
            s->chan[c].stream = s;
            s->chan[c].index = c;
            rc = dsp_stft_create(len, s->hop, &s->chan[c].stft);
            if (rc == SAMSEP_OK && proc != NULL)
                rc = proc->create(rate, len, s->hop, &s->chan[c].state);
            if (rc == SAMSEP_OK && s->delay > 0) {
                s->chan[c].held =
                    calloc((size_t)s->delay * (size_t)s->bins, sizeof(dsp_cplx));
                if (s->chan[c].held == NULL)
                    rc = SAMSEP_ERR_NOMEM;
            }
        }
        if (rc != SAMSEP_OK) {
            dsp_stream_close(s);
            if (rc == SAMSEP_ERR_NOMEM) {
                set_err(err, errlen, "engine \"dsp\": out of memory");
            } else if (err != NULL && errlen > 0) {
                snprintf(err, errlen,
                         "engine \"dsp\": cannot set up %s at %d Hz (frame %d)",
                         proc_name, rate, len);
            }
            return rc;
        }
    }
    *latency = dsp_stft_latency(s->chan[0].stft) + (int64_t)delay * s->hop;
    *stream = s;
    return SAMSEP_OK;

nomem:
    dsp_stream_close(s);
    set_err(err, errlen, "engine \"dsp\": out of memory");
    return SAMSEP_ERR_NOMEM;
}

/* Per-frame work of one channel: gains from the power spectrum of frame t,
 * applied to the complex bins of frame t - delay, which take frame t's
 * place in the output (frame t waits in the ring for its own gain). */
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
    if (s->delay > 0) {
        dsp_cplx *old = ch->held + (size_t)ch->next * (size_t)s->bins;
        for (int k = 0; k < bins; k++) {
            float re = old[k][0], im = old[k][1];
            old[k][0] = spec[k][0];
            old[k][1] = spec[k][1];
            spec[k][0] = re;
            spec[k][1] = im;
        }
        ch->next = (ch->next + 1) % s->delay;
    }
    for (int k = 0; k < bins; k++) {
        spec[k][0] *= gain[k];
        spec[k][1] *= gain[k];
    }
}

/* Per-frame work of one channel for a spectral processor. */
static void on_frame_spectral(void *user, dsp_cplx *spec, int bins)
{
    dsp_channel *ch = user;
    dsp_stream *s = ch->stream;
    s->prompt->spec->frame(s->spec_state, ch->index, spec, bins);
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
    if (s->prompt->spec == NULL) {
        for (int c = 0; c < s->channels; c++)
            dsp_stft_run(s->chan[c].stft, in + c, target + c, s->channels, frames,
                         on_frame, &s->chan[c]);
        return SAMSEP_OK;
    }
    /* A spectral processor sees frame t of every channel before frame t + 1
     * of any: the channels advance together, one hop-aligned step at a time
     * (every channel's STFT has taken the same samples, so their frames
     * complete at the same input sample). */
    for (int64_t i = 0; i < frames;) {
        int64_t m = s->hop - s->fill;
        if (m > frames - i)
            m = frames - i;
        const float *src = in + i * s->channels;
        float *dst = target + i * s->channels;
        for (int c = 0; c < s->channels; c++)
            dsp_stft_run(s->chan[c].stft, src + c, dst + c, s->channels, m,
                         on_frame_spectral, &s->chan[c]);
        s->fill = (int)((s->fill + m) % s->hop);
        i += m;
    }
    return SAMSEP_OK;
}

static void dsp_close(void *engine)
{
    free(engine);
}

const samsep_engine_vtable samsep_engine_dsp = {
    .name = "dsp",
    .description = "classical DSP by keyword: speech, noise, music, drums, vocals, hum; "
                   "streaming, any rate",
    .open = dsp_open,
    .stream_open = dsp_stream_open,
    .process = dsp_process,
    .stream_close = dsp_stream_close,
    .close = dsp_close,
    .check = dsp_check,
};
