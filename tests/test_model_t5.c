/*
 * test_model_t5.c - the T5 encoder against the reference tensors in
 * $SAMSEP_SAMREF/t5 (HF T5EncoderModel outputs, MANIFEST §6):
 *   - prompt0..2 unbatched: embeddings, block outputs, last_hidden_state and
 *     block 0's position bias;
 *   - batch3 (padded, with attention_mask): every saved output, full arrays;
 *   - each batch3 row run alone equals its rows of the batched result;
 *   - 1 and 2 threads give bit-identical outputs;
 *   - the bucket function against bucket_table_rel_m200_p200.npy;
 *   - bad input is refused with the right status;
 *   - a synthetic gated-gelu model (BF16 embedding) written here against a
 *     forward pass composed of the scalar kernel references.
 * Tolerance: max|a-b| / max(1, max|ref|) <= 1e-5. Skips (77) when
 * SAMSEP_SAMREF is unset.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "modeltest.h"

#include "engine/sam/text/t5.h"
#include "kernels_ref.h"
#include "nn/nn.h"
#include "npy.h"
#include "samsep.h"

#define TOL 1e-5

static const char *g_ref;
static char g_model[4096];

static void load(const char *sub, const char *name, arr *a)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/t5/%s/%s.npy", g_ref, sub, name);
    if (sub[0] == '\0')
        snprintf(path, sizeof path, "%s/t5/%s.npy", g_ref, name);
    arr_load(a, path);
}

static void check(const char *what, const float *out, const float *ref, int64_t n)
{
    double e = nerr(out, ref, n);
    print_message("    %-34s normalised error %.3g\n", what, e);
    if (!(e <= TOL))
        fail_msg("%s: normalised error %.3g > %.0e", what, e, TOL);
}

/* Intermediate outputs captured through the tap. */
#define MAX_TAPS 8
typedef struct taps {
    int n;
    char name[MAX_TAPS][32];
    float *data[MAX_TAPS];
} taps;

static void tap_fn(void *user, const char *name, const float *data, int batch, int len,
                   int dim)
{
    taps *t = user;
    size_t n = (size_t)batch * (size_t)len * (size_t)dim;
    if (t->n >= MAX_TAPS)
        return;
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    t->data[t->n] = malloc(n * sizeof(float));
    if (t->data[t->n] != NULL)
        memcpy(t->data[t->n], data, n * sizeof(float));
    t->n++;
}

