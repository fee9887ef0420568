/*
 * gemm_avx512.c - the fp32 matrix product for CPUs with AVX-512 (F, BW,
 * DQ, VL): a 12 x 32 microkernel (24 zmm accumulators, two loads of B and
 * twelve broadcasts of A per step of k) inside gemm_driver.h's blocking.
 *
 * This file alone is compiled with -mavx512f and friends (CMakeLists.txt);
 * it is reached only through isa.c's table after the CPU was checked.
 * Elsewhere it compiles to a stub that is never called.
 */
#include <math.h>
#include <stdint.h>

#include "nn/cpu/isa.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define GEMM_MR 12
#define GEMM_NR 32
#define GEMM_FN nn_sgemm_avx512

static inline void gemm_ukr(int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, float alpha, float beta)
{
    __m512 acc[GEMM_MR][2];
    int64_t p;
    int i;

#pragma GCC unroll 12
    for (i = 0; i < GEMM_MR; i++) {
        acc[i][0] = _mm512_setzero_ps();
        acc[i][1] = _mm512_setzero_ps();
    }
    for (p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b + p * GEMM_NR);
        __m512 b1 = _mm512_load_ps(b + p * GEMM_NR + 16);
        const float *ap = a + p * GEMM_MR;
#pragma GCC unroll 12
        for (i = 0; i < GEMM_MR; i++) {
            __m512 ai = _mm512_set1_ps(ap[i]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    {
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
        for (i = 0; i < GEMM_MR; i++) {
            float *cr = c + i * ldc;
            __m512 r0 = acc[i][0], r1 = acc[i][1];
            if (alpha != 1.0f) {
                r0 = _mm512_mul_ps(r0, va);
                r1 = _mm512_mul_ps(r1, va);
            }
            if (beta != 0.0f) {
                r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr), r0);
                r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + 16), r1);
            }
            _mm512_storeu_ps(cr, r0);
            _mm512_storeu_ps(cr + 16, r1);
        }
    }
}

/* Transpose 16 x 16: r[i][j] -> r[j][i] (unpack, then 128-bit lanes). */
static inline void tr16(__m512 r[16])
{
    __m512 t[16];
    int i;
    for (i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

/* d[p * ld + i] = s[i * rs + p] for i < n (<= 16) rows, p < kc: blocks of
 * 16 x 16 transposed in registers, the last kc % 16 columns one by one. */
static void pack_rows_t(const float *s, int64_t rs, int64_t n, int64_t kc, float *d,
                        int64_t ld)
{
    const __mmask16 m = (__mmask16)((1u << n) - 1u);
    __m512 r[16];
    int64_t p, i, q;

    for (p = 0; p + 16 <= kc; p += 16) {
        for (i = 0; i < 16; i++)
            r[i] = i < n ? _mm512_loadu_ps(s + i * rs + p) : _mm512_setzero_ps();
        tr16(r);
        for (q = 0; q < 16; q++)
            _mm512_mask_storeu_ps(d + (p + q) * ld, m, r[q]);
    }
    for (; p < kc; p++)
        for (i = 0; i < n; i++)
            d[p * ld + i] = s[i * rs + p];
}

static void gemm_pack_a_rows(const float *s, int64_t rs, int64_t kc, float *d)
{
    pack_rows_t(s, rs, GEMM_MR, kc, d, GEMM_MR);
}
#define gemm_pack_a_rows gemm_pack_a_rows

static void gemm_pack_b_cols(const float *s, int64_t cs, int64_t kc, float *d)
{
    pack_rows_t(s, cs, 16, kc, d, GEMM_NR);
    pack_rows_t(s + 16 * cs, cs, 16, kc, d + 16, GEMM_NR);
}
#define gemm_pack_b_cols gemm_pack_b_cols

#define GEMM_DOT_ROWS 8

/* Sum of the 16 lanes in a fixed order. */
static inline float hsum(__m512 v)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    q = _mm_add_ps(q, _mm_movehl_ps(q, q));
    q = _mm_add_ss(q, _mm_movehdup_ps(q));
    return _mm_cvtss_f32(q);
}

/* C(i, j) = alpha * A(i, :) . B(:, j) (+ beta C), both contiguous in k:
 * four columns of B at a time (read from memory once, then from L1 for
 * every row of A), 16 lanes of k per step, masked at the end. */
static void gemm_dots(const nn_gemm *g)
{
    int64_t i, j, p, r;
    for (j = 0; j < g->N; j += 4) {
        int64_t nr = g->N - j < 4 ? g->N - j : 4;
        for (i = 0; i < g->M; i++) {
            const float *a = g->A + i * g->rsa;
            float *c = g->C + i * g->ldc;
            __m512 acc[4];
            for (r = 0; r < 4; r++)
                acc[r] = _mm512_setzero_ps();
            for (p = 0; p < g->K; p += 16) {
                __mmask16 m = g->K - p >= 16 ? (__mmask16)0xFFFF
                                             : (__mmask16)((1u << (g->K - p)) - 1u);
                __m512 av = _mm512_maskz_loadu_ps(m, a + p);
                for (r = 0; r < nr; r++)
                    acc[r] =
                        _mm512_fmadd_ps(av,
                                        _mm512_maskz_loadu_ps(m, g->B + (j + r) * g->csb +
                                                                     p),
                                        acc[r]);
            }
            for (r = 0; r < nr; r++) {
                float v = g->alpha * hsum(acc[r]);
                c[j + r] = g->beta == 0.0f ? v : fmaf(g->beta, c[j + r], v);
            }
        }
    }
}
#define gemm_dots gemm_dots

#include "nn/cpu/gemm_driver.h"

#define SNAKE_FN nn_snake_avx512
#include "nn/cpu/snake_body.h"

#else
void nn_sgemm_avx512(const nn_gemm *g, float *pack)
{
    nn_sgemm_blas(g, pack);
}

void nn_snake_avx512(const float *x, float *y, int64_t n, float al, float inv)
{
    nn_snake_c(x, y, n, al, inv);
}
#endif
