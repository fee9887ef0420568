/*
 * speech.h - single-channel speech enhancer of the dsp engine.
 *
 * The enhancer is a dsp_processor (see dsp_internal.h): fed the power
 * spectrum of each STFT frame, it returns a gain per bin that keeps speech
 * and attenuates noise. It is exported as dsp_proc_speech; the functions
 * below are the same operations for callers (tests) that want them by name.
 */
#ifndef SAMSEP_DSP_SPEECH_H
#define SAMSEP_DSP_SPEECH_H

#include "engine/dsp/dsp_internal.h"

typedef struct dsp_speech dsp_speech;

/* STFT frame length for `rate`: about 43 ms. 0 if the rate is unusable. */
int dsp_speech_frame_length(int rate);

/* Frames that overlap each sample: the enhancer runs at hop len / 2. */
#define DSP_SPEECH_OVERLAP 2

/* Look-ahead, frames: dsp_speech_gains() given frame t returns the gains of
 * frame t - DSP_SPEECH_DELAY (about 43 ms). */
#define DSP_SPEECH_DELAY 2

/* State for frames of `len` samples every `hop` samples (len / hop between 2
 * and 4) at `rate`. Returns SAMSEP_OK or a negative samsep_status; *out is
 * NULL on failure. */
int dsp_speech_create(int rate, int len, int hop, dsp_speech **out /* OUT */);

/* Gains for one frame, DSP_SPEECH_DELAY frames back; see
 * dsp_processor.gains. Never allocates. */
void dsp_speech_gains(dsp_speech *sp, const float *power, float *gain, int bins);

/* NULL is a no-op. */
void dsp_speech_destroy(dsp_speech *sp);

#endif
