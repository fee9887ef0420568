/*
 * pipeline.c - one audio file in, target and residual out, in bounded memory.
 *
 * The stages, each handing interleaved float frames to the next through a
 * fifo:
 *
 *   reader (file rate, file channels)
 *     -> downmix to mono if the engine wants mono          -> mixq
 *     -> resample to the engine's rate                      -> ein
 *   chunker: chunk k = ein[k*hop, k*hop + chunk), the plan of plan.c
 *     -> engine set_anchors() (the job's spans cut to the chunk, anchors.c)
 *     -> engine process()
 *     -> crossfade the first `overlap` frames with the previous chunk's tail
 *     -> resample back to the file's rate                   -> tout (, rout)
 *   writers: target = tout; residual = mixq - tout (or the engine's rout)
 *
 * A mono engine's outputs of a file of several channels take the file's
 * channels (samsep_job.channels KEEP): the file's frames also go to mixc,
 * and upmix.c masks each of their channels with the mono target's
 * time-frequency mask, tout and the mono mixture -> uout; then target =
 * uout and residual = mixc - uout, channel by channel, the engine's rout
 * unused. With several prompts each lane has its own stage, its own copy
 * of the mono mixture (lmix) and its own uout.
 *
 * An engine opened for several prompts gives one chunk's outputs per prompt
 * at once (engine_process); from there each prompt has a lane of its own
 * (crossfade tails, resamplers, tout and rout, writers), and the lanes
 * advance in step, so the file is read, downmixed and resampled once and
 * each pair of outputs equals what a run for its prompt alone writes.
 *
 * Only the chunk being processed, the overlap tail and what the resamplers
 * hold are ever in memory, so peak memory depends on the chunk length, not
 * on the file's. The crossfade is out = tail + w * (cur - tail) with a
 * raised-cosine w rising over the overlap: the two weights are w and 1 - w,
 * which sum to one exactly, and equal inputs come out bit-identical. When
 * the overlap exceeds the hop, a frame is blended again by later chunks;
 * each blend is a convex combination, so the weights still sum to one.
 *
 * The residual of a subtracting engine is computed here, at the file's rate,
 * from the very mixture samples that were read, so target + residual equals
 * the mixture to float rounding whatever the engine and resamplers did.
 * A job's tap is shown each block as it is written, mixture included (kept
 * in mixq for it even when the engine makes its own residual).
 * Every input frame gets exactly one output frame: a streaming engine's
 * latency is fed as trailing silence and dropped from the front (per lane:
 * the longest is fed, each lane drops its own, and what runs past the
 * input's length is never written), and what
 * the resampler returns is trimmed or padded to the input's length.
 *
 * Non-finite samples never travel: NaN and infinities in the input are
 * replaced by 0 as each block is read, before the downmix, the resampler or
 * the engine see them, and counted for the report. Every chunk the engine
 * returns is checked, and a non-finite sample there fails the file as an
 * engine error; the outputs are checked once more as they are written, so
 * that no stage can slip one into a file.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audio/audio.h"
#include "batch/provenance.h"
#include "core/internal.h"
#include "engine/engine_handle.h"
#include "stream/fifo.h"
#include "stream/upmix.h"

#define READ_BLOCK 8192    /* file frames per read */
#define STREAM_BLOCK 16384 /* engine frames per call to a streaming engine */
#define RESAMPLE_SPAN 8192 /* output frames per resampler call */
#define MAX_CHUNK_FLOATS ((int64_t)1 << 28) /* 1 GiB of samples per buffer */

#define DEFAULT_CHUNK_SECONDS 30.0
#define DEFAULT_OVERLAP_SECONDS 2.0

/* One prompt's way out: the engine's chunk, the blended tails, the
 * resamplers back to the file's rate, and the writers. Every lane gets the
 * same number of frames per chunk, so all advance together. */
typedef struct lane {
    int prompt; /* index among the engine's prompts */
    const samsep_output_pair *out;
    float *tgt, *res;       /* chunk * ech, engine outputs */
    float *tail_t, *tail_r; /* overlap * ech, blended tails */
    int64_t skip;           /* frames still to drop: its stream's latency */
    resampler *rs_t, *rs_r;
    fifo tout, rout;
    upmix *up;       /* or NULL: the outputs have the engine's channels */
    fifo lmix, uout; /* up: its mono mixture; its target, och each */
    int64_t fed;     /* up: frames of tout and lmix it has taken */
    audio_writer *wt, *wr;
} lane;

typedef struct pipe {
    const samsep_job *job;
    samsep_engine *eng;
    samsep_report *rep;
    char *err;
    size_t errlen;

    audio_reader *rd;
    int rate, in_ch;     /* the file's */
    int erate, ech;      /* the engine's */
    int och;             /* the outputs': ech, or in_ch when the lanes'
                               `up` spread a mono target over the file's
                               channels */
    int64_t frames_est;  /* the file's frame count, -1 if unknown */
    int64_t frames_read; /* file frames read so far */
    int64_t written;     /* file frames written to both outputs */
    int64_t nonfinite;   /* input samples that were NaN or infinite */
    int eof;             /* all input is in ein (resampler flushed) */

    int subtract; /* pipeline computes the residual */
    int use_rout; /* the engine's residual is written */
    int keep_mix; /* mixq (mixc with up) is kept: for the residual,
                               the mask of up or the tap */
    int upmixing; /* the lanes have an up */
    int64_t chunk, overlap, hop;
    int64_t latency; /* streaming engine delay (the lanes' longest) */
    int64_t chunk_index;
    int64_t ein_pos; /* engine-rate frames dropped from ein so far:
                               where the next chunk starts in the file */
    int64_t chunks_est;

    void **streams; /* engine per-file state(s) */
    int n_streams;
    resampler *rs_in;

    float *rbuf;            /* READ_BLOCK * in_ch */
    float *dbuf;            /* READ_BLOCK * ech (downmix) */
    float *fade;            /* overlap weights */
    float *rbufres;         /* READ_BLOCK * och, residual being written */
    samsep_anchor *anchors; /* job->n_anchors: the current chunk's spans */

    int64_t latencies[SAMSEP_MAX_PROMPTS]; /* per engine prompt */
    lane *lanes;                           /* one per output pair */
    int n_lanes;
    float **targets, **residuals; /* per engine prompt: its lane's buffers or NULL */

    fifo ein, mixq;
    fifo mixc; /* up: the file's frames, och each */
    double t0; /* when the file was opened */
} pipe;

