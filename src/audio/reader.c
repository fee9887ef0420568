/*
 * reader.c - block-by-block reading of any file libsndfile can decode.
 *
 * libsndfile's error state is per handle (and a global for failed opens), so
 * each failure is turned into a message naming the file at once, before
 * another call can overwrite it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "audio/audio.h"
#include "core/internal.h"

struct audio_reader {
    SNDFILE *sf;
    SF_INFO info;
    char *path;
};

int audio_reader_open(const char *path, audio_reader **out, char *err,
                      size_t errlen)
{
    audio_reader *r;

    *out = NULL;
    r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        set_err(err, errlen, "%s: out of memory", path);
        return SAMSEP_ERR_NOMEM;
    }
    errno = 0;
    r->sf = sf_open(path, SFM_READ, &r->info);
    if (r->sf == NULL) {
        int e = errno;
        int sferr = sf_error(NULL);

        if (sferr == SF_ERR_SYSTEM && e != 0)
            set_err(err, errlen, "%s: cannot open: %s", path, strerror(e));
        else
            set_err(err, errlen, "%s: not a readable audio file (%s)", path,
                    sf_strerror(NULL));
        free(r->path);
        free(r);
        return sferr == SF_ERR_SYSTEM ? SAMSEP_ERR_IO : SAMSEP_ERR_FORMAT;
    }
    if (r->info.channels < 1 || r->info.samplerate < 1) {
        set_err(err, errlen, "%s: invalid header (%d channels, %d Hz)", path,
                r->info.channels, r->info.samplerate);
        audio_reader_close(r);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->info.samplerate < 1000 || r->info.samplerate > 768000) {
        set_err(err, errlen, "%s: unsupported sample rate %d Hz", path,
                r->info.samplerate);
        audio_reader_close(r);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->info.channels > 64) {
        set_err(err, errlen, "%s: too many channels (%d, at most 64)", path,
                r->info.channels);
        audio_reader_close(r);
        return SAMSEP_ERR_FORMAT;
    }
    /* Integer samples arrive scaled to [-1, 1); float files as stored. */
    sf_command(r->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    *out = r;
    return SAMSEP_OK;
}

void audio_reader_close(audio_reader *r)
{
    if (r == NULL)
        return;
    if (r->sf != NULL)
        sf_close(r->sf);
    free(r->path);
    free(r);
}

int audio_reader_rate(const audio_reader *r)
{
    return r->info.samplerate;
}

int audio_reader_channels(const audio_reader *r)
{
    return r->info.channels;
}

int64_t audio_reader_frames(const audio_reader *r)
{
    /* Streams and some compressed formats report "unknown" as the maximum. */
    if (r->info.frames < 0 || r->info.frames >= (sf_count_t)INT64_MAX / 2)
        return -1;
    return (int64_t)r->info.frames;
}

int audio_reader_sf_format(const audio_reader *r)
{
    return r->info.format;
}

static const char *tag(const audio_reader *r, int which)
{
    const char *s = sf_get_string(r->sf, which);

    return s != NULL ? s : "";
}

const char *audio_reader_software(const audio_reader *r)
{
    return tag(r, SF_STR_SOFTWARE);
}

const char *audio_reader_comment(const audio_reader *r)
{
    return tag(r, SF_STR_COMMENT);
}

int64_t audio_reader_read(audio_reader *r, float *buf, int64_t frames,
                          char *err, size_t errlen)
{
    sf_count_t got;
    int e;

    got = sf_readf_float(r->sf, buf, (sf_count_t)frames);
    e = sf_error(r->sf);
    if (e != SF_ERR_NO_ERROR) {
        set_err(err, errlen, "%s: read error: %s", r->path, sf_strerror(r->sf));
        return e == SF_ERR_SYSTEM ? SAMSEP_ERR_IO : SAMSEP_ERR_FORMAT;
    }
    if (got < 0)
        got = 0;
    return (int64_t)got;
}
