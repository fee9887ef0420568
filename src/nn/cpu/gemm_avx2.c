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

#include "nn/cpu/gemm_driver.h"

#else
void nn_sgemm_avx2(const nn_gemm *g, float *pack)
{
    nn_sgemm_blas(g, pack);
}
#endif
