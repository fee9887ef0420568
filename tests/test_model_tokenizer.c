/*
 * test_model_tokenizer.c - the T5 tokenizer against the reference ids.
 *
 * Every line of $SAMSEP_SAMREF/tokenizer/cases.jsonl and
 * cases_fast_extra.jsonl (ids of HuggingFace's fast t5 tokenizer, the one
 * SAM-Audio uses) must come out exactly, from tokenizer.json and from
 * spiece.model alike, truncated to 512 where the case says so. Then the
 * readers are attacked: the reference files truncated at many lengths and
 * with corrupted bytes, hand-made protobuf and JSON models with one defect
 * each, and API abuse. Malformed input must give an error and a message,
 * never a crash (the suite is meant to run under ASan/UBSan too).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "samsep.h"
#include "engine/sam/text/spm.h"
#include "engine/sam/text/tokenizer.h"

static char g_dir[4096]; /* $SAMSEP_SAMREF/tokenizer */

static char *ref_path(const char *name)
{
    static char buf[4][4200];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", g_dir, name);
    return buf[k];
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

/* ------------------------------------------------------------------ */
/* cases.jsonl                                                         */
/* ------------------------------------------------------------------ */

/* Append the UTF-8 of cp. */
static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t hex4(const char *s)
{
    char h[5] = { s[0], s[1], s[2], s[3], 0 };
    return (uint32_t)strtoul(h, NULL, 16);
}

/*
 * The "text" string of a JSON line, decoded with its length: cJSON's strings
 * end at NUL and one case holds U+0000.
 */
static char *case_text(const char *line, size_t *len)
{
    const char *p = strstr(line, "\"text\":");
    assert_non_null(p);
    p += 7;
    while (*p == ' ')
        p++;
    assert_true(*p == '"');
    p++;
    char *out = malloc(strlen(p) * 4 + 1);
    size_t o = 0;
    while (*p != '"') {
        assert_true(*p != 0);
        if (*p != '\\') {
            out[o++] = *p++;
            continue;
        }
        p++;
        switch (*p) {
        case 'n': out[o++] = '\n'; break;
        case 't': out[o++] = '\t'; break;
        case 'r': out[o++] = '\r'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'u': {
            uint32_t cp = hex4(p + 1);
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && p[1] == '\\' && p[2] == 'u') {
                uint32_t lo = hex4(p + 3);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                p += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = *p; break; /* \" \\ \/ */
        }
        p++;
    }
    out[o] = 0;
    *len = o;
    return out;
}

static int json_ids(const cJSON *arr, int32_t *ids, int cap)
{
    int n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        assert_true(n < cap);
        ids[n++] = (int32_t)v->valuedouble;
    }
    return n;
}

typedef struct case_stats {
    int lines, pass, trunc_checked;
} case_stats;

#define BIG 8192

static void print_ids(const char *what, const int32_t *ids, int n)
{
    char buf[2048];
    size_t o = 0;
    for (int i = 0; i < n && o + 16 < sizeof(buf); i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %d", (int)ids[i]);
    print_message("    %s:%s\n", what, buf);
}

/* Run every line of one case file through tk; count the lines that match. */
static void run_case_file(const t5_tokenizer *tk, const char *file, case_stats *st)
{
    size_t len;
    char *data = (char *)slurp(ref_path(file), &len);
    assert_non_null(data);
    static int32_t want[BIG], got[BIG];
    char err[512];
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        size_t tlen;
        char *text = case_text(line, &tlen);
        const cJSON *full = cJSON_GetObjectItem(j, "ids");
        const cJSON *trunc = cJSON_GetObjectItem(j, "ids_trunc512");
        int ok = 1;

        /* As SAM-Audio calls it: max_length 512. */
        int nw = json_ids(trunc ? trunc : full, want, BIG);
        int ng = t5_tokenizer_encode_len(tk, text, tlen, got, T5_TOKENIZER_MAX_LEN, err,
                                         sizeof(err));
        if (ng != nw || memcmp(got, want, (size_t)nw * sizeof(int32_t)) != 0)
            ok = 0;
        /* Untruncated, where the case is longer than 512. */
        if (trunc) {
            st->trunc_checked++;
            int nf = json_ids(full, want, BIG);
            assert_true(nf > T5_TOKENIZER_MAX_LEN);
            int nb = t5_tokenizer_encode_len(tk, text, tlen, got, BIG, err, sizeof(err));
            if (nb != nf || memcmp(got, want, (size_t)nf * sizeof(int32_t)) != 0)
                ok = 0;
        }
        st->lines++;
        if (ok) {
            st->pass++;
        } else {
            print_message("  MISMATCH %s line %d (%d ids, rc/err: %d %s)\n", file,
                          st->lines, nw, ng, ng < 0 ? err : "");
            print_ids("want", want, nw);
            if (ng > 0)
                print_ids("got ", got, ng);
        }
        free(text);
        cJSON_Delete(j);
    }
    free(data);
}

static void check_all_cases(const char *model_file)
{
    t5_tokenizer *tk = NULL;
    char err[512] = "";
    int rc = t5_tokenizer_open(ref_path(model_file), &tk, err, sizeof(err));
    if (rc != 0)
        fail_msg("open %s: %s", model_file, err);
    case_stats a = { 0, 0, 0 }, b = { 0, 0, 0 };
    run_case_file(tk, "cases.jsonl", &a);
    run_case_file(tk, "cases_fast_extra.jsonl", &b);
    print_message("  %s: cases.jsonl %d/%d, cases_fast_extra.jsonl %d/%d "
                  "(%d truncation cases also checked in full)\n",
                  model_file, a.pass, a.lines, b.pass, b.lines,
                  a.trunc_checked + b.trunc_checked);
    assert_int_equal(a.lines, 236);
    assert_int_equal(b.lines, 37);
    assert_true(a.trunc_checked + b.trunc_checked >= 1);
    assert_int_equal(a.pass, a.lines);
    assert_int_equal(b.pass, b.lines);
    t5_tokenizer_close(tk);
}

static void test_cases_from_tokenizer_json(void **state)
{
    (void)state;
    check_all_cases("tokenizer.json");
}

/*
 * spiece.model holds no <extra_id_N>: they come from the T5 convention
 * (see tokenizer.h), which is what makes it match on every line too.
 */
static void test_cases_from_spiece_model(void **state)
{
    (void)state;
    check_all_cases("spiece.model");
}

/* Both sources give the same id space and the same strings. */
static void test_sources_agree(void **state)
{
    (void)state;
    t5_tokenizer *a = NULL, *b = NULL;
    char err[512];
    assert_int_equal(t5_tokenizer_open(ref_path("tokenizer.json"), &a, err, sizeof(err)),
                     0);
    assert_int_equal(t5_tokenizer_open(ref_path("spiece.model"), &b, err, sizeof(err)),
                     0);
    assert_int_equal(t5_tokenizer_vocab_size(a), 900);
    assert_int_equal(t5_tokenizer_vocab_size(b), 900);
    for (int32_t id = 0; id < 900; id++) {
        assert_non_null(t5_tokenizer_piece(a, id));
        assert_string_equal(t5_tokenizer_piece(a, id), t5_tokenizer_piece(b, id));
    }
    assert_string_equal(t5_tokenizer_piece(a, 1), "</s>");
    assert_string_equal(t5_tokenizer_piece(a, 899), "<extra_id_0>");
    assert_string_equal(t5_tokenizer_piece(a, 800), "<extra_id_99>");
    assert_null(t5_tokenizer_piece(a, 900));
    assert_null(t5_tokenizer_piece(a, -1));

    /* The sentinels are unigram pieces of score 0 too (tokenizer.json's
       vocab holds them; for spiece.model they are appended): a control
       character that normalisation deletes uncovers one. Found by the
       fuzzer's differential mode. */
    int32_t ids[8], want[] = { 4, 895, 1 };
    assert_int_equal(t5_tokenizer_encode(a,
                                         "<extra_id_\x18"
                                         "4>",
                                         ids, 8, err, sizeof(err)),
                     3);
    assert_memory_equal(ids, want, sizeof(want));
    assert_int_equal(t5_tokenizer_encode(b,
                                         "<extra_id_\x18"
                                         "4>",
                                         ids, 8, err, sizeof(err)),
                     3);
    assert_memory_equal(ids, want, sizeof(want));

    /* A long run of mixed text: identical ids from both. */
    size_t n = 200000, o = 0;
    char *text = malloc(n + 64);
    static const char *const words[] = { "dog",          "barking",   "\xef\xac\x81",
                                         "<pad>",        "x\xcc\x81", " ",
                                         "\xe3\x80\x80", "qqq",       "<extra_id_7>",
                                         "\xe2\x84\xa2" };
    unsigned seed = 7;
    while (o < n) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 10];
        memcpy(text + o, w, strlen(w));
        o += strlen(w);
        text[o++] = (seed >> 8) & 1 ? ' ' : 'a';
    }
    text[o] = 0;
    int32_t *ia = malloc(sizeof(int32_t) * 300000),
            *ib = malloc(sizeof(int32_t) * 300000);
    clock_t t0 = clock();
    int na = t5_tokenizer_encode(a, text, ia, 300000, err, sizeof(err));
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    int nb = t5_tokenizer_encode(b, text, ib, 300000, err, sizeof(err));
    print_message("  %zu bytes -> %d ids in %.3f s\n", o, na, secs);
    assert_true(na > 1000);
    assert_int_equal(na, nb);
    assert_memory_equal(ia, ib, (size_t)na * sizeof(int32_t));
    assert_int_equal(ia[na - 1], 1);
    free(ia);
    free(ib);
    free(text);
    t5_tokenizer_close(a);
    t5_tokenizer_close(b);
}

