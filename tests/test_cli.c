/*
 * test_cli.c - the samsep program end to end: it is run as a user runs it
 * (fork + exec of the built binary, in temporary folders), and each case
 * asserts on its exit status, its messages and the files it left on disk.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clitest.h"
#include <sndfile.h>

#include "samsep.h"
#include "sisdr_core.h"
#include "testutil.h"

static const char *bin;
static const char *examples;
static char example[4096], clean[4096];

static double energy_db(const float *x, int64_t from, int64_t to)
{
    double e = 1e-20;
    int64_t i;

    for (i = from; i < to; i++)
        e += (double)x[i] * x[i];
    return 10 * log10(e / (double)(to - from));
}

static void test_version_help_usage(void **state)
{
    result r;

    (void)state;
    RUN(&r, "--version");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "samsep " SAMSEP_VERSION_STRING));
    RUN(&r, "--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Usage: samsep"));
    assert_non_null(strstr(r.out, "--overlap"));
    RUN(&r, "-o", "/tmp");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "no inputs"));
    RUN(&r, example);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "-o DIR"));
    RUN(&r, "--bogus", example, "-o", "/tmp");
    assert_int_equal(r.status, 2);
    RUN(&r, "--list-engines");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "dsp"));
}

static void test_usage_errors_write_nothing(void **state)
{
    char *dir = tu_mkdtemp(), *out = tu_path(dir, "out");
    result r;

    (void)state;
    RUN(&r, "-e", "nope", example, "-o", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "unknown engine \"nope\""));
    assert_non_null(strstr(r.err, "dsp"));
    RUN(&r, "-p", "dog barking", example, "-o", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "dog barking"));
    assert_non_null(strstr(r.err, "sam-audio"));
    RUN(&r, "--chunk", "2", "--overlap", "2", example, "-o", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "shorter"));
    RUN(&r, "--chunk", "0", example, "-o", out);
    assert_int_equal(r.status, 2);
    RUN(&r, "--chunk", "abc", example, "-o", out);
    assert_int_equal(r.status, 2);
    RUN(&r, "--format", "mp3", example, "-o", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "wav flac"));
    RUN(&r, "--subtype", "pcm8", example, "-o", out);
    assert_int_equal(r.status, 2);
    assert_false(tu_file_exists(out)); /* refused before anything was made */
    tu_rmtree(dir);
    free(out);
    free(dir);
}

/* The README's example: default engine on the bundled recording. */
static void test_example_speech(void **state)
{
    char *dir = tu_mkdtemp();
    char *t = tu_path(dir, "speech_in_noise_target.flac");
    char *res = tu_path(dir, "speech_in_noise_residual.flac");
    int64_t nm, nt, nr, nc, i;
    float *mix, *tgt, *resid, *ref;
    int rate, ch, fmt;
    double worst = 0, imp;
    result r;

    (void)state;
    RUN(&r, example, "-o", dir);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "speech_in_noise_target.flac"));
    assert_int_equal(tu_count_entries(dir), 2);
    mix = tu_read(example, &nm, NULL, NULL, NULL);
    tgt = tu_read(t, &nt, &rate, &ch, &fmt);
    resid = tu_read(res, &nr, NULL, NULL, NULL);
    ref = tu_read(clean, &nc, NULL, NULL, NULL);
    assert_non_null(mix);
    assert_non_null(tgt);
    assert_non_null(resid);
    assert_non_null(ref);
    /* same length, rate, channels and format as the input */
    assert_int_equal(nt, nm);
    assert_int_equal(nr, nm);
    assert_int_equal(nc, nm);
    assert_int_equal(rate, 48000);
    assert_int_equal(ch, 1);
    assert_int_equal(fmt, SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
    /* the two outputs sum to the mixture (24-bit rounding of each) */
    for (i = 0; i < nm; i++)
        if (fabs((double)tgt[i] + resid[i] - mix[i]) > worst)
            worst = fabs((double)tgt[i] + resid[i] - mix[i]);
    assert_true(worst < 1e-6);
    /* the target moved toward the clean speech */
    imp = sisdr(ref, tgt, nm) - sisdr(ref, mix, nm);
    print_message("example: SI-SDR improvement %.2f dB\n", imp);
    assert_true(imp > 1.0);
    /* the noise-only lead-in (first 0.5 s) is much quieter in the target */
    assert_true(energy_db(tgt, 0, 24000) < energy_db(mix, 0, 24000) - 6.0);
    free(mix);
    free(tgt);
    free(resid);
    free(ref);
    free(t);
    free(res);
    tu_rmtree(dir);
    free(dir);
}

