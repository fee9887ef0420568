/*
 * exec.c - the "exec" engine: any separation model, in any language, run as
 * a worker process that speaks the framed protocol of doc/exec-protocol.md
 * on its stdin and stdout (wire.c: the bytes; worker.c: the process).
 *
 * The worker is started when the engine is opened (once per batch) and kept
 * for every file; its handshake says what audio it wants (rate, mono or the
 * file's channels, chunk and overlap, whether it returns a residual), which
 * becomes the engine's info, so the pipeline resamples, downmixes, chunks
 * and crossfades for it as for any engine. A worker that cannot start is an
 * error of open(), before anything is written.
 *
 * The worker is never trusted: whatever it does (dies, hangs past the chunk
 * timeout, writes garbage, answers with the wrong length or with NaN), it
 * is killed with its whole process group and reaped, a fresh one is started
 * and the chunk is sent again. A second failure fails the file with both
 * reasons and the worker's last stderr lines; the next file gets a fresh
 * worker. A worker that answers a chunk with an EROR frame is healthy and
 * stays: the chunk is retried once on it. Only checked results reach the
 * pipeline's buffers, and only whole files are committed by the pipeline,
 * so a failing worker never leaves a partial output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "engine/engines.h"
#include "engine/exec/wire.h"
#include "engine/exec/worker.h"
#include "samsep.h"

#define DEFAULT_TIMEOUT 600.0        /* seconds per chunk */
#define DEFAULT_START_TIMEOUT 1800.0 /* seconds to load a large model */
#define CLOSE_GRACE 5.0              /* seconds to exit after its input closes */
#define TAIL_MAX 480                 /* stderr shown in a message */
#define REASON_MAX 320

typedef struct exec_engine {
    char *command;
    const volatile int *cancel; /* the caller's; stops a wait at once */
    char *conf;                 /* CONF payload (JSON) */
    double timeout, start_timeout;
    wire_hello hello; /* from the first start; restarts must agree */
    int started_once;
    int keep_residual;            /* the pipeline takes the worker's residual */
    worker *w;                    /* NULL while none runs */
    uint32_t files;               /* files begun */
    char text[WIRE_TEXT_MAX + 1]; /* HELO, REDY or EROR payload */
} exec_engine;

typedef struct exec_stream {
    exec_engine *e;
    wire_chunk c; /* the chunk being exchanged */
    int64_t max_frames;
    float *drop;       /* the worker's residual, when not wanted */
    unsigned char *le; /* samples in little-endian (big-endian hosts) */
} exec_stream;

/* What a plan callback needs to place an answer. */
typedef struct answer {
    exec_engine *e;
    unsigned accept; /* 1 << wire_type for each type accepted */
    uint32_t text_len;
    /* RSLT */
    const wire_chunk *c;
    int parts;
    unsigned char rhdr[WIRE_RESULT_HEADER];
    float *target, *residual;
} answer;

static int plan_answer(void *user, int type, uint32_t length, worker_seg *segs, int *n,
                       char *err, size_t errlen)
{
    answer *a = user;
    uint64_t signal;

    if (!(a->accept & (1u << type))) {
        set_err(err, errlen, "it sent a %s frame where samsep expected %s",
                wire_tag(type),
                a->accept & (1u << WIRE_RSLT)   ? "RSLT or EROR"
                : a->accept & (1u << WIRE_HELO) ? "HELO"
                                                : "REDY");
        return -1;
    }
    if (type != WIRE_RSLT) {
        if (length > WIRE_TEXT_MAX) {
            set_err(err, errlen, "its %s frame is %lu bytes long (at most %d)",
                    wire_tag(type), (unsigned long)length, WIRE_TEXT_MAX);
            return -1;
        }
        segs[0] = (worker_seg){ a->e->text, length };
        *n = 1;
        a->text_len = length;
        return 0;
    }
    if ((uint64_t)length != wire_result_length(a->c, a->parts)) {
        set_err(err, errlen,
                "its RSLT frame is %lu bytes long; a result "
                "of %lu frames of %lu channel(s) takes %llu",
                (unsigned long)length, (unsigned long)a->c->frames,
                (unsigned long)a->c->channels,
                (unsigned long long)wire_result_length(a->c, a->parts));
        return -1;
    }
    signal = (uint64_t)a->c->frames * a->c->channels * sizeof(float);
    segs[0] = (worker_seg){ a->rhdr, WIRE_RESULT_HEADER };
    segs[1] = (worker_seg){ a->target, (size_t)signal };
    *n = 2;
    if (a->parts == 2)
        segs[(*n)++] = (worker_seg){ a->residual, (size_t)signal };
    return 0;
}

