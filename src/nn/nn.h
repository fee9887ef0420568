/*
 * nn.h - the kernel interface of the native models (T5 text encoder,
 * SAM-Audio's DiT, DAC-VAE codec): a context that runs kernels on one
 * backend, the memory they work on, and the layer primitives themselves.
 *
 * Backends. A context (nn_ctx) is created from parameters that name a
 * backend; the backend is a table of functions (backend.h) that
 * allocates, copies and computes, as ggml-backend's are. The networks talk
 * only to this header, so a second backend (CUDA) is a second table and
 * nothing else. The CPU backend (cpu/) is the first and the default.
 *
 * Memory. Activations, masks and weights that kernels read or write are
 * the backend's memory: made by nn_alloc(), filled by nn_upload(), read
 * back by nn_download(), and never touched by the networks on the host in
 * between. On the CPU backend it is host memory (nn_ctx_host_memory()),
 * so weights can be read straight from a model file's mapping. Kernels are
 * issued in order; nn_download() and nn_sync() wait for what was issued.
 * Memory made on one context may be used by kernels of another when
 * nn_ctx_shares_memory() says so (same backend and device): that is how
 * several runs share one model's weights.
 *
 * Kernels return SAMSEP_OK or a negative status: SAMSEP_ERR_INVALID for
 * bad arguments or too little scratch, a device error otherwise. A forward
 * pass made of these calls starts no threads and allocates nothing:
 * per-worker scratch is reserved up front (nn_reserve with the *_scratch()
 * sizes below) and a kernel that finds too little refuses to run.
 *
 * Threads and determinism (CPU). Work is cut into fixed units (rows,
 * fixed-size tiles of the output, (batch, head, query-block) triples)
 * whose boundaries depend only on the shapes, never on the thread count;
 * each output element is computed by exactly one unit with a fixed order
 * of summation. Results are therefore bit-identical for any number of
 * threads.
 *
 * Layouts are PyTorch's: Linear weights [out, in], Conv1d weights
 * [C_out, C_in/groups, K], ConvTranspose1d weights [C_in, C_out/groups, K],
 * channel-first signals [B, C, T], all C-contiguous unless strides say
 * otherwise. Outputs may not overlap inputs unless a kernel says so
 * ("y may equal x").
 *
 * Each kernel has a plain scalar reference in tests/support/kernels_ref.h;
 * tests/test_nn_backend.c runs every kernel of every backend against it.
 *
 * A context is used by one thread at a time (one forward pass at a time).
 */
#ifndef SAMSEP_NN_NN_H
#define SAMSEP_NN_NN_H

#include <stddef.h>
#include <stdint.h>

typedef struct nn_ctx nn_ctx;

/* ---- contexts --------------------------------------------------------- */

typedef struct nn_params {
    const char *backend; /* "cpu"; NULL or "" = the default backend */
    int threads;         /* CPU threads: 0 = online CPUs, 1 = no workers */
} nn_params;

/*
 * The CPU backend's kernels use the best instruction set the CPU has, up
 * to the cap the SAMSEP_ISA environment variable names when the context is
 * created: "generic" (OpenBLAS), "avx2", "avx512", "avx512_bf16" or "amx".
 * A cap above the CPU's own level is harmless; an unknown name makes
 * nn_ctx_create fail (SAMSEP_ERR_INVALID).
 */

/* The backends built in: names by index 0 .. count-1 (NULL past the end). */
int nn_backend_count(void);
const char *nn_backend_name(int index);

/*
 * Create a context on the backend p names (p NULL: the default backend,
 * every CPU). Returns SAMSEP_OK, SAMSEP_ERR_INVALID (unknown backend, bad
 * thread count) or SAMSEP_ERR_NOMEM, with err set.
 */
int nn_ctx_create(const nn_params *p, nn_ctx **out /* OUT */, char *err, size_t errlen);
void nn_ctx_destroy(nn_ctx *k); /* NULL allowed; no kernel may be running */

