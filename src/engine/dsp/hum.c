/*
 * hum.c - mains hum and its harmonics, found, tracked and subtracted.
 *
 * Mains hum is a sum of sinusoids at the harmonics of 50 or 60 Hz whose
 * frequency drifts slowly (the grid holds it within about +-0.5 Hz) and
 * whose amplitudes hardly change. The processor works on long frames
 * (0.8 s: 1.25 Hz bins) and, rather than masking bins, fits each harmonic
 * as a sinusoid: for a frequency nu (in bins) the windowed sinusoid's
 * spectrum is known in closed form (below), and the least-squares complex
 * amplitude over the 2K + 1 bins around nu gives the hum's exact share of
 * those bins. The target is that fitted spectrum; the residual (mixture -
 * target) is the recording with the sinusoids subtracted, not notched, so
 * whatever else sits in those bins (speech, noise) stays in it.
 *
 * Finding the frequency: each frame scores candidate fundamentals on a
 * 0.1 Hz grid over 50 +- 1.2 and 60 +- 1.2 Hz by how much of each
 * harmonic's neighbourhood (up to 1 kHz) a sinusoid at that frequency
 * explains, relative to the local background: a sum over harmonics of
 * log(1 + SNR), each term capped and weighted by how well a sinusoid fits
 * (score_f0). Scores are averaged over about two seconds, which picks the
 * mains and its rough frequency; the current frame then refines it on a
 * 0.005 Hz grid (a 20th harmonic moves by 0.1 Hz per 0.005 Hz), and the
 * refined value is smoothed over about half a second.
 *
 * Which harmonics: each harmonic's SNR (fitted energy over the mean power
 * of the bins beside it) is averaged over about a second; below 8 dB it is
 * left out, above 14 dB it is taken whole, in between in part. Nothing is
 * taken unless one of the first three harmonics is present (mains hum
 * always has energy there; a musical note whose partials fall on the upper
 * harmonics of a candidate does not). A harmonic whose fitted energy jumps
 * above twice its tracked level in one frame (speech or a note landing on
 * it) is scaled back to that level, so sounds that are not steady are not
 * taken for hum. A harmonic less than about 8 dB above the sounds beside
 * it is therefore left in the residual.
 *
 * Frame length: 0.4 s frames (2.5 Hz bins) left more of loud tones a few
 * Hz beside a harmonic in the fit; 0.8 s halved that (test_dsp_prompts:
 * hum 18 dB below tones, target SI-SDR +1.9 -> +17.9 dB at 59.5 Hz).
 *
 * The window spectrum: the STFT's analysis window is w[n] = sin(pi n / N)
 * (the square root of a periodic Hann). For x[n] = exp(2 pi i nu n / N)
 * its DFT at bin k is W(k - nu) with
 *     W(d) = exp(-i pi d) R(d),
 *     R(d) = cos(pi d) (cot(pi (1 - 2d) / 2N) + cot(pi (1 + 2d) / 2N)) / 2,
 * (a sum of two geometric series), so with S = sum_k (-1)^k R(k - nu) X_k
 * and Q = sum_k R(k - nu)^2 the fitted bins are (S / Q) (-1)^k R(k - nu)
 * and the energy they explain |S|^2 / Q. The mirror image at -nu is
 * ignored: at 50 Hz it lies 80 bins away, where W is below -80 dB.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/dsp_internal.h"
#include "samsep.h"

#define HUM_PI 3.14159265358979323846

/* Frame length, seconds (bins of 1 / HUM_FRAME_S Hz). */
#define HUM_FRAME_S 0.8
/* Half-width of the fit around each harmonic, bins (the window's main lobe
 * is +-1.5 bins; +-6 leaves its sidelobes below about -40 dB). */
#define HUM_K 6
/* Bins beside the fit that measure the local background: HUM_K + 1 ..
 * HUM_K + HUM_BG on each side. */
#define HUM_BG 6
/* Harmonics taken up to this frequency, and scored up to HUM_SCORE_HZ. */
#define HUM_MAX_HZ 4000.0
#define HUM_SCORE_HZ 1000.0
/* Candidate fundamentals: NOMINAL +- HUM_RANGE_HZ in HUM_COARSE_HZ steps;
 * the refinement searches +- HUM_COARSE_HZ in HUM_FINE_HZ steps. */
#define HUM_RANGE_HZ 1.2
#define HUM_COARSE_HZ 0.1
#define HUM_FINE_HZ 0.005
/* Time constants, seconds: score and SNR averages, the refined frequency,
 * and the rise of a harmonic's tracked level. */
