/*
 * test_dsp_prompts.c - unit tests of the dsp engine's prompt vocabulary and
 * of its spectral processors: music/drums (harmonic/percussive
 * separation), hum and vocals.
 *
 * Every signal is synthetic and seeded: sustained tones, clicks (short
 * decaying noise bursts), a mains hum with harmonics, noise, stereo mixes
 * with known panning. Each quality check compares a measured figure with a
 * threshold, so a broken processor fails; the streaming checks (any block
 * split gives the same bits; the reported latency aligns the output to the
 * sample) run for every spectral prompt.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "dsptest.h"
#include "sisdr_core.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dsp/prompts.h"
#include "engine/engines.h"
#include "samsep.h"

#define PI 3.14159265358979323846

/* ------------------------------------------------------------------ */
/* Signals and measures                                                 */
/* ------------------------------------------------------------------ */

static void white_noise(float *x, int64_t n, double amp, uint64_t seed)
{
    rng r = { seed * 0x9E3779B97F4A7C15ULL + 1 };
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(amp * rng_uniform(&r));
}

/* Sustained tones: a melody of one note a second, each with five harmonics
 * (partials at least 165 Hz apart, so each stands alone in the frequency
 * median), with 50 ms fades at each change. Peak about 0.4. */
static void tones(float *x, int64_t n, int rate)
{
    static const double notes[4] = { 220.0, 196.0, 261.6, 164.8 };
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        int c = (int)t % 4;
        double frac = t - floor(t), env = 1.0;
        if (frac < 0.05)
            env = frac / 0.05;
        else if (frac > 0.95)
            env = (1.0 - frac) / 0.05;
        double v = 0.0;
        for (int h = 1; h <= 5; h++)
            v += sin(2.0 * PI * notes[c] * h * t + h) / (h * 4.0);
        x[i] = (float)(env * v);
    }
}

/* Clicks: 4 ms noise bursts with an 8 ms decay, every `period` seconds
 * (starting at 0.1 s). Peak about 0.5. */
static void clicks(float *x, int64_t n, int rate, double period, uint64_t seed)
{
    rng r = { seed * 0x9E3779B97F4A7C15ULL + 5 };
    memset(x, 0, (size_t)n * sizeof *x);
    for (double at = 0.1; at * rate < (double)n; at += period) {
        int64_t s = (int64_t)(at * rate);
        for (int64_t j = 0; j < rate / 20 && s + j < n; j++) {
            double t = (double)j / rate;
            double env = t < 0.004 ? 1.0 : exp(-(t - 0.004) / 0.008);
            x[s + j] = (float)(0.5 * env * rng_uniform(&r));
        }
    }
}

/* Mains hum of fundamental f0 with `harmonics` harmonics falling as
 * 1/h (odd ones louder, as a transformer's buzz), peak about amp. The
 * frequency drifts by `drift` Hz over the signal (linearly). */
static void hum(float *x, int64_t n, int rate, double f0, int harmonics, double amp,
                double drift)
{
    double ph = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double f = f0 + drift * (double)i / (double)n, v = 0.0;
        ph += 2.0 * PI * f / rate;
        for (int h = 1; h <= harmonics; h++)
            v += sin(h * ph + 0.3 * h) * ((h & 1) ? 1.0 : 0.5) / h;
        x[i] = (float)(amp * 0.5 * v);
    }
}

/* ------------------------------------------------------------------ */
/* Running the engine like the pipeline does                            */
/* ------------------------------------------------------------------ */