const char *nn_ctx_backend(const nn_ctx *k);
int nn_ctx_threads(const nn_ctx *k);
/* 1 when the backend's memory is host memory (kernels may read any host
 * pointer, e.g. a mapped model file). */
int nn_ctx_host_memory(const nn_ctx *k);
/* 1 when memory made on `a` may be used by kernels run on `b`. */
int nn_ctx_shares_memory(const nn_ctx *a, const nn_ctx *b);

/* ---- memory ----------------------------------------------------------- */

/* `bytes` (>= 1) of backend memory, 64-byte aligned; NULL when out of
 * memory. Free with nn_free on a context that shares memory with k. */
void *nn_alloc(nn_ctx *k, size_t bytes);
float *nn_alloc_f32(nn_ctx *k, int64_t n); /* n floats (n < 1: 1) */
void nn_free(nn_ctx *k, void *p);          /* NULL allowed */
/* Host -> backend and backend -> host copies; download waits for the
 * kernels issued before it. */
int nn_upload(nn_ctx *k, void *dst, const void *src, size_t bytes);
int nn_download(nn_ctx *k, void *dst, const void *src, size_t bytes);
/* Wait for every kernel issued on k. */
int nn_sync(nn_ctx *k);

/*
 * Make sure every worker has at least `floats` floats of scratch (grows,
 * never shrinks). Call outside forward passes. Returns SAMSEP_OK or
 * SAMSEP_ERR_NOMEM (the old scratch is then kept).
 */
int nn_reserve(nn_ctx *k, size_t floats);
size_t nn_scratch_floats(const nn_ctx *k);

/* ---- which kernels ran ------------------------------------------------- */

/* One per kernel below (nn_matmul and nn_matmul_ex are one). */
typedef enum nn_op {
    NN_OP_COPY,
    NN_OP_COPY2D,
    NN_OP_MATMUL,
    NN_OP_RMSNORM,
    NN_OP_LAYERNORM,
    NN_OP_GROUPNORM,
    NN_OP_SOFTMAX,
    NN_OP_ATTENTION,
    NN_OP_ROPE_TABLE,
    NN_OP_ROPE,
    NN_OP_CONV1D,
    NN_OP_CONVT1D,
    NN_OP_PAD1D,
    NN_OP_LSTM,
    NN_OP_RELU,
    NN_OP_GELU_TANH,
    NN_OP_GELU_ERF,
    NN_OP_SILU,
    NN_OP_SIGMOID,
    NN_OP_ELU,
    NN_OP_TANH,
    NN_OP_SNAKE,
    NN_OP_ADD,
    NN_OP_MUL,
    NN_OP_SCALE,
    NN_OP_AXPY,
    NN_OP_ADD_BCAST,
    NN_OP_MODULATE,
    NN_OP_ADD_GATED,
    NN_OP_TRANSPOSE,
    NN_OP_EMBEDDING,
    NN_OP_SUM_ROWS,
    NN_OP_SINUSOID,
    NN_OP_MATMUL_BF16,
    NN_OP_CONV1D_BF16,
    NN_OP_CONVT1D_BF16,
    NN_OP_COUNT
} nn_op;

const char *nn_op_name(nn_op op);
/* Which implementation op runs on k, e.g. "avx512", "avx2", "openblas" for
 * the products on the CPU backend, "c" for plain C; NULL for a bad op.
 * Benchmarks print it; the kernel test checks each path. */
const char *nn_ctx_path(const nn_ctx *k, nn_op op);
/* Calls of `op` on k since it was created (tests check that every kernel
 * of the table was exercised). */
uint64_t nn_ctx_op_calls(const nn_ctx *k, nn_op op);

/* ---- copies ----------------------------------------------------------- */

/* y[0..n) = x[0..n). */
int nn_copy(nn_ctx *k, const float *x, float *y, int64_t n);
/* y[r, c] = x[r, c] for rows r < rows, c < cols; rows ldx / ldy apart. */
int nn_copy2d(nn_ctx *k, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t rows,
              int64_t cols);

/* ---- matrix products ------------------------------------------------- */

