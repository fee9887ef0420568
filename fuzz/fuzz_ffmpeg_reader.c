/*
 * fuzz_ffmpeg_reader.c - libFuzzer target for the reading of files through
 * FFmpeg (src/audio/reader_ffmpeg.c) and the dispatch in front of it
 * (src/audio/reader.c: libsndfile first, FFmpeg for what it cannot read).
 *
 * The first byte picks the file name's extension (FFmpeg's probe weighs it)
 * from exts[] by byte % N_EXTS, and the reader by (byte / N_EXTS) % 2: 0 the
 * FFmpeg reader alone, 1 the whole audio_reader. The rest is the file,
 * written to a private temporary folder and read to its end (at most
 * MAX_FRAMES frames, so that a tiny file claiming hours of audio costs
 * seconds, not minutes).
 *
 * Besides the sanitizers, these properties trap when broken: a failure is
 * one of the statuses the reader may return, with a message; an opened file
 * has a rate and channel count > 0; reads return at most what was asked;
 * once a read returns 0, the next one does too.
 *
 * FFmpeg itself is not instrumented (it is the system's library), so the
 * fuzzer steers by the reader's own code; the seeds in
 * fuzz/corpus/ffmpeg_reader (tiny files made by the ffmpeg program, see
 * fuzz/make_media_corpus.sh) give it real containers to mutate. Run e.g.
 *   build-fuzz/fuzz_ffmpeg_reader -max_total_time=600 corpus-work \
 *       fuzz/corpus/ffmpeg_reader
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsep.h"
#include "audio/audio.h"
#include "audio/reader_ffmpeg.h"

#define MAX_FRAMES (1 << 20)
#define BLOCK 4096

static const char *const exts[] = { "m4a", "mp4", "webm", "mkv", "wma",
                                    "aac", "ts",  "ogg",  "wav", "bin" };
#define N_EXTS ((int)(sizeof exts / sizeof exts[0]))

static char dir[64];
static float buf[BLOCK * 64];

static void remove_dir(void)
{
    rmdir(dir);
}

static void check(int cond)
{
    if (!cond)
        __builtin_trap();
}

static int allowed(int64_t rc)
{
    return rc == SAMSEP_ERR_FORMAT || rc == SAMSEP_ERR_IO || rc == SAMSEP_ERR_NOMEM;
}

static void read_ffmpeg(const char *path)
{
    char err[SAMSEP_MSG_MAX] = "";
    ff_reader *r;
    int64_t total = 0, n = 1;
    int recognised, rc;

    rc = ff_reader_open(path, &r, &recognised, err, sizeof err);
    if (rc != SAMSEP_OK) {
        check(allowed(rc) && err[0] != '\0' && r == NULL);
        return;
    }
    check(ff_reader_rate(r) > 0 && ff_reader_channels(r) > 0);
    if (ff_reader_channels(r) <= 64)
        while (total < MAX_FRAMES &&
               (n = ff_reader_read(r, buf, BLOCK, err, sizeof err)) > 0) {
            check(n <= BLOCK);
            total += n;
        }
    check(n >= 0 ? 1 : allowed(n));
    if (n == 0)
        check(ff_reader_read(r, buf, BLOCK, err, sizeof err) == 0);
    ff_reader_close(r);
}

static void read_any(const char *path)
{
    char err[SAMSEP_MSG_MAX] = "";
    audio_reader *r;
    int64_t total = 0, n = 1;
    int rc;

    rc = audio_reader_open(path, &r, err, sizeof err);
    if (rc != SAMSEP_OK) {
        check(allowed(rc) && err[0] != '\0' && r == NULL);
        return;
    }
    check(audio_reader_rate(r) > 0 && audio_reader_channels(r) > 0 &&
          audio_reader_channels(r) <= 64);
    while (total < MAX_FRAMES &&
           (n = audio_reader_read(r, buf, BLOCK, err, sizeof err)) > 0) {
        check(n <= BLOCK);
        total += n;
    }
    check(n >= 0 ? 1 : allowed(n));
    audio_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[96];
    FILE *f;

    if (size < 1)
        return 0;
    if (dir[0] == '\0') {
        const char *tmp = getenv("TMPDIR");

        snprintf(dir, sizeof dir, "%s/samsep-fuzz-XXXXXX",
                 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
        if (mkdtemp(dir) == NULL)
            abort();
        atexit(remove_dir);
    }
    snprintf(path, sizeof path, "%s/in.%s", dir, exts[data[0] % N_EXTS]);
    f = fopen(path, "wb");
    if (f == NULL)
        abort();
    if (size > 1 && fwrite(data + 1, 1, size - 1, f) != size - 1)
        abort();
    fclose(f);
    if ((data[0] / N_EXTS) % 2 == 0)
        read_ffmpeg(path);
    else
        read_any(path);
    unlink(path);
    return 0;
}
