/*
 * tensorfile.c - nn_tensor_file_open() and the format-independent half of
 * tensors.h: the file is mapped read-only once, the format is told from its
 * first bytes ("PK" for the zip archive torch.save writes, a little-endian
 * header length followed by '{' for safetensors), and the reader for that
 * format fills in the tensors. Afterwards names are sorted once so that
 * lookups are a binary search and duplicates are refused.
 *
 * The mapping stays until nn_tensor_file_close(), so tensor data points into
 * it without copies. A file truncated by someone else while it is mapped
 * would fault on access; that is the usual contract of memory-mapped model
 * files (GGUF, safetensors) and is not defended against here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "nn/io/tensorfile.h"

void *nn_tf_alloc(nn_tensor_file *tf, size_t size)
{
    void *p;

    if (tf->n_owned == tf->owned_cap) {
        size_t cap = tf->owned_cap < 16 ? 16 : tf->owned_cap * 2;
        void **o = realloc(tf->owned, cap * sizeof *o);

        if (o == NULL)
            return NULL;
        tf->owned = o;
        tf->owned_cap = cap;
    }
    p = calloc(1, size > 0 ? size : 1);
    if (p != NULL)
        tf->owned[tf->n_owned++] = p;
    return p;
}

char *nn_tf_strdup(nn_tensor_file *tf, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = nn_tf_alloc(tf, n);

    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

int nn_tf_set_data(nn_tensor_file *tf, nn_tensor *t, const uint8_t *p)
{
    size_t es = nn_dtype_size(t->dtype), n = (size_t)t->numel * es;
    void *copy;

    if ((uintptr_t)p % es == 0) {
        t->data = p;
        return 0;
    }
    copy = nn_tf_alloc(tf, n);
    if (copy == NULL)
        return SAMSEP_ERR_NOMEM;
    memcpy(copy, p, n);
    t->data = copy;
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const nn_tensor *ta = *(const nn_tensor *const *)a,
                    *tb = *(const nn_tensor *const *)b;

    return strcmp(ta->name, tb->name);
}

static int index_names(nn_tensor_file *tf, char *err, size_t errlen)
{
    int i;

    tf->sorted =
        nn_tf_alloc(tf, (size_t)(tf->count > 0 ? tf->count : 1) * sizeof *tf->sorted);
    if (tf->sorted == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    for (i = 0; i < tf->count; i++)
        tf->sorted[i] = &tf->tensors[i];
    qsort(tf->sorted, (size_t)tf->count, sizeof *tf->sorted, cmp_tensor_name);
    for (i = 1; i < tf->count; i++) {
        if (strcmp(tf->sorted[i - 1]->name, tf->sorted[i]->name) == 0) {
            set_err(err, errlen, "two tensors are named '%s'", tf->sorted[i]->name);
            return SAMSEP_ERR_FORMAT;
        }
    }
    return 0;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;

    memcpy(&b, &one, 1);
    return b == 1;
}

/* Read the tensors of tf->base[0..len); the message does not name the file. */
static int read_any(nn_tensor_file *tf, char *err, size_t errlen)
{
    const uint8_t *b = tf->base;
    int rc;

    if (tf->len < 8) {
        set_err(err, errlen, "too short to be a model file (%zu bytes)", tf->len);
        return SAMSEP_ERR_FORMAT;
    }
    if (!host_is_little_endian()) {
        set_err(err, errlen, "model files are little-endian and this host is not");
        return SAMSEP_ERR_FORMAT;
    }
    if (tf->len >= 4 && b[0] == 'P' && b[1] == 'K' &&
        ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6))) {
        tf->kind = "pytorch";
        rc = nn_checkpoint_read(tf, err, errlen);
    } else if (tf->len >= 9 && b[8] == '{' && b[6] == 0 && b[7] == 0) {
        tf->kind = "safetensors";
        rc = nn_safetensors_read(tf, err, errlen);
    } else {
        set_err(err, errlen,
                "neither a PyTorch checkpoint (zip archive) nor a "
                "safetensors file");
        return SAMSEP_ERR_FORMAT;
    }
    if (rc != 0)
        return rc;
    return index_names(tf, err, errlen);
}

static int open_bytes(nn_tensor_file *tf, const char *name, nn_tensor_file **out,
                      char *err, size_t errlen)
{
    char msg[1024];
    int rc;

    msg[0] = '\0';
    rc = read_any(tf, msg, sizeof msg);
    if (rc != 0) {
        set_err(err, errlen, "%s: %s", name, msg);
        nn_tensor_file_close(tf);
        return rc;
    }
    *out = tf;
    return 0;
}

int nn_tensor_file_open_memory(const void *data, size_t len, const char *name,
                               nn_tensor_file **out, char *err, size_t errlen)
{
    nn_tensor_file *tf;

    *out = NULL;
    tf = calloc(1, sizeof *tf);
    if (tf == NULL) {
        set_err(err, errlen, "%s: out of memory", name);
        return SAMSEP_ERR_NOMEM;
    }
    tf->base = data;
    tf->len = len;
    return open_bytes(tf, name, out, err, errlen);
}

