/*
 * dsp_internal.h - what the dsp engine's parts share.
 *
 * The dsp engine (dsp.c) owns the streaming STFT of every channel and maps
 * a prompt keyword to a "processor": an algorithm that looks at one
 * channel's power spectrum frame by frame and returns a real gain per bin.
 * dsp.c applies the gain (or, for a complementary prompt such as "noise",
 * one minus the gain) to the complex spectrum, so target + complement is
 * the mixture to float rounding. A processor keeps its own per-channel
 * state, made when a stream opens; its gains() call must not allocate.
 * It may look a fixed number of frames ahead (`delay`). Algorithms that
 * need the complex spectrum or several channels at once are "spectral
 * processors" instead (dsp_spectral, below).
 */
#ifndef SAMSEP_DSP_INTERNAL_H
#define SAMSEP_DSP_INTERNAL_H

#include <stddef.h>

#include "engine/dsp/stft.h"

typedef struct dsp_processor {
    const char *name;
    /* STFT frame length, in samples, the processor wants at `rate`; a value
     * from dsp_stft_frame_length(). 0 means the rate is not supported. */
    int (*frame_length)(int rate);
    /* Frames that overlap each sample: the hop is len / overlap (2 or 4). */
    int overlap;
    /* Look-ahead, frames: gains() given frame t returns the gain of frame
     * t - delay, which dsp.c applies to that frame's spectrum, kept until
     * then (for t < delay the gain is applied to zeros). dsp.c adds
     * delay * hop to the reported latency. */
    int delay;
    /* Make the state of one channel for frames of `len` samples every `hop`
     * samples at `rate`. Returns SAMSEP_OK or a negative samsep_status. */
    int (*create)(int rate, int len, int hop, void **state /* OUT */);
    /* One frame: power[k] = |X_k|^2 for the bins = len/2 + 1 bins of the
     * windowed frame t; writes gain[k] in [0, 1] for frame t - delay. */
    void (*gains)(void *state, const float *power, float *gain, int bins);
    /* Release a state; NULL is a no-op. */
    void (*destroy)(void *state);
} dsp_processor;

/* Speech enhancement (speech.c). */
extern const dsp_processor dsp_proc_speech;

/*
 * A spectral processor: the other kind, for algorithms that need more than
 * a gain from one frame of one channel. It sees the complex spectrum of
 * every channel, may look ahead a fixed number of frames, and writes the
 * target's spectrum itself:
 *
 *  - look-ahead: the target of frame t may depend on frames up to t + delay;
 *    the processor keeps the frames it needs and, when given frame t,
 *    returns the target of frame t - delay (zeros while t < delay). dsp.c
 *    adds delay * hop to the reported latency, so outputs stay aligned.
 *  - channels jointly: for every frame t, frame() is called for channel 0,
 *    1, ..., channels - 1 in that order before any channel's frame t + 1
 *    (dsp.c runs the channels' STFTs in hop-aligned steps to make it so). A
 *    processor that combines channels does so when the last channel's frame
 *    t arrives, which is after the other channels' frame t has been handed
 *    back: it therefore needs a delay of at least 1 when channels > 1.
 *
 * The target is the output; the pipeline's residual is mixture - target, so
 * a processor folds whatever is neither target nor residual into the
 * residual by leaving it out of the target. frame() must not allocate, and
 * its result must not depend on how the input was split into calls.
 *
 * Spectral processors run at hop len / DSP_SPECTRAL_OVERLAP.
 */
#define DSP_SPECTRAL_OVERLAP 4

typedef struct dsp_spectral {
    const char *name;
    /* As dsp_processor.frame_length. */
    int (*frame_length)(int rate);
    /* State for `channels` channels of frames of `len` samples (hop
     * len / DSP_SPECTRAL_OVERLAP) at `rate`; `mode` is the dsp_mode of the
     * prompt (prompts.h). *delay (OUT) is the look-ahead in frames. Returns
     * SAMSEP_OK or a negative samsep_status. */
    int (*create)(int rate, int len, int channels, int mode, void **state /* OUT */,
                  int *delay /* OUT */);
    /* Frame t of `channel`: spec[0..bins) holds its spectrum on entry and
     * the target spectrum of frame t - delay on return. */
    void (*frame)(void *state, int channel, dsp_cplx *spec, int bins);
    /* Release a state; NULL is a no-op. */
    void (*destroy)(void *state);
} dsp_spectral;

/* Harmonic/percussive separation by median filtering (hpss.c): "music"
 * keeps the harmonic part, "drums" the percussive part. */
extern const dsp_spectral dsp_spec_hpss;
/* Mains hum and its harmonics (hum.c). */
extern const dsp_spectral dsp_spec_hum;
/* Vocals: centre extraction for stereo, repeating-background removal for
 * mono (vocals.c). */
extern const dsp_spectral dsp_spec_vocals;

#endif
