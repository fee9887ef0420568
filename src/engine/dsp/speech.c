/*
 * speech.c - single-channel speech enhancement on STFT power spectra.
 *
 * Three published pieces, per frequency bin, and three additions (4.-6.):
 *
 *  1. Noise power tracking: the speech-presence-probability (SPP) based
 *     MMSE noise estimator of Gerkmann & Hendriks (IEEE TASLP 2012). With a
 *     fixed a priori SNR of 15 dB under "speech present", the posterior SPP
 *     of each bin decides how much of the periodogram is noise; the
 *     estimate is a recursive average of that soft decision. It falls to
 *     the noise level within a few frames and needs no buffer of past
 *     minima. A bin whose SPP stays near 1 for long is capped at 0.99 so
 *     that the estimate cannot freeze under a noise step. One departure
 *     from the paper: the noise smoothing is 0.99 per 16 ms (a time
 *     constant of about 1.6 s), not 0.8, which follows every short rise of
 *     real noises and leaves musical noise. The tracker decides which
 *     frames are speech-free (4.); the gain uses the mean of those frames.
 *  2. A priori SNR by the decision-directed rule (Ephraim & Malah 1984),
 *     its new evidence taken over a short look-ahead (5.).
 *  3. Gain: the MMSE log-spectral amplitude estimator (Ephraim & Malah 1985)
 *     under speech presence, combined with a floor under speech absence as
 *     in Cohen's OM-LSA (2001): G = G_LSA^p * Gmin^(1-p), p the posterior
 *     speech presence probability.
 *  4. The noise power of the gain, for bursty noise. The SPP tracker of 1.
 *     decides per bin: a noise burst (a crowd's roar, water, a bird) raises
 *     the periodogram of its bins well above the estimate, so the posterior
 *     calls it speech and leaves it out, and the tracker settles near the
 *     level between bursts, far below the mean power. So the noise power
 *     the gain uses is `ambient`, a running mean of every bin over whole
 *     frames judged free of speech, bursts included. A frame is judged so
 *     by either of two cues: (a) the mean posterior over 100-2000 Hz, where
 *     voiced speech covers many bins at once and one burst covers few, is
 *     below 0.15, and the frame is not clearly voiced (below 0.45 on the
 *     measure that follows); (b) the frame is not voiced and has the
 *     noise's spectral shape. Not voiced: the normalised autocorrelation of
 *     its spectrum, whitened by the noise estimate (the larger of the
 *     tracker and `ambient`), over 40-2000 Hz (Boersma's method, IFA
 *     Proceedings 17, 1993: divided by the window's own autocorrelation)
 *     stays below 0.25 at every lag of a 70-400 Hz pitch. The noise's shape:
 *     the log of the whitened spectrum up to 8 kHz varies no more than noise
 *     of exactly the estimate's shape would (variance 2.5 against pi^2/6 =
 *     1.64). Cue (a) alone favours the quieter stretches of noise, since a
 *     burst in the band looks like speech to it; (b) does not look at the
 *     level, so the frames of a crowd's roar or of rushing water count as
 *     noise however loud they swell. The shape condition keeps unvoiced
 *     speech of clean recordings (a fricative is far from the noise's
 *     shape) out of (b); the voicing condition keeps voiced speech out of
 *     (a) wherever the tracker has drifted up under it. The mean has a time
 *     constant of about 0.3 s, so it follows the noise from one pause to
 *     the next.
 *  5. Look-ahead: the evidence term of the decision-directed rule, the
 *     periodogram over the noise power minus one, is taken from the mean
 *     periodogram of this frame and the next DSP_SPEECH_DELAY (about 43 ms
 *     in all), a non-causal a priori SNR estimate in the spirit of Cohen
 *     (IEEE TSAP 13(5), 2005). It is steadier than one periodogram, so the
 *     decision-directed weight is 0.94 per 16 ms, not 0.96 (faster to
 *     follow onsets), without more musical noise. The noise power is the
 *     newest, 43 ms later than the frame.
 *  6. Nothing below 60 Hz is speech (the lowest voices start near 70 Hz),
 *     and the noises of recordings have much there (rumble, wind,
 *     traffic, a turntable's motor): those bins get gain 0, so they go to
 *     the residual whole.
 *
 * Every constant was chosen by measuring its neighbours on the project's
 * 16 speech cases; the measurements, and what was tried and dropped, are in
 * bench/README.md ("How `dsp speech` was tuned").
 *
 * Frames: about 43 ms (2048 samples at 48 kHz) at half overlap; what
 * decides the gain is the noise estimate, not the frame.
 *
 * Start-up: nothing is assumed about the first frames. The noise estimate
 * starts as the average periodogram of the first ~0.1 s (weighted for the
 * zeros the STFT has before the first sample), for the tracker and the mean
 * alike, and they take over from there; if speech was present at the
 * start, the estimate is too high only until the first pause, where the
 * tracker falls to the noise level within a few frames (an overestimate
 * gives a low SPP, so the periodogram is taken as noise) and the mean
 * within about 0.3 s (the pause is a quiet frame to cue (a)).
 *
 * Time constants, the decision-directed weight included, are given for the
 * 16 ms hop of the papers and converted to this hop (alpha^(hop/16 ms)), so
 * behaviour depends on neither the rate nor the hop.
 */
