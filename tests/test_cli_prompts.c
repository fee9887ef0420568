/*
 * test_cli_prompts.c - the dsp engine's prompts end to end on real audio:
 * the samsep program is run as a user runs it (fork + exec of the built
 * binary, in temporary folders), and each case checks that the target moved
 * toward the right source.
 *
 *   hum     the bundled speech example plus a generated 50 Hz hum: the
 *           residual's hum-band energy falls by more than 20 dB and the
 *           residual is the example again;
 *   speech  clean speech over 30 Hz rumble bursts: the rumble leaves the
 *           target for the residual, the speech stays;
 *   drums   an excerpt of a real drum kit over real guitar
 *           (tests/data/drums_guitar*.flac): the drums target is nearer the
 *           drums than the mixture is, and its energy sits at the hits;
 *   music   the same excerpt: the target moves toward the guitar, the
 *           residual toward the drums;
 *   vocals  real speech panned to the centre of a stereo file with the
 *           drums-and-guitar excerpt hard left: the target moves toward the
 *           speech in both channels.
 *
 * SAMSEP_BIN and SAMSEP_EXAMPLES are set by ctest.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clitest.h"
#include <sndfile.h>

#include "samsep.h"
#include "sisdr_core.h"
#include "testutil.h"

#define PI 3.14159265358979323846

static const char *bin;
static char example[4096], clean[4096], dg_mix[4096], dg_drums[4096];

/* Hum-band energy: harmonics 1..10 of f0, +-1 Hz each, dB. */
static double hum_band_db(const float *x, int64_t n, int rate, double f0)
{
    double e = 0.0;

    for (int h = 1; h <= 10; h++)
        e += pow(10.0, tu_band_db(x, n, rate, h * f0, 1.0) / 10.0);
    return 10.0 * log10(e);
}

/* Read a whole mono or interleaved file; asserts it is there. */
static float *must_read(const char *path, int64_t *n, int *rate, int *ch)
{
    float *x = tu_read(path, n, rate, ch, NULL);

    if (x == NULL)
        print_message("cannot read %s\n", path);
    assert_non_null(x);
    return x;
}

/*
 * Run `samsep -p prompt` as a user would on x (n frames of `ch` channels at
 * `rate`), written as a float WAV file: input and output in separate
 * temporary folders (samsep refuses an output folder inside an input's),
 * removed afterwards. *target, and *residual unless that is NULL, get the
 * outputs, asserted to have n frames of ch channels.
 */
static void separate(const char *prompt, const float *x, int64_t n, int rate, int ch,
                     float **target, float **residual)
{
    char *dir = tu_mkdtemp(), *in = tu_path(dir, "in.wav");
    char *odir = tu_mkdtemp(), *out = tu_path(odir, "out");
    char *t = tu_path(out, "in_target.wav"), *res = tu_path(out, "in_residual.wav");
    int64_t m;
    int c;
    result r;

    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, ch, x, n), 0);
    RUN(&r, "-p", prompt, "--format", "wav", "--subtype", "float", in, "-o", out);
    assert_int_equal(r.status, 0);
    *target = must_read(t, &m, NULL, &c);
    assert_int_equal(m, n);
    assert_int_equal(c, ch);
    if (residual != NULL) {
        *residual = must_read(res, &m, NULL, &c);
        assert_int_equal(m, n);
        assert_int_equal(c, ch);
    }
    free(t);
    free(res);
    free(in);
    free(out);
    tu_rmtree(dir);
    free(dir);
    tu_rmtree(odir);
    free(odir);
}

static void test_list_prompts(void **state)
{
    result r;
    const char *kw, *words;

    (void)state;
    RUN(&r, "--list-prompts");
    assert_int_equal(r.status, 0);
    for (int i = 0; (kw = samsep_dsp_prompt(i, &words, NULL)) != NULL; i++) {
        assert_non_null(strstr(r.out, kw));
        assert_non_null(strstr(r.out, words));
    }
    RUN(&r, "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--list-prompts"));
    /* An unknown prompt names the words and the engine for free text. */
    RUN(&r, "-p", "a cat meowing", example, "-o", "/tmp/samsep-never-made");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "a cat meowing"));
    assert_non_null(strstr(r.err, "drums"));
    assert_non_null(strstr(r.err, "mains hum"));
    assert_non_null(strstr(r.err, "sam-audio"));
}