void samsep_job_init(samsep_job *job)
{
    memset(job, 0, sizeof *job);
    job->format = SAMSEP_FORMAT_AUTO;
    job->subtype = SAMSEP_SUBTYPE_AUTO;
    job->chunk_seconds = 0.0;
    job->overlap_seconds = -1.0;
    job->chunk_frames = 0;
    job->overlap_frames = -1;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- sizes ------------------------------------------------------------ */

static int plan_sizes(pipe *p)
{
    const samsep_job *job = p->job;
    const samsep_engine_info *info = &p->eng->info;
    double cs, os;

    if (job->chunk_frames > 0) {
        p->chunk = job->chunk_frames;
        p->overlap = job->overlap_frames >= 0 ? job->overlap_frames : 0;
    } else {
        cs = job->chunk_seconds > 0    ? job->chunk_seconds
             : info->chunk_seconds > 0 ? info->chunk_seconds
                                       : DEFAULT_CHUNK_SECONDS;
        os = job->overlap_seconds >= 0    ? job->overlap_seconds
             : info->overlap_seconds >= 0 ? info->overlap_seconds
                                          : DEFAULT_OVERLAP_SECONDS;
        if (!(cs > 0) || !(os >= 0) || cs > 1e7 || os > 1e7) {
            set_err(p->err, p->errlen, "invalid chunk %.3g s / overlap %.3g s", cs, os);
            return SAMSEP_ERR_INVALID;
        }
        p->chunk = (int64_t)llround(cs * p->erate);
        p->overlap = (int64_t)llround(os * p->erate);
        if (p->chunk < 1)
            p->chunk = 1;
        if (!info->streaming && p->overlap >= p->chunk) {
            set_err(p->err, p->errlen,
                    "overlap (%g s) must be shorter than the chunk (%g s)", os, cs);
            return SAMSEP_ERR_INVALID;
        }
    }
    if (info->streaming) {
        /* A streaming engine's result does not depend on the block size;
         * short blocks keep memory small. */
        if (job->chunk_frames <= 0 && p->chunk > STREAM_BLOCK)
            p->chunk = STREAM_BLOCK;
        p->overlap = 0;
    }
    if (p->overlap < 0 || p->overlap >= p->chunk) {
        set_err(p->err, p->errlen,
                "overlap (%lld frames) must be shorter than the chunk (%lld frames)",
                (long long)p->overlap, (long long)p->chunk);
        return SAMSEP_ERR_INVALID;
    }
    if (p->chunk > MAX_CHUNK_FLOATS / p->ech) {
        set_err(p->err, p->errlen, "chunk of %lld frames is too long",
                (long long)p->chunk);
        return SAMSEP_ERR_INVALID;
    }
    p->hop = p->chunk - p->overlap;
    return SAMSEP_OK;
}

static int alloc_lane(pipe *p, lane *l)
{
    size_t ech = (size_t)p->ech;
    size_t ov = (size_t)(p->overlap > 0 ? p->overlap : 1);

    l->tgt = malloc((size_t)p->chunk * ech * sizeof(float));
    l->tail_t = calloc(ov * ech, sizeof(float));
    if (!p->subtract) {
        l->res = malloc((size_t)p->chunk * ech * sizeof(float));
        l->tail_r = calloc(ov * ech, sizeof(float));
    }
    if (l->tgt == NULL || l->tail_t == NULL ||
        (!p->subtract && (l->res == NULL || l->tail_r == NULL)))
        return SAMSEP_ERR_NOMEM;
    if (fifo_init(&l->tout, p->ech, READ_BLOCK) != 0 ||
        fifo_init(&l->rout, p->ech, p->use_rout ? READ_BLOCK : 0) != 0 ||
        fifo_init(&l->lmix, p->ech, p->upmixing ? p->chunk + READ_BLOCK : 0) != 0 ||
        fifo_init(&l->uout, p->och, p->upmixing ? READ_BLOCK : 0) != 0)
        return SAMSEP_ERR_NOMEM;
    p->targets[l->prompt] = l->tgt;
    p->residuals[l->prompt] = l->res;
    return SAMSEP_OK;
}

static int alloc_buffers(pipe *p)
{
    size_t ech = (size_t)p->ech;
    size_t ov = (size_t)(p->overlap > 0 ? p->overlap : 1);
    int64_t i;
    int j;

    p->rbuf = malloc((size_t)READ_BLOCK * (size_t)p->in_ch * sizeof(float));
    p->dbuf = malloc((size_t)READ_BLOCK * ech * sizeof(float));
    p->rbufres = malloc((size_t)READ_BLOCK * (size_t)p->och * sizeof(float));
    p->fade = malloc(ov * sizeof(float));
    if (p->rbuf == NULL || p->dbuf == NULL || p->rbufres == NULL || p->fade == NULL)
        return SAMSEP_ERR_NOMEM;
    for (j = 0; j < p->n_lanes; j++)
        if (alloc_lane(p, &p->lanes[j]) != SAMSEP_OK)
            return SAMSEP_ERR_NOMEM;
    if (fifo_init(&p->ein, p->ech, p->chunk + READ_BLOCK) != 0 ||
        fifo_init(&p->mixq, p->ech, p->upmixing ? 0 : READ_BLOCK) != 0 ||
        fifo_init(&p->mixc, p->och, p->upmixing ? p->chunk + READ_BLOCK : 0) != 0)
        return SAMSEP_ERR_NOMEM;
    /* Raised cosine sampled at frame centres: w[i] + w[O-1-i] == 1. */
    for (i = 0; i < p->overlap; i++)
        p->fade[i] =
            (float)(0.5 - 0.5 * cos(M_PI * ((double)i + 0.5) / (double)p->overlap));
    return SAMSEP_OK;
}

/* ---- stages ----------------------------------------------------------- */

/* Run `frames` frames of `in` (NULL: flush) through `rs` into `q`, or copy
 * them when there is no resampler. */
static int resample_into(pipe *p, resampler *rs, const float *in, int64_t frames, fifo *q)
{
    int64_t used, made, off = 0;
    int rc;

    if (rs == NULL) {
        if (in != NULL && fifo_push(q, in, frames) != 0)
            return SAMSEP_ERR_NOMEM;
        return SAMSEP_OK;
    }
    for (;;) {
        float *dst = fifo_reserve(q, RESAMPLE_SPAN);
        const float *src = in != NULL ? in + (size_t)off * (size_t)q->channels : NULL;

        if (dst == NULL)
            return SAMSEP_ERR_NOMEM;
        rc = resampler_process(rs, src, in != NULL ? frames - off : 0, &used, dst,
                               RESAMPLE_SPAN, &made, p->err, p->errlen);
        if (rc != SAMSEP_OK)
            return rc;
        fifo_commit(q, made);
        off += used;
        if (in != NULL ? (off >= frames && made < RESAMPLE_SPAN) : made == 0)
            return SAMSEP_OK;
    }
}

/* Replace NaN and infinities in x[0..n) by 0; returns how many there were. */
static int64_t zero_nonfinite(float *x, size_t n)
{
    int64_t bad = 0;
    size_t i;

    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            x[i] = 0.0f;
            bad++;
        }
    return bad;
}

