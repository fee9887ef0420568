/*
 * nn.c - the kernel interface (nn.h) over the backends' tables
 * (backend.h): the registry of backends, contexts, and one thin wrapper
 * per kernel that checks what every backend would have to check, counts
 * the call and forwards it.
 *
 * Checking here keeps the backends small and makes them refuse the same
 * things the same way: a kernel given a NULL pointer, a negative size or an
 * impossible convolution returns SAMSEP_ERR_INVALID whatever the backend.
 * Empty work (n == 0, B == 0) succeeds without reaching the backend.
 */
#include "nn/nn.h"

#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/backend.h"

static const nn_backend *const backends[] = {
    &nn_backend_cpu,
};

#define N_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

struct nn_ctx {
    const nn_backend *be;
    void *impl;
    uint64_t calls[NN_OP_COUNT];
    nn_precision precision; /* of the weights loaded for it */
};

static const char *const op_names[NN_OP_COUNT] = {
    "copy",      "copy2d",    "matmul",     "rmsnorm",     "layernorm",   "groupnorm",
    "softmax",   "attention", "rope_table", "rope",        "conv1d",      "convt1d",
    "pad1d",     "lstm",      "relu",       "gelu_tanh",   "gelu_erf",    "silu",
    "sigmoid",   "elu",       "tanh",       "snake",       "add",         "mul",
    "scale",     "axpy",      "add_bcast",  "modulate",    "add_gated",   "transpose",
    "embedding", "sum_rows",  "sinusoid",   "matmul_bf16", "conv1d_bf16", "convt1d_bf16",
};

/* ---- backends and contexts -------------------------------------------- */

int nn_backend_count(void)
{
    return N_BACKENDS;
}

const char *nn_backend_name(int index)
{
    return index >= 0 && index < N_BACKENDS ? backends[index]->name : NULL;
}

