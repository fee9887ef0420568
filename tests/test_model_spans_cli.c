/*
 * test_model_spans_cli.c - span prompts through the samsep program, on the
 * tiny reference model laid out as users download it, and the input of the
 * official span case anchors/a1_dog_positive (3.3 s, shorter than one
 * chunk).
 *
 * A file shorter than one chunk gets exactly what the official processor
 * makes of its spans: samsep's target equals what `samsep-model separate`
 * writes with the same spans and seed (whose spans match the official
 * implementation, test_model_anchors.c), and differs from the run without
 * them. Spans are part of what makes outputs current: outputs made without
 * them are made again when spans are given. Over several chunks (1 s, a
 * span across a chunk boundary, overlapping spans) the run completes with
 * outputs of the input's length, and its first chunk, which no other
 * overlaps yet, is that chunk alone separated with the spans cut to it.
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
#include <sndfile.h>

#include "modeltest.h"
#include "testutil.h"

static const char *ref, *model_bin;
static char bin[4096];

/* Run argv (NULL-terminated, argv[0] the program) with stdout and stdin on
 * /dev/null, stderr into errbuf; returns the exit status. */
static int run(char *errbuf, size_t errlen, const char *const *argv)
{
    char errp[] = "/tmp/samsep-spancli-XXXXXX";
    int fe = mkstemp(errp), st;
    pid_t pid;

    assert_true(fe >= 0);
    pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);

        dup2(nul, 0);
        dup2(nul, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    lseek(fe, 0, SEEK_SET);
    {
        ssize_t n = read(fe, errbuf, errlen - 1);

        errbuf[n > 0 ? n : 0] = '\0';
    }
    close(fe);
    unlink(errp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define RUN(err, ...)                                   \
    ({                                                  \
        const char *const a_[] = { __VA_ARGS__, NULL }; \
        run((err), sizeof(err), a_);                    \
    })

static float *read_wav(const char *dir, const char *name, int64_t *n)
{
    char *p = tu_path(dir, name);
    float *x = tu_read(p, n, NULL, NULL, NULL);

    assert_non_null(x);
    free(p);
    return x;
}

/* samsep-model separate's target for `in` with up to two spans (NULL: none). */
static float *model_target(const char *model, const char *in, const char *root,
                           const char *s1, const char *s2, int64_t *n)
{
    char err[8192], *out = tu_path(root, "npy"), *p = tu_path(out, "target.npy");
    arr a;

    if (s2 != NULL)
        assert_int_equal(RUN(err, model_bin, "separate", "--model", model, "--text",
                             "dog barking", "--seed", "0", "--span", s1, "--span", s2, in,
                             out),
                         0);
    else
        assert_int_equal(RUN(err, model_bin, "separate", "--model", model, "--text",
                             "dog barking", "--seed", "0", "--span", s1, in, out),
                         0);
    arr_load(&a, p);
    *n = a.n;
    free(p);
    free(out);
    return a.d;
}

static void test_short_file_is_the_official_processor(void **state)
{
    char *root = tu_mkdtemp(), *model = tu_model_dir(ref, root), src[4096], err[8192];
    char *in = tu_path(root, "dog.wav"), *out = tu_path(root, "out");
    float *x, *plain, *spans, *want;
    int64_t n, nw, i;
    double d = 0;
    int rate, ch;

    (void)state;
    assert_non_null(model);
    snprintf(src, sizeof src, "%s/anchors/a1_dog_positive/input.wav", ref);
    x = tu_read(src, &n, &rate, &ch, NULL);
    assert_non_null(x);
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, ch, x, n), 0);

    assert_int_equal(RUN(err, bin, "-q", "-e", "sam-audio", "--model", model, "-p",
                         "dog barking", in, "-o", out),
                     0);
    plain = read_wav(out, "dog_target.wav", &nw);
    assert_int_equal(nw, n);
    /* the same outputs with spans are not current: made again */
    assert_int_equal(RUN(err, bin, "-q", "-e", "sam-audio", "--model", model, "-p",
                         "dog barking", "--span", "+0.5:1.8", in, "-o", out),
                     0);
    spans = read_wav(out, "dog_target.wav", &nw);
    assert_int_equal(nw, n);
    want = model_target(model, in, root, "+0.5:1.8", NULL, &nw);
    assert_true(nw >= n);
    print_message("samsep --span against samsep-model --span: %.2e\n",
                  nerr(spans, want, n));
    assert_true(nerr(spans, want, n) < 1e-6);
    for (i = 0; i < n; i++)
        d = fmax(d, fabs((double)spans[i] - plain[i]));
    print_message("with and without the span: max difference %.3g\n", d);
    assert_true(d > 1e-2);
    free(x);
    free(plain);
    free(spans);
    free(want);
    free(in);
    free(out);
    free(model);
    tu_rmtree(root);
    free(root);
}

