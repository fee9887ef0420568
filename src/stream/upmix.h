/*
 * upmix.h - the input's channels for the outputs of an engine that works in
 * mono.
 *
 * An engine that separates mono audio gives a mono target of the mono
 * mixture. This stage makes a target of every channel of the input from it:
 * per time-frequency bin, the mask M = |T| / |X| of the mono target T over
 * the mono mixture X, limited to [0, 1] (0 where the mixture's bin is
 * silent), is applied to each channel's spectrum. The pipeline then takes
 * each channel's residual as that channel's mixture minus its target, so
 * target + residual is the input, channel by channel.
 *
 * It runs on the stream at the file's rate, after the engine's chunks are
 * joined, so chunk boundaries play no part; memory is a few frames of the
 * STFT, whatever the length of the file.
 */
#ifndef SAMSEP_UPMIX_H
#define SAMSEP_UPMIX_H

#include <stdint.h>

#include "stream/fifo.h"

typedef struct upmix upmix;

/* Frame length of the stage's STFT, in seconds (a hop of a quarter of it). */
#define UPMIX_FRAME_SECONDS 0.0464

/*
 * Make the stage for `channels` (>= 1) interleaved channels at `rate` Hz.
 * Returns SAMSEP_OK, SAMSEP_ERR_INVALID (a rate or channel count it cannot
 * take) or SAMSEP_ERR_NOMEM; *out is NULL on failure.
 */
int upmix_create(int rate, int channels, upmix **out /* OUT */);

/* Release the stage; NULL is a no-op. */
void upmix_destroy(upmix *u);

/*
 * Push `n` frames: m and t the mono mixture and the mono target (n floats
 * each), x the mixture's `channels` channels (n frames, interleaved); a NULL
 * pointer stands for silence. Appends to `out` (a fifo of `channels`) the
 * target frames now complete, in order from the first frame pushed: they
 * trail the input by the STFT's delay, which upmix_finish() hands out.
 * Returns 0, or -1 when `out` cannot grow.
 */
int upmix_push(upmix *u, const float *m, const float *t, const float *x, int64_t n,
               fifo *out);

/* After the last push: append the target frames still held, so that `out`
 * has received exactly as many frames as were pushed. Returns 0 or -1. */
int upmix_finish(upmix *u, fifo *out);

#endif
