/*
 * dacvae.c - the DAC-VAE codec (dacvae.h) on the kernels of nn.h.
 *
 * Opening walks the checkpoint's tensor names the way dacvae builds its
 * modules - encoder.block.<i>, decoder.model.<i>.block.<j>, the watermark's
 * wm_model.* - takes every size from the tensor shapes, checks that
 * neighbouring layers agree, and loads the weights through nn_weight(),
 * folding weight norm (w = v * g / ||v||, the norm over all dims but the
 * first: per output channel of a Conv1d, per INPUT channel of a
 * ConvTranspose1d, whose weight is [C_in, C_out, K]).
 *
 * The forward passes run one batch row at a time over three working
 * buffers of one row's largest activation (grown at the start of a call,
 * never inside it), channel-first [C, L]; `x` always holds the current
 * activation and the two others are temporaries, swapped by pointer:
 *
 *   encode:  x = reflect_pad(wav)                     [1, T*hop]
 *            x = conv7(x)                             [d0, L]
 *            per EncoderBlock (stride s):
 *              x = RU_d(x), d = 1, 3, 9               [c, L]
 *              x = conv_2s/s(snake(x))                [2c, L/s]
 *            x = conv3(snake(x))                      [latent, T]
 *            q = in_proj(x)                           [2C, T]
 *            features = q[0:C]                        [C, T]
 *   RU_d(x) = x + conv1(snake(conv7_dil_d(snake(x))))
 *
 *   decode:  x = conv7(out_proj(f))                   [D, T]
 *            per DecoderBlock (stride s):
 *              x = convT_2s/s(snake(x))               [c/2, L*s]
 *              x = RU_d(x), d = 1, 3, 9
 *            watermark (N = T*hop samples, n = N / prod(wm strides)):
 *              w = tanh(conv7(snake(x)))              [1, N]  (kept)
 *              h = causal_conv7(w)                    [wm_ch, N]
 *              per block, last to first:
 *                h = causal_conv_2w/w(elu(RUe(h)))    [.., L/w]
 *              h = causal_conv7(elu(LSTM(h) + h))     [d_wm_out, n]
 *              h += sum_k emb[2k + bit_k]
 *              h = LSTM(g) + g, g = causal_conv7(h)   [hidden, n]
 *              per block, first to last:
 *                h = RUe(causal_convT_2w/w(elu(h)))   [.., L*w]
 *              h = causal_conv7(elu(h))               [1, N]
 *            wav = w + (wm_ch / d_wm_out) * h
 *   RUe(x) = x + conv1(elu(causal_conv3(elu(x))))
 *
 * "causal" convs pad on the left by (K-1)*dil + 1 - stride and on the
 * right by what makes the last window complete (dacvae's "auto" pad mode);
 * causal transposed convs drop their last K - stride samples.
 */
#include "engine/sam/dacvae.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/weights.h"

#define MAX_BLOCKS 16
#define MAX_LSTM_LAYERS 8
#define NAME_LEN 256

typedef enum pad_kind {
    PAD_SAME,  /* dacvae pad_mode "none": (K - stride) * dil / 2 both sides */
    PAD_CAUSAL /* pad_mode "auto", causal */
} pad_kind;

typedef struct conv {
    nn_w w;         /* [cout, cin, k], the model's precision */
    const float *b; /* [cout] */
    int64_t cin, cout, k, stride, dil;
    pad_kind pad;
} conv;

typedef struct convt {
    nn_w w;         /* [cin, cout, k], the model's precision */
    const float *b; /* [cout] */
    int64_t cin, cout, k, stride;
    int causal; /* 1: no padding, drop the last k - stride samples */
} convt;

typedef struct snake {
    const float *alpha; /* [ch] */
    int64_t ch;
} snake;

typedef struct res_unit { /* x + c2(s2(c1(s1(x)))) */
    snake s1, s2;
    conv c1, c2;
} res_unit;

typedef struct res_elu { /* x + c2(elu(c1(elu(x)))) */
    conv c1, c2;
} res_elu;

typedef struct enc_block {
    res_unit ru[3];
    snake s;
    conv down;
} enc_block;

typedef struct dec_block {
    snake s;          /* block.0 */
    convt up;         /* block.1 */
    res_unit ru[3];   /* block.4, .5, .8 */
    convt wm_up;      /* block.3: watermark decoder chain */
    res_elu wm_ru_up; /* block.6 */
    res_elu wm_ru_dn; /* block.7: watermark encoder chain */
    conv wm_dn;       /* block.11 */
} dec_block;

typedef struct lstm {
    int layers;
    int64_t hidden;
    const float *w_ih[MAX_LSTM_LAYERS], *w_hh[MAX_LSTM_LAYERS]; /* [4H, H] */
    const float *b_ih[MAX_LSTM_LAYERS], *b_hh[MAX_LSTM_LAYERS]; /* [4H] */
} lstm;

struct dacvae_model {
    nn_ctx *wk; /* the context the weights were placed for */

    /* sizes */
    int64_t hop, up, wm_down; /* encoder, decoder, watermark products */
    int64_t C, latent, enc_dim0, dec_dim, dec_out, wm_ch, hidden, d_wm, bits;
    int n_enc, n_dec;
    float alpha;

    /* encoder */
    conv enc_in;
    enc_block enc[MAX_BLOCKS];
    snake enc_snake;
    conv enc_out, in_proj;

    /* decoder */
    conv out_proj, dec_in;
    dec_block dec[MAX_BLOCKS];

    /* watermark */
    snake wm_pre_snake;
    conv wm_pre_conv, wm_pre_conv2, wm_post_conv, wm_dec_pre, wm_dec_post;
    lstm wm_enc_lstm, wm_dec_lstm;
    const float *msg_emb; /* [2 * bits, d_wm] */
};

struct dacvae_state {
    const dacvae_model *m;
    nn_ctx *k;

    /* working memory (the backend's), grown per call */
    size_t cap; /* floats in each of buf[0..2] */
    float *buf[3];
    size_t cap_keep;
    float *keep;      /* [N] watermark forward_no_conv */
    float *lstm_work; /* nn_lstm_work_floats(1, hidden) */
    float *msg_rows;  /* [bits, d_wm] the message's embedding rows */
    float *msg_vec;   /* [d_wm] their sum */
    int32_t *msg_ids; /* [bits] row of each bit: 2 i + bit */
    int32_t *hids;    /* host staging of msg_ids */

    dacvae_tap_fn tap;
    void *tap_user;
};

/* ---- loading ------------------------------------------------------------ */

#define TRY(e)                \
    do {                      \
        int rc_ = (e);        \
        if (rc_ != SAMSEP_OK) \
            return rc_;       \
    } while (0)