static void test_spans_over_chunks(void **state)
{
    char *root = tu_mkdtemp(), *model = tu_model_dir(ref, root), src[4096], err[8192];
    char *in = tu_path(root, "dog.wav"), *first = tu_path(root, "first.wav");
    char *out = tu_path(root, "out");
    float *x, *t, *r, *want;
    int64_t n, nt, nr, nw, keep;
    int rate, ch;

    (void)state;
    assert_non_null(model);
    snprintf(src, sizeof src, "%s/anchors/a1_dog_positive/input.wav", ref);
    x = tu_read(src, &n, &rate, &ch, NULL);
    assert_non_null(x);
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, ch, x, n), 0);
    /* chunks of 1 s overlapping by 0.2 s: [0, 1), [0.8, 1.8), ...; one span
     * across the first boundary, and a later one overlapping it */
    assert_int_equal(RUN(err, bin, "-q", "-e", "sam-audio", "--model", model, "-p",
                         "dog barking", "--chunk", "1", "--overlap", "0.2", "--span",
                         "+0.5:1.5", "--span", "-0.9:2.2", in, "-o", out),
                     0);
    t = read_wav(out, "dog_target.wav", &nt);
    r = read_wav(out, "dog_residual.wav", &nr);
    assert_int_equal(nt, n);
    assert_int_equal(nr, n);
    /* the first chunk alone, with the spans as the pipeline cuts them to it */
    assert_int_equal(tu_write(first, SF_FORMAT_WAV | SF_FORMAT_FLOAT, rate, 1, x, rate),
                     0);
    want = model_target(model, first, root, "+0.5:1", "-0.9:1", &nw);
    keep = (int64_t)(0.8 * rate); /* before the first crossfade */
    print_message("first chunk against samsep-model on it: %.2e\n", nerr(t, want, keep));
    assert_true(nerr(t, want, keep) < 1e-6);
    free(x);
    free(t);
    free(r);
    free(want);
    free(in);
    free(first);
    free(out);
    free(model);
    tu_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_file_is_the_official_processor),
        cmocka_unit_test(test_spans_over_chunks),
    };
    char probe[4096];
    FILE *f;

    ref = getenv("SAMSEP_SAMREF");
    model_bin = getenv("SAMSEP_MODEL_BIN");
    if (ref == NULL || model_bin == NULL) {
        printf("SAMSEP_SAMREF / SAMSEP_MODEL_BIN not set: skipping\n");
        return 77;
    }
    snprintf(probe, sizeof probe, "%s/anchors/a1_dog_positive/input.wav", ref);
    if ((f = fopen(probe, "r")) == NULL) {
        printf("%s: no reference data: skipping\n", ref);
        return 77;
    }
    fclose(f);
    /* samsep sits beside samsep-model in the build folder */
    snprintf(bin, sizeof bin, "%s", model_bin);
    if (strrchr(bin, '/') != NULL)
        strcpy(strrchr(bin, '/') + 1, "samsep");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
