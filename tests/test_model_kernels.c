/*
 * test_model_kernels.c - every optimised kernel against its scalar
 * reference (kernels_ref.c) by normalised error
 *     max|out - ref| / max(1, max|ref|) <= 1e-5,
 * on shapes chosen to be odd and to cross the kernels' tile boundaries; and
 * the same output, bit for bit, with 1, 2 and 3 threads. The thread pool is
 * checked on its own for coverage (each item exactly once) and nesting.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/kernels.h"
#include "kernels_ref.h"
#include "nn/cpu/threadpool.h"
#include "samsep.h"

#define TOL 1e-5
#define NCTX 3

static kctx *g_ctx[NCTX]; /* 1, 2 and 3 threads */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

/* uniform in [-1, 1) */
static float frand(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(g_rng >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rnd(int64_t n, float scale)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    int64_t i;
    assert_non_null(p);
    for (i = 0; i < n; i++)
        p[i] = frand() * scale;
    return p;
}

static float *zeros(int64_t n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    assert_non_null(p);
    return p;
}

static double nerr(const float *a, const float *ref, int64_t n)
{
    double m = 0.0, r = 1.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);
        if (isnan(a[i]) != isnan(ref[i]))
            return INFINITY;
        if (d > m)
            m = d;
        if (fabs(ref[i]) > r)
            r = fabs(ref[i]);
    }
    return m / r;
}

/* Worst error seen per kernel, printed at the end of each test. */
static double g_worst;

static void check(const char *what, const float *out, const float *ref,
                  int64_t n)
{
    double e = nerr(out, ref, n);
    if (e > g_worst)
        g_worst = e;
    if (!(e <= TOL))
        fail_msg("%s: normalised error %.3g > %.0e", what, e, TOL);
}

static void same(const char *what, const float *a, const float *b, int64_t n)
{
    if (memcmp(a, b, (size_t)n * sizeof *a) != 0)
        fail_msg("%s: output differs between thread counts", what);
}

static void report(const char *name)
{
    print_message("    %-16s max normalised error %.3g\n", name, g_worst);
    g_worst = 0.0;
}

/* ---- thread pool ------------------------------------------------------ */

typedef struct cover {
    int *hits;
    int bad_worker;
    int nthreads;
    tpool *pool;
    int *inner_hits;
} cover;

static void cover_fn(void *ctx, int64_t b, int64_t e, int w)
{
    cover *c = ctx;
    int64_t i;
    if (w < 0 || w >= c->nthreads)
        c->bad_worker = 1;
    for (i = b; i < e; i++)
        __atomic_add_fetch(&c->hits[i], 1, __ATOMIC_RELAXED);
}

static void inner_fn(void *ctx, int64_t b, int64_t e, int w)
{
    cover *c = ctx;
    int64_t i;
    (void)w;
    for (i = b; i < e; i++)
        __atomic_add_fetch(&c->inner_hits[i], 1, __ATOMIC_RELAXED);
}

static void nest_fn(void *ctx, int64_t b, int64_t e, int w)
{
    cover *c = ctx;
    cover_fn(ctx, b, e, w);
    tpool_parallel_for(c->pool, 5, inner_fn, c); /* runs inline */
}

static void test_threadpool(void **state)
{
    int nt, n, i, rep;
    (void)state;
    assert_int_equal(tpool_create(-1, NULL), SAMSEP_ERR_INVALID);
    tpool_destroy(NULL);
    assert_int_equal(tpool_size(NULL), 1);
    for (nt = 0; nt <= 4; nt++) {
        tpool *p = NULL;
        assert_int_equal(tpool_create(nt, &p), SAMSEP_OK);
        assert_true(tpool_size(p) >= 1);
        for (n = 0; n <= 37; n += (n < 9 ? 1 : 7)) {
            for (rep = 0; rep < 3; rep++) {
                cover c = { 0 };
                c.hits = calloc((size_t)n + 1, sizeof *c.hits);
                assert_non_null(c.hits);
                c.nthreads = tpool_size(p);
                tpool_parallel_for_n(p, n, rep == 2 ? 2 : 1000, cover_fn, &c);
                for (i = 0; i < n; i++)
                    assert_int_equal(c.hits[i], 1);
                assert_int_equal(c.bad_worker, 0);
                free(c.hits);
            }
        }
        {
            cover c = { 0 };
            int inner[5] = { 0 };
            c.hits = calloc(20, sizeof *c.hits);
            assert_non_null(c.hits);
            c.nthreads = tpool_size(p);
            c.pool = p;
            c.inner_hits = inner;
            tpool_parallel_for(p, 20, nest_fn, &c);
            for (i = 0; i < 20; i++)
                assert_int_equal(c.hits[i], 1);
            /* each outer range ran the 5 inner items once */
            for (i = 1; i < 5; i++)
                assert_int_equal(inner[i], inner[0]);
            assert_true(inner[0] >= 1);
            free(c.hits);
        }
        tpool_destroy(p);
    }
}