/*
 * y[M,N] = x[M,K] · W[N,K]^T (+ bias[N]) : a PyTorch Linear.
 * bias may be NULL. y must not overlap x or W.
 */
int nn_matmul(nn_ctx *k, const float *x, const float *W, const float *bias, float *y,
              int64_t M, int64_t N, int64_t K);

/*
 * General form: rows of x are ldx floats apart, rows of y ldy apart, and
 * y = x · W^T + bias + beta * y (beta 0: y is write-only; 1: accumulate,
 * e.g. a residual connection).
 */
int nn_matmul_ex(nn_ctx *k, const float *x, int64_t ldx, const float *W,
                 const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                 int64_t K, float beta);

/* ---- normalisations (statistics accumulated in double) ---------------- */

/*
 * RMSNorm over the last dim (T5LayerNorm, and the DiT's RMSNorm):
 * y[m,:] = (x[m,:] * rsqrt(mean(x[m,:]^2) + eps)) * w. w [D] may be NULL
 * (no weight). x, y [M, D]; y may equal x.
 */
int nn_rmsnorm(nn_ctx *k, const float *x, const float *w, float eps, float *y, int64_t M,
               int64_t D);

/*
 * LayerNorm over the last dim: y = (x - mean) * rsqrt(var + eps) * w + b,
 * var biased. w and b [D] may each be NULL (no affine). y may equal x.
 */
int nn_layernorm(nn_ctx *k, const float *x, const float *w, const float *b, float eps,
                 float *y, int64_t M, int64_t D);

/*
 * GroupNorm on channel-first x [B, C, T]: C split into G groups of C/G
 * channels; mean and biased variance over (C/G) * T values of one item,
 * then per-channel affine w, b [C] (each may be NULL). C % G must be 0.
 * y may equal x.
 */
int nn_groupnorm(nn_ctx *k, const float *x, const float *w, const float *b, float eps,
                 float *y, int64_t B, int64_t C, int64_t T, int64_t G);

/*
 * Row-wise softmax of x [M, N] into y (y may equal x). -INFINITY entries
 * get probability 0; a row that is entirely -INFINITY becomes all zeros
 * (PyTorch would give NaN).
 */
int nn_softmax(nn_ctx *k, const float *x, float *y, int64_t M, int64_t N);

/* ---- attention -------------------------------------------------------- */

/* Strides (in floats) of element (batch b, head h, position t, channel j):
 * p[b*b_ + h*h_ + t*t_ + j*j_]. */
typedef struct nn_strides {
    int64_t b, h, t, j;
} nn_strides;

/* [B, L, H*dh], head h = channels h*dh .. h*dh+dh-1 ("head-major", T5's
 * view(B,L,H,d) and the DiT's "b n (h d)" merge). */
nn_strides nn_strides_head_major(int64_t L, int64_t H, int64_t dh);
/* [B, L, dh*H], head h element j = channel j*H + h (the DiT's interleaved
 * split reshape(B,T,hd,H)). */
nn_strides nn_strides_interleaved(int64_t L, int64_t H, int64_t dh);
/* [B, H, L, dh] contiguous. */
nn_strides nn_strides_bhld(int64_t H, int64_t L, int64_t dh);

typedef struct nn_attn_args {
    int64_t B, H, Lq, Lk, dh; /* value dim = dh */
    const float *q;           /* (b, h, i, j) with q_s */
    const float *k;           /* (b, h, t, j) with k_s */
    const float *v;
    float *out; /* (b, h, i, j) with out_s */
    nn_strides q_s, k_s, v_s, out_s;
    float scale; /* scores = scale * q·k (T5: 1, DiT: 1/sqrt(dh)) */
    /* Additive bias of element (b, h, i, j) at bias[b*bias_s.b + h*bias_s.h
     * + i*bias_s.t + j*bias_s.j]; strides may be 0 or negative (a relative
     * position table [H, 2L-1] is bias = tab + L-1, strides {0, 2L-1, -1, 1}).
     * NULL: no bias. */
    const float *bias;
    nn_strides bias_s;
    /* [B, Lk], nonzero = key may be attended; NULL: all keys. Masked keys
     * are left out of the softmax (like -inf, or T5's finfo.min term). A
     * query with no valid key gets zeros. */
    const uint8_t *key_mask;
} nn_attn_args;

