/*
 * t5.h - the T5 text encoder (HuggingFace T5EncoderModel), float32, on the
 * kernels of nn.h, as SAM-Audio runs it to embed its text prompts.
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
 * The weights and sizes (t5_model, read-only once open) are apart from a
 * run (t5_state: a kernel context and working buffers), so one loaded
 * encoder serves any number of runs.
 *
 * Lifetime and threads: a model owns its weights; its context (the one
 * the weights were placed for) MUST outlive it, a model MUST outlive its
 * states, and a state's context the state. States on different threads
 * may share one model; one thread at a time may use a state. Working
 * buffers are sized when a state is created (batch 1 of the config's
 * n_positions tokens) and grown, if a call needs more, before its forward
 * pass starts; the forward pass itself allocates nothing.
 */
#ifndef SAMSEP_SAM_TEXT_T5_H
#define SAMSEP_SAM_TEXT_T5_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"

typedef struct t5_model t5_model;
typedef struct t5_state t5_state;

/*
 * Check the folder `model_dir` as t5_model_open would, without loading:
 * config.json is a T5 config this encoder runs, and a weights file
 * (model.safetensors or pytorch_model.bin) is there. Returns SAMSEP_OK,
 * SAMSEP_ERR_IO or SAMSEP_ERR_FORMAT with err naming the file.
 */
int t5_check(const char *model_dir, char *err, size_t errlen);

/*
 * Open the encoder in `model_dir` (config.json + model.safetensors, else
 * pytorch_model.bin), its weights placed for context k. Returns SAMSEP_OK,
 * or SAMSEP_ERR_IO (missing/unreadable file), SAMSEP_ERR_FORMAT (bad
 * config, missing tensor, shape mismatch, unsupported activation),
 * SAMSEP_ERR_INVALID, SAMSEP_ERR_NOMEM, with err set.
 */
int t5_model_open(const char *model_dir, nn_ctx *k, t5_model **out /* OUT */, char *err,
                  size_t errlen);
void t5_model_close(t5_model *m); /* NULL allowed */

int t5_model_dim(const t5_model *m);   /* d_model */
int t5_model_vocab(const t5_model *m); /* rows of the embedding */
int t5_model_heads(const t5_model *m);
int t5_model_layers(const t5_model *m);
int t5_model_positions(const t5_model *m); /* n_positions */

/*
 * A run of model m on context k (whose memory the weights' context shares:
 * SAMSEP_ERR_INVALID otherwise). Returns SAMSEP_OK, SAMSEP_ERR_INVALID or
 * SAMSEP_ERR_NOMEM, err set.
 */
int t5_state_create(const t5_model *m, nn_ctx *k, t5_state **out /* OUT */, char *err,
                    size_t errlen);
void t5_state_destroy(t5_state *s); /* NULL allowed */

/*
 * Grow the working buffers for `batch` rows of `max_len` tokens now,
 * rather than in the first t5_encode that needs them.
 */
int t5_reserve(t5_state *s, int batch, int max_len, char *err, size_t errlen);

/*
 * Encode `batch` rows of token ids: ids [batch, max_len] (host memory; row
 * b holds lengths[b] real tokens, then padding on the right; lengths NULL =
 * all max_len). Every id, padding included, must be in [0, vocab): padded
 * positions are computed like HF computes them (they only stop being keys).
 * out [batch, max_len, d_model] (backend memory) receives
 * last_hidden_state. Returns SAMSEP_OK, SAMSEP_ERR_INVALID (bad sizes,
 * lengths outside [1, max_len], id out of range), SAMSEP_ERR_NOMEM
 * (growing the buffers) or a kernel's error, err set.
 */
int t5_encode(t5_state *s, const int32_t *ids, const int *lengths, int batch, int max_len,
              float *out, char *err, size_t errlen);

/*
 * Observe intermediate results (tests, debugging): during t5_encode `tap`
 * is called with "embeddings" and then "block<i>_out" (the output of block
 * i, before the final layer norm for the last), data [batch, len, dim] in
 * host memory. NULL removes it.
 */
typedef void (*t5_tap_fn)(void *user, const char *name, const float *data, int batch,
                          int len, int dim);
void t5_set_tap(t5_state *s, t5_tap_fn tap, void *user);

/*
 * Block 0's position bias for `len` tokens without mask: out [heads, len,
 * len] (host memory), out[h][i][j] = relative_attention_bias[bucket(j -
 * i)][h].
 */
int t5_position_bias(const t5_model *m, int len, float *out);

/*
 * HF's _relative_position_bucket for one relative position (key - query),
 * with the float32 log and truncation toward zero of the original.
 */
int t5_relative_bucket(int relative_position, int bidirectional, int num_buckets,
                       int max_distance);

#endif