/* The text of an EROR frame, printable and short. */
static void worker_words(const exec_engine *e, uint32_t len, char *buf, size_t size)
{
    size_t i, n = len < size - 1 ? len : size - 1;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)e->text[i];

        buf[i] = c == '\n' || c == '\t' ? ' ' : c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
}

/* ---- starting a worker ----------------------------------------------------- */

static int same_needs(const wire_hello *a, const wire_hello *b)
{
    return a->sample_rate == b->sample_rate && a->channels == b->channels &&
           a->residual == b->residual && a->chunk_seconds == b->chunk_seconds &&
           a->overlap_seconds == b->overlap_seconds &&
           a->max_chunk_seconds == b->max_chunk_seconds;
}

/* Spawn the worker and run the handshake (HELO, CONF, REDY) within the
 * start timeout. On failure nothing runs any more and err says why. */
static int handshake(exec_engine *e, char *err, size_t errlen)
{
    unsigned char hdr[WIRE_HEADER];
    worker_seg conf[2];
    answer a;
    wire_hello h;
    double t0 = worker_clock(), deadline = t0 + e->start_timeout;
    char words[REASON_MAX];
    int rc, type;

    memset(&a, 0, sizeof a);
    a.e = e;
    a.accept = 1u << WIRE_HELO | 1u << WIRE_EROR;
    rc = worker_exchange(e->w, NULL, 0, plan_answer, &a, deadline, e->start_timeout,
                         &type, err, errlen);
    if (rc == SAMSEP_ERR_CANCELLED)
        return rc;
    if (rc == SAMSEP_OK && type == WIRE_EROR) {
        worker_words(e, a.text_len, words, sizeof words);
        set_err(err, errlen, "it refused to start: %s", words);
        return SAMSEP_ERR_ENGINE;
    }
    if (rc == SAMSEP_OK)
        rc = wire_parse_hello(e->text, a.text_len, &h, err, errlen);
    if (rc != SAMSEP_OK)
        return SAMSEP_ERR_ENGINE;
    if (e->started_once && !same_needs(&h, &e->hello)) {
        set_err(err, errlen,
                "its HELO differs from the first worker's (rate, "
                "channels, chunk, overlap or residual)");
        return SAMSEP_ERR_ENGINE;
    }
    wire_put_header(hdr, WIRE_CONF, (uint32_t)strlen(e->conf));
    conf[0] = (worker_seg){ hdr, WIRE_HEADER };
    conf[1] = (worker_seg){ e->conf, strlen(e->conf) };
    a.accept = 1u << WIRE_REDY | 1u << WIRE_EROR;
    rc = worker_exchange(e->w, conf, 2, plan_answer, &a, deadline, e->start_timeout,
                         &type, err, errlen);
    if (rc != SAMSEP_OK)
        return rc == SAMSEP_ERR_CANCELLED ? rc : SAMSEP_ERR_ENGINE;
    if (type == WIRE_EROR) {
        worker_words(e, a.text_len, words, sizeof words);
        set_err(err, errlen, "it refused the settings: %s", words);
        return SAMSEP_ERR_ENGINE;
    }
    e->hello = h;
    e->started_once = 1;
    LOG_INFO("worker %ld (\"%s\") ready in %.1f s", worker_pid(e->w), h.name,
             worker_clock() - t0);
    return SAMSEP_OK;
}

