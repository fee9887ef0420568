/*
 * sam.c - SAM-Audio's separate() for text prompts, on the model's parts:
 * the DAC-VAE codec (dacvae.c), the DiT and its ODE (dit.c), the T5 encoder
 * (t5.c) and its tokenizer (tokenizer.c), all on one kernel context.
 *
 * Per excerpt (MANIFEST §5): encode the B mixtures to codec features
 * f [B, C, T]; feed cat([f^T, f^T]) with the text features to the DiT's
 * conditioning; integrate 16 midpoint steps from the noise; split the
 * result into target and residual latents [2B, C, T] and decode both in one
 * batch with the watermark bits. Text features are computed by
 * sam_set_text() and reused, since a batch's prompt does not change from
 * chunk to chunk. Working buffers grow to the largest excerpt seen and are
 * then reused: a steady stream of equal chunks allocates nothing.
 *
 * The seeded noise is splitmix64-seeded xoshiro256** with Box-Muller, so a
 * run is reproducible everywhere for a given seed.
 */
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
#include "engine/sam/sam.h"
#include "engine/sam/text/t5.h"
#include "engine/sam/text/tokenizer.h"
#include "nn/io/jsonfile.h"
#include "nn/kernels.h"
#include "nn/weights.h"

#define MAX_TEXT_BATCH 64
#define ODE_STEPS 16

struct sam_model {
    kctx *k;
    nn_weights *ws;        /* the checkpoint: codec and DiT weights */
    cJSON *config;
    dacvae *codec;
    dit_model *dit;
    t5_encoder *t5;
    t5_tokenizer *tok;
    int hop, C, bits, rate;

    /* text of the current batch */
    int batch, text_len, text_dim;
    int32_t *ids;          /* [batch, text_len] */
    int *lengths;          /* [batch] */
    float *text;           /* [batch, text_len, text_dim] */

    /* working buffers, grown to the largest excerpt */
    int64_t cap_frames;    /* T the buffers hold for `batch` items */
    int cap_batch;
    float *features;       /* [B, C, T] */
    float *audio_features; /* [B, T, 2C] */
    float *ode;            /* [B, T, 2C] */
    float *latent;         /* [2B, C, T] */
    float *decoded;        /* [2B, 1, T*hop] */
    int *valid;            /* [B] */
};

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


int sam_open(const char *dir, const char *t5_dir, const char *tokenizer,
             int threads, sam_model **out, char *err, size_t errlen)
{
    char path[PATH_MAX], t5path[PATH_MAX], why[SAMSEP_MSG_MAX];
    sam_model *m;
    const cJSON *codec_cfg;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (dir == NULL || out == NULL) {
        set_err(err, errlen, "sam-audio: no model folder given (--model DIR)");
        return SAMSEP_ERR_INVALID;
    }
    if (!is_dir(dir)) {
        set_err(err, errlen, "%s: not a folder (--model wants the folder holding "
                "config.json and checkpoint.pt)", dir);
        return SAMSEP_ERR_IO;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    m->config = nn_json_load(path, &rc, err, errlen);
    if (m->config == NULL) {
        sam_close(m);
        return rc;
    }
    snprintf(path, sizeof path, "%s/checkpoint.pt", dir);
    if (!file_exists(path))
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    if (!file_exists(path)) {
        set_err(err, errlen, "%s: no checkpoint.pt (or checkpoint.safetensors)", dir);
        sam_close(m);
        return SAMSEP_ERR_IO;
    }
    rc = nn_weights_open(path, &m->ws, err, errlen);
    if (rc == SAMSEP_OK)
        rc = kctx_create(threads, &m->k, err, errlen);
    if (rc == SAMSEP_OK) {
        rc = dacvae_open(m->ws, "audio_codec.", m->k, &m->codec, why, sizeof why);
        if (rc != SAMSEP_OK)
            set_err(err, errlen, "%s: codec: %s", path, why);
    }
    codec_cfg = cJSON_GetObjectItemCaseSensitive(m->config, "audio_codec");
    if (rc == SAMSEP_OK && codec_cfg != NULL) {
        rc = dacvae_check_config(m->codec, codec_cfg, why, sizeof why);
        if (rc != SAMSEP_OK)
            set_err(err, errlen, "%s/config.json does not match %s: %s", dir, path, why);
    }
    if (rc == SAMSEP_OK) {
        rc = dit_open(m->ws, m->config, m->k, &m->dit, why, sizeof why);
        if (rc != SAMSEP_OK)
            set_err(err, errlen, "%s: transformer: %s", path, why);
    }
    /* what was folded or converted need not stay mapped */
    if (rc == SAMSEP_OK)
        nn_weights_trim(m->ws);
    if (rc == SAMSEP_OK) {
        if (t5_dir == NULL)
            snprintf(t5path, sizeof t5path, "%s/t5", dir);
        else
            snprintf(t5path, sizeof t5path, "%s", t5_dir);
        rc = t5_encoder_open_ctx(t5path, m->k, &m->t5, err, errlen);
    }
    if (rc == SAMSEP_OK)
        rc = t5_tokenizer_open(tokenizer != NULL ? tokenizer : t5path, &m->tok, err,
                               errlen);
    if (rc == SAMSEP_OK && t5_encoder_dim(m->t5) != dit_text_dim(m->dit)) {
        set_err(err, errlen, "%s: the T5 encoder is %d wide but the model expects text "
                "features of %d", t5path, t5_encoder_dim(m->t5), dit_text_dim(m->dit));
        rc = SAMSEP_ERR_FORMAT;
    }
    if (rc != SAMSEP_OK) {
        sam_close(m);
        return rc;
    }
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
        sam_close(m);
        return SAMSEP_ERR_FORMAT;
    }
    *out = m;
    return SAMSEP_OK;
}

