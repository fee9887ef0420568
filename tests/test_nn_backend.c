/*
 * test_nn_backend.c - every kernel of every compute backend against its
 * scalar reference (tests/support/kernels_ref.c), as ggml's
 * test-backend-ops checks each backend op by op: by normalised error
 *     max|out - ref| / max(1, max|ref|) <= 1e-5,
 * on shapes chosen to be odd and to cross the kernels' tile boundaries; and
 * the same output, bit for bit, with 1, 2 and 3 threads.
 *
 * The CPU backend has a kernel path per ISA: the program runs itself once
 * per row of the ISA table this CPU can run, capped with SAMSEP_ISA as a
 * user would, and skips the others with the reason. The matrix-product
 * core of each path is also checked on its own, on shapes that cross every
 * cache block and in every operand layout.
 *
 * Inputs go to each backend through nn_upload and results come back
 * through nn_download, so a backend whose memory is not the host's (CUDA,
 * next) is checked by this same file. The last test fails if a kernel of
 * nn.h was not exercised on every backend: a new kernel needs a case here.
 * The CPU backend's thread pool is checked on its own for coverage (each
 * item exactly once) and nesting.
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
#include <unistd.h>

#include <cmocka.h>

#include "kernels_ref.h"
#include "nn/cpu/isa.h"
#include "nn/cpu/threadpool.h"
#include "nn/nn.h"
#include "samsep.h"

#define TOL 1e-5
#define NCTX 3 /* 1, 2 and 3 threads */
#define MAXB 8

typedef struct backend {
    const char *name; /* the backend */
    char label[48];   /* backend/path, for messages */
    nn_ctx *k[NCTX];
} backend;

static backend g_bk[MAXB];
static int g_nb;
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

/* Every (backend, context) pair: FOR_EACH_CTX(b, t) { nn_ctx *k = K(b, t); } */
#define FOR_EACH_CTX(b, t)     \
    for (b = 0; b < g_nb; b++) \
        for (t = 0; t < NCTX; t++)
#define K(b, t) (g_bk[b].k[t])

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

/* ---- backend memory ---------------------------------------------------- */

/* A backend copy of `bytes` of host memory (NULL stays NULL). */
static void *upb(nn_ctx *k, const void *h, size_t bytes)
{
    void *d;
    if (h == NULL)
        return NULL;
    d = nn_alloc(k, bytes > 0 ? bytes : 1);
    assert_non_null(d);
    assert_int_equal(nn_upload(k, d, h, bytes), SAMSEP_OK);
    return d;
}

static float *up(nn_ctx *k, const float *h, int64_t n)
{
    return upb(k, h, (size_t)(n > 0 ? n : 0) * sizeof(float));
}

/* A host copy of n floats of backend memory; the caller frees it. */
static float *down(nn_ctx *k, const float *d, int64_t n)
{
    float *h = zeros(n);
    assert_int_equal(nn_download(k, h, d, (size_t)n * sizeof *h), SAMSEP_OK);
    return h;
}

/* ---- comparisons -------------------------------------------------------- */

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

static void check(int b, const char *what, const float *out, const float *ref, int64_t n)
{
    double e = nerr(out, ref, n);
    if (e > g_worst)
        g_worst = e;
    if (!(e <= TOL))
        fail_msg("%s on %s: normalised error %.3g > %.0e", what, g_bk[b].label, e, TOL);
}

static void same(int b, const char *what, const float *a, const float *c, int64_t n)
{
    if (memcmp(a, c, (size_t)n * sizeof *a) != 0)
        fail_msg("%s on %s: output differs between thread counts", what, g_bk[b].label);
}

/* Compare result t of backend b with the reference and with t = 0. */
static void judge(int b, int t, const char *what, float **out, const float *ref,
                  int64_t n)
{
    check(b, what, out[t], ref, n);
    if (t > 0)
        same(b, what, out[0], out[t], n);
}

static void free_outs(float **out)
{
    int t;
    for (t = 0; t < NCTX; t++) {
        free(out[t]);
        out[t] = NULL;
    }
}

static void report(const char *name)
{
    print_message("    %-16s max normalised error %.3g\n", name, g_worst);
    g_worst = 0.0;
}

/* ---- CPU backend: the thread pool -------------------------------------- */

typedef struct cover {
    int *hits;
    int bad_worker;
    int nthreads;
    nn_tpool *pool;
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
    nn_tpool_parallel_for(c->pool, 5, inner_fn, c); /* runs inline */
}