static void test_open_folder(void **state)
{
    (void)state;
    t5_tokenizer *tk = NULL;
    char err[512];
    assert_int_equal(t5_tokenizer_open(g_dir, &tk, err, sizeof(err)), 0);
    int32_t ids[8];
    assert_int_equal(t5_tokenizer_encode(tk, "<extra_id_0> dog", ids, 8, err,
                                         sizeof(err)),
                     3);
    assert_int_equal(ids[0], 899);
    t5_tokenizer_close(tk);

    /* A folder with only spiece.model falls back to it. */
    char tmpl[] = "/tmp/samsep_tk_XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    char link[4200];
    snprintf(link, sizeof(link), "%s/spiece.model", dir);
    assert_int_equal(symlink(ref_path("spiece.model"), link), 0);
    assert_int_equal(t5_tokenizer_open(dir, &tk, err, sizeof(err)), 0);
    assert_int_equal(t5_tokenizer_vocab_size(tk), 900);
    t5_tokenizer_close(tk);
    unlink(link);
    /* An empty folder is an I/O error naming the folder. */
    assert_int_equal(t5_tokenizer_open(dir, &tk, err, sizeof(err)), SAMSEP_ERR_IO);
    assert_non_null(strstr(err, dir));
    assert_null(tk);
    rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* Malformed reference files                                           */
/* ------------------------------------------------------------------ */

/* Load `len` bytes; if it loads, encoding must work or fail cleanly. */
static int try_model(const uint8_t *buf, size_t len, t5_tokenizer_format fmt)
{
    t5_tokenizer *tk = NULL;
    char err[512] = "";
    int rc = t5_tokenizer_open_memory(buf, len, fmt, "m", &tk, err, sizeof(err));
    if (rc != 0) {
        assert_true(rc < 0);
        assert_null(tk);
        assert_true(err[0] != 0);
        return rc;
    }
    static const char *const texts[] = { "dog barking", "\xef\xac\x81\xcc\x81 x",
                                         "</s>a<pad>", "", "  \xe2\x80\x8b\xe2\x96\x81" };
    int32_t ids[64];
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        int n = t5_tokenizer_encode(tk, texts[i], ids, 64, err, sizeof(err));
        assert_true(n != 0);
        if (n > 0)
            for (int k = 0; k < n; k++)
                assert_true(ids[k] >= 0 && ids[k] < t5_tokenizer_vocab_size(tk));
    }
    t5_tokenizer_close(tk);
    return 0;
}