static void free_buffers(sam_model *m)
{
    free(m->features);
    free(m->audio_features);
    free(m->ode);
    free(m->latent);
    free(m->decoded);
    free(m->valid);
    m->features = m->audio_features = m->ode = m->latent = m->decoded = NULL;
    m->valid = NULL;
    m->cap_frames = 0;
    m->cap_batch = 0;
}

void sam_close(sam_model *m)
{
    if (m == NULL)
        return;
    free_buffers(m);
    free(m->ids);
    free(m->lengths);
    free(m->text);
    t5_tokenizer_close(m->tok);
    t5_encoder_close(m->t5);
    dit_close(m->dit);
    dacvae_close(m->codec);
    kctx_destroy(m->k);
    nn_weights_close(m->ws);
    cJSON_Delete(m->config);
    free(m);
}

int sam_sample_rate(const sam_model *m) { return m->rate; }
int sam_hop(const sam_model *m) { return m->hop; }
int sam_latent_channels(const sam_model *m) { return m->C; }
int sam_message_bits(const sam_model *m) { return m->bits; }
int64_t sam_max_samples(const sam_model *m)
{
    return (int64_t)dit_max_frames(m->dit) * m->hop;
}

int sam_set_text(sam_model *m, const char *const *texts, int batch, char *err,
                 size_t errlen)
{
    int32_t *ids;
    int *lens, b, L = 0, rc;
    float *text;

    if (m == NULL || texts == NULL || batch < 1 || batch > MAX_TEXT_BATCH) {
        set_err(err, errlen, "sam-audio: 1 to %d prompts", MAX_TEXT_BATCH);
        return SAMSEP_ERR_INVALID;
    }
    ids = calloc((size_t)batch * T5_TOKENIZER_MAX_LEN, sizeof *ids);
    lens = calloc((size_t)batch, sizeof *lens);
    if (ids == NULL || lens == NULL) {
        free(ids);
        free(lens);
        return SAMSEP_ERR_NOMEM;
    }
    for (b = 0; b < batch; b++) {
        rc = t5_tokenizer_encode(m->tok, texts[b], ids + (size_t)b * T5_TOKENIZER_MAX_LEN,
                                 T5_TOKENIZER_MAX_LEN, err, errlen);
        if (rc < 1) {
            free(ids);
            free(lens);
            return rc < 0 ? rc : SAMSEP_ERR_INVALID;
        }
        lens[b] = rc;
        if (rc > L)
            L = rc;
    }
    /* pad="longest": rows right-padded with id 0 to the longest */
    for (b = 1; b < batch; b++)
        memmove(ids + (size_t)b * L, ids + (size_t)b * T5_TOKENIZER_MAX_LEN,
                (size_t)L * sizeof *ids);
    text = malloc((size_t)batch * (size_t)L * (size_t)t5_encoder_dim(m->t5) *
                  sizeof *text);
    if (text == NULL) {
        free(ids);
        free(lens);
        return SAMSEP_ERR_NOMEM;
    }
    rc = t5_encoder_run(m->t5, ids, lens, batch, L, text, err, errlen);
    if (rc != SAMSEP_OK) {
        free(ids);
        free(lens);
        free(text);
        return rc;
    }
    free(m->ids);
    free(m->lengths);
    free(m->text);
    m->ids = ids;
    m->lengths = lens;
    m->text = text;
    m->batch = batch;
    m->text_len = L;
    m->text_dim = t5_encoder_dim(m->t5);
    return L;
}

