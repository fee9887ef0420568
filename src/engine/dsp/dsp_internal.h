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
 */
#ifndef SAMSEP_DSP_INTERNAL_H
#define SAMSEP_DSP_INTERNAL_H

#include <stddef.h>

typedef struct dsp_processor {
    const char *name;
    /* STFT frame length, in samples, the processor wants at `rate`; a value
     * from dsp_stft_frame_length(). 0 means the rate is not supported. */
    int (*frame_length)(int rate);
    /* Make the state of one channel for frames of `len` samples, hop len/4,
     * at `rate`. Returns SAMSEP_OK or a negative samsep_status. */
    int (*create)(int rate, int len, void **state /* OUT */);
    /* One frame: power[k] = |X_k|^2 for the bins = len/2 + 1 bins of the
     * windowed frame; writes gain[k] in [0, 1]. */
    void (*gains)(void *state, const float *power, float *gain, int bins);
    /* Release a state; NULL is a no-op. */
    void (*destroy)(void *state);
} dsp_processor;

/* Speech enhancement (speech.c). */
extern const dsp_processor dsp_proc_speech;

#endif
