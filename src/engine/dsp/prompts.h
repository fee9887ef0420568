/*
 * prompts.h - the dsp engine's prompt vocabulary.
 *
 * A prompt is a word or short phrase ("Speech", "the drums", "a woman
 * talking", "50 Hz hum") that selects one of a few modes. The words live in
 * one table (prompts.c), which also serves samsep_dsp_prompt() and the
 * "unknown prompt" message, so what is listed is exactly what is understood.
 */
#ifndef SAMSEP_DSP_PROMPTS_H
#define SAMSEP_DSP_PROMPTS_H

#include <stddef.h>

typedef enum dsp_mode {
    DSP_MODE_SPEECH = 0, /* speech enhancement */
    DSP_MODE_NOISE,      /* its complement */
    DSP_MODE_MUSIC,      /* harmonic part of a harmonic/percussive split */
    DSP_MODE_DRUMS,      /* percussive part */
    DSP_MODE_VOCALS,     /* centre (stereo) or non-repeating foreground (mono) */
    DSP_MODE_HUM,        /* mains hum and its harmonics */
    DSP_MODE_COUNT
} dsp_mode;

/*
 * The mode a prompt selects, or -1 when it is not understood. NULL, empty or
 * blank selects DSP_MODE_SPEECH. Matching ignores ASCII case, punctuation,
 * extra blanks, the articles "the", "a" and "an", a plural -s, and a leading
 * "who" word ("man", "woman", "people", "male", ...) before a verb or noun
 * the table knows ("woman singing" is "singing", "man speaking" is
 * "speaking"). Locale-independent.
 */
int dsp_prompt_mode(const char *prompt);

/* The keyword of a mode ("speech", ...), or NULL out of range. */
const char *dsp_mode_keyword(int mode);

/*
 * The "unknown prompt" message: names the prompt (trimmed, at most 200
 * bytes of it), lists every word of the table and says that free text needs
 * the sam-audio engine. Truncated to errlen; err may be NULL.
 */
void dsp_prompt_unknown_message(const char *prompt, char *err, size_t errlen);

#endif
