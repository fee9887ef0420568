/*
 * cpu.c - the CPU backend (nn_backend_cpu): its context, memory and
 * kernels, for the contract of nn.h.
 *
 * The context is a persistent thread pool (threadpool.c) plus per-worker
 * scratch memory; memory is host memory from posix_memalign, so upload and
 * download are copies and sync has nothing to wait for.
 *
 * The pattern throughout: a kernel describes its work as a number of fixed
 * units (rows, or tiles whose size depends only on the shapes), hands a job
 * struct and a unit function to the pool, and each unit writes a disjoint
 * part of the output. Unit boundaries never move with the thread count, and
 * every reduction inside a unit runs in one fixed order, so the output is
 * the same bit for bit whatever the pool size. Small jobs are kept on the
 * calling thread (kpar) - that changes who runs the units, not what they
 * compute.
 *
 * Matrix products run per tile on one thread through the context's row
 * of isa.h's kernel table, chosen at creation from the CPU's ISA (capped
 * by SAMSEP_ISA): our own packed AVX-512 or AVX2+FMA
 * microkernels (gemm_*.c), else OpenBLAS held to one thread. Measured on
 * the real shapes, the AVX-512 kernels match or beat OpenBLAS's best core
 * per tile, and unlike OpenBLAS they do not depend on the library having
 * recognised the CPU when it was loaded (Debian's 0.3.21 runs its Haswell
 * or generic kernels on current EPYC and Xeon CPUs). Convolutions are
 * turned into such products (im2col for conv1d, W^T x followed by a gather
 * for the transposed conv); attention runs two products per (batch, head,
 * block of 32 queries) with only the unmasked keys gathered, so padding
 * costs nothing. Norm statistics and softmax sums are
 * accumulated in double, which keeps them within an ulp or two of the exact
 * value (PyTorch's float reductions are within a few ulps of it too).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/backend.h"
#include "nn/cpu/isa.h"
#include "nn/cpu/bf16.h"
#include "nn/cpu/conv_index.h"
#include "nn/cpu/threadpool.h"

/* Below this much work (roughly, flops) per thread a job stays inline. */
#define K_MIN_WORK 32768.0
/* Matmul output tiles: rows split evenly into pieces of at most the
 * kernel's tile_m (rounded up to its microkernel's rows: a ragged last
 * piece would pack the weights again for a few rows), columns the largest
 * of MM_TN_MAX halved down to MM_TN_MIN that still gives MM_UNITS tiles
 * (bigger tiles run faster; enough tiles keep many threads busy). Chosen
 * from the shape and the kernel alone, never from the thread count. */
#define MM_TN_MAX 512
#define MM_TN_MIN 128
#define MM_UNITS 48
/* Attention query block. */
#define ATT_QB 32
/* Elementwise chunk. */
#define EW_CHUNK 4096
/* LSTM: input projections computed for this many steps at a time; hidden
 * units per unit of a step. */
#define LSTM_TB 32
#define LSTM_TH 32
/* Largest im2col / column slab per worker, floats. */
#define CONV_SLAB (1 << 20)

typedef struct cpu_ctx {
    nn_tpool *pool;
    int n;
    float **scr;
    size_t scr_floats;
    const nn_cpu_kern *kern; /* the kernels this context dispatches to */
    float **pack;            /* per worker, NN_GEMM_PACK_FLOATS */
    nn_bf16_env b16;         /* what the bf16 kernels (bf16.c) run with */
} cpu_ctx;

/* One product on worker wk's packing memory. */
static void gemm(const cpu_ctx *k, int wk, int64_t M, int64_t N, int64_t K, float alpha,
                 const float *A, int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                 int64_t csb, float beta, float *C, int64_t ldc)
{
    nn_gemm g;
    g.M = M;
    g.N = N;
    g.K = K;
    g.alpha = alpha;
    g.beta = beta;
    g.A = A;
    g.rsa = rsa;
    g.csa = csa;
    g.B = B;
    g.rsb = rsb;
    g.csb = csb;
    g.C = C;
    g.ldc = ldc;
    k->kern->sgemm(&g, k->pack[wk]);
}

/* ---- context and memory ----------------------------------------------- */

static void cpu_done(void *ctx)
{
    cpu_ctx *k = ctx;
    int i;
    if (k == NULL)
        return;
    nn_tpool_destroy(k->pool);
    for (i = 0; k->scr != NULL && i < k->n; i++)
        free(k->scr[i]);
    for (i = 0; k->pack != NULL && i < k->n; i++)
        free(k->pack[i]);
    free(k->scr);
    free(k->pack);
    for (i = 0; k->b16.buf != NULL && i < k->n; i++)
        free(k->b16.buf[i]);
    free(k->b16.buf);
    free(k);
}

/* The ISA cap: SAMSEP_ISA, else none. */
static int isa_cap(nn_isa *cap, char *err, size_t errlen)
{
    const char *s = getenv("SAMSEP_ISA");
    int v;

    *cap = NN_ISA_COUNT;
    if (s == NULL || s[0] == '\0')
        return SAMSEP_OK;
    v = nn_isa_parse(s);
    if (v < 0) {
        set_err(err, errlen,
                "SAMSEP_ISA: unknown ISA \"%s\" (generic, avx2, avx512, "
                "avx512_bf16, amx)",
                s);
        return SAMSEP_ERR_INVALID;
    }
    *cap = (nn_isa)v;
    return SAMSEP_OK;
}

/* The bf16 kernels' buffers and path (AVX512-BF16 when the CPU has it
 * within the cap, else widening to this context's fp32 product). Returns
 * how many workers got their buffer (k->n when all did). */
static int bf16_init(cpu_ctx *k, nn_isa cap)
{
    int i;

    k->b16.pool = k->pool;
    k->b16.avx512bf16 = cap >= NN_ISA_AVX512_BF16 && nn_cpu_isa() >= NN_ISA_AVX512_BF16;
    k->b16.kern = k->kern;
    k->b16.pack = k->pack;
    k->b16.buf = calloc((size_t)k->n, sizeof *k->b16.buf);
    for (i = 0; k->b16.buf != NULL && i < k->n; i++) {
        void *q = NULL;
        if (posix_memalign(&q, 64, NN_BF16_BUF_BYTES) != 0)
            break;
        k->b16.buf[i] = q;
    }
    return k->b16.buf != NULL ? i : 0;
}

