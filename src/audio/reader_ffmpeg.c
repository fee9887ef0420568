/*
 * reader_ffmpeg.c - block-by-block decoding through FFmpeg's libraries of
 * what libsndfile cannot read: libavformat demuxes, libavcodec decodes,
 * libswresample turns the decoder's sample format into interleaved float
 * (never resampling: samples come out at the stream's own rate and channel
 * count, as libsndfile's do).
 *
 * Only the first audio stream is decoded; the demuxer discards every other
 * stream (video included) without handing it over. One packet is in flight
 * and one decoded frame is held, converted, until it is read, so memory is
 * bounded by the codec's frame size whatever the file's length.
 *
 * The file is read through the reader's own I/O callbacks on one file
 * descriptor, and FFmpeg may not open anything else: its io_open is refused
 * and no protocol is whitelisted, so a playlist, a concat script or an MP4
 * with external references in a scanned folder cannot make samsep read other
 * files or the network, and a name like "http:x.mp4" is only a file name.
 *
 * Priming and padding are trimmed as FFmpeg reports them. libavcodec drops
 * what the demuxer marks as skipped (MP4 edit lists, Matroska CodecDelay and
 * DiscardPadding, Ogg pre-skip). Where the container states the stream's
 * exact length in its header (MP4's sample tables and edit list), frames
 * decoded past it are the encoder's end padding: they are held back and
 * dropped at the end of the stream. More than TAIL_MAX of them means the
 * header is wrong, not the codec, and they are then kept: audio is never
 * dropped on a guess. Other containers say nothing of end padding (or say
 * it per packet, which libavcodec applies), so nothing more is trimmed.
 *
 * The rate and channel count are those of the first decoded frame (HE-AAC
 * and others declare the core's in the container), so open decodes one
 * frame. A decoding error fails the file: a packet is never skipped
 * silently. FFmpeg's own messages go to the library's log at debug level
 * (the library never prints); the last warning or error among them is
 * kept, per thread, to make failures say more than "invalid data".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "audio/reader_ffmpeg.h"
#include "core/internal.h"

#define IO_BUFFER 65536  /* bytes per read of the file */
#define TAIL_MAX 8192    /* frames past the stated duration taken for padding */
#define SHORT_SLACK 2048 /* frames short of it not taken for a file cut short */

struct ff_reader {
    int fd;
    AVIOContext *io;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    SwrContext *swr;
    int swr_format; /* the sample format swr converts from, -1 none */
    AVPacket *pkt;
    AVFrame *frame;
    int stream; /* index of the decoded stream */
    int rate, channels;
    int64_t frames_est;
    int64_t limit;    /* frames the header states; -1 unknown or given up */
    int64_t promised; /* the same when it is an exact promise, else -1 */
    int64_t decoded;  /* frames converted so far */
    float *out;       /* converted frames ready to read */
    int64_t out_pos, out_len, out_cap;
    float *tail; /* frames past `limit`, held back */
    int64_t tail_len, tail_cap;
    int draining;         /* the end of the file was sent to the decoder */
    char stop_reason[64]; /* why the data ended early, "" if it did not */
    int done;             /* the decoder is empty */
    char *path;
    char container[32];
    char software[256];
    char comment[SAMSEP_MSG_MAX];
    char note[256];
};

/* ---- FFmpeg's messages --------------------------------------------------- */

static _Thread_local char last_error[512];

static void ff_log(void *avcl, int level, const char *fmt, va_list vl)
{
    const AVClass *cls = avcl != NULL ? *(const AVClass *const *)avcl : NULL;
    char msg[256];
    size_t n;
    va_list cp;

    if (level > AV_LOG_WARNING)
        return;
    va_copy(cp, vl);
    vsnprintf(msg, sizeof msg, fmt, cp);
    va_end(cp);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (n == 0)
        return;
    if (cls != NULL && cls->item_name != NULL)
        snprintf(last_error, sizeof last_error, "%s: %s", cls->item_name(avcl), msg);
    else
        snprintf(last_error, sizeof last_error, "%s", msg);
    LOG_DEBUG("FFmpeg %s", last_error);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void install_log(void)
{
    av_log_set_callback(ff_log);
}

/* "what failed: FFmpeg's reason (its last message)" into err. */
static void ff_err(char *err, size_t errlen, const char *what, int averr)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(averr, reason, sizeof reason);
    if (last_error[0] != '\0' && strcmp(last_error, reason) != 0)
        set_err(err, errlen, "%s: %s (%s)", what, reason, last_error);
    else
        set_err(err, errlen, "%s: %s", what, reason);
}

