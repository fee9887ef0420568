/*
 * kernels_ref.c - scalar references for the optimised kernels.
 *
 * Written for obviousness, not speed: each follows the PyTorch definition
 * directly (the transposed convolution scatters, as its definition reads,
 * where the fast kernel gathers), with double accumulators and double-
 * precision elementary functions so that they sit closer to the exact
 * result than any float32 implementation. Only tests call them.
 */
#include "kernels_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "samsep.h"

void kref_matmul_ex(const float *x, int64_t ldx, const float *W, const float *bias,
                    float *y, int64_t ldy, int64_t M, int64_t N, int64_t K, float beta)
{
    int64_t m, n, kk;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double acc = 0.0;
            for (kk = 0; kk < K; kk++)
                acc += (double)x[m * ldx + kk] * (double)W[n * K + kk];
            if (bias != NULL)
                acc += bias[n];
            if (beta != 0.0f)
                acc += (double)beta * (double)y[m * ldy + n];
            y[m * ldy + n] = (float)acc;
        }
}

void kref_rmsnorm(const float *x, const float *w, float eps, float *y, int64_t M,
                  int64_t D)
{
    int64_t m, i;
    for (m = 0; m < M; m++) {
        double ss = 0.0, r;
        for (i = 0; i < D; i++)
            ss += (double)x[m * D + i] * x[m * D + i];
        r = 1.0 / sqrt(ss / (double)D + eps);
        for (i = 0; i < D; i++)
            y[m * D + i] = (float)(x[m * D + i] * r * (w ? w[i] : 1.0));
    }
}

void kref_layernorm(const float *x, const float *w, const float *b, float eps, float *y,
                    int64_t M, int64_t D)
{
    int64_t m, i;
    for (m = 0; m < M; m++) {
        double s = 0.0, v = 0.0, mean, r;
        for (i = 0; i < D; i++)
            s += x[m * D + i];
        mean = s / (double)D;
        for (i = 0; i < D; i++)
            v += (x[m * D + i] - mean) * (x[m * D + i] - mean);
        r = 1.0 / sqrt(v / (double)D + eps);
        for (i = 0; i < D; i++)
            y[m * D + i] =
                (float)((x[m * D + i] - mean) * r * (w ? w[i] : 1.0) + (b ? b[i] : 0.0));
    }
}

int kref_groupnorm(const float *x, const float *w, const float *b, float eps, float *y,
                   int64_t B, int64_t C, int64_t T, int64_t G)
{
    int64_t bi, g, c, t, cg;
    if (G <= 0 || C % G != 0)
        return SAMSEP_ERR_INVALID;
    cg = C / G;
    for (bi = 0; bi < B; bi++)
        for (g = 0; g < G; g++) {
            double s = 0.0, v = 0.0, mean, r;
            for (c = g * cg; c < (g + 1) * cg; c++)
                for (t = 0; t < T; t++)
                    s += x[(bi * C + c) * T + t];
            mean = s / (double)(cg * T);
            for (c = g * cg; c < (g + 1) * cg; c++)
                for (t = 0; t < T; t++) {
                    double d = x[(bi * C + c) * T + t] - mean;
                    v += d * d;
                }
            r = 1.0 / sqrt(v / (double)(cg * T) + eps);
            for (c = g * cg; c < (g + 1) * cg; c++)
                for (t = 0; t < T; t++)
                    y[(bi * C + c) * T + t] =
                        (float)((x[(bi * C + c) * T + t] - mean) * r * (w ? w[c] : 1.0) +
                                (b ? b[c] : 0.0));
        }
    return SAMSEP_OK;
}

static void ref_softmax_row(const double *x, float *y, int64_t n)
{
    double m = -INFINITY, s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY) {
        for (i = 0; i < n; i++)
            y[i] = 0.0f;
        return;
    }
    for (i = 0; i < n; i++)
        s += exp(x[i] - m);
    for (i = 0; i < n; i++)
        y[i] = (float)(exp(x[i] - m) / s);
}

void kref_softmax(const float *x, float *y, int64_t M, int64_t N)
{
    int64_t m, i;
    double *row = malloc((size_t)(N > 0 ? N : 1) * sizeof *row);
    if (row == NULL)
        return;
    for (m = 0; m < M; m++) {
        for (i = 0; i < N; i++)
            row[i] = x[m * N + i];
        ref_softmax_row(row, y + m * N, N);
    }
    free(row);
}