static int cpu_init(const nn_params *p, void **out, char *err, size_t errlen)
{
    cpu_ctx *k;
    nn_isa cap;
    int rc, i;

    *out = NULL;
    rc = isa_cap(&cap, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    k->kern = nn_cpu_kern_for(cap);
    rc = nn_tpool_create(p != NULL ? p->threads : 0, &k->pool);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen,
                rc == SAMSEP_ERR_INVALID ? "invalid thread count %d"
                                         : "cannot start %d threads",
                p != NULL ? p->threads : 0);
        free(k);
        return rc;
    }
    k->n = nn_tpool_size(k->pool);
    k->scr = calloc((size_t)k->n, sizeof *k->scr);
    k->pack = calloc((size_t)k->n, sizeof *k->pack);
    for (i = 0; k->pack != NULL && i < k->n; i++) {
        void *q = NULL;
        if (posix_memalign(&q, 64, NN_GEMM_PACK_FLOATS * sizeof(float)) != 0)
            break;
        k->pack[i] = q;
    }
    if (k->pack != NULL && i == k->n)
        i = bf16_init(k, cap);
    if (k->scr == NULL || k->pack == NULL || i < k->n) {
        cpu_done(k);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    /* All parallelism is ours; a threaded sgemm inside a pool job would
     * oversubscribe the CPUs. */
    openblas_set_num_threads(1);
    *out = k;
    return SAMSEP_OK;
}

static int cpu_threads(const void *ctx)
{
    return ((const cpu_ctx *)ctx)->n;
}

/* The products' kernels name the path; the other kernels are plain C
 * (vectorised by the compiler for the baseline ISA). */
static const char *cpu_path(const void *ctx, nn_op op)
{
    switch (op) {
    case NN_OP_MATMUL:
    case NN_OP_ATTENTION:
    case NN_OP_CONV1D:
    case NN_OP_CONVT1D:
    case NN_OP_LSTM:
    case NN_OP_SNAKE: return ((const cpu_ctx *)ctx)->kern->name;
    case NN_OP_MATMUL_BF16:
    case NN_OP_CONV1D_BF16:
    case NN_OP_CONVT1D_BF16: return nn_cpu_bf16_path(&((const cpu_ctx *)ctx)->b16);
    default: return "c";
    }
}

static void *cpu_alloc(void *ctx, size_t bytes)
{
    void *p = NULL;
    (void)ctx;
    if (bytes > SIZE_MAX - 63)
        return NULL;
    if (posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0)
        return NULL;
    return p;
}

static void cpu_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static int cpu_copy_mem(void *ctx, void *dst, const void *src, size_t bytes)
{
    (void)ctx;
    memmove(dst, src, bytes);
    return SAMSEP_OK;
}

static int cpu_sync(void *ctx)
{
    (void)ctx;
    return SAMSEP_OK;
}

static int cpu_reserve(void *ctx, size_t floats)
{
    cpu_ctx *k = ctx;
    int i;
    size_t bytes;

    if (floats <= k->scr_floats)
        return SAMSEP_OK;
    if (floats > SIZE_MAX / sizeof(float) - 64)
        return SAMSEP_ERR_NOMEM;
    bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    for (i = 0; i < k->n; i++) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes) != 0) {
            /* keep what we have: the smaller buffers already grown are
             * still at least scr_floats long */
            return SAMSEP_ERR_NOMEM;
        }
        free(k->scr[i]);
        k->scr[i] = p;
    }
    k->scr_floats = floats;
    return SAMSEP_OK;
}

static size_t cpu_scratch_floats(const void *ctx)
{
    return ((const cpu_ctx *)ctx)->scr_floats;
}

/* Run n fixed units, each costing about `cost` flops, on as many threads
 * as the work justifies. */
static void kpar(cpu_ctx *k, int64_t n, double cost, nn_tpool_fn fn, void *ctx)
{
    double ranges = (double)n * cost / K_MIN_WORK;
    int r = ranges >= 1024.0 ? 1024 : (int)ranges;
    nn_tpool_parallel_for_n(k->pool, n, r, fn, ctx);
}

