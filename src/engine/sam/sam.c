/*
 * sam.c - SAM-Audio's separate() for text prompts, on the model's parts:
 * the DAC-VAE codec (dacvae.c), the DiT and its ODE (dit.c), the T5 encoder
 * (text/t5.c) and its tokenizer (text/tokenizer.c).
 *
 * The model opens one kernel context of its own, of one thread, only to
 * place the weights (and to compute the few that are derived at load);
 * each state opens the context it runs on, with its threads, and makes the
 * runs of the three networks on it. The weights are read-only after
 * sam_model_open, so states share them freely.
 *
 * Per excerpt (MANIFEST §5): upload the B mixtures, encode them to codec
 * features f [B, C, T]; feed cat([f^T, f^T]) with the text features to the
 * DiT's conditioning; integrate 16 midpoint steps from the noise; split
 * the result into target and residual latents [2B, C, T] and decode both
 * with the watermark bits (only the targets when the caller makes its own
 * residual: the codec decodes row by row, so a target does not depend on
 * whether its residual was decoded); download the rows. Text features
 * are computed by sam_set_text() and reused, since a batch's prompt does
 * not change from chunk to chunk. Working buffers grow to the largest
 * excerpt seen and are then reused: a steady stream of equal chunks
 * allocates nothing.
 *
 * The seeded noise is splitmix64-seeded xoshiro256** with Box-Muller, so a
 * run is reproducible everywhere for a given seed.
 */
#include "engine/sam/sam.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "engine/sam/dacvae.h"
#include "engine/sam/dit.h"
#include "engine/sam/text/t5.h"
#include "engine/sam/text/tokenizer.h"
#include "nn/io/jsonfile.h"
#include "nn/nn.h"
#include "nn/weights.h"

#define MAX_TEXT_BATCH 64
#define ODE_STEPS 16

struct sam_model {
    nn_ctx *wk;     /* places the weights; 1 thread */
    nn_weights *ws; /* the checkpoint: codec and DiT weights */
    cJSON *config;
    dacvae_model *codec;
    dit_model *dit;
    t5_model *t5;
    t5_tokenizer *tok;
    int hop, C, bits, rate;
};

struct sam_state {
    const sam_model *m;
    nn_ctx *k;
    dacvae_state *codec;
    dit_state *dit;
    t5_state *t5;

    /* text of the current batch */
    int batch, text_len, text_dim;
    int32_t *ids;     /* [batch, text_len] host */
    int *lengths;     /* [batch] host */
    float *text;      /* [batch, text_len, text_dim] */
    float *sel_text;  /* [sel_cap, text_len, text_dim]: a subset of text */
    int *sel_lengths; /* [sel_cap] host */
    int sel_cap;

    /* working buffers (the backend's), grown to the largest excerpt */
    int64_t cap_frames; /* T the buffers hold for `batch` items */
    int cap_batch;
    int64_t T;             /* frames of the last excerpt */
    int ode_batch;         /* its items */
    float *wav;            /* [B, T*hop] */
    float *noise;          /* [B, T, 2C] */
    float *features;       /* [B, C, T] */
    float *audio_features; /* [B, T, 2C] */
    float *ode;            /* [B, T, 2C] */
    float *latent;         /* [2B, C, T] */
    float *decoded;        /* [2B, 1, T*hop] */
    int *valid;            /* [B] host */

    /* span prompts of the current batch, per item, in the excerpt's time */
    samsep_anchor *anchors[MAX_TEXT_BATCH];
    int n_anchors[MAX_TEXT_BATCH];
    int32_t *anchor_ids;   /* [B, K] host, grown */
    int32_t *anchor_align; /* [B, T] host, grown */
    size_t cap_ids, cap_align;
};

/* ---- files ------------------------------------------------------------ */

static int file_exists(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The folder's checkpoint into path[PATH_MAX], else SAMSEP_ERR_IO. */
static int find_checkpoint(const char *dir, char *path, char *err, size_t errlen)
{
    snprintf(path, PATH_MAX, "%s/checkpoint.pt", dir);
    if (!file_exists(path))
        snprintf(path, PATH_MAX, "%s/checkpoint.safetensors", dir);
    if (!file_exists(path)) {
        set_err(err, errlen, "%s: no checkpoint.pt (or checkpoint.safetensors)", dir);
        return SAMSEP_ERR_IO;
    }
    return SAMSEP_OK;
}

/* The folder itself, and its config.json loaded (*config) and checked. */
static int read_folder(const char *dir, cJSON **config, char *err, size_t errlen)
{
    char path[PATH_MAX], why[SAMSEP_MSG_MAX];
    int rc;

    *config = NULL;
    if (dir == NULL) {
        set_err(err, errlen, "sam-audio: no model folder given (--model DIR)");
        return SAMSEP_ERR_INVALID;
    }
    if (!is_dir(dir)) {
        set_err(err, errlen,
                "%s: not a folder (--model wants the folder holding "
                "config.json and checkpoint.pt)",
                dir);
        return SAMSEP_ERR_IO;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    *config = nn_json_load(path, &rc, err, errlen);
    if (*config == NULL)
        return rc;
    rc = dit_check_config(*config, why, sizeof why);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "%s: %s", path, why);
        cJSON_Delete(*config);
        *config = NULL;
    }
    return rc;
}

