/*
 * dit.c - SAM-Audio's DiT, its conditioning and the midpoint ODE solver, on
 * the kernels of kernels.h (MANIFEST §4-§5).
 *
 * Work is split by how often it changes:
 *
 *   once per model (dit_open)
 *     vconst  = tanh(align_masked_video.gate) * LN(conv.bias)      [D]
 *               (the 1x1 conv of all-zero video features is its bias)
 *     anchors = tanh(embed_anchors.gate) * embed.weight proj^T    [rows, D]
 *     Wn, Wa  = the noisy and feature column blocks of proj.weight [D, 2C]
 *               (the middle block multiplies zeros and is skipped)
 *   once per chunk (dit_condition)
 *     A   = audio_features Wa^T + proj.bias                       [B, T, D]
 *     mp  = memory_proj(text_features)                            [B, L, D]
 *     key masks of frames and tokens, anchor row of each frame
 *   per evaluation (dit_forward), straight-line code:
 *     h = x Wn^T + A; h += vconst; h += anchors[row]              [B, T, D]
 *     memory = mp + te(t); y = SwiGLU_y(memory)                   [B, L, D]
 *     temb = SwiGLU_t(freq(t)); t0 = t_block(silu(temb))          [B, D], [B, 6D]
 *     h += x_embedder(h)   (channel-first, GroupNorm(1) + conv k=3, twice)
 *     per layer: AdaLN self-attention (RoPE, frame mask), cross-attention
 *                to y (token mask), AdaLN SwiGLU feed-forward
 *     v = output(mod(RMS(h), fsst[0] + temb, fsst[1] + temb))     [B, T, 2C]
 *
 * Attention heads: wq/wk/wv outputs are split interleaved (head h, element
 * j = channel j*H + h); q and k are moved to [B, T, H, hd] (k_transpose of
 * each frame's [hd, H] block) so that the head RMSNorm works on contiguous
 * rows and RoPE and the attention read them with strides; v is read in
 * place with interleaved strides; the attention writes its output
 * head-major ([B, T, H*hd], channel h*hd + j), the layout wo expects.
 */
#include "engine/sam/dit.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/weights.h"

#define DIT_MAX_DIM (1 << 16)

/* y = w2(silu(w1 x) * w3 x) (+ biases when fc_bias) */
typedef struct swiglu_w {
    const float *w1, *w2, *w3;   /* [F, In], [F, F] or [D, F], [F, In] */
    const float *b1, *b2, *b3;   /* NULL without fc_bias */
} swiglu_w;

typedef struct attn_w {
    const float *wq, *wk, *wv, *wo;  /* [D, D] each */
    const float *bq, *bk, *bv, *bo;  /* [D] or NULL */
    const float *q_norm, *k_norm;    /* [hd] or NULL (qk_norm false) */
} attn_w;

typedef struct dit_layer {
    const float *sst;        /* scale_shift_table [6, D] */
    const float *attn_norm;  /* [D] */
    const float *ffn_norm;   /* [D] */
    attn_w self, cross;
    swiglu_w ffn;            /* [F, D], [D, F], [F, D] */
} dit_layer;

struct dit_model {
    kctx *k;

    /* sizes */
    int64_t D, H, hd, F, C2, Dt, Dv, A, rows, fdim, max_pos;
    int layers, qk_norm, use_rope, context_norm;
    float eps, theta;

    /* conditioning layers */
    const float *Wn, *Wa;    /* [D, C2] column blocks of proj.weight */
    const float *proj_b;     /* [D] */
    const float *mproj_w;    /* memory_proj [D, Dt] */
    const float *mproj_b;    /* [D] */
    const float *vconst;     /* [D] */
    const float *anchors;    /* [rows, D] */
    const float *mfreq;      /* [D/2] timestep_emb inv_freq */

    /* transformer */
    swiglu_w temb_w;         /* freq [fdim] -> D */
    swiglu_w y_w;            /* D -> D */
    const float *y_norm;     /* [D] (context_norm) or NULL */
    const float *tfreq;      /* [fdim/2] t_embedder freqs */
    const float *tblock_w;   /* [6D, D] */
    const float *tblock_b;   /* [6D] or NULL */
    const float *gn1_w, *gn1_b, *cv1_w, *cv1_b;  /* [D], [D], [D, D, 3], [D] */
    const float *gn2_w, *gn2_b, *cv2_w, *cv2_b;
    dit_layer *lay;
    const float *fsst;       /* final_layer_scale_shift_table [2, D] */
    const float *norm_w;     /* [D] */
    const float *out_w;      /* [C2, D] */
    const float *out_b;      /* [C2] or NULL */

    /* capacity */
    int64_t capB, capT, capL;

    /* conditioning of the current chunk */
    int have_cond;
    int64_t B, T, L;
    float *A_in;             /* [B, T, D] audio_features Wa^T + proj.bias */
    float *mp;               /* [B, L, D] memory_proj(text_features) */
    uint8_t *fmask;          /* [B, T] 1 = valid frame */
    uint8_t *tmask;          /* [B, L] 1 = valid token */
    int32_t *arow;           /* [B, T] anchor embedding row of each frame */

