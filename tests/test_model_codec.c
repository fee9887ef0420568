/*
 * test_model_codec.c - the DAC-VAE codec against the reference tensors in
 * $SAMSEP_SAMREF/codec (dacvae run by the official code, MANIFEST §5, §7):
 *   - enc_dec_N12297: encode (reflect pad 12297 -> 13440) with every
 *     encoder intermediate, then decode of the reference features with the
 *     saved watermark bits, every decoder and watermark intermediate;
 *   - enc_N9600_nopad: encode of a whole number of hops;
 *   - dec_B2_T4: a batch of two rows through the decoder;
 *   - our own features decoded end to end;
 *   - 1 and 2 threads give bit-identical features and waveforms;
 *   - the same codec read from full/checkpoint.safetensors is identical;
 *   - sizes read from the checkpoint, the config check, bad arguments.
 * The codec runs on the CPU backend, whose memory is the host's, so host
 * arrays are handed to it directly. Tolerance: max|a-b| / max(1, max|ref|) <= 1e-5 per tensor. Skips (77)
 * when SAMSEP_SAMREF is unset.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "modeltest.h"

#include "engine/sam/dacvae.h"
#include "nn/nn.h"
#include "nn/weights.h"
#include "npy.h"
#include "samsep.h"

#define TOL 1e-5

static const char *g_ref;
static nn_ctx *g_wk; /* the weights' context */
static nn_weights *g_ws;
static dacvae_model *g_model;

static void load(const char *cs, const char *name, arr *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/codec/%s/%s.npy", g_ref, cs, name);
    arr_load(a, path);
}

static void check(const char *what, const float *out, const float *ref, int64_t n)
{
    double e = nerr(out, ref, n);
    print_message("    %-44s normalised error %.3g\n", what, e);
    if (!(e <= TOL))
        fail_msg("%s: normalised error %.3g > %.0e", what, e, TOL);
}

/* ---- taps: each named tensor assembled over the batch rows ------------- */

#define MAX_TAPS 48
typedef struct tap_rec {
    char name[48];
    int64_t ch, len;
    float *data; /* [rows, ch, len] */
} tap_rec;

typedef struct taps {
    int64_t rows;
    int n, bad;
    tap_rec t[MAX_TAPS];
} taps;

static void tap_fn(void *user, const char *name, int64_t row, const float *data,
                   int64_t ch, int64_t len)
{
    taps *tp = user;
    tap_rec *r = NULL;
    int i;
    for (i = 0; i < tp->n; i++)
        if (strcmp(tp->t[i].name, name) == 0)
            r = &tp->t[i];
    if (r == NULL) {
        if (tp->n >= MAX_TAPS) {
            tp->bad = 1;
            return;
        }
        r = &tp->t[tp->n++];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->ch = ch;
        r->len = len;
        r->data = calloc((size_t)(tp->rows * ch * len), sizeof(float));
        if (r->data == NULL)
            tp->bad = 1;
    }
    if (r->data == NULL || r->ch != ch || r->len != len || row < 0 || row >= tp->rows) {
        tp->bad = 1;
        return;
    }
    memcpy(r->data + row * ch * len, data, (size_t)(ch * len) * sizeof(float));
}

static const tap_rec *tap_get(const taps *tp, const char *name)
{
    int i;
    for (i = 0; i < tp->n; i++)
        if (strcmp(tp->t[i].name, name) == 0)
            return &tp->t[i];
    fail_msg("no tap %s", name);
    return NULL;
}

static void taps_free(taps *tp)
{
    int i;
    for (i = 0; i < tp->n; i++)
        free(tp->t[i].data);
    tp->n = 0;
}

/* Compare tap `name` with <case>/<name>.npy, shapes included. */
static void check_tap(const taps *tp, const char *cs, const char *name)
{
    const tap_rec *r = tap_get(tp, name);
    arr ref;
    char what[128];
    load(cs, name, &ref);
    assert_int_equal(ref.ndim, 3);
    assert_int_equal(ref.shape[0], tp->rows);
    assert_int_equal(ref.shape[1], r->ch);
    assert_int_equal(ref.shape[2], r->len);
    snprintf(what, sizeof what, "%s %s", cs, name);
    check(what, r->data, ref.d, ref.n);
    free(ref.d);
}

static const char *const enc_taps[] = {
    "enc_padded_input",      "enc_block0_out", "enc_block1_out", "enc_block2_out",
    "enc_block3_out",        "enc_block4_out", "enc_block5_out", "enc_block6_out",
    "quantizer_in_proj_out", "features_mean",
};