static void test_truncated_files(void **state)
{
    (void)state;
    static const char *const files[] = { "spiece.model", "tokenizer.json" };
    for (int f = 0; f < 2; f++) {
        size_t len;
        uint8_t *full = slurp(ref_path(files[f]), &len);
        assert_non_null(full);
        t5_tokenizer_format fmt = f == 0 ? T5_TOKENIZER_SPM : T5_TOKENIZER_JSON;
        int loaded = 0, failed = 0;
        size_t step = f == 0 ? 331 : 4099;
        for (size_t cut = 0; cut < len; cut += cut < 600 ? 1 : step) {
            /* A fresh allocation of exactly `cut` bytes, so ASan sees overreads. */
            uint8_t *b = malloc(cut ? cut : 1);
            memcpy(b, full, cut);
            if (try_model(b, cut, fmt) == 0)
                loaded++;
            else
                failed++;
            free(b);
        }
        for (size_t cut = len - 40; cut < len; cut++) {
            uint8_t *b = malloc(cut);
            memcpy(b, full, cut);
            if (try_model(b, cut, fmt) == 0)
                loaded++;
            else
                failed++;
            free(b);
        }
        print_message("  %s truncated: %d rejected, %d still loadable (cut at a record "
                      "boundary)\n",
                      files[f], failed, loaded);
        assert_true(failed > 0);
        free(full);
    }
}

static void test_corrupted_bytes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *full = slurp(ref_path("spiece.model"), &len);
    assert_non_null(full);
    uint8_t *b = malloc(len);
    uint64_t x = 88172645463325252ull;
    int loaded = 0, failed = 0;
    for (int round = 0; round < 400; round++) {
        memcpy(b, full, len);
        int flips = 1 + round % 8;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* Half the rounds aim at the header and the last 80 KB, where
               the trainer/normalizer specs and the character map live. */
            size_t pos =
                (round & 1) ? (size_t)(x % len)
                            : len - 1 - (size_t)((x >> 20) % (len < 80000 ? len : 80000));
            b[pos] = (uint8_t)(x >> 40);
        }
        if (try_model(b, len, T5_TOKENIZER_SPM) == 0)
            loaded++;
        else
            failed++;
    }
    print_message("  spiece.model corrupted 400x: %d rejected, %d loaded and encoded\n",
                  failed, loaded);
    free(b);
    free(full);
}

/* ------------------------------------------------------------------ */
/* Hand-made protobuf models                                           */
/* ------------------------------------------------------------------ */

typedef struct pbuf {
    uint8_t b[4096];
    size_t n;
} pbuf;

static void pb_varint(pbuf *p, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        p->b[p->n++] = c | (v ? 0x80 : 0);
    } while (v);
}

static void pb_bytes(pbuf *p, uint32_t field, const void *d, size_t n)
{
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, n);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}

static void pb_piece(pbuf *p, const char *s, float score, int type)
{
    pbuf m = { .n = 0 };
    pb_bytes(&m, 1, s, strlen(s));
    pb_varint(&m, 2 << 3 | 5);
    memcpy(m.b + m.n, &score, 4);
    m.n += 4;
    if (type)
        pb_varint(&m, 3 << 3 | 0), pb_varint(&m, (uint64_t)type);
    pb_bytes(p, 1, m.b, m.n);
}