    /* per-evaluation buffers */
    float *te;               /* [B, D] timestep_emb(t) (cos | sin) */
    float *fe;               /* [B, fdim] t_embedder's sinusoid */
    float *th1, *th3;        /* [B, D] SwiGLU hidden */
    float *temb;             /* [B, D] */
    float *tsil;             /* [B, D] silu(temb) */
    float *t0;               /* [B, 6D] */
    float *mods;             /* [6, B, D] per-layer shift/scale/gate */
    float *fmod;             /* [2, B, D] final shift, scale */
    float *mem;              /* [B, L, D] memory (then y_norm) */
    float *yh1, *yh3;        /* [B, L, D] */
    float *y;                /* [B, L, D] y_embedder(memory) */
    float *h;                /* [B, T, D] residual stream */
    float *hc, *z1, *z2;     /* [B, D, T] x_embedder, channel-first */
    float *xn;               /* [B, T, D] normed/modulated input */
    float *q, *kk, *v;       /* [B, max(T,L), D] projections */
    float *qh, *kh;          /* [B, max(T,L), H, hd] split heads */
    float *att;              /* [B, T, D] attention output, head-major */
    float *o;                /* [B, T, D] after wo / w2 */
    float *f1, *f3;          /* [B, T, F] */
    float *rcos, *rsin;      /* [capT, hd/2] RoPE tables */
    float *ode_f, *ode_y;    /* [B, T, C2] solver state */

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
static int cfg_int(const cJSON *o, const char *obj, const char *key,
                   int64_t def, int64_t lo, int64_t hi, int64_t *out,
                   char *err, size_t errlen)
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

static int cfg_num(const cJSON *o, const char *obj, const char *key,
                   double def, double lo, double hi, double *out, char *err,
                   size_t errlen)
{
    const cJSON *it = cfg_get(o, key);
    if (it == NULL) {
        *out = def;
        return SAMSEP_OK;
    }
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= lo) || !(it->valuedouble <= hi)) {
        set_err(err, errlen, "config.json: %s.\"%s\" must be a number in [%g, %g]",
                obj, key, lo, hi);
        return SAMSEP_ERR_FORMAT;
    }
    *out = it->valuedouble;
    return SAMSEP_OK;
}

static int cfg_bool(const cJSON *o, const char *obj, const char *key, int def,
                    int *out, char *err, size_t errlen)
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
static int cfg_want(const cJSON *o, const char *obj, const char *key,
                    const char *want, char *err, size_t errlen)
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

static const cJSON *cfg_obj(const cJSON *root, const char *key, char *err,
                            size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL || !cJSON_IsObject(it)) {
        set_err(err, errlen, "config.json: missing object \"%s\"", key);
        return NULL;
    }
    return it;
}