/* ---- I/O on our own descriptor ------------------------------------------ */

static int io_read(void *opaque, uint8_t *buf, int size)
{
    ff_reader *r = opaque;
    ssize_t n;

    do
        n = read(r->fd, buf, (size_t)size);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return AVERROR(errno);
    return n == 0 ? AVERROR_EOF : (int)n;
}

static int64_t io_seek(void *opaque, int64_t offset, int whence)
{
    ff_reader *r = opaque;
    struct stat st;
    off_t pos;

    if (whence & AVSEEK_SIZE) {
        if (fstat(r->fd, &st) != 0)
            return AVERROR(errno);
        return (int64_t)st.st_size;
    }
    pos = lseek(r->fd, (off_t)offset, whence & ~AVSEEK_FORCE);
    return pos < 0 ? AVERROR(errno) : (int64_t)pos;
}

/* FFmpeg may open nothing but the file it was given. */
static int refuse_open(AVFormatContext *s, AVIOContext **pb, const char *url, int flags,
                       AVDictionary **options)
{
    (void)s;
    (void)pb;
    (void)flags;
    (void)options;
    LOG_DEBUG("FFmpeg asked to open \"%s\"; refused", url);
    return AVERROR(EPERM);
}

/* ---- conversion and the held-back tail -------------------------------- */

static int reserve(float **buf, int64_t *cap, int64_t frames, int channels)
{
    float *p;

    if (frames <= *cap)
        return 0;
    p = realloc(*buf, (size_t)frames * (size_t)channels * sizeof(float));
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = frames;
    return 0;
}

static int append(float **buf, int64_t *len, int64_t *cap, const float *src,
                  int64_t frames, int channels)
{
    if (reserve(buf, cap, *len + frames, channels) != 0)
        return -1;
    memcpy(*buf + (size_t)*len * (size_t)channels, src,
           (size_t)frames * (size_t)channels * sizeof(float));
    *len += frames;
    return 0;
}

static int setup_swr(ff_reader *r, const AVFrame *f, char *err, size_t errlen)
{
    AVChannelLayout layout;
    int ret;

    swr_free(&r->swr);
    r->swr_format = -1;
    /* In and out have the same layout: no remixing, only the format. */
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
        av_channel_layout_default(&layout, f->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&layout, &f->ch_layout) < 0)
        return SAMSEP_ERR_NOMEM;
    ret = swr_alloc_set_opts2(&r->swr, &layout, AV_SAMPLE_FMT_FLT, f->sample_rate,
                              &layout, (enum AVSampleFormat)f->format, f->sample_rate, 0,
                              NULL);
    av_channel_layout_uninit(&layout);
    if (ret >= 0)
        ret = swr_init(r->swr);
    if (ret < 0) {
        ff_err(err, errlen, "cannot convert the decoder's samples", ret);
        return SAMSEP_ERR_FORMAT;
    }
    r->swr_format = f->format;
    return SAMSEP_OK;
}

/*
 * The length the header states. MP4's sample tables, after its edit list,
 * give the stream's exact length: frames decoded past it are end padding,
 * and a file that ends sooner was cut short. Other containers' durations
 * are estimates, good for progress only.
 */
static void stated_length(ff_reader *r)
{
    const AVStream *st = r->fmt->streams[r->stream];
    AVRational per_frame = { 1, r->rate };

    r->limit = r->promised = r->frames_est = -1;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
        r->frames_est = av_rescale_q(st->duration, st->time_base, per_frame);
        if (strncmp(r->fmt->iformat->name, "mov,", 4) == 0)
            r->limit = r->promised = r->frames_est;
    } else if (r->fmt->duration != AV_NOPTS_VALUE && r->fmt->duration > 0) {
        r->frames_est = av_rescale(r->fmt->duration, r->rate, AV_TIME_BASE);
    }
}

