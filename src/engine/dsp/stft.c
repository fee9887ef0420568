/*
 * stft.c - streaming STFT analysis/synthesis (see stft.h).
 *
 * Layout of one pipe: `in_buf` holds the last len input samples, with the
 * newest hop-block being filled at its end; `ola` accumulates the
 * overlap-added synthesis frames; `ready` holds the hop samples that the
 * last frame completed, which are handed out one per input sample until the
 * next frame completes. With fill = samples of the current hop received so
 * far, the output for an input sample is ready[fill] read after the sample
 * went in (and after a frame was run, if it completed one), which makes the
 * delay exactly len - 1 for every sample, whatever the block sizes.
 *
 * Windows: analysis and synthesis both use w = sqrt(hann) with the periodic
 * Hann of length len. At hop len/n (n >= 2 frames over each sample) the sum
 * of w^2 = hann over the frames covering any sample is exactly n/2, so
 * synthesis is scaled by 2 / (n len) (the 1/len undoes FFTW's unnormalised
 * inverse).
 */
#include "engine/dsp/stft.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "samsep.h"

#define DSP_PI 3.14159265358979323846

/* FFTW's planner keeps global state; every plan made or destroyed anywhere in
 * the library must hold this lock. */
static pthread_mutex_t dsp_fftw_lock = PTHREAD_MUTEX_INITIALIZER;

struct dsp_stft {
    int len;             /* frame length */
    int hop;             /* len / n, n >= 2 */
    int bins;            /* len / 2 + 1 */
    int fill;            /* samples of the current hop received, 0..hop-1 */
    float *win;          /* [len] sqrt-Hann */
    float *in_buf;       /* [len] last len inputs, oldest first */
    float *ola;          /* [len] overlap-add accumulator */
    float *ready;        /* [hop] completed outputs */
    float *frame;        /* [len] FFTW real buffer */
    fftwf_complex *spec; /* [bins] FFTW complex buffer */
    fftwf_plan fwd;
    fftwf_plan inv;
    float scale; /* synthesis gain, 2 / (n len) */
};

static int is_smooth235(int n)
{
    static const int primes[3] = { 2, 3, 5 };
    for (int i = 0; i < 3; i++)
        while (n % primes[i] == 0)
            n /= primes[i];
    return n == 1;
}

int dsp_stft_frame_length(int rate, double seconds)
{
    if (rate <= 0 || !(seconds > 0.0))
        return 0;
    double want = rate * seconds / 4.0;
    if (want > (double)(1 << 18))
        return 0;
    /* Search outward from the wanted quarter length for the nearest 2-3-5
     * smooth number; such numbers are dense, so this stops quickly. */
    int q = (int)lround(want);
    if (q < 1)
        q = 1;
    for (int d = 0;; d++) {
        if (q - d >= 1 && is_smooth235(q - d))
            return 4 * (q - d);
        if (is_smooth235(q + d))
            return 4 * (q + d);
    }
}

int dsp_stft_create(int len, int hop, dsp_stft **out)
{
    if (out == NULL)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    if (len < 4 || len % 4 != 0 || len > (1 << 20) || hop < 1 || len % hop != 0 ||
        len / hop < 2)
        return SAMSEP_ERR_INVALID;

    dsp_stft *s = calloc(1, sizeof *s);
    if (s == NULL)
        return SAMSEP_ERR_NOMEM;
    s->len = len;
    s->hop = hop;
    s->bins = len / 2 + 1;
    s->scale = 2.0f / ((float)(len / hop) * (float)len);
    s->win = malloc((size_t)len * sizeof *s->win);
    s->in_buf = calloc((size_t)len, sizeof *s->in_buf);
    s->ola = calloc((size_t)len, sizeof *s->ola);
    s->ready = calloc((size_t)s->hop, sizeof *s->ready);
    s->frame = fftwf_malloc((size_t)len * sizeof *s->frame);
    s->spec = fftwf_malloc((size_t)s->bins * sizeof *s->spec);
    if (!s->win || !s->in_buf || !s->ola || !s->ready || !s->frame || !s->spec) {
        dsp_stft_destroy(s);
        return SAMSEP_ERR_NOMEM;
    }
    for (int i = 0; i < len; i++) {
        double hann = 0.5 - 0.5 * cos(2.0 * DSP_PI * (double)i / (double)len);
        s->win[i] = (float)sqrt(hann);
    }

    pthread_mutex_lock(&dsp_fftw_lock);
    s->fwd = fftwf_plan_dft_r2c_1d(len, s->frame, s->spec, FFTW_ESTIMATE);
    s->inv = fftwf_plan_dft_c2r_1d(len, s->spec, s->frame, FFTW_ESTIMATE);
    pthread_mutex_unlock(&dsp_fftw_lock);
    if (s->fwd == NULL || s->inv == NULL) {
        dsp_stft_destroy(s);
        return SAMSEP_ERR_NOMEM;
    }
    *out = s;
    return SAMSEP_OK;
}

