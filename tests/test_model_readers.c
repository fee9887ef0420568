/*
 * test_model_readers.c - the model-file readers (src/nn/io/: zip, pickle,
 * PyTorch checkpoint, safetensors, npy) against the reference files and
 * against files built here byte by byte.
 *
 * The reference part ($SAMSEP_SAMREF, skipped when unset) proves the two
 * formats agree bit for bit on the same state_dict, that the key listing
 * written independently by the reference generator matches, and that the
 * codec/ and dit/ checkpoints are exact subsets of full/. The built part
 * writes small torch-style archives (a hand-assembled pickle in a zip, also
 * in ZIP64 form and with misaligned data) and safetensors files, checks the
 * float16/bfloat16 paths and then breaks them in every way a hostile or
 * damaged file could: each must give an error with a useful message, never
 * a crash (the suite runs under ASan/UBSan in CI).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "npy.h"
#include "nn/io/tensorfile.h"
#include "nn/io/tensors.h"
#include "samsep.h"
#include "testutil.h"

static const char *samref;
static char *tmpdir;
static char err[1024];

/* ---- small helpers ----------------------------------------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;

        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put8(bytes *b, unsigned v)
{
    uint8_t c = (uint8_t)v;

    put(b, &c, 1);
}

static void put16(bytes *b, unsigned v)
{
    put8(b, v & 0xFF);
    put8(b, (v >> 8) & 0xFF);
}

static void put32(bytes *b, uint32_t v)
{
    put16(b, v & 0xFFFF);
    put16(b, v >> 16);
}

static void put64(bytes *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void set32(bytes *b, size_t at, uint32_t v)
{
    b->p[at] = v & 0xFF;
    b->p[at + 1] = (v >> 8) & 0xFF;
    b->p[at + 2] = (v >> 16) & 0xFF;
    b->p[at + 3] = (uint8_t)(v >> 24);
}

static uint8_t *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *d;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    d = malloc((size_t)n + 1);
    assert_non_null(d);
    assert_int_equal(fread(d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return d;
}

static void write_whole(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *ref(const char *rel)
{
    static char path[8][4096];
    static int k;

    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", samref, rel);
    return path[k];
}

static char *tmp(const char *name)
{
    static char path[4][4096];
    static int k;

    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

#define NEED_SAMREF()         \
    do {                      \
        if (samref == NULL) { \
            skip();           \
        }                     \
    } while (0)

static nn_tensor_file *open_ok(const char *path)
{
    nn_tensor_file *tf = NULL;
    int rc = nn_tensor_file_open(path, &tf, err, sizeof err);

    if (rc != 0)
        fail_msg("%s", err);
    return tf;
}

/* Open bytes in memory; touch every tensor when it succeeds. */
static int open_mem(const bytes *b, nn_tensor_file **out)
{
    nn_tensor_file *tf = NULL;
    int rc, i;

    err[0] = '\0';
    rc = nn_tensor_file_open_memory(b->p, b->n, "mem", &tf, err, sizeof err);
    if (rc != 0) {
        assert_true(rc < 0);
        assert_null(tf);
        assert_true(err[0] != '\0');
        return rc;
    }
    for (i = 0; i < nn_tensor_file_count(tf); i++) {
        const nn_tensor *t = nn_tensor_file_at(tf, i);
        float *f = malloc((size_t)(t->numel > 0 ? t->numel : 1) * sizeof *f);

        assert_non_null(f);
        nn_tensor_to_f32(t, f);
        free(f);
        assert_ptr_equal(nn_tensor_file_find(tf, t->name), t);
    }
    if (out != NULL)
        *out = tf;
    else
        nn_tensor_file_close(tf);
    return 0;
}

static void expect_error(const bytes *b, const char *needle)
{
    int rc = open_mem(b, NULL);

    if (rc == 0)
        fail_msg("expected an error containing '%s'", needle ? needle : "");
    if (needle != NULL && strstr(err, needle) == NULL)
        fail_msg("error '%s' does not contain '%s'", err, needle);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

/* ---- a zip writer (stored entries), optionally ZIP64 and misaligned ---- */

typedef struct zentry {
    const char *name;
    const uint8_t *data;
    size_t len;
    unsigned method;
} zentry;

enum { Z_ALIGN = 1, Z_ZIP64 = 2, Z_ODD = 4 };

static void zip_build(bytes *out, const zentry *e, int n, int flags)
{
    size_t *offs = calloc((size_t)n, sizeof *offs), cd_start;
    int i, zip64 = (flags & Z_ZIP64) != 0;

    assert_non_null(offs);
    out->n = 0;
    for (i = 0; i < n; i++) {
        size_t nlen = strlen(e[i].name), z64 = zip64 ? 20 : 0, pad = 0, xlen;
        size_t at = out->n + 30 + nlen + z64 + 4; /* data, after a 4-byte extra */

        offs[i] = out->n;
        if (flags & Z_ALIGN)
            pad = (64 - at % 64) % 64;
        else if (flags & Z_ODD)
            pad = at % 2 == 0; /* every data offset odd */
        xlen = z64 + (flags & (Z_ALIGN | Z_ODD) ? 4 + pad : 0);
        put32(out, 0x04034b50);
        put16(out, zip64 ? 45 : 20);
        put16(out, 0);
        put16(out, e[i].method);
        put16(out, 0);
        put16(out, 0);
        put32(out, crc32_of(e[i].data, e[i].len));
        put32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len);
        put32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len);
        put16(out, (unsigned)nlen);
        put16(out, (unsigned)xlen);
        put(out, e[i].name, nlen);
        if (zip64) {
            put16(out, 1);
            put16(out, 16);
            put64(out, e[i].len);
            put64(out, e[i].len);
        }
        if (flags & (Z_ALIGN | Z_ODD)) {
            size_t k;

            put16(out, 0x4246); /* "FB", the padding field torch writes */
            put16(out, (unsigned)pad);
            for (k = 0; k < pad; k++)
                put8(out, 'Z');
        }
        put(out, e[i].data, e[i].len);
    }
    cd_start = out->n;
    for (i = 0; i < n; i++) {
        size_t nlen = strlen(e[i].name);

        put32(out, 0x02014b50);
        put16(out, zip64 ? 45 : 20);
        put16(out, zip64 ? 45 : 20);
        put16(out, 0);
        put16(out, e[i].method);
        put16(out, 0);
        put16(out, 0);
        put32(out, crc32_of(e[i].data, e[i].len));
        put32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len);
        put32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].len);
        put16(out, (unsigned)nlen);
        put16(out, zip64 ? 28 : 0);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0);
        put32(out, 0);
        put32(out, zip64 ? 0xFFFFFFFFu : (uint32_t)offs[i]);
        put(out, e[i].name, nlen);
        if (zip64) {
            put16(out, 1);
            put16(out, 24);
            put64(out, e[i].len);
            put64(out, e[i].len);
            put64(out, offs[i]);
        }
    }
    if (zip64) {
        size_t rec = out->n;

        put32(out, 0x06064b50);
        put64(out, 44);
        put16(out, 45);
        put16(out, 45);
        put32(out, 0);
        put32(out, 0);
        put64(out, (uint64_t)n);
        put64(out, (uint64_t)n);
        put64(out, rec - cd_start);
        put64(out, cd_start);
        put32(out, 0x07064b50);
        put32(out, 0);
        put64(out, rec);
        put32(out, 1);
        put32(out, 0x06054b50);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0xFFFF);
        put16(out, 0xFFFF);
        put32(out, 0xFFFFFFFFu);
        put32(out, 0xFFFFFFFFu);
        put16(out, 0);
    } else {
        size_t cd_size = out->n - cd_start;

        put32(out, 0x06054b50);
        put16(out, 0);
        put16(out, 0);
        put16(out, (unsigned)n);
        put16(out, (unsigned)n);
        put32(out, (uint32_t)cd_size);
        put32(out, (uint32_t)cd_start);
        put16(out, 0);
    }
    free(offs);
}

