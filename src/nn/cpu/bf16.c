/*
 * bf16.c - matrix products and convolutions with bfloat16 weights on the
 * CPU (bf16.h), for nn.h's nn_matmul_w, nn_conv1d_w and nn_convt1d_w.
 *
 * Every kernel is one tiled product C = A · B^T with bf16 operands and a
 * float32 accumulator: for a matrix product A is a tile of the activations
 * (rows of x, rounded to bf16 here) and B a tile of the weight's rows; for
 * a convolution A is the weight and B the im2col of the input; for a
 * transposed convolution A is the transposed weight and B the input, and
 * a gather then sums the kernel taps as the float32 kernel does. A unit of
 * work is one tile of C (at most TI x TJ), its boundaries fixed by the
 * shapes; inside it the contraction runs in blocks of KC, each packed into
 * the worker's buffer (A row-major, B as pairs of k for each column: the
 * layout vdpbf16ps reads) and added onto C. The sums of one output element
 * therefore run in one fixed order whatever the number of threads.
 *
 * Two paths compute a packed block. On a CPU with AVX512-BF16 a
 * microkernel keeps an 8 x 32 block of C in 16 registers and adds the dot
 * products of bf16 pairs with vdpbf16ps (each product exact in float32).
 * Elsewhere the packed block is widened to float32 and handed to the
 * context's fp32 product (isa.h's table): the same operands, so the same
 * result up to the order of the sums, and the weights still take half the
 * memory. The context picks the path when it is made (its ISA cap), so
 * tests run both on one machine.
 */
#include "nn/cpu/bf16.h"
#include "nn/cpu/conv_index.h"

#include <string.h>

#include "core/internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* Tile of C: TI rows (a multiple of MR) by TJ columns (a multiple of NR);
 * contraction packed KC (even) at a time. With these the buffers below
 * take 1.75 MiB, under NN_BF16_BUF_BYTES. Packing B costs about as much
 * per element as TI / 64 cycles of vdpbf16ps: TI is large so that it
 * stays a small part. */
#define TI 256
#define TJ 256
#define KC 512
#define MR 8
#define NR 32
/* Below this much work (flops) per thread a job stays on the caller. */
#define MIN_WORK 32768.0

#define AP_OFF 0
#define BP_OFF (AP_OFF + (size_t)TI * KC * 2)
#define C_OFF (BP_OFF + (size_t)KC * TJ * 2)
#define A32_OFF (C_OFF + (size_t)TI * TJ * 4)
#define B32_OFF (A32_OFF + (size_t)TI * KC * 4)
#define BUF_END (B32_OFF + (size_t)KC * TJ * 4)

typedef char buf_fits[BUF_END <= NN_BF16_BUF_BYTES ? 1 : -1];

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
static int64_t rup(int64_t a, int64_t b)
{
    return cdiv(a, b) * b;
}

static int64_t fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* ---- which path ------------------------------------------------------- */

const char *nn_cpu_bf16_path(const nn_bf16_env *e)
{
    if (e->avx512bf16 && HAVE_X86)
        return "avx512_bf16";
    if (strcmp(e->kern->name, "avx512") == 0)
        return "avx512+widen";
    if (strcmp(e->kern->name, "avx2") == 0)
        return "avx2+widen";
    return "openblas+widen";
}

/* ---- conversions ------------------------------------------------------- */

static uint16_t to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static float from_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* dst[2t] = bf16(r0[t]), dst[2t + 1] = bf16(r1[t]) (0 when r1 is NULL), for
 * t < n: two rows of B interleaved as pairs of k. */
static void pairs_c(const float *r0, const float *r1, uint16_t *dst, int64_t n)
{
    int64_t t;

    for (t = 0; t < n; t++) {
        dst[2 * t] = to_bf16(r0[t]);
        dst[2 * t + 1] = r1 != NULL ? to_bf16(r1[t]) : 0;
    }
}

