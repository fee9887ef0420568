/*
 * npy.h - read NumPy .npy files of little-endian float32 in C order, the
 * format of the reference tensors the model tests compare against.
 *
 * Format versions 1.0, 2.0 and 3.0 are read; the header dictionary must say
 * 'descr': '<f4' and 'fortran_order': False, the shape must have at most 8
 * dimensions, and the file must hold exactly the bytes the shape needs.
 */
#ifndef SAMSEP_TOOLS_NPY_H
#define SAMSEP_TOOLS_NPY_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

/*
 * Load `path`. On success returns 0 with *data a malloc'd array of the
 * product of shape[0..*ndim) floats (the caller frees it; never NULL, even
 * for an empty array) and shape/ndim filled (ndim 0 for a scalar). On
 * failure returns a negative samsep_status (SAMSEP_ERR_IO, SAMSEP_ERR_FORMAT,
 * SAMSEP_ERR_NOMEM) with err naming the file and the problem, and *data NULL.
 */
int npy_load(const char *path, float **data /* OUT */,
             int64_t shape[NPY_MAX_DIMS] /* OUT */, int *ndim /* OUT */, char *err,
             size_t errlen);

#endif