typedef struct loader {
    nn_weights *ws;     /* names relative to the codec's prefix */
    const char *prefix; /* for messages */
    dacvae_model *c;
    char *err;
    size_t errlen;
} loader;

static const nn_tensor *find(loader *ld, char *name, const char *fmt, ...)
    SAMSEP_PRINTF(3, 4);
/* The tensor named by fmt, or NULL; its name (without the prefix) is left
 * in name[NAME_LEN]. */
static const nn_tensor *find(loader *ld, char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, NAME_LEN, fmt, ap);
    va_end(ap);
    return nn_weights_find(ld->ws, name);
}

static nn_dims dims_of(const nn_tensor *t)
{
    nn_dims d;
    int i;
    d.n = t->ndim;
    for (i = 0; i < t->ndim; i++)
        d.d[i] = t->shape[i];
    return d;
}

/* The tensor t found as `name` as float32 weight memory: in place, or a
 * converted copy. Error from the loader when NULL. */
static int take(loader *ld, const char *name, const nn_tensor *t, const float **out)
{
    *out = nn_weight(ld->ws, name, dims_of(t), NN_F32);
    return *out != NULL ? SAMSEP_OK : nn_weights_status(ld->ws, ld->err, ld->errlen);
}

static int missing(loader *ld, const char *name)
{
    set_err(ld->err, ld->errlen, "tensor %s%s missing", ld->prefix, name);
    return SAMSEP_ERR_FORMAT;
}

static int bad_shape(loader *ld, const char *name, const nn_tensor *t)
{
    char s[128];
    size_t n = 0;
    int i;
    s[0] = '\0';
    for (i = 0; i < t->ndim && n < sizeof s - 24; i++)
        n += (size_t)snprintf(s + n, sizeof s - n, "%s%lld", i ? ", " : "",
                              (long long)t->shape[i]);
    set_err(ld->err, ld->errlen, "tensor %s has an unexpected shape [%s]",
            t->name != NULL ? t->name : name, s);
    return SAMSEP_ERR_FORMAT;
}

/* Check a 3-d tensor against [d0, d1, d2]; -1 accepts any size >= 1. */
static int shape3(const nn_tensor *t, const int64_t want[3])
{
    int i;
    if (t->ndim != 3)
        return 0;
    for (i = 0; i < 3; i++)
        if (t->shape[i] < 1 || (want[i] >= 0 && t->shape[i] != want[i]))
            return 0;
    return 1;
}

/* v * (g / ||v||) per row of v [n0, rest], the norm in float32 as torch. */
static void fold_weight_norm(float *v, const float *g, int64_t n0, int64_t rest)
{
    int64_t i, j;
    for (i = 0; i < n0; i++) {
        float *r = v + i * rest, s;
        double ss = 0.0;
        for (j = 0; j < rest; j++)
            ss += (double)r[j] * (double)r[j];
        s = g[i] / (float)sqrt(ss);
        for (j = 0; j < rest; j++)
            r[j] *= s;
    }
}

/*
 * The weight [d0, d1, d2] of module `name`: plain "weight", or weight norm
 * ("weight_g" [d0,1,1] + "weight_v", or parametrizations.weight.original0/1)
 * folded (in float32, before any rounding to the model's precision). dims:
 * wanted sizes (-1 = any), filled in on return.
 */
static int load_weight(loader *ld, const char *name, int64_t dims[3], nn_w *out)
{
    char wn[NAME_LEN], gn[NAME_LEN];
    const nn_tensor *w = find(ld, wn, "%s.weight", name), *g = NULL;
    float *v, *gv;
    int i;

    if (w == NULL) {
        g = find(ld, gn, "%s.weight_g", name);
        w = find(ld, wn, "%s.weight_v", name);
        if (g == NULL || w == NULL) {
            g = find(ld, gn, "%s.parametrizations.weight.original0", name);
            w = find(ld, wn, "%s.parametrizations.weight.original1", name);
        }
        if (g == NULL || w == NULL) {
            snprintf(wn, sizeof wn, "%s.weight", name);
            return missing(ld, wn);
        }
    }
    if (!shape3(w, dims))
        return bad_shape(ld, name, w);
    for (i = 0; i < 3; i++)
        dims[i] = w->shape[i];
    if (g == NULL) {
        *out = nn_wmat(ld->ws, dims_of(w), "%s", wn);
        return out->data != NULL ? SAMSEP_OK
                                 : nn_weights_status(ld->ws, ld->err, ld->errlen);
    }
    if (g->numel != dims[0] || g->shape[0] != dims[0])
        return bad_shape(ld, name, g);
    v = nn_weight_host(ld->ws, wn, dims_of(w));
    gv = nn_weight_host(ld->ws, gn, dims_of(g));
    if (v != NULL && gv != NULL)
        fold_weight_norm(v, gv, dims[0], dims[1] * dims[2]);
    free(gv);
    *out = nn_wmat_adopt(ld->ws, v, w->numel);
    return out->data != NULL ? SAMSEP_OK : nn_weights_status(ld->ws, ld->err, ld->errlen);
}

static int load_vec(loader *ld, const char *name, const char *what, int64_t n,
                    const float **out)
{
    char nm[NAME_LEN];
    const nn_tensor *t = find(ld, nm, "%s.%s", name, what);
    if (t == NULL)
        return missing(ld, nm);
    if (t->numel != n || t->ndim < 1 || t->shape[0] != n)
        return bad_shape(ld, nm, t);
    return take(ld, nm, t, out);
}

/* Conv1d weight [cout, cin, k] + bias; -1 = size from the tensor. */
static int load_conv(loader *ld, conv *cv, const char *name, int64_t cout, int64_t cin,
                     int64_t k, int64_t stride, int64_t dil, pad_kind pad)
{
    int64_t d[3] = { cout, cin, k };
    int rc = load_weight(ld, name, d, &cv->w);
    if (rc != SAMSEP_OK)
        return rc;
    cv->cout = d[0];
    cv->cin = d[1];
    cv->k = d[2];
    cv->stride = stride > 0 ? stride : 1;
    cv->dil = dil;
    cv->pad = pad;
    return load_vec(ld, name, "bias", cv->cout, &cv->b);
}

/* ConvTranspose1d weight [cin, cout, k] + bias, stride k/2 (k even). */
static int load_convt(loader *ld, convt *ct, const char *name, int64_t cin, int64_t cout,
                      int causal)
{
    int64_t d[3] = { cin, cout, -1 };
    int rc = load_weight(ld, name, d, &ct->w);
    if (rc != SAMSEP_OK)
        return rc;
    ct->cin = d[0];
    ct->cout = d[1];
    ct->k = d[2];
    if (ct->k % 2 != 0) {
        set_err(ld->err, ld->errlen, "%s%s: kernel %lld is not twice a stride",
                ld->prefix, name, (long long)ct->k);
        return SAMSEP_ERR_FORMAT;
    }
    ct->stride = ct->k / 2;
    ct->causal = causal;
    return load_vec(ld, name, "bias", ct->cout, &ct->b);
}

