/*
 * hpss.c - harmonic/percussive separation by median filtering, streaming.
 *
 * Fitzgerald (DAFx 2010): on a magnitude spectrogram, sustained tones are
 * horizontal lines and drum hits vertical ones. A median over time (along
 * each bin) keeps the first and removes the second; a median over frequency
 * (along each frame) does the reverse. The two medians H and P give soft
 * masks as in Driedger, Mueller & Disch (ISMIR 2014) with a separation
 * margin beta, in the Wiener-like form librosa uses:
 *
 *     M_harm = H^2 / (H^2 + (beta P)^2),   M_perc = P^2 / (P^2 + (beta H)^2).
 *
 * With beta > 1 the two masks sum to less than one; what is left - bins
 * that are clearly neither, such as noise and the blur of onsets - is the
 * third, "residual" class, which this processor folds into the engine's
 * residual by leaving it out of the target. "music" outputs X M_harm,
 * "drums" X M_perc.
 *
 * Streaming: the time median of frame t needs frames up to t + L, where the
 * median spans 2L + 1 frames; the processor keeps the last L + 1 complex
 * frames and answers frame t with the target of frame t - L (look-ahead L,
 * reported as latency by dsp.c). Each bin keeps its last 2L + 1 magnitudes
 * in a sorted array that is updated by one removal and one insertion per
 * frame, and the frequency median slides a sorted window along the bins of
 * a frame the same way, so a frame costs O(bins * (time + freq span)) with
 * no sorting and no allocation.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/dsp_internal.h"
#include "engine/dsp/prompts.h"
#include "samsep.h"

/* Frame length, seconds: ~46 ms, the usual choice for HPSS at 44.1 kHz. */
#define HP_FRAME_S 0.046
/* Span of the time median, seconds, and of the frequency median, Hz. Chosen
 * on the project's drums-vs-tonal case m04 (SI-SDRi of the drums target /
 * of the music target against the tonal part): a 0.2 s / 500 Hz start gave
 * +4.2 / +9.1 dB; the time span matters most (0.1 s: +1.7 / +6.5, 0.5 s:
 * +6.2 / +10.8), then a narrow frequency span (0.5 s with 150 Hz: +11.2 /
 * +11.2). The time span sets the look-ahead: half of it. */
#define HP_TIME_S 0.5
#define HP_FREQ_HZ 150.0
/* Separation margin (Driedger et al.); 1 would make the masks complementary
 * and leave no third class. Larger margins keep less in either target:
 * beta 1 / 1.25 / 1.5 / 2 gave +11.2 / +10.9 / +10.4 / (0.5 s, 250 Hz)
 * +7.9 dB for drums and +11.2 / +11.3 / +11.0 / +10.2 dB for music. */
#define HP_BETA 1.25f
/* Magnitudes are capped here (far above any audio) so squares stay finite. */
#define HP_MAG_MAX 1e15f

typedef struct hpss_chan {
    float *hist;    /* [span][bins] last `span` magnitudes, frame t at t % span */
    float *sorted;  /* [bins][span] the same values per bin, ascending */
    float *perc;    /* [look + 1][bins] frequency medians of the kept frames */
    dsp_cplx *spec; /* [look + 1][bins] kept complex frames */
} hpss_chan;

typedef struct hpss {
    int bins;
    int span;       /* time median length, frames (odd) */
    int look;       /* (span - 1) / 2: look-ahead, frames */
    int fspan;      /* frequency median length, bins (odd) */
    int percussive; /* 1: target = percussive part, 0: harmonic */
    int channels;
    int64_t frame; /* frames seen on the last channel */
    float *mag;    /* [bins] scratch: this frame's magnitudes */
    float *win;    /* [fspan] scratch: sliding window of the frequency median */
    hpss_chan *chan;
} hpss;

static int hpss_frame_length(int rate)
{
    return dsp_stft_frame_length(rate, HP_FRAME_S);
}

static void hpss_destroy(void *state)
{
    hpss *h = state;
    if (h == NULL)
        return;
    if (h->chan != NULL) {
        for (int c = 0; c < h->channels; c++) {
            free(h->chan[c].hist);
            free(h->chan[c].sorted);
            free(h->chan[c].perc);
            free(h->chan[c].spec);
        }
    }
    free(h->chan);
    free(h->mag);
    free(h->win);
    free(h);
}

static int odd_at_least_3(double x)
{
    int n = (int)lround(x);
    if (n < 3)
        n = 3;
    return n | 1;
}

static int hpss_create(int rate, int len, int channels, int mode, void **state,
                       int *delay)
{
    if (state == NULL || delay == NULL)
        return SAMSEP_ERR_INVALID;
    *state = NULL;
    *delay = 0;
    if (rate <= 0 || len < 16 || len % 4 != 0 || channels < 1 ||
        (mode != DSP_MODE_MUSIC && mode != DSP_MODE_DRUMS))
        return SAMSEP_ERR_INVALID;
    hpss *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SAMSEP_ERR_NOMEM;
    const double hop_s = (double)(len / 4) / rate, bin_hz = (double)rate / len;
    h->bins = len / 2 + 1;
    h->span = odd_at_least_3(HP_TIME_S / hop_s);
    h->look = (h->span - 1) / 2;
    h->fspan = odd_at_least_3(HP_FREQ_HZ / bin_hz);
    if (h->fspan > h->bins)
        h->fspan = (h->bins - 1) | 1;
    h->percussive = mode == DSP_MODE_DRUMS;
    h->channels = channels;
    const size_t bins = (size_t)h->bins, keep = (size_t)h->look + 1;
    h->mag = malloc(bins * sizeof *h->mag);
    h->win = malloc((size_t)h->fspan * sizeof *h->win);
    h->chan = calloc((size_t)channels, sizeof *h->chan);
    if (h->mag == NULL || h->win == NULL || h->chan == NULL) {
        hpss_destroy(h);
        return SAMSEP_ERR_NOMEM;
    }
    for (int c = 0; c < channels; c++) {
        hpss_chan *ch = &h->chan[c];
        ch->hist = calloc((size_t)h->span * bins, sizeof *ch->hist);
        ch->sorted = calloc((size_t)h->span * bins, sizeof *ch->sorted);
        ch->perc = calloc(keep * bins, sizeof *ch->perc);
        ch->spec = calloc(keep * bins, sizeof *ch->spec);
        if (!ch->hist || !ch->sorted || !ch->perc || !ch->spec) {
            hpss_destroy(h);
            return SAMSEP_ERR_NOMEM;
        }
    }
    *state = h;
    *delay = h->look;
    return SAMSEP_OK;
}

