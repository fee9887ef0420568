/*
 * test_model_prompts_cli.c - several prompts in one pass of the sam-audio
 * engine, through the samsep program on the tiny reference model: a 44.1 kHz
 * stereo recording separated for three prompts at once (each chunk encoded
 * once, the prompts one batch of the DiT) gives for each prompt the outputs
 * of a run of that prompt alone, to 1e-5, named <stem>_<prompt>_target (the
 * outputs keep the two channels, each prompt through its own upmix stage);
 * the prompts' outputs differ from each other; with --residual subtract
 * each pair sums to the mixture, channel by channel. Span prompts given with
 * several prompts condition every prompt of the batch as they condition a
 * run of that prompt alone, chunk by chunk.
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

#include "testutil.h"

static const char *ref;
static char bin[4096];

static int run(char *errbuf, size_t errlen, const char *const *args)
{
    char errp[] = "/tmp/samsep-samcli-XXXXXX";
    const char *argv[40];
    int fe = mkstemp(errp), st, i;
    pid_t pid;

    assert_true(fe >= 0);
    argv[0] = bin;
    for (i = 0; args[i] != NULL && i < 38; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = fork();
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);

        dup2(nul, 0);
        dup2(nul, 1);
        dup2(fe, 2);
        execv(bin, (char *const *)argv);
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

/* The largest difference between two files' samples; their lengths and
 * channels must agree. */
static double max_diff(const char *a, const char *b, int64_t frames)
{
    int64_t na, nb, i;
    int ca, cb;
    float *x = tu_read(a, &na, NULL, &ca, NULL), *y = tu_read(b, &nb, NULL, &cb, NULL);
    double worst = 0;

    assert_non_null(x);
    assert_non_null(y);
    assert_int_equal(na, frames);
    assert_int_equal(nb, frames);
    assert_int_equal(ca, cb);
    for (i = 0; i < frames * ca; i++)
        worst = fmax(worst, fabs((double)x[i] - y[i]));
    free(x);
    free(y);
    return worst;
}

static void test_prompts_cli(void **state)
{
    static const char *const prompts[] = { "drums", "a dog barking far away", "Bass!" };
    static const char *const parts[] = { "drums", "a-dog-barking-far-away", "bass" };
    char *root = tu_mkdtemp(), *in_dir = tu_path(root, "in"), *in, *model;
    char *out = tu_path(root, "out"), *one = tu_path(root, "one");
    char err[8192], name[256];
    int64_t frames = 44100 * 2 + 321, i;
    float *x = malloc((size_t)frames * 2 * sizeof(float));
    int j, k;

    (void)state;
    assert_int_equal(mkdir(in_dir, 0777), 0);
    in = tu_path(in_dir, "street.wav");
    for (i = 0; i < frames; i++) {
        x[2 * i] = 0.3f * sinf((float)i * 0.031f) + 0.05f * sinf((float)i * 0.5f);
        x[2 * i + 1] = 0.2f * sinf((float)i * 0.017f);
    }
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2, x, frames),
                     0);
    model = tu_model_dir(ref, root);
    assert_non_null(model);

    /* three prompts in one pass: each chunk encoded once, one DiT batch */
    assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p", prompts[0],
                         "-p", prompts[1], "-p", prompts[2], "--chunk", "1", "--overlap",
                         "0.25", "--subtype", "float", in, "-o", out),
                     0);
    /* each prompt alone: the same outputs, to float rounding */
    for (j = 0; j < 3; j++) {
        assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p",
                             prompts[j], "--chunk", "1", "--overlap", "0.25", "--subtype",
                             "float", "--overwrite", in, "-o", one),
                         0);
        for (k = 0; k < 2; k++) {
            const char *role = k == 0 ? "target" : "residual";
            char *a, *b;
            double d;

            snprintf(name, sizeof name, "street_%s_%s.wav", parts[j], role);
            a = tu_path(out, name);
            snprintf(name, sizeof name, "street_%s.wav", role);
            b = tu_path(one, name);
            d = max_diff(a, b, frames);
            printf("prompt \"%s\" %s: max |several - alone| = %.3g\n", prompts[j], role,
                   d);
            assert_true(d <= 1e-5);
            free(a);
            free(b);
        }
    }
    /* the prompts do give different outputs */
    {
        char *a, *b;

        snprintf(name, sizeof name, "street_%s_target.wav", parts[0]);
        a = tu_path(out, name);
        snprintf(name, sizeof name, "street_%s_target.wav", parts[1]);
        b = tu_path(out, name);
        assert_true(max_diff(a, b, frames) > 1e-3);
        free(a);
        free(b);
    }
    /* with --residual subtract each pair still sums to the mixture, and the
     * outputs keep the input's two channels */
    {
        char *sub = tu_path(root, "sub"), *a, *b;
        float *t, *r;
        int64_t n;
        int ch;
        double worst = 0;

        assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p",
                             prompts[0], "-p", prompts[2], "--residual", "subtract",
                             "--chunk", "1", "--overlap", "0.25", in, "-o", sub),
                         0);
        a = tu_path(sub, "street_bass_target.wav");
        b = tu_path(sub, "street_bass_residual.wav");
        t = tu_read(a, &n, NULL, &ch, NULL);
        assert_int_equal(n, frames);
        assert_int_equal(ch, 2);
        r = tu_read(b, &n, NULL, &ch, NULL);
        assert_int_equal(n, frames);
        assert_int_equal(ch, 2);
        for (i = 0; i < 2 * frames; i++)
            worst = fmax(worst, fabs((double)t[i] + r[i] - x[i]));
        assert_true(worst < 1e-5);
        free(t);
        free(r);
        free(a);
        free(b);
        free(sub);
    }
    free(x);
    free(in);
    free(in_dir);
    free(model);
    free(out);
    free(one);
    tu_rmtree(root);
    free(root);
}

