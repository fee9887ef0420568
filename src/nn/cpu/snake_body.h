/*
 * snake_body.h - one row of the Snake activation, y = x + inv * sin(al x)^2,
 * written so that the compiler vectorises it for the ISA of the file that
 * includes it (gemm_avx2.c, gemm_avx512.c, built with -O3): the codec runs
 * Snake on every sample of every channel, and libm's sinf, one call per
 * element, cost more there than the convolutions' products.
 *
 * sin is Cephes' single-precision sinf (range reduction by pi/4 in three
 * parts, then the sine or cosine polynomial of the octant), within 2 ulp of
 * the exact value for |al x| < 8192; only the square is needed, so the
 * sign is dropped. Larger arguments (never met in a real signal) are
 * redone with libm's sinf in a second pass.
 */
#ifndef SNAKE_FN
#error "define SNAKE_FN before including snake_body.h"
#endif

#include <math.h>

void SNAKE_FN(const float *x, float *y, int64_t n, float al, float inv)
{
    int64_t t;
    int big = 0;

    for (t = 0; t < n; t++) {
        float v = al * x[t], ax = fabsf(v);
        /* NaN and huge values reduced as 0 here (the cast needs a number
         * in range), redone below or NaN anyway through x[t] */
        float ar = ax <= 8192.0f ? ax : 0.0f;
        int j = (int)(ar * 1.27323954473516f); /* 4 / pi */
        float yj, r, z, sp, cp, s;
        j += j & 1;
        yj = (float)j;
        r = ((ar - yj * 0.78515625f) - yj * 2.4187564849853515625e-4f) -
            yj * 3.77489497744594108e-8f;
        z = r * r;
        sp = ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f) * z * r +
             r;
        cp = ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z +
              4.166664568298827e-2f) *
                 z * z -
             0.5f * z + 1.0f;
        s = (j & 2) ? cp : sp;
        y[t] = x[t] + inv * (s * s);
        big |= ax > 8192.0f;
    }
    if (big)
        for (t = 0; t < n; t++)
            if (fabsf(al * x[t]) > 8192.0f) {
                float s = sinf(al * x[t]);
                y[t] = x[t] + inv * (s * s);
            }
}
