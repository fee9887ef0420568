/*
 * dit.c - SAM-Audio's DiT, its conditioning and the midpoint ODE solver, on
 * the kernels of nn.h (MANIFEST §4-§5).
 *
 * A dit_model is the weights and sizes, read-only once loaded; a dit_state
 * is one run over it: a kernel context, the conditioning of the current
 * chunk and every working buffer, all in the backend's memory. Work is
 * split by how often it changes:
 *
 *   once per model (dit_model_load)
 *     vconst  = tanh(align_masked_video.gate) * LN(conv.bias)      [D]
 *               (the 1x1 conv of all-zero video features is its bias)
 *     anchors = tanh(embed_anchors.gate) * embed.weight proj^T    [rows, D]
 *     Wn, Wa  = the noisy and feature column blocks of proj.weight [D, 2C]
 *               (the middle block multiplies zeros and is skipped)
 *   once per chunk (dit_condition)
 *     A   = audio_features Wa^T + proj.bias                       [B, T, D]
 *     mp  = memory_proj(text_features)                            [B, L, D]
 *     key masks of frames and tokens, anchor row of each frame (made on
 *     the host, uploaded)
 *   per evaluation (dit_forward), straight-line kernel calls:
 *     h = x Wn^T + A; h += vconst; h += anchors[row]              [B, T, D]
 *     memory = mp + te(t); y = SwiGLU_y(memory)                   [B, L, D]
 *     temb = SwiGLU_t(freq(t)); t0 = t_block(silu(temb))          [B, D], [B, 6D]
 *     h += x_embedder(h)   (channel-first, GroupNorm(1) + conv k=3, twice)
 *     per layer: AdaLN self-attention (RoPE, frame mask), cross-attention
 *                to y (token mask), AdaLN SwiGLU feed-forward
 *     v = output(mod(RMS(h), fsst[0] + temb, fsst[1] + temb))     [B, T, 2C]
 *
 * Attention heads: wq/wk/wv outputs are split interleaved (head h, element
 * j = channel j*H + h); q and k are moved to [B, T, H, hd] (nn_transpose of
 * each frame's [hd, H] block) so that the head RMSNorm works on contiguous
 * rows and RoPE and the attention read them with strides; v is read in
 * place with interleaved strides; the attention writes its output
 * head-major ([B, T, H*hd], channel h*hd + j), the layout wo expects.
 *
 * The AdaLN modulations of a layer are one broadcast add, t0 + sst, laid
 * out [B, 6, D]; the kernels read shift, scale and gate from it with a row
 * stride of 6D.
 */
#include "engine/sam/dit.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define DIT_MAX_DIM (1 << 16)

#define TRY(e)                \
    do {                      \
        int rc_ = (e);        \
        if (rc_ != SAMSEP_OK) \
            return rc_;       \
    } while (0)

/* y = w2(silu(w1 x) * w3 x) (+ biases when fc_bias) */
typedef struct swiglu_w {
    nn_w w1, w2, w3;           /* [F, In], [F, F] or [D, F], [F, In] */
    const float *b1, *b2, *b3; /* NULL without fc_bias */
} swiglu_w;

typedef struct attn_w {
    nn_w wq, wk, wv, wo;            /* [D, D] each */
    const float *bq, *bk, *bv, *bo; /* [D] or NULL */
    const float *q_norm, *k_norm;   /* [hd] or NULL (qk_norm false) */
} attn_w;

typedef struct dit_layer {
    const float *sst;       /* scale_shift_table [6, D] */
    const float *attn_norm; /* [D] */
    const float *ffn_norm;  /* [D] */
    attn_w self, cross;
    swiglu_w ffn; /* [F, D], [D, F], [F, D] */
} dit_layer;

struct dit_model {
    nn_ctx *wk; /* the context the weights were placed for */

    /* sizes */
    int64_t D, H, hd, F, C2, Dt, Dv, A, rows, fdim, max_pos;
    int layers, qk_norm, use_rope, context_norm;
    float eps, theta;

    /* conditioning layers */
    nn_w Wn, Wa;          /* [D, C2] column blocks of proj.weight */
    const float *proj_b;  /* [D] */
    nn_w mproj_w;         /* memory_proj [D, Dt] */
    const float *mproj_b; /* [D] */
    const float *vconst;  /* [D] */
    const float *anchors; /* [rows, D] */
    const float *mfreq;   /* [D/2] timestep_emb inv_freq */

    /* transformer */
    swiglu_w temb_w;       /* freq [fdim] -> D */
    swiglu_w y_w;          /* D -> D */
    const float *y_norm;   /* [D] (context_norm) or NULL */
    const float *tfreq;    /* [fdim/2] t_embedder freqs */
    nn_w tblock_w;         /* [6D, D] */
    const float *tblock_b; /* [6D] or NULL */
    const float *gn1_w, *gn1_b, *cv1_b, *gn2_w, *gn2_b, *cv2_b; /* [D] */
    nn_w cv1_w, cv2_w;                                          /* [D, D, 3] */
    dit_layer *lay;
    const float *fsst;   /* final_layer_scale_shift_table [2, D] */
    const float *norm_w; /* [D] */
    nn_w out_w;          /* [C2, D] */
    const float *out_b;  /* [C2] or NULL */
};

struct dit_state {
    const dit_model *m;
    nn_ctx *k;

    /* capacity */
    int64_t capB, capT, capL;

    /* conditioning of the current chunk */
    int have_cond;
    int64_t B, T, L;
    float *A_in;    /* [B, T, D] audio_features Wa^T + proj.bias */
    float *mp;      /* [B, L, D] memory_proj(text_features) */
    uint8_t *fmask; /* [B, T] 1 = valid frame */
    uint8_t *tmask; /* [B, L] 1 = valid token */
    int32_t *arow;  /* [B, T] anchor embedding row of each frame */
    uint8_t *hmask; /* host staging of the masks, [B, max(T, L)] */
    int32_t *harow; /* host staging of arow [B, T] */

    /* per-evaluation buffers */
    float *te;            /* [B, D] timestep_emb(t) (cos | sin) */
    float *fe;            /* [B, fdim] t_embedder's sinusoid */
    float *th1, *th3;     /* [B, D] SwiGLU hidden */
    float *temb;          /* [B, D] */
    float *tsil;          /* [B, D] silu(temb) */
    float *t0;            /* [B, 6D] */
    float *mods;          /* [B, 6, D] per-layer shift/scale/gate */
    float *fmod;          /* [2, B, D] final shift, scale */
    float *mem;           /* [B, L, D] memory (then y_norm) */
    float *yh1, *yh3;     /* [B, L, D] */
    float *y;             /* [B, L, D] y_embedder(memory) */
    float *h;             /* [B, T, D] residual stream */
    float *an;            /* [B, T, D] anchor embeddings of the frames */
    float *hc, *z1, *z2;  /* [B, D, T] x_embedder, channel-first */
    float *xn;            /* [B, T, D] normed/modulated input */
    float *q, *kk, *v;    /* [B, max(T,L), D] projections */
    float *qh, *kh;       /* [B, max(T,L), H, hd] split heads */
    float *att;           /* [B, T, D] attention output, head-major */
    float *o;             /* [B, T, D] after wo / w2 */
    float *f1, *f3;       /* [B, T, F] */
    float *rcos, *rsin;   /* [capT, hd/2] RoPE tables */
    float *ode_f, *ode_y; /* [B, T, C2] solver state */
    float *hx, *hv;       /* host copies of x, v for the callback, [B, T, C2]
                                (backends whose memory is not the host's) */

    dit_tap_fn tap;
    void *tap_user;
};

/* ---- config ----------------------------------------------------------- */