static int reserve(sam_model *m, int B, int64_t T, char *err, size_t errlen)
{
    size_t bt, bct;

    if (B <= m->cap_batch && T <= m->cap_frames)
        return SAMSEP_OK;
    free_buffers(m);
    bt = (size_t)B * (size_t)T;
    bct = bt * (size_t)m->C;
    m->features = malloc(bct * sizeof(float));
    m->audio_features = malloc(2 * bct * sizeof(float));
    m->ode = malloc(2 * bct * sizeof(float));
    m->latent = malloc(2 * bct * sizeof(float));
    m->decoded = malloc(2 * bt * (size_t)m->hop * sizeof(float));
    m->valid = malloc((size_t)B * sizeof(int));
    if (m->features == NULL || m->audio_features == NULL || m->ode == NULL ||
        m->latent == NULL || m->decoded == NULL || m->valid == NULL) {
        free_buffers(m);
        set_err(err, errlen, "sam-audio: out of memory for %lld frames", (long long)T);
        return SAMSEP_ERR_NOMEM;
    }
    m->cap_batch = B;
    m->cap_frames = T;
    return dit_reserve(m->dit, B, (int)T, m->text_len, err, errlen);
}

int sam_separate(sam_model *m, const float *wav, const int64_t *lengths, int64_t N,
                 const float *noise, const float *message, float *target,
                 float *residual, char *err, size_t errlen)
{
    dit_inputs in;
    int64_t T, b, hopT;
    int B, rc;

    if (m == NULL || wav == NULL || noise == NULL || message == NULL ||
        target == NULL || residual == NULL || N < 1 || m->batch < 1) {
        set_err(err, errlen, "sam-audio: separate needs audio, noise, message, "
                "outputs and a prompt (sam_set_text)");
        return SAMSEP_ERR_INVALID;
    }
    B = m->batch;
    T = (N + m->hop - 1) / m->hop;
    if (T > dit_max_frames(m->dit)) {
        set_err(err, errlen, "sam-audio: %lld samples is %lld frames, more than the "
                "model's %d; use a shorter chunk", (long long)N, (long long)T,
                dit_max_frames(m->dit));
        return SAMSEP_ERR_INVALID;
    }
    rc = reserve(m, B, T, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    for (b = 0; b < B; b++) {
        int64_t len = lengths != NULL ? lengths[b] : N;

        if (len < 1 || len > N) {
            set_err(err, errlen, "sam-audio: item %lld has %lld samples (1..%lld)",
                    (long long)b, (long long)len, (long long)N);
            return SAMSEP_ERR_INVALID;
        }
        m->valid[b] = (int)((len + m->hop - 1) / m->hop);
    }
    /* [B, N] -> features [B, C, T] */
    rc = dacvae_encode(m->codec, wav, B, N, m->features, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    dit_audio_features_from_codec(m->features, B, m->C, T, m->audio_features);
    memset(&in, 0, sizeof in);
    in.batch = B;
    in.frames = (int)T;
    in.audio_features = m->audio_features;
    in.valid_frames = m->valid;
    in.text_len = m->text_len;
    in.text_features = m->text;
    in.text_lengths = m->lengths;
    rc = dit_condition(m->dit, &in, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    rc = dit_ode_solve(m->dit, noise, ODE_STEPS, m->ode, NULL, NULL);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "sam-audio: ODE solve failed: %s", samsep_strerror(rc));
        return rc;
    }
    /* [B, T, 2C] -> [2B, C, T] -> [2B, 1, T*hop] */
    dit_latent_to_codec(m->ode, B, T, m->C, m->latent);
    rc = dacvae_decode(m->codec, m->latent, 2 * B, T, message, m->decoded, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    hopT = T * m->hop;
    for (b = 0; b < B; b++) {
        memcpy(target + b * hopT, m->decoded + (2 * b) * hopT, (size_t)hopT * sizeof(float));
        memcpy(residual + b * hopT, m->decoded + (2 * b + 1) * hopT,
               (size_t)hopT * sizeof(float));
    }
    return SAMSEP_OK;
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

const float *sam_text_features(const sam_model *m, int *L, int *Dt)
{
    if (L != NULL)
        *L = m->text_len;
    if (Dt != NULL)
        *Dt = m->text_dim;
    return m->text;
}

const int32_t *sam_text_ids(const sam_model *m, int *L)
{
    if (L != NULL)
        *L = m->text_len;
    return m->ids;
}

const float *sam_last_ode_result(const sam_model *m)
{
    return m->ode;
}