static int64_t imin(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t imax(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* floor(a / b) for b > 0 and any a. */
static int64_t fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* ---- matmul ----------------------------------------------------------- */

typedef struct mm_job {
    const cpu_ctx *k;
    const float *x, *W, *bias;
    float *y;
    int64_t ldx, ldy, M, N, K, tm, tn, ntn;
    float beta;
} mm_job;

static void mm_tile(const mm_job *j, int wk, int64_t m0, int64_t m1, int64_t n0,
                    int64_t n1)
{
    float *yt = j->y + m0 * j->ldy + n0;
    float beta = j->beta;
    int64_t r, c;

    if (j->bias != NULL) {
        for (r = 0; r < m1 - m0; r++) {
            float *yr = yt + r * j->ldy;
            if (beta == 0.0f)
                for (c = 0; c < n1 - n0; c++)
                    yr[c] = j->bias[n0 + c];
            else
                for (c = 0; c < n1 - n0; c++)
                    yr[c] = beta * yr[c] + j->bias[n0 + c];
        }
        beta = 1.0f;
    }
    if (j->K == 0) {
        if (beta == 0.0f)
            for (r = 0; r < m1 - m0; r++)
                memset(yt + r * j->ldy, 0, (size_t)(n1 - n0) * sizeof(float));
        return;
    }
    gemm(j->k, wk, m1 - m0, n1 - n0, j->K, 1.0f, j->x + m0 * j->ldx, j->ldx, 1,
         j->W + n0 * j->K, 1, j->K, beta, yt, j->ldy);
}

static void mm_fn(void *ctx, int64_t b, int64_t e, int w)
{
    const mm_job *j = ctx;
    int64_t u;
    for (u = b; u < e; u++) {
        int64_t m0 = (u / j->ntn) * j->tm, n0 = (u % j->ntn) * j->tn;
        mm_tile(j, w, m0, imin(j->M, m0 + j->tm), n0, imin(j->N, n0 + j->tn));
    }
}

static int cpu_matmul(void *ctx, const float *x, int64_t ldx, const float *W,
                      const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                      int64_t K, float beta)
{
    mm_job j;
    int64_t nm;
    j.k = ctx;
    j.x = x;
    j.W = W;
    j.bias = bias;
    j.y = y;
    j.ldx = ldx;
    j.ldy = ldy;
    j.M = M;
    j.N = N;
    j.K = K;
    j.beta = beta;
    nm = cdiv(M, j.k->kern->tile_m);
    j.tm = cdiv(cdiv(M, nm), j.k->kern->mr) * j.k->kern->mr;
    j.tn = MM_TN_MAX;
    while (j.tn > MM_TN_MIN && cdiv(M, j.tm) * cdiv(N, j.tn) < MM_UNITS)
        j.tn /= 2;
    j.ntn = cdiv(N, j.tn);
    kpar(ctx, cdiv(M, j.tm) * j.ntn,
         2.0 * (double)imin(M, j.tm) * (double)imin(N, j.tn) * (double)(K + 1), mm_fn,
         &j);
    return SAMSEP_OK;
}

/* ---- norms and softmax ------------------------------------------------ */

typedef struct norm_job {
    const float *x, *w, *b;
    float *y;
    float eps;
    int64_t D;
} norm_job;

static void rms_fn(void *ctx, int64_t b, int64_t e, int wk)
{
    const norm_job *j = ctx;
    int64_t m, i, D = j->D;
    (void)wk;
    for (m = b; m < e; m++) {
        const float *x = j->x + m * D;
        float *y = j->y + m * D;
        double ss = 0.0;
        float r;
        for (i = 0; i < D; i++)
            ss += (double)x[i] * (double)x[i];
        r = 1.0f / sqrtf((float)(ss / (double)D) + j->eps);
        if (j->w != NULL)
            for (i = 0; i < D; i++)
                y[i] = (x[i] * r) * j->w[i];
        else
            for (i = 0; i < D; i++)
                y[i] = x[i] * r;
    }
}

static int cpu_rmsnorm(void *ctx, const float *x, const float *w, float eps, float *y,
                       int64_t M, int64_t D)
{
    norm_job j = { x, w, NULL, y, eps, D };
    kpar(ctx, M, 4.0 * (double)D, rms_fn, &j);
    return SAMSEP_OK;
}

static void ln_fn(void *ctx, int64_t b, int64_t e, int wk)
{
    const norm_job *j = ctx;
    int64_t m, i, D = j->D;
    (void)wk;
    for (m = b; m < e; m++) {
        const float *x = j->x + m * D;
        float *y = j->y + m * D;
        double s = 0.0, v = 0.0, mean;
        float fm, r;
        for (i = 0; i < D; i++)
            s += x[i];
        mean = s / (double)D;
        for (i = 0; i < D; i++) {
            double d = (double)x[i] - mean;
            v += d * d;
        }
        fm = (float)mean;
        r = 1.0f / sqrtf((float)(v / (double)D) + j->eps);
        for (i = 0; i < D; i++) {
            float t = (x[i] - fm) * r;
            if (j->w != NULL)
                t *= j->w[i];
            if (j->b != NULL)
                t += j->b[i];
            y[i] = t;
        }
    }
}

static int cpu_layernorm(void *ctx, const float *x, const float *w, const float *b,
                         float eps, float *y, int64_t M, int64_t D)
{
    norm_job j = { x, w, b, y, eps, D };
    kpar(ctx, M, 6.0 * (double)D, ln_fn, &j);
    return SAMSEP_OK;
}

typedef struct gn_job {
    const float *x, *w, *b;
    float *y;
    float eps;
    int64_t C, T, G;
} gn_job;

static void gn_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const gn_job *j = ctx;
    int64_t u, c, t, cg = j->C / j->G, T = j->T;
    (void)wk;
    for (u = ub; u < ue; u++) {
        int64_t bi = u / j->G, g = u % j->G;
        int64_t off = (bi * j->C + g * cg) * T, n = cg * T;
        const float *x = j->x + off;
        float *y = j->y + off;
        double s = 0.0, v = 0.0, mean;
        float fm, r;
        for (t = 0; t < n; t++)
            s += x[t];
        mean = s / (double)n;
        for (t = 0; t < n; t++) {
            double d = (double)x[t] - mean;
            v += d * d;
        }
        fm = (float)mean;
        r = 1.0f / sqrtf((float)(v / (double)n) + j->eps);
        for (c = 0; c < cg; c++) {
            int64_t ch = g * cg + c;
            float wc = j->w != NULL ? j->w[ch] : 1.0f;
            float bc = j->b != NULL ? j->b[ch] : 0.0f;
            for (t = 0; t < T; t++)
                y[c * T + t] = (x[c * T + t] - fm) * r * wc + bc;
        }
    }
}

static int cpu_groupnorm(void *ctx, const float *x, const float *w, const float *b,
                         float eps, float *y, int64_t B, int64_t C, int64_t T, int64_t G)
{
    gn_job j = { x, w, b, y, eps, C, T, G };
    kpar(ctx, B * G, 6.0 * (double)(C / G) * (double)T, gn_fn, &j);
    return SAMSEP_OK;
}

/* softmax of one row; see k_softmax for the -inf rules */
static void softmax_row(const float *x, float *y, int64_t n)
{
    float m = -INFINITY, inv;
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY) {
        for (i = 0; i < n; i++)
            y[i] = 0.0f;
        return;
    }
    for (i = 0; i < n; i++) {
        float e = expf(x[i] - m);
        y[i] = e;
        s += e;
    }
    inv = (float)(1.0 / s);
    for (i = 0; i < n; i++)
        y[i] *= inv;
}

typedef struct sm_job {
    const float *x;
    float *y;
    int64_t N;
} sm_job;

static void sm_fn(void *ctx, int64_t b, int64_t e, int wk)
{
    const sm_job *j = ctx;
    int64_t m;
    (void)wk;
    for (m = b; m < e; m++)
        softmax_row(j->x + m * j->N, j->y + m * j->N, j->N);
}

static int cpu_softmax(void *ctx, const float *x, float *y, int64_t M, int64_t N)
{
    sm_job j = { x, y, N };
    kpar(ctx, M, 20.0 * (double)N, sm_fn, &j);
    return SAMSEP_OK;
}

/* ---- attention -------------------------------------------------------- */

/* Round a float count up to 16 (64 bytes) so carved arrays stay aligned. */
static size_t al16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static size_t cpu_attention_scratch(int64_t Lk, int64_t dh)
{
    size_t lk = (size_t)(Lk > 0 ? Lk : 0), d = (size_t)(dh > 0 ? dh : 0);
    return 2 * al16(lk * d) + 2 * al16((size_t)ATT_QB * d) + al16((size_t)ATT_QB * lk) +
           al16(lk);
}

typedef struct att_job {
    const nn_attn_args *a;
    cpu_ctx *k;
    int64_t nqb;
} att_job;