#if HAVE_X86
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
pairs_avx512(const float *r0, const float *r1, uint16_t *dst, int64_t n)
{
    static const uint16_t order[32] = { 0,  16, 1,  17, 2,  18, 3,  19, 4,  20, 5,
                                        21, 6,  22, 7,  23, 8,  24, 9,  25, 10, 26,
                                        11, 27, 12, 28, 13, 29, 14, 30, 15, 31 };
    __m512i idx = _mm512_loadu_si512((const void *)order);
    int64_t t;

    for (t = 0; t + 16 <= n; t += 16) {
        __m256i a = (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r0 + t));
        __m256i b = r1 != NULL ? (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(r1 + t))
                               : _mm256_setzero_si256();
        __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
        _mm512_storeu_si512((void *)(dst + 2 * t), _mm512_permutexvar_epi16(idx, v));
    }
    pairs_c(r0 + t, r1 != NULL ? r1 + t : NULL, dst + 2 * t, n - t);
}

/* dst[i] = bf16(src[i]), i < n */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
row_avx512(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i;

    for (i = 0; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(void *)(dst + i),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    for (; i < n; i++)
        dst[i] = to_bf16(src[i]);
}
#endif

static void pairs(const nn_bf16_env *e, const float *r0, const float *r1, uint16_t *dst,
                  int64_t n)
{
#if HAVE_X86
    if (e->avx512bf16) {
        pairs_avx512(r0, r1, dst, n);
        return;
    }
#endif
    (void)e;
    pairs_c(r0, r1, dst, n);
}

static void row_bf16(const nn_bf16_env *e, const float *src, uint16_t *dst, int64_t n)
{
    int64_t i;
#if HAVE_X86
    if (e->avx512bf16) {
        row_avx512(src, dst, n);
        return;
    }
#endif
    (void)e;
    for (i = 0; i < n; i++)
        dst[i] = to_bf16(src[i]);
}

/* ---- the packed block product ----------------------------------------- */

/*
 * A packed block: ap [nip][kc2] row-major, bp [kc2/2][njp][2]; C [nip][njp]
 * gets A·B^T (first block) or adds it.
 */
typedef struct block {
    const uint16_t *ap, *bp;
    float *c;
    int64_t nip, njp, kc2;
    int first;
} block;

#if HAVE_X86
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
block_avx512(const block *bk)
{
    const uint32_t *a32 = (const uint32_t *)(const void *)bk->ap;
    int64_t kp = bk->kc2 / 2, njp = bk->njp, ib, jb, p;
    int r;

    for (jb = 0; jb < njp; jb += NR) {
        for (ib = 0; ib < bk->nip; ib += MR) {
            __m512 c[MR][2];
            float *cb = bk->c + ib * njp + jb;
            const uint32_t *ar = a32 + ib * kp;
#pragma GCC unroll 8
            for (r = 0; r < MR; r++) {
                c[r][0] = bk->first ? _mm512_setzero_ps() : _mm512_loadu_ps(cb + r * njp);
                c[r][1] = bk->first ? _mm512_setzero_ps()
                                    : _mm512_loadu_ps(cb + r * njp + 16);
            }
            for (p = 0; p < kp; p++) {
                const uint16_t *bq = bk->bp + (p * njp + jb) * 2;
                __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)bq);
                __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(bq + 32));
#pragma GCC unroll 8
                for (r = 0; r < MR; r++) {
                    __m512bh a = (__m512bh)_mm512_set1_epi32((int)ar[r * kp + p]);
                    c[r][0] = _mm512_dpbf16_ps(c[r][0], a, b0);
                    c[r][1] = _mm512_dpbf16_ps(c[r][1], a, b1);
                }
            }
#pragma GCC unroll 8
            for (r = 0; r < MR; r++) {
                _mm512_storeu_ps(cb + r * njp, c[r][0]);
                _mm512_storeu_ps(cb + r * njp + 16, c[r][1]);
            }
        }
    }
}
#endif

/* Widen to float32 into a32 [nip][kc2] and b32 [kc2][njp], then the
 * context's fp32 product. */
static void block_sgemm(const nn_bf16_env *e, int wk, const block *bk, float *a32,
                        float *b32)
{
    nn_gemm g;
    int64_t n = bk->nip * bk->kc2, kp = bk->kc2 / 2, p, j, i;

    for (i = 0; i < n; i++)
        a32[i] = from_bf16(bk->ap[i]);
    for (p = 0; p < kp; p++) {
        const uint16_t *bq = bk->bp + p * bk->njp * 2;
        float *r0 = b32 + 2 * p * bk->njp, *r1 = r0 + bk->njp;
        for (j = 0; j < bk->njp; j++) {
            r0[j] = from_bf16(bq[2 * j]);
            r1[j] = from_bf16(bq[2 * j + 1]);
        }
    }
    g.M = bk->nip;
    g.N = bk->njp;
    g.K = bk->kc2;
    g.alpha = 1.0f;
    g.beta = bk->first ? 0.0f : 1.0f;
    g.A = a32;
    g.rsa = bk->kc2;
    g.csa = 1;
    g.B = b32;
    g.rsb = bk->njp;
    g.csb = 1;
    g.C = bk->c;
    g.ldc = bk->njp;
    e->kern->sgemm(&g, e->pack[wk]);
}