/* Index of the first non-finite sample of x[0..n), or -1. */
static int64_t first_nonfinite(const float *x, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return (int64_t)i;
    return -1;
}

/* Read one block of the file into mixq (file rate) and ein (engine rate). */
static int read_more(pipe *p)
{
    int64_t got, i;
    const float *mono;
    int rc, c;

    got = audio_reader_read(p->rd, p->rbuf, READ_BLOCK, p->err, p->errlen);
    if (got < 0)
        return (int)got;
    if (got == 0) {
        rc = resample_into(p, p->rs_in, NULL, 0, &p->ein);
        if (rc != SAMSEP_OK)
            return rc;
        if (p->latency > 0 && p->frames_read > 0 &&
            fifo_push_zeros(&p->ein, p->latency) != 0)
            return SAMSEP_ERR_NOMEM;
        p->eof = 1;
        return SAMSEP_OK;
    }
    p->frames_read += got;
    p->nonfinite += zero_nonfinite(p->rbuf, (size_t)got * (size_t)p->in_ch);
    if (p->ech == 1 && p->in_ch > 1) {
        float scale = 1.0f / (float)p->in_ch;

        for (i = 0; i < got; i++) {
            float s = 0.0f;

            for (c = 0; c < p->in_ch; c++)
                s += p->rbuf[i * p->in_ch + c];
            p->dbuf[i] = s * scale;
        }
        mono = p->dbuf;
    } else {
        mono = p->rbuf;
    }
    if (p->upmixing) {
        int j;

        for (j = 0; j < p->n_lanes; j++)
            if (fifo_push(&p->lanes[j].lmix, mono, got) != 0)
                return SAMSEP_ERR_NOMEM;
        if (fifo_push(&p->mixc, p->rbuf, got) != 0)
            return SAMSEP_ERR_NOMEM;
    } else if (p->keep_mix && fifo_push(&p->mixq, mono, got) != 0) {
        return SAMSEP_ERR_NOMEM;
    }
    return resample_into(p, p->rs_in, mono, got, &p->ein);
}

/* The last guard before the disk: a non-finite output sample is an error
 * (an engine's are caught per chunk; this catches an overflow after it). */
static int check_output(pipe *p, const float *t, const float *r, int64_t n)
{
    size_t count = (size_t)n * (size_t)p->och;
    int64_t bad = first_nonfinite(t, count);
    const char *which = "target";

    if (bad < 0) {
        bad = first_nonfinite(r, count);
        which = "residual";
    }
    if (bad < 0)
        return SAMSEP_OK;
    set_err(p->err, p->errlen,
            "%s: non-finite %s sample at frame %lld (the input's values overflow "
            "float arithmetic); outputs not written",
            p->job->input_path, which, (long long)(p->written + bad / p->och));
    return SAMSEP_ERR_ENGINE;
}