/* ---- matmul ----------------------------------------------------------- */

static void one_matmul(int64_t M, int64_t N, int64_t K, int64_t padx,
                       int64_t pady, int bias, float beta)
{
    int64_t ldx = K + padx, ldy = N + pady, ny = M * ldy, i;
    float *x = rnd(M * ldx, 1.0f), *W = rnd(N * K, 1.0f);
    float *b = bias ? rnd(N, 1.0f) : NULL;
    float *y0 = rnd(ny, 1.0f), *ref = malloc((size_t)ny * sizeof *ref);
    float *out[NCTX];
    char what[96];
    assert_non_null(ref);
    memcpy(ref, y0, (size_t)ny * sizeof *ref);
    kref_matmul_ex(x, ldx, W, b, ref, ldy, M, N, K, beta);
    snprintf(what, sizeof what, "matmul %lldx%lldx%lld beta %g",
             (long long)M, (long long)N, (long long)K, beta);
    for (i = 0; i < NCTX; i++) {
        out[i] = malloc((size_t)ny * sizeof *out[i]);
        assert_non_null(out[i]);
        memcpy(out[i], y0, (size_t)ny * sizeof *ref);
        k_matmul_ex(g_ctx[i], x, ldx, W, b, out[i], ldy, M, N, K, beta);
        check(what, out[i], ref, ny);
        if (i > 0)
            same(what, out[0], out[i], ny);
        free(i > 0 ? out[i] : NULL);
    }
    if (padx == 0 && pady == 0 && beta == 0.0f) {
        k_matmul(g_ctx[2], x, W, b, out[0], M, N, K);
        check(what, out[0], ref, ny);
    }
    free(out[0]);
    free(x);
    free(W);
    free(b);
    free(y0);
    free(ref);
}

static void test_matmul(void **state)
{
    (void)state;
    one_matmul(1, 1, 1, 0, 0, 0, 0.0f);
    one_matmul(7, 13, 5, 0, 0, 1, 0.0f);
    one_matmul(3, 5, 0, 0, 0, 1, 0.0f);
    one_matmul(130, 300, 67, 0, 0, 1, 0.0f);
    one_matmul(129, 257, 33, 3, 5, 0, 1.0f);
    one_matmul(65, 513, 96, 1, 0, 1, 1.0f);
    one_matmul(200, 31, 768, 0, 0, 0, 0.0f);
    report("matmul");
}

/* ---- norms, softmax --------------------------------------------------- */

static void test_norms(void **state)
{
    static const int64_t shapes[][2] = { { 1, 1 }, { 3, 7 }, { 129, 33 },
                                         { 300, 768 } };
    size_t s;
    int i, v;
    (void)state;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], D = shapes[s][1], n = M * D;
        float *x = rnd(n, 3.0f), *w = rnd(D, 1.0f), *b = rnd(D, 1.0f);
        float *ref = zeros(n), *out[NCTX];
        for (i = 0; i < n; i++)
            x[i] += 0.5f; /* a mean for LayerNorm to remove */
        for (v = 0; v < 4; v++) {
            const float *wv = (v & 1) ? w : NULL, *bv = (v & 2) ? b : NULL;
            kref_rmsnorm(x, wv, 1e-6f, ref, M, D);
            for (i = 0; i < NCTX; i++) {
                out[i] = zeros(n);
                k_rmsnorm(g_ctx[i], x, wv, 1e-6f, out[i], M, D);
                check("rmsnorm", out[i], ref, n);
                if (i)
                    same("rmsnorm", out[0], out[i], n);
            }
            /* in place */
            memcpy(out[1], x, (size_t)n * sizeof(float));
            k_rmsnorm(g_ctx[1], out[1], wv, 1e-6f, out[1], M, D);
            same("rmsnorm in place", out[0], out[1], n);
            kref_layernorm(x, wv, bv, 1e-5f, ref, M, D);
            for (i = 0; i < NCTX; i++) {
                k_layernorm(g_ctx[i], x, wv, bv, 1e-5f, out[i], M, D);
                check("layernorm", out[i], ref, n);
                if (i)
                    same("layernorm", out[0], out[i], n);
            }
            for (i = 0; i < NCTX; i++)
                free(out[i]);
        }
        free(x);
        free(w);
        free(b);
        free(ref);
    }
    report("rms/layernorm");
}

