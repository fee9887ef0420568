/*
 * test_model_tokenize_cli.c - `samsep-model tokenize` prints the reference ids.
 *
 * Runs $SAMSEP_MODEL_BIN (no shell: fork + execv) on texts taken from
 * $SAMSEP_SAMREF/tokenizer/cases.jsonl - a short one and the case longer
 * than 512 tokens, which checks the default truncation (511 ids + </s>) -
 * with --spm and with --tokenizer, and compares the printed lines with the
 * case's ids. Also the exit statuses for a missing file and bad usage.
 */
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
#include <cjson/cJSON.h>

static const char *g_bin;
static char g_dir[4096];

/* Run bin with args; capture stdout into *out (malloc'd). Returns the exit status. */
static int run(char *const args[], char **out)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        FILE *devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        execv(g_bin, args);
        _exit(127);
    }
    close(fd[1]);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd[0], buf + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = 0;
    close(fd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Line `index` (0-based) of cases.jsonl: its text and the ids expected with max_len 512. */
static void load_case(int index, char **text, char **ids_line)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/cases.jsonl", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char line[1 << 17];
    for (int i = 0; i <= index; i++)
        assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    cJSON *j = cJSON_Parse(line);
    assert_non_null(j);
    const cJSON *t = cJSON_GetObjectItem(j, "text");
    const cJSON *ids = cJSON_GetObjectItem(j, "ids_trunc512");
    if (!ids)
        ids = cJSON_GetObjectItem(j, "ids");
    assert_true(cJSON_IsString(t) && cJSON_IsArray(ids));
    *text = strdup(t->valuestring);
    size_t cap = 16 * (size_t)cJSON_GetArraySize(ids) + 2, o = 0;
    char *s = malloc(cap);
    const cJSON *v;
    cJSON_ArrayForEach(v, ids)
    {
        o += (size_t)snprintf(s + o, cap - o, o ? " %d" : "%d", (int)v->valuedouble);
    }
    snprintf(s + o, cap - o, "\n");
    *ids_line = s;
    cJSON_Delete(j);
}

static void test_tokenize_prints_reference_ids(void **state)
{
    (void)state;
    char *t0, *want0, *t1, *want1;
    load_case(0, &t0, &want0);
    load_case(235, &t1, &want1); /* > 512 tokens: truncated to 511 + </s> */
    size_t wl = strlen(want0) + strlen(want1) + 1;
    char *want = malloc(wl);
    snprintf(want, wl, "%s%s", want0, want1);

    char spm[4300], json[4300];
    snprintf(spm, sizeof(spm), "%s/spiece.model", g_dir);
    snprintf(json, sizeof(json), "%s/tokenizer.json", g_dir);
    char *const a1[] = {
        (char *)"samsep-model", (char *)"tokenize", (char *)"--spm", spm, t0, t1, NULL
    };
    char *const a2[] = { (char *)"samsep-model",
                         (char *)"tokenize",
                         (char *)"--tokenizer",
                         json,
                         t0,
                         t1,
                         NULL };
    char *out;
    assert_int_equal(run(a1, &out), 0);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(run(a2, &out), 0);
    assert_string_equal(out, want);
    free(out);

    /* --max-len 2: the first id and </s>. */
    char *const a3[] = { (char *)"samsep-model",
                         (char *)"tokenize",
                         (char *)"--max-len",
                         (char *)"2",
                         (char *)"--spm",
                         spm,
                         t0,
                         NULL };
    assert_int_equal(run(a3, &out), 0);
    assert_string_equal(out, "82 1\n");
    free(out);
    free(t0);
    free(t1);
    free(want0);
    free(want1);
    free(want);
}

static void test_tokenize_errors(void **state)
{
    (void)state;
    char *out;
    char *const missing[] = { (char *)"samsep-model", (char *)"tokenize",
                              (char *)"--spm",        (char *)"/nonexistent/spiece.model",
                              (char *)"dog",          NULL };
    assert_int_equal(run(missing, &out), 1);
    free(out);
    char *const no_model[] = { (char *)"samsep-model", (char *)"tokenize", (char *)"dog",
                               NULL };
    assert_int_equal(run(no_model, &out), 2);
    free(out);
    char *const no_text[] = { (char *)"samsep-model", (char *)"tokenize", (char *)"--spm",
                              (char *)"x", NULL };
    assert_int_equal(run(no_text, &out), 2);
    free(out);
}

int main(void)
{
    const char *ref = getenv("SAMSEP_SAMREF");
    g_bin = getenv("SAMSEP_MODEL_BIN");
    if (!ref || !*ref || !g_bin || access(g_bin, X_OK) != 0) {
        fprintf(stderr, "SAMSEP_SAMREF or SAMSEP_MODEL_BIN not usable: skipping\n");
        return 77;
    }
    snprintf(g_dir, sizeof(g_dir), "%s/tokenizer", ref);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize_prints_reference_ids),
        cmocka_unit_test(test_tokenize_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