/* Show the job's tap one block as written. */
static void tap(const pipe *p, const float *m, const float *t, const float *r, int64_t n)
{
    samsep_tap_block b;

    b.start = p->written;
    b.frames = n;
    b.frames_total = p->eof ? p->frames_read : p->frames_est;
    b.sample_rate = p->rate;
    b.channels = p->och;
    b.mixture = m;
    b.target = t;
    b.residual = r;
    p->job->tap(p->job->tap_user, &b);
}

/* Write lane l's n frames (with mixture m) to its two outputs. */
static int write_lane(pipe *p, lane *l, const float *m, int64_t n, int first)
{
    fifo *tq = p->upmixing ? &l->uout : &l->tout;
    const float *t = fifo_peek(tq), *r;
    int rc;

    if (!p->use_rout) {
        size_t i, count = (size_t)n * (size_t)p->och;

        for (i = 0; i < count; i++)
            p->rbufres[i] = m[i] - t[i];
        r = p->rbufres;
    } else {
        r = fifo_peek(&l->rout);
    }
    rc = check_output(p, t, r, n);
    if (rc == SAMSEP_OK)
        rc = audio_writer_write(l->wt, t, n, &p->rep->clipped_target, p->err, p->errlen);
    if (rc == SAMSEP_OK)
        rc =
            audio_writer_write(l->wr, r, n, &p->rep->clipped_residual, p->err, p->errlen);
    if (rc != SAMSEP_OK)
        return rc;
    if (first && p->job->tap != NULL)
        tap(p, m, t, r, n);
    fifo_drop(tq, n);
    if (p->use_rout)
        fifo_drop(&l->rout, n);
    return SAMSEP_OK;
}

/* Hand lane l's mono target that is ready, with its mixtures, to the stage
 * that gives it the file's channels (uout). mixc starts at the first frame
 * not yet written, which trails what the stage has taken by its delay. */
static int spread(pipe *p, lane *l)
{
    int64_t n = l->tout.len, room = p->frames_read - l->fed;
    const float *x;

    if (n > room)
        n = room;
    if (n <= 0)
        return SAMSEP_OK;
    x = fifo_peek(&p->mixc) + (size_t)(l->fed - p->written) * (size_t)p->och;
    if (upmix_push(l->up, fifo_peek(&l->lmix), fifo_peek(&l->tout), x, n, &l->uout) != 0)
        return SAMSEP_ERR_NOMEM;
    fifo_drop(&l->lmix, n);
    fifo_drop(&l->tout, n);
    l->fed += n;
    return SAMSEP_OK;
}

/* Write what all outputs have ready, never past the frames read. */
static int drain(pipe *p)
{
    int64_t ready = p->frames_read - p->written;
    int j, rc;

    fifo *mq = p->upmixing ? &p->mixc : &p->mixq;

    for (j = 0; j < p->n_lanes; j++) {
        lane *l = &p->lanes[j];

        if (p->upmixing && (rc = spread(p, l)) != SAMSEP_OK)
            return rc;
        if ((p->upmixing ? l->uout.len : l->tout.len) < ready)
            ready = p->upmixing ? l->uout.len : l->tout.len;
        if (p->use_rout && l->rout.len < ready)
            ready = l->rout.len;
    }
    while (ready > 0) {
        int64_t n = ready < READ_BLOCK ? ready : READ_BLOCK;
        const float *m = p->keep_mix ? fifo_peek(mq) : NULL;

        for (j = 0; j < p->n_lanes; j++) {
            rc = write_lane(p, &p->lanes[j], m, n, j == 0);
            if (rc != SAMSEP_OK)
                return rc;
        }
        if (p->keep_mix)
            fifo_drop(mq, n);
        p->written += n;
        ready -= n;
    }
    return SAMSEP_OK;
}

/* Hand `n` finished engine-rate frames of every lane's chunk to the output
 * side. */
static int emit(pipe *p, int64_t n)
{
    int j, rc = SAMSEP_OK;

    for (j = 0; j < p->n_lanes && rc == SAMSEP_OK; j++) {
        lane *l = &p->lanes[j];
        int64_t d = l->skip < n ? l->skip : n;
        size_t off = (size_t)d * (size_t)p->ech;

        l->skip -= d;
        if (d == n)
            continue;
        rc = resample_into(p, l->rs_t, l->tgt + off, n - d, &l->tout);
        if (rc == SAMSEP_OK && p->use_rout)
            rc = resample_into(p, l->rs_r, l->res + off, n - d, &l->rout);
    }
    if (rc == SAMSEP_OK)
        rc = drain(p);
    return rc;
}

static void crossfade(const float *fade, float *cur, const float *tail, int64_t overlap,
                      int ch)
{
    int64_t i;
    int c;

    for (i = 0; i < overlap; i++)
        for (c = 0; c < ch; c++) {
            size_t k = (size_t)i * (size_t)ch + (size_t)c;

            cur[k] = tail[k] + fade[i] * (cur[k] - tail[k]);
        }
}

static void report_progress(pipe *p)
{
    samsep_progress pr;

    if (p->job->progress == NULL)
        return;
    pr.frames_done = p->written;
    pr.frames_total = p->eof                           ? p->frames_read
                      : p->frames_est > p->frames_read ? p->frames_est
                                                       : p->frames_read;
    pr.chunks_done = p->chunk_index;
    pr.chunks_total = p->chunks_est > p->chunk_index ? p->chunks_est : p->chunk_index;
    if (p->eof && pr.frames_done == pr.frames_total)
        pr.chunks_total = p->chunk_index;
    pr.sample_rate = p->rate;
    pr.elapsed = now_seconds() - p->t0;
    p->job->progress(p->job->progress_user, &pr);
}

static int cancelled(const pipe *p)
{
    return p->job->cancel != NULL && *p->job->cancel != 0;
}