static const cJSON *cfg_get(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return (it == NULL || cJSON_IsNull(it)) ? NULL : it;
}

/* An integer in [lo, hi]; `def` when absent (def < lo: required). */
static int cfg_int(const cJSON *o, const char *obj, const char *key, int64_t def,
                   int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    const cJSON *it = cfg_get(o, key);
    if (it == NULL) {
        if (def < lo) {
            set_err(err, errlen, "config.json: missing %s%s\"%s\"", obj,
                    obj[0] ? "." : "", key);
            return SAMSEP_ERR_FORMAT;
        }
        *out = def;
        return SAMSEP_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < (double)lo || it->valuedouble > (double)hi) {
        set_err(err, errlen, "config.json: %s%s\"%s\" must be an integer in [%lld, %lld]",
                obj, obj[0] ? "." : "", key, (long long)lo, (long long)hi);
        return SAMSEP_ERR_FORMAT;
    }
    *out = (int64_t)it->valuedouble;
    return SAMSEP_OK;
}

static int cfg_num(const cJSON *o, const char *obj, const char *key, double def,
                   double lo, double hi, double *out, char *err, size_t errlen)
{
    const cJSON *it = cfg_get(o, key);
    if (it == NULL) {
        *out = def;
        return SAMSEP_OK;
    }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo) || !(it->valuedouble <= hi)) {
        set_err(err, errlen, "config.json: %s.\"%s\" must be a number in [%g, %g]", obj,
                key, lo, hi);
        return SAMSEP_ERR_FORMAT;
    }
    *out = it->valuedouble;
    return SAMSEP_OK;
}

static int cfg_bool(const cJSON *o, const char *obj, const char *key, int def, int *out,
                    char *err, size_t errlen)
{
    const cJSON *it = cfg_get(o, key);
    if (it == NULL) {
        *out = def;
        return SAMSEP_OK;
    }
    if (!cJSON_IsBool(it)) {
        set_err(err, errlen, "config.json: %s.\"%s\" must be true or false", obj, key);
        return SAMSEP_ERR_FORMAT;
    }
    *out = cJSON_IsTrue(it);
    return SAMSEP_OK;
}

