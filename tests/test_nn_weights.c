/*
 * test_nn_weights.c - the one weight loader (src/nn/weights.c) on a
 * safetensors file written here: a weight of the right shape and dtype is
 * the file's own bytes, other dtypes are converted, a missing tensor or a
 * wrong shape is an error that names the tensor and both shapes, the first
 * error is kept and later calls do nothing until it is read, prefixes and
 * printf names reach the right tensor, host copies and adopted arrays hold
 * the values, and trimming the copied pages leaves every weight readable.
 * On the CPU backend (host memory) weights are the mapping's own bytes;
 * values are also read back through nn_download, as any backend's would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/nn.h"
#include "nn/weights.h"
#include "samsep.h"
#include "testutil.h"

static char *g_dir;
static nn_ctx *g_k;
static char g_path[4096];

/* enc.w F32 [2, 3], enc.h F16 [2], enc.b BF16 [1], enc.layers.1.n F32 [4] */
static const float w_vals[6] = { 0.5f, -1.25f, 3.0f, 4.5f, 1e-3f, -7.0f };
static const uint16_t h_vals[2] = { 0x3C00, 0xC000 }; /* 1, -2 */
static const uint16_t b_vals[1] = { 0x3F80 };         /* 1 */
static const float n_vals[4] = { 1.0f, 2.0f, 3.0f, 4.0f };

static void write_file(const char *path)
{
    static const char *json =
        "{\"enc.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"enc.layers.1.n\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},"
        "\"enc.h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[40,44]},"
        "\"enc.b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[44,46]}}";
    uint64_t hl = strlen(json);
    uint8_t data[46];
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    memcpy(data, w_vals, 24);
    memcpy(data + 24, n_vals, 16);
    memcpy(data + 40, h_vals, 4);
    memcpy(data + 44, b_vals, 2);
    assert_int_equal(fwrite(&hl, 8, 1, f), 1);
    assert_int_equal(fwrite(json, 1, hl, f), hl);
    assert_int_equal(fwrite(data, 1, sizeof data, f), sizeof data);
    assert_int_equal(fclose(f), 0);
}

static nn_weights *open_ws(void)
{
    nn_weights *ws = NULL;
    char err[512] = "";

    if (nn_weights_open(g_path, g_k, &ws, err, sizeof err) != SAMSEP_OK)
        fail_msg("nn_weights_open: %s", err);
    return ws;
}

static void test_in_place_and_converted(void **state)
{
    nn_weights *ws = open_ws();
    const nn_tensor *t = nn_weights_find(ws, "enc.w");
    const float *w, *h;
    const void *h16;
    char err[512] = "";

    (void)state;
    assert_non_null(t);
    w = nn_weight(ws, "enc.w", NN_DIMS(2, 3), NN_F32);
    assert_ptr_equal(w, t->data); /* the file's own bytes, no copy */
    assert_memory_equal(w, w_vals, sizeof w_vals);
    {
        float back[6];
        assert_int_equal(nn_download(nn_weights_ctx(ws), back, w, sizeof back),
                         SAMSEP_OK);
        assert_memory_equal(back, w_vals, sizeof w_vals);
    }
    assert_ptr_equal(nn_weight(ws, "enc.w", NN_DIMS(NN_ANY, 3), NN_F32), t->data);
    h = nn_weight(ws, "enc.h", NN_DIMS(2), NN_F32);
    assert_non_null(h);
    assert_true(h[0] == 1.0f && h[1] == -2.0f);
    h16 = nn_weight(ws, "enc.h", NN_DIMS(2), NN_F16);
    assert_ptr_equal(h16, nn_weights_find(ws, "enc.h")->data);
    assert_true(nn_weightf(ws, NN_DIMS(1), "enc.b")[0] == 1.0f);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_OK);
    /* float32 cannot be had as float16 */
    assert_null(nn_weight(ws, "enc.w", NN_DIMS(2, 3), NN_F16));
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "enc.w"));
    assert_non_null(strstr(err, "F16"));
    nn_weights_close(ws);
}

