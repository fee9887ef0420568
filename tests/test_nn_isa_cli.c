/*
 * test_nn_isa_cli.c - the kernel paths by ISA, end to end: the samsep
 * program separating a recording with the tiny reference SAM-Audio model
 * once per instruction set this CPU runs, capped with SAMSEP_ISA as a user
 * would. Every path gives the same outputs as the OpenBLAS one within float
 * rounding (the paths differ only in the order of their sums), the default
 * is the best path, one and two threads agree bit for bit, and an unknown
 * SAMSEP_ISA is an error that names the variable. Paths the CPU lacks are
 * skipped with the reason.
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

#include "nn/cpu/isa.h"
#include "testutil.h"

static const char *ref;
static char bin[4096];

/* Run samsep with `isa` as SAMSEP_ISA (NULL: unset); stderr into errbuf. */
static int run(const char *isa, char *errbuf, size_t errlen, const char *const *args)
{
    char errp[] = "/tmp/samsep-isacli-XXXXXX";
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

        if (isa != NULL)
            setenv("SAMSEP_ISA", isa, 1);
        else
            unsetenv("SAMSEP_ISA");
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

static void link_into(const char *from, const char *dir, const char *name)
{
    char *to = tu_path(dir, name);

    assert_int_equal(symlink(from, to), 0);
    free(to);
}

/* A model folder as users download it, made of the reference files. */
static char *make_model_dir(const char *root)
{
    static const char *const files[][3] = {
        { "full/config.json", "", "config.json" },
        { "full/checkpoint.pt", "", "checkpoint.pt" },
        { "t5/config.json", "t5", "config.json" },
        { "t5/model.safetensors", "t5", "model.safetensors" },
        { "tokenizer/spiece.model", "t5", "spiece.model" },
    };
    char src[4096];
    char *model = tu_path(root, "model"), *t5 = tu_path(model, "t5");
    size_t i;

    assert_int_equal(mkdir(model, 0777), 0);
    assert_int_equal(mkdir(t5, 0777), 0);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(src, sizeof src, "%s/%s", ref, files[i][0]);
        link_into(src, files[i][1][0] != '\0' ? t5 : model, files[i][2]);
    }
    free(t5);
    return model;
}

/* Separate `in` into root/<name> with SAMSEP_ISA = isa; the target. */
static float *separate(const char *root, const char *name, const char *model,
                       const char *in, const char *isa, const char *threads, int64_t *n)
{
    char err[8192];
    char *out = tu_path(root, name), *t;
    float *y;
    const char *const args[] = { "-q",  "-e",        "sam-audio",   "--model",
                                 model, "-p",        "dog barking", "--chunk",
                                 "1",   "--overlap", "0.25",        "--seed",
                                 "3",   "--threads", threads,       in,
                                 "-o",  out,         NULL };

    if (run(isa, err, sizeof err, args) != 0)
        fail_msg("SAMSEP_ISA=%s: samsep failed: %s", isa != NULL ? isa : "(unset)", err);
    t = tu_path(out, "street_target.wav");
    y = tu_read(t, n, NULL, NULL, NULL);
    assert_non_null(y);
    free(t);
    free(out);
    return y;
}

static double max_rel(const float *a, const float *b, int64_t n)
{
    double m = 0, s = 1e-3;
    int64_t i;

    for (i = 0; i < n; i++)
        if (fabs((double)b[i]) > s)
            s = fabs((double)b[i]);
    for (i = 0; i < n; i++)
        if (fabs((double)a[i] - b[i]) > m)
            m = fabs((double)a[i] - b[i]);
    return m / s;
}

static void test_isa_paths_cli(void **state)
{
    char *root = tu_mkdtemp(), *in_dir = tu_path(root, "in"), *in, *model, *bad;
    char err[8192], name[64];
    int64_t frames = 44100 + 4410, n0, n, i;
    float *x = malloc((size_t)frames * sizeof(float)), *gen, *best = NULL, *y;
    const nn_cpu_kern *row;
    int r;

    (void)state;
    assert_int_equal(mkdir(in_dir, 0777), 0);
    in = tu_path(in_dir, "street.wav");
    for (i = 0; i < frames; i++)
        x[i] = 0.3f * sinf((float)i * 0.031f) + 0.05f * sinf((float)i * 0.5f);
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 1, x, frames),
                     0);
    model = make_model_dir(root);

    gen = separate(root, "generic", model, in, "generic", "2", &n0);
    assert_int_equal(n0, frames);
    for (r = 0; (row = nn_cpu_kern_at(r)) != NULL; r++) {
        if (row->isa == NN_ISA_GENERIC)
            continue;
        if (row->isa > nn_cpu_isa()) {
            print_message("    skipped %s: this CPU's ISA is %s\n", row->name,
                          nn_isa_name(nn_cpu_isa()));
            continue;
        }
        snprintf(name, sizeof name, "isa-%s", row->name);
        y = separate(root, name, model, in, nn_isa_name(row->isa), "2", &n);
        assert_int_equal(n, n0);
        print_message("    %s vs openblas: max difference %.3g of the peak\n", row->name,
                      max_rel(y, gen, n));
        if (!(max_rel(y, gen, n) <= 1e-4))
            fail_msg("%s differs from openblas by %.3g", row->name, max_rel(y, gen, n));
        if (best == NULL)
            best = y;
        else
            free(y);
    }
    /* unset: the best path, bit for bit, and the same on one thread */
    y = separate(root, "default", model, in, NULL, "2", &n);
    assert_memory_equal(y, best != NULL ? best : gen, (size_t)n * sizeof *y);
    free(y);
    y = separate(root, "default1", model, in, NULL, "1", &n);
    assert_memory_equal(y, best != NULL ? best : gen, (size_t)n * sizeof *y);
    free(y);

    /* an unknown ISA is refused, naming the variable */
    bad = tu_path(root, "bad");
    {
        const char *const args[] = { "-q", "-e",  "sam-audio", "--model", model,
                                     "-p", "dog", "--chunk",   "1",       in,
                                     "-o", bad,   NULL };
        assert_int_not_equal(run("avx9000", err, sizeof err, args), 0);
    }
    assert_non_null(strstr(err, "SAMSEP_ISA"));
    assert_non_null(strstr(err, "avx9000"));

    free(x);
    free(gen);
    free(best);
    free(in);
    free(in_dir);
    free(model);
    free(bad);
    tu_rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_paths_cli),
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