static void test_threadpool(void **state)
{
    int nt, n, i, rep;
    (void)state;
    assert_int_equal(nn_tpool_create(-1, NULL), SAMSEP_ERR_INVALID);
    nn_tpool_destroy(NULL);
    assert_int_equal(nn_tpool_size(NULL), 1);
    for (nt = 0; nt <= 4; nt++) {
        nn_tpool *p = NULL;
        assert_int_equal(nn_tpool_create(nt, &p), SAMSEP_OK);
        assert_true(nn_tpool_size(p) >= 1);
        for (n = 0; n <= 37; n += (n < 9 ? 1 : 7)) {
            for (rep = 0; rep < 3; rep++) {
                cover c = { 0 };
                c.hits = calloc((size_t)n + 1, sizeof *c.hits);
                assert_non_null(c.hits);
                c.nthreads = nn_tpool_size(p);
                nn_tpool_parallel_for_n(p, n, rep == 2 ? 2 : 1000, cover_fn, &c);
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
            c.nthreads = nn_tpool_size(p);
            c.pool = p;
            c.inner_hits = inner;
            nn_tpool_parallel_for(p, 20, nest_fn, &c);
            for (i = 0; i < 20; i++)
                assert_int_equal(c.hits[i], 1);
            /* each outer range ran the 5 inner items once */
            for (i = 1; i < 5; i++)
                assert_int_equal(inner[i], inner[0]);
            assert_true(inner[0] >= 1);
            free(c.hits);
        }
        nn_tpool_destroy(p);
    }
}

/* ---- contexts and memory ------------------------------------------------ */

static void test_contexts(void **state)
{
    nn_ctx *k = NULL, *k2 = NULL;
    nn_params p = { NULL, -3 };
    char err[128] = "";
    float h[5] = { 1, 2, 3, 4, 5 }, back[5] = { 0 };
    float *d;
    int b;
    (void)state;
    assert_true(nn_backend_count() >= 1);
    assert_string_equal(nn_backend_name(0), "cpu");
    assert_null(nn_backend_name(nn_backend_count()));
    assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_null(k);
    assert_true(err[0] != '\0');
    p.threads = 0;
    p.backend = "abacus";
    assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_non_null(strstr(err, "abacus"));
    assert_int_equal(nn_ctx_create(NULL, NULL, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_int_equal(nn_ctx_create(NULL, &k, err, sizeof err), SAMSEP_OK);
    assert_string_equal(nn_ctx_backend(k), "cpu");
    assert_true(nn_ctx_threads(k) >= 1);
    nn_ctx_destroy(k);
    nn_ctx_destroy(NULL);
    for (b = 0; b < g_nb; b++) {
        p.backend = g_bk[b].name;
        p.threads = 2;
        assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_OK);
        assert_int_equal(nn_ctx_create(&p, &k2, err, sizeof err), SAMSEP_OK);
        assert_string_equal(nn_ctx_backend(k), g_bk[b].name);
        assert_int_equal(nn_ctx_threads(k), 2);
        assert_true(nn_ctx_shares_memory(k, k2));
        assert_false(nn_ctx_shares_memory(k, NULL));
        assert_int_equal(nn_scratch_floats(k), 0);
        assert_int_equal(nn_reserve(k, 1000), SAMSEP_OK);
        assert_int_equal(nn_reserve(k, 10), SAMSEP_OK);
        assert_true(nn_scratch_floats(k) >= 1000);
        /* memory made on k, written and read through k2 */
        d = nn_alloc_f32(k, 5);
        assert_non_null(d);
        assert_int_equal((uintptr_t)d % 64, 0);
        assert_int_equal(nn_upload(k2, d, h, sizeof h), SAMSEP_OK);
        assert_int_equal(nn_sync(k2), SAMSEP_OK);
        assert_int_equal(nn_download(k, back, d, sizeof back), SAMSEP_OK);
        assert_memory_equal(back, h, sizeof h);
        assert_int_equal(nn_upload(k, NULL, h, 4), SAMSEP_ERR_INVALID);
        assert_int_equal(nn_download(k, back, NULL, 4), SAMSEP_ERR_INVALID);
        assert_int_equal(nn_upload(k, d, h, 0), SAMSEP_OK);
        nn_free(k2, d);
        nn_free(k, NULL);
        assert_null(nn_alloc(NULL, 4));
        nn_ctx_destroy(k2);
        nn_ctx_destroy(k);
    }
    /* every kernel refuses a missing context */
    assert_int_equal(nn_relu(NULL, h, h, 5), SAMSEP_ERR_INVALID);
    assert_int_equal(nn_matmul(NULL, h, h, NULL, h, 1, 1, 1), SAMSEP_ERR_INVALID);
    assert_int_equal(nn_sync(NULL), SAMSEP_ERR_INVALID);
}

/* ---- copies ------------------------------------------------------------ */

static void test_copies(void **state)
{
    int64_t rows = 37, cols = 5003, ldx = 5010, ldy = 5007, n = rows * ldy;
    float *x = rnd(rows * ldx, 1.0f), *y0 = rnd(n, 1.0f), *ref = zeros(n), *out[NCTX];
    int b, t;
    (void)state;
    memcpy(ref, y0, (size_t)n * sizeof *ref);
    kref_copy2d(x, ldx, ref, ldy, rows, cols);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, rows * ldx), *dy = up(k, y0, n), *o;
        assert_int_equal(nn_copy2d(k, dx, ldx, dy, ldy, rows, cols), SAMSEP_OK);
        out[t] = down(k, dy, n);
        judge(b, t, "copy2d", out, ref, n);
        assert_int_equal(nn_copy(k, dx, dy, 9000), SAMSEP_OK);
        o = down(k, dy, 9000);
        same(b, "copy", o, x, 9000);
        free(o);
        assert_int_equal(nn_copy2d(k, dx, 3, dy, 5, 2, 4), SAMSEP_ERR_INVALID);
        assert_int_equal(nn_copy(k, dx, dy, -1), SAMSEP_ERR_INVALID);
        nn_free(k, dx);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(y0);
    free(ref);
    report("copy/copy2d");
}

/* ---- matmul ----------------------------------------------------------- */

static void one_matmul(int64_t M, int64_t N, int64_t K, int64_t padx, int64_t pady,
                       int bias, float beta)
{
    int64_t ldx = K + padx, ldy = N + pady, ny = M * ldy;
    float *x = rnd(M * ldx, 1.0f), *W = rnd(N * K, 1.0f);
    float *bv = bias ? rnd(N, 1.0f) : NULL;
    float *y0 = rnd(ny, 1.0f), *ref = zeros(ny);
    float *out[NCTX] = { NULL };
    char what[96];
    int b, t;

    memcpy(ref, y0, (size_t)ny * sizeof *ref);
    kref_matmul_ex(x, ldx, W, bv, ref, ldy, M, N, K, beta);
    snprintf(what, sizeof what, "matmul %lldx%lldx%lld beta %g", (long long)M,
             (long long)N, (long long)K, beta);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, M * ldx), *dW = up(k, W, N * K), *db = up(k, bv, N);
        float *dy = up(k, y0, ny);
        assert_int_equal(nn_matmul_ex(k, dx, ldx, dW, db, dy, ldy, M, N, K, beta),
                         SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        if (padx == 0 && pady == 0 && beta == 0.0f && t == NCTX - 1) {
            float *o;
            assert_int_equal(nn_matmul(k, dx, dW, db, dy, M, N, K), SAMSEP_OK);
            o = down(k, dy, ny);
            check(b, what, o, ref, ny);
            free(o);
        }
        nn_free(k, dx);
        nn_free(k, dW);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(W);
    free(bv);
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
    static const int64_t shapes[][2] = { { 1, 1 }, { 3, 7 }, { 129, 33 }, { 300, 768 } };
    size_t s;
    int i, v, b, t;
    (void)state;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], D = shapes[s][1], n = M * D;
        float *x = rnd(n, 3.0f), *w = rnd(D, 1.0f), *bb = rnd(D, 1.0f);
        float *rref = zeros(n), *lref = zeros(n), *rout[NCTX], *lout[NCTX];
        for (i = 0; i < n; i++)
            x[i] += 0.5f; /* a mean for LayerNorm to remove */
        for (v = 0; v < 4; v++) {
            const float *wv = (v & 1) ? w : NULL, *bv = (v & 2) ? bb : NULL;
            kref_rmsnorm(x, wv, 1e-6f, rref, M, D);
            kref_layernorm(x, wv, bv, 1e-5f, lref, M, D);
            FOR_EACH_CTX(b, t)
            {
                nn_ctx *k = K(b, t);
                float *dx = up(k, x, n), *dw = up(k, wv, D), *db = up(k, bv, D);
                float *dy = nn_alloc_f32(k, n);
                float *o;
                assert_int_equal(nn_rmsnorm(k, dx, dw, 1e-6f, dy, M, D), SAMSEP_OK);
                rout[t] = down(k, dy, n);
                judge(b, t, "rmsnorm", rout, rref, n);
                assert_int_equal(nn_layernorm(k, dx, dw, db, 1e-5f, dy, M, D), SAMSEP_OK);
                lout[t] = down(k, dy, n);
                judge(b, t, "layernorm", lout, lref, n);
                /* in place */
                assert_int_equal(nn_rmsnorm(k, dx, dw, 1e-6f, dx, M, D), SAMSEP_OK);
                o = down(k, dx, n);
                same(b, "rmsnorm in place", rout[t], o, n);
                free(o);
                nn_free(k, dx);
                nn_free(k, dw);
                nn_free(k, db);
                nn_free(k, dy);
                if (t == NCTX - 1) {
                    free_outs(rout);
                    free_outs(lout);
                }
            }
        }
        free(x);
        free(w);
        free(bb);
        free(rref);
        free(lref);
    }
    report("rms/layernorm");
}

static void test_groupnorm(void **state)
{
    static const int64_t shapes[][4] = { /* B, C, T, G */
                                         { 1, 1, 1, 1 },
                                         { 2, 64, 29, 1 },
                                         { 3, 12, 37, 4 },
                                         { 2, 6, 1000, 6 }
    };
    size_t s;
    int b, t;
    (void)state;
    for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t B = shapes[s][0], C = shapes[s][1], T = shapes[s][2];
        int64_t G = shapes[s][3], n = B * C * T;
        float *x = rnd(n, 2.0f), *w = rnd(C, 1.0f), *bb = rnd(C, 1.0f);
        float *ref = zeros(n), *ref0 = zeros(n), *out[NCTX];
        assert_int_equal(kref_groupnorm(x, w, bb, 1e-5f, ref, B, C, T, G), SAMSEP_OK);
        kref_groupnorm(x, NULL, NULL, 1e-5f, ref0, B, C, T, G);
        FOR_EACH_CTX(b, t)
        {
            nn_ctx *k = K(b, t);
            float *dx = up(k, x, n), *dw = up(k, w, C), *db = up(k, bb, C);
            float *dy = nn_alloc_f32(k, n), *o;
            assert_int_equal(nn_groupnorm(k, dx, dw, db, 1e-5f, dy, B, C, T, G),
                             SAMSEP_OK);
            out[t] = down(k, dy, n);
            judge(b, t, "groupnorm", out, ref, n);
            assert_int_equal(nn_groupnorm(k, dx, NULL, NULL, 1e-5f, dy, B, C, T, G),
                             SAMSEP_OK);
            o = down(k, dy, n);
            check(b, "groupnorm no affine", o, ref0, n);
            free(o);
            assert_int_equal(nn_groupnorm(k, dx, NULL, NULL, 1e-5f, dx, 1, 3, 2, 2),
                             SAMSEP_ERR_INVALID);
            nn_free(k, dx);
            nn_free(k, dw);
            nn_free(k, db);
            nn_free(k, dy);
        }
        free_outs(out);
        free(x);
        free(w);
        free(bb);
        free(ref);
        free(ref0);
    }
    report("groupnorm");
}

static void test_softmax(void **state)
{
    int64_t M = 150, N = 203, n = M * N, i, j;
    float *x = rnd(n, 8.0f), *ref = zeros(n), *out[NCTX];
    int b, t;
    (void)state;
    for (i = 0; i < M; i++)
        for (j = 0; j < N; j++)
            if ((i * 7 + j * 3) % 11 == 0 || i == 5)
                x[i * N + j] = -INFINITY; /* row 5 entirely masked */
    kref_softmax(x, ref, M, N);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, n), *dy = nn_alloc_f32(k, n), *o;
        assert_int_equal(nn_softmax(k, dx, dy, M, N), SAMSEP_OK);
        out[t] = down(k, dy, n);
        judge(b, t, "softmax", out, ref, n);
        for (j = 0; j < N; j++) {
            assert_true(out[t][5 * N + j] == 0.0f);
            if ((j * 3) % 11 == 0)
                assert_true(out[t][j] == 0.0f);
        }
        assert_int_equal(nn_softmax(k, dx, dx, M, N), SAMSEP_OK); /* in place */
        o = down(k, dx, n);
        same(b, "softmax in place", out[t], o, n);
        free(o);
        nn_free(k, dx);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(ref);
    report("softmax");
}