/* ---- a pickle writer: the opcodes torch.save emits ------------------- */

static void pk_str(bytes *b, const char *s)
{
    put8(b, 'X');
    put32(b, (uint32_t)strlen(s));
    put(b, s, strlen(s));
}

static void pk_int(bytes *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        put8(b, 'K');
        put8(b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        put8(b, 'M');
        put16(b, (unsigned)v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        put8(b, 'J');
        put32(b, (uint32_t)v);
    } else {
        put8(b, 0x8a);
        put8(b, 8);
        put64(b, (uint64_t)v);
    }
}

static void pk_global(bytes *b, const char *mod, const char *name)
{
    put8(b, 'c');
    put(b, mod, strlen(mod));
    put8(b, '\n');
    put(b, name, strlen(name));
    put8(b, '\n');
}

typedef struct ptensor {
    const char *name, *storage_type, *key;
    int64_t storage_numel, offset;
    int ndim;
    int64_t shape[8], stride[8];
} ptensor;

/* One `name: _rebuild_tensor_v2(...)` pair; memo slot 0 is OrderedDict. */
static void pk_tensor(bytes *b, const ptensor *t)
{
    int d;

    pk_str(b, t->name);
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    put8(b, '(');
    put8(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", t->storage_type);
    pk_str(b, t->key);
    pk_str(b, "cpu");
    pk_int(b, t->storage_numel);
    put8(b, 't');
    put8(b, 'Q');
    pk_int(b, t->offset);
    put8(b, '(');
    for (d = 0; d < t->ndim; d++)
        pk_int(b, t->shape[d]);
    put8(b, 't');
    put8(b, '(');
    for (d = 0; d < t->ndim; d++)
        pk_int(b, t->stride[d]);
    put8(b, 't');
    put8(b, 0x89);
    put8(b, 'h');
    put8(b, 0);
    put8(b, ')');
    put8(b, 'R');
    put8(b, 't');
    put8(b, 'R');
}

static void pk_state_dict(bytes *b, const ptensor *t, int n)
{
    int i;

    b->n = 0;
    put8(b, 0x80);
    put8(b, 2);
    pk_global(b, "collections", "OrderedDict");
    put8(b, 'q');
    put8(b, 0);
    put8(b, ')');
    put8(b, 'R');
    put8(b, '(');
    for (i = 0; i < n; i++)
        pk_tensor(b, &t[i]);
    put8(b, 'u');
    /* The _metadata attribute, as torch writes it. */
    put8(b, '}');
    pk_str(b, "_metadata");
    put8(b, 'h');
    put8(b, 0);
    put8(b, ')');
    put8(b, 'R');
    pk_str(b, "");
    put8(b, '}');
    pk_str(b, "version");
    pk_int(b, 1);
    put8(b, 's');
    put8(b, 's');
    put8(b, 's');
    put8(b, 'b');
    put8(b, '.');
}

/* The storages of the built checkpoint: F16 "0", BF16 "1", F32 "2". */
static const uint16_t st_half[4] = { 0x3C00, 0xC000, 0x0001, 0x7BFF };
static const uint16_t st_bf16[3] = { 0x3F80, 0x4049, 0xFF80 };
static const float st_f32[6] = { 0.5f, -1.25f, 3.0f, 4.5f, 1e-3f, -7.0f };

static const ptensor good_tensors[] = {
    { "h", "HalfStorage", "0", 4, 0, 2, { 2, 2 }, { 2, 1 } },
    { "b", "BFloat16Storage", "1", 3, 0, 1, { 3 }, { 1 } },
    { "f", "FloatStorage", "2", 6, 2, 2, { 2, 2 }, { 2, 1 } },
    /* size-1 dims may carry any stride and still be contiguous */
    { "g", "FloatStorage", "2", 6, 1, 3, { 1, 3, 1 }, { 99, 1, 7 } },
    { "s", "FloatStorage", "2", 6, 5, 0, { 0 }, { 0 } },
    { "e", "FloatStorage", "2", 6, 6, 2, { 0, 4 }, { 4, 1 } },
};
#define N_GOOD ((int)(sizeof good_tensors / sizeof good_tensors[0]))

static void build_ckpt(bytes *out, const bytes *pkl, int flags)
{
    uint8_t half[8], bf[6], f32[24];
    zentry e[5];

    memcpy(half, st_half, sizeof half);
    memcpy(bf, st_bf16, sizeof bf);
    memcpy(f32, st_f32, sizeof f32);
    e[0] = (zentry){ "archive/data.pkl", pkl->p, pkl->n, 0 };
    e[1] = (zentry){ "archive/data/0", half, sizeof half, 0 };
    e[2] = (zentry){ "archive/data/1", bf, sizeof bf, 0 };
    e[3] = (zentry){ "archive/data/2", f32, sizeof f32, 0 };
    e[4] = (zentry){ "archive/version", (const uint8_t *)"3\n", 2, 0 };
    zip_build(out, e, 5, flags);
}

static void check_good_ckpt(nn_tensor_file *tf)
{
    const nn_tensor *t;
    float f[8];

    assert_string_equal(nn_tensor_file_kind(tf), "pytorch");
    assert_int_equal(nn_tensor_file_count(tf), N_GOOD);
    t = nn_tensor_file_find(tf, "h");
    assert_non_null(t);
    assert_int_equal(t->dtype, NN_F16);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->numel, 4);
    nn_tensor_to_f32(t, f);
    assert_true(f[0] == 1.0f && f[1] == -2.0f && f[2] == ldexpf(1.0f, -24) &&
                f[3] == 65504.0f);
    t = nn_tensor_file_find(tf, "b");
    assert_int_equal(t->dtype, NN_BF16);
    nn_tensor_to_f32(t, f);
    assert_true(f[0] == 1.0f && f[1] == 3.140625f && isinf(f[2]) && f[2] < 0);
    t = nn_tensor_file_find(tf, "f");
    assert_int_equal(t->dtype, NN_F32);
    assert_int_equal((uintptr_t)t->data % 4, 0);
    nn_tensor_to_f32(t, f);
    assert_memory_equal(f, st_f32 + 2, 4 * sizeof(float));
    t = nn_tensor_file_find(tf, "g");
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->numel, 3);
    nn_tensor_to_f32(t, f);
    assert_memory_equal(f, st_f32 + 1, 3 * sizeof(float));
    t = nn_tensor_file_find(tf, "s"); /* a scalar */
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    nn_tensor_to_f32(t, f);
    assert_true(f[0] == -7.0f);
    t = nn_tensor_file_find(tf, "e");
    assert_int_equal(t->numel, 0);
    assert_null(nn_tensor_file_find(tf, "nope"));
    assert_null(nn_tensor_file_at(tf, -1));
    assert_null(nn_tensor_file_at(tf, N_GOOD));
}

