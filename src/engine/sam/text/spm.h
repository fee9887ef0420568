/*
 * spm.h - a strict reader for SentencePiece model files (spiece.model).
 *
 * A spiece.model is a serialized protobuf ModelProto (sentencepiece_model.proto,
 * proto2). This reader decodes the protobuf wire format by hand and keeps the
 * fields the T5 tokenizer needs: the pieces (string, score, type) and the
 * normaliser spec (name, precompiled character map, flags). trainer_spec is
 * decoded for the few fields that decide whether the model can be run
 * (model_type, byte_fallback); every other field, known or not, is walked by
 * its wire type so that a truncated or inconsistent length anywhere is
 * reported instead of trusted. Nothing here interprets the pieces: see
 * tokenizer.c.
 *
 * Lifetime: an t5_spm_model points into the caller's buffer (piece strings, the
 * charsmap), so the buffer MUST outlive the model. Piece strings are not
 * NUL-terminated; use the lengths.
 */
#ifndef SAMSEP_SAM_TEXT_SPM_H
#define SAMSEP_SAM_TEXT_SPM_H

#include <stddef.h>
#include <stdint.h>

/* SentencePiece.Type */
enum {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4,
    SPM_UNUSED = 5,
    SPM_BYTE = 6
};

/* TrainerSpec.ModelType */
enum { SPM_MODEL_UNIGRAM = 1, SPM_MODEL_BPE = 2, SPM_MODEL_WORD = 3, SPM_MODEL_CHAR = 4 };

typedef struct t5_spm_piece {
    const char *str; /* UTF-8, not NUL-terminated, never empty */
    size_t len;
    float score; /* finite */
    int type;    /* SPM_* (NORMAL when the field is absent) */
} t5_spm_piece;

typedef struct t5_spm_model {
    t5_spm_piece *pieces; /* [n_pieces] in id order */
    int n_pieces;
    int model_type;    /* SPM_MODEL_* (UNIGRAM when absent) */
    int byte_fallback; /* trainer_spec.byte_fallback */
    /* normalizer_spec; all zero/NULL when the file has none */
    const char *norm_name; /* not NUL-terminated */
    size_t norm_name_len;
    const uint8_t *charsmap; /* precompiled_charsmap, may be empty */
    size_t charsmap_len;
    int add_dummy_prefix;         /* proto defaults: true */
    int remove_extra_whitespaces; /* true */
    int escape_whitespaces;       /* true */
} t5_spm_model;

/*
 * Decode `len` bytes at `buf` as a ModelProto. `name` (the file) prefixes
 * error messages. Returns 0 or a negative samsep_status: SAMSEP_ERR_FORMAT for
 * malformed or unsupported content, SAMSEP_ERR_NOMEM. On success *out is set;
 * free it with t5_spm_model_free().
 */
int t5_spm_model_parse(const uint8_t *buf, size_t len, const char *name,
                       t5_spm_model **out /* OUT */, char *err, size_t errlen);
void t5_spm_model_free(t5_spm_model *m);

/* Offset of the first invalid byte, or n when s[0..n) is strict UTF-8 (no
 * overlong forms, no surrogates, nothing past U+10FFFF). Shared with the
 * tokenizer, which checks texts and pieces the same way. */
size_t t5_spm_utf8_check(const uint8_t *s, size_t n);

#endif
