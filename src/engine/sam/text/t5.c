/*
 * t5.c - the T5 encoder stack on the kernels of nn.h.
 *
 * Opening a model reads config.json (cJSON), loads the weights through
 * nn_weights and checks every tensor's shape against the config before
 * anything runs; F32 weights are used in place from the mapping on the
 * CPU, F16/BF16 ones converted once. A run (t5_state) owns the buffers;
 * its forward pass (t5_encode) is straight-line kernel calls over buffers
 * sized beforehand:
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
 * gathered from block 0's bucket table by the bucket of each offset and
 * read by the attention kernel with a negative query stride, instead of an
 * [H, L, L] tensor. Token ids, the key mask and the offsets' buckets are
 * made on the host and uploaded.
 */
#include "engine/sam/text/t5.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "nn/io/jsonfile.h"
#include "nn/weights.h"

typedef enum t5_act { ACT_RELU, ACT_GELU_TANH, ACT_GELU_ERF, ACT_SILU } t5_act;

typedef struct t5_block {
    const float *ln0, *ln1; /* [D] */
    nn_w q, k, v, o;        /* [HD, D] x3, [D, HD] */
    nn_w wi, wi1, wo;       /* [F, D] (wi1 gated only), [D, F] */
} t5_block;

struct t5_model {
    nn_ctx *wk; /* the context the weights were placed for */
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
};

struct t5_state {
    const t5_model *m;
    nn_ctx *k;

    /* working buffers, for cap_tokens tokens and sequences up to cap_len */
    int64_t cap_tokens, cap_len;
    float *h, *x, *q, *kb, *v, *a, *f, *f1;
    float *rel;       /* [H, 2*cap_len - 1] */
    float *relt;      /* [2*cap_len - 1, H] the same, gathered */
    uint8_t *mask;    /* [cap_tokens] */
    int32_t *ids;     /* [cap_tokens] */
    int32_t *buckets; /* [2*cap_len - 1] */
    uint8_t *hmask;   /* host staging of mask and buckets */
    int32_t *hbuckets;

    t5_tap_fn tap;
    void *tap_user;
};

/* ---- bucket ----------------------------------------------------------- */

int t5_relative_bucket(int rel, int bidirectional, int num_buckets, int max_distance)
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
        (float)log((double)max_distance / (double)max_exact) * (float)(n - max_exact);
    large = max_exact + (int)v;
    if (large > n - 1)
        large = n - 1;
    return ret + large;
}

/* ---- opening ---------------------------------------------------------- */

/* An integer member >= lo (required unless def >= 0 is given). */
static int cfg_int(const cJSON *root, const char *key, int def, int lo, int *out,
                   const char *path, char *err, size_t errlen)
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