static void t5_folder(const char *dir, const char *t5_dir, char *t5path)
{
    if (t5_dir == NULL)
        snprintf(t5path, PATH_MAX, "%s/t5", dir);
    else
        snprintf(t5path, PATH_MAX, "%s", t5_dir);
}

int sam_check(const char *dir, const char *t5_dir, const char *tokenizer, char *err,
              size_t errlen)
{
    char path[PATH_MAX], t5path[PATH_MAX];
    cJSON *config;
    int rc;

    rc = read_folder(dir, &config, err, errlen);
    cJSON_Delete(config);
    if (rc == SAMSEP_OK)
        rc = find_checkpoint(dir, path, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    t5_folder(dir, t5_dir, t5path);
    rc = t5_check(t5path, err, errlen);
    if (rc == SAMSEP_OK)
        rc = t5_tokenizer_check(tokenizer != NULL ? tokenizer : t5path, err, errlen);
    return rc;
}

/* ---- model ------------------------------------------------------------ */

/* The codec and the DiT from the checkpoint `path`, checked against the
 * config and each other. */
static int load_checkpoint(sam_model *m, const char *dir, const char *path, char *err,
                           size_t errlen)
{
    char why[SAMSEP_MSG_MAX];
    const cJSON *codec_cfg;
    int rc;

    rc = nn_weights_open(path, m->wk, &m->ws, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    rc = dacvae_model_load(m->ws, "audio_codec.", &m->codec, why, sizeof why);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "%s: codec: %s", path, why);
        return rc;
    }
    codec_cfg = cJSON_GetObjectItemCaseSensitive(m->config, "audio_codec");
    if (codec_cfg != NULL) {
        rc = dacvae_check_config(m->codec, codec_cfg, why, sizeof why);
        if (rc != SAMSEP_OK) {
            set_err(err, errlen, "%s/config.json does not match %s: %s", dir, path, why);
            return rc;
        }
    }
    rc = dit_model_load(m->ws, m->config, &m->dit, why, sizeof why);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "%s: transformer: %s", path, why);
        return rc;
    }
    /* what was folded or converted need not stay mapped */
    nn_weights_trim(m->ws);
    m->hop = dacvae_hop(m->codec);
    m->C = dacvae_latent_channels(m->codec);
    m->bits = dacvae_message_bits(m->codec);
    m->rate = 48000;
    if (codec_cfg != NULL) {
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(codec_cfg, "sample_rate");

        if (cJSON_IsNumber(sr) && sr->valuedouble >= 8000 && sr->valuedouble <= 384000)
            m->rate = (int)sr->valuedouble;
    }
    if (2 * m->C != dit_latent_channels(m->dit)) {
        set_err(err, errlen, "%s: codec latent %d does not match the transformer's %d",
                path, 2 * m->C, dit_latent_channels(m->dit));
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

int sam_model_open(const char *dir, const char *t5_dir, const char *tokenizer,
                   const char *backend, sam_model **out, char *err, size_t errlen)
{
    return sam_model_load(dir, t5_dir, tokenizer, backend, NN_PRECISION_F32, out, err,
                          errlen);
}

int sam_model_load(const char *dir, const char *t5_dir, const char *tokenizer,
                   const char *backend, int precision, sam_model **out, char *err,
                   size_t errlen)
{
    char path[PATH_MAX], t5path[PATH_MAX];
    nn_params p;
    sam_model *m;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (out == NULL) {
        set_err(err, errlen, "sam_model_open: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    memset(&p, 0, sizeof p);
    p.backend = backend;
    p.threads = 1;
    rc = read_folder(dir, &m->config, err, errlen);
    if (rc == SAMSEP_OK)
        rc = find_checkpoint(dir, path, err, errlen);
    if (rc == SAMSEP_OK)
        rc = nn_ctx_create(&p, &m->wk, err, errlen);
    if (rc == SAMSEP_OK)
        nn_ctx_set_precision(m->wk, (nn_precision)precision);
    if (rc == SAMSEP_OK)
        rc = load_checkpoint(m, dir, path, err, errlen);
    if (rc == SAMSEP_OK) {
        t5_folder(dir, t5_dir, t5path);
        rc = t5_model_open(t5path, m->wk, &m->t5, err, errlen);
    }
    if (rc == SAMSEP_OK)
        rc = t5_tokenizer_open(tokenizer != NULL ? tokenizer : t5path, &m->tok, err,
                               errlen);
    if (rc == SAMSEP_OK && t5_model_dim(m->t5) != dit_text_dim(m->dit)) {
        set_err(err, errlen,
                "%s: the T5 encoder is %d wide but the model expects text "
                "features of %d",
                t5path, t5_model_dim(m->t5), dit_text_dim(m->dit));
        rc = SAMSEP_ERR_FORMAT;
    }
    if (rc != SAMSEP_OK) {
        sam_model_close(m);
        return rc;
    }
    *out = m;
    return SAMSEP_OK;
}

void sam_model_close(sam_model *m)
{
    if (m == NULL)
        return;
    t5_tokenizer_close(m->tok);
    t5_model_close(m->t5);
    dit_model_free(m->dit);
    dacvae_model_free(m->codec);
    nn_weights_close(m->ws);
    nn_ctx_destroy(m->wk);
    cJSON_Delete(m->config);
    free(m);
}

int sam_sample_rate(const sam_model *m)
{
    return m->rate;
}
int sam_hop(const sam_model *m)
{
    return m->hop;
}
int sam_latent_channels(const sam_model *m)
{
    return m->C;
}
int sam_message_bits(const sam_model *m)
{
    return m->bits;
}
int64_t sam_max_samples(const sam_model *m)
{
    return (int64_t)dit_max_frames(m->dit) * m->hop;
}

/* ---- state ------------------------------------------------------------ */

static void free_buffers(sam_state *s)
{
    float **f[] = { &s->wav, &s->noise,  &s->features, &s->audio_features,
                    &s->ode, &s->latent, &s->decoded };
    size_t i;

    for (i = 0; i < sizeof f / sizeof f[0]; i++) {
        nn_free(s->k, *f[i]);
        *f[i] = NULL;
    }
    free(s->valid);
    s->valid = NULL;
    s->cap_frames = 0;
    s->cap_batch = 0;
}

int sam_state_create(const sam_model *m, int threads, sam_state **out, char *err,
                     size_t errlen)
{
    nn_params p;
    sam_state *s;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (m == NULL || out == NULL) {
        set_err(err, errlen, "sam_state_create: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    s->m = m;
    memset(&p, 0, sizeof p);
    p.backend = nn_ctx_backend(m->wk);
    p.threads = threads;
    rc = nn_ctx_create(&p, &s->k, err, errlen);
    if (rc == SAMSEP_OK)
        rc = dacvae_state_create(m->codec, s->k, &s->codec, err, errlen);
    if (rc == SAMSEP_OK)
        rc = dit_state_create(m->dit, s->k, &s->dit, err, errlen);
    if (rc == SAMSEP_OK)
        rc = t5_state_create(m->t5, s->k, &s->t5, err, errlen);
    if (rc != SAMSEP_OK) {
        sam_state_destroy(s);
        return rc;
    }
    *out = s;
    return SAMSEP_OK;
}

void sam_state_destroy(sam_state *s)
{
    int b;

    if (s == NULL)
        return;
    free_buffers(s);
    for (b = 0; b < MAX_TEXT_BATCH; b++)
        free(s->anchors[b]);
    free(s->anchor_ids);
    free(s->anchor_align);
    free(s->ids);
    free(s->lengths);
    nn_free(s->k, s->text);
    nn_free(s->k, s->sel_text);
    free(s->sel_lengths);
    t5_state_destroy(s->t5);
    dit_state_destroy(s->dit);
    dacvae_state_destroy(s->codec);
    nn_ctx_destroy(s->k);
    free(s);
}

/* ---- text ------------------------------------------------------------- */

/* Tokenize texts into ids [batch, L] (rows right-padded with id 0 to the
 * longest, pad="longest") and lens; returns L or a negative status. */
static int tokenize(const sam_model *m, const char *const *texts, int batch, int32_t *ids,
                    int *lens, char *err, size_t errlen)
{
    int b, L = 0, rc;

    for (b = 0; b < batch; b++) {
        rc = t5_tokenizer_encode(m->tok, texts[b], ids + (size_t)b * T5_TOKENIZER_MAX_LEN,
                                 T5_TOKENIZER_MAX_LEN, err, errlen);
        if (rc < 1)
            return rc < 0 ? rc : SAMSEP_ERR_INVALID;
        lens[b] = rc;
        if (rc > L)
            L = rc;
    }
    for (b = 1; b < batch; b++)
        memmove(ids + (size_t)b * L, ids + (size_t)b * T5_TOKENIZER_MAX_LEN,
                (size_t)L * sizeof *ids);
    return L;
}

int sam_set_text(sam_state *s, const char *const *texts, int batch, char *err,
                 size_t errlen)
{
    int32_t *ids;
    int *lens, L, Dt, rc, b;
    float *text;

    if (s == NULL || texts == NULL || batch < 1 || batch > MAX_TEXT_BATCH) {
        set_err(err, errlen, "sam-audio: 1 to %d prompts", MAX_TEXT_BATCH);
        return SAMSEP_ERR_INVALID;
    }
    Dt = t5_model_dim(s->m->t5);
    ids = calloc((size_t)batch * T5_TOKENIZER_MAX_LEN, sizeof *ids);
    lens = calloc((size_t)batch, sizeof *lens);
    if (ids == NULL || lens == NULL) {
        free(ids);
        free(lens);
        return SAMSEP_ERR_NOMEM;
    }
    L = tokenize(s->m, texts, batch, ids, lens, err, errlen);
    text = L > 0 ? nn_alloc_f32(s->k, (int64_t)batch * L * Dt) : NULL;
    rc = L < 1          ? L
         : text == NULL ? SAMSEP_ERR_NOMEM
                        : t5_encode(s->t5, ids, lens, batch, L, text, err, errlen);
    if (rc != SAMSEP_OK) {
        free(ids);
        free(lens);
        nn_free(s->k, text);
        return rc;
    }
    free(s->ids);
    free(s->lengths);
    nn_free(s->k, s->text);
    for (b = 0; b < MAX_TEXT_BATCH; b++) {
        free(s->anchors[b]);
        s->anchors[b] = NULL;
        s->n_anchors[b] = 0;
    }
    nn_free(s->k, s->sel_text);
    free(s->sel_lengths);
    s->sel_text = NULL;
    s->sel_lengths = NULL;
    s->sel_cap = 0;
    s->ids = ids;
    s->lengths = lens;
    s->text = text;
    s->batch = batch;
    s->text_len = L;
    s->text_dim = Dt;
    return L;
}

/* ---- span prompts ----------------------------------------------------- */

/* Frame index of a time: ceil(seconds * rate / hop), as the processor
 * computes it in double precision, limited to 0..T. */
static int64_t anchor_frame(double seconds, int rate, int hop, int64_t T)
{
    double f = ceil(seconds * (double)rate / (double)hop);

    return f <= 0 ? 0 : f >= (double)T ? T : (int64_t)f;
}

void sam_anchor_alignment(const samsep_anchor *a, int n, int rate, int hop, int64_t valid,
                          int64_t T, int32_t *ids, int32_t *align)
{
    int64_t t;
    int k;

    ids[0] = DIT_ANCHOR_NULL;
    ids[1] = DIT_ANCHOR_PAD;
    for (t = 0; t < T; t++)
        align[t] = t < valid ? 0 : 1;
    for (k = 0; k < n; k++) {
        int64_t from = anchor_frame(a[k].start, rate, hop, T);
        int64_t to = anchor_frame(a[k].end, rate, hop, T);

        ids[2 + k] = a[k].sign == '+' ? DIT_ANCHOR_POSITIVE : DIT_ANCHOR_NEGATIVE;
        for (t = from; t < to; t++) /* a later span overwrites an earlier one */
            align[t] = 2 + k;
    }
}

int sam_set_anchors(sam_state *s, int item, const samsep_anchor *anchors, int n,
                    char *err, size_t errlen)
{
    samsep_anchor *copy = NULL;
    int k;

    if (s == NULL || item < 0 || item >= s->batch || n < 0 || n > SAM_MAX_ANCHORS ||
        (n > 0 && anchors == NULL)) {
        set_err(err, errlen,
                "sam-audio: span prompts need an item of the batch and "
                "0 to %d spans",
                SAM_MAX_ANCHORS);
        return SAMSEP_ERR_INVALID;
    }
    for (k = 0; k < n; k++) {
        const samsep_anchor *a = &anchors[k];

        if ((a->sign != '+' && a->sign != '-') || !isfinite(a->start) ||
            !isfinite(a->end) || a->start < 0 || a->end <= a->start) {
            set_err(err, errlen,
                    "sam-audio: span %d (%c%g:%g) is not '+' or '-' with "
                    "0 <= start < end",
                    k + 1, a->sign, a->start, a->end);
            return SAMSEP_ERR_INVALID;
        }
    }
    if (n > 0) {
        copy = malloc((size_t)n * sizeof *copy);
        if (copy == NULL)
            return SAMSEP_ERR_NOMEM;
        memcpy(copy, anchors, (size_t)n * sizeof *copy);
    }
    free(s->anchors[item]);
    s->anchors[item] = copy;
    s->n_anchors[item] = n;
    return SAMSEP_OK;
}

/* The anchor ids [B, K] and alignment [B, T] of the B rows run (row b is
 * item which[b], or item b when which is NULL) into the host buffers, K
 * into *K; 0 when no row has spans (the DiT's default then applies). */
static int anchor_inputs(sam_state *s, int B, const int *which, int64_t T, int *K)
{
    int b, n = 0, any = 0;
    size_t nid, nal = (size_t)B * (size_t)T;

    for (b = 0; b < B; b++) {
        int i = which != NULL ? which[b] : b;

        n = s->n_anchors[i] > n ? s->n_anchors[i] : n;
        any |= s->n_anchors[i] > 0;
    }
    *K = 0;
    if (!any)
        return SAMSEP_OK;
    nid = (size_t)B * (size_t)(n + 2);
    if (nid > s->cap_ids || nal > s->cap_align) {
        int32_t *ids =
            realloc(s->anchor_ids, (nid > s->cap_ids ? nid : s->cap_ids) * sizeof *ids);
        int32_t *al;

        if (ids == NULL)
            return SAMSEP_ERR_NOMEM;
        s->anchor_ids = ids;
        s->cap_ids = nid > s->cap_ids ? nid : s->cap_ids;
        al = realloc(s->anchor_align,
                     (nal > s->cap_align ? nal : s->cap_align) * sizeof *al);
        if (al == NULL)
            return SAMSEP_ERR_NOMEM;
        s->anchor_align = al;
        s->cap_align = nal > s->cap_align ? nal : s->cap_align;
    }
    /* rows padded with <pad> to the longest (pad_sequence) */
    for (b = 0; b < B; b++) {
        int32_t *ids = s->anchor_ids + (size_t)b * (size_t)(n + 2);
        int i = which != NULL ? which[b] : b, k;

        sam_anchor_alignment(s->anchors[i], s->n_anchors[i], s->m->rate, s->m->hop,
                             s->valid[b], T, ids,
                             s->anchor_align + (size_t)b * (size_t)T);
        for (k = 2 + s->n_anchors[i]; k < n + 2; k++)
            ids[k] = DIT_ANCHOR_PAD;
    }
    *K = n + 2;
    return SAMSEP_OK;
}

/* ---- separation ------------------------------------------------------- */

static int reserve(sam_state *s, int B, int64_t T, char *err, size_t errlen)
{
    int64_t bt, bct;

    if (B <= s->cap_batch && T <= s->cap_frames)
        return SAMSEP_OK;
    free_buffers(s);
    bt = (int64_t)B * T;
    bct = bt * s->m->C;
    s->wav = nn_alloc_f32(s->k, bt * s->m->hop);
    s->noise = nn_alloc_f32(s->k, 2 * bct);
    s->features = nn_alloc_f32(s->k, bct);
    s->audio_features = nn_alloc_f32(s->k, 2 * bct);
    s->ode = nn_alloc_f32(s->k, 2 * bct);
    s->latent = nn_alloc_f32(s->k, 2 * bct);
    s->decoded = nn_alloc_f32(s->k, 2 * bt * s->m->hop);
    s->valid = malloc((size_t)B * sizeof(int));
    if (s->wav == NULL || s->noise == NULL || s->features == NULL ||
        s->audio_features == NULL || s->ode == NULL || s->latent == NULL ||
        s->decoded == NULL || s->valid == NULL) {
        free_buffers(s);
        set_err(err, errlen, "sam-audio: out of memory for %lld frames", (long long)T);
        return SAMSEP_ERR_NOMEM;
    }
    s->cap_batch = B;
    s->cap_frames = T;
    return dit_reserve(s->dit, B, (int)T, s->text_len, err, errlen);
}

/* The excerpt's checks: sizes, item lengths (valid frames into s->valid). */
static int check_excerpt(sam_state *s, const int64_t *lengths, int64_t N, int64_t T,
                         char *err, size_t errlen)
{
    const sam_model *m = s->m;
    int64_t b;

    if (T > dit_max_frames(m->dit)) {
        set_err(err, errlen,
                "sam-audio: %lld samples is %lld frames, more than the "
                "model's %d; use a shorter chunk",
                (long long)N, (long long)T, dit_max_frames(m->dit));
        return SAMSEP_ERR_INVALID;
    }
    for (b = 0; b < s->batch; b++) {
        int64_t len = lengths != NULL ? lengths[b] : N;

        if (len < 1 || len > N) {
            set_err(err, errlen, "sam-audio: item %lld has %lld samples (1..%lld)",
                    (long long)b, (long long)len, (long long)N);
            return SAMSEP_ERR_INVALID;
        }
    }
    return SAMSEP_OK;
}

/* s->features [B, C, T] -> s->audio_features [B, T, 2C], the DiT's input
 * (s->latent is free until the ODE is done). */
static int audio_features(sam_state *s, int B, int64_t T, char *err, size_t errlen)
{
    int rc = dit_audio_features_from_codec(s->k, s->features, B, s->m->C, T, s->latent,
                                           s->audio_features);

    if (rc != SAMSEP_OK)
        set_err(err, errlen, "sam-audio: kernel failed: %s", samsep_strerror(rc));
    return rc;
}

/* features -> conditioning -> ODE -> latents of target and residual, for
 * the B items of s->audio_features (filled by the caller) under `text`
 * [B, text_len, Dt] of `lengths` tokens. */
static int flow(sam_state *s, int B, int64_t T, const float *text, const int *lengths,
                const int *which, char *err, size_t errlen)
{
    const sam_model *m = s->m;
    dit_inputs in;
    int rc;

    memset(&in, 0, sizeof in);
    in.batch = B;
    in.frames = (int)T;
    in.audio_features = s->audio_features;
    in.valid_frames = s->valid;
    in.text_len = s->text_len;
    in.text_features = text;
    in.text_lengths = lengths;
    rc = anchor_inputs(s, B, which, T, &in.anchor_count);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "sam-audio: out of memory for the span prompts");
        return rc;
    }
    if (in.anchor_count > 0) {
        in.anchor_ids = s->anchor_ids;
        in.anchor_alignment = s->anchor_align;
    }
    rc = dit_condition(s->dit, &in, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    rc = dit_ode_solve(s->dit, s->noise, ODE_STEPS, s->ode, NULL, NULL);
    if (rc == SAMSEP_OK)
        rc = dit_latent_to_codec(s->k, s->ode, B, T, m->C, s->latent); /* [2B, C, T] */
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "sam-audio: ODE solve failed: %s", samsep_strerror(rc));
    return rc;
}

/* [2B, C, T] -> [2B, 1, T*hop]: every row, or (targets_only) rows 0, 2, ...
 * with their own bits, the residual rows left undecoded. */
static int decode(sam_state *s, int64_t T, const float *message, int targets_only,
                  char *err, size_t errlen)
{
    const sam_model *m = s->m;
    int64_t b, ct = (int64_t)m->C * T, hopT = T * m->hop;
    int rc = SAMSEP_OK;

    if (!targets_only)
        return dacvae_decode(s->codec, s->latent, 2 * s->batch, T, message, s->decoded,
                             err, errlen);
    for (b = 0; b < s->batch && rc == SAMSEP_OK; b++)
        rc = dacvae_decode(s->codec, s->latent + 2 * b * ct, 1, T,
                           message + 2 * b * m->bits, s->decoded + 2 * b * hopT, err,
                           errlen);
    return rc;
}

int sam_separate(sam_state *s, const float *wav, const int64_t *lengths, int64_t N,
                 const float *noise, const float *message, float *target, float *residual,
                 char *err, size_t errlen)
{
    const sam_model *m;
    int64_t T, b, hopT;
    int B, rc;

    if (s == NULL || wav == NULL || noise == NULL || message == NULL || target == NULL ||
        N < 1 || s->batch < 1) {
        set_err(err, errlen,
                "sam-audio: separate needs audio, noise, message, "
                "outputs and a prompt (sam_set_text)");
        return SAMSEP_ERR_INVALID;
    }
    m = s->m;
    B = s->batch;
    T = (N + m->hop - 1) / m->hop;
    rc = check_excerpt(s, lengths, N, T, err, errlen);
    if (rc == SAMSEP_OK)
        rc = reserve(s, B, T, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    for (b = 0; b < B; b++)
        s->valid[b] = (int)(((lengths != NULL ? lengths[b] : N) + m->hop - 1) / m->hop);
    s->T = T;
    s->ode_batch = B;
    rc = nn_upload(s->k, s->wav, wav, (size_t)(B * N) * sizeof *wav);
    if (rc == SAMSEP_OK)
        rc = nn_upload(s->k, s->noise, noise, (size_t)(B * T * 2 * m->C) * sizeof *noise);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "sam-audio: cannot upload the excerpt: %s",
                samsep_strerror(rc));
        return rc;
    }
    /* [B, N] -> features [B, C, T] */
    rc = dacvae_encode(s->codec, s->wav, B, N, s->features, err, errlen);
    /* [B, C, T] -> [B, T, 2C] (latent is free until the ODE is done) */
    if (rc == SAMSEP_OK)
        rc = audio_features(s, B, T, err, errlen);
    if (rc == SAMSEP_OK)
        rc = flow(s, B, T, s->text, s->lengths, NULL, err, errlen);
    if (rc == SAMSEP_OK)
        rc = decode(s, T, message, residual == NULL, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    hopT = T * m->hop;
    for (b = 0; b < B && rc == SAMSEP_OK; b++) {
        rc = nn_download(s->k, target + b * hopT, s->decoded + (2 * b) * hopT,
                         (size_t)hopT * sizeof(float));
        if (rc == SAMSEP_OK && residual != NULL)
            rc = nn_download(s->k, residual + b * hopT, s->decoded + (2 * b + 1) * hopT,
                             (size_t)hopT * sizeof(float));
    }
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "sam-audio: cannot download the outputs: %s",
                samsep_strerror(rc));
    return rc;
}

/* The text features of prompts which[0..n) of the batch, as a [n, L, Dt]
 * block with their lengths: the batch's own when which is 0, 1, ..., else
 * a copy gathered into the state's selection buffer. */
static int select_text(sam_state *s, const int *which, int n, const float **text,
                       const int **lengths, char *err, size_t errlen)
{
    int64_t row = (int64_t)s->text_len * s->text_dim;
    int j, rc = SAMSEP_OK, all = n == s->batch;

    for (j = 0; j < n && all; j++)
        all = which[j] == j;
    if (all) {
        *text = s->text;
        *lengths = s->lengths;
        return SAMSEP_OK;
    }
    if (n > s->sel_cap) {
        nn_free(s->k, s->sel_text);
        free(s->sel_lengths);
        s->sel_text = nn_alloc_f32(s->k, n * row);
        s->sel_lengths = malloc((size_t)n * sizeof *s->sel_lengths);
        s->sel_cap = s->sel_text != NULL && s->sel_lengths != NULL ? n : 0;
        if (s->sel_cap == 0) {
            set_err(err, errlen, "sam-audio: out of memory for %d prompts", n);
            return SAMSEP_ERR_NOMEM;
        }
    }
    for (j = 0; j < n && rc == SAMSEP_OK; j++) {
        rc = nn_copy(s->k, s->text + which[j] * row, s->sel_text + j * row, row);
        s->sel_lengths[j] = s->lengths[which[j]];
    }
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "sam-audio: kernel failed: %s", samsep_strerror(rc));
    *text = s->sel_text;
    *lengths = s->sel_lengths;
    return rc;
}

/* Decode prompt j's target and residual latents (rows 2j, 2j+1 of
 * s->latent) with the chunk's bits and download them; the target alone
 * when residual is NULL (as sam_separate decodes for a subtracting run). */
static int decode_prompt(sam_state *s, int j, int64_t T, const float *message,
                         float *target, float *residual, char *err, size_t errlen)
{
    const sam_model *m = s->m;
    int64_t hopT = T * m->hop;
    int rc;

    rc = dacvae_decode(s->codec, s->latent + (int64_t)2 * j * m->C * T,
                       residual != NULL ? 2 : 1, T, message, s->decoded, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    rc = nn_download(s->k, target, s->decoded, (size_t)hopT * sizeof(float));
    if (rc == SAMSEP_OK && residual != NULL)
        rc = nn_download(s->k, residual, s->decoded + hopT, (size_t)hopT * sizeof(float));
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "sam-audio: cannot download the outputs: %s",
                samsep_strerror(rc));
    return rc;
}

int sam_separate_prompts(sam_state *s, const float *wav, int64_t N, const float *noise,
                         const float *message, const int *which, int n,
                         float *const *targets, float *const *residuals, char *err,
                         size_t errlen)
{
    const sam_model *m;
    const float *text = NULL;
    const int *lengths = NULL;
    int64_t T, row;
    int j, rc;

    if (s == NULL || wav == NULL || noise == NULL || message == NULL || which == NULL ||
        targets == NULL || residuals == NULL || N < 1 || s->batch < 1 || n < 1 ||
        n > s->batch) {
        set_err(err, errlen,
                "sam-audio: separate needs audio, noise, message, "
                "outputs and 1 to %d prompts (sam_set_text)",
                s != NULL ? s->batch : 0);
        return SAMSEP_ERR_INVALID;
    }
    for (j = 0; j < n; j++)
        if (which[j] < 0 || which[j] >= s->batch || targets[j] == NULL) {
            set_err(err, errlen, "sam-audio: output %d: no prompt %d or no buffers", j,
                    which[j]);
            return SAMSEP_ERR_INVALID;
        }
    m = s->m;
    T = (N + m->hop - 1) / m->hop;
    row = T * 2 * m->C;
    rc = check_excerpt(s, NULL, N, T, err, errlen);
    if (rc == SAMSEP_OK)
        rc = reserve(s, n, T, err, errlen);
    if (rc == SAMSEP_OK)
        rc = select_text(s, which, n, &text, &lengths, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    for (j = 0; j < n; j++)
        s->valid[j] = (int)T;
    s->T = T;
    s->ode_batch = n;
    rc = nn_upload(s->k, s->wav, wav, (size_t)N * sizeof *wav);
    /* every prompt starts from the chunk's one noise, as a run of it alone */
    for (j = 0; j < n && rc == SAMSEP_OK; j++)
        rc = nn_upload(s->k, s->noise + j * row, noise, (size_t)row * sizeof *noise);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "sam-audio: cannot upload the excerpt: %s",
                samsep_strerror(rc));
        return rc;
    }
    /* one encode: [1, N] -> [1, C, T] -> [1, T, 2C], then a row per prompt */
    rc = dacvae_encode(s->codec, s->wav, 1, N, s->features, err, errlen);
    if (rc == SAMSEP_OK)
        rc = audio_features(s, 1, T, err, errlen);
    for (j = 1; j < n && rc == SAMSEP_OK; j++) {
        rc = nn_copy(s->k, s->audio_features, s->audio_features + j * row, row);
        if (rc != SAMSEP_OK)
            set_err(err, errlen, "sam-audio: kernel failed: %s", samsep_strerror(rc));
    }
    if (rc == SAMSEP_OK)
        rc = flow(s, n, T, text, lengths, which, err, errlen);
    for (j = 0; j < n && rc == SAMSEP_OK; j++)
        rc = decode_prompt(s, j, T, message, targets[j], residuals[j], err, errlen);
    return rc;
}

