/*
 * sisdr_core.h - scale-invariant signal-to-distortion ratio.
 *
 * SI-SDR as defined by Le Roux, Wisdom, Erdogan and Hershey ("SDR -
 * half-baked or well done?", ICASSP 2019), with both signals made zero-mean
 * first: with r, e the zero-mean reference and estimate and
 * a = <e, r> / <r, r>, SI-SDR = 10 log10(|a r|^2 / |a r - e|^2) dB.
 * All sums are accumulated in double. The distortion |a r - e|^2 is summed
 * in a second pass over the samples rather than expanded from the first
 * pass's sums, which would cancel catastrophically for good estimates.
 * Used by tools/sisdr and its tests.
 */
#ifndef SAMSEP_SISDR_CORE_H
#define SAMSEP_SISDR_CORE_H

#include <stdint.h>

/*
 * SI-SDR in dB of `est` against `ref`, both of n samples.
 * +INFINITY when nothing but a multiple of the reference is left in the
 * estimate (e.g. est == ref, or est == 2 * ref); -INFINITY when the
 * estimate has no component along the reference (e.g. silence); NAN when
 * n <= 0, a pointer is NULL, or the reference is constant (zero after its
 * mean is removed).
 */
double sisdr(const float *ref, const float *est, int64_t n);

/*
 * The same for signals too long to hold at once, in two passes over the
 * same samples in the same blocks:
 *   sisdr_acc_init(&a);
 *   for each block: sisdr_acc_sums(&a, ref, est, n);     pass 1
 *   for each block: sisdr_acc_error(&a, ref, est, n);    pass 2
 *   value = sisdr_acc_value(&a);
 * sisdr_acc_value() gives NAN until pass 2 has begun, and otherwise the
 * values sisdr() would give.
 */
typedef struct sisdr_acc {
    int64_t n;               /* samples of pass 1 */
    double sr, se, srr, ser; /* pass 1: sums of r, e, r*r, e*r */
    double err;              /* pass 2: sum of (e0 - a r0)^2 */
    int pass2;               /* 1 once pass 2 has begun */
    double mr, me, a, r0r0;  /* fixed when pass 2 begins */
} sisdr_acc;

void sisdr_acc_init(sisdr_acc *acc);
void sisdr_acc_sums(sisdr_acc *acc, const float *ref, const float *est, int64_t n);
void sisdr_acc_error(sisdr_acc *acc, const float *ref, const float *est, int64_t n);
double sisdr_acc_value(const sisdr_acc *acc);

#endif
