/*
 * modeltest.h - what the model test suites share: reference tensors from
 * .npy files, and the normalised error the MANIFEST's tolerances are stated
 * in, max|a - ref| / max(1, max|ref|), where any NaN counts as infinite so a
 * broken kernel can never pass.
 */
#ifndef SAMSEP_MODELTEST_H
#define SAMSEP_MODELTEST_H

#include <stdint.h>

#include "npy.h"

typedef struct arr {
    float *d;
    int64_t shape[NPY_MAX_DIMS];
    int ndim;
    int64_t n; /* elements */
} arr;

/* Load `path` into *a; fails the running cmocka test on any error. */
void arr_load(arr *a, const char *path);

double nerr(const float *a, const float *ref, int64_t n);

#endif