#include "engine/dsp/speech.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/stft.h"
#include "samsep.h"

/* Frame length, seconds: half the work of 32 ms at three-quarter overlap,
 * for the same score. */
#define SP_FRAME_S 0.043
/* Hop, seconds, at which the papers' smoothing constants are given. */
#define SP_REF_HOP_S 0.016
/* Length of the start-up average, seconds. */
#define SP_INIT_S 0.1

/* Gerkmann & Hendriks 2012: fixed a priori SNR under H1 (15 dB), SPP
 * smoothing 0.9, stagnation cap 0.99; noise smoothing 0.99 instead of the
 * paper's 0.8, which fluctuates by several dB per bin in real noise. */
#define SP_XI_H1 31.622776f
#define SP_ALPHA_PBAR 0.9
#define SP_ALPHA_NOISE 0.99
#define SP_PBAR_CAP 0.99f

/* Decision-directed weight (Ephraim & Malah 1984), per 16 ms like the
 * tracker's constants: 0.94 with the look-ahead of 5. (0.92 scores the
 * same, 0.96 lower); a priori SNR floor. */
#define SP_ALPHA_DD 0.94
#define SP_XI_MIN 0.0031622777f /* -25 dB */

/* Noise floor of 4.: band of the frame decision, Hz; threshold on the mean
 * posterior there (0.2 and above let speech into the mean); smoothing of
 * the running mean (per 16 ms, like the tracker's: a time constant of
 * about 0.3 s, which follows the noise from pause to pause). */
#define SP_FRAME_LO_HZ 100.0
#define SP_FRAME_HI_HZ 2000.0
#define SP_FRAME_QUIET 0.15f
#define SP_ALPHA_AMBIENT 0.95
/* ... a quiet frame counts only if its voicing (below) is under this
 * (keeps voiced speech out where the tracker drifted up under it). */
#define SP_VOICED_QUIET 0.45f

/* Voicing of 4.: band of the autocorrelation, Hz; pitch range, Hz; step of
 * the lag grid, seconds; a frame whose normalised autocorrelation stays
 * below SP_UNVOICED at every lag of the range counts as speech-free (0.2
 * and 0.3 score lower). */
#define SP_VOICE_LO_HZ 40.0
#define SP_VOICE_HI_HZ 2000.0
#define SP_PITCH_LO_HZ 70.0
#define SP_PITCH_HI_HZ 400.0
#define SP_LAG_STEP_S 0.0000625
#define SP_UNVOICED 0.25f
/* ... and when its spectrum has the shape of the noise estimate: over
 * [voicing band's low edge, SP_SHAPE_HI_HZ), the variance of the log of
 * power / noise is at most SP_SHAPE_MAX (pi^2 / 6 = 1.64 for noise of exactly
 * that shape, whatever its level; 2.75 and 3 lose 2-3 dB on speech with
 * white noise 30 dB down). */
#define SP_SHAPE_HI_HZ 8000.0
#define SP_SHAPE_MAX 2.5f

