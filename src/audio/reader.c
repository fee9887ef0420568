/*
 * reader.c - block-by-block reading of any audio file: libsndfile first, and
 * FFmpeg's libraries (reader_ffmpeg.c) for what libsndfile does not know,
 * behind one audio_reader. libsndfile goes first because it is exact about
 * what it reads (frame counts from the header, tags) and is what writes the
 * outputs; FFmpeg adds the containers of the world (MP4/M4A, Matroska/WebM,
 * ASF/WMA, video files' audio) and their codecs.
 *
 * libsndfile's error state is per handle (and a global for failed opens), so
 * each failure is turned into a message naming the file at once, before
 * another call can overwrite it.
 *
 * A file cut short (a recording that died, a copy that stopped) promises in
 * its header more frames than it holds. libsndfile then reads what is there
 * and notes the header's size in its log ("data : 96000 (should be 49920)"),
 * which is the only place that says how much was promised; the promise is
 * taken from there. A decoder that runs out of data before the header's
 * count (FLAC cut inside a frame) ends the stream instead of failing it:
 * what was decoded is kept, and the pipeline reports both counts.
 *
 * audio_reader_open_header() is for a look at the header and tags of many
 * files (planning a batch of 100 000): libsndfile parses its header with a
 * dozen small reads and seeks, so the first HEAD_BYTES are read in one call
 * and libsndfile reads them from memory, through its virtual I/O. The bytes
 * parsed are the same; a file that libsndfile cannot open that way is opened
 * the ordinary way (libsndfile, then FFmpeg), which gives the verdict and its
 * message.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#include "audio/audio.h"
#include "audio/reader_ffmpeg.h"
#include "core/internal.h"

#define HEAD_BYTES 65536

/* A file whose first bytes are held in memory (audio_reader_open_header). */
typedef struct headfile {
    int fd;
    sf_count_t len, pos;
    size_t have;
    unsigned char buf[];
} headfile;

struct audio_reader {
    SNDFILE *sf;  /* libsndfile's handle, or NULL when FFmpeg reads */
    SF_INFO info; /* rate and channels of either reader */
    ff_reader *ff;
    headfile *head; /* NULL unless opened by audio_reader_open_header */
    char *path;
    int64_t promised; /* frames the header promises, -1 unknown */
    int64_t frames_read;
    int stopped; /* the decoder ran out of data early */
    char stop_reason[128];
};

/* Bytes per frame of an uncompressed subtype, 0 for the others. */
static int frame_bytes(int format, int channels)
{
    switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_S8:
    case SF_FORMAT_PCM_U8:
    case SF_FORMAT_ULAW:
    case SF_FORMAT_ALAW: return channels;
    case SF_FORMAT_PCM_16: return 2 * channels;
    case SF_FORMAT_PCM_24: return 3 * channels;
    case SF_FORMAT_PCM_32:
    case SF_FORMAT_FLOAT: return 4 * channels;
    case SF_FORMAT_DOUBLE: return 8 * channels;
    }
    return 0;
}

/*
 * Bytes the data chunk's header promises beyond the end of the file, from
 * a log line "<marker> : <promised> (should be <present>)"; 0 when none.
 * Sizes of 0 and 0xFFFFFFFF mean "not written yet" (a streamed or
 * unfinished file), not a promise.
 */
static int64_t missing_bytes(SNDFILE *sf, int format)
{
    static const char *const markers[] = { "data", "SSND", "Data Size" };
    char log[8192];
    char *line, *save = NULL;
    size_t i;

    if (sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log) <= 0)
        return 0;
    log[sizeof log - 1] = '\0';
    for (line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        long long promised, present;
        const char *should = strstr(line, "(should be ");
        int known = 0;

        while (*line == ' ')
            line++;
        for (i = 0; i < sizeof markers / sizeof markers[0]; i++)
            known |= strncmp(line, markers[i], strlen(markers[i])) == 0;
        /* Sony Wave64 logs the data chunk without it; its riff size says it. */
        known |= (format & SF_FORMAT_TYPEMASK) == SF_FORMAT_W64 &&
                 strncmp(line, "riff", 4) == 0;
        if (!known || should == NULL || strchr(line, ':') == NULL)
            continue;
        if (sscanf(strchr(line, ':') + 1, "%lld", &promised) != 1 ||
            sscanf(should + strlen("(should be "), "%lld", &present) != 1)
            continue;
        if (promised <= 0 || promised == 0xFFFFFFFFLL || present < 0 ||
            promised <= present)
            return 0;
        return promised - present;
    }
    return 0;
}

