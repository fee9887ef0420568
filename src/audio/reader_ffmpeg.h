/*
 * reader_ffmpeg.h - the second reader behind audio_reader: FFmpeg's
 * libraries decode what libsndfile cannot (AAC/M4A, MP4/MKV/WebM and other
 * containers' audio, WMA, ...). reader.c tries libsndfile first and comes
 * here when libsndfile does not know the file; nothing else calls it.
 */
#ifndef SAMSEP_READER_FFMPEG_H
#define SAMSEP_READER_FFMPEG_H

#include <stddef.h>
#include <stdint.h>

#include "samsep.h"

typedef struct ff_reader ff_reader;

/*
 * Open the first audio stream of `path` and decode its first frame (which
 * fixes the rate and channel count). On failure err holds the reason without
 * the path ("FFmpeg: ..." or "FFmpeg (mov): ..."), and *recognised (OUT) is 1
 * when FFmpeg knew the container, so that its reason is the one worth
 * showing.
 */
int ff_reader_open(const char *path, ff_reader **out /* OUT */, int *recognised /* OUT */,
                   char *err, size_t errlen);
void ff_reader_close(ff_reader *r);

int ff_reader_rate(const ff_reader *r);
int ff_reader_channels(const ff_reader *r);
/* Frames the container says the stream holds, or an estimate from its
 * duration, or -1. */
int64_t ff_reader_frames(const ff_reader *r);
/* Frames the container's header states exactly (MP4's sample tables), or
 * -1; at the end of the stream, -1 also when the stream came within a codec
 * frame or two of it without being cut. */
int64_t ff_reader_promised(const ff_reader *r);
/* Why the data ended before the file said it would ("the file ends inside
 * a packet": a file cut short), else "". */
const char *ff_reader_stop_reason(const ff_reader *r);
/* The demuxer's short name, e.g. "mov", "matroska". */
const char *ff_reader_container(const ff_reader *r);
/* The software (or encoder) and comment tags, "" when absent. */
const char *ff_reader_software(const ff_reader *r);
const char *ff_reader_comment(const ff_reader *r);
/* Which stream was decoded when there are several, else "". */
const char *ff_reader_note(const ff_reader *r);

/* Read up to `frames` interleaved float frames: the count, 0 at the end, or
 * a negative status with err filled (naming `path`). */
int64_t ff_reader_read(ff_reader *r, float *buf, int64_t frames, char *err,
                       size_t errlen);

/* Containers and codecs worth naming that this build's FFmpeg reads, one
 * per index; 0 past the last. */
int ff_input_format(int index, samsep_input_format *out /* OUT */);
/* 1 when files named *.ext are a container of ff_input_format(). */
int ff_known_extension(const char *ext);
/* e.g. "FFmpeg 5.1.6 (libavformat 59.27.100, libavcodec 59.37.100)". */
const char *ff_version(void);

#endif