/* Start a worker; on failure err holds the reason and `tail` its stderr. */
static int start_worker(exec_engine *e, char *err, size_t errlen, char *tail,
                        size_t taillen)
{
    int rc;

    tail[0] = '\0';
    rc = worker_spawn(e->command, e->cancel, &e->w, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    rc = handshake(e, err, errlen);
    if (rc != SAMSEP_OK) {
        worker_kill(e->w, tail, taillen);
        e->w = NULL;
    }
    return rc;
}

static void with_tail(char *msg, size_t len, const char *tail)
{
    size_t used = strlen(msg);

    if (tail[0] != '\0' && used + 1 < len)
        snprintf(msg + used, len - used, "; its last stderr lines: %s", tail);
}

/* ---- the table ---------------------------------------------------------------- */

static void ex_close(void *state)
{
    exec_engine *e = state;

    if (e == NULL)
        return;
    worker_close(e->w, CLOSE_GRACE);
    free(e->command);
    free(e->conf);
    free(e);
}

/* The settings open would refuse before starting anything; a dry run and
 * the interactive questions stop here, without starting the worker. */
static int ex_check(const samsep_engine_config *cfg, char *err, size_t errlen)
{
    if (cfg->worker == NULL || cfg->worker[strspn(cfg->worker, " \t")] == '\0') {
        set_err(err, errlen,
                "engine \"exec\" needs --worker \"COMMAND ARGS...\", the "
                "worker program to run (doc/exec-protocol.md)");
        return SAMSEP_ERR_INVALID;
    }
    if (cfg->worker_timeout < 0 || cfg->worker_start_timeout < 0) {
        set_err(err, errlen, "engine \"exec\": timeouts must be positive");
        return SAMSEP_ERR_INVALID;
    }
    return SAMSEP_OK;
}

static int ex_open(const samsep_engine_config *cfg, void **state,
                   samsep_engine_info *info, char *err, size_t errlen)
{
    char why[REASON_MAX + 64], tail[TAIL_MAX];
    exec_engine *e;
    int rc;

    rc = ex_check(cfg, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->command = strdup(cfg->worker)) == NULL ||
        (e->conf = wire_config_json(cfg)) == NULL) {
        ex_close(e);
        return SAMSEP_ERR_NOMEM;
    }
    e->cancel = cfg->cancel;
    e->timeout = cfg->worker_timeout > 0 ? cfg->worker_timeout : DEFAULT_TIMEOUT;
    e->start_timeout = cfg->worker_start_timeout > 0 ? cfg->worker_start_timeout
                                                     : DEFAULT_START_TIMEOUT;
    rc = start_worker(e, why, sizeof why, tail, sizeof tail);
    if (rc != SAMSEP_OK) {
        set_err(err, errlen, "the worker \"%s\" cannot start: %s", e->command, why);
        with_tail(err, errlen, tail);
        ex_close(e);
        return rc == SAMSEP_ERR_NOMEM ? rc : SAMSEP_ERR_ENGINE;
    }
    if (cfg->residual == SAMSEP_RESIDUAL_MODEL && !e->hello.residual) {
        set_err(err, errlen,
                "the worker \"%s\" returns no residual of its own; "
                "--residual model cannot be honoured",
                e->hello.name);
        ex_close(e);
        return SAMSEP_ERR_INVALID;
    }
    e->keep_residual = e->hello.residual && cfg->residual != SAMSEP_RESIDUAL_MIX_MINUS;
    info->sample_rate = e->hello.sample_rate;
    info->channels = e->hello.channels;
    info->streaming = 0;
    info->residual_mode = e->keep_residual ? SAMSEP_RESIDUAL_ENGINE
                                           : SAMSEP_RESIDUAL_SUBTRACT;
    info->chunk_seconds = e->hello.chunk_seconds;
    info->overlap_seconds = e->hello.overlap_seconds;
    info->max_chunk_seconds = e->hello.max_chunk_seconds;
    /* the pipeline's default overlap (2 s) must fit a short chunk */
    if (info->overlap_seconds < 0 && info->chunk_seconds > 0 && info->chunk_seconds < 8.0)
        info->overlap_seconds = info->chunk_seconds / 4;
    *state = e;
    return SAMSEP_OK;
}

