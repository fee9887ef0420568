/*
 * test_model_dit.c - SAM-Audio's DiT, conditioning and midpoint ODE solver
 * against the reference tensors in $SAMSEP_SAMREF (MANIFEST §4, §5, §7):
 *   - dit/<case>/fwd_t0.3: every saved intermediate of one function
 *     evaluation, for the three cases (one batched with audio and text
 *     padding), within 1e-5 normalised error;
 *   - dit/<case> and full/case_b1, full/case_b2: the 32 evaluations of the
 *     ODE (times, inputs, outputs) and its result within 1e-4;
 *   - each item of the batched case run alone equals its batched rows;
 *   - 1 and 2 threads give bit-identical results;
 *   - bad input and mismatched configs are refused with the right status.
 * Normalised error: max|a-b| / max(1, max|ref|). Skips (77) when
 * SAMSEP_SAMREF is unset.
 */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "modeltest.h"

#include "engine/sam/dit.h"
#include "nn/nn.h"
#include "nn/weights.h"
#include "npy.h"
#include "samsep.h"

#define TOL_LAYER 1e-5
#define TOL_ODE 1e-4

static const char *g_ref;

static int try_load(const char *path, arr *a)
{
    char err[256];
    int i;
    if (npy_load(path, &a->d, a->shape, &a->ndim, err, sizeof err) != 0)
        return -1;
    a->n = 1;
    for (i = 0; i < a->ndim; i++)
        a->n *= a->shape[i];
    return 0;
}

static void load(const char *dir, const char *name, arr *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/%s.npy", g_ref, dir, name);
    arr_load(a, path);
}

static double check(const char *what, const float *out, const float *ref, int64_t n,
                    double tol)
{
    double e = nerr(out, ref, n);
    if (!(e <= tol))
        fail_msg("%s: normalised error %.3g > %.0e", what, e, tol);
    return e;
}

/* ---- model ------------------------------------------------------------- */

/* A loaded DiT (dm, its weights ws placed on context wk) and one run of
 * it (m, on context k). The CPU backend's memory is the host's: the
 * reference arrays are handed to the kernels directly. */
typedef struct model {
    nn_ctx *wk, *k;
    nn_weights *ws;
    cJSON *cfg;
    dit_model *dm;
    dit_state *m;
} model;

