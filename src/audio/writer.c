/*
 * writer.c - atomic WAV/FLAC output with provenance tags and counted clipping.
 *
 * A writer owns a temporary file created with O_EXCL beside the final path
 * (same folder, so the final rename is atomic on every POSIX filesystem). The
 * name starts with a dot and carries AUDIO_TMP_MARKER so that a batch can
 * recognise, skip and clean up temporaries of a run that died (an output
 * name too long to carry the marker is replaced by its hidden key, see
 * internal.h, so every name that fits has a temporary that fits). Only
 * audio_writer_commit() renames it into place, after libsndfile has
 * finalised the header and fsync() has pushed the data to the disk; any
 * failure on the way unlinks the temporary, so a final name never holds a
 * partial file. While it exists the temporary is recorded for
 * samsep_remove_temporaries(), so a program that ends at once on a second
 * signal removes it too.
 *
 * WAV output is written as RF64 with automatic downgrade: files under 4 GiB
 * come out as plain RIFF WAV, longer ones (10 hours of 48 kHz stereo float)
 * stay valid instead of overflowing the 32-bit RIFF size.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "audio/audio.h"
#include "core/internal.h"

#define CLAMP_BLOCK 4096 /* frames converted per libsndfile call */

struct audio_writer {
    SNDFILE *sf;
    int fd;
    int integer; /* subtype is integer PCM: clamp to [-1, 1] */
    int channels;
    char *final_path;
    char *tmp_path;
    int track;      /* temporary_track() slot of tmp_path, or -1 */
    float *scratch; /* CLAMP_BLOCK * channels */
};

static int sf_subtype_of(int subtype)
{
    switch (subtype) {
    case SAMSEP_SUBTYPE_PCM16: return SF_FORMAT_PCM_16;
    case SAMSEP_SUBTYPE_PCM24: return SF_FORMAT_PCM_24;
    case SAMSEP_SUBTYPE_FLOAT: return SF_FORMAT_FLOAT;
    }
    return 0;
}

static int sf_major_of(int format)
{
    return format == SAMSEP_FORMAT_FLAC ? SF_FORMAT_FLAC : SF_FORMAT_RF64;
}

int audio_resolve_format(int in_format, int rate, int channels, int *format, int *subtype,
                         char *err, size_t errlen)
{
    int in_major = in_format & SF_FORMAT_TYPEMASK;
    int in_sub = in_format & SF_FORMAT_SUBMASK;
    int in_wavlike = in_major == SF_FORMAT_WAV || in_major == SF_FORMAT_WAVEX ||
                     in_major == SF_FORMAT_RF64;
    SF_INFO probe;

    if (*format == SAMSEP_FORMAT_AUTO)
        *format = in_major == SF_FORMAT_FLAC && *subtype != SAMSEP_SUBTYPE_FLOAT
                      ? SAMSEP_FORMAT_FLAC
                      : SAMSEP_FORMAT_WAV;
    if (*format != SAMSEP_FORMAT_WAV && *format != SAMSEP_FORMAT_FLAC) {
        set_err(err, errlen, "unknown output format %d", *format);
        return SAMSEP_ERR_INVALID;
    }
    if (*subtype == SAMSEP_SUBTYPE_AUTO) {
        int same = (*format == SAMSEP_FORMAT_FLAC && in_major == SF_FORMAT_FLAC) ||
                   (*format == SAMSEP_FORMAT_WAV && in_wavlike);

        if (same && in_sub == SF_FORMAT_PCM_16)
            *subtype = SAMSEP_SUBTYPE_PCM16;
        else if (same && in_sub == SF_FORMAT_PCM_24)
            *subtype = SAMSEP_SUBTYPE_PCM24;
        else if (*format == SAMSEP_FORMAT_FLAC)
            *subtype = SAMSEP_SUBTYPE_PCM24; /* FLAC has no float */
        else
            *subtype = SAMSEP_SUBTYPE_FLOAT; /* lossless for any input */
    }
    if (sf_subtype_of(*subtype) == 0) {
        set_err(err, errlen, "unknown output subtype %d", *subtype);
        return SAMSEP_ERR_INVALID;
    }
    if (*format == SAMSEP_FORMAT_FLAC && *subtype == SAMSEP_SUBTYPE_FLOAT) {
        set_err(err, errlen,
                "FLAC cannot store float samples; use pcm16 or "
                "pcm24, or WAV for float");
        return SAMSEP_ERR_INVALID;
    }
    memset(&probe, 0, sizeof probe);
    probe.samplerate = rate;
    probe.channels = channels;
    probe.format = sf_major_of(*format) | sf_subtype_of(*subtype);
    if (!sf_format_check(&probe) ||
        (*format == SAMSEP_FORMAT_FLAC && (channels > 8 || rate > 655350))) {
        set_err(err, errlen, "%s cannot store %d channels at %d Hz",
                *format == SAMSEP_FORMAT_FLAC ? "FLAC" : "WAV", channels, rate);
        return SAMSEP_ERR_INVALID;
    }
    return SAMSEP_OK;
}

