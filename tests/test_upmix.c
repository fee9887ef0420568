/*
 * test_upmix.c - the stage that gives a mono engine's target the input's
 * channels (src/stream/upmix.c), on its own: a target equal to the mono
 * mixture gives every channel back, a silent target gives silence, a
 * target louder than the mixture is limited to it, a fraction of the
 * mixture gives that fraction of each channel, a target made of one of two
 * panned sources keeps that source's side; and whatever the blocks the
 * input is pushed in, exactly as many frames come out, at their place, the
 * same to the bit.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "samsep.h"
#include "stream/fifo.h"
#include "stream/upmix.h"
#include "testutil.h"

#define RATE 48000

/* A stereo-or-more mixture and its mono downmix, as the pipeline makes it. */
typedef struct signal {
    int64_t n;
    int ch;
    float *x; /* n * ch, interleaved */
    float *m; /* n, the mean of the channels */
} signal;

static void signal_noise(signal *s, int64_t n, int ch, uint64_t seed)
{
    int64_t i;
    int c;

    s->n = n;
    s->ch = ch;
    s->x = malloc((size_t)(n * ch) * sizeof(float));
    s->m = malloc((size_t)n * sizeof(float));
    assert_non_null(s->x);
    assert_non_null(s->m);
    tu_noise(s->x, n * ch, 0.5f, seed);
    for (i = 0; i < n; i++) {
        float sum = 0.0f;

        for (c = 0; c < ch; c++)
            sum += s->x[i * ch + c];
        s->m[i] = sum * (1.0f / (float)ch);
    }
}

static void signal_free(signal *s)
{
    free(s->x);
    free(s->m);
}

/* Run the stage over the whole signal with target t (NULL: silence),
 * pushing blocks of the sizes in `blocks` in turn (0-terminated; NULL: one
 * block); returns the n * ch output frames, malloc'd. */
static float *run_stage(const signal *s, const float *t, const int64_t *blocks)
{
    upmix *u;
    fifo out;
    int64_t done = 0, k = 0;
    float *y;

    assert_int_equal(upmix_create(RATE, s->ch, &u), SAMSEP_OK);
    assert_int_equal(fifo_init(&out, s->ch, 1024), 0);
    while (done < s->n) {
        int64_t b = blocks != NULL ? blocks[k] : s->n;

        if (blocks != NULL && blocks[++k] == 0)
            k = 0;
        if (b > s->n - done)
            b = s->n - done;
        assert_int_equal(upmix_push(u, s->m + done, t != NULL ? t + done : NULL,
                                    s->x + done * s->ch, b, &out),
                         0);
        done += b;
        /* never ahead of the input */
        assert_true(out.len <= done);
    }
    assert_int_equal(upmix_finish(u, &out), 0);
    assert_int_equal(out.len, s->n);
    y = malloc((size_t)(s->n * s->ch) * sizeof(float));
    assert_non_null(y);
    memcpy(y, fifo_peek(&out), (size_t)(s->n * s->ch) * sizeof(float));
    fifo_free(&out);
    upmix_destroy(u);
    return y;
}

/* max |y - g * x| over all samples */
static double worst_vs(const float *y, const float *x, double g, int64_t count)
{
    double w = 0.0;
    int64_t i;

    for (i = 0; i < count; i++)
        if (fabs((double)y[i] - g * x[i]) > w)
            w = fabs((double)y[i] - g * x[i]);
    return w;
}

static void test_target_is_mixture(void **state)
{
    static const int64_t odd[] = { 1, 7, 1000, 333, 4096, 2, 0 };
    signal s;
    float *y;

    (void)state;
    signal_noise(&s, RATE + 17, 2, 1);
    y = run_stage(&s, s.m, odd);
    assert_true(worst_vs(y, s.x, 1.0, s.n * s.ch) < 1e-5);
    free(y);
    signal_free(&s);

    /* five channels, one block */
    signal_noise(&s, 9000, 5, 2);
    y = run_stage(&s, s.m, NULL);
    assert_true(worst_vs(y, s.x, 1.0, s.n * s.ch) < 1e-5);
    free(y);
    signal_free(&s);
}

static void test_silent_target(void **state)
{
    float *zero, *y;
    int64_t i;
    signal s;

    (void)state;
    signal_noise(&s, 20000, 2, 3);
    y = run_stage(&s, NULL, NULL);
    for (i = 0; i < s.n * s.ch; i++)
        assert_true(y[i] == 0.0f);
    free(y);
    zero = calloc((size_t)s.n, sizeof(float));
    y = run_stage(&s, zero, NULL);
    for (i = 0; i < s.n * s.ch; i++)
        assert_true(y[i] == 0.0f);
    free(y);
    free(zero);
    signal_free(&s);
}

/* The mask is limited to [0, 1]: a target louder than the mixture (or of
 * the opposite sign) gives the mixture itself, never more; half of it gives
 * half of every channel. */
