/*
 * upmix.c - a mono engine's target spread over the input's channels (see
 * upmix.h).
 *
 * Four kinds of streaming STFT pipes (the dsp engine's, stft.h) run side by
 * side on the same frame grid: one over the mono mixture, one over the mono
 * target, and one per channel of the mixture. The input is pushed in runs
 * that end at most at the next frame boundary, so that each run completes
 * at most one frame in every pipe, and the pipes are run in that order: the
 * mixture's pipe records |X|^2 of the frame, the target's pipe turns |T|^2
 * into the mask, and each channel's pipe multiplies its spectrum by the
 * mask before synthesis. The mono pipes' own outputs are thrown away.
 *
 * The mask is computed in double precision from squared magnitudes, which
 * cannot overflow for float spectra; a bin where the mono mixture is silent
 * gets 0 (the engine saw nothing there to attribute), and where the target
 * is at least as loud as the mixture, exactly 1, so that a target equal to
 * the mixture gives each channel back unchanged (to the STFT's rounding).
 *
 * The windows (square-root Hann, hop a quarter of the frame) overlap-add to
 * one, so a mask of one is an identity and the output is the input delayed
 * by frame - 1 samples: the stage drops that many frames at the start and
 * pushes as many frames of silence at the end (upmix_finish), so that every
 * input frame gets one output frame, at its place.
 */
#include "stream/upmix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/stft.h"
#include "samsep.h"

#define UPMIX_MAX_CHANNELS 1024

struct upmix {
    int channels;
    int hop;        /* frames between STFT frames */
    int fill;       /* frames of the current hop pushed, 0..hop-1 */
    int64_t delay;  /* the pipes' delay, frame length - 1 */
    int64_t skip;   /* leading output frames still to drop */
    dsp_stft *mix;  /* the mono mixture */
    dsp_stft *tgt;  /* the mono target */
    dsp_stft **ch;  /* [channels] the mixture's channels */
    double *power;  /* [bins] |X|^2 of the current frame */
    float *mask;    /* [bins] of the current frame */
    float *scratch; /* [hop] the mono pipes' discarded output */
    float *zeros;   /* [hop * channels] silence, for NULL inputs */
    float *block;   /* [hop * channels] channel outputs of one run */
};

void upmix_destroy(upmix *u)
{
    int c;

    if (u == NULL)
        return;
    dsp_stft_destroy(u->mix);
    dsp_stft_destroy(u->tgt);
    if (u->ch != NULL)
        for (c = 0; c < u->channels; c++)
            dsp_stft_destroy(u->ch[c]);
    free(u->ch);
    free(u->power);
    free(u->mask);
    free(u->scratch);
    free(u->zeros);
    free(u->block);
    free(u);
}

int upmix_create(int rate, int channels, upmix **out)
{
    int len, bins, c, rc;
    upmix *u;

    if (out == NULL)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    len = dsp_stft_frame_length(rate, UPMIX_FRAME_SECONDS);
    if (len == 0 || channels < 1 || channels > UPMIX_MAX_CHANNELS)
        return SAMSEP_ERR_INVALID;
    if (len < 8) /* a rate of a few hundred Hz: still a few bins */
        len = 8;
    u = calloc(1, sizeof *u);
    if (u == NULL)
        return SAMSEP_ERR_NOMEM;
    u->channels = channels;
    u->hop = len / 4;
    bins = len / 2 + 1;
    u->delay = u->skip = (int64_t)len - 1;
    u->ch = calloc((size_t)channels, sizeof *u->ch);
    u->power = malloc((size_t)bins * sizeof *u->power);
    u->mask = malloc((size_t)bins * sizeof *u->mask);
    u->scratch = malloc((size_t)u->hop * sizeof *u->scratch);
    u->zeros = calloc((size_t)u->hop * (size_t)channels, sizeof *u->zeros);
    u->block = malloc((size_t)u->hop * (size_t)channels * sizeof *u->block);
    if (u->ch == NULL || u->power == NULL || u->mask == NULL || u->scratch == NULL ||
        u->zeros == NULL || u->block == NULL) {
        upmix_destroy(u);
        return SAMSEP_ERR_NOMEM;
    }
    rc = dsp_stft_create(len, u->hop, &u->mix);
    if (rc == SAMSEP_OK)
        rc = dsp_stft_create(len, u->hop, &u->tgt);
    for (c = 0; c < channels && rc == SAMSEP_OK; c++)
        rc = dsp_stft_create(len, u->hop, &u->ch[c]);
    if (rc != SAMSEP_OK) {
        upmix_destroy(u);
        return rc;
    }
    *out = u;
    return SAMSEP_OK;
}

/* The mixture's frame: keep its power per bin for the mask. */
static void take_power(void *user, dsp_cplx *spec, int bins)
{
    upmix *u = user;
    int k;

    for (k = 0; k < bins; k++)
        u->power[k] = (double)spec[k][0] * spec[k][0] + (double)spec[k][1] * spec[k][1];
}

/* The target's frame: the mask |T| / |X| in [0, 1]. */
static void make_mask(void *user, dsp_cplx *spec, int bins)
{
    upmix *u = user;
    int k;

    for (k = 0; k < bins; k++) {
        double t = (double)spec[k][0] * spec[k][0] + (double)spec[k][1] * spec[k][1];
        double x = u->power[k];

        if (!(x > 0.0))
            u->mask[k] = 0.0f;
        else if (t >= x)
            u->mask[k] = 1.0f;
        else
            u->mask[k] = (float)sqrt(t / x);
    }
}

/* A channel's frame: masked. */
static void apply_mask(void *user, dsp_cplx *spec, int bins)
{
    const upmix *u = user;
    int k;

    for (k = 0; k < bins; k++) {
        spec[k][0] *= u->mask[k];
        spec[k][1] *= u->mask[k];
    }
}

int upmix_push(upmix *u, const float *m, const float *t, const float *x, int64_t n,
               fifo *out)
{
    const size_t ch = (size_t)u->channels;
    int64_t i = 0;

    while (i < n) {
        int64_t run = u->hop - u->fill, drop;
        int c;

        if (run > n - i)
            run = n - i;
        /* In this order: the mask needs the mixture's power of the same
         * frame, the channels need the mask. */
        dsp_stft_run(u->mix, m != NULL ? m + i : u->zeros, u->scratch, 1, run, take_power,
                     u);
        dsp_stft_run(u->tgt, t != NULL ? t + i : u->zeros, u->scratch, 1, run, make_mask,
                     u);
        for (c = 0; c < u->channels; c++)
            dsp_stft_run(u->ch[c], (x != NULL ? x + (size_t)i * ch : u->zeros) + c,
                         u->block + c, (ptrdiff_t)ch, run, apply_mask, u);
        u->fill = (int)((u->fill + run) % u->hop);
        i += run;
        drop = u->skip < run ? u->skip : run;
        u->skip -= drop;
        if (run > drop && fifo_push(out, u->block + (size_t)drop * ch, run - drop) != 0)
            return -1;
    }
    return 0;
}

int upmix_finish(upmix *u, fifo *out)
{
    return upmix_push(u, NULL, NULL, NULL, u->delay, out);
}
