/*
 * kernels_ref.h - plain scalar references for the kernels of nn.h.
 *
 * Same arguments and semantics as the nn_* functions, minus the context,
 * on host memory: one thread, straight loops in the textbook order, sums
 * and elementary functions in double. They exist to be compared with every
 * backend's kernels (tests/test_nn_backend.c) and are never used by a
 * forward pass; they may allocate. Test-only: not part of the library.
 */
#ifndef SAMSEP_TESTS_KERNELS_REF_H
#define SAMSEP_TESTS_KERNELS_REF_H

#include "nn/nn.h"

void kref_matmul_ex(const float *x, int64_t ldx, const float *W, const float *bias,
                    float *y, int64_t ldy, int64_t M, int64_t N, int64_t K, float beta);
void kref_rmsnorm(const float *x, const float *w, float eps, float *y, int64_t M,
                  int64_t D);
void kref_layernorm(const float *x, const float *w, const float *b, float eps, float *y,
                    int64_t M, int64_t D);
int kref_groupnorm(const float *x, const float *w, const float *b, float eps, float *y,
                   int64_t B, int64_t C, int64_t T, int64_t G);
void kref_softmax(const float *x, float *y, int64_t M, int64_t N);
/* Returns SAMSEP_ERR_NOMEM if its temporary row cannot be allocated. */
int kref_attention(const nn_attn_args *a);
void kref_rope(float *x, nn_strides s, int64_t B, int64_t H, int64_t L, int64_t dh,
               const float *cos_t, const float *sin_t);
int kref_conv1d(const nn_conv1d_args *a, const float *x, const float *W,
                const float *bias, float *y);
int kref_convt1d(const nn_convt1d_args *a, const float *x, const float *W,
                 const float *bias, float *y);
/*
 * y = x rounded to bfloat16 (to nearest, ties to even; written
 * independently of nn_bf16_from_f32), as float. The reference of a kernel
 * with bf16 weights is the float32 reference on rounded weights and rounded
 * activations: products of bf16 are exact in float32, only sums round.
 */
void kref_bf16_round(const float *x, float *y, int64_t n);
int kref_pad1d(const float *x, float *y, int64_t B, int64_t C, int64_t L, int64_t left,
               int64_t right, nn_pad_mode mode);
/* Returns SAMSEP_ERR_NOMEM if its temporaries cannot be allocated. */
int kref_lstm(const float *x, const float *W_ih, const float *W_hh, const float *b_ih,
              const float *b_hh, const float *h0, const float *c0, float *y, float *hT,
              float *cT, int64_t T, int64_t B, int64_t n_in, int64_t H);
void kref_relu(const float *x, float *y, int64_t n);
void kref_gelu_tanh(const float *x, float *y, int64_t n);
void kref_gelu_erf(const float *x, float *y, int64_t n);
void kref_silu(const float *x, float *y, int64_t n);
void kref_sigmoid(const float *x, float *y, int64_t n);
void kref_elu(const float *x, float *y, int64_t n, float alpha);
void kref_tanh(const float *x, float *y, int64_t n);
void kref_snake(const float *x, const float *alpha, float *y, int64_t B, int64_t C,
                int64_t T);
void kref_add(const float *a, const float *b, float *y, int64_t n);
void kref_mul(const float *a, const float *b, float *y, int64_t n);
void kref_scale(const float *x, float s, float *y, int64_t n);
void kref_modulate(const float *x, const float *shift, const float *scale, int64_t ld,
                   float *y, int64_t B, int64_t T, int64_t D);
void kref_add_gated(const float *x, const float *g, int64_t ld, float *y, int64_t B,
                    int64_t T, int64_t D);
void kref_transpose(const float *x, float *y, int64_t B, int64_t R, int64_t C);
int kref_embedding(const float *table, int64_t vocab, int64_t D, const int32_t *ids,
                   int64_t n, float *y);
void kref_copy2d(const float *x, int64_t ldx, float *y, int64_t ldy, int64_t rows,
                 int64_t cols);
void kref_axpy(float a, const float *x, const float *y, float *out, int64_t n);
void kref_add_bcast(const float *x, const float *v, const int64_t vs[3], float *y,
                    const int64_t n[3]);
void kref_sum_rows(const float *x, float *y, int64_t M, int64_t D);
void kref_sinusoid(const float *f, int64_t half, float t, float *y, int64_t B);
void kref_rope_table(float *cos_t, float *sin_t, int64_t L, int64_t dh, float theta);

#endif