/* An engine may never emit NaN or an infinity: its chunk of `n` frames is
 * checked before it is blended or written. */
static int check_engine_output(pipe *p, const lane *l, int64_t n)
{
    size_t count = (size_t)n * (size_t)p->ech;
    int64_t bad = first_nonfinite(l->tgt, count);
    const char *which = "target";

    if (bad < 0 && !p->subtract) {
        bad = first_nonfinite(l->res, count);
        which = "residual";
    }
    if (bad < 0)
        return SAMSEP_OK;
    set_err(p->err, p->errlen,
            "%s: engine \"%s\" emitted a non-finite %s sample (NaN or infinity) in "
            "chunk %lld, frame %lld of the chunk, channel %lld%s%s%s; outputs not "
            "written",
            p->job->input_path, p->eng->vt->name, which, (long long)p->chunk_index,
            (long long)(bad / p->ech), (long long)(bad % p->ech),
            p->eng->n_prompts > 1 ? ", prompt \"" : "",
            p->eng->n_prompts > 1 ? p->eng->prompts[l->prompt] : "",
            p->eng->n_prompts > 1 ? "\"" : "");
    return SAMSEP_ERR_ENGINE;
}

/* Hand the engine the spans of the chunk of n frames at ein_pos, in its
 * time (every chunk, none included, so that none carry over), on each of
 * its streams (one per prompt for an engine opened once per prompt). */
static int chunk_anchors(pipe *p, int64_t n, char *why, size_t whylen)
{
    const samsep_engine_vtable *vt = p->eng->vt;
    int m, j, rc = SAMSEP_OK;

    if (vt->set_anchors == NULL)
        return SAMSEP_OK;
    m = samsep_anchors_for_chunk(p->job->anchors, p->job->n_anchors, p->ein_pos, n,
                                 p->erate, p->anchors);
    if (m < 0)
        return m;
    for (j = 0; j < p->n_streams && rc == SAMSEP_OK; j++)
        rc = vt->set_anchors(p->streams[j], p->anchors, m, why, whylen);
    return rc;
}

/* Blend a finished chunk of n frames into the previous one's tail and keep
 * its own tail for the next (unless it is the last). */
static void blend(pipe *p, lane *l, int last)
{
    size_t ech = (size_t)p->ech;

    if (p->chunk_index > 0 && p->overlap > 0) {
        crossfade(p->fade, l->tgt, l->tail_t, p->overlap, p->ech);
        if (!p->subtract)
            crossfade(p->fade, l->res, l->tail_r, p->overlap, p->ech);
    }
    if (!last && p->overlap > 0) {
        memcpy(l->tail_t, l->tgt + (size_t)p->hop * ech,
               (size_t)p->overlap * ech * sizeof(float));
        if (!p->subtract)
            memcpy(l->tail_r, l->res + (size_t)p->hop * ech,
                   (size_t)p->overlap * ech * sizeof(float));
    }
}

/* The chunk loop: the streaming form of samsep_plan_chunk(). */
static int run_chunks(pipe *p)
{
    const samsep_engine_vtable *vt = p->eng->vt;
    char why[SAMSEP_MSG_MAX];
    int j, rc;

    for (;;) {
        int64_t n;
        int last;

        /* One frame beyond the chunk tells whether this chunk is the last. */
        while (!p->eof && p->ein.len <= p->chunk) {
            if (cancelled(p))
                return SAMSEP_ERR_CANCELLED;
            rc = read_more(p);
            if (rc != SAMSEP_OK)
                return rc;
        }
        if (p->ein.len == 0)
            return SAMSEP_OK;
        if (cancelled(p))
            return SAMSEP_ERR_CANCELLED;
        last = p->ein.len <= p->chunk;
        n = last ? p->ein.len : p->chunk;
        why[0] = '\0';
        rc = chunk_anchors(p, n, why, sizeof why);
        if (rc == SAMSEP_OK)
            rc = engine_process(p->eng, p->streams, fifo_peek(&p->ein), p->targets,
                                p->residuals, n, p->ein_pos, why, sizeof why);
        if (rc != SAMSEP_OK) {
            set_err(p->err, p->errlen, "%s: engine \"%s\" failed on chunk %lld: %s",
                    p->job->input_path, vt->name, (long long)p->chunk_index,
                    why[0] != '\0' ? why : samsep_strerror(rc));
            return rc < 0 ? rc : SAMSEP_ERR_ENGINE;
        }
        for (j = 0; j < p->n_lanes; j++) {
            rc = check_engine_output(p, &p->lanes[j], n);
            if (rc != SAMSEP_OK)
                return rc;
            blend(p, &p->lanes[j], last);
        }
        rc = emit(p, last ? n : p->hop);
        if (rc != SAMSEP_OK)
            return rc;
        fifo_drop(&p->ein, last ? n : p->hop);
        p->ein_pos += last ? n : p->hop;
        p->chunk_index++;
        report_progress(p);
        if (last)
            return SAMSEP_OK;
    }
}

/* Zeros at the end of q until it holds n frames. */
static int pad_to(fifo *q, int64_t n)
{
    return q->len < n ? fifo_push_zeros(q, n - q->len) : 0;
}