/*
 * Speech that is already clean, or nearly: the example's clean speech alone
 * and with uniform white noise 20 and 30 dB below it, through the CLI in
 * one batch. The enhancer must not take the speech itself for noise: the
 * targets stay close to the speech (about 22.4, 24.4 and 25.7 dB SI-SDR; a
 * speech-free decision that let unvoiced speech into the noise estimate
 * scored 20.5, 15.7 and 23.6).
 */
static void test_clean_speech_kept(void **state)
{
    static const int snrs[] = { 0, 20, 30 }; /* 0: no noise */
    static const double min_sisdr[] = { 21.0, 22.0, 24.5 };
    char *in = tu_mkdtemp(), *out = tu_mkdtemp();
    int64_t n, m, i;
    float *ref, *x, *v, *tgt;
    double es = 0.0, ev = 0.0;
    char name[64];
    result r;

    (void)state;
    ref = tu_read(clean, &n, NULL, NULL, NULL);
    assert_non_null(ref);
    x = malloc((size_t)n * sizeof *x);
    v = malloc((size_t)n * sizeof *v);
    assert_true(x && v);
    tu_noise(v, n, 1.0f, 91);
    for (i = 0; i < n; i++) {
        es += (double)ref[i] * ref[i];
        ev += (double)v[i] * v[i];
    }
    for (int k = 0; k < 3; k++) {
        double g = snrs[k] > 0 ? sqrt(es / ev / pow(10.0, snrs[k] / 10.0)) : 0.0;
        for (i = 0; i < n; i++)
            x[i] = ref[i] + (float)(g * v[i]);
        snprintf(name, sizeof name, "clean_%d.wav", snrs[k]);
        char *p = tu_path(in, name);
        assert_int_equal(tu_write(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x, n), 0);
        free(p);
    }
    RUN(&r, "-q", in, "-o", out);
    assert_int_equal(r.status, 0);
    for (int k = 0; k < 3; k++) {
        snprintf(name, sizeof name, "clean_%d_target.wav", snrs[k]);
        char *p = tu_path(out, name);
        tgt = tu_read(p, &m, NULL, NULL, NULL);
        assert_non_null(tgt);
        assert_int_equal(m, n);
        double si = sisdr(ref, tgt, n);
        print_message("%s: SI-SDR %.1f dB against the clean speech\n", name, si);
        assert_true(si > min_sisdr[k]);
        free(tgt);
        free(p);
    }
    free(ref);
    free(x);
    free(v);
    tu_rmtree(in);
    tu_rmtree(out);
    free(in);
    free(out);
}

/*
 * Noise that drops by 20 dB under running speech (white, the speech 5 dB
 * below it for 3 s): the noise estimate is too high until it catches up,
 * so every frame looks quiet against it. Voiced frames must still not be
 * taken for noise, or the speech itself is averaged into the estimate and
 * removed. Scored over the 2 s after the drop.
 */
static void test_noise_drop(void **state)
{
    char *in = tu_mkdtemp(), *out = tu_mkdtemp();
    char *p = tu_path(in, "drop.wav"), *t = tu_path(out, "drop_target.wav");
    int64_t n, m, i;
    float *ref, *x, *tgt;
    double es = 0.0, ev = 0.0;
    result r;

    (void)state;
    ref = tu_read(clean, &n, NULL, NULL, NULL);
    assert_non_null(ref);
    assert_true(n > 5 * 48000);
    x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    tu_noise(x, n, 1.0f, 17);
    for (i = 0; i < n; i++) {
        es += (double)ref[i] * ref[i];
        ev += (double)x[i] * x[i];
    }
    const double g = sqrt(es / ev * pow(10.0, 5.0 / 10.0));
    const int64_t drop = 3 * 48000, span = 2 * 48000;
    for (i = 0; i < n; i++)
        x[i] = ref[i] + (float)(g * (i < drop ? 1.0 : 0.1) * x[i]);
    assert_int_equal(tu_write(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x, n), 0);
    RUN(&r, "-q", in, "-o", out);
    assert_int_equal(r.status, 0);
    tgt = tu_read(t, &m, NULL, NULL, NULL);
    assert_non_null(tgt);
    assert_int_equal(m, n);
    double si = sisdr(ref + drop, tgt + drop, span);
    print_message("after a 20 dB noise drop: SI-SDR %.1f dB against the clean speech "
                  "(mixture %.1f)\n",
                  si, sisdr(ref + drop, x + drop, span));
    assert_true(si > 10.0);
    free(ref);
    free(x);
    free(tgt);
    tu_rmtree(in);
    tu_rmtree(out);
    free(p);
    free(t);
    free(in);
    free(out);
}

