/*
 * npy_write.h - write float32 arrays as NumPy .npy files (format 1.0,
 * '<f4', C order), readable by numpy.load and by npy_load (npy.h).
 */
#ifndef SAMSEP_TOOLS_NPY_WRITE_H
#define SAMSEP_TOOLS_NPY_WRITE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Write data (the product of shape[0..ndim) floats; ndim 0..8, every
 * dimension >= 0) to `path`, replacing it. The bytes are little-endian
 * whatever the host. Returns SAMSEP_OK, SAMSEP_ERR_INVALID (bad shape or
 * NULL arguments), SAMSEP_ERR_IO or SAMSEP_ERR_NOSPACE, with err naming the
 * file; a partly written file is removed.
 */
int npy_save(const char *path, const float *data, const int64_t *shape, int ndim,
             char *err, size_t errlen);

#endif
