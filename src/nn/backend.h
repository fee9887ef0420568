/*
 * backend.h - what a backend provides: one table of functions, listed in
 * nn.c's registry. Networks never see it; they call nn.h, whose
 * functions check the arguments every backend would have to check (NULL
 * pointers, sizes, convolution geometry), count the call, and forward it
 * here. A backend function may therefore assume valid arguments and
 * n >= 1 elements; what only it can know (its scratch, a device error) it
 * reports as a negative status.
 *
 * `ctx` is the backend's own context, made by init() for one nn_ctx.
 * Memory pointers are the backend's memory (nn.h), except where a comment
 * says host. Every function must be set: the kernel test runs each one.
 */
#ifndef SAMSEP_NN_BACKEND_H
#define SAMSEP_NN_BACKEND_H

#include "nn/nn.h"

typedef enum nn_unary {
    NN_UNARY_RELU,
    NN_UNARY_GELU_TANH,
    NN_UNARY_GELU_ERF,
    NN_UNARY_SILU,
    NN_UNARY_SIGMOID,
    NN_UNARY_ELU,
    NN_UNARY_TANH,
    NN_UNARY_SCALE
} nn_unary;

typedef enum nn_binary { NN_BINARY_ADD, NN_BINARY_MUL } nn_binary;

typedef struct nn_backend {
    const char *name;
    int host_memory; /* 1: its memory is host memory (nn_ctx_host_memory) */

    /* context from nn_params (NULL: defaults); err for the reason of a
     * failure */
    int (*init)(const nn_params *p, void **ctx, char *err, size_t errlen);
    void (*done)(void *ctx);
    int (*threads)(const void *ctx);
    /* the implementation op runs (nn_ctx_path); op is valid */
    const char *(*path)(const void *ctx, nn_op op);

    /* memory */
    void *(*alloc)(void *ctx, size_t bytes);
    void (*free)(void *ctx, void *p);
    int (*upload)(void *ctx, void *dst, const void *host, size_t bytes);
    int (*download)(void *ctx, void *host, const void *src, size_t bytes);
    int (*sync)(void *ctx);
    int (*reserve)(void *ctx, size_t floats);
    size_t (*scratch_floats)(const void *ctx);

    /* scratch and work sizes of the kernels that need them */
    size_t (*attention_scratch)(int64_t Lk, int64_t dh);
    size_t (*conv1d_scratch)(const nn_conv1d_args *a);
    size_t (*convt1d_scratch)(const nn_convt1d_args *a);
    size_t (*lstm_work_floats)(int64_t B, int64_t H);

    /* kernels, with nn.h's semantics */
    int (*copy2d)(void *ctx, const float *x, int64_t ldx, float *y, int64_t ldy,
                  int64_t rows, int64_t cols);
    int (*matmul)(void *ctx, const float *x, int64_t ldx, const float *W,
                  const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                  int64_t K, float beta);
    int (*rmsnorm)(void *ctx, const float *x, const float *w, float eps, float *y,
                   int64_t M, int64_t D);
    int (*layernorm)(void *ctx, const float *x, const float *w, const float *b, float eps,
                     float *y, int64_t M, int64_t D);
    int (*groupnorm)(void *ctx, const float *x, const float *w, const float *b, float eps,
                     float *y, int64_t B, int64_t C, int64_t T, int64_t G);
    int (*softmax)(void *ctx, const float *x, float *y, int64_t M, int64_t N);
    int (*attention)(void *ctx, const nn_attn_args *a);
    int (*rope_table)(void *ctx, float *cos_t, float *sin_t, int64_t L, int64_t dh,
                      float theta);
    int (*rope)(void *ctx, float *x, nn_strides s, int64_t B, int64_t H, int64_t L,
                int64_t dh, const float *cos_t, const float *sin_t);
    int (*conv1d)(void *ctx, const nn_conv1d_args *a, const float *x, const float *W,
                  const float *bias, float *y);
    int (*convt1d)(void *ctx, const nn_convt1d_args *a, const float *x, const float *W,
                   const float *bias, float *y);
    int (*pad1d)(void *ctx, const float *x, float *y, int64_t B, int64_t C, int64_t L,
                 int64_t left, int64_t right, nn_pad_mode mode);
    int (*lstm)(void *ctx, const float *x, const float *W_ih, const float *W_hh,
                const float *b_ih, const float *b_hh, const float *h0, const float *c0,
                float *y, float *hT, float *cT, int64_t T, int64_t B, int64_t n_in,
                int64_t H, float *work);
    /* y = op(x) (NN_UNARY_ELU: alpha; NN_UNARY_SCALE: y = alpha * x) */
    int (*unary)(void *ctx, nn_unary op, const float *x, float *y, int64_t n,
                 float alpha);
    int (*binary)(void *ctx, nn_binary op, const float *a, const float *b, float *y,
                  int64_t n);
    int (*axpy)(void *ctx, float a, const float *x, const float *y, float *out,
                int64_t n);
    int (*snake)(void *ctx, const float *x, const float *alpha, float *y, int64_t B,
                 int64_t C, int64_t T);
    int (*add_bcast)(void *ctx, const float *x, const float *v, const int64_t vs[3],
                     float *y, const int64_t n[3]);
    int (*modulate)(void *ctx, const float *x, const float *shift, const float *scale,
                    int64_t ld, float *y, int64_t B, int64_t T, int64_t D);
    int (*add_gated)(void *ctx, const float *x, const float *g, int64_t ld, float *y,
                     int64_t B, int64_t T, int64_t D);
    int (*transpose)(void *ctx, const float *x, float *y, int64_t B, int64_t R,
                     int64_t C);
    int (*embedding)(void *ctx, const float *table, int64_t vocab, int64_t D,
                     const int32_t *ids, int64_t n, float *y);
    int (*sum_rows)(void *ctx, const float *x, float *y, int64_t M, int64_t D);
    int (*sinusoid)(void *ctx, const float *f, int64_t half, float t, float *y,
                    int64_t B);

    /* bf16 weights (W: bf16 bit patterns, nn.h's nn_w), same semantics */
    int (*matmul_bf16)(void *ctx, const float *x, int64_t ldx, const uint16_t *W,
                       const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                       int64_t K, float beta);
    int (*conv1d_bf16)(void *ctx, const nn_conv1d_args *a, const float *x,
                       const uint16_t *W, const float *bias, float *y);
    int (*convt1d_bf16)(void *ctx, const nn_convt1d_args *a, const float *x,
                        const uint16_t *W, const float *bias, float *y);
} nn_backend;

/* The CPU backend: per-ISA packed products (or OpenBLAS) on a persistent
 * thread pool (cpu/). */
extern const nn_backend nn_backend_cpu;

#endif
