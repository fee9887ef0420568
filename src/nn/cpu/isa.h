/*
 * isa.h - what the CPU we run on can execute, read at run time, and the
 * per-ISA tables of kernels the CPU backend dispatches through.
 *
 * The ISA is a ladder of levels, each implying the ones below it (every
 * CPU that has AVX-512 F/BW/DQ/VL also has AVX2 and FMA; the CPUs with AMX
 * all have AVX512-BF16). A level counts only when the CPU has the
 * instructions AND the operating system saves the registers they use
 * (xgetbv); AMX also needs Linux's per-process permission
 * (arch_prctl(ARCH_REQ_XCOMP_PERM)), which nn_cpu_isa() asks for once.
 *
 * A context may be capped below what the CPU has (the SAMSEP_ISA
 * environment variable, read when it is created): that is how the tests run
 * each lower path on a capable machine, and how a user rules out a path.
 *
 * The kernel tables (nn_cpu_kern) are listed best first; a context takes
 * the first whose ISA is within its cap. A new precision or ISA adds fields
 * or rows here; the generic row (OpenBLAS, whatever core it picked) is the
 * last and needs nothing.
 */
#ifndef SAMSEP_NN_CPU_ISA_H
#define SAMSEP_NN_CPU_ISA_H

#include <stddef.h>
#include <stdint.h>

typedef enum nn_isa {
    NN_ISA_GENERIC = 0, /* x86-64 baseline (or not x86) */
    NN_ISA_AVX2,        /* AVX2 + FMA */
    NN_ISA_AVX512,      /* AVX-512 F, BW, DQ, VL */
    NN_ISA_AVX512_BF16, /* + AVX512-BF16 */
    NN_ISA_AMX,         /* + AMX-TILE, AMX-BF16, with the OS's permission */
    NN_ISA_COUNT
} nn_isa;

/* Feature bits of nn_cpu_isa_flags(). */
enum {
    NN_CPU_AVX2 = 1u << 0,
    NN_CPU_FMA = 1u << 1,
    NN_CPU_AVX512F = 1u << 2,
    NN_CPU_AVX512BW = 1u << 3,
    NN_CPU_AVX512DQ = 1u << 4,
    NN_CPU_AVX512VL = 1u << 5,
    NN_CPU_AVX512BF16 = 1u << 6,
    NN_CPU_AMX_TILE = 1u << 7,
    NN_CPU_AMX_BF16 = 1u << 8,
    NN_CPU_AMX_PERM = 1u << 9 /* the kernel let this process use the tiles */
};

/* The best level this CPU and OS run (detected once, thread-safe). */
nn_isa nn_cpu_isa(void);
/* The features behind it (NN_CPU_* bits, usable ones only). */
unsigned nn_cpu_isa_flags(void);
/* "generic", "avx2", "avx512", "avx512_bf16", "amx"; NULL past the end. */
const char *nn_isa_name(nn_isa isa);
/* Parse a name of nn_isa_name (case-insensitive); -1 when unknown. */
int nn_isa_parse(const char *s);
/* The flags as words, e.g. "avx2 fma avx512f ... amx-bf16", into buf. */
void nn_cpu_isa_describe(char *buf, size_t len);

/* ---- dispatch ------------------------------------------------------------ */

/*
 * One matrix product C[M,N] = alpha * A B + beta * C, the operands given by
 * strides so that one kernel serves x W^T (a Linear), W col (a conv), W^T x
 * (a transposed conv) and the attention's two products:
 *   A(i, p) = A[i * rsa + p * csa],  B(p, j) = B[p * rsb + j * csb],
 *   C(i, j) = C[i * ldc + j].
 * beta 0: C is write-only (may hold anything). The result of each element
 * depends on the call's shape and the kernel, never on the thread.
 */
typedef struct nn_gemm {
    int64_t M, N, K;
    float alpha, beta;
    const float *A;
    int64_t rsa, csa;
    const float *B;
    int64_t rsb, csb;
    float *C;
    int64_t ldc;
} nn_gemm;

typedef struct nn_cpu_kern {
    const char *name; /* the path nn_ctx_path reports */
    nn_isa isa;       /* the least level it needs */
    /* fp32 product; `pack` is NN_GEMM_PACK_FLOATS floats of the calling
     * worker's own, 64-byte aligned. The generic row needs rsa or csa,
     * and rsb or csb, to be 1. */
    void (*sgemm)(const nn_gemm *g, float *pack);
    /* matmul tiles: at most tile_m rows, a multiple of mr (the
     * microkernel's rows) */
    int64_t tile_m, mr;
    /* one row of Snake: y[t] = x[t] + inv * sin(al x[t])^2, t < n */
    void (*snake)(const float *x, float *y, int64_t n, float al, float inv);
} nn_cpu_kern;

/* Packing memory per worker, floats (the largest any kernel asks). */
#define NN_GEMM_PACK_FLOATS ((size_t)(144 * 256 + 256 * 512 + 1024))

/* The best table within `cap` (the CPU's own level is applied as well). */
const nn_cpu_kern *nn_cpu_kern_for(nn_isa cap);
/* Every table, best first: index 0 .. count-1 (NULL past the end). */
const nn_cpu_kern *nn_cpu_kern_at(int index);

/* The fp32 products by ISA (gemm_*.c). */
void nn_sgemm_avx512(const nn_gemm *g, float *pack);
void nn_sgemm_avx2(const nn_gemm *g, float *pack);
void nn_sgemm_blas(const nn_gemm *g, float *pack);
/* Snake rows: vectorised by ISA, and with libm's sinf (snake_c). */
void nn_snake_avx512(const float *x, float *y, int64_t n, float al, float inv);
void nn_snake_avx2(const float *x, float *y, int64_t n, float al, float inv);
void nn_snake_c(const float *x, float *y, int64_t n, float al, float inv);

#endif