static void att_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const att_job *jb = ctx;
    const nn_attn_args *a = jb->a;
    int64_t dh = a->dh, Lk = a->Lk;
    float *kc = jb->k->scr[wk];
    float *vc = kc + al16((size_t)(Lk * dh));
    float *qb = vc + al16((size_t)(Lk * dh));
    float *ob = qb + al16((size_t)ATT_QB * (size_t)dh);
    float *sc = ob + al16((size_t)ATT_QB * (size_t)dh);
    int32_t *idx = (int32_t *)(void *)(sc + al16((size_t)ATT_QB * (size_t)Lk));
    int64_t u;

    for (u = ub; u < ue; u++) {
        int64_t bh = u / jb->nqb, i0 = (u % jb->nqb) * ATT_QB;
        int64_t b = bh / a->H, h = bh % a->H;
        int64_t i1 = imin(a->Lq, i0 + ATT_QB), nq = i1 - i0;
        int64_t nv = 0, t, i, jj;
        const float *kb = a->k + b * a->k_s.b + h * a->k_s.h;
        const float *vb = a->v + b * a->v_s.b + h * a->v_s.h;
        const float *qbase = a->q + b * a->q_s.b + h * a->q_s.h;
        float *obase = a->out + b * a->out_s.b + h * a->out_s.h;

        for (t = 0; t < Lk; t++) {
            if (a->key_mask != NULL && a->key_mask[b * Lk + t] == 0)
                continue;
            for (jj = 0; jj < dh; jj++) {
                kc[nv * dh + jj] = kb[t * a->k_s.t + jj * a->k_s.j];
                vc[nv * dh + jj] = vb[t * a->v_s.t + jj * a->v_s.j];
            }
            idx[nv++] = (int32_t)t;
        }
        if (nv == 0) {
            for (i = i0; i < i1; i++)
                for (jj = 0; jj < dh; jj++)
                    obase[i * a->out_s.t + jj * a->out_s.j] = 0.0f;
            continue;
        }
        for (i = 0; i < nq; i++)
            for (jj = 0; jj < dh; jj++)
                qb[i * dh + jj] = qbase[(i0 + i) * a->q_s.t + jj * a->q_s.j];
        gemm(jb->k, wk, nq, nv, dh, a->scale, qb, dh, 1, kc, 1, dh, 0.0f, sc, nv);
        if (a->bias != NULL) {
            const float *bb = a->bias + b * a->bias_s.b + h * a->bias_s.h;
            for (i = 0; i < nq; i++) {
                const float *br = bb + (i0 + i) * a->bias_s.t;
                float *sr = sc + i * nv;
                for (t = 0; t < nv; t++)
                    sr[t] += br[(int64_t)idx[t] * a->bias_s.j];
            }
        }
        for (i = 0; i < nq; i++)
            softmax_row(sc + i * nv, sc + i * nv, nv);
        gemm(jb->k, wk, nq, dh, nv, 1.0f, sc, nv, 1, vc, dh, 1, 0.0f, ob, dh);
        for (i = 0; i < nq; i++)
            for (jj = 0; jj < dh; jj++)
                obase[(i0 + i) * a->out_s.t + jj * a->out_s.j] = ob[i * dh + jj];
    }
}

static int cpu_attention(void *ctx, const nn_attn_args *a)
{
    cpu_ctx *k = ctx;
    att_job j;
    if (k->scr_floats < cpu_attention_scratch(a->Lk, a->dh))
        return SAMSEP_ERR_INVALID;
    j.a = a;
    j.k = k;
    j.nqb = cdiv(a->Lq, ATT_QB);
    kpar(k, a->B * a->H * j.nqb, (4.0 * (double)a->dh + 20.0) * (double)a->Lk * ATT_QB,
         att_fn, &j);
    return SAMSEP_OK;
}

static int cpu_rope_table(void *ctx, float *cos_t, float *sin_t, int64_t L, int64_t dh,
                          float theta)
{
    int64_t t, i, half = dh / 2;
    (void)ctx;
    for (i = 0; i < half; i++) {
        float f = 1.0f / powf(theta, (float)(2 * i) / (float)dh);
        for (t = 0; t < L; t++) {
            float ang = (float)t * f;
            cos_t[t * half + i] = cosf(ang);
            sin_t[t * half + i] = sinf(ang);
        }
    }
    return SAMSEP_OK;
}

typedef struct rope_job {
    float *x;
    nn_strides s;
    int64_t H, L, dh;
    const float *c, *sn;
} rope_job;

static void rope_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const rope_job *j = ctx;
    int64_t u, i, half = j->dh / 2;
    (void)wk;
    for (u = ub; u < ue; u++) {
        int64_t t = u % j->L, bh = u / j->L;
        int64_t b = bh / j->H, h = bh % j->H;
        float *x = j->x + b * j->s.b + h * j->s.h + t * j->s.t;
        const float *c = j->c + t * half, *s = j->sn + t * half;
        for (i = 0; i < half; i++) {
            float x0 = x[(2 * i) * j->s.j], x1 = x[(2 * i + 1) * j->s.j];
            x[(2 * i) * j->s.j] = x0 * c[i] - x1 * s[i];
            x[(2 * i + 1) * j->s.j] = x0 * s[i] + x1 * c[i];
        }
    }
}

static int cpu_rope(void *ctx, float *x, nn_strides s, int64_t B, int64_t H, int64_t L,
                    int64_t dh, const float *cos_t, const float *sin_t)
{
    rope_job j = { x, s, H, L, dh, cos_t, sin_t };
    kpar(ctx, B * H * L, 3.0 * (double)dh, rope_fn, &j);
    return SAMSEP_OK;
}

/* ---- conv1d ----------------------------------------------------------- */

static int conv_direct(const nn_conv1d_args *a)
{
    return a->K == 1 && a->stride == 1 && a->pad_left == 0 && a->pad_right == 0;
}

/* Output columns per tile: fixed by the shapes alone. */
static int64_t conv_tile(const nn_conv1d_args *a)
{
    int64_t kk = (a->Cin / a->groups) * a->K, tl = 256;
    if (conv_direct(a))
        return 512;
    while (tl > 16 && kk * tl > CONV_SLAB)
        tl /= 2;
    return tl;
}

static size_t cpu_conv1d_scratch(const nn_conv1d_args *a)
{
    if (nn_conv1d_out_len(a) < 0 || conv_direct(a))
        return 0;
    return (size_t)((a->Cin / a->groups) * a->K * conv_tile(a));
}

/* One row of the im2col matrix: dst[t] = padded x at p0 + t * stride for
 * t < n. The columns that read inside x are copied (one memcpy when the
 * stride is 1); only the padded ends go through nn_cpu_pad_index. */
static void im2col_row(const nn_conv1d_args *a, const float *xr, int64_t p0, int64_t n,
                       float *dst)
{
    int64_t s = a->stride, L = a->Lin, t, ta, tb;
    /* inside: 0 <= p0 + t s < L  <=>  ta <= t < tb */
    ta = p0 >= 0 ? 0 : imin(n, cdiv(-p0, s));
    tb = p0 >= L ? 0 : imin(n, cdiv(L - p0, s));
    if (tb < ta)
        tb = ta;
    for (t = 0; t < ta; t++) {
        int64_t q = nn_cpu_pad_index(p0 + t * s, L, a->pad_mode);
        dst[t] = q < 0 ? 0.0f : xr[q];
    }
    if (s == 1)
        memcpy(dst + ta, xr + p0 + ta, (size_t)(tb - ta) * sizeof(float));
    else
        for (t = ta; t < tb; t++)
            dst[t] = xr[p0 + t * s];
    for (t = tb; t < n; t++) {
        int64_t q = nn_cpu_pad_index(p0 + t * s, L, a->pad_mode);
        dst[t] = q < 0 ? 0.0f : xr[q];
    }
}

typedef struct conv_job {
    const nn_conv1d_args *a;
    cpu_ctx *k;
    const float *x, *W, *bias;
    float *y;
    int64_t Lout, tl, ntl;
} conv_job;