/* ---- reference files --------------------------------------------------- */

static void assert_same_tensor(const nn_tensor *a, const nn_tensor *b)
{
    int d;

    assert_string_equal(a->name, b->name);
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->ndim, b->ndim);
    for (d = 0; d < a->ndim; d++)
        assert_int_equal(a->shape[d], b->shape[d]);
    assert_int_equal(a->numel, b->numel);
    if (memcmp(a->data, b->data, (size_t)a->numel * nn_dtype_size(a->dtype)) != 0)
        fail_msg("tensor '%s' differs between the files", a->name);
}

static void test_pt_equals_safetensors(void **state)
{
    nn_tensor_file *pt, *st;
    int i;

    (void)state;
    NEED_SAMREF();
    pt = open_ok(ref("full/checkpoint.pt"));
    st = open_ok(ref("full/checkpoint.safetensors"));
    assert_string_equal(nn_tensor_file_kind(pt), "pytorch");
    assert_string_equal(nn_tensor_file_kind(st), "safetensors");
    assert_int_equal(nn_tensor_file_count(pt), 384);
    assert_int_equal(nn_tensor_file_count(pt), nn_tensor_file_count(st));
    for (i = 0; i < nn_tensor_file_count(pt); i++) {
        const nn_tensor *a = nn_tensor_file_at(pt, i);
        const nn_tensor *b = nn_tensor_file_find(st, a->name);

        if (b == NULL)
            fail_msg("'%s' is not in the safetensors file", a->name);
        assert_int_equal(a->dtype, NN_F32);
        /* torch pads entries to 64 bytes: mapped, not copied. */
        assert_int_equal((uintptr_t)a->data % 64, 0);
        assert_same_tensor(a, b);
    }
    nn_tensor_file_close(pt);
    nn_tensor_file_close(st);
}