/* "dir/name.wav" -> "dir/.name.wav.samsep-tmp-<pid>-<n>", with the name's
 * hidden key (internal.h) in place of a name too long to carry the rest. */
static char *make_tmp_path(const char *final_path, unsigned n)
{
    const char *slash = strrchr(final_path, '/');
    size_t dirlen = slash != NULL ? (size_t)(slash - final_path) + 1 : 0;
    char key[SAMSEP_HIDDEN_KEY_MAX + 1];
    size_t len = dirlen + sizeof key + SAMSEP_HIDDEN_TAIL_MAX + 2;
    char *p = malloc(len);

    samsep_hidden_key(final_path + dirlen, key);
    if (p != NULL)
        snprintf(p, len, "%.*s.%s%s%ld-%u", (int)dirlen, final_path, key,
                 AUDIO_TMP_MARKER, (long)getpid(), n);
    return p;
}

/* strerror(), with where EFBIG comes from: "File too large" alone does not
 * say that the limit is the process's (ulimit -f) or the filesystem's. */
static const char *errno_text(int e)
{
    if (e == EFBIG)
        return "File too large (over the file-size limit: ulimit -f, or the "
               "filesystem's largest file)";
    return strerror(e);
}

static int status_of_errno(int e)
{
    return e == ENOSPC || e == EDQUOT ? SAMSEP_ERR_NOSPACE : SAMSEP_ERR_IO;
}

int audio_writer_open(const char *final_path, int format, int subtype, int rate,
                      int channels, const audio_tags *tags, audio_writer **out, char *err,
                      size_t errlen)
{
    static unsigned counter;
    audio_writer *w;
    SF_INFO info;
    unsigned attempt;

    *out = NULL;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        goto nomem;
    w->fd = -1;
    w->track = -1;
    w->channels = channels;
    w->integer = subtype != SAMSEP_SUBTYPE_FLOAT;
    w->final_path = strdup(final_path);
    w->scratch = malloc((size_t)CLAMP_BLOCK * (size_t)channels * sizeof(float));
    if (w->final_path == NULL || w->scratch == NULL)
        goto nomem;
    for (attempt = 0; attempt < 100 && w->fd < 0; attempt++) {
        free(w->tmp_path);
        w->tmp_path = make_tmp_path(final_path, counter++);
        if (w->tmp_path == NULL)
            goto nomem;
        w->fd = open(w->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd < 0 && errno != EEXIST) {
            int e = errno;

            set_err(err, errlen, "%s: cannot create output: %s", final_path, strerror(e));
            free(w->tmp_path);
            w->tmp_path = NULL; /* nothing was created: nothing to unlink */
            audio_writer_abort(w);
            return status_of_errno(e);
        }
    }
    if (w->fd < 0) {
        set_err(err, errlen, "%s: cannot find a free temporary name", final_path);
        free(w->tmp_path);
        w->tmp_path = NULL;
        audio_writer_abort(w);
        return SAMSEP_ERR_IO;
    }
    w->track = temporary_track(w->tmp_path);
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = sf_major_of(format) | sf_subtype_of(subtype);
    w->sf = sf_open_fd(w->fd, SFM_WRITE, &info, SF_FALSE);
    if (w->sf == NULL) {
        set_err(err, errlen, "%s: cannot write audio: %s", final_path, sf_strerror(NULL));
        audio_writer_abort(w);
        return SAMSEP_ERR_IO;
    }
    if (format == SAMSEP_FORMAT_WAV)
        sf_command(w->sf, SFC_RF64_AUTO_DOWNGRADE, NULL, SF_TRUE);
    sf_command(w->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    /* Tags must precede the first sample for FLAC. */
    if (tags != NULL) {
        if (tags->software != NULL)
            sf_set_string(w->sf, SF_STR_SOFTWARE, tags->software);
        if (tags->title != NULL)
            sf_set_string(w->sf, SF_STR_TITLE, tags->title);
        if (tags->comment != NULL)
            sf_set_string(w->sf, SF_STR_COMMENT, tags->comment);
    }
    *out = w;
    return SAMSEP_OK;

nomem:
    set_err(err, errlen, "%s: out of memory", final_path);
    audio_writer_abort(w);
    return SAMSEP_ERR_NOMEM;
}

static int write_block(audio_writer *w, const float *buf, int64_t frames, char *err,
                       size_t errlen)
{
    sf_count_t put;

    errno = 0;
    put = sf_writef_float(w->sf, buf, (sf_count_t)frames);
    if (put != (sf_count_t)frames) {
        int e = errno;

        if (e != 0) {
            set_err(err, errlen, "%s: write failed: %s", w->final_path, errno_text(e));
            return status_of_errno(e);
        }
        set_err(err, errlen, "%s: write failed: %s", w->final_path, sf_strerror(w->sf));
        return SAMSEP_ERR_IO;
    }
    return SAMSEP_OK;
}

int audio_writer_write(audio_writer *w, const float *buf, int64_t frames,
                       int64_t *clipped, char *err, size_t errlen)
{
    int64_t done = 0;

    if (!w->integer)
        return write_block(w, buf, frames, err, errlen);
    while (done < frames) {
        int64_t n = frames - done < CLAMP_BLOCK ? frames - done : CLAMP_BLOCK;
        const float *src = buf + (size_t)done * (size_t)w->channels;
        int64_t i, count = n * w->channels, over = 0;
        int rc;

        for (i = 0; i < count; i++) {
            float x = src[i];

            if (x > 1.0f) {
                x = 1.0f;
                over++;
            } else if (x < -1.0f) {
                x = -1.0f;
                over++;
            } else if (x != x) { /* NaN: a broken engine, never a click */
                x = 0.0f;
                over++;
            }
            w->scratch[i] = x;
        }
        if (clipped != NULL)
            *clipped += over;
        rc = write_block(w, w->scratch, n, err, errlen);
        if (rc != SAMSEP_OK)
            return rc;
        done += n;
    }
    return SAMSEP_OK;
}

static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    int fd;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some filesystems refuse */
        close(fd);
    }
}