/* After the last chunk: flush the output resamplers, pad to full length. */
static int finish_outputs(pipe *p)
{
    int j, rc = SAMSEP_OK;

    for (j = 0; j < p->n_lanes && rc == SAMSEP_OK; j++) {
        lane *l = &p->lanes[j];

        if (l->rs_t != NULL)
            rc = resample_into(p, l->rs_t, NULL, 0, &l->tout);
        if (rc == SAMSEP_OK && l->rs_r != NULL)
            rc = resample_into(p, l->rs_r, NULL, 0, &l->rout);
    }
    if (rc == SAMSEP_OK)
        rc = drain(p);
    if (rc != SAMSEP_OK)
        return rc;
    for (j = 0; j < p->n_lanes; j++) {
        lane *l = &p->lanes[j];
        int64_t missing = p->frames_read - (p->upmixing ? l->fed : p->written);

        if (missing <= l->tout.len)
            continue;
        /* A resampler may come back a frame or two short of the exact length. */
        LOG_DEBUG("%s: padding %lld frame(s) at the end", p->job->input_path,
                  (long long)(missing - l->tout.len));
        if (pad_to(&l->tout, missing) != 0 ||
            (p->use_rout && pad_to(&l->rout, missing) != 0))
            return SAMSEP_ERR_NOMEM;
    }
    rc = drain(p);
    /* the frames the stages still hold, their delay */
    for (j = 0; j < p->n_lanes && rc == SAMSEP_OK && p->upmixing; j++)
        if (upmix_finish(p->lanes[j].up, &p->lanes[j].uout) != 0)
            return SAMSEP_ERR_NOMEM;
    if (rc == SAMSEP_OK && p->upmixing)
        rc = drain(p);
    return rc;
}

static int open_writers(pipe *p, lane *l)
{
    const samsep_job *job = p->job;
    char software[64], comment[3 * PATH_MAX];
    char source[PATH_MAX];
    const char *extra, *prompt = p->eng->prompts[l->prompt];
    audio_tags tags;
    int format = job->format, subtype = job->subtype;
    int rc;

    rc = audio_resolve_format(audio_reader_sf_format(p->rd), p->rate, p->och, &format,
                              &subtype, p->err, p->errlen);
    if (rc != SAMSEP_OK) {
        char why[SAMSEP_MSG_MAX];

        snprintf(why, sizeof why, "%s", p->err);
        set_err(p->err, p->errlen, "%s: %s", job->input_path, why);
        return rc;
    }
    if (realpath(job->input_path, source) == NULL)
        snprintf(source, sizeof source, "%s", job->input_path);
    provenance_software(software, sizeof software);
    tags.software = software;
    tags.comment = comment;

    extra = l->out->provenance != NULL ? l->out->provenance : job->provenance;
    tags.title = "target";
    provenance_comment(comment, sizeof comment, "target", p->eng->vt->name, prompt,
                       source, extra);
    rc = audio_writer_open(l->out->target_path, format, subtype, p->rate, p->och, &tags,
                           &l->wt, p->err, p->errlen);
    if (rc != SAMSEP_OK)
        return rc;
    tags.title = "residual";
    provenance_comment(comment, sizeof comment, "residual", p->eng->vt->name, prompt,
                       source, extra);
    return audio_writer_open(l->out->residual_path, format, subtype, p->rate, p->och,
                             &tags, &l->wr, p->err, p->errlen);
}

/* Spans only for an engine that takes them, and where they make sense. */
static int check_anchors(pipe *p)
{
    const samsep_job *job = p->job;
    int k;

    if (job->n_anchors == 0)
        return SAMSEP_OK;
    if (job->n_anchors < 0 || job->anchors == NULL) {
        set_err(p->err, p->errlen, "%s: bad span prompts", job->input_path);
        return SAMSEP_ERR_INVALID;
    }
    if (p->eng->vt->set_anchors == NULL || p->eng->info.streaming) {
        set_err(p->err, p->errlen, "%s: engine \"%s\" takes no span prompts",
                job->input_path, p->eng->vt->name);
        return SAMSEP_ERR_INVALID;
    }
    for (k = 0; k < job->n_anchors; k++) {
        const samsep_anchor *a = &job->anchors[k];

        if ((a->sign != '+' && a->sign != '-') || !(a->start >= 0) ||
            !(a->end > a->start) || !isfinite(a->end)) {
            set_err(p->err, p->errlen,
                    "%s: span %d (%c%g:%g) is not +START:END or "
                    "-START:END with 0 <= START < END",
                    job->input_path, k + 1, a->sign, a->start, a->end);
            return SAMSEP_ERR_INVALID;
        }
        if (p->frames_est > 0 && a->start * p->rate >= (double)p->frames_est)
            LOG_WARN("%s: span %d starts at %g s, after the file's end", job->input_path,
                     k + 1, a->start);
    }
    p->anchors = malloc((size_t)job->n_anchors * sizeof *p->anchors);
    return p->anchors != NULL ? SAMSEP_OK : SAMSEP_ERR_NOMEM;
}