static void test_keys_tsv(void **state)
{
    nn_tensor_file *pt;
    char line[1024];
    FILE *f;
    int n = 0;

    (void)state;
    NEED_SAMREF();
    pt = open_ok(ref("full/checkpoint.pt"));
    f = fopen(ref("full/checkpoint_keys.tsv"), "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f)); /* header */
    assert_non_null(strstr(line, "key"));
    while (fgets(line, sizeof line, f) != NULL) {
        char *tab = strchr(line, '\t'), *p;
        const nn_tensor *t;
        int d = 0;

        assert_non_null(tab);
        *tab = '\0';
        t = nn_tensor_file_find(pt, line);
        if (t == NULL)
            fail_msg("'%s' from checkpoint_keys.tsv is missing", line);
        p = tab + 1;
        assert_int_equal(*p, '[');
        p++;
        while (*p != ']') {
            char *end;
            long v = strtol(p, &end, 10);

            assert_true(end > p);
            assert_true(d < t->ndim);
            assert_int_equal(v, t->shape[d]);
            d++;
            p = end;
            while (*p == ',' || *p == ' ')
                p++;
        }
        assert_int_equal(d, t->ndim);
        n++;
    }
    fclose(f);
    assert_int_equal(n, nn_tensor_file_count(pt));
    nn_tensor_file_close(pt);
}

static void check_subset(const char *rel, int expect_count, const char *prefix)
{
    nn_tensor_file *full = open_ok(ref("full/checkpoint.pt"));
    nn_tensor_file *sub = open_ok(ref(rel));
    int i;

    assert_int_equal(nn_tensor_file_count(sub), expect_count);
    for (i = 0; i < nn_tensor_file_count(sub); i++) {
        const nn_tensor *a = nn_tensor_file_at(sub, i);
        const nn_tensor *b = nn_tensor_file_find(full, a->name);

        if (b == NULL)
            fail_msg("%s: '%s' is not in full/", rel, a->name);
        if (prefix != NULL)
            assert_int_equal(strncmp(a->name, prefix, strlen(prefix)), 0);
        assert_same_tensor(a, b);
    }
    nn_tensor_file_close(sub);
    nn_tensor_file_close(full);
}

static void test_subsets(void **state)
{
    (void)state;
    NEED_SAMREF();
    check_subset("codec/checkpoint.pt", 317, "audio_codec.");
    check_subset("dit/checkpoint.pt", 67, NULL);
}

static void test_t5_loads(void **state)
{
    nn_tensor_file *tf;
    const nn_tensor *t;
    float *f;

    (void)state;
    NEED_SAMREF();
    tf = open_ok(ref("t5/model.safetensors"));
    assert_string_equal(nn_tensor_file_kind(tf), "safetensors");
    assert_int_equal(nn_tensor_file_count(tf), 19);
    t = nn_tensor_file_find(tf, "shared.weight");
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 800);
    assert_int_equal(t->shape[1], 32);
    f = malloc((size_t)t->numel * sizeof *f);
    assert_non_null(f);
    nn_tensor_to_f32(t, f);
    assert_memory_equal(f, t->data, (size_t)t->numel * sizeof *f);
    free(f);
    assert_non_null(nn_tensor_file_find(tf, "encoder.final_layer_norm.weight"));
    nn_tensor_file_close(tf);
}

/* Every prefix of a real file is an error: the zip directory and the
 * safetensors data both reach the last byte. */
static void truncations(const char *rel, size_t dense)
{
    size_t len, n;
    uint8_t *d = read_whole(ref(rel), &len);
    bytes b = { 0 };

    for (n = 0; n < len; n += n < dense || len - n < dense ? 1 : 997) {
        b.p = d;
        b.n = n;
        b.cap = len;
        if (open_mem(&b, NULL) == 0)
            fail_msg("%s cut to %zu bytes opened", rel, n);
    }
    b.n = len;
    assert_int_equal(open_mem(&b, NULL), 0);
    free(d);
}

static void test_truncated_reference_files(void **state)
{
    static const size_t cuts[] = { 0, 1, 7, 8, 9, 100, 4096, 70000 };
    size_t len, k;
    uint8_t *d;

    (void)state;
    NEED_SAMREF();
    truncations("t5/model.safetensors", 2200);
    truncations("dit/checkpoint.pt", 2000);
    /* and a few through the file path, mmap included */
    d = read_whole(ref("dit/checkpoint.pt"), &len);
    for (k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        nn_tensor_file *tf = NULL;

        write_whole(tmp("cut.pt"), d, cuts[k]);
        assert_true(nn_tensor_file_open(tmp("cut.pt"), &tf, err, sizeof err) < 0);
        assert_null(tf);
        assert_non_null(strstr(err, "cut.pt"));
    }
    free(d);
}

/* Flip bytes of a real file: never a crash, usually an error. */
static void flips(const char *rel, size_t upto, size_t step)
{
    size_t len, i;
    uint8_t *d = read_whole(ref(rel), &len);
    bytes b = { d, len, len };
    int opened = 0;

    for (i = 0; i < len && i < upto; i += step) {
        static const uint8_t masks[] = { 0x01, 0x80, 0xFF, 0x20 };
        size_t m;

        for (m = 0; m < sizeof masks; m++) {
            d[i] ^= masks[m];
            opened += open_mem(&b, NULL) == 0;
            d[i] ^= masks[m];
        }
    }
    /* Flips in names or padding may still give a readable file. */
    (void)opened;
    free(d);
}

static void test_flipped_reference_files(void **state)
{
    size_t len;
    uint8_t *d;

    (void)state;
    NEED_SAMREF();
    flips("t5/model.safetensors", 2200, 1);
    flips("dit/checkpoint.pt", 4000, 3);
    /* the central directory at the end of the zip */
    d = read_whole(ref("dit/checkpoint.pt"), &len);
    {
        bytes b = { d, len, len };
        size_t i;

        for (i = len - 69 * 80; i < len; i++) {
            d[i] ^= 0xA5;
            open_mem(&b, NULL);
            d[i] ^= 0xA5;
        }
    }
    free(d);
}

/* ---- built checkpoints ------------------------------------------------- */

static void test_built_checkpoint(void **state)
{
    static const int variants[] = { Z_ALIGN, 0, Z_ZIP64 | Z_ALIGN, Z_ZIP64, Z_ODD };
    bytes pkl = { 0 }, z = { 0 };
    size_t k;

    (void)state;
    pk_state_dict(&pkl, good_tensors, N_GOOD);
    for (k = 0; k < sizeof variants / sizeof variants[0]; k++) {
        nn_tensor_file *tf = NULL;

        build_ckpt(&z, &pkl, variants[k]);
        if (open_mem(&z, &tf) != 0)
            fail_msg("variant %zu: %s", k, err);
        check_good_ckpt(tf);
        nn_tensor_file_close(tf);
    }
    /* and through a real file */
    build_ckpt(&z, &pkl, Z_ALIGN);
    write_whole(tmp("good.pt"), z.p, z.n);
    {
        nn_tensor_file *tf = open_ok(tmp("good.pt"));

        check_good_ckpt(tf);
        nn_tensor_file_close(tf);
    }
    free(pkl.p);
    free(z.p);
}