/* Frames the header promises: libsndfile's count, plus what the data
 * chunk's size says is missing. MPEG streams only have an estimate. */
static int64_t header_promise(audio_reader *r)
{
    int64_t frames = audio_reader_frames(r);
    int bpf = frame_bytes(r->info.format, r->info.channels);

    if (frames < 0 || (r->info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG)
        return -1;
    /* Rounded up: the missing bytes complete a partial last frame first. */
    if (bpf > 0)
        frames += (missing_bytes(r->sf, r->info.format) + bpf - 1) / bpf;
    return frames;
}

/* libsndfile could not open `path` (sfwhy says why): FFmpeg's turn. */
static int open_ffmpeg(audio_reader *r, const char *sfwhy, char *err, size_t errlen)
{
    char why[SAMSEP_MSG_MAX];
    int recognised, rc;

    rc = ff_reader_open(r->path, &r->ff, &recognised, why, sizeof why);
    if (rc != SAMSEP_OK) {
        if (recognised || rc == SAMSEP_ERR_IO || rc == SAMSEP_ERR_NOMEM)
            set_err(err, errlen, "%s: %s", r->path, why);
        else
            set_err(err, errlen, "%s: not a readable audio file (libsndfile: %s; %s)",
                    r->path, sfwhy, why);
        return rc;
    }
    r->info.samplerate = ff_reader_rate(r->ff);
    r->info.channels = ff_reader_channels(r->ff);
    r->info.frames = ff_reader_frames(r->ff);
    r->info.format = 0; /* no SF_FORMAT_* word: outputs default to WAV */
    return SAMSEP_OK;
}

static int check_shape(const audio_reader *r, char *err, size_t errlen)
{
    if (r->info.channels < 1 || r->info.samplerate < 1) {
        set_err(err, errlen, "%s: invalid header (%d channels, %d Hz)", r->path,
                r->info.channels, r->info.samplerate);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->info.samplerate < 1000 || r->info.samplerate > 768000) {
        set_err(err, errlen, "%s: unsupported sample rate %d Hz", r->path,
                r->info.samplerate);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->info.channels > 64) {
        set_err(err, errlen, "%s: too many channels (%d, at most 64)", r->path,
                r->info.channels);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

int audio_reader_open(const char *path, audio_reader **out, char *err, size_t errlen)
{
    audio_reader *r;
    int rc;

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

        if (sferr == SF_ERR_SYSTEM && e != 0) {
            set_err(err, errlen, "%s: cannot open: %s", path, strerror(e));
            rc = SAMSEP_ERR_IO;
        } else {
            char sfwhy[256];

            snprintf(sfwhy, sizeof sfwhy, "%s", sf_strerror(NULL));
            rc = open_ffmpeg(r, sfwhy, err, errlen);
        }
    } else {
        /* Integer samples arrive scaled to [-1, 1); float files as stored. */
        sf_command(r->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
        rc = SAMSEP_OK;
    }
    if (rc == SAMSEP_OK)
        rc = check_shape(r, err, errlen);
    if (rc != SAMSEP_OK) {
        audio_reader_close(r);
        return rc;
    }
    if (r->sf != NULL)
        r->promised = header_promise(r);
    *out = r;
    return SAMSEP_OK;
}

void audio_reader_close(audio_reader *r)
{
    if (r == NULL)
        return;
    if (r->sf != NULL)
        sf_close(r->sf);
    ff_reader_close(r->ff);
    if (r->head != NULL) {
        close(r->head->fd);
        free(r->head);
    }
    free(r->path);
    free(r);
}

/* ---- virtual I/O over a file whose head is in memory --------------------- */

static sf_count_t head_length(void *user)
{
    return ((headfile *)user)->len;
}

static sf_count_t head_seek(sf_count_t offset, int whence, void *user)
{
    headfile *h = user;
    sf_count_t from = whence == SEEK_SET   ? 0
                      : whence == SEEK_CUR ? h->pos
                      : whence == SEEK_END ? h->len
                                           : -1;
    sf_count_t to;

    /* offsets come from the file's header: refuse what would overflow */
    if (from < 0 || (offset > 0 && from > INT64_MAX - offset))
        return -1;
    to = from + offset;
    if (to < 0)
        return -1;
    h->pos = to;
    return to;
}

static sf_count_t head_read(void *ptr, sf_count_t count, void *user)
{
    headfile *h = user;
    unsigned char *dst = ptr;
    sf_count_t done = 0;

    if (count <= 0)
        return 0;
    if (h->pos < (sf_count_t)h->have) {
        sf_count_t n = (sf_count_t)h->have - h->pos;

        done = n < count ? n : count;
        memcpy(dst, h->buf + h->pos, (size_t)done);
    }
    while (done < count) { /* past the head: from the file */
        ssize_t got =
            pread(h->fd, dst + done, (size_t)(count - done), (off_t)(h->pos + done));

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        done += got;
    }
    h->pos += done;
    return done;
}

static sf_count_t head_write(const void *ptr, sf_count_t count, void *user)
{
    (void)ptr;
    (void)count;
    (void)user;
    return 0; /* opened for reading only */
}

static sf_count_t head_tell(void *user)
{
    return ((headfile *)user)->pos;
}

/* Read the head of a regular file; NULL when it is not one, or on error. */
static headfile *head_load(const char *path)
{
    struct stat st;
    headfile *h;
    size_t want;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return NULL;
    }
    want = st.st_size < HEAD_BYTES ? (size_t)st.st_size : HEAD_BYTES;
    h = malloc(sizeof *h + want);
    if (h == NULL) {
        close(fd);
        return NULL;
    }
    h->fd = fd;
    h->len = (sf_count_t)st.st_size;
    h->pos = 0;
    h->have = 0;
    while (h->have < want) {
        ssize_t got = pread(fd, h->buf + h->have, want - h->have, (off_t)h->have);

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        h->have += (size_t)got;
    }
    return h;
}

int audio_reader_open_header(const char *path, audio_reader **out, char *err,
                             size_t errlen)
{
    SF_VIRTUAL_IO vio = { head_length, head_seek, head_read, head_write, head_tell };
    audio_reader *r = calloc(1, sizeof *r);

    *out = NULL;
    if (r != NULL && (r->path = strdup(path)) != NULL &&
        (r->head = head_load(path)) != NULL) {
        r->sf = sf_open_virtual(&vio, SFM_READ, &r->info, r->head);
        if (r->sf != NULL && check_shape(r, NULL, 0) == SAMSEP_OK) {
            sf_command(r->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
            r->promised = header_promise(r);
            *out = r;
            return SAMSEP_OK;
        }
    }
    audio_reader_close(r);
    return audio_reader_open(path, out, err, errlen);
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
    return r->ff != NULL ? ff_reader_software(r->ff) : tag(r, SF_STR_SOFTWARE);
}

const char *audio_reader_comment(const audio_reader *r)
{
    return r->ff != NULL ? ff_reader_comment(r->ff) : tag(r, SF_STR_COMMENT);
}

const char *audio_reader_container(const audio_reader *r)
{
    SF_FORMAT_INFO fi;

    if (r->ff != NULL)
        return ff_reader_container(r->ff);
    memset(&fi, 0, sizeof fi);
    fi.format = r->info.format & SF_FORMAT_TYPEMASK;
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 &&
        fi.extension != NULL)
        return fi.extension;
    return "unknown";
}

const char *audio_reader_note(const audio_reader *r)
{
    return r->ff != NULL ? ff_reader_note(r->ff) : "";
}

int64_t audio_reader_promised(const audio_reader *r)
{
    return r->ff != NULL ? ff_reader_promised(r->ff) : r->promised;
}

const char *audio_reader_stop_reason(const audio_reader *r)
{
    if (r->ff != NULL)
        return ff_reader_stop_reason(r->ff);
    return r->stopped ? r->stop_reason : "";
}

int64_t audio_reader_read(audio_reader *r, float *buf, int64_t frames, char *err,
                          size_t errlen)
{
    sf_count_t got;
    int e;

    if (r->ff != NULL) {
        int64_t n = ff_reader_read(r->ff, buf, frames, err, errlen);

        if (n > 0)
            r->frames_read += n;
        return n;
    }
    if (r->stopped)
        return 0;
    got = sf_readf_float(r->sf, buf, (sf_count_t)frames);
    if (got < 0)
        got = 0;
    e = sf_error(r->sf);
    if (e != SF_ERR_NO_ERROR && e != SF_ERR_SYSTEM &&
        r->frames_read + got < r->promised) {
        /* Out of data before the header's count: the file was cut short. */
        snprintf(r->stop_reason, sizeof r->stop_reason, "%s", sf_strerror(r->sf));
        r->stopped = 1;
    } else if (e != SF_ERR_NO_ERROR) {
        set_err(err, errlen, "%s: read error: %s", r->path, sf_strerror(r->sf));
        return e == SF_ERR_SYSTEM ? SAMSEP_ERR_IO : SAMSEP_ERR_FORMAT;
    }
    r->frames_read += got;
    return (int64_t)got;
}

/* ---- what this build reads --------------------------------------------- */

/* Names of files libsndfile reads (its formats' usual extensions). */
static const char *const sndfile_exts[] = {
    "wav", "wave", "flac", "ogg",  "oga", "opus", "mp3",  "mp2", "aif", "aiff", "aifc",
    "au",  "snd",  "w64",  "rf64", "caf", "sd2",  "voc",  "wv",  "mat", "pvf",  "xi",
    "htk", "sds",  "avr",  "paf",  "iff", "svx",  "nist", "sph", "rf"
};

int audio_known_extension(const char *ext)
{
    size_t i;

    for (i = 0; i < sizeof sndfile_exts / sizeof sndfile_exts[0]; i++)
        if (strcasecmp(ext, sndfile_exts[i]) == 0)
            return 1;
    return ff_known_extension(ext);
}

/* libsndfile's major formats, without RAW (headerless: nothing to open). */
static int sndfile_format(int index, samsep_input_format *out)
{
    static SF_FORMAT_INFO info[64];
    static int count = -1;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    int i, n = 0;

    pthread_mutex_lock(&lock);
    if (count < 0) {
        sf_command(NULL, SFC_GET_FORMAT_MAJOR_COUNT, &n, sizeof n);
        count = 0;
        for (i = 0; i < n && count < 64; i++) {
            info[count].format = i;
            if (sf_command(NULL, SFC_GET_FORMAT_MAJOR, &info[count],
                           sizeof info[count]) == 0 &&
                info[count].format != SF_FORMAT_RAW)
                count++;
        }
    }
    pthread_mutex_unlock(&lock);
    if (index < 0 || index >= count)
        return 0;
    out->library = "libsndfile";
    out->kind = "container";
    out->name = info[index].name;
    out->extensions = info[index].extension != NULL ? info[index].extension : "";
    return 1;
}

int samsep_input_format_get(int index, samsep_input_format *out)
{
    samsep_input_format probe;
    int n = 0;

    if (out == NULL || index < 0)
        return 0;
    while (sndfile_format(n, &probe))
        n++;
    if (index < n)
        return sndfile_format(index, out);
    return ff_input_format(index - n, out);
}

static char libraries[256];
static pthread_once_t libraries_once = PTHREAD_ONCE_INIT;

static void describe_libraries(void)
{
    snprintf(libraries, sizeof libraries, "%s, then %s", sf_version_string(),
             ff_version());
}

const char *samsep_input_libraries(void)
{
    pthread_once(&libraries_once, describe_libraries);
    return libraries;
}