/* The speech example with a 50 Hz hum (harmonics 1-7, each 0.02 peak)
 * added: "mains hum" takes the hum and leaves the example. */
static void test_hum_on_speech(void **state)
{
    int64_t n;
    int rate, ch;
    float *x, *hum, *y, *resid;

    (void)state;
    x = must_read(example, &n, &rate, &ch);
    assert_int_equal(ch, 1);
    hum = calloc((size_t)n, sizeof *hum);
    assert_non_null(hum);
    for (int64_t i = 0; i < n; i++) {
        double v = 0.0;

        for (int h = 1; h <= 7; h++)
            v += sin(2.0 * PI * 50.0 * h * (double)i / rate + h) * 0.02;
        hum[i] = (float)v;
        hum[i] += x[i];
    }
    separate("Mains hum", hum, n, rate, 1, &y, &resid);
    /* After the first second (the tracker's start). */
    const int64_t a = rate, m = n - rate;
    double before = hum_band_db(hum + a, m, rate, 50.0);
    double after = hum_band_db(resid + a, m, rate, 50.0);
    double orig = hum_band_db(x + a, m, rate, 50.0);
    double keep = sisdr(x + a, resid + a, m);
    print_message("hum on speech: hum band %.1f -> %.1f dB (example alone %.1f); "
                  "residual vs "
                  "example SI-SDR %+.2f dB (input %+.2f)\n",
                  before, after, orig, keep, sisdr(x + a, hum + a, m));
    assert_true(after < before - 20.0);
    /* The rest of the example stays (less what it has at the hum's own
     * frequencies: its machinery noise has a line near 100 Hz). */
    assert_true(keep > sisdr(x + a, hum + a, m) + 8.0);
    free(x);
    free(hum);
    free(y);
    free(resid);
}

/* Speech over a rumble that comes and goes (a 30 Hz tone in 0.25 s bursts,
 * as loud as the speech): the bursts rise far above any noise estimate, so
 * only the rule that nothing below the lowest voice is speech takes them
 * out of the target; the speech stays. */
static void test_speech_rumble(void **state)
{
    int64_t n;
    int rate, ch;
    float *s, *x, *y, *resid;
    double es = 0.0;

    (void)state;
    s = must_read(clean, &n, &rate, &ch);
    assert_int_equal(ch, 1);
    x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++)
        es += (double)s[i] * s[i];
    /* Bursts on for 0.25 s of every 0.5 s, raised-cosine edges of 20 ms;
     * peak amplitude sqrt(4 * speech power): about the speech's power. */
    const double amp = sqrt(4.0 * es / (double)n), edge = 0.02;
    for (int64_t i = 0; i < n; i++) {
        double tt = fmod((double)i / rate, 0.5), env = 0.0;
        if (tt < 0.25)
            env = tt < edge          ? 0.5 - 0.5 * cos(PI * tt / edge)
                  : tt > 0.25 - edge ? 0.5 - 0.5 * cos(PI * (0.25 - tt) / edge)
                                     : 1.0;
        x[i] = s[i] + (float)(amp * env * sin(2.0 * PI * 30.0 * (double)i / rate));
    }
    separate("speech", x, n, rate, 1, &y, &resid);
    double mix = tu_band_db(x, n, rate, 30.0, 1.0),
           tgt = tu_band_db(y, n, rate, 30.0, 1.0);
    double rest = tu_band_db(resid, n, rate, 30.0, 1.0);
    double keep = sisdr(s, y, n);
    print_message("speech over rumble: 30 Hz band %.1f -> target %.1f, residual %.1f dB; "
                  "target vs "
                  "speech SI-SDR %+.2f dB (input %+.2f)\n",
                  mix, tgt, rest, keep, sisdr(s, x, n));
    assert_true(tgt < mix - 30.0);
    assert_true(fabs(rest - mix) < 0.5);
    assert_true(keep > 15.0);
    free(s);
    free(x);
    free(y);
    free(resid);
}

