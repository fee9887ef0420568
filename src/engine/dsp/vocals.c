/*
 * vocals.c - lead vocals: centre extraction for stereo, repeating-background
 * removal for mono.
 *
 * Stereo (two channels): lead vocals are mixed to the centre - the same in
 * both channels - while most instruments are panned or differ between the
 * channels (stereo reverb, spaced microphones). Per bin, with recursively
 * smoothed auto- and cross-spectra (Avendano & Jot, 2004),
 *
 *     psi = 2 Re(P_lr) / (P_ll + P_rr),
 *
 * is 1 for a component equal in both channels, 0 for one in one channel
 * only or uncorrelated between them, and negative for one in antiphase; a
 * component panned with gains (gl, gr) gives 2 gl gr / (gl^2 + gr^2). The
 * mask ((psi - psi0) / (1 - psi0))^2 for psi > psi0 (else 0) is applied to
 * both channels, so the target is the centre image. The two channels are
 * needed together, so the processor answers with a delay of one frame.
 *
 * Mono (one channel, or each channel of three or more): REPET-SIM (Rafii &
 * Pardo, 2012). A backing track repeats - bars, loops, sustained chords -
 * while a lead voice varies. For each frame the K frames most similar to
 * it (cosine similarity of band-pooled magnitude spectra) within a bounded
 * window - VOC_BACK_S before it and VOC_AHEAD_S after it, at least
 * VOC_MIN_DIST_S away - are found; the per-bin median of their magnitudes
 * and its own is the repeating background's magnitude W (at most the
 * frame's own, V), and the target is the rest: gain 1 - W / V. The window
 * is a ring of frames with a ring of pairwise similarities, each new frame
 * adding one row; the look-ahead VOC_AHEAD_S is the delay.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/dsp_internal.h"
#include "samsep.h"

/* Frame length, seconds (REPET-SIM used 40 ms). */
#define VOC_FRAME_S 0.046
/* Stereo: smoothing of the cross-spectra, seconds; similarity threshold. */
#define VOC_STEREO_TAU 0.04
#define VOC_PSI0 0.6f
/* Mono: window of frames searched, seconds before and after the frame;
 * frames nearer than VOC_MIN_DIST_S are not candidates (they overlap it). */
#define VOC_BACK_S 4.0
#define VOC_AHEAD_S 1.0
#define VOC_MIN_DIST_S 0.2
/* Similar frames used for the median. */
#define VOC_K 12
/* Similarity features: magnitudes pooled into VOC_BANDS equal bands up to
 * VOC_FEAT_HZ (or the Nyquist frequency). */
#define VOC_BANDS 128
#define VOC_FEAT_HZ 8000.0

typedef struct voc_mono {
    float *mag;     /* [n][bins] magnitudes, frame t at slot t % n */
    float *feat;    /* [n][bands] unit-norm features, same slots */
    float *sim;     /* [n][n] similarity of the frames in two slots */
    dsp_cplx *spec; /* [ahead + 1][bins] kept complex frames */
} voc_mono;

typedef struct vocals {
    int bins, channels, stereo;
    int64_t frame; /* frames completed (all channels) */
    /* Stereo. */
    float alpha;                        /* cross-spectra smoothing */
    float *pll, *prr, *plr_re, *plr_im; /* [bins] */
    dsp_cplx *in0, *in1, *out0, *out1;  /* [bins] */
    /* Mono. */
    int n;        /* frames in the window: back + ahead + 1 */
    int ahead;    /* look-ahead, frames */
    int min_dist; /* frames */
    int bands;
    int *edge;       /* [bands + 1] first bin of each band */
    int *pick;       /* [VOC_K] scratch */
    float *pick_sim; /* [VOC_K] scratch */
    float *vals;     /* [VOC_K + 1] scratch */
    voc_mono *mono;  /* [channels] */
} vocals;

static int voc_frame_length(int rate)
{
    return dsp_stft_frame_length(rate, VOC_FRAME_S);
}

static void voc_destroy(void *state)
{
    vocals *v = state;
    if (v == NULL)
        return;
    free(v->pll);
    free(v->prr);
    free(v->plr_re);
    free(v->plr_im);
    free(v->in0);
    free(v->in1);
    free(v->out0);
    free(v->out1);
    if (v->mono != NULL) {
        for (int c = 0; c < v->channels; c++) {
            free(v->mono[c].mag);
            free(v->mono[c].feat);
            free(v->mono[c].sim);
            free(v->mono[c].spec);
        }
    }
    free(v->mono);
    free(v->edge);
    free(v->pick);
    free(v->pick_sim);
    free(v->vals);
    free(v);
}

