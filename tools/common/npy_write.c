/*
 * npy_write.c - see npy_write.h. The header is the dict numpy itself
 * writes, "{'descr': '<f4', 'fortran_order': False, 'shape': (...), }",
 * space-padded and ended by a newline so that the data starts on a
 * 64-byte boundary (numpy's alignment). Data goes out in chunks converted
 * to little-endian bytes, so big-endian hosts write the same file.
 */
#include "npy_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

#define NPY_WRITE_MAX_DIMS 8
#define CHUNK 4096

static int io_status(int e)
{
#ifdef EDQUOT
    if (e == EDQUOT)
        return SAMSEP_ERR_NOSPACE;
#endif
    return e == ENOSPC ? SAMSEP_ERR_NOSPACE : SAMSEP_ERR_IO;
}

int npy_save(const char *path, const float *data, const int64_t *shape, int ndim,
             char *err, size_t errlen)
{
    char header[512];
    unsigned char buf[CHUNK * 4];
    size_t len, total, i, j;
    int64_t numel = 1;
    int d, e;
    FILE *f;

    if (path == NULL || (ndim > 0 && shape == NULL) || ndim < 0 ||
        ndim > NPY_WRITE_MAX_DIMS) {
        set_err(err, errlen, "npy_save: invalid arguments");
        return SAMSEP_ERR_INVALID;
    }
    for (d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && numel > INT64_MAX / 4 / shape[d])) {
            set_err(err, errlen, "%s: invalid shape", path);
            return SAMSEP_ERR_INVALID;
        }
        numel *= shape[d];
    }
    if (numel > 0 && data == NULL) {
        set_err(err, errlen, "npy_save: NULL data");
        return SAMSEP_ERR_INVALID;
    }

    /* magic (6) + version (2) + header length (2) + dict */
    len = (size_t)snprintf(header, sizeof header,
                           "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (d = 0; d < ndim; d++)
        len += (size_t)snprintf(header + len, sizeof header - len, "%s%" PRId64,
                                d ? ", " : "", shape[d]);
    len += (size_t)snprintf(header + len, sizeof header - len, "%s), }",
                            ndim == 1 ? "," : "");
    total = ((10 + len + 1 + 63) / 64) * 64;
    while (10 + len + 1 < total)
        header[len++] = ' ';
    header[len++] = '\n';

    f = fopen(path, "wb");
    if (f == NULL) {
        e = errno;
        set_err(err, errlen, "%s: cannot create: %s", path, strerror(e));
        return io_status(e);
    }
    buf[0] = 0x93;
    memcpy(buf + 1, "NUMPY", 5);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (unsigned char)(len & 0xff);
    buf[9] = (unsigned char)(len >> 8);
    if (fwrite(buf, 1, 10, f) != 10 || fwrite(header, 1, len, f) != len)
        goto fail;
    for (i = 0; i < (size_t)numel; i += CHUNK) {
        size_t n = (size_t)numel - i < CHUNK ? (size_t)numel - i : CHUNK;
        for (j = 0; j < n; j++) {
            uint32_t u;
            memcpy(&u, &data[i + j], 4);
            buf[4 * j] = (unsigned char)u;
            buf[4 * j + 1] = (unsigned char)(u >> 8);
            buf[4 * j + 2] = (unsigned char)(u >> 16);
            buf[4 * j + 3] = (unsigned char)(u >> 24);
        }
        if (fwrite(buf, 4, n, f) != n)
            goto fail;
    }
    if (fflush(f) != 0)
        goto fail;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    return SAMSEP_OK;
fail:
    e = errno;
    if (f != NULL)
        fclose(f);
    remove(path);
    set_err(err, errlen, "%s: write failed: %s", path, strerror(e));
    return io_status(e);
}
