/*
 * t5.c - the T5 encoder stack on the kernels of kernels.h.
 *
 * Opening reads config.json (cJSON), maps the weights through nn_weights
 * and checks every tensor's shape against the config before anything runs;
 * F32 weights are used in place from the mapping, F16/BF16 ones converted
 * once. The forward pass (t5_encoder_run) is straight-line code over
 * buffers sized beforehand:
 *
 *   h = shared[ids]                                 [B*L, D]
 *   per block:  x = rms(h; ln0)
 *               q,k,v = x Wq^T, x Wk^T, x Wv^T      [B*L, H*dk] head-major
 *               a = softmax(q k^T + bias(j-i), padded keys out) v
 *               h += a Wo^T
 *               x = rms(h; ln1)
 *               h += act(x Wi^T) Wo^T               (gated: act(x Wi0^T) * x Wi1^T)
 *   out = rms(h; final)
 *
 * The position bias is one row per head over the 2L-1 possible offsets,
 * read by the attention kernel with a negative query stride, instead of an
 * [H, L, L] tensor.
 */
#include "engine/sam/text/t5.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/io/jsonfile.h"
#include "nn/weights.h"


typedef enum t5_act { ACT_RELU, ACT_GELU_TANH, ACT_GELU_ERF, ACT_SILU } t5_act;

typedef struct t5_block {
    const float *ln0, *q, *k, *v, *o;  /* [D], [HD, D] x3, [D, HD] */
    const float *ln1, *wi, *wi1, *wo;  /* [D], [F, D] (wi1 gated only), [D, F] */
} t5_block;

struct t5_encoder {
    kctx *k;
    int own_k;
    nn_weights *ws;

    /* sizes */
    int64_t D, H, dk, HD, F, vocab;
    int layers, buckets, max_distance, gated;
    t5_act act;
    float eps;
    int n_positions;

    const float *shared;   /* [vocab, D] */
    const float *relbias;  /* [buckets, H] */
    const float *final_ln; /* [D] */
    t5_block *blocks;

    /* working buffers, for cap_tokens tokens and sequences up to cap_len */
    int64_t cap_tokens, cap_len;
    float *h, *x, *q, *kb, *v, *a, *f, *f1;
    float *rel;            /* [H, 2*cap_len - 1] */
    uint8_t *mask;         /* [cap_tokens] */

    t5_tap_fn tap;
    void *tap_user;
};

/* ---- bucket ----------------------------------------------------------- */

int t5_relative_bucket(int rel, int bidirectional, int num_buckets,
                       int max_distance)
{
    int ret = 0, n = num_buckets, a, max_exact, large;
    float v;

    if (bidirectional) {
        n /= 2;
        if (rel > 0)
            ret += n;
        a = rel < 0 ? -rel : rel;
    } else {
        a = rel < 0 ? -rel : 0;
    }
    max_exact = n / 2;
    if (a < max_exact)
        return ret + a;
    /* torch: float32 log of (a / max_exact), divided by the float32 value
     * of the double log(max_distance / max_exact), times the float count,
     * truncated to long. */
    v = logf((float)a / (float)max_exact) /
        (float)log((double)max_distance / (double)max_exact) *
        (float)(n - max_exact);
    large = max_exact + (int)v;
    if (large > n - 1)
        large = n - 1;
    return ret + large;
}

/* ---- opening ---------------------------------------------------------- */


/* An integer member >= lo (required unless def >= 0 is given). */
static int cfg_int(const cJSON *root, const char *key, int def, int lo,
                   int *out, const char *path, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, key);
    if (it == NULL || cJSON_IsNull(it)) {
        if (def < 0) {
            set_err(err, errlen, "%s: missing \"%s\"", path, key);
            return SAMSEP_ERR_FORMAT;
        }
        *out = def;
        return SAMSEP_OK;
    }
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        it->valuedouble < lo || it->valuedouble > 1e7) {
        set_err(err, errlen, "%s: \"%s\" must be an integer >= %d", path, key, lo);
        return SAMSEP_ERR_FORMAT;
    }
    *out = (int)it->valuedouble;
    return SAMSEP_OK;
}

