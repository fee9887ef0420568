/*
 * safetensors.c - the nn_tensor_file reader for HuggingFace safetensors:
 *
 *   u64 LE  N                      header length
 *   N bytes JSON                   {"name": {"dtype": "F32", "shape": [..],
 *                                   "data_offsets": [begin, end]}, ...,
 *                                   "__metadata__": {...}}
 *   ...     data                   offsets are relative to here
 *
 * The header is bounded (MAX_HEADER, and the file), parsed by cJSON, and
 * each entry checked: a supported dtype, a shape of at most NN_MAX_DIMS
 * non-negative integers whose product does not overflow, offsets that are
 * integers with begin <= end <= data size and end - begin equal to the
 * tensor's byte size, and no two tensors' bytes overlapping. Tensors then
 * point into the mapping (copied only when misaligned).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "nn/io/tensorfile.h"

#define MAX_HEADER ((uint64_t)100 * 1024 * 1024)
/* Integers above 2^53 are not exact in JSON parsers' doubles. */
#define MAX_JSON_INT 9007199254740992.0
#define MAX_NUMEL (INT64_MAX / 16)

typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

static int json_uint(const cJSON *v, uint64_t *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return -1;
    d = v->valuedouble;
    if (!(d >= 0.0 && d <= MAX_JSON_INT) || floor(d) != d)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

static int parse_dtype(const char *s, nn_dtype *dt)
{
    if (strcmp(s, "F32") == 0)
        *dt = NN_F32;
    else if (strcmp(s, "F16") == 0)
        *dt = NN_F16;
    else if (strcmp(s, "BF16") == 0)
        *dt = NN_BF16;
    else
        return -1;
    return 0;
}

static int read_entry(nn_tensor_file *tf, const cJSON *item, const uint8_t *data,
                      uint64_t data_len, nn_tensor *t, span *sp, char *err, size_t errlen)
{
    const char *name = item->string;
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL, *dim;
    uint64_t begin, end, nbytes;
    int ndim = 0;

    if (name[0] == '\0') {
        set_err(err, errlen, "a tensor has an empty name");
        return SAMSEP_ERR_FORMAT;
    }
    if (cJSON_IsObject(item)) {
        dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
        shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
        offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    }
    if (!cJSON_IsObject(item) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offs)) {
        set_err(err, errlen,
                "tensor '%s': header entry needs \"dtype\", "
                "\"shape\" and \"data_offsets\"",
                name);
        return SAMSEP_ERR_FORMAT;
    }
    if (parse_dtype(dtype->valuestring, &t->dtype) != 0) {
        set_err(err, errlen,
                "tensor '%s' has dtype %.32s; only F32, F16 and "
                "BF16 are supported",
                name, dtype->valuestring);
        return SAMSEP_ERR_FORMAT;
    }
    t->numel = 1;
    cJSON_ArrayForEach(dim, shape)
    {
        uint64_t v;

        if (ndim == NN_MAX_DIMS || json_uint(dim, &v) != 0 || v > (uint64_t)MAX_NUMEL) {
            set_err(err, errlen,
                    "tensor '%s': shape is not a list of at most "
                    "%d sizes",
                    name, NN_MAX_DIMS);
            return SAMSEP_ERR_FORMAT;
        }
        t->shape[ndim++] = (int64_t)v;
        if (v == 0 || t->numel == 0)
            t->numel = 0;
        else if ((uint64_t)t->numel > (uint64_t)MAX_NUMEL / v) {
            set_err(err, errlen, "tensor '%s' has too many elements", name);
            return SAMSEP_ERR_FORMAT;
        } else
            t->numel *= (int64_t)v;
    }
    t->ndim = ndim;
    if (cJSON_GetArraySize(offs) != 2 || json_uint(offs->child, &begin) != 0 ||
        json_uint(offs->child->next, &end) != 0 || begin > end || end > data_len) {
        set_err(err, errlen,
                "tensor '%s': data_offsets are not [begin, end] "
                "within the %llu data bytes",
                name, (unsigned long long)data_len);
        return SAMSEP_ERR_FORMAT;
    }
    nbytes = (uint64_t)t->numel * nn_dtype_size(t->dtype);
    if (end - begin != nbytes) {
        set_err(err, errlen,
                "tensor '%s': %llu data bytes for %lld elements "
                "of %s",
                name, (unsigned long long)(end - begin), (long long)t->numel,
                nn_dtype_name(t->dtype));
        return SAMSEP_ERR_FORMAT;
    }
    t->name = nn_tf_strdup(tf, name);
    if (t->name == NULL || nn_tf_set_data(tf, t, data + begin) != 0) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    sp->begin = begin;
    sp->end = end;
    sp->name = t->name;
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;

    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int check_overlaps(span *sp, int n, char *err, size_t errlen)
{
    const span *prev = NULL;
    int i;

    qsort(sp, (size_t)n, sizeof *sp, cmp_span);
    for (i = 0; i < n; i++) {
        if (sp[i].begin == sp[i].end)
            continue; /* an empty tensor shares nothing */
        if (prev != NULL && sp[i].begin < prev->end) {
            set_err(err, errlen, "tensors '%s' and '%s' share data bytes", prev->name,
                    sp[i].name);
            return SAMSEP_ERR_FORMAT;
        }
        prev = &sp[i];
    }
    return 0;
}

int nn_safetensors_read(nn_tensor_file *tf, char *err, size_t errlen)
{
    const uint8_t *b = tf->base;
    uint64_t hlen = 0, data_len;
    const cJSON *item;
    const char *end = NULL;
    cJSON *root;
    span *spans = NULL;
    int n = 0, k = 0, i, rc = 0;

    for (i = 7; i >= 0; i--)
        hlen = (hlen << 8) | b[i];
    if (hlen > MAX_HEADER || hlen > tf->len - 8) {
        set_err(err, errlen,
                "safetensors header length %llu is out of range "
                "(file of %zu bytes)",
                (unsigned long long)hlen, tf->len);
        return SAMSEP_ERR_FORMAT;
    }
    root = cJSON_ParseWithLengthOpts((const char *)b + 8, (size_t)hlen, &end, 0);
    /* Only the spaces safetensors pads the header with may follow. */
    while (root != NULL && end < (const char *)b + 8 + hlen &&
           (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (root == NULL || !cJSON_IsObject(root) || end != (const char *)b + 8 + hlen) {
        set_err(err, errlen, "safetensors header is not a JSON object");
        cJSON_Delete(root);
        return SAMSEP_ERR_FORMAT;
    }
    data_len = tf->len - 8 - hlen;
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item)) {
                set_err(err, errlen, "safetensors __metadata__ is not an object");
                rc = SAMSEP_ERR_FORMAT;
                goto out;
            }
            continue;
        }
        if (n == INT32_MAX / 2) {
            set_err(err, errlen, "too many tensors");
            rc = SAMSEP_ERR_FORMAT;
            goto out;
        }
        n++;
    }
    tf->tensors = nn_tf_alloc(tf, (size_t)(n > 0 ? n : 1) * sizeof *tf->tensors);
    spans = malloc((size_t)(n > 0 ? n : 1) * sizeof *spans);
    if (tf->tensors == NULL || spans == NULL) {
        set_err(err, errlen, "out of memory");
        rc = SAMSEP_ERR_NOMEM;
        goto out;
    }
    cJSON_ArrayForEach(item, root)
    {
        if (strcmp(item->string, "__metadata__") == 0)
            continue;
        rc = read_entry(tf, item, b + 8 + hlen, data_len, &tf->tensors[k], &spans[k], err,
                        errlen);
        if (rc != 0)
            goto out;
        k++;
    }
    rc = check_overlaps(spans, n, err, errlen);
    if (rc == 0)
        tf->count = n;

out:
    free(spans);
    cJSON_Delete(root);
    return rc;
}