/* ---- attention, rope -------------------------------------------------- */

typedef enum { LAY_HEAD_MAJOR, LAY_INTERLEAVED, LAY_BHLD } layout;

static nn_strides lay(layout l, int64_t L, int64_t H, int64_t dh)
{
    return l == LAY_HEAD_MAJOR    ? nn_strides_head_major(L, H, dh)
           : l == LAY_INTERLEAVED ? nn_strides_interleaved(L, H, dh)
                                  : nn_strides_bhld(H, L, dh);
}

static void one_attention(int64_t B, int64_t H, int64_t Lq, int64_t Lk, int64_t dh,
                          layout lq, layout lkv, float scale, int bias_kind, int masked)
{
    nn_attn_args a, d;
    int64_t nq = B * Lq * H * dh, nk = B * Lk * H * dh, nb = 0, i, j;
    float *q = rnd(nq, 1.5f), *kk = rnd(nk, 1.5f), *v = rnd(nk, 1.0f);
    float *ref = zeros(nq), *out[NCTX], *bias = NULL;
    uint8_t *mask = NULL;
    int b, t;

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
    a.out_s = nn_strides_head_major(Lq, H, dh);
    a.scale = scale;
    if (bias_kind == 1) { /* full [B, H, Lq, Lk] */
        nb = B * H * Lq * Lk;
        bias = rnd(nb, 2.0f);
        a.bias = bias;
        a.bias_s.b = H * Lq * Lk;
        a.bias_s.h = Lq * Lk;
        a.bias_s.t = Lk;
        a.bias_s.j = 1;
    } else if (bias_kind == 2) { /* relative table [H, Lq+Lk-1], shared */
        nb = H * (Lq + Lk - 1);
        bias = rnd(nb, 2.0f);
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
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dbias = up(k, bias, nb);
        d = a;
        d.q = up(k, q, nq);
        d.k = up(k, kk, nk);
        d.v = up(k, v, nk);
        d.out = nn_alloc_f32(k, nq);
        d.bias = dbias == NULL ? NULL : dbias + (a.bias - bias);
        d.key_mask = upb(k, mask, (size_t)(B * Lk));
        assert_int_equal(nn_attention(k, &d), SAMSEP_OK);
        out[t] = down(k, d.out, nq);
        judge(b, t, "attention", out, ref, nq);
        nn_free(k, (void *)d.q);
        nn_free(k, (void *)d.k);
        nn_free(k, (void *)d.v);
        nn_free(k, d.out);
        nn_free(k, dbias);
        nn_free(k, (void *)d.key_mask);
    }
    free_outs(out);
    free(q);
    free(kk);
    free(v);
    free(ref);
    free(bias);
    free(mask);
}

static void test_attention(void **state)
{
    int b;
    (void)state;
    one_attention(1, 1, 1, 1, 1, LAY_BHLD, LAY_BHLD, 1.0f, 0, 0);
    one_attention(2, 4, 3, 3, 8, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 1.0f, 2, 0);
    one_attention(3, 4, 71, 71, 8, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 1.0f, 2, 1);
    one_attention(2, 3, 45, 17, 16, LAY_INTERLEAVED, LAY_INTERLEAVED, 0.25f, 0, 1);
    one_attention(2, 2, 33, 65, 5, LAY_BHLD, LAY_INTERLEAVED, 0.4f, 1, 1);
    one_attention(1, 12, 130, 130, 64, LAY_HEAD_MAJOR, LAY_HEAD_MAJOR, 0.125f, 2, 0);
    for (b = 0; b < g_nb; b++) {
        nn_ctx *k = K(b, 0);
        nn_attn_args a;
        float *x = nn_alloc_f32(k, 8);
        memset(&a, 0, sizeof a);
        a.B = 1;
        a.H = 1;
        a.Lq = 1;
        a.Lk = 100000; /* more keys than the scratch holds */
        a.dh = 8;
        a.q = a.k = a.v = x;
        a.out = x;
        assert_int_equal(nn_attention(k, &a), SAMSEP_ERR_INVALID);
        assert_int_equal(nn_attention(k, NULL), SAMSEP_ERR_INVALID);
        nn_free(k, x);
    }
    report("attention");
}

static void test_rope(void **state)
{
    int64_t B = 2, H = 3, L = 41, dh = 16, n = B * H * L * dh, nt = L * dh / 2;
    float *cs = zeros(nt), *sn = zeros(nt), *rc = zeros(nt), *rs = zeros(nt);
    float *x = rnd(n, 1.0f), *ref = zeros(n), *out[NCTX], *ocs[NCTX], *osn[NCTX];
    nn_strides s = nn_strides_interleaved(L, H, dh);
    int b, t, i;
    (void)state;
    kref_rope_table(rc, rs, L, dh, 20000.0f);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dc = nn_alloc_f32(k, nt), *ds = nn_alloc_f32(k, nt), *dx = up(k, x, n);
        assert_int_equal(nn_rope_table(k, dc, ds, L, dh, 20000.0f), SAMSEP_OK);
        ocs[t] = down(k, dc, nt);
        osn[t] = down(k, ds, nt);
        judge(b, t, "rope table cos", ocs, rc, nt);
        judge(b, t, "rope table sin", osn, rs, nt);
        /* position 0 is the identity */
        for (i = 0; i < dh / 2; i++)
            assert_true(ocs[t][i] == 1.0f && osn[t][i] == 0.0f);
        if (b == 0 && t == 0) {
            memcpy(cs, ocs[0], (size_t)nt * sizeof *cs);
            memcpy(sn, osn[0], (size_t)nt * sizeof *sn);
            memcpy(ref, x, (size_t)n * sizeof *x);
            kref_rope(ref, s, B, H, L, dh, cs, sn);
        }
        assert_int_equal(nn_rope(k, dx, s, B, H, L, dh, dc, ds), SAMSEP_OK);
        out[t] = down(k, dx, n);
        judge(b, t, "rope", out, ref, n);
        assert_int_equal(nn_rope_table(k, dc, ds, L, 7, 1e4f), SAMSEP_ERR_INVALID);
        nn_free(k, dc);
        nn_free(k, ds);
        nn_free(k, dx);
        if (t == NCTX - 1) {
            free_outs(ocs);
            free_outs(osn);
        }
    }
    free_outs(out);
    free(cs);
    free(sn);
    free(rc);
    free(rs);
    free(x);
    free(ref);
    report("rope");
}

/* ---- convolutions ----------------------------------------------------- */

static void one_conv(int64_t B, int64_t Cin, int64_t Lin, int64_t Cout, int64_t Kw,
                     int64_t stride, int64_t dil, int64_t pl, int64_t pr, int64_t groups,
                     nn_pad_mode mode, int bias)
{
    nn_conv1d_args a = { B, Cin, Lin, Cout, Kw, stride, dil, pl, pr, groups, mode };
    int64_t Lout = nn_conv1d_out_len(&a), ny, nx = B * Cin * Lin;
    int64_t nw = Cout * (Cin / groups) * Kw;
    float *x, *W, *bv, *ref, *out[NCTX];
    char what[128];
    int b, t;

    assert_true(Lout > 0);
    ny = B * Cout * Lout;
    x = rnd(nx, 1.0f);
    W = rnd(nw, 0.5f);
    bv = bias ? rnd(Cout, 1.0f) : NULL;
    ref = zeros(ny);
    snprintf(what, sizeof what,
             "conv1d B%lld Cin%lld L%lld Cout%lld K%lld s%lld d%lld p%lld/%lld g%lld m%d",
             (long long)B, (long long)Cin, (long long)Lin, (long long)Cout, (long long)Kw,
             (long long)stride, (long long)dil, (long long)pl, (long long)pr,
             (long long)groups, (int)mode);
    assert_int_equal(kref_conv1d(&a, x, W, bv, ref), SAMSEP_OK);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, nx), *dW = up(k, W, nw), *db = up(k, bv, Cout);
        float *dy = nn_alloc_f32(k, ny);
        assert_true(nn_conv1d_scratch(k, &a) <= nn_scratch_floats(k));
        assert_int_equal(nn_conv1d(k, &a, dx, dW, db, dy), SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        nn_free(k, dx);
        nn_free(k, dW);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(W);
    free(bv);
    free(ref);
}