/* --span with several prompts: each prompt's outputs are those of a run of
 * it alone with the same spans (the spans reach every row of the DiT's
 * batch, cut to each chunk), and the spans change them. */
static void test_prompts_spans_cli(void **state)
{
    static const char *const prompts[] = { "drums", "Bass!" };
    static const char *const parts[] = { "drums", "bass" };
    char *root = tu_mkdtemp(), *in_dir = tu_path(root, "in"), *in, *model;
    char *out = tu_path(root, "out"), *one = tu_path(root, "one");
    char *plain = tu_path(root, "plain"), *a, *b;
    char err[8192], name[256];
    int64_t frames = 48000 * 2 + 77, i;
    float *x = malloc((size_t)frames * sizeof(float));
    int j;
    double d;

    (void)state;
    assert_int_equal(mkdir(in_dir, 0777), 0);
    in = tu_path(in_dir, "yard.wav");
    for (i = 0; i < frames; i++)
        x[i] = 0.3f * sinf((float)i * 0.023f) + 0.1f * sinf((float)i * 0.41f);
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x, frames),
                     0);
    model = tu_model_dir(ref, root);
    assert_non_null(model);

    /* one span inside the first chunk, one across the first boundary */
    assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p", prompts[0],
                         "-p", prompts[1], "--span", "+0.2:0.5", "--span", "-0.6:1.3",
                         "--chunk", "1", "--overlap", "0.25", "--subtype", "float", in,
                         "-o", out),
                     0);
    for (j = 0; j < 2; j++) {
        assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p",
                             prompts[j], "--span", "+0.2:0.5", "--span", "-0.6:1.3",
                             "--chunk", "1", "--overlap", "0.25", "--subtype", "float",
                             "--overwrite", in, "-o", one),
                         0);
        snprintf(name, sizeof name, "yard_%s_target.wav", parts[j]);
        a = tu_path(out, name);
        b = tu_path(one, "yard_target.wav");
        d = max_diff(a, b, frames);
        printf("prompt \"%s\" with spans: max |several - alone| = %.3g\n", prompts[j], d);
        assert_true(d <= 1e-5);
        free(a);
        free(b);
    }
    /* without the spans the target is another one */
    assert_int_equal(RUN(err, "-q", "-e", "sam-audio", "--model", model, "-p", prompts[0],
                         "-p", prompts[1], "--chunk", "1", "--overlap", "0.25",
                         "--subtype", "float", in, "-o", plain),
                     0);
    a = tu_path(out, "yard_drums_target.wav");
    b = tu_path(plain, "yard_drums_target.wav");
    d = max_diff(a, b, frames);
    printf("with spans against without: max difference %.3g\n", d);
    assert_true(d > 1e-4);
    free(a);
    free(b);
    free(x);
    free(in);
    free(in_dir);
    free(model);
    free(out);
    free(one);
    free(plain);
    tu_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompts_cli),
        cmocka_unit_test(test_prompts_spans_cli),
    };
    const char *model_bin = getenv("SAMSEP_MODEL_BIN");
    char probe[4096];
    FILE *f;

    ref = getenv("SAMSEP_SAMREF");
    if (ref == NULL || model_bin == NULL) {
        printf("SAMSEP_SAMREF / SAMSEP_MODEL_BIN not set: skipping\n");
        return 77;
    }
    snprintf(probe, sizeof probe, "%s/full/checkpoint.pt", ref);
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
