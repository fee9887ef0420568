/*
 * conv_index.h - index arithmetic the CPU backend's float32 (cpu.c) and
 * bf16 (bf16.c) convolutions share, so that both read the same padded
 * samples and size their transposed-convolution tiles alike.
 */
#ifndef SAMSEP_NN_CPU_CONV_INDEX_H
#define SAMSEP_NN_CPU_CONV_INDEX_H

#include <stdint.h>

#include "nn/nn.h"

/* Input index of padded position p (may be outside [0, L)); -1 = zero. */
static inline int64_t nn_cpu_pad_index(int64_t p, int64_t L, nn_pad_mode mode)
{
    int64_t per = 2 * (L - 1);
    if (p >= 0 && p < L)
        return p;
    switch (mode) {
    case NN_PAD_REFLECT: return p < 0 ? -p : 2 * (L - 1) - p;
    case NN_PAD_REPLICATE: return p < 0 ? 0 : L - 1;
    case NN_PAD_REFLECT_PERIODIC:
        if (per == 0)
            return 0;
        p %= per;
        if (p < 0)
            p += per;
        return p < L ? p : per - p;
    default: return -1;
    }
}

/* Most input columns an output tile of tl samples of a transposed
 * convolution reaches. */
static inline int64_t nn_cpu_convt_cols(const nn_convt1d_args *a, int64_t tl)
{
    return (tl - 1 + (a->K - 1) * a->dilation) / a->stride + 2;
}

#endif