/* Lowest frequency of speech, Hz: bins below get gain 0 (voices start
 * near 70 Hz; 100 Hz cuts into low voices). */
#define SP_SPEECH_LO_HZ 60.0

/* OM-LSA: gain under speech absence and a priori speech absence prob.
 * (-15/-25 dB and 0.3/0.7 score within 0.05 dB of these). */
#define SP_GMIN_DB (-20.0)
#define SP_Q_ABSENT 0.5f

/* Bins per block of the gain loop: fixed-length inner loops that compilers
 * vectorise (GCC needs -O3 -fno-trapping-math for this file to do so). */
#define SP_BLOCK 8

/* Keeps divisions finite on digital silence. */
#define SP_TINY 1e-30f
/* Caps SNRs so that ratios of them stay finite (x / (1 + x) is 1 there). */
#define SP_BIG 1e12f

struct dsp_speech {
    int bins;
    int padded;             /* bins rounded up to whole SP_BLOCKs */
    int newest;             /* slot of `recent` with the latest frame */
    int speech_lo;          /* first bin at or above SP_SPEECH_LO_HZ */
    int frame;              /* frames seen, saturating */
    int init_frames;        /* frames of the start-up average */
    int full_at;            /* first frame with no STFT zero padding (< 4) */
    float alpha_noise;      /* noise smoothing at this hop */
    float alpha_pbar;       /* SPP smoothing at this hop */
    float alpha_amb;        /* smoothing of `ambient` at this hop */
    float alpha_dd;         /* decision-directed weight at this hop */
    int band_lo, band_hi;   /* bins [lo, hi) of the frame decision */
    int voice_lo, voice_hi; /* bins [lo, hi) of the voicing measure */
    int shape_lo, shape_hi; /* bins [lo, hi) of the shape test */
    int lags;               /* lags of the pitch range, padded to whole SP_BLOCKs */
    float ln_gmin;
    float init_w;      /* sum of weights of the start-up average */
    float pad_w[3];    /* share of window energy that is real signal in
                           the first three (zero-padded) frames */
    float *noise;      /* [bins] noise power estimate */
    float *pbar;       /* [bins] smoothed SPP of the noise tracker */
    float *clean_prev; /* [bins] previous frame's estimated speech power */
    float *recent;     /* [DSP_SPEECH_DELAY + 1][padded] the latest
                           periodograms, a ring; zeros before the first */
    float *ambient;    /* [bins] mean power of frames judged speech-free */
    float *voice_cos;  /* [voice bins][lags] cos(2 pi k lag / len) */
    float *voice_rw;   /* [lags] window energy / its autocorrelation there */
    float *voice_r;    /* [lags] scratch: autocorrelation of one frame */
};

int dsp_speech_frame_length(int rate)
{
    return dsp_stft_frame_length(rate, SP_FRAME_S);
}

/* Bins [*lo, *hi) from lo_hz to hi_hz (bin k is at k * rate / len Hz): at
 * least one bin, inside the spectrum, at any rate. */
static void band_bins(const dsp_speech *sp, double lo_hz, double hi_hz, int rate, int len,
                      int *lo, int *hi)
{
    *lo = (int)ceil(lo_hz * len / rate);
    *hi = (int)ceil(hi_hz * len / rate);
    if (*hi > sp->bins)
        *hi = sp->bins;
    if (*lo >= *hi)
        *lo = *hi - 1;
}

/* Autocorrelation at a whole lag of the analysis window w[0..len). */
static double window_autocorr(const double *w, int len, int lag)
{
    double sum = 0.0;
    for (int i = 0; i + lag < len; i++)
        sum += w[i] * w[i + lag];
    return sum;
}

/*
 * Tables of the voicing measure of 4. The autocorrelation of a frame is the
 * inverse transform of its power spectrum; over the voicing band only, at
 * the lags of the pitch range (fractional, on a fine grid), it is a sum of
 * cosines, kept here as [bin][lag] so that the lags of one bin are
 * contiguous. Each lag is divided by the analysis window's own
 * autocorrelation there (Boersma 1993), which would otherwise taper long
 * lags. The lag count is padded to whole blocks by repeating the last lag.
 */