static void test_groupnorm(void **state)
{
    static const int64_t shapes[][4] = { /* B, C, T, G */
                                         { 1, 1, 1, 1 },
                                         { 2, 64, 29, 1 },
                                         { 3, 12, 37, 4 },
                                         { 2, 6, 1000, 6 } };
    size_t s;
    int i;
    (void)state;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t B = shapes[s][0], C = shapes[s][1], T = shapes[s][2];
        int64_t G = shapes[s][3], n = B * C * T;
        float *x = rnd(n, 2.0f), *w = rnd(C, 1.0f), *b = rnd(C, 1.0f);
        float *ref = zeros(n), *out[NCTX];
        assert_int_equal(kref_groupnorm(x, w, b, 1e-5f, ref, B, C, T, G), SAMSEP_OK);
        for (i = 0; i < NCTX; i++) {
            out[i] = zeros(n);
            assert_int_equal(k_groupnorm(g_ctx[i], x, w, b, 1e-5f, out[i], B, C, T, G),
                             SAMSEP_OK);
            check("groupnorm", out[i], ref, n);
            if (i)
                same("groupnorm", out[0], out[i], n);
        }
        kref_groupnorm(x, NULL, NULL, 1e-5f, ref, B, C, T, G);
        k_groupnorm(g_ctx[2], x, NULL, NULL, 1e-5f, out[2], B, C, T, G);
        check("groupnorm no affine", out[2], ref, n);
        for (i = 0; i < NCTX; i++)
            free(out[i]);
        free(x);
        free(w);
        free(b);
        free(ref);
    }
    {
        float x[6] = { 0 };
        assert_int_equal(k_groupnorm(g_ctx[0], x, NULL, NULL, 1e-5f, x, 1, 3, 2, 2),
                         SAMSEP_ERR_INVALID);
    }
    report("groupnorm");
}

static void test_softmax(void **state)
{
    int64_t M = 150, N = 203, n = M * N, i, j;
    float *x = rnd(n, 8.0f), *ref = zeros(n), *out[NCTX];
    int t;
    (void)state;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++)
            if ((i * 7 + j * 3) % 11 == 0 || i == 5)
                x[i * N + j] = -INFINITY; /* row 5 entirely masked */
    kref_softmax(x, ref, M, N);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(n);
        k_softmax(g_ctx[t], x, out[t], M, N);
        check("softmax", out[t], ref, n);
        if (t)
            same("softmax", out[0], out[t], n);
    }
    for (j = 0; j < N; j++) {
        assert_true(out[0][5 * N + j] == 0.0f);
        if ((0 * 7 + j * 3) % 11 == 0)
            assert_true(out[0][j] == 0.0f);
    }
    k_softmax(g_ctx[1], x, x, M, N); /* in place */
    same("softmax in place", out[0], x, n);
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(x);
    free(ref);
    report("softmax");
}

/* ---- attention, rope -------------------------------------------------- */

typedef enum { LAY_HEAD_MAJOR, LAY_INTERLEAVED, LAY_BHLD } layout;

static k_strides lay(layout l, int64_t L, int64_t H, int64_t dh)
{
    return l == LAY_HEAD_MAJOR ? k_strides_head_major(L, H, dh)
           : l == LAY_INTERLEAVED ? k_strides_interleaved(L, H, dh)
                                  : k_strides_bhld(H, L, dh);
}