static int load_snake(loader *ld, snake *s, const char *name, int64_t ch)
{
    char nm[NAME_LEN];
    const nn_tensor *t = find(ld, nm, "%s.alpha", name);
    if (t == NULL)
        return missing(ld, nm);
    if (t->ndim != 3 || t->shape[0] != 1 || t->shape[2] != 1 ||
        (ch >= 0 && t->shape[1] != ch) || t->shape[1] < 1)
        return bad_shape(ld, nm, t);
    s->ch = t->shape[1];
    return take(ld, nm, t, &s->alpha);
}

/* The Snake residual unit `name` on dim channels, dilation dil. */
static int load_ru(loader *ld, res_unit *ru, const char *name, int64_t dim, int64_t dil)
{
    char nm[NAME_LEN];
    snprintf(nm, sizeof nm, "%s.block.0", name);
    TRY(load_snake(ld, &ru->s1, nm, dim));
    snprintf(nm, sizeof nm, "%s.block.1", name);
    TRY(load_conv(ld, &ru->c1, nm, -1, dim, -1, 1, dil, PAD_SAME));
    snprintf(nm, sizeof nm, "%s.block.2", name);
    TRY(load_snake(ld, &ru->s2, nm, ru->c1.cout));
    snprintf(nm, sizeof nm, "%s.block.3", name);
    TRY(load_conv(ld, &ru->c2, nm, dim, ru->c1.cout, 1, 1, 1, PAD_SAME));
    return SAMSEP_OK;
}

/* The ELU residual unit (causal, true skip) `name` on dim channels. */
static int load_ru_elu(loader *ld, res_elu *ru, const char *name, int64_t dim)
{
    char nm[NAME_LEN];
    snprintf(nm, sizeof nm, "%s.block.1", name);
    TRY(load_conv(ld, &ru->c1, nm, -1, dim, -1, 1, 1, PAD_CAUSAL));
    snprintf(nm, sizeof nm, "%s.block.3", name);
    TRY(load_conv(ld, &ru->c2, nm, dim, ru->c1.cout, 1, 1, 1, PAD_CAUSAL));
    return SAMSEP_OK;
}

static int load_lstm(loader *ld, lstm *m, const char *name, int64_t hidden)
{
    char nm[NAME_LEN];
    int l;
    for (l = 0; l < MAX_LSTM_LAYERS; l++)
        if (find(ld, nm, "%s.weight_ih_l%d", name, l) == NULL)
            break;
    if (l == 0) {
        snprintf(nm, sizeof nm, "%s.weight_ih_l0", name);
        return missing(ld, nm);
    }
    m->layers = l;
    m->hidden = hidden;
    for (l = 0; l < m->layers; l++) {
        const nn_tensor *t;
        const char *what[2] = { "weight_ih", "weight_hh" };
        const float **dst[2] = { &m->w_ih[l], &m->w_hh[l] };
        int i;
        for (i = 0; i < 2; i++) {
            t = find(ld, nm, "%s.%s_l%d", name, what[i], l);
            if (t == NULL)
                return missing(ld, nm);
            /* LSTM(hidden, hidden): the block adds its input back */
            if (t->ndim != 2 || t->shape[0] != 4 * hidden || t->shape[1] != hidden)
                return bad_shape(ld, nm, t);
            TRY(take(ld, nm, t, dst[i]));
        }
        snprintf(nm, sizeof nm, "bias_ih_l%d", l);
        TRY(load_vec(ld, name, nm, 4 * hidden, &m->b_ih[l]));
        snprintf(nm, sizeof nm, "bias_hh_l%d", l);
        TRY(load_vec(ld, name, nm, 4 * hidden, &m->b_hh[l]));
    }
    return SAMSEP_OK;
}

static int fmt_err(loader *ld, const char *what, long long got, long long want)
{
    set_err(ld->err, ld->errlen, "%s is %lld, expected %lld", what, got, want);
    return SAMSEP_ERR_FORMAT;
}

static int load_encoder(loader *ld)
{
    dacvae_model *c = ld->c;
    char nm[NAME_LEN];
    int64_t dim;
    int i, r;
    static const int64_t dils[3] = { 1, 3, 9 };

    TRY(load_conv(ld, &c->enc_in, "encoder.block.0", -1, 1, -1, 1, 1, PAD_SAME));
    dim = c->enc_in.cout;
    c->enc_dim0 = dim;
    c->hop = 1;
    for (i = 1; find(ld, nm, "encoder.block.%d.block.4.bias", i) != NULL; i++) {
        enc_block *eb;
        int64_t s;
        if (i > MAX_BLOCKS)
            return fmt_err(ld, "the number of encoder blocks", i, MAX_BLOCKS);
        eb = &c->enc[i - 1];
        for (r = 0; r < 3; r++) {
            snprintf(nm, sizeof nm, "encoder.block.%d.block.%d", i, r);
            TRY(load_ru(ld, &eb->ru[r], nm, dim, dils[r]));
        }
        snprintf(nm, sizeof nm, "encoder.block.%d.block.3", i);
        TRY(load_snake(ld, &eb->s, nm, dim));
        snprintf(nm, sizeof nm, "encoder.block.%d.block.4", i);
        TRY(load_conv(ld, &eb->down, nm, -1, dim, -1, 1, 1, PAD_SAME));
        /* the stride is half the kernel */
        if (eb->down.k % 2 != 0) {
            set_err(ld->err, ld->errlen, "%s%s: kernel %lld is not twice a stride",
                    ld->prefix, nm, (long long)eb->down.k);
            return SAMSEP_ERR_FORMAT;
        }
        s = eb->down.k / 2;
        eb->down.stride = s;
        c->hop *= s;
        dim = eb->down.cout;
    }
    c->n_enc = i - 1;
    if (c->n_enc == 0)
        return missing(ld, "encoder.block.1.block.4.bias");
    snprintf(nm, sizeof nm, "encoder.block.%d", i);
    TRY(load_snake(ld, &c->enc_snake, nm, dim));
    snprintf(nm, sizeof nm, "encoder.block.%d", i + 1);
    TRY(load_conv(ld, &c->enc_out, nm, -1, dim, -1, 1, 1, PAD_SAME));
    c->latent = c->enc_out.cout;
    TRY(load_conv(ld, &c->in_proj, "quantizer.in_proj", -1, c->latent, 1, 1, 1,
                  PAD_SAME));
    if (c->in_proj.cout % 2 != 0)
        return fmt_err(ld, "quantizer.in_proj's output width (odd)", c->in_proj.cout,
                       c->in_proj.cout + 1);
    c->C = c->in_proj.cout / 2;
    return SAMSEP_OK;
}

