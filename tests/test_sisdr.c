/*
 * test_sisdr.c - unit tests of the SI-SDR scorer's arithmetic
 * (tools/sisdr_core.c): the limits (perfect, silent, constant reference),
 * the invariances the definition promises (scale, offset), the improvement
 * of an estimate equal to the mixture, a case small enough to work by hand,
 * and agreement of the block-wise accumulator with the one-call form.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "sisdr_core.h"

static void fill(float *x, int64_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((double)(s >> 8) / 16777216.0 - 0.5);
    }
}

static void test_perfect_is_inf(void **state)
{
    (void)state;
    float r[1000], e[1000];
    fill(r, 1000, 1);
    for (int i = 0; i < 1000; i++)
        e[i] = r[i];
    double v = sisdr(r, e, 1000);
    assert_true(isinf(v) && v > 0);
    /* A power-of-two multiple is exactly a scaled copy. */
    for (int i = 0; i < 1000; i++)
        e[i] = 4.0f * r[i];
    v = sisdr(r, e, 1000);
    assert_true(isinf(v) && v > 0);
}

static void test_silence_and_bad_input(void **state)
{
    (void)state;
    float r[100], z[100] = { 0 }, c[100];
    fill(r, 100, 2);
    double v = sisdr(r, z, 100);
    assert_true(isinf(v) && v < 0);
    for (int i = 0; i < 100; i++)
        c[i] = 0.25f;
    assert_true(isnan(sisdr(c, r, 100))); /* constant reference */
    assert_true(isnan(sisdr(r, r, 0)));
    assert_true(isnan(sisdr(NULL, r, 100)));
    assert_true(isnan(sisdr(r, NULL, 100)));
    /* The accumulator without its second pass does not pretend. */
    sisdr_acc acc;
    sisdr_acc_init(&acc);
    sisdr_acc_sums(&acc, r, r, 100);
    assert_true(isnan(sisdr_acc_value(&acc)));
}

static void test_mixture_improvement_zero(void **state)
{
    (void)state;
    enum { N = 4096 };
    float *s = malloc(N * sizeof *s), *v = malloc(N * sizeof *v),
          *mix = malloc(N * sizeof *mix);
    assert_true(s && v && mix);
    fill(s, N, 3);
    fill(v, N, 4);
    for (int i = 0; i < N; i++)
        mix[i] = s[i] + 0.7f * v[i];
    float *est = malloc(N * sizeof *est);
    assert_non_null(est);
    for (int i = 0; i < N; i++)
        est[i] = mix[i];
    double si_mix = sisdr(s, mix, N), si_est = sisdr(s, est, N);
    assert_true(isfinite(si_mix));
    assert_true(si_est - si_mix == 0.0);
    /* With independent signals the mixture's SI-SDR is close to its SNR. */
    double es = 0, ev = 0;
    for (int i = 0; i < N; i++) {
        es += (double)s[i] * s[i];
        ev += 0.49 * (double)v[i] * v[i];
    }
    assert_float_equal(si_mix, 10.0 * log10(es / ev), 0.3);
    free(est);
    free(s);
    free(v);
    free(mix);
}

static void test_scale_and_offset_invariance(void **state)
{
    (void)state;
    enum { N = 5000 };
    float r[N], e[N], e2[N];
    fill(r, N, 5);
    fill(e, N, 6);
    for (int i = 0; i < N; i++)
        e[i] = r[i] + 0.3f * e[i];
    double base = sisdr(r, e, N);
    static const float scales[] = { 1e-3f, 0.37f, 3.0f, 1000.0f, -2.5f };
    for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++) {
        for (int i = 0; i < N; i++)
            e2[i] = scales[k] * e[i];
        assert_float_equal(sisdr(r, e2, N), base, 1e-4);
    }
    /* Zero-mean: a DC offset on either signal changes nothing. */
    for (int i = 0; i < N; i++)
        e2[i] = e[i] + 0.5f;
    assert_float_equal(sisdr(r, e2, N), base, 1e-4);
    for (int i = 0; i < N; i++)
        e2[i] = r[i] - 0.25f;
    assert_float_equal(sisdr(e2, e, N), base, 1e-4);
}

static void test_hand_computed(void **state)
{
    (void)state;
    /* ref = [1, -1, 1, -1] (mean 0), est = [2, 0, 2, 0] (mean 1):
     * est - mean = [1, -1, 1, -1] = ref, so SI-SDR = +inf. */
    const float r[4] = { 1, -1, 1, -1 }, e1[4] = { 2, 0, 2, 0 };
    assert_true(isinf(sisdr(r, e1, 4)));
    /* r = [1, 0, -1, 0] (mean 0, |r|^2 = 2); e = [2, 1, -2, -1] (mean 0).
     * <e, r> = 2 + 2 = 4, a = 2, a r = [2, 0, -2, 0], e - a r = [0, 1, 0, -1]:
     * |a r|^2 = 8, |e - a r|^2 = 2, SI-SDR = 10 log10(4) = 6.0206 dB. */
    const float r2[4] = { 1, 0, -1, 0 }, e2[4] = { 2, 1, -2, -1 };
    assert_float_equal(sisdr(r2, e2, 4), 10.0 * log10(4.0), 1e-12);
    /* Orthogonal estimate: no component along the reference: -inf. */
    const float e3[4] = { 0, 1, 0, -1 };
    double v = sisdr(r2, e3, 4);
    assert_true(isinf(v) && v < 0);
    /* Negative scaling still counts as the reference: est = -r2 + e3/2:
     * a = -1, |a r|^2 = 2, |e - a r|^2 = 0.5, 10 log10(4). */
    const float e4[4] = { -1, 0.5f, 1, -0.5f };
    assert_float_equal(sisdr(r2, e4, 4), 10.0 * log10(4.0), 1e-12);
}

static void test_blocks_match_whole(void **state)
{
    (void)state;
    enum { N = 10007 };
    float *r = malloc(N * sizeof *r), *e = malloc(N * sizeof *e);
    assert_true(r && e);
    fill(r, N, 8);
    fill(e, N, 9);
    for (int i = 0; i < N; i++)
        e[i] = 0.8f * r[i] + 0.2f * e[i] + 0.01f;
    double whole = sisdr(r, e, N);
    sisdr_acc acc;
    sisdr_acc_init(&acc);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < N; i += 999) {
            int b = N - i < 999 ? N - i : 999;
            if (pass == 0)
                sisdr_acc_sums(&acc, r + i, e + i, b);
            else
                sisdr_acc_error(&acc, r + i, e + i, b);
        }
    }
    assert_float_equal(sisdr_acc_value(&acc), whole, 1e-9);
    free(r);
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perfect_is_inf),
        cmocka_unit_test(test_silence_and_bad_input),
        cmocka_unit_test(test_mixture_improvement_zero),
        cmocka_unit_test(test_scale_and_offset_invariance),
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_blocks_match_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