static int voice_create(dsp_speech *sp, int rate, int len)
{
    const double two_pi = 2.0 * 3.14159265358979323846;
    band_bins(sp, SP_VOICE_LO_HZ, SP_VOICE_HI_HZ, rate, len, &sp->voice_lo,
              &sp->voice_hi);
    const double lag0 = rate / SP_PITCH_HI_HZ, step = SP_LAG_STEP_S * rate;
    int used = (int)floor((rate / SP_PITCH_LO_HZ - lag0) / step) + 1;
    while (used > 1 && lag0 + (used - 1) * step > len - 2)
        used--;
    sp->lags = (used + SP_BLOCK - 1) / SP_BLOCK * SP_BLOCK;
    const size_t nb = (size_t)(sp->voice_hi - sp->voice_lo);
    sp->voice_cos = malloc(nb * (size_t)sp->lags * sizeof *sp->voice_cos);
    sp->voice_rw = malloc((size_t)sp->lags * sizeof *sp->voice_rw);
    sp->voice_r = malloc((size_t)sp->lags * sizeof *sp->voice_r);
    /* The STFT's window: the square root of the periodic Hann window. */
    double *w = malloc((size_t)len * sizeof *w);
    if (!sp->voice_cos || !sp->voice_rw || !sp->voice_r || w == NULL) {
        free(w);
        return SAMSEP_ERR_NOMEM;
    }
    for (int i = 0; i < len; i++)
        w[i] = sqrt(0.5 - 0.5 * cos(two_pi * i / len));
    const double energy = window_autocorr(w, len, 0);
    for (int j = 0; j < sp->lags; j++) {
        double lag = lag0 + (j < used ? j : used - 1) * step;
        int a = (int)lag;
        double ra = window_autocorr(w, len, a), rb = window_autocorr(w, len, a + 1);
        sp->voice_rw[j] = (float)(energy / (ra + (lag - a) * (rb - ra)));
        for (size_t k = 0; k < nb; k++)
            sp->voice_cos[k * (size_t)sp->lags + (size_t)j] =
                (float)cos(two_pi * (double)(sp->voice_lo + (int)k) * lag / len);
    }
    free(w);
    return SAMSEP_OK;
}

int dsp_speech_create(int rate, int len, int hop, dsp_speech **out)
{
    if (out == NULL)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    if (rate <= 0 || len < 16 || len % 4 != 0 || hop < 1 || len % hop != 0 ||
        len / hop < 2 || len / hop > 4)
        return SAMSEP_ERR_INVALID;

    dsp_speech *sp = calloc(1, sizeof *sp);
    if (sp == NULL)
        return SAMSEP_ERR_NOMEM;
    sp->bins = len / 2 + 1;
    /* State arrays padded to whole blocks of the gain loop. */
    sp->padded = (sp->bins + SP_BLOCK - 1) / SP_BLOCK * SP_BLOCK;
    size_t padded = (size_t)sp->padded;
    sp->noise = calloc(padded, sizeof *sp->noise);
    sp->pbar = calloc(padded, sizeof *sp->pbar);
    sp->clean_prev = calloc(padded, sizeof *sp->clean_prev);
    sp->ambient = calloc(padded, sizeof *sp->ambient);
    sp->recent = calloc((DSP_SPEECH_DELAY + 1) * padded, sizeof *sp->recent);
    if (!sp->noise || !sp->pbar || !sp->clean_prev || !sp->ambient || !sp->recent) {
        dsp_speech_destroy(sp);
        return SAMSEP_ERR_NOMEM;
    }

    const double hop_ratio = ((double)hop / rate) / SP_REF_HOP_S;
    sp->alpha_noise = (float)pow(SP_ALPHA_NOISE, hop_ratio);
    sp->alpha_pbar = (float)pow(SP_ALPHA_PBAR, hop_ratio);
    sp->alpha_amb = (float)pow(SP_ALPHA_AMBIENT, hop_ratio);
    sp->alpha_dd = (float)pow(SP_ALPHA_DD, hop_ratio);
    band_bins(sp, SP_FRAME_LO_HZ, SP_FRAME_HI_HZ, rate, len, &sp->band_lo, &sp->band_hi);
    band_bins(sp, SP_VOICE_LO_HZ, SP_SHAPE_HI_HZ, rate, len, &sp->shape_lo,
              &sp->shape_hi);
    sp->speech_lo = (int)ceil(SP_SPEECH_LO_HZ * len / rate);
    if (sp->speech_lo > sp->bins)
        sp->speech_lo = sp->bins;
    int rc = voice_create(sp, rate, len);
    if (rc != SAMSEP_OK) {
        dsp_speech_destroy(sp);
        return rc;
    }
    sp->ln_gmin = (float)(SP_GMIN_DB / 20.0 * log(10.0));
    sp->init_frames = (int)ceil(SP_INIT_S * rate / hop);
    sp->full_at = len / hop - 1;
    if (sp->init_frames <= sp->full_at)
        sp->init_frames = sp->full_at + 1;

    /* Frame f < full_at holds (f+1)*hop real samples at its end, zeros
     * before: its expected periodogram is the share of the Hann energy over
     * that end times the noise power. */
    double total = 0.0, part[3] = { 0.0, 0.0, 0.0 };
    for (int i = 0; i < len; i++) {
        double h = 0.5 - 0.5 * cos(2.0 * 3.14159265358979323846 * i / len);
        total += h;
        for (int f = 0; f < sp->full_at; f++)
            if (i >= len - (f + 1) * hop)
                part[f] += h;
    }
    for (int f = 0; f < sp->full_at; f++)
        sp->pad_w[f] = (float)(part[f] / total);

    *out = sp;
    return SAMSEP_OK;
}