static void one_attention(int64_t B, int64_t H, int64_t Lq, int64_t Lk,
                          int64_t dh, layout lq, layout lkv, float scale,
                          int bias_kind, int masked)
{
    k_attn_args a;
    int64_t nq = B * Lq * H * dh, nk = B * Lk * H * dh, i, j;
    float *q = rnd(nq, 1.5f), *kk = rnd(nk, 1.5f), *v = rnd(nk, 1.0f);
    float *ref = zeros(nq), *out[NCTX], *bias = NULL;
    uint8_t *mask = NULL;
    int t;

    memset(&a, 0, sizeof a);
    a.B = B;
    a.H = H;
    a.Lq = Lq;
    a.Lk = Lk;
    a.dh = dh;
    a.q = q;
    a.k = kk;
    a.v = v;
    a.q_s = lay(lq, Lq, H, dh);
    a.k_s = lay(lkv, Lk, H, dh);
    a.v_s = lay(lkv, Lk, H, dh);
    a.out_s = k_strides_head_major(Lq, H, dh);
    a.scale = scale;
    if (bias_kind == 1) { /* full [B, H, Lq, Lk] */
        bias = rnd(B * H * Lq * Lk, 2.0f);
        a.bias = bias;
        a.bias_s.b = H * Lq * Lk;
        a.bias_s.h = Lq * Lk;
        a.bias_s.t = Lk;
        a.bias_s.j = 1;
    } else if (bias_kind == 2) { /* relative table [H, Lq+Lk-1], shared */
        bias = rnd(H * (Lq + Lk - 1), 2.0f);
        a.bias = bias + (Lq - 1);
        a.bias_s.b = 0;
        a.bias_s.h = Lq + Lk - 1;
        a.bias_s.t = -1;
        a.bias_s.j = 1;
    }
    if (masked) {
        mask = malloc((size_t)(B * Lk));
        assert_non_null(mask);
        for (i = 0; i < B; i++)
            for (j = 0; j < Lk; j++)
                mask[i * Lk + j] = (uint8_t)(i == 1 ? 0 /* nothing valid */
                                             : j < Lk - i * 3);
        a.key_mask = mask;
    }
    a.out = ref;
    assert_int_equal(kref_attention(&a), SAMSEP_OK);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(nq);
        a.out = out[t];
        assert_int_equal(k_attention(g_ctx[t], &a), SAMSEP_OK);
        check("attention", out[t], ref, nq);
        if (t)
            same("attention", out[0], out[t], nq);
    }
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(q);
    free(kk);
    free(v);
    free(ref);
    free(bias);
    free(mask);
}

static void test_attention(void **state)
{
    (void)state;
    one_attention(1, 1, 1, 1, 1, LAY_BHLD, LAY_BHLD, 1.0f, 0, 0);
    one_attention(2, 4, 3, 3, 8, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 1.0f, 2, 0);
    one_attention(3, 4, 71, 71, 8, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 1.0f, 2, 1);
    one_attention(2, 3, 45, 17, 16, LAY_INTERLEAVED, LAY_INTERLEAVED, 0.25f, 0, 1);
    one_attention(2, 2, 33, 65, 5, LAY_BHLD, LAY_INTERLEAVED, 0.4f, 1, 1);
    one_attention(1, 12, 130, 130, 64, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 0.125f, 2, 0);
    {
        k_attn_args a;
        float x[8] = { 0 };
        memset(&a, 0, sizeof a);
        a.B = 1;
        a.H = 1;
        a.Lq = 1;
        a.Lk = 100000;
        a.dh = 8;
        a.q = a.k = a.v = x;
        a.out = x;
        assert_int_equal(k_attention(g_ctx[0], &a), SAMSEP_ERR_INVALID);
        assert_int_equal(k_attention(g_ctx[0], NULL), SAMSEP_ERR_INVALID);
    }
    report("attention");
}

static void test_rope(void **state)
{
    int64_t B = 2, H = 3, L = 41, dh = 16, n = B * H * L * dh;
    float *cs = zeros(L * dh / 2), *sn = zeros(L * dh / 2);
    float *x = rnd(n, 1.0f), *ref = zeros(n), *out[NCTX];
    k_strides s = k_strides_interleaved(L, H, dh);
    int t;
    (void)state;
    k_rope_table(cs, sn, L, dh, 20000.0f);
    /* position 0 is the identity; cos^2 + sin^2 = 1 */
    for (t = 0; t < dh / 2; t++) {
        assert_true(cs[t] == 1.0f && sn[t] == 0.0f);
        assert_true(fabsf(cs[40 * dh / 2 + t] * cs[40 * dh / 2 + t] +
                          sn[40 * dh / 2 + t] * sn[40 * dh / 2 + t] - 1.0f) < 1e-6f);
    }
    memcpy(ref, x, (size_t)n * sizeof *x);
    kref_rope(ref, s, B, H, L, dh, cs, sn);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(n);
        memcpy(out[t], x, (size_t)n * sizeof *x);
        k_rope(g_ctx[t], out[t], s, B, H, L, dh, cs, sn);
        check("rope", out[t], ref, n);
        if (t)
            same("rope", out[0], out[t], n);
    }
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(cs);
    free(sn);
    free(x);
    free(ref);
    report("rope");
}

