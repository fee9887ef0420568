/*
 * sam.h - SAM-Audio separation from the official files: text prompt in,
 * target and residual waveforms out (MANIFEST §5, separate()).
 *
 * A sam_model is what is loaded once and only read afterwards: the
 * checkpoint's DAC-VAE codec and DiT, the T5 text encoder and its
 * tokenizer, their weights placed on one compute backend. A sam_state is
 * one run over it: its own kernel context (threads), the networks' working
 * buffers and the current prompt's text features. Any number of states may
 * be made from one model and used at once from different threads (two
 * engines of one process share one model's memory), as whisper.cpp's
 * context and state.
 *
 * sam_separate() runs one excerpt (a chunk, or a whole short file) of B
 * items: codec encode, the 16-step midpoint ODE from the given noise under
 * the text features of sam_set_text() (and the span prompts of
 * sam_set_anchors(), if any), and the decode of the target and
 * residual latents with the given watermark bits. Noise and bits are
 * inputs so that results can be checked against the official
 * implementation; sam_noise() and sam_message() make seeded ones. Every
 * array of this interface is host memory.
 *
 * Lifetime: a model MUST outlive its states. One thread at a time per
 * state.
 */
#ifndef SAMSEP_SAM_SAM_H
#define SAMSEP_SAM_SAM_H

#include <stddef.h>
#include <stdint.h>

#include "samsep.h"

typedef struct sam_model sam_model;
typedef struct sam_state sam_state;

/*
 * Check the model folders as sam_model_open would, without loading any
 * weights: `dir` holds a config.json whose model this code runs and a
 * checkpoint.pt (or checkpoint.safetensors); the T5 folder `t5_dir` (NULL:
 * dir/t5) holds a T5 config.json and its weights file; the tokenizer
 * `tokenizer` (a tokenizer.json or spiece.model, or a folder holding one;
 * NULL: t5_dir) is there. The weights files are only looked for, not read:
 * this is what a dry run can afford. Returns SAMSEP_OK or an error naming
 * the file and the problem.
 */
int sam_check(const char *dir, const char *t5_dir, const char *tokenizer, char *err,
              size_t errlen);

/*
 * Load the model in `dir` (config.json + checkpoint.pt, or
 * checkpoint.safetensors) with the T5 folder `t5_dir` and its tokenizer
 * `tokenizer` (NULL: as sam_check) onto the compute backend named
 * `backend` (NULL: the default, the CPU). Errors name the file and the
 * problem: missing files, a config the checkpoint does not match.
 */
int sam_model_open(const char *dir, const char *t5_dir, const char *tokenizer,
                   const char *backend, sam_model **out /* OUT */, char *err,
                   size_t errlen);
/* sam_model_open with the precision of the weights of the matrix products
 * and convolutions of the three networks: nn.h's NN_PRECISION_F32 (what
 * sam_model_open loads) or NN_PRECISION_BF16 (half the memory, results
 * within the rounding of bf16; nn.h says what stays float32). */
int sam_model_load(const char *dir, const char *t5_dir, const char *tokenizer,
                   const char *backend, int precision, sam_model **out /* OUT */,
                   char *err, size_t errlen);
void sam_model_close(sam_model *m); /* NULL allowed; no state may be left */

int sam_sample_rate(const sam_model *m);     /* 48000 */
int sam_hop(const sam_model *m);             /* samples per latent frame, 1920 */
int sam_latent_channels(const sam_model *m); /* C; the ODE state has 2C */
int sam_message_bits(const sam_model *m);    /* 16 */
/* The longest input sam_separate() takes: the transformer's positions
 * (max_positions latent frames) times the hop. */
int64_t sam_max_samples(const sam_model *m);

/*
 * A run of model m with its own kernel context of `threads` threads
 * (0 = all cores). Returns SAMSEP_OK, SAMSEP_ERR_INVALID or
 * SAMSEP_ERR_NOMEM, err set.
 */
int sam_state_create(const sam_model *m, int threads, sam_state **out /* OUT */,
                     char *err, size_t errlen);
void sam_state_destroy(sam_state *s); /* NULL allowed */