/* -p noise swaps the two outputs. */
static void test_prompt_noise_swaps(void **state)
{
    char *a = tu_mkdtemp(), *b = tu_mkdtemp();
    char *ta = tu_path(a, "speech_in_noise_target.wav");
    char *rb = tu_path(b, "speech_in_noise_residual.wav");
    int64_t n1, n2, i;
    float *x, *y;
    result r;

    (void)state;
    RUN(&r, "-p", "speech", "--format", "wav", "--subtype", "float", example, "-o", a);
    assert_int_equal(r.status, 0);
    RUN(&r, "-p", "noise", "--format", "wav", "--subtype", "float", example, "-o", b);
    assert_int_equal(r.status, 0);
    x = tu_read(ta, &n1, NULL, NULL, NULL);
    y = tu_read(rb, &n2, NULL, NULL, NULL);
    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(n1, n2);
    for (i = 0; i < n1; i++)
        assert_true(fabsf(x[i] - y[i]) < 1e-5f);
    free(x);
    free(y);
    free(ta);
    free(rb);
    tu_rmtree(a);
    tu_rmtree(b);
    free(a);
    free(b);
}

/* One bad input is one failure: the batch goes on, exit status 1. */
static void test_bad_input_batch_goes_on(void **state)
{
    char *dir = tu_mkdtemp(), *outroot = tu_mkdtemp(), *out = tu_path(outroot, "out");
    char *bad = tu_path(dir, "broken.wav"), *empty = tu_path(dir, "empty.wav");
    char *good = tu_path(dir, "tone.wav"), *missing = tu_path(dir, "missing.flac");
    char *gt = tu_path(out, "tone_target.wav");
    float x[16000];
    FILE *f;
    result r;
    int i;

    (void)state;
    for (i = 0; i < 16000; i++)
        x[i] = 0.3f * sinf((float)i * 0.05f);
    assert_int_equal(tu_write(good, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, x, 16000),
                     0);
    assert_int_equal(tu_write(empty, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, x, 0),
                     0);
    f = fopen(bad, "w");
    assert_non_null(f);
    fputs("RIFF....WAVEjunk", f);
    fclose(f);
    RUN(&r, bad, empty, missing, good, "-o", out);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, bad));
    assert_non_null(strstr(r.err, empty));
    assert_non_null(strstr(r.err, "no audio frames"));
    assert_non_null(strstr(r.err, missing));
    assert_non_null(strstr(r.err, "3 input(s) failed, 1 done"));
    assert_true(tu_file_exists(gt));
    assert_int_equal(tu_count_entries(out), 2); /* the good file's outputs only */
    free(gt);
    free(good);
    free(bad);
    free(empty);
    free(missing);
    free(out);
    tu_rmtree(dir);
    tu_rmtree(outroot);
    free(dir);
    free(outroot);
}

/* Formats asked for; two inputs that would share output names both get
 * their source extension in the names. */
static void test_formats_and_name_clash(void **state)
{
    char *dir = tu_mkdtemp(), *outroot = tu_mkdtemp(), *out = tu_path(outroot, "out");
    char *aw = tu_path(dir, "a.wav"), *af = tu_path(dir, "a.flac");
    char *tw = tu_path(out, "a.wav_target.flac"),
         *tf = tu_path(out, "a.flac_target.flac");
    float x[8000];
    int64_t n;
    int fmt;
    float *y;
    result r;

    (void)state;
    tu_noise(x, 8000, 0.3f, 5);
    assert_int_equal(tu_write(aw, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 8000), 0);
    assert_int_equal(tu_write(af, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, x, 8000),
                     0);
    RUN(&r, "--format", "flac", "--subtype", "pcm16", aw, af, "-o", out);
    assert_int_equal(r.status, 0);
    y = tu_read(tw, &n, NULL, NULL, &fmt);
    assert_non_null(y);
    assert_int_equal(n, 8000);
    assert_int_equal(fmt, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    free(y);
    assert_true(tu_file_exists(tf));
    assert_int_equal(tu_count_entries(out), 4);
    RUN(&r, "--format", "flac", "--subtype", "float", aw, "-o", out);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "FLAC cannot store float"));
    free(tw);
    free(tf);
    free(aw);
    free(af);
    free(out);
    tu_rmtree(dir);
    tu_rmtree(outroot);
    free(dir);
    free(outroot);
}