static void ex_stream_close(void *state)
{
    exec_stream *s = state;

    if (s == NULL)
        return;
    free(s->drop);
    free(s->le);
    free(s);
}

static int ex_stream_open(void *engine, int rate, int channels, int64_t max_frames,
                          void **stream, int64_t *latency, char *err, size_t errlen)
{
    exec_engine *e = engine;
    exec_stream *s;
    size_t samples;

    if (rate < 1 || channels < 1 || max_frames < 1 ||
        (e->hello.sample_rate > 0 && rate != e->hello.sample_rate) ||
        (e->hello.channels == 1 && channels != 1)) {
        set_err(err, errlen, "the worker wants %d Hz, %s", e->hello.sample_rate,
                e->hello.channels == 1 ? "mono" : "any channels");
        return SAMSEP_ERR_INVALID;
    }
    /* every length on the wire is 32-bit */
    if ((uint64_t)max_frames * (uint64_t)channels > ((uint64_t)1 << 29)) {
        set_err(err, errlen,
                "chunks of %lld frames of %d channels are too long for "
                "the protocol",
                (long long)max_frames, channels);
        return SAMSEP_ERR_INVALID;
    }
    samples = (size_t)max_frames * (size_t)channels;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return SAMSEP_ERR_NOMEM;
    s->e = e;
    s->max_frames = max_frames;
    s->c.file = e->files++;
    s->c.rate = (uint32_t)rate;
    s->c.channels = (uint32_t)channels;
    if ((e->hello.residual && !e->keep_residual &&
         (s->drop = malloc(samples * sizeof(float))) == NULL) ||
        (!wire_host_is_le() && (s->le = malloc(samples * sizeof(float))) == NULL)) {
        ex_stream_close(s);
        return SAMSEP_ERR_NOMEM;
    }
    *stream = s;
    *latency = 0;
    return SAMSEP_OK;
}

/* One CHNK and its answer on the running worker. *soft is set when the
 * worker answered with EROR and may be kept. */