/* <unk> </s> ▁a b ab ▁ */
static void pb_base(pbuf *p)
{
    p->n = 0;
    pb_piece(p, "<unk>", 0, SPM_UNKNOWN);
    pb_piece(p, "</s>", 0, SPM_CONTROL);
    pb_piece(p,
             "\xe2\x96\x81"
             "a",
             -1, 0);
    pb_piece(p, "b", -2, SPM_NORMAL);
    pb_piece(p, "ab", -2.5f, 0);
    pb_piece(p, "\xe2\x96\x81", -3, 0);
}

static int pb_load(const pbuf *p, t5_tokenizer **tk, char *err, size_t errlen)
{
    uint8_t *copy = malloc(p->n ? p->n : 1);
    memcpy(copy, p->b, p->n);
    int rc = t5_tokenizer_open_memory(copy, p->n, T5_TOKENIZER_SPM, "hand.model", tk, err,
                                      errlen);
    free(copy);
    return rc;
}

static void expect_pb_error(const pbuf *p, const char *needle)
{
    t5_tokenizer *tk = (t5_tokenizer *)1;
    char err[512] = "";
    int rc = pb_load(p, &tk, err, sizeof(err));
    if (rc != SAMSEP_ERR_FORMAT || !strstr(err, needle) || !strstr(err, "hand.model"))
        fail_msg("want FORMAT error with \"%s\", got %d \"%s\"", needle, rc, err);
    assert_null(tk);
}

static void test_protobuf_minimal(void **state)
{
    (void)state;
    pbuf p;
    pb_base(&p);
    /* Unknown fields of every wire type are skipped. */
    pb_varint(&p, 99 << 3 | 0), pb_varint(&p, 300);
    pb_varint(&p, 98 << 3 | 1), memset(p.b + p.n, 7, 8), p.n += 8;
    pb_varint(&p, 97 << 3 | 5), memset(p.b + p.n, 7, 4), p.n += 4;
    pb_bytes(&p, 96, "zzz", 3);
    /* trainer_spec and normalizer_spec without a charsmap: identity. */
    pbuf t = { .n = 0 };
    pb_varint(&t, 3 << 3), pb_varint(&t, SPM_MODEL_UNIGRAM);
    pb_bytes(&t, 1, "corpus.txt", 10);
    pb_bytes(&p, 2, t.b, t.n);
    pbuf nm = { .n = 0 };
    pb_bytes(&nm, 1, "identity", 8);
    pb_bytes(&p, 3, nm.b, nm.n);

    t5_tokenizer *tk = NULL;
    char err[512];
    assert_int_equal(pb_load(&p, &tk, err, sizeof(err)), 0);
    assert_int_equal(t5_tokenizer_vocab_size(tk), 6 + 100);
    assert_string_equal(t5_tokenizer_piece(tk, 105), "<extra_id_0>");
    int32_t ids[16];
    /* "ab" -> ▁a b (-3) beats ▁ ab (-5.5); "zq" -> ▁ and one fused <unk>. */
    int32_t want[] = { 2, 3, 5, 0, 2, 1 };
    int n = t5_tokenizer_encode(tk, "ab zq a", ids, 16, err, sizeof(err));
    assert_int_equal(n, 6);
    assert_memory_equal(ids, want, sizeof(want));
    /* Truncation keeps </s>. */
    assert_int_equal(t5_tokenizer_encode(tk, "ab zq a", ids, 3, err, sizeof(err)), 3);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 3);
    assert_int_equal(ids[2], 1);
    /* Special tokens: </s> and <unk> in text (CONTROL/UNKNOWN pieces). */
    n = t5_tokenizer_encode(tk, "a</s><unk>", ids, 16, err, sizeof(err));
    int32_t want3[] = { 2, 1, 0, 1 };
    assert_int_equal(n, 4);
    assert_memory_equal(ids, want3, sizeof(want3));
    t5_tokenizer_close(tk);
}