/* Per-worker scratch floats nn_attention needs for Lk keys of size dh. */
size_t nn_attention_scratch(const nn_ctx *k, int64_t Lk, int64_t dh);

/*
 * out = softmax(scale * q k^T + bias, masked) v for every (b, h). out must
 * not overlap q, k or v.
 */
int nn_attention(nn_ctx *k, const nn_attn_args *a);

/*
 * RoPE tables, float32 as torch computes them: f_i = 1 / theta^((2i)/dh)
 * (powf), angle = (float)t * f_i, cos_t/sin_t [L, dh/2]. dh must be even.
 */
int nn_rope_table(nn_ctx *k, float *cos_t, float *sin_t, int64_t L, int64_t dh,
                  float theta);

/*
 * Rotate adjacent pairs in place: for x element (b, h, t, 2i), (b, h, t,
 * 2i+1) with strides s: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), c/s =
 * table[t, i]. x [B, H, L, dh] under s.
 */
int nn_rope(nn_ctx *k, float *x, nn_strides s, int64_t B, int64_t H, int64_t L,
            int64_t dh, const float *cos_t, const float *sin_t);

/* ---- convolutions ----------------------------------------------------- */

typedef enum nn_pad_mode {
    NN_PAD_ZERO = 0,
    NN_PAD_REFLECT = 1,   /* torch "reflect": mirror, edge sample not repeated */
    NN_PAD_REPLICATE = 2, /* repeat the edge sample */
    /* reflect on, past the far edge too: the mirror image repeats with
     * period 2(L-1) (a single sample is repeated), where torch refuses a
     * pad as long as the signal; nn_pad1d only */
    NN_PAD_REFLECT_PERIODIC = 3
} nn_pad_mode;

typedef struct nn_conv1d_args {
    int64_t B, Cin, Lin, Cout, K;
    int64_t stride, dilation;    /* >= 1 */
    int64_t pad_left, pad_right; /* >= 0; reflect needs each < Lin */
    int64_t groups;              /* divides Cin and Cout */
    nn_pad_mode pad_mode;        /* zero, reflect or replicate */
} nn_conv1d_args;

/* Output length (Lin + pl + pr - dilation*(K-1) - 1) / stride + 1, or -1
 * when the arguments are invalid or the output would be empty. */
int64_t nn_conv1d_out_len(const nn_conv1d_args *a);
/* Per-worker scratch floats nn_conv1d needs for these arguments. */
size_t nn_conv1d_scratch(const nn_ctx *k, const nn_conv1d_args *a);

/*
 * y[B, Cout, Lout] = conv1d(x [B, Cin, Lin], W [Cout, Cin/groups, K]) +
 * bias[Cout] (NULL: none), as torch.nn.Conv1d with explicit left/right
 * padding.
 */
int nn_conv1d(nn_ctx *k, const nn_conv1d_args *a, const float *x, const float *W,
              const float *bias, float *y);

typedef struct nn_convt1d_args {
    int64_t B, Cin, Lin, Cout, K;
    int64_t stride, dilation; /* >= 1 */
    int64_t padding;          /* PyTorch padding: dropped on both sides */
    int64_t output_padding;   /* extra samples on the right (< stride or
                                   < dilation, as PyTorch requires) */
    int64_t crop_right;       /* extra samples dropped on the right: 0 for
                                   PyTorch; K - stride for a "causal"
                                   transposed conv */
    int64_t groups;
} nn_convt1d_args;

/* (Lin-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1 -
 * crop_right, or -1 when invalid or empty. */
int64_t nn_convt1d_out_len(const nn_convt1d_args *a);
size_t nn_convt1d_scratch(const nn_ctx *k, const nn_convt1d_args *a);

/*
 * y[B, Cout, Lout] = conv_transpose1d(x [B, Cin, Lin], W [Cin, Cout/groups,
 * K]) + bias[Cout], as torch.nn.ConvTranspose1d.
 */