int nn_tensor_file_open(const char *path, nn_tensor_file **out, char *err, size_t errlen)
{
    nn_tensor_file *tf;
    struct stat st;
    void *map;
    int fd;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return SAMSEP_ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return SAMSEP_ERR_IO;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "%s: not a regular file", path);
        close(fd);
        return SAMSEP_ERR_IO;
    }
    if (st.st_size < 8) {
        set_err(err, errlen, "%s: too short to be a model file (%lld bytes)", path,
                (long long)st.st_size);
        close(fd);
        return SAMSEP_ERR_FORMAT;
    }
    if ((uintmax_t)st.st_size > SIZE_MAX) {
        set_err(err, errlen, "%s: too large to map", path);
        close(fd);
        return SAMSEP_ERR_IO;
    }
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        set_err(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return SAMSEP_ERR_IO;
    }
    tf = calloc(1, sizeof *tf);
    if (tf == NULL) {
        munmap(map, (size_t)st.st_size);
        set_err(err, errlen, "%s: out of memory", path);
        return SAMSEP_ERR_NOMEM;
    }
    tf->map = map;
    tf->map_len = (size_t)st.st_size;
    tf->base = map;
    tf->len = (size_t)st.st_size;
    return open_bytes(tf, path, out, err, errlen);
}

void nn_tensor_file_release_tensor(nn_tensor_file *tf, const nn_tensor *t)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), bytes, start, end;
    const uint8_t *map, *d;

    if (tf == NULL || t == NULL || tf->map == NULL || page == 0)
        return;
    map = tf->map;
    d = t->data;
    bytes = (size_t)t->numel * nn_dtype_size(t->dtype);
    if (d < map || d + bytes > map + tf->map_len)
        return;
    /* only whole pages inside the tensor: neighbours stay resident */
    start = ((size_t)(d - map) + page - 1) / page * page;
    end = ((size_t)(d - map) + bytes) / page * page;
    if (end > start)
        (void)madvise((void *)(map + start), end - start, MADV_DONTNEED);
}

void nn_tensor_file_release(nn_tensor_file *tf, const char *prefix)
{
    size_t plen;
    int i;

    if (tf == NULL || prefix == NULL)
        return;
    plen = strlen(prefix);
    for (i = 0; i < tf->count; i++)
        if (strncmp(tf->tensors[i].name, prefix, plen) == 0)
            nn_tensor_file_release_tensor(tf, &tf->tensors[i]);
}

void nn_tensor_file_close(nn_tensor_file *tf)
{
    size_t i;

    if (tf == NULL)
        return;
    for (i = 0; i < tf->n_owned; i++)
        free(tf->owned[i]);
    free(tf->owned);
    if (tf->map != NULL)
        munmap(tf->map, tf->map_len);
    free(tf);
}

const char *nn_tensor_file_kind(const nn_tensor_file *tf)
{
    return tf->kind;
}

int nn_tensor_file_count(const nn_tensor_file *tf)
{
    return tf->count;
}

const nn_tensor *nn_tensor_file_at(const nn_tensor_file *tf, int index)
{
    return index >= 0 && index < tf->count ? &tf->tensors[index] : NULL;
}

int nn_tensor_file_index(const nn_tensor_file *tf, const nn_tensor *t)
{
    uintptr_t p = (uintptr_t)t, b;

    if (tf == NULL || t == NULL)
        return -1;
    b = (uintptr_t)tf->tensors;
    if (p < b || (p - b) % sizeof *t != 0 || (p - b) / sizeof *t >= (size_t)tf->count)
        return -1;
    return (int)((p - b) / sizeof *t);
}

const nn_tensor *nn_tensor_file_find(const nn_tensor_file *tf, const char *name)
{
    int lo = 0, hi = tf->count;

    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, tf->sorted[mid]->name);

        if (c == 0)
            return tf->sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t nn_dtype_size(nn_dtype dt)
{
    return dt == NN_F32 ? 4 : 2;
}

const char *nn_dtype_name(nn_dtype dt)
{
    switch (dt) {
    case NN_F32: return "F32";
    case NN_F16: return "F16";
    case NN_BF16: return "BF16";
    }
    return "?";
}

/* IEEE binary16 to binary32, exactly: every half is a float. */
static uint32_t half_bits_to_float_bits(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    int shift = 0;

    if (exp == 0x1F) /* inf, nan (payload kept) */
        return sign | 0x7F800000u | (mant << 13);
    if (exp != 0)
        return sign | ((exp + 112) << 23) | (mant << 13);
    if (mant == 0)
        return sign;
    /* Subnormal: mant * 2^-24; normalise so bit 10 is the implicit one. */
    while ((mant & 0x400u) == 0) {
        mant <<= 1;
        shift++;
    }
    return sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3FFu) << 13);
}

void nn_tensor_to_f32(const nn_tensor *t, float *out)
{
    const uint8_t *p = t->data;
    int64_t i;

    switch (t->dtype) {
    case NN_F32: memcpy(out, p, (size_t)t->numel * 4); break;
    case NN_F16:
        for (i = 0; i < t->numel; i++) {
            uint32_t b =
                half_bits_to_float_bits((uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)));

            memcpy(&out[i], &b, 4);
        }
        break;
    case NN_BF16:
        for (i = 0; i < t->numel; i++) {
            uint32_t b = ((uint32_t)p[2 * i] << 16) | ((uint32_t)p[2 * i + 1] << 24);

            memcpy(&out[i], &b, 4);
        }
        break;
    }
}