static void test_protobuf_malformed(void **state)
{
    (void)state;
    pbuf p;

    p.n = 0;
    expect_pb_error(&p, "empty file");
    pb_bytes(&p, 96, "zzz", 3);
    expect_pb_error(&p, "no pieces");

    pb_base(&p);
    p.b[p.n++] = 0x0a; /* field 1, length-delimited, no length */
    expect_pb_error(&p, "truncated");

    pb_base(&p);
    pb_varint(&p, 1 << 3 | 2), pb_varint(&p, 50); /* length past the end */
    expect_pb_error(&p, "past the end");

    pb_base(&p);
    for (int i = 0; i < 11; i++)
        p.b[p.n++] = 0xff; /* 11-byte varint tag */
    expect_pb_error(&p, "oversized");

    pb_base(&p);
    pb_varint(&p, 9 << 3 | 3); /* group */
    expect_pb_error(&p, "group");

    pb_base(&p);
    pb_varint(&p, 9 << 3 | 7);
    expect_pb_error(&p, "invalid wire type");

    pb_base(&p);
    pb_varint(&p, 0 << 3 | 0), pb_varint(&p, 1);
    expect_pb_error(&p, "field number 0");

    pb_base(&p);
    pb_varint(&p, 1 << 3 | 0), pb_varint(&p, 1); /* pieces as a varint */
    expect_pb_error(&p, "wire type");

    pb_base(&p);
    pb_varint(&p, 9 << 3 | 5), p.b[p.n++] = 1; /* fixed32 cut short */
    expect_pb_error(&p, "truncated");

    pb_base(&p);
    pb_piece(&p, "c", 0, 9);
    expect_pb_error(&p, "unknown piece type");

    pb_base(&p);
    pb_piece(&p, "", -1, 0);
    expect_pb_error(&p, "empty");

    pb_base(&p);
    pb_piece(&p, "\xc3(", -1, 0);
    expect_pb_error(&p, "UTF-8");

    pb_base(&p);
    pb_piece(&p, "nan", __builtin_nanf(""), 0);
    expect_pb_error(&p, "finite");

    pb_base(&p);
    {
        pbuf m = { .n = 0 };
        pb_varint(&m, 2 << 3 | 5), memset(m.b + m.n, 0, 4), m.n += 4; /* no string */
        pb_bytes(&p, 1, m.b, m.n);
    }
    expect_pb_error(&p, "missing");

    pb_base(&p);
    pb_piece(&p, "<unk2>", 0, SPM_UNKNOWN);
    expect_pb_error(&p, "both UNKNOWN");

    p.n = 0;
    pb_piece(&p, "</s>", 0, SPM_CONTROL);
    pb_piece(&p, "a", -1, 0);
    expect_pb_error(&p, "UNKNOWN");

    p.n = 0;
    pb_piece(&p, "<unk>", 0, SPM_UNKNOWN);
    pb_piece(&p, "a", -1, 0);
    expect_pb_error(&p, "</s>");

    pbuf t = { .n = 0 };
    pb_varint(&t, 3 << 3), pb_varint(&t, SPM_MODEL_BPE);
    pb_base(&p);
    pb_bytes(&p, 2, t.b, t.n);
    expect_pb_error(&p, "only unigram");

    t.n = 0;
    pb_varint(&t, 35 << 3), pb_varint(&t, 1);
    pb_base(&p);
    pb_bytes(&p, 2, t.b, t.n);
    expect_pb_error(&p, "byte_fallback");

    t.n = 0;
    pb_varint(&t, 3 << 3), pb_varint(&t, 77);
    pb_base(&p);
    pb_bytes(&p, 2, t.b, t.n);
    expect_pb_error(&p, "model_type");

    /* A bad record inside a nested message. */
    t.n = 0;
    pb_varint(&t, 5 << 3 | 2), pb_varint(&t, 9);
    pb_base(&p);
    pb_bytes(&p, 2, t.b, t.n);
    expect_pb_error(&p, "trainer_spec");
    pb_base(&p);
    pb_bytes(&p, 4, t.b, t.n);
    expect_pb_error(&p, "self_test_data");

    /* Character maps that do not hold together. */
    uint8_t cm[16] = { 200, 0, 0, 0 }; /* trie bigger than the map */
    pbuf nm = { .n = 0 };
    pb_bytes(&nm, 2, cm, sizeof(cm));
    pb_base(&p);
    pb_bytes(&p, 3, nm.b, nm.n);
    expect_pb_error(&p, "does not fit");
    uint8_t cm2[3] = { 4, 0, 0 };
    nm.n = 0;
    pb_bytes(&nm, 2, cm2, sizeof(cm2));
    pb_base(&p);
    pb_bytes(&p, 3, nm.b, nm.n);
    expect_pb_error(&p, "too short");
    uint8_t cm3[10] = { 4, 0, 0, 0, 0, 0, 0, 0, 0xff, 'a' };
    nm.n = 0;
    pb_bytes(&nm, 2, cm3, sizeof(cm3));
    pb_base(&p);
    pb_bytes(&p, 3, nm.b, nm.n);
    expect_pb_error(&p, "UTF-8");
    pb_varint(&nm, 3 << 3 | 2), pb_varint(&nm, 0); /* add_dummy_prefix as bytes */
    pb_base(&p);
    pb_bytes(&p, 3, nm.b, nm.n);
    expect_pb_error(&p, "add_dummy_prefix");

    /* A map whose trie points outside itself loads (it is only walked per
       character) but fails the encode that reaches the bad unit. */
    uint8_t cm4[8] = { 4, 0, 0, 0, 0x00, 0xfc, 0xff, 0x7f }; /* huge offset */
    nm.n = 0;
    pb_bytes(&nm, 2, cm4, sizeof(cm4));
    pb_base(&p);
    pb_bytes(&p, 3, nm.b, nm.n);
    t5_tokenizer *tk = NULL;
    char err[512] = "";
    assert_int_equal(pb_load(&p, &tk, err, sizeof(err)), 0);
    int32_t ids[8];
    assert_int_equal(t5_tokenizer_encode(tk, "ab", ids, 8, err, sizeof(err)),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "charsmap"));
    t5_tokenizer_close(tk);
}