static int setup(pipe *p)
{
    const samsep_engine_info *info = &p->eng->info;
    const samsep_engine_vtable *vt = p->eng->vt;
    int j, rc;

    rc = audio_reader_open(p->job->input_path, &p->rd, p->err, p->errlen);
    if (rc != SAMSEP_OK)
        return rc;
    p->rate = audio_reader_rate(p->rd);
    p->in_ch = audio_reader_channels(p->rd);
    p->frames_est = audio_reader_frames(p->rd);
    if (p->frames_est == 0) {
        set_err(p->err, p->errlen, "%s: the file holds no audio frames",
                p->job->input_path);
        return SAMSEP_ERR_EMPTY;
    }
    p->erate = info->sample_rate > 0 ? info->sample_rate : p->rate;
    p->ech = info->channels == 1 ? 1 : p->in_ch;
    p->och = p->ech == 1 && p->job->channels != SAMSEP_CHANNELS_MONO ? p->in_ch : p->ech;
    p->subtract = info->residual_mode != SAMSEP_RESIDUAL_ENGINE;
    p->use_rout = !p->subtract && p->och == p->ech;
    p->keep_mix = !p->use_rout || p->job->tap != NULL;
    p->upmixing = p->och != p->ech;
    rc = plan_sizes(p);
    if (rc != SAMSEP_OK)
        return rc;
    for (j = 0; j < p->n_lanes && p->upmixing; j++) {
        rc = upmix_create(p->rate, p->och, &p->lanes[j].up);
        if (rc != SAMSEP_OK) {
            set_err(p->err, p->errlen,
                    "%s: cannot give the outputs %d channels at "
                    "%d Hz: %s",
                    p->job->input_path, p->och, p->rate, samsep_strerror(rc));
            return rc;
        }
    }
    rc = check_anchors(p);
    if (rc != SAMSEP_OK)
        return rc;
    rc = alloc_buffers(p);
    if (rc != SAMSEP_OK) {
        set_err(p->err, p->errlen, "%s: out of memory", p->job->input_path);
        return rc;
    }
    if (p->erate != p->rate) {
        rc = resampler_create(p->rate, p->erate, p->ech, &p->rs_in, p->err, p->errlen);
        for (j = 0; j < p->n_lanes && rc == SAMSEP_OK; j++) {
            rc = resampler_create(p->erate, p->rate, p->ech, &p->lanes[j].rs_t, p->err,
                                  p->errlen);
            if (rc == SAMSEP_OK && p->use_rout)
                rc = resampler_create(p->erate, p->rate, p->ech, &p->lanes[j].rs_r,
                                      p->err, p->errlen);
        }
        if (rc != SAMSEP_OK)
            return rc;
    }
    if (p->frames_est > 0) {
        int64_t ef = (int64_t)((double)p->frames_est * p->erate / p->rate) + 1;

        if (samsep_plan_count(ef, p->chunk, p->overlap, &p->chunks_est) != SAMSEP_OK)
            p->chunks_est = 0;
    }
    p->err[0] = '\0';
    rc = engine_streams_open(p->eng, p->erate, p->ech, p->chunk, &p->streams,
                             &p->n_streams, p->latencies, p->err, p->errlen);
    if (rc != SAMSEP_OK) {
        char why[SAMSEP_MSG_MAX];

        snprintf(why, sizeof why, "%s", p->err[0] ? p->err : samsep_strerror(rc));
        set_err(p->err, p->errlen, "%s: engine \"%s\" cannot take this file: %s",
                p->job->input_path, vt->name, why);
        return rc < 0 ? rc : SAMSEP_ERR_ENGINE;
    }
    /* Streams may lag by different amounts (dsp: one per prompt): the
     * input is fed the longest lag of silence, each lane drops its own. */
    for (j = 0; j < p->n_lanes; j++) {
        lane *l = &p->lanes[j];

        l->skip = p->latencies[l->prompt] > 0 ? p->latencies[l->prompt] : 0;
        if (l->skip > p->latency)
            p->latency = l->skip;
    }
    for (j = 0; j < p->n_lanes && rc == SAMSEP_OK; j++)
        rc = open_writers(p, &p->lanes[j]);
    return rc;
}

static void teardown(pipe *p)
{
    int j;

    engine_streams_close(p->eng, p->streams, p->n_streams);
    for (j = 0; j < p->n_lanes; j++) {
        lane *l = &p->lanes[j];

        audio_writer_abort(l->wt);
        audio_writer_abort(l->wr);
        resampler_destroy(l->rs_t);
        resampler_destroy(l->rs_r);
        fifo_free(&l->tout);
        fifo_free(&l->rout);
        fifo_free(&l->lmix);
        fifo_free(&l->uout);
        upmix_destroy(l->up);
        free(l->tgt);
        free(l->res);
        free(l->tail_t);
        free(l->tail_r);
    }
    free(p->lanes);
    free(p->targets);
    free(p->residuals);
    resampler_destroy(p->rs_in);
    audio_reader_close(p->rd);
    fifo_free(&p->ein);
    fifo_free(&p->mixq);
    fifo_free(&p->mixc);
    free(p->rbuf);
    free(p->dbuf);
    free(p->rbufres);
    free(p->fade);
    free(p->anchors);
}

/* A file that held fewer frames than its header promised was processed for
 * what it has: say so, with both counts. */
static void report_short_file(pipe *p)
{
    int64_t promised = audio_reader_promised(p->rd);
    const char *why = audio_reader_stop_reason(p->rd);

    if (strncmp(why, "Error : ", 8) == 0) /* libsndfile's prefix */
        why += 8;
    if (promised <= p->frames_read) {
        if (*why) /* cut short, though the header did not say how long it was */
            LOG_WARN("%s: the file was cut short (%s); the outputs are the %lld "
                     "frames before that",
                     p->job->input_path, why, (long long)p->frames_read);
        return;
    }
    p->rep->frames_promised = promised;
    LOG_WARN("%s: the file is shorter than its header says: %lld frames promised, "
             "%lld read%s%s%s; the outputs are as long as what was read",
             p->job->input_path, (long long)promised, (long long)p->frames_read,
             *why ? " (the decoder stopped: " : "", why, *why ? ")" : "");
}

/* Commit every lane's pair; a pair whose residual cannot be committed
 * takes its target away too (never one output without the other). */