static void test_conv1d(void **state)
{
    int b;
    (void)state;
    one_conv(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, NN_PAD_ZERO, 0);
    one_conv(2, 3, 50, 5, 3, 1, 1, 1, 1, 1, NN_PAD_ZERO, 1);
    one_conv(1, 8, 601, 6, 7, 1, 9, 27, 27, 1, NN_PAD_ZERO, 1);    /* RU dil 9 */
    one_conv(2, 4, 300, 8, 4, 2, 1, 1, 1, 1, NN_PAD_ZERO, 1);      /* down by 2 */
    one_conv(1, 5, 1000, 7, 16, 8, 1, 4, 4, 1, NN_PAD_ZERO, 1);    /* down by 8 */
    one_conv(2, 6, 77, 9, 5, 3, 2, 4, 1, 3, NN_PAD_REFLECT, 1);    /* groups */
    one_conv(1, 4, 20, 4, 3, 1, 1, 2, 5, 4, NN_PAD_REPLICATE, 0);  /* depthwise */
    one_conv(3, 12, 700, 10, 1, 1, 1, 0, 0, 1, NN_PAD_ZERO, 1);    /* 1x1 direct */
    one_conv(1, 3, 9, 2, 1, 2, 1, 0, 0, 1, NN_PAD_ZERO, 1);        /* 1x1 strided */
    one_conv(1, 2, 33, 3, 7, 1, 1, 6, 0, 1, NN_PAD_ZERO, 1);       /* causal */
    one_conv(1, 300, 40, 17, 7, 1, 1, 3, 3, 1, NN_PAD_REFLECT, 1); /* Cin*K > tile */
    for (b = 0; b < g_nb; b++) {
        nn_ctx *k = K(b, 0);
        nn_conv1d_args bad = { 1, 3, 4, 2, 3, 1, 1, 4, 0, 1, NN_PAD_REFLECT };
        float *x = nn_alloc_f32(k, 16);
        assert_true(nn_conv1d_out_len(&bad) < 0);
        assert_int_equal(nn_conv1d(k, &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
        bad.pad_mode = NN_PAD_ZERO;
        bad.groups = 2;
        assert_int_equal(nn_conv1d(k, &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
        bad.groups = 1;
        bad.pad_mode = NN_PAD_REFLECT_PERIODIC; /* nn_pad1d only */
        assert_int_equal(nn_conv1d(k, &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
        nn_free(k, x);
    }
    report("conv1d");
}

static void one_convt(int64_t B, int64_t Cin, int64_t Lin, int64_t Cout, int64_t Kw,
                      int64_t stride, int64_t dil, int64_t pad, int64_t opad,
                      int64_t crop, int64_t groups, int bias)
{
    nn_convt1d_args a = { B, Cin, Lin, Cout, Kw, stride, dil, pad, opad, crop, groups };
    int64_t Lout = nn_convt1d_out_len(&a), ny, nx = B * Cin * Lin;
    int64_t nw = Cin * (Cout / groups) * Kw;
    float *x, *W, *bv, *ref, *out[NCTX];
    char what[128];
    int b, t;

    assert_true(Lout > 0);
    ny = B * Cout * Lout;
    x = rnd(nx, 1.0f);
    W = rnd(nw, 0.5f);
    bv = bias ? rnd(Cout, 1.0f) : NULL;
    ref = zeros(ny);
    snprintf(what, sizeof what,
             "convt1d B%lld Cin%lld L%lld Cout%lld K%lld s%lld d%lld p%lld op%lld c%lld "
             "g%lld",
             (long long)B, (long long)Cin, (long long)Lin, (long long)Cout, (long long)Kw,
             (long long)stride, (long long)dil, (long long)pad, (long long)opad,
             (long long)crop, (long long)groups);
    assert_int_equal(kref_convt1d(&a, x, W, bv, ref), SAMSEP_OK);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, nx), *dW = up(k, W, nw), *db = up(k, bv, Cout);
        float *dy = nn_alloc_f32(k, ny);
        assert_true(nn_convt1d_scratch(k, &a) <= nn_scratch_floats(k));
        assert_int_equal(nn_convt1d(k, &a, dx, dW, db, dy), SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        nn_free(k, dx);
        nn_free(k, dW);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(W);
    free(bv);
    free(ref);
}

static void test_convt1d(void **state)
{
    int b;
    (void)state;
    one_convt(1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0);
    one_convt(2, 6, 40, 3, 24, 12, 1, 6, 0, 0, 1, 1); /* DAC stride 12 */
    one_convt(1, 4, 101, 5, 10, 5, 1, 3, 1, 0, 1, 1); /* odd stride, out pad */
    one_convt(2, 3, 150, 4, 4, 2, 1, 1, 0, 0, 1, 1);  /* Lout 300 > tile */
    one_convt(1, 4, 60, 2, 16, 8, 1, 0, 0, 8, 1, 1);  /* causal: crop K-s */
    one_convt(1, 6, 30, 9, 5, 3, 2, 2, 1, 0, 3, 1);   /* dilation, groups */
    one_convt(1, 5, 7, 3, 3, 1, 1, 0, 0, 0, 1, 0);    /* stride 1 */
    one_convt(1, 2, 5, 2, 2, 7, 1, 0, 0, 0, 1, 1);    /* stride > K: gaps */
    /* several output tiles (256 * stride samples) and channel blocks */
    one_convt(1, 3, 700, 1100, 4, 2, 1, 1, 0, 0, 1, 1);
    for (b = 0; b < g_nb; b++) {
        nn_ctx *k = K(b, 0);
        nn_convt1d_args bad = { 1, 2, 5, 2, 3, 2, 1, 0, 2, 0, 1 };
        float *x = nn_alloc_f32(k, 32);
        assert_true(nn_convt1d_out_len(&bad) < 0); /* output_padding >= stride */
        assert_int_equal(nn_convt1d(k, &bad, x, x, NULL, x), SAMSEP_ERR_INVALID);
        nn_free(k, x);
    }
    report("convt1d");
}

static void test_pad1d(void **state)
{
    static const int64_t cases[][3] = { /* L, left, right */
                                        { 11, 4, 5 },
                                        { 11, 0, 40 },
                                        { 3, 9, 7 },
                                        { 1, 2, 3 }
    };
    size_t c;
    int m, b, t;
    (void)state;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t B = 2, C = 3, L = cases[c][0], left = cases[c][1], right = cases[c][2];
        int64_t n = B * C * L, no = B * C * (left + L + right);
        float *x = rnd(n, 1.0f), *ref = zeros(no), *out[NCTX];
        for (m = 0; m < 4; m++) {
            int ok = m != NN_PAD_REFLECT || (left < L && right < L);
            if (ok)
                assert_int_equal(kref_pad1d(x, ref, B, C, L, left, right, (nn_pad_mode)m),
                                 SAMSEP_OK);
            FOR_EACH_CTX(b, t)
            {
                nn_ctx *k = K(b, t);
                float *dx = up(k, x, n), *dy = nn_alloc_f32(k, no);
                int rc = nn_pad1d(k, dx, dy, B, C, L, left, right, (nn_pad_mode)m);
                if (!ok) {
                    assert_int_equal(rc, SAMSEP_ERR_INVALID);
                } else {
                    assert_int_equal(rc, SAMSEP_OK);
                    out[t] = down(k, dy, no);
                    same(b, "pad1d", ref, out[t], no);
                    if (c == 0 &&
                        m == NN_PAD_REFLECT) /* [a b c ..] padded 2 -> [c b a b c ..] */
                        assert_true(out[t][0] == x[4] && out[t][3] == x[1] &&
                                    out[t][4] == x[0]);
                    if (c == 0 && m == NN_PAD_REPLICATE)
                        assert_true(out[t][0] == x[0] && out[t][3] == x[0] &&
                                    out[t][L + 8] == x[L - 1]);
                    if (c == 1 && m == NN_PAD_REFLECT_PERIODIC) /* period 2(L-1) = 20 */
                        assert_true(out[t][L + 8] == x[1] && out[t][L + 9] == x[0] &&
                                    out[t][L + 10] == x[1] && out[t][L + 29] == x[0]);
                }
                nn_free(k, dx);
                nn_free(k, dy);
            }
            free_outs(out);
        }
        free(x);
        free(ref);
    }
}

/* ---- LSTM ------------------------------------------------------------- */

static void one_lstm(int64_t T, int64_t B, int64_t I, int64_t H, int state0, int biases)
{
    float *x = rnd(T * B * I, 1.0f), *Wi = rnd(4 * H * I, 0.4f);
    float *Wh = rnd(4 * H * H, 0.4f);
    float *bi = biases ? rnd(4 * H, 0.3f) : NULL, *bh = biases ? rnd(4 * H, 0.3f) : NULL;
    float *h0 = state0 ? rnd(B * H, 0.5f) : NULL, *c0 = state0 ? rnd(B * H, 0.5f) : NULL;
    float *ref = zeros(T * B * H), *rh = zeros(B * H), *rc = zeros(B * H);
    float *out[NCTX], *hT, *cT;
    int b, t;

    assert_int_equal(kref_lstm(x, Wi, Wh, bi, bh, h0, c0, ref, rh, rc, T, B, I, H),
                     SAMSEP_OK);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, T * B * I), *dWi = up(k, Wi, 4 * H * I);
        float *dWh = up(k, Wh, 4 * H * H), *dbi = up(k, bi, 4 * H),
              *dbh = up(k, bh, 4 * H);
        float *dh0 = up(k, h0, B * H), *dc0 = up(k, c0, B * H);
        float *dy = nn_alloc_f32(k, T * B * H), *dhT = nn_alloc_f32(k, B * H);
        float *dcT = nn_alloc_f32(k, B * H);
        float *work = nn_alloc_f32(k, (int64_t)nn_lstm_work_floats(k, B, H));
        assert_int_equal(nn_lstm(k, dx, dWi, dWh, dbi, dbh, dh0, dc0, dy, dhT, dcT, T, B,
                                 I, H, work),
                         SAMSEP_OK);
        out[t] = down(k, dy, T * B * H);
        hT = down(k, dhT, B * H);
        cT = down(k, dcT, B * H);
        judge(b, t, "lstm", out, ref, T * B * H);
        check(b, "lstm hT", hT, rh, B * H);
        check(b, "lstm cT", cT, rc, B * H);
        free(hT);
        free(cT);
        nn_free(k, dx);
        nn_free(k, dWi);
        nn_free(k, dWh);
        nn_free(k, dbi);
        nn_free(k, dbh);
        nn_free(k, dh0);
        nn_free(k, dc0);
        nn_free(k, dy);
        nn_free(k, dhT);
        nn_free(k, dcT);
        nn_free(k, work);
    }
    free_outs(out);
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

typedef int (*act_fn)(nn_ctx *, const float *, float *, int64_t);
typedef void (*act_ref)(const float *, float *, int64_t);

static int elu1(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return nn_elu(k, x, y, n, 1.0f);
}

static void elu1_ref(const float *x, float *y, int64_t n)
{
    kref_elu(x, y, n, 1.0f);
}

static int elu07(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return nn_elu(k, x, y, n, 0.7f);
}

static void elu07_ref(const float *x, float *y, int64_t n)
{
    kref_elu(x, y, n, 0.7f);
}

static int scale037(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return nn_scale(k, x, 0.37f, y, n);
}

static void scale037_ref(const float *x, float *y, int64_t n)
{
    kref_scale(x, 0.37f, y, n);
}

static void test_activations(void **state)
{
    static const struct {
        const char *name;
        act_fn f;
        act_ref r;
    } acts[] = {
        { "relu", nn_relu, kref_relu },
        { "gelu_tanh", nn_gelu_tanh, kref_gelu_tanh },
        { "gelu_erf", nn_gelu_erf, kref_gelu_erf },
        { "silu", nn_silu, kref_silu },
        { "sigmoid", nn_sigmoid, kref_sigmoid },
        { "elu", elu1, elu1_ref },
        { "elu0.7", elu07, elu07_ref },
        { "tanh", nn_tanh, kref_tanh },
        { "scale", scale037, scale037_ref },
    };
    int64_t n = 100003, i;
    float *x = rnd(n, 12.0f), *ref = zeros(n), *out[NCTX];
    size_t a;
    int b, t;
    (void)state;
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 90.0f;
    x[3] = -90.0f;
    for (a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        acts[a].r(x, ref, n);
        FOR_EACH_CTX(b, t)
        {
            nn_ctx *k = K(b, t);
            float *dx = up(k, x, n), *dy = nn_alloc_f32(k, n), *o;
            assert_int_equal(acts[a].f(k, dx, dy, n), SAMSEP_OK);
            out[t] = down(k, dy, n);
            judge(b, t, acts[a].name, out, ref, n);
            assert_int_equal(acts[a].f(k, dx, dx, n), SAMSEP_OK); /* in place */
            o = down(k, dx, n);
            same(b, acts[a].name, out[t], o, n);
            free(o);
            nn_free(k, dx);
            nn_free(k, dy);
        }
        free_outs(out);
    }
    {
        int64_t B = 2, C = 5, T = 10007, m = B * C * T;
        float *sx = rnd(m, 3.0f), *al = rnd(C, 1.0f), *sr = zeros(m);
        for (i = 0; i < C; i++)
            al[i] = 0.5f + fabsf(al[i]) * 1.5f;
        kref_snake(sx, al, sr, B, C, T);
        FOR_EACH_CTX(b, t)
        {
            nn_ctx *k = K(b, t);
            float *dx = up(k, sx, m), *da = up(k, al, C), *dy = nn_alloc_f32(k, m);
            assert_int_equal(nn_snake(k, dx, da, dy, B, C, T), SAMSEP_OK);
            out[t] = down(k, dy, m);
            judge(b, t, "snake", out, sr, m);
            nn_free(k, dx);
            nn_free(k, da);
            nn_free(k, dy);
        }
        free_outs(out);
        free(sx);
        free(al);
        free(sr);
    }
    free(x);
    free(ref);
    report("activations");
}

/* a op b for every backend and context, compared with ref exactly. */
static void binop(const char *what, int op, const float *a, const float *c,
                  const float *ref, int64_t n)
{
    float *out[NCTX];
    int b, t;
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *da = up(k, a, n), *dc = up(k, c, n), *dy = nn_alloc_f32(k, n);
        assert_int_equal(op == 0   ? nn_add(k, da, dc, dy, n)
                         : op == 1 ? nn_mul(k, da, dc, dy, n)
                                   : nn_axpy(k, -0.37f, da, dc, dy, n),
                         SAMSEP_OK);
        out[t] = down(k, dy, n);
        judge(b, t, what, out, ref, n);
        if (op == 2) { /* out may equal y, as the ODE solver uses it */
            float *o;
            assert_int_equal(nn_axpy(k, -0.37f, da, dc, dc, n), SAMSEP_OK);
            o = down(k, dc, n);
            same(b, "axpy in place", out[t], o, n);
            free(o);
        }
        nn_free(k, da);
        nn_free(k, dc);
        nn_free(k, dy);
    }
    free_outs(out);
}

static void test_elementwise(void **state)
{
    int64_t n = 50001, i;
    float *a = rnd(n, 2.0f), *c = rnd(n, 2.0f), *r = zeros(n);
    (void)state;
    for (i = 0; i < n; i++)
        r[i] = a[i] + c[i];
    binop("add", 0, a, c, r, n);
    for (i = 0; i < n; i++)
        r[i] = a[i] * c[i];
    binop("mul", 1, a, c, r, n);
    kref_axpy(-0.37f, a, c, r, n);
    binop("axpy", 2, a, c, r, n);
    free(a);
    free(c);
    free(r);
    report("elementwise");
}

/* y = x + v broadcast with strides vs over shape sh. */
static void one_bcast(const int64_t sh[3], const int64_t vs[3], int64_t nv)
{
    int64_t n = sh[0] * sh[1] * sh[2];
    float *x = rnd(n, 2.0f), *v = rnd(nv, 2.0f), *ref = zeros(n), *out[NCTX];
    int b, t;
    kref_add_bcast(x, v, vs, ref, sh);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, n), *dv = up(k, v, nv), *dy = nn_alloc_f32(k, n), *o;
        assert_int_equal(nn_add_bcast(k, dx, dv, vs, dy, sh), SAMSEP_OK);
        out[t] = down(k, dy, n);
        judge(b, t, "add_bcast", out, ref, n);
        assert_int_equal(nn_add_bcast(k, dx, dv, vs, dx, sh), SAMSEP_OK); /* in place */
        o = down(k, dx, n);
        same(b, "add_bcast in place", out[t], o, n);
        free(o);
        nn_free(k, dx);
        nn_free(k, dv);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(v);
    free(ref);
}

static void test_rows(void **state)
{
    int64_t B = 3, T = 77, D = 65, m = B * T * D, ld = 6 * D;
    float *x = rnd(m, 2.0f), *mods = rnd(B * ld, 1.0f), *y0 = rnd(m, 1.0f);
    float *ref = zeros(m), *gref = zeros(m), *out[NCTX], *gout[NCTX];
    float *tab = rnd(50 * 9, 1.0f), *er = zeros(7 * 9), *eout[NCTX];
    float *sx = rnd(37 * 1000, 1.0f), *sref = zeros(1000), *sout[NCTX];
    int32_t ids[7] = { 0, 49, 3, 3, 17, 8, 1 };
    int b, t;
    (void)state;
    one_bcast((const int64_t[3]){ 1, 333, 65 }, (const int64_t[3]){ 0, 0, 1 }, 65);
    one_bcast((const int64_t[3]){ 3, 77, 65 }, (const int64_t[3]){ 65, 0, 1 }, 3 * 65);
    one_bcast((const int64_t[3]){ 1, 129, 301 }, (const int64_t[3]){ 0, 1, 0 }, 129);
    /* modulate and the gated residual read rows of a [B, 6, D] table */
    kref_modulate(x, mods + D, mods + 4 * D, ld, ref, B, T, D);
    memcpy(gref, y0, (size_t)m * sizeof *gref);
    kref_add_gated(x, mods + 2 * D, ld, gref, B, T, D);
    assert_int_equal(kref_embedding(tab, 50, 9, ids, 7, er), SAMSEP_OK);
    kref_sum_rows(sx, sref, 37, 1000);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, m), *dm = up(k, mods, B * ld), *dy = up(k, y0, m);
        float *dt = up(k, tab, 50 * 9), *de = nn_alloc_f32(k, 7 * 9);
        float *ds = up(k, sx, 37 * 1000), *dsr = nn_alloc_f32(k, 1000);
        int32_t *di = upb(k, ids, sizeof ids);
        assert_int_equal(nn_modulate(k, dx, dm + D, dm + 4 * D, ld, dx, B, T, D),
                         SAMSEP_OK);
        out[t] = down(k, dx, m);
        judge(b, t, "modulate", out, ref, m);
        nn_free(k, dx);
        dx = up(k, x, m);
        assert_int_equal(nn_add_gated(k, dx, dm + 2 * D, ld, dy, B, T, D), SAMSEP_OK);
        gout[t] = down(k, dy, m);
        judge(b, t, "add_gated", gout, gref, m);
        assert_int_equal(nn_embedding(k, dt, 50, 9, di, 7, de), SAMSEP_OK);
        eout[t] = down(k, de, 7 * 9);
        same(b, "embedding", er, eout[t], 7 * 9);
        assert_int_equal(nn_sum_rows(k, ds, dsr, 37, 1000), SAMSEP_OK);
        sout[t] = down(k, dsr, 1000);
        judge(b, t, "sum_rows", sout, sref, 1000);
        ids[3] = 50;
        assert_int_equal(nn_upload(k, di, ids, sizeof ids), SAMSEP_OK);
        assert_int_equal(nn_embedding(k, dt, 50, 9, di, 7, de), SAMSEP_ERR_INVALID);
        ids[3] = -1;
        assert_int_equal(nn_upload(k, di, ids, sizeof ids), SAMSEP_OK);
        assert_int_equal(nn_embedding(k, dt, 50, 9, di, 7, de), SAMSEP_ERR_INVALID);
        ids[3] = 3;
        assert_int_equal(nn_modulate(k, dx, dm, dm, 3, dx, 2, T, D), SAMSEP_ERR_INVALID);
        nn_free(k, dx);
        nn_free(k, dm);
        nn_free(k, dy);
        nn_free(k, dt);
        nn_free(k, de);
        nn_free(k, ds);
        nn_free(k, dsr);
        nn_free(k, di);
    }
    free_outs(out);
    free_outs(gout);
    free_outs(eout);
    free_outs(sout);
    free(x);
    free(mods);
    free(y0);
    free(ref);
    free(gref);
    free(tab);
    free(er);
    free(sx);
    free(sref);
    report("rows");
}