/* The spm reader on its own: fields and defaults. */
static void test_protobuf_fields(void **state)
{
    (void)state;
    pbuf p;
    pb_base(&p);
    pbuf nm = { .n = 0 };
    pb_bytes(&nm, 1, "nmt_nfkc", 8);
    pb_varint(&nm, 4 << 3), pb_varint(&nm, 0);
    pb_bytes(&p, 3, nm.b, nm.n);
    t5_spm_model *m = NULL;
    char err[256];
    assert_int_equal(t5_spm_model_parse(p.b, p.n, "x", &m, err, sizeof(err)), 0);
    assert_int_equal(m->n_pieces, 6);
    assert_int_equal(m->pieces[0].type, SPM_UNKNOWN);
    assert_int_equal(m->pieces[2].type, SPM_NORMAL);
    assert_true(m->pieces[4].score == -2.5f);
    assert_int_equal(m->model_type, SPM_MODEL_UNIGRAM);
    assert_int_equal(m->norm_name_len, 8);
    assert_int_equal(m->add_dummy_prefix, 1);
    assert_int_equal(m->remove_extra_whitespaces, 0);
    assert_int_equal(m->charsmap_len, 0);
    t5_spm_model_free(m);
    t5_spm_model_free(NULL);
    assert_int_equal(t5_spm_model_parse(NULL, 0, "x", &m, err, sizeof(err)),
                     SAMSEP_ERR_FORMAT);
    assert_int_equal(t5_spm_model_parse(p.b, p.n, "x", NULL, err, sizeof(err)),
                     SAMSEP_ERR_INVALID);

    /* The real file: its normaliser spec. */
    size_t len;
    uint8_t *b = slurp(ref_path("spiece.model"), &len);
    assert_int_equal(t5_spm_model_parse(b, len, "spiece.model", &m, err, sizeof(err)), 0);
    assert_int_equal(m->n_pieces, 800);
    assert_int_equal(m->norm_name_len, 8);
    assert_memory_equal(m->norm_name, "nmt_nfkc", 8);
    assert_true(m->charsmap_len > 1000);
    assert_int_equal(m->pieces[0].type, SPM_CONTROL);
    assert_int_equal(m->pieces[2].type, SPM_UNKNOWN);
    t5_spm_model_free(m);
    free(b);
}

/* ------------------------------------------------------------------ */
/* Hand-made JSON models                                               */
/* ------------------------------------------------------------------ */

#define J_PRE                                                                   \
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":"    \
    "\"WhitespaceSplit\"},{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\"," \
    "\"add_prefix_space\":true}]}"
#define J_POST                                                                           \
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":"     \
    "{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}]," \
    "\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[1],\"tokens\":[\"</s>\"]}}}"
#define J_VOCAB                                                               \
    "\"vocab\":[[\"<unk>\",0.0],[\"</s>\",0.0],[\"\\u2581a\",-1],[\"b\",-2]," \
    "[\"ab\",-2.5],[\"\\u2581\",-3]]"
#define J_ADDED                                                          \
    "\"added_tokens\":[{\"id\":1,\"content\":\"</s>\",\"special\":true," \
    "\"normalized\":false,\"lstrip\":false,\"rstrip\":false,"            \
    "\"single_word\":false},{\"id\":6,\"content\":\"<x>\",\"special\":true}]"

static int json_load(const char *doc, t5_tokenizer **tk, char *err, size_t errlen)
{
    size_t n = strlen(doc);
    char *copy = malloc(n ? n : 1);
    memcpy(copy, doc, n);
    int rc = t5_tokenizer_open_memory(copy, n, T5_TOKENIZER_AUTO, "hand.json", tk, err,
                                      errlen);
    free(copy);
    return rc;
}

static void expect_json_error(const char *doc, const char *needle)
{
    t5_tokenizer *tk = (t5_tokenizer *)1;
    char err[512] = "";
    int rc = json_load(doc, &tk, err, sizeof(err));
    if (rc != SAMSEP_ERR_FORMAT || !strstr(err, needle) || !strstr(err, "hand.json"))
        fail_msg("want FORMAT error with \"%s\", got %d \"%s\" for %s", needle, rc, err,
                 doc);
    assert_null(tk);
}

static void test_json_minimal(void **state)
{
    (void)state;
    const char *doc = "{\"normalizer\":null," J_PRE "," J_POST "," J_ADDED ","
                      "\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}";
    t5_tokenizer *tk = NULL;
    char err[512];
    assert_int_equal(json_load(doc, &tk, err, sizeof(err)), 0);
    assert_int_equal(t5_tokenizer_vocab_size(tk), 7);
    assert_string_equal(t5_tokenizer_piece(tk, 6), "<x>");
    int32_t ids[16];
    int32_t want[] = { 2, 3, 6, 5, 0, 1 };
    assert_int_equal(t5_tokenizer_encode(tk, "ab<x> zq", ids, 16, err, sizeof(err)), 6);
    assert_memory_equal(ids, want, sizeof(want));
    t5_tokenizer_close(tk);
}