/* Every numeric or enumerated flag with a value out of range, badly
 * written or of the wrong kind: exit 2 at start with a message naming the
 * flag and the value, nothing on stdout, no output folder. */
static const struct bad_value {
    const char *args[4];
    const char *want[3]; /* in the message, besides "samsep: " */
} bad_values[] = {
    { { "--chunk", "1e12" }, { "--chunk", "\"1e12\"", "3600" } },
    { { "--chunk", "3600.5" }, { "--chunk", "\"3600.5\"" } },
    { { "--chunk", "0" }, { "--chunk", "\"0\"" } },
    { { "--chunk", "0.0009" }, { "--chunk", "\"0.0009\"" } },
    { { "--chunk", "-1" }, { "--chunk", "\"-1\"" } },
    { { "--chunk", "nan" }, { "--chunk", "\"nan\"" } },
    { { "--chunk", "inf" }, { "--chunk", "\"inf\"" } },
    { { "--chunk", "abc" }, { "--chunk", "\"abc\"" } },
    { { "--chunk", "5s" }, { "--chunk", "\"5s\"" } },
    { { "--chunk", " 5" }, { "--chunk", "\" 5\"" } },
    { { "--chunk", "0x10" }, { "--chunk", "\"0x10\"" } },
    { { "--chunk", "" }, { "--chunk", "\"\"" } },
    { { "--overlap", "-1" }, { "--overlap", "\"-1\"" } },
    { { "--overlap", "1e12" }, { "--overlap", "\"1e12\"" } },
    { { "--overlap", "NaN" }, { "--overlap", "\"NaN\"" } },
    { { "--overlap", "2,5" }, { "--overlap", "\"2,5\"" } },
    /* as long as the chunk: given, or the default one */
    { { "--chunk", "2", "--overlap", "2" },
      { "--overlap (2 s)", "--chunk (2 s)", "shorter" } },
    { { "--chunk", "10", "--overlap", "9.9995" },
      { "--overlap (9.9995 s)", "--chunk (10 s)" } },
    { { "--overlap", "30" }, { "--overlap (30 s)", "default chunk (30 s)" } },
    { { "--threads", "1.5" }, { "--threads", "\"1.5\"", "whole number" } },
    { { "--threads", "-1" }, { "--threads", "\"-1\"" } },
    { { "--threads", "1025" }, { "--threads", "\"1025\"", "1024" } },
    { { "--threads", "99999999999999999999" },
      { "--threads", "\"99999999999999999999\"" } },
    { { "--threads", "4x" }, { "--threads", "\"4x\"" } },
    { { "--threads", "1e3" }, { "--threads", "\"1e3\"" } },
    { { "--max-files", "-1" }, { "--max-files", "\"-1\"" } },
    { { "--max-files", "1.5" }, { "--max-files", "\"1.5\"" } },
    { { "--max-files", "1000000001" }, { "--max-files", "\"1000000001\"" } },
    { { "--max-files", "ten" }, { "--max-files", "\"ten\"" } },
    { { "--seed", "-1" }, { "--seed", "\"-1\"" } },
    { { "--seed", "1.5" }, { "--seed", "\"1.5\"" } },
    { { "--seed", "18446744073709551616" }, { "--seed", "\"18446744073709551616\"" } },
    { { "--seed", " 1" }, { "--seed", "\" 1\"" } },
    { { "--seed", "0x1" }, { "--seed", "\"0x1\"" } },
    { { "--shard", "0/3" }, { "--shard", "\"0/3\"" } },
    { { "--shard", "4/3" }, { "--shard", "\"4/3\"" } },
    { { "--shard", "1/0" }, { "--shard", "\"1/0\"" } },
    { { "--shard", "1/3x" }, { "--shard", "\"1/3x\"" } },
    { { "--shard", "a/3" }, { "--shard", "\"a/3\"" } },
    { { "--shard", "1/" }, { "--shard", "\"1/\"" } },
    { { "--shard", "/3" }, { "--shard", "\"/3\"" } },
    { { "--shard", "-1/3" }, { "--shard", "\"-1/3\"" } },
    { { "--shard", "1/ 3" }, { "--shard", "\"1/ 3\"" } },
    { { "--shard", "1/1000001" }, { "--shard", "\"1/1000001\"" } },
    { { "--shard", "99999999999999999999/3" },
      { "--shard", "\"99999999999999999999/3\"" } },
    { { "--format", "mp3" }, { "--format", "\"mp3\"", "wav flac" } },
    { { "--format", "WAV" }, { "--format", "\"WAV\"" } },
    { { "--format", "" }, { "--format", "\"\"" } },
    { { "--subtype", "pcm8" }, { "--subtype", "\"pcm8\"", "pcm16 pcm24 float" } },
    { { "--subtype", "float32" }, { "--subtype", "\"float32\"" } },
    { { "--residual", "both" }, { "--residual", "\"both\"", "model subtract" } },
};

