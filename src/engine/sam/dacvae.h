/*
 * dacvae.h - the DAC-VAE audio codec of SAM-Audio (dacvae's DACVAE), float32
 * on the CPU: waveform -> latent features (encoder + the mean half of the
 * VAE bottleneck's in_proj) and features -> waveform (out_proj + decoder +
 * the always-on watermark branch, with the 16-bit message as an input).
 *
 * Every size - channel widths, strides, kernel sizes, number of blocks,
 * the watermark's LSTM width, channel counts and message length - is read
 * from the tensor shapes, so the tiny reference codec and the published one
 * open through the same code. Weight-normed convolutions (weight_g/weight_v,
 * or torch's parametrizations.weight.original0/1) are folded once at open
 * into plain weights.
 *
 * The weights and sizes (dacvae_model, read-only once loaded) are apart
 * from a run (dacvae_state: a kernel context and working buffers), so one
 * loaded codec serves any number of runs. Signals handed in and out are
 * the backend's memory of the state's context (nn.h); messages are host
 * memory.
 *
 * Lifetime and threads: a model's weights belong to the nn_weights it was
 * loaded from, which MUST outlive it; a model MUST outlive its states, and
 * a state's context the state. States on different threads may share one
 * model; one thread at a time may use a state. Working buffers are grown
 * (never shrunk) at the start of a call to fit one batch row of that
 * call's length - rows are run one after another, so memory does not grow
 * with the batch - and the forward pass itself allocates nothing. Results
 * are bit-identical for any thread count.
 */
#ifndef SAMSEP_SAM_DACVAE_H
#define SAMSEP_SAM_DACVAE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/nn.h"
#include "nn/weights.h"

typedef struct dacvae_model dacvae_model;
typedef struct dacvae_state dacvae_state;
struct cJSON;

/*
 * Load the codec whose tensors are named `prefix` + "encoder.", "quantizer."
 * and "decoder." in `ws` (prefix e.g. "audio_codec."; "" for a bare DACVAE
 * state_dict). Returns SAMSEP_OK, SAMSEP_ERR_FORMAT (a tensor missing, of
 * an unexpected shape, or sizes that do not fit together),
 * SAMSEP_ERR_INVALID (NULL arguments) or SAMSEP_ERR_NOMEM, with err set:
 * it names the tensor, and the caller says it is the codec's (sam_open:
 * "FILE: codec: tensor audio_codec.X missing").
 */
int dacvae_model_load(nn_weights *ws, const char *prefix, dacvae_model **out /* OUT */,
                      char *err, size_t errlen);
void dacvae_model_free(dacvae_model *c); /* NULL allowed */

/*
 * Compare the codec against the "audio_codec" object of SAM-Audio's
 * config.json (encoder_dim, encoder_rates, latent_dim, decoder_dim,
 * decoder_rates, codebook_dim; keys that are absent are not checked).
 * Returns SAMSEP_OK or SAMSEP_ERR_FORMAT naming the first mismatch.
 */
int dacvae_check_config(const dacvae_model *c, const struct cJSON *audio_codec, char *err,
                        size_t errlen);

int dacvae_hop(const dacvae_model *c);             /* product of encoder strides */
int dacvae_latent_channels(const dacvae_model *c); /* codebook_dim C */
int dacvae_message_bits(const dacvae_model *c);    /* watermark bits (16) */

/*
 * A run of codec c on context k (whose memory the weights' context shares:
 * SAMSEP_ERR_INVALID otherwise). Returns SAMSEP_OK, SAMSEP_ERR_INVALID or
 * SAMSEP_ERR_NOMEM, err set.
 */
int dacvae_state_create(const dacvae_model *c, nn_ctx *k, dacvae_state **out /* OUT */,
                        char *err, size_t errlen);
void dacvae_state_destroy(dacvae_state *s); /* NULL allowed */

/*
 * Encode wav [B, 1, N] into features [B, C, T], T = ceil(N / hop): the
 * waveform is reflect-padded on the right to T*hop samples as the official
 * code does (when the pad reaches past the start of a very short input,
 * the mirroring continues periodically, where torch would refuse), then
 * encoded; features are the mean half of in_proj (no sampling). Returns
 * SAMSEP_OK, SAMSEP_ERR_INVALID (NULL, B < 1, N < 1), SAMSEP_ERR_NOMEM or
 * a kernel's error.
 */
int dacvae_encode(dacvae_state *s, const float *wav, int64_t B, int64_t N,
                  float *features /* OUT [B, C, ceil(N/hop)] */, char *err,
                  size_t errlen);

/*
 * Decode features [B, C, T] into wav [B, 1, T*hop] with the watermark
 * message `message` [B, bits] of 0/1 floats (the official code draws it at
 * random on every call; the caller draws it here). Returns SAMSEP_OK,
 * SAMSEP_ERR_INVALID (NULL, B < 1, T < 1, a message value other than 0 or
 * 1), SAMSEP_ERR_NOMEM or a kernel's error.
 */
int dacvae_decode(dacvae_state *s, const float *features, int64_t B, int64_t T,
                  const float *message, float *wav /* OUT [B, 1, T*hop] */, char *err,
                  size_t errlen);

/*
 * Observe intermediate results (tests, debugging). During encode/decode
 * `tap` is called once per batch row with that row's tensor [C, L]:
 *   encode: "enc_padded_input", "enc_block<i>_out" (i = 0 first conv,
 *     1..n EncoderBlocks, n+1 Snake, n+2 final conv), "quantizer_in_proj_out",
 *     "features_mean";
 *   decode: "dec_out_proj_out", "dec_model<i>_out" (0 conv, 1..n
 *     DecoderBlocks), "wm_forward_no_conv_out", "wm_encoder_block_out",
 *     "wm_after_down_chain", "wm_encoder_post_out", "wm_msg_processor_out",
 *     "wm_decoder_block_out", "wm_after_up_chain", "wm_decoder_post_out",
 *     "dec_out".
 * data is host memory, valid only during the call. NULL removes the tap.
 */
typedef void (*dacvae_tap_fn)(void *user, const char *name, int64_t row,
                              const float *data, int64_t channels, int64_t len);
void dacvae_set_tap(dacvae_state *s, dacvae_tap_fn tap, void *user);

#endif