int nn_ctx_create(const nn_params *p, nn_ctx **out, char *err, size_t errlen)
{
    const nn_backend *be = backends[0];
    nn_ctx *k;
    int rc, i;

    if (out == NULL) {
        set_err(err, errlen, "nn_ctx_create: NULL output");
        return SAMSEP_ERR_INVALID;
    }
    *out = NULL;
    if (p != NULL && p->backend != NULL && p->backend[0] != '\0') {
        for (i = 0; i < N_BACKENDS && strcmp(backends[i]->name, p->backend) != 0; i++)
            ;
        if (i == N_BACKENDS) {
            set_err(err, errlen, "unknown compute backend \"%s\"", p->backend);
            return SAMSEP_ERR_INVALID;
        }
        be = backends[i];
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    k->be = be;
    rc = be->init(p, &k->impl, err, errlen);
    if (rc != SAMSEP_OK) {
        free(k);
        return rc;
    }
    *out = k;
    return SAMSEP_OK;
}

void nn_ctx_destroy(nn_ctx *k)
{
    if (k == NULL)
        return;
    k->be->done(k->impl);
    free(k);
}

const char *nn_ctx_backend(const nn_ctx *k)
{
    return k != NULL ? k->be->name : NULL;
}

int nn_ctx_threads(const nn_ctx *k)
{
    return k != NULL ? k->be->threads(k->impl) : 1;
}

int nn_ctx_host_memory(const nn_ctx *k)
{
    return k != NULL && k->be->host_memory;
}

int nn_ctx_shares_memory(const nn_ctx *a, const nn_ctx *b)
{
    /* one device per backend so far */
    return a != NULL && b != NULL && a->be == b->be;
}

const char *nn_op_name(nn_op op)
{
    return (unsigned)op < NN_OP_COUNT ? op_names[op] : NULL;
}

const char *nn_ctx_path(const nn_ctx *k, nn_op op)
{
    if (k == NULL || (unsigned)op >= NN_OP_COUNT)
        return NULL;
    return k->be->path(k->impl, op);
}

uint64_t nn_ctx_op_calls(const nn_ctx *k, nn_op op)
{
    return k != NULL && (unsigned)op < NN_OP_COUNT ? k->calls[op] : 0;
}

/* ---- memory ----------------------------------------------------------- */

void *nn_alloc(nn_ctx *k, size_t bytes)
{
    if (k == NULL)
        return NULL;
    return k->be->alloc(k->impl, bytes > 0 ? bytes : 1);
}

float *nn_alloc_f32(nn_ctx *k, int64_t n)
{
    if (n < 1)
        n = 1;
    if ((uint64_t)n > SIZE_MAX / sizeof(float))
        return NULL;
    return nn_alloc(k, (size_t)n * sizeof(float));
}

void nn_free(nn_ctx *k, void *p)
{
    if (k != NULL && p != NULL)
        k->be->free(k->impl, p);
}

int nn_upload(nn_ctx *k, void *dst, const void *src, size_t bytes)
{
    if (k == NULL || (bytes > 0 && (dst == NULL || src == NULL)))
        return SAMSEP_ERR_INVALID;
    return bytes > 0 ? k->be->upload(k->impl, dst, src, bytes) : SAMSEP_OK;
}

int nn_download(nn_ctx *k, void *dst, const void *src, size_t bytes)
{
    if (k == NULL || (bytes > 0 && (dst == NULL || src == NULL)))
        return SAMSEP_ERR_INVALID;
    return bytes > 0 ? k->be->download(k->impl, dst, src, bytes) : SAMSEP_OK;
}

int nn_sync(nn_ctx *k)
{
    return k != NULL ? k->be->sync(k->impl) : SAMSEP_ERR_INVALID;
}

int nn_reserve(nn_ctx *k, size_t floats)
{
    return k != NULL ? k->be->reserve(k->impl, floats) : SAMSEP_ERR_INVALID;
}

size_t nn_scratch_floats(const nn_ctx *k)
{
    return k != NULL ? k->be->scratch_floats(k->impl) : 0;
}

/* ---- shapes ----------------------------------------------------------- */

nn_strides nn_strides_head_major(int64_t L, int64_t H, int64_t dh)
{
    nn_strides s = { L * H * dh, dh, H * dh, 1 };
    return s;
}

nn_strides nn_strides_interleaved(int64_t L, int64_t H, int64_t dh)
{
    nn_strides s = { L * H * dh, 1, H * dh, H };
    return s;
}

nn_strides nn_strides_bhld(int64_t H, int64_t L, int64_t dh)
{
    nn_strides s = { H * L * dh, L * dh, dh, 1 };
    return s;
}

int64_t nn_conv1d_out_len(const nn_conv1d_args *a)
{
    int64_t span, n;
    if (a == NULL || a->B < 0 || a->Cin <= 0 || a->Lin <= 0 || a->Cout <= 0 ||
        a->K <= 0 || a->stride <= 0 || a->dilation <= 0 || a->pad_left < 0 ||
        a->pad_right < 0 || a->groups <= 0 || a->Cin % a->groups != 0 ||
        a->Cout % a->groups != 0)
        return -1;
    if (a->pad_mode != NN_PAD_ZERO && a->pad_mode != NN_PAD_REFLECT &&
        a->pad_mode != NN_PAD_REPLICATE)
        return -1;
    if (a->pad_mode == NN_PAD_REFLECT &&
        (a->pad_left >= a->Lin || a->pad_right >= a->Lin))
        return -1;
    span = a->dilation * (a->K - 1) + 1;
    n = a->Lin + a->pad_left + a->pad_right - span;
    if (n < 0)
        return -1;
    return n / a->stride + 1;
}

int64_t nn_convt1d_out_len(const nn_convt1d_args *a)
{
    int64_t n;
    if (a == NULL || a->B < 0 || a->Cin <= 0 || a->Lin <= 0 || a->Cout <= 0 ||
        a->K <= 0 || a->stride <= 0 || a->dilation <= 0 || a->padding < 0 ||
        a->output_padding < 0 || a->crop_right < 0 || a->groups <= 0 ||
        a->Cin % a->groups != 0 || a->Cout % a->groups != 0)
        return -1;
    if (a->output_padding >= a->stride && a->output_padding >= a->dilation)
        return -1;
    n = (a->Lin - 1) * a->stride - 2 * a->padding + a->dilation * (a->K - 1) +
        a->output_padding + 1 - a->crop_right;
    return n >= 1 ? n : -1;
}

size_t nn_attention_scratch(const nn_ctx *k, int64_t Lk, int64_t dh)
{
    return k != NULL ? k->be->attention_scratch(Lk, dh) : 0;
}

size_t nn_conv1d_scratch(const nn_ctx *k, const nn_conv1d_args *a)
{
    if (k == NULL || nn_conv1d_out_len(a) < 0)
        return 0;
    return k->be->conv1d_scratch(a);
}

size_t nn_convt1d_scratch(const nn_ctx *k, const nn_convt1d_args *a)
{
    if (k == NULL || nn_convt1d_out_len(a) < 0)
        return 0;
    return k->be->convt1d_scratch(a);
}

size_t nn_lstm_work_floats(const nn_ctx *k, int64_t B, int64_t H)
{
    if (k == NULL || B < 1 || H < 1)
        return 0;
    return k->be->lstm_work_floats(B, H);
}

/* ---- kernels ---------------------------------------------------------- */

/* Count op on k; refuse a missing context. */
#define ENTER(k, op)                   \
    do {                               \
        if ((k) == NULL)               \
            return SAMSEP_ERR_INVALID; \
        (k)->calls[op]++;              \
    } while (0)

#define CALL(k, fn, ...) ((k)->be->fn((k)->impl, __VA_ARGS__))

int nn_copy(nn_ctx *k, const float *x, float *y, int64_t n)
{
    ENTER(k, NN_OP_COPY);
    if (n < 0 || (n > 0 && (x == NULL || y == NULL)))
        return SAMSEP_ERR_INVALID;
    return n > 0 ? CALL(k, copy2d, x, n, y, n, 1, n) : SAMSEP_OK;
}

int nn_copy2d(nn_ctx *k, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t rows,
              int64_t cols)
{
    ENTER(k, NN_OP_COPY2D);
    if (rows < 0 || cols < 0 || ldx < cols || ldy < cols)
        return SAMSEP_ERR_INVALID;
    if (rows == 0 || cols == 0)
        return SAMSEP_OK;
    if (x == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, copy2d, x, ldx, y, ldy, rows, cols);
}

int nn_matmul_ex(nn_ctx *k, const float *x, int64_t ldx, const float *W,
                 const float *bias, float *y, int64_t ldy, int64_t M, int64_t N,
                 int64_t K, float beta)
{
    ENTER(k, NN_OP_MATMUL);
    if (M < 0 || N < 0 || K < 0 || ldx < K || ldy < N)
        return SAMSEP_ERR_INVALID;
    if (M == 0 || N == 0)
        return SAMSEP_OK;
    if (y == NULL || (K > 0 && (x == NULL || W == NULL)))
        return SAMSEP_ERR_INVALID;
    return CALL(k, matmul, x, ldx, W, bias, y, ldy, M, N, K, beta);
}

int nn_matmul(nn_ctx *k, const float *x, const float *W, const float *bias, float *y,
              int64_t M, int64_t N, int64_t K)
{
    return nn_matmul_ex(k, x, K, W, bias, y, N, M, N, K, 0.0f);
}

/* M rows of D: M, D >= 0, pointers set when there is work. */
static int rows_ok(const float *x, const float *y, int64_t M, int64_t D)
{
    if (M < 0 || D < 0)
        return SAMSEP_ERR_INVALID;
    if (M > 0 && D > 0 && (x == NULL || y == NULL))
        return SAMSEP_ERR_INVALID;
    return SAMSEP_OK;
}

int nn_rmsnorm(nn_ctx *k, const float *x, const float *w, float eps, float *y, int64_t M,
               int64_t D)
{
    ENTER(k, NN_OP_RMSNORM);
    if (rows_ok(x, y, M, D) != SAMSEP_OK)
        return SAMSEP_ERR_INVALID;
    return M > 0 && D > 0 ? CALL(k, rmsnorm, x, w, eps, y, M, D) : SAMSEP_OK;
}

int nn_layernorm(nn_ctx *k, const float *x, const float *w, const float *b, float eps,
                 float *y, int64_t M, int64_t D)
{
    ENTER(k, NN_OP_LAYERNORM);
    if (rows_ok(x, y, M, D) != SAMSEP_OK)
        return SAMSEP_ERR_INVALID;
    return M > 0 && D > 0 ? CALL(k, layernorm, x, w, b, eps, y, M, D) : SAMSEP_OK;
}

int nn_groupnorm(nn_ctx *k, const float *x, const float *w, const float *b, float eps,
                 float *y, int64_t B, int64_t C, int64_t T, int64_t G)
{
    ENTER(k, NN_OP_GROUPNORM);
    if (B < 0 || C <= 0 || T < 0 || G <= 0 || C % G != 0)
        return SAMSEP_ERR_INVALID;
    if (B == 0 || T == 0)
        return SAMSEP_OK;
    if (x == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, groupnorm, x, w, b, eps, y, B, C, T, G);
}

int nn_softmax(nn_ctx *k, const float *x, float *y, int64_t M, int64_t N)
{
    ENTER(k, NN_OP_SOFTMAX);
    if (rows_ok(x, y, M, N) != SAMSEP_OK)
        return SAMSEP_ERR_INVALID;
    return M > 0 && N > 0 ? CALL(k, softmax, x, y, M, N) : SAMSEP_OK;
}

int nn_attention(nn_ctx *k, const nn_attn_args *a)
{
    ENTER(k, NN_OP_ATTENTION);
    if (a == NULL || a->B < 0 || a->H <= 0 || a->Lq < 0 || a->Lk < 0 || a->dh <= 0 ||
        a->q == NULL || a->k == NULL || a->v == NULL || a->out == NULL)
        return SAMSEP_ERR_INVALID;
    if (a->B == 0 || a->Lq == 0)
        return SAMSEP_OK;
    return CALL(k, attention, a);
}

int nn_rope_table(nn_ctx *k, float *cos_t, float *sin_t, int64_t L, int64_t dh,
                  float theta)
{
    ENTER(k, NN_OP_ROPE_TABLE);
    if (L < 0 || dh < 2 || dh % 2 != 0 || !(theta > 0.0f))
        return SAMSEP_ERR_INVALID;
    if (L == 0)
        return SAMSEP_OK;
    if (cos_t == NULL || sin_t == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, rope_table, cos_t, sin_t, L, dh, theta);
}

int nn_rope(nn_ctx *k, float *x, nn_strides s, int64_t B, int64_t H, int64_t L,
            int64_t dh, const float *cos_t, const float *sin_t)
{
    ENTER(k, NN_OP_ROPE);
    if (B < 0 || H < 0 || L < 0 || dh < 2 || dh % 2 != 0)
        return SAMSEP_ERR_INVALID;
    if (B == 0 || H == 0 || L == 0)
        return SAMSEP_OK;
    if (x == NULL || cos_t == NULL || sin_t == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, rope, x, s, B, H, L, dh, cos_t, sin_t);
}

int nn_conv1d(nn_ctx *k, const nn_conv1d_args *a, const float *x, const float *W,
              const float *bias, float *y)
{
    ENTER(k, NN_OP_CONV1D);
    if (nn_conv1d_out_len(a) < 0 || x == NULL || W == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return a->B > 0 ? CALL(k, conv1d, a, x, W, bias, y) : SAMSEP_OK;
}

int nn_convt1d(nn_ctx *k, const nn_convt1d_args *a, const float *x, const float *W,
               const float *bias, float *y)
{
    ENTER(k, NN_OP_CONVT1D);
    if (nn_convt1d_out_len(a) < 0 || x == NULL || W == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return a->B > 0 ? CALL(k, convt1d, a, x, W, bias, y) : SAMSEP_OK;
}

int nn_pad1d(nn_ctx *k, const float *x, float *y, int64_t B, int64_t C, int64_t L,
             int64_t left, int64_t right, nn_pad_mode mode)
{
    ENTER(k, NN_OP_PAD1D);
    if (B < 0 || C < 0 || L <= 0 || left < 0 || right < 0)
        return SAMSEP_ERR_INVALID;
    if (mode != NN_PAD_ZERO && mode != NN_PAD_REFLECT && mode != NN_PAD_REPLICATE &&
        mode != NN_PAD_REFLECT_PERIODIC)
        return SAMSEP_ERR_INVALID;
    if (mode == NN_PAD_REFLECT && (left >= L || right >= L))
        return SAMSEP_ERR_INVALID;
    if (B == 0 || C == 0)
        return SAMSEP_OK;
    if (x == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, pad1d, x, y, B, C, L, left, right, mode);
}

int nn_lstm(nn_ctx *k, const float *x, const float *W_ih, const float *W_hh,
            const float *b_ih, const float *b_hh, const float *h0, const float *c0,
            float *y, float *hT, float *cT, int64_t T, int64_t B, int64_t n_in, int64_t H,
            float *work)
{
    ENTER(k, NN_OP_LSTM);
    if (T < 0 || B < 0 || n_in < 0 || H < 0)
        return SAMSEP_ERR_INVALID;
    if (T == 0 || B == 0 || H == 0)
        return SAMSEP_OK;
    if (x == NULL || W_ih == NULL || W_hh == NULL || y == NULL || work == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, lstm, x, W_ih, W_hh, b_ih, b_hh, h0, c0, y, hT, cT, T, B, n_in, H,
                work);
}

static int unary(nn_ctx *k, nn_op op, nn_unary u, const float *x, float *y, int64_t n,
                 float alpha)
{
    ENTER(k, op);
    if (n < 0 || (n > 0 && (x == NULL || y == NULL)))
        return SAMSEP_ERR_INVALID;
    return n > 0 ? CALL(k, unary, u, x, y, n, alpha) : SAMSEP_OK;
}

int nn_relu(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_RELU, NN_UNARY_RELU, x, y, n, 0.0f);
}

int nn_gelu_tanh(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_GELU_TANH, NN_UNARY_GELU_TANH, x, y, n, 0.0f);
}

int nn_gelu_erf(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_GELU_ERF, NN_UNARY_GELU_ERF, x, y, n, 0.0f);
}

