/*
 * test_model_sam.c - SAM-Audio end to end through sam_separate(), the code
 * path the sam-audio engine runs: the reference cases full/case_b1 (one
 * prompt) and full/case_b2 (two prompts, padded audio and text) from the
 * official implementation, with their saved noise and watermark bits.
 * Tolerance (MANIFEST §0): 1e-5 relative for the text features, 1e-4 for
 * ODE results and waveforms.
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
#include "engine/sam/sam.h"
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

static sam_model *open_model(int threads)
{
    char dir[4096], t5[4096], tok[4096], err[1024];
    sam_model *m = NULL;

    snprintf(dir, sizeof dir, "%s/full", ref);
    snprintf(t5, sizeof t5, "%s/t5", ref);
    snprintf(tok, sizeof tok, "%s/tokenizer", ref);
    if (sam_open(dir, t5, tok, threads, &m, err, sizeof err) != SAMSEP_OK)
        fail_msg("%s", err);
    return m;
}

static void run_case(const char *cas, int threads)
{
    sam_model *m = open_model(threads);
    arr ids, feats, noise, msg, wav0, ode, t[2], r[2], sizes;
    char err[1024];
    char **texts;
    int n, L, Dt, b, i;
    int64_t N, lengths[2], T, hopT;
    float *wav, *tgt, *res;
    const int32_t *got_ids;

    texts = read_descriptions(cas, &n);
    assert_true(n >= 1 && n <= 2);
    L = sam_set_text(m, (const char *const *)texts, n, err, sizeof err);
    if (L < 0)
        fail_msg("%s", err);
    /* tokenizer + T5 against the official pipeline's saved tensors */
    load(&ids, "%s/full/%s/text_input_ids.npy", ref, cas);
    load(&feats, "%s/full/%s/text_features.npy", ref, cas);
    assert_int_equal(ids.shape[1], L);
    got_ids = sam_text_ids(m, &L);
    for (i = 0; i < n * L; i++)
        assert_int_equal(got_ids[i], (int32_t)ids.d[i]);
    {
        const float *tf = sam_text_features(m, &L, &Dt);
        arr mask;

        load(&mask, "%s/full/%s/text_mask.npy", ref, cas);
        /* compare valid positions only: padded ones are not used downstream */
        for (b = 0; b < n; b++)
            for (i = 0; i < L; i++)
                if (mask.d[b * L + i] > 0.5f)
                    assert_true(nerr(tf + ((size_t)b * L + i) * Dt,
                                        feats.d + ((size_t)b * L + i) * Dt, Dt) < 1e-5);
        free(mask.d);
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
    if (sam_separate(m, wav, lengths, N, noise.d, msg.d, tgt, res, err, sizeof err) != 0)
        fail_msg("%s", err);
    load(&ode, "%s/full/%s/ode_result.npy", ref, cas);
    print_message("%s: ODE result error %.2e\n", cas, nerr(sam_last_ode_result(m),
                                                              ode.d, ode.n));
    assert_true(nerr(sam_last_ode_result(m), ode.d, ode.n) < 1e-4);
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
    sam_close(m);
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

static void test_open_errors(void **state)
{
    char dir[4096], err[1024];
    sam_model *m = NULL;

    (void)state;
    assert_int_equal(sam_open("/nonexistent/model", NULL, NULL, 1, &m, err, sizeof err),
                     SAMSEP_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(err, "/nonexistent/model"));
    /* the full model folder has no t5/ inside: a clear error naming it */
    snprintf(dir, sizeof dir, "%s/full", ref);
    assert_true(sam_open(dir, NULL, NULL, 1, &m, err, sizeof err) < 0);
    assert_null(m);
    assert_non_null(strstr(err, "t5"));
    /* a folder without a checkpoint */
    snprintf(dir, sizeof dir, "%s/tokenizer", ref);
    assert_true(sam_open(dir, NULL, NULL, 1, &m, err, sizeof err) < 0);
    assert_non_null(strstr(err, "config.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_case_b1),
        cmocka_unit_test(test_case_b2_two_threads),
        cmocka_unit_test(test_seeded_noise),
        cmocka_unit_test(test_open_errors),
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