static void test_layouts(void **state)
{
    int64_t B = 3, R = 77, C = 65, m = B * R * C, half = 128, nb = 4;
    float *x = rnd(m, 2.0f), *ref = zeros(m), *out[NCTX];
    float *f = rnd(half, 1.0f), *sref = zeros(nb * 2 * half), *sout[NCTX];
    int b, t;
    (void)state;
    kref_transpose(x, ref, B, R, C);
    kref_sinusoid(f, half, 0.40625f, sref, nb);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, m), *dy = nn_alloc_f32(k, m);
        float *df = up(k, f, half), *ds = nn_alloc_f32(k, nb * 2 * half);
        assert_int_equal(nn_transpose(k, dx, dy, B, R, C), SAMSEP_OK);
        out[t] = down(k, dy, m);
        same(b, "transpose", ref, out[t], m);
        assert_int_equal(nn_sinusoid(k, df, half, 0.40625f, ds, nb), SAMSEP_OK);
        sout[t] = down(k, ds, nb * 2 * half);
        judge(b, t, "sinusoid", sout, sref, nb * 2 * half);
        nn_free(k, dx);
        nn_free(k, dy);
        nn_free(k, df);
        nn_free(k, ds);
    }
    free_outs(out);
    free_outs(sout);
    free(x);
    free(ref);
    free(f);
    free(sref);
    report("layouts");
}