/* A built checkpoint whose only change is tensor t[0]. */
static void expect_tensor_error(const ptensor *t0, const char *needle)
{
    ptensor t[N_GOOD];
    bytes pkl = { 0 }, z = { 0 };

    memcpy(t, good_tensors, sizeof t);
    t[0] = *t0;
    pk_state_dict(&pkl, t, N_GOOD);
    build_ckpt(&z, &pkl, Z_ALIGN);
    expect_error(&z, needle);
    free(pkl.p);
    free(z.p);
}

static void test_bad_tensors(void **state)
{
    static const ptensor bad[] = {
        { "nc", "FloatStorage", "2", 6, 0, 2, { 2, 3 }, { 1, 2 } },
        { "big", "FloatStorage", "2", 6, 3, 2, { 2, 2 }, { 2, 1 } },
        { "neg", "FloatStorage", "2", 6, -1, 1, { 2 }, { 1 } },
        { "negsize", "FloatStorage", "2", 6, 0, 1, { -2 }, { 1 } },
        { "nokey", "FloatStorage", "9", 6, 0, 1, { 2 }, { 1 } },
        { "wrongnumel", "FloatStorage", "2", 7, 0, 1, { 2 }, { 1 } },
        { "wrongtype", "HalfStorage", "2", 6, 0, 1, { 2 }, { 1 } },
        { "long", "LongStorage", "2", 3, 0, 1, { 2 }, { 1 } },
        { "huge",
          "FloatStorage",
          "2",
          6,
          0,
          2,
          { INT64_C(1) << 40, INT64_C(1) << 40 },
          { 1, 1 } },
        { "", "FloatStorage", "2", 6, 0, 1, { 2 }, { 1 } },
    };
    static const char *const needles[] = {
        "'nc' is not contiguous",
        "'big'",
        "'neg'",
        "negative",
        "'nokey'",
        "'wrongnumel'",
        "'wrongtype'",
        "torch.LongStorage",
        "too many elements",
        "empty name",
    };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++)
        expect_tensor_error(&bad[k], needles[k]);
}

/* A pickle program, wrapped into an otherwise good archive. */
static void expect_pickle_error(const bytes *pkl, const char *needle)
{
    bytes z = { 0 };

    build_ckpt(&z, pkl, Z_ALIGN);
    expect_error(&z, needle);
    free(z.p);
}

static void test_bad_pickles(void **state)
{
    bytes p = { 0 }, good = { 0 };
    size_t n, i;
    int k;

    (void)state;
    /* os.system: the classic; named in the message, never looked up */
    p.n = 0;
    put8(&p, 0x80);
    put8(&p, 2);
    pk_global(&p, "os", "system");
    pk_str(&p, "echo pwned");
    put8(&p, 0x85);
    put8(&p, 'R');
    put8(&p, '.');
    expect_pickle_error(&p, "os.system");
    /* builtins.eval through a tensor-looking REDUCE */
    p.n = 0;
    put8(&p, 0x80);
    put8(&p, 2);
    pk_global(&p, "builtins", "eval");
    expect_pickle_error(&p, "builtins.eval");
    /* a global with control bytes is printed safely */
    p.n = 0;
    pk_global(&p, "os\x1b[2J", "sys");
    expect_pickle_error(&p, "os?[2J.sys");
    /* protocol-0 INST, PICKLE's own code paths we never implement */
    p.n = 0;
    put8(&p, 'i');
    put(&p, "os\nsystem\n", 10);
    expect_pickle_error(&p, "opcode 0x69");
    /* marks nested too deeply */
    p.n = 0;
    for (k = 0; k < 200; k++)
        put8(&p, '(');
    expect_pickle_error(&p, "nested");
    /* memo slot never stored; memo index beyond the program */
    p.n = 0;
    put8(&p, 'h');
    put8(&p, 3);
    expect_pickle_error(&p, "memo");
    p.n = 0;
    put8(&p, '}');
    put8(&p, 'r');
    put32(&p, 0xFFFFFFF0u);
    expect_pickle_error(&p, "memo index");
    /* STOP leaving two values; bytes after STOP; no STOP */
    p.n = 0;
    put8(&p, '}');
    put8(&p, '}');
    put8(&p, '.');
    expect_pickle_error(&p, "exactly one");
    p.n = 0;
    put8(&p, '}');
    put8(&p, '.');
    put8(&p, 'N');
    expect_pickle_error(&p, "after STOP");
    p.n = 0;
    put8(&p, '}');
    expect_pickle_error(&p, "without STOP");
    /* not a dict; a dict of non-tensors */
    p.n = 0;
    put8(&p, ']');
    put8(&p, '.');
    expect_pickle_error(&p, "not a dict");
    p.n = 0;
    put8(&p, '}');
    pk_str(&p, "x");
    pk_int(&p, 5);
    put8(&p, 's');
    put8(&p, '.');
    expect_pickle_error(&p, "not a (name, tensor) pair: x");
    /* LONG1 wider than 64 bits; string length beyond the program */
    p.n = 0;
    put8(&p, 0x8a);
    put8(&p, 9);
    expect_pickle_error(&p, "wider");
    p.n = 0;
    put8(&p, 'X');
    put32(&p, 1000);
    pk_str(&p, "abc");
    expect_pickle_error(&p, "truncated");
    /* a string with a NUL inside */
    p.n = 0;
    put8(&p, 'X');
    put32(&p, 3);
    put(&p, "a\0b", 3);
    expect_pickle_error(&p, "NUL");
    /* REDUCE of a storage class; SETITEMS on a list; APPEND on a dict */
    p.n = 0;
    pk_global(&p, "torch", "FloatStorage");
    put8(&p, ')');
    put8(&p, 'R');
    expect_pickle_error(&p, "storage type");
    p.n = 0;
    put8(&p, ']');
    put8(&p, '(');
    pk_int(&p, 1);
    pk_int(&p, 2);
    put8(&p, 'u');
    expect_pickle_error(&p, "other than a dict");
    p.n = 0;
    put8(&p, '}');
    pk_int(&p, 1);
    put8(&p, 'a');
    expect_pickle_error(&p, "other than a list");
    /* APPEND/APPENDS/BUILD/LONG1/BININT/EMPTY_LIST work where allowed */
    p.n = 0;
    put8(&p, ']');
    put8(&p, '(');
    pk_int(&p, -5);
    pk_int(&p, INT64_C(1) << 40);
    put8(&p, 'e');
    pk_int(&p, 70000);
    put8(&p, 'a');
    put8(&p, '0');
    expect_pickle_error(&p, "opcode 0x30");
    /* a persistent id that is not a storage tuple */
    p.n = 0;
    pk_str(&p, "storage");
    put8(&p, 'Q');
    expect_pickle_error(&p, "persistent id");

    /* Every prefix and many single-byte changes of a good program. */
    pk_state_dict(&good, good_tensors, N_GOOD);
    for (n = 0; n < good.n; n++) {
        bytes cut = { good.p, n, good.n };

        expect_pickle_error(&cut, "pickle");
    }
    for (i = 0; i < good.n; i++) {
        static const uint8_t masks[] = { 0x01, 0x02, 0x10, 0x80, 0xFF };
        size_t m;

        for (m = 0; m < sizeof masks; m++) {
            bytes z = { 0 };

            good.p[i] ^= masks[m];
            build_ckpt(&z, &good, Z_ALIGN);
            open_mem(&z, NULL);
            good.p[i] ^= masks[m];
            free(z.p);
        }
    }
    free(good.p);
    free(p.p);
}