static cJSON *read_config(const char *dir)
{
    char path[4096];
    FILE *f;
    long n;
    char *buf;
    cJSON *j;
    snprintf(path, sizeof path, "%s/%s/config.json", g_ref, dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    j = cJSON_Parse(buf);
    free(buf);
    assert_non_null(j);
    return j;
}

static void model_open(model *mo, const char *dir, const char *file, int threads)
{
    char path[4096], err[512] = "";
    int rc;
    nn_params p = { NULL, threads };
    memset(mo, 0, sizeof *mo);
    snprintf(path, sizeof path, "%s/%s/%s", g_ref, dir, file);
    rc = nn_ctx_create(NULL, &mo->wk, err, sizeof err);
    if (rc == SAMSEP_OK)
        rc = nn_ctx_create(&p, &mo->k, err, sizeof err);
    if (rc == SAMSEP_OK)
        rc = nn_weights_open(path, mo->wk, &mo->ws, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("open: %s", err);
    mo->cfg = read_config(dir);
    rc = dit_model_load(mo->ws, mo->cfg, &mo->dm, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("dit_model_load: %s", err);
    rc = dit_state_create(mo->dm, mo->k, &mo->m, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("dit_state_create: %s", err);
}

static void model_close(model *mo)
{
    dit_state_destroy(mo->m);
    dit_model_free(mo->dm);
    nn_weights_close(mo->ws);
    cJSON_Delete(mo->cfg);
    nn_ctx_destroy(mo->k);
    nn_ctx_destroy(mo->wk);
}

/* Valid-prefix lengths of a [B, N] 0/1 mask (must be a prefix). */
static int *mask_lengths(const arr *mask)
{
    int64_t B = mask->shape[0], N = mask->shape[1], b, i;
    int *len = calloc((size_t)B, sizeof *len);
    assert_non_null(len);
    for (b = 0; b < B; b++) {
        for (i = 0; i < N && mask->d[b * N + i] != 0.0f; i++)
            ;
        len[b] = (int)i;
        for (; i < N; i++)
            assert_true(mask->d[b * N + i] == 0.0f);
    }
    return len;
}

/* ---- taps ------------------------------------------------------------- */

#define MAX_TAPS 64
typedef struct taps {
    int n;
    char name[MAX_TAPS][48];
    float *data[MAX_TAPS];
    int64_t shape[MAX_TAPS][4];
    int ndim[MAX_TAPS];
} taps;

static void tap_fn(void *user, const char *name, const float *data, int ndim,
                   const int64_t *shape)
{
    taps *t = user;
    size_t n = 1;
    int i;
    if (t->n >= MAX_TAPS)
        return;
    for (i = 0; i < ndim; i++) {
        n *= (size_t)shape[i];
        t->shape[t->n][i] = shape[i];
    }
    t->ndim[t->n] = ndim;
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    t->data[t->n] = malloc(n * sizeof(float));
    if (t->data[t->n] != NULL)
        memcpy(t->data[t->n], data, n * sizeof(float));
    t->n++;
}

static int tap_find(const taps *t, const char *name)
{
    int i;
    for (i = 0; i < t->n; i++)
        if (strcmp(t->name[i], name) == 0)
            return i;
    return -1;
}

static void taps_free(taps *t)
{
    int i;
    for (i = 0; i < t->n; i++)
        free(t->data[i]);
    t->n = 0;
}

/* ---- one case --------------------------------------------------------- */

typedef struct dcase {
    arr af, tf, tmask, pmask, noise, align, ids, video;
    int *vlen, *tlen;
    int B, T, L;
} dcase;

static void case_load(dcase *c, const char *dir, int full)
{
    int64_t b, t;
    memset(c, 0, sizeof *c);
    if (full) {
        load(dir, "audio_features", &c->af);
        load(dir, "text_features", &c->tf);
        load(dir, "text_mask", &c->tmask);
        load(dir, "batch_audio_pad_mask", &c->pmask);
        load(dir, "noise", &c->noise);
        load(dir, "batch_anchor_alignment", &c->align);
        load(dir, "batch_anchor_ids", &c->ids);
    } else {
        load(dir, "in_audio_features", &c->af);
        load(dir, "in_text_features", &c->tf);
        load(dir, "in_text_mask", &c->tmask);
        load(dir, "in_audio_pad_mask", &c->pmask);
        load(dir, "in_noise", &c->noise);
        load(dir, "in_anchor_alignment", &c->align);
        load(dir, "in_anchor_ids", &c->ids);
        load(dir, "in_masked_video_features", &c->video);
        for (t = 0; t < c->video.n; t++)
            assert_true(c->video.d[t] == 0.0f);
    }
    c->B = (int)c->af.shape[0];
    c->T = (int)c->af.shape[1];
    c->L = (int)c->tf.shape[1];
    c->vlen = mask_lengths(&c->pmask);
    c->tlen = mask_lengths(&c->tmask);
    /* the conditioning derives the anchors from the valid frames: check the
     * reference used exactly that (ids [0, 3], alignment = padded) */
    for (b = 0; b < c->B; b++) {
        assert_true(c->ids.d[2 * b] == 0.0f && c->ids.d[2 * b + 1] == 3.0f);
        for (t = 0; t < c->T; t++)
            assert_true(c->align.d[b * c->T + t] == (t < c->vlen[b] ? 0.0f : 1.0f));
    }
}

static void case_free(dcase *c)
{
    free(c->af.d);
    free(c->tf.d);
    free(c->tmask.d);
    free(c->pmask.d);
    free(c->noise.d);
    free(c->align.d);
    free(c->ids.d);
    free(c->video.d);
    free(c->vlen);
    free(c->tlen);
}

static void condition(model *mo, const dcase *c)
{
    dit_inputs in;
    char err[256] = "";
    int rc;
    memset(&in, 0, sizeof in);
    in.batch = c->B;
    in.frames = c->T;
    in.audio_features = c->af.d;
    in.valid_frames = c->vlen;
    in.text_len = c->L;
    in.text_features = c->tf.d;
    in.text_lengths = c->tlen;
    rc = dit_condition(mo->m, &in, err, sizeof err);
    if (rc != SAMSEP_OK)
        fail_msg("dit_condition: %s", err);
}

/* Compare every saved file of dir/fwd_t0.3 with the tap of the same name. */
static void check_forward(const char *dir, model *mo, const dcase *c)
{
    char fdir[4096], path[4200], name[256];
    taps tp = { 0 };
    DIR *d;
    struct dirent *e;
    float *out;
    int nfiles = 0;
    double worst = 0.0;

    out = malloc((size_t)c->af.n * sizeof *out);
    assert_non_null(out);
    condition(mo, c);
    dit_set_tap(mo->m, tap_fn, &tp);
    assert_int_equal(dit_forward(mo->m, c->noise.d, 0.3f, out), SAMSEP_OK);
    dit_set_tap(mo->m, NULL, NULL);

    snprintf(fdir, sizeof fdir, "%s/%s/fwd_t0.3", g_ref, dir);
    d = opendir(fdir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        arr ref;
        int ti, i;
        const float *mine;
        float *perm = NULL;
        double err;

        if (len < 5 || strcmp(e->d_name + len - 4, ".npy") != 0)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
        if (snprintf(path, sizeof path, "%s/%s", fdir, e->d_name) >= (int)sizeof path)
            fail_msg("path too long: %s/%s", fdir, e->d_name);
        assert_int_equal(try_load(path, &ref), 0);
        if (strcmp(name, "time") == 0) { /* an input */
            for (i = 0; i < ref.n; i++)
                assert_true(ref.d[i] == 0.3f);
            free(ref.d);
            continue;
        }
        if (len > 9 && strcmp(name + strlen(name) - 5, "_BHTD") == 0) {
            /* ours is [B, T, H, hd] */
            int64_t B = ref.shape[0], H = ref.shape[1], T = ref.shape[2],
                    hd = ref.shape[3], b, h, t, j;
            name[strlen(name) - 5] = '\0';
            ti = tap_find(&tp, name);
            if (ti < 0)
                fail_msg("%s/%s: no such intermediate", dir, e->d_name);
            assert_int_equal(tp.ndim[ti], 4);
            assert_true(tp.shape[ti][0] == B && tp.shape[ti][1] == T &&
                        tp.shape[ti][2] == H && tp.shape[ti][3] == hd);
            perm = malloc((size_t)ref.n * sizeof *perm);
            assert_non_null(perm);
            for (b = 0; b < B; b++)
                for (h = 0; h < H; h++)
                    for (t = 0; t < T; t++)
                        for (j = 0; j < hd; j++)
                            perm[((b * H + h) * T + t) * hd + j] =
                                tp.data[ti][((b * T + t) * H + h) * hd + j];
            mine = perm;
        } else {
            int64_t n = 1;
            ti = tap_find(&tp, name);
            if (ti < 0)
                fail_msg("%s/%s: no such intermediate", dir, e->d_name);
            assert_int_equal(tp.ndim[ti], ref.ndim);
            for (i = 0; i < ref.ndim; i++) {
                assert_true(tp.shape[ti][i] == ref.shape[i]);
                n *= ref.shape[i];
            }
            assert_true(n == ref.n);
            mine = tp.data[ti];
        }
        snprintf(path, sizeof path, "%s %s", dir, e->d_name);
        err = check(path, mine, ref.d, ref.n, TOL_LAYER);
        if (err > worst)
            worst = err;
        if (strcmp(name, "out") == 0) /* the tap shows what was returned */
            assert_memory_equal(out, mine, (size_t)ref.n * sizeof *out);
        nfiles++;
        free(perm);
        free(ref.d);
    }
    closedir(d);
    print_message("    %-28s %d intermediates, max normalised error %.3g\n", dir, nfiles,
                  worst);
    assert_true(nfiles >= 30);
    taps_free(&tp);
    free(out);
}

/* ---- ODE -------------------------------------------------------------- */

typedef struct ode_ref {
    const char *dir;
    arr t, in, out;
    int64_t per; /* B*T*2C */
    int calls;
    double worst_in, worst_out;
    char fail[256];
} ode_ref;

static int nfe_cb(void *user, int nfe, float t, const float *x, const float *v)
{
    ode_ref *r = user;
    double ei, eo;
    r->calls++;
    if (r->fail[0])
        return 0;
    if (nfe < 0 || nfe >= 32) {
        snprintf(r->fail, sizeof r->fail, "%s: evaluation number %d", r->dir, nfe);
        return 0;
    }
    if (t != r->t.d[nfe])
        snprintf(r->fail, sizeof r->fail, "%s: nfe %d at t=%.9g, reference %.9g", r->dir,
                 nfe, (double)t, (double)r->t.d[nfe]);
    ei = nerr(x, r->in.d + nfe * r->per, r->per);
    eo = nerr(v, r->out.d + nfe * r->per, r->per);
    if (ei > r->worst_in)
        r->worst_in = ei;
    if (eo > r->worst_out)
        r->worst_out = eo;
    if (!(ei <= TOL_ODE) || !(eo <= TOL_ODE))
        snprintf(r->fail, sizeof r->fail, "%s: nfe %d: input error %.3g, output %.3g",
                 r->dir, nfe, ei, eo);
    return 0;
}

static void check_ode(const char *dir, model *mo, const dcase *c)
{
    ode_ref r;
    arr res;
    float *out;
    double e;

    memset(&r, 0, sizeof r);
    r.dir = dir;
    load(dir, "ode_nfe_t", &r.t);
    load(dir, "ode_nfe_in", &r.in);
    load(dir, "ode_nfe_out", &r.out);
    load(dir, "ode_result", &res);
    assert_int_equal(r.t.n, 32);
    r.per = c->af.n;
    assert_true(r.in.n == 32 * r.per && res.n == r.per);
    out = malloc((size_t)r.per * sizeof *out);
    assert_non_null(out);
    condition(mo, c);
    assert_int_equal(dit_ode_solve(mo->m, c->noise.d, 16, out, nfe_cb, &r), SAMSEP_OK);
    if (r.fail[0])
        fail_msg("%s", r.fail);
    assert_int_equal(r.calls, 32);
    e = check(dir, out, res.d, r.per, TOL_ODE);
    print_message("    %-28s ODE: 32 evaluations, inputs %.3g, outputs %.3g, result "
                  "%.3g\n",
                  dir, r.worst_in, r.worst_out, e);
    free(out);
    free(res.d);
    free(r.t.d);
    free(r.in.d);
    free(r.out.d);
}

/* ---- tests ------------------------------------------------------------ */

static const char *const DIT_CASES[] = { "dit/case_b1_t25_l7", "dit/case_b1_t37_l5",
                                         "dit/case_b2_t29_l6_masked" };

static void test_forward_cases(void **state)
{
    model mo;
    size_t i;
    (void)state;
    model_open(&mo, "dit", "checkpoint.pt", 2);
    for (i = 0; i < sizeof DIT_CASES / sizeof DIT_CASES[0]; i++) {
        dcase c;
        case_load(&c, DIT_CASES[i], 0);
        check_forward(DIT_CASES[i], &mo, &c);
        case_free(&c);
    }
    model_close(&mo);
}

static void test_ode_dit_cases(void **state)
{
    model mo;
    size_t i;
    (void)state;
    model_open(&mo, "dit", "checkpoint.pt", 2);
    for (i = 0; i < sizeof DIT_CASES / sizeof DIT_CASES[0]; i++) {
        dcase c;
        case_load(&c, DIT_CASES[i], 0);
        check_ode(DIT_CASES[i], &mo, &c);
        case_free(&c);
    }
    model_close(&mo);
}

/* full/: the ODE inside separate(), weights from the safetensors copy. */
static void test_ode_full_cases(void **state)
{
    static const char *const cases[] = { "full/case_b1", "full/case_b2" };
    model mo;
    size_t i;
    (void)state;
    model_open(&mo, "full", "checkpoint.safetensors", 2);
    for (i = 0; i < 2; i++) {
        dcase c;
        case_load(&c, cases[i], 1);
        check_ode(cases[i], &mo, &c);
        case_free(&c);
    }
    model_close(&mo);
}

/* The layout helpers against separate()'s own tensors. */
static void test_layout_helpers(void **state)
{
    static const char *const cases[] = { "full/case_b1", "full/case_b2" };
    nn_ctx *k = NULL;
    char err[128];
    size_t i;
    (void)state;
    assert_int_equal(nn_ctx_create(NULL, &k, err, sizeof err), SAMSEP_OK);
    for (i = 0; i < 2; i++) {
        arr feat, af, res, dec;
        float *o1, *o2, *tmp;
        int64_t B, C, T;
        load(cases[i], "codec_features_BCT", &feat);
        load(cases[i], "audio_features", &af);
        load(cases[i], "ode_result", &res);
        load(cases[i], "decode_in_2B_C_T", &dec);
        B = feat.shape[0];
        C = feat.shape[1];
        T = feat.shape[2];
        assert_true(af.n == 2 * feat.n && dec.n == res.n && res.n == af.n);
        o1 = malloc((size_t)af.n * sizeof *o1);
        o2 = malloc((size_t)af.n * sizeof *o2);
        tmp = malloc((size_t)feat.n * sizeof *tmp);
        assert_non_null(o1);
        assert_non_null(o2);
        assert_non_null(tmp);
        assert_int_equal(dit_audio_features_from_codec(k, feat.d, B, C, T, tmp, o1),
                         SAMSEP_OK);
        assert_memory_equal(o1, af.d, (size_t)af.n * sizeof *o1);
        assert_int_equal(dit_latent_to_codec(k, res.d, B, T, C, o2), SAMSEP_OK);
        assert_memory_equal(o2, dec.d, (size_t)dec.n * sizeof *o2);
        free(o1);
        free(o2);
        free(tmp);
        free(feat.d);
        free(af.d);
        free(res.d);
        free(dec.d);
    }
    nn_ctx_destroy(k);
}

/* Each item of the batched case alone (same T and L) = its batched rows. */
static void test_batch_equals_single(void **state)
{
    const char *dir = DIT_CASES[2];
    model mo;
    dcase c;
    float *all, *one;
    int64_t per, n;
    int b;
    (void)state;
    model_open(&mo, "dit", "checkpoint.pt", 2);
    case_load(&c, dir, 0);
    per = (int64_t)c.T * (c.af.shape[2]);
    all = malloc((size_t)c.af.n * sizeof *all);
    one = malloc((size_t)per * sizeof *one);
    assert_non_null(all);
    assert_non_null(one);
    condition(&mo, &c);
    assert_int_equal(dit_forward(mo.m, c.noise.d, 0.3f, all), SAMSEP_OK);
    for (b = 0; b < c.B; b++) {
        dit_inputs in;
        char err[256] = "";
        memset(&in, 0, sizeof in);
        in.batch = 1;
        in.frames = c.T;
        in.audio_features = c.af.d + b * per;
        in.valid_frames = &c.vlen[b];
        in.text_len = c.L;
        in.text_features = c.tf.d + (int64_t)b * c.L * c.tf.shape[2];
        in.text_lengths = &c.tlen[b];
        assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_OK);
        assert_int_equal(dit_forward(mo.m, c.noise.d + b * per, 0.3f, one), SAMSEP_OK);
        n = per;
        check("item alone vs batched", one, all + b * per, n, 1e-6);
    }
    free(all);
    free(one);
    case_free(&c);
    model_close(&mo);
}

/* Two runs of one loaded model, on 1 and 2 threads: bit-identical forward
 * and ODE results. */
static void test_threads_identical(void **state)
{
    const char *dir = DIT_CASES[2];
    model m1, m2;
    nn_params p = { NULL, 2 };
    dcase c;
    float *a1, *a2;
    char err[256] = "";
    (void)state;
    model_open(&m1, "dit", "checkpoint.pt", 1);
    memset(&m2, 0, sizeof m2);
    assert_int_equal(nn_ctx_create(&p, &m2.k, err, sizeof err), SAMSEP_OK);
    assert_int_equal(dit_state_create(m1.dm, m2.k, &m2.m, err, sizeof err), SAMSEP_OK);
    case_load(&c, dir, 0);
    a1 = malloc((size_t)c.af.n * sizeof *a1);
    a2 = malloc((size_t)c.af.n * sizeof *a2);
    assert_non_null(a1);
    assert_non_null(a2);
    condition(&m1, &c);
    condition(&m2, &c);
    assert_int_equal(dit_forward(m1.m, c.noise.d, 0.3f, a1), SAMSEP_OK);
    assert_int_equal(dit_forward(m2.m, c.noise.d, 0.3f, a2), SAMSEP_OK);
    assert_memory_equal(a1, a2, (size_t)c.af.n * sizeof *a1);
    assert_int_equal(dit_ode_solve(m1.m, c.noise.d, 16, a1, NULL, NULL), SAMSEP_OK);
    assert_int_equal(dit_ode_solve(m2.m, c.noise.d, 16, a2, NULL, NULL), SAMSEP_OK);
    assert_memory_equal(a1, a2, (size_t)c.af.n * sizeof *a1);
    free(a1);
    free(a2);
    case_free(&c);
    dit_state_destroy(m2.m);
    nn_ctx_destroy(m2.k);
    model_close(&m1);
}

/* The ODE in place (out == noise) and the timing of one evaluation. */
static void test_in_place_and_timing(void **state)
{
    const char *dir = DIT_CASES[0];
    model mo;
    dcase c;
    float *a, *b;
    struct timespec t0, t1;
    int i, reps = 200;
    double ms;
    (void)state;
    model_open(&mo, "dit", "checkpoint.pt", 1);
    case_load(&c, dir, 0);
    a = malloc((size_t)c.af.n * sizeof *a);
    b = malloc((size_t)c.af.n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    condition(&mo, &c);
    assert_int_equal(dit_ode_solve(mo.m, c.noise.d, 16, a, NULL, NULL), SAMSEP_OK);
    memcpy(b, c.noise.d, (size_t)c.af.n * sizeof *b);
    assert_int_equal(dit_ode_solve(mo.m, b, 16, b, NULL, NULL), SAMSEP_OK);
    assert_memory_equal(a, b, (size_t)c.af.n * sizeof *a);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < reps; i++)
        assert_int_equal(dit_forward(mo.m, c.noise.d, 0.3f, a), SAMSEP_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
          (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) /
         reps;
    print_message("    one evaluation, tiny model (D 64, 2 layers), B=1 T=%d L=%d, "
                  "1 thread: %.3f ms\n",
                  c.T, c.L, ms);
    free(a);
    free(b);
    case_free(&c);
    model_close(&mo);
}

static int cancel_at_3(void *user, int nfe, float t, const float *x, const float *v)
{
    (void)t;
    (void)x;
    (void)v;
    *(int *)user = nfe;
    return nfe == 3;
}

static void test_bad_input(void **state)
{
    model mo;
    dcase c;
    dit_model *m = NULL;
    dit_state *st = NULL;
    dit_inputs in;
    cJSON *cfg, *tr;
    char err[512] = "";
    float *out;
    int bad, last = -1;
    (void)state;
    model_open(&mo, "dit", "checkpoint.pt", 1);
    case_load(&c, DIT_CASES[2], 0);
    out = malloc((size_t)c.af.n * sizeof *out);
    assert_non_null(out);

    /* no conditioning yet */
    assert_int_equal(dit_forward(mo.m, c.noise.d, 0.0f, out), SAMSEP_ERR_INVALID);
    assert_int_equal(dit_ode_solve(mo.m, c.noise.d, 16, out, NULL, NULL),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dit_forward(NULL, c.noise.d, 0.0f, out), SAMSEP_ERR_INVALID);

    memset(&in, 0, sizeof in);
    in.batch = c.B;
    in.frames = c.T;
    in.audio_features = c.af.d;
    in.text_len = c.L;
    in.text_features = c.tf.d;
    assert_int_equal(dit_condition(NULL, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_int_equal(dit_condition(mo.m, NULL, err, sizeof err), SAMSEP_ERR_INVALID);
    bad = 0;
    in.valid_frames = &bad;
    in.batch = 1;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    bad = c.T + 1;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    in.valid_frames = NULL;
    in.text_lengths = &bad;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    in.text_lengths = NULL;
    in.frames = dit_max_frames(mo.dm) + 1;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    in.frames = 0;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    in.frames = c.T;
    in.audio_features = NULL;
    assert_int_equal(dit_condition(mo.m, &in, err, sizeof err), SAMSEP_ERR_INVALID);
    /* a failed conditioning leaves none */
    assert_int_equal(dit_forward(mo.m, c.noise.d, 0.0f, out), SAMSEP_ERR_INVALID);

    /* cancel from the callback; steps < 1 */
    condition(&mo, &c);
    assert_int_equal(dit_ode_solve(mo.m, c.noise.d, 16, out, cancel_at_3, &last),
                     SAMSEP_ERR_CANCELLED);
    assert_int_equal(last, 3);
    assert_int_equal(dit_ode_solve(mo.m, c.noise.d, 0, out, NULL, NULL),
                     SAMSEP_ERR_INVALID);

    /* sizes */
    assert_int_equal(dit_dim(mo.dm), 64);
    assert_int_equal(dit_heads(mo.dm), 4);
    assert_int_equal(dit_layers(mo.dm), 2);
    assert_int_equal(dit_latent_channels(mo.dm), 16);
    assert_int_equal(dit_text_dim(mo.dm), 32);
    assert_int_equal(dit_ffn_dim(mo.dm), 192);
    assert_int_equal(dit_max_frames(mo.dm), 10000);
    assert_int_equal(dit_dim(NULL), 0);
    dit_state_destroy(NULL);
    dit_model_free(NULL);
    assert_int_equal(dit_reserve(mo.m, 0, 1, 1, err, sizeof err), SAMSEP_ERR_INVALID);

    /* open: NULLs, configs that do not match the checkpoint */
    assert_int_equal(dit_model_load(NULL, mo.cfg, &m, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dit_model_load(mo.ws, NULL, &m, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dit_model_load(mo.ws, mo.cfg, NULL, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dit_state_create(NULL, mo.k, &st, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(dit_state_create(mo.dm, NULL, &st, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_null(st);
    assert_int_equal(dit_check_config(mo.cfg, err, sizeof err), SAMSEP_OK);
    cfg = cJSON_Duplicate(mo.cfg, 1);
    tr = cJSON_GetObjectItemCaseSensitive(cfg, "transformer");
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "n_layers", cJSON_CreateNumber(3));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "transformer.layers.2"));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "n_layers", cJSON_CreateNumber(1));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "more DiT layers"));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "n_layers", cJSON_CreateNumber(2));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "dim", cJSON_CreateNumber(128));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "context_dim", cJSON_CreateNumber(128));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "do not match"));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "dim", cJSON_CreateNumber(64));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "non_linearity",
                                           cJSON_CreateString("gelu"));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "non_linearity",
                                           cJSON_CreateString("swiglu"));
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "context_dim", cJSON_CreateNumber(32));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    cJSON_ReplaceItemInObjectCaseSensitive(tr, "context_dim", cJSON_CreateNumber(64));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "in_channels", cJSON_CreateNumber(32));
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "in_channels", cJSON_CreateNumber(48));
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "transformer");
    assert_int_equal(dit_model_load(mo.ws, cfg, &m, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_int_equal(dit_check_config(cfg, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "transformer"));
    assert_null(m);
    cJSON_Delete(cfg);

    free(out);
    case_free(&c);
    model_close(&mo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_cases),
        cmocka_unit_test(test_ode_dit_cases),
        cmocka_unit_test(test_ode_full_cases),
        cmocka_unit_test(test_layout_helpers),
        cmocka_unit_test(test_batch_equals_single),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_in_place_and_timing),
        cmocka_unit_test(test_bad_input),
    };
    g_ref = getenv("SAMSEP_SAMREF");
    if (g_ref == NULL || g_ref[0] == '\0') {
        fprintf(stderr, "SAMSEP_SAMREF not set: skipping\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