/* ---- the CPU backend's ISA paths ---------------------------------------- */

/* C = alpha A B + beta C in double, for nn_gemm's strided operands. */
static void ref_gemm(const nn_gemm *g, const float *C0, float *out)
{
    int64_t i, j, p;
    for (i = 0; i < g->M; i++)
        for (j = 0; j < g->N; j++) {
            double acc = 0.0;
            for (p = 0; p < g->K; p++)
                acc += (double)g->A[i * g->rsa + p * g->csa] *
                       (double)g->B[p * g->rsb + j * g->csb];
            acc *= g->alpha;
            if (g->beta != 0.0f)
                acc += (double)g->beta * C0[i * g->ldc + j];
            out[i * g->ldc + j] = (float)acc;
        }
}

/* One product on every table row the CPU runs, in layout `lay` (bit 0: A
 * transposed, bit 1: B given as [N, K]). */
static void one_gemm(int64_t M, int64_t N, int64_t K, int lay, float alpha, float beta)
{
    int64_t ldc = N + 3, nc = M * ldc, i;
    float *A = rnd(M * K, 1.0f), *B = rnd(K * N, 1.0f), *C0 = rnd(nc, 1.0f);
    float *ref = zeros(nc), *C = zeros(nc), *before = zeros(nc), *pack = NULL;
    const nn_cpu_kern *row;
    nn_gemm g;
    int r;

    assert_int_equal(posix_memalign((void **)&pack, 64,
                                    NN_GEMM_PACK_FLOATS * sizeof(float)),
                     0);
    g.M = M;
    g.N = N;
    g.K = K;
    g.alpha = alpha;
    g.beta = beta;
    g.A = A;
    g.rsa = (lay & 1) ? 1 : K;
    g.csa = (lay & 1) ? M : 1;
    g.B = B;
    g.rsb = (lay & 2) ? 1 : N;
    g.csb = (lay & 2) ? K : 1;
    g.ldc = ldc;
    ref_gemm(&g, C0, ref);
    for (r = 0; (row = nn_cpu_kern_at(r)) != NULL; r++) {
        if (row->isa > nn_cpu_isa())
            continue;
        memcpy(C, C0, (size_t)nc * sizeof *C);
        if (beta == 0.0f) /* C is write-only: garbage must not leak in */
            for (i = 0; i < nc; i++)
                C[i] = NAN;
        memcpy(before, C, (size_t)nc * sizeof *C);
        g.C = C;
        row->sgemm(&g, pack);
        for (i = 0; i < M; i++) { /* the gaps between rows are not written */
            if (memcmp(C + i * ldc + N, before + i * ldc + N, 3 * sizeof *C) != 0)
                fail_msg("gemm %s wrote past row %lld", row->name, (long long)i);
            memcpy(C + i * ldc + N, ref + i * ldc + N, 3 * sizeof *C);
        }
        {
            double e = nerr(C, ref, nc) / (K > 0 ? sqrt((double)K) : 1.0);
            if (e > g_worst)
                g_worst = e;
            if (!(e <= TOL))
                fail_msg("gemm %s %lldx%lldx%lld layout %d: error %.3g", row->name,
                         (long long)M, (long long)N, (long long)K, lay, e);
        }
    }
    free(A);
    free(B);
    free(C0);
    free(C);
    free(before);
    free(ref);
    free(pack);
}

static void test_gemm_paths(void **state)
{
    int lay;
    (void)state;
    for (lay = 0; lay < 4; lay++) {
        one_gemm(1, 1, 1, lay, 1.0f, 0.0f);
        one_gemm(13, 33, 17, lay, 0.5f, 1.0f);
        /* past every block: M > 144, N > 512, K > 256, with edges */
        one_gemm(151, 545, 531, lay, 1.0f, 0.0f);
        one_gemm(25, 70, 300, lay, -2.0f, 0.75f);
        one_gemm(12, 32, 16, lay, 1.0f, 1.0f); /* exactly one microkernel */
        one_gemm(3, 37, 531, lay, 1.0f, 0.5f); /* few rows: direct products */
        one_gemm(8, 5, 17, lay, 1.0f, 0.0f);
        one_gemm(5, 7, 0, lay, 1.0f, 0.5f);
    }
    report("gemm");
}

