/*
 * audio.h - reading, writing and resampling audio for the pipeline.
 *
 * Reading goes through libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3, AIFF,
 * ...) and, for what it cannot read, FFmpeg's libraries (AAC/M4A, MP4, MKV,
 * WebM, WMA, the audio of video files, ...); samples arrive as interleaved
 * floats at the file's own rate and channel count, block by block. Writing produces WAV (RF64 when a
 * file outgrows 4 GiB) or FLAC under a temporary name in the destination
 * folder; only audio_writer_commit() gives the file its final name, after
 * its data has reached the disk. Resampling is libsoxr's streaming API.
 * Probing (probe.c, samsep_probe_file) reads a file's header and tags only,
 * for the batch planner.
 */
#ifndef SAMSEP_AUDIO_H
#define SAMSEP_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "samsep.h"

/* ---- reading ---------------------------------------------------------- */

typedef struct audio_reader audio_reader;

/* Open `path` for reading. On failure err names the file and the reason. */
int audio_reader_open(const char *path, audio_reader **out /* OUT */, char *err,
                      size_t errlen);
void audio_reader_close(audio_reader *r);

/* As audio_reader_open, for a look at the header and tags above all: the
 * file's first bytes are read in one call and parsed from memory. */
int audio_reader_open_header(const char *path, audio_reader **out /* OUT */, char *err,
                             size_t errlen);

int audio_reader_rate(const audio_reader *r);
int audio_reader_channels(const audio_reader *r);
/* Frames the file says it holds, or -1 when it cannot say. */
int64_t audio_reader_frames(const audio_reader *r);
/* Frames the header promises, or -1 when it states no exact count. A file
 * that ends before (audio_reader_read() returns 0 sooner) was cut short. */
int64_t audio_reader_promised(const audio_reader *r);
/* Why the decoder stopped before the promised count ("" when it did not,
 * or when the data simply ended). */
const char *audio_reader_stop_reason(const audio_reader *r);
/* libsndfile's SF_FORMAT_* word of the input (0 when FFmpeg reads it). */
int audio_reader_sf_format(const audio_reader *r);
/* The container's short name, e.g. "wav", "flac", "mov", "matroska". */
const char *audio_reader_container(const audio_reader *r);
/* What the reader chose that the user should know (which of several audio
 * streams was decoded), else "". */
const char *audio_reader_note(const audio_reader *r);

/* The file's software and comment tags ("" when absent); valid until close. */
const char *audio_reader_software(const audio_reader *r);
const char *audio_reader_comment(const audio_reader *r);

/* Read up to `frames` frames; returns the count (0 at the end) or a negative
 * status with err filled. A decoding error after the data of a file cut
 * short ends the stream rather than failing it. */
int64_t audio_reader_read(audio_reader *r, float *buf, int64_t frames, char *err,
                          size_t errlen);

/* 1 when a file named *.ext is meant to be audio (or video with sound) this
 * build reads: a folder scan that cannot read such a file reports it failed
 * rather than skipping it as "not audio". */
int audio_known_extension(const char *ext);

/* ---- writing ---------------------------------------------------------- */

typedef struct audio_tags {
    const char *software; /* e.g. "samsep 0.1.0" */
    const char *title;    /* e.g. "target" */
    const char *comment;  /* provenance line */
} audio_tags;

typedef struct audio_writer audio_writer;

/* Resolve AUTO format/subtype against the input's SF_FORMAT_* word and check
 * the result can hold `rate` and `channels`. */
int audio_resolve_format(int input_sf_format, int rate, int channels,
                         int *format /* IN/OUT samsep_format */,
                         int *subtype /* IN/OUT samsep_subtype */, char *err,
                         size_t errlen);

/* Create a temporary file beside `final_path` and open it for writing. */
int audio_writer_open(const char *final_path, int format, int subtype, int rate,
                      int channels, const audio_tags *tags, audio_writer **out /* OUT */,
                      char *err, size_t errlen);

/* Write frames; samples that do not fit an integer subtype are clamped and
 * added to *clipped. */
int audio_writer_write(audio_writer *w, const float *buf, int64_t frames,
                       int64_t *clipped /* IN/OUT */, char *err, size_t errlen);

/* Flush, sync and rename the file into place; the writer is freed. */
int audio_writer_commit(audio_writer *w, char *err, size_t errlen);

/* Remove the temporary file; the writer is freed. NULL is allowed. */
void audio_writer_abort(audio_writer *w);

/* Marker in the names of temporary outputs. */
#define AUDIO_TMP_MARKER ".samsep-tmp-"

/* ---- resampling ------------------------------------------------------- */

typedef struct resampler resampler;

int resampler_create(double in_rate, double out_rate, int channels,
                     resampler **out /* OUT */, char *err, size_t errlen);
void resampler_destroy(resampler *rs);

/*
 * Feed `frames` input frames (in == NULL and frames == 0 flushes the end of
 * the stream) and write up to `cap` output frames to `out`; *used receives
 * the input frames consumed, *made the output frames written. Call again
 * with the rest until everything is consumed (and, when flushing, until
 * *made is 0).
 */
int resampler_process(resampler *rs, const float *in, int64_t frames,
                      int64_t *used /* OUT */, float *out, int64_t cap,
                      int64_t *made /* OUT */, char *err, size_t errlen);

#endif