static void block_run(const nn_bf16_env *e, int wk, const block *bk)
{
    unsigned char *buf = e->buf[wk];
#if HAVE_X86
    if (e->avx512bf16) {
        block_avx512(bk);
        return;
    }
#endif
    block_sgemm(e, wk, bk, (float *)(void *)(buf + A32_OFF),
                (float *)(void *)(buf + B32_OFF));
}

/*
 * Packers: fill rows i < ni (A) or columns j < nj (B) of contraction
 * k0 .. k0+kc of the tile, zero the padding up to nip / njp and kc2.
 */
typedef void (*pack_fn)(const void *job, int64_t unit, int64_t i0, int64_t n, int64_t k0,
                        int64_t kc, uint16_t *dst, int64_t np, int64_t kc2);

/*
 * C [nip][njp] of one unit = A(rows i0..) · B(rows j0..)^T over K, in KC
 * blocks; returns C (in buf) and its row length njp.
 */
static float *tile_product(const void *job, int64_t unit, pack_fn pa, pack_fn pb,
                           int64_t i0, int64_t ni, int64_t j0, int64_t nj, int64_t K,
                           const nn_bf16_env *e, int wk, int64_t *ldc)
{
    unsigned char *buf = e->buf[wk];
    block bk;
    int64_t k0;

    bk.ap = (uint16_t *)(void *)(buf + AP_OFF);
    bk.bp = (uint16_t *)(void *)(buf + BP_OFF);
    bk.c = (float *)(void *)(buf + C_OFF);
    bk.nip = rup(ni, MR);
    bk.njp = rup(nj, NR);
    *ldc = bk.njp;
    if (K == 0)
        memset(bk.c, 0, (size_t)(bk.nip * bk.njp) * sizeof(float));
    for (k0 = 0; k0 < K; k0 += KC) {
        int64_t kc = imin(KC, K - k0);
        bk.kc2 = rup(kc, 2);
        bk.first = k0 == 0;
        pa(job, unit, i0, ni, k0, kc, (uint16_t *)(void *)(buf + AP_OFF), bk.nip, bk.kc2);
        pb(job, unit, j0, nj, k0, kc, (uint16_t *)(void *)(buf + BP_OFF), bk.njp, bk.kc2);
        block_run(e, wk, &bk);
    }
    return bk.c;
}

/* A from a bf16 matrix: A(i, k) = src[(i0 + i) * rs + (k0 + k) * cs]. */
static void pack_a_bf16(const uint16_t *src, int64_t rs, int64_t cs, int64_t i0,
                        int64_t ni, int64_t k0, int64_t kc, uint16_t *dst, int64_t nip,
                        int64_t kc2)
{
    int64_t i, k;

    if (rs == 1) { /* read down the columns: rows of the source are k */
        for (k = 0; k < kc; k++) {
            const uint16_t *s = src + i0 + (k0 + k) * cs;
            for (i = 0; i < ni; i++)
                dst[i * kc2 + k] = s[i];
        }
        for (i = 0; kc2 > kc && i < ni; i++)
            dst[i * kc2 + kc] = 0;
    }
    for (i = 0; rs != 1 && i < ni; i++) {
        const uint16_t *s = src + (i0 + i) * rs + k0 * cs;
        uint16_t *d = dst + i * kc2;
        if (cs == 1)
            memcpy(d, s, (size_t)kc * sizeof *d);
        else
            for (k = 0; k < kc; k++)
                d[k] = s[k * cs];
        if (kc2 > kc)
            d[kc] = 0;
    }
    if (nip > ni)
        memset(dst + ni * kc2, 0, (size_t)((nip - ni) * kc2) * sizeof *dst);
}