static int load_decoder(loader *ld)
{
    dacvae_model *c = ld->c;
    char nm[NAME_LEN];
    int64_t dim;
    int i, r;
    static const int ru_idx[3] = { 4, 5, 8 };
    static const int64_t dils[3] = { 1, 3, 9 };

    TRY(load_conv(ld, &c->out_proj, "quantizer.out_proj", c->latent, c->C, 1, 1, 1,
                  PAD_SAME));
    TRY(load_conv(ld, &c->dec_in, "decoder.model.0", -1, c->latent, -1, 1, 1, PAD_SAME));
    dim = c->dec_in.cout;
    c->dec_dim = dim;
    c->up = 1;
    c->wm_down = 1;
    for (i = 1; find(ld, nm, "decoder.model.%d.block.1.bias", i) != NULL; i++) {
        dec_block *db;
        int64_t out;
        if (i > MAX_BLOCKS)
            return fmt_err(ld, "the number of decoder blocks", i, MAX_BLOCKS);
        db = &c->dec[i - 1];
        snprintf(nm, sizeof nm, "decoder.model.%d.block.0", i);
        TRY(load_snake(ld, &db->s, nm, dim));
        snprintf(nm, sizeof nm, "decoder.model.%d.block.1", i);
        TRY(load_convt(ld, &db->up, nm, dim, -1, 0));
        out = db->up.cout;
        c->up *= db->up.stride;
        for (r = 0; r < 3; r++) {
            snprintf(nm, sizeof nm, "decoder.model.%d.block.%d", i, ru_idx[r]);
            TRY(load_ru(ld, &db->ru[r], nm, out, dils[r]));
        }
        /* watermark chain: block.3 ConvT [wi, wo, 2w], block.11 Conv
         * [wi, wo, 2w], ELU units on wo channels */
        snprintf(nm, sizeof nm, "decoder.model.%d.block.3", i);
        TRY(load_convt(ld, &db->wm_up, nm, -1, -1, 1));
        snprintf(nm, sizeof nm, "decoder.model.%d.block.11", i);
        TRY(load_conv(ld, &db->wm_dn, nm, db->wm_up.cin, db->wm_up.cout, db->wm_up.k,
                      db->wm_up.stride, 1, PAD_CAUSAL));
        c->wm_down *= db->wm_up.stride;
        snprintf(nm, sizeof nm, "decoder.model.%d.block.6", i);
        TRY(load_ru_elu(ld, &db->wm_ru_up, nm, db->wm_up.cout));
        snprintf(nm, sizeof nm, "decoder.model.%d.block.7", i);
        TRY(load_ru_elu(ld, &db->wm_ru_dn, nm, db->wm_up.cout));
        if (i > 1 && db->wm_up.cin != c->dec[i - 2].wm_up.cout)
            return fmt_err(ld, "a watermark stage's width", db->wm_up.cin,
                           c->dec[i - 2].wm_up.cout);
        dim = out;
    }
    c->n_dec = i - 1;
    if (c->n_dec == 0)
        return missing(ld, "decoder.model.1.block.1.bias");
    c->dec_out = dim;
    if (c->up != c->hop)
        return fmt_err(ld, "the decoder's upsampling", c->up, c->hop);
    if (c->up % c->wm_down != 0)
        return fmt_err(ld, "the watermark's downsampling (a divisor of the hop)",
                       c->wm_down, c->up);
    c->hidden = c->dec[0].wm_up.cin;
    c->wm_ch = c->dec[c->n_dec - 1].wm_up.cout;
    return SAMSEP_OK;
}

static int load_watermark(loader *ld)
{
    dacvae_model *c = ld->c;
    const nn_tensor *t;
    char nm[NAME_LEN];

    TRY(load_snake(ld, &c->wm_pre_snake, "decoder.wm_model.encoder_block.pre.0",
                   c->dec_out));
    TRY(load_conv(ld, &c->wm_pre_conv, "decoder.wm_model.encoder_block.pre.1", 1,
                  c->dec_out, -1, 1, 1, PAD_SAME));
    TRY(load_conv(ld, &c->wm_pre_conv2, "decoder.wm_model.encoder_block.pre.3", c->wm_ch,
                  1, -1, 1, 1, PAD_CAUSAL));
    TRY(load_lstm(ld, &c->wm_enc_lstm, "decoder.wm_model.encoder_block.post.0.lstm",
                  c->hidden));
    TRY(load_conv(ld, &c->wm_post_conv, "decoder.wm_model.encoder_block.post.2", -1,
                  c->hidden, -1, 1, 1, PAD_CAUSAL));
    c->d_wm = c->wm_post_conv.cout;
    t = find(ld, nm, "decoder.wm_model.msg_processor.msg_processor.weight");
    if (t == NULL)
        return missing(ld, "decoder.wm_model.msg_processor.msg_processor.weight");
    if (t->ndim != 2 || t->shape[0] < 2 || t->shape[0] % 2 != 0 || t->shape[1] != c->d_wm)
        return bad_shape(ld, "msg_processor", t);
    c->bits = t->shape[0] / 2;
    TRY(take(ld, nm, t, &c->msg_emb));
    TRY(load_conv(ld, &c->wm_dec_pre, "decoder.wm_model.decoder_block.pre.0", c->hidden,
                  c->d_wm, -1, 1, 1, PAD_CAUSAL));
    TRY(load_lstm(ld, &c->wm_dec_lstm, "decoder.wm_model.decoder_block.pre.1.lstm",
                  c->hidden));
    TRY(load_conv(ld, &c->wm_dec_post, "decoder.wm_model.decoder_block.post.1", 1,
                  c->wm_ch, -1, 1, 1, PAD_CAUSAL));
    /* dacvae: alpha = wm_channels / d_wm_out (a Python float) */
    c->alpha = (float)((double)c->wm_ch / (double)c->d_wm);
    return SAMSEP_OK;
}

/* ---- geometry ----------------------------------------------------------- */

static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* Left/right zero padding of a conv on L samples. */
static void conv_pads(const conv *cv, int64_t L, int64_t *pl, int64_t *pr)
{
    if (cv->pad == PAD_SAME) {
        *pl = *pr = (cv->k - cv->stride) * cv->dil / 2;
    } else {
        /* dacvae NormConv1d.pad, causal: ideal = (ceil(n_frames) - 1) *
         * stride + (k - ptot) with n_frames = (L - stride) / stride + 1 */
        int64_t ptot = (cv->k - 1) * cv->dil + 1 - cv->stride;
        int64_t ideal = (cdiv(L, cv->stride) - 1) * cv->stride + cv->k - ptot;
        *pl = ptot;
        *pr = ideal - L > 0 ? ideal - L : 0;
    }
}