/* Replace `old` by `val` in the ascending array a[0..n), keeping it sorted.
 * `old` is in the array (it was inserted earlier, bit for bit). */
static void sorted_replace(float *a, int n, float old, float val)
{
    /* Position of old: binary search for the first element >= old. */
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (a[mid] < old)
            lo = mid + 1;
        else
            hi = mid;
    }
    int i = lo;
    /* Move val toward its place, shifting the neighbours over the gap. */
    while (i > 0 && a[i - 1] > val) {
        a[i] = a[i - 1];
        i--;
    }
    while (i + 1 < n && a[i + 1] < val) {
        a[i] = a[i + 1];
        i++;
    }
    a[i] = val;
}

/* Insert val into the ascending a[0..n) (room for n + 1). */
static void sorted_insert(float *a, int n, float val)
{
    int i = n;
    while (i > 0 && a[i - 1] > val) {
        a[i] = a[i - 1];
        i--;
    }
    a[i] = val;
}

/* Remove one element equal to val from the ascending a[0..n). */
static void sorted_remove(float *a, int n, float val)
{
    int i = 0;
    while (i < n - 1 && a[i] < val)
        i++;
    memmove(a + i, a + i + 1, (size_t)(n - 1 - i) * sizeof *a);
}

static float median_of_sorted(const float *a, int n)
{
    return (n & 1) ? a[n / 2] : 0.5f * (a[n / 2 - 1] + a[n / 2]);
}

/* Median over frequency of mag[0..bins), per bin, into out[]: the window is
 * the fspan bins centred on each bin, cut at the ends of the spectrum. */
static void freq_median(const float *mag, float *out, int bins, int fspan, float *win)
{
    const int half = fspan / 2;
    int n = 0;
    for (int k = 0; k < half && k < bins; k++)
        sorted_insert(win, n++, mag[k]);
    for (int k = 0; k < bins; k++) {
        if (k - half - 1 >= 0)
            sorted_remove(win, n--, mag[k - half - 1]);
        if (k + half < bins)
            sorted_insert(win, n++, mag[k + half]);
        out[k] = median_of_sorted(win, n);
    }
}

static void hpss_frame(void *state, int channel, dsp_cplx *spec, int bins)
{
    hpss *h = state;
    hpss_chan *ch = &h->chan[channel];
    const int span = h->span, keep = h->look + 1;
    const int64_t t = h->frame;
    float *mag = h->mag;

    for (int k = 0; k < bins; k++) {
        float m = sqrtf(spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1]);
        /* Non-finite input must not break the sorted arrays' order, and
         * squares of magnitudes must stay finite. */
        mag[k] = m <= HP_MAG_MAX ? m : (m > 0.0f ? HP_MAG_MAX : 0.0f);
    }

    /* Time median: frame t replaces frame t - span in every bin's window. */
    float *slot = ch->hist + (size_t)(t % span) * (size_t)bins;
    for (int k = 0; k < bins; k++) {
        sorted_replace(ch->sorted + (size_t)k * (size_t)span, span, slot[k], mag[k]);
        slot[k] = mag[k];
    }

    /* Keep frame t and its frequency median for when it is the output. */
    const size_t in_slot = (size_t)(t % keep) * (size_t)bins;
    freq_median(mag, ch->perc + in_slot, bins, h->fspan, h->win);
    memcpy(ch->spec + in_slot, spec, (size_t)bins * sizeof *spec);

    /* Output frame t - look, whose time window is now complete. */
    const size_t out_slot = (size_t)((t + 1) % keep) * (size_t)bins;
    const float *perc = ch->perc + out_slot;
    const dsp_cplx *x = ch->spec + out_slot;
    const float beta2 = HP_BETA * HP_BETA;
    const int mid = span / 2;
    for (int k = 0; k < bins; k++) {
        float hm = ch->sorted[(size_t)k * (size_t)span + (size_t)mid];
        float p = perc[k];
        float h2 = hm * hm, p2 = p * p, g;
        if (h->percussive)
            g = p2 / (p2 + beta2 * h2 + FLT_MIN);
        else
            g = h2 / (h2 + beta2 * p2 + FLT_MIN);
        spec[k][0] = x[k][0] * g;
        spec[k][1] = x[k][1] * g;
    }

    if (channel == h->channels - 1)
        h->frame++;
}

const dsp_spectral dsp_spec_hpss = {
    "harmonic/percussive separation",
    hpss_frame_length,
    hpss_create,
    hpss_frame,
    hpss_destroy,
};
