/*
 * gemm_driver.h - the loops around a register-blocked microkernel: the
 * product of isa.h's nn_gemm cut into blocks that stay in cache (BLIS's
 * five loops), with both operands copied into the panel layout the
 * microkernel streams from ("packing").
 *
 * It is included by each gemm_<isa>.c after that file defines its
 * microkernel, so the packing loops are compiled for the same ISA:
 *   GEMM_MR, GEMM_NR   rows and columns of C the microkernel holds
 *   gemm_ukr(kc, a, b, c, ldc, alpha, beta)
 *       c[MR x NR] = alpha * (a-panel . b-panel) + beta * c, where beta 0
 *       means c is not read and otherwise c = fma(beta, c, alpha * acc)
 *   GEMM_FN            the name of the nn_gemm function to define
 * and may define faster packing of the strided cases (else plain loops):
 *   gemm_pack_a_rows(s, rs, kc, d)   MR full rows of a row-major A
 *   gemm_pack_b_cols(s, cs, kc, d)   NR full columns of a column-major B
 * and a direct product for at most GEMM_DOT_ROWS rows of A against B given
 * as [N, K] rows, where packing does not pay:
 *   gemm_dots(g)
 *
 * Blocks: a KC x NC slab of B (packed once, reused by every row block),
 * an MC x KC block of A, each MR x NR piece of C accumulated over KC in
 * registers. Each element's sum runs over K in KC-long pieces in a fixed
 * order, whatever the thread: that is what keeps the results bit-identical
 * for any thread count (callers cut their work into tiles by shape alone). Edge pieces (M or N
 * not a multiple) are computed in full on zero-padded panels into a small
 * buffer, then copied with the same arithmetic.
 */
#ifndef GEMM_MR
#error "define GEMM_MR, GEMM_NR, gemm_ukr and GEMM_FN before including gemm_driver.h"
#endif

#include <string.h>

#define GEMM_MC 144
#define GEMM_KC 256
#define GEMM_NC 512

static inline int64_t gd_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* A[i0 .. i0+mc, p0 .. p0+kc] into panels of MR rows, each kc x MR. */
static void gd_pack_a(const nn_gemm *g, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                      float *ap)
{
    int64_t ir, i, p;
    for (ir = 0; ir < mc; ir += GEMM_MR) {
        int64_t mr = gd_min(GEMM_MR, mc - ir);
        float *d = ap + ir * kc;
        const float *s = g->A + (i0 + ir) * g->rsa + p0 * g->csa;
#ifdef gemm_pack_a_rows
        if (g->csa == 1 && mr == GEMM_MR) {
            gemm_pack_a_rows(s, g->rsa, kc, d);
            continue;
        }
#endif
        if (g->rsa == 1 && mr == GEMM_MR) {
            for (p = 0; p < kc; p++)
                for (i = 0; i < GEMM_MR; i++)
                    d[p * GEMM_MR + i] = s[p * g->csa + i];
            continue;
        }
        for (i = 0; i < mr; i++)
            for (p = 0; p < kc; p++)
                d[p * GEMM_MR + i] = s[i * g->rsa + p * g->csa];
        for (; i < GEMM_MR; i++)
            for (p = 0; p < kc; p++)
                d[p * GEMM_MR + i] = 0.0f;
    }
}

/* B[p0 .. p0+kc, j0 .. j0+nc] into panels of NR columns, each kc x NR. */
static void gd_pack_b(const nn_gemm *g, int64_t p0, int64_t kc, int64_t j0, int64_t nc,
                      float *bp)
{
    int64_t jr, j, p;
    for (jr = 0; jr < nc; jr += GEMM_NR) {
        int64_t nr = gd_min(GEMM_NR, nc - jr);
        float *d = bp + jr * kc;
        const float *s = g->B + p0 * g->rsb + (j0 + jr) * g->csb;
        if (g->csb == 1) {
            for (p = 0; p < kc; p++) {
                memcpy(d + p * GEMM_NR, s + p * g->rsb, (size_t)nr * sizeof(float));
                for (j = nr; j < GEMM_NR; j++)
                    d[p * GEMM_NR + j] = 0.0f;
            }
            continue;
        }
#ifdef gemm_pack_b_cols
        if (g->rsb == 1 && nr == GEMM_NR) {
            gemm_pack_b_cols(s, g->csb, kc, d);
            continue;
        }
#endif
        for (j = 0; j < nr; j++)
            for (p = 0; p < kc; p++)
                d[p * GEMM_NR + j] = s[j * g->csb + p * g->rsb];
        for (; j < GEMM_NR; j++)
            for (p = 0; p < kc; p++)
                d[p * GEMM_NR + j] = 0.0f;
    }
}

static void gd_scale_c(const nn_gemm *g)
{
    int64_t i, j;
    for (i = 0; i < g->M; i++) {
        float *c = g->C + i * g->ldc;
        for (j = 0; j < g->N; j++)
            c[j] = g->beta == 0.0f ? 0.0f : g->beta * c[j];
    }
}

/* One piece of C, full or edge. */
static void gd_piece(const nn_gemm *g, int64_t kc, const float *a, const float *b,
                     float *c, int64_t mr, int64_t nr, float beta)
{
    float t[GEMM_MR * GEMM_NR] __attribute__((aligned(64)));
    int64_t i, j;

    if (mr == GEMM_MR && nr == GEMM_NR) {
        gemm_ukr(kc, a, b, c, g->ldc, g->alpha, beta);
        return;
    }
    gemm_ukr(kc, a, b, t, GEMM_NR, g->alpha, 0.0f);
    for (i = 0; i < mr; i++)
        for (j = 0; j < nr; j++)
            c[i * g->ldc + j] = beta == 0.0f
                                    ? t[i * GEMM_NR + j]
                                    : fmaf(beta, c[i * g->ldc + j], t[i * GEMM_NR + j]);
}

void GEMM_FN(const nn_gemm *g, float *pack)
{
    float *bp = pack, *ap = pack + GEMM_KC * GEMM_NC;
    int64_t jc, pc, ic, jr, ir;

    if (g->K == 0) {
        gd_scale_c(g);
        return;
    }
#ifdef gemm_dots
    /* a few rows against [N, K] weights (an LSTM step): packing the
     * weights would cost more than the products */
    if (g->M <= GEMM_DOT_ROWS && g->csa == 1 && g->rsb == 1) {
        gemm_dots(g);
        return;
    }
#endif
    for (jc = 0; jc < g->N; jc += GEMM_NC) {
        int64_t nc = gd_min(GEMM_NC, g->N - jc);
        for (pc = 0; pc < g->K; pc += GEMM_KC) {
            int64_t kc = gd_min(GEMM_KC, g->K - pc);
            float beta = pc == 0 ? g->beta : 1.0f;
            gd_pack_b(g, pc, kc, jc, nc, bp);
            for (ic = 0; ic < g->M; ic += GEMM_MC) {
                int64_t mc = gd_min(GEMM_MC, g->M - ic);
                gd_pack_a(g, ic, mc, pc, kc, ap);
                for (jr = 0; jr < nc; jr += GEMM_NR)
                    for (ir = 0; ir < mc; ir += GEMM_MR)
                        gd_piece(g, kc, ap + ir * kc, bp + jr * kc,
                                 g->C + (ic + ir) * g->ldc + jc + jr,
                                 gd_min(GEMM_MR, mc - ir), gd_min(GEMM_NR, nc - jr),
                                 beta);
            }
        }
    }
}