static void test_isa(void **state)
{
    nn_ctx *k = NULL;
    nn_params p = { "cpu", 1 };
    char err[160] = "", flags[256];
    const nn_cpu_kern *row;
    (void)state;
    /* the ladder and its names */
    assert_string_equal(nn_isa_name(NN_ISA_AVX512), "avx512");
    assert_null(nn_isa_name(NN_ISA_COUNT));
    assert_int_equal(nn_isa_parse("AVX2"), NN_ISA_AVX2);
    assert_int_equal(nn_isa_parse("avx512_bf16"), NN_ISA_AVX512_BF16);
    assert_int_equal(nn_isa_parse("sse9"), -1);
    assert_int_equal(nn_isa_parse(NULL), -1);
    nn_cpu_isa_describe(flags, sizeof flags);
    print_message("    this CPU: %s (%s)\n", nn_isa_name(nn_cpu_isa()), flags);
    /* a level implies the features below it */
    if (nn_cpu_isa() >= NN_ISA_AVX2)
        assert_true((nn_cpu_isa_flags() & (NN_CPU_AVX2 | NN_CPU_FMA)) ==
                    (NN_CPU_AVX2 | NN_CPU_FMA));
    if (nn_cpu_isa() >= NN_ISA_AVX512)
        assert_true(nn_cpu_isa_flags() & NN_CPU_AVX512F);
    /* the best row is chosen without a cap; a cap above the CPU is harmless */
    row = nn_cpu_kern_for(NN_ISA_COUNT);
    assert_true(row->isa <= nn_cpu_isa());
    assert_ptr_equal(nn_cpu_kern_for(NN_ISA_AMX), row);
    assert_string_equal(nn_cpu_kern_for(NN_ISA_GENERIC)->name, "openblas");
    unsetenv("SAMSEP_ISA");
    assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_OK);
    assert_string_equal(nn_ctx_path(k, NN_OP_CONV1D), row->name);
    assert_string_equal(nn_ctx_path(k, NN_OP_RELU), "c");
    assert_null(nn_ctx_path(k, NN_OP_COUNT));
    assert_null(nn_ctx_path(NULL, NN_OP_MATMUL));
    nn_ctx_destroy(k);
    /* an unknown cap is refused, naming the variable */
    setenv("SAMSEP_ISA", "avx9000", 1);
    k = NULL;
    assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_null(k);
    assert_non_null(strstr(err, "SAMSEP_ISA"));
    assert_non_null(strstr(err, "avx9000"));
    setenv("SAMSEP_ISA", "generic", 1);
    assert_int_equal(nn_ctx_create(&p, &k, err, sizeof err), SAMSEP_OK);
    assert_string_equal(nn_ctx_path(k, NN_OP_MATMUL), "openblas");
    nn_ctx_destroy(k);
    unsetenv("SAMSEP_ISA");
}

/* ---- bf16 weights ------------------------------------------------------ */

/* n floats rounded to bf16: the bit patterns (for the kernel) and the
 * values (for the reference). */
static uint16_t *bf16_of(const float *w, int64_t n, float *rounded)
{
    uint16_t *h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    int64_t i;

    assert_non_null(h);
    for (i = 0; i < n; i++)
        h[i] = nn_bf16_from_f32(w[i]);
    kref_bf16_round(w, rounded, n);
    for (i = 0; i < n; i++)
        if (nn_f32_from_bf16(h[i]) != rounded[i])
            fail_msg("nn_bf16_from_f32(%.9g) = %.9g, reference %.9g", w[i],
                     nn_f32_from_bf16(h[i]), rounded[i]);
    return h;
}

static void one_matmul_bf16(int64_t M, int64_t N, int64_t K, int64_t padx, int bias,
                            float beta)
{
    int64_t ldx = K + padx, ldy = N, ny = M * ldy;
    float *x = rnd(M * ldx, 1.0f), *W = rnd(N * K, 1.0f), *xr = zeros(M * ldx);
    float *Wr = zeros(N * K), *bv = bias ? rnd(N, 1.0f) : NULL;
    float *y0 = rnd(ny, 1.0f), *ref = zeros(ny), *out[NCTX] = { NULL };
    uint16_t *Wb = bf16_of(W, N * K, Wr);
    char what[96];
    int b, t;

    kref_bf16_round(x, xr, M * ldx);
    memcpy(ref, y0, (size_t)ny * sizeof *ref);
    kref_matmul_ex(xr, ldx, Wr, bv, ref, ldy, M, N, K, beta);
    snprintf(what, sizeof what, "matmul_bf16 %lldx%lldx%lld beta %g", (long long)M,
             (long long)N, (long long)K, beta);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, M * ldx), *db = up(k, bv, N), *dy = up(k, y0, ny);
        nn_w w = { upb(k, Wb, (size_t)(N * K) * sizeof *Wb), 1 };
        assert_int_equal(nn_matmul_ex_w(k, dx, ldx, w, db, dy, ldy, M, N, K, beta),
                         SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        if (t == NCTX - 1)
            free_outs(out); /* the next backend fills the same slots */
        nn_free(k, dx);
        nn_free(k, (void *)w.data);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(xr);
    free(W);
    free(Wr);
    free(Wb);
    free(bv);
    free(y0);
    free(ref);
}

static void one_conv_bf16(nn_conv1d_args a, int bias)
{
    int64_t Lout = nn_conv1d_out_len(&a), nx = a.B * a.Cin * a.Lin;
    int64_t nw = a.Cout * (a.Cin / a.groups) * a.K, ny = a.B * a.Cout * Lout;
    float *x = rnd(nx, 1.0f), *xr = zeros(nx), *W = rnd(nw, 0.5f), *Wr = zeros(nw);
    float *bv = bias ? rnd(a.Cout, 1.0f) : NULL, *ref = zeros(ny), *out[NCTX];
    uint16_t *Wb = bf16_of(W, nw, Wr);
    char what[128];
    int b, t;

    kref_bf16_round(x, xr, nx);
    assert_int_equal(kref_conv1d(&a, xr, Wr, bv, ref), SAMSEP_OK);
    snprintf(what, sizeof what, "conv1d_bf16 Cin%lld Cout%lld K%lld s%lld g%lld",
             (long long)a.Cin, (long long)a.Cout, (long long)a.K, (long long)a.stride,
             (long long)a.groups);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, nx), *db = up(k, bv, a.Cout), *dy = nn_alloc_f32(k, ny);
        nn_w w = { upb(k, Wb, (size_t)nw * sizeof *Wb), 1 };
        assert_int_equal(nn_conv1d_w(k, &a, dx, w, db, dy), SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        if (t == NCTX - 1)
            free_outs(out); /* the next backend fills the same slots */
        nn_free(k, dx);
        nn_free(k, (void *)w.data);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(xr);
    free(W);
    free(Wr);
    free(Wb);
    free(bv);
    free(ref);
}

static void one_convt_bf16(nn_convt1d_args a, int bias)
{
    int64_t Lout = nn_convt1d_out_len(&a), nx = a.B * a.Cin * a.Lin;
    int64_t nw = a.Cin * (a.Cout / a.groups) * a.K, ny = a.B * a.Cout * Lout;
    float *x = rnd(nx, 1.0f), *xr = zeros(nx), *W = rnd(nw, 0.5f), *Wr = zeros(nw);
    float *bv = bias ? rnd(a.Cout, 1.0f) : NULL, *ref = zeros(ny), *out[NCTX];
    uint16_t *Wb = bf16_of(W, nw, Wr);
    char what[128];
    int b, t;

    kref_bf16_round(x, xr, nx);
    assert_int_equal(kref_convt1d(&a, xr, Wr, bv, ref), SAMSEP_OK);
    snprintf(what, sizeof what, "convt1d_bf16 Cin%lld Cout%lld K%lld s%lld g%lld",
             (long long)a.Cin, (long long)a.Cout, (long long)a.K, (long long)a.stride,
             (long long)a.groups);
    FOR_EACH_CTX(b, t)
    {
        nn_ctx *k = K(b, t);
        float *dx = up(k, x, nx), *db = up(k, bv, a.Cout), *dy = nn_alloc_f32(k, ny);
        nn_w w = { upb(k, Wb, (size_t)nw * sizeof *Wb), 1 };
        assert_int_equal(nn_convt1d_w(k, &a, dx, w, db, dy), SAMSEP_OK);
        out[t] = down(k, dy, ny);
        judge(b, t, what, out, ref, ny);
        if (t == NCTX - 1)
            free_outs(out); /* the next backend fills the same slots */
        nn_free(k, dx);
        nn_free(k, (void *)w.data);
        nn_free(k, db);
        nn_free(k, dy);
    }
    free_outs(out);
    free(x);
    free(xr);
    free(W);
    free(Wr);
    free(Wb);
    free(bv);
    free(ref);
}