/* ---- seeded randomness -------------------------------------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t result = rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return result;
}

/* uniform in (0, 1] */
static double rng_uniform(rng *r)
{
    return ((double)(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

void sam_noise(uint64_t seed, uint64_t stream, float *out, int64_t n)
{
    rng r;
    int64_t i;

    rng_seed(&r, seed, stream);
    for (i = 0; i < n; i += 2) {
        double u1 = rng_uniform(&r), u2 = rng_uniform(&r);
        double rad = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;

        out[i] = (float)(rad * cos(th));
        if (i + 1 < n)
            out[i + 1] = (float)(rad * sin(th));
    }
}

void sam_message(uint64_t seed, uint64_t stream, float *out, int64_t n)
{
    rng r;
    int64_t i;

    rng_seed(&r, seed ^ 0x6d657373616765ull, stream);
    for (i = 0; i < n; i++)
        out[i] = (float)(rng_next(&r) >> 63);
}

/* ---- intermediates ---------------------------------------------------- */

const int32_t *sam_text_ids(const sam_state *s, int *L)
{
    if (L != NULL)
        *L = s->text_len;
    return s->ids;
}

int sam_text_features(sam_state *s, float *out, int *L, int *Dt)
{
    if (L != NULL)
        *L = s->text_len;
    if (Dt != NULL)
        *Dt = s->text_dim;
    if (out == NULL || s->text == NULL)
        return SAMSEP_OK;
    return nn_download(s->k, out, s->text,
                       (size_t)s->batch * (size_t)s->text_len * (size_t)s->text_dim *
                           sizeof *out);
}

int sam_last_ode_result(sam_state *s, float *out, int64_t *n)
{
    int64_t len = (int64_t)s->ode_batch * s->T * 2 * s->m->C;

    if (n != NULL)
        *n = len;
    if (out == NULL || s->ode == NULL)
        return SAMSEP_OK;
    return nn_download(s->k, out, s->ode, (size_t)len * sizeof *out);
}