static int parse_config(dit_model *m, const cJSON *root,
                        int *fc_bias /* OUT */, int *t_block_bias /* OUT */,
                        char *err, size_t errlen)
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
    if ((rc = cfg_int(tr, "transformer", "dim", 2048, 2, DIT_MAX_DIM, &m->D, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "n_heads", 16, 1, 4096, &m->H, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "n_layers", 16, 1, 1000, &v, err, errlen)))
        return rc;
    m->layers = (int)v;
    if ((rc = cfg_num(tr, "transformer", "norm_eps", 1e-5, 0.0, 1.0, &eps, err, errlen)) ||
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
        (rc = cfg_want(tr, "transformer", "timestep_non_linearity", "swiglu", err, errlen)) ||
        (rc = cfg_want(tr, "transformer", "t_block_non_linearity", "silu", err, errlen)) ||
        (rc = cfg_bool(tr, "transformer", "t_block_bias", 1, t_block_bias, err, errlen)) ||
        (rc = cfg_int(tr, "transformer", "context_dim", 2048, 1, DIT_MAX_DIM, &ctx_dim, err,
                      errlen)) ||
        (rc = cfg_want(tr, "transformer", "context_non_linearity", "swiglu", err, errlen)) ||
        (rc = cfg_bool(tr, "transformer", "context_norm", 0, &m->context_norm, err,
                       errlen)) ||
        (rc = cfg_int(tr, "transformer", "out_channels", 256, 2, DIT_MAX_DIM, &m->C2, err,
                      errlen)) ||
        (rc = cfg_bool(tr, "transformer", "no_cross_attention", 0, &b, err, errlen)))
        return rc;
    if (b) {
        set_err(err, errlen, "config.json: transformer.no_cross_attention is not supported "
                "(text prompting needs the cross-attention)");
        return SAMSEP_ERR_FORMAT;
    }
    if (cfg_get(tr, "in_channels") != NULL) {
        set_err(err, errlen, "config.json: transformer.in_channels must be null");
        return SAMSEP_ERR_FORMAT;
    }
    if (m->D % m->H != 0 || (m->D / m->H) % 2 != 0 || m->D % 2 != 0 || fdim % 2 != 0) {
        set_err(err, errlen, "config.json: transformer dim %lld, n_heads %lld, "
                "frequency_embedding_dim %lld: need an even head size and even widths",
                (long long)m->D, (long long)m->H, (long long)fdim);
        return SAMSEP_ERR_FORMAT;
    }
    if (ctx_dim != m->D) {
        set_err(err, errlen, "config.json: transformer.context_dim %lld must equal dim %lld",
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
        (rc = cfg_int(codec, "audio_codec", "codebook_dim", 128, 1, DIT_MAX_DIM, &cbd, err,
                      errlen)) ||
        (rc = cfg_int(te, "text_encoder", "dim", 768, 1, DIT_MAX_DIM, &m->Dt, err,
                      errlen)) ||
        (rc = cfg_int(ve, "vision_encoder", "dim", 1024, 1, DIT_MAX_DIM, &m->Dv, err,
                      errlen)))
        return rc;
    if (m->C2 != 2 * cbd || in_ch != 3 * m->C2) {
        set_err(err, errlen, "config.json: in_channels %lld and transformer.out_channels "
                "%lld must be 6 and 2 times audio_codec.codebook_dim %lld",
                (long long)in_ch, (long long)m->C2, (long long)cbd);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

/* ---- weights ---------------------------------------------------------- */

/* "<prefix>.<w>.weight" [d0, d1] and, with bias, "<prefix>.<w>.bias" [d0]. */
static void lin(nn_weights *ws, const char *prefix, const char *w, int64_t d0,
                int64_t d1, int bias, const float **W, const float **b)
{
    *W = nn_weightf(ws, NN_DIMS(d0, d1), "%s.%s.weight", prefix, w);
    *b = bias ? nn_weightf(ws, NN_DIMS(d0), "%s.%s.bias", prefix, w) : NULL;
}

static void load_swiglu(nn_weights *ws, const char *prefix, int64_t in,
                        int64_t hid, int64_t out, int bias, swiglu_w *s)
{
    lin(ws, prefix, "w1", hid, in, bias, &s->w1, &s->b1);
    lin(ws, prefix, "w2", out, hid, bias, &s->w2, &s->b2);
    lin(ws, prefix, "w3", hid, in, bias, &s->w3, &s->b3);
}

static void load_attn(dit_model *m, nn_weights *ws, const char *prefix, int bias,
                      attn_w *a)
{
    lin(ws, prefix, "wq", m->D, m->D, bias, &a->wq, &a->bq);
    lin(ws, prefix, "wk", m->D, m->D, bias, &a->wk, &a->bk);
    lin(ws, prefix, "wv", m->D, m->D, bias, &a->wv, &a->bv);
    lin(ws, prefix, "wo", m->D, m->D, bias, &a->wo, &a->bo);
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
    m->Wn = nn_weight_adopt(ws, Wn, D * C2);
    m->Wa = nn_weight_adopt(ws, Wa, D * C2);
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
 * The constant inputs of text-only prompting, computed once:
 *   vconst  = tanh(align_masked_video.gate) * LN(conv.bias)   (the 1x1 conv
 *             of all-zero video features is its bias)
 *   anchors = tanh(embed_anchors.gate) * embed.weight proj^T
 */
static void load_constants(dit_model *m, nn_weights *ws)
{
    int64_t D = m->D, r;
    const float *cb, *lw, *lb, *emb, *apw;
    float *vconst = host_floats(D), *anchors = host_floats(m->rows * D), gt;
    float *mfreq = host_floats(D / 2), *tfreq = host_floats(m->fdim / 2);

    nn_weightf(ws, NN_DIMS(D, m->Dv, 1), "align_masked_video.conv.weight");
    cb = nn_weightf(ws, NN_DIMS(D), "align_masked_video.conv.bias");
    lw = nn_weightf(ws, NN_DIMS(D), "align_masked_video.layer_norm.weight");
    lb = nn_weightf(ws, NN_DIMS(D), "align_masked_video.layer_norm.bias");
    gt = gate(ws, "align_masked_video.gate");
    if (vconst != NULL && cb != NULL && lw != NULL && lb != NULL) {
        k_layernorm(m->k, cb, lw, lb, 1e-5f, vconst, 1, D);
        for (r = 0; r < D; r++)
            vconst[r] = gt * vconst[r];
    }
    emb = nn_weightf(ws, NN_DIMS(m->rows, m->A), "embed_anchors.embed.weight");
    apw = nn_weightf(ws, NN_DIMS(D, m->A), "embed_anchors.proj.weight");
    gt = gate(ws, "embed_anchors.gate");
    if (anchors != NULL && emb != NULL && apw != NULL) {
        k_matmul(m->k, emb, apw, NULL, anchors, m->rows, D, m->A);
        for (r = 0; r < m->rows * D; r++)
            anchors[r] = gt * anchors[r];
    }
    if (mfreq != NULL)
        inv_freq(mfreq, D / 2, 10000.0);
    if (tfreq != NULL)
        inv_freq(tfreq, m->fdim / 2, 10000.0);
    if (vconst == NULL || anchors == NULL || mfreq == NULL || tfreq == NULL)
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory");
    m->vconst = nn_weight_adopt(ws, vconst, D);
    m->anchors = nn_weight_adopt(ws, anchors, m->rows * D);
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
    load_swiglu(ws, pf, m->D, m->F, m->D, fc_bias, &l->ffn);
}

static int load_weights(dit_model *m, nn_weights *ws, int fc_bias, int t_block_bias,
                        char *err, size_t errlen)
{
    const char *xe = "transformer.x_embedder.block";
    int64_t C2 = m->C2, D = m->D;
    int i;

    load_proj(m, ws);
    load_constants(m, ws);
    m->mproj_w = nn_weightf(ws, NN_DIMS(D, m->Dt), "memory_proj.weight");
    m->mproj_b = nn_weightf(ws, NN_DIMS(D), "memory_proj.bias");
    load_swiglu(ws, "transformer.t_embedder.projection", m->fdim, D, D, fc_bias, &m->temb_w);
    load_swiglu(ws, "transformer.y_embedder.projection", D, D, D, fc_bias, &m->y_w);
    lin(ws, "transformer", "t_block", 6 * D, D, t_block_bias, &m->tblock_w, &m->tblock_b);
    m->gn1_w = nn_weightf(ws, NN_DIMS(D), "%s.block1.groupnorm.weight", xe);
    m->gn1_b = nn_weightf(ws, NN_DIMS(D), "%s.block1.groupnorm.bias", xe);
    m->cv1_w = nn_weightf(ws, NN_DIMS(D, D, 3), "%s.block1.project.weight", xe);
    m->cv1_b = nn_weightf(ws, NN_DIMS(D), "%s.block1.project.bias", xe);
    m->gn2_w = nn_weightf(ws, NN_DIMS(D), "%s.block2.groupnorm.weight", xe);
    m->gn2_b = nn_weightf(ws, NN_DIMS(D), "%s.block2.groupnorm.bias", xe);
    m->cv2_w = nn_weightf(ws, NN_DIMS(D, D, 3), "%s.block2.project.weight", xe);
    m->cv2_b = nn_weightf(ws, NN_DIMS(D), "%s.block2.project.bias", xe);
    m->fsst = nn_weightf(ws, NN_DIMS(2, D), "transformer.final_layer_scale_shift_table");
    m->norm_w = nn_weightf(ws, NN_DIMS(D), "transformer.norm.weight");
    lin(ws, "transformer", "output", C2, D, fc_bias, &m->out_w, &m->out_b);
    m->y_norm = m->context_norm
                    ? nn_weightf(ws, NN_DIMS(D), "transformer.y_embedder.norm.weight")
                    : NULL;
    for (i = 0; i < m->layers; i++)
        load_layer(m, ws, i, fc_bias);
    if (nn_weights_findf(ws, "transformer.layers.%d.scale_shift_table", m->layers) != NULL)
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT,
                        "the checkpoint has more DiT layers than n_layers = %d", m->layers);
    return nn_weights_status(ws, err, errlen);
}

/* ---- buffers ---------------------------------------------------------- */

static void free_buffers(dit_model *m)
{
    float **f[] = { &m->A_in, &m->mp, &m->te, &m->fe, &m->th1, &m->th3, &m->temb,
                    &m->tsil, &m->t0, &m->mods, &m->fmod, &m->mem, &m->yh1, &m->yh3,
                    &m->y, &m->h, &m->hc, &m->z1, &m->z2, &m->xn, &m->q, &m->kk,
                    &m->v, &m->qh, &m->kh, &m->att, &m->o, &m->f1, &m->f3, &m->rcos,
                    &m->rsin, &m->ode_f, &m->ode_y };
    size_t i;
    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
    free(m->fmask);
    free(m->tmask);
    free(m->arow);
    m->fmask = m->tmask = NULL;
    m->arow = NULL;
    m->capB = m->capT = m->capL = 0;
    m->have_cond = 0;
}

static float *fbuf(int64_t n)
{
    return malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
}

int dit_reserve(dit_model *m, int batch, int frames, int text_len, char *err,
                size_t errlen)
{
    int64_t B, T, L, S, D, BT, BS, scratch;
    k_conv1d_args ca;

    if (m == NULL || batch < 1 || frames < 1 || text_len < 1) {
        set_err(err, errlen, "dit_reserve: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    if (frames > m->max_pos) {
        set_err(err, errlen, "dit: %d latent frames exceed the model's max_positions %lld",
                frames, (long long)m->max_pos);
        return SAMSEP_ERR_INVALID;
    }
    B = batch > m->capB ? batch : m->capB;
    T = frames > m->capT ? frames : m->capT;
    L = text_len > m->capL ? text_len : m->capL;
    D = m->D;
    if (B * (T + L) > ((int64_t)1 << 40) / (m->F + 6 * D)) {
        set_err(err, errlen, "dit: %d x %d frames, %d tokens is too many", batch, frames,
                text_len);
        return SAMSEP_ERR_INVALID;
    }
    if (B != m->capB || T != m->capT || L != m->capL) {
        S = T > L ? T : L;
        BT = B * T;
        BS = B * S;
        free_buffers(m);
        m->A_in = fbuf(BT * D);
        m->mp = fbuf(B * L * D);
        m->fmask = malloc((size_t)BT);
        m->tmask = malloc((size_t)(B * L));
        m->arow = malloc((size_t)BT * sizeof *m->arow);
        m->te = fbuf(B * D);
        m->fe = fbuf(B * m->fdim);
        m->th1 = fbuf(B * D);
        m->th3 = fbuf(B * D);
        m->temb = fbuf(B * D);
        m->tsil = fbuf(B * D);
        m->t0 = fbuf(B * 6 * D);
        m->mods = fbuf(6 * B * D);
        m->fmod = fbuf(2 * B * D);
        m->mem = fbuf(B * L * D);
        m->yh1 = fbuf(B * L * D);
        m->yh3 = fbuf(B * L * D);
        m->y = fbuf(B * L * D);
        m->h = fbuf(BT * D);
        m->hc = fbuf(BT * D);
        m->z1 = fbuf(BT * D);
        m->z2 = fbuf(BT * D);
        m->xn = fbuf(BT * D);
        m->q = fbuf(BS * D);
        m->kk = fbuf(BS * D);
        m->v = fbuf(BS * D);
        m->qh = fbuf(BS * D);
        m->kh = fbuf(BS * D);
        m->att = fbuf(BT * D);
        m->o = fbuf(BT * D);
        m->f1 = fbuf(BT * m->F);
        m->f3 = fbuf(BT * m->F);
        m->rcos = fbuf(T * (m->hd / 2));
        m->rsin = fbuf(T * (m->hd / 2));
        m->ode_f = fbuf(BT * m->C2);
        m->ode_y = fbuf(BT * m->C2);
        if (m->A_in == NULL || m->mp == NULL || m->fmask == NULL || m->tmask == NULL ||
            m->arow == NULL || m->te == NULL || m->fe == NULL || m->th1 == NULL ||
            m->th3 == NULL || m->temb == NULL || m->tsil == NULL || m->t0 == NULL ||
            m->mods == NULL || m->fmod == NULL || m->mem == NULL || m->yh1 == NULL ||
            m->yh3 == NULL || m->y == NULL || m->h == NULL || m->hc == NULL ||
            m->z1 == NULL || m->z2 == NULL || m->xn == NULL || m->q == NULL ||
            m->kk == NULL || m->v == NULL || m->qh == NULL || m->kh == NULL ||
            m->att == NULL || m->o == NULL || m->f1 == NULL || m->f3 == NULL ||
            m->rcos == NULL || m->rsin == NULL || m->ode_f == NULL || m->ode_y == NULL) {
            free_buffers(m);
            set_err(err, errlen, "out of memory for %d x %d frames", batch, frames);
            return SAMSEP_ERR_NOMEM;
        }
        k_rope_table(m->rcos, m->rsin, T, m->hd, m->theta);
        m->capB = B;
        m->capT = T;
        m->capL = L;
    }
    /* per-worker scratch: attention over max(T, L) keys, the k=3 conv */
    memset(&ca, 0, sizeof ca);
    ca.B = m->capB;
    ca.Cin = D;
    ca.Lin = m->capT;
    ca.Cout = D;
    ca.K = 3;
    ca.stride = ca.dilation = ca.groups = 1;
    ca.pad_left = ca.pad_right = 1;
    ca.pad_mode = K_PAD_ZERO;
    scratch = (int64_t)k_attention_scratch(m->capT > m->capL ? m->capT : m->capL, m->hd);
    if ((int64_t)k_conv1d_scratch(&ca) > scratch)
        scratch = (int64_t)k_conv1d_scratch(&ca);
    if (kctx_reserve(m->k, (size_t)scratch) != SAMSEP_OK) {
        set_err(err, errlen, "out of memory for kernel scratch");
        return SAMSEP_ERR_NOMEM;
    }
    return SAMSEP_OK;
}

/* ---- open / close ----------------------------------------------------- */

int dit_open(nn_weights *ws, const struct cJSON *config, kctx *k,
             dit_model **out, char *err, size_t errlen)
{
    dit_model *m;
    int rc, fc_bias, t_block_bias;

    if (out == NULL || ws == NULL || config == NULL || k == NULL) {
        set_err(err, errlen, "dit_open: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    *out = NULL;
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    m->k = k;
    rc = parse_config(m, config, &fc_bias, &t_block_bias, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    m->lay = calloc((size_t)m->layers, sizeof *m->lay);
    if (m->lay == NULL) {
        set_err(err, errlen, "out of memory");
        rc = SAMSEP_ERR_NOMEM;
        goto fail;
    }
    rc = load_weights(m, ws, fc_bias, t_block_bias, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    /* one 10 s chunk of one item (250 frames at 25 Hz), a short prompt */
    rc = dit_reserve(m, 1, m->max_pos < 250 ? (int)m->max_pos : 250, 32, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    *out = m;
    return SAMSEP_OK;
fail:
    dit_close(m);
    return rc;
}

void dit_close(dit_model *m)
{
    if (m == NULL)
        return;
    free_buffers(m);
    free(m->lay);
    free(m);
}

int dit_dim(const dit_model *m) { return m == NULL ? 0 : (int)m->D; }
int dit_heads(const dit_model *m) { return m == NULL ? 0 : (int)m->H; }
int dit_layers(const dit_model *m) { return m == NULL ? 0 : m->layers; }
int dit_latent_channels(const dit_model *m) { return m == NULL ? 0 : (int)m->C2; }
int dit_text_dim(const dit_model *m) { return m == NULL ? 0 : (int)m->Dt; }
int dit_ffn_dim(const dit_model *m) { return m == NULL ? 0 : (int)m->F; }
int dit_max_frames(const dit_model *m) { return m == NULL ? 0 : (int)m->max_pos; }

void dit_set_tap(dit_model *m, dit_tap_fn tap, void *user)
{
    if (m == NULL)
        return;
    m->tap = tap;
    m->tap_user = user;
}

void dit_audio_features_from_codec(const float *f, int64_t B, int64_t C,
                                   int64_t T, float *out)
{
    int64_t b, c, t;
    for (b = 0; b < B; b++)
        for (t = 0; t < T; t++)
            for (c = 0; c < C; c++) {
                float x = f[(b * C + c) * T + t];
                out[(b * T + t) * 2 * C + c] = x;
                out[(b * T + t) * 2 * C + C + c] = x;
            }
}

void dit_latent_to_codec(const float *g, int64_t B, int64_t T, int64_t C,
                         float *out)
{
    int64_t b, c, t, h;
    for (b = 0; b < B; b++)
        for (h = 0; h < 2; h++)
            for (c = 0; c < C; c++)
                for (t = 0; t < T; t++)
                    out[((2 * b + h) * C + c) * T + t] = g[(b * T + t) * 2 * C + h * C + c];
}

/* ---- conditioning ----------------------------------------------------- */

int dit_condition(dit_model *m, const dit_inputs *in, char *err,
                  size_t errlen)
{
    int64_t B, T, L, b, t, D;
    int rc;

    if (m == NULL || in == NULL || in->audio_features == NULL ||
        in->text_features == NULL || in->batch < 1 || in->frames < 1 ||
        in->text_len < 1) {
        set_err(err, errlen, "dit_condition: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    B = in->batch;
    T = in->frames;
    L = in->text_len;
    for (b = 0; b < B; b++) {
        if (in->valid_frames != NULL &&
            (in->valid_frames[b] < 1 || in->valid_frames[b] > T)) {
            set_err(err, errlen, "dit_condition: item %lld has %d valid frames, not 1..%lld",
                    (long long)b, in->valid_frames[b], (long long)T);
            return SAMSEP_ERR_INVALID;
        }
        if (in->text_lengths != NULL &&
            (in->text_lengths[b] < 1 || in->text_lengths[b] > L)) {
            set_err(err, errlen, "dit_condition: item %lld has %d text tokens, not 1..%lld",
                    (long long)b, in->text_lengths[b], (long long)L);
            return SAMSEP_ERR_INVALID;
        }
    }
    m->have_cond = 0;
    rc = dit_reserve(m, in->batch, in->frames, in->text_len, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    D = m->D;
    m->B = B;
    m->T = T;
    m->L = L;
    /* A = audio_features Wa^T + proj.bias                       [B*T, D] */
    k_matmul(m->k, in->audio_features, m->Wa, m->proj_b, m->A_in, B * T, D, m->C2);
    /* mp = memory_proj(text_features)                           [B*L, D] */
    k_matmul(m->k, in->text_features, m->mproj_w, m->mproj_b, m->mp, B * L, D, m->Dt);
    for (b = 0; b < B; b++) {
        int64_t nv = in->valid_frames != NULL ? in->valid_frames[b] : T;
        int64_t nl = in->text_lengths != NULL ? in->text_lengths[b] : L;
        for (t = 0; t < T; t++) {
            m->fmask[b * T + t] = t < nv;
            /* anchor_ids [<null> = 0, <pad> = num_anchors], aligned by pad */
            m->arow[b * T + t] = t < nv ? 0 : (int32_t)(m->rows - 1);
        }
        for (t = 0; t < L; t++)
            m->tmask[b * L + t] = t < nl;
    }
    m->have_cond = 1;
    return SAMSEP_OK;
}

/* ---- forward ---------------------------------------------------------- */

static void tapn(dit_model *m, const char *name, const float *d, int ndim,
                 int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t s[4] = { d0, d1, d2, d3 };
    m->tap(m->tap_user, name, d, ndim, s);
}

static void tapl(dit_model *m, int layer, const char *what, const float *d,
                 int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    char nm[64];
    snprintf(nm, sizeof nm, "layer%d_%s", layer, what);
    tapn(m, nm, d, ndim, d0, d1, d2, d3);
}

#define TAP(name, d, nd, a, b, c, e)                       \
    do {                                                   \
        if (m->tap != NULL)                                \
            tapn(m, name, d, nd, a, b, c, e);              \
    } while (0)
#define TAPL(i, name, d, nd, a, b, c, e)                   \
    do {                                                   \
        if (m->tap != NULL)                                \
            tapl(m, i, name, d, nd, a, b, c, e);           \
    } while (0)

/* out[M, Dout] = w2(silu(w1 x) * w3 x); h1, h3 [M, hid] scratch */
static void swiglu(kctx *k, const swiglu_w *s, const float *x, float *h1,
                   float *h3, float *out, int64_t M, int64_t in, int64_t hid,
                   int64_t dout)
{
    k_matmul(k, x, s->w1, s->b1, h1, M, hid, in);
    k_matmul(k, x, s->w3, s->b3, h3, M, hid, in);
    k_silu(k, h1, h1, M * hid);
    k_mul(k, h1, h3, h1, M * hid);
    k_matmul(k, h1, s->w2, s->b2, out, M, dout, hid);
}

/* Sinusoid cat(cos(t f), sin(t f)) of `half` frequencies, for B items. */
static void sinusoid(const float *f, int64_t half, float t, float *out,
                     int64_t B)
{
    int64_t b, i;
    for (b = 0; b < B; b++)
        for (i = 0; i < half; i++) {
            float a = t * f[i];
            out[b * 2 * half + i] = cosf(a);
            out[b * 2 * half + half + i] = sinf(a);
        }
}

/*
 * Project x [B*S, D] with wq/wk into split heads [B, S, H, hd], RMS-normed
 * per head: p = x W^T (+b) (interleaved heads), ph = its heads.
 */
static void heads(dit_model *m, const float *x, const float *W,
                  const float *bias, const float *norm, float *p, float *ph,
                  int64_t BS)
{
    k_matmul(m->k, x, W, bias, p, BS, m->D, m->D);
    /* per frame [hd, H] -> [H, hd] */
    k_transpose(m->k, p, ph, BS, m->hd, m->H);
    if (norm != NULL)
        k_rmsnorm(m->k, ph, norm, m->eps, ph, BS * m->H, m->hd);
}

int dit_forward(dit_model *m, const float *x, float t, float *vout)
{
    int64_t B, T, L, D, H, hd, F, BT, BL, b, s, i;
    k_strides sh_T, sh_L;
    k_attn_args aa;
    k_conv1d_args ca;
    int li, rc;

    if (m == NULL || x == NULL || vout == NULL || !m->have_cond)
        return SAMSEP_ERR_INVALID;
    B = m->B;
    T = m->T;
    L = m->L;
    D = m->D;
    H = m->H;
    hd = m->hd;
    F = m->F;
    BT = B * T;
    BL = B * L;
    /* split heads [B, S, H, hd]: (b, h, t, j) */
    sh_T.b = T * D;
    sh_T.h = hd;
    sh_T.t = D;
    sh_T.j = 1;
    sh_L = sh_T;
    sh_L.b = L * D;

    /* ---- input: h = proj(cat(x, 0, a)) + video + anchors    [B, T, D] */
    memcpy(m->h, m->A_in, (size_t)(BT * D) * sizeof(float));
    k_matmul_ex(m->k, x, m->C2, m->Wn, NULL, m->h, D, BT, D, m->C2, 1.0f);
    TAP("proj_out", m->h, 3, B, T, D, 0);
    for (s = 0; s < BT; s++)
        for (i = 0; i < D; i++)
            m->h[s * D + i] += m->vconst[i];
    TAP("align_masked_video_out", m->h, 3, B, T, D, 0);
    for (s = 0; s < BT; s++) {
        const float *an = m->anchors + (int64_t)m->arow[s] * D;
        for (i = 0; i < D; i++)
            m->h[s * D + i] += an[i];
    }
    TAP("aligned_inputs", m->h, 3, B, T, D, 0);

    /* ---- memory = memory_proj(text) + te(t); y = SwiGLU_y       [B, L, D] */
    sinusoid(m->mfreq, D / 2, t, m->te, B);                       /* [B, D] */
    TAP("timestep_emb", m->te, 2, B, D, 0, 0);
    for (b = 0; b < B; b++)
        for (s = 0; s < L; s++)
            for (i = 0; i < D; i++)
                m->mem[(b * L + s) * D + i] = m->mp[(b * L + s) * D + i] + m->te[b * D + i];
    TAP("memory", m->mem, 3, B, L, D, 0);
    if (m->y_norm != NULL)
        k_rmsnorm(m->k, m->mem, m->y_norm, m->eps, m->mem, BL, D);
    swiglu(m->k, &m->y_w, m->mem, m->yh1, m->yh3, m->y, BL, D, D, D);
    TAP("dit_y", m->y, 3, B, L, D, 0);

    /* ---- temb = SwiGLU_t(freq(t)); t0 = t_block(silu(temb)) */
    sinusoid(m->tfreq, m->fdim / 2, t, m->fe, B);                 /* [B, fdim] */
    swiglu(m->k, &m->temb_w, m->fe, m->th1, m->th3, m->temb, B, m->fdim, D, D);
    TAP("dit_t_emb", m->temb, 2, B, D, 0, 0);
    k_silu(m->k, m->temb, m->tsil, B * D);
    k_matmul(m->k, m->tsil, m->tblock_w, m->tblock_b, m->t0, B, 6 * D, D); /* [B, 6D] */
    TAP("dit_t0", m->t0, 2, B, 6 * D, 0, 0);

    /* ---- x_embedder: h += conv3(silu(GN(conv3(silu(GN(h)))))), channel-first */
    memset(&ca, 0, sizeof ca);
    ca.B = B;
    ca.Cin = D;
    ca.Lin = T;
    ca.Cout = D;
    ca.K = 3;
    ca.stride = ca.dilation = ca.groups = 1;
    ca.pad_left = ca.pad_right = 1;
    ca.pad_mode = K_PAD_ZERO;
    k_transpose(m->k, m->h, m->hc, B, T, D);                      /* [B, D, T] */
    rc = k_groupnorm(m->k, m->hc, m->gn1_w, m->gn1_b, 1e-5f, m->z1, B, D, T, 1);
    k_silu(m->k, m->z1, m->z1, BT * D);
    rc |= k_conv1d(m->k, &ca, m->z1, m->cv1_w, m->cv1_b, m->z2);
    rc |= k_groupnorm(m->k, m->z2, m->gn2_w, m->gn2_b, 1e-5f, m->z2, B, D, T, 1);
    k_silu(m->k, m->z2, m->z2, BT * D);
    rc |= k_conv1d(m->k, &ca, m->z2, m->cv2_w, m->cv2_b, m->z1);
    if (rc != SAMSEP_OK)
        return SAMSEP_ERR_INVALID;
    k_add(m->k, m->z1, m->hc, m->z1, BT * D);                     /* [B, D, T] */
    TAP("dit_x_embedder_out_BCT", m->z1, 3, B, D, T, 0);
    k_transpose(m->k, m->z1, m->h, B, D, T);                      /* [B, T, D] */

    /* ---- layers */
    memset(&aa, 0, sizeof aa);
    aa.B = B;
    aa.H = H;
    aa.dh = hd;
    aa.Lq = T;
    aa.scale = 1.0f / sqrtf((float)hd);
    aa.out = m->att;
    aa.out_s = k_strides_head_major(T, H, hd);
    for (li = 0; li < m->layers; li++) {
        const dit_layer *l = &m->lay[li];
        const float *sh_msa, *sc_msa, *g_msa, *sh_mlp, *sc_mlp, *g_mlp;
        /* mods[k][b] = sst[k] + t0[b, kD:(k+1)D]                     [6, B, D] */
        for (s = 0; s < 6; s++)
            for (b = 0; b < B; b++)
                for (i = 0; i < D; i++)
                    m->mods[(s * B + b) * D + i] =
                        l->sst[s * D + i] + m->t0[b * 6 * D + s * D + i];
        sh_msa = m->mods;
        sc_msa = m->mods + B * D;
        g_msa = m->mods + 2 * B * D;
        sh_mlp = m->mods + 3 * B * D;
        sc_mlp = m->mods + 4 * B * D;
        g_mlp = m->mods + 5 * B * D;

        /* self-attention on mod(RMS(h), shift, scale)                [B, T, D] */
        k_rmsnorm(m->k, m->h, l->attn_norm, m->eps, m->xn, BT, D);
        k_modulate(m->k, m->xn, sh_msa, sc_msa, m->xn, B, T, D);
        TAPL(li, "attn_in", m->xn, 3, B, T, D, 0);
        heads(m, m->xn, l->self.wq, l->self.bq, l->self.q_norm, m->q, m->qh, BT);
        heads(m, m->xn, l->self.wk, l->self.bk, l->self.k_norm, m->kk, m->kh, BT);
        k_matmul(m->k, m->xn, l->self.wv, l->self.bv, m->v, BT, D, D);
        TAPL(li, "wq_out", m->q, 3, B, T, D, 0);
        TAPL(li, "wk_out", m->kk, 3, B, T, D, 0);
        TAPL(li, "wv_out", m->v, 3, B, T, D, 0);
        TAPL(li, "q_normed", m->qh, 4, B, T, H, hd);
        TAPL(li, "k_normed", m->kh, 4, B, T, H, hd);
        if (m->use_rope) {
            k_rope(m->k, m->qh, sh_T, B, H, T, hd, m->rcos, m->rsin);
            k_rope(m->k, m->kh, sh_T, B, H, T, hd, m->rcos, m->rsin);
        }
        TAPL(li, "q_rope", m->qh, 4, B, T, H, hd);
        TAPL(li, "k_rope", m->kh, 4, B, T, H, hd);
        aa.Lk = T;
        aa.q = m->qh;
        aa.k = m->kh;
        aa.v = m->v;
        aa.q_s = sh_T;
        aa.k_s = sh_T;
        aa.v_s = k_strides_interleaved(T, H, hd);
        aa.key_mask = m->fmask;
        if (k_attention(m->k, &aa) != SAMSEP_OK)
            return SAMSEP_ERR_INVALID;
        TAPL(li, "sdpa_out_BTC", m->att, 3, B, T, D, 0);
        k_matmul(m->k, m->att, l->self.wo, l->self.bo, m->o, BT, D, D);
        TAPL(li, "attn_out", m->o, 3, B, T, D, 0);
        k_add_gated(m->k, m->o, g_msa, m->h, B, T, D);
        TAPL(li, "cross_in", m->h, 3, B, T, D, 0);

        /* cross-attention: q from h (no norm, no modulation), k/v from y */
        heads(m, m->h, l->cross.wq, l->cross.bq, l->cross.q_norm, m->q, m->qh, BT);
        heads(m, m->y, l->cross.wk, l->cross.bk, l->cross.k_norm, m->kk, m->kh, BL);
        k_matmul(m->k, m->y, l->cross.wv, l->cross.bv, m->v, BL, D, D);
        aa.Lk = L;
        aa.q = m->qh;
        aa.k = m->kh;
        aa.v = m->v;
        aa.q_s = sh_T;
        aa.k_s = sh_L;
        aa.v_s = k_strides_interleaved(L, H, hd);
        aa.key_mask = m->tmask;
        if (k_attention(m->k, &aa) != SAMSEP_OK)
            return SAMSEP_ERR_INVALID;
        k_matmul(m->k, m->att, l->cross.wo, l->cross.bo, m->o, BT, D, D);
        TAPL(li, "cross_out", m->o, 3, B, T, D, 0);
        k_add(m->k, m->h, m->o, m->h, BT * D);

        /* feed-forward on mod(RMS(h), shift, scale), gated residual */
        k_rmsnorm(m->k, m->h, l->ffn_norm, m->eps, m->xn, BT, D);
        k_modulate(m->k, m->xn, sh_mlp, sc_mlp, m->xn, B, T, D);
        TAPL(li, "ffn_in", m->xn, 3, B, T, D, 0);
        swiglu(m->k, &l->ffn, m->xn, m->f1, m->f3, m->o, BT, D, F, D);
        TAPL(li, "ffn_out", m->o, 3, B, T, D, 0);
        k_add_gated(m->k, m->o, g_mlp, m->h, B, T, D);
        TAPL(li, "out", m->h, 3, B, T, D, 0);
    }

    /* ---- final: output(mod(RMS(h), fsst[0] + temb, fsst[1] + temb)) */
    for (b = 0; b < B; b++)
        for (i = 0; i < D; i++) {
            m->fmod[b * D + i] = m->fsst[i] + m->temb[b * D + i];
            m->fmod[(B + b) * D + i] = m->fsst[D + i] + m->temb[b * D + i];
        }
    k_rmsnorm(m->k, m->h, m->norm_w, m->eps, m->xn, BT, D);
    TAP("final_norm_out", m->xn, 3, B, T, D, 0);
    k_modulate(m->k, m->xn, m->fmod, m->fmod + B * D, m->xn, B, T, D);
    TAP("final_modulated", m->xn, 3, B, T, D, 0);
    k_matmul(m->k, m->xn, m->out_w, m->out_b, vout, BT, m->C2, D); /* [B, T, 2C] */
    TAP("out", vout, 3, B, T, m->C2, 0);
    return SAMSEP_OK;
}

/* ---- ODE -------------------------------------------------------------- */

/*
 * torchdiffeq's fixed-grid midpoint method on the grid t_k = k*dt:
 *   f0 = F(t_k, y); y_mid = y + f0 * (dt/2); y = y + dt * F(t_k + dt/2, y_mid)
 * with torch's float32 operation order (dt = 1/steps; exact for 16 steps).
 */
int dit_ode_solve(dit_model *m, const float *noise, int steps, float *out,
                  dit_nfe_fn cb, void *user)
{
    int64_t n, i;
    float dt, half, t0;
    float *y, *f, *ym;
    int k, rc;

    if (m == NULL || noise == NULL || out == NULL || !m->have_cond || steps < 1)
        return SAMSEP_ERR_INVALID;
    n = m->B * m->T * m->C2;
    y = m->ode_y;
    f = m->ode_f;
    ym = out;           /* y_mid lives in out until the last step */
    memmove(y, noise, (size_t)n * sizeof *y);
    dt = 1.0f / (float)steps;
    half = 0.5f * dt;
    for (k = 0; k < steps; k++) {
        t0 = (float)k * dt;
        if ((rc = dit_forward(m, y, t0, f)) != SAMSEP_OK)
            return rc;
        if (cb != NULL && cb(user, 2 * k, t0, y, f) != 0)
            return SAMSEP_ERR_CANCELLED;
        for (i = 0; i < n; i++)
            ym[i] = y[i] + f[i] * half;
        if ((rc = dit_forward(m, ym, t0 + half, f)) != SAMSEP_OK)
            return rc;
        if (cb != NULL && cb(user, 2 * k + 1, t0 + half, ym, f) != 0)
            return SAMSEP_ERR_CANCELLED;
        for (i = 0; i < n; i++)
            y[i] = y[i] + dt * f[i];
    }
    memcpy(out, y, (size_t)n * sizeof *y);
    return SAMSEP_OK;
}
