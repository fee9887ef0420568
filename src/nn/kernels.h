/*
 * kernels.h - the layer primitives of the native models (T5 text encoder,
 * SAM-Audio DiT, DAC-VAE codec), float32, CPU.
 *
 * Every kernel takes a kctx: a persistent thread pool plus per-worker
 * scratch memory. A forward pass made of these calls starts no threads and
 * allocates nothing; scratch is reserved up front (kctx_reserve with the
 * *_scratch() sizes below) and a kernel that finds too little returns
 * SAMSEP_ERR_INVALID instead of allocating.
 *
 * Threads and determinism. Work is cut into fixed units (rows, fixed-size
 * tiles of the output, (batch, head, query-block) triples) whose boundaries
 * depend only on the shapes, never on the thread count; each output element
 * is computed by exactly one unit with a fixed order of summation. Results
 * are therefore bit-identical for any number of threads. Matrix products go
 * through OpenBLAS's cblas_sgemm on one tile at a time; kctx_create() sets
 * OpenBLAS to one thread (openblas_set_num_threads(1), process-wide) so that
 * all parallelism comes from the pool and the two never oversubscribe.
 *
 * Layouts are PyTorch's: Linear weights [out, in], Conv1d weights
 * [C_out, C_in/groups, K], ConvTranspose1d weights [C_in, C_out/groups, K],
 * channel-first signals [B, C, T], all C-contiguous unless strides say
 * otherwise. Outputs may not overlap inputs unless a kernel says so
 * ("y may equal x").
 *
 * Each kernel has a plain scalar reference kref_* in kernels_ref.h with the
 * same arguments; tests compare the two by normalised error.
 *
 * A kctx is used by one thread at a time (one forward pass at a time).
 */
#ifndef SAMSEP_NN_KERNELS_H
#define SAMSEP_NN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "nn/cpu/threadpool.h"

typedef struct kctx kctx;

/*
 * Create a kernel context with `threads` threads (0 = online CPUs, 1 = no
 * workers). Returns SAMSEP_OK, SAMSEP_ERR_INVALID or SAMSEP_ERR_NOMEM with
 * err set.
 */
int kctx_create(int threads, kctx **out /* OUT */, char *err, size_t errlen);
void kctx_destroy(kctx *k); /* NULL allowed */
int kctx_threads(const kctx *k);
tpool *kctx_pool(kctx *k);

/*
 * Make sure every worker has at least `floats` floats of scratch (grows,
 * never shrinks; 64-byte aligned). Call outside forward passes. Returns
 * SAMSEP_OK or SAMSEP_ERR_NOMEM (the old scratch is then kept).
 */
int kctx_reserve(kctx *k, size_t floats);
size_t kctx_scratch_floats(const kctx *k);
/* The scratch of worker `w` (0 .. threads-1). */
float *kctx_scratch(kctx *k, int w);

/* ---- matrix products ------------------------------------------------- */

/*
 * y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]) : a PyTorch Linear.
 * bias may be NULL. y must not overlap x or W.
 */
void k_matmul(kctx *k, const float *x, const float *W, const float *bias,
              float *y, int64_t M, int64_t N, int64_t K);

/*
 * General form: rows of x are ldx floats apart, rows of y ldy apart, and
 * y = x · W^T + bias + beta * y (beta 0: y is write-only; 1: accumulate,
 * e.g. a residual connection).
 */
void k_matmul_ex(kctx *k, const float *x, int64_t ldx, const float *W,
                 const float *bias, float *y, int64_t ldy, int64_t M,
                 int64_t N, int64_t K, float beta);

/* ---- normalisations (statistics accumulated in double) ---------------- */

/*
 * RMSNorm over the last dim (T5LayerNorm, and the DiT's RMSNorm):
 * y[m,:] = (x[m,:] * rsqrt(mean(x[m,:]^2) + eps)) * w. w [D] may be NULL
 * (no weight). x, y [M, D]; y may equal x.
 */
void k_rmsnorm(kctx *k, const float *x, const float *w, float eps, float *y,
               int64_t M, int64_t D);

/*
 * LayerNorm over the last dim: y = (x - mean) * rsqrt(var + eps) * w + b,
 * var biased. w and b [D] may each be NULL (no affine). y may equal x.
 */
void k_layernorm(kctx *k, const float *x, const float *w, const float *b,
                 float eps, float *y, int64_t M, int64_t D);

/*
 * GroupNorm on channel-first x [B, C, T]: C split into G groups of C/G
 * channels; mean and biased variance over (C/G) * T values of one item,
 * then per-channel affine w, b [C] (each may be NULL). C % G must be 0
 * (SAMSEP_ERR_INVALID otherwise). y may equal x.
 */
int k_groupnorm(kctx *k, const float *x, const float *w, const float *b,
                float eps, float *y, int64_t B, int64_t C, int64_t T,
                int64_t G);

/*
 * Row-wise softmax of x [M, N] into y (y may equal x). -INFINITY entries
 * get probability 0; a row that is entirely -INFINITY becomes all zeros
 * (PyTorch would give NaN).
 */