static void conv_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const conv_job *j = ctx;
    const nn_conv1d_args *a = j->a;
    int64_t cig = a->Cin / a->groups, cog = a->Cout / a->groups;
    int64_t kk = cig * a->K, u;
    float *col = j->k->scr[wk];

    for (u = ub; u < ue; u++) {
        int64_t tile = u % j->ntl, bg = u / j->ntl;
        int64_t b = bg / a->groups, g = bg % a->groups;
        int64_t t0 = tile * j->tl, t1 = imin(j->Lout, t0 + j->tl), n = t1 - t0;
        const float *xg = j->x + (b * a->Cin + g * cig) * a->Lin;
        float *yt = j->y + (b * a->Cout + g * cog) * j->Lout + t0;
        const float *bm;
        int64_t ldb, ci, k2, t, r;
        float beta = 0.0f;
        (void)t;

        if (conv_direct(a)) {
            bm = xg + t0;
            ldb = a->Lin;
        } else {
            for (ci = 0; ci < cig; ci++)
                for (k2 = 0; k2 < a->K; k2++)
                    im2col_row(a, xg + ci * a->Lin,
                               t0 * a->stride + k2 * a->dilation - a->pad_left, n,
                               col + (ci * a->K + k2) * n);
            bm = col;
            ldb = n;
        }
        if (j->bias != NULL) {
            for (r = 0; r < cog; r++)
                for (t = 0; t < n; t++)
                    yt[r * j->Lout + t] = j->bias[g * cog + r];
            beta = 1.0f;
        }
        gemm(j->k, wk, cog, n, kk, 1.0f, j->W + g * cog * kk, kk, 1, bm, ldb, 1, beta, yt,
             j->Lout);
    }
}

static int cpu_conv1d(void *ctx, const nn_conv1d_args *a, const float *x, const float *W,
                      const float *bias, float *y)
{
    cpu_ctx *k = ctx;
    conv_job j;
    int64_t Lout = nn_conv1d_out_len(a);
    if (k->scr_floats < cpu_conv1d_scratch(a))
        return SAMSEP_ERR_INVALID;
    j.a = a;
    j.k = k;
    j.x = x;
    j.W = W;
    j.bias = bias;
    j.y = y;
    j.Lout = Lout;
    j.tl = conv_tile(a);
    j.ntl = cdiv(Lout, j.tl);
    kpar(k, a->B * a->groups * j.ntl,
         2.0 * (double)(a->Cout / a->groups) * (double)(a->Cin / a->groups) *
             (double)a->K * (double)imin(Lout, j.tl),
         conv_fn, &j);
    return SAMSEP_OK;
}

/* ---- transposed conv1d ------------------------------------------------ */

/* Output samples per tile: about 256 input columns per product (fewer
 * make the products thin and the weights' packing dominant). */
static int64_t convt_tile(const nn_convt1d_args *a)
{
    return 256 * a->stride;
}

/* Output channels per unit: as many as keep the column slab (channels x
 * taps x input columns) within CONV_SLAB, split evenly. */
static int64_t convt_chans(const nn_convt1d_args *a)
{
    int64_t cog = a->Cout / a->groups;
    int64_t per = a->K * nn_cpu_convt_cols(a, convt_tile(a));
    int64_t cb = imax(1, CONV_SLAB / per);
    return cdiv(cog, cdiv(cog, cb));
}

static size_t cpu_convt1d_scratch(const nn_convt1d_args *a)
{
    if (nn_convt1d_out_len(a) < 0)
        return 0;
    return (size_t)(convt_chans(a) * a->K * nn_cpu_convt_cols(a, convt_tile(a)));
}

typedef struct convt_job {
    const nn_convt1d_args *a;
    cpu_ctx *k;
    const float *x, *W, *bias;
    float *y;
    int64_t Lout, tl, ntl, cb, ncb;
} convt_job;

/* unit = (batch item and group, output tile, block of output channels):
 * col = W^T x for the block's channels and the tile's input columns, then
 * each output sums its taps */
static void convt_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const convt_job *j = ctx;
    const nn_convt1d_args *a = j->a;
    int64_t cig = a->Cin / a->groups, cog = a->Cout / a->groups;
    int64_t s = a->stride, d = a->dilation, K = a->K, u;
    float *col = j->k->scr[wk];

    for (u = ub; u < ue; u++) {
        int64_t cblk = u % j->ncb, tile = (u / j->ncb) % j->ntl;
        int64_t bg = u / (j->ncb * j->ntl);
        int64_t b = bg / a->groups, g = bg % a->groups;
        int64_t c0 = cblk * j->cb, c1 = imin(cog, c0 + j->cb);
        int64_t o0 = tile * j->tl, o1 = imin(j->Lout, o0 + j->tl);
        int64_t p0 = o0 + a->padding, p1 = o1 + a->padding;
        int64_t tlo = imax(0, -fdiv(-(p0 - (K - 1) * d), s));
        int64_t thi = imin(a->Lin - 1, fdiv(p1 - 1, s));
        int64_t nt = thi - tlo + 1, co, o, k2;
        float *yt = j->y + (b * a->Cout + g * cog) * j->Lout;

        if (nt > 0)
            gemm(j->k, wk, (c1 - c0) * K, nt, cig, 1.0f,
                 j->W + g * cig * cog * K + c0 * K, 1, cog * K,
                 j->x + (b * a->Cin + g * cig) * a->Lin + tlo, a->Lin, 1, 0.0f, col, nt);
        /* scatter: tap k2 of input t lands on o = t s + k2 d - padding;
         * each output sums its taps in increasing k2, then the bias */
        for (co = c0; co < c1; co++) {
            const float *cr = col + (co - c0) * K * (nt > 0 ? nt : 0);
            float bv = j->bias != NULL ? j->bias[g * cog + co] : 0.0f;
            float *yr = yt + co * j->Lout;
            for (o = o0; o < o1; o++)
                yr[o] = 0.0f;
            for (k2 = 0; k2 < K && nt > 0; k2++) {
                int64_t off = k2 * d - a->padding, t;
                int64_t ta = imax(tlo, -fdiv(-(o0 - off), s));
                int64_t tb = imin(thi + 1, -fdiv(-(o1 - off), s));
                const float *ck = cr + k2 * nt - tlo;
                for (t = ta; t < tb; t++)
                    yr[t * s + off] += ck[t];
            }
            for (o = o0; o < o1; o++)
                yr[o] += bv;
        }
    }
}