static float *alloc_f(int64_t n)
{
    float *p = calloc((size_t)n, sizeof *p);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------------------------ */
/* Vocabulary                                                           */
/* ------------------------------------------------------------------ */

static void test_vocabulary(void **state)
{
    (void)state;
    static const struct {
        const char *prompt;
        int mode;
    } cases[] = {
        { NULL, DSP_MODE_SPEECH },
        { "", DSP_MODE_SPEECH },
        { "  \t\n", DSP_MODE_SPEECH },
        { "speech", DSP_MODE_SPEECH },
        { "Speech", DSP_MODE_SPEECH },
        { " SPEECH. ", DSP_MODE_SPEECH },
        { "voice", DSP_MODE_SPEECH },
        { "voices", DSP_MODE_SPEECH },
        { "the voice", DSP_MODE_SPEECH },
        { "man speaking", DSP_MODE_SPEECH },
        { "a woman talking", DSP_MODE_SPEECH },
        { "People talking!", DSP_MODE_SPEECH },
        { "dialogue", DSP_MODE_SPEECH },
        { "spoken   word", DSP_MODE_SPEECH },
        { "noise", DSP_MODE_NOISE },
        { "background noise", DSP_MODE_NOISE },
        { "Hiss", DSP_MODE_NOISE },
        { "the background noise.", DSP_MODE_NOISE },
        { "noises", DSP_MODE_NOISE },
        { "music", DSP_MODE_MUSIC },
        { "harmonic", DSP_MODE_MUSIC },
        { "instruments", DSP_MODE_MUSIC },
        { "tonal", DSP_MODE_MUSIC },
        { "(Music)", DSP_MODE_MUSIC },
        { "drums", DSP_MODE_DRUMS },
        { "the drums", DSP_MODE_DRUMS },
        { "Drum", DSP_MODE_DRUMS },
        { "percussion", DSP_MODE_DRUMS },
        { "beat", DSP_MODE_DRUMS },
        { "a beat", DSP_MODE_DRUMS },
        { "drum-kit", DSP_MODE_DRUMS },
        { "vocals", DSP_MODE_VOCALS },
        { "singing", DSP_MODE_VOCALS },
        { "singer", DSP_MODE_VOCALS },
        { "lead vocal", DSP_MODE_VOCALS },
        { "Lead Vocals", DSP_MODE_VOCALS },
        { "man singing", DSP_MODE_VOCALS },
        { "female vocals", DSP_MODE_VOCALS },
        { "hum", DSP_MODE_HUM },
        { "mains hum", DSP_MODE_HUM },
        { "buzz", DSP_MODE_HUM },
        { "50 Hz hum", DSP_MODE_HUM },
        { "60hz", DSP_MODE_HUM },
        { "60 Hz", DSP_MODE_HUM },
        { "50Hz hum", DSP_MODE_HUM },
        { "the hum", DSP_MODE_HUM },
        { "dog barking", -1 },
        { "speechy", -1 },
        { "the", -1 },
        { "...", -1 },
        { "man", -1 },
        { "hiss hum", -1 },
        { "voice\xc3\xa9", -1 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int m = dsp_prompt_mode(cases[i].prompt);
        if (m != cases[i].mode)
            print_message("prompt \"%s\": mode %d, expected %d\n",
                          cases[i].prompt ? cases[i].prompt : "(null)", m, cases[i].mode);
        assert_int_equal(m, cases[i].mode);
    }
    /* Very long prompts are unknown, not overrun. */
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(dsp_prompt_mode(big), -1);
    for (size_t i = 0; i + 1 < sizeof big; i++)
        big[i] = (i % 3 == 2) ? ' ' : 'x';
    assert_int_equal(dsp_prompt_mode(big), -1);
}

/* The public list is the table: every keyword and every listed word selects
 * the keyword's mode, and the keywords are the modes, in order. */
static void test_prompt_list(void **state)
{
    (void)state;
    const char *words = NULL, *what = NULL;
    int i;
    for (i = 0; samsep_dsp_prompt(i, &words, &what) != NULL; i++) {
        const char *kw = samsep_dsp_prompt(i, NULL, NULL);
        assert_non_null(words);
        assert_non_null(what);
        assert_true(strlen(what) > 10);
        assert_int_equal(dsp_prompt_mode(kw), i);
        assert_string_equal(dsp_mode_keyword(i), kw);
        char one[128];
        const char *p = words;
        int n = 0;
        while (*p != '\0') {
            size_t len = strcspn(p, ",");
            assert_true(len > 0 && len < sizeof one);
            memcpy(one, p, len);
            one[len] = '\0';
            assert_int_equal(dsp_prompt_mode(one), i);
            n++;
            p += len;
            while (*p == ',' || *p == ' ')
                p++;
        }
        assert_true(n >= 1);
    }
    assert_int_equal(i, DSP_MODE_COUNT);
    assert_null(samsep_dsp_prompt(-1, &words, &what));
    assert_null(samsep_dsp_prompt(DSP_MODE_COUNT, NULL, NULL));
    assert_null(dsp_mode_keyword(-1));
    assert_null(dsp_mode_keyword(DSP_MODE_COUNT));
}

static void test_unknown_prompt_message(void **state)
{
    (void)state;
    const samsep_engine_vtable *vt = &samsep_engine_dsp;
    samsep_engine_config cfg = { .prompt = "  a dog, barking " };
    void *eng = (void *)1;
    samsep_engine_info info;
    char err[SAMSEP_MSG_MAX] = "";
    assert_int_equal(vt->open(&cfg, &eng, &info, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_null(eng);
    assert_non_null(strstr(err, "\"a dog, barking\""));
    /* Every keyword and every word is listed, and where free text goes. */
    const char *words;
    for (int i = 0; samsep_dsp_prompt(i, &words, NULL) != NULL; i++) {
        assert_non_null(strstr(err, samsep_dsp_prompt(i, NULL, NULL)));
        assert_non_null(strstr(err, words));
    }
    assert_non_null(strstr(err, "free-text prompts need the sam-audio engine"));
    /* Truncated, not overrun. */
    char small[24];
    memset(small, 'x', sizeof small);
    assert_int_equal(vt->open(&cfg, &eng, &info, small, sizeof small),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_int_equal(small[23], '\0');
    assert_int_equal(vt->open(&cfg, &eng, &info, NULL, 0), SAMSEP_ERR_UNKNOWN_PROMPT);
    dsp_prompt_unknown_message(NULL, err, sizeof err);
    assert_non_null(strstr(err, "\"\""));
    /* Every mode opens, and a stream of each opens on mono and stereo. */
    for (int i = 0; samsep_dsp_prompt(i, NULL, NULL) != NULL; i++) {
        cfg.prompt = samsep_dsp_prompt(i, NULL, NULL);
        assert_int_equal(vt->open(&cfg, &eng, &info, err, sizeof err), SAMSEP_OK);
        assert_int_equal(info.streaming, 1);
        assert_int_equal(info.residual_mode, SAMSEP_RESIDUAL_SUBTRACT);
        for (int ch = 1; ch <= 2; ch++) {
            void *st = NULL;
            int64_t lat = -1;
            assert_int_equal(vt->stream_open(eng, 8000, ch, 64, &st, &lat, err,
                                             sizeof err),
                             SAMSEP_OK);
            assert_true(lat > 0);
            float buf[128] = { 0 };
            assert_int_equal(vt->process(st, buf, buf, NULL, 64 / ch), SAMSEP_OK);
            assert_int_equal(vt->process(st, buf, buf, NULL, 65), SAMSEP_ERR_INVALID);
            vt->stream_close(st);
        }
        vt->close(eng);
    }
}

/* ------------------------------------------------------------------ */
/* Streaming: every spectral prompt                                     */
/* ------------------------------------------------------------------ */

static const char *const spectral_prompts[] = { "music", "drums", "vocals", "hum" };
#define N_SPECTRAL (sizeof spectral_prompts / sizeof spectral_prompts[0])

/* A test mixture: tones + clicks + hum + noise, channel 1 a different
 * blend of the same parts (so stereo processing has something to do). */
static float *test_mix(int rate, int ch, int64_t n)
{
    float *x = alloc_f(n * ch), *a = alloc_f(n), *b = alloc_f(n), *c = alloc_f(n),
          *d = alloc_f(n);
    tones(a, n, rate);
    clicks(b, n, rate, 0.3, 1);
    hum(c, n, rate, 50.0, 8, 0.1, 0.5);
    white_noise(d, n, 0.01, 2);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < ch; k++)
            x[i * ch + k] =
                a[i] * (k == 0 ? 1.0f : 0.3f) + b[i] + c[i] + d[i] * (float)(k + 1);
    free(a);
    free(b);
    free(c);
    free(d);
    return x;
}

static void test_split_invariance(void **state)
{
    (void)state;
    const int rate = 16000;
    const int64_t n = 3 * rate + 123;
    for (int ch = 1; ch <= 2; ch++) {
        float *in = test_mix(rate, ch, n), *a = alloc_f(n * ch), *b = alloc_f(n * ch);
        for (size_t p = 0; p < N_SPECTRAL; p++) {
            run_engine(spectral_prompts[p], rate, ch, in, a, n, n + 100000, 0);
            static const int64_t blocks[] = { 1, 7, 383, 384, 385, 4096 };
            for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
                run_engine(spectral_prompts[p], rate, ch, in, b, n, blocks[k], 0);
                assert_memory_equal(a, b, (size_t)(n * ch) * sizeof *a);
            }
            run_engine(spectral_prompts[p], rate, ch, in, b, n, 0, 3);
            assert_memory_equal(a, b, (size_t)(n * ch) * sizeof *a);
            /* Something came out, and nothing non-finite. */
            double e = 0.0;
            for (int64_t i = 0; i < n * ch; i++) {
                assert_true(isfinite(a[i]));
                e += (double)a[i] * a[i];
            }
            assert_true(e > 0.0);
        }
        free(in);
        free(a);
        free(b);
    }
}

/* Silence in, silence out; a full-scale square wave and tiny values stay
 * finite, for every spectral prompt, mono and stereo, at several rates. */
static void test_silence_and_extremes(void **state)
{
    (void)state;
    static const int rates[] = { 8000, 44100, 96000 };
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        const int rate = rates[r];
        const int64_t n = rate * 2;
        for (int ch = 1; ch <= 3; ch += 1) {
            float *in = alloc_f(n * ch), *out = alloc_f(n * ch);
            for (size_t p = 0; p < N_SPECTRAL; p++) {
                memset(in, 0, (size_t)(n * ch) * sizeof *in);
                run_engine(spectral_prompts[p], rate, ch, in, out, n, 4096, 0);
                for (int64_t i = 0; i < n * ch; i++)
                    assert_true(out[i] == 0.0f);
                for (int64_t i = 0; i < n * ch; i++)
                    in[i] = ((i / ch / 37) & 1) ? 1.0f : -1.0f;
                run_engine(spectral_prompts[p], rate, ch, in, out, n, 4096, 0);
                for (int64_t i = 0; i < n * ch; i++)
                    assert_true(isfinite(out[i]) && fabsf(out[i]) < 4.0f);
                for (int64_t i = 0; i < n * ch; i++)
                    in[i] = (i & 1) ? 1e-30f : -1e-30f;
                run_engine(spectral_prompts[p], rate, ch, in, out, n, 4096, 0);
                for (int64_t i = 0; i < n * ch; i++)
                    assert_true(isfinite(out[i]));
            }
            free(in);
            free(out);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Harmonic / percussive                                                */
/* ------------------------------------------------------------------ */

static void test_music_keeps_tones_drums_keep_clicks(void **state)
{
    (void)state;
    const int rate = 48000;
    const int64_t n = 4 * rate;
    float *t = alloc_f(n), *c = alloc_f(n), *x = alloc_f(n), *ym = alloc_f(n),
          *yd = alloc_f(n);
    tones(t, n, rate);
    clicks(c, n, rate, 0.25, 7);
    for (int64_t i = 0; i < n; i++)
        x[i] = t[i] + c[i];
    run_engine("music", rate, 1, x, ym, n, 1000, 0);
    run_engine("drums", rate, 1, x, yd, n, 1000, 0);
    double mix_t = sisdr(t, x, n), mus_t = sisdr(t, ym, n);
    double mix_c = sisdr(c, x, n), drm_c = sisdr(c, yd, n);
    print_message("music target vs tones: %+.2f dB (mixture %+.2f)\n", mus_t, mix_t);
    print_message("drums target vs clicks: %+.2f dB (mixture %+.2f)\n", drm_c, mix_c);
    assert_true(mus_t > mix_t + 6.0);
    assert_true(mus_t > 10.0);
    assert_true(drm_c > mix_c + 6.0);
    assert_true(drm_c > 5.0);
    /* Each target holds little of the other source. */
    assert_true(sisdr(c, ym, n) < mix_c - 6.0);
    assert_true(sisdr(t, yd, n) < mix_t - 6.0);
    free(t);
    free(c);
    free(x);
    free(ym);
    free(yd);
}

/* The music target of tones alone is the tones, aligned to the sample:
 * SI-SDR against the input peaks at lag 0. Same for drums on clicks. */
static void test_latency_alignment(void **state)
{
    (void)state;
    static const int rates[] = { 8000, 48000 };
    for (size_t r = 0; r < 2; r++) {
        const int rate = rates[r];
        const int64_t n = 3 * rate, a = rate / 2, m = n - a - 8;
        float *x = alloc_f(n), *y = alloc_f(n);
        for (int which = 0; which < 2; which++) {
            if (which == 0)
                tones(x, n, rate);
            else
                clicks(x, n, rate, 0.2, 9);
            run_engine(which == 0 ? "music" : "drums", rate, 1, x, y, n, 1000, 0);
            double best = -1e9;
            int best_lag = 99;
            for (int lag = -3; lag <= 3; lag++) {
                double v = sisdr(x + a, y + a + lag, m);
                if (v > best) {
                    best = v;
                    best_lag = lag;
                }
            }
            print_message("%s alone at %d Hz: SI-SDR %+.2f dB at lag %d\n",
                          which == 0 ? "tones" : "clicks", rate, best, best_lag);
            assert_int_equal(best_lag, 0);
            assert_true(best > (which == 0 ? 15.0 : 5.0));
        }
        free(x);
        free(y);
    }
}

/* ------------------------------------------------------------------ */
/* Hum                                                                  */
/* ------------------------------------------------------------------ */

/* Hum-band energy, dB: the sum over harmonics 1..8 of f0 of the power within
 * +-bw Hz of each (the hum's frequency drifts by `drift` during x). */
static double hum_band_db(const float *x, int64_t n, int rate, double f0, double drift)
{
    double e = 0.0;
    for (int h = 1; h <= 8; h++) {
        double f = h * (f0 + 0.5 * drift), bw = 0.5 * h * fabs(drift) + 1.0;
        e += pow(10.0, tu_band_db(x, n, rate, f, bw) / 10.0);
    }
    return 10.0 * log10(e);
}

/* A hum (50 or 60 Hz, drifting) in noise, and in noise + tones: the target
 * is the hum, and the residual's hum-band energy falls by more than 20 dB
 * (or to what the other sounds have there). */
static void test_hum_removed(void **state)
{
    (void)state;
    static const struct {
        int rate;
        double f0, drift;
        int with_tones;
    } cases[] = {
        { 48000, 50.0, 0.6, 0 },
        { 16000, 60.0, -0.8, 0 },
        { 48000, 50.3, 0.0, 1 },
        { 8000, 59.5, 0.4, 1 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int rate = cases[c].rate;
        const int64_t n = 6 * rate;
        float *hm = alloc_f(n), *x = alloc_f(n), *y = alloc_f(n), *res = alloc_f(n);
        hum(hm, n, rate, cases[c].f0, 8, 0.05, cases[c].drift);
        white_noise(x, n, 0.02, 20 + c);
        if (cases[c].with_tones) {
            tones(y, n, rate);
            for (int64_t i = 0; i < n; i++)
                x[i] += y[i];
        }
        for (int64_t i = 0; i < n; i++)
            x[i] += hm[i];
        run_engine("hum", rate, 1, x, y, n, 4096, 0);
        for (int64_t i = 0; i < n; i++)
            res[i] = x[i] - y[i];
        /* Measured after the first second (the tracker's start). */
        const int64_t a = rate, m = n - rate;
        double tgt = sisdr(hm + a, y + a, m);
        double before = hum_band_db(x + a, m, rate, cases[c].f0 + cases[c].drift / 6.0,
                                    cases[c].drift * 5.0 / 6.0);
        double after = hum_band_db(res + a, m, rate, cases[c].f0 + cases[c].drift / 6.0,
                                   cases[c].drift * 5.0 / 6.0);
        double noise_only = 0.0;
        {
            float *nz = alloc_f(n);
            for (int64_t i = 0; i < n; i++)
                nz[i] = x[i] - hm[i];
            noise_only = hum_band_db(nz + a, m, rate, cases[c].f0 + cases[c].drift / 6.0,
                                     cases[c].drift * 5.0 / 6.0);
            free(nz);
        }
        print_message("hum %.1f Hz (drift %+.1f) at %d Hz%s: target SI-SDR %+.2f dB; hum "
                      "band "
                      "%.1f -> %.1f dB (without hum %.1f)\n",
                      cases[c].f0, cases[c].drift, rate,
                      cases[c].with_tones ? " + tones" : "", tgt, before, after,
                      noise_only);
        if (!cases[c].with_tones) {
            assert_true(tgt > 15.0);
            assert_true(after < before - 20.0);
        } else {
            /* Loud tones 2 bins beside some harmonics: part of them is
             * taken with the hum, and the hum bands cannot fall below what
             * the tones put there, but the hum itself is gone. */
            assert_true(tgt > 0.0);
            assert_true(after < before - 20.0 || after < noise_only + 1.0);
        }
        free(hm);
        free(x);
        free(y);
        free(res);
    }
}

/* No hum: the target is (nearly) silent. */
static void test_hum_absent(void **state)
{
    (void)state;
    const int rate = 16000;
    const int64_t n = 5 * rate;
    float *x = alloc_f(n), *y = alloc_f(n), *t = alloc_f(n);
    white_noise(x, n, 0.05, 31);
    tones(t, n, rate);
    for (int64_t i = 0; i < n; i++)
        x[i] += t[i];
    run_engine("hum", rate, 1, x, y, n, 4096, 0);
    double ex = 0.0, ey = 0.0;
    for (int64_t i = 0; i < n; i++) {
        ex += (double)x[i] * x[i];
        ey += (double)y[i] * y[i];
    }
    print_message("no hum: target %.1f dB below the input\n",
                  10.0 * log10(ex / (ey + 1e-30)));
    assert_true(ey < ex * 1e-3);
    free(x);
    free(y);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Vocals                                                               */
/* ------------------------------------------------------------------ */

/* Stereo: a centre-panned melody (same in both channels) and a hard-panned
 * one (left only) plus a little uncorrelated noise: the target keeps the
 * centre in both channels and little of the rest. */
static void test_vocals_stereo_centre(void **state)
{
    (void)state;
    const int rate = 44100;
    const int64_t n = 4 * rate;
    float *cen = alloc_f(n), *side = alloc_f(n), *nz = alloc_f(2 * n),
          *x = alloc_f(2 * n), *y = alloc_f(2 * n), *l = alloc_f(n), *yl = alloc_f(n),
          *yr = alloc_f(n), *side_l = alloc_f(n);
    tones(cen, n, rate);
    clicks(side, n, rate, 0.13, 3);
    {
        /* The side part: clicks and a tone an octave and a fifth up. */
        for (int64_t i = 0; i < n; i++)
            side[i] += (float)(0.2 * sin(2.0 * PI * 660.0 * (double)i / rate));
    }
    white_noise(nz, 2 * n, 0.005, 4);
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = cen[i] + side[i] + nz[2 * i];
        x[2 * i + 1] = cen[i] + nz[2 * i + 1];
        l[i] = x[2 * i];
        side_l[i] = side[i];
    }
    run_engine("vocals", rate, 2, x, y, n, 777, 0);
    for (int64_t i = 0; i < n; i++) {
        yl[i] = y[2 * i];
        yr[i] = y[2 * i + 1];
    }
    const int64_t a = rate / 2, m = n - a;
    double mix_l = sisdr(cen + a, l + a, m), tl = sisdr(cen + a, yl + a, m);
    double tr = sisdr(cen + a, yr + a, m);
    print_message("stereo vocals: centre SI-SDR left %+.2f dB (mixture %+.2f), right "
                  "%+.2f dB\n",
                  tl, mix_l, tr);
    assert_true(tl > mix_l + 8.0);
    assert_true(tl > 10.0);
    assert_true(tr > 10.0);
    assert_true(sisdr(side_l + a, yl + a, m) < sisdr(side_l + a, l + a, m) - 10.0);
    free(cen);
    free(side);
    free(nz);
    free(x);
    free(y);
    free(l);
    free(yl);
    free(yr);
    free(side_l);
}

/* Mono: a backing that repeats every 0.5 s (a drum-and-bass loop) and a
 * melody that does not: the target moves toward the melody. */
static void test_vocals_mono_repeating(void **state)
{
    (void)state;
    const int rate = 16000;
    const int64_t n = 8 * rate, period = rate / 2;
    float *bg = alloc_f(n), *fg = alloc_f(n), *x = alloc_f(n), *y = alloc_f(n);
    /* One bar of backing, repeated: clicks and a bass note. */
    clicks(bg, period, rate, 0.125, 5);
    for (int64_t i = 0; i < period; i++)
        bg[i] += (float)(0.15 * sin(2.0 * PI * 110.0 * (double)i / rate) +
                         0.08 * sin(2.0 * PI * 330.0 * (double)i / rate));
    for (int64_t i = period; i < n; i++)
        bg[i] = bg[i - period];
    /* The melody: a gliding harmonic tone, one pitch curve for the whole
     * signal, so no two bars are alike. */
    double ph = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double f =
            300.0 + 120.0 * sin(2.0 * PI * 0.37 * t) + 40.0 * sin(2.0 * PI * 1.3 * t);
        ph += 2.0 * PI * f / rate;
        double env = 0.5 + 0.5 * sin(2.0 * PI * 0.8 * t);
        fg[i] = (float)(env * (0.2 * sin(ph) + 0.1 * sin(2 * ph) + 0.05 * sin(3 * ph)));
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = bg[i] + fg[i];
    run_engine("vocals", rate, 1, x, y, n, 1000, 0);
    const int64_t a = 2 * rate, m = n - a; /* after the window has filled */
    double mix = sisdr(fg + a, x + a, m), est = sisdr(fg + a, y + a, m);
    print_message("mono vocals: foreground SI-SDR %+.2f dB (mixture %+.2f)\n", est, mix);
    assert_true(est > mix + 4.0);
    free(bg);
    free(fg);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocabulary),
        cmocka_unit_test(test_prompt_list),
        cmocka_unit_test(test_unknown_prompt_message),
        cmocka_unit_test(test_split_invariance),
        cmocka_unit_test(test_silence_and_extremes),
        cmocka_unit_test(test_music_keeps_tones_drums_keep_clicks),
        cmocka_unit_test(test_latency_alignment),
        cmocka_unit_test(test_hum_removed),
        cmocka_unit_test(test_hum_absent),
        cmocka_unit_test(test_vocals_stereo_centre),
        cmocka_unit_test(test_vocals_mono_repeating),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