/* Zero what a B packer leaves: columns nj..njp, and the odd last k. */
static void pack_b_pad(uint16_t *dst, int64_t nj, int64_t njp, int64_t kc, int64_t kc2)
{
    int64_t p, j;

    for (p = 0; p < kc2 / 2; p++)
        for (j = nj; j < njp; j++)
            dst[(p * njp + j) * 2] = dst[(p * njp + j) * 2 + 1] = 0;
    if (kc2 > kc)
        for (j = 0; j < nj; j++)
            dst[((kc2 / 2 - 1) * njp + j) * 2 + 1] = 0;
}

static void par(const nn_bf16_env *e, int64_t n, double cost, nn_tpool_fn fn, void *ctx)
{
    double ranges = (double)n * cost / MIN_WORK;
    nn_tpool_parallel_for_n(e->pool, n, ranges >= 1024.0 ? 1024 : (int)ranges, fn, ctx);
}

/* ---- matmul ----------------------------------------------------------- */

typedef struct mm_job {
    const nn_bf16_env *e;
    const float *x, *bias;
    const uint16_t *W;
    float *y;
    int64_t ldx, ldy, M, N, K, ntj;
    float beta;
} mm_job;

/*
 * A = the weight's rows (n), B = the rows of x (m): y^T is computed, so the
 * weight, the operand read in pairs, needs no packing beyond a copy and x
 * is converted once per tile.
 */
static void mm_pack_a(const void *job, int64_t unit, int64_t i0, int64_t ni, int64_t k0,
                      int64_t kc, uint16_t *dst, int64_t nip, int64_t kc2)
{
    const mm_job *j = job;
    (void)unit;
    pack_a_bf16(j->W, j->K, 1, i0, ni, k0, kc, dst, nip, kc2);
}

#if HAVE_X86
/*
 * Rows m0 .. m0+15 of x, pairs p0 .. p0+15 of k: converted 32 floats at a
 * time and transposed as 16 x 16 dwords in registers, so each pair lands
 * at d32[p * njp + m] with whole-vector stores.
 */
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
mm_pack16(const float *x, int64_t ldx, uint32_t *d32, int64_t njp, int64_t m0, int64_t p0)
{
    __m512i r[16], t[16], u[16];
    int i, c;

    for (i = 0; i < 16; i++) {
        const float *q = x + (m0 + i) * ldx + 2 * p0;
        r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(q + 16), _mm512_loadu_ps(q));
    }
    for (i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (c = 0; c < 4; c++) {
        __m512i s0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
        __m512i s1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
        __m512i s2 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
        __m512i s3 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
        _mm512_storeu_si512((void *)(d32 + (p0 + c) * njp + m0),
                            _mm512_shuffle_i32x4(s0, s2, 0x88));
        _mm512_storeu_si512((void *)(d32 + (p0 + 8 + c) * njp + m0),
                            _mm512_shuffle_i32x4(s0, s2, 0xDD));
        _mm512_storeu_si512((void *)(d32 + (p0 + 4 + c) * njp + m0),
                            _mm512_shuffle_i32x4(s1, s3, 0x88));
        _mm512_storeu_si512((void *)(d32 + (p0 + 12 + c) * njp + m0),
                            _mm512_shuffle_i32x4(s1, s3, 0xDD));
    }
}
#endif

static void mm_pack_b(const void *job, int64_t unit, int64_t j0, int64_t nj, int64_t k0,
                      int64_t kc, uint16_t *dst, int64_t njp, int64_t kc2)
{
    const mm_job *j = job;
    uint32_t *d32 = (uint32_t *)(void *)dst;
    uint16_t row[KC + 2];
    int64_t m = 0, p, kp = kc2 / 2, pv = 0;
    (void)unit;

#if HAVE_X86
    if (j->e->avx512bf16) {
        int64_t mb;
        pv = (kc / 32) * 16; /* pairs done by whole blocks */
        for (mb = 0; mb + 16 <= nj; mb += 16) {
            for (p = 0; p < pv; p += 16)
                mm_pack16(j->x + j0 * j->ldx + k0, j->ldx, d32, njp, mb, p);
            for (m = mb; m < mb + 16 && pv < kp; m++) {
                row_bf16(j->e, j->x + (j0 + m) * j->ldx + k0 + 2 * pv, row, kc - 2 * pv);
                row[kc - 2 * pv] = 0;
                for (p = pv; p < kp; p++) {
                    uint32_t v;
                    memcpy(&v, row + 2 * (p - pv), sizeof v);
                    d32[p * njp + m] = v;
                }
            }
        }
        m = mb;
    }
#endif
    (void)pv;
    for (; m < nj; m++) {
        row_bf16(j->e, j->x + (j0 + m) * j->ldx + k0, row, kc);
        row[kc] = 0;
        for (p = 0; p < kp; p++) {
            uint32_t v;
            memcpy(&v, row + 2 * p, sizeof v);
            d32[p * njp + m] = v;
        }
    }
    for (p = 0; p < kp; p++)
        for (m = nj; m < njp; m++)
            d32[p * njp + m] = 0;
}