#define HUM_SCORE_TAU 2.0
#define HUM_SNR_TAU 1.0
#define HUM_F0_TAU 0.5
#define HUM_LEVEL_TAU 2.0
/* Presence ramp of a harmonic's averaged SNR, dB. */
#define HUM_SNR_LO_DB 8.0
#define HUM_SNR_HI_DB 14.0
/* A frame's fitted energy may exceed the tracked level by this factor. */
#define HUM_JUMP 2.0
/* Most one harmonic adds to a frequency's score: log(1 + 30 dB). */
#define HUM_SCORE_CAP 6.9
/* Harmonics 1..HUM_GATE_H: one of them must be present for any to be. */
#define HUM_GATE_H 3
/* R(d) is tabulated for |d| <= HUM_TAB_D bins at HUM_TAB_STEP steps per
 * bin and interpolated linearly: R is smooth, so the error is about 1e-6
 * of its peak, and the fits cost no trigonometry. */
#define HUM_TAB_D (HUM_K + 1)
#define HUM_TAB_STEP 1024
#define HUM_TAB_N (2 * HUM_TAB_D * HUM_TAB_STEP)

static const double hum_mains[2] = { 50.0, 60.0 };

/* The fit of a sinusoid at nu bins: first bin k0 of the 2K+1 it spans
 * (-1 when they do not fit in the spectrum), S (re, im) and Q. */
typedef struct fit {
    int k0;
    double nu, sr, si, q;
} fit;

typedef struct hum_chan {
    int frames;    /* frames seen, saturating */
    double f0;     /* smoothed refined fundamental, Hz; 0 = none yet */
    int mains;     /* index into hum_mains of f0 */
    double *score; /* [n_coarse] averaged coarse scores */
    double *snr;   /* [n_harm] averaged SNR per harmonic (linear) */
    double *level; /* [n_harm] tracked fitted energy per harmonic */
} hum_chan;

typedef struct hum {
    int len, bins, channels;
    double rate;
    double bin_hz;
    int n_coarse; /* candidates per mains */
    int n_harm;   /* harmonics of 50 Hz up to HUM_MAX_HZ (enough for 60) */
    double a_score, a_snr, a_f0, a_level_up;
    double *rtab; /* [HUM_TAB_N + 1] R(d) for d = -HUM_TAB_D .. +HUM_TAB_D */
    fit *fits;    /* [n_harm] scratch: this frame's fits */
    float *power; /* [bins] scratch */
    hum_chan *chan;
} hum;

/* R(d) of the top of the file, for frames of n samples. */
static double win_r(double d, double n)
{
    /* At d = +-1/2 one cotangent is infinite and cos(pi d) zero; the limit
     * is finite and the function smooth, so step off the point. */
    if (fabs(fabs(d) - 0.5) < 1e-7)
        d += 2e-7;
    double x1 = HUM_PI * (1.0 - 2.0 * d) / (2.0 * n),
           x2 = HUM_PI * (1.0 + 2.0 * d) / (2.0 * n);
    return cos(HUM_PI * d) * (cos(x1) / sin(x1) + cos(x2) / sin(x2)) * 0.5;
}

static int hum_frame_length(int rate)
{
    return dsp_stft_frame_length(rate, HUM_FRAME_S);
}

static void hum_destroy(void *state)
{
    hum *h = state;
    if (h == NULL)
        return;
    if (h->chan != NULL) {
        for (int c = 0; c < h->channels; c++) {
            free(h->chan[c].score);
            free(h->chan[c].snr);
            free(h->chan[c].level);
        }
    }
    free(h->chan);
    free(h->power);
    free(h->rtab);
    free(h->fits);
    free(h);
}

static int hum_create(int rate, int len, int channels, int mode, void **state, int *delay)
{
    (void)mode;
    if (state == NULL || delay == NULL)
        return SAMSEP_ERR_INVALID;
    *state = NULL;
    *delay = 0;
    if (rate <= 0 || len < 64 || len % 4 != 0 || channels < 1)
        return SAMSEP_ERR_INVALID;
    hum *h = calloc(1, sizeof *h);
    if (h == NULL)
        return SAMSEP_ERR_NOMEM;
    h->len = len;
    h->bins = len / 2 + 1;
    h->channels = channels;
    h->rate = rate;
    h->bin_hz = (double)rate / len;
    h->n_coarse = 2 * (int)lround(HUM_RANGE_HZ / HUM_COARSE_HZ) + 1;
    double top = fmin(HUM_MAX_HZ, 0.45 * rate);
    h->n_harm = (int)(top / hum_mains[0]);
    if (h->n_harm < 1)
        h->n_harm = 1;
    const double hop_s = (double)(len / 4) / rate;
    h->a_score = exp(-hop_s / HUM_SCORE_TAU);
    h->a_snr = exp(-hop_s / HUM_SNR_TAU);
    h->a_f0 = exp(-hop_s / HUM_F0_TAU);
    h->a_level_up = exp(-hop_s / HUM_LEVEL_TAU);
    h->power = malloc((size_t)h->bins * sizeof *h->power);
    h->rtab = malloc((size_t)(HUM_TAB_N + 1) * sizeof *h->rtab);
    h->fits = malloc((size_t)h->n_harm * sizeof *h->fits);
    h->chan = calloc((size_t)channels, sizeof *h->chan);
    if (h->power == NULL || h->rtab == NULL || h->fits == NULL || h->chan == NULL) {
        hum_destroy(h);
        return SAMSEP_ERR_NOMEM;
    }
    for (int c = 0; c < channels; c++) {
        hum_chan *ch = &h->chan[c];
        ch->score = calloc((size_t)(2 * h->n_coarse), sizeof *ch->score);
        ch->snr = calloc((size_t)h->n_harm, sizeof *ch->snr);
        ch->level = calloc((size_t)h->n_harm, sizeof *ch->level);
        if (!ch->score || !ch->snr || !ch->level) {
            hum_destroy(h);
            return SAMSEP_ERR_NOMEM;
        }
    }
    for (int i = 0; i <= HUM_TAB_N; i++)
        h->rtab[i] = win_r((double)i / HUM_TAB_STEP - HUM_TAB_D, (double)len);
    *state = h;
    return SAMSEP_OK;
}