/* Every shape on the path the CPU backend takes. */
static void bf16_cases(void)
{
    nn_conv1d_args c1 = { 2, 3, 50, 5, 3, 1, 1, 1, 1, 1, NN_PAD_ZERO };
    nn_conv1d_args c2 = { 1, 40, 601, 70, 7, 1, 9, 27, 27, 1, NN_PAD_ZERO };
    nn_conv1d_args c3 = { 2, 6, 77, 9, 5, 3, 2, 4, 1, 3, NN_PAD_REFLECT };
    nn_conv1d_args c4 = {
        1, 160, 40, 17, 7, 1, 1, 3, 3, 1, NN_PAD_REFLECT
    }; /* kk > KC */
    nn_conv1d_args c5 = { 3, 12, 700, 10, 1, 1, 1, 0, 0, 1, NN_PAD_ZERO };
    nn_convt1d_args t1 = { 2, 6, 40, 3, 24, 12, 1, 6, 0, 0, 1 };
    nn_convt1d_args t2 = { 1, 4, 101, 5, 10, 5, 1, 3, 1, 0, 1 };
    nn_convt1d_args t3 = { 1, 600, 60, 20, 16, 8, 1, 0, 0, 8, 1 }; /* Cin > KC */
    nn_convt1d_args t4 = { 1, 6, 30, 9, 5, 3, 2, 2, 1, 0, 3 };
    nn_convt1d_args t5 = { 1, 2, 5, 2, 2, 7, 1, 0, 0, 0, 1 };

    one_matmul_bf16(1, 1, 1, 0, 0, 0.0f);
    one_matmul_bf16(7, 13, 5, 0, 1, 0.0f);
    one_matmul_bf16(3, 5, 0, 0, 1, 0.0f);
    one_matmul_bf16(130, 300, 67, 0, 1, 0.0f);
    one_matmul_bf16(129, 257, 33, 3, 0, 1.0f);
    one_matmul_bf16(65, 70, 1100, 1, 1, 1.0f); /* K over two packed blocks, odd tail */
    one_matmul_bf16(300, 70, 40, 0, 1, 0.0f);  /* M over two tiles */
    one_conv_bf16(c1, 1);
    one_conv_bf16(c2, 1);
    one_conv_bf16(c3, 1);
    one_conv_bf16(c4, 0);
    one_conv_bf16(c5, 1);
    one_convt_bf16(t1, 1);
    one_convt_bf16(t2, 1);
    one_convt_bf16(t3, 1);
    one_convt_bf16(t4, 1);
    one_convt_bf16(t5, 0);
}

/*
 * Kernels with bf16 weights against the float32 reference on rounded
 * operands, on every path of the CPU backend this machine runs: with the
 * ISA capped below AVX512-BF16 each row of the table widens bf16 tiles to
 * float32 for its own product; the context with no cap (added by setup
 * when the CPU has AVX512-BF16, skipped with the reason otherwise) runs
 * the vdpbf16ps microkernel.
 */
static void test_bf16(void **state)
{
    int b;

    (void)state;
    if (nn_cpu_isa() < NN_ISA_AVX512_BF16)
        print_message("    skipped cpu/avx512_bf16: this CPU's ISA is %s\n",
                      nn_isa_name(nn_cpu_isa()));
    for (b = 0; b < g_nb; b++)
        print_message("    bf16 on %s runs %s\n", g_bk[b].label,
                      nn_ctx_path(K(b, 0), NN_OP_MATMUL_BF16));
    bf16_cases();
    report("bf16");
    {
        /* rounding: ties to even, NaN kept; the names */
        float half_up, f = 1.0f + 1.0f / 256.0f; /* halfway between 1 and 1+2^-7 */
        assert_int_equal(nn_bf16_from_f32(f), 0x3f80);
        half_up = 1.0f + 3.0f / 256.0f; /* halfway, odd below: rounds up */
        assert_int_equal(nn_bf16_from_f32(half_up), 0x3f82);
        assert_true(isnan(nn_f32_from_bf16(nn_bf16_from_f32(NAN))));
        assert_int_equal(nn_precision_parse("bf16"), NN_PRECISION_BF16);
        assert_int_equal(nn_precision_parse("fp32"), NN_PRECISION_F32);
        assert_int_equal(nn_precision_parse("fp16"), -1);
    }
}

/* ---- coverage --------------------------------------------------------- */

static void test_every_kernel_ran(void **state)
{
    int b, t, op;
    (void)state;
    for (b = 0; b < g_nb; b++)
        for (op = 0; op < NN_OP_COUNT; op++) {
            uint64_t calls = 0;
            assert_non_null(nn_op_name((nn_op)op));
            for (t = 0; t < NCTX; t++)
                calls += nn_ctx_op_calls(K(b, t), (nn_op)op);
            if (calls == 0)
                fail_msg("kernel %s never ran on backend %s: add a case to "
                         "test_nn_backend.c",
                         nn_op_name((nn_op)op), g_bk[b].label);
        }
    assert_null(nn_op_name(NN_OP_COUNT));
}

static int setup(void **state)
{
    int b, t;
    char err[128];
    (void)state;
    g_nb = nn_backend_count() < MAXB ? nn_backend_count() : MAXB;
    for (b = 0; b < g_nb; b++) {
        g_bk[b].name = nn_backend_name(b);
        for (t = 0; t < NCTX; t++) {
            nn_params p = { g_bk[b].name, t + 1 };
            if (nn_ctx_create(&p, &g_bk[b].k[t], err, sizeof err) != SAMSEP_OK) {
                print_error("%s: %s\n", g_bk[b].name, err);
                return -1;
            }
            if (nn_reserve(g_bk[b].k[t], (size_t)1 << 21) != SAMSEP_OK)
                return -1;
        }
        snprintf(g_bk[b].label, sizeof g_bk[b].label, "%s/%s", g_bk[b].name,
                 nn_ctx_path(g_bk[b].k[0], NN_OP_MATMUL));
        /* the CPU backend runs the path this run is for */
        if (strcmp(g_bk[b].name, "cpu") == 0 &&
            strcmp(nn_ctx_path(g_bk[b].k[0], NN_OP_MATMUL),
                   getenv("NN_BACKEND_TEST_PATH")) != 0) {
            print_error("asked for path %s, the context runs %s\n",
                        getenv("NN_BACKEND_TEST_PATH"), g_bk[b].label);
            return -1;
        }
        print_message("    path %s\n", g_bk[b].label);
    }
    return 0;
}

static int teardown(void **state)
{
    int b, t;
    (void)state;
    for (b = 0; b < g_nb; b++)
        for (t = 0; t < NCTX; t++)
            nn_ctx_destroy(g_bk[b].k[t]);
    return 0;
}

/* Run this program again with SAMSEP_ISA = each level of the CPU
 * backend's table the CPU has; the exit status of the worst. */
static int run_each_path(char **argv)
{
    const nn_cpu_kern *row;
    int i, worst = 0;

    for (i = 0; (row = nn_cpu_kern_at(i)) != NULL; i++) {
        pid_t pid;
        int st;
        if (row->isa > nn_cpu_isa()) {
            printf("skipped path cpu/%s: this CPU's ISA is %s, the path needs %s\n",
                   row->name, nn_isa_name(nn_cpu_isa()), nn_isa_name(row->isa));
            continue;
        }
        printf("== path cpu/%s (SAMSEP_ISA=%s)\n", row->name, nn_isa_name(row->isa));
        fflush(stdout);
        pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0) {
            setenv("SAMSEP_ISA", nn_isa_name(row->isa), 1);
            setenv("NN_BACKEND_TEST_PATH", row->name, 1);
            execv("/proc/self/exe", argv);
            _exit(127);
        }
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("path cpu/%s FAILED\n", row->name);
            worst = 1;
        }
    }
    /* no row needs AVX512-BF16: the bf16 kernels alone use it, in a run
     * capped there (the fp32 products take the best row below) */
    if (nn_cpu_isa() < NN_ISA_AVX512_BF16) {
        printf("skipped bf16 path cpu/avx512_bf16: this CPU's ISA is %s\n",
               nn_isa_name(nn_cpu_isa()));
        return worst;
    }
    row = nn_cpu_kern_for(NN_ISA_AVX512_BF16);
    printf("== path cpu/%s with bf16 avx512_bf16 (SAMSEP_ISA=avx512_bf16)\n", row->name);
    fflush(stdout);
    {
        pid_t pid = fork();
        int st;
        if (pid < 0)
            return 1;
        if (pid == 0) {
            setenv("SAMSEP_ISA", "avx512_bf16", 1);
            setenv("NN_BACKEND_TEST_PATH", row->name, 1);
            execv("/proc/self/exe", argv);
            _exit(127);
        }
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("bf16 path cpu/avx512_bf16 FAILED\n");
            worst = 1;
        }
    }
    return worst;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threadpool),
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_copies),
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
        cmocka_unit_test(test_rows),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_gemm_paths),
        cmocka_unit_test(test_isa),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_every_kernel_ran),
    };
    const char *path = getenv("NN_BACKEND_TEST_PATH");
    (void)argc;
    if (path == NULL)
        return run_each_path(argv);
    return cmocka_run_group_tests(tests, setup, teardown);
}