int nn_silu(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_SILU, NN_UNARY_SILU, x, y, n, 0.0f);
}

int nn_sigmoid(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_SIGMOID, NN_UNARY_SIGMOID, x, y, n, 0.0f);
}

int nn_elu(nn_ctx *k, const float *x, float *y, int64_t n, float alpha)
{
    return unary(k, NN_OP_ELU, NN_UNARY_ELU, x, y, n, alpha);
}

int nn_tanh(nn_ctx *k, const float *x, float *y, int64_t n)
{
    return unary(k, NN_OP_TANH, NN_UNARY_TANH, x, y, n, 0.0f);
}

int nn_scale(nn_ctx *k, const float *x, float s, float *y, int64_t n)
{
    return unary(k, NN_OP_SCALE, NN_UNARY_SCALE, x, y, n, s);
}

int nn_snake(nn_ctx *k, const float *x, const float *alpha, float *y, int64_t B,
             int64_t C, int64_t T)
{
    ENTER(k, NN_OP_SNAKE);
    if (B < 0 || C < 0 || T < 0)
        return SAMSEP_ERR_INVALID;
    if (B == 0 || C == 0 || T == 0)
        return SAMSEP_OK;
    if (x == NULL || alpha == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, snake, x, alpha, y, B, C, T);
}

