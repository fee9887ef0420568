/*
 * sam.h - SAM-Audio separation from the official files: text prompt in,
 * target and residual waveforms out (MANIFEST §5, separate()).
 *
 * A sam_model holds everything loaded once per batch: the checkpoint's
 * DAC-VAE codec and DiT, the T5 text encoder and its tokenizer, one kernel
 * context. sam_separate() runs one excerpt (a chunk, or a whole short file)
 * of B items: codec encode, T5 on each item's text, the 16-step midpoint ODE
 * from the given noise, and the decode of the target and residual latents
 * with the given watermark bits. Noise and bits are inputs so that results
 * can be checked against the official implementation; sam_noise() and
 * sam_message() make seeded ones.
 *
 * Lifetime: one thread at a time per model.
 */
#ifndef SAMSEP_SAM_SAM_H
#define SAMSEP_SAM_SAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct sam_model sam_model;

/*
 * Open the model in `dir` (config.json + checkpoint.pt, or
 * checkpoint.safetensors) with the T5 folder `t5_dir` (config.json,
 * model.safetensors; NULL means dir/t5) and its tokenizer `tokenizer`
 * (tokenizer.json or spiece.model, or a folder holding one; NULL means
 * t5_dir). threads: 0 = all cores. Errors name the file and the problem:
 * missing files, a config the checkpoint does not match.
 */
int sam_open(const char *dir, const char *t5_dir, const char *tokenizer,
             int threads, sam_model **out /* OUT */, char *err, size_t errlen);
void sam_close(sam_model *m); /* NULL allowed */

int sam_sample_rate(const sam_model *m); /* 48000 */
int sam_hop(const sam_model *m);         /* samples per latent frame, 1920 */
int sam_latent_channels(const sam_model *m); /* C; the ODE state has 2C */
int sam_message_bits(const sam_model *m);    /* 16 */
/* The longest input sam_separate() takes: the transformer's positions
 * (max_positions latent frames) times the hop. */
int64_t sam_max_samples(const sam_model *m);

/*
 * Tokenize and encode `texts` (B of them) into text features, kept in the
 * model for the following sam_separate() calls (a prompt that does not
 * change is encoded once per batch, not per chunk). Returns the padded
 * token length L (> 0) or a negative status.
 */
int sam_set_text(sam_model *m, const char *const *texts, int batch, char *err,
                 size_t errlen);

/*
 * Separate B items (B as in the last sam_set_text) of mono 48 kHz audio:
 * wav [B, N] holds item b's samples in 0 .. lengths[b]-1 and zeros after
 * (lengths NULL = all N). T = ceil(N / hop) latent frames.
 *   noise   [B, T, 2C] initial ODE state (sam_noise() for seeded noise)
 *   message [2B, bits] watermark bits (0/1) for rows target_0, residual_0, ...
 *   target, residual [B, T * hop]: the decoded rows; item b's are valid up
 *   to ceil(lengths[b] / hop) * hop samples (what the official code keeps).
 */
int sam_separate(sam_model *m, const float *wav, const int64_t *lengths,
                 int64_t N, const float *noise, const float *message,
                 float *target, float *residual, char *err, size_t errlen);

/* Deterministic standard-normal noise and 0/1 bits from (seed, stream):
 * the same arguments give the same values on every machine. */
void sam_noise(uint64_t seed, uint64_t stream, float *out, int64_t n);
void sam_message(uint64_t seed, uint64_t stream, float *out, int64_t n);

/* Intermediates for tests: text features [B, L, Dt] of the last
 * sam_set_text; the codec features, ODE result of the last sam_separate. */
const float *sam_text_features(const sam_model *m, int *L, int *Dt);
const int32_t *sam_text_ids(const sam_model *m, int *L);
const float *sam_last_ode_result(const sam_model *m);

#endif