static void test_errors_are_kept(void **state)
{
    nn_weights *ws = open_ws();
    char err[512] = "";

    (void)state;
    assert_null(nn_weight(ws, "enc.w", NN_DIMS(3, 2), NN_F32));
    /* a good request after an error does nothing */
    assert_null(nn_weight(ws, "enc.h", NN_DIMS(2), NN_F32));
    assert_null(nn_weight_host(ws, "enc.h", NN_DIMS(2)));
    assert_null(nn_weight_adopt(ws, malloc(4), 1));
    assert_int_equal(nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "later"), SAMSEP_ERR_NOMEM);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    print_message("    %s\n", err);
    assert_non_null(strstr(err, "enc.w"));
    assert_non_null(strstr(err, "[2, 3]"));
    assert_non_null(strstr(err, "[3, 2]"));
    assert_non_null(strstr(err, "do not match"));
    /* read once, the record is clear */
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_OK);
    assert_non_null(nn_weight(ws, "enc.h", NN_DIMS(2), NN_F32));

    assert_null(nn_weight(ws, "enc.nope", NN_DIMS(1), NN_F32));
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "missing tensor enc.nope"));
    assert_null(nn_weight(ws, "enc.n", NN_DIMS(4, 1), NN_F32)); /* rank differs */
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_int_equal(nn_weights_fail(ws, SAMSEP_ERR_FORMAT, "layer %d too many", 9),
                     SAMSEP_ERR_FORMAT);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_string_equal(err, "layer 9 too many");
    nn_weights_close(ws);
}

static void test_names(void **state)
{
    nn_weights *ws = open_ws();
    const float *n;
    char err[512] = "";

    (void)state;
    nn_weights_set_prefix(ws, "enc.");
    assert_non_null(nn_weights_find(ws, "w"));
    assert_null(nn_weights_find(ws, "enc.w"));
    n = nn_weightf(ws, NN_DIMS(4), "layers.%d.n", 1);
    assert_non_null(n);
    assert_memory_equal(n, n_vals, sizeof n_vals);
    assert_non_null(nn_weights_findf(ws, "layers.%d.n", 1));
    assert_null(nn_weights_findf(ws, "layers.%d.n", 2));
    assert_null(nn_weightf(ws, NN_DIMS(4), "layers.%d.n", 2));
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "enc.layers.2.n")); /* the whole name */
    nn_weights_set_prefix(ws, NULL);
    assert_non_null(nn_weights_find(ws, "enc.w"));
    assert_string_equal(nn_weights_path(ws), g_path);
    assert_int_equal(nn_tensor_file_count(nn_weights_file(ws)), 4);
    nn_weights_close(ws);
}

static void test_host_adopt_trim(void **state)
{
    nn_weights *ws = open_ws();
    float *c = nn_weight_host(ws, "enc.w", NN_DIMS(2, 3)), *d;
    const float *a, *n;
    char err[512] = "";
    int i;

    (void)state;
    assert_non_null(c);
    assert_memory_equal(c, w_vals, sizeof w_vals);
    assert_ptr_not_equal(c, nn_weights_find(ws, "enc.w")->data);
    d = malloc(6 * sizeof *d);
    assert_non_null(d);
    for (i = 0; i < 6; i++)
        d[i] = 2.0f * c[i];
    free(c);
    a = nn_weight_adopt(ws, d, 6);
    assert_non_null(a);
    {
        /* a weight computed by a kernel at load */
        float *p = nn_weight_alloc(ws, 6), back[6];
        assert_non_null(p);
        assert_int_equal(nn_scale(nn_weights_ctx(ws), a, 0.5f, p, 6), SAMSEP_OK);
        assert_int_equal(nn_download(g_k, back, p, sizeof back), SAMSEP_OK);
        assert_memory_equal(back, w_vals, sizeof w_vals);
    }
    n = nn_weight(ws, "enc.layers.1.n", NN_DIMS(4), NN_F32);
    assert_non_null(n);
    nn_weights_trim(ws);
    /* the copied tensor's pages may be gone: everything still reads */
    for (i = 0; i < 6; i++)
        assert_true(a[i] == 2.0f * w_vals[i]);
    assert_memory_equal(n, n_vals, sizeof n_vals);
    assert_memory_equal(nn_weights_find(ws, "enc.w")->data, w_vals, sizeof w_vals);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_OK);
    nn_weights_close(ws);
}

