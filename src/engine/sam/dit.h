/*
 * dit.h - SAM-Audio's flow-matching core: the conditioning of the DiT, one
 * function evaluation of the ODE (SAMAudio.forward) and the midpoint solver
 * that makes the 32 evaluations of a separation. Float32, on the kernels of
 * nn.h. Formulas: ../shared/samref/MANIFEST.md §4-§5.
 *
 * The weights and sizes (dit_model) are apart from a run (dit_state): one
 * loaded model serves any number of states, each with its own kernel
 * context, buffers and conditioning, as whisper.cpp's context and state.
 * Use, per chunk of audio (B items of up to T latent frames):
 *
 *   dit_model_load(ws, config)          once per model: weights, constants
 *   dit_state_create(model, k)          once per run: buffers
 *   dit_condition(s, &inputs)           once per chunk: audio features, text
 *   dit_ode_solve(s, noise, out, ...)   32 evaluations -> [B, T, 2C] latent
 *   ... dit_condition / dit_ode_solve for the next chunk ...
 *   dit_state_destroy(s); dit_model_free(model)
 *
 * Everything that does not depend on the ODE state is computed by
 * dit_condition (the audio-feature half of the input projection, the text
 * memory projection, masks); the zero-video alignment vector and the
 * projected anchor embeddings are computed once at load. Working buffers
 * are sized when a state is created for dit_reserve's defaults and grown,
 * when a chunk needs more, inside dit_condition: dit_forward and
 * dit_ode_solve allocate nothing.
 *
 * Tensors handed in and out (audio and text features, x, v, noise, the
 * latents) are the backend's memory of the state's context (nn.h); lengths
 * are host memory.
 *
 * Prompting: the masked-video features are zeros (text prompts). The
 * anchors are what Batch.process_anchors makes: without span prompts
 * <null> on valid frames and <pad> on padded ones; with them, per item a
 * list of anchor ids and per frame an index into it (dit_inputs).
 *
 * Lifetime and threads: a model's weights belong to the nn_weights it was
 * loaded from, which MUST outlive it; a model MUST outlive its states; a
 * state's context MUST outlive the state. A model is read-only: states on
 * different threads may use one model at once. One thread at a time may use
 * a state, and its context must not run anything else meanwhile. Results
 * are identical for every thread count.
 */
#ifndef SAMSEP_SAM_DIT_H
#define SAMSEP_SAM_DIT_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "nn/weights.h"

struct cJSON;
typedef struct dit_model dit_model;
typedef struct dit_state dit_state;

/*
 * Check `config`, the root object of SAM-Audio's config.json, as
 * dit_model_load would, without any weights. Returns SAMSEP_OK or
 * SAMSEP_ERR_FORMAT (missing object, unsupported or inconsistent setting)
 * with err set.
 */
int dit_check_config(const struct cJSON *config, char *err, size_t errlen);

/*
 * Load the DiT and its conditioning layers (keys transformer.*, proj.*,
 * align_masked_video.*, embed_anchors.*, memory_proj.*) from `ws`, checked
 * against `config`, the root object of SAM-Audio's config.json (reads
 * in_channels, num_anchors, anchor_embedding_dim, text_encoder.dim,
 * vision_encoder.dim, audio_codec.codebook_dim and the transformer object).
 * Every size comes from the config and must agree with the tensor shapes.
 * Returns SAMSEP_OK, SAMSEP_ERR_FORMAT (missing or mis-shaped tensor,
 * unsupported or inconsistent config), SAMSEP_ERR_INVALID (NULL argument)
 * or SAMSEP_ERR_NOMEM, with err set.
 */
int dit_model_load(nn_weights *ws, const struct cJSON *config, dit_model **out /* OUT */,
                   char *err, size_t errlen);
void dit_model_free(dit_model *m); /* NULL allowed */

/* Sizes: transformer dim D, heads, layers, latent channels 2C (the ODE
 * state's last dim, = 2 x codebook_dim), text feature width Dt (T5 d_model),
 * FFN hidden width, max_positions (the largest T). */
int dit_dim(const dit_model *m);
int dit_heads(const dit_model *m);
int dit_layers(const dit_model *m);
int dit_latent_channels(const dit_model *m);
int dit_text_dim(const dit_model *m);
int dit_ffn_dim(const dit_model *m);
int dit_max_frames(const dit_model *m);

/*
 * A run of model m on context k (whose memory the weights' context shares:
 * SAMSEP_ERR_INVALID otherwise), its buffers sized for one 10 s chunk.
 * Returns SAMSEP_OK, SAMSEP_ERR_INVALID or SAMSEP_ERR_NOMEM, err set.
 */
int dit_state_create(const dit_model *m, nn_ctx *k, dit_state **out /* OUT */, char *err,
                     size_t errlen);
void dit_state_destroy(dit_state *s); /* NULL allowed */

/*
 * Grow the working buffers (and the context's scratch) for `batch` items of
 * up to `frames` latent frames and `text_len` text tokens, now rather than
 * in the first dit_condition that needs them. Never shrinks. Returns
 * SAMSEP_OK, SAMSEP_ERR_INVALID (sizes < 1, frames > max_positions) or
 * SAMSEP_ERR_NOMEM.
 */
int dit_reserve(dit_state *s, int batch, int frames, int text_len, char *err,
                size_t errlen);

