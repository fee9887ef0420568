/*
 * test_model_separate_cli.c - `samsep-model separate` as a user runs it to
 * compare samsep with the official implementation: the reference case
 * full/case_b1 ("dog barking") written as a 48 kHz WAV, the official run's
 * noise and watermark bits supplied as .npy, and the written target.npy /
 * residual.npy compared with the official outputs (1e-4 relative).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sndfile.h>

#include "modeltest.h"
#include "testutil.h"

static const char *ref, *bin;

static float *load(const char *path, int64_t *n)
{
    arr a;

    arr_load(&a, path);
    *n = a.n;
    return a.d;
}

static int sh(const char *cmd)
{
    int st = system(cmd);

    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_separate_matches_official(void **state)
{
    char *dir = tu_mkdtemp(), *wav = tu_path(dir, "in.wav"), *out = tu_path(dir, "out");
    char cmd[16384], p[4096];
    int64_t n, nt, nw;
    float *x, *t, *want;
    const char *names[2] = { "target", "residual" };
    int k;

    (void)state;
    snprintf(p, sizeof p, "%s/full/case_b1/in_waveform0.npy", ref);
    x = load(p, &n);
    assert_int_equal(tu_write(wav, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 1, x, n), 0);
    snprintf(cmd, sizeof cmd,
             "'%s' separate --model '%s/full' --t5 '%s/t5' --tokenizer '%s/tokenizer' "
             "--text 'dog barking' --noise '%s/full/case_b1/noise.npy' "
             "--message '%s/full/case_b1/decode_message.npy' '%s' '%s' >/dev/null",
             bin, ref, ref, ref, ref, ref, wav, out);
    assert_int_equal(sh(cmd), 0);
    for (k = 0; k < 2; k++) {
        char got[4096];
        double e;

        snprintf(got, sizeof got, "%s/%s.npy", out, names[k]);
        snprintf(p, sizeof p, "%s/full/case_b1/out_%s0.npy", ref, names[k]);
        t = load(got, &nt);
        want = load(p, &nw);
        assert_int_equal(nt, nw); /* the model's own length: whole frames */
        e = nerr(t, want, nw);
        print_message("separate %s: relative error %.2e\n", names[k], e);
        assert_true(e < 1e-4);
        free(t);
        free(want);
    }
    /* clear errors */
    snprintf(cmd, sizeof cmd,
             "'%s' separate --model '%s/nope' --text x '%s' '%s' 2>/dev/null", bin, ref,
             wav, out);
    assert_int_equal(sh(cmd), 1);
    snprintf(cmd, sizeof cmd, "'%s' separate --model '%s/full' '%s' '%s' 2>/dev/null",
             bin, ref, wav, out);
    assert_int_equal(sh(cmd), 2);
    snprintf(cmd, sizeof cmd,
             "'%s' separate --model '%s/full' --t5 '%s/t5' --tokenizer '%s/tokenizer' "
             "--text x --noise '%s/full/case_b2/noise.npy' '%s' '%s' 2>/dev/null",
             bin, ref, ref, ref, ref, wav, out);
    assert_int_equal(sh(cmd), 1); /* noise of the wrong size */
    free(x);
    free(wav);
    free(out);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_separate_matches_official),
    };
    char probe[4096];
    FILE *f;

    ref = getenv("SAMSEP_SAMREF");
    bin = getenv("SAMSEP_MODEL_BIN");
    if (ref == NULL || bin == NULL) {
        printf("SAMSEP_SAMREF / SAMSEP_MODEL_BIN not set: skipping\n");
        return 77;
    }
    snprintf(probe, sizeof probe, "%s/full/case_b1/noise.npy", ref);
    if ((f = fopen(probe, "r")) == NULL) {
        printf("%s: no reference data: skipping\n", ref);
        return 77;
    }
    fclose(f);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