/* Energy, dB, of x within +-w samples of each hit and elsewhere. */
static void hit_energy(const float *x, int64_t n, const char *is_hit, double *at_hits,
                       double *between)
{
    double e1 = 1e-20, e0 = 1e-20;
    int64_t n1 = 0, n0 = 0;

    for (int64_t i = 0; i < n; i++) {
        if (is_hit[i]) {
            e1 += (double)x[i] * x[i];
            n1++;
        } else {
            e0 += (double)x[i] * x[i];
            n0++;
        }
    }
    *at_hits = 10.0 * log10(e1 / (double)(n1 > 0 ? n1 : 1));
    *between = 10.0 * log10(e0 / (double)(n0 > 0 ? n0 : 1));
}

/* Real drums over real guitar: "drums" and "music" move their targets
 * toward the right part, and the drums target's energy is at the hits. */
static void test_drums_and_music(void **state)
{
    char *dir = tu_mkdtemp(), *od = tu_path(dir, "drums"), *om = tu_path(dir, "music");
    char *dt = tu_path(od, "drums_guitar_target.wav"),
         *mt = tu_path(om, "drums_guitar_target.wav");
    char *mr = tu_path(om, "drums_guitar_residual.wav");
    int64_t n, nd, n1, n2, n3;
    int rate;
    float *x, *drums, *tonal, *ydr, *ymu, *rmu;
    char *is_hit;
    result r;

    (void)state;
    x = must_read(dg_mix, &n, &rate, NULL);
    drums = must_read(dg_drums, &nd, NULL, NULL);
    assert_int_equal(nd, n);
    tonal = malloc((size_t)n * sizeof *tonal);
    is_hit = calloc((size_t)n, 1);
    assert_true(tonal != NULL && is_hit != NULL);
    for (int64_t i = 0; i < n; i++)
        tonal[i] = x[i] - drums[i];
    RUN(&r, "-p", "the drums", "--format", "wav", "--subtype", "float", dg_mix, "-o", od);
    assert_int_equal(r.status, 0);
    RUN(&r, "-p", "Music", "--format", "wav", "--subtype", "float", dg_mix, "-o", om);
    assert_int_equal(r.status, 0);
    ydr = must_read(dt, &n1, NULL, NULL);
    ymu = must_read(mt, &n2, NULL, NULL);
    rmu = must_read(mr, &n3, NULL, NULL);
    assert_true(n1 == n && n2 == n && n3 == n);

    double d_mix = sisdr(drums, x, n), d_est = sisdr(drums, ydr, n);
    double t_mix = sisdr(tonal, x, n), t_est = sisdr(tonal, ymu, n);
    double r_est = sisdr(drums, rmu, n);
    print_message("drums: target vs drums %+.2f dB (mixture %+.2f)\n", d_est, d_mix);
    print_message("music: target vs guitar %+.2f dB (mixture %+.2f); residual vs drums "
                  "%+.2f dB\n",
                  t_est, t_mix, r_est);
    assert_true(d_est > d_mix + 5.0);
    assert_true(t_est > t_mix + 5.0);
    assert_true(r_est > d_mix + 3.0);

    /* Percussive onsets dominate the drums target: mark 60 ms after each
     * onset of the drum reference (a jump of its 5 ms envelope), and
     * compare energies at and between the hits against the mixture's. */
    const int64_t w5 = rate / 200, w60 = rate * 6 / 100;
    double prev = 0.0;
    int hits = 0;
    for (int64_t b = 0; b + w5 <= n; b += w5) {
        double e = 0.0;
        for (int64_t i = b; i < b + w5; i++)
            e += (double)drums[i] * drums[i];
        e /= (double)w5;
        if (e > 1e-4 && e > 8.0 * prev) {
            for (int64_t i = b; i < b + w60 && i < n; i++)
                is_hit[i] = 1;
            hits++;
        }
        prev = e;
    }
    double xh, xb, yh, yb;
    hit_energy(x, n, is_hit, &xh, &xb);
    hit_energy(ydr, n, is_hit, &yh, &yb);
    print_message("drums: %d hits; at/between hits: mixture %.1f/%.1f dB, target "
                  "%.1f/%.1f dB\n",
                  hits, xh, xb, yh, yb);
    assert_true(hits >= 4);
    assert_true(yh - yb > xh - xb + 6.0);

    free(x);
    free(drums);
    free(tonal);
    free(is_hit);
    free(ydr);
    free(ymu);
    free(rmu);
    free(dt);
    free(mt);
    free(mr);
    free(od);
    free(om);
    tu_rmtree(dir);
    free(dir);
}