static int voc_create(int rate, int len, int channels, int mode, void **state, int *delay)
{
    (void)mode;
    if (state == NULL || delay == NULL)
        return SAMSEP_ERR_INVALID;
    *state = NULL;
    *delay = 0;
    if (rate <= 0 || len < 16 || len % 4 != 0 || channels < 1)
        return SAMSEP_ERR_INVALID;
    vocals *v = calloc(1, sizeof *v);
    if (v == NULL)
        return SAMSEP_ERR_NOMEM;
    const size_t bins = (size_t)(len / 2 + 1);
    const double hop_s = (double)(len / 4) / rate;
    v->bins = (int)bins;
    v->channels = channels;
    v->stereo = channels == 2;
    if (v->stereo) {
        v->alpha = (float)exp(-hop_s / VOC_STEREO_TAU);
        v->pll = calloc(bins, sizeof *v->pll);
        v->prr = calloc(bins, sizeof *v->prr);
        v->plr_re = calloc(bins, sizeof *v->plr_re);
        v->plr_im = calloc(bins, sizeof *v->plr_im);
        v->in0 = calloc(bins, sizeof *v->in0);
        v->in1 = calloc(bins, sizeof *v->in1);
        v->out0 = calloc(bins, sizeof *v->out0);
        v->out1 = calloc(bins, sizeof *v->out1);
        if (!v->pll || !v->prr || !v->plr_re || !v->plr_im || !v->in0 || !v->in1 ||
            !v->out0 || !v->out1) {
            voc_destroy(v);
            return SAMSEP_ERR_NOMEM;
        }
        *state = v;
        *delay = 1;
        return SAMSEP_OK;
    }

    int back = (int)lround(VOC_BACK_S / hop_s);
    v->ahead = (int)lround(VOC_AHEAD_S / hop_s);
    v->min_dist = (int)lround(VOC_MIN_DIST_S / hop_s);
    if (v->min_dist < 1)
        v->min_dist = 1;
    v->n = back + v->ahead + 1;
    /* Bands: up to VOC_FEAT_HZ, at least one bin each. */
    int top = (int)fmin((double)bins - 1.0, VOC_FEAT_HZ * len / rate);
    v->bands = top < VOC_BANDS ? top : VOC_BANDS;
    if (v->bands < 1)
        v->bands = 1;
    v->edge = malloc((size_t)(v->bands + 1) * sizeof *v->edge);
    v->pick = malloc(VOC_K * sizeof *v->pick);
    v->pick_sim = malloc(VOC_K * sizeof *v->pick_sim);
    v->vals = malloc((VOC_K + 1) * sizeof *v->vals);
    v->mono = calloc((size_t)channels, sizeof *v->mono);
    if (!v->edge || !v->pick || !v->pick_sim || !v->vals || !v->mono) {
        voc_destroy(v);
        return SAMSEP_ERR_NOMEM;
    }
    for (int b = 0; b <= v->bands; b++)
        v->edge[b] = 1 + (int)((int64_t)b * top / v->bands); /* from bin 1: no DC */
    const size_t n = (size_t)v->n;
    for (int c = 0; c < channels; c++) {
        voc_mono *m = &v->mono[c];
        m->mag = calloc(n * bins, sizeof *m->mag);
        m->feat = calloc(n * (size_t)v->bands, sizeof *m->feat);
        m->sim = calloc(n * n, sizeof *m->sim);
        m->spec = calloc(((size_t)v->ahead + 1) * bins, sizeof *m->spec);
        if (!m->mag || !m->feat || !m->sim || !m->spec) {
            voc_destroy(v);
            return SAMSEP_ERR_NOMEM;
        }
    }
    *state = v;
    *delay = v->ahead;
    return SAMSEP_OK;
}

/* Stereo: the centre mask of the frame in in0/in1, into out0/out1. */
static void centre(vocals *v, int bins)
{
    const float a = v->alpha, b = 1.0f - v->alpha, inv = 1.0f / (1.0f - VOC_PSI0);
    for (int k = 0; k < bins; k++) {
        const float lr = v->in0[k][0], li = v->in0[k][1];
        const float rr = v->in1[k][0], ri = v->in1[k][1];
        v->pll[k] = a * v->pll[k] + b * (lr * lr + li * li);
        v->prr[k] = a * v->prr[k] + b * (rr * rr + ri * ri);
        /* L conj(R) */
        v->plr_re[k] = a * v->plr_re[k] + b * (lr * rr + li * ri);
        v->plr_im[k] = a * v->plr_im[k] + b * (li * rr - lr * ri);
        const float den = v->pll[k] + v->prr[k];
        float g = 0.0f;
        if (den > 1e-30f) {
            float psi = 2.0f * v->plr_re[k] / den;
            if (psi > VOC_PSI0) {
                g = (psi - VOC_PSI0) * inv;
                g = g > 1.0f ? 1.0f : g * g;
            }
        }
        if (!(g >= 0.0f)) /* NaN from non-finite input */
            g = 0.0f;
        v->out0[k][0] = g * lr;
        v->out0[k][1] = g * li;
        v->out1[k][0] = g * rr;
        v->out1[k][1] = g * ri;
    }
}