int nn_convt1d(nn_ctx *k, const nn_convt1d_args *a, const float *x, const float *W,
               const float *bias, float *y);

/*
 * Pad x [B, C, L] to y [B, C, left + L + right] (zero, reflect, replicate
 * or periodic reflect; reflect needs left, right < L).
 */
int nn_pad1d(nn_ctx *k, const float *x, float *y, int64_t B, int64_t C, int64_t L,
             int64_t left, int64_t right, nn_pad_mode mode);

/* ---- recurrent -------------------------------------------------------- */

/*
 * One LSTM layer as torch.nn.LSTM (batch_first=False, gates i, f, g, o):
 *   x [T, B, n_in], W_ih [4H, n_in], W_hh [4H, H], b_ih, b_hh [4H] (each may be
 *   NULL), h0, c0 [B, H] (NULL: zeros), y [T, B, H] (all hidden states);
 *   hT, cT [B, H] receive the final state when not NULL.
 * `work` is backend memory of nn_lstm_work_floats(k, B, H) floats (shared
 * by all threads; no scratch used). y must not overlap x.
 */
size_t nn_lstm_work_floats(const nn_ctx *k, int64_t B, int64_t H);
int nn_lstm(nn_ctx *k, const float *x, const float *W_ih, const float *W_hh,
            const float *b_ih, const float *b_hh, const float *h0, const float *c0,
            float *y, float *hT, float *cT, int64_t T, int64_t B, int64_t n_in, int64_t H,
            float *work);

/* ---- activations (n elements; y may equal x) --------------------------- */

int nn_relu(nn_ctx *k, const float *x, float *y, int64_t n);
/* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) - HF "gelu_new". */
int nn_gelu_tanh(nn_ctx *k, const float *x, float *y, int64_t n);
/* 0.5 x (1 + erf(x / sqrt 2)) - torch's default GELU. */
int nn_gelu_erf(nn_ctx *k, const float *x, float *y, int64_t n);
int nn_silu(nn_ctx *k, const float *x, float *y, int64_t n);
int nn_sigmoid(nn_ctx *k, const float *x, float *y, int64_t n);
/* x > 0 ? x : alpha (exp(x) - 1) */
int nn_elu(nn_ctx *k, const float *x, float *y, int64_t n, float alpha);
int nn_tanh(nn_ctx *k, const float *x, float *y, int64_t n);
/*
 * Snake on x [B, C, T] with alpha [C]:
 * y = x + (1 / (alpha + 1e-9)) * sin(alpha x)^2 (DAC's order of operations).
 */
int nn_snake(nn_ctx *k, const float *x, const float *alpha, float *y, int64_t B,
             int64_t C, int64_t T);

/* ---- elementwise helpers (y may equal an input) ------------------------ */

int nn_add(nn_ctx *k, const float *a, const float *b, float *y, int64_t n);
int nn_mul(nn_ctx *k, const float *a, const float *b, float *y, int64_t n);
/* y = s * x */
int nn_scale(nn_ctx *k, const float *x, float s, float *y, int64_t n);
/* out = y + a * x (out may equal x or y): a step of an ODE solver. */
int nn_axpy(nn_ctx *k, float a, const float *x, const float *y, float *out, int64_t n);
/*
 * y[i,j,l] = x[i,j,l] + v[i*vs[0] + j*vs[1] + l*vs[2]] for x, y of shape
 * n[3] (C order): a vector added to every row (vs {0, 0, 1}), a row per
 * batch item ({D, 0, 1}), a value per channel ({0, 1, 0}).
 */
int nn_add_bcast(nn_ctx *k, const float *x, const float *v, const int64_t vs[3], float *y,
                 const int64_t n[3]);
/* y[b,t,:] = x[b,t,:] * (1 + scale[b*ld + :]) + shift[b*ld + :]; x, y
 * [B, T, D], shift and scale rows ld floats apart (the DiT's modulate). */
int nn_modulate(nn_ctx *k, const float *x, const float *shift, const float *scale,
                int64_t ld, float *y, int64_t B, int64_t T, int64_t D);