void dsp_stft_destroy(dsp_stft *s)
{
    if (s == NULL)
        return;
    if (s->fwd != NULL || s->inv != NULL) {
        pthread_mutex_lock(&dsp_fftw_lock);
        if (s->fwd != NULL)
            fftwf_destroy_plan(s->fwd);
        if (s->inv != NULL)
            fftwf_destroy_plan(s->inv);
        pthread_mutex_unlock(&dsp_fftw_lock);
    }
    fftwf_free(s->frame);
    fftwf_free(s->spec);
    free(s->win);
    free(s->in_buf);
    free(s->ola);
    free(s->ready);
    free(s);
}

int dsp_stft_len(const dsp_stft *s)
{
    return s->len;
}
int dsp_stft_hop(const dsp_stft *s)
{
    return s->hop;
}
int dsp_stft_bins(const dsp_stft *s)
{
    return s->bins;
}
int64_t dsp_stft_latency(const dsp_stft *s)
{
    return (int64_t)s->len - 1;
}

void dsp_stft_reset(dsp_stft *s)
{
    s->fill = 0;
    memset(s->in_buf, 0, (size_t)s->len * sizeof *s->in_buf);
    memset(s->ola, 0, (size_t)s->len * sizeof *s->ola);
    memset(s->ready, 0, (size_t)s->hop * sizeof *s->ready);
}

/* Analyse the full in_buf, let fn change the spectrum, synthesise, and move
 * the hop samples that are now complete into `ready`. */
static void run_frame(dsp_stft *s, dsp_stft_frame_fn fn, void *user)
{
    const int len = s->len, hop = s->hop;
    for (int i = 0; i < len; i++)
        s->frame[i] = s->in_buf[i] * s->win[i];
    fftwf_execute(s->fwd);
    if (fn != NULL)
        fn(user, (dsp_cplx *)s->spec, s->bins);
    fftwf_execute(s->inv);
    const float g = s->scale;
    for (int i = 0; i < len; i++)
        s->ola[i] += s->frame[i] * s->win[i] * g;

    memcpy(s->ready, s->ola, (size_t)hop * sizeof *s->ola);
    memmove(s->ola, s->ola + hop, (size_t)(len - hop) * sizeof *s->ola);
    memset(s->ola + (len - hop), 0, (size_t)hop * sizeof *s->ola);
    memmove(s->in_buf, s->in_buf + hop, (size_t)(len - hop) * sizeof *s->in_buf);
}

void dsp_stft_run(dsp_stft *s, const float *in, float *out, ptrdiff_t stride,
                  int64_t frames, dsp_stft_frame_fn fn, void *user)
{
    const int len = s->len, hop = s->hop;
    float *tail = s->in_buf + (len - hop);
    int64_t i = 0;
    while (i < frames) {
        /* A run of samples that stays within the current hop. */
        int64_t m = hop - s->fill;
        if (m > frames - i)
            m = frames - i;
        const float *src = in + i * stride;
        float *dst = out + i * stride;
        for (int64_t j = 0; j < m; j++)
            tail[s->fill + j] = src[j * stride];
        if (s->fill + m < hop) {
            /* No frame completes: outputs are ready[fill+1 .. fill+m]. */
            for (int64_t j = 0; j < m; j++)
                dst[j * stride] = s->ready[s->fill + 1 + j];
            s->fill += (int)m;
        } else {
            /* The last sample of the run completes a frame: all but that
             * sample take the old ready block, that one the new block's
             * first sample. */
            for (int64_t j = 0; j + 1 < m; j++)
                dst[j * stride] = s->ready[s->fill + 1 + j];
            run_frame(s, fn, user);
            dst[(m - 1) * stride] = s->ready[0];
            s->fill = 0;
        }
        i += m;
    }
}