void dsp_speech_destroy(dsp_speech *sp)
{
    if (sp == NULL)
        return;
    free(sp->noise);
    free(sp->pbar);
    free(sp->clean_prev);
    free(sp->ambient);
    free(sp->recent);
    free(sp->voice_cos);
    free(sp->voice_rw);
    free(sp->voice_r);
    free(sp);
}

/*
 * Fast exp and log. The gain rule needs six of them per bin and frame,
 * which through libm took most of the engine's time. Both split off the
 * power of two by bit manipulation and finish with a short series, so they
 * carry no fitted constants, and both are branch-free so that the loops
 * below vectorise:
 *   log: x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(t),
 *        t = (m - 1) / (m + 1), |t| < 0.172, series to t^9 (rel. error
 *        about 1e-7);
 *   exp: x = n ln2 + r with |r| <= ln2 / 2; e^r by Taylor to r^6 (rel.
 *        error about 2e-7); 2^n put straight into the exponent bits.
 * Arguments are clamped to where floats stay normal (NaN is not expected:
 * every input is a finite power ratio clamped by the caller).
 */
static inline float fast_logf(float x)
{
    x = x > 1e-30f ? x : 1e-30f;
    x = x < 1e30f ? x : 1e30f;
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    /* Re-bias so that the mantissa lands in [sqrt(1/2), sqrt(2)). */
    uint32_t shifted = bits + (0x3f800000u - 0x3f3504f3u);
    int e = (int)(shifted >> 23) - 127;
    uint32_t mbits = (shifted & 0x007fffffu) + 0x3f3504f3u;
    float m;
    memcpy(&m, &mbits, sizeof m);
    float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
    float series =
        1.0f +
        t2 * (1.0f / 3.0f + t2 * (1.0f / 5.0f + t2 * (1.0f / 7.0f + t2 * (1.0f / 9.0f))));
    return (float)e * 0.69314718f + 2.0f * t * series;
}