static int cpu_convt1d(void *ctx, const nn_convt1d_args *a, const float *x,
                       const float *W, const float *bias, float *y)
{
    cpu_ctx *k = ctx;
    convt_job j;
    int64_t Lout = nn_convt1d_out_len(a);
    if (k->scr_floats < cpu_convt1d_scratch(a))
        return SAMSEP_ERR_INVALID;
    j.a = a;
    j.k = k;
    j.x = x;
    j.W = W;
    j.bias = bias;
    j.y = y;
    j.Lout = Lout;
    j.tl = convt_tile(a);
    j.ntl = cdiv(Lout, j.tl);
    j.cb = convt_chans(a);
    j.ncb = cdiv(a->Cout / a->groups, j.cb);
    kpar(k, a->B * a->groups * j.ntl * j.ncb,
         2.0 * (double)j.cb * (double)(a->Cin / a->groups) * (double)a->K *
             (double)nn_cpu_convt_cols(a, imin(Lout, j.tl)),
         convt_fn, &j);
    return SAMSEP_OK;
}

typedef struct pad_job {
    const float *x;
    float *y;
    int64_t L, left, right;
    nn_pad_mode mode;
} pad_job;

static void pad_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const pad_job *j = ctx;
    int64_t r, t, Lo = j->left + j->L + j->right;
    (void)wk;
    for (r = ub; r < ue; r++) {
        const float *x = j->x + r * j->L;
        float *y = j->y + r * Lo;
        for (t = 0; t < Lo; t++) {
            int64_t q = nn_cpu_pad_index(t - j->left, j->L, j->mode);
            y[t] = q < 0 ? 0.0f : x[q];
        }
    }
}

static int cpu_pad1d(void *ctx, const float *x, float *y, int64_t B, int64_t C, int64_t L,
                     int64_t left, int64_t right, nn_pad_mode mode)
{
    pad_job j = { x, y, L, left, right, mode };
    kpar(ctx, B * C, (double)(L + left + right), pad_fn, &j);
    return SAMSEP_OK;
}

/* ---- LSTM ------------------------------------------------------------- */

static size_t cpu_lstm_work_floats(int64_t B, int64_t H)
{
    return (size_t)(LSTM_TB * B * 4 * H + 2 * B * H);
}

static float sigm(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

typedef struct lstm_job {
    const cpu_ctx *k;
    const float *W_hh, *hprev;
    float *g;    /* gates of this step [B, 4H] */
    float *c;    /* [B, H] */
    float *hout; /* [B, H] */
    int64_t B, H;
} lstm_job;

static void lstm_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const lstm_job *j = ctx;
    int64_t H = j->H, u, q, b, i;
    for (u = ub; u < ue; u++) {
        int64_t h0 = u * LSTM_TH, h1 = imin(H, h0 + LSTM_TH);
        for (q = 0; q < 4; q++)
            gemm(j->k, wk, j->B, h1 - h0, H, 1.0f, j->hprev, H, 1,
                 j->W_hh + (q * H + h0) * H, 1, H, 1.0f, j->g + q * H + h0, 4 * H);
        for (b = 0; b < j->B; b++) {
            const float *g = j->g + b * 4 * H;
            for (i = h0; i < h1; i++) {
                float ig = sigm(g[i]), fg = sigm(g[H + i]);
                float cg = tanhf(g[2 * H + i]), og = sigm(g[3 * H + i]);
                float c = fg * j->c[b * H + i] + ig * cg;
                j->c[b * H + i] = c;
                j->hout[b * H + i] = og * tanhf(c);
            }
        }
    }
}

static int cpu_lstm(void *ctx, const float *x, const float *W_ih, const float *W_hh,
                    const float *b_ih, const float *b_hh, const float *h0,
                    const float *c0, float *y, float *hT, float *cT, int64_t T, int64_t B,
                    int64_t n_in, int64_t H, float *work)
{
    float *G = work, *c = work + LSTM_TB * B * 4 * H, *hz = c + B * H;
    int64_t t0, t, r, i;
    lstm_job j;

    if (c0 != NULL)
        memcpy(c, c0, (size_t)(B * H) * sizeof(float));
    else
        memset(c, 0, (size_t)(B * H) * sizeof(float));
    if (h0 != NULL)
        memcpy(hz, h0, (size_t)(B * H) * sizeof(float));
    else
        memset(hz, 0, (size_t)(B * H) * sizeof(float));
    j.k = ctx;
    j.W_hh = W_hh;
    j.c = c;
    j.B = B;
    j.H = H;
    for (t0 = 0; t0 < T; t0 += LSTM_TB) {
        int64_t nt = imin(LSTM_TB, T - t0);
        cpu_matmul(ctx, x + t0 * B * n_in, n_in, W_ih, b_ih, G, 4 * H, nt * B, 4 * H,
                   n_in, 0.0f);
        if (b_hh != NULL)
            for (r = 0; r < nt * B; r++)
                for (i = 0; i < 4 * H; i++)
                    G[r * 4 * H + i] += b_hh[i];
        for (t = t0; t < t0 + nt; t++) {
            j.hprev = t == 0 ? hz : y + (t - 1) * B * H;
            j.g = G + (t - t0) * B * 4 * H;
            j.hout = y + t * B * H;
            kpar(ctx, cdiv(H, LSTM_TH), 8.0 * (double)B * LSTM_TH * (double)H, lstm_fn,
                 &j);
        }
    }
    if (hT != NULL)
        memcpy(hT, y + (T - 1) * B * H, (size_t)(B * H) * sizeof(float));
    if (cT != NULL)
        memcpy(cT, c, (size_t)(B * H) * sizeof(float));
    return SAMSEP_OK;
}

/* ---- activations and elementwise -------------------------------------- */

typedef enum ew_op {
    EW_RELU,
    EW_GELU_TANH,
    EW_GELU_ERF,
    EW_SILU,
    EW_SIGMOID,
    EW_ELU,
    EW_TANH,
    EW_SCALE,
    EW_ADD,
    EW_MUL,
    EW_AXPY
} ew_op;

typedef struct ew_job {
    const float *a, *b;
    float *y;
    int64_t n;
    float p;
    ew_op op;
} ew_job;

static void ew_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const ew_job *j = ctx;
    int64_t i0 = ub * EW_CHUNK, i1 = imin(j->n, ue * EW_CHUNK), i;
    const float *a = j->a, *b = j->b;
    float *y = j->y, p = j->p;
    (void)wk;
    switch (j->op) {
    case EW_RELU:
        for (i = i0; i < i1; i++)
            y[i] = a[i] > 0.0f ? a[i] : 0.0f;
        break;
    case EW_GELU_TANH:
        for (i = i0; i < i1; i++) {
            float x = a[i];
            y[i] = 0.5f * x *
                   (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
        }
        break;
    case EW_GELU_ERF:
        for (i = i0; i < i1; i++)
            y[i] = 0.5f * a[i] * (1.0f + erff(a[i] * 0.7071067811865476f));
        break;
    case EW_SILU:
        for (i = i0; i < i1; i++)
            y[i] = a[i] / (1.0f + expf(-a[i]));
        break;
    case EW_SIGMOID:
        for (i = i0; i < i1; i++)
            y[i] = 1.0f / (1.0f + expf(-a[i]));
        break;
    case EW_ELU:
        for (i = i0; i < i1; i++)
            y[i] = a[i] > 0.0f ? a[i] : p * expm1f(a[i]);
        break;
    case EW_TANH:
        for (i = i0; i < i1; i++)
            y[i] = tanhf(a[i]);
        break;
    case EW_SCALE:
        for (i = i0; i < i1; i++)
            y[i] = p * a[i];
        break;
    case EW_ADD:
        for (i = i0; i < i1; i++)
            y[i] = a[i] + b[i];
        break;
    case EW_MUL:
        for (i = i0; i < i1; i++)
            y[i] = a[i] * b[i];
        break;
    case EW_AXPY: /* y = b + p a */
        for (i = i0; i < i1; i++)
            y[i] = b[i] + p * a[i];
        break;
    }
}