static int binary(nn_ctx *k, nn_op op, nn_binary b, const float *x1, const float *x2,
                  float *y, int64_t n)
{
    ENTER(k, op);
    if (n < 0 || (n > 0 && (x1 == NULL || x2 == NULL || y == NULL)))
        return SAMSEP_ERR_INVALID;
    return n > 0 ? CALL(k, binary, b, x1, x2, y, n) : SAMSEP_OK;
}

int nn_add(nn_ctx *k, const float *a, const float *b, float *y, int64_t n)
{
    return binary(k, NN_OP_ADD, NN_BINARY_ADD, a, b, y, n);
}

int nn_mul(nn_ctx *k, const float *a, const float *b, float *y, int64_t n)
{
    return binary(k, NN_OP_MUL, NN_BINARY_MUL, a, b, y, n);
}

int nn_axpy(nn_ctx *k, float a, const float *x, const float *y, float *out, int64_t n)
{
    ENTER(k, NN_OP_AXPY);
    if (n < 0 || (n > 0 && (x == NULL || y == NULL || out == NULL)))
        return SAMSEP_ERR_INVALID;
    return n > 0 ? CALL(k, axpy, a, x, y, out, n) : SAMSEP_OK;
}

int nn_add_bcast(nn_ctx *k, const float *x, const float *v, const int64_t vs[3], float *y,
                 const int64_t n[3])
{
    int i;

    ENTER(k, NN_OP_ADD_BCAST);
    if (vs == NULL || n == NULL)
        return SAMSEP_ERR_INVALID;
    for (i = 0; i < 3; i++)
        if (n[i] < 0 || vs[i] < 0)
            return SAMSEP_ERR_INVALID;
    if (n[0] == 0 || n[1] == 0 || n[2] == 0)
        return SAMSEP_OK;
    if (x == NULL || v == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, add_bcast, x, v, vs, y, n);
}