/*
 * Tokenize and encode `texts` (B of them) into text features, kept in the
 * state for the following sam_separate() calls (a prompt that does not
 * change is encoded once per batch, not per chunk). Returns the padded
 * token length L (> 0) or a negative status.
 */
int sam_set_text(sam_state *s, const char *const *texts, int batch, char *err,
                 size_t errlen);

/*
 * Span prompts (samsep_anchor, in seconds of the excerpt) of item `item`
 * (0..B-1 of the last sam_set_text) for the following sam_separate()
 * calls, copied; n = 0 removes them. sam_set_text removes every item's.
 * Returns SAMSEP_OK or SAMSEP_ERR_INVALID (no such item, more than
 * SAM_MAX_ANCHORS, a sign not '+' or '-', not 0 <= start < end).
 */
#define SAM_MAX_ANCHORS 4096
int sam_set_anchors(sam_state *s, int item, const samsep_anchor *anchors, int n,
                    char *err, size_t errlen);

/*
 * What the official processor (Batch.process_anchors) makes of one item's
 * n spans over T latent frames of which the first `valid` hold audio:
 * ids [n + 2] = <null>, <pad>, then each span's token (dit.h's
 * DIT_ANCHOR_*); align [T] = 0 on valid frames, 1 on padded ones, and 2 + k
 * on the frames [ceil(start * rate / hop), ceil(end * rate / hop)) of span
 * k, cut at T, a later span overwriting an earlier one.
 */
void sam_anchor_alignment(const samsep_anchor *a, int n, int rate, int hop, int64_t valid,
                          int64_t T, int32_t *ids, int32_t *align);

/*
 * Separate B items (B as in the last sam_set_text) of mono 48 kHz audio:
 * wav [B, N] holds item b's samples in 0 .. lengths[b]-1 and zeros after
 * (lengths NULL = all N). T = ceil(N / hop) latent frames.
 *   noise   [B, T, 2C] initial ODE state (sam_noise() for seeded noise)
 *   message [2B, bits] watermark bits (0/1) for rows target_0, residual_0, ...
 *   target, residual [B, T * hop]: the decoded rows; item b's are valid up
 *   to ceil(lengths[b] / hop) * hop samples (what the official code keeps).
 *   residual NULL: only the targets are decoded (half the decoder's work;
 *   the caller makes its own residual), each bit for bit what it is when
 *   both rows are decoded.
 */
int sam_separate(sam_state *s, const float *wav, const int64_t *lengths, int64_t N,
                 const float *noise, const float *message, float *target, float *residual,
                 char *err, size_t errlen);

/*
 * Separate one excerpt of mono 48 kHz audio for n prompts at once: prompts
 * which[0..n) of the last sam_set_text (each 0 .. B-1). wav [N] is encoded
 * once; the DiT runs the n prompts as one batch from the same noise
 * [T, 2C] (each prompt's from the noise a run of it alone would get); each
 * prompt's target and residual are then decoded with the bits message
 * [2, bits] into targets[j], residuals[j] [T * hop] (residuals[j] NULL:
 * the target alone is decoded). Prompt j's outputs are
 * those of sam_separate() run with that prompt alone up to float rounding
 * (a few 1e-6 on the reference model): the batched matrix products and
 * the text encoder's padded batch sum in another order than a batch of
 * one; padded text tokens are never keys.
 */
int sam_separate_prompts(sam_state *s, const float *wav, int64_t N, const float *noise,
                         const float *message, const int *which, int n,
                         float *const *targets, float *const *residuals, char *err,
                         size_t errlen);

/* Deterministic standard-normal noise and 0/1 bits from (seed, stream):
 * the same arguments give the same values on every machine. */
void sam_noise(uint64_t seed, uint64_t stream, float *out, int64_t n);
void sam_message(uint64_t seed, uint64_t stream, float *out, int64_t n);

/* Intermediates for tests: the token ids [B, L] of the last sam_set_text;
 * its text features [B, L, Dt] and the ODE result [B, T, 2C] of the last
 * sam_separate, copied into out (NULL: only the sizes). */
const int32_t *sam_text_ids(const sam_state *s, int *L);
int sam_text_features(sam_state *s, float *out, int *L, int *Dt);
int sam_last_ode_result(sam_state *s, float *out, int64_t *n);

#endif