int kref_attention(const nn_attn_args *a)
{
    int64_t b, h, i, t, j;
    double *s = malloc((size_t)(a->Lk > 0 ? a->Lk : 1) * sizeof *s);
    float *p = malloc((size_t)(a->Lk > 0 ? a->Lk : 1) * sizeof *p);
    if (s == NULL || p == NULL) {
        free(s);
        free(p);
        return SAMSEP_ERR_NOMEM;
    }
    for (b = 0; b < a->B; b++)
        for (h = 0; h < a->H; h++)
            for (i = 0; i < a->Lq; i++) {
                for (t = 0; t < a->Lk; t++) {
                    double d = 0.0;
                    if (a->key_mask && !a->key_mask[b * a->Lk + t]) {
                        s[t] = -INFINITY;
                        continue;
                    }
                    for (j = 0; j < a->dh; j++)
                        d += (double)a->q[b * a->q_s.b + h * a->q_s.h + i * a->q_s.t +
                                          j * a->q_s.j] *
                             a->k[b * a->k_s.b + h * a->k_s.h + t * a->k_s.t +
                                  j * a->k_s.j];
                    s[t] = d * a->scale;
                    if (a->bias)
                        s[t] += a->bias[b * a->bias_s.b + h * a->bias_s.h +
                                        i * a->bias_s.t + t * a->bias_s.j];
                }
                ref_softmax_row(s, p, a->Lk);
                for (j = 0; j < a->dh; j++) {
                    double o = 0.0;
                    for (t = 0; t < a->Lk; t++)
                        o += (double)p[t] * a->v[b * a->v_s.b + h * a->v_s.h +
                                                 t * a->v_s.t + j * a->v_s.j];
                    a->out[b * a->out_s.b + h * a->out_s.h + i * a->out_s.t +
                           j * a->out_s.j] = (float)o;
                }
            }
    free(s);
    free(p);
    return SAMSEP_OK;
}

void kref_rope(float *x, nn_strides s, int64_t B, int64_t H, int64_t L, int64_t dh,
               const float *cos_t, const float *sin_t)
{
    int64_t b, h, t, i;
    for (b = 0; b < B; b++)
        for (h = 0; h < H; h++)
            for (t = 0; t < L; t++)
                for (i = 0; i < dh / 2; i++) {
                    float *p = x + b * s.b + h * s.h + t * s.t;
                    double x0 = p[2 * i * s.j], x1 = p[(2 * i + 1) * s.j];
                    double c = cos_t[t * (dh / 2) + i], sn = sin_t[t * (dh / 2) + i];
                    p[2 * i * s.j] = (float)(x0 * c - x1 * sn);
                    p[(2 * i + 1) * s.j] = (float)(x0 * sn + x1 * c);
                }
}

/* Value of padded input at position p of a row of length L. */
static double ref_padded(const float *row, int64_t L, int64_t p, nn_pad_mode m)
{
    if (p >= 0 && p < L)
        return row[p];
    if (m == NN_PAD_REFLECT)
        return row[p < 0 ? -p : 2 * (L - 1) - p];
    if (m == NN_PAD_REPLICATE)
        return row[p < 0 ? 0 : L - 1];
    if (m == NN_PAD_REFLECT_PERIODIC) {
        /* walk the mirror: bounce off both ends until inside */
        if (L == 1)
            return row[0];
        while (p < 0 || p >= L)
            p = p < 0 ? -p : 2 * (L - 1) - p;
        return row[p];
    }
    return 0.0;
}

int kref_conv1d(const nn_conv1d_args *a, const float *x, const float *W,
                const float *bias, float *y)
{
    int64_t Lout = nn_conv1d_out_len(a), b, co, o, ci, kk;
    int64_t cig, cog;
    if (Lout < 0)
        return SAMSEP_ERR_INVALID;
    cig = a->Cin / a->groups;
    cog = a->Cout / a->groups;
    for (b = 0; b < a->B; b++)
        for (co = 0; co < a->Cout; co++) {
            int64_t g = co / cog;
            for (o = 0; o < Lout; o++) {
                double acc = bias ? bias[co] : 0.0;
                for (ci = 0; ci < cig; ci++) {
                    const float *row = x + (b * a->Cin + g * cig + ci) * a->Lin;
                    for (kk = 0; kk < a->K; kk++) {
                        int64_t p = o * a->stride + kk * a->dilation - a->pad_left;
                        acc += W[(co * cig + ci) * a->K + kk] *
                               ref_padded(row, a->Lin, p, a->pad_mode);
                    }
                }
                y[(b * a->Cout + co) * Lout + o] = (float)acc;
            }
        }
    return SAMSEP_OK;
}