/*
 * Convert the decoded frame and queue it: frames up to `limit` go to `out`;
 * those past it wait in `tail` until the end of the stream shows they were
 * padding, or until there are too many of them to be.
 */
static int take_frame(ff_reader *r, char *err, size_t errlen)
{
    const AVFrame *f = r->frame;
    int64_t n = f->nb_samples, keep;
    float *dst;
    int got, rc;

    if (n <= 0)
        return SAMSEP_OK;
    if (f->sample_rate <= 0 || f->ch_layout.nb_channels <= 0) {
        set_err(err, errlen, "a decoded frame without a rate or channels");
        return SAMSEP_ERR_FORMAT;
    }
    if (r->rate == 0) {
        r->rate = f->sample_rate;
        r->channels = f->ch_layout.nb_channels;
        stated_length(r);
    }
    if (f->sample_rate != r->rate || f->ch_layout.nb_channels != r->channels) {
        set_err(err, errlen,
                "the audio changes from %d Hz, %d channel(s) to %d Hz, "
                "%d channel(s) after %lld frames; samsep needs one rate and channel "
                "count per file",
                r->rate, r->channels, f->sample_rate, f->ch_layout.nb_channels,
                (long long)r->decoded);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->channels < 1 || r->channels > 64 || n > INT32_MAX / 64) {
        set_err(err, errlen, "a decoded frame of %lld samples and %d channels",
                (long long)n, r->channels);
        return SAMSEP_ERR_FORMAT;
    }
    if (r->swr == NULL || r->swr_format != f->format) {
        rc = setup_swr(r, f, err, errlen);
        if (rc != SAMSEP_OK)
            return rc;
    }
    /* `out` has been read out: its room is reused from the start. */
    r->out_pos = r->out_len = 0;
    if (reserve(&r->out, &r->out_cap, n, r->channels) != 0)
        return SAMSEP_ERR_NOMEM;
    dst = r->out;
    got = swr_convert(r->swr, (uint8_t **)&dst, (int)n,
                      (const uint8_t **)f->extended_data, (int)n);
    if (got < 0) {
        ff_err(err, errlen, "cannot convert the decoder's samples", got);
        return SAMSEP_ERR_FORMAT;
    }
    keep = got;
    if (r->limit >= 0 && r->decoded + got > r->limit) {
        /* A tail already held means the limit was crossed before: keep 0. */
        keep = r->decoded < r->limit ? r->limit - r->decoded : 0;
        if (append(&r->tail, &r->tail_len, &r->tail_cap,
                   r->out + (size_t)keep * (size_t)r->channels, got - keep,
                   r->channels) != 0)
            return SAMSEP_ERR_NOMEM;
        if (r->tail_len > TAIL_MAX) {
            /* Far more than a codec pads: the stated duration is wrong. */
            LOG_DEBUG("%s: audio runs on past the duration in the header (%lld "
                      "frames); keeping it",
                      r->path, (long long)r->limit);
            if (append(&r->out, &keep, &r->out_cap, r->tail, r->tail_len, r->channels) !=
                0)
                return SAMSEP_ERR_NOMEM;
            r->tail_len = 0;
            r->limit = -1;
        }
    }
    r->out_len = keep;
    r->decoded += got;
    return SAMSEP_OK;
}

/* ---- demuxing and decoding --------------------------------------------- */

