/*
 * stft.h - streaming short-time Fourier transform for the dsp engine.
 *
 * One dsp_stft is one channel's analysis/synthesis pipe: samples go in one
 * at a time (or in blocks of any size), every `hop` samples a frame of the
 * last `len` samples is windowed, transformed, handed to a callback that may
 * change its spectrum, transformed back and overlap-added. The output is the
 * input delayed by exactly len - 1 samples when the callback leaves the
 * spectrum alone (to float rounding), and it does not depend on how the
 * input is split into calls. Everything is allocated by dsp_stft_create();
 * dsp_stft_run() never allocates.
 */
#ifndef SAMSEP_DSP_STFT_H
#define SAMSEP_DSP_STFT_H

#include <stddef.h>
#include <stdint.h>

typedef struct dsp_stft dsp_stft;

/* One complex bin, laid out as FFTW's fftwf_complex: re, im. */
typedef float dsp_cplx[2];

/*
 * Called once per frame with the frame's `bins` = len/2 + 1 complex bins
 * (DC to Nyquist), which it may change in place.
 */
typedef void (*dsp_stft_frame_fn)(void *user, dsp_cplx *spec, int bins);

/*
 * Frame length, in samples, of about `seconds` at `rate`: a multiple of 4
 * (so that hops of len/2 and len/4 are exact) whose other factors are 2, 3
 * and 5 (fast FFT sizes). Returns 0 when rate or seconds is not positive or
 * too large.
 */
int dsp_stft_frame_length(int rate, double seconds);

/*
 * Make a pipe for frames of `len` samples (a positive multiple of 4, at most
 * 1 << 20) every `hop` samples, hop = len/n for a whole n >= 2. The analysis
 * and synthesis windows are both the square root of a periodic Hann window,
 * whose squares overlap-add to a constant at such hops. FFTW plans are made here (under a process-wide lock,
 * as FFTW's planner is not thread-safe). Returns SAMSEP_OK or a negative
 * samsep_status; *out is NULL on failure.
 */
int dsp_stft_create(int len, int hop, dsp_stft **out /* OUT */);

/* Release a pipe; NULL is a no-op. */
void dsp_stft_destroy(dsp_stft *stft);

int dsp_stft_len(const dsp_stft *stft);
int dsp_stft_hop(const dsp_stft *stft);
int dsp_stft_bins(const dsp_stft *stft);

/* Delay of the output behind the input, in samples: len - 1. */
int64_t dsp_stft_latency(const dsp_stft *stft);

/*
 * Push `frames` samples read from in[0], in[stride], ... and write as many
 * output samples to out[0], out[stride], ... Each sample is read before the
 * output at the same position is written, so in == out is allowed. `fn`
 * (may be NULL: identity) is called for every completed frame.
 */
void dsp_stft_run(dsp_stft *stft, const float *in, float *out, ptrdiff_t stride,
                  int64_t frames, dsp_stft_frame_fn fn, void *user);

/* Forget all history, as if just created. */
void dsp_stft_reset(dsp_stft *stft);

#endif