static void test_bad_archives(void **state)
{
    bytes pkl = { 0 }, z = { 0 };
    uint8_t f32[24] = { 0 };
    zentry e[4];
    size_t k;

    (void)state;
    pk_state_dict(&pkl, good_tensors, N_GOOD);

    /* compressed storage entry */
    build_ckpt(&z, &pkl, Z_ALIGN);
    {
        /* method field of the central entry of "archive/data/2" */
        uint8_t *c = z.p + z.n - 22;
        uint32_t cd =
            (uint32_t)(c[16] | (c[17] << 8) | (c[18] << 16) | ((uint32_t)c[19] << 24));
        size_t at = cd;
        int i;

        for (i = 0; i < 3; i++) {
            size_t nl = (size_t)(z.p[at + 28] | (z.p[at + 29] << 8));
            size_t xl = (size_t)(z.p[at + 30] | (z.p[at + 31] << 8));

            at += 46 + nl + xl;
        }
        z.p[at + 10] = 8;
        expect_error(&z, "compressed");
        z.p[at + 10] = 0;
        z.p[at + 8] = 1; /* encrypted */
        expect_error(&z, "encrypted");
    }
    /* damaged pickle bytes are caught by the CRC */
    build_ckpt(&z, &pkl, Z_ALIGN);
    for (k = 0; k + 8 < z.n; k++)
        if (memcmp(z.p + k, "_rebuild", 8) == 0)
            break;
    z.p[k] = 'X';
    expect_error(&z, "CRC");

    /* no pickle; two pickles; duplicate names */
    e[0] = (zentry){ "archive/data/0", f32, sizeof f32, 0 };
    zip_build(&z, e, 1, Z_ALIGN);
    expect_error(&z, "data.pkl");
    e[0] = (zentry){ "a/data.pkl", pkl.p, pkl.n, 0 };
    e[1] = (zentry){ "b/data.pkl", pkl.p, pkl.n, 0 };
    zip_build(&z, e, 2, Z_ALIGN);
    expect_error(&z, "two pickles");
    e[1] = (zentry){ "a/data.pkl", pkl.p, pkl.n, 0 };
    zip_build(&z, e, 2, Z_ALIGN);
    expect_error(&z, "two entries");
    /* big-endian byte order record */
    build_ckpt(&z, &pkl, Z_ALIGN);
    e[0] = (zentry){ "archive/data.pkl", pkl.p, pkl.n, 0 };
    e[1] = (zentry){ "archive/byteorder", (const uint8_t *)"big", 3, 0 };
    zip_build(&z, e, 2, Z_ALIGN);
    expect_error(&z, "little-endian");
    /* a name with a NUL */
    e[0] = (zentry){ "archive/data.pkl", pkl.p, pkl.n, 0 };
    zip_build(&z, e, 1, 0);
    z.p[30 + 3] = 0;
    z.p[z.n - 22 - 16 + 3] = 0;
    expect_error(&z, NULL);
    /* a comment that does not end the file; a truncated directory */
    build_ckpt(&z, &pkl, 0);
    z.p[z.n - 2] = 5;
    expect_error(&z, "end-of-central-directory");
    build_ckpt(&z, &pkl, 0);
    set32(&z, z.n - 22 + 12, 100000);
    expect_error(&z, "central directory");
    build_ckpt(&z, &pkl, 0);
    set32(&z, z.n - 22 + 16, 0xFFFFFFF0u);
    expect_error(&z, NULL);
    /* ZIP64 record pointing anywhere */
    build_ckpt(&z, &pkl, Z_ZIP64);
    for (k = 0; k < 16; k++) {
        bytes c = { 0 };

        put(&c, z.p, z.n);
        set32(&c, c.n - 22 - 20 + 8, (uint32_t)(k * 0x11111111u));
        expect_error(&c, NULL);
        free(c.p);
    }
    /* not a model at all */
    z.n = 0;
    put(&z, "hello, world, this is text", 26);
    expect_error(&z, "neither");
    z.n = 0;
    put(&z, "PK", 2);
    expect_error(&z, "too short");
    free(pkl.p);
    free(z.p);
}

/* ---- safetensors ------------------------------------------------------- */