static const char *const dec_taps[] = {
    "dec_out_proj_out",       "dec_model0_out",       "dec_model1_out",
    "dec_model2_out",         "dec_model3_out",       "dec_model4_out",
    "wm_forward_no_conv_out", "wm_encoder_block_out", "wm_after_down_chain",
    "wm_encoder_post_out",    "wm_msg_processor_out", "wm_decoder_block_out",
    "wm_after_up_chain",      "wm_decoder_post_out",  "dec_out",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fixtures ----------------------------------------------------------- */

static int setup(void **state)
{
    char path[4096], err[512];
    (void)state;
    snprintf(path, sizeof path, "%s/codec/checkpoint.pt", g_ref);
    if (nn_ctx_create(NULL, &g_wk, err, sizeof err) != SAMSEP_OK ||
        nn_weights_open(path, g_wk, &g_ws, err, sizeof err) != SAMSEP_OK ||
        dacvae_model_load(g_ws, "audio_codec.", &g_model, err, sizeof err) != SAMSEP_OK) {
        print_error("%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    dacvae_model_free(g_model);
    nn_weights_close(g_ws);
    nn_ctx_destroy(g_wk);
    g_model = NULL;
    g_ws = NULL;
    g_wk = NULL;
    return 0;
}

/* A run of the shared model: its own context and state. */
typedef struct codec_h {
    nn_ctx *k;
    dacvae_state *c;
    const dacvae_model *m;
} codec_h;

static codec_h open_codec(int threads)
{
    codec_h h = { NULL, NULL, g_model };
    nn_params p = { NULL, threads };
    char err[512] = "";
    if (nn_ctx_create(&p, &h.k, err, sizeof err) != SAMSEP_OK)
        fail_msg("nn_ctx_create: %s", err);
    if (dacvae_state_create(g_model, h.k, &h.c, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae_state_create: %s", err);
    return h;
}

static void close_codec(codec_h *h)
{
    dacvae_state_destroy(h->c);
    nn_ctx_destroy(h->k);
}

/* ---- tests -------------------------------------------------------------- */

static void test_sizes(void **state)
{
    codec_h h = open_codec(1);
    char path[4096], err[512] = "", *text;
    FILE *f;
    long n;
    cJSON *root, *ac;
    (void)state;
    assert_int_equal(dacvae_hop(h.m), 1920);
    assert_int_equal(dacvae_latent_channels(h.m), 8);
    assert_int_equal(dacvae_message_bits(h.m), 16);

    snprintf(path, sizeof path, "%s/codec/config.json", g_ref);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    text = calloc((size_t)n + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    root = cJSON_Parse(text);
    free(text);
    assert_non_null(root);
    ac = cJSON_GetObjectItemCaseSensitive(root, "audio_codec");
    assert_int_equal(dacvae_check_config(h.m, ac, err, sizeof err), SAMSEP_OK);
    /* a config that disagrees with the checkpoint */
    cJSON_ReplaceItemInObjectCaseSensitive(ac, "decoder_dim", cJSON_CreateNumber(1536));
    assert_int_equal(dacvae_check_config(h.m, ac, err, sizeof err), SAMSEP_ERR_FORMAT);
    print_message("    mismatch: %s\n", err);
    cJSON_Delete(root);
    close_codec(&h);
}

static void run_encode_case(const char *cs, int64_t N_expect)
{
    codec_h h = open_codec(2);
    arr wav;
    taps tp;
    float *feat;
    int64_t N, T, C;
    char err[512] = "";
    size_t i;

    memset(&tp, 0, sizeof tp);
    load(cs, "in_waveform", &wav);
    assert_int_equal(wav.ndim, 3);
    N = wav.shape[2];
    assert_int_equal(N, N_expect);
    C = dacvae_latent_channels(h.m);
    T = (N + dacvae_hop(h.m) - 1) / dacvae_hop(h.m);
    feat = calloc((size_t)(C * T), sizeof *feat);
    assert_non_null(feat);
    tp.rows = 1;
    dacvae_set_tap(h.c, tap_fn, &tp);
    if (dacvae_encode(h.c, wav.d, 1, N, feat, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae_encode: %s", err);
    assert_false(tp.bad);
    for (i = 0; i < COUNT(enc_taps); i++)
        check_tap(&tp, cs, enc_taps[i]);
    {
        arr ref;
        load(cs, "features_mean", &ref);
        assert_int_equal(ref.n, C * T);
        check("features (output)", feat, ref.d, ref.n);
        free(ref.d);
    }
    taps_free(&tp);
    free(feat);
    free(wav.d);
    close_codec(&h);
}

static void test_encode_12297(void **state)
{
    (void)state;
    run_encode_case("enc_dec_N12297", 12297);
}

static void test_encode_9600(void **state)
{
    (void)state;
    run_encode_case("enc_N9600_nopad", 9600);
}

/* Decode <case>'s features (file feat_name) with its message. */
static void run_decode_case(const char *cs, const char *feat_name)
{
    codec_h h = open_codec(2);
    arr feat, msg, out_ref;
    taps tp;
    float *wav;
    int64_t B, T, hop = 0;
    char err[512] = "";
    size_t i;

    memset(&tp, 0, sizeof tp);
    load(cs, feat_name, &feat);
    load(cs, "dec_message", &msg);
    load(cs, "dec_out", &out_ref);
    assert_int_equal(feat.ndim, 3);
    B = feat.shape[0];
    T = feat.shape[2];
    assert_int_equal(feat.shape[1], dacvae_latent_channels(h.m));
    assert_int_equal(msg.n, B * dacvae_message_bits(h.m));
    hop = dacvae_hop(h.m);
    assert_int_equal(out_ref.n, B * T * hop);
    wav = calloc((size_t)(B * T * hop), sizeof *wav);
    assert_non_null(wav);
    tp.rows = B;
    dacvae_set_tap(h.c, tap_fn, &tp);
    if (dacvae_decode(h.c, feat.d, B, T, msg.d, wav, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae_decode: %s", err);
    assert_false(tp.bad);
    for (i = 0; i < COUNT(dec_taps); i++)
        check_tap(&tp, cs, dec_taps[i]);
    check("wav (output)", wav, out_ref.d, out_ref.n);
    taps_free(&tp);
    free(wav);
    free(feat.d);
    free(msg.d);
    free(out_ref.d);
    close_codec(&h);
}

static void test_decode_12297(void **state)
{
    (void)state;
    run_decode_case("enc_dec_N12297", "features_mean");
}

static void test_decode_b2(void **state)
{
    (void)state;
    run_decode_case("dec_B2_T4", "in_features");
}

/* Encode then decode with our own features; 1 and 2 threads identical. */
static void run_round(int threads, float **feat, float **wav, int64_t *T)
{
    codec_h h = open_codec(threads);
    arr in, msg;
    int64_t N, hop, C;
    char err[512] = "";

    load("enc_dec_N12297", "in_waveform", &in);
    load("enc_dec_N12297", "dec_message", &msg);
    N = in.shape[2];
    hop = dacvae_hop(h.m);
    C = dacvae_latent_channels(h.m);
    *T = (N + hop - 1) / hop;
    *feat = calloc((size_t)(C * *T), sizeof **feat);
    *wav = calloc((size_t)(*T * hop), sizeof **wav);
    assert_non_null(*feat);
    assert_non_null(*wav);
    if (dacvae_encode(h.c, in.d, 1, N, *feat, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae_encode: %s", err);
    if (dacvae_decode(h.c, *feat, 1, *T, msg.d, *wav, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae_decode: %s", err);
    free(in.d);
    free(msg.d);
    close_codec(&h);
}

static void test_round_trip_threads(void **state)
{
    float *f1, *w1, *f2, *w2;
    int64_t T1, T2;
    arr ref;
    (void)state;
    run_round(1, &f1, &w1, &T1);
    run_round(2, &f2, &w2, &T2);
    assert_int_equal(T1, T2);
    assert_memory_equal(f1, f2, (size_t)(8 * T1) * sizeof(float));
    assert_memory_equal(w1, w2, (size_t)(1920 * T1) * sizeof(float));
    load("enc_dec_N12297", "dec_out", &ref);
    assert_int_equal(ref.n, 1920 * T1);
    check("encode+decode end to end", w1, ref.d, ref.n);
    free(ref.d);
    free(f1);
    free(w1);
    free(f2);
    free(w2);
}

/* The same codec from full/checkpoint.safetensors (other reader, more
 * tensors around it) gives bit-identical features and waveform. */
static void test_safetensors(void **state)
{
    codec_h h = open_codec(2);
    nn_weights *ws2 = NULL;
    dacvae_model *m2 = NULL;
    dacvae_state *c2 = NULL;
    arr in, msg;
    float f1[8 * 5], f2[8 * 5], *w1, *w2;
    char path[4096], err[512] = "";
    (void)state;
    snprintf(path, sizeof path, "%s/full/checkpoint.safetensors", g_ref);
    if (nn_weights_open(path, g_wk, &ws2, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    if (dacvae_model_load(ws2, "audio_codec.", &m2, err, sizeof err) != SAMSEP_OK ||
        dacvae_state_create(m2, h.k, &c2, err, sizeof err) != SAMSEP_OK)
        fail_msg("dacvae: %s", err);
    load("enc_N9600_nopad", "in_waveform", &in);
    load("enc_dec_N12297", "dec_message", &msg);
    assert_int_equal(in.n, 9600);
    w1 = calloc(9600, sizeof *w1);
    w2 = calloc(9600, sizeof *w2);
    assert_non_null(w1);
    assert_non_null(w2);
    assert_int_equal(dacvae_encode(h.c, in.d, 1, 9600, f1, err, sizeof err), SAMSEP_OK);
    assert_int_equal(dacvae_encode(c2, in.d, 1, 9600, f2, err, sizeof err), SAMSEP_OK);
    assert_memory_equal(f1, f2, sizeof f1);
    assert_int_equal(dacvae_decode(h.c, f1, 1, 5, msg.d, w1, err, sizeof err), SAMSEP_OK);
    assert_int_equal(dacvae_decode(c2, f1, 1, 5, msg.d, w2, err, sizeof err), SAMSEP_OK);
    assert_memory_equal(w1, w2, 9600 * sizeof *w1);
    free(w1);
    free(w2);
    free(in.d);
    free(msg.d);
    dacvae_state_destroy(c2);
    dacvae_model_free(m2);
    nn_weights_close(ws2);
    close_codec(&h);
}

static void test_bad_args(void **state)
{
    codec_h h = open_codec(1);
    dacvae_model *m2 = NULL;
    dacvae_state *c2 = NULL;
    float wav[1920 * 2], feat[8 * 2], msg[16];
    char err[512] = "";
    int i;
    (void)state;
    memset(wav, 0, sizeof wav);
    memset(feat, 0, sizeof feat);
    for (i = 0; i < 16; i++)
        msg[i] = (float)(i & 1);

    assert_int_equal(dacvae_model_load(NULL, "audio_codec.", &m2, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_model_load(g_ws, "nope.", &m2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_null(m2);
    assert_int_equal(dacvae_state_create(NULL, h.k, &c2, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_state_create(g_model, NULL, &c2, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_null(c2);
    print_message("    wrong prefix: %s\n", err);
    assert_int_equal(dacvae_encode(h.c, NULL, 1, 10, feat, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_encode(h.c, wav, 0, 10, feat, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_encode(h.c, wav, 1, 0, feat, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_decode(h.c, feat, 1, 2, NULL, wav, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dacvae_decode(h.c, feat, 1, 0, msg, wav, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    msg[3] = 0.5f;
    assert_int_equal(dacvae_decode(h.c, feat, 1, 2, msg, wav, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    msg[3] = 1.0f;
    /* very short inputs still encode (pad mirrored periodically) */
    wav[0] = 0.25f;
    wav[1] = -0.5f;
    wav[2] = 0.125f;
    assert_int_equal(dacvae_encode(h.c, wav, 1, 1, feat, err, sizeof err), SAMSEP_OK);
    assert_int_equal(dacvae_encode(h.c, wav, 1, 3, feat, err, sizeof err), SAMSEP_OK);
    assert_int_equal(dacvae_decode(h.c, feat, 1, 1, msg, wav, err, sizeof err),
                     SAMSEP_OK);
    for (i = 0; i < 1920; i++)
        assert_true(isfinite(wav[i]));
    dacvae_state_destroy(NULL);
    dacvae_model_free(NULL);
    assert_int_equal(dacvae_hop(NULL), 0);
    close_codec(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),       cmocka_unit_test(test_encode_12297),
        cmocka_unit_test(test_encode_9600), cmocka_unit_test(test_decode_12297),
        cmocka_unit_test(test_decode_b2),   cmocka_unit_test(test_round_trip_threads),
        cmocka_unit_test(test_safetensors), cmocka_unit_test(test_bad_args),
    };
    g_ref = getenv("SAMSEP_SAMREF");
    if (g_ref == NULL || g_ref[0] == '\0') {
        fprintf(stderr, "SAMSEP_SAMREF not set: skipping\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