void k_softmax(kctx *k, const float *x, float *y, int64_t M, int64_t N);

/* ---- attention -------------------------------------------------------- */

/* Strides (in floats) of element (batch b, head h, position t, channel j):
 * p[b*b_ + h*h_ + t*t_ + j*j_]. */
typedef struct k_strides {
    int64_t b, h, t, j;
} k_strides;

/* [B, L, H*dh], head h = channels h*dh .. h*dh+dh-1 ("head-major", T5's
 * view(B,L,H,d) and the DiT's "b n (h d)" merge). */
k_strides k_strides_head_major(int64_t L, int64_t H, int64_t dh);
/* [B, L, dh*H], head h element j = channel j*H + h (the DiT's interleaved
 * split reshape(B,T,hd,H)). */
k_strides k_strides_interleaved(int64_t L, int64_t H, int64_t dh);
/* [B, H, L, dh] contiguous. */
k_strides k_strides_bhld(int64_t H, int64_t L, int64_t dh);

typedef struct k_attn_args {
    int64_t B, H, Lq, Lk, dh; /* value dim = dh */
    const float *q;           /* (b, h, i, j) with q_s */
    const float *k;           /* (b, h, t, j) with k_s */
    const float *v;
    float *out;               /* (b, h, i, j) with out_s */
    k_strides q_s, k_s, v_s, out_s;
    float scale;              /* scores = scale * q·k (T5: 1, DiT: 1/sqrt(dh)) */
    /* Additive bias of element (b, h, i, j) at bias[b*bias_s.b + h*bias_s.h
     * + i*bias_s.t + j*bias_s.j]; strides may be 0 or negative (a relative
     * position table [H, 2L-1] is bias = tab + L-1, strides {0, 2L-1, -1, 1}).
     * NULL: no bias. */
    const float *bias;
    k_strides bias_s;
    /* [B, Lk], nonzero = key may be attended; NULL: all keys. Masked keys
     * are left out of the softmax (like -inf, or T5's finfo.min term). A
     * query with no valid key gets zeros. */
    const uint8_t *key_mask;
} k_attn_args;

/* Per-worker scratch floats k_attention needs for Lk keys of size dh. */
size_t k_attention_scratch(int64_t Lk, int64_t dh);

/*
 * out = softmax(scale * q k^T + bias, masked) v for every (b, h). out must
 * not overlap q, k or v. Returns SAMSEP_OK, or SAMSEP_ERR_INVALID for bad
 * sizes or too little scratch.
 */
int k_attention(kctx *k, const k_attn_args *a);

/*
 * RoPE tables, float32 as torch computes them: f_i = 1 / theta^((2i)/dh)
 * (powf), angle = (float)t * f_i, cos_t/sin_t [L, dh/2]. dh must be even.
 */
void k_rope_table(float *cos_t, float *sin_t, int64_t L, int64_t dh,
                  float theta);

/*
 * Rotate adjacent pairs in place: for x element (b, h, t, 2i), (b, h, t,
 * 2i+1) with strides s: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), c/s =
 * table[t, i]. x [B, H, L, dh] under s.
 */
void k_rope(kctx *k, float *x, k_strides s, int64_t B, int64_t H, int64_t L,
            int64_t dh, const float *cos_t, const float *sin_t);

/* ---- convolutions ----------------------------------------------------- */

typedef enum k_pad_mode {
    K_PAD_ZERO = 0,
    K_PAD_REFLECT = 1,   /* torch "reflect": mirror, edge sample not repeated */
    K_PAD_REPLICATE = 2  /* repeat the edge sample */
} k_pad_mode;

typedef struct k_conv1d_args {
    int64_t B, Cin, Lin, Cout, K;
    int64_t stride, dilation;   /* >= 1 */
    int64_t pad_left, pad_right;/* >= 0; reflect needs each < Lin */
    int64_t groups;             /* divides Cin and Cout */
    k_pad_mode pad_mode;
} k_conv1d_args;

/* Output length (Lin + pl + pr - dilation*(K-1) - 1) / stride + 1, or -1
 * when the arguments are invalid or the output would be empty. */
int64_t k_conv1d_out_len(const k_conv1d_args *a);
/* Per-worker scratch floats k_conv1d needs for these arguments. */
size_t k_conv1d_scratch(const k_conv1d_args *a);

/*
 * y[B, Cout, Lout] = conv1d(x [B, Cin, Lin], W [Cout, Cin/groups, K]) +
 * bias[Cout] (NULL: none), as torch.nn.Conv1d with explicit left/right
 * padding. Dense layers go through im2col + sgemm on fixed column tiles.
 * Returns SAMSEP_OK or SAMSEP_ERR_INVALID (bad arguments, little scratch).
 */
int k_conv1d(kctx *k, const k_conv1d_args *a, const float *x, const float *W,
             const float *bias, float *y);