/* Real speech in the centre of a stereo file, the drums-and-guitar
 * excerpt hard left and a little independent noise in each channel:
 * "vocals" moves the target toward the speech in both channels. */
static void test_vocals_stereo(void **state)
{
    int64_t nv, nb, n;
    int rate;
    float *voice, *band, *x, *y, *noise;

    (void)state;
    voice = must_read(clean, &nv, &rate, NULL);
    band = must_read(dg_mix, &nb, NULL, NULL);
    n = nb < nv - rate ? nb : nv - rate;
    x = malloc((size_t)(2 * n) * sizeof *x);
    noise = malloc((size_t)(2 * n) * sizeof *noise);
    assert_true(x != NULL && noise != NULL);
    tu_noise(noise, 2 * n, 0.003f, 17);
    /* Speech from its second second on (it opens with silence). */
    const float *v = voice + rate;
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = v[i] + band[i] + noise[2 * i];
        x[2 * i + 1] = v[i] + noise[2 * i + 1];
    }
    separate("lead vocals", x, n, rate, 2, &y, NULL);
    /* Left channel and mid (L + R) / 2, target against mixture. */
    float *xl = malloc((size_t)n * sizeof *xl), *yl = malloc((size_t)n * sizeof *yl);
    float *xm = malloc((size_t)n * sizeof *xm), *ym = malloc((size_t)n * sizeof *ym);
    assert_true(xl != NULL && yl != NULL && xm != NULL && ym != NULL);
    for (int64_t i = 0; i < n; i++) {
        xl[i] = x[2 * i];
        yl[i] = y[2 * i];
        xm[i] = 0.5f * (x[2 * i] + x[2 * i + 1]);
        ym[i] = 0.5f * (y[2 * i] + y[2 * i + 1]);
    }
    double l_mix = sisdr(v, xl, n), l_est = sisdr(v, yl, n);
    double m_mix = sisdr(v, xm, n), m_est = sisdr(v, ym, n);
    print_message("vocals: target vs speech, left %+.2f dB (mixture %+.2f), mid %+.2f dB "
                  "(mixture %+.2f)\n",
                  l_est, l_mix, m_est, m_mix);
    assert_true(l_est > l_mix + 8.0);
    assert_true(m_est > m_mix + 4.0);
    free(xl);
    free(yl);
    free(xm);
    free(ym);
    free(voice);
    free(band);
    free(x);
    free(y);
    free(noise);
}

/* Every spectral prompt through the CLI on the speech example (mono): it
 * runs and the outputs sum to the input (the residual is mixture - target). */
static void test_outputs_sum(void **state)
{
    static const char *const prompts[] = { "vocals", "drums", "hum", "music" };
    int64_t n;
    int rate;
    float *x = must_read(example, &n, &rate, NULL);

    (void)state;
    for (size_t p = 0; p < sizeof prompts / sizeof prompts[0]; p++) {
        float *y, *z;
        double worst = 0.0;

        separate(prompts[p], x, n, rate, 1, &y, &z);
        for (int64_t i = 0; i < n; i++)
            if (fabs((double)y[i] + z[i] - x[i]) > worst)
                worst = fabs((double)y[i] + z[i] - x[i]);
        assert_true(worst < 1e-5);
        free(y);
        free(z);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_prompts),  cmocka_unit_test(test_hum_on_speech),
        cmocka_unit_test(test_speech_rumble), cmocka_unit_test(test_drums_and_music),
        cmocka_unit_test(test_vocals_stereo), cmocka_unit_test(test_outputs_sum),
    };
    const char *examples;

    bin = getenv("SAMSEP_BIN");
    examples = getenv("SAMSEP_EXAMPLES");
    if (bin == NULL || examples == NULL) {
        fprintf(stderr, "test_cli_prompts: SAMSEP_BIN and SAMSEP_EXAMPLES must be set\n");
        return 1;
    }
    snprintf(example, sizeof example, "%s/speech_in_noise.flac", examples);
    snprintf(clean, sizeof clean, "%s/../tests/data/speech_in_noise.clean.flac",
             examples);
    snprintf(dg_mix, sizeof dg_mix, "%s/../tests/data/drums_guitar.flac", examples);
    snprintf(dg_drums, sizeof dg_drums, "%s/../tests/data/drums_guitar.drums.flac",
             examples);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
