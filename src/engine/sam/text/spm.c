/*
 * spm.c - see spm.h. The protobuf wire format, decoded by hand.
 *
 * A message is a sequence of (tag, value) records; the tag is a varint
 * holding field_number << 3 | wire_type, and the wire type alone says how to
 * find the end of the value: 0 varint, 1 eight bytes, 2 a varint length then
 * that many bytes, 5 four bytes. Wire types 3 and 4 (groups) are obsolete and
 * never written by sentencepiece, so they are refused; 6 and 7 do not exist.
 * pb_next() reads one record and checks its extent against the end of the
 * enclosing message before anything looks at it, so the rest of the reader
 * only ever sees values that lie inside the buffer. Known fields must carry
 * their declared wire type. A non-repeated message field that occurs twice
 * is merged, as protobuf does (later scalars win).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/sam/text/spm.h"

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

typedef struct pb_reader {
    const uint8_t *p;
    const uint8_t *end;
    const uint8_t *base; /* start of the file, for offsets in messages */
} pb_reader;

typedef struct pb_field {
    uint32_t num;
    int wt;
    uint64_t varint;     /* WT_VARINT */
    uint32_t fixed32;    /* WT_I32 */
    const uint8_t *data; /* WT_LEN */
    size_t len;          /* WT_LEN */
} pb_field;

typedef struct pb_ctx {
    const char *name; /* file name for messages */
    char *err;
    size_t errlen;
} pb_ctx;

static uint32_t rd32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static size_t off_of(const pb_reader *r, const uint8_t *p)
{
    return (size_t)(p - r->base);
}

/* 0 on success, -1 when the buffer ends inside it, -2 when longer than 64 bits. */
static int read_varint(pb_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        if (i == 9 && b > 1)
            return -2;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -2;
}

/*
 * Read the next record of the message in r. Returns 1 with *f filled, 0 at
 * the end of the message, or SAMSEP_ERR_FORMAT with the error set; `what`
 * names the message being read.
 */
static int pb_next(pb_reader *r, pb_field *f, const char *what, const pb_ctx *c)
{
    if (r->p >= r->end)
        return 0;
    const uint8_t *start = r->p;
    uint64_t tag;
    int rc = read_varint(r, &tag);
    if (rc != 0 || tag > UINT32_MAX) {
        set_err(c->err, c->errlen, "%s: %s: %s field tag at byte %zu", c->name, what,
                rc == -1 ? "truncated" : "oversized", off_of(r, start));
        return SAMSEP_ERR_FORMAT;
    }
    memset(f, 0, sizeof(*f));
    f->num = (uint32_t)(tag >> 3);
    f->wt = (int)(tag & 7);
    if (f->num == 0) {
        set_err(c->err, c->errlen, "%s: %s: field number 0 at byte %zu", c->name, what,
                off_of(r, start));
        return SAMSEP_ERR_FORMAT;
    }
    size_t left;
    switch (f->wt) {
    case WT_VARINT:
        rc = read_varint(r, &f->varint);
        if (rc != 0) {
            set_err(c->err, c->errlen, "%s: %s: field %u: %s varint at byte %zu", c->name,
                    what, f->num, rc == -1 ? "truncated" : "oversized", off_of(r, start));
            return SAMSEP_ERR_FORMAT;
        }
        return 1;
    case WT_I64:
    case WT_I32: {
        size_t n = f->wt == WT_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            set_err(c->err, c->errlen,
                    "%s: %s: field %u: %zu-byte value truncated at byte %zu", c->name,
                    what, f->num, n, off_of(r, start));
            return SAMSEP_ERR_FORMAT;
        }
        if (n == 4)
            f->fixed32 = rd32le(r->p);
        r->p += n;
        return 1;
    }
    case WT_LEN: {
        uint64_t n;
        rc = read_varint(r, &n);
        left = (size_t)(r->end - r->p);
        if (rc != 0 || n > left) {
            set_err(c->err, c->errlen,
                    "%s: %s: field %u: length %s at byte %zu (%zu bytes left)", c->name,
                    what, f->num,
                    rc == -1   ? "truncated"
                    : rc == -2 ? "oversized"
                               : "past the end",
                    off_of(r, start), left);
            return SAMSEP_ERR_FORMAT;
        }
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    case 3:
    case 4:
        set_err(c->err, c->errlen,
                "%s: %s: field %u at byte %zu uses a protobuf group (not supported)",
                c->name, what, f->num, off_of(r, start));
        return SAMSEP_ERR_FORMAT;
    default:
        set_err(c->err, c->errlen, "%s: %s: field %u: invalid wire type %d at byte %zu",
                c->name, what, f->num, f->wt, off_of(r, start));
        return SAMSEP_ERR_FORMAT;
    }
}

