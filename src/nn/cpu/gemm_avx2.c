/*
 * gemm_avx2.c - the fp32 matrix product for CPUs with AVX2 and FMA: a
 * 6 x 16 microkernel (12 ymm accumulators, two loads of B and six
 * broadcasts of A per step of k) inside gemm_driver.h's blocking.
 *
 * This file alone is compiled with -mavx2 -mfma (CMakeLists.txt); it is
 * reached only through isa.c's table after the CPU was checked.
 */
#include <math.h>
#include <stdint.h>

#include "nn/cpu/isa.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define GEMM_MR 6
#define GEMM_NR 16
#define GEMM_FN nn_sgemm_avx2

static inline void gemm_ukr(int64_t kc, const float *a, const float *b, float *c,
                            int64_t ldc, float alpha, float beta)
{
    __m256 acc[GEMM_MR][2];
    int64_t p;
    int i;

#pragma GCC unroll 6
    for (i = 0; i < GEMM_MR; i++) {
        acc[i][0] = _mm256_setzero_ps();
        acc[i][1] = _mm256_setzero_ps();
    }
    for (p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b + p * GEMM_NR);
        __m256 b1 = _mm256_load_ps(b + p * GEMM_NR + 8);
        const float *ap = a + p * GEMM_MR;
#pragma GCC unroll 6
        for (i = 0; i < GEMM_MR; i++) {
            __m256 ai = _mm256_broadcast_ss(ap + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
    {
        __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
        for (i = 0; i < GEMM_MR; i++) {
            float *cr = c + i * ldc;
            __m256 r0 = acc[i][0], r1 = acc[i][1];
            if (alpha != 1.0f) {
                r0 = _mm256_mul_ps(r0, va);
                r1 = _mm256_mul_ps(r1, va);
            }
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), r1);
            }
            _mm256_storeu_ps(cr, r0);
            _mm256_storeu_ps(cr + 8, r1);
        }
    }
}

/* Transpose 8 x 8: r[i][j] -> r[j][i]. */
static inline void tr8(__m256 r[8])
{
    __m256 t[8], u[8];
    int i;
    for (i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* d[p * ld + i] = s[i * rs + p] for i < n (<= 8) rows, p < kc: blocks of
 * 8 x 8 transposed in registers, the last kc % 8 columns one by one. */
static void pack_rows_t(const float *s, int64_t rs, int n, int64_t kc, float *d,
                        int64_t ld)
{
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 r[8];
    int64_t p, q;
    int i;

    for (p = 0; p + 8 <= kc; p += 8) {
        for (i = 0; i < 8; i++)
            r[i] = i < n ? _mm256_loadu_ps(s + i * rs + p) : _mm256_setzero_ps();
        tr8(r);
        for (q = 0; q < 8; q++)
            _mm256_maskstore_ps(d + (p + q) * ld, m, r[q]);
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
    pack_rows_t(s, cs, 8, kc, d, GEMM_NR);
    pack_rows_t(s + 8 * cs, cs, 8, kc, d + 8, GEMM_NR);
}
#define gemm_pack_b_cols gemm_pack_b_cols

#include "nn/cpu/gemm_driver.h"

#define SNAKE_FN nn_snake_avx2
#include "nn/cpu/snake_body.h"

#else
void nn_sgemm_avx2(const nn_gemm *g, float *pack)
{
    nn_sgemm_blas(g, pack);
}

void nn_snake_avx2(const float *x, float *y, int64_t n, float al, float inv)
{
    nn_snake_c(x, y, n, al, inv);
}
#endif