/* The conditioning of one chunk. */
typedef struct dit_inputs {
    int batch;  /* B >= 1 */
    int frames; /* T >= 1 latent frames (every item padded to T) */
    /* [B, T, 2C]: per frame the codec features, both halves: separate()
     * passes cat([f^T, f^T], -1) of the codec output f [B, C, T] (see
     * dit_audio_features_from_codec). */
    const float *audio_features;
    /* [B]: item b holds audio on frames 0 .. valid_frames[b]-1 (1..T), the
     * rest is padding (ceil(N_b / hop) in separate()); NULL = all T. */
    const int *valid_frames;
    int text_len;               /* L >= 1 tokens (every item padded to L) */
    const float *text_features; /* [B, L, Dt] T5 last_hidden_state */
    /* [B]: valid tokens of item b (1..L, the rest padding); NULL = all L. */
    const int *text_lengths;
    /* Span prompts, as Batch.process_anchors makes them: anchor_ids
     * [B, K] holds item b's anchor tokens (DIT_ANCHOR_*, rows of the anchor
     * embedding), anchor_alignment [B, T] per frame an index 0..K-1 into its
     * item's ids. NULL (both) = no span prompts: <null> on valid frames,
     * <pad> on padded ones. */
    int anchor_count; /* K >= 1 when anchor_ids is set */
    const int32_t *anchor_ids;
    const int32_t *anchor_alignment;
} dit_inputs;

/* The anchor tokens (the official processor's anchor_dict). */
enum {
    DIT_ANCHOR_NULL = 0,
    DIT_ANCHOR_POSITIVE = 1,
    DIT_ANCHOR_NEGATIVE = 2,
    DIT_ANCHOR_PAD = 3
};

/*
 * Set the conditioning for the following dit_forward / dit_ode_solve calls
 * (grows the buffers if needed; the inputs are copied or consumed, not
 * kept). Returns SAMSEP_OK, SAMSEP_ERR_INVALID (bad sizes, lengths, anchor
 * ids outside the embedding or alignment indices outside 0..K-1) or
 * SAMSEP_ERR_NOMEM, err set.
 */
int dit_condition(dit_state *s, const dit_inputs *in, char *err, size_t errlen);

/*
 * One function evaluation (SAMAudio.forward) under the current
 * conditioning: x [B, T, 2C] the noisy latent at time t (the same t for
 * every item), v [B, T, 2C] receives the velocity. v must not overlap x.
 * Padded frames are computed like valid ones (they only stop being keys).
 * Returns SAMSEP_OK, SAMSEP_ERR_INVALID when no conditioning is set, or a
 * kernel's error.
 */
int dit_forward(dit_state *s, const float *x, float t, float *v);

/*
 * Called after each function evaluation of dit_ode_solve: nfe 0 .. 2*steps-1,
 * its time t, its input state x and output velocity v ([B, T, 2C] in host
 * memory, valid during the call only). A nonzero return cancels the solve.
 * For progress, cancellation and tests.
 */
typedef int (*dit_nfe_fn)(void *user, int nfe, float t, const float *x, const float *v);

/*
 * Integrate dx/dt = forward(x, t) from t = 0 to 1 with `steps` midpoint
 * steps (SAM-Audio: 16, i.e. 32 evaluations at t = k/32) from `noise`
 * [B, T, 2C] (the caller's seeded Gaussian noise) into out [B, T, 2C]
 * (out may equal noise). Channels 0..C-1 of out are the target's latent,
 * C..2C-1 the residual's. cb may be NULL. Returns SAMSEP_OK,
 * SAMSEP_ERR_INVALID (no conditioning, steps < 1), SAMSEP_ERR_CANCELLED or
 * a kernel's error.
 */
int dit_ode_solve(dit_state *s, const float *noise, int steps, float *out, dit_nfe_fn cb,
                  void *user);

/*
 * out [B, T, 2C] = cat([f^T, f^T], -1) of codec features f [B, C, T]: the
 * audio_features separate() feeds the DiT. tmp: B*T*C floats. Kernels on k.
 */
int dit_audio_features_from_codec(nn_ctx *k, const float *f, int64_t B, int64_t C,
                                  int64_t T, float *tmp, float *out);

/*
 * out [2B, C, T] = the ODE result g [B, T, 2C] as separate() hands it to
 * the codec decoder (g^T.reshape(2B, C, T)): row 2b = item b's target
 * (channels 0..C-1), row 2b+1 = its residual (channels C..2C-1).
 */
int dit_latent_to_codec(nn_ctx *k, const float *g, int64_t B, int64_t T, int64_t C,
                        float *out);

/*
 * Observe intermediate results (tests, debugging): during dit_forward `tap`
 * is called with each named intermediate of MANIFEST §7 ("proj_out",
 * "align_masked_video_out", "aligned_inputs", "timestep_emb", "memory",
 * "dit_t_emb", "dit_t0", "dit_y", "dit_x_embedder_out_BCT",
 * "layer<i>_attn_in", "layer<i>_wq_out", ..., "layer<i>_q_normed",
 * "layer<i>_q_rope", "layer<i>_k_normed", "layer<i>_k_rope",
 * "layer<i>_sdpa_out_BTC", "layer<i>_attn_out", "layer<i>_cross_in",
 * "layer<i>_cross_out", "layer<i>_ffn_in", "layer<i>_ffn_out",
 * "layer<i>_out", "final_norm_out", "final_modulated", "out"). data is
 * host memory, C-contiguous with `ndim` dims `shape`; q/k ("_normed",
 * "_rope") come as [B, T, H, hd] (the reference files are [B, H, T, hd]).
 * NULL removes it.
 */
typedef void (*dit_tap_fn)(void *user, const char *name, const float *data, int ndim,
                           const int64_t *shape);
void dit_set_tap(dit_state *s, dit_tap_fn tap, void *user);

#endif