int kref_convt1d(const nn_convt1d_args *a, const float *x, const float *W,
                 const float *bias, float *y)
{
    int64_t Lout = nn_convt1d_out_len(a), b, ci, co, t, kk, o;
    int64_t cig, cog;
    double *acc;
    if (Lout < 0)
        return SAMSEP_ERR_INVALID;
    cig = a->Cin / a->groups;
    cog = a->Cout / a->groups;
    acc = calloc((size_t)(a->Cout * Lout), sizeof *acc);
    if (acc == NULL)
        return SAMSEP_ERR_NOMEM;
    for (b = 0; b < a->B; b++) {
        memset(acc, 0, (size_t)(a->Cout * Lout) * sizeof *acc);
        /* scatter every input sample through every tap */
        for (ci = 0; ci < a->Cin; ci++) {
            int64_t g = ci / cig;
            for (t = 0; t < a->Lin; t++)
                for (co = 0; co < cog; co++)
                    for (kk = 0; kk < a->K; kk++) {
                        o = t * a->stride + kk * a->dilation - a->padding;
                        if (o < 0 || o >= Lout)
                            continue;
                        acc[(g * cog + co) * Lout + o] +=
                            (double)x[(b * a->Cin + ci) * a->Lin + t] *
                            W[(ci * cog + co) * a->K + kk];
                    }
        }
        for (co = 0; co < a->Cout; co++)
            for (o = 0; o < Lout; o++)
                y[(b * a->Cout + co) * Lout + o] =
                    (float)(acc[co * Lout + o] + (bias ? bias[co] : 0.0));
    }
    free(acc);
    return SAMSEP_OK;
}

int kref_pad1d(const float *x, float *y, int64_t B, int64_t C, int64_t L, int64_t left,
               int64_t right, nn_pad_mode mode)
{
    int64_t r, t, Lo = left + L + right;
    if (L <= 0 || left < 0 || right < 0 ||
        (mode == NN_PAD_REFLECT && (left >= L || right >= L)))
        return SAMSEP_ERR_INVALID;
    for (r = 0; r < B * C; r++)
        for (t = 0; t < Lo; t++)
            y[r * Lo + t] = (float)ref_padded(x + r * L, L, t - left, mode);
    return SAMSEP_OK;
}

static double dsig(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

int kref_lstm(const float *x, const float *W_ih, const float *W_hh, const float *b_ih,
              const float *b_hh, const float *h0, const float *c0, float *y, float *hT,
              float *cT, int64_t T, int64_t B, int64_t n_in, int64_t H)
{
    double *h = calloc((size_t)(B * H), sizeof *h);
    double *c = calloc((size_t)(B * H), sizeof *c);
    double *hn = calloc((size_t)(B * H), sizeof *hn);
    double *g = calloc((size_t)(4 * H), sizeof *g);
    int64_t t, b, r, i;
    if (h == NULL || c == NULL || hn == NULL || g == NULL) {
        free(h);
        free(c);
        free(hn);
        free(g);
        return SAMSEP_ERR_NOMEM;
    }
    for (i = 0; i < B * H; i++) {
        h[i] = h0 ? h0[i] : 0.0;
        c[i] = c0 ? c0[i] : 0.0;
    }
    for (t = 0; t < T; t++) {
        for (b = 0; b < B; b++) {
            for (r = 0; r < 4 * H; r++) {
                double acc = (b_ih ? b_ih[r] : 0.0) + (b_hh ? b_hh[r] : 0.0);
                for (i = 0; i < n_in; i++)
                    acc += (double)W_ih[r * n_in + i] * x[(t * B + b) * n_in + i];
                for (i = 0; i < H; i++)
                    acc += (double)W_hh[r * H + i] * h[b * H + i];
                g[r] = acc;
            }
            for (i = 0; i < H; i++) {
                double ig = dsig(g[i]), fg = dsig(g[H + i]);
                double cg = tanh(g[2 * H + i]), og = dsig(g[3 * H + i]);
                c[b * H + i] = fg * c[b * H + i] + ig * cg;
                hn[b * H + i] = og * tanh(c[b * H + i]);
                y[(t * B + b) * H + i] = (float)hn[b * H + i];
            }
        }
        memcpy(h, hn, (size_t)(B * H) * sizeof *h);
    }
    for (i = 0; i < B * H; i++) {
        if (hT)
            hT[i] = (float)h[i];
        if (cT)
            cT[i] = (float)c[i];
    }
    free(h);
    free(c);
    free(hn);
    free(g);
    return SAMSEP_OK;
}

void kref_relu(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void kref_gelu_tanh(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        double v = x[i];
        y[i] = (float)(0.5 * v *
                       (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
    }
}

void kref_gelu_erf(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0))));
}

void kref_silu(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = (float)(x[i] * dsig(x[i]));
}

void kref_sigmoid(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = (float)dsig(x[i]);
}

void kref_elu(const float *x, float *y, int64_t n, float alpha)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = x[i] > 0.0f ? x[i] : (float)(alpha * (exp((double)x[i]) - 1.0));
}

void kref_tanh(const float *x, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = (float)tanh(x[i]);
}