static int want_wt(const pb_field *f, int wt, const char *what, const char *field,
                   const pb_ctx *c)
{
    if (f->wt == wt)
        return 0;
    set_err(c->err, c->errlen, "%s: %s: field %u (%s) has wire type %d, expected %d",
            c->name, what, f->num, field, f->wt, wt);
    return SAMSEP_ERR_FORMAT;
}

static pb_reader sub_reader(const pb_reader *parent, const pb_field *f)
{
    pb_reader r = { f->data, f->data + f->len, parent->base };
    return r;
}

/* Walk a message whose fields are not needed, checking every extent. */
static int walk_message(pb_reader r, const char *what, const pb_ctx *c)
{
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f, what, c)) == 1) {
    }
    return rc;
}

size_t t5_spm_utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if ((b & 0xe0) == 0xc0) {
            k = 1, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            k = 2, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            k = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (n - i <= k)
            return i;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return i;
        i += k + 1;
    }
    return n;
}

static int parse_piece(const pb_reader *parent, const pb_field *pf, int index,
                       t5_spm_piece *out, const pb_ctx *c)
{
    char what[48];
    snprintf(what, sizeof(what), "piece %d", index);
    pb_reader r = sub_reader(parent, pf);
    pb_field f;
    int rc;
    int have_str = 0;
    out->str = NULL;
    out->len = 0;
    out->score = 0.0f;
    out->type = SPM_NORMAL;
    while ((rc = pb_next(&r, &f, what, c)) == 1) {
        switch (f.num) {
        case 1:
            if ((rc = want_wt(&f, WT_LEN, what, "piece", c)) != 0)
                return rc;
            out->str = (const char *)f.data;
            out->len = f.len;
            have_str = 1;
            break;
        case 2:
            if ((rc = want_wt(&f, WT_I32, what, "score", c)) != 0)
                return rc;
            memcpy(&out->score, &f.fixed32, sizeof(float));
            break;
        case 3:
            if ((rc = want_wt(&f, WT_VARINT, what, "type", c)) != 0)
                return rc;
            if (f.varint < SPM_NORMAL || f.varint > SPM_BYTE) {
                set_err(c->err, c->errlen, "%s: %s: unknown piece type %llu", c->name,
                        what, (unsigned long long)f.varint);
                return SAMSEP_ERR_FORMAT;
            }
            out->type = (int)f.varint;
            break;
        default: break;
        }
    }
    if (rc < 0)
        return rc;
    if (!have_str || out->len == 0) {
        set_err(c->err, c->errlen, "%s: %s: the piece string is %s", c->name, what,
                have_str ? "empty" : "missing");
        return SAMSEP_ERR_FORMAT;
    }
    if (t5_spm_utf8_check((const uint8_t *)out->str, out->len) != out->len) {
        set_err(c->err, c->errlen, "%s: %s: the piece string is not valid UTF-8", c->name,
                what);
        return SAMSEP_ERR_FORMAT;
    }
    if (!isfinite(out->score)) {
        set_err(c->err, c->errlen, "%s: %s: the score is not a finite number", c->name,
                what);
        return SAMSEP_ERR_FORMAT;
    }
    return 0;
}

static int parse_trainer_spec(const pb_reader *parent, const pb_field *pf,
                              t5_spm_model *m, const pb_ctx *c)
{
    static const char what[] = "trainer_spec";
    pb_reader r = sub_reader(parent, pf);
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f, what, c)) == 1) {
        if (f.num == 3) {
            if ((rc = want_wt(&f, WT_VARINT, what, "model_type", c)) != 0)
                return rc;
            if (f.varint < SPM_MODEL_UNIGRAM || f.varint > SPM_MODEL_CHAR) {
                set_err(c->err, c->errlen, "%s: %s: unknown model_type %llu", c->name,
                        what, (unsigned long long)f.varint);
                return SAMSEP_ERR_FORMAT;
            }
            m->model_type = (int)f.varint;
        } else if (f.num == 35) {
            if ((rc = want_wt(&f, WT_VARINT, what, "byte_fallback", c)) != 0)
                return rc;
            m->byte_fallback = f.varint != 0;
        }
    }
    return rc;
}

