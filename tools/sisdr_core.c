/*
 * sisdr_core.c - SI-SDR in two passes with double sums (see sisdr_core.h).
 *
 * Pass 1 gathers the means, <r0, r0> and <e0, r0> from raw sums
 * (<r0, r0> = Srr - n mr^2 and so on); pass 2 sums the distortion
 * (e - me) - a (r - mr) sample by sample, so an estimate equal to the
 * reference, or a power-of-two multiple of it, gives exactly zero
 * distortion and +inf.
 */
#include "sisdr_core.h"

#include <math.h>
#include <stddef.h>

void sisdr_acc_init(sisdr_acc *acc)
{
    acc->n = 0;
    acc->sr = acc->se = acc->srr = acc->ser = 0.0;
    acc->err = 0.0;
    acc->pass2 = 0;
    acc->mr = acc->me = acc->a = acc->r0r0 = 0.0;
}

void sisdr_acc_sums(sisdr_acc *acc, const float *ref, const float *est, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double r = ref[i], e = est[i];
        acc->sr += r;
        acc->se += e;
        acc->srr += r * r;
        acc->ser += e * r;
    }
    acc->n += n;
}

static void begin_pass2(sisdr_acc *acc)
{
    acc->pass2 = 1;
    if (acc->n <= 0)
        return;
    double n = (double)acc->n;
    acc->mr = acc->sr / n;
    acc->me = acc->se / n;
    acc->r0r0 = acc->srr - n * acc->mr * acc->mr;
    double e0r0 = acc->ser - n * acc->mr * acc->me;
    acc->a = acc->r0r0 > 0.0 ? e0r0 / acc->r0r0 : 0.0;
}

void sisdr_acc_error(sisdr_acc *acc, const float *ref, const float *est, int64_t n)
{
    if (!acc->pass2)
        begin_pass2(acc);
    const double mr = acc->mr, me = acc->me, a = acc->a;
    for (int64_t i = 0; i < n; i++) {
        double d = ((double)est[i] - me) - a * ((double)ref[i] - mr);
        acc->err += d * d;
    }
}

double sisdr_acc_value(const sisdr_acc *acc)
{
    /* Without pass 2 the distortion is unknown. */
    if (!acc->pass2 || acc->n <= 0 || !(acc->r0r0 > 0.0))
        return NAN;
    double num = acc->a * acc->a * acc->r0r0;
    if (num == 0.0)
        return -INFINITY;
    if (acc->err == 0.0)
        return INFINITY;
    return 10.0 * log10(num / acc->err);
}

double sisdr(const float *ref, const float *est, int64_t n)
{
    if (ref == NULL || est == NULL || n <= 0)
        return NAN;
    sisdr_acc acc;
    sisdr_acc_init(&acc);
    sisdr_acc_sums(&acc, ref, est, n);
    sisdr_acc_error(&acc, ref, est, n);
    return sisdr_acc_value(&acc);
}