static int commit_outputs(pipe *p)
{
    int j, rc = SAMSEP_OK;

    for (j = 0; j < p->n_lanes && rc == SAMSEP_OK; j++) {
        lane *l = &p->lanes[j];

        rc = audio_writer_commit(l->wt, p->err, p->errlen);
        l->wt = NULL;
        if (rc == SAMSEP_OK) {
            rc = audio_writer_commit(l->wr, p->err, p->errlen);
            l->wr = NULL;
            if (rc != SAMSEP_OK)
                remove(l->out->target_path);
        }
    }
    return rc;
}

/* A lane per wanted output pair; `outputs` are checked. */
static int make_lanes(pipe *p, const samsep_output_pair *outputs, int n)
{
    int j;

    p->lanes = calloc((size_t)n, sizeof *p->lanes);
    p->targets = calloc((size_t)n, sizeof *p->targets);
    p->residuals = calloc((size_t)n, sizeof *p->residuals);
    if (p->lanes == NULL || p->targets == NULL || p->residuals == NULL)
        return SAMSEP_ERR_NOMEM;
    for (j = 0; j < n; j++) {
        if (outputs[j].target_path == NULL)
            continue;
        p->lanes[p->n_lanes].prompt = j;
        p->lanes[p->n_lanes].out = &outputs[j];
        p->n_lanes++;
    }
    return SAMSEP_OK;
}

int samsep_separate_file_prompts(samsep_engine *engine, const samsep_job *job,
                                 const samsep_output_pair *outputs, int n_outputs,
                                 samsep_report *report)
{
    samsep_report scratch;
    pipe p;
    int rc, j, wanted = 0;

    if (report == NULL)
        report = &scratch;
    memset(report, 0, sizeof *report);
    for (j = 0; outputs != NULL && j < n_outputs; j++) {
        if (outputs[j].target_path != NULL && outputs[j].residual_path == NULL)
            break;
        wanted += outputs[j].target_path != NULL;
    }
    if (engine == NULL || job == NULL || job->input_path == NULL || outputs == NULL ||
        n_outputs != engine->n_prompts || j < n_outputs || wanted == 0) {
        set_err(report->message, sizeof report->message,
                "separate: engine, input and both output paths of at least one of "
                "the engine's %d prompt(s) are required",
                engine != NULL ? engine->n_prompts : 0);
        return SAMSEP_ERR_INVALID;
    }
    memset(&p, 0, sizeof p);
    p.job = job;
    p.eng = engine;
    p.rep = report;
    p.err = report->message;
    p.errlen = sizeof report->message;
    p.t0 = now_seconds();

    rc = make_lanes(&p, outputs, n_outputs);
    if (rc == SAMSEP_OK)
        rc = setup(&p);
    if (rc == SAMSEP_OK)
        rc = run_chunks(&p);
    if (rc == SAMSEP_OK && p.frames_read == 0) {
        set_err(p.err, p.errlen, "%s: the file holds no audio frames", job->input_path);
        rc = SAMSEP_ERR_EMPTY;
    }
    if (rc == SAMSEP_OK)
        rc = finish_outputs(&p);
    if (rc == SAMSEP_OK)
        rc = commit_outputs(&p);
    if (rc == SAMSEP_ERR_CANCELLED)
        set_err(p.err, p.errlen, "%s: cancelled", job->input_path);
    else if (rc == SAMSEP_ERR_NOMEM && p.err[0] == '\0')
        set_err(p.err, p.errlen, "%s: out of memory", job->input_path);

    report->frames = p.frames_read;
    report->sample_rate = p.rate;
    report->channels = p.in_ch;
    report->out_channels = p.och;
    report->chunks = p.chunk_index;
    report->nonfinite = p.nonfinite;
    if (p.rd != NULL)
        snprintf(report->note, sizeof report->note, "%s", audio_reader_note(p.rd));
    report->seconds = now_seconds() - p.t0;
    if (rc == SAMSEP_OK)
        report_short_file(&p);
    if (p.nonfinite > 0 && rc != SAMSEP_ERR_CANCELLED)
        LOG_WARN("%s: %lld non-finite input sample(s) (NaN or infinity) replaced by 0",
                 job->input_path, (long long)p.nonfinite);
    if (rc == SAMSEP_OK) {
        report->message[0] = '\0';
        /* The report carries the counts and the caller tells the user, once;
         * a warning here too would say it twice. */
        if (report->clipped_target + report->clipped_residual > 0)
            LOG_DEBUG("%s: %lld sample(s) clamped to fit the output format",
                      job->input_path,
                      (long long)(report->clipped_target + report->clipped_residual));
    }
    teardown(&p);
    return rc;
}

int samsep_separate_file(samsep_engine *engine, const samsep_job *job,
                         samsep_report *report)
{
    samsep_output_pair out;

    if (engine != NULL && engine->n_prompts != 1) {
        if (report != NULL) {
            memset(report, 0, sizeof *report);
            set_err(report->message, sizeof report->message,
                    "separate: the engine "
                    "has %d prompts; samsep_separate_file_prompts writes them",
                    engine->n_prompts);
        }
        return SAMSEP_ERR_INVALID;
    }
    if (engine == NULL || job == NULL || job->input_path == NULL ||
        job->target_path == NULL || job->residual_path == NULL) {
        if (report != NULL) {
            memset(report, 0, sizeof *report);
            set_err(report->message, sizeof report->message,
                    "separate: engine, input and both output paths are required");
        }
        return SAMSEP_ERR_INVALID;
    }
    out.target_path = job->target_path;
    out.residual_path = job->residual_path;
    out.provenance = job->provenance;
    return samsep_separate_file_prompts(engine, job, &out, 1, report);
}