/* R(d) from the table, |d| < HUM_TAB_D. */
static double r_of(const hum *h, double d)
{
    double u = (d + HUM_TAB_D) * HUM_TAB_STEP;
    int i = (int)u;
    if (i < 0)
        i = 0;
    if (i >= HUM_TAB_N)
        i = HUM_TAB_N - 1;
    double t = u - i;
    return h->rtab[i] + t * (h->rtab[i + 1] - h->rtab[i]);
}

static fit fit_at(const hum *h, const dsp_cplx *x, double nu)
{
    fit f = { -1, nu, 0.0, 0.0, 0.0 };
    int kc = (int)lround(nu);
    if (kc - HUM_K - HUM_BG < 1 || kc + HUM_K + HUM_BG > h->bins - 2)
        return f;
    f.k0 = kc - HUM_K;
    for (int k = f.k0; k <= kc + HUM_K; k++) {
        double r = r_of(h, (double)k - nu);
        if (k & 1)
            r = -r;
        f.sr += r * x[k][0];
        f.si += r * x[k][1];
        f.q += r * r;
    }
    return f;
}

/* Mean power of the HUM_BG bins on each side of the fit around bin kc. */
static double background(const hum *h, int kc)
{
    double e = 0.0;
    for (int j = HUM_K + 1; j <= HUM_K + HUM_BG; j++)
        e += (double)h->power[kc - j] + (double)h->power[kc + j];
    return e / (2.0 * HUM_BG) + 1e-30;
}

/* How well a fundamental f0 explains this frame: a sum over the harmonics
 * up to HUM_SCORE_HZ of log(1 + fitted energy / background), capped so that
 * one loud partial cannot outweigh a series of hum harmonics, and weighted
 * by the share of the energy of the 5 bins at the harmonic that the fit
 * explains (near 1 for a sinusoid at that frequency, small for one a bin or
 * two off). */
static double score_f0(const hum *h, const dsp_cplx *x, double f0)
{
    double s = 0.0, low = 0.0;
    for (int k = 1; k * f0 <= HUM_SCORE_HZ; k++) {
        double nu = k * f0 / h->bin_hz;
        fit f = fit_at(h, x, nu);
        if (f.k0 < 0)
            break;
        const int kc = f.k0 + HUM_K;
        double e = (f.sr * f.sr + f.si * f.si) / f.q, rr = 0.0, pc = 1e-30;
        for (int j = kc - 2; j <= kc + 2; j++) {
            double r = r_of(h, (double)j - nu);
            rr += r * r;
            pc += h->power[j];
        }
        double share = e / f.q * rr / pc;
        double term =
            fmin(share, 1.0) * fmin(log1p(e / background(h, kc)), HUM_SCORE_CAP);
        s += term;
        if (k <= HUM_GATE_H && term > low)
            low = term;
    }
    /* As the gate below: without one of the first harmonics (10 dB there
     * counts fully) it is not hum, whatever its upper partials. */
    return s * fmin(low / log1p(10.0), 1.0);
}