static void test_bad_args(void **state)
{
    nn_weights *ws = NULL;
    char err[512] = "";
    char *missing = tu_path(g_dir, "nope.safetensors");

    (void)state;
    assert_int_equal(nn_weights_open(NULL, g_k, &ws, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(nn_weights_open(g_path, g_k, NULL, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(nn_weights_open(g_path, NULL, &ws, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_not_equal(nn_weights_open(missing, g_k, &ws, err, sizeof err), SAMSEP_OK);
    assert_null(ws);
    assert_non_null(strstr(err, "nope.safetensors"));
    assert_int_equal(nn_weights_wrap(NULL, "x", g_k, &ws, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(nn_weights_status(NULL, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_null(nn_weight(NULL, "enc.w", NN_DIMS(2, 3), NN_F32));
    assert_null(nn_weights_find(NULL, "enc.w"));
    nn_weights_close(NULL);
    free(missing);
}

static int setup(void **state)
{
    char *p;

    (void)state;
    g_dir = tu_mkdtemp();
    if (g_dir == NULL || nn_ctx_create(NULL, &g_k, NULL, 0) != SAMSEP_OK)
        return -1;
    p = tu_path(g_dir, "w.safetensors");
    snprintf(g_path, sizeof g_path, "%s", p);
    free(p);
    write_file(g_path);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(g_dir);
    free(g_dir);
    nn_ctx_destroy(g_k);
    return 0;
}

/* Matrices in bf16: float32 tensors rounded once (to nearest even), a bf16
 * tensor used in place, derived matrices kept in the same precision; at
 * fp32 the same calls hand out float32. */
static void test_bf16_matrices(void **state)
{
    nn_weights *ws;
    nn_w w, b, d;
    float *host = malloc(2 * sizeof *host);
    char err[512] = "";
    int i;

    (void)state;
    assert_int_equal(nn_ctx_precision(g_k), NN_PRECISION_F32);
    ws = open_ws();
    w = nn_wmat(ws, NN_DIMS(2, 3), "enc.%s", "w");
    assert_false(w.bf16);
    assert_ptr_equal(w.data, nn_weights_find(ws, "enc.w")->data);
    nn_weights_close(ws);
    nn_ctx_set_precision(g_k, NN_PRECISION_BF16);
    ws = open_ws();
    assert_int_equal(nn_weights_precision(ws), NN_PRECISION_BF16);
    w = nn_wmat(ws, NN_DIMS(2, 3), "enc.w");
    assert_true(w.bf16);
    for (i = 0; i < 6; i++)
        assert_int_equal(((const uint16_t *)w.data)[i], nn_bf16_from_f32(w_vals[i]));
    b = nn_wmat(ws, NN_DIMS(1), "enc.b");
    assert_ptr_equal(b.data, nn_weights_find(ws, "enc.b")->data); /* in place */
    host[0] = 1.0f + 1.0f / 512.0f;                               /* rounds to 1 */
    host[1] = -3.0f;
    d = nn_wmat_adopt(ws, host, 2);
    assert_true(d.bf16);
    assert_int_equal(((const uint16_t *)d.data)[0], 0x3f80);
    assert_int_equal(((const uint16_t *)d.data)[1], 0xc040);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_OK);
    /* a missing matrix is recorded like any weight */
    assert_null(nn_wmat(ws, NN_DIMS(2), "enc.none").data);
    assert_int_equal(nn_weights_status(ws, err, sizeof err), SAMSEP_ERR_FORMAT);
    nn_weights_close(ws);
    nn_ctx_set_precision(g_k, NN_PRECISION_F32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_place_and_converted),
        cmocka_unit_test(test_errors_are_kept),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_host_adopt_trim),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_bf16_matrices),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
