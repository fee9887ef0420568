/*
 * t5.h - the T5 text encoder (HuggingFace T5EncoderModel), float32 on the
 * CPU, as SAM-Audio runs it to embed its text prompts.
 *
 * Semantics follow transformers' modeling_t5.py for the encoder stack:
 * token embeddings (no scaling); per block a pre-norm self-attention with
 * no 1/sqrt(d_kv) scaling and a relative-position bias (the bucket table of
 * block 0, shared by every block), and a pre-norm feed-forward (ReLU, or
 * the gated variants wi_0/wi_1 of "gated-gelu" style configs); RMS layer
 * norms without mean or bias; a final layer norm. Padded keys of a batch
 * get no attention weight (HF adds finfo(float32).min, which is the same
 * whenever a row has a valid key).
 *
 * A model folder holds config.json (HF T5Config) and model.safetensors
 * (or pytorch_model.bin) with HF key names; every size comes from the
 * config and the tensor shapes, which must agree.
 *
 * Lifetime and threads: an encoder owns its weights (mapped from the file)
 * and buffers; one thread at a time may run it. Working buffers are sized
 * when the encoder is opened (batch 1 of the config's n_positions tokens)
 * and grown, if a call needs more, before its forward pass starts; the
 * forward pass itself allocates nothing.
 */
#ifndef SAMSEP_SAM_TEXT_T5_H
#define SAMSEP_SAM_TEXT_T5_H

#include <stddef.h>
#include <stdint.h>

#include "nn/kernels.h"

typedef struct t5_encoder t5_encoder;

/*
 * Open the encoder in `model_dir` (config.json + model.safetensors, else
 * pytorch_model.bin) with its own pool of `threads` threads (0 = online
 * CPUs). Returns SAMSEP_OK, or SAMSEP_ERR_IO (missing/unreadable file),
 * SAMSEP_ERR_FORMAT (bad config, missing tensor, shape mismatch,
 * unsupported activation), SAMSEP_ERR_INVALID, SAMSEP_ERR_NOMEM, with err
 * set.
 */
int t5_encoder_open(const char *model_dir, int threads,
                    t5_encoder **out /* OUT */, char *err, size_t errlen);

/*
 * The same, running on a kernel context the caller owns (shared with other
 * models); `k` MUST outlive the encoder and is used only during
 * t5_encoder_run and t5_encoder_reserve.
 */
int t5_encoder_open_ctx(const char *model_dir, kctx *k,
                        t5_encoder **out /* OUT */, char *err, size_t errlen);

void t5_encoder_close(t5_encoder *enc); /* NULL allowed */

int t5_encoder_dim(const t5_encoder *enc);    /* d_model */
int t5_encoder_vocab(const t5_encoder *enc);  /* rows of the embedding */
int t5_encoder_heads(const t5_encoder *enc);
int t5_encoder_layers(const t5_encoder *enc);

/*
 * Grow the working buffers for `batch` rows of `max_len` tokens now,
 * rather than in the first t5_encoder_run that needs them.
 */
int t5_encoder_reserve(t5_encoder *enc, int batch, int max_len, char *err,
                       size_t errlen);

/*
 * Encode `batch` rows of token ids: ids [batch, max_len] (row b holds
 * lengths[b] real tokens, then padding on the right; lengths NULL = all
 * max_len). Every id, padding included, must be in [0, vocab): padded
 * positions are computed like HF computes them (they only stop being keys).
 * out [batch, max_len, d_model] receives last_hidden_state. Returns
 * SAMSEP_OK, SAMSEP_ERR_INVALID (bad sizes, lengths outside [1, max_len],
 * id out of range) or SAMSEP_ERR_NOMEM (growing the buffers), err set.
 */
int t5_encoder_run(t5_encoder *enc, const int32_t *ids, const int *lengths,
                   int batch, int max_len, float *out, char *err,
                   size_t errlen);

/*
 * Observe intermediate results (tests, debugging): during t5_encoder_run
 * `tap` is called with "embeddings" and then "block<i>_out" (the output of
 * block i, before the final layer norm for the last), data [batch, len,
 * dim]. NULL removes it.
 */
typedef void (*t5_tap_fn)(void *user, const char *name, const float *data,
                          int batch, int len, int dim);
void t5_encoder_set_tap(t5_encoder *enc, t5_tap_fn tap, void *user);

/*
 * Block 0's position bias for `len` tokens without mask: out [heads, len,
 * len], out[h][i][j] = relative_attention_bias[bucket(j - i)][h].
 */
int t5_encoder_position_bias(const t5_encoder *enc, int len, float *out);

/*
 * HF's _relative_position_bucket for one relative position (key - query),
 * with the float32 log and truncation toward zero of the original.
 */
int t5_relative_bucket(int relative_position, int bidirectional,
                       int num_buckets, int max_distance);

#endif