static nn_conv1d_args conv_args(const conv *cv, int64_t L)
{
    nn_conv1d_args a;
    memset(&a, 0, sizeof a);
    a.B = 1;
    a.Cin = cv->cin;
    a.Lin = L;
    a.Cout = cv->cout;
    a.K = cv->k;
    a.stride = cv->stride;
    a.dilation = cv->dil;
    conv_pads(cv, L, &a.pad_left, &a.pad_right);
    a.groups = 1;
    a.pad_mode = NN_PAD_ZERO;
    return a;
}

static nn_convt1d_args convt_args(const convt *ct, int64_t L)
{
    nn_convt1d_args a;
    memset(&a, 0, sizeof a);
    a.B = 1;
    a.Cin = ct->cin;
    a.Lin = L;
    a.Cout = ct->cout;
    a.K = ct->k;
    a.stride = ct->stride;
    a.dilation = 1;
    if (ct->causal) {
        a.crop_right = ct->k - ct->stride;
    } else {
        a.padding = (ct->stride + 1) / 2;
        a.output_padding = ct->stride % 2;
    }
    a.groups = 1;
    return a;
}

/* ---- sizing ------------------------------------------------------------- */

typedef struct need {
    const nn_ctx *k;
    size_t buf;     /* floats per working buffer */
    size_t scratch; /* kernel scratch per worker */
    int ok;         /* every length positive */
} need;

static void need_mx(need *n, int64_t ch, int64_t L)
{
    if (L < 1)
        n->ok = 0;
    else if ((size_t)(ch * L) > n->buf)
        n->buf = (size_t)(ch * L);
}

/* Account for conv cv on L samples; returns its output length. */
static int64_t need_conv(need *n, const conv *cv, int64_t L)
{
    nn_conv1d_args a = conv_args(cv, L);
    int64_t Lo = L >= 1 ? nn_conv1d_out_len(&a) : -1;
    size_t s;
    need_mx(n, cv->cout, Lo);
    if (Lo >= 1 && (s = nn_conv1d_scratch(n->k, &a)) > n->scratch)
        n->scratch = s;
    return Lo;
}

static int64_t need_convt(need *n, const convt *ct, int64_t L)
{
    nn_convt1d_args a = convt_args(ct, L);
    int64_t Lo = L >= 1 ? nn_convt1d_out_len(&a) : -1;
    size_t s;
    need_mx(n, ct->cout, Lo);
    if (Lo >= 1 && (s = nn_convt1d_scratch(n->k, &a)) > n->scratch)
        n->scratch = s;
    return Lo;
}

static void need_ru(need *n, const res_unit *ru, int64_t L)
{
    need_mx(n, ru->c1.cin, L);
    need_conv(n, &ru->c1, L);
    need_conv(n, &ru->c2, L);
}

static void need_ru_elu(need *n, const res_elu *ru, int64_t L)
{
    need_mx(n, ru->c1.cin, L);
    need_conv(n, &ru->c1, L);
    need_conv(n, &ru->c2, L);
}

static need plan_encode(const dacvae_state *s, int64_t T)
{
    const dacvae_model *c = s->m;
    need n = { s->k, 0, 0, 1 };
    int64_t L = T * c->hop;
    int i, r;
    need_mx(&n, 1, L);
    L = need_conv(&n, &c->enc_in, L);
    for (i = 0; i < c->n_enc; i++) {
        for (r = 0; r < 3; r++)
            need_ru(&n, &c->enc[i].ru[r], L);
        L = need_conv(&n, &c->enc[i].down, L);
    }
    need_mx(&n, c->enc_snake.ch, L);
    L = need_conv(&n, &c->enc_out, L);
    L = need_conv(&n, &c->in_proj, L);
    if (L != T)
        n.ok = 0;
    return n;
}

static need plan_decode(const dacvae_state *s, int64_t T)
{
    const dacvae_model *c = s->m;
    need n = { s->k, 0, 0, 1 };
    int64_t L = T, N;
    int i, r;
    need_mx(&n, c->C, L);
    L = need_conv(&n, &c->out_proj, L);
    L = need_conv(&n, &c->dec_in, L);
    for (i = 0; i < c->n_dec; i++) {
        need_mx(&n, c->dec[i].s.ch, L);
        L = need_convt(&n, &c->dec[i].up, L);
        for (r = 0; r < 3; r++)
            need_ru(&n, &c->dec[i].ru[r], L);
    }
    N = L;
    need_mx(&n, c->dec_out, N);
    L = need_conv(&n, &c->wm_pre_conv, N);
    L = need_conv(&n, &c->wm_pre_conv2, L);
    for (i = c->n_dec - 1; i >= 0; i--) {
        need_ru_elu(&n, &c->dec[i].wm_ru_dn, L);
        L = need_conv(&n, &c->dec[i].wm_dn, L);
    }
    need_mx(&n, c->hidden, L);
    L = need_conv(&n, &c->wm_post_conv, L);
    L = need_conv(&n, &c->wm_dec_pre, L);
    for (i = 0; i < c->n_dec; i++) {
        L = need_convt(&n, &c->dec[i].wm_up, L);
        need_ru_elu(&n, &c->dec[i].wm_ru_up, L);
    }
    L = need_conv(&n, &c->wm_dec_post, L);
    if (N != T * c->hop || L != N)
        n.ok = 0;
    return n;
}

/* Grow *p (backend memory of *cap floats) to hold `want` floats. The old
 * contents are not kept: buffers are filled anew by every call. */
static int grow(nn_ctx *k, float **p, size_t *cap, size_t want)
{
    float *q;
    if (want <= *cap)
        return SAMSEP_OK;
    q = nn_alloc_f32(k, (int64_t)want);
    if (q == NULL)
        return SAMSEP_ERR_NOMEM;
    nn_free(k, *p);
    *p = q;
    *cap = want;
    return SAMSEP_OK;
}

