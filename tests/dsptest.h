/*
 * dsptest.h - what the dsp engine's test suites share: a small seeded
 * generator, and the engine run the way the pipeline runs it (blocks of
 * any size, latency fed as trailing zeros and dropped from the front).
 */
#ifndef SAMSEP_DSPTEST_H
#define SAMSEP_DSPTEST_H

#include <stdint.h>

typedef struct rng {
    uint64_t s;
} rng;

/* xorshift64*; seed with a nonzero s. */
uint64_t rng_next(rng *r);
/* Uniform in [-1, 1). */
double rng_uniform(rng *r);

/*
 * Separate n interleaved frames of `in` with the dsp engine and `prompt`,
 * feeding blocks of `block` frames (0: sizes drawn at random from 1..4096
 * with `seed`), then `latency` zero frames, and dropping the first
 * `latency` outputs, so out[i] belongs to in[i]. Returns the latency.
 * Fails the running cmocka test on any error.
 */
int64_t run_engine(const char *prompt, int rate, int channels, const float *in,
                   float *out, int64_t n, int64_t block, uint64_t seed);

#endif
