/*
 * test_model_t5_cli.c - `samsep-model t5` end to end on the reference T5:
 *   - --ids of prompt0 -> the written .npy equals prompt0's last_hidden_state;
 *   - the three prompts of t5/prompts.json as TEXT, tokenized with the
 *     reference tokenizer -> equals batch3's last_hidden_state (same
 *     padding to the longest row);
 *   - usage errors exit 2, missing model files exit 1, and write nothing.
 * Tolerance max|a-b| / max(1, max|ref|) <= 1e-5. Skips (77) without
 * SAMSEP_SAMREF or an executable SAMSEP_MODEL_BIN.
 */
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

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "npy.h"

#define TOL 1e-5

static const char *g_ref, *g_bin;
static char g_tmp[1024];

/* Run g_bin with args (NULL-terminated), stdout/stderr to /dev/null;
 * returns the exit status, or -1. */
static int run(const char *const *args)
{
    const char *argv[64];
    int n = 0, st;
    pid_t pid;
    argv[n++] = g_bin;
    while (args[n - 1] != NULL && n < 63) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (freopen("/dev/null", "w", stdout) == NULL ||
            freopen("/dev/null", "w", stderr) == NULL)
            _exit(126);
        execv(g_bin, (char *const *)argv);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static float *load(const char *path, int64_t shape[NPY_MAX_DIMS], int *ndim)
{
    float *d = NULL;
    char err[256];
    if (npy_load(path, &d, shape, ndim, err, sizeof err) != 0)
        fail_msg("%s", err);
    return d;
}

static void compare(const char *what, const char *out_path, const char *ref_path)
{
    int64_t so[NPY_MAX_DIMS], sr[NPY_MAX_DIMS], n = 1, i;
    int no, nr, d;
    float *o = load(out_path, so, &no), *r = load(ref_path, sr, &nr);
    double m = 0.0, mx = 1.0;
    assert_int_equal(no, 3);
    assert_int_equal(nr, 3);
    for (d = 0; d < 3; d++) {
        assert_int_equal(so[d], sr[d]);
        n *= so[d];
    }
    for (i = 0; i < n; i++) {
        double e = fabs((double)o[i] - r[i]);
        if (!(e <= m))
            m = isnan(e) ? INFINITY : e;
        if (fabs(r[i]) > mx)
            mx = fabs(r[i]);
    }
    print_message("    %-28s normalised error %.3g\n", what, m / mx);
    if (!(m / mx <= TOL))
        fail_msg("%s: normalised error %.3g > %.0e", what, m / mx, TOL);
    free(o);
    free(r);
}

static void test_ids(void **state)
{
    char model[4096], ids_path[4096], ref[4096], out[4096], list[4096];
    int64_t shape[NPY_MAX_DIMS], i;
    int nd;
    size_t len = 0;
    float *ids;
    (void)state;
    snprintf(model, sizeof model, "%s/t5", g_ref);
    snprintf(ids_path, sizeof ids_path, "%s/t5/prompt0/input_ids.npy", g_ref);
    snprintf(ref, sizeof ref, "%s/t5/prompt0/last_hidden_state.npy", g_ref);
    snprintf(out, sizeof out, "%s/ids.npy", g_tmp);
    ids = load(ids_path, shape, &nd);
    assert_int_equal(nd, 2);
    for (i = 0; i < shape[1]; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "",
                                (int)ids[i]);
    free(ids);
    {
        const char *args[] = { "t5", "--model", model,   "--threads", "2",
                               "-o", out,       "--ids", list,        NULL };
        assert_int_equal(run(args), 0);
    }
    compare("prompt0 via --ids", out, ref);
}

static void test_texts(void **state)
{
    char model[4096], tok[4096], pj[4096], ref[4096], out[4096];
    FILE *f;
    char *text;
    long n;
    cJSON *root;
    struct stat st;
    (void)state;
    snprintf(model, sizeof model, "%s/t5", g_ref);
    snprintf(tok, sizeof tok, "%s/tokenizer", g_ref);
    snprintf(pj, sizeof pj, "%s/t5/prompts.json", g_ref);
    snprintf(ref, sizeof ref, "%s/t5/batch3/last_hidden_state.npy", g_ref);
    snprintf(out, sizeof out, "%s/texts.npy", g_tmp);
    if (stat(tok, &st) != 0) {
        skip();
        return;
    }
    f = fopen(pj, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    text = calloc((size_t)n + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    assert_int_equal(cJSON_GetArraySize(root), 3);
    {
        const char *args[] = { "t5",
                               "--model",
                               model,
                               "--tokenizer",
                               tok,
                               "-o",
                               out,
                               cJSON_GetArrayItem(root, 0)->valuestring,
                               cJSON_GetArrayItem(root, 1)->valuestring,
                               cJSON_GetArrayItem(root, 2)->valuestring,
                               NULL };
        assert_int_equal(run(args), 0);
    }
    cJSON_Delete(root);
    compare("prompts.json as TEXT (batch3)", out, ref);
}

static void test_errors(void **state)
{
    char model[4096], out[4096];
    struct stat st;
    (void)state;
    snprintf(model, sizeof model, "%s/t5", g_ref);
    snprintf(out, sizeof out, "%s/err.npy", g_tmp);
    {
        const char *a[] = { "t5", "-o", out, "--ids", "1", NULL }; /* no --model */
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5", "--model", model, "--ids", "1", NULL }; /* no -o */
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5", "--model", model, "-o", out, NULL }; /* no input */
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5", "--model", model, "-o", out, "--ids", "1,,2", NULL };
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5",    "--model", model,  "-o", out,
                            "--ids", "5,1",     "text", NULL };
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5", "--model", model, "-o", out, "--ids", "999999", NULL };
        assert_int_equal(run(a), 2); /* id outside the vocabulary */
    }
    {
        const char *a[] = { "t5", "--model", model,   "--threads", "x",
                            "-o", out,       "--ids", "1",         NULL };
        assert_int_equal(run(a), 2);
    }
    {
        const char *a[] = { "t5",  "--model", "/nonexistent/model", "-o", out, "--ids",
                            "5,1", NULL };
        assert_int_equal(run(a), 1);
    }
    {
        const char *a[] = { "t5", "--model", model, "--tokenizer", "/nonexistent/tok",
                            "-o", out,       "dog", NULL };
        assert_int_equal(run(a), 1);
    }
    assert_int_not_equal(stat(out, &st), 0); /* nothing written */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_errors),
    };
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_ref = getenv("SAMSEP_SAMREF");
    g_bin = getenv("SAMSEP_MODEL_BIN");
    if (g_ref == NULL || g_ref[0] == '\0' || g_bin == NULL || access(g_bin, X_OK) != 0) {
        printf("SAMSEP_SAMREF or SAMSEP_MODEL_BIN not set/usable: skipping\n");
        return 77;
    }
    snprintf(g_tmp, sizeof g_tmp, "%s/samsep_t5cli_XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    {
        char p[4200];
        snprintf(p, sizeof p, "%s/ids.npy", g_tmp);
        remove(p);
        snprintf(p, sizeof p, "%s/texts.npy", g_tmp);
        remove(p);
        snprintf(p, sizeof p, "%s/err.npy", g_tmp);
        remove(p);
        rmdir(g_tmp);
    }
    return rc;
}