static inline float fast_expf(float x)
{
    x = x > -87.0f ? x : -87.0f;
    x = x < 88.0f ? x : 88.0f;
    /* Round x / ln2 to the nearest integer; the offset keeps the truncating
     * conversion a floor for every x in range. */
    int n = (int)(x * 1.44269504f + 128.5f) - 128;
    /* ln 2 in two parts so that n * ln2 is exact to float precision. */
    float r = (x - (float)n * 0.693145752f) - (float)n * 1.42860677e-6f;
    float er =
        1.0f +
        r * (1.0f + r * (0.5f + r * (1.0f / 6.0f +
                                     r * (1.0f / 24.0f +
                                          r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
    uint32_t bits = (uint32_t)(n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return er * scale;
}

/*
 * Half the exponential integral, E1(v) / 2 for v > 0, to about 1e-4: the
 * power series below 1 and Abramowitz & Stegun 5.1.56 above (|error| < 5e-5
 * in v e^v E1(v)). `exp_mv` is e^-v, which the caller has anyway. Both
 * branches are computed (each is cheap) so the choice is a select.
 */
static inline float half_e1(float v, float exp_mv)
{
    float s = v * (1.0f - v * (0.25f - v * (1.0f / 18.0f -
                                            v * (1.0f / 96.0f - v * (1.0f / 600.0f)))));
    float low = 0.5f * (-0.57721566f - fast_logf(v) + s);
    float num = v * (v + 2.334733f) + 0.250621f;
    float den = v * (v + 3.330657f) + 1.681534f;
    float high = 0.5f * exp_mv * num / (v * den);
    return v <= 1.0f ? low : high;
}

/* Start-up: the running mean of the periodograms seen so far, each weighted
 * by the share of it that is real signal. */
static void init_noise(dsp_speech *sp, const float *power, int bins, int f)
{
    float w = f < sp->full_at ? sp->pad_w[f] : 1.0f;
    float prev_w = sp->init_w;
    sp->init_w += w;
    for (int k = 0; k < bins; k++)
        sp->noise[k] = (sp->noise[k] * prev_w + power[k]) / sp->init_w;
}

/* The noise power the gain uses in bin k: the tracked estimate, not below
 * the speech-free frames' mean (4.). */
static inline float noise_power(const dsp_speech *sp, int k)
{
    return sp->noise[k] > sp->ambient[k] ? sp->noise[k] : sp->ambient[k];
}

/*
 * 4. Voicing of a frame: the largest normalised autocorrelation over the
 * pitch range of the spectrum whitened by the noise estimate, power / max(
 * noise, ambient), over the voicing band. Whitening makes noise of any
 * colour flat, so noise alone scores near chance (about 0.2-0.4 on the
 * project's recordings) and voiced speech, a comb of harmonics, well above.
 */
static float voicing(dsp_speech *sp, const float *power, int bins)
{
    const int lo = sp->voice_lo, hi = sp->voice_hi < bins ? sp->voice_hi : bins;
    const int nl = sp->lags;
    float *restrict r = sp->voice_r;
    memset(r, 0, (size_t)nl * sizeof *r);
    float sum = 0.0f;
    for (int k = lo; k < hi; k++) {
        float lambda = noise_power(sp, k);
        float x = power[k] / (lambda + SP_TINY);
        x = x < SP_BIG ? x : SP_BIG;
        sum += x;
        const float *restrict c = sp->voice_cos + (size_t)(k - lo) * (size_t)nl;
        for (int j = 0; j < nl; j++)
            r[j] += x * c[j];
    }
    if (!(sum > 0.0f))
        return 0.0f;
    float best = r[0] * sp->voice_rw[0];
    for (int j = 1; j < nl; j++) {
        float v = r[j] * sp->voice_rw[j];
        best = v > best ? v : best;
    }
    return best / sum;
}

/*
 * 4. How far a frame's spectral shape is from the noise estimate's: the
 * variance over the shape band of ln(power / max(noise, ambient)). A
 * periodogram of noise of that shape is the shape times an exponential
 * variable of any mean, whose log has variance pi^2 / 6; a fricative, all
 * in the high bins, or a louder stretch of a different noise spreads it.
 */
static float shape_spread(dsp_speech *sp, const float *power, int bins)
{
    int lo = sp->shape_lo, hi = sp->shape_hi < bins ? sp->shape_hi : bins;
    float s1 = 0.0f, s2 = 0.0f;
    for (int k = lo; k < hi; k++) {
        float lambda = noise_power(sp, k);
        float l = fast_logf(power[k] / (lambda + SP_TINY) + SP_TINY);
        s1 += l;
        s2 += l * l;
    }
    float n = (float)(hi - lo);
    if (n < 2.0f)
        return 0.0f;
    float m = s1 / n;
    return s2 / n - m * m;
}

/*
 * 4. Whole-frame decision: a frame is taken as speech-free, and averaged
 * into `ambient` in every bin, its bursts included, when the mean posterior
 * speech presence over [band_lo, band_hi) against the noise estimate just
 * updated is below SP_FRAME_QUIET and the frame is not clearly voiced, or
 * when it is neither voiced nor shaped unlike the noise.
 */
static void update_ambient(dsp_speech *sp, const float *power, int bins)
{
    const float c_h1 = SP_XI_H1 / (1.0f + SP_XI_H1);
    const int lo = sp->band_lo, hi = sp->band_hi < bins ? sp->band_hi : bins;
    if (lo >= hi)
        return;
    float sum = 0.0f;
    for (int k = lo; k < hi; k++) {
        float gamma0 = power[k] / (sp->noise[k] + SP_TINY);
        gamma0 = gamma0 < SP_BIG ? gamma0 : SP_BIG;
        sum += 1.0f / (1.0f + (1.0f + SP_XI_H1) * fast_expf(-gamma0 * c_h1));
    }
    const float voiced = voicing(sp, power, bins);
    const int quiet = sum < SP_FRAME_QUIET * (float)(hi - lo);
    if (quiet ? voiced >= SP_VOICED_QUIET
              : voiced >= SP_UNVOICED || shape_spread(sp, power, bins) > SP_SHAPE_MAX)
        return;
    const float w = 1.0f - sp->alpha_amb;
    for (int k = 0; k < bins; k++)
        sp->ambient[k] += w * (power[k] - sp->ambient[k]);
}

/*
 * One block of SP_BLOCK bins starting at bin k0 (the state arrays are
 * padded to a whole number of blocks). Written as fixed-length loops over
 * the block with selects instead of branches, which compilers turn into
 * SIMD code at -O2; the arithmetic is the same per bin either way.
 */
static void track_block(dsp_speech *sp, const float *restrict y, int k0)
{
    const float an = sp->alpha_noise, ap = sp->alpha_pbar;
    const float c_h1 = SP_XI_H1 / (1.0f + SP_XI_H1);
    float *restrict noise = sp->noise + k0;
    float *restrict pbar = sp->pbar + k0;
    /* 1. Noise tracking (Gerkmann & Hendriks): posterior SPP under a
     * fixed 15 dB a priori SNR, against last frame's estimate; frames
     * whose SPP stays above the cap are forced to update a little. */
    for (int j = 0; j < SP_BLOCK; j++) {
        float lambda = noise[j];
        float gamma0 = y[j] / (lambda + SP_TINY);
        gamma0 = gamma0 < SP_BIG ? gamma0 : SP_BIG;
        float p = 1.0f / (1.0f + (1.0f + SP_XI_H1) * fast_expf(-gamma0 * c_h1));
        float pb = ap * pbar[j] + (1.0f - ap) * p;
        pbar[j] = pb;
        p = ((pb > SP_PBAR_CAP) & (p > SP_PBAR_CAP)) ? SP_PBAR_CAP : p;
        float en = (1.0f - p) * y[j] + p * lambda;
        noise[j] = an * lambda + (1.0f - an) * en;
    }
}

/* The gain of one block of the oldest frame in `recent`, once the newest
 * has been tracked (the frame decision of 4. needs every bin of its band
 * first). */
static void gains_block(dsp_speech *sp, float *restrict g, int k0)
{
    const float q_ratio = SP_Q_ABSENT / (1.0f - SP_Q_ABSENT);
    const float ln_gmin = sp->ln_gmin, a_dd = sp->alpha_dd;
    const size_t stride = (size_t)sp->padded;
    const int oldest = (sp->newest + 1) % (DSP_SPEECH_DELAY + 1);
    const float *restrict y = sp->recent + (size_t)oldest * stride + k0;
    const float *restrict ambient = sp->ambient + k0;
    float *restrict clean = sp->clean_prev + k0;

    for (int j = 0; j < SP_BLOCK; j++) {
        /* 4. The noise power: the speech-free frames' mean. */
        float lambda = ambient[j] + SP_TINY;
        /* 2. A priori SNR, decision-directed, its new evidence taken from
         * this frame and the next DSP_SPEECH_DELAY (5.). */
        float ahead = 0.0f;
        for (int d = 0; d <= DSP_SPEECH_DELAY; d++)
            ahead += sp->recent[(size_t)d * stride + (size_t)k0 + (size_t)j];
        ahead *= 1.0f / (DSP_SPEECH_DELAY + 1);
        float ml = ahead / lambda;
        ml = ml < SP_BIG ? ml : SP_BIG;
        ml = ml > 1.0f ? ml - 1.0f : 0.0f;
        float gamma = y[j] / lambda;
        gamma = gamma < SP_BIG ? gamma : SP_BIG;
        float xi = a_dd * clean[j] / lambda + (1.0f - a_dd) * ml;
        xi = xi > SP_XI_MIN ? xi : SP_XI_MIN;
        xi = xi < SP_BIG ? xi : SP_BIG;

        /* 3. LSA gain under speech presence, in the log domain, weighed
         * against the floor by the posterior presence probability p
         * (Cohen's OM-LSA). */
        float r = xi / (1.0f + xi);
        float v = r * gamma;
        v = v > 1e-30f ? v : 1e-30f;
        float exp_mv = fast_expf(-v);
        float ln_lsa = fast_logf(r) + half_e1(v, exp_mv);
        ln_lsa = ln_lsa < 0.0f ? ln_lsa : 0.0f;
        float p = 1.0f / (1.0f + q_ratio * (1.0f + xi) * exp_mv);
        g[j] = fast_expf(p * ln_lsa + (1.0f - p) * ln_gmin);
        /* Speech power for next frame's decision-directed rule:
         * G_LSA^2 |Y|^2. */
        clean[j] = fast_expf(2.0f * ln_lsa) * y[j];
    }
}

void dsp_speech_gains(dsp_speech *sp, const float *power, float *gain, int bins)
{
    if (bins > sp->bins)
        bins = sp->bins;
    const int f = sp->frame;
    const int tracking = f >= sp->init_frames;
    if (!tracking) {
        sp->frame++;
        init_noise(sp, power, bins, f);
    }
    /* The frame goes into the ring, over the oldest, its padding bins zero
     * (they are tracked but never read back). */
    sp->newest = (sp->newest + 1) % (DSP_SPEECH_DELAY + 1);
    float *y = sp->recent + (size_t)sp->newest * (size_t)sp->padded;
    memcpy(y, power, (size_t)bins * sizeof *y);
    memset(y + bins, 0, (size_t)(sp->padded - bins) * sizeof *y);
    if (tracking) {
        for (int k = 0; k < bins; k += SP_BLOCK)
            track_block(sp, y + k, k);
        update_ambient(sp, y, bins);
    } else {
        memcpy(sp->ambient, sp->noise, (size_t)bins * sizeof *sp->ambient);
    }
    /* The last, partial block of gains goes through a padded copy. */
    const int whole = bins / SP_BLOCK * SP_BLOCK;
    float g[SP_BLOCK];
    for (int k = 0; k < whole; k += SP_BLOCK)
        gains_block(sp, gain + k, k);
    if (whole < bins) {
        gains_block(sp, g, whole);
        memcpy(gain + whole, g, (size_t)(bins - whole) * sizeof *g);
    }
    /* 6. Nothing below the lowest voice is speech. */
    for (int k = 0; k < sp->speech_lo && k < bins; k++)
        gain[k] = 0.0f;
}

static int proc_create(int rate, int len, int hop, void **state)
{
    dsp_speech *sp = NULL;
    int rc = dsp_speech_create(rate, len, hop, &sp);
    *state = sp;
    return rc;
}

static void proc_gains(void *state, const float *power, float *gain, int bins)
{
    dsp_speech_gains(state, power, gain, bins);
}

static void proc_destroy(void *state)
{
    dsp_speech_destroy(state);
}

const dsp_processor dsp_proc_speech = {
    "speech",           dsp_speech_frame_length,
    DSP_SPEECH_OVERLAP, DSP_SPEECH_DELAY,
    proc_create,        proc_gains,
    proc_destroy,
};