static void test_mask_bounds(void **state)
{
    float *t, *y;
    int64_t i;
    signal s;

    (void)state;
    signal_noise(&s, 30000, 2, 4);
    t = malloc((size_t)s.n * sizeof(float));
    for (i = 0; i < s.n; i++)
        t[i] = 4.0f * s.m[i];
    y = run_stage(&s, t, NULL);
    assert_true(worst_vs(y, s.x, 1.0, s.n * s.ch) < 1e-5);
    free(y);
    for (i = 0; i < s.n; i++)
        t[i] = -3.0f * s.m[i];
    y = run_stage(&s, t, NULL);
    assert_true(worst_vs(y, s.x, 1.0, s.n * s.ch) < 1e-5);
    free(y);
    for (i = 0; i < s.n; i++)
        t[i] = 0.5f * s.m[i];
    y = run_stage(&s, t, NULL);
    assert_true(worst_vs(y, s.x, 0.5, s.n * s.ch) < 1e-5);
    free(y);
    free(t);
    signal_free(&s);
}

/* Two sources, one on each side: the mono target made of the left one (as
 * a mono engine that found it would give) comes back on the left. */
static void test_pan_kept(void **state)
{
    int64_t n = RATE * 2, i;
    double el = 0, er = 0, err_l = 0;
    float *t, *y;
    signal s;

    (void)state;
    s.n = n;
    s.ch = 2;
    s.x = malloc((size_t)(2 * n) * sizeof(float));
    s.m = malloc((size_t)n * sizeof(float));
    t = malloc((size_t)n * sizeof(float));
    for (i = 0; i < n; i++) {
        s.x[2 * i] = 0.5f * sinf(2.0f * (float)M_PI * 440.0f * (float)i / RATE);
        s.x[2 * i + 1] = 0.5f * sinf(2.0f * (float)M_PI * 3150.0f * (float)i / RATE);
        s.m[i] = 0.5f * (s.x[2 * i] + s.x[2 * i + 1]);
        t[i] = 0.5f * s.x[2 * i];
    }
    y = run_stage(&s, t, NULL);
    for (i = RATE / 10; i < n - RATE / 10; i++) { /* away from the ends */
        double d = (double)y[2 * i] - s.x[2 * i];

        el += (double)s.x[2 * i] * s.x[2 * i];
        er += (double)y[2 * i + 1] * y[2 * i + 1];
        err_l += d * d;
    }
    /* the left source is back, nearly whole; the right side holds little */
    assert_true(10.0 * log10(el / err_l) > 30.0);
    assert_true(10.0 * log10(el / er) > 30.0);
    free(y);
    free(t);
    signal_free(&s);
}

/* The output does not depend on how the input is cut; a signal shorter
 * than the STFT's delay still gets its own length. */
static void test_blocks_and_short(void **state)
{
    static const int64_t a[] = { 5000, 0 }, b[] = { 1, 511, 3, 1999, 0 };
    float *t, *ya, *yb, *y;
    int64_t i;
    signal s;

    (void)state;
    signal_noise(&s, 12345, 3, 5);
    t = malloc((size_t)s.n * sizeof(float));
    for (i = 0; i < s.n; i++)
        t[i] = s.m[i] * (float)(i % 1000) / 1000.0f;
    ya = run_stage(&s, t, a);
    yb = run_stage(&s, t, b);
    assert_memory_equal(ya, yb, (size_t)(s.n * s.ch) * sizeof(float));
    free(ya);
    free(yb);
    free(t);
    signal_free(&s);

    signal_noise(&s, 10, 2, 6);
    y = run_stage(&s, s.m, NULL);
    assert_true(worst_vs(y, s.x, 1.0, s.n * s.ch) < 1e-5);
    free(y);
    signal_free(&s);
}

static void test_api_abuse(void **state)
{
    upmix *u = (upmix *)&u;

    (void)state;
    assert_int_equal(upmix_create(RATE, 0, &u), SAMSEP_ERR_INVALID);
    assert_null(u);
    assert_int_equal(upmix_create(0, 2, &u), SAMSEP_ERR_INVALID);
    assert_int_equal(upmix_create(-44100, 2, &u), SAMSEP_ERR_INVALID);
    assert_int_equal(upmix_create(RATE, 2, NULL), SAMSEP_ERR_INVALID);
    /* a rate as low as the reader takes still gets a usable frame */
    assert_int_equal(upmix_create(100, 2, &u), SAMSEP_OK);
    upmix_destroy(u);
    upmix_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_is_mixture), cmocka_unit_test(test_silent_target),
        cmocka_unit_test(test_mask_bounds),       cmocka_unit_test(test_pan_kept),
        cmocka_unit_test(test_blocks_and_short),  cmocka_unit_test(test_api_abuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
