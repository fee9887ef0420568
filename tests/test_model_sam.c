/*
 * test_model_sam.c - SAM-Audio end to end through sam_separate(), the code
 * path the sam-audio engine runs: the reference cases full/case_b1 (one
 * prompt) and full/case_b2 (two prompts, padded audio and text) from the
 * official implementation, with their saved noise and watermark bits;
 * one loaded model shared by two states running at once in two threads
 * (identical to a state alone, bit for bit); targets decoded without their
 * residuals (identical to those of a full decode, bit for bit); the folder
 * checks that load
 * nothing against the errors of a real open. Tolerance (MANIFEST §0): 1e-5
 * relative for the text features, 1e-4 for ODE results and waveforms.
 */
#include <math.h>
#include <pthread.h>
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
#include "engine/sam/sam.h"
#include "nn/nn.h"
#include "samsep.h"

static const char *ref;

static void load(arr *a, const char *fmt, ...)
{
    char path[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    arr_load(a, path);
}

static char **read_descriptions(const char *cas, int *n)
{
    char path[4096], buf[8192];
    FILE *f;
    size_t len;
    cJSON *j, *e;
    char **out;
    int i = 0;

    snprintf(path, sizeof path, "%s/full/%s/descriptions.json", ref, cas);
    f = fopen(path, "rb");
    assert_non_null(f);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    j = cJSON_Parse(buf);
    assert_true(cJSON_IsArray(j));
    *n = cJSON_GetArraySize(j);
    out = calloc((size_t)*n, sizeof *out);
    cJSON_ArrayForEach(e, j) out[i++] = strdup(e->valuestring);
    cJSON_Delete(j);
    return out;
}

static sam_model *open_model(void)
{
    char dir[4096], t5[4096], tok[4096], err[1024];
    sam_model *m = NULL;

    snprintf(dir, sizeof dir, "%s/full", ref);
    snprintf(t5, sizeof t5, "%s/t5", ref);
    snprintf(tok, sizeof tok, "%s/tokenizer", ref);
    if (sam_check(dir, t5, tok, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    if (sam_model_open(dir, t5, tok, NULL, &m, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    return m;
}

static sam_state *open_state(const sam_model *m, int threads)
{
    sam_state *s = NULL;
    char err[1024];

    if (sam_state_create(m, threads, &s, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    return s;
}

static void run_case(const char *cas, int threads)
{
    sam_model *m = open_model();
    sam_state *s = open_state(m, threads);
    arr ids, feats, noise, msg, wav0, ode, t[2], r[2], sizes;
    char err[1024];
    char **texts;
    int n, L, Dt, b, i;
    int64_t N, lengths[2], T, hopT;
    float *wav, *tgt, *res, *got;
    const int32_t *got_ids;

    texts = read_descriptions(cas, &n);
    assert_true(n >= 1 && n <= 2);
    L = sam_set_text(s, (const char *const *)texts, n, err, sizeof err);
    if (L < 0)
        fail_msg("%s", err);
    /* tokenizer + T5 against the official pipeline's saved tensors */
    load(&ids, "%s/full/%s/text_input_ids.npy", ref, cas);
    load(&feats, "%s/full/%s/text_features.npy", ref, cas);
    assert_int_equal(ids.shape[1], L);
    got_ids = sam_text_ids(s, &L);
    for (i = 0; i < n * L; i++)
        assert_int_equal(got_ids[i], (int32_t)ids.d[i]);
    {
        float *tf;
        arr mask;

        assert_int_equal(sam_text_features(s, NULL, &L, &Dt), SAMSEP_OK);
        tf = malloc((size_t)n * (size_t)L * (size_t)Dt * sizeof *tf);
        assert_non_null(tf);
        assert_int_equal(sam_text_features(s, tf, &L, &Dt), SAMSEP_OK);
        load(&mask, "%s/full/%s/text_mask.npy", ref, cas);
        /* compare valid positions only: padded ones are not used downstream */
        for (b = 0; b < n; b++)
            for (i = 0; i < L; i++)
                if (mask.d[b * L + i] > 0.5f)
                    assert_true(nerr(tf + ((size_t)b * L + i) * Dt,
                                     feats.d + ((size_t)b * L + i) * Dt, Dt) < 1e-5);
        free(mask.d);
        free(tf);
    }
    /* the audio, padded to the longest as the processor does */
    load(&sizes, "%s/full/%s/batch_wav_sizes.npy", ref, cas);
    N = 0;
    for (b = 0; b < n; b++) {
        lengths[b] = (int64_t)sizes.d[b];
        if (lengths[b] > N)
            N = lengths[b];
    }
    wav = calloc((size_t)(n * N), sizeof *wav);
    for (b = 0; b < n; b++) {
        load(&wav0, "%s/full/%s/in_waveform%d.npy", ref, cas, b);
        assert_int_equal(wav0.n, lengths[b]);
        memcpy(wav + b * N, wav0.d, (size_t)lengths[b] * sizeof(float));
        free(wav0.d);
    }
    load(&noise, "%s/full/%s/noise.npy", ref, cas);
    load(&msg, "%s/full/%s/decode_message.npy", ref, cas);
    T = (N + sam_hop(m) - 1) / sam_hop(m);
    hopT = T * sam_hop(m);
    assert_int_equal(noise.n, n * T * 2 * sam_latent_channels(m));
    assert_int_equal(msg.n, 2 * n * sam_message_bits(m));
    tgt = malloc((size_t)(n * hopT) * sizeof(float));
    res = malloc((size_t)(n * hopT) * sizeof(float));
    if (sam_separate(s, wav, lengths, N, noise.d, msg.d, tgt, res, err, sizeof err) != 0)
        fail_msg("%s", err);
    load(&ode, "%s/full/%s/ode_result.npy", ref, cas);
    got = malloc((size_t)ode.n * sizeof *got);
    assert_non_null(got);
    assert_int_equal(sam_last_ode_result(s, got, NULL), SAMSEP_OK);
    print_message("%s: ODE result error %.2e\n", cas, nerr(got, ode.d, ode.n));
    assert_true(nerr(got, ode.d, ode.n) < 1e-4);
    free(got);
    for (b = 0; b < n; b++) {
        double et, er;

        load(&t[b], "%s/full/%s/out_target%d.npy", ref, cas, b);
        load(&r[b], "%s/full/%s/out_residual%d.npy", ref, cas, b);
        /* the official output is item b's row narrowed to ceil(N_b/hop)*hop */
        assert_int_equal(t[b].n, (lengths[b] + sam_hop(m) - 1) / sam_hop(m) * sam_hop(m));
        et = nerr(tgt + b * hopT, t[b].d, t[b].n);
        er = nerr(res + b * hopT, r[b].d, r[b].n);
        print_message("%s item %d: target error %.2e, residual error %.2e\n", cas, b, et,
                      er);
        assert_true(et < 1e-4);
        assert_true(er < 1e-4);
        free(t[b].d);
        free(r[b].d);
    }
    /* targets only (the engine's --residual subtract): the same targets,
     * bit for bit, every item's with its own watermark bits */
    got = malloc((size_t)(n * hopT) * sizeof *got);
    assert_non_null(got);
    if (sam_separate(s, wav, lengths, N, noise.d, msg.d, got, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_memory_equal(got, tgt, (size_t)(n * hopT) * sizeof *got);
    free(got);
    for (i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(ids.d);
    free(feats.d);
    free(noise.d);
    free(msg.d);
    free(ode.d);
    free(sizes.d);
    free(wav);
    free(tgt);
    free(res);
    sam_state_destroy(s);
    sam_model_close(m);
}

static void test_case_b1(void **state)
{
    (void)state;
    run_case("case_b1", 1);
}

static void test_case_b2_two_threads(void **state)
{
    (void)state;
    run_case("case_b2", 2);
}

static void test_seeded_noise(void **state)
{
    float a[1001], b[1001], c[1001], bits[64];
    double mean = 0, var = 0;
    int i, ones = 0;

    (void)state;
    sam_noise(7, 0, a, 1001);
    sam_noise(7, 0, b, 1001);
    sam_noise(7, 1, c, 1001);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
    for (i = 0; i < 1001; i++)
        mean += a[i];
    mean /= 1001;
    for (i = 0; i < 1001; i++)
        var += (a[i] - mean) * (a[i] - mean);
    var /= 1000;
    assert_true(fabs(mean) < 0.15 && fabs(var - 1) < 0.15);
    sam_message(7, 0, bits, 64);
    for (i = 0; i < 64; i++) {
        assert_true(bits[i] == 0.0f || bits[i] == 1.0f);
        ones += bits[i] == 1.0f;
    }
    assert_true(ones > 16 && ones < 48);
}

/* The same errors from sam_check (nothing loaded) and sam_model_open. */
static void test_open_errors(void **state)
{
    char dir[4096], err[1024], cerr[1024];
    sam_model *m = NULL;
    sam_state *s = NULL;

    (void)state;
    assert_int_equal(sam_model_open("/nonexistent/model", NULL, NULL, NULL, &m, err,
                                    sizeof err),
                     SAMSEP_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(err, "/nonexistent/model"));
    assert_int_equal(sam_check("/nonexistent/model", NULL, NULL, cerr, sizeof cerr),
                     SAMSEP_ERR_IO);
    assert_string_equal(cerr, err);
    /* the full model folder has no t5/ inside: a clear error naming it */
    snprintf(dir, sizeof dir, "%s/full", ref);
    assert_true(sam_model_open(dir, NULL, NULL, NULL, &m, err, sizeof err) < 0);
    assert_null(m);
    assert_non_null(strstr(err, "t5"));
    assert_true(sam_check(dir, NULL, NULL, cerr, sizeof cerr) < 0);
    assert_string_equal(cerr, err);
    /* a folder without a checkpoint */
    snprintf(dir, sizeof dir, "%s/tokenizer", ref);
    assert_true(sam_model_open(dir, NULL, NULL, NULL, &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "config.json"));
    assert_true(sam_check(dir, NULL, NULL, cerr, sizeof cerr) < 0);
    assert_string_equal(cerr, err);
    /* no such backend */
    snprintf(dir, sizeof dir, "%s/full", ref);
    assert_int_equal(sam_model_open(dir, NULL, NULL, "abacus", &m, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(sam_state_create(NULL, 1, &s, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_null(s);
    sam_state_destroy(NULL);
    sam_model_close(NULL);
}

/* One loaded model, two states used at once from two threads (1 and 2
 * worker threads): the weights are only read, so both give the same
 * result, bit for bit, as a state used alone. */
typedef struct share_run {
    sam_state *s;
    const char *text;
    const float *wav, *noise, *msg;
    int64_t N;
    float *tgt, *res;
    int rc;
} share_run;

static void *share_fn(void *arg)
{
    share_run *r = arg;
    char err[1024];
    int i;

    r->rc = sam_set_text(r->s, &r->text, 1, err, sizeof err) > 0 ? SAMSEP_OK : -1;
    for (i = 0; i < 2 && r->rc == SAMSEP_OK; i++) /* twice: buffers reused */
        r->rc = sam_separate(r->s, r->wav, NULL, r->N, r->noise, r->msg, r->tgt, r->res,
                             err, sizeof err);
    return NULL;
}

static void test_states_share_model(void **state)
{
    sam_model *m = open_model();
    share_run run[3];
    pthread_t th[2];
    arr wav0;
    float *noise, *msg;
    int64_t N, T, hopT;
    int i;

    (void)state;
    load(&wav0, "%s/full/case_b1/in_waveform0.npy", ref);
    N = wav0.n;
    T = (N + sam_hop(m) - 1) / sam_hop(m);
    hopT = T * sam_hop(m);
    noise = malloc((size_t)(T * 2 * sam_latent_channels(m)) * sizeof *noise);
    msg = malloc((size_t)(2 * sam_message_bits(m)) * sizeof *msg);
    assert_non_null(noise);
    assert_non_null(msg);
    sam_noise(11, 0, noise, T * 2 * sam_latent_channels(m));
    sam_message(11, 0, msg, 2 * sam_message_bits(m));
    for (i = 0; i < 3; i++) {
        run[i].s = open_state(m, i == 1 ? 2 : 1);
        run[i].text = "a dog barking";
        run[i].wav = wav0.d;
        run[i].noise = noise;
        run[i].msg = msg;
        run[i].N = N;
        run[i].tgt = malloc((size_t)hopT * sizeof(float));
        run[i].res = malloc((size_t)hopT * sizeof(float));
        assert_non_null(run[i].tgt);
        assert_non_null(run[i].res);
    }
    share_fn(&run[2]); /* alone first */
    assert_int_equal(run[2].rc, SAMSEP_OK);
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, share_fn, &run[i]), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(run[i].rc, SAMSEP_OK);
        assert_memory_equal(run[i].tgt, run[2].tgt, (size_t)hopT * sizeof(float));
        assert_memory_equal(run[i].res, run[2].res, (size_t)hopT * sizeof(float));
    }
    for (i = 0; i < 3; i++) {
        sam_state_destroy(run[i].s);
        free(run[i].tgt);
        free(run[i].res);
    }
    free(noise);
    free(msg);
    free(wav0.d);
    sam_model_close(m);
}

/* 10 log10(|ref|^2 / |a - ref|^2), in dB (300 when equal). */
static double snr_db(const float *a, const float *ref_, int64_t n)
{
    double s = 0.0, e = 0.0;
    int64_t i;

    for (i = 0; i < n; i++) {
        s += (double)ref_[i] * ref_[i];
        e += ((double)a[i] - ref_[i]) * ((double)a[i] - ref_[i]);
    }
    return e > 0.0 ? 10.0 * log10(s / e) : 300.0;
}

/* case_b1 separated by the model loaded at `precision` on `threads`
 * threads, with the reference noise and bits; target and residual
 * [hopT] returned (malloc'd). */
static int64_t separate_b1(int precision, int threads, float **tgt, float **res)
{
    char dir[4096], t5[4096], tok[4096], err[1024];
    const char *text;
    sam_model *m = NULL;
    sam_state *s;
    arr wav0, noise, msg;
    char **texts;
    int n;
    int64_t T, hopT;

    snprintf(dir, sizeof dir, "%s/full", ref);
    snprintf(t5, sizeof t5, "%s/t5", ref);
    snprintf(tok, sizeof tok, "%s/tokenizer", ref);
    if (sam_model_load(dir, t5, tok, NULL, precision, &m, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    s = open_state(m, threads);
    texts = read_descriptions("case_b1", &n);
    text = texts[0];
    if (sam_set_text(s, &text, 1, err, sizeof err) < 0)
        fail_msg("%s", err);
    load(&wav0, "%s/full/case_b1/in_waveform0.npy", ref);
    load(&noise, "%s/full/case_b1/noise.npy", ref);
    load(&msg, "%s/full/case_b1/decode_message.npy", ref);
    T = (wav0.n + sam_hop(m) - 1) / sam_hop(m);
    hopT = T * sam_hop(m);
    *tgt = malloc((size_t)hopT * sizeof(float));
    *res = malloc((size_t)hopT * sizeof(float));
    assert_non_null(*tgt);
    assert_non_null(*res);
    if (sam_separate(s, wav0.d, NULL, wav0.n, noise.d, msg.d, *tgt, *res, err,
                     sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    free(texts[0]);
    free(texts);
    free(wav0.d);
    free(noise.d);
    free(msg.d);
    sam_state_destroy(s);
    sam_model_close(m);
    return hopT;
}

/* bf16 weights: target and residual within 30 dB SNR of the float32 run
 * with the same noise and bits (the bar of the issue, whatever the code),
 * not equal to it (the bf16 kernels did run), and the same bits on 1 and 2
 * threads. */
static void test_bf16_against_fp32(void **state)
{
    float *t32, *r32, *t16, *r16, *t16b, *r16b;
    int64_t n = separate_b1(NN_PRECISION_F32, 1, &t32, &r32);
    double st, sr;

    (void)state;
    assert_int_equal(separate_b1(NN_PRECISION_BF16, 1, &t16, &r16), n);
    assert_int_equal(separate_b1(NN_PRECISION_BF16, 2, &t16b, &r16b), n);
    st = snr_db(t16, t32, n);
    sr = snr_db(r16, r32, n);
    print_message("bf16 vs fp32 (%s): target SNR %.1f dB, residual SNR %.1f dB\n",
                  nn_precision_name(NN_PRECISION_BF16), st, sr);
    assert_true(st >= 30.0);
    assert_true(sr >= 30.0);
    assert_true(st < 300.0);
    assert_memory_equal(t16, t16b, (size_t)n * sizeof(float));
    assert_memory_equal(r16, r16b, (size_t)n * sizeof(float));
    free(t32);
    free(r32);
    free(t16);
    free(r16);
    free(t16b);
    free(r16b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_b1),
        cmocka_unit_test(test_case_b2_two_threads),
        cmocka_unit_test(test_seeded_noise),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_states_share_model),
        cmocka_unit_test(test_bf16_against_fp32),
    };

    ref = getenv("SAMSEP_SAMREF");
    if (ref == NULL || ref[0] == '\0') {
        printf("SAMSEP_SAMREF not set: skipping\n");
        return 77;
    }
    {
        char probe[4096];
        FILE *f;

        snprintf(probe, sizeof probe, "%s/full/config.json", ref);
        if ((f = fopen(probe, "r")) == NULL) {
            printf("%s: no reference data: skipping\n", ref);
            return 77;
        }
        fclose(f);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