static void build_st(bytes *out, const char *json, const void *data, size_t n)
{
    out->n = 0;
    put64(out, strlen(json));
    put(out, json, strlen(json));
    put(out, data, n);
}

static void test_built_safetensors(void **state)
{
    /* F16 [1] at 0, F32 [2] at 2 (misaligned: copied), BF16 scalar at 10 */
    static const char *json =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,2]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]},"
        "\"c\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[10,12]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[12,12]}}";
    uint8_t data[12];
    const float bv[2] = { 1.5f, -2.75f };
    const uint16_t av = 0x3555, cv = 0xC2F7;
    bytes b = { 0 };
    nn_tensor_file *tf = NULL;
    const nn_tensor *t;
    float f[2];

    (void)state;
    memcpy(data, &av, 2);
    memcpy(data + 2, bv, 8);
    memcpy(data + 10, &cv, 2);
    build_st(&b, json, data, sizeof data);
    if (open_mem(&b, &tf) != 0)
        fail_msg("%s", err);
    assert_string_equal(nn_tensor_file_kind(tf), "safetensors");
    assert_int_equal(nn_tensor_file_count(tf), 4);
    t = nn_tensor_file_find(tf, "a");
    nn_tensor_to_f32(t, f);
    assert_true(f[0] == 0.333251953125f);
    t = nn_tensor_file_find(tf, "b");
    assert_int_equal((uintptr_t)t->data % 4, 0);
    nn_tensor_to_f32(t, f);
    assert_memory_equal(f, bv, sizeof bv);
    t = nn_tensor_file_find(tf, "c");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    nn_tensor_to_f32(t, f);
    assert_true(f[0] == -123.5f);
    t = nn_tensor_file_find(tf, "z");
    assert_int_equal(t->numel, 0);
    nn_tensor_file_close(tf);
    free(b.p);
}

static void test_bad_safetensors(void **state)
{
    static const struct {
        const char *json, *needle;
    } cases[] = {
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,80]}}", "'w'" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "'w'" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
          "'w': 8 data bytes" },
        { "{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
          "'w' has dtype I64" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.5,8]}}", "'w'" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,8]}}", "'w'" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "shape" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]"
          "}}",
          "shape" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
          "\"data_offsets\":[0,8]}}",
          "too many" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,9]}}", "'w'" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "'w'" },
        { "{\"w\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", "'w'" },
        { "{\"w\":[1,2]}", "'w'" },
        { "{\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
          "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
          "share" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
          "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
          NULL },
        { "{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "empty" },
        { "{\"__metadata__\":5}", "__metadata__" },
        { "[1,2,3]", "neither" },
        { "{\"w\":", "JSON" },
        { "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} trailing",
          "JSON" },
    };
    const float data[2] = { 1, 2 };
    bytes b = { 0 };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        build_st(&b, cases[k].json, data, sizeof data);
        expect_error(&b, cases[k].needle);
    }
    /* header lengths out of range */
    {
        static const uint64_t lens[] = {
            UINT64_C(1) << 63, UINT64_C(200) * 1024 * 1024, 1000, 30, UINT64_MAX,
        };

        for (k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            build_st(&b, "{\"a\":1}", data, sizeof data);
            int j;

            for (j = 0; j < 8; j++)
                b.p[j] = (uint8_t)(lens[k] >> (8 * j));
            expect_error(&b, NULL);
        }
    }
    free(b.p);
}

/* ---- conversions, API, npy --------------------------------------------- */

static float half_ref(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;

    if (e == 31)
        return m ? NAN : (s ? -INFINITY : INFINITY);
    v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(1024 + m), e - 25);
    return s ? -v : v;
}