typedef struct k_convt1d_args {
    int64_t B, Cin, Lin, Cout, K;
    int64_t stride, dilation;   /* >= 1 */
    int64_t padding;            /* PyTorch padding: dropped on both sides */
    int64_t output_padding;     /* extra samples on the right (< stride or
                                   < dilation, as PyTorch requires) */
    int64_t crop_right;         /* extra samples dropped on the right: 0 for
                                   PyTorch; K - stride for a "causal"
                                   transposed conv */
    int64_t groups;
} k_convt1d_args;

/* (Lin-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1 -
 * crop_right, or -1 when invalid or empty. */
int64_t k_convt1d_out_len(const k_convt1d_args *a);
size_t k_convt1d_scratch(const k_convt1d_args *a);

/*
 * y[B, Cout, Lout] = conv_transpose1d(x [B, Cin, Lin], W [Cin, Cout/groups,
 * K]) + bias[Cout], as torch.nn.ConvTranspose1d. Each fixed tile of output
 * columns gets its columns from one sgemm (W^T · x) and gathers them.
 */
int k_convt1d(kctx *k, const k_convt1d_args *a, const float *x,
              const float *W, const float *bias, float *y);

/*
 * Pad x [B, C, L] to y [B, C, left + L + right] (zero, reflect or
 * replicate; reflect needs left, right < L). Returns SAMSEP_ERR_INVALID
 * when it cannot.
 */
int k_pad1d(kctx *k, const float *x, float *y, int64_t B, int64_t C,
            int64_t L, int64_t left, int64_t right, k_pad_mode mode);

/* ---- recurrent -------------------------------------------------------- */

/*
 * One LSTM layer as torch.nn.LSTM (batch_first=False, gates i, f, g, o):
 *   x [T, B, n_in], W_ih [4H, n_in], W_hh [4H, H], b_ih, b_hh [4H] (each may be
 *   NULL), h0, c0 [B, H] (NULL: zeros), y [T, B, H] (all hidden states);
 *   hT, cT [B, H] receive the final state when not NULL.
 * `work` is a caller buffer of k_lstm_work_floats(B, H) floats (shared by
 * all threads; no scratch used). y must not overlap x.
 */
size_t k_lstm_work_floats(int64_t B, int64_t H);
void k_lstm(kctx *k, const float *x, const float *W_ih, const float *W_hh,
            const float *b_ih, const float *b_hh, const float *h0,
            const float *c0, float *y, float *hT, float *cT, int64_t T,
            int64_t B, int64_t n_in, int64_t H, float *work);

/* ---- activations (n elements; y may equal x) --------------------------- */

void k_relu(kctx *k, const float *x, float *y, int64_t n);
/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) - HF "gelu_new". */
void k_gelu_tanh(kctx *k, const float *x, float *y, int64_t n);
/* 0.5 x (1 + erf(x / sqrt 2)) - torch's default GELU. */
void k_gelu_erf(kctx *k, const float *x, float *y, int64_t n);
void k_silu(kctx *k, const float *x, float *y, int64_t n);
void k_sigmoid(kctx *k, const float *x, float *y, int64_t n);
/* x > 0 ? x : alpha (exp(x) - 1) */
void k_elu(kctx *k, const float *x, float *y, int64_t n, float alpha);
void k_tanh(kctx *k, const float *x, float *y, int64_t n);
/*
 * Snake on x [B, C, T] with alpha [C]:
 * y = x + (1 / (alpha + 1e-9)) * sin(alpha x)^2 (DAC's order of operations).
 */
void k_snake(kctx *k, const float *x, const float *alpha, float *y,
             int64_t B, int64_t C, int64_t T);

/* ---- elementwise helpers (y may equal an input) ------------------------ */

void k_add(kctx *k, const float *a, const float *b, float *y, int64_t n);
void k_mul(kctx *k, const float *a, const float *b, float *y, int64_t n);
/* y = s * x */
void k_scale(kctx *k, const float *x, float s, float *y, int64_t n);
/* y[b,t,:] = x[b,t,:] * (1 + scale[b,:]) + shift[b,:]; x, y [B, T, D],
 * shift, scale [B, D] (the DiT's modulate). */
void k_modulate(kctx *k, const float *x, const float *shift,
                const float *scale, float *y, int64_t B, int64_t T,
                int64_t D);
/* y[b,t,:] += g[b,:] * x[b,t,:] (gated residual); x, y [B, T, D], g [B, D]. */
void k_add_gated(kctx *k, const float *x, const float *g, float *y,
                 int64_t B, int64_t T, int64_t D);
/* y[b, c, r] = x[b, r, c]: x [B, R, C] -> y [B, C, R]. y must not overlap x. */
void k_transpose(kctx *k, const float *x, float *y, int64_t B, int64_t R,
                 int64_t C);
/*
 * y[i, :] = table[ids[i], :] for i < n; table [vocab, D]. Returns
 * SAMSEP_ERR_INVALID (and writes nothing) if an id is outside [0, vocab).
 */
int k_embedding(kctx *k, const float *table, int64_t vocab, int64_t D,
                const int32_t *ids, int64_t n, float *y);

#endif