void kref_snake(const float *x, const float *alpha, float *y, int64_t B, int64_t C,
                int64_t T)
{
    int64_t b, c, t;
    for (b = 0; b < B; b++)
        for (c = 0; c < C; c++)
            for (t = 0; t < T; t++) {
                double v = x[(b * C + c) * T + t], a = alpha[c];
                double s = sin(a * v);
                y[(b * C + c) * T + t] = (float)(v + s * s / (a + 1e-9));
            }
}

void kref_add(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

void kref_mul(const float *a, const float *b, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = a[i] * b[i];
}

void kref_scale(const float *x, float s, float *y, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        y[i] = s * x[i];
}

void kref_modulate(const float *x, const float *shift, const float *scale, int64_t ld,
                   float *y, int64_t B, int64_t T, int64_t D)
{
    int64_t b, t, i;
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            for (i = 0; i < D; i++)
                y[(b * T + t) * D + i] =
                    (float)((double)x[(b * T + t) * D + i] * (1.0 + scale[b * ld + i]) +
                            shift[b * ld + i]);
}

void kref_add_gated(const float *x, const float *g, int64_t ld, float *y, int64_t B,
                    int64_t T, int64_t D)
{
    int64_t b, t, i;
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            for (i = 0; i < D; i++)
                y[(b * T + t) * D + i] =
                    (float)(y[(b * T + t) * D + i] +
                            (double)g[b * ld + i] * x[(b * T + t) * D + i]);
}

void kref_transpose(const float *x, float *y, int64_t B, int64_t R, int64_t C)
{
    int64_t b, r, c;
    for (b = 0; b < B; b++)
        for (r = 0; r < R; r++)
            for (c = 0; c < C; c++)
                y[(b * C + c) * R + r] = x[(b * R + r) * C + c];
}

int kref_embedding(const float *table, int64_t vocab, int64_t D, const int32_t *ids,
                   int64_t n, float *y)
{
    int64_t i, j;
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return SAMSEP_ERR_INVALID;
    for (i = 0; i < n; i++)
        for (j = 0; j < D; j++)
            y[i * D + j] = table[ids[i] * D + j];
    return SAMSEP_OK;
}

void kref_copy2d(const float *x, int64_t ldx, float *y, int64_t ldy, int64_t rows,
                 int64_t cols)
{
    int64_t r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            y[r * ldy + c] = x[r * ldx + c];
}

void kref_axpy(float a, const float *x, const float *y, float *out, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        out[i] = (float)((double)y[i] + (double)a * x[i]);
}

void kref_add_bcast(const float *x, const float *v, const int64_t vs[3], float *y,
                    const int64_t n[3])
{
    int64_t i, j, l;
    for (i = 0; i < n[0]; i++)
        for (j = 0; j < n[1]; j++)
            for (l = 0; l < n[2]; l++) {
                int64_t e = (i * n[1] + j) * n[2] + l;
                y[e] = (float)((double)x[e] + v[i * vs[0] + j * vs[1] + l * vs[2]]);
            }
}

void kref_sum_rows(const float *x, float *y, int64_t M, int64_t D)
{
    int64_t m, d;
    for (d = 0; d < D; d++) {
        double acc = 0.0;
        for (m = 0; m < M; m++)
            acc += x[m * D + d];
        y[d] = (float)acc;
    }
}

void kref_sinusoid(const float *f, int64_t half, float t, float *y, int64_t B)
{
    int64_t b, i;
    for (b = 0; b < B; b++)
        for (i = 0; i < half; i++) {
            double a = (double)t * f[i];
            y[b * 2 * half + i] = (float)cos(a);
            y[b * 2 * half + half + i] = (float)sin(a);
        }
}

void kref_rope_table(float *cos_t, float *sin_t, int64_t L, int64_t dh, float theta)
{
    int64_t t, i, half = dh / 2;
    for (t = 0; t < L; t++)
        for (i = 0; i < half; i++) {
            double a = (double)t / pow((double)theta, (double)(2 * i) / (double)dh);
            cos_t[t * half + i] = (float)cos(a);
            sin_t[t * half + i] = (float)sin(a);
        }
}

void kref_bf16_round(const float *x, float *y, int64_t n)
{
    int64_t i;

    for (i = 0; i < n; i++) {
        /* nearest of the two bf16 neighbours, the even one on a tie */
        float lo, hi, v = x[i];
        uint32_t u;

        memcpy(&u, &v, sizeof u);
        if (isnan(v) || isinf(v)) {
            y[i] = v;
            continue;
        }
        u &= 0xffff0000u;
        memcpy(&lo, &u, sizeof lo); /* toward zero */
        u += 0x10000u;
        memcpy(&hi, &u, sizeof hi); /* away from zero */
        if (fabs((double)v - lo) < fabs((double)hi - v))
            y[i] = lo;
        else if (fabs((double)v - lo) > fabs((double)hi - v))
            y[i] = hi;
        else
            y[i] = ((u >> 16) & 1u) ? lo : hi;
    }
}