/* Send the next packet of our stream to the decoder (or the end of it). */
static int feed(ff_reader *r, char *err, size_t errlen)
{
    int ret;

    for (;;) {
        last_error[0] = '\0';
        ret = av_read_frame(r->fmt, r->pkt);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(r->fmt->pb))) {
            r->draining = 1;
            ret = avcodec_send_packet(r->dec, NULL);
            break;
        }
        if (ret < 0) {
            ff_err(err, errlen, "read error", ret);
            return ret == AVERROR(EIO) ? SAMSEP_ERR_IO : SAMSEP_ERR_FORMAT;
        }
        if (r->pkt->stream_index != r->stream) {
            av_packet_unref(r->pkt);
            continue;
        }
        if ((r->pkt->flags & AV_PKT_FLAG_CORRUPT) && avio_feof(r->fmt->pb)) {
            /* The file ends inside this packet: it was cut short. What came
             * before it is the audio there is. */
            snprintf(r->stop_reason, sizeof r->stop_reason,
                     "the file ends inside a packet");
            av_packet_unref(r->pkt);
            r->draining = 1;
            ret = avcodec_send_packet(r->dec, NULL);
            break;
        }
        ret = avcodec_send_packet(r->dec, r->pkt);
        av_packet_unref(r->pkt);
        break;
    }
    if (ret < 0 && ret != AVERROR_EOF) {
        char what[96];

        snprintf(what, sizeof what, "decoding failed after %lld frames",
                 (long long)r->decoded);
        ff_err(err, errlen, what, ret);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

/* Decode until a frame is queued in `out` or the stream has ended. */
static int next_frame(ff_reader *r, char *err, size_t errlen)
{
    int ret, rc;

    while (!r->done && r->out_pos >= r->out_len) {
        last_error[0] = '\0';
        ret = avcodec_receive_frame(r->dec, r->frame);
        if (ret == 0) {
            rc = take_frame(r, err, errlen);
            av_frame_unref(r->frame);
            if (rc != SAMSEP_OK)
                return rc;
        } else if (ret == AVERROR_EOF) {
            if (r->tail_len > 0)
                LOG_DEBUG("%s: %lld frame(s) of end padding dropped", r->path,
                          (long long)r->tail_len);
            /* A few frames short of the header, with the file whole, is how
             * an edit list may round, not a cut. */
            if (r->stop_reason[0] == '\0' && r->promised > r->decoded &&
                r->promised - r->decoded <= SHORT_SLACK)
                r->promised = -1;
            r->done = 1;
        } else if (ret == AVERROR(EAGAIN) && !r->draining) {
            rc = feed(r, err, errlen);
            if (rc != SAMSEP_OK)
                return rc;
        } else {
            char what[96];

            snprintf(what, sizeof what, "decoding failed after %lld frames",
                     (long long)r->decoded);
            ff_err(err, errlen, what, ret);
            return SAMSEP_ERR_FORMAT;
        }
    }
    return SAMSEP_OK;
}

int64_t ff_reader_read(ff_reader *r, float *buf, int64_t frames, char *err, size_t errlen)
{
    int64_t got = 0;
    int rc;

    while (got < frames) {
        int64_t n = r->out_len - r->out_pos;

        if (n == 0) {
            if (r->done)
                break;
            rc = next_frame(r, err, errlen);
            if (rc != SAMSEP_OK) {
                char why[SAMSEP_MSG_MAX];

                snprintf(why, sizeof why, "%s", err);
                set_err(err, errlen, "%s: FFmpeg (%s): %s", r->path, r->container, why);
                return rc;
            }
            continue;
        }
        if (n > frames - got)
            n = frames - got;
        memcpy(buf + (size_t)got * (size_t)r->channels,
               r->out + (size_t)r->out_pos * (size_t)r->channels,
               (size_t)n * (size_t)r->channels * sizeof(float));
        r->out_pos += n;
        got += n;
    }
    return got;
}

/* ---- opening ------------------------------------------------------------- */

static const char *tag_of(const ff_reader *r, const char *key)
{
    const AVDictionaryEntry *e = av_dict_get(r->fmt->metadata, key, NULL, 0);

    if (e == NULL)
        e = av_dict_get(r->fmt->streams[r->stream]->metadata, key, NULL, 0);
    return e != NULL && e->value != NULL ? e->value : NULL;
}

static void read_tags(ff_reader *r)
{
    const char *sw = tag_of(r, "software"), *c = tag_of(r, "comment");

    if (sw == NULL)
        sw = tag_of(r, "encoder"); /* where FFmpeg maps RIFF's ISFT */
    snprintf(r->software, sizeof r->software, "%s", sw != NULL ? sw : "");
    snprintf(r->comment, sizeof r->comment, "%s", c != NULL ? c : "");
}

/* The first audio stream, or -1; *count (OUT) the number of audio streams. */
static int first_audio(const AVFormatContext *fmt, int *count)
{
    unsigned i;
    int first = -1;

    *count = 0;
    for (i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
            if (first < 0)
                first = (int)i;
            (*count)++;
        }
    return first;
}

static void describe_choice(ff_reader *r, int count)
{
    const AVStream *st = r->fmt->streams[r->stream];
    const AVDictionaryEntry *lang = av_dict_get(st->metadata, "language", NULL, 0);

    if (count < 2)
        return;
    if (lang != NULL && strcmp(lang->value, "und") == 0)
        lang = NULL; /* undetermined */
    snprintf(r->note, sizeof r->note,
             "%d audio streams; the first (stream #%d, %s%s%s) was used, the others "
             "were ignored",
             count, r->stream, avcodec_get_name(st->codecpar->codec_id),
             lang != NULL ? ", language " : "", lang != NULL ? lang->value : "");
}

static int open_decoder(ff_reader *r, char *err, size_t errlen)
{
    const AVStream *st = r->fmt->streams[r->stream];
    const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
    int ret;

    if (codec == NULL) {
        set_err(err, errlen, "no decoder in this build for its audio codec (%s)",
                avcodec_get_name(st->codecpar->codec_id));
        return SAMSEP_ERR_FORMAT;
    }
    r->dec = avcodec_alloc_context3(codec);
    if (r->dec == NULL)
        return SAMSEP_ERR_NOMEM;
    ret = avcodec_parameters_to_context(r->dec, st->codecpar);
    if (ret >= 0) {
        r->dec->pkt_timebase = st->time_base;
        r->dec->thread_count = 1; /* its messages stay on this thread */
        ret = avcodec_open2(r->dec, codec, NULL);
    }
    if (ret < 0) {
        char what[96];

        snprintf(what, sizeof what, "cannot open the %s decoder", codec->name);
        ff_err(err, errlen, what, ret);
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

/* Demuxer and stream; *recognised is set once FFmpeg knows the container. */
static int open_stream(ff_reader *r, int *recognised, char *err, size_t errlen)
{
    unsigned char *iobuf = av_malloc(IO_BUFFER);
    AVDictionary *opts = NULL;
    const char *comma;
    int ret, count;
    unsigned i;

    if (iobuf == NULL)
        return SAMSEP_ERR_NOMEM;
    r->io = avio_alloc_context(iobuf, IO_BUFFER, 0, r, io_read, NULL, io_seek);
    r->fmt = avformat_alloc_context();
    if (r->io == NULL || r->fmt == NULL) {
        if (r->io == NULL)
            av_free(iobuf);
        return SAMSEP_ERR_NOMEM;
    }
    r->fmt->pb = r->io;
    r->fmt->io_open = refuse_open;
    /* Demuxers that open files of their own (concat) do it through a
     * context that inherits the whitelist, not io_open: allow no protocol. */
    if (av_dict_set(&opts, "protocol_whitelist", "none", 0) < 0)
        return SAMSEP_ERR_NOMEM;
    last_error[0] = '\0';
    ret = avformat_open_input(&r->fmt, r->path, NULL, &opts); /* frees on failure */
    av_dict_free(&opts);
    if (ret < 0) {
        ff_err(err, errlen, "cannot open", ret);
        return SAMSEP_ERR_FORMAT;
    }
    *recognised = 1;
    comma = strchr(r->fmt->iformat->name, ',');
    snprintf(r->container, sizeof r->container, "%.*s",
             comma != NULL ? (int)(comma - r->fmt->iformat->name) : 31,
             r->fmt->iformat->name);
    r->stream = first_audio(r->fmt, &count);
    if (r->stream < 0) {
        /* Containers without a header (MPEG-TS, ...) show streams as read. */
        if (avformat_find_stream_info(r->fmt, NULL) >= 0)
            r->stream = first_audio(r->fmt, &count);
    }
    if (r->stream < 0) {
        set_err(err, errlen, "the file has no audio stream");
        return SAMSEP_ERR_FORMAT;
    }
    for (i = 0; i < r->fmt->nb_streams; i++)
        r->fmt->streams[i]->discard = (int)i == r->stream ? AVDISCARD_DEFAULT
                                                          : AVDISCARD_ALL;
    describe_choice(r, count);
    read_tags(r);
    return SAMSEP_OK;
}

int ff_reader_open(const char *path, ff_reader **out, int *recognised, char *err,
                   size_t errlen)
{
    ff_reader *r;
    int rc;

    *out = NULL;
    *recognised = 0;
    pthread_once(&log_once, install_log);
    r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    r->fd = -1;
    r->swr_format = -1;
    r->limit = -1;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        set_err(err, errlen, "cannot open: %s", strerror(errno));
        ff_reader_close(r);
        return SAMSEP_ERR_IO;
    }
    rc = open_stream(r, recognised, err, errlen);
    if (rc == SAMSEP_OK)
        rc = open_decoder(r, err, errlen);
    if (rc == SAMSEP_OK) {
        r->pkt = av_packet_alloc();
        r->frame = av_frame_alloc();
        rc = r->pkt != NULL && r->frame != NULL ? SAMSEP_OK : SAMSEP_ERR_NOMEM;
    }
    if (rc == SAMSEP_OK)
        rc = next_frame(r, err, errlen); /* fixes rate and channels */
    if (rc == SAMSEP_OK && r->rate == 0) {
        /* No audio at all: the container's word, for an "empty" verdict. */
        r->rate = r->dec->sample_rate;
        r->channels = r->dec->ch_layout.nb_channels;
        if (r->rate <= 0 || r->channels <= 0) {
            set_err(err, errlen, "its audio stream holds nothing that decodes");
            rc = SAMSEP_ERR_FORMAT;
        } else {
            stated_length(r);
        }
    }
    if (rc == SAMSEP_ERR_NOMEM)
        set_err(err, errlen, "out of memory");
    if (rc != SAMSEP_OK) {
        char why[SAMSEP_MSG_MAX];

        snprintf(why, sizeof why, "%s", err);
        if (*recognised)
            set_err(err, errlen, "FFmpeg (%s): %s", r->container, why);
        else
            set_err(err, errlen, "FFmpeg: %s", why);
        ff_reader_close(r);
        return rc;
    }
    if (r->done && r->decoded == 0)
        r->frames_est = 0;
    *out = r;
    return SAMSEP_OK;
}

void ff_reader_close(ff_reader *r)
{
    if (r == NULL)
        return;
    avcodec_free_context(&r->dec);
    avformat_close_input(&r->fmt);
    if (r->io != NULL) {
        av_freep(&r->io->buffer);
        avio_context_free(&r->io);
    }
    swr_free(&r->swr);
    av_packet_free(&r->pkt);
    av_frame_free(&r->frame);
    if (r->fd >= 0)
        close(r->fd);
    free(r->out);
    free(r->tail);
    free(r->path);
    free(r);
}

int ff_reader_rate(const ff_reader *r)
{
    return r->rate;
}

int ff_reader_channels(const ff_reader *r)
{
    return r->channels;
}

int64_t ff_reader_frames(const ff_reader *r)
{
    return r->frames_est;
}

int64_t ff_reader_promised(const ff_reader *r)
{
    return r->promised;
}

const char *ff_reader_stop_reason(const ff_reader *r)
{
    return r->stop_reason;
}

const char *ff_reader_container(const ff_reader *r)
{
    return r->container;
}

const char *ff_reader_software(const ff_reader *r)
{
    return r->software;
}

const char *ff_reader_comment(const ff_reader *r)
{
    return r->comment;
}

const char *ff_reader_note(const ff_reader *r)
{
    return r->note;
}

/* ---- what this build reads --------------------------------------------- */

/* Containers worth naming, by demuxer; listed when this FFmpeg has it. */
static const struct {
    const char *demuxer, *extensions, *name;
} containers[] = {
    { "mov", "m4a m4b mp4 m4v mov 3gp 3g2", "MPEG-4 / QuickTime (AAC, ALAC, ...)" },
    { "matroska", "mkv mka webm", "Matroska / WebM (Opus, Vorbis, AAC, ...)" },
    { "asf", "wma wmv asf", "Windows Media" },
    { "avi", "avi", "AVI" },
    { "flv", "flv", "Flash Video" },
    { "mpegts", "ts mts m2ts", "MPEG transport stream" },
    { "mpeg", "mpg mpeg vob", "MPEG program stream" },
    { "aac", "aac adts", "AAC (ADTS)" },
    { "ac3", "ac3", "Dolby Digital (AC-3)" },
    { "eac3", "eac3 ec3", "Dolby Digital Plus (E-AC-3)" },
    { "dts", "dts", "DTS" },
    { "amr", "amr", "AMR" },
    { "ape", "ape", "Monkey's Audio" },
    { "wv", "wv", "WavPack" },
    { "tta", "tta", "True Audio" },
    { "mpc", "mpc", "Musepack" },
    { "rm", "rm ra", "RealMedia" },
    { "ogg", "ogv spx", "Ogg (Speex, Theora video, ...)" },
};

/* Audio codecs worth naming; listed when this FFmpeg can decode them. */
static const struct {
    enum AVCodecID id;
    const char *name;
} codecs[] = {
    { AV_CODEC_ID_AAC, "AAC (LC, HE, HE v2)" },
    { AV_CODEC_ID_ALAC, "ALAC" },
    { AV_CODEC_ID_OPUS, "Opus" },
    { AV_CODEC_ID_VORBIS, "Vorbis" },
    { AV_CODEC_ID_MP3, "MP3" },
    { AV_CODEC_ID_FLAC, "FLAC" },
    { AV_CODEC_ID_WMAV2, "WMA" },
    { AV_CODEC_ID_WMAPRO, "WMA Pro" },
    { AV_CODEC_ID_WMALOSSLESS, "WMA Lossless" },
    { AV_CODEC_ID_AC3, "AC-3" },
    { AV_CODEC_ID_EAC3, "E-AC-3" },
    { AV_CODEC_ID_DTS, "DTS" },
    { AV_CODEC_ID_TRUEHD, "TrueHD" },
    { AV_CODEC_ID_AMR_NB, "AMR-NB" },
    { AV_CODEC_ID_AMR_WB, "AMR-WB" },
    { AV_CODEC_ID_SPEEX, "Speex" },
    { AV_CODEC_ID_APE, "Monkey's Audio" },
    { AV_CODEC_ID_WAVPACK, "WavPack" },
};

#define N_CONTAINERS ((int)(sizeof containers / sizeof containers[0]))
#define N_CODECS ((int)(sizeof codecs / sizeof codecs[0]))

static int has_container(int i)
{
    return av_find_input_format(containers[i].demuxer) != NULL;
}

static int has_codec(int i)
{
    return avcodec_find_decoder(codecs[i].id) != NULL;
}

int ff_input_format(int index, samsep_input_format *out)
{
    int i;

    for (i = 0; i < N_CONTAINERS; i++)
        if (has_container(i) && index-- == 0) {
            out->library = "FFmpeg";
            out->kind = "container";
            out->name = containers[i].name;
            out->extensions = containers[i].extensions;
            return 1;
        }
    for (i = 0; i < N_CODECS; i++)
        if (has_codec(i) && index-- == 0) {
            out->library = "FFmpeg";
            out->kind = "codec";
            out->name = codecs[i].name;
            out->extensions = "";
            return 1;
        }
    return 0;
}

int ff_known_extension(const char *ext)
{
    size_t len = strlen(ext);
    int i;

    if (len == 0)
        return 0;
    for (i = 0; i < N_CONTAINERS; i++) {
        const char *p = containers[i].extensions;

        while (*p != '\0') {
            size_t n = strcspn(p, " ");

            if (n == len && strncasecmp(p, ext, n) == 0)
                return has_container(i);
            p += n;
            p += strspn(p, " ");
        }
    }
    return 0;
}

static char version[128];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void make_version(void)
{
    unsigned f = avformat_version(), c = avcodec_version();

    snprintf(version, sizeof version,
             "FFmpeg %s (libavformat %u.%u.%u, libavcodec %u.%u.%u)", av_version_info(),
             AV_VERSION_MAJOR(f), AV_VERSION_MINOR(f), AV_VERSION_MICRO(f),
             AV_VERSION_MAJOR(c), AV_VERSION_MINOR(c), AV_VERSION_MICRO(c));
}

const char *ff_version(void)
{
    pthread_once(&version_once, make_version);
    return version;
}