int audio_writer_commit(audio_writer *w, char *err, size_t errlen)
{
    int rc, e;

    errno = 0;
    sf_write_sync(w->sf);
    rc = sf_close(w->sf);
    e = errno;
    w->sf = NULL;
    if (rc != 0) {
        /* libsndfile reports a failed write as a "system error": say which */
        set_err(err, errlen, "%s: finishing the file failed: %s", w->final_path,
                e != 0 ? errno_text(e) : sf_error_number(rc));
        audio_writer_abort(w);
        return e != 0 ? status_of_errno(e) : SAMSEP_ERR_IO;
    }
    if (fsync(w->fd) != 0 && errno != EINVAL) {
        e = errno;
        set_err(err, errlen, "%s: sync failed: %s", w->final_path, strerror(e));
        audio_writer_abort(w);
        return status_of_errno(e);
    }
    if (close(w->fd) != 0) {
        e = errno;
        w->fd = -1;
        set_err(err, errlen, "%s: close failed: %s", w->final_path, strerror(e));
        audio_writer_abort(w);
        return status_of_errno(e);
    }
    w->fd = -1;
    if (rename(w->tmp_path, w->final_path) != 0) {
        e = errno;
        set_err(err, errlen, "%s: cannot move the finished file into place: %s",
                w->final_path, strerror(e));
        audio_writer_abort(w);
        return status_of_errno(e);
    }
    sync_parent_dir(w->final_path);
    free(w->tmp_path);
    w->tmp_path = NULL;
    audio_writer_abort(w); /* frees what is left, unlinks nothing */
    return SAMSEP_OK;
}

void audio_writer_abort(audio_writer *w)
{
    if (w == NULL)
        return;
    if (w->sf != NULL)
        sf_close(w->sf);
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp_path != NULL)
        unlink(w->tmp_path);
    /* Only now: until the temporary is renamed or removed, a program ending
     * at once must remove it (after a rename it finds nothing there). */
    temporary_untrack(w->track);
    free(w->tmp_path);
    free(w->final_path);
    free(w->scratch);
    free(w);
}