static void mm_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const mm_job *j = ctx;
    int64_t u, r, c, ldc;

    for (u = ub; u < ue; u++) {
        int64_t n0 = (u / j->ntj) * TI, m0 = (u % j->ntj) * TJ;
        int64_t ni = imin(TI, j->N - n0), mj = imin(TJ, j->M - m0);
        const float *C = tile_product(j, u, mm_pack_a, mm_pack_b, n0, ni, m0, mj, j->K,
                                      j->e, wk, &ldc);
        for (r = 0; r < mj; r++) {
            float *yr = j->y + (m0 + r) * j->ldy + n0;
            for (c = 0; c < ni; c++) {
                float base = j->bias != NULL ? j->bias[n0 + c] : 0.0f;
                if (j->beta != 0.0f)
                    base += j->beta * yr[c];
                yr[c] = base + C[c * ldc + r];
            }
        }
    }
}

int nn_cpu_matmul_bf16(const nn_bf16_env *e, const float *x, int64_t ldx,
                       const uint16_t *W, const float *bias, float *y, int64_t ldy,
                       int64_t M, int64_t N, int64_t K, float beta)
{
    mm_job j;

    j.e = e;
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
    j.ntj = cdiv(M, TJ);
    par(e, cdiv(N, TI) * j.ntj,
        2.0 * (double)imin(N, TI) * (double)imin(M, TJ) * (double)(K + 1), mm_fn, &j);
    return SAMSEP_OK;
}

/* ---- conv1d ----------------------------------------------------------- */

typedef struct conv_job {
    const nn_bf16_env *e;
    const nn_conv1d_args *a;
    const float *x, *bias;
    const uint16_t *W;
    float *y;
    int64_t Lout, cig, cog, kk, nti, ntj;
} conv_job;

/* Unit u = ((b * groups + g) * nti + co tile) * ntj + time tile. */
static void conv_pack_a(const void *job, int64_t u, int64_t i0, int64_t ni, int64_t k0,
                        int64_t kc, uint16_t *dst, int64_t nip, int64_t kc2)
{
    const conv_job *j = job;
    int64_t g = (u / (j->nti * j->ntj)) % j->a->groups;
    pack_a_bf16(j->W + g * j->cog * j->kk, j->kk, 1, i0, ni, k0, kc, dst, nip, kc2);
}

static void conv_pack_b(const void *job, int64_t u, int64_t j0, int64_t nj, int64_t k0,
                        int64_t kc, uint16_t *dst, int64_t njp, int64_t kc2)
{
    const conv_job *j = job;
    const nn_conv1d_args *a = j->a;
    int64_t bg = u / (j->nti * j->ntj), b = bg / a->groups, g = bg % a->groups;
    int64_t k, t, e, span = (nj - 1) * a->stride + 1;

    for (k = 0; k < kc; k += 2) {
        const float *xr[2] = { NULL, NULL };
        int64_t p0[2] = { 0, 0 }, inside = a->stride == 1;
        for (e = 0; e < 2 && k + e < kc; e++) {
            int64_t ci = (k0 + k + e) / a->K, k2 = (k0 + k + e) % a->K;
            xr[e] = j->x + (b * a->Cin + g * j->cig + ci) * a->Lin;
            p0[e] = j0 * a->stride + k2 * a->dilation - a->pad_left;
            inside = inside && p0[e] >= 0 && p0[e] + span <= a->Lin;
        }
        if (inside) { /* the common case: two shifted runs of the input */
            pairs(j->e, xr[0] + p0[0], xr[1] != NULL ? xr[1] + p0[1] : NULL,
                  dst + (k / 2) * njp * 2, nj);
            continue;
        }
        for (e = 0; e < 2 && k + e < kc; e++) {
            uint16_t *d = dst + (k / 2) * njp * 2 + e;
            for (t = 0; t < nj; t++) {
                int64_t q = nn_cpu_pad_index(p0[e] + t * a->stride, a->Lin, a->pad_mode);
                d[2 * t] = q < 0 ? 0 : to_bf16(xr[e][q]);
            }
        }
    }
    pack_b_pad(dst, nj, njp, kc, kc2);
}