static int exchange_chunk(exec_stream *s, const float *in, float *target, float *residual,
                          int *soft, char *err, size_t errlen)
{
    exec_engine *e = s->e;
    unsigned char hdr[WIRE_HEADER + WIRE_CHUNK_HEADER];
    int64_t n = (int64_t)s->c.frames * s->c.channels, bad, first;
    worker_seg out[2];
    answer a;
    int rc, type;

    wire_put_header(hdr, WIRE_CHNK, (uint32_t)wire_chunk_length(&s->c));
    wire_put_chunk(hdr + WIRE_HEADER, &s->c);
    out[0] = (worker_seg){ hdr, sizeof hdr };
    if (s->le != NULL)
        wire_floats_out(s->le, in, n);
    out[1] = (worker_seg){ s->le != NULL ? (void *)s->le : (void *)in,
                           (size_t)n * sizeof(float) };
    memset(&a, 0, sizeof a);
    a.e = e;
    a.accept = 1u << WIRE_RSLT | 1u << WIRE_EROR;
    a.c = &s->c;
    a.parts = e->hello.residual ? 2 : 1;
    a.target = target;
    a.residual = residual != NULL ? residual : s->drop;
    *soft = 0;
    rc = worker_exchange(e->w, out, 2, plan_answer, &a, worker_clock() + e->timeout,
                         e->timeout, &type, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    if (type == WIRE_EROR) {
        char words[REASON_MAX];

        worker_words(e, a.text_len, words, sizeof words);
        set_err(err, errlen, "it reported: %s", words);
        *soft = 1;
        return SAMSEP_ERR_ENGINE;
    }
    rc = wire_check_result(a.rhdr, (uint32_t)wire_result_length(&s->c, a.parts), &s->c,
                           a.parts, err, errlen);
    if (rc != SAMSEP_OK)
        return SAMSEP_ERR_ENGINE;
    bad = wire_floats_in(target, n, &first);
    if (bad == 0 && a.parts == 2)
        bad = wire_floats_in(a.residual, n, &first);
    if (bad > 0) {
        set_err(err, errlen,
                "it returned %lld sample(s) that are not finite "
                "numbers (NaN or infinity)",
                (long long)bad);
        return SAMSEP_ERR_ENGINE;
    }
    return SAMSEP_OK;
}

/* One try: start a worker if none runs, exchange the chunk; a worker that
 * failed is killed (its last stderr lines go to `tail`). */
static int try_chunk(exec_stream *s, const float *in, float *target, float *residual,
                     char *why, size_t whylen, char *tail, size_t taillen)
{
    exec_engine *e = s->e;
    int soft = 0, rc;

    tail[0] = '\0';
    if (e->w == NULL) {
        char start[REASON_MAX];

        rc = start_worker(e, start, sizeof start, tail, taillen);
        if (rc != SAMSEP_OK) {
            set_err(why, whylen, "a new worker could not start: %s", start);
            return rc;
        }
    }
    rc = exchange_chunk(s, in, target, residual, &soft, why, whylen);
    if (rc == SAMSEP_OK)
        return rc;
    if (soft) {
        worker_stderr_tail(e->w, tail, taillen);
    } else {
        worker_kill(e->w, tail, taillen);
        e->w = NULL;
    }
    return rc;
}

static int ex_process_at(void *state, const float *in, float *target, float *residual,
                         int64_t frames, int64_t start, char *err, size_t errlen)
{
    exec_stream *s = state;
    char first[REASON_MAX], again[REASON_MAX], tail[TAIL_MAX];
    int rc;

    if (s == NULL || in == NULL || target == NULL || frames < 1 ||
        frames > s->max_frames || start < 0)
        return SAMSEP_ERR_INVALID;
    s->c.frames = (uint32_t)frames;
    s->c.start = start;
    rc = try_chunk(s, in, target, residual, first, sizeof first, tail, sizeof tail);
    if (rc == SAMSEP_OK)
        s->c.chunk++;
    if (rc == SAMSEP_OK || rc == SAMSEP_ERR_CANCELLED)
        return rc;
    LOG_WARN("worker failed on chunk %lu of file %lu: %s%s%s; retrying it",
             (unsigned long)s->c.chunk, (unsigned long)s->c.file, first,
             tail[0] ? "; its last stderr lines: " : "", tail);
    rc = try_chunk(s, in, target, residual, again, sizeof again, tail, sizeof tail);
    if (rc == SAMSEP_OK)
        s->c.chunk++;
    if (rc == SAMSEP_OK || rc == SAMSEP_ERR_CANCELLED)
        return rc;
    if (strcmp(first, again) == 0)
        set_err(err, errlen, "the worker failed twice on this chunk: %s", again);
    else
        set_err(err, errlen, "the worker failed twice on this chunk: %s; then: %s", first,
                again);
    with_tail(err, errlen, tail);
    return SAMSEP_ERR_ENGINE;
}

const samsep_engine_vtable samsep_engine_exec = {
    .name = "exec",
    .description = "any model as a worker process: --worker \"COMMAND ARGS...\" "
                   "(doc/exec-protocol.md)",
    .open = ex_open,
    .stream_open = ex_stream_open,
    .process = NULL,
    .stream_close = ex_stream_close,
    .close = ex_close,
    .check = ex_check,
    .process_at = ex_process_at,
};