static int ew(cpu_ctx *k, ew_op op, const float *a, const float *b, float *y, int64_t n,
              float p, double cost)
{
    ew_job j = { a, b, y, n, p, op };
    kpar(k, cdiv(n, EW_CHUNK), cost * EW_CHUNK, ew_fn, &j);
    return SAMSEP_OK;
}

static int cpu_unary(void *ctx, nn_unary op, const float *x, float *y, int64_t n,
                     float alpha)
{
    switch (op) {
    case NN_UNARY_RELU: return ew(ctx, EW_RELU, x, NULL, y, n, 0.0f, 1.0);
    case NN_UNARY_GELU_TANH: return ew(ctx, EW_GELU_TANH, x, NULL, y, n, 0.0f, 20.0);
    case NN_UNARY_GELU_ERF: return ew(ctx, EW_GELU_ERF, x, NULL, y, n, 0.0f, 20.0);
    case NN_UNARY_SILU: return ew(ctx, EW_SILU, x, NULL, y, n, 0.0f, 20.0);
    case NN_UNARY_SIGMOID: return ew(ctx, EW_SIGMOID, x, NULL, y, n, 0.0f, 20.0);
    case NN_UNARY_ELU: return ew(ctx, EW_ELU, x, NULL, y, n, alpha, 20.0);
    case NN_UNARY_TANH: return ew(ctx, EW_TANH, x, NULL, y, n, 0.0f, 20.0);
    case NN_UNARY_SCALE: return ew(ctx, EW_SCALE, x, NULL, y, n, alpha, 1.0);
    }
    return SAMSEP_ERR_INVALID;
}

static int cpu_binary(void *ctx, nn_binary op, const float *a, const float *b, float *y,
                      int64_t n)
{
    switch (op) {
    case NN_BINARY_ADD: return ew(ctx, EW_ADD, a, b, y, n, 0.0f, 1.0);
    case NN_BINARY_MUL: return ew(ctx, EW_MUL, a, b, y, n, 0.0f, 1.0);
    }
    return SAMSEP_ERR_INVALID;
}

static int cpu_axpy(void *ctx, float a, const float *x, const float *y, float *out,
                    int64_t n)
{
    return ew(ctx, EW_AXPY, x, y, out, n, a, 2.0);
}

typedef struct snake_job {
    const cpu_ctx *k;
    const float *x, *alpha;
    float *y;
    int64_t C, T;
} snake_job;

static void snake_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const snake_job *j = ctx;
    int64_t r;
    (void)wk;
    for (r = ub; r < ue; r++) {
        float al = j->alpha[r % j->C];
        j->k->kern->snake(j->x + r * j->T, j->y + r * j->T, j->T, al,
                          1.0f / (al + 1e-9f));
    }
}

static int cpu_snake(void *ctx, const float *x, const float *alpha, float *y, int64_t B,
                     int64_t C, int64_t T)
{
    snake_job j = { ctx, x, alpha, y, C, T };
    kpar(ctx, B * C, 25.0 * (double)T, snake_fn, &j);
    return SAMSEP_OK;
}

/* ---- broadcasts and rows ---------------------------------------------- */

typedef struct bc_job {
    const float *x, *v;
    float *y;
    int64_t n1, n2, s0, s1, s2;
} bc_job;

/* unit = one row (i, j) of n2 elements */
static void bc_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const bc_job *j = ctx;
    int64_t r, l;
    (void)wk;
    for (r = ub; r < ue; r++) {
        const float *x = j->x + r * j->n2;
        const float *v = j->v + (r / j->n1) * j->s0 + (r % j->n1) * j->s1;
        float *y = j->y + r * j->n2;
        if (j->s2 == 1)
            for (l = 0; l < j->n2; l++)
                y[l] = x[l] + v[l];
        else
            for (l = 0; l < j->n2; l++)
                y[l] = x[l] + v[l * j->s2];
    }
}

static int cpu_add_bcast(void *ctx, const float *x, const float *v, const int64_t vs[3],
                         float *y, const int64_t n[3])
{
    bc_job j = { x, v, y, n[1], n[2], vs[0], vs[1], vs[2] };
    kpar(ctx, n[0] * n[1], (double)n[2], bc_fn, &j);
    return SAMSEP_OK;
}

typedef struct rowop_job {
    const float *x, *p1, *p2;
    float *y;
    int64_t T, D, ld;
    int gated;
} rowop_job;

static void rowop_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const rowop_job *j = ctx;
    int64_t r, i, D = j->D;
    (void)wk;
    for (r = ub; r < ue; r++) {
        int64_t b = r / j->T;
        const float *x = j->x + r * D;
        float *y = j->y + r * D;
        if (j->gated) {
            const float *g = j->p1 + b * j->ld;
            for (i = 0; i < D; i++)
                y[i] += g[i] * x[i];
        } else {
            const float *sh = j->p1 + b * j->ld, *sc = j->p2 + b * j->ld;
            for (i = 0; i < D; i++)
                y[i] = x[i] * (1.0f + sc[i]) + sh[i];
        }
    }
}

static int cpu_modulate(void *ctx, const float *x, const float *shift, const float *scale,
                        int64_t ld, float *y, int64_t B, int64_t T, int64_t D)
{
    rowop_job j = { x, shift, scale, y, T, D, ld, 0 };
    kpar(ctx, B * T, 3.0 * (double)D, rowop_fn, &j);
    return SAMSEP_OK;
}

static int cpu_add_gated(void *ctx, const float *x, const float *g, int64_t ld, float *y,
                         int64_t B, int64_t T, int64_t D)
{
    rowop_job j = { x, g, NULL, y, T, D, ld, 1 };
    kpar(ctx, B * T, 2.0 * (double)D, rowop_fn, &j);
    return SAMSEP_OK;
}

typedef struct sum_job {
    const float *x;
    float *y;
    int64_t M, D;
} sum_job;

