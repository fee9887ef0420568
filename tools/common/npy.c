/*
 * npy.c - see npy.h. The header is a Python dict literal; only the three
 * keys numpy writes are accepted, each once, with the literal forms numpy
 * writes ('<f4', True/False, a tuple of ints), in any order. The data that
 * follows is read whole with one fread after its size has been checked
 * against the file's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "npy.h"

#define MAX_HEADER (1u << 20)
#define MAX_NUMEL (INT64_MAX / 16)

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into out[0..outlen). */
static int quoted(cursor *c, char *out, size_t outlen)
{
    char q;
    size_t n = 0;

    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= outlen)
            return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    out[n] = '\0';
    return 0;
}

static int word(cursor *c, const char *w)
{
    size_t n = strlen(w);

    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

static int shape_tuple(cursor *c, int64_t *shape, int *ndim)
{
    int n = 0;

    if (!eat(c, '('))
        return -1;
    for (;;) {
        int64_t v = 0;
        int digits = 0;

        if (eat(c, ')'))
            break;
        skip_ws(c);
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (MAX_NUMEL - 9) / 10)
                return -1;
            v = v * 10 + (*c->p++ - '0');
            digits++;
        }
        if (digits == 0 || n == NPY_MAX_DIMS)
            return -1;
        skip_ws(c);
        if (c->p < c->end && *c->p == 'L') /* Python 2 longs */
            c->p++;
        shape[n++] = v;
        if (!eat(c, ',')) {
            if (!eat(c, ')'))
                return -1;
            break;
        }
    }
    *ndim = n;
    return 0;
}

static int parse_header(const char *h, size_t len, int64_t *shape, int *ndim)
{
    cursor c = { h, h + len };
    int seen_descr = 0, seen_order = 0, seen_shape = 0;

    if (!eat(&c, '{'))
        return -1;
    while (!eat(&c, '}')) {
        char key[32], val[32];

        if (quoted(&c, key, sizeof key) != 0 || !eat(&c, ':'))
            return -1;
        if (strcmp(key, "descr") == 0 && !seen_descr) {
            if (quoted(&c, val, sizeof val) != 0 || strcmp(val, "<f4") != 0)
                return -2;
            seen_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !seen_order) {
            if (word(&c, "True"))
                return -2;
            if (!word(&c, "False"))
                return -1;
            seen_order = 1;
        } else if (strcmp(key, "shape") == 0 && !seen_shape) {
            if (shape_tuple(&c, shape, ndim) != 0)
                return -1;
            seen_shape = 1;
        } else {
            return -1;
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return -1;
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end || !seen_descr || !seen_order || !seen_shape)
        return -1;
    return 0;
}

int npy_load(const char *path, float **data, int64_t shape[NPY_MAX_DIMS], int *ndim,
             char *err, size_t errlen)
{
    unsigned char pre[12];
    char *header = NULL;
    size_t hlen, hstart;
    int64_t numel = 1;
    struct stat st;
    FILE *f;
    int i, rc, major;

    *data = NULL;
    *ndim = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return SAMSEP_ERR_IO;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        fclose(f);
        return SAMSEP_ERR_IO;
    }
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        set_err(err, errlen, "%s: not a .npy file", path);
        fclose(f);
        return SAMSEP_ERR_FORMAT;
    }
    major = pre[6];
    if (major == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
        hstart = 10;
    } else if ((major == 2 || major == 3) && fread(pre + 10, 1, 2, f) == 2) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) |
               ((size_t)pre[11] << 24);
        hstart = 12;
    } else {
        set_err(err, errlen, "%s: unsupported .npy version %d", path, major);
        fclose(f);
        return SAMSEP_ERR_FORMAT;
    }
    if (hlen > MAX_HEADER || (uint64_t)st.st_size < hstart + hlen) {
        set_err(err, errlen, "%s: .npy header length %zu out of range", path, hlen);
        fclose(f);
        return SAMSEP_ERR_FORMAT;
    }
    header = malloc(hlen + 1);
    if (header == NULL) {
        fclose(f);
        set_err(err, errlen, "%s: out of memory", path);
        return SAMSEP_ERR_NOMEM;
    }
    if (fread(header, 1, hlen, f) != hlen) {
        set_err(err, errlen, "%s: truncated .npy header", path);
        rc = SAMSEP_ERR_FORMAT;
        goto fail;
    }
    header[hlen] = '\0';
    rc = parse_header(header, hlen, shape, ndim);
    if (rc != 0) {
        set_err(err, errlen,
                rc == -2 ? "%s: only little-endian float32 ('<f4') "
                           "in C order is supported"
                         : "%s: malformed .npy header",
                path);
        rc = SAMSEP_ERR_FORMAT;
        goto fail;
    }
    for (i = 0; i < *ndim; i++) {
        if (shape[i] == 0)
            numel = 0;
        else if (numel > MAX_NUMEL / shape[i]) {
            set_err(err, errlen, "%s: .npy shape too large", path);
            rc = SAMSEP_ERR_FORMAT;
            goto fail;
        } else
            numel *= shape[i];
    }
    if ((uint64_t)st.st_size - hstart - hlen != (uint64_t)numel * 4) {
        set_err(err, errlen, "%s: holds %llu data bytes, its shape needs %llu", path,
                (unsigned long long)((uint64_t)st.st_size - hstart - hlen),
                (unsigned long long)numel * 4);
        rc = SAMSEP_ERR_FORMAT;
        goto fail;
    }
    if ((uint64_t)numel > SIZE_MAX / 4 ||
        (*data = malloc(numel > 0 ? (size_t)numel * 4 : 1)) == NULL) {
        set_err(err, errlen, "%s: out of memory", path);
        rc = SAMSEP_ERR_NOMEM;
        goto fail;
    }
    if (fread(*data, 4, (size_t)numel, f) != (size_t)numel) {
        set_err(err, errlen, "%s: read error", path);
        rc = SAMSEP_ERR_IO;
        goto fail;
    }
    free(header);
    fclose(f);
    return 0;

fail:
    free(*data);
    *data = NULL;
    *ndim = 0;
    free(header);
    fclose(f);
    return rc;
}
