/*
 * modeltest.c - see modeltest.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "modeltest.h"

void arr_load(arr *a, const char *path)
{
    char err[512];
    int i;

    if (npy_load(path, &a->d, a->shape, &a->ndim, err, sizeof err) != 0)
        fail_msg("%s", err);
    a->n = 1;
    for (i = 0; i < a->ndim; i++)
        a->n *= a->shape[i];
}

double nerr(const float *a, const float *ref, int64_t n)
{
    double m = 0.0, r = 1.0;
    int64_t i;

    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)ref[i]);

        if (!(d <= m))
            m = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > r)
            r = fabs(ref[i]);
    }
    return m / r;
}