/* unit = a chunk of EW_CHUNK columns; rows added in order */
static void sum_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const sum_job *j = ctx;
    int64_t c0 = ub * EW_CHUNK, c1 = imin(j->D, ue * EW_CHUNK), m, c;
    (void)wk;
    for (c = c0; c < c1; c++)
        j->y[c] = 0.0f;
    for (m = 0; m < j->M; m++)
        for (c = c0; c < c1; c++)
            j->y[c] += j->x[m * j->D + c];
}

static int cpu_sum_rows(void *ctx, const float *x, float *y, int64_t M, int64_t D)
{
    sum_job j = { x, y, M, D };
    kpar(ctx, cdiv(D, EW_CHUNK), (double)(M + 1) * EW_CHUNK, sum_fn, &j);
    return SAMSEP_OK;
}

static int cpu_sinusoid(void *ctx, const float *f, int64_t half, float t, float *y,
                        int64_t B)
{
    int64_t b, i;
    (void)ctx;
    /* B x half values: a few thousand at most, not worth the pool */
    for (b = 0; b < B; b++)
        for (i = 0; i < half; i++) {
            float a = t * f[i];
            y[b * 2 * half + i] = cosf(a);
            y[b * 2 * half + half + i] = sinf(a);
        }
    return SAMSEP_OK;
}

/* ---- copies and layouts ----------------------------------------------- */

typedef struct cp_job {
    const float *x;
    float *y;
    int64_t ldx, ldy, cols, nc;
} cp_job;

/* unit = (row, chunk of EW_CHUNK columns) */
static void cp_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const cp_job *j = ctx;
    int64_t u;
    (void)wk;
    for (u = ub; u < ue; u++) {
        int64_t r = u / j->nc, c0 = (u % j->nc) * EW_CHUNK;
        int64_t c1 = imin(j->cols, c0 + EW_CHUNK);
        memmove(j->y + r * j->ldy + c0, j->x + r * j->ldx + c0,
                (size_t)(c1 - c0) * sizeof(float));
    }
}

static int cpu_copy2d(void *ctx, const float *x, int64_t ldx, float *y, int64_t ldy,
                      int64_t rows, int64_t cols)
{
    cp_job j = { x, y, ldx, ldy, cols, cdiv(cols, EW_CHUNK) };
    kpar(ctx, rows * j.nc, 0.5 * (double)imin(cols, EW_CHUNK), cp_fn, &j);
    return SAMSEP_OK;
}

typedef struct tr_job {
    const float *x;
    float *y;
    int64_t R, C;
} tr_job;

static void tr_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const tr_job *j = ctx;
    int64_t u, r, c;
    (void)wk;
    /* unit = (batch, block of 32 output rows) */
    for (u = ub; u < ue; u++) {
        int64_t nb = cdiv(j->C, 32), b = u / nb, c0 = (u % nb) * 32;
        int64_t c1 = imin(j->C, c0 + 32);
        const float *x = j->x + b * j->R * j->C;
        float *y = j->y + b * j->R * j->C;
        for (r = 0; r < j->R; r++)
            for (c = c0; c < c1; c++)
                y[c * j->R + r] = x[r * j->C + c];
    }
}

static int cpu_transpose(void *ctx, const float *x, float *y, int64_t B, int64_t R,
                         int64_t C)
{
    tr_job j = { x, y, R, C };
    kpar(ctx, B * cdiv(C, 32), 2.0 * 32.0 * (double)R, tr_fn, &j);
    return SAMSEP_OK;
}

typedef struct emb_job {
    const float *table;
    const int32_t *ids;
    float *y;
    int64_t D;
} emb_job;

static void emb_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const emb_job *j = ctx;
    int64_t i;
    (void)wk;
    for (i = ub; i < ue; i++)
        memcpy(j->y + i * j->D, j->table + (int64_t)j->ids[i] * j->D,
               (size_t)j->D * sizeof(float));
}

static int cpu_embedding(void *ctx, const float *table, int64_t vocab, int64_t D,
                         const int32_t *ids, int64_t n, float *y)
{
    emb_job j = { table, ids, y, D };
    int64_t i;
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return SAMSEP_ERR_INVALID;
    if (D > 0)
        kpar(ctx, n, (double)D, emb_fn, &j);
    return SAMSEP_OK;
}

/* ---- bf16 weights (bf16.c) --------------------------------------------- */

static int cpu_matmul_bf16(void *ctx, const float *x, int64_t ldx, const uint16_t *W,
                           const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                           int64_t K, float beta)
{
    return nn_cpu_matmul_bf16(&((cpu_ctx *)ctx)->b16, x, ldx, W, bias, y, ldy, M, N, K,
                              beta);
}

static int cpu_conv1d_bf16(void *ctx, const nn_conv1d_args *a, const float *x,
                           const uint16_t *W, const float *bias, float *y)
{
    return nn_cpu_conv1d_bf16(&((cpu_ctx *)ctx)->b16, a, x, W, bias, y);
}

static int cpu_convt1d_bf16(void *ctx, const nn_convt1d_args *a, const float *x,
                            const uint16_t *W, const float *bias, float *y)
{
    return nn_cpu_convt1d_bf16(&((cpu_ctx *)ctx)->b16, a, x, W, bias, y);
}

/* ---- the table -------------------------------------------------------- */

const nn_backend nn_backend_cpu = {
    .name = "cpu",
    .host_memory = 1,
    .init = cpu_init,
    .done = cpu_done,
    .threads = cpu_threads,
    .path = cpu_path,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy_mem,
    .download = cpu_copy_mem,
    .sync = cpu_sync,
    .reserve = cpu_reserve,
    .scratch_floats = cpu_scratch_floats,
    .attention_scratch = cpu_attention_scratch,
    .conv1d_scratch = cpu_conv1d_scratch,
    .convt1d_scratch = cpu_convt1d_scratch,
    .lstm_work_floats = cpu_lstm_work_floats,
    .copy2d = cpu_copy2d,
    .matmul = cpu_matmul,
    .rmsnorm = cpu_rmsnorm,
    .layernorm = cpu_layernorm,
    .groupnorm = cpu_groupnorm,
    .softmax = cpu_softmax,
    .attention = cpu_attention,
    .rope_table = cpu_rope_table,
    .rope = cpu_rope,
    .conv1d = cpu_conv1d,
    .convt1d = cpu_convt1d,
    .pad1d = cpu_pad1d,
    .lstm = cpu_lstm,
    .unary = cpu_unary,
    .binary = cpu_binary,
    .axpy = cpu_axpy,
    .snake = cpu_snake,
    .add_bcast = cpu_add_bcast,
    .modulate = cpu_modulate,
    .add_gated = cpu_add_gated,
    .transpose = cpu_transpose,
    .embedding = cpu_embedding,
    .sum_rows = cpu_sum_rows,
    .sinusoid = cpu_sinusoid,
    .matmul_bf16 = cpu_matmul_bf16,
    .conv1d_bf16 = cpu_conv1d_bf16,
    .convt1d_bf16 = cpu_convt1d_bf16,
};