/* [B, T, D] rows with per-item vectors ld apart. */
static int btd_ok(int64_t ld, int64_t B, int64_t T, int64_t D)
{
    return B >= 0 && T >= 0 && D >= 0 && ld >= 0 && (B <= 1 || ld >= D);
}

int nn_modulate(nn_ctx *k, const float *x, const float *shift, const float *scale,
                int64_t ld, float *y, int64_t B, int64_t T, int64_t D)
{
    ENTER(k, NN_OP_MODULATE);
    if (!btd_ok(ld, B, T, D))
        return SAMSEP_ERR_INVALID;
    if (B == 0 || T == 0 || D == 0)
        return SAMSEP_OK;
    if (x == NULL || shift == NULL || scale == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, modulate, x, shift, scale, ld, y, B, T, D);
}

int nn_add_gated(nn_ctx *k, const float *x, const float *g, int64_t ld, float *y,
                 int64_t B, int64_t T, int64_t D)
{
    ENTER(k, NN_OP_ADD_GATED);
    if (!btd_ok(ld, B, T, D))
        return SAMSEP_ERR_INVALID;
    if (B == 0 || T == 0 || D == 0)
        return SAMSEP_OK;
    if (x == NULL || g == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, add_gated, x, g, ld, y, B, T, D);
}