static void test_conversions(void **state)
{
    static uint16_t all[65536];
    static float out[65536];
    static const struct {
        uint16_t h;
        uint32_t bits;
    } f16[] = {
        { 0x0000, 0x00000000 }, { 0x8000, 0x80000000 }, { 0x3C00, 0x3F800000 },
        { 0xC000, 0xC0000000 }, { 0x7BFF, 0x477FE000 }, { 0x0400, 0x38800000 },
        { 0x0001, 0x33800000 }, { 0x03FF, 0x387FC000 }, { 0x8001, 0xB3800000 },
        { 0x7C00, 0x7F800000 }, { 0xFC00, 0xFF800000 }, { 0x7E00, 0x7FC00000 },
        { 0x7C01, 0x7F802000 }, { 0x3555, 0x3EAAA000 },
    };
    static const struct {
        uint16_t b;
        uint32_t bits;
    } bf16[] = {
        { 0x3F80, 0x3F800000 }, { 0x0001, 0x00010000 }, { 0x8000, 0x80000000 },
        { 0x7F80, 0x7F800000 }, { 0x7FC1, 0x7FC10000 }, { 0x4049, 0x40490000 },
    };
    nn_tensor t;
    size_t k;
    uint32_t bits;
    int i;

    (void)state;
    memset(&t, 0, sizeof t);
    t.ndim = 1;
    t.numel = 1;
    t.dtype = NN_F16;
    for (k = 0; k < sizeof f16 / sizeof f16[0]; k++) {
        t.data = &f16[k].h;
        nn_tensor_to_f32(&t, out);
        memcpy(&bits, out, 4);
        assert_int_equal(bits, f16[k].bits);
    }
    t.dtype = NN_BF16;
    for (k = 0; k < sizeof bf16 / sizeof bf16[0]; k++) {
        t.data = &bf16[k].b;
        nn_tensor_to_f32(&t, out);
        memcpy(&bits, out, 4);
        assert_int_equal(bits, bf16[k].bits);
    }
    /* every half against ldexp */
    for (i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    t.dtype = NN_F16;
    t.data = all;
    t.numel = 65536;
    nn_tensor_to_f32(&t, out);
    for (i = 0; i < 65536; i++) {
        float r = half_ref((uint16_t)i);

        if (isnan(r))
            assert_true(isnan(out[i]));
        else if (out[i] != r || signbit(out[i]) != signbit(r))
            fail_msg("half 0x%04x: %g, expected %g", i, (double)out[i], (double)r);
    }
    /* every bfloat16 is the top half of its float */
    t.dtype = NN_BF16;
    nn_tensor_to_f32(&t, out);
    for (i = 0; i < 65536; i++) {
        memcpy(&bits, &out[i], 4);
        assert_int_equal(bits, (uint32_t)i << 16);
    }
    assert_int_equal(nn_dtype_size(NN_F32), 4);
    assert_int_equal(nn_dtype_size(NN_F16), 2);
    assert_int_equal(nn_dtype_size(NN_BF16), 2);
    assert_string_equal(nn_dtype_name(NN_F32), "F32");
    assert_string_equal(nn_dtype_name(NN_F16), "F16");
    assert_string_equal(nn_dtype_name(NN_BF16), "BF16");
}

static void test_open_errors(void **state)
{
    nn_tensor_file *tf = (nn_tensor_file *)&tf;

    (void)state;
    assert_int_equal(nn_tensor_file_open("/nonexistent/model.pt", &tf, err, sizeof err),
                     SAMSEP_ERR_IO);
    assert_null(tf);
    assert_non_null(strstr(err, "/nonexistent/model.pt"));
    assert_int_equal(nn_tensor_file_open(tmpdir, &tf, err, sizeof err), SAMSEP_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    write_whole(tmp("empty.pt"), "", 0);
    assert_int_equal(nn_tensor_file_open(tmp("empty.pt"), &tf, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "empty.pt"));
    /* a tiny error buffer is truncated, not overrun */
    {
        char small[8];

        memset(small, 'x', sizeof small);
        assert_true(nn_tensor_file_open("/nonexistent/x", &tf, small, 4) < 0);
        assert_int_equal(small[3], '\0');
        assert_int_equal(small[4], 'x');
        assert_true(nn_tensor_file_open("/nonexistent/x", &tf, NULL, 0) < 0);
    }
    nn_tensor_file_close(NULL);
}

static void write_npy(const char *path, const char *header, const void *data, size_t n,
                      int version)
{
    bytes b = { 0 };
    size_t hl = strlen(header);

    put(&b, "\x93NUMPY", 6);
    put8(&b, (unsigned)version);
    put8(&b, 0);
    if (version == 1)
        put16(&b, (unsigned)hl);
    else
        put32(&b, (uint32_t)hl);
    put(&b, header, hl);
    put(&b, data, n);
    write_whole(path, b.p, b.n);
    free(b.p);
}

static void test_npy(void **state)
{
    static const float v[6] = { 1, 2, 3, 4, 5, 6 };
    static const struct {
        const char *header;
        size_t bytes;
    } bad[] = {
        { "{'descr': '<f8', 'fortran_order': False, 'shape': (6,), }\n", 24 },
        { "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", 24 },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }\n", 24 },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 20 },
        { "{'descr': '<f4', 'fortran_order': False, }\n", 24 },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,6), }\n",
          24 },
        { "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), "
          "}\n",
          24 },
        { "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,), }\n",
          24 },
        { "['descr']\n", 24 },
    };
    int64_t shape[NPY_MAX_DIMS];
    float *d;
    int ndim;
    size_t k;

    (void)state;
    write_npy(tmp("a.npy"),
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
              "          \n",
              v, sizeof v, 1);
    assert_int_equal(npy_load(tmp("a.npy"), &d, shape, &ndim, err, sizeof err), 0);
    assert_int_equal(ndim, 2);
    assert_int_equal(shape[0], 2);
    assert_int_equal(shape[1], 3);
    assert_memory_equal(d, v, sizeof v);
    free(d);
    write_npy(tmp("b.npy"), "{'shape': (), 'fortran_order': False, 'descr': '<f4'}\n", v,
              4, 2);
    assert_int_equal(npy_load(tmp("b.npy"), &d, shape, &ndim, err, sizeof err), 0);
    assert_int_equal(ndim, 0);
    assert_true(d[0] == 1.0f);
    free(d);
    for (k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_npy(tmp("bad.npy"), bad[k].header, v, bad[k].bytes, 1);
        if (npy_load(tmp("bad.npy"), &d, shape, &ndim, err, sizeof err) == 0)
            fail_msg("bad npy %zu loaded", k);
        assert_null(d);
        assert_non_null(strstr(err, "bad.npy"));
    }
    write_whole(tmp("bad.npy"), "\x93NUMPY\x01", 7);
    assert_true(npy_load(tmp("bad.npy"), &d, shape, &ndim, err, sizeof err) < 0);
    assert_int_equal(npy_load("/nonexistent.npy", &d, shape, &ndim, err, sizeof err),
                     SAMSEP_ERR_IO);
    if (samref != NULL) {
        assert_int_equal(npy_load(ref("t5/bucket_table_rel_m200_p200.npy"), &d, shape,
                                  &ndim, err, sizeof err),
                         0);
        assert_true(ndim >= 1);
        free(d);
    }
}

static int setup(void **state)
{
    (void)state;
    tmpdir = tu_mkdtemp();
    return tmpdir == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rmtree(tmpdir);
    free(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pt_equals_safetensors),
        cmocka_unit_test(test_keys_tsv),
        cmocka_unit_test(test_subsets),
        cmocka_unit_test(test_t5_loads),
        cmocka_unit_test(test_truncated_reference_files),
        cmocka_unit_test(test_flipped_reference_files),
        cmocka_unit_test(test_built_checkpoint),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_bad_pickles),
        cmocka_unit_test(test_bad_archives),
        cmocka_unit_test(test_built_safetensors),
        cmocka_unit_test(test_bad_safetensors),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_npy),
    };
    struct stat st;

    samref = getenv("SAMSEP_SAMREF");
    if (samref != NULL && (stat(samref, &st) != 0 || !S_ISDIR(st.st_mode)))
        samref = NULL;
    return cmocka_run_group_tests(tests, setup, teardown);
}