static void test_json_malformed(void **state)
{
    (void)state;
    expect_json_error("{", "not valid JSON");
    expect_json_error("{}", "Unigram");
    expect_json_error("{\"model\":{\"type\":\"BPE\"}}", "Unigram");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":"
                      "true," J_VOCAB "}}",
                      "byte_fallback");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[]}}",
                      "non-empty");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":{}}}",
                      "non-empty");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":6," J_VOCAB "}}",
                      "unk_id");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0.5," J_VOCAB "}}",
                      "unk_id");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",0]"
                      ","
                      "[1,2]]}}",
                      "vocab[1]");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\",0]"
                      ","
                      "[\"b\"]]}}",
                      "vocab[1]");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[[\"a\","
                      "\"x\"]]}}",
                      "vocab[0]");
    expect_json_error("{\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"vocab\":[5]}}",
                      "vocab[0]");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"model\":{\"type\":\"Unigram\","
                      "\"unk_id\":0,\"vocab\":[[\"a\",0],[\"\",1]]}}",
                      "piece 1 is empty");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"model\":{\"type\":\"Unigram\","
                      "\"unk_id\":0,\"vocab\":[[\"a\",0],[\"b\",1e999]]}}",
                      "finite");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"model\":{\"type\":\"Unigram\","
                      "\"unk_id\":0,\"vocab\":[[\"a\",0],[\"\xc3(\",1]]}}",
                      "UTF-8");
    expect_json_error("{\"normalizer\":{\"type\":\"NFKC\"},\"model\":{\"type\":"
                      "\"Unigram\","
                      "\"unk_id\":0," J_VOCAB "}}",
                      "Precompiled");
    expect_json_error("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_"
                      "charsmap\":"
                      "\"AAA\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB
                      "}}",
                      "base64");
    expect_json_error("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_"
                      "charsmap\":"
                      "\"AA!A\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB
                      "}}",
                      "base64");
    expect_json_error("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_"
                      "charsmap\":"
                      "\"A=AA\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB
                      "}}",
                      "base64");
    expect_json_error("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_"
                      "charsmap\":"
                      "\"AAA=\"}," J_PRE
                      ",\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
                      "too short");
    expect_json_error("{\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
                      "\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
                      "pre_tokenizer");
    expect_json_error("{\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"Sequence\","
                      "\"pretokenizers\":[{\"type\":\"WhitespaceSplit\"},{\"type\":"
                      "\"Metaspace\",\"replacement\":\"_\",\"add_prefix_space\":true}]},"
                      "\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
                      "Metaspace");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"added_tokens\":{},\"model\":{"
                      "\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
                      "added_tokens");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"added_tokens\":[{\"id\":-1,"
                      "\"content\":\"x\"}],\"model\":{\"type\":\"Unigram\",\"unk_id\":"
                      "0," J_VOCAB "}}",
                      "added_tokens[0]");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"added_tokens\":[{\"id\":99,"
                      "\"content\":\"x\"}],\"model\":{\"type\":\"Unigram\",\"unk_id\":"
                      "0," J_VOCAB "}}",
                      "outside");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"added_tokens\":[{\"id\":1,"
                      "\"content\":\"\"}],\"model\":{\"type\":\"Unigram\",\"unk_id\":"
                      "0," J_VOCAB "}}",
                      "empty");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"added_tokens\":[{\"id\":1,"
                      "\"content\":\"x\",\"lstrip\":true}],\"model\":{\"type\":"
                      "\"Unigram\","
                      "\"unk_id\":0," J_VOCAB "}}",
                      "not supported");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"post_processor\":{\"type\":"
                      "\"BertProcessing\"},\"model\":{\"type\":\"Unigram\",\"unk_id\":"
                      "0," J_VOCAB "}}",
                      "TemplateProcessing");
    expect_json_error(
        "{\"normalizer\":null," J_PRE ",\"post_processor\":{\"type\":"
        "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"</s>\"}}],"
        "\"special_tokens\":{}},\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB
        "}}",
        "special_tokens");
    expect_json_error("{\"normalizer\":null," J_PRE ",\"post_processor\":{\"type\":"
                      "\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"</"
                      "s>\"}}],"
                      "\"special_tokens\":{\"</s>\":{\"ids\":[1]}}},\"model\":{\"type\":"
                      "\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
                      "no $A");
    expect_json_error(
        "{\"normalizer\":null," J_PRE ",\"post_processor\":{\"type\":"
        "\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\"}},"
        "{\"SpecialToken\":{\"id\":\"</s>\"}}],\"special_tokens\":{\"</s>\":"
        "{\"ids\":[77]}}},\"model\":{\"type\":\"Unigram\",\"unk_id\":0," J_VOCAB "}}",
        "post-processor id");
}

/* Each malformation of the real tokenizer.json's character map. */
static void test_json_bad_charsmap(void **state)
{
    (void)state;
    size_t len;
    char *doc = (char *)slurp(ref_path("tokenizer.json"), &len);
    char *key = strstr(doc, "\"precompiled_charsmap\": \"");
    assert_non_null(key);
    char *b64 = key + strlen("\"precompiled_charsmap\": \"");
    char save = b64[0];
    b64[0] = '*';
    expect_json_error(doc, "base64");
    b64[0] = save;
    /* The first 4 bytes (the trie size) made huge: "////" = 0xffffff. */
    char save4[4];
    memcpy(save4, b64, 4);
    memcpy(b64, "////", 4);
    expect_json_error(doc, "does not fit");
    memcpy(b64, save4, 4);
    free(doc);
}