int nn_transpose(nn_ctx *k, const float *x, float *y, int64_t B, int64_t R, int64_t C)
{
    ENTER(k, NN_OP_TRANSPOSE);
    if (B < 0 || R < 0 || C < 0)
        return SAMSEP_ERR_INVALID;
    if (B == 0 || R == 0 || C == 0)
        return SAMSEP_OK;
    if (x == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, transpose, x, y, B, R, C);
}

int nn_embedding(nn_ctx *k, const float *table, int64_t vocab, int64_t D,
                 const int32_t *ids, int64_t n, float *y)
{
    ENTER(k, NN_OP_EMBEDDING);
    if (vocab < 0 || D < 0 || n < 0)
        return SAMSEP_ERR_INVALID;
    if (n == 0)
        return SAMSEP_OK;
    if (ids == NULL || vocab == 0 || (D > 0 && (table == NULL || y == NULL)))
        return SAMSEP_ERR_INVALID;
    return CALL(k, embedding, table, vocab, D, ids, n, y);
}

int nn_sum_rows(nn_ctx *k, const float *x, float *y, int64_t M, int64_t D)
{
    ENTER(k, NN_OP_SUM_ROWS);
    if (M < 0 || D < 0 || (D > 0 && y == NULL) || (M > 0 && D > 0 && x == NULL))
        return SAMSEP_ERR_INVALID;
    return D > 0 ? CALL(k, sum_rows, x, y, M, D) : SAMSEP_OK;
}