/* The edges of each range are accepted. */
static const char *const good_values[][4] = {
    { "--chunk", "3600" },
    { "--chunk", "0.001", "--overlap", "0" },
    { "--chunk", "10", "--overlap", "9.999" },
    { "--overlap", "29.999" },
    { "--threads", "0" },
    { "--threads", "1024" },
    { "--max-files", "0", "--yes" },
    { "--max-files", "1000000000" },
    { "--seed", "18446744073709551615" },
    { "--shard", "1000000/1000000" },
    { "--residual", "subtract" },
};

static void run_with(result *r, int dry_run, const char *const *extra, const char *in,
                     const char *out)
{
    const char *args[12];
    int n = 0, i;

    if (dry_run)
        args[n++] = "--dry-run";
    for (i = 0; i < 4 && extra[i] != NULL; i++)
        args[n++] = extra[i];
    args[n++] = in;
    args[n++] = "-o";
    args[n++] = out;
    args[n] = NULL;
    run_program(r, bin, args);
}

static void test_values_out_of_range(void **state)
{
    char *dir = tu_mkdtemp(), *out = tu_path(dir, "out");
    result r;
    size_t i, k;

    (void)state;
    for (i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        const struct bad_value *c = &bad_values[i];

        /* not a dry run: the refusal comes before anything is made */
        run_with(&r, 0, c->args, example, out);
        print_message("    %s '%s' %s %s -> %d: %s", c->args[0], c->args[1],
                      c->args[2] != NULL ? c->args[2] : "",
                      c->args[3] != NULL ? c->args[3] : "", r.status, r.err);
        assert_int_equal(r.status, 2);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "samsep: "));
        for (k = 0; k < 3 && c->want[k] != NULL; k++)
            if (strstr(r.err, c->want[k]) == NULL)
                fail_msg("%s %s: the message does not say %s: %s", c->args[0], c->args[1],
                         c->want[k], r.err);
        assert_false(tu_file_exists(out));
    }
    RUN(&r, example, "-o", "");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "output folder (-o, or \"output\" in the config) is an "
                                  "empty name"));
    for (i = 0; i < sizeof good_values / sizeof good_values[0]; i++) {
        run_with(&r, 1, good_values[i], example, out);
        if (r.status != 0)
            fail_msg("%s %s refused: %s", good_values[i][0], good_values[i][1], r.err);
        assert_false(tu_file_exists(out));
    }
    tu_rmtree(dir);
    free(out);
    free(dir);
}

/* A float input beyond full scale written as 16-bit: the clamped samples
 * are counted and the user is told once per file, not once by the library
 * and again by the program. */