static void conv_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const conv_job *j = ctx;
    const nn_conv1d_args *a = j->a;
    int64_t u, r, t, ldc;

    for (u = ub; u < ue; u++) {
        int64_t tt = u % j->ntj, ct = (u / j->ntj) % j->nti, bg = u / (j->nti * j->ntj);
        int64_t b = bg / a->groups, g = bg % a->groups;
        int64_t c0 = ct * TI, nc = imin(TI, j->cog - c0);
        int64_t t0 = tt * TJ, nt = imin(TJ, j->Lout - t0);
        const float *C = tile_product(j, u, conv_pack_a, conv_pack_b, c0, nc, t0, nt,
                                      j->kk, j->e, wk, &ldc);
        for (r = 0; r < nc; r++) {
            int64_t co = g * j->cog + c0 + r;
            float bv = j->bias != NULL ? j->bias[co] : 0.0f;
            float *yr = j->y + (b * a->Cout + co) * j->Lout + t0;
            for (t = 0; t < nt; t++)
                yr[t] = bv + C[r * ldc + t];
        }
    }
}

int nn_cpu_conv1d_bf16(const nn_bf16_env *e, const nn_conv1d_args *a, const float *x,
                       const uint16_t *W, const float *bias, float *y)
{
    conv_job j;

    j.e = e;
    j.a = a;
    j.x = x;
    j.W = W;
    j.bias = bias;
    j.y = y;
    j.Lout = nn_conv1d_out_len(a);
    j.cig = a->Cin / a->groups;
    j.cog = a->Cout / a->groups;
    j.kk = j.cig * a->K;
    j.nti = cdiv(j.cog, TI);
    j.ntj = cdiv(j.Lout, TJ);
    par(e, a->B * a->groups * j.nti * j.ntj,
        2.0 * (double)imin(j.cog, TI) * (double)j.kk * (double)imin(j.Lout, TJ), conv_fn,
        &j);
    return SAMSEP_OK;
}

/* ---- transposed conv1d ------------------------------------------------ */

typedef struct convt_job {
    const nn_bf16_env *e;
    const nn_convt1d_args *a;
    const float *x, *bias;
    const uint16_t *W;
    float *y;
    int64_t Lout, cig, cog, tl, cob, nto, ncb;
} convt_job;

/* Input columns [tlo, thi] that reach outputs o0 .. o1-1. */
static void convt_span(const nn_convt1d_args *a, int64_t o0, int64_t o1, int64_t *tlo,
                       int64_t *thi)
{
    int64_t p0 = o0 + a->padding, p1 = o1 + a->padding;
    *tlo = imax(0, -fdiv(-(p0 - (a->K - 1) * a->dilation), a->stride));
    *thi = imin(a->Lin - 1, fdiv(p1 - 1, a->stride));
}

/* Unit u = ((b * groups + g) * nto + time tile) * ncb + co block. */
static void convt_pack_a(const void *job, int64_t u, int64_t i0, int64_t ni, int64_t k0,
                         int64_t kc, uint16_t *dst, int64_t nip, int64_t kc2)
{
    const convt_job *j = job;
    int64_t g = (u / (j->nto * j->ncb)) % j->a->groups, ck = j->cog * j->a->K;
    /* A(r, ci) = W[g*cig + ci][r]: the weight read down its columns */
    pack_a_bf16(j->W + g * j->cig * ck, 1, ck, i0, ni, k0, kc, dst, nip, kc2);
}

