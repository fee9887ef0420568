/*
 * wire.h - version 1 of the exec engine's protocol (doc/exec-protocol.md),
 * as bytes: the frame header, the handshake's JSON, and the fixed headers
 * of the chunk and result frames.
 *
 * Everything here is a pure function over buffers, with no I/O, so that the
 * parsers of what a worker sends (its HELO, its RSLT headers) can be fuzzed
 * on their own (fuzz/fuzz_exec_wire.c). Multi-byte fields are little-endian
 * whatever the host.
 */
#ifndef SAMSEP_EXEC_WIRE_H
#define SAMSEP_EXEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "samsep.h"

#define WIRE_PROTOCOL 1
#define WIRE_HEADER 8         /* type (4 ASCII bytes) + payload length (u32) */
#define WIRE_CHUNK_HEADER 32  /* fixed part of a CHNK payload */
#define WIRE_RESULT_HEADER 16 /* fixed part of a RSLT payload */
#define WIRE_TEXT_MAX 65536   /* longest HELO, REDY or EROR payload */
#define WIRE_NAME_MAX 64

enum wire_type {
    WIRE_UNKNOWN = 0,
    WIRE_HELO, /* worker: who it is and what it wants (JSON) */
    WIRE_CONF, /* samsep: the prompt and the engine options (JSON) */
    WIRE_REDY, /* worker: ready for chunks (empty) */
    WIRE_CHNK, /* samsep: one chunk of audio */
    WIRE_RSLT, /* worker: the chunk's target (and residual) */
    WIRE_EROR  /* worker: a message saying why it cannot go on */
};

/* The 4-byte tag of `type` ("HELO", ...). */
const char *wire_tag(int type);

/* Write the 8-byte header of a frame. */
void wire_put_header(unsigned char out[WIRE_HEADER], int type, uint32_t length);

/* Read a header: *type is WIRE_UNKNOWN when the tag is none of the six. */
void wire_get_header(const unsigned char in[WIRE_HEADER], int *type, uint32_t *length);

/* What a worker declares in its HELO. */
typedef struct wire_hello {
    int protocol;
    char name[WIRE_NAME_MAX];
    int sample_rate;          /* 0 = the file's rate */
    int channels;             /* 0 = the file's channels, 1 = mono */
    double chunk_seconds;     /* 0 = samsep's default */
    double overlap_seconds;   /* < 0 = samsep's default */
    double max_chunk_seconds; /* longest chunk it takes; 0 = no limit */
    int residual;             /* 1: each result carries a residual */
} wire_hello;

/* Parse and check a HELO payload (`len` bytes of JSON, not NUL-terminated).
 * Returns SAMSEP_OK, or SAMSEP_ERR_FORMAT with err saying what is wrong. */
int wire_parse_hello(const char *json, size_t len, wire_hello *hello /* OUT */, char *err,
                     size_t errlen);

/* The CONF payload for `config` (malloc'd, NUL-terminated JSON), or NULL
 * when out of memory. */
char *wire_config_json(const samsep_engine_config *config);

/* Where a chunk lies and what it holds. */
typedef struct wire_chunk {
    uint32_t file;     /* the file's sequence number in this run, from 0 */
    uint32_t chunk;    /* the chunk's index within its file, from 0 */
    int64_t start;     /* its first frame's index in the file, at `rate` */
    uint32_t rate;     /* sample rate of the samples */
    uint32_t channels; /* interleaved channels */
    uint32_t frames;
} wire_chunk;

/* Write the fixed part of a CHNK payload. */
void wire_put_chunk(unsigned char out[WIRE_CHUNK_HEADER], const wire_chunk *c);

/* Payload length of the CHNK frame of `c`, and of its RSLT frame with
 * `parts` (1 or 2) signals: fits in 32 bits whenever the caller keeps
 * frames * channels below 2^28. */
uint64_t wire_chunk_length(const wire_chunk *c);
uint64_t wire_result_length(const wire_chunk *c, int parts);

/* Check a RSLT frame's payload length and fixed header against the chunk it
 * answers and the number of signals the worker promised. Returns SAMSEP_OK
 * or SAMSEP_ERR_FORMAT with err saying what is wrong. */
int wire_check_result(const unsigned char header[WIRE_RESULT_HEADER], uint32_t length,
                      const wire_chunk *c, int parts, char *err, size_t errlen);

/* Convert n little-endian float32 in place to host order and count those
 * that are not finite; *first (OUT) is the index of the first of them. */
int64_t wire_floats_in(float *x, int64_t n, int64_t *first);

/* Copy n host floats to little-endian (a plain copy on little-endian hosts). */
void wire_floats_out(unsigned char *dst, const float *src, int64_t n);

/* Non-zero on hosts whose floats already are little-endian. */
int wire_host_is_le(void);

#endif