int nn_sinusoid(nn_ctx *k, const float *f, int64_t half, float t, float *y, int64_t B)
{
    ENTER(k, NN_OP_SINUSOID);
    if (half < 0 || B < 0)
        return SAMSEP_ERR_INVALID;
    if (half == 0 || B == 0)
        return SAMSEP_OK;
    if (f == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return CALL(k, sinusoid, f, half, t, y, B);
}

/* ---- bf16 weights ----------------------------------------------------- */

int nn_precision_parse(const char *s)
{
    if (s != NULL && strcmp(s, "fp32") == 0)
        return NN_PRECISION_F32;
    if (s != NULL && strcmp(s, "bf16") == 0)
        return NN_PRECISION_BF16;
    return -1;
}

const char *nn_precision_name(nn_precision p)
{
    return p == NN_PRECISION_BF16 ? "bf16" : "fp32";
}

void nn_ctx_set_precision(nn_ctx *k, nn_precision p)
{
    if (k != NULL)
        k->precision = p == NN_PRECISION_BF16 ? NN_PRECISION_BF16 : NN_PRECISION_F32;
}

nn_precision nn_ctx_precision(const nn_ctx *k)
{
    return k != NULL ? k->precision : NN_PRECISION_F32;
}

uint16_t nn_bf16_from_f32(float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* NaN: keep it a quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float nn_f32_from_bf16(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;

    memcpy(&f, &u, sizeof f);
    return f;
}

nn_w nn_w_f32(const float *p)
{
    nn_w w = { p, 0 };
    return w;
}

int nn_matmul_ex_w(nn_ctx *k, const float *x, int64_t ldx, nn_w W, const float *bias,
                   float *y, int64_t ldy, int64_t M, int64_t N, int64_t K, float beta)
{
    if (!W.bf16)
        return nn_matmul_ex(k, x, ldx, W.data, bias, y, ldy, M, N, K, beta);
    ENTER(k, NN_OP_MATMUL_BF16);
    if (M < 0 || N < 0 || K < 0 || ldx < K || ldy < N)
        return SAMSEP_ERR_INVALID;
    if (M == 0 || N == 0)
        return SAMSEP_OK;
    if (y == NULL || (K > 0 && (x == NULL || W.data == NULL)))
        return SAMSEP_ERR_INVALID;
    return CALL(k, matmul_bf16, x, ldx, W.data, bias, y, ldy, M, N, K, beta);
}

int nn_matmul_w(nn_ctx *k, const float *x, nn_w W, const float *bias, float *y, int64_t M,
                int64_t N, int64_t K)
{
    return nn_matmul_ex_w(k, x, K, W, bias, y, N, M, N, K, 0.0f);
}

int nn_conv1d_w(nn_ctx *k, const nn_conv1d_args *a, const float *x, nn_w W,
                const float *bias, float *y)
{
    if (!W.bf16)
        return nn_conv1d(k, a, x, W.data, bias, y);
    ENTER(k, NN_OP_CONV1D_BF16);
    if (nn_conv1d_out_len(a) < 0 || x == NULL || W.data == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return a->B > 0 ? CALL(k, conv1d_bf16, a, x, W.data, bias, y) : SAMSEP_OK;
}

int nn_convt1d_w(nn_ctx *k, const nn_convt1d_args *a, const float *x, nn_w W,
                 const float *bias, float *y)
{
    if (!W.bf16)
        return nn_convt1d(k, a, x, W.data, bias, y);
    ENTER(k, NN_OP_CONVT1D_BF16);
    if (nn_convt1d_out_len(a) < 0 || x == NULL || W.data == NULL || y == NULL)
        return SAMSEP_ERR_INVALID;
    return a->B > 0 ? CALL(k, convt1d_bf16, a, x, W.data, bias, y) : SAMSEP_OK;
}