static void convt_pack_b(const void *job, int64_t u, int64_t j0, int64_t nj, int64_t k0,
                         int64_t kc, uint16_t *dst, int64_t njp, int64_t kc2)
{
    const convt_job *j = job;
    const nn_convt1d_args *a = j->a;
    int64_t bg = u / (j->nto * j->ncb), b = bg / a->groups, g = bg % a->groups;
    const float *x0 = j->x + (b * a->Cin + g * j->cig + k0) * a->Lin + j0;
    int64_t k;

    for (k = 0; k < kc; k += 2)
        pairs(j->e, x0 + k * a->Lin, k + 1 < kc ? x0 + (k + 1) * a->Lin : NULL,
              dst + (k / 2) * njp * 2, nj);
    pack_b_pad(dst, nj, njp, kc, kc2);
}

static void convt_fn(void *ctx, int64_t ub, int64_t ue, int wk)
{
    const convt_job *j = ctx;
    const nn_convt1d_args *a = j->a;
    int64_t s = a->stride, d = a->dilation, K = a->K, u, co, o, k2, ldc = 0;

    for (u = ub; u < ue; u++) {
        int64_t cb = u % j->ncb, tt = (u / j->ncb) % j->nto, bg = u / (j->nto * j->ncb);
        int64_t b = bg / a->groups, g = bg % a->groups;
        int64_t c0 = cb * j->cob, nc = imin(j->cob, j->cog - c0);
        int64_t o0 = tt * j->tl, o1 = imin(j->Lout, o0 + j->tl), tlo, thi, nt;
        const float *C = NULL;

        convt_span(a, o0, o1, &tlo, &thi);
        nt = thi - tlo + 1;
        if (nt > 0)
            C = tile_product(j, u, convt_pack_a, convt_pack_b, c0 * K, nc * K, tlo, nt,
                             j->cig, j->e, wk, &ldc);
        for (co = c0; co < c0 + nc; co++) {
            float bv = j->bias != NULL ? j->bias[g * j->cog + co] : 0.0f;
            float *yr = j->y + (b * a->Cout + g * j->cog + co) * j->Lout;
            for (o = o0; o < o1; o++) {
                int64_t p = o + a->padding;
                float acc = 0.0f;
                /* undilated: only the taps k2 = p mod s (+ s, ...) land on an
                 * input sample, visited in the same increasing order */
                for (k2 = d == 1 ? p % s : K; nt > 0 && k2 < K && p - k2 >= 0; k2 += s) {
                    int64_t t = (p - k2) / s;
                    if (t >= tlo && t <= thi)
                        acc += C[((co - c0) * K + k2) * ldc + (t - tlo)];
                }
                for (k2 = 0; d != 1 && nt > 0 && k2 < K; k2++) {
                    int64_t num = p - k2 * d, t;
                    if (num < 0)
                        break;
                    if (num % s != 0)
                        continue;
                    t = num / s;
                    if (t >= tlo && t <= thi)
                        acc += C[((co - c0) * K + k2) * ldc + (t - tlo)];
                }
                yr[o] = acc + bv;
            }
        }
    }
}

int nn_cpu_convt1d_bf16(const nn_bf16_env *e, const nn_convt1d_args *a, const float *x,
                        const uint16_t *W, const float *bias, float *y)
{
    convt_job j;

    if (a->K > TI)
        return SAMSEP_ERR_INVALID;
    j.e = e;
    j.a = a;
    j.x = x;
    j.W = W;
    j.bias = bias;
    j.y = y;
    j.Lout = nn_convt1d_out_len(a);
    j.cig = a->Cin / a->groups;
    j.cog = a->Cout / a->groups;
    j.cob = TI / a->K;
    j.ncb = cdiv(j.cog, j.cob);
    /* output tile: the longest whose input columns fit a tile of C */
    for (j.tl = TJ * a->stride; j.tl > 1 && nn_cpu_convt_cols(a, j.tl) > TJ;
         j.tl -= a->stride)
        ;
    if (j.tl < 1)
        j.tl = 1;
    if (nn_cpu_convt_cols(a, j.tl) > TJ)
        return SAMSEP_ERR_INVALID;
    j.nto = cdiv(j.Lout, j.tl);
    par(e, a->B * a->groups * j.nto * j.ncb,
        2.0 * (double)(j.cob * a->K) * (double)j.cig *
            (double)((j.tl + (a->K - 1) * a->dilation) / a->stride + 1),
        convt_fn, &j);
    return SAMSEP_OK;
}