static int parse_config(const char *path, t5_config *c, char *err, size_t errlen)
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
        (rc = cfg_int(root, "relative_attention_num_buckets", 32, 2, &c->buckets, path,
                      err, errlen)) ||
        (rc = cfg_int(root, "relative_attention_max_distance", 128, 1, &c->max_distance,
                      path, err, errlen)) ||
        (rc = cfg_int(root, "n_positions", 512, 1, &c->n_positions, path, err, errlen))) {
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
        set_err(err, errlen, "%s: feed_forward_proj \"%s\" is not ACT or gated-ACT", path,
                ffp);
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

static void load_block(t5_model *e, int i)
{
    t5_block *b = &e->blocks[i];
    nn_weights *ws = e->ws;
    int64_t D = e->D, HD = e->HD, F = e->F;
    const char *pf = "encoder.block";
    const char *other = e->gated ? "wi" : "wi_0";

    b->ln0 = nn_weightf(ws, NN_DIMS(D), "%s.%d.layer.0.layer_norm.weight", pf, i);
    b->ln1 = nn_weightf(ws, NN_DIMS(D), "%s.%d.layer.1.layer_norm.weight", pf, i);
    b->q = nn_wmat(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.q.weight", pf, i);
    b->k = nn_wmat(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.k.weight", pf, i);
    b->v = nn_wmat(ws, NN_DIMS(HD, D), "%s.%d.layer.0.SelfAttention.v.weight", pf, i);
    b->o = nn_wmat(ws, NN_DIMS(D, HD), "%s.%d.layer.0.SelfAttention.o.weight", pf, i);
    b->wo = nn_wmat(ws, NN_DIMS(D, F), "%s.%d.layer.1.DenseReluDense.wo.weight", pf, i);
    /* the other kind's weight present means the config lies */
    if (nn_weights_findf(ws, "%s.%d.layer.1.DenseReluDense.%s.weight", pf, i,
                         e->gated ? "wi_0" : "wi") == NULL &&
        nn_weights_findf(ws, "%s.%d.layer.1.DenseReluDense.%s.weight", pf, i, other) !=
            NULL)
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT,
                        "%s.%d.layer.1.DenseReluDense.%s.weight "
                        "present but config.json says feed_forward_proj is %s",
                        pf, i, other, e->gated ? "gated" : "not gated");
    if (e->gated) {
        b->wi =
            nn_wmat(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi_0.weight", pf, i);
        b->wi1 =
            nn_wmat(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi_1.weight", pf, i);
    } else {
        b->wi =
            nn_wmat(ws, NN_DIMS(F, D), "%s.%d.layer.1.DenseReluDense.wi.weight", pf, i);
    }
}

static int load_weights(t5_model *e, char *err, size_t errlen)
{
    const nn_tensor *emb;
    int i;

    emb = nn_weights_find(e->ws, "shared.weight");
    if (emb == NULL)
        emb = nn_weights_find(e->ws, "encoder.embed_tokens.weight");
    if (emb == NULL) {
        set_err(err, errlen,
                "missing tensor shared.weight (or encoder.embed_tokens.weight)");
        return SAMSEP_ERR_FORMAT;
    }
    if (emb->ndim != 2 || emb->shape[0] < 1 || emb->shape[0] > INT32_MAX) {
        set_err(err, errlen, "tensor %s is not a [vocab, d_model] matrix", emb->name);
        return SAMSEP_ERR_FORMAT;
    }
    e->vocab = emb->shape[0];
    e->shared = nn_weightf(e->ws, NN_DIMS(e->vocab, e->D), "%s", emb->name);
    e->relbias =
        nn_weightf(e->ws, NN_DIMS(e->buckets, e->H),
                   "encoder.block.0.layer.0.SelfAttention.relative_attention_bias."
                   "weight");
    e->final_ln = nn_weightf(e->ws, NN_DIMS(e->D), "encoder.final_layer_norm.weight");
    for (i = 0; i < e->layers; i++)
        load_block(e, i);
    if (nn_weights_findf(e->ws, "encoder.block.%d.layer.0.layer_norm.weight",
                         e->layers) != NULL)
        nn_weights_fail(e->ws, SAMSEP_ERR_FORMAT,
                        "the weights have more encoder blocks than num_layers = %d",
                        e->layers);
    return nn_weights_status(e->ws, err, errlen);
}

/* ---- model ------------------------------------------------------------ */

/* dir/config.json parsed, and the weights file found (path[4096]). */
static int read_folder(const char *dir, t5_config *c, char *path, char *err,
                       size_t errlen)
{
    struct stat st;
    int rc;

    if ((size_t)snprintf(path, 4096, "%s/config.json", dir) >= 4096) {
        set_err(err, errlen, "model folder path too long");
        return SAMSEP_ERR_INVALID;
    }
    rc = parse_config(path, c, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    snprintf(path, 4096, "%s/model.safetensors", dir);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return SAMSEP_OK;
    snprintf(path, 4096, "%s/pytorch_model.bin", dir);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return SAMSEP_OK;
    set_err(err, errlen, "%s: no model.safetensors or pytorch_model.bin", dir);
    return SAMSEP_ERR_IO;
}

int t5_check(const char *model_dir, char *err, size_t errlen)
{
    char path[4096];
    t5_config c;

    if (model_dir == NULL) {
        set_err(err, errlen, "t5_check: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    return read_folder(model_dir, &c, path, err, errlen);
}

int t5_model_open(const char *dir, nn_ctx *k, t5_model **out, char *err, size_t errlen)
{
    t5_model *e;
    t5_config c;
    char path[4096];
    int rc;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || dir == NULL || k == NULL) {
        set_err(err, errlen, "t5_model_open: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    rc = read_folder(dir, &c, path, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    e->wk = k;
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
    rc = nn_weights_open(path, k, &e->ws, err, errlen);
    if (rc == SAMSEP_OK) {
        e->blocks = calloc((size_t)e->layers, sizeof *e->blocks);
        if (e->blocks == NULL) {
            set_err(err, errlen, "out of memory");
            rc = SAMSEP_ERR_NOMEM;
        }
    }
    if (rc == SAMSEP_OK) {
        char msg[512] = "";
        rc = load_weights(e, msg, sizeof msg);
        if (rc != SAMSEP_OK)
            set_err(err, errlen, "%s: %s", path, msg);
        else
            nn_weights_trim(e->ws);
    }
    if (rc != SAMSEP_OK) {
        t5_model_close(e);
        return rc;
    }
    *out = e;
    return SAMSEP_OK;
}

void t5_model_close(t5_model *e)
{
    if (e == NULL)
        return;
    free(e->blocks);
    nn_weights_close(e->ws);
    free(e);
}

int t5_model_dim(const t5_model *e)
{
    return e == NULL ? 0 : (int)e->D;
}

int t5_model_vocab(const t5_model *e)
{
    return e == NULL ? 0 : (int)e->vocab;
}

int t5_model_heads(const t5_model *e)
{
    return e == NULL ? 0 : (int)e->H;
}

int t5_model_layers(const t5_model *e)
{
    return e == NULL ? 0 : e->layers;
}

int t5_model_positions(const t5_model *e)
{
    return e == NULL ? 0 : e->n_positions;
}

int t5_position_bias(const t5_model *e, int len, float *out)
{
    int64_t h, i, j, n;
    float *rb;

    if (e == NULL || len < 1 || out == NULL)
        return SAMSEP_ERR_INVALID;
    n = (int64_t)e->buckets * e->H;
    rb = malloc((size_t)n * sizeof *rb);
    if (rb == NULL)
        return SAMSEP_ERR_NOMEM;
    if (nn_download(e->wk, rb, e->relbias, (size_t)n * sizeof *rb) != SAMSEP_OK) {
        free(rb);
        return SAMSEP_ERR_ENGINE;
    }
    for (h = 0; h < e->H; h++)
        for (i = 0; i < len; i++)
            for (j = 0; j < len; j++) {
                int bk = t5_relative_bucket((int)(j - i), 1, e->buckets, e->max_distance);
                out[(h * len + i) * len + j] = rb[(int64_t)bk * e->H + h];
            }
    free(rb);
    return SAMSEP_OK;
}

/* ---- state ------------------------------------------------------------ */

static void free_buffers(t5_state *s)
{
    float **f[] = { &s->h, &s->x, &s->q,  &s->kb,  &s->v,
                    &s->a, &s->f, &s->f1, &s->rel, &s->relt };
    size_t i;

    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        nn_free(s->k, *f[i]);
        *f[i] = NULL;
    }
    nn_free(s->k, s->mask);
    nn_free(s->k, s->ids);
    nn_free(s->k, s->buckets);
    free(s->hmask);
    free(s->hbuckets);
    s->mask = s->hmask = NULL;
    s->ids = s->buckets = s->hbuckets = NULL;
    s->cap_tokens = s->cap_len = 0;
}

static int alloc_buffers(t5_state *s, int64_t nt, int64_t nl)
{
    const t5_model *e = s->m;
    nn_ctx *k = s->k;

    s->h = nn_alloc_f32(k, nt * e->D);
    s->x = nn_alloc_f32(k, nt * e->D);
    s->q = nn_alloc_f32(k, nt * e->HD);
    s->kb = nn_alloc_f32(k, nt * e->HD);
    s->v = nn_alloc_f32(k, nt * e->HD);
    s->a = nn_alloc_f32(k, nt * e->HD);
    s->f = nn_alloc_f32(k, nt * e->F);
    s->f1 = e->gated ? nn_alloc_f32(k, nt * e->F) : NULL;
    s->rel = nn_alloc_f32(k, e->H * (2 * nl - 1));
    s->relt = nn_alloc_f32(k, e->H * (2 * nl - 1));
    s->mask = nn_alloc(k, (size_t)nt);
    s->ids = nn_alloc(k, (size_t)nt * sizeof *s->ids);
    s->buckets = nn_alloc(k, (size_t)(2 * nl - 1) * sizeof *s->buckets);
    s->hmask = malloc((size_t)nt);
    s->hbuckets = malloc((size_t)(2 * nl - 1) * sizeof *s->hbuckets);
    if (s->h == NULL || s->x == NULL || s->q == NULL || s->kb == NULL || s->v == NULL ||
        s->a == NULL || s->f == NULL || (e->gated && s->f1 == NULL) || s->rel == NULL ||
        s->relt == NULL || s->mask == NULL || s->ids == NULL || s->buckets == NULL ||
        s->hmask == NULL || s->hbuckets == NULL)
        return SAMSEP_ERR_NOMEM;
    return SAMSEP_OK;
}

int t5_reserve(t5_state *s, int batch, int max_len, char *err, size_t errlen)
{
    const t5_model *e;
    int64_t tokens, len;

    if (s == NULL || batch < 1 || max_len < 1) {
        set_err(err, errlen, "t5_reserve: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    e = s->m;
    tokens = (int64_t)batch * max_len;
    len = max_len;
    if (tokens > s->cap_tokens || len > s->cap_len) {
        int64_t nt = tokens > s->cap_tokens ? tokens : s->cap_tokens;
        int64_t nl = len > s->cap_len ? len : s->cap_len;
        if (nt > ((int64_t)1 << 40) / (e->F > e->HD ? e->F : e->HD) ||
            nl > INT32_MAX / 2) {
            set_err(err, errlen, "t5: %d x %d tokens is too many", batch, max_len);
            return SAMSEP_ERR_INVALID;
        }
        free_buffers(s);
        if (alloc_buffers(s, nt, nl) != SAMSEP_OK) {
            free_buffers(s);
            set_err(err, errlen, "out of memory for %d x %d tokens", batch, max_len);
            return SAMSEP_ERR_NOMEM;
        }
        s->cap_tokens = nt;
        s->cap_len = nl;
    }
    if (nn_reserve(s->k, nn_attention_scratch(s->k, s->cap_len, e->dk)) != SAMSEP_OK) {
        set_err(err, errlen, "out of memory for attention scratch");
        return SAMSEP_ERR_NOMEM;
    }
    return SAMSEP_OK;
}

int t5_state_create(const t5_model *m, nn_ctx *k, t5_state **out, char *err,
                    size_t errlen)
{
    t5_state *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (m == NULL || k == NULL || out == NULL) {
        set_err(err, errlen, "t5_state_create: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    if (!nn_ctx_shares_memory(m->wk, k)) {
        set_err(err, errlen, "t5: the weights live on backend %s, the run is on %s",
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
    /* batch 1 of the config's n_positions tokens */
    rc = t5_reserve(s, 1, m->n_positions, err, errlen);
    if (rc != SAMSEP_OK) {
        t5_state_destroy(s);
        return rc;
    }
    *out = s;
    return SAMSEP_OK;
}

void t5_state_destroy(t5_state *s)
{
    if (s == NULL)
        return;
    free_buffers(s);
    free(s);
}

void t5_set_tap(t5_state *s, t5_tap_fn tap, void *user)
{
    if (s == NULL)
        return;
    s->tap = tap;
    s->tap_user = user;
}

/* ---- forward ---------------------------------------------------------- */

#define TRY(e)                \
    do {                      \
        int rc_ = (e);        \
        if (rc_ != SAMSEP_OK) \
            return rc_;       \
    } while (0)

/* Hand `d` [batch, len, dim] (backend memory) to the tap as host memory. */
static void tap(t5_state *s, const char *name, const float *d, int batch, int len,
                int dim)
{
    size_t n = (size_t)batch * (size_t)len * (size_t)dim;
    float *h;

    if (nn_ctx_host_memory(s->k)) {
        s->tap(s->tap_user, name, d, batch, len, dim);
        return;
    }
    /* only observers pay for this copy */
    h = malloc((n > 0 ? n : 1) * sizeof *h);
    if (h != NULL && nn_download(s->k, h, d, n * sizeof *h) == SAMSEP_OK)
        s->tap(s->tap_user, name, h, batch, len, dim);
    free(h);
}

/* Upload the ids, the key mask of `lengths` and the position bias of L
 * tokens: rel[h * (2L-1) + (L-1) + r] = bias of relative position r. */
static int inputs(t5_state *s, const int32_t *ids, const int *lengths, int64_t B,
                  int64_t L)
{
    const t5_model *e = s->m;
    int64_t b, i, r, w = 2 * L - 1;

    TRY(nn_upload(s->k, s->ids, ids, (size_t)(B * L) * sizeof *ids));
    for (b = 0; b < B; b++)
        for (i = 0; i < L; i++)
            s->hmask[b * L + i] = (uint8_t)(lengths == NULL || i < lengths[b]);
    TRY(nn_upload(s->k, s->mask, s->hmask, (size_t)(B * L)));
    for (r = -(L - 1); r <= L - 1; r++)
        s->hbuckets[(L - 1) + r] =
            t5_relative_bucket((int)r, 1, e->buckets, e->max_distance);
    TRY(nn_upload(s->k, s->buckets, s->hbuckets, (size_t)w * sizeof *s->hbuckets));
    /* relt [2L-1, H] = relbias[bucket], then rel [H, 2L-1] */
    TRY(nn_embedding(s->k, e->relbias, e->buckets, e->H, s->buckets, w, s->relt));
    return nn_transpose(s->k, s->relt, s->rel, 1, w, e->H);
}

static int ffn_act(t5_state *s, float *f, int64_t n)
{
    switch (s->m->act) {
    case ACT_RELU: return nn_relu(s->k, f, f, n);
    case ACT_GELU_TANH: return nn_gelu_tanh(s->k, f, f, n);
    case ACT_GELU_ERF: return nn_gelu_erf(s->k, f, f, n);
    case ACT_SILU: return nn_silu(s->k, f, f, n);
    }
    return SAMSEP_ERR_INVALID;
}

static int block(t5_state *s, const t5_block *w, const nn_attn_args *at, int64_t N)
{
    const t5_model *e = s->m;
    nn_ctx *k = s->k;
    int64_t D = e->D, HD = e->HD, F = e->F;

    /* self-attention: h += o(attn(rms(h))) */
    TRY(nn_rmsnorm(k, s->h, w->ln0, e->eps, s->x, N, D));  /* x [N, D] */
    TRY(nn_matmul_w(k, s->x, w->q, NULL, s->q, N, HD, D)); /* q [N, HD] */
    TRY(nn_matmul_w(k, s->x, w->k, NULL, s->kb, N, HD, D));
    TRY(nn_matmul_w(k, s->x, w->v, NULL, s->v, N, HD, D));
    TRY(nn_attention(k, at)); /* a [N, HD] */
    TRY(nn_matmul_ex_w(k, s->a, HD, w->o, NULL, s->h, D, N, D, HD, 1.0f));

    /* feed-forward: h += wo(act(wi(rms(h)))) */
    TRY(nn_rmsnorm(k, s->h, w->ln1, e->eps, s->x, N, D));
    TRY(nn_matmul_w(k, s->x, w->wi, NULL, s->f, N, F, D)); /* f [N, F] */
    TRY(ffn_act(s, s->f, N * F));
    if (e->gated) {
        TRY(nn_matmul_w(k, s->x, w->wi1, NULL, s->f1, N, F, D));
        TRY(nn_mul(k, s->f, s->f1, s->f, N * F));
    }
    return nn_matmul_ex_w(k, s->f, F, w->wo, NULL, s->h, D, N, D, F, 1.0f);
}

int t5_encode(t5_state *s, const int32_t *ids, const int *lengths, int batch, int max_len,
              float *out, char *err, size_t errlen)
{
    const t5_model *e;
    int64_t B = batch, L = max_len, N, i;
    nn_attn_args at;
    int b, l, rc;
    char name[32];

    if (s == NULL || ids == NULL || out == NULL || batch < 1 || max_len < 1) {
        set_err(err, errlen, "t5_encode: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    e = s->m;
    N = B * L;
    for (b = 0; b < batch; b++)
        if (lengths != NULL && (lengths[b] < 1 || lengths[b] > max_len)) {
            set_err(err, errlen, "t5: row %d has length %d, outside [1, %d]", b,
                    lengths[b], max_len);
            return SAMSEP_ERR_INVALID;
        }
    for (i = 0; i < N; i++)
        if (ids[i] < 0 || ids[i] >= e->vocab) {
            set_err(err, errlen,
                    "t5: token id %d at row %lld position %lld is outside [0, %lld)",
                    ids[i], (long long)(i / L), (long long)(i % L), (long long)e->vocab);
            return SAMSEP_ERR_INVALID;
        }
    rc = t5_reserve(s, batch, max_len, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;

    /* Nothing below allocates. */
    memset(&at, 0, sizeof at);
    at.B = B;
    at.H = e->H;
    at.Lq = L;
    at.Lk = L;
    at.dh = e->dk;
    at.q = s->q;
    at.k = s->kb;
    at.v = s->v;
    at.out = s->a;
    at.q_s = at.k_s = at.v_s = at.out_s = nn_strides_head_major(L, e->H, e->dk);
    at.scale = 1.0f;
    at.bias = s->rel + (L - 1); /* (h, i, j) -> rel[h][(L-1) + j - i] */
    at.bias_s.b = 0;
    at.bias_s.h = 2 * L - 1;
    at.bias_s.t = -1;
    at.bias_s.j = 1;
    at.key_mask = s->mask;

    rc = inputs(s, ids, lengths, B, L);
    if (rc == SAMSEP_OK)
        rc = nn_embedding(s->k, e->shared, e->vocab, e->D, s->ids, N, s->h);
    if (rc == SAMSEP_OK && s->tap != NULL)
        tap(s, "embeddings", s->h, batch, max_len, (int)e->D);
    for (l = 0; rc == SAMSEP_OK && l < e->layers; l++) {
        rc = block(s, &e->blocks[l], &at, N);
        if (rc == SAMSEP_OK && s->tap != NULL) {
            snprintf(name, sizeof name, "block%d_out", l);
            tap(s, name, s->h, batch, max_len, (int)e->D);
        }
    }
    if (rc == SAMSEP_OK)
        rc = nn_rmsnorm(s->k, s->h, e->final_ln, e->eps, out, N, e->D);
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "t5: kernel failed: %s", samsep_strerror(rc));
    return rc;
}
