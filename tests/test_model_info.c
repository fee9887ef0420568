/*
 * test_model_info.c - `samsep-model info` end to end: the built program is
 * run as a user runs it (fork + exec) on the reference model files and on
 * broken ones, and each case asserts on the exit status and the output.
 * SAMSEP_MODEL_BIN and SAMSEP_SAMREF are set by ctest; without the
 * reference files the suite is skipped (exit 77).
 */
#include <fcntl.h>
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

#include "testutil.h"

static const char *bin;
static const char *samref;
static char *tmpdir;

typedef struct result {
    int status; /* exit status, or 128 + signal */
    char out[262144];
    char err[16384];
} result;

static result r;

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = 0;

    buf[0] = '\0';
    if (f == NULL)
        return;
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Run samsep-model with args (NULL-terminated, without the program name). */
static void run(const char *const *args)
{
    char outp[4096], errp[4096];
    const char *argv[16];
    int fo, fe, st, i;
    pid_t pid;

    snprintf(outp, sizeof outp, "%s/out", tmpdir);
    snprintf(errp, sizeof errp, "%s/err", tmpdir);
    fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fo >= 0 && fe >= 0);
    argv[0] = bin;
    for (i = 0; args[i] != NULL && i < 14; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    close(fo);
    close(fe);
    slurp(outp, r.out, sizeof r.out);
    slurp(errp, r.err, sizeof r.err);
}

#define RUN(...)                                           \
    do {                                                   \
        const char *const args_[] = { __VA_ARGS__, NULL }; \
        run(args_);                                        \
    } while (0)

static char *ref(const char *rel)
{
    static char path[4][4096];
    static int k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", samref, rel);
    return path[k];
}

/* The output line listing `name` holds `rest` after it (spacing aside). */
static void assert_line(const char *name, const char *dtype, const char *shape)
{
    char pat[512];
    const char *p = r.out;

    snprintf(pat, sizeof pat, "  %s ", name);
    while ((p = strstr(p, pat)) != NULL) {
        const char *eol = strchr(p, '\n'), *d, *s;

        d = strstr(p, dtype);
        s = strstr(p, shape);
        if (d != NULL && s != NULL && eol != NULL && d < eol && s < eol && d < s)
            return;
        p += strlen(pat);
    }
    fail_msg("no line '%s %s %s' in:\n%.2000s", name, dtype, shape, r.out);
}

static void test_full_checkpoint(void **state)
{
    (void)state;
    RUN("info", ref("full/checkpoint.pt"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "(pytorch)"));
    assert_line("proj.weight", "F32", "[64, 48]");
    assert_line("audio_codec.encoder.block.0.weight_v", "F32", "[8, 1, 7]");
    assert_line("transformer.layers.1.cross_attention.k_norm.weight", "F32", "[16]");
    assert_non_null(strstr(r.out, "tensors: 384\n"));
    assert_non_null(strstr(r.out, "parameters: 1768757\n"));
    assert_non_null(strstr(r.out, "bytes: 7075028 "));
    assert_non_null(
        strstr(r.out, "model: complete SAM-Audio model (2 transformer layers)"));
    assert_null(strstr(r.out, "T5"));
    assert_string_equal(r.err, "");

    /* the folder: checkpoint.pt is taken first */
    RUN("info", ref("full"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "full/checkpoint.pt (pytorch)"));
    assert_non_null(strstr(r.out, "tensors: 384\n"));

    RUN("info", ref("full/checkpoint.safetensors"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "(safetensors)"));
    assert_non_null(strstr(r.out, "parameters: 1768757\n"));
    assert_non_null(strstr(r.out, "model: complete SAM-Audio model"));
}

static void test_t5_and_parts(void **state)
{
    (void)state;
    RUN("info", ref("t5"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "model.safetensors (safetensors)"));
    assert_line("shared.weight", "F32", "[800, 32]");
    assert_non_null(strstr(r.out, "tensors: 19\n"));
    assert_non_null(strstr(r.out, "model: complete T5 text encoder (2 blocks, "
                                  "vocabulary 800, width 32)"));

    /* the codec alone is not a SAM-Audio model: the transformer is named */
    RUN("info", ref("codec/checkpoint.pt"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "model: incomplete SAM-Audio model, missing "
                                  "transformer."));
    RUN("info", ref("dit/checkpoint.pt"));
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "missing audio_codec.encoder.block.<n>."));
}

static void test_bad_files(void **state)
{
    char path[4096];
    FILE *f;

    (void)state;
    snprintf(path, sizeof path, "%s/broken.pt", tmpdir);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("PK\x03\x04 this is not really a zip archive at all", f);
    fclose(f);
    RUN("info", path);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "broken.pt"));
    assert_non_null(strstr(r.err, "end-of-central-directory"));
    assert_string_equal(r.out, "");

    RUN("info", "/nonexistent/checkpoint.pt");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "/nonexistent/checkpoint.pt"));

    /* a folder without a model file */
    RUN("info", tmpdir);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "checkpoint.pt"));

    /* a truncated copy of the reference checkpoint */
    {
        char cut[4096];
        FILE *in = fopen(ref("dit/checkpoint.pt"), "rb");
        static char buf[500000];
        size_t n;

        assert_non_null(in);
        n = fread(buf, 1, sizeof buf, in);
        fclose(in);
        snprintf(cut, sizeof cut, "%s/cut.pt", tmpdir);
        f = fopen(cut, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(buf, 1, n, f), n);
        fclose(f);
        RUN("info", cut);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "cut.pt"));
    }
}

static void test_usage(void **state)
{
    (void)state;
    RUN("--help");
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "usage: samsep-model"));
    assert_non_null(strstr(r.out, "  info PATH"));
    RUN("info");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "usage"));
    RUN("info", "a", "b");
    assert_int_equal(r.status, 2);
    RUN("frobnicate");
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "frobnicate"));
    {
        const char *const none[] = { NULL };

        run(none);
        assert_int_equal(r.status, 2);
        assert_non_null(strstr(r.err, "usage"));
    }
}

static int setup(void **state)
{
    (void)state;
    tmpdir = tu_mkdtemp();
    return tmpdir == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_checkpoint),
        cmocka_unit_test(test_t5_and_parts),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_usage),
    };
    struct stat st;

    bin = getenv("SAMSEP_MODEL_BIN");
    samref = getenv("SAMSEP_SAMREF");
    if (bin == NULL || samref == NULL || stat(samref, &st) != 0 ||
        access(bin, X_OK) != 0) {
        fprintf(stderr, "SAMSEP_MODEL_BIN or SAMSEP_SAMREF missing: skipped\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