/* ------------------------------------------------------------------ */
/* API abuse                                                           */
/* ------------------------------------------------------------------ */

static void test_api_abuse(void **state)
{
    (void)state;
    t5_tokenizer *tk = (t5_tokenizer *)1;
    char err[512];
    int32_t ids[8];

    assert_int_equal(t5_tokenizer_open(NULL, &tk, err, sizeof(err)), SAMSEP_ERR_INVALID);
    assert_null(tk);
    assert_int_equal(t5_tokenizer_open(ref_path("tokenizer.json"), NULL, err,
                                       sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_open("/nonexistent/tok.json", &tk, NULL, 0),
                     SAMSEP_ERR_IO);
    assert_int_equal(t5_tokenizer_open("/nonexistent/tok.json", &tk, err, sizeof(err)),
                     SAMSEP_ERR_IO);
    assert_non_null(strstr(err, "/nonexistent/tok.json"));
    assert_int_equal(t5_tokenizer_open("/dev/null", &tk, err, sizeof(err)),
                     SAMSEP_ERR_IO);
    assert_int_equal(t5_tokenizer_open_memory(NULL, 5, T5_TOKENIZER_AUTO, "x", &tk, err,
                                              sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_open_memory("x", 1, (t5_tokenizer_format)9, "x", &tk,
                                              err, sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_open_memory("", 0, T5_TOKENIZER_AUTO, NULL, &tk, err,
                                              sizeof(err)),
                     SAMSEP_ERR_FORMAT);
    t5_tokenizer_close(NULL);
    assert_int_equal(t5_tokenizer_vocab_size(NULL), 0);
    assert_null(t5_tokenizer_piece(NULL, 0));

    assert_int_equal(t5_tokenizer_open(ref_path("tokenizer.json"), &tk, err, sizeof(err)),
                     0);
    assert_int_equal(t5_tokenizer_encode(NULL, "a", ids, 8, err, sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_encode(tk, NULL, ids, 8, err, sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_encode(tk, "a", NULL, 8, err, sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_encode(tk, "a", ids, 0, err, sizeof(err)),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_encode(tk, "a", ids, -3, NULL, 0), SAMSEP_ERR_INVALID);
    assert_int_equal(t5_tokenizer_encode_len(tk, NULL, 0, ids, 8, err, sizeof(err)), 1);
    /* max_len 1: only </s>; 2: the first token and </s>. */
    assert_int_equal(t5_tokenizer_encode(tk, "dog barking", ids, 1, err, sizeof(err)), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(t5_tokenizer_encode(tk, "dog barking", ids, 2, err, sizeof(err)), 2);
    assert_int_equal(ids[0], 156);
    assert_int_equal(ids[1], 1);
    assert_int_equal(t5_tokenizer_encode(tk, "", ids, 8, err, sizeof(err)), 1);
    /* Invalid UTF-8: lone continuation, overlong, surrogate, truncated. */
    static const char *const bad[] = { "a\x80", "\xc0\xaf", "\xed\xa0\x80", "ab\xe2\x96",
                                       "\xf4\x90\x80\x80" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        assert_int_equal(t5_tokenizer_encode(tk, bad[i], ids, 8, err, sizeof(err)),
                         SAMSEP_ERR_INVALID);
        assert_non_null(strstr(err, "UTF-8"));
    }
    /* A tiny error buffer is truncated, not overflowed. */
    char small[4] = "xyz";
    assert_int_equal(t5_tokenizer_encode(tk, "\xff", ids, 8, small, 4),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(small[3], 0);
    t5_tokenizer_close(tk);
}

int main(void)
{
    const char *ref = getenv("SAMSEP_SAMREF");
    if (!ref || !*ref) {
        fprintf(stderr, "SAMSEP_SAMREF not set: skipping\n");
        return 77;
    }
    snprintf(g_dir, sizeof(g_dir), "%s/tokenizer", ref);
    if (access(ref_path("spiece.model"), R_OK) != 0 ||
        access(ref_path("tokenizer.json"), R_OK) != 0) {
        fprintf(stderr, "%s: reference tokenizer files missing: skipping\n", g_dir);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases_from_tokenizer_json),
        cmocka_unit_test(test_cases_from_spiece_model),
        cmocka_unit_test(test_sources_agree),
        cmocka_unit_test(test_open_folder),
        cmocka_unit_test(test_protobuf_minimal),
        cmocka_unit_test(test_protobuf_fields),
        cmocka_unit_test(test_protobuf_malformed),
        cmocka_unit_test(test_json_minimal),
        cmocka_unit_test(test_json_malformed),
        cmocka_unit_test(test_json_bad_charsmap),
        cmocka_unit_test(test_truncated_files),
        cmocka_unit_test(test_corrupted_bytes),
        cmocka_unit_test(test_api_abuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