/* ---- convolutions ----------------------------------------------------- */

static void one_conv(int64_t B, int64_t Cin, int64_t Lin, int64_t Cout,
                     int64_t K, int64_t stride, int64_t dil, int64_t pl,
                     int64_t pr, int64_t groups, k_pad_mode mode, int bias)
{
    k_conv1d_args a = { B, Cin, Lin, Cout, K, stride, dil, pl, pr, groups, mode };
    int64_t Lout = k_conv1d_out_len(&a), ny, nw = Cout * (Cin / groups) * K;
    float *x, *W, *b, *ref, *out[NCTX];
    char what[128];
    int t;

    assert_true(Lout > 0);
    assert_true(k_conv1d_scratch(&a) <= kctx_scratch_floats(g_ctx[0]));
    ny = B * Cout * Lout;
    x = rnd(B * Cin * Lin, 1.0f);
    W = rnd(nw, 0.5f);
    b = bias ? rnd(Cout, 1.0f) : NULL;
    ref = zeros(ny);
    snprintf(what, sizeof what,
             "conv1d B%lld Cin%lld L%lld Cout%lld K%lld s%lld d%lld p%lld/%lld g%lld m%d",
             (long long)B, (long long)Cin, (long long)Lin, (long long)Cout,
             (long long)K, (long long)stride, (long long)dil, (long long)pl,
             (long long)pr, (long long)groups, (int)mode);
    assert_int_equal(kref_conv1d(&a, x, W, b, ref), SAMSEP_OK);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(ny);
        assert_int_equal(k_conv1d(g_ctx[t], &a, x, W, b, out[t]), SAMSEP_OK);
        check(what, out[t], ref, ny);
        if (t)
            same(what, out[0], out[t], ny);
    }
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(x);
    free(W);
    free(b);
    free(ref);
}