static void test_clamp_warned_once(void **state)
{
    char *dir = tu_mkdtemp(), *outroot = tu_mkdtemp(), *out = tu_path(outroot, "out");
    char *a = tu_path(dir, "loud_a.wav"), *b = tu_path(dir, "loud_b.wav");
    char *out2 = tu_path(outroot, "out2");
    float x[16000];
    const char *p;
    result r;
    int i, n;

    (void)state;
    for (i = 0; i < 16000; i++)
        x[i] = 1.8f * sinf((float)i * 0.05f) + 0.2f * sinf((float)i * 1.3f);
    assert_int_equal(tu_write(a, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 16000), 0);
    assert_int_equal(tu_write(b, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 16000), 0);
    RUN(&r, "--subtype", "pcm16", a, b, "-o", out);
    assert_int_equal(r.status, 0);
    n = 0;
    for (p = r.out; (p = strstr(p, "clamped")) != NULL; p++)
        n++;
    for (p = r.err; (p = strstr(p, "clamped")) != NULL; p++)
        n++;
    print_message("    stdout: %s    stderr: %s", r.out, r.err);
    assert_int_equal(n, 2); /* one line per file */
    assert_non_null(strstr(r.out, "samples clamped"));
    /* --json: the count is in the done event, and nothing on stderr */
    RUN(&r, "--json", "--subtype", "pcm16", a, "-o", out2);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"clipped\":"));
    assert_null(strstr(r.out, "\"clipped\":0"));
    assert_null(strstr(r.err, "clamped"));
    free(a);
    free(b);
    free(out);
    free(out2);
    tu_rmtree(dir);
    tu_rmtree(outroot);
    free(dir);
    free(outroot);
}

/* A model folder whose checkpoint has no codec: the message names the file
 * and the missing tensor, and says "codec" once. */
static void test_broken_model_message(void **state)
{
    static const char header[] =
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    char *dir = tu_mkdtemp(), *model = tu_path(dir, "model"), *out = tu_path(dir, "out");
    static const char *const t5_files[][2] = {
        { "config.json", "{\"d_model\": 8, \"d_kv\": 4, \"num_heads\": 2, \"d_ff\": 16, "
                         "\"num_layers\": 1}\n" },
        { "model.safetensors", "not read: the checkpoint fails first\n" },
        { "spiece.model", "not read either\n" },
    };
    char *cfg, *ckpt, *t5 = tu_path(model, "t5");
    unsigned char len[8] = { 0 };
    FILE *f;
    result r;
    size_t i;

    (void)state;
    assert_int_equal(mkdir(model, 0777), 0);
    /* a folder that passes the checks made before loading: a config this
     * code runs, and every file there */
    assert_int_equal(mkdir(t5, 0777), 0);
    for (i = 0; i < sizeof t5_files / sizeof t5_files[0]; i++) {
        char *p = tu_path(t5, t5_files[i][0]);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(t5_files[i][1], f);
        fclose(f);
        free(p);
    }
    cfg = tu_path(model, "config.json");
    ckpt = tu_path(model, "checkpoint.safetensors");
    f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("{\"transformer\": {}, \"audio_codec\": {}, \"text_encoder\": {}, "
          "\"vision_encoder\": {}}\n",
          f);
    fclose(f);
    f = fopen(ckpt, "wb");
    assert_non_null(f);
    len[0] = (unsigned char)(sizeof header - 1);
    fwrite(len, 1, 8, f);
    fwrite(header, 1, sizeof header - 1, f);
    fwrite("\0\0\0\0", 1, 4, f);
    fclose(f);
    RUN(&r, "-e", "sam-audio", "--model", model, "-p", "dog barking", example, "-o", out);
    print_message("    %s", r.err);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, ckpt));
    assert_non_null(strstr(r.err, ": codec: tensor audio_codec."));
    assert_null(strstr(r.err, "codec: codec:"));
    assert_false(tu_file_exists(out));
    free(cfg);
    free(ckpt);
    free(t5);
    free(model);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_help_usage),
        cmocka_unit_test(test_usage_errors_write_nothing),
        cmocka_unit_test(test_example_speech),
        cmocka_unit_test(test_clean_speech_kept),
        cmocka_unit_test(test_noise_drop),
        cmocka_unit_test(test_prompt_noise_swaps),
        cmocka_unit_test(test_bad_input_batch_goes_on),
        cmocka_unit_test(test_formats_and_name_clash),
        cmocka_unit_test(test_values_out_of_range),
        cmocka_unit_test(test_clamp_warned_once),
        cmocka_unit_test(test_broken_model_message),
    };

    bin = getenv("SAMSEP_BIN");
    examples = getenv("SAMSEP_EXAMPLES");
    if (bin == NULL || examples == NULL) {
        fprintf(stderr, "test_cli: SAMSEP_BIN and SAMSEP_EXAMPLES must be set\n");
        return 1;
    }
    snprintf(example, sizeof example, "%s/speech_in_noise.flac", examples);
    snprintf(clean, sizeof clean, "%s/../tests/data/speech_in_noise.clean.flac",
             examples);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
