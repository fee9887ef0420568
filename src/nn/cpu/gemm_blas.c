/*
 * gemm_blas.c - the generic row of the kernel table: isa.h's nn_gemm on
 * OpenBLAS's cblas_sgemm (held to one thread by the backend), for CPUs
 * below AVX2 or another architecture. OpenBLAS then runs whatever core it
 * chose for this CPU when it was loaded.
 */
#include <cblas.h>
#include <math.h>

#include "nn/cpu/isa.h"

/* Operands whose strides are both > 1 (never from the backend's kernels,
 * but allowed by nn_gemm): a plain loop. */
static void gemm_loop(const nn_gemm *g)
{
    int64_t i, j, p;
    for (i = 0; i < g->M; i++)
        for (j = 0; j < g->N; j++) {
            float acc = 0.0f, *c = g->C + i * g->ldc + j;
            for (p = 0; p < g->K; p++)
                acc += g->A[i * g->rsa + p * g->csa] * g->B[p * g->rsb + j * g->csb];
            *c = g->beta == 0.0f ? g->alpha * acc : g->alpha * acc + g->beta * *c;
        }
}

void nn_sgemm_blas(const nn_gemm *g, float *pack)
{
    enum CBLAS_TRANSPOSE ta, tb;
    int64_t lda, ldb;
    (void)pack;

    if (g->csa == 1) {
        ta = CblasNoTrans;
        lda = g->rsa;
    } else if (g->rsa == 1) {
        ta = CblasTrans;
        lda = g->csa;
    } else {
        gemm_loop(g);
        return;
    }
    if (g->csb == 1) {
        tb = CblasNoTrans;
        ldb = g->rsb;
    } else if (g->rsb == 1) {
        tb = CblasTrans;
        ldb = g->csb;
    } else {
        gemm_loop(g);
        return;
    }
    /* BLAS wants leading dimensions of at least the row length and 1 */
    if (lda < (ta == CblasNoTrans ? g->K : g->M) || lda < 1 ||
        ldb < (tb == CblasNoTrans ? g->N : g->K) || ldb < 1) {
        gemm_loop(g);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta, tb, (blasint)g->M, (blasint)g->N, (blasint)g->K,
                g->alpha, g->A, (blasint)lda, g->B, (blasint)ldb, g->beta, g->C,
                (blasint)g->ldc);
}

void nn_snake_c(const float *x, float *y, int64_t n, float al, float inv)
{
    int64_t t;
    for (t = 0; t < n; t++) {
        float s = sinf(al * x[t]);
        y[t] = x[t] + inv * (s * s);
    }
}
