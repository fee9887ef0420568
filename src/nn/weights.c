/*
 * weights.c - nn_weight() and its helpers (weights.h).
 *
 * Each tensor of the file carries two marks: used in place (a kernel reads
 * the mapping) and copied (converted or read into a host copy). Pages of
 * tensors that were copied and never used in place are what
 * nn_weights_trim() drops from memory. Memory handed out is kept in one
 * list, each entry host memory (freed with free) or the backend's (with
 * nn_free), and freed at close.
 */
#include "nn/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 512
#define MARK_IN_PLACE 1
#define MARK_COPIED 2

typedef struct owned_mem {
    void *p;
    int backend; /* 1: nn_alloc'd, 0: malloc'd */
} owned_mem;

struct nn_weights {
    nn_tensor_file *tf;
    nn_ctx *k;
    int host; /* the backend reads host memory */
    char *path;
    char prefix[128];
    unsigned char *marks; /* [count] MARK_* per tensor of tf */
    owned_mem *owned;     /* memory handed out */
    size_t n_owned, cap_owned;
    nn_precision precision; /* of the matrices (nn_wmat), from the context */
    int rc;                 /* first error, or SAMSEP_OK */
    char err[SAMSEP_MSG_MAX];
};

int nn_weights_wrap(nn_tensor_file *tf, const char *name, nn_ctx *k, nn_weights **out,
                    char *err, size_t errlen)
{
    nn_weights *ws;

    if (out != NULL)
        *out = NULL;
    if (out == NULL || tf == NULL || k == NULL) {
        nn_tensor_file_close(tf);
        set_err(err, errlen, "nn_weights_wrap: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    ws = calloc(1, sizeof *ws);
    if (ws == NULL || (ws->path = strdup(name != NULL ? name : "")) == NULL ||
        (ws->marks = calloc((size_t)nn_tensor_file_count(tf) + 1, 1)) == NULL) {
        if (ws != NULL)
            free(ws->path);
        free(ws);
        nn_tensor_file_close(tf);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    ws->tf = tf;
    ws->k = k;
    ws->host = nn_ctx_host_memory(k);
    ws->precision = nn_ctx_precision(k);
    *out = ws;
    return SAMSEP_OK;
}

int nn_weights_open(const char *path, nn_ctx *k, nn_weights **out, char *err,
                    size_t errlen)
{
    nn_tensor_file *tf = NULL;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (path == NULL || out == NULL || k == NULL) {
        set_err(err, errlen, "nn_weights_open: NULL argument");
        return SAMSEP_ERR_INVALID;
    }
    rc = nn_tensor_file_open(path, &tf, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    return nn_weights_wrap(tf, path, k, out, err, errlen);
}

void nn_weights_close(nn_weights *ws)
{
    size_t i;

    if (ws == NULL)
        return;
    for (i = 0; i < ws->n_owned; i++) {
        if (ws->owned[i].backend)
            nn_free(ws->k, ws->owned[i].p);
        else
            free(ws->owned[i].p);
    }
    free(ws->owned);
    free(ws->marks);
    free(ws->path);
    nn_tensor_file_close(ws->tf);
    free(ws);
}

const char *nn_weights_path(const nn_weights *ws)
{
    return ws != NULL ? ws->path : NULL;
}

const nn_tensor_file *nn_weights_file(const nn_weights *ws)
{
    return ws != NULL ? ws->tf : NULL;
}

nn_ctx *nn_weights_ctx(const nn_weights *ws)
{
    return ws != NULL ? ws->k : NULL;
}

void nn_weights_set_prefix(nn_weights *ws, const char *prefix)
{
    if (ws != NULL)
        snprintf(ws->prefix, sizeof ws->prefix, "%s", prefix != NULL ? prefix : "");
}

/* ---- errors ----------------------------------------------------------- */

static int vfail(nn_weights *ws, int rc, const char *fmt, va_list ap)
{
    if (ws->rc == SAMSEP_OK) {
        ws->rc = rc;
        vsnprintf(ws->err, sizeof ws->err, fmt, ap);
    }
    return rc;
}

int nn_weights_fail(nn_weights *ws, int rc, const char *fmt, ...)
{
    va_list ap;

    if (ws == NULL)
        return rc;
    va_start(ap, fmt);
    vfail(ws, rc, fmt, ap);
    va_end(ap);
    return rc;
}

int nn_weights_status(nn_weights *ws, char *err, size_t errlen)
{
    int rc;

    if (ws == NULL) {
        set_err(err, errlen, "no weights");
        return SAMSEP_ERR_INVALID;
    }
    rc = ws->rc;
    if (rc != SAMSEP_OK)
        set_err(err, errlen, "%s", ws->err);
    ws->rc = SAMSEP_OK;
    return rc;
}

/* ---- lookup ----------------------------------------------------------- */

static const nn_tensor *lookup(const nn_weights *ws, const char *name, char *full,
                               size_t fulllen)
{
    if ((size_t)snprintf(full, fulllen, "%s%s", ws->prefix, name) >= fulllen)
        return NULL;
    return nn_tensor_file_find(ws->tf, full);
}

const nn_tensor *nn_weights_find(const nn_weights *ws, const char *name)
{
    char full[NAME_MAX_LEN];

    if (ws == NULL || name == NULL)
        return NULL;
    return lookup(ws, name, full, sizeof full);
}

const nn_tensor *nn_weights_findf(const nn_weights *ws, const char *fmt, ...)
{
    char name[NAME_MAX_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return nn_weights_find(ws, name);
}

static void shape_str(char *s, size_t n, int ndim, const int64_t *d)
{
    size_t p = 0;
    int i;

    s[0] = '\0';
    for (i = 0; i < ndim && p < n; i++) {
        if (d[i] == NN_ANY)
            p += (size_t)snprintf(s + p, n - p, "%s*", i ? ", " : "");
        else
            p += (size_t)snprintf(s + p, n - p, "%s%lld", i ? ", " : "", (long long)d[i]);
    }
}

/* The tensor `name` if it has shape dims; else NULL with the error kept. */
static const nn_tensor *checked(nn_weights *ws, const char *name, nn_dims dims)
{
    char full[NAME_MAX_LEN], want[128], got[128];
    const nn_tensor *t;
    int i, ok;

    if (ws->rc != SAMSEP_OK)
        return NULL;
    t = lookup(ws, name, full, sizeof full);
    if (t == NULL) {
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT, "missing tensor %s", full);
        return NULL;
    }
    ok = t->ndim == dims.n;
    for (i = 0; ok && i < dims.n; i++)
        ok = dims.d[i] == NN_ANY ? t->shape[i] >= 1 : t->shape[i] == dims.d[i];
    if (!ok) {
        shape_str(want, sizeof want, dims.n, dims.d);
        shape_str(got, sizeof got, t->ndim, t->shape);
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT,
                        "tensor %s has shape [%s] where [%s] is "
                        "expected (the weights and the model's config do not match)",
                        full, got, want);
        return NULL;
    }
    return t;
}

static void mark(nn_weights *ws, const nn_tensor *t, unsigned char m)
{
    int i = nn_tensor_file_index(ws->tf, t);

    if (i >= 0)
        ws->marks[i] |= m;
}

/* ---- memory ----------------------------------------------------------- */

/* Keep p until close (backend: nn_alloc'd, else malloc'd); frees it and
 * returns NULL when the list cannot grow. */
static void *own(nn_weights *ws, void *p, int backend)
{
    if (p == NULL) {
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
        return NULL;
    }
    if (ws->n_owned == ws->cap_owned) {
        size_t cap = ws->cap_owned ? 2 * ws->cap_owned : 64;
        owned_mem *o = realloc(ws->owned, cap * sizeof *o);

        if (o == NULL) {
            if (backend)
                nn_free(ws->k, p);
            else
                free(p);
            nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
            return NULL;
        }
        ws->owned = o;
        ws->cap_owned = cap;
    }
    ws->owned[ws->n_owned].p = p;
    ws->owned[ws->n_owned].backend = backend;
    ws->n_owned++;
    return p;
}

/* A backend copy of bytes of host memory, owned by ws. */
static void *upload(nn_weights *ws, const void *host, size_t bytes)
{
    void *d = own(ws, nn_alloc(ws->k, bytes), 1);
    int rc;

    if (d == NULL)
        return NULL;
    rc = nn_upload(ws->k, d, host, bytes);
    if (rc != SAMSEP_OK) {
        nn_weights_fail(ws, rc, "cannot upload weights of %s: %s", ws->path,
                        samsep_strerror(rc));
        return NULL;
    }
    return d;
}

static float *host_f32(const nn_tensor *t)
{
    float *p = malloc((size_t)(t->numel > 0 ? t->numel : 1) * sizeof *p);

    if (p != NULL)
        nn_tensor_to_f32(t, p);
    return p;
}

/* Round n host floats (taken over) to bf16 once, in memory of the
 * backend owned by ws. */
static const uint16_t *adopt_bf16(nn_weights *ws, float *host, int64_t n)
{
    uint16_t *h;
    const void *d;
    int64_t i;

    if (ws->rc != SAMSEP_OK || host == NULL) {
        free(host);
        if (ws->rc == SAMSEP_OK)
            nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
        return NULL;
    }
    if (n < 1)
        n = 1;
    h = malloc((size_t)n * sizeof *h);
    if (h == NULL) {
        free(host);
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
        return NULL;
    }
    for (i = 0; i < n; i++)
        h[i] = nn_bf16_from_f32(host[i]);
    free(host);
    if (ws->host)
        return own(ws, h, 0);
    d = upload(ws, h, (size_t)n * sizeof *h);
    free(h);
    return d;
}

/* ---- weights ---------------------------------------------------------- */

const void *nn_weight(nn_weights *ws, const char *name, nn_dims dims, nn_dtype dtype)
{
    const nn_tensor *t;

    if (ws == NULL || name == NULL)
        return NULL;
    t = checked(ws, name, dims);
    if (t == NULL)
        return NULL;
    if (t->dtype == dtype) {
        if (ws->host) {
            mark(ws, t, MARK_IN_PLACE);
            return t->data;
        }
        mark(ws, t, MARK_COPIED);
        return upload(ws, t->data, (size_t)t->numel * nn_dtype_size(dtype));
    }
    if (dtype != NN_F32 && dtype != NN_BF16) {
        nn_weights_fail(ws, SAMSEP_ERR_FORMAT,
                        "tensor %s%s is %s; it cannot be used as %s", ws->prefix, name,
                        nn_dtype_name(t->dtype), nn_dtype_name(dtype));
        return NULL;
    }
    mark(ws, t, MARK_COPIED);
    if (dtype == NN_BF16) {
        const void *w = adopt_bf16(ws, host_f32(t), t->numel);
        int i = nn_tensor_file_index(ws->tf, t);

        /* give the float32 pages back now, not at nn_weights_trim(): the
         * peak while loading stays near the bf16 size */
        if (i >= 0 && ws->marks[i] == MARK_COPIED)
            nn_tensor_file_release_tensor(ws->tf, t);
        return w;
    }
    return nn_weight_adopt(ws, host_f32(t), t->numel);
}

const float *nn_weightf(nn_weights *ws, nn_dims dims, const char *fmt, ...)
{
    char name[NAME_MAX_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return nn_weight(ws, name, dims, NN_F32);
}

float *nn_weight_host(nn_weights *ws, const char *name, nn_dims dims)
{
    const nn_tensor *t;
    float *p;

    if (ws == NULL || name == NULL)
        return NULL;
    t = checked(ws, name, dims);
    if (t == NULL)
        return NULL;
    mark(ws, t, MARK_COPIED);
    p = host_f32(t);
    if (p == NULL)
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
    return p;
}

const float *nn_weight_adopt(nn_weights *ws, float *host, int64_t n)
{
    const float *d;

    if (ws == NULL || ws->rc != SAMSEP_OK || n < 0) {
        free(host);
        return NULL;
    }
    if (ws->host)
        return own(ws, host, 0);
    if (host == NULL) {
        nn_weights_fail(ws, SAMSEP_ERR_NOMEM, "out of memory loading %s", ws->path);
        return NULL;
    }
    d = upload(ws, host, (size_t)(n > 0 ? n : 1) * sizeof(float));
    free(host);
    return d;
}

float *nn_weight_alloc(nn_weights *ws, int64_t n)
{
    if (ws == NULL || ws->rc != SAMSEP_OK || n < 0)
        return NULL;
    return own(ws, nn_alloc_f32(ws->k, n), 1);
}

void nn_weights_trim(nn_weights *ws)
{
    int i;

    if (ws == NULL)
        return;
    for (i = 0; i < nn_tensor_file_count(ws->tf); i++)
        if (ws->marks[i] == MARK_COPIED)
            nn_tensor_file_release_tensor(ws->tf, nn_tensor_file_at(ws->tf, i));
}

/* ---- matrices in the model's precision -------------------------------- */

nn_precision nn_weights_precision(const nn_weights *ws)
{
    return ws != NULL ? ws->precision : NN_PRECISION_F32;
}

nn_w nn_wmat(nn_weights *ws, nn_dims dims, const char *fmt, ...)
{
    char name[NAME_MAX_LEN];
    va_list ap;
    nn_w w = { NULL, 0 };

    if (ws == NULL)
        return w;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    w.bf16 = ws->precision == NN_PRECISION_BF16;
    w.data = nn_weight(ws, name, dims, w.bf16 ? NN_BF16 : NN_F32);
    return w;
}

nn_w nn_wmat_adopt(nn_weights *ws, float *host, int64_t n)
{
    nn_w w = { NULL, 0 };

    if (ws == NULL) {
        free(host);
        return w;
    }
    w.bf16 = ws->precision == NN_PRECISION_BF16;
    w.data = w.bf16 ? (const void *)adopt_bf16(ws, host, n)
                    : (const void *)nn_weight_adopt(ws, host, n);
    return w;
}