typedef struct t5_config {
    int d_model, d_kv, num_heads, d_ff, num_layers, buckets, max_distance;
    int n_positions, gated;
    double eps;
    t5_act act;
} t5_config;

static int parse_config(const char *path, t5_config *c, char *err,
                        size_t errlen)
{
    int rc;
    cJSON *root = nn_json_load(path, &rc, err, errlen);
    const cJSON *it;
    const char *ffp = "relu", *act;

    if (root == NULL)
        return rc;
    it = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (it != NULL && cJSON_IsString(it) && strcmp(it->valuestring, "t5") != 0 &&
        strcmp(it->valuestring, "mt5") != 0 && strcmp(it->valuestring, "umt5") != 0) {
        set_err(err, errlen, "%s: model_type \"%s\" is not a T5 model", path,
                it->valuestring);
        cJSON_Delete(root);
        return SAMSEP_ERR_FORMAT;
    }
    if ((rc = cfg_int(root, "d_model", -1, 1, &c->d_model, path, err, errlen)) ||
        (rc = cfg_int(root, "d_kv", -1, 1, &c->d_kv, path, err, errlen)) ||
        (rc = cfg_int(root, "num_heads", -1, 1, &c->num_heads, path, err, errlen)) ||
        (rc = cfg_int(root, "d_ff", -1, 1, &c->d_ff, path, err, errlen)) ||
        (rc = cfg_int(root, "num_layers", -1, 1, &c->num_layers, path, err, errlen)) ||
        (rc = cfg_int(root, "relative_attention_num_buckets", 32, 2, &c->buckets,
                      path, err, errlen)) ||
        (rc = cfg_int(root, "relative_attention_max_distance", 128, 1,
                      &c->max_distance, path, err, errlen)) ||
        (rc = cfg_int(root, "n_positions", 512, 1, &c->n_positions, path, err,
                      errlen))) {
        cJSON_Delete(root);
        return rc;
    }
    c->eps = 1e-6;
    it = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_epsilon");
    if (it != NULL) {
        if (!cJSON_IsNumber(it) || !(it->valuedouble > 0.0) || it->valuedouble > 1.0) {
            set_err(err, errlen, "%s: bad \"layer_norm_epsilon\"", path);
            cJSON_Delete(root);
            return SAMSEP_ERR_FORMAT;
        }
        c->eps = it->valuedouble;
    }
    /* As T5Config.__init__: feed_forward_proj decides gating and the
     * activation ("gated-gelu" means gelu_new); the stored dense_act_fn /
     * is_gated_act are recomputed from it there, so ignored here. */
    it = cJSON_GetObjectItemCaseSensitive(root, "feed_forward_proj");
    if (it != NULL && cJSON_IsString(it))
        ffp = it->valuestring;
    c->gated = strncmp(ffp, "gated-", 6) == 0;
    act = c->gated ? ffp + 6 : ffp;
    if (strchr(act, '-') != NULL) {
        set_err(err, errlen, "%s: feed_forward_proj \"%s\" is not ACT or gated-ACT",
                path, ffp);
        cJSON_Delete(root);
        return SAMSEP_ERR_FORMAT;
    }
    if (strcmp(ffp, "gated-gelu") == 0)
        act = "gelu_new";
    if (strcmp(act, "relu") == 0)
        c->act = ACT_RELU;
    else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 ||
             strcmp(act, "gelu_fast") == 0)
        c->act = ACT_GELU_TANH;
    else if (strcmp(act, "gelu") == 0)
        c->act = ACT_GELU_ERF;
    else if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0)
        c->act = ACT_SILU;
    else {
        set_err(err, errlen, "%s: unsupported feed-forward activation \"%s\"", path, act);
        cJSON_Delete(root);
        return SAMSEP_ERR_FORMAT;
    }
    cJSON_Delete(root);
    if ((int64_t)c->d_kv * c->num_heads > 1 << 20 || c->num_layers > 1000) {
        set_err(err, errlen, "%s: implausible sizes", path);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

static void load_block(t5_encoder *e, int i)
{
    t5_block *b = &e->blocks[i];
    nn_weights *ws = e->ws;
    int64_t D = e->D, HD = e->HD, F = e->F;
    const char *pf = "encoder.block";
    const char *other = e->gated ? "wi" : "wi_0";

    b->ln0 = nn_weightf(ws, NN_DIMS(D), "%s.%d.layer.0.layer_norm.weight", pf, i);
    b->ln1 = nn_weightf(ws, NN_DIMS(D), "%s.%d.layer.1.layer_norm.weight", pf, i);
    b->q = nn_weightf(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.q.weight", pf, i);
    b->k = nn_weightf(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.k.weight", pf, i);
    b->v = nn_weightf(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.v.weight", pf, i);
    b->o = nn_weightf(ws, NN_DIMS(D, HD), "%s.%d.layer.0.SelfAttention.o.weight", pf, i);
    b->wo = nn_weightf(ws, NN_DIMS(D, F), "%s.%d.layer.1.DenseReluDense.wo.weight", pf, i);
    /* the other kind's weight present means the config lies */
    if (nn_weights_findf(ws, "%s.%d.layer.1.DenseReluDense.%s.weight", pf, i,
                         e->gated ? "wi_0" : "wi") == NULL &&
        nn_weights_findf(ws, "%s.%d.layer.1.DenseReluDense.%s.weight", pf, i, other) != NULL)
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT, "%s.%d.layer.1.DenseReluDense.%s.weight "
                        "present but config.json says feed_forward_proj is %s", pf, i,
                        other, e->gated ? "gated" : "not gated");
    if (e->gated) {
        b->wi = nn_weightf(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi_0.weight", pf, i);
        b->wi1 = nn_weightf(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi_1.weight", pf,
                            i);
    } else {
        b->wi = nn_weightf(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi.weight", pf, i);
    }
}

static int load_weights(t5_encoder *e, char *err, size_t errlen)
{
    const nn_tensor *emb;
    int i;

    emb = nn_weights_find(e->ws, "shared.weight");
    if (emb == NULL)
        emb = nn_weights_find(e->ws, "encoder.embed_tokens.weight");
    if (emb == NULL) {
        set_err(err, errlen, "missing tensor shared.weight (or encoder.embed_tokens.weight)");
        return SAMSEP_ERR_FORMAT;
    }
    if (emb->ndim != 2 || emb->shape[0] < 1 || emb->shape[0] > INT32_MAX) {
        set_err(err, errlen, "tensor %s is not a [vocab, d_model] matrix", emb->name);
        return SAMSEP_ERR_FORMAT;
    }
    e->vocab = emb->shape[0];
    e->shared = nn_weightf(e->ws, NN_DIMS(e->vocab, e->D), "%s", emb->name);
    e->relbias = nn_weightf(e->ws, NN_DIMS(e->buckets, e->H),
                            "encoder.block.0.layer.0.SelfAttention.relative_attention_bias."
                            "weight");
    e->final_ln = nn_weightf(e->ws, NN_DIMS(e->D), "encoder.final_layer_norm.weight");
    for (i = 0; i < e->layers; i++)
        load_block(e, i);
    if (nn_weights_findf(e->ws, "encoder.block.%d.layer.0.layer_norm.weight", e->layers) !=
        NULL)
        nn_weights_fail(e->ws, SAMSEP_ERR_FORMAT,
                        "the weights have more encoder blocks than num_layers = %d", e->layers);
    return nn_weights_status(e->ws, err, errlen);
}

static void free_buffers(t5_encoder *e)
{
    free(e->h);
    free(e->x);
    free(e->q);
    free(e->kb);
    free(e->v);
    free(e->a);
    free(e->f);
    free(e->f1);
    free(e->rel);
    free(e->mask);
    e->h = e->x = e->q = e->kb = e->v = e->a = e->f = e->f1 = e->rel = NULL;
    e->mask = NULL;
    e->cap_tokens = e->cap_len = 0;
}

int t5_encoder_reserve(t5_encoder *e, int batch, int max_len, char *err,
                       size_t errlen)
{
    int64_t tokens, len;
    if (e == NULL || batch < 1 || max_len < 1) {
        set_err(err, errlen, "t5_encoder_reserve: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    tokens = (int64_t)batch * max_len;
    len = max_len;
    if (tokens > e->cap_tokens || len > e->cap_len) {
        int64_t nt = tokens > e->cap_tokens ? tokens : e->cap_tokens;
        int64_t nl = len > e->cap_len ? len : e->cap_len;
        if (nt > ((int64_t)1 << 40) / (e->F > e->HD ? e->F : e->HD) ||
            nl > INT32_MAX / 2) {
            set_err(err, errlen, "t5: %d x %d tokens is too many", batch, max_len);
            return SAMSEP_ERR_INVALID;
        }
        free_buffers(e);
        e->h = malloc((size_t)(nt * e->D) * sizeof(float));
        e->x = malloc((size_t)(nt * e->D) * sizeof(float));
        e->q = malloc((size_t)(nt * e->HD) * sizeof(float));
        e->kb = malloc((size_t)(nt * e->HD) * sizeof(float));
        e->v = malloc((size_t)(nt * e->HD) * sizeof(float));
        e->a = malloc((size_t)(nt * e->HD) * sizeof(float));
        e->f = malloc((size_t)(nt * e->F) * sizeof(float));
        e->f1 = e->gated ? malloc((size_t)(nt * e->F) * sizeof(float)) : NULL;
        e->rel = malloc((size_t)(e->H * (2 * nl - 1)) * sizeof(float));
        e->mask = malloc((size_t)nt);
        if (e->h == NULL || e->x == NULL || e->q == NULL || e->kb == NULL ||
            e->v == NULL || e->a == NULL || e->f == NULL ||
            (e->gated && e->f1 == NULL) || e->rel == NULL || e->mask == NULL) {
            free_buffers(e);
            set_err(err, errlen, "out of memory for %d x %d tokens", batch, max_len);
            return SAMSEP_ERR_NOMEM;
        }
        e->cap_tokens = nt;
        e->cap_len = nl;
    }
    if (kctx_reserve(e->k, k_attention_scratch(e->cap_len, e->dk)) != SAMSEP_OK) {
        set_err(err, errlen, "out of memory for attention scratch");
        return SAMSEP_ERR_NOMEM;
    }
    return SAMSEP_OK;
}

static int open_common(const char *dir, kctx *k, int own_k, t5_encoder **out,
                       char *err, size_t errlen)
{
    t5_encoder *e;
    t5_config c;
    char path[4096];
    int rc;
    FILE *probe;

    e = calloc(1, sizeof *e);
    if (e == NULL) {
        if (own_k)
            kctx_destroy(k);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    e->k = k;
    e->own_k = own_k;

    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path) {
        set_err(err, errlen, "model folder path too long");
        rc = SAMSEP_ERR_INVALID;
        goto fail;
    }
    rc = parse_config(path, &c, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    e->D = c.d_model;
    e->H = c.num_heads;
    e->dk = c.d_kv;
    e->HD = e->H * e->dk;
    e->F = c.d_ff;
    e->layers = c.num_layers;
    e->buckets = c.buckets;
    e->max_distance = c.max_distance;
    e->gated = c.gated;
    e->act = c.act;
    e->eps = (float)c.eps;
    e->n_positions = c.n_positions;

    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    probe = fopen(path, "rb");
    if (probe == NULL) {
        snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
        probe = fopen(path, "rb");
        if (probe == NULL) {
            set_err(err, errlen, "%s: no model.safetensors or pytorch_model.bin", dir);
            rc = SAMSEP_ERR_IO;
            goto fail;
        }
    }
    fclose(probe);
    rc = nn_weights_open(path, &e->ws, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    e->blocks = calloc((size_t)e->layers, sizeof *e->blocks);
    if (e->blocks == NULL) {
        set_err(err, errlen, "out of memory");
        rc = SAMSEP_ERR_NOMEM;
        goto fail;
    }
    {
        char msg[512] = "";
        rc = load_weights(e, msg, sizeof msg);
        if (rc != SAMSEP_OK) {
            set_err(err, errlen, "%s: %s", path, msg);
            goto fail;
        }
    }
    rc = t5_encoder_reserve(e, 1, e->n_positions, err, errlen);
    if (rc != SAMSEP_OK)
        goto fail;
    *out = e;
    return SAMSEP_OK;
fail:
    t5_encoder_close(e);
    return rc;
}

int t5_encoder_open(const char *model_dir, int threads, t5_encoder **out,
                    char *err, size_t errlen)
{
    kctx *k = NULL;
    int rc;
    if (out == NULL || model_dir == NULL) {
        set_err(err, errlen, "t5_encoder_open: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    *out = NULL;
    rc = kctx_create(threads, &k, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    return open_common(model_dir, k, 1, out, err, errlen);
}

int t5_encoder_open_ctx(const char *model_dir, kctx *k, t5_encoder **out,
                        char *err, size_t errlen)
{
    if (out == NULL || model_dir == NULL || k == NULL) {
        set_err(err, errlen, "t5_encoder_open_ctx: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    *out = NULL;
    return open_common(model_dir, k, 0, out, err, errlen);
}

void t5_encoder_close(t5_encoder *e)
{
    if (e == NULL)
        return;
    free_buffers(e);
    free(e->blocks);
    nn_weights_close(e->ws);
    if (e->own_k)
        kctx_destroy(e->k);
    free(e);
}

int t5_encoder_dim(const t5_encoder *e)
{
    return e == NULL ? 0 : (int)e->D;
}

int t5_encoder_vocab(const t5_encoder *e)
{
    return e == NULL ? 0 : (int)e->vocab;
}

int t5_encoder_heads(const t5_encoder *e)
{
    return e == NULL ? 0 : (int)e->H;
}

int t5_encoder_layers(const t5_encoder *e)
{
    return e == NULL ? 0 : e->layers;
}

void t5_encoder_set_tap(t5_encoder *e, t5_tap_fn tap, void *user)
{
    if (e == NULL)
        return;
    e->tap = tap;
    e->tap_user = user;
}

/* rel[h * (2L-1) + (L-1) + r] = bias of relative position r = j - i. */
static void fill_rel(const t5_encoder *e, int64_t L, float *rel)
{
    int64_t r, h, w = 2 * L - 1;
    for (r = -(L - 1); r <= L - 1; r++) {
        int bk = t5_relative_bucket((int)r, 1, e->buckets, e->max_distance);
        for (h = 0; h < e->H; h++)
            rel[h * w + (L - 1) + r] = e->relbias[(int64_t)bk * e->H + h];
    }
}

int t5_encoder_position_bias(const t5_encoder *e, int len, float *out)
{
    int64_t h, i, j;
    if (e == NULL || len < 1 || out == NULL)
        return SAMSEP_ERR_INVALID;
    for (h = 0; h < e->H; h++)
        for (i = 0; i < len; i++)
            for (j = 0; j < len; j++) {
                int bk = t5_relative_bucket((int)(j - i), 1, e->buckets, e->max_distance);
                out[(h * len + i) * len + j] = e->relbias[(int64_t)bk * e->H + h];
            }
    return SAMSEP_OK;
}

/* ---- forward ---------------------------------------------------------- */

int t5_encoder_run(t5_encoder *e, const int32_t *ids, const int *lengths,
                   int batch, int max_len, float *out, char *err,
                   size_t errlen)
{
    int64_t B = batch, L = max_len, N, D, HD, F, i;
    k_attn_args at;
    int b, l, rc;
    char name[32];

    if (e == NULL || ids == NULL || out == NULL || batch < 1 || max_len < 1) {
        set_err(err, errlen, "t5_encoder_run: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    N = B * L;
    D = e->D;
    HD = e->HD;
    F = e->F;
    for (b = 0; b < batch; b++)
        if (lengths != NULL && (lengths[b] < 1 || lengths[b] > max_len)) {
            set_err(err, errlen, "t5: row %d has length %d, outside [1, %d]", b,
                    lengths[b], max_len);
            return SAMSEP_ERR_INVALID;
        }
    for (i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= e->vocab) {
            set_err(err, errlen, "t5: token id %d at row %lld position %lld is outside [0, %lld)",
                    ids[i], (long long)(i / L), (long long)(i % L), (long long)e->vocab);
            return SAMSEP_ERR_INVALID;
        }
    rc = t5_encoder_reserve(e, batch, max_len, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;

    /* Nothing below allocates. */
    for (b = 0; b < batch; b++)
        for (i = 0; i < L; i++)
            e->mask[b * L + i] = (uint8_t)(lengths == NULL || i < lengths[b]);
    fill_rel(e, L, e->rel);

    memset(&at, 0, sizeof at);
    at.B = B;
    at.H = e->H;
    at.Lq = L;
    at.Lk = L;
    at.dh = e->dk;
    at.q = e->q;
    at.k = e->kb;
    at.v = e->v;
    at.out = e->a;
    at.q_s = at.k_s = at.v_s = at.out_s = k_strides_head_major(L, e->H, e->dk);
    at.scale = 1.0f;
    at.bias = e->rel + (L - 1);   /* (h, i, j) -> rel[h][(L-1) + j - i] */
    at.bias_s.b = 0;
    at.bias_s.h = 2 * L - 1;
    at.bias_s.t = -1;
    at.bias_s.j = 1;
    at.key_mask = e->mask;

    k_embedding(e->k, e->shared, e->vocab, D, ids, N, e->h); /* ids checked */
    if (e->tap != NULL)
        e->tap(e->tap_user, "embeddings", e->h, batch, max_len, (int)D);

    for (l = 0; l < e->layers; l++) {
        const t5_block *w = &e->blocks[l];

        /* self-attention: h += o(attn(rms(h))) */
        k_rmsnorm(e->k, e->h, w->ln0, e->eps, e->x, N, D);    /* x [N, D] */
        k_matmul(e->k, e->x, w->q, NULL, e->q, N, HD, D);    /* q [N, HD] */
        k_matmul(e->k, e->x, w->k, NULL, e->kb, N, HD, D);
        k_matmul(e->k, e->x, w->v, NULL, e->v, N, HD, D);
        rc = k_attention(e->k, &at);                          /* a [N, HD] */
        if (rc != SAMSEP_OK) {
            set_err(err, errlen, "t5: attention scratch too small");
            return rc;
        }
        k_matmul_ex(e->k, e->a, HD, w->o, NULL, e->h, D, N, D, HD, 1.0f);

        /* feed-forward: h += wo(act(wi(rms(h)))) */
        k_rmsnorm(e->k, e->h, w->ln1, e->eps, e->x, N, D);
        k_matmul(e->k, e->x, w->wi, NULL, e->f, N, F, D);    /* f [N, F] */
        switch (e->act) {
        case ACT_RELU:
            k_relu(e->k, e->f, e->f, N * F);
            break;
        case ACT_GELU_TANH:
            k_gelu_tanh(e->k, e->f, e->f, N * F);
            break;
        case ACT_GELU_ERF:
            k_gelu_erf(e->k, e->f, e->f, N * F);
            break;
        case ACT_SILU:
            k_silu(e->k, e->f, e->f, N * F);
            break;
        }
        if (e->gated) {
            k_matmul(e->k, e->x, w->wi1, NULL, e->f1, N, F, D);
            k_mul(e->k, e->f, e->f1, e->f, N * F);
        }
        k_matmul_ex(e->k, e->f, F, w->wo, NULL, e->h, D, N, D, F, 1.0f);

        if (e->tap != NULL) {
            snprintf(name, sizeof name, "block%d_out", l);
            e->tap(e->tap_user, name, e->h, batch, max_len, (int)D);
        }
    }
    k_rmsnorm(e->k, e->h, e->final_ln, e->eps, out, N, D);
    return SAMSEP_OK;
}