/* Make the working memory fit plan n (and `keep` floats of kept signal). */
static int reserve(dacvae_state *s, const need *n, size_t keep, char *err, size_t errlen)
{
    size_t cap = s->cap;
    int i;
    if (!n->ok) {
        set_err(err, errlen, "codec: input too short for the network");
        return SAMSEP_ERR_INVALID;
    }
    for (i = 0; i < 3; i++) {
        cap = s->cap;
        if (grow(s->k, &s->buf[i], &cap, n->buf) != SAMSEP_OK) {
            set_err(err, errlen, "codec: out of memory (%zu floats)", n->buf);
            return SAMSEP_ERR_NOMEM;
        }
    }
    s->cap = cap;
    if (grow(s->k, &s->keep, &s->cap_keep, keep) != SAMSEP_OK ||
        nn_reserve(s->k, n->scratch) != SAMSEP_OK) {
        set_err(err, errlen, "codec: out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    return SAMSEP_OK;
}

/* ---- model -------------------------------------------------------------- */

int dacvae_model_load(nn_weights *ws, const char *prefix, dacvae_model **out, char *err,
                      size_t errlen)
{
    dacvae_model *c;
    loader ld;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (ws == NULL || out == NULL) {
        set_err(err, errlen, "codec: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    c->wk = nn_weights_ctx(ws);
    ld.ws = ws;
    ld.prefix = prefix != NULL ? prefix : "";
    ld.c = c;
    ld.err = err;
    ld.errlen = errlen;
    nn_weights_set_prefix(ws, ld.prefix);
    rc = load_encoder(&ld);
    if (rc == SAMSEP_OK)
        rc = load_decoder(&ld);
    if (rc == SAMSEP_OK)
        rc = load_watermark(&ld);
    nn_weights_set_prefix(ws, NULL);
    if (rc != SAMSEP_OK) {
        dacvae_model_free(c);
        return rc;
    }
    *out = c;
    return SAMSEP_OK;
}

void dacvae_model_free(dacvae_model *c)
{
    free(c);
}

int dacvae_hop(const dacvae_model *c)
{
    return c != NULL ? (int)c->hop : 0;
}

int dacvae_latent_channels(const dacvae_model *c)
{
    return c != NULL ? (int)c->C : 0;
}

int dacvae_message_bits(const dacvae_model *c)
{
    return c != NULL ? (int)c->bits : 0;
}

static int cfg_check_int(const cJSON *o, const char *key, int64_t have, char *err,
                         size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (it == NULL || cJSON_IsNull(it))
        return SAMSEP_OK;
    if (!cJSON_IsNumber(it) || it->valuedouble != (double)have) {
        set_err(err, errlen, "config audio_codec.%s does not match the checkpoint (%lld)",
                key, (long long)have);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

static int cfg_check_rates(const cJSON *o, const char *key, const int64_t *have, int n,
                           char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key), *e;
    int i = 0;
    if (it == NULL || cJSON_IsNull(it))
        return SAMSEP_OK;
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != n)
        goto bad;
    cJSON_ArrayForEach(e, it)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble != (double)have[i])
            goto bad;
        i++;
    }
    return SAMSEP_OK;
bad:
    set_err(err, errlen, "config audio_codec.%s does not match the checkpoint", key);
    return SAMSEP_ERR_FORMAT;
}

int dacvae_check_config(const dacvae_model *c, const struct cJSON *o, char *err,
                        size_t errlen)
{
    int64_t er[MAX_BLOCKS], dr[MAX_BLOCKS];
    int i;
    if (c == NULL || o == NULL || !cJSON_IsObject(o)) {
        set_err(err, errlen, "config audio_codec is not an object");
        return SAMSEP_ERR_FORMAT;
    }
    for (i = 0; i < c->n_enc; i++)
        er[i] = c->enc[i].down.stride;
    for (i = 0; i < c->n_dec; i++)
        dr[i] = c->dec[i].up.stride;
    TRY(cfg_check_int(o, "encoder_dim", c->enc_dim0, err, errlen));
    TRY(cfg_check_rates(o, "encoder_rates", er, c->n_enc, err, errlen));
    TRY(cfg_check_int(o, "latent_dim", c->latent, err, errlen));
    TRY(cfg_check_int(o, "decoder_dim", c->dec_dim, err, errlen));
    TRY(cfg_check_rates(o, "decoder_rates", dr, c->n_dec, err, errlen));
    TRY(cfg_check_int(o, "codebook_dim", c->C, err, errlen));
    return SAMSEP_OK;
}

/* ---- state -------------------------------------------------------------- */

int dacvae_state_create(const dacvae_model *c, nn_ctx *k, dacvae_state **out, char *err,
                        size_t errlen)
{
    dacvae_state *s;

    if (out != NULL)
        *out = NULL;
    if (c == NULL || k == NULL || out == NULL) {
        set_err(err, errlen, "codec: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    if (!nn_ctx_shares_memory(c->wk, k)) {
        set_err(err, errlen, "codec: the weights live on backend %s, the run is on %s",
                nn_ctx_backend(c->wk), nn_ctx_backend(k));
        return SAMSEP_ERR_INVALID;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    s->m = c;
    s->k = k;
    s->lstm_work = nn_alloc_f32(k, (int64_t)nn_lstm_work_floats(k, 1, c->hidden));
    s->msg_rows = nn_alloc_f32(k, c->bits * c->d_wm);
    s->msg_vec = nn_alloc_f32(k, c->d_wm);
    s->msg_ids = nn_alloc(k, (size_t)c->bits * sizeof *s->msg_ids);
    s->hids = malloc((size_t)c->bits * sizeof *s->hids);
    if (s->lstm_work == NULL || s->msg_rows == NULL || s->msg_vec == NULL ||
        s->msg_ids == NULL || s->hids == NULL) {
        dacvae_state_destroy(s);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    *out = s;
    return SAMSEP_OK;
}

void dacvae_state_destroy(dacvae_state *s)
{
    int i;
    if (s == NULL)
        return;
    for (i = 0; i < 3; i++)
        nn_free(s->k, s->buf[i]);
    nn_free(s->k, s->keep);
    nn_free(s->k, s->lstm_work);
    nn_free(s->k, s->msg_rows);
    nn_free(s->k, s->msg_vec);
    nn_free(s->k, s->msg_ids);
    free(s->hids);
    free(s);
}

void dacvae_set_tap(dacvae_state *s, dacvae_tap_fn tap, void *user)
{
    if (s == NULL)
        return;
    s->tap = tap;
    s->tap_user = user;
}

/* ---- layer steps -------------------------------------------------------- */

/* The current activation and two temporaries, one row, [C, L] each. */
typedef struct bufs {
    float *x, *t1, *t2;
} bufs;

static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

static int run_conv(dacvae_state *s, const conv *cv, const float *x, int64_t L, float *y,
                    int64_t *Lout)
{
    nn_conv1d_args a = conv_args(cv, L);
    *Lout = nn_conv1d_out_len(&a);
    return nn_conv1d_w(s->k, &a, x, cv->w, cv->b, y);
}

/* x = conv(x) */
static int step_conv(dacvae_state *s, const conv *cv, bufs *b, int64_t *L)
{
    TRY(run_conv(s, cv, b->x, *L, b->t1, L));
    swap(&b->x, &b->t1);
    return SAMSEP_OK;
}

/* x = convt(x) */
static int step_convt(dacvae_state *s, const convt *ct, bufs *b, int64_t *L)
{
    nn_convt1d_args a = convt_args(ct, *L);
    TRY(nn_convt1d_w(s->k, &a, b->x, ct->w, ct->b, b->t1));
    *L = nn_convt1d_out_len(&a);
    swap(&b->x, &b->t1);
    return SAMSEP_OK;
}

/* x += c2(snake(c1(snake(x))))      x [dim, L] */
static int step_ru(dacvae_state *s, const res_unit *ru, bufs *b, int64_t L)
{
    int64_t L1, L2;
    TRY(nn_snake(s->k, b->x, ru->s1.alpha, b->t1, 1, ru->s1.ch, L)); /* [dim, L] */
    TRY(run_conv(s, &ru->c1, b->t1, L, b->t2, &L1));                 /* [hid, L] */
    TRY(nn_snake(s->k, b->t2, ru->s2.alpha, b->t2, 1, ru->s2.ch, L1));
    TRY(run_conv(s, &ru->c2, b->t2, L1, b->t1, &L2)); /* [dim, L] */
    return nn_add(s->k, b->x, b->t1, b->x, ru->c2.cout * L);
}

/* x += c2(elu(c1(elu(x))))          x [dim, L] */
static int step_ru_elu(dacvae_state *s, const res_elu *ru, bufs *b, int64_t L)
{
    int64_t L1, L2;
    TRY(nn_elu(s->k, b->x, b->t1, ru->c1.cin * L, 1.0f)); /* [dim, L] */
    TRY(run_conv(s, &ru->c1, b->t1, L, b->t2, &L1));      /* [hid, L] */
    TRY(nn_elu(s->k, b->t2, b->t2, ru->c1.cout * L1, 1.0f));
    TRY(run_conv(s, &ru->c2, b->t2, L1, b->t1, &L2)); /* [dim, L] */
    return nn_add(s->k, b->x, b->t1, b->x, ru->c2.cout * L);
}

/* x = LSTM(x) + x over time            x [H, L] */
static int step_lstm(dacvae_state *s, const lstm *m, bufs *b, int64_t L)
{
    int64_t H = m->hidden;
    float *in, *out, *xt = b->t1;
    int l;
    TRY(nn_transpose(s->k, b->x, xt, 1, H, L)); /* [L, H] */
    in = xt;
    out = b->t2;
    for (l = 0; l < m->layers; l++) {
        TRY(nn_lstm(s->k, in, m->w_ih[l], m->w_hh[l], m->b_ih[l], m->b_hh[l], NULL, NULL,
                    out, NULL, NULL, L, 1, H, H, s->lstm_work)); /* [L, H] */
        in = out;
        out = out == b->t2 ? b->x : b->t2;
    }
    TRY(nn_add(s->k, in, xt, in, L * H));
    TRY(nn_transpose(s->k, in, xt, 1, L, H)); /* [H, L] */
    b->t2 = in;
    b->t1 = out;
    b->x = xt;
    return SAMSEP_OK;
}

/* Hand row `row`'s tensor [ch, len] (backend memory) to the tap. */
static void tap_row(dacvae_state *s, const char *name, int64_t row, const float *p,
                    int64_t ch, int64_t len)
{
    float *h;

    if (nn_ctx_host_memory(s->k)) {
        s->tap(s->tap_user, name, row, p, ch, len);
        return;
    }
    /* only observers pay for this copy */
    h = malloc((size_t)(ch * len > 0 ? ch * len : 1) * sizeof *h);
    if (h != NULL && nn_download(s->k, h, p, (size_t)(ch * len) * sizeof *h) == SAMSEP_OK)
        s->tap(s->tap_user, name, row, h, ch, len);
    free(h);
}

#define TAP(name, p, ch, len)                  \
    do {                                       \
        if (s->tap != NULL)                    \
            tap_row(s, name, row, p, ch, len); \
    } while (0)

#define TAPF(fmt, i, p, ch, len)               \
    do {                                       \
        if (s->tap != NULL) {                  \
            char nm_[48];                      \
            snprintf(nm_, sizeof nm_, fmt, i); \
            tap_row(s, nm_, row, p, ch, len);  \
        }                                      \
    } while (0)

/* ---- encoder ------------------------------------------------------------ */

static int encode_row(dacvae_state *s, const float *wav, int64_t N, int64_t T,
                      float *feat, int64_t row)
{
    const dacvae_model *c = s->m;
    bufs b = { s->buf[0], s->buf[1], s->buf[2] };
    int64_t L = T * c->hop;
    int i, r;

    /* torch "reflect" padding on the right; past the start the mirror
     * continues periodically, where torch refuses */
    TRY(nn_pad1d(s->k, wav, b.x, 1, 1, N, 0, L - N, NN_PAD_REFLECT_PERIODIC));
    TAP("enc_padded_input", b.x, 1, L);    /* x [1, T*hop] */
    TRY(step_conv(s, &c->enc_in, &b, &L)); /* x [d0, L] */
    TAPF("enc_block%d_out", 0, b.x, c->enc_in.cout, L);
    for (i = 0; i < c->n_enc; i++) {
        const enc_block *eb = &c->enc[i];
        for (r = 0; r < 3; r++)
            TRY(step_ru(s, &eb->ru[r], &b, L)); /* x [dim, L] */
        TRY(nn_snake(s->k, b.x, eb->s.alpha, b.x, 1, eb->s.ch, L));
        TRY(step_conv(s, &eb->down, &b, &L)); /* x [2 dim, L / s] */
        TAPF("enc_block%d_out", i + 1, b.x, eb->down.cout, L);
    }
    TRY(nn_snake(s->k, b.x, c->enc_snake.alpha, b.x, 1, c->enc_snake.ch, L));
    TAPF("enc_block%d_out", c->n_enc + 1, b.x, c->enc_snake.ch, L);
    TRY(step_conv(s, &c->enc_out, &b, &L)); /* x [latent, T] */
    TAPF("enc_block%d_out", c->n_enc + 2, b.x, c->latent, L);
    TRY(step_conv(s, &c->in_proj, &b, &L)); /* x [2C, T] mean|scale */
    TAP("quantizer_in_proj_out", b.x, 2 * c->C, L);
    TRY(nn_copy(s->k, b.x, feat, c->C * T)); /* [C, T] */
    TAP("features_mean", feat, c->C, T);
    return SAMSEP_OK;
}

int dacvae_encode(dacvae_state *s, const float *wav, int64_t B, int64_t N,
                  float *features, char *err, size_t errlen)
{
    const dacvae_model *c;
    need n;
    int64_t T, bi;
    if (s == NULL || wav == NULL || features == NULL || B < 1 || N < 1) {
        set_err(err, errlen, "codec: bad encode arguments");
        return SAMSEP_ERR_INVALID;
    }
    c = s->m;
    T = cdiv(N, c->hop);
    n = plan_encode(s, T);
    TRY(reserve(s, &n, 0, err, errlen));
    for (bi = 0; bi < B; bi++) {
        int rc = encode_row(s, wav + bi * N, N, T, features + bi * c->C * T, bi);
        if (rc != SAMSEP_OK) {
            set_err(err, errlen, "codec: encoder kernel failed (%s)",
                    samsep_strerror(rc));
            return rc;
        }
    }
    return SAMSEP_OK;
}

/* ---- decoder ------------------------------------------------------------ */

/* x [d_wm, L] += sum over bits i of msg_emb[2 i + bit_i] (the message
 * processor); msg: host 0/1 floats. */
static int add_message(dacvae_state *s, const float *msg, float *x, int64_t L)
{
    const dacvae_model *c = s->m;
    int64_t i;

    for (i = 0; i < c->bits; i++)
        s->hids[i] = (int32_t)(2 * i + (msg[i] != 0.0f));
    TRY(nn_upload(s->k, s->msg_ids, s->hids, (size_t)c->bits * sizeof *s->hids));
    TRY(nn_embedding(s->k, c->msg_emb, 2 * c->bits, c->d_wm, s->msg_ids, c->bits,
                     s->msg_rows));
    TRY(nn_sum_rows(s->k, s->msg_rows, s->msg_vec, c->bits, c->d_wm));
    return nn_add_bcast(s->k, x, s->msg_vec, (const int64_t[3]){ 0, 1, 0 }, x,
                        (const int64_t[3]){ 1, c->d_wm, L });
}

static int decode_row(dacvae_state *s, const float *f, int64_t T, const float *msg,
                      float *wav, int64_t row)
{
    const dacvae_model *c = s->m;
    bufs b = { s->buf[0], s->buf[1], s->buf[2] };
    int64_t L = T, N, i;
    int r;
    float *w = s->keep;

    TRY(nn_copy(s->k, f, b.x, c->C * T));    /* x [C, T] */
    TRY(step_conv(s, &c->out_proj, &b, &L)); /* x [latent, T] */
    TAP("dec_out_proj_out", b.x, c->latent, L);
    TRY(step_conv(s, &c->dec_in, &b, &L)); /* x [D, T] */
    TAPF("dec_model%d_out", 0, b.x, c->dec_dim, L);
    for (i = 0; i < c->n_dec; i++) {
        const dec_block *db = &c->dec[i];
        TRY(nn_snake(s->k, b.x, db->s.alpha, b.x, 1, db->s.ch, L));
        TRY(step_convt(s, &db->up, &b, &L)); /* x [dim/2, L*s] */
        for (r = 0; r < 3; r++)
            TRY(step_ru(s, &db->ru[r], &b, L));
        TAPF("dec_model%d_out", (int)i + 1, b.x, db->up.cout, L);
    }
    N = L;

    /* watermark: w = tanh(conv(snake(x))) is both the signal and the input
     * of the watermark encoder */
    TRY(nn_snake(s->k, b.x, c->wm_pre_snake.alpha, b.x, 1, c->dec_out, N));
    TRY(run_conv(s, &c->wm_pre_conv, b.x, N, b.t1, &L)); /* [1, N] */
    TRY(nn_tanh(s->k, b.t1, w, N));                      /* w [1, N] */
    TAP("wm_forward_no_conv_out", w, 1, N);
    TRY(run_conv(s, &c->wm_pre_conv2, w, N, b.x, &L)); /* x [wm_ch, N] */
    TAP("wm_encoder_block_out", b.x, c->wm_ch, L);
    for (i = c->n_dec - 1; i >= 0; i--) {
        const dec_block *db = &c->dec[i];
        TRY(step_ru_elu(s, &db->wm_ru_dn, &b, L));
        TRY(nn_elu(s->k, b.x, b.x, db->wm_dn.cin * L, 1.0f));
        TRY(step_conv(s, &db->wm_dn, &b, &L)); /* x [.., L / w] */
    }
    TAP("wm_after_down_chain", b.x, c->hidden, L); /* x [hidden, n] */
    TRY(step_lstm(s, &c->wm_enc_lstm, &b, L));
    TRY(nn_elu(s->k, b.x, b.x, c->hidden * L, 1.0f));
    TRY(step_conv(s, &c->wm_post_conv, &b, &L)); /* x [d_wm, n] */
    TAP("wm_encoder_post_out", b.x, c->d_wm, L);
    TRY(add_message(s, msg, b.x, L));
    TAP("wm_msg_processor_out", b.x, c->d_wm, L);
    TRY(step_conv(s, &c->wm_dec_pre, &b, &L)); /* x [hidden, n] */
    TRY(step_lstm(s, &c->wm_dec_lstm, &b, L));
    TAP("wm_decoder_block_out", b.x, c->hidden, L);
    for (i = 0; i < c->n_dec; i++) {
        const dec_block *db = &c->dec[i];
        TRY(nn_elu(s->k, b.x, b.x, db->wm_up.cin * L, 1.0f));
        TRY(step_convt(s, &db->wm_up, &b, &L)); /* x [.., L * w] */
        TRY(step_ru_elu(s, &db->wm_ru_up, &b, L));
    }
    TAP("wm_after_up_chain", b.x, c->wm_ch, L); /* x [wm_ch, N] */
    TRY(nn_elu(s->k, b.x, b.x, c->wm_ch * L, 1.0f));
    TRY(step_conv(s, &c->wm_dec_post, &b, &L)); /* x [1, N] */
    TAP("wm_decoder_post_out", b.x, 1, L);
    TRY(nn_axpy(s->k, c->alpha, b.x, w, wav, N)); /* w + alpha x */
    TAP("dec_out", wav, 1, N);
    return SAMSEP_OK;
}

int dacvae_decode(dacvae_state *s, const float *features, int64_t B, int64_t T,
                  const float *message, float *wav, char *err, size_t errlen)
{
    const dacvae_model *c;
    need n;
    int64_t bi, i;
    if (s == NULL || features == NULL || message == NULL || wav == NULL || B < 1 ||
        T < 1) {
        set_err(err, errlen, "codec: bad decode arguments");
        return SAMSEP_ERR_INVALID;
    }
    c = s->m;
    for (i = 0; i < B * c->bits; i++)
        if (message[i] != 0.0f && message[i] != 1.0f) {
            set_err(err, errlen, "codec: watermark bit %lld is %g, not 0 or 1",
                    (long long)i, (double)message[i]);
            return SAMSEP_ERR_INVALID;
        }
    n = plan_decode(s, T);
    TRY(reserve(s, &n, (size_t)(T * c->hop), err, errlen));
    for (bi = 0; bi < B; bi++) {
        int rc = decode_row(s, features + bi * c->C * T, T, message + bi * c->bits,
                            wav + bi * T * c->hop, bi);
        if (rc != SAMSEP_OK) {
            set_err(err, errlen, "codec: decoder kernel failed (%s)",
                    samsep_strerror(rc));
            return rc;
        }
    }
    return SAMSEP_OK;
}