static const float *tap_get(const taps *t, const char *name)
{
    int i;
    for (i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return t->data[i];
    fail_msg("no tap %s", name);
    return NULL;
}

static void taps_free(taps *t)
{
    int i;
    for (i = 0; i < t->n; i++)
        free(t->data[i]);
    t->n = 0;
}

static int32_t *to_ids(const arr *a)
{
    int32_t *ids = malloc((size_t)a->n * sizeof *ids);
    int64_t i;
    assert_non_null(ids);
    for (i = 0; i < a->n; i++) {
        assert_true(a->d[i] >= 0.0f && a->d[i] == floorf(a->d[i]));
        ids[i] = (int32_t)a->d[i];
    }
    return ids;
}

/* An encoder: the model and one run of it, on a context of its own (the
 * CPU backend: host arrays go straight to the kernels). */
typedef struct enc {
    nn_ctx *k;
    t5_model *m;
    t5_state *s;
} enc;

static void enc_close(enc *e)
{
    if (e == NULL)
        return;
    t5_state_destroy(e->s);
    t5_model_close(e->m);
    nn_ctx_destroy(e->k);
    free(e);
}

static int enc_open(const char *dir, int threads, enc **out, char *err, size_t errlen)
{
    nn_params p = { NULL, threads };
    enc *e = calloc(1, sizeof *e);
    int rc;

    *out = NULL;
    assert_non_null(e);
    rc = nn_ctx_create(&p, &e->k, err, errlen);
    if (rc == SAMSEP_OK)
        rc = t5_model_open(dir, e->k, &e->m, err, errlen);
    if (rc == SAMSEP_OK)
        rc = t5_state_create(e->m, e->k, &e->s, err, errlen);
    if (rc != SAMSEP_OK) {
        enc_close(e);
        return rc;
    }
    *out = e;
    return SAMSEP_OK;
}

static enc *open_enc(int threads)
{
    enc *e = NULL;
    char err[512] = "";
    int rc = enc_open(g_model, threads, &e, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("t5 open: %s", err);
    return e;
}

static void run_prompt(const char *sub)
{
    enc *e = open_enc(2);
    arr ids_a, emb, b0, b1, last, pb;
    taps t = { 0 };
    int32_t *ids;
    int64_t L, D;
    float *out, *bias;
    char err[256], what[64];
    int rc;

    load(sub, "input_ids", &ids_a);
    load(sub, "embeddings", &emb);
    load(sub, "block0_out", &b0);
    load(sub, "block1_out", &b1);
    load(sub, "last_hidden_state", &last);
    load(sub, "position_bias", &pb);
    assert_int_equal(ids_a.ndim, 2);
    assert_int_equal(ids_a.shape[0], 1);
    L = ids_a.shape[1];
    D = t5_model_dim(e->m);
    assert_int_equal(last.n, L * D);
    ids = to_ids(&ids_a);
    out = calloc((size_t)(L * D), sizeof *out);
    bias = calloc((size_t)pb.n, sizeof *bias);
    assert_non_null(out);
    assert_non_null(bias);

    t5_set_tap(e->s, tap_fn, &t);
    rc = t5_encode(e->s, ids, NULL, 1, (int)L, out, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("t5_encoder_run: %s", err);
    snprintf(what, sizeof what, "%s embeddings", sub);
    check(what, tap_get(&t, "embeddings"), emb.d, emb.n);
    snprintf(what, sizeof what, "%s block0_out", sub);
    check(what, tap_get(&t, "block0_out"), b0.d, b0.n);
    snprintf(what, sizeof what, "%s block1_out", sub);
    check(what, tap_get(&t, "block1_out"), b1.d, b1.n);
    snprintf(what, sizeof what, "%s last_hidden_state", sub);
    check(what, out, last.d, last.n);
    assert_int_equal(pb.n, (int64_t)t5_model_heads(e->m) * L * L);
    assert_int_equal(t5_position_bias(e->m, (int)L, bias), SAMSEP_OK);
    snprintf(what, sizeof what, "%s position_bias", sub);
    check(what, bias, pb.d, pb.n);

    taps_free(&t);
    free(ids);
    free(out);
    free(bias);
    free(ids_a.d);
    free(emb.d);
    free(b0.d);
    free(b1.d);
    free(last.d);
    free(pb.d);
    enc_close(e);
}

static void test_prompt0(void **state)
{
    (void)state;
    run_prompt("prompt0");
}

static void test_prompt1(void **state)
{
    (void)state;
    run_prompt("prompt1");
}

static void test_prompt2(void **state)
{
    (void)state;
    run_prompt("prompt2");
}

static void test_batch3(void **state)
{
    enc *e1 = open_enc(1), *e2 = open_enc(2);
    arr ids_a, mask, emb, b0, b1, last;
    taps t = { 0 };
    int32_t *ids;
    int lengths[3], b;
    int64_t B, L, D, i;
    float *out1, *out2, *row;
    char err[256];
    (void)state;

    load("batch3", "input_ids", &ids_a);
    load("batch3", "attention_mask", &mask);
    load("batch3", "embeddings", &emb);
    load("batch3", "block0_out", &b0);
    load("batch3", "block1_out", &b1);
    load("batch3", "last_hidden_state", &last);
    B = ids_a.shape[0];
    L = ids_a.shape[1];
    D = t5_model_dim(e1->m);
    assert_int_equal(B, 3);
    assert_int_equal(last.n, B * L * D);
    ids = to_ids(&ids_a);
    for (b = 0; b < B; b++) {
        int n = 0;
        for (i = 0; i < L; i++) {
            float m = mask.d[b * L + i];
            assert_true(m == 0.0f || m == 1.0f);
            if (m == 1.0f) {
                assert_int_equal(n, i); /* the mask is a prefix */
                n++;
            }
        }
        lengths[b] = n;
    }
    assert_true(lengths[0] < L || lengths[1] < L || lengths[2] < L);
    out1 = calloc((size_t)(B * L * D), sizeof *out1);
    out2 = calloc((size_t)(B * L * D), sizeof *out2);
    row = calloc((size_t)(L * D), sizeof *row);
    assert_non_null(out1);
    assert_non_null(out2);
    assert_non_null(row);

    t5_set_tap(e2->s, tap_fn, &t);
    assert_int_equal(t5_encode(e2->s, ids, lengths, (int)B, (int)L, out2, err,
                               sizeof err),
                     SAMSEP_OK);
    check("batch3 embeddings", tap_get(&t, "embeddings"), emb.d, emb.n);
    check("batch3 block0_out", tap_get(&t, "block0_out"), b0.d, b0.n);
    check("batch3 block1_out", tap_get(&t, "block1_out"), b1.d, b1.n);
    check("batch3 last_hidden_state", out2, last.d, last.n);

    /* thread-count invariance */
    assert_int_equal(t5_encode(e1->s, ids, lengths, (int)B, (int)L, out1, err,
                               sizeof err),
                     SAMSEP_OK);
    if (memcmp(out1, out2, (size_t)(B * L * D) * sizeof *out1) != 0)
        fail_msg("batch3: 1 and 2 threads differ");

    /* each row alone, at its own length, against the batched rows */
    for (b = 0; b < B; b++) {
        char what[64];
        assert_int_equal(t5_encode(e1->s, ids + b * L, NULL, 1, lengths[b], row, err,
                                   sizeof err),
                         SAMSEP_OK);
        snprintf(what, sizeof what, "batch3 row %d alone vs batched", b);
        check(what, row, out1 + b * L * D, (int64_t)lengths[b] * D);
    }

    taps_free(&t);
    free(ids);
    free(out1);
    free(out2);
    free(row);
    free(ids_a.d);
    free(mask.d);
    free(emb.d);
    free(b0.d);
    free(b1.d);
    free(last.d);
    enc_close(e1);
    enc_close(e2);
}

static void test_buckets(void **state)
{
    arr tab;
    int r;
    (void)state;
    load("", "bucket_table_rel_m200_p200", &tab);
    assert_int_equal(tab.n, 401);
    for (r = -200; r <= 200; r++) {
        int got = t5_relative_bucket(r, 1, 32, 128);
        if ((float)got != tab.d[r + 200])
            fail_msg("bucket(%d) = %d, reference %g", r, got, tab.d[r + 200]);
    }
    free(tab.d);
}

static void test_errors(void **state)
{
    enc *e = NULL;
    char err[512] = "";
    int32_t ids[4] = { 5, 6, 7, 1 };
    int len[2] = { 0, 4 };
    float out[4 * 64];
    (void)state;

    assert_int_equal(enc_open("/nonexistent/t5", 1, &e, err, sizeof err), SAMSEP_ERR_IO);
    assert_null(e);
    assert_true(strstr(err, "/nonexistent/t5") != NULL);
    /* the check without loading says the same, and passes a good folder */
    assert_int_equal(t5_check("/nonexistent/t5", err, sizeof err), SAMSEP_ERR_IO);
    assert_true(strstr(err, "/nonexistent/t5") != NULL);
    assert_int_equal(t5_check(g_model, err, sizeof err), SAMSEP_OK);
    assert_int_equal(enc_open(NULL, 1, &e, err, sizeof err), SAMSEP_ERR_INVALID);
    enc_close(NULL);

    e = open_enc(1);
    assert_true(t5_model_dim(e->m) * 4 <= (int)(sizeof out / sizeof out[0]));
    assert_int_equal(t5_encode(e->s, ids, len, 1, 4, out, err, sizeof err),
                     SAMSEP_ERR_INVALID); /* length 0 */
    len[0] = 5;
    assert_int_equal(t5_encode(e->s, ids, len, 1, 4, out, err, sizeof err),
                     SAMSEP_ERR_INVALID); /* length > max_len */
    ids[2] = t5_model_vocab(e->m);
    assert_int_equal(t5_encode(e->s, ids, NULL, 1, 4, out, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    ids[2] = -1;
    assert_int_equal(t5_encode(e->s, ids, NULL, 1, 4, out, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_encode(e->s, ids, NULL, 0, 4, out, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    ids[2] = 7;
    assert_int_equal(t5_encode(e->s, ids, NULL, 1, 4, out, err, sizeof err), SAMSEP_OK);
    /* longer than the buffers sized at open: grown before the pass */
    {
        int n = 700, i;
        int32_t *many = malloc((size_t)n * sizeof *many);
        float *o = malloc((size_t)n * (size_t)t5_model_dim(e->m) * sizeof *o);
        assert_non_null(many);
        assert_non_null(o);
        for (i = 0; i < n; i++)
            many[i] = (int32_t)(3 + i % 50);
        assert_int_equal(t5_encode(e->s, many, NULL, 1, n, o, err, sizeof err),
                         SAMSEP_OK);
        for (i = 0; i < n * t5_model_dim(e->m); i++)
            assert_true(isfinite(o[i]));
        free(many);
        free(o);
    }
    enc_close(e);
}

/* ---- synthetic gated-gelu model --------------------------------------- */

#define G_D 16
#define G_H 2
#define G_DK 4
#define G_F 24
#define G_LAYERS 2
#define G_VOCAB 50
#define G_NB 8
#define G_MAXD 20

typedef struct gtensor {
    char name[96];
    int64_t r, c; /* c = 0: 1-d */
    int bf16;
    float *v;
} gtensor;

static uint64_t g_seed = 12345;

static float grand(float scale)
{
    g_seed = g_seed * 6364136223846793005ull + 1442695040888963407ull;
    return scale * (float)((double)(g_seed >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

/* Round to a value bf16 holds exactly (so both sides see the same weight). */
static float bf16_exact(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static gtensor *gadd(gtensor *t, int *n, const char *name, int64_t r, int64_t c,
                     float scale, float base, int bf16)
{
    gtensor *g = &t[(*n)++];
    int64_t i, cnt = r * (c ? c : 1);
    snprintf(g->name, sizeof g->name, "%s", name);
    g->r = r;
    g->c = c;
    g->bf16 = bf16;
    g->v = malloc((size_t)cnt * sizeof(float));
    assert_non_null(g->v);
    for (i = 0; i < cnt; i++) {
        g->v[i] = base + grand(scale);
        if (bf16)
            g->v[i] = bf16_exact(g->v[i]);
    }
    return g;
}

static const float *gfind(gtensor *t, int n, const char *name)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].v;
    fail_msg("no %s", name);
    return NULL;
}

static void write_safetensors(const char *path, gtensor *t, int n)
{
    char hdr[16384];
    size_t hl = 0;
    uint64_t off = 0, h64;
    FILE *f;
    int i;
    int64_t k;
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "{");
    for (i = 0; i < n; i++) {
        int64_t cnt = t[i].r * (t[i].c ? t[i].c : 1);
        uint64_t bytes = (uint64_t)cnt * (t[i].bf16 ? 2u : 4u);
        char shape[64];
        if (t[i].c)
            snprintf(shape, sizeof shape, "[%lld,%lld]", (long long)t[i].r,
                     (long long)t[i].c);
        else
            snprintf(shape, sizeof shape, "[%lld]", (long long)t[i].r);
        hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl,
                               "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":"
                               "[%llu,%llu]}",
                               i ? "," : "", t[i].name, t[i].bf16 ? "BF16" : "F32", shape,
                               (unsigned long long)off,
                               (unsigned long long)(off + bytes));
        off += bytes;
    }
    hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, "}");
    while (hl % 8 != 0)
        hdr[hl++] = ' ';
    assert_true(hl < sizeof hdr);
    f = fopen(path, "wb");
    assert_non_null(f);
    h64 = hl; /* little-endian host assumed by this test */
    assert_int_equal(fwrite(&h64, 8, 1, f), 1);
    assert_int_equal(fwrite(hdr, 1, hl, f), hl);
    for (i = 0; i < n; i++) {
        int64_t cnt = t[i].r * (t[i].c ? t[i].c : 1);
        for (k = 0; k < cnt; k++) {
            if (t[i].bf16) {
                uint32_t u;
                uint16_t hword;
                memcpy(&u, &t[i].v[k], 4);
                hword = (uint16_t)(u >> 16);
                assert_int_equal(fwrite(&hword, 2, 1, f), 1);
            } else {
                assert_int_equal(fwrite(&t[i].v[k], 4, 1, f), 1);
            }
        }
    }
    assert_int_equal(fclose(f), 0);
}

static void write_config(const char *dir, const char *ffp)
{
    char path[4200];
    FILE *f;
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"model_type\": \"t5\", \"d_model\": %d, \"d_kv\": %d, \"num_heads\": %d, "
            "\"d_ff\": %d, \"num_layers\": %d, \"feed_forward_proj\": \"%s\", "
            "\"layer_norm_epsilon\": 1e-06, \"relative_attention_num_buckets\": %d, "
            "\"relative_attention_max_distance\": %d, \"n_positions\": 16}\n",
            G_D, G_DK, G_H, G_F, G_LAYERS, ffp, G_NB, G_MAXD);
    fclose(f);
}

/* The encoder composed of scalar references, straight from MANIFEST §6. */
static void ref_forward(gtensor *t, int n, const int32_t *ids, const int *len, int B,
                        int L, float *out)
{
    int64_t N = (int64_t)B * L, i, j, h;
    float *hs = calloc((size_t)(N * G_D), sizeof(float));
    float *x = calloc((size_t)(N * G_D), sizeof(float));
    float *q = calloc((size_t)(N * G_H * G_DK), sizeof(float));
    float *k = calloc((size_t)(N * G_H * G_DK), sizeof(float));
    float *v = calloc((size_t)(N * G_H * G_DK), sizeof(float));
    float *a = calloc((size_t)(N * G_H * G_DK), sizeof(float));
    float *f0 = calloc((size_t)(N * G_F), sizeof(float));
    float *f1 = calloc((size_t)(N * G_F), sizeof(float));
    float *bias = calloc((size_t)(G_H * L * L), sizeof(float));
    uint8_t *mask = calloc((size_t)N, 1);
    const float *rel =
        gfind(t, n,
              "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
    nn_attn_args at;
    char nm[96];
    int l;

    assert_non_null(hs);
    assert_non_null(bias);
    assert_non_null(mask);
    assert_int_equal(kref_embedding(gfind(t, n, "shared.weight"), G_VOCAB, G_D, ids, N,
                                    hs),
                     SAMSEP_OK);
    for (h = 0; h < G_H; h++)
        for (i = 0; i < L; i++)
            for (j = 0; j < L; j++)
                bias[(h * L + i) * L + j] =
                    rel[t5_relative_bucket((int)(j - i), 1, G_NB, G_MAXD) * G_H + h];
    for (i = 0; i < N; i++)
        mask[i] = (uint8_t)(i % L < len[i / L]);
    memset(&at, 0, sizeof at);
    at.B = B;
    at.H = G_H;
    at.Lq = at.Lk = L;
    at.dh = G_DK;
    at.q = q;
    at.k = k;
    at.v = v;
    at.out = a;
    at.q_s = at.k_s = at.v_s = at.out_s = nn_strides_head_major(L, G_H, G_DK);
    at.scale = 1.0f;
    at.bias = bias;
    at.bias_s.b = 0;
    at.bias_s.h = (int64_t)L * L;
    at.bias_s.t = L;
    at.bias_s.j = 1;
    at.key_mask = mask;
    for (l = 0; l < G_LAYERS; l++) {
#define GW(fmt) \
    (snprintf(nm, sizeof nm, "encoder.block.%d.layer." fmt, l), gfind(t, n, nm))
        kref_rmsnorm(hs, GW("0.layer_norm.weight"), 1e-6f, x, N, G_D);
        kref_matmul_ex(x, G_D, GW("0.SelfAttention.q.weight"), NULL, q, G_H * G_DK, N,
                       G_H * G_DK, G_D, 0.0f);
        kref_matmul_ex(x, G_D, GW("0.SelfAttention.k.weight"), NULL, k, G_H * G_DK, N,
                       G_H * G_DK, G_D, 0.0f);
        kref_matmul_ex(x, G_D, GW("0.SelfAttention.v.weight"), NULL, v, G_H * G_DK, N,
                       G_H * G_DK, G_D, 0.0f);
        assert_int_equal(kref_attention(&at), SAMSEP_OK);
        kref_matmul_ex(a, G_H * G_DK, GW("0.SelfAttention.o.weight"), NULL, hs, G_D, N,
                       G_D, G_H * G_DK, 1.0f);
        kref_rmsnorm(hs, GW("1.layer_norm.weight"), 1e-6f, x, N, G_D);
        kref_matmul_ex(x, G_D, GW("1.DenseReluDense.wi_0.weight"), NULL, f0, G_F, N, G_F,
                       G_D, 0.0f);
        kref_gelu_tanh(f0, f0, N * G_F);
        kref_matmul_ex(x, G_D, GW("1.DenseReluDense.wi_1.weight"), NULL, f1, G_F, N, G_F,
                       G_D, 0.0f);
        kref_mul(f0, f1, f0, N * G_F);
        kref_matmul_ex(f0, G_F, GW("1.DenseReluDense.wo.weight"), NULL, hs, G_D, N, G_D,
                       G_F, 1.0f);
#undef GW
    }
    kref_rmsnorm(hs, gfind(t, n, "encoder.final_layer_norm.weight"), 1e-6f, out, N, G_D);
    free(hs);
    free(x);
    free(q);
    free(k);
    free(v);
    free(a);
    free(f0);
    free(f1);
    free(bias);
    free(mask);
}

static void test_gated_synthetic(void **state)
{
    gtensor t[64];
    int n = 0, l, i;
    char dir[1024], path[1200], nm[96], err[512] = "";
    const char *tmp = getenv("TMPDIR");
    int32_t ids[2 * 7] = { 5, 9, 33, 2, 41, 17, 1, 8, 49, 3, 1, 0, 0, 0 };
    int len[2] = { 7, 4 };
    float out[2 * 7 * G_D], ref[2 * 7 * G_D];
    enc *e = NULL;
    (void)state;

    snprintf(dir, sizeof dir, "%s/samsep_t5gated_XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    gadd(t, &n, "shared.weight", G_VOCAB, G_D, 1.0f, 0.0f, 1);
    gadd(t, &n, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
         G_NB, G_H, 1.0f, 0.0f, 0);
    gadd(t, &n, "encoder.final_layer_norm.weight", G_D, 0, 0.2f, 1.0f, 0);
    for (l = 0; l < G_LAYERS; l++) {
        static const char *const qkv[] = { "q", "k", "v" };
        for (i = 0; i < 3; i++) {
            snprintf(nm, sizeof nm, "encoder.block.%d.layer.0.SelfAttention.%s.weight", l,
                     qkv[i]);
            gadd(t, &n, nm, G_H * G_DK, G_D, 0.4f, 0.0f, 0);
        }
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.0.SelfAttention.o.weight", l);
        gadd(t, &n, nm, G_D, G_H * G_DK, 0.4f, 0.0f, 0);
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.0.layer_norm.weight", l);
        gadd(t, &n, nm, G_D, 0, 0.2f, 1.0f, 0);
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.1.layer_norm.weight", l);
        gadd(t, &n, nm, G_D, 0, 0.2f, 1.0f, 0);
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.1.DenseReluDense.wi_0.weight", l);
        gadd(t, &n, nm, G_F, G_D, 0.4f, 0.0f, 0);
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.1.DenseReluDense.wi_1.weight", l);
        gadd(t, &n, nm, G_F, G_D, 0.4f, 0.0f, 0);
        snprintf(nm, sizeof nm, "encoder.block.%d.layer.1.DenseReluDense.wo.weight", l);
        gadd(t, &n, nm, G_D, G_F, 0.3f, 0.0f, 0);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_safetensors(path, t, n);

    /* a ReLU config with gated weights is refused, naming the conflict */
    write_config(dir, "relu");
    assert_int_equal(enc_open(dir, 1, &e, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_true(strstr(err, "wi_0") != NULL);
    write_config(dir, "swiglu-x");
    assert_int_equal(enc_open(dir, 1, &e, err, sizeof err), SAMSEP_ERR_FORMAT);

    write_config(dir, "gated-gelu");
    if (enc_open(dir, 2, &e, err, sizeof err) != SAMSEP_OK)
        fail_msg("gated model: %s", err);
    assert_int_equal(t5_encode(e->s, ids, len, 2, 7, out, err, sizeof err), SAMSEP_OK);
    ref_forward(t, n, ids, len, 2, 7, ref);
    check("synthetic gated-gelu, bf16 embedding", out, ref, 2 * 7 * G_D);
    enc_close(e);

    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    rmdir(dir);
    for (i = 0; i < n; i++)
        free(t[i].v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),         cmocka_unit_test(test_prompt0),
        cmocka_unit_test(test_prompt1),         cmocka_unit_test(test_prompt2),
        cmocka_unit_test(test_batch3),          cmocka_unit_test(test_errors),
        cmocka_unit_test(test_gated_synthetic),
    };
    g_ref = getenv("SAMSEP_SAMREF");
    if (g_ref == NULL || g_ref[0] == '\0') {
        printf("SAMSEP_SAMREF not set: skipping\n");
        return 77;
    }
    snprintf(g_model, sizeof g_model, "%s/t5", g_ref);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