/* A string member that must equal `want` when present. */
static int cfg_want(const cJSON *o, const char *obj, const char *key, const char *want,
                    char *err, size_t errlen)
{
    const cJSON *it = cfg_get(o, key);
    if (it == NULL)
        return SAMSEP_OK;
    if (!cJSON_IsString(it) || strcmp(it->valuestring, want) != 0) {
        set_err(err, errlen, "config.json: %s.\"%s\" is %s%s%s; only \"%s\" is supported",
                obj, key, cJSON_IsString(it) ? "\"" : "",
                cJSON_IsString(it) ? it->valuestring : "not a string",
                cJSON_IsString(it) ? "\"" : "", want);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

static const cJSON *cfg_obj(const cJSON *root, const char *key, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL || !cJSON_IsObject(it)) {
        set_err(err, errlen, "config.json: missing object \"%s\"", key);
        return NULL;
    }
    return it;
}

static int parse_config(dit_model *m, const cJSON *root, int *fc_bias /* OUT */,
                        int *t_block_bias /* OUT */, char *err, size_t errlen)
{
    const cJSON *tr, *codec, *te, *ve;
    int64_t in_ch, cbd, ffn_exp, mult_of, fdim, v, ctx_dim;
    double eps, ffn_mult;
    int rc, b;

    if (!cJSON_IsObject(root)) {
        set_err(err, errlen, "config.json: not a JSON object");
        return SAMSEP_ERR_FORMAT;
    }
    if ((tr = cfg_obj(root, "transformer", err, errlen)) == NULL ||
        (codec = cfg_obj(root, "audio_codec", err, errlen)) == NULL ||
        (te = cfg_obj(root, "text_encoder", err, errlen)) == NULL ||
        (ve = cfg_obj(root, "vision_encoder", err, errlen)) == NULL)
        return SAMSEP_ERR_FORMAT;
    /* Defaults are those of sam_audio's config dataclasses. */
    if ((rc = cfg_int(tr, "transformer", "dim", 2048, 2, DIT_MAX_DIM, &m->D, err,
                      errlen)) ||
        (rc = cfg_int(tr, "transformer", "n_heads", 16, 1, 4096, &m->H, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "n_layers", 16, 1, 1000, &v, err, errlen)))
        return rc;
    m->layers = (int)v;
    if ((rc =
             cfg_num(tr, "transformer", "norm_eps", 1e-5, 0.0, 1.0, &eps, err, errlen)) ||
        (rc = cfg_bool(tr, "transformer", "qk_norm", 1, &m->qk_norm, err, errlen)) ||
        (rc = cfg_bool(tr, "transformer", "fc_bias", 0, fc_bias, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "ffn_exp", 4, 1, 1000, &ffn_exp, err, errlen)) ||
        (rc = cfg_num(tr, "transformer", "ffn_dim_multiplier", 1.0, 1e-3, 1e3, &ffn_mult,
                      err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "multiple_of", 64, 1, DIT_MAX_DIM, &mult_of, err,
                      errlen)) ||
        (rc = cfg_want(tr, "transformer", "non_linearity", "swiglu", err, errlen)) ||
        (rc = cfg_bool(tr, "transformer", "use_rope", 1, &m->use_rope, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "max_positions", 10000, 1, 1 << 24, &m->max_pos,
                      err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "frequency_embedding_dim", 256, 2, DIT_MAX_DIM,
                      &fdim, err, errlen)) ||
        (rc = cfg_want(tr, "transformer", "timestep_non_linearity", "swiglu", err,
                       errlen)) ||
        (rc =
             cfg_want(tr, "transformer", "t_block_non_linearity", "silu", err, errlen)) ||
        (rc =
             cfg_bool(tr, "transformer", "t_block_bias", 1, t_block_bias, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "context_dim", 2048, 1, DIT_MAX_DIM, &ctx_dim,
                      err, errlen)) ||
        (rc = cfg_want(tr, "transformer", "context_non_linearity", "swiglu", err,
                       errlen)) ||
        (rc = cfg_bool(tr, "transformer", "context_norm", 0, &m->context_norm, err,
                       errlen)) ||
        (rc = cfg_int(tr, "transformer", "out_channels", 256, 2, DIT_MAX_DIM, &m->C2, err,
                      errlen)) ||
        (rc = cfg_bool(tr, "transformer", "no_cross_attention", 0, &b, err, errlen)))
        return rc;
    if (b) {
        set_err(err, errlen,
                "config.json: transformer.no_cross_attention is not supported "
                "(text prompting needs the cross-attention)");
        return SAMSEP_ERR_FORMAT;
    }
    if (cfg_get(tr, "in_channels") != NULL) {
        set_err(err, errlen, "config.json: transformer.in_channels must be null");
        return SAMSEP_ERR_FORMAT;
    }
    if (m->D % m->H != 0 || (m->D / m->H) % 2 != 0 || m->D % 2 != 0 || fdim % 2 != 0) {
        set_err(err, errlen,
                "config.json: transformer dim %lld, n_heads %lld, "
                "frequency_embedding_dim %lld: need an even head size and even widths",
                (long long)m->D, (long long)m->H, (long long)fdim);
        return SAMSEP_ERR_FORMAT;
    }
    if (ctx_dim != m->D) {
        set_err(err, errlen,
                "config.json: transformer.context_dim %lld must equal dim %lld",
                (long long)ctx_dim, (long long)m->D);
        return SAMSEP_ERR_FORMAT;
    }
    m->hd = m->D / m->H;
    m->fdim = fdim;
    m->eps = (float)eps;
    m->theta = (float)(m->max_pos * 2 > 10000 ? m->max_pos * 2 : 10000);
    /* FeedForward: int(2 h / 3), int(mult * h), rounded up to multiple_of */
    v = (2 * ffn_exp * m->D) / 3;
    v = (int64_t)(ffn_mult * (double)v);
    m->F = mult_of * ((v + mult_of - 1) / mult_of);
    if (m->F < 1 || m->F > (int64_t)1 << 20) {
        set_err(err, errlen, "config.json: implausible feed-forward width %lld",
                (long long)m->F);
        return SAMSEP_ERR_FORMAT;
    }

    if ((rc = cfg_int(root, "", "in_channels", 768, 1, 3 * DIT_MAX_DIM, &in_ch, err,
                      errlen)) ||
        (rc = cfg_int(root, "", "num_anchors", 3, 1, 1 << 20, &v, err, errlen)))
        return rc;
    m->rows = v + 1;
    if ((rc = cfg_int(root, "", "anchor_embedding_dim", 128, 1, DIT_MAX_DIM, &m->A, err,
                      errlen)) ||
        (rc = cfg_int(codec, "audio_codec", "codebook_dim", 128, 1, DIT_MAX_DIM, &cbd,
                      err, errlen)) ||
        (rc = cfg_int(te, "text_encoder", "dim", 768, 1, DIT_MAX_DIM, &m->Dt, err,
                      errlen)) ||
        (rc = cfg_int(ve, "vision_encoder", "dim", 1024, 1, DIT_MAX_DIM, &m->Dv, err,
                      errlen)))
        return rc;
    if (m->C2 != 2 * cbd || in_ch != 3 * m->C2) {
        set_err(err, errlen,
                "config.json: in_channels %lld and transformer.out_channels "
                "%lld must be 6 and 2 times audio_codec.codebook_dim %lld",
                (long long)in_ch, (long long)m->C2, (long long)cbd);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

/* ---- weights ---------------------------------------------------------- */

/* "<prefix>.<w>.weight" [d0, d1] (in the model's precision; float32 when
 * f32) and, with bias, "<prefix>.<w>.bias" [d0]. */
static void lin(nn_weights *ws, const char *prefix, const char *w, int64_t d0, int64_t d1,
                int bias, int f32, nn_w *W, const float **b)
{
    if (f32)
        *W = nn_w_f32(nn_weightf(ws, NN_DIMS(d0, d1), "%s.%s.weight", prefix, w));
    else
        *W = nn_wmat(ws, NN_DIMS(d0, d1), "%s.%s.weight", prefix, w);
    *b = bias ? nn_weightf(ws, NN_DIMS(d0), "%s.%s.bias", prefix, w) : NULL;
}

static void load_swiglu(nn_weights *ws, const char *prefix, int64_t in, int64_t hid,
                        int64_t out, int bias, int f32, swiglu_w *s)
{
    lin(ws, prefix, "w1", hid, in, bias, f32, &s->w1, &s->b1);
    lin(ws, prefix, "w2", out, hid, bias, f32, &s->w2, &s->b2);
    lin(ws, prefix, "w3", hid, in, bias, f32, &s->w3, &s->b3);
}

static void load_attn(dit_model *m, nn_weights *ws, const char *prefix, int bias,
                      attn_w *a)
{
    lin(ws, prefix, "wq", m->D, m->D, bias, 0, &a->wq, &a->bq);
    lin(ws, prefix, "wk", m->D, m->D, bias, 0, &a->wk, &a->bk);
    lin(ws, prefix, "wv", m->D, m->D, bias, 0, &a->wv, &a->bv);
    lin(ws, prefix, "wo", m->D, m->D, bias, 0, &a->wo, &a->bo);
    a->q_norm = a->k_norm = NULL;
    if (m->qk_norm) {
        a->q_norm = nn_weightf(ws, NN_DIMS(m->hd), "%s.q_norm.weight", prefix);
        a->k_norm = nn_weightf(ws, NN_DIMS(m->hd), "%s.k_norm.weight", prefix);
    }
}

/* The float32 arithmetic of torch for exp(-ln(theta) * i / half). */
static void inv_freq(float *f, int64_t half, double theta)
{
    float c = (float)-log(theta);
    int64_t i;
    for (i = 0; i < half; i++)
        f[i] = expf((c * (float)i) / (float)half);
}

static float *host_floats(int64_t n)
{
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

/*
 * proj.weight [D, 3 C2] has column blocks [noisy | zeros | features]: the
 * first and the last become Wn and Wa [D, C2]; the middle one multiplies
 * the all-zero video features and is dropped.
 */
static void load_proj(dit_model *m, nn_weights *ws)
{
    int64_t d, c, C2 = m->C2, D = m->D;
    float *pw = nn_weight_host(ws, "proj.weight", NN_DIMS(D, 3 * C2));
    float *Wn = host_floats(D * C2), *Wa = host_floats(D * C2);

    if (pw != NULL && Wn != NULL && Wa != NULL)
        for (d = 0; d < D; d++)
            for (c = 0; c < C2; c++) {
                Wn[d * C2 + c] = pw[d * 3 * C2 + c];
                Wa[d * C2 + c] = pw[d * 3 * C2 + 2 * C2 + c];
            }
    else if (pw != NULL)
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory");
    free(pw);
    m->Wn = nn_wmat_adopt(ws, Wn, D * C2);
    m->Wa = nn_wmat_adopt(ws, Wa, D * C2);
    m->proj_b = nn_weightf(ws, NN_DIMS(D), "proj.bias");
}

/* tanh(gate) of a one-element gate tensor, 0 when it is missing. */
static float gate(nn_weights *ws, const char *name)
{
    float *g = nn_weight_host(ws, name, NN_DIMS(1)), v;

    v = g != NULL ? tanhf(g[0]) : 0.0f;
    free(g);
    return v;
}

/*
 * The constant inputs of text-only prompting, computed once by kernels on
 * the weights' context:
 *   vconst  = tanh(align_masked_video.gate) * LN(conv.bias)   (the 1x1 conv
 *             of all-zero video features is its bias)
 *   anchors = tanh(embed_anchors.gate) * embed.weight proj^T
 */
static void load_constants(dit_model *m, nn_weights *ws)
{
    nn_ctx *k = nn_weights_ctx(ws);
    int64_t D = m->D;
    const float *cb, *lw, *lb, *emb, *apw;
    float *vconst = nn_weight_alloc(ws, D), *anchors = nn_weight_alloc(ws, m->rows * D);
    float *mfreq = host_floats(D / 2), *tfreq = host_floats(m->fdim / 2), gt;
    int rc = SAMSEP_OK;

    nn_weightf(ws, NN_DIMS(D, m->Dv, 1), "align_masked_video.conv.weight");
    cb = nn_weightf(ws, NN_DIMS(D), "align_masked_video.conv.bias");
    lw = nn_weightf(ws, NN_DIMS(D), "align_masked_video.layer_norm.weight");
    lb = nn_weightf(ws, NN_DIMS(D), "align_masked_video.layer_norm.bias");
    gt = gate(ws, "align_masked_video.gate");
    if (vconst != NULL && cb != NULL && lw != NULL && lb != NULL &&
        (rc = nn_layernorm(k, cb, lw, lb, 1e-5f, vconst, 1, D)) == SAMSEP_OK)
        rc = nn_scale(k, vconst, gt, vconst, D);
    emb = nn_weightf(ws, NN_DIMS(m->rows, m->A), "embed_anchors.embed.weight");
    apw = nn_weightf(ws, NN_DIMS(D, m->A), "embed_anchors.proj.weight");
    gt = gate(ws, "embed_anchors.gate");
    if (rc == SAMSEP_OK && anchors != NULL && emb != NULL && apw != NULL &&
        (rc = nn_matmul(k, emb, apw, NULL, anchors, m->rows, D, m->A)) == SAMSEP_OK)
        rc = nn_scale(k, anchors, gt, anchors, m->rows * D);
    if (rc != SAMSEP_OK)
        nn_weights_fail(ws, rc, "kernel failed computing the constant inputs: %s",
                        samsep_strerror(rc));
    if (mfreq != NULL)
        inv_freq(mfreq, D / 2, 10000.0);
    if (tfreq != NULL)
        inv_freq(tfreq, m->fdim / 2, 10000.0);
    if (mfreq == NULL || tfreq == NULL)
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory");
    m->vconst = vconst;
    m->anchors = anchors;
    m->mfreq = nn_weight_adopt(ws, mfreq, D / 2);
    m->tfreq = nn_weight_adopt(ws, tfreq, m->fdim / 2);
}

static void load_layer(dit_model *m, nn_weights *ws, int i, int fc_bias)
{
    dit_layer *l = &m->lay[i];
    char pf[64];

    snprintf(pf, sizeof pf, "transformer.layers.%d", i);
    l->sst = nn_weightf(ws, NN_DIMS(6, m->D), "%s.scale_shift_table", pf);
    l->attn_norm = nn_weightf(ws, NN_DIMS(m->D), "%s.attention_norm.weight", pf);
    l->ffn_norm = nn_weightf(ws, NN_DIMS(m->D), "%s.ffn_norm.weight", pf);
    snprintf(pf, sizeof pf, "transformer.layers.%d.attention", i);
    load_attn(m, ws, pf, fc_bias, &l->self);
    snprintf(pf, sizeof pf, "transformer.layers.%d.cross_attention", i);
    load_attn(m, ws, pf, fc_bias, &l->cross);
    snprintf(pf, sizeof pf, "transformer.layers.%d.feed_forward", i);
    load_swiglu(ws, pf, m->D, m->F, m->D, fc_bias, 0, &l->ffn);
}

static int load_weights(dit_model *m, nn_weights *ws, int fc_bias, int t_block_bias,
                        char *err, size_t errlen)
{
    const char *xe = "transformer.x_embedder.block";
    int64_t C2 = m->C2, D = m->D;
    int i;

    load_proj(m, ws);
    load_constants(m, ws);
    m->mproj_w = nn_wmat(ws, NN_DIMS(D, m->Dt), "memory_proj.weight");
    m->mproj_b = nn_weightf(ws, NN_DIMS(D), "memory_proj.bias");
    /* the time embedding and its modulation stay float32 in any precision */
    load_swiglu(ws, "transformer.t_embedder.projection", m->fdim, D, D, fc_bias, 1,
                &m->temb_w);
    load_swiglu(ws, "transformer.y_embedder.projection", D, D, D, fc_bias, 0, &m->y_w);
    lin(ws, "transformer", "t_block", 6 * D, D, t_block_bias, 1, &m->tblock_w,
        &m->tblock_b);
    m->gn1_w = nn_weightf(ws, NN_DIMS(D), "%s.block1.groupnorm.weight", xe);
    m->gn1_b = nn_weightf(ws, NN_DIMS(D), "%s.block1.groupnorm.bias", xe);
    m->cv1_w = nn_wmat(ws, NN_DIMS(D, D, 3), "%s.block1.project.weight", xe);
    m->cv1_b = nn_weightf(ws, NN_DIMS(D), "%s.block1.project.bias", xe);
    m->gn2_w = nn_weightf(ws, NN_DIMS(D), "%s.block2.groupnorm.weight", xe);
    m->gn2_b = nn_weightf(ws, NN_DIMS(D), "%s.block2.groupnorm.bias", xe);
    m->cv2_w = nn_wmat(ws, NN_DIMS(D, D, 3), "%s.block2.project.weight", xe);
    m->cv2_b = nn_weightf(ws, NN_DIMS(D), "%s.block2.project.bias", xe);
    m->fsst = nn_weightf(ws, NN_DIMS(2, D), "transformer.final_layer_scale_shift_table");
    m->norm_w = nn_weightf(ws, NN_DIMS(D), "transformer.norm.weight");
    lin(ws, "transformer", "output", C2, D, fc_bias, 0, &m->out_w, &m->out_b);
    m->y_norm = m->context_norm
                    ? nn_weightf(ws, NN_DIMS(D), "transformer.y_embedder.norm.weight")
                    : NULL;
    for (i = 0; i < m->layers; i++)
        load_layer(m, ws, i, fc_bias);
    if (nn_weights_findf(ws, "transformer.layers.%d.scale_shift_table", m->layers) !=
        NULL)
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT,
                        "the checkpoint has more DiT layers than n_layers = %d",
                        m->layers);
    return nn_weights_status(ws, err, errlen);
}

/* ---- model ------------------------------------------------------------ */

int dit_check_config(const struct cJSON *config, char *err, size_t errlen)
{
    dit_model m;
    int fc_bias, t_block_bias;

    memset(&m, 0, sizeof m);
    if (config == NULL) {
        set_err(err, errlen, "config.json: no configuration");
        return SAMSEP_ERR_INVALID;
    }
    return parse_config(&m, config, &fc_bias, &t_block_bias, err, errlen);
}

int dit_model_load(nn_weights *ws, const struct cJSON *config, dit_model **out, char *err,
                   size_t errlen)
{
    dit_model *m;
    int rc, fc_bias, t_block_bias;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || ws == NULL || config == NULL) {
        set_err(err, errlen, "dit_model_load: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    m->wk = nn_weights_ctx(ws);
    rc = parse_config(m, config, &fc_bias, &t_block_bias, err, errlen);
    if (rc == SAMSEP_OK) {
        m->lay = calloc((size_t)m->layers, sizeof *m->lay);
        if (m->lay == NULL) {
            set_err(err, errlen, "out of memory");
            rc = SAMSEP_ERR_NOMEM;
        }
    }
    if (rc == SAMSEP_OK)
        rc = load_weights(m, ws, fc_bias, t_block_bias, err, errlen);
    if (rc != SAMSEP_OK) {
        dit_model_free(m);
        return rc;
    }
    *out = m;
    return SAMSEP_OK;
}

void dit_model_free(dit_model *m)
{
    if (m == NULL)
        return;
    free(m->lay);
    free(m);
}

int dit_dim(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->D;
}
int dit_heads(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->H;
}
int dit_layers(const dit_model *m)
{
    return m == NULL ? 0 : m->layers;
}
int dit_latent_channels(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->C2;
}
int dit_text_dim(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->Dt;
}
int dit_ffn_dim(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->F;
}
int dit_max_frames(const dit_model *m)
{
    return m == NULL ? 0 : (int)m->max_pos;
}

/* ---- state: buffers --------------------------------------------------- */

static void free_buffers(dit_state *s)
{
    float **f[] = { &s->A_in, &s->mp, &s->te,   &s->fe,   &s->th1,   &s->th3,  &s->temb,
                    &s->tsil, &s->t0, &s->mods, &s->fmod, &s->mem,   &s->yh1,  &s->yh3,
                    &s->y,    &s->h,  &s->an,   &s->hc,   &s->z1,    &s->z2,   &s->xn,
                    &s->q,    &s->kk, &s->v,    &s->qh,   &s->kh,    &s->att,  &s->o,
                    &s->f1,   &s->f3, &s->rcos, &s->rsin, &s->ode_f, &s->ode_y };
    size_t i;
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        nn_free(s->k, *f[i]);
        *f[i] = NULL;
    }
    nn_free(s->k, s->fmask);
    nn_free(s->k, s->tmask);
    nn_free(s->k, s->arow);
    free(s->hmask);
    free(s->harow);
    free(s->hx);
    free(s->hv);
    s->fmask = s->tmask = s->hmask = NULL;
    s->arow = s->harow = NULL;
    s->hx = s->hv = NULL;
    s->capB = s->capT = s->capL = 0;
    s->have_cond = 0;
}

/* Allocate every buffer for B items of T frames and L tokens (S = max). */
static int alloc_buffers(dit_state *s, int64_t B, int64_t T, int64_t L)
{
    const dit_model *m = s->m;
    nn_ctx *k = s->k;
    int64_t S = T > L ? T : L, BT = B * T, BS = B * S, D = m->D;
    float **f[] = { &s->A_in, &s->mp, &s->te,   &s->fe,   &s->th1,   &s->th3,  &s->temb,
                    &s->tsil, &s->t0, &s->mods, &s->fmod, &s->mem,   &s->yh1,  &s->yh3,
                    &s->y,    &s->h,  &s->an,   &s->hc,   &s->z1,    &s->z2,   &s->xn,
                    &s->q,    &s->kk, &s->v,    &s->qh,   &s->kh,    &s->att,  &s->o,
                    &s->f1,   &s->f3, &s->rcos, &s->rsin, &s->ode_f, &s->ode_y };
    const int64_t n[] = {
        BT * D,          B * L * D,       B * D,      B * m->fdim, B * D,     B * D,
        B * D,           B * D,           B * 6 * D,  B * 6 * D,   2 * B * D, B * L * D,
        B * L * D,       B * L * D,       B * L * D,  BT * D,      BT * D,    BT * D,
        BT * D,          BT * D,          BT * D,     BS * D,      BS * D,    BS * D,
        BS * D,          BS * D,          BT * D,     BT * D,      BT * m->F, BT * m->F,
        T * (m->hd / 2), T * (m->hd / 2), BT * m->C2, BT * m->C2
    };
    size_t i;
    int ok = 1;

    _Static_assert(sizeof f / sizeof f[0] == sizeof n / sizeof n[0],
                   "one size per buffer");
    for (i = 0; i < sizeof f / sizeof f[0]; i++)
        ok &= (*f[i] = nn_alloc_f32(k, n[i])) != NULL;
    s->fmask = nn_alloc(k, (size_t)BT);
    s->tmask = nn_alloc(k, (size_t)(B * L));
    s->arow = nn_alloc(k, (size_t)BT * sizeof *s->arow);
    s->hmask = malloc((size_t)BS);
    s->harow = malloc((size_t)BT * sizeof *s->harow);
    ok &= s->fmask != NULL && s->tmask != NULL && s->arow != NULL && s->hmask != NULL &&
          s->harow != NULL;
    if (ok && !nn_ctx_host_memory(k)) {
        s->hx = malloc((size_t)(BT * m->C2) * sizeof *s->hx);
        s->hv = malloc((size_t)(BT * m->C2) * sizeof *s->hv);
        ok = s->hx != NULL && s->hv != NULL;
    }
    return ok ? SAMSEP_OK : SAMSEP_ERR_NOMEM;
}

static nn_conv1d_args xemb_conv(int64_t B, int64_t D, int64_t T)
{
    nn_conv1d_args ca;
    memset(&ca, 0, sizeof ca);
    ca.B = B;
    ca.Cin = D;
    ca.Lin = T;
    ca.Cout = D;
    ca.K = 3;
    ca.stride = ca.dilation = ca.groups = 1;
    ca.pad_left = ca.pad_right = 1;
    ca.pad_mode = NN_PAD_ZERO;
    return ca;
}

int dit_reserve(dit_state *s, int batch, int frames, int text_len, char *err,
                size_t errlen)
{
    const dit_model *m;
    int64_t B, T, L, D;
    size_t scratch, cs;
    nn_conv1d_args ca;
    int rc;

    if (s == NULL || batch < 1 || frames < 1 || text_len < 1) {
        set_err(err, errlen, "dit_reserve: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    m = s->m;
    if (frames > m->max_pos) {
        set_err(err, errlen,
                "dit: %d latent frames exceed the model's max_positions %lld", frames,
                (long long)m->max_pos);
        return SAMSEP_ERR_INVALID;
    }
    B = batch > s->capB ? batch : s->capB;
    T = frames > s->capT ? frames : s->capT;
    L = text_len > s->capL ? text_len : s->capL;
    D = m->D;
    if (B * (T + L) > ((int64_t)1 << 40) / (m->F + 6 * D)) {
        set_err(err, errlen, "dit: %d x %d frames, %d tokens is too many", batch, frames,
                text_len);
        return SAMSEP_ERR_INVALID;
    }
    if (B != s->capB || T != s->capT || L != s->capL) {
        free_buffers(s);
        rc = alloc_buffers(s, B, T, L);
        if (rc == SAMSEP_OK)
            rc = nn_rope_table(s->k, s->rcos, s->rsin, T, m->hd, m->theta);
        if (rc != SAMSEP_OK) {
            free_buffers(s);
            set_err(err, errlen, "out of memory for %d x %d frames", batch, frames);
            return rc;
        }
        s->capB = B;
        s->capT = T;
        s->capL = L;
    }
    /* per-worker scratch: attention over max(T, L) keys, the k=3 conv */
    ca = xemb_conv(s->capB, D, s->capT);
    scratch = nn_attention_scratch(s->k, s->capT > s->capL ? s->capT : s->capL, m->hd);
    cs = nn_conv1d_scratch(s->k, &ca);
    if (nn_reserve(s->k, cs > scratch ? cs : scratch) != SAMSEP_OK) {
        set_err(err, errlen, "out of memory for kernel scratch");
        return SAMSEP_ERR_NOMEM;
    }
    return SAMSEP_OK;
}

int dit_state_create(const dit_model *m, nn_ctx *k, dit_state **out, char *err,
                     size_t errlen)
{
    dit_state *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (m == NULL || k == NULL || out == NULL) {
        set_err(err, errlen, "dit_state_create: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    if (!nn_ctx_shares_memory(m->wk, k)) {
        set_err(err, errlen, "dit: the weights live on backend %s, the run is on %s",
                nn_ctx_backend(m->wk), nn_ctx_backend(k));
        return SAMSEP_ERR_INVALID;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    s->m = m;
    s->k = k;
    /* one 10 s chunk of one item (250 frames at 25 Hz), a short prompt */
    rc = dit_reserve(s, 1, m->max_pos < 250 ? (int)m->max_pos : 250, 32, err, errlen);
    if (rc != SAMSEP_OK) {
        dit_state_destroy(s);
        return rc;
    }
    *out = s;
    return SAMSEP_OK;
}

void dit_state_destroy(dit_state *s)
{
    if (s == NULL)
        return;
    free_buffers(s);
    free(s);
}

void dit_set_tap(dit_state *s, dit_tap_fn tap, void *user)
{
    if (s == NULL)
        return;
    s->tap = tap;
    s->tap_user = user;
}

int dit_audio_features_from_codec(nn_ctx *k, const float *f, int64_t B, int64_t C,
                                  int64_t T, float *tmp, float *out)
{
    /* f [B, C, T] -> tmp [B, T, C] -> both halves of out [B, T, 2C] */
    TRY(nn_transpose(k, f, tmp, B, C, T));
    TRY(nn_copy2d(k, tmp, C, out, 2 * C, B * T, C));
    return nn_copy2d(k, tmp, C, out + C, 2 * C, B * T, C);
}

int dit_latent_to_codec(nn_ctx *k, const float *g, int64_t B, int64_t T, int64_t C,
                        float *out)
{
    /* per item [T, 2C] -> [2C, T] = [2, C, T]: rows 2b (target), 2b+1 */
    return nn_transpose(k, g, out, B, T, 2 * C);
}

/* ---- conditioning ----------------------------------------------------- */

/* Span prompts: every id a row of the embedding, every index one of K. */
static int check_anchors(const dit_inputs *in, int64_t rows, char *err, size_t errlen)
{
    int64_t i, K = in->anchor_count;

    if (K < 1 || in->anchor_alignment == NULL) {
        set_err(err, errlen,
                "dit_condition: anchor ids need a count >= 1 and an alignment");
        return SAMSEP_ERR_INVALID;
    }
    for (i = 0; i < (int64_t)in->batch * K; i++)
        if (in->anchor_ids[i] < 0 || in->anchor_ids[i] >= rows) {
            set_err(err, errlen,
                    "dit_condition: anchor id %d is not one of the model's "
                    "%lld",
                    (int)in->anchor_ids[i], (long long)rows);
            return SAMSEP_ERR_INVALID;
        }
    for (i = 0; i < (int64_t)in->batch * in->frames; i++)
        if (in->anchor_alignment[i] < 0 || in->anchor_alignment[i] >= K) {
            set_err(err, errlen, "dit_condition: anchor alignment %d is not in 0..%lld",
                    (int)in->anchor_alignment[i], (long long)(K - 1));
            return SAMSEP_ERR_INVALID;
        }
    return SAMSEP_OK;
}

/* The embedding row of each frame: its item's id at the frame's index
 * (embed.weight[anchor_ids.gather(1, anchor_alignment)], MANIFEST §4). */
static void anchor_rows(const dit_inputs *in, int32_t *row)
{
    int64_t b, t, T = in->frames, K = in->anchor_count;

    for (b = 0; b < in->batch; b++)
        for (t = 0; t < T; t++)
            row[b * T + t] = in->anchor_ids[b * K + in->anchor_alignment[b * T + t]];
}

int dit_condition(dit_state *s, const dit_inputs *in, char *err, size_t errlen)
{
    const dit_model *m;
    int64_t B, T, L, b, t, D;
    int rc;

    if (s == NULL || in == NULL || in->audio_features == NULL ||
        in->text_features == NULL || in->batch < 1 || in->frames < 1 ||
        in->text_len < 1) {
        set_err(err, errlen, "dit_condition: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    m = s->m;
    B = in->batch;
    T = in->frames;
    L = in->text_len;
    if (in->anchor_ids != NULL &&
        (rc = check_anchors(in, m->rows, err, errlen)) != SAMSEP_OK)
        return rc;
    for (b = 0; b < B; b++) {
        if (in->valid_frames != NULL &&
            (in->valid_frames[b] < 1 || in->valid_frames[b] > T)) {
            set_err(err, errlen,
                    "dit_condition: item %lld has %d valid frames, not 1..%lld",
                    (long long)b, in->valid_frames[b], (long long)T);
            return SAMSEP_ERR_INVALID;
        }
        if (in->text_lengths != NULL &&
            (in->text_lengths[b] < 1 || in->text_lengths[b] > L)) {
            set_err(err, errlen,
                    "dit_condition: item %lld has %d text tokens, not 1..%lld",
                    (long long)b, in->text_lengths[b], (long long)L);
            return SAMSEP_ERR_INVALID;
        }
    }
    s->have_cond = 0;
    rc = dit_reserve(s, in->batch, in->frames, in->text_len, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    D = m->D;
    s->B = B;
    s->T = T;
    s->L = L;
    /* A = audio_features Wa^T + proj.bias                       [B*T, D] */
    rc =
        nn_matmul_w(s->k, in->audio_features, m->Wa, m->proj_b, s->A_in, B * T, D, m->C2);
    /* mp = memory_proj(text_features)                           [B*L, D] */
    if (rc == SAMSEP_OK)
        rc = nn_matmul_w(s->k, in->text_features, m->mproj_w, m->mproj_b, s->mp, B * L, D,
                         m->Dt);
    /* masks and anchor rows: made here, uploaded */
    for (b = 0; b < B; b++) {
        int64_t nv = in->valid_frames != NULL ? in->valid_frames[b] : T;
        for (t = 0; t < T; t++) {
            s->hmask[b * T + t] = t < nv;
            /* anchor_ids [<null> = 0, <pad> = num_anchors], aligned by pad */
            s->harow[b * T + t] = t < nv ? 0 : (int32_t)(m->rows - 1);
        }
    }
    if (in->anchor_ids != NULL)
        anchor_rows(in, s->harow);
    if (rc == SAMSEP_OK)
        rc = nn_upload(s->k, s->fmask, s->hmask, (size_t)(B * T));
    if (rc == SAMSEP_OK)
        rc = nn_upload(s->k, s->arow, s->harow, (size_t)(B * T) * sizeof *s->arow);
    for (b = 0; b < B; b++) {
        int64_t nl = in->text_lengths != NULL ? in->text_lengths[b] : L;
        for (t = 0; t < L; t++)
            s->hmask[b * L + t] = t < nl;
    }
    if (rc == SAMSEP_OK)
        rc = nn_upload(s->k, s->tmask, s->hmask, (size_t)(B * L));
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "dit_condition: kernel failed: %s", samsep_strerror(rc));
        return rc;
    }
    s->have_cond = 1;
    return SAMSEP_OK;
}

/* ---- forward ---------------------------------------------------------- */

/* Hand `d` (n floats of backend memory) to the tap as host memory. */
static void tap_data(dit_state *s, const char *name, const float *d, int ndim,
                     const int64_t *shape)
{
    int64_t n = 1;
    float *h;
    int i;

    if (nn_ctx_host_memory(s->k)) {
        s->tap(s->tap_user, name, d, ndim, shape);
        return;
    }
    /* only observers pay for this copy */
    for (i = 0; i < ndim; i++)
        n *= shape[i];
    h = malloc((size_t)(n > 0 ? n : 1) * sizeof *h);
    if (h != NULL && nn_download(s->k, h, d, (size_t)n * sizeof *h) == SAMSEP_OK)
        s->tap(s->tap_user, name, h, ndim, shape);
    free(h);
}

static void tapn(dit_state *s, const char *name, const float *d, int ndim, int64_t d0,
                 int64_t d1, int64_t d2, int64_t d3)
{
    int64_t sh[4] = { d0, d1, d2, d3 };
    tap_data(s, name, d, ndim, sh);
}

static void tapl(dit_state *s, int layer, const char *what, const float *d, int ndim,
                 int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    char nm[64];
    snprintf(nm, sizeof nm, "layer%d_%s", layer, what);
    tapn(s, nm, d, ndim, d0, d1, d2, d3);
}

#define TAP(name, d, nd, a, b, c, e)          \
    do {                                      \
        if (s->tap != NULL)                   \
            tapn(s, name, d, nd, a, b, c, e); \
    } while (0)
#define TAPL(i, name, d, nd, a, b, c, e)         \
    do {                                         \
        if (s->tap != NULL)                      \
            tapl(s, i, name, d, nd, a, b, c, e); \
    } while (0)

/* out[M, Dout] = w2(silu(w1 x) * w3 x); h1, h3 [M, hid] scratch */
static int swiglu(nn_ctx *k, const swiglu_w *w, const float *x, float *h1, float *h3,
                  float *out, int64_t M, int64_t in, int64_t hid, int64_t dout)
{
    TRY(nn_matmul_w(k, x, w->w1, w->b1, h1, M, hid, in));
    TRY(nn_matmul_w(k, x, w->w3, w->b3, h3, M, hid, in));
    TRY(nn_silu(k, h1, h1, M * hid));
    TRY(nn_mul(k, h1, h3, h1, M * hid));
    return nn_matmul_w(k, h1, w->w2, w->b2, out, M, dout, hid);
}

/*
 * Project x [B*S, D] with wq/wk into split heads [B, S, H, hd], RMS-normed
 * per head: p = x W^T (+b) (interleaved heads), ph = its heads.
 */
static int heads(dit_state *s, const float *x, nn_w W, const float *bias,
                 const float *norm, float *p, float *ph, int64_t BS)
{
    const dit_model *m = s->m;
    TRY(nn_matmul_w(s->k, x, W, bias, p, BS, m->D, m->D));
    /* per frame [hd, H] -> [H, hd] */
    TRY(nn_transpose(s->k, p, ph, BS, m->hd, m->H));
    return norm != NULL ? nn_rmsnorm(s->k, ph, norm, m->eps, ph, BS * m->H, m->hd)
                        : SAMSEP_OK;
}

/* h = proj(cat(x, 0, a)) + video + anchors                  [B, T, D] */
static int input_layer(dit_state *s, const float *x)
{
    const dit_model *m = s->m;
    nn_ctx *k = s->k;
    int64_t B = s->B, T = s->T, D = m->D, BT = B * T;

    TRY(nn_copy(k, s->A_in, s->h, BT * D));
    TRY(nn_matmul_ex_w(k, x, m->C2, m->Wn, NULL, s->h, D, BT, D, m->C2, 1.0f));
    TAP("proj_out", s->h, 3, B, T, D, 0);
    TRY(nn_add_bcast(k, s->h, m->vconst, (const int64_t[3]){ 0, 0, 1 }, s->h,
                     (const int64_t[3]){ 1, BT, D }));
    TAP("align_masked_video_out", s->h, 3, B, T, D, 0);
    TRY(nn_embedding(k, m->anchors, m->rows, D, s->arow, BT, s->an));
    TRY(nn_add(k, s->h, s->an, s->h, BT * D));
    TAP("aligned_inputs", s->h, 3, B, T, D, 0);
    return SAMSEP_OK;
}

/* memory = memory_proj(text) + te(t); y = SwiGLU_y(memory); temb and t0 */
static int time_and_text(dit_state *s, float t)
{
    const dit_model *m = s->m;
    nn_ctx *k = s->k;
    int64_t B = s->B, L = s->L, D = m->D, BL = B * L;

    TRY(nn_sinusoid(k, m->mfreq, D / 2, t, s->te, B)); /* [B, D] */
    TAP("timestep_emb", s->te, 2, B, D, 0, 0);
    TRY(nn_add_bcast(k, s->mp, s->te, (const int64_t[3]){ D, 0, 1 }, s->mem,
                     (const int64_t[3]){ B, L, D }));
    TAP("memory", s->mem, 3, B, L, D, 0);
    if (m->y_norm != NULL)
        TRY(nn_rmsnorm(k, s->mem, m->y_norm, m->eps, s->mem, BL, D));
    TRY(swiglu(k, &m->y_w, s->mem, s->yh1, s->yh3, s->y, BL, D, D, D));
    TAP("dit_y", s->y, 3, B, L, D, 0);

    /* temb = SwiGLU_t(freq(t)); t0 = t_block(silu(temb)) */
    TRY(nn_sinusoid(k, m->tfreq, m->fdim / 2, t, s->fe, B)); /* [B, fdim] */
    TRY(swiglu(k, &m->temb_w, s->fe, s->th1, s->th3, s->temb, B, m->fdim, D, D));
    TAP("dit_t_emb", s->temb, 2, B, D, 0, 0);
    TRY(nn_silu(k, s->temb, s->tsil, B * D));
    TRY(nn_matmul_w(k, s->tsil, m->tblock_w, m->tblock_b, s->t0, B, 6 * D,
                    D)); /* [B, 6D] */
    TAP("dit_t0", s->t0, 2, B, 6 * D, 0, 0);
    return SAMSEP_OK;
}

/* h += conv3(silu(GN(conv3(silu(GN(h)))))), channel-first */
static int x_embedder(dit_state *s)
{
    const dit_model *m = s->m;
    nn_ctx *k = s->k;
    int64_t B = s->B, T = s->T, D = m->D, BT = B * T;
    nn_conv1d_args ca = xemb_conv(B, D, T);

    TRY(nn_transpose(k, s->h, s->hc, B, T, D)); /* [B, D, T] */
    TRY(nn_groupnorm(k, s->hc, m->gn1_w, m->gn1_b, 1e-5f, s->z1, B, D, T, 1));
    TRY(nn_silu(k, s->z1, s->z1, BT * D));
    TRY(nn_conv1d_w(k, &ca, s->z1, m->cv1_w, m->cv1_b, s->z2));
    TRY(nn_groupnorm(k, s->z2, m->gn2_w, m->gn2_b, 1e-5f, s->z2, B, D, T, 1));
    TRY(nn_silu(k, s->z2, s->z2, BT * D));
    TRY(nn_conv1d_w(k, &ca, s->z2, m->cv2_w, m->cv2_b, s->z1));
    TRY(nn_add(k, s->z1, s->hc, s->z1, BT * D)); /* [B, D, T] */
    TAP("dit_x_embedder_out_BCT", s->z1, 3, B, D, T, 0);
    return nn_transpose(k, s->z1, s->h, B, D, T); /* [B, T, D] */
}

/* One transformer layer on the residual stream h. */
static int layer(dit_state *s, int li)
{
    const dit_model *m = s->m;
    const dit_layer *l = &m->lay[li];
    nn_ctx *k = s->k;
    int64_t B = s->B, T = s->T, L = s->L, D = m->D, H = m->H, hd = m->hd;
    int64_t BT = B * T, BL = B * L, ld = 6 * D;
    /* split heads [B, S, H, hd]: (b, h, t, j) */
    nn_strides sh_T = { T * D, hd, D, 1 }, sh_L = { L * D, hd, D, 1 };
    const float *sh_msa, *sc_msa, *g_msa, *sh_mlp, *sc_mlp, *g_mlp;
    nn_attn_args aa;

    /* mods[b] = t0[b] + sst: shift, scale, gate of attention and MLP  [B, 6, D] */
    TRY(nn_add_bcast(k, s->t0, l->sst, (const int64_t[3]){ 0, 0, 1 }, s->mods,
                     (const int64_t[3]){ 1, B, 6 * D }));
    sh_msa = s->mods;
    sc_msa = s->mods + D;
    g_msa = s->mods + 2 * D;
    sh_mlp = s->mods + 3 * D;
    sc_mlp = s->mods + 4 * D;
    g_mlp = s->mods + 5 * D;

    memset(&aa, 0, sizeof aa);
    aa.B = B;
    aa.H = H;
    aa.dh = hd;
    aa.Lq = T;
    aa.scale = 1.0f / sqrtf((float)hd);
    aa.out = s->att;
    aa.out_s = nn_strides_head_major(T, H, hd);

    /* self-attention on mod(RMS(h), shift, scale)                [B, T, D] */
    TRY(nn_rmsnorm(k, s->h, l->attn_norm, m->eps, s->xn, BT, D));
    TRY(nn_modulate(k, s->xn, sh_msa, sc_msa, ld, s->xn, B, T, D));
    TAPL(li, "attn_in", s->xn, 3, B, T, D, 0);
    TRY(heads(s, s->xn, l->self.wq, l->self.bq, l->self.q_norm, s->q, s->qh, BT));
    TRY(heads(s, s->xn, l->self.wk, l->self.bk, l->self.k_norm, s->kk, s->kh, BT));
    TRY(nn_matmul_w(k, s->xn, l->self.wv, l->self.bv, s->v, BT, D, D));
    TAPL(li, "wq_out", s->q, 3, B, T, D, 0);
    TAPL(li, "wk_out", s->kk, 3, B, T, D, 0);
    TAPL(li, "wv_out", s->v, 3, B, T, D, 0);
    TAPL(li, "q_normed", s->qh, 4, B, T, H, hd);
    TAPL(li, "k_normed", s->kh, 4, B, T, H, hd);
    if (m->use_rope) {
        TRY(nn_rope(k, s->qh, sh_T, B, H, T, hd, s->rcos, s->rsin));
        TRY(nn_rope(k, s->kh, sh_T, B, H, T, hd, s->rcos, s->rsin));
    }
    TAPL(li, "q_rope", s->qh, 4, B, T, H, hd);
    TAPL(li, "k_rope", s->kh, 4, B, T, H, hd);
    aa.Lk = T;
    aa.q = s->qh;
    aa.k = s->kh;
    aa.v = s->v;
    aa.q_s = sh_T;
    aa.k_s = sh_T;
    aa.v_s = nn_strides_interleaved(T, H, hd);
    aa.key_mask = s->fmask;
    TRY(nn_attention(k, &aa));
    TAPL(li, "sdpa_out_BTC", s->att, 3, B, T, D, 0);
    TRY(nn_matmul_w(k, s->att, l->self.wo, l->self.bo, s->o, BT, D, D));
    TAPL(li, "attn_out", s->o, 3, B, T, D, 0);
    TRY(nn_add_gated(k, s->o, g_msa, ld, s->h, B, T, D));
    TAPL(li, "cross_in", s->h, 3, B, T, D, 0);

    /* cross-attention: q from h (no norm, no modulation), k/v from y */
    TRY(heads(s, s->h, l->cross.wq, l->cross.bq, l->cross.q_norm, s->q, s->qh, BT));
    TRY(heads(s, s->y, l->cross.wk, l->cross.bk, l->cross.k_norm, s->kk, s->kh, BL));
    TRY(nn_matmul_w(k, s->y, l->cross.wv, l->cross.bv, s->v, BL, D, D));
    aa.Lk = L;
    aa.q = s->qh;
    aa.k = s->kh;
    aa.v = s->v;
    aa.q_s = sh_T;
    aa.k_s = sh_L;
    aa.v_s = nn_strides_interleaved(L, H, hd);
    aa.key_mask = s->tmask;
    TRY(nn_attention(k, &aa));
    TRY(nn_matmul_w(k, s->att, l->cross.wo, l->cross.bo, s->o, BT, D, D));
    TAPL(li, "cross_out", s->o, 3, B, T, D, 0);
    TRY(nn_add(k, s->h, s->o, s->h, BT * D));

    /* feed-forward on mod(RMS(h), shift, scale), gated residual */
    TRY(nn_rmsnorm(k, s->h, l->ffn_norm, m->eps, s->xn, BT, D));
    TRY(nn_modulate(k, s->xn, sh_mlp, sc_mlp, ld, s->xn, B, T, D));
    TAPL(li, "ffn_in", s->xn, 3, B, T, D, 0);
    TRY(swiglu(k, &l->ffn, s->xn, s->f1, s->f3, s->o, BT, D, m->F, D));
    TAPL(li, "ffn_out", s->o, 3, B, T, D, 0);
    TRY(nn_add_gated(k, s->o, g_mlp, ld, s->h, B, T, D));
    TAPL(li, "out", s->h, 3, B, T, D, 0);
    return SAMSEP_OK;
}

/* v = output(mod(RMS(h), fsst[0] + temb, fsst[1] + temb))      [B, T, 2C] */
static int final_layer(dit_state *s, float *vout)
{
    const dit_model *m = s->m;
    nn_ctx *k = s->k;
    int64_t B = s->B, T = s->T, D = m->D, BT = B * T;
    const int64_t row[3] = { 0, 0, 1 }, n[3] = { 1, B, D };

    TRY(nn_add_bcast(k, s->temb, m->fsst, row, s->fmod, n));
    TRY(nn_add_bcast(k, s->temb, m->fsst + D, row, s->fmod + B * D, n));
    TRY(nn_rmsnorm(k, s->h, m->norm_w, m->eps, s->xn, BT, D));
    TAP("final_norm_out", s->xn, 3, B, T, D, 0);
    TRY(nn_modulate(k, s->xn, s->fmod, s->fmod + B * D, D, s->xn, B, T, D));
    TAP("final_modulated", s->xn, 3, B, T, D, 0);
    TRY(nn_matmul_w(k, s->xn, m->out_w, m->out_b, vout, BT, m->C2, D));
    TAP("out", vout, 3, B, T, m->C2, 0);
    return SAMSEP_OK;
}

int dit_forward(dit_state *s, const float *x, float t, float *vout)
{
    int li;

    if (s == NULL || x == NULL || vout == NULL || !s->have_cond)
        return SAMSEP_ERR_INVALID;
    TRY(input_layer(s, x));
    TRY(time_and_text(s, t));
    TRY(x_embedder(s));
    for (li = 0; li < s->m->layers; li++)
        TRY(layer(s, li));
    return final_layer(s, vout);
}

/* ---- ODE -------------------------------------------------------------- */

/* Call cb with x and v as host memory. */
static int report_nfe(dit_state *s, dit_nfe_fn cb, void *user, int nfe, float t,
                      const float *x, const float *v, int64_t n)
{
    if (!nn_ctx_host_memory(s->k)) {
        TRY(nn_download(s->k, s->hx, x, (size_t)n * sizeof *x));
        TRY(nn_download(s->k, s->hv, v, (size_t)n * sizeof *v));
        x = s->hx;
        v = s->hv;
    }
    return cb(user, nfe, t, x, v) != 0 ? SAMSEP_ERR_CANCELLED : SAMSEP_OK;
}

/*
 * torchdiffeq's fixed-grid midpoint method on the grid t_k = k*dt:
 *   f0 = F(t_k, y); y_mid = y + f0 * (dt/2); y = y + dt * F(t_k + dt/2, y_mid)
 * with torch's float32 operation order (dt = 1/steps; exact for 16 steps).
 */
int dit_ode_solve(dit_state *s, const float *noise, int steps, float *out, dit_nfe_fn cb,
                  void *user)
{
    int64_t n;
    float dt, half, t0;
    float *y, *f, *ym;
    int k;

    if (s == NULL || noise == NULL || out == NULL || !s->have_cond || steps < 1)
        return SAMSEP_ERR_INVALID;
    n = s->B * s->T * s->m->C2;
    y = s->ode_y;
    f = s->ode_f;
    ym = out; /* y_mid lives in out until the last step */
    TRY(nn_copy(s->k, noise, y, n));
    dt = 1.0f / (float)steps;
    half = 0.5f * dt;
    for (k = 0; k < steps; k++) {
        t0 = (float)k * dt;
        TRY(dit_forward(s, y, t0, f));
        if (cb != NULL)
            TRY(report_nfe(s, cb, user, 2 * k, t0, y, f, n));
        TRY(nn_axpy(s->k, half, f, y, ym, n));
        TRY(dit_forward(s, ym, t0 + half, f));
        if (cb != NULL)
            TRY(report_nfe(s, cb, user, 2 * k + 1, t0 + half, ym, f, n));
        TRY(nn_axpy(s->k, dt, f, y, y, n));
    }
    return nn_copy(s->k, y, out, n);
}