static int parse_normalizer_spec(const pb_reader *parent, const pb_field *pf,
                                 t5_spm_model *m, const pb_ctx *c)
{
    static const char what[] = "normalizer_spec";
    pb_reader r = sub_reader(parent, pf);
    pb_field f;
    int rc;
    while ((rc = pb_next(&r, &f, what, c)) == 1) {
        switch (f.num) {
        case 1:
            if ((rc = want_wt(&f, WT_LEN, what, "name", c)) != 0)
                return rc;
            m->norm_name = (const char *)f.data;
            m->norm_name_len = f.len;
            break;
        case 2:
            if ((rc = want_wt(&f, WT_LEN, what, "precompiled_charsmap", c)) != 0)
                return rc;
            m->charsmap = f.data;
            m->charsmap_len = f.len;
            break;
        case 3:
        case 4:
        case 5: {
            static const char *const names[] = { "add_dummy_prefix",
                                                 "remove_extra_whitespaces",
                                                 "escape_whitespaces" };
            if ((rc = want_wt(&f, WT_VARINT, what, names[f.num - 3], c)) != 0)
                return rc;
            int v = f.varint != 0;
            if (f.num == 3)
                m->add_dummy_prefix = v;
            else if (f.num == 4)
                m->remove_extra_whitespaces = v;
            else
                m->escape_whitespaces = v;
            break;
        }
        default: break;
        }
    }
    return rc;
}

void t5_spm_model_free(t5_spm_model *m)
{
    if (!m)
        return;
    free(m->pieces);
    free(m);
}

int t5_spm_model_parse(const uint8_t *buf, size_t len, const char *name,
                       t5_spm_model **out, char *err, size_t errlen)
{
    pb_ctx c = { name ? name : "spiece.model", err, errlen };
    static const char what[] = "ModelProto";
    if (out)
        *out = NULL;
    if ((!buf && len) || !out) {
        set_err(err, errlen, "%s: invalid arguments", c.name);
        return SAMSEP_ERR_INVALID;
    }
    if (len == 0) {
        set_err(err, errlen, "%s: empty file: not a SentencePiece model", c.name);
        return SAMSEP_ERR_FORMAT;
    }
    pb_reader top = { buf, buf + len, buf };
    pb_field f;
    int rc;

    /* Pass 1: check every top-level extent and count the pieces. */
    size_t n_pieces = 0;
    while ((rc = pb_next(&top, &f, what, &c)) == 1) {
        if (f.num >= 1 && f.num <= 5 &&
            (rc = want_wt(&f, WT_LEN, what, "message", &c)) != 0)
            return rc;
        if (f.num == 1)
            n_pieces++;
    }
    if (rc < 0)
        return rc;
    if (n_pieces == 0) {
        set_err(err, errlen, "%s: no pieces: not a SentencePiece model", c.name);
        return SAMSEP_ERR_FORMAT;
    }
    if (n_pieces > INT_MAX / 2) {
        set_err(err, errlen, "%s: too many pieces (%zu)", c.name, n_pieces);
        return SAMSEP_ERR_FORMAT;
    }

    t5_spm_model *m = calloc(1, sizeof(*m));
    if (!m || !(m->pieces = calloc(n_pieces, sizeof(*m->pieces)))) {
        free(m);
        set_err(err, errlen, "%s: out of memory for %zu pieces", c.name, n_pieces);
        return SAMSEP_ERR_NOMEM;
    }
    m->model_type = SPM_MODEL_UNIGRAM;
    m->add_dummy_prefix = 1;
    m->remove_extra_whitespaces = 1;
    m->escape_whitespaces = 1;

    /* Pass 2: decode. */
    top.p = buf;
    while ((rc = pb_next(&top, &f, what, &c)) == 1) {
        switch (f.num) {
        case 1:
            rc = parse_piece(&top, &f, m->n_pieces, &m->pieces[m->n_pieces], &c);
            m->n_pieces++;
            break;
        case 2: rc = parse_trainer_spec(&top, &f, m, &c); break;
        case 3: rc = parse_normalizer_spec(&top, &f, m, &c); break;
        case 4: rc = walk_message(sub_reader(&top, &f), "self_test_data", &c); break;
        case 5: rc = walk_message(sub_reader(&top, &f), "denormalizer_spec", &c); break;
        default: rc = 0; break;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        t5_spm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