static void hum_frame(void *state, int channel, dsp_cplx *spec, int bins)
{
    hum *h = state;
    hum_chan *ch = &h->chan[channel];

    for (int k = 0; k < bins; k++) {
        double p = (double)spec[k][0] * spec[k][0] + (double)spec[k][1] * spec[k][1];
        h->power[k] = p <= 1e30 ? (float)p : 1e30f; /* non-finite: capped */
    }

    /* Coarse scores, averaged over time; the best picks mains and region. */
    const double a = ch->frames == 0 ? 0.0 : h->a_score;
    int best = 0;
    for (int m = 0; m < 2; m++) {
        for (int c = 0; c < h->n_coarse; c++) {
            double f0 = hum_mains[m] - HUM_RANGE_HZ + c * HUM_COARSE_HZ;
            double *sc = &ch->score[m * h->n_coarse + c];
            double v = score_f0(h, (const dsp_cplx *)spec, f0);
            *sc = isfinite(v) ? a * *sc + (1.0 - a) * v : a * *sc;
            if (*sc > ch->score[best])
                best = m * h->n_coarse + c;
        }
    }
    const int mains = best / h->n_coarse;
    const double coarse =
        hum_mains[mains] - HUM_RANGE_HZ + (best % h->n_coarse) * HUM_COARSE_HZ;

    /* Refine on this frame around the coarse value. */
    double fine = coarse, fine_score = -1.0;
    const int steps = (int)lround(HUM_COARSE_HZ / HUM_FINE_HZ);
    for (int i = -steps; i <= steps; i++) {
        double f0 = coarse + i * HUM_FINE_HZ;
        double v = score_f0(h, (const dsp_cplx *)spec, f0);
        if (v > fine_score) {
            fine_score = v;
            fine = f0;
        }
    }
    if (ch->f0 == 0.0 || ch->mains != mains ||
        fabs(fine - ch->f0) > 2.0 * HUM_COARSE_HZ) {
        ch->f0 = fine; /* first frame, or the mains changed: start over */
        ch->mains = mains;
    } else {
        ch->f0 = h->a_f0 * ch->f0 + (1.0 - h->a_f0) * fine;
    }

    /* Fit every harmonic at the tracked frequency; update its averaged SNR
     * and tracked level. The fits are kept (in fits[]) for the target. */
    const double lo = pow(10.0, HUM_SNR_LO_DB / 10.0),
                 hi = pow(10.0, HUM_SNR_HI_DB / 10.0);
    int nfit = 0;
    double gate_snr = 0.0;
    for (int n = 0; n < h->n_harm; n++) {
        double nu = (n + 1) * ch->f0 / h->bin_hz;
        fit f = fit_at(h, (const dsp_cplx *)spec, nu);
        if (f.k0 < 0)
            break;
        if (nfit > 0 && f.k0 <= h->fits[nfit - 1].k0 + 2 * HUM_K)
            continue; /* overlaps the last fit (only at very coarse bins) */
        double e = (f.sr * f.sr + f.si * f.si) / f.q;
        double snr = e / background(h, f.k0 + HUM_K);
        if (!isfinite(snr))
            snr = 0.0;
        ch->snr[n] = ch->frames == 0 ? snr
                                     : h->a_snr * ch->snr[n] + (1.0 - h->a_snr) * snr;
        if (ch->frames == 0 || e < ch->level[n])
            ch->level[n] = ch->frames == 0 ? e : 0.5 * (ch->level[n] + e);
        else
            ch->level[n] = h->a_level_up * ch->level[n] + (1.0 - h->a_level_up) * e;
        if (n < HUM_GATE_H && ch->snr[n] > gate_snr)
            gate_snr = ch->snr[n];
        /* Presence weight from the averaged SNR (dB ramp lo..hi), and the
         * limit on a sudden rise. */
        double w = 0.0;
        if (ch->snr[n] >= hi)
            w = 1.0;
        else if (ch->snr[n] > lo)
            w = log(ch->snr[n] / lo) / log(hi / lo);
        if (e > HUM_JUMP * ch->level[n] && e > 0.0)
            w *= sqrt(HUM_JUMP * ch->level[n] / e);
        if (!isfinite(w))
            w = 0.0;
        f.sr *= w / f.q;
        f.si *= w / f.q;
        f.nu = nu;
        h->fits[nfit++] = f;
    }
    /* Hum has energy at its fundamental or second or third harmonic; a
     * series without any there is something else (a note whose partials
     * happen to fall on a candidate's harmonics). */
    double gate = 0.0;
    if (gate_snr >= hi)
        gate = 1.0;
    else if (gate_snr > lo)
        gate = log(gate_snr / lo) / log(hi / lo);

    /* The target: the fitted sinusoids, zero elsewhere. */
    memset(spec, 0, (size_t)bins * sizeof *spec);
    for (int i = 0; i < nfit && gate > 0.0; i++) {
        const fit *f = &h->fits[i];
        for (int k = f->k0; k <= f->k0 + 2 * HUM_K; k++) {
            double r = gate * r_of(h, (double)k - f->nu);
            if (k & 1)
                r = -r;
            spec[k][0] = (float)(f->sr * r);
            spec[k][1] = (float)(f->si * r);
        }
    }
    if (ch->frames < 1000000)
        ch->frames++;
}

const dsp_spectral dsp_spec_hum = {
    "mains hum", hum_frame_length, hum_create, hum_frame, hum_destroy,
};
