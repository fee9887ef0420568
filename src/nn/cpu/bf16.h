/*
 * bf16.h - the CPU backend's kernels for bf16 weights (bf16.c): matrix
 * products, convolutions and transposed convolutions whose weights are
 * bfloat16, for the contract of nn.h's nn_matmul_w and friends.
 *
 * They run on the backend's pool with per-worker buffers of
 * NN_BF16_BUF_BYTES that the backend allocates with its context (tiles are
 * sized to fit them from the shapes alone), so a forward pass still
 * allocates nothing. A kernel whose smallest tile would not fit (a
 * transposed convolution with K > 256) returns SAMSEP_ERR_INVALID.
 */
#ifndef SAMSEP_NN_CPU_BF16_H
#define SAMSEP_NN_CPU_BF16_H

#include <stdint.h>

#include "nn/nn.h"
#include "nn/cpu/isa.h"
#include "nn/cpu/threadpool.h"

#define NN_BF16_BUF_BYTES ((size_t)2 << 20)

/*
 * What a context's bf16 kernels run with: its pool, one buffer of
 * NN_BF16_BUF_BYTES (64-byte aligned) per worker, and the path: the
 * AVX512-BF16 microkernel (avx512bf16 set: the CPU has it and the
 * context's ISA cap allows it, isa.h) or widening each packed block to
 * float32 for the context's own fp32 product (kern, with its per-worker
 * pack memory).
 */
typedef struct nn_bf16_env {
    nn_tpool *pool;
    unsigned char **buf;
    int avx512bf16;
    const nn_cpu_kern *kern;
    float **pack;
} nn_bf16_env;

/* "avx512_bf16", or "<fp32 kernel>+widen" (e.g. "avx512+widen"). */
const char *nn_cpu_bf16_path(const nn_bf16_env *e);

int nn_cpu_matmul_bf16(const nn_bf16_env *e, const float *x, int64_t ldx,
                       const uint16_t *W, const float *bias, float *y, int64_t ldy,
                       int64_t M, int64_t N, int64_t K, float beta);
int nn_cpu_conv1d_bf16(const nn_bf16_env *e, const nn_conv1d_args *a, const float *x,
                       const uint16_t *W, const float *bias, float *y);
int nn_cpu_convt1d_bf16(const nn_bf16_env *e, const nn_convt1d_args *a, const float *x,
                        const uint16_t *W, const float *bias, float *y);

#endif