/* y[b,t,:] += g[b*ld + :] * x[b,t,:] (gated residual); x, y [B, T, D]. */
int nn_add_gated(nn_ctx *k, const float *x, const float *g, int64_t ld, float *y,
                 int64_t B, int64_t T, int64_t D);
/* y[b, c, r] = x[b, r, c]: x [B, R, C] -> y [B, C, R]. y must not overlap x. */
int nn_transpose(nn_ctx *k, const float *x, float *y, int64_t B, int64_t R, int64_t C);
/*
 * y[i, :] = table[ids[i], :] for i < n; table [vocab, D], ids backend
 * memory. SAMSEP_ERR_INVALID (and nothing written) for an id outside
 * [0, vocab).
 */
int nn_embedding(nn_ctx *k, const float *table, int64_t vocab, int64_t D,
                 const int32_t *ids, int64_t n, float *y);
/* y[:] = x[0,:] + x[1,:] + ... + x[M-1,:] summed in that order in float
 * (torch's sum over a small dim); x [M, D], y [D]. */
int nn_sum_rows(nn_ctx *k, const float *x, float *y, int64_t M, int64_t D);
/* y[b, :] = cat(cos(t f), sin(t f)) of the `half` frequencies f, for B
 * items: a timestep embedding [B, 2 half]. */
int nn_sinusoid(nn_ctx *k, const float *f, int64_t half, float t, float *y, int64_t B);

/* ---- bf16 weights ------------------------------------------------------ */

/*
 * Precision of the weights of matrix products and convolutions. With
 * NN_PRECISION_BF16 those weights are kept as bfloat16 (the upper 16 bits
 * of a float32, rounded to nearest even), which halves their memory; the
 * kernels reading them round the activations of each tile to bf16 too and
 * accumulate in float32 (products of two bf16 are exact in float32, so
 * only the order of the sums differs from a scalar reference). Everything
 * else (norms, softmax, biases, the ODE state, recurrent state) stays
 * float32.
 */
typedef enum nn_precision { NN_PRECISION_F32 = 0, NN_PRECISION_BF16 = 1 } nn_precision;

/* "fp32" / "bf16" -> the precision, or -1. */
int nn_precision_parse(const char *s);
const char *nn_precision_name(nn_precision p);

/* The precision weights loaded for k are kept in (nn_weights reads it when
 * it opens a file on k); NN_PRECISION_F32 unless set. */
void nn_ctx_set_precision(nn_ctx *k, nn_precision p);
nn_precision nn_ctx_precision(const nn_ctx *k);

/* Round to nearest even (NaN stays a quiet NaN), and back (exact). */
uint16_t nn_bf16_from_f32(float f);
float nn_f32_from_bf16(uint16_t b);

/* A weight matrix of either precision: float32, or bf16 bit patterns. */
typedef struct nn_w {
    const void *data;
    int bf16;
} nn_w;

/* The float32 weight p as an nn_w. */
nn_w nn_w_f32(const float *p);

/* nn_matmul / nn_matmul_ex / nn_conv1d / nn_convt1d with a weight of
 * either precision (same layouts, same semantics up to the rounding
 * described above). */
int nn_matmul_w(nn_ctx *k, const float *x, nn_w W, const float *bias, float *y, int64_t M,
                int64_t N, int64_t K);
int nn_matmul_ex_w(nn_ctx *k, const float *x, int64_t ldx, nn_w W, const float *bias,
                   float *y, int64_t ldy, int64_t M, int64_t N, int64_t K, float beta);
int nn_conv1d_w(nn_ctx *k, const nn_conv1d_args *a, const float *x, nn_w W,
                const float *bias, float *y);
int nn_convt1d_w(nn_ctx *k, const nn_convt1d_args *a, const float *x, nn_w W,
                 const float *bias, float *y);

/* nn_ctx_path(k, NN_OP_MATMUL_BF16) names the path those take on the CPU:
 * "avx512_bf16", or "<fp32 path>+widen" (bf16 weights widened per tile). */

#endif