static void test_conv1d(void **state)
{
    (void)state;
    one_conv(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, K_PAD_ZERO, 0);
    one_conv(2, 3, 50, 5, 3, 1, 1, 1, 1, 1, K_PAD_ZERO, 1);
    one_conv(1, 8, 601, 6, 7, 1, 9, 27, 27, 1, K_PAD_ZERO, 1);   /* RU dil 9 */
    one_conv(2, 4, 300, 8, 4, 2, 1, 1, 1, 1, K_PAD_ZERO, 1);     /* down by 2 */
    one_conv(1, 5, 1000, 7, 16, 8, 1, 4, 4, 1, K_PAD_ZERO, 1);   /* down by 8 */
    one_conv(2, 6, 77, 9, 5, 3, 2, 4, 1, 3, K_PAD_REFLECT, 1);   /* groups */
    one_conv(1, 4, 20, 4, 3, 1, 1, 2, 5, 4, K_PAD_REPLICATE, 0); /* depthwise */
    one_conv(3, 12, 700, 10, 1, 1, 1, 0, 0, 1, K_PAD_ZERO, 1);   /* 1x1 direct */
    one_conv(1, 3, 9, 2, 1, 2, 1, 0, 0, 1, K_PAD_ZERO, 1);       /* 1x1 strided */
    one_conv(1, 2, 33, 3, 7, 1, 1, 6, 0, 1, K_PAD_ZERO, 1);      /* causal */
    one_conv(1, 300, 40, 17, 7, 1, 1, 3, 3, 1, K_PAD_REFLECT, 1); /* Cin*K > tile */
    {
        k_conv1d_args bad = { 1, 3, 4, 2, 3, 1, 1, 4, 0, 1, K_PAD_REFLECT };
        float x[16] = { 0 };
        assert_true(k_conv1d_out_len(&bad) < 0);
        assert_int_equal(k_conv1d(g_ctx[0], &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
        bad.pad_mode = K_PAD_ZERO;
        bad.groups = 2;
        assert_int_equal(k_conv1d(g_ctx[0], &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
    }
    report("conv1d");
}

static void one_convt(int64_t B, int64_t Cin, int64_t Lin, int64_t Cout,
                      int64_t K, int64_t stride, int64_t dil, int64_t pad,
                      int64_t opad, int64_t crop, int64_t groups, int bias)
{
    k_convt1d_args a = { B, Cin, Lin, Cout, K, stride, dil, pad, opad, crop, groups };
    int64_t Lout = k_convt1d_out_len(&a), ny;
    float *x, *W, *b, *ref, *out[NCTX];
    char what[128];
    int t;

    assert_true(Lout > 0);
    assert_true(k_convt1d_scratch(&a) <= kctx_scratch_floats(g_ctx[0]));
    ny = B * Cout * Lout;
    x = rnd(B * Cin * Lin, 1.0f);
    W = rnd(Cin * (Cout / groups) * K, 0.5f);
    b = bias ? rnd(Cout, 1.0f) : NULL;
    ref = zeros(ny);
    snprintf(what, sizeof what,
             "convt1d B%lld Cin%lld L%lld Cout%lld K%lld s%lld d%lld p%lld op%lld c%lld g%lld",
             (long long)B, (long long)Cin, (long long)Lin, (long long)Cout,
             (long long)K, (long long)stride, (long long)dil, (long long)pad,
             (long long)opad, (long long)crop, (long long)groups);
    assert_int_equal(kref_convt1d(&a, x, W, b, ref), SAMSEP_OK);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(ny);
        assert_int_equal(k_convt1d(g_ctx[t], &a, x, W, b, out[t]), SAMSEP_OK);
        check(what, out[t], ref, ny);
        if (t)
            same(what, out[0], out[t], ny);
    }
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(x);
    free(W);
    free(b);
    free(ref);
}

static void test_convt1d(void **state)
{
    (void)state;
    one_convt(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0);
    one_convt(2, 6, 40, 3, 24, 12, 1, 6, 0, 0, 1, 1);   /* DAC stride 12 */
    one_convt(1, 4, 101, 5, 10, 5, 1, 3, 1, 0, 1, 1);   /* odd stride, out pad */
    one_convt(2, 3, 150, 4, 4, 2, 1, 1, 0, 0, 1, 1);    /* Lout 300 > tile */
    one_convt(1, 4, 60, 2, 16, 8, 1, 0, 0, 8, 1, 1);    /* causal: crop K-s */
    one_convt(1, 6, 30, 9, 5, 3, 2, 2, 1, 0, 3, 1);     /* dilation, groups */
    one_convt(1, 5, 7, 3, 3, 1, 1, 0, 0, 0, 1, 0);      /* stride 1 */
    one_convt(1, 2, 5, 2, 2, 7, 1, 0, 0, 0, 1, 1);      /* stride > K: gaps */
    {
        k_convt1d_args bad = { 1, 2, 5, 2, 3, 2, 1, 0, 2, 0, 1 };
        float x[32] = { 0 };
        assert_true(k_convt1d_out_len(&bad) < 0); /* output_padding >= stride */
        assert_int_equal(k_convt1d(g_ctx[0], &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
    }
    report("convt1d");
}

static void test_pad1d(void **state)
{
    int64_t B = 2, C = 3, L = 11, n = B * C * L;
    float *x = rnd(n, 1.0f), *ref = zeros(B * C * (L + 9)), *out = zeros(B * C * (L + 9));
    int m;
    (void)state;
    for (m = 0; m < 3; m++) {
        assert_int_equal(kref_pad1d(x, ref, B, C, L, 4, 5, (k_pad_mode)m), SAMSEP_OK);
        assert_int_equal(k_pad1d(g_ctx[2], x, out, B, C, L, 4, 5, (k_pad_mode)m), SAMSEP_OK);
        same("pad1d", ref, out, B * C * (L + 9));
        if (m == K_PAD_REFLECT) /* torch: [a b c ..] padded 2 -> [c b a b c ..] */
            assert_true(out[0] == x[4] && out[3] == x[1] && out[4] == x[0]);
        if (m == K_PAD_REPLICATE)
            assert_true(out[0] == x[0] && out[3] == x[0] && out[L + 8] == x[L - 1]);
    }
    assert_int_equal(k_pad1d(g_ctx[0], x, out, B, C, L, 11, 0, K_PAD_REFLECT),
                     SAMSEP_ERR_INVALID);
    free(x);
    free(ref);
    free(out);
}

/* ---- LSTM ------------------------------------------------------------- */

static void one_lstm(int64_t T, int64_t B, int64_t I, int64_t H, int state0,
                     int biases)
{
    float *x = rnd(T * B * I, 1.0f), *Wi = rnd(4 * H * I, 0.4f);
    float *Wh = rnd(4 * H * H, 0.4f);
    float *bi = biases ? rnd(4 * H, 0.3f) : NULL, *bh = biases ? rnd(4 * H, 0.3f) : NULL;
    float *h0 = state0 ? rnd(B * H, 0.5f) : NULL, *c0 = state0 ? rnd(B * H, 0.5f) : NULL;
    float *ref = zeros(T * B * H), *rh = zeros(B * H), *rc = zeros(B * H);
    float *out[NCTX], *hT = zeros(B * H), *cT = zeros(B * H);
    float *work = zeros((int64_t)k_lstm_work_floats(B, H));
    int t;

    assert_int_equal(kref_lstm(x, Wi, Wh, bi, bh, h0, c0, ref, rh, rc, T, B, I, H),
                     SAMSEP_OK);
    for (t = 0; t < NCTX; t++) {
        out[t] = zeros(T * B * H);
        k_lstm(g_ctx[t], x, Wi, Wh, bi, bh, h0, c0, out[t], hT, cT, T, B, I, H, work);
        check("lstm", out[t], ref, T * B * H);
        check("lstm hT", hT, rh, B * H);
        check("lstm cT", cT, rc, B * H);
        if (t)
            same("lstm", out[0], out[t], T * B * H);
    }
    for (t = 0; t < NCTX; t++)
        free(out[t]);
    free(x);
    free(Wi);
    free(Wh);
    free(bi);
    free(bh);
    free(h0);
    free(c0);
    free(ref);
    free(rh);
    free(rc);
    free(hT);
    free(cT);
    free(work);
}

static void test_lstm(void **state)
{
    (void)state;
    one_lstm(1, 1, 1, 1, 0, 0);
    one_lstm(40, 2, 5, 37, 1, 1);
    one_lstm(70, 1, 16, 16, 0, 1);
    one_lstm(33, 3, 64, 64, 1, 1);
    report("lstm");
}

/* ---- activations and elementwise -------------------------------------- */

typedef void (*act_fn)(kctx *, const float *, float *, int64_t);
typedef void (*act_ref)(const float *, float *, int64_t);

static void elu1(kctx *k, const float *x, float *y, int64_t n)
{
    k_elu(k, x, y, n, 1.0f);
}

static void elu1_ref(const float *x, float *y, int64_t n)
{
    kref_elu(x, y, n, 1.0f);
}

static void elu07(kctx *k, const float *x, float *y, int64_t n)
{
    k_elu(k, x, y, n, 0.7f);
}

static void elu07_ref(const float *x, float *y, int64_t n)
{
    kref_elu(x, y, n, 0.7f);
}

static void test_activations(void **state)
{
    static const struct {
        const char *name;
        act_fn f;
        act_ref r;
    } acts[] = {
        { "relu", k_relu, kref_relu },
        { "gelu_tanh", k_gelu_tanh, kref_gelu_tanh },
        { "gelu_erf", k_gelu_erf, kref_gelu_erf },
        { "silu", k_silu, kref_silu },
        { "sigmoid", k_sigmoid, kref_sigmoid },
        { "elu", elu1, elu1_ref },
        { "elu0.7", elu07, elu07_ref },
        { "tanh", k_tanh, kref_tanh },
    };
    int64_t n = 100003, i;
    float *x = rnd(n, 12.0f), *ref = zeros(n), *out[NCTX];
    size_t a;
    int t;
    (void)state;
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 90.0f;
    x[3] = -90.0f;
    for (a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        acts[a].r(x, ref, n);
        for (t = 0; t < NCTX; t++) {
            out[t] = zeros(n);
            acts[a].f(g_ctx[t], x, out[t], n);
            check(acts[a].name, out[t], ref, n);
            if (t)
                same(acts[a].name, out[0], out[t], n);
        }
        memcpy(out[1], x, (size_t)n * sizeof *x);
        acts[a].f(g_ctx[1], out[1], out[1], n); /* in place */
        same(acts[a].name, out[0], out[1], n);
        for (t = 0; t < NCTX; t++)
            free(out[t]);
    }
    {
        int64_t B = 2, C = 5, T = 10007, m = B * C * T;
        float *sx = rnd(m, 3.0f), *al = rnd(C, 1.0f), *sr = zeros(m), *so = zeros(m);
        for (i = 0; i < C; i++)
            al[i] = 0.5f + fabsf(al[i]) * 1.5f;
        kref_snake(sx, al, sr, B, C, T);
        for (t = 0; t < NCTX; t++) {
            float *o = zeros(m);
            k_snake(g_ctx[t], sx, al, o, B, C, T);
            check("snake", o, sr, m);
            if (t)
                same("snake", so, o, m);
            else
                memcpy(so, o, (size_t)m * sizeof *o);
            free(o);
        }
        free(sx);
        free(al);
        free(sr);
        free(so);
    }
    free(x);
    free(ref);
    report("activations");
}

static void test_elementwise(void **state)
{
    int64_t n = 50001, B = 3, T = 77, D = 65, m = B * T * D;
    float *a = rnd(n, 2.0f), *b = rnd(n, 2.0f), *r = zeros(n), *o = zeros(n);
    float *x = rnd(m, 2.0f), *sh = rnd(B * D, 1.0f), *sc = rnd(B * D, 1.0f);
    float *y0 = rnd(m, 1.0f), *ry = zeros(m), *oy = zeros(m);
    float *tab = rnd(50 * 9, 1.0f), *er = zeros(7 * 9), *eo = zeros(7 * 9);
    int32_t ids[7] = { 0, 49, 3, 3, 17, 8, 1 };
    int t;
    (void)state;
    for (t = 0; t < NCTX; t++) {
        kref_add(a, b, r, n);
        k_add(g_ctx[t], a, b, o, n);
        same("add", r, o, n);
        kref_mul(a, b, r, n);
        k_mul(g_ctx[t], a, b, o, n);
        same("mul", r, o, n);
        kref_scale(a, 0.37f, r, n);
        k_scale(g_ctx[t], a, 0.37f, o, n);
        same("scale", r, o, n);
        kref_modulate(x, sh, sc, ry, B, T, D);
        k_modulate(g_ctx[t], x, sh, sc, oy, B, T, D);
        check("modulate", oy, ry, m);
        memcpy(ry, y0, (size_t)m * sizeof *ry);
        memcpy(oy, y0, (size_t)m * sizeof *oy);
        kref_add_gated(x, sh, ry, B, T, D);
        k_add_gated(g_ctx[t], x, sh, oy, B, T, D);
        check("add_gated", oy, ry, m);
        kref_transpose(x, ry, B, T, D);
        k_transpose(g_ctx[t], x, oy, B, T, D);
        same("transpose", ry, oy, m);
        assert_int_equal(kref_embedding(tab, 50, 9, ids, 7, er), SAMSEP_OK);
        assert_int_equal(k_embedding(g_ctx[t], tab, 50, 9, ids, 7, eo), SAMSEP_OK);
        same("embedding", er, eo, 7 * 9);
    }
    ids[3] = 50;
    assert_int_equal(k_embedding(g_ctx[0], tab, 50, 9, ids, 7, eo), SAMSEP_ERR_INVALID);
    ids[3] = -1;
    assert_int_equal(k_embedding(g_ctx[0], tab, 50, 9, ids, 7, eo), SAMSEP_ERR_INVALID);
    free(a);
    free(b);
    free(r);
    free(o);
    free(x);
    free(sh);
    free(sc);
    free(y0);
    free(ry);
    free(oy);
    free(tab);
    free(er);
    free(eo);
    report("elementwise");
}

static void test_kctx(void **state)
{
    kctx *k = NULL;
    char err[128] = "";
    (void)state;
    assert_int_equal(kctx_create(-3, &k, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_null(k);
    assert_true(err[0] != '\0');
    assert_int_equal(kctx_create(0, &k, err, sizeof err), SAMSEP_OK);
    assert_true(kctx_threads(k) >= 1);
    assert_int_equal(kctx_scratch_floats(k), 0);
    assert_int_equal(kctx_reserve(k, 1000), SAMSEP_OK);
    assert_int_equal(kctx_reserve(k, 10), SAMSEP_OK);
    assert_true(kctx_scratch_floats(k) >= 1000);
    assert_non_null(kctx_scratch(k, 0));
    assert_null(kctx_scratch(k, kctx_threads(k)));
    assert_true(((uintptr_t)kctx_scratch(k, 0) & 63) == 0);
    kctx_destroy(k);
    kctx_destroy(NULL);
}

static int setup(void **state)
{
    int i;
    char err[128];
    (void)state;
    for (i = 0; i < NCTX; i++) {
        if (kctx_create(i + 1, &g_ctx[i], err, sizeof err) != SAMSEP_OK)
            return -1;
        if (kctx_reserve(g_ctx[i], (size_t)1 << 21) != SAMSEP_OK)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    int i;
    (void)state;
    for (i = 0; i < NCTX; i++)
        kctx_destroy(g_ctx[i]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threadpool),
        cmocka_unit_test(test_kctx),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_groupnorm),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_conv1d),
        cmocka_unit_test(test_convt1d),
        cmocka_unit_test(test_pad1d),
        cmocka_unit_test(test_lstm),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_elementwise),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