static void stereo_frame(vocals *v, int channel, dsp_cplx *spec, int bins)
{
    const size_t bytes = (size_t)bins * sizeof *spec;
    if (channel == 0) {
        memcpy(v->in0, spec, bytes);
        memcpy(spec, v->out0, bytes); /* frame t - 1 */
        return;
    }
    memcpy(v->in1, spec, bytes);
    memcpy(spec, v->out1, bytes);
    centre(v, bins); /* frame t, handed out on the next call */
}

/* Median of a[0..n) (n small), reordering a. */
static float small_median(float *a, int n)
{
    for (int i = 1; i < n; i++) {
        float x = a[i];
        int j = i;
        while (j > 0 && a[j - 1] > x) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = x;
    }
    return (n & 1) ? a[n / 2] : 0.5f * (a[n / 2 - 1] + a[n / 2]);
}

static void mono_frame(vocals *v, voc_mono *m, dsp_cplx *spec, int bins)
{
    const int n = v->n, bands = v->bands, keep = v->ahead + 1;
    const int64_t t = v->frame;
    const int slot = (int)(t % n);
    float *mag = m->mag + (size_t)slot * (size_t)bins;
    float *feat = m->feat + (size_t)slot * (size_t)bands;

    for (int k = 0; k < bins; k++) {
        float x = sqrtf(spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1]);
        mag[k] = x <= 1e15f ? x : (x > 0.0f ? 1e15f : 0.0f); /* finite, ordered */
    }
    double norm = 0.0;
    for (int b = 0; b < bands; b++) {
        float s = 0.0f;
        for (int k = v->edge[b]; k < v->edge[b + 1]; k++)
            s += mag[k];
        feat[b] = s;
        norm += (double)s * s;
    }
    const float scale = norm > 1e-30 ? (float)(1.0 / sqrt(norm)) : 0.0f;
    for (int b = 0; b < bands; b++)
        feat[b] *= scale;
    /* Its similarity to every frame in the window (a row and a column). */
    for (int s = 0; s < n; s++) {
        const float *f = m->feat + (size_t)s * (size_t)bands;
        float d = 0.0f;
        for (int b = 0; b < bands; b++)
            d += feat[b] * f[b];
        m->sim[(size_t)slot * (size_t)n + (size_t)s] = d;
        m->sim[(size_t)s * (size_t)n + (size_t)slot] = d;
    }
    memcpy(m->spec + (size_t)(t % keep) * (size_t)bins, spec,
           (size_t)bins * sizeof *spec);

    /* The output frame c = t - ahead: its K most similar frames, at least
     * min_dist from it, among frames t - n + 1 .. t. */
    const int64_t c = t - v->ahead;
    const int cslot = (int)(((c % n) + n) % n);
    const float *row = m->sim + (size_t)cslot * (size_t)n;
    int picked = 0;
    for (int s = 0; s < n; s++) {
        int64_t f = t - (int64_t)((slot - s + n) % n); /* frame in slot s */
        int64_t dist = f > c ? f - c : c - f;
        if (dist < v->min_dist || !(row[s] > 0.0f))
            continue;
        if (picked < VOC_K) {
            v->pick[picked] = s;
            v->pick_sim[picked] = row[s];
            picked++;
            continue;
        }
        /* Replace the least similar pick if this one is more similar. */
        int worst = 0;
        for (int i = 1; i < VOC_K; i++)
            if (v->pick_sim[i] < v->pick_sim[worst])
                worst = i;
        if (row[s] > v->pick_sim[worst]) {
            v->pick[worst] = s;
            v->pick_sim[worst] = row[s];
        }
    }

    const float *cmag = m->mag + (size_t)cslot * (size_t)bins;
    const dsp_cplx *x = m->spec + (size_t)((t + 1) % keep) * (size_t)bins;
    for (int k = 0; k < bins; k++) {
        const float own = cmag[k];
        v->vals[0] = own;
        for (int i = 0; i < picked; i++)
            v->vals[i + 1] = m->mag[(size_t)v->pick[i] * (size_t)bins + (size_t)k];
        float w = small_median(v->vals, picked + 1);
        float g = own > 0.0f ? 1.0f - (w < own ? w : own) / own : 0.0f;
        spec[k][0] = x[k][0] * g;
        spec[k][1] = x[k][1] * g;
    }
}

static void voc_frame(void *state, int channel, dsp_cplx *spec, int bins)
{
    vocals *v = state;
    if (v->stereo)
        stereo_frame(v, channel, spec, bins);
    else
        mono_frame(v, &v->mono[channel], spec, bins);
    if (channel == v->channels - 1)
        v->frame++;
}

const dsp_spectral dsp_spec_vocals = {
    "vocals", voc_frame_length, voc_create, voc_frame, voc_destroy,
};
