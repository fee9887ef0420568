/*
 * tokenizer.h - the T5 text tokenizer exactly as SAM-Audio runs it.
 *
 * SAM-Audio encodes its text prompt with HuggingFace's fast tokenizer for
 * t5-base (AutoTokenizer("t5-base"), i.e. its tokenizer.json). This module
 * reproduces that pipeline in C, for one text at a time:
 *
 *   1. special tokens (<pad>, </s>, <unk>, <extra_id_N>) are found in the raw
 *      text, leftmost-longest, and each becomes one id; the text between them
 *      is processed on its own by steps 2-4;
 *   2. normalisation with SentencePiece's precompiled character map, applied
 *      the way tokenizers' Precompiled normalizer applies it (per extended
 *      grapheme cluster, see tokenizer.c);
 *   3. WhitespaceSplit, then Metaspace: each word gets a "▁" (U+2581) prefix
 *      unless it has one and is split before every "▁";
 *   4. unigram Viterbi over the pieces; consecutive unknown characters are
 *      fused into one <unk>;
 *   5. the post-processor's ids (</s> for T5) are appended; the result is cut
 *      to max_len ids with </s> kept (HF truncation: 511 + </s> for 512).
 *
 * The model can be read from a tokenizer.json (fast-tokenizer form) or from
 * a spiece.model (SentencePiece protobuf, see spm.h). From spiece.model the
 * same pipeline is built the way transformers' T5 converter built t5-base's
 * tokenizer.json: all pieces are unigram pieces, followed by the 100
 * sentinels <extra_id_99> .. <extra_id_0> of T5Tokenizer (extra_ids=100) as
 * pieces of score 0 (so <extra_id_N> has id n_pieces + 99 - N); the
 * CONTROL / UNKNOWN / USER_DEFINED pieces and the sentinels are special
 * tokens; </s> is appended. Both sources give identical ids for t5-base.
 *
 * Thread safety: a tokenizer is read-only after t5_tokenizer_open(); any
 * number of threads may encode with it at once.
 */
#ifndef SAMSEP_SAM_TEXT_TOKENIZER_H
#define SAMSEP_SAM_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

/* The longest sequence the T5 encoder of SAM-Audio takes (511 + </s>). */
#define T5_TOKENIZER_MAX_LEN 512

typedef struct t5_tokenizer t5_tokenizer;

typedef enum t5_tokenizer_format {
    T5_TOKENIZER_AUTO = 0, /* '{' first (after blanks): JSON, else protobuf */
    T5_TOKENIZER_JSON = 1, /* tokenizer.json */
    T5_TOKENIZER_SPM = 2   /* spiece.model */
} t5_tokenizer_format;

/*
 * Find the tokenizer file as t5_tokenizer_open would (PATH itself, or the
 * tokenizer.json or spiece.model of a folder) without reading it.
 * Returns SAMSEP_OK, or SAMSEP_ERR_IO with err naming PATH.
 */
int t5_tokenizer_check(const char *path, char *err, size_t errlen);

/*
 * Open a tokenizer. `path` is a tokenizer.json, a spiece.model, or a folder
 * holding either (tokenizer.json preferred). Returns 0 (SAMSEP_OK) or a
 * negative samsep_status (SAMSEP_ERR_IO: the file cannot be read;
 * SAMSEP_ERR_FORMAT: malformed or unsupported content; SAMSEP_ERR_NOMEM;
 * SAMSEP_ERR_INVALID: NULL arguments) with err naming the file and the
 * problem. On success *out is set; close it with t5_tokenizer_close().
 */
int t5_tokenizer_open(const char *path, t5_tokenizer **out /* OUT */, char *err,
                      size_t errlen);

/*
 * The same from `len` bytes in memory (copied where needed: the buffer may be
 * freed once this returns). `name` is used in error messages.
 */
int t5_tokenizer_open_memory(const void *data, size_t len, t5_tokenizer_format format,
                             const char *name, t5_tokenizer **out /* OUT */, char *err,
                             size_t errlen);

/* Free a tokenizer; NULL is allowed. */
void t5_tokenizer_close(t5_tokenizer *tk);

/*
 * Token ids of the NUL-terminated UTF-8 `text`, special tokens and </s>
 * included, at most max_len of them, into ids[0..max_len). Returns the count
 * (>= 1 for T5: an empty text gives [</s>]) or a negative samsep_status:
 * SAMSEP_ERR_INVALID for NULL arguments, max_len too small to hold the
 * post-processor's ids (1 for T5), or text that is not valid UTF-8;
 * SAMSEP_ERR_NOMEM; SAMSEP_ERR_FORMAT when the model's character map turns
 * out to be corrupt on a path the text reaches.
 */
int t5_tokenizer_encode(const t5_tokenizer *tk, const char *text,
                        int32_t *ids /* OUT: [max_len] */, int max_len, char *err,
                        size_t errlen);

/* The same for `len` bytes of text, which may hold NUL characters. */
int t5_tokenizer_encode_len(const t5_tokenizer *tk, const char *text, size_t len,
                            int32_t *ids /* OUT: [max_len] */, int max_len, char *err,
                            size_t errlen);

/* Number of ids (pieces and added tokens: 32100 for t5-base). */
int t5_tokenizer_vocab_size(const t5_tokenizer *tk);

/*
 * The piece or token string of `id` (NUL-terminated UTF-8, owned by the
 * tokenizer), or NULL when no token has that id. For printing only.
 */
const char *t5_tokenizer_piece(const t5_tokenizer *tk, int32_t id);

#endif
