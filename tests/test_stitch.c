/*
 * test_stitch.c - the file pipeline through test-only engines: identity,
 * per-chunk gains (so the crossfade matters), a recording engine that checks
 * the streaming chunker against the pure plan, a delaying streaming engine,
 * a mono engine at another rate (mono outputs, or the file's channels made
 * by the time-frequency mask), and failing/cancelling engines; and a tap
 * that must see what the files get. Every check reads the real output files
 * back through libsndfile.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "samsep.h"
#include "testutil.h"

/* ---- test engines ------------------------------------------------------ */

enum mode {
    M_IDENTITY, /* target = input, residual by subtraction */
    M_GAIN,     /* target = input * (0.2 + 0.1 * chunk index), by subtraction */
    M_SPLIT,    /* target = 0.7 * input, residual = 0.3 * input (engine's) */
    M_CONST,    /* target = chunk index, everywhere */
    M_RAMP,     /* like identity, and checks the input is the ramp */
    M_DELAY,    /* streaming: output = input delayed by DELAY frames */
    M_FAIL,     /* fails on chunk 2 */
    M_CANCEL,   /* raises the cancel flag on chunk 2 */
    M_TRIPLE    /* target = 3 * input (clips) */
};

#define DELAY 77
#define RAMP_SCALE (1.0f / 1048576.0f)

static struct {
    int mode;
    int streaming;
    int mono;
    int rate;
    int64_t calls;
    int64_t lens[4096];
    int channels;
    int64_t consumed;     /* M_RAMP: frames seen before this chunk */
    int64_t expect_start; /* M_RAMP: start of the next chunk */
    int64_t overlap;      /* M_RAMP: overlap of the plan */
    int ramp_ok;
    int cancel_flag;
    float delay_line[DELAY * 8];
} eng;

static int t_open(const samsep_engine_config *cfg, void **state, samsep_engine_info *info,
                  char *err, size_t errlen)
{
    (void)cfg;
    (void)err;
    (void)errlen;
    *state = &eng;
    info->sample_rate = eng.rate;
    info->channels = eng.mono ? 1 : 0;
    info->streaming = eng.streaming;
    info->residual_mode = eng.mode == M_SPLIT ? SAMSEP_RESIDUAL_ENGINE
                                              : SAMSEP_RESIDUAL_SUBTRACT;
    info->chunk_seconds = 0;
    info->overlap_seconds = -1;
    return SAMSEP_OK;
}

static int t_stream_open(void *engine, int rate, int channels, int64_t max_frames,
                         void **stream, int64_t *latency, char *err, size_t errlen)
{
    (void)rate;
    (void)max_frames;
    (void)err;
    (void)errlen;
    eng.channels = channels;
    eng.calls = 0;
    eng.expect_start = 0;
    eng.ramp_ok = 1;
    memset(eng.delay_line, 0, sizeof eng.delay_line);
    *stream = engine;
    *latency = eng.mode == M_DELAY ? DELAY : 0;
    return SAMSEP_OK;
}

static int t_process(void *stream, const float *in, float *target, float *residual,
                     int64_t frames)
{
    int ch = eng.channels;
    int64_t i, n = frames * ch, k = eng.calls;

    (void)stream;
    if (eng.calls < 4096)
        eng.lens[eng.calls] = frames;
    eng.calls++;
    switch (eng.mode) {
    case M_FAIL:
        if (k == 2)
            return SAMSEP_ERR_ENGINE;
        /* fall through */
    case M_IDENTITY: memcpy(target, in, (size_t)n * sizeof(float)); break;
    case M_CANCEL:
        if (k == 2)
            eng.cancel_flag = 1;
        memcpy(target, in, (size_t)n * sizeof(float));
        break;
    case M_GAIN:
        for (i = 0; i < n; i++)
            target[i] = in[i] * (0.2f + 0.1f * (float)(k % 7));
        break;
    case M_TRIPLE:
        for (i = 0; i < n; i++)
            target[i] = in[i] * 3.0f;
        break;
    case M_SPLIT:
        for (i = 0; i < n; i++) {
            target[i] = 0.7f * in[i];
            residual[i] = 0.3f * in[i];
        }
        break;
    case M_CONST:
        for (i = 0; i < n; i++)
            target[i] = (float)k;
        break;
    case M_RAMP:
        /* the chunk must be ramp[start .. start + frames) on channel 0 */
        for (i = 0; i < frames; i++)
            if (in[i * ch] != (float)(eng.expect_start + i) * RAMP_SCALE)
                eng.ramp_ok = 0;
        eng.expect_start += frames - eng.overlap;
        memcpy(target, in, (size_t)n * sizeof(float));
        break;
    case M_DELAY:
        for (i = 0; i < frames; i++) {
            int c;

            for (c = 0; c < ch; c++) {
                float *slot = &eng.delay_line[(eng.consumed % DELAY) * ch + c];

                target[i * ch + c] = *slot;
                *slot = in[i * ch + c];
            }
            eng.consumed++;
        }
        break;
    }
    return SAMSEP_OK;
}

static void t_stream_close(void *stream)
{
    (void)stream;
}

static void t_close(void *engine)
{
    (void)engine;
}

static const samsep_engine_vtable test_vt = { .name = "test",
                                              .description = "test-only engines",
                                              .open = t_open,
                                              .stream_open = t_stream_open,
                                              .process = t_process,
                                              .stream_close = t_stream_close,
                                              .close = t_close };

static samsep_engine *open_test_engine(int mode)
{
    samsep_engine *e = NULL;
    char err[256];

    memset(&eng, 0, sizeof eng);
    eng.mode = mode;
    eng.streaming = mode == M_DELAY;
    assert_int_equal(samsep_engine_open_custom(&test_vt, NULL, &e, err, sizeof err),
                     SAMSEP_OK);
    return e;
}

/* ---- helpers ----------------------------------------------------------- */

typedef struct run {
    char *dir, *in, *tgt, *res;
    samsep_report rep;
    int rc;
    int channels; /* samsep_channels of the job */
} run;

static void run_init(run *r, const char *ext)
{
    char name[64];

    memset(r, 0, sizeof *r);
    r->dir = tu_mkdtemp();
    assert_non_null(r->dir);
    snprintf(name, sizeof name, "in.%s", ext);
    r->in = tu_path(r->dir, name);
    r->tgt = tu_path(r->dir, "in_target.wav");
    r->res = tu_path(r->dir, "in_residual.wav");
}

static void run_free(run *r)
{
    tu_rmtree(r->dir);
    free(r->dir);
    free(r->in);
    free(r->tgt);
    free(r->res);
}

static int separate(samsep_engine *e, run *r, int64_t chunk, int64_t overlap, int format,
                    int subtype)
{
    samsep_job job;

    samsep_job_init(&job);
    job.input_path = r->in;
    job.target_path = r->tgt;
    job.residual_path = r->res;
    job.chunk_frames = chunk;
    job.overlap_frames = overlap;
    job.format = format;
    job.subtype = subtype;
    job.cancel = &eng.cancel_flag;
    job.channels = r->channels;
    r->rc = samsep_separate_file(e, &job, &r->rep);
    return r->rc;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    int64_t i;

    for (i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)b[i]) > m)
            m = fabs((double)a[i] - (double)b[i]);
    return m;
}

/* ---- tests ------------------------------------------------------------- */

/* Identity engine: the output equals the input for many plans. */
static void test_identity_many_plans(void **state)
{
    static const int64_t chunks[] = { 1, 16, 100, 1000 };
    static const int channel_counts[] = { 1, 2, 3, 5 };
    size_t ci, hi;

    (void)state;
    for (ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
        int64_t chunk = chunks[ci];
        int64_t lengths[] = { 1,         chunk - 1,     chunk,
                              chunk + 1, 2 * chunk + 3, 7 * chunk + chunk / 3,
                              12345 };
        int64_t overlaps[] = { 0, 1, chunk / 4, chunk / 2, chunk - 1 };
        size_t li, oi;

        for (li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
            for (oi = 0; oi < sizeof overlaps / sizeof overlaps[0]; oi++)
                for (hi = 0; hi < 4; hi++) {
                    int64_t frames = lengths[li], overlap = overlaps[oi];
                    int ch = channel_counts[(li + oi + hi) % 4];
                    samsep_engine *e;
                    float *x, *y, *z;
                    int64_t ny, nz;
                    int chy, chz;
                    run r;

                    if (frames < 1 || overlap < 0 || overlap >= chunk)
                        continue;
                    if (hi > 0 && chunk < 100)
                        continue; /* channel variety on the larger plans */
                    run_init(&r, "wav");
                    x = malloc((size_t)(frames * ch) * sizeof(float));
                    assert_non_null(x);
                    tu_noise(x, frames * ch, 0.9f, (uint64_t)(frames * 31 + overlap));
                    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000,
                                              ch, x, frames),
                                     0);
                    e = open_test_engine(M_IDENTITY);
                    assert_int_equal(separate(e, &r, chunk, overlap, 0, 0), SAMSEP_OK);
                    y = tu_read(r.tgt, &ny, NULL, &chy, NULL);
                    z = tu_read(r.res, &nz, NULL, &chz, NULL);
                    assert_non_null(y);
                    assert_non_null(z);
                    assert_int_equal(ny, frames);
                    assert_int_equal(nz, frames);
                    assert_int_equal(chy, ch);
                    assert_true(max_abs_diff(x, y, frames * ch) <= 1e-6);
                    {
                        int64_t i;

                        for (i = 0; i < frames * ch; i++)
                            assert_true(fabsf(z[i]) <= 1e-6f);
                    }
                    assert_int_equal(r.rep.frames, frames);
                    free(x);
                    free(y);
                    free(z);
                    samsep_engine_close(e);
                    run_free(&r);
                }
    }
}

/* The streaming chunker hands the engine exactly the plan's spans. */
static void test_chunker_matches_plan(void **state)
{
    static const int64_t cases[][3] = {
        { 1, 10, 3 },          { 10, 10, 3 },      { 11, 10, 3 },      { 1000, 64, 63 },
        { 20000, 4096, 1000 }, { 20001, 4096, 0 }, { 9999, 333, 200 }, { 50000, 7, 6 },
    };
    size_t c;

    (void)state;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t frames = cases[c][0], chunk = cases[c][1], overlap = cases[c][2];
        int64_t count, k, i;
        samsep_engine *e;
        float *x;
        run r;

        run_init(&r, "wav");
        x = malloc((size_t)(frames * 2) * sizeof(float));
        assert_non_null(x);
        for (i = 0; i < frames; i++) {
            x[2 * i] = (float)i * RAMP_SCALE;
            x[2 * i + 1] = -(float)i * RAMP_SCALE;
        }
        assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, x,
                                  frames),
                         0);
        e = open_test_engine(M_RAMP);
        eng.overlap = overlap;
        assert_int_equal(separate(e, &r, chunk, overlap, 0, 0), SAMSEP_OK);
        assert_int_equal(samsep_plan_count(frames, chunk, overlap, &count), SAMSEP_OK);
        assert_int_equal(eng.calls, count);
        assert_int_equal(r.rep.chunks, count);
        for (k = 0; k < count && k < 4096; k++) {
            samsep_span s;

            samsep_plan_chunk(frames, chunk, overlap, k, &s);
            assert_int_equal(eng.lens[k], s.end - s.start);
        }
        assert_true(eng.ramp_ok);
        free(x);
        samsep_engine_close(e);
        run_free(&r);
    }
}

/* Subtracting engine with a different gain per chunk: target + residual
 * equals the mixture over the whole file. */
static void test_subtractive_sum(void **state)
{
    static const int64_t plans[][2] = {
        { 1000, 200 }, { 1000, 999 }, { 480, 0 }, { 4800, 2400 }, { 300, 299 }
    };
    size_t p;

    (void)state;
    for (p = 0; p < sizeof plans / sizeof plans[0]; p++) {
        int64_t frames = 48000 + 17, n, i;
        samsep_engine *e;
        float *x, *t, *res;
        double worst = 0;
        run r;

        run_init(&r, "wav");
        x = malloc((size_t)(frames * 2) * sizeof(float));
        assert_non_null(x);
        tu_noise(x, frames * 2, 0.99f, p + 7);
        assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, x,
                                  frames),
                         0);
        e = open_test_engine(M_GAIN);
        assert_int_equal(separate(e, &r, plans[p][0], plans[p][1], 0, 0), SAMSEP_OK);
        t = tu_read(r.tgt, &n, NULL, NULL, NULL);
        assert_int_equal(n, frames);
        res = tu_read(r.res, &n, NULL, NULL, NULL);
        assert_int_equal(n, frames);
        for (i = 0; i < frames * 2; i++) {
            double d = fabs((double)t[i] + (double)res[i] - (double)x[i]);

            if (d > worst)
                worst = d;
        }
        assert_true(worst <= 1e-5);
        /* and the target really changed with the chunk gains */
        assert_true(max_abs_diff(t, x, frames * 2) > 0.1);
        free(x);
        free(t);
        free(res);
        samsep_engine_close(e);
        run_free(&r);
    }
}

/* The engine's own residual is stitched like the target. */
static void test_engine_residual(void **state)
{
    int64_t frames = 10007, n, i;
    samsep_engine *e;
    float *x, *t, *res;
    run r;

    (void)state;
    run_init(&r, "wav");
    x = malloc((size_t)frames * sizeof(float));
    tu_noise(x, frames, 0.5f, 3);
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, frames),
                     0);
    e = open_test_engine(M_SPLIT);
    assert_int_equal(separate(e, &r, 1000, 250, 0, 0), SAMSEP_OK);
    t = tu_read(r.tgt, &n, NULL, NULL, NULL);
    assert_int_equal(n, frames);
    res = tu_read(r.res, &n, NULL, NULL, NULL);
    assert_int_equal(n, frames);
    for (i = 0; i < frames; i++) {
        assert_true(fabsf(t[i] - 0.7f * x[i]) <= 1e-6f);
        assert_true(fabsf(res[i] - 0.3f * x[i]) <= 1e-6f);
        assert_true(fabsf(t[i] + res[i] - x[i]) <= 1e-5f);
    }
    free(x);
    free(t);
    free(res);
    samsep_engine_close(e);
    run_free(&r);
}

/* What a tap saw: the three signals, concatenated block after block. */
typedef struct tap_log {
    float *m, *t, *r;
    int64_t frames, cap, total;
    int channels, rate, blocks, order_ok;
} tap_log;

static void tap_record(void *user, const samsep_tap_block *b)
{
    tap_log *l = user;
    size_t at = (size_t)l->frames * (size_t)b->channels;
    size_t n = (size_t)b->frames * (size_t)b->channels;

    if (b->start != l->frames || b->frames <= 0 || l->frames + b->frames > l->cap)
        l->order_ok = 0;
    else {
        memcpy(l->m + at, b->mixture, n * sizeof(float));
        memcpy(l->t + at, b->target, n * sizeof(float));
        memcpy(l->r + at, b->residual, n * sizeof(float));
        l->frames += b->frames;
    }
    l->channels = b->channels;
    l->rate = b->sample_rate;
    l->total = b->frames_total;
    l->blocks++;
}

/* The tap sees every written frame once, in order, for a subtracting and
 * for a residual-making engine: the mixture is the input, the target and
 * residual are exactly what the files hold. */
static void test_tap_sees_outputs(void **state)
{
    static const int modes[] = { M_GAIN, M_SPLIT, M_DELAY };
    size_t k;

    (void)state;
    for (k = 0; k < sizeof modes / sizeof modes[0]; k++) {
        int64_t frames = 30011, n;
        int ch = modes[k] == M_SPLIT ? 1 : 2;
        samsep_engine *e;
        samsep_job job;
        tap_log l;
        float *x, *t, *res;
        run r;

        run_init(&r, "wav");
        x = malloc((size_t)(frames * ch) * sizeof(float));
        assert_non_null(x);
        tu_noise(x, frames * ch, 0.5f, k + 11);
        assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, ch, x,
                                  frames),
                         0);
        memset(&l, 0, sizeof l);
        l.cap = frames;
        l.order_ok = 1;
        l.m = malloc((size_t)(frames * ch) * sizeof(float));
        l.t = malloc((size_t)(frames * ch) * sizeof(float));
        l.r = malloc((size_t)(frames * ch) * sizeof(float));
        assert_true(l.m != NULL && l.t != NULL && l.r != NULL);
        e = open_test_engine(modes[k]);
        samsep_job_init(&job);
        job.input_path = r.in;
        job.target_path = r.tgt;
        job.residual_path = r.res;
        job.chunk_frames = 4000;
        job.overlap_frames = 500;
        job.tap = tap_record;
        job.tap_user = &l;
        assert_int_equal(samsep_separate_file(e, &job, &r.rep), SAMSEP_OK);
        assert_true(l.order_ok);
        assert_true(l.blocks > 1);
        assert_int_equal(l.frames, frames);
        assert_int_equal(l.total, frames);
        assert_int_equal(l.channels, ch);
        assert_int_equal(l.rate, 16000);
        t = tu_read(r.tgt, &n, NULL, NULL, NULL);
        assert_int_equal(n, frames);
        res = tu_read(r.res, &n, NULL, NULL, NULL);
        assert_int_equal(n, frames);
        assert_true(max_abs_diff(l.m, x, frames * ch) == 0);
        assert_true(max_abs_diff(l.t, t, frames * ch) == 0);
        assert_true(max_abs_diff(l.r, res, frames * ch) == 0);
        free(x);
        free(t);
        free(res);
        free(l.m);
        free(l.t);
        free(l.r);
        samsep_engine_close(e);
        run_free(&r);
    }
}

/* Chunk k outputs the constant k: inside an overlap the output moves
 * monotonically from k to k+1 (the weights are a partition of one), and
 * outside overlaps it is exactly k. */
static void test_crossfade_shape(void **state)
{
    int64_t frames = 5000, chunk = 1000, overlap = 200, hop = 800, n, i;
    samsep_engine *e;
    float *x, *t;
    run r;

    (void)state;
    run_init(&r, "wav");
    x = calloc((size_t)frames, sizeof(float));
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, frames),
                     0);
    e = open_test_engine(M_CONST);
    assert_int_equal(separate(e, &r, chunk, overlap, 0, 0), SAMSEP_OK);
    t = tu_read(r.tgt, &n, NULL, NULL, NULL);
    assert_int_equal(n, frames);
    for (i = 0; i < frames; i++) {
        int64_t k = i / hop < 5 ? i / hop : 5; /* latest chunk starting at or before i */
        int64_t in_ov = i - k * hop;           /* offset into chunk k */

        if (k > 0 && in_ov < overlap) {
            /* blended between chunk k-1 and chunk k */
            assert_true(t[i] > (float)(k - 1) && t[i] < (float)k);
            if (in_ov > 0)
                assert_true(t[i] >= t[i - 1]);
            /* symmetric raised cosine: w[i] + w[O-1-i] == 1 */
            {
                int64_t mirror = k * hop + (overlap - 1 - in_ov);
                float a = t[i] - (float)(k - 1), b = t[mirror] - (float)(k - 1);

                assert_true(fabsf(a + b - 1.0f) <= 1e-6f);
            }
        } else {
            assert_true(t[i] == (float)k);
        }
    }
    free(x);
    free(t);
    samsep_engine_close(e);
    run_free(&r);
}

/* A streaming engine with latency: the delay is removed exactly. */
static void test_streaming_latency(void **state)
{
    static const int64_t lens[] = { 1, 50, DELAY, DELAY + 1, 16384, 16385, 100000 };
    size_t li;

    (void)state;
    for (li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t frames = lens[li], n;
        samsep_engine *e;
        float *x, *t;
        run r;

        run_init(&r, "wav");
        x = malloc((size_t)(frames * 3) * sizeof(float));
        tu_noise(x, frames * 3, 0.5f, (uint64_t)frames);
        assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 3, x,
                                  frames),
                         0);
        e = open_test_engine(M_DELAY);
        /* a streaming engine ignores the overlap; blocks of 1000 */
        assert_int_equal(separate(e, &r, 1000, 0, 0, 0), SAMSEP_OK);
        t = tu_read(r.tgt, &n, NULL, NULL, NULL);
        assert_int_equal(n, frames);
        assert_true(max_abs_diff(x, t, frames * 3) == 0.0);
        free(x);
        free(t);
        samsep_engine_close(e);
        run_free(&r);
    }
}

/* A mono engine at 48 kHz on a 44.1 kHz stereo file, mono outputs asked
 * for: outputs are mono, at the file's rate, of the file's length; the
 * target is the downmix
 * (band-limited, so resampling twice returns it), and target + residual is
 * the downmixed mixture exactly. */
static void test_resample_mono(void **state)
{
    int64_t frames = 44100 * 3 + 11, n, i;
    samsep_engine *e;
    float *x, *t, *res;
    int ch, rate;
    double worst = 0, worst_sum = 0;
    run r;

    (void)state;
    run_init(&r, "flac");
    x = malloc((size_t)(frames * 2) * sizeof(float));
    for (i = 0; i < frames; i++) {
        x[2 * i] = 0.4f * sinf(2.0f * (float)M_PI * 1000.0f * (float)i / 44100.0f);
        x[2 * i + 1] = 0.3f * sinf(2.0f * (float)M_PI * 3000.0f * (float)i / 44100.0f);
    }
    assert_int_equal(tu_write(r.in, SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 44100, 2, x,
                              frames),
                     0);
    free(x);
    x = tu_read(r.in, &n, NULL, NULL, NULL); /* the 24-bit mixture as stored */
    assert_int_equal(n, frames);
    memset(&eng, 0, sizeof eng);
    e = open_test_engine(M_IDENTITY);
    samsep_engine_close(e);
    {
        char err[256];

        eng.mode = M_IDENTITY;
        eng.mono = 1;
        eng.rate = 48000;
        assert_int_equal(samsep_engine_open_custom(&test_vt, NULL, &e, err, sizeof err),
                         SAMSEP_OK);
    }
    free(r.tgt);
    free(r.res);
    r.tgt = tu_path(r.dir, "in_target.flac");
    r.res = tu_path(r.dir, "in_residual.flac");
    r.channels = SAMSEP_CHANNELS_MONO;
    assert_int_equal(separate(e, &r, 48000, 9600, 0, 0), SAMSEP_OK);
    /* FLAC input -> FLAC output; 24-bit quantisation of the result */
    t = tu_read(r.tgt, &n, &rate, &ch, NULL);
    assert_int_equal(n, frames);
    assert_int_equal(rate, 44100);
    assert_int_equal(ch, 1);
    res = tu_read(r.res, &n, NULL, NULL, NULL);
    assert_int_equal(n, frames);
    for (i = 0; i < frames; i++) {
        double mix = 0.5 * ((double)x[2 * i] + (double)x[2 * i + 1]);

        /* skip the resampler's edge transients at both ends */
        if (i > 200 && i < frames - 200 && fabs(t[i] - mix) > worst)
            worst = fabs(t[i] - mix);
        if (fabs((double)t[i] + (double)res[i] - mix) > worst_sum)
            worst_sum = fabs((double)t[i] + (double)res[i] - mix);
    }
    assert_true(worst < 1e-3);
    assert_true(worst_sum < 2.5e-7); /* two 24-bit roundings */
    free(x);
    free(t);
    free(res);
    samsep_engine_close(e);
    run_free(&r);
}

/* A mono engine on a stereo file keeps its channels (the default): through
 * 48 kHz and back, per-chunk gains joined by the crossfade, and for an
 * engine with its own residual, each channel of the target is the gain
 * times that channel (the mask of the mono target), the residual is the
 * channel's mixture minus its target, the outputs and the tap have two
 * channels and the file's length, and the tap's mixture is the file. */
static void test_mono_engine_keeps_channels(void **state)
{
    static const int modes[3] = { M_IDENTITY, M_GAIN, M_SPLIT };
    int64_t frames = 44100 * 3 + 7, n, i, k;
    float *x, *t, *res, *mono;
    int ch, rate, c;
    tap_log log;
    run r;

    (void)state;
    x = malloc((size_t)(frames * 2) * sizeof(float));
    for (i = 0; i < frames; i++) {
        x[2 * i] = 0.4f * sinf(2.0f * (float)M_PI * 1000.0f * (float)i / 44100.0f);
        x[2 * i + 1] = 0.3f * sinf(2.0f * (float)M_PI * 3000.0f * (float)i / 44100.0f);
    }
    for (k = 0; k < 3; k++) {
        samsep_engine *e;
        samsep_job job;
        char err[256];
        double worst = 0, worst_sum = 0, worst_mean = 0;

        run_init(&r, "wav");
        assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 44100, 2, x,
                                  frames),
                         0);
        memset(&eng, 0, sizeof eng);
        eng.mode = modes[k];
        eng.mono = 1;
        eng.rate = modes[k] == M_IDENTITY ? 48000 : 0;
        assert_int_equal(samsep_engine_open_custom(&test_vt, NULL, &e, err, sizeof err),
                         SAMSEP_OK);
        /* the mono run first, for the gains */
        r.channels = SAMSEP_CHANNELS_MONO;
        assert_int_equal(separate(e, &r, eng.rate ? 48000 : 44100, eng.rate ? 9600 : 8820,
                                  0, 0),
                         SAMSEP_OK);
        mono = tu_read(r.tgt, &n, NULL, &ch, NULL);
        assert_int_equal(ch, 1);
        memset(&log, 0, sizeof log);
        log.cap = frames;
        log.order_ok = 1;
        log.m = malloc((size_t)(frames * 2) * sizeof(float));
        log.t = malloc((size_t)(frames * 2) * sizeof(float));
        log.r = malloc((size_t)(frames * 2) * sizeof(float));
        samsep_job_init(&job);
        job.input_path = r.in;
        job.target_path = r.tgt;
        job.residual_path = r.res;
        job.chunk_frames = eng.rate ? 48000 : 44100;
        job.overlap_frames = eng.rate ? 9600 : 8820;
        job.tap = tap_record;
        job.tap_user = &log;
        assert_int_equal(job.channels, SAMSEP_CHANNELS_KEEP);
        assert_int_equal(samsep_separate_file(e, &job, &r.rep), SAMSEP_OK);
        assert_int_equal(r.rep.channels, 2);
        assert_int_equal(r.rep.out_channels, 2);
        t = tu_read(r.tgt, &n, &rate, &ch, NULL);
        assert_int_equal(n, frames);
        assert_int_equal(rate, 44100);
        assert_int_equal(ch, 2);
        res = tu_read(r.res, &n, NULL, &ch, NULL);
        assert_int_equal(n, frames);
        assert_int_equal(ch, 2);
        assert_true(log.order_ok);
        assert_int_equal(log.frames, frames);
        assert_int_equal(log.channels, 2);
        assert_memory_equal(log.m, x, (size_t)(frames * 2) * sizeof(float));
        assert_memory_equal(log.t, t, (size_t)(frames * 2) * sizeof(float));
        assert_memory_equal(log.r, res, (size_t)(frames * 2) * sizeof(float));
        for (i = 0; i < frames; i++) {
            double g = modes[k] == M_IDENTITY ? 1.0 : modes[k] == M_SPLIT ? 0.7 : 0.0;
            double mean = 0.5 * ((double)t[2 * i] + t[2 * i + 1]);

            for (c = 0; c < 2; c++) {
                double sum = (double)t[2 * i + c] + res[2 * i + c];

                if (fabs(sum - x[2 * i + c]) > worst_sum)
                    worst_sum = fabs(sum - x[2 * i + c]);
                if (g > 0 && i > 2000 && i < frames - 2000 &&
                    fabs(t[2 * i + c] - g * x[2 * i + c]) > worst)
                    worst = fabs(t[2 * i + c] - g * x[2 * i + c]);
            }
            /* both channels took the mono target's gain: their mean is it */
            if (i > 2000 && i < frames - 2000 && fabs(mean - mono[i]) > worst_mean)
                worst_mean = fabs(mean - mono[i]);
        }
        print_message("mode %d: |t - g x| <= %.2e, |mean(t) - mono| <= %.2e, "
                      "|t + r - x| <= %.2e\n",
                      modes[k], worst, worst_mean, worst_sum);
        assert_true(worst_sum < 1e-6);
        assert_true(worst < 2e-3);
        assert_true(worst_mean < 2e-3);
        free(t);
        free(res);
        free(mono);
        free(log.m);
        free(log.t);
        free(log.r);
        samsep_engine_close(e);
        run_free(&r);
    }
    free(x);
}

/* Integer output clamps and counts what does not fit. */
static void test_clamping_counted(void **state)
{
    int64_t frames = 8000, n, i;
    samsep_engine *e;
    float *x, *t;
    int fmt;
    run r;

    (void)state;
    run_init(&r, "wav");
    x = malloc((size_t)frames * sizeof(float));
    for (i = 0; i < frames; i++)
        x[i] = (i % 2 ? 0.5f : 0.1f);
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, frames),
                     0);
    e = open_test_engine(M_TRIPLE);
    assert_int_equal(separate(e, &r, 1000, 100, 0, 0), SAMSEP_OK);
    assert_int_equal(r.rep.clipped_target, frames / 2); /* 1.5 -> 1.0 */
    assert_int_equal(r.rep.clipped_residual, 0);        /* 0.5 - 1.5 = -1.0 fits */
    t = tu_read(r.tgt, &n, NULL, NULL, &fmt);
    assert_int_equal(fmt & SF_FORMAT_SUBMASK, SF_FORMAT_PCM_16); /* as the input */
    for (i = 1; i < frames; i += 2)
        assert_true(t[i] > 0.999f && t[i] <= 1.0f);
    free(t);
    /* float output keeps them */
    assert_int_equal(separate(e, &r, 1000, 100, 0, SAMSEP_SUBTYPE_FLOAT), SAMSEP_OK);
    assert_int_equal(r.rep.clipped_target, 0);
    t = tu_read(r.tgt, &n, NULL, NULL, NULL);
    assert_true(fabsf(t[1] - 1.5f) < 1e-3f);
    free(t);
    free(x);
    samsep_engine_close(e);
    run_free(&r);
}

/* Failures leave nothing behind: no output, no temporary. */
static void test_failures_leave_nothing(void **state)
{
    samsep_engine *e;
    float x[4000];
    FILE *f;
    run r;

    (void)state;
    tu_noise(x, 4000, 0.5f, 1);

    /* engine fails on chunk 2 */
    run_init(&r, "wav");
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 4000),
                     0);
    e = open_test_engine(M_FAIL);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_ERR_ENGINE);
    assert_non_null(strstr(r.rep.message, r.in));
    assert_int_equal(tu_count_entries(r.dir), 1);
    samsep_engine_close(e);

    /* cancelled after chunk 2 */
    e = open_test_engine(M_CANCEL);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_ERR_CANCELLED);
    assert_int_equal(tu_count_entries(r.dir), 1);
    samsep_engine_close(e);

    /* empty file */
    e = open_test_engine(M_IDENTITY);
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 0), 0);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_ERR_EMPTY);
    assert_non_null(strstr(r.rep.message, "no audio"));
    assert_int_equal(tu_count_entries(r.dir), 1);

    /* not audio */
    f = fopen(r.in, "w");
    assert_non_null(f);
    fputs("this is not a sound file\n", f);
    fclose(f);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(r.rep.message, r.in));
    assert_int_equal(tu_count_entries(r.dir), 1);

    /* truncated WAV: header promises more than is there */
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, x, 4000),
                     0);
    assert_int_equal(truncate(r.in, 44 + 2000), 0);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_OK);
    assert_int_equal(r.rep.frames, 1000); /* what is there, frame for frame */

    /* missing file */
    unlink(r.in);
    unlink(r.tgt);
    unlink(r.res);
    assert_int_equal(separate(e, &r, 500, 100, 0, 0), SAMSEP_ERR_IO);
    assert_non_null(strstr(r.rep.message, r.in));
    assert_int_equal(tu_count_entries(r.dir), 0);

    /* FLAC cannot hold float */
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 1, x, 4000),
                     0);
    assert_int_equal(separate(e, &r, 500, 100, SAMSEP_FORMAT_FLAC, SAMSEP_SUBTYPE_FLOAT),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(tu_count_entries(r.dir), 1);

    /* overlap >= chunk */
    assert_int_equal(separate(e, &r, 500, 500, 0, 0), SAMSEP_ERR_INVALID);
    assert_int_equal(tu_count_entries(r.dir), 1);
    samsep_engine_close(e);
    run_free(&r);
}

/* Every output says who made it, from what, with which prompt and engine. */
static void test_provenance_tags(void **state)
{
    static const char *const exts[] = { "wav", "flac" };
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        samsep_file_info info;
        samsep_engine *e;
        char err[256];
        float x[1000];
        run r;

        run_init(&r, exts[i]);
        tu_noise(x, 1000, 0.5f, 9);
        assert_int_equal(tu_write(r.in,
                                  i == 0 ? SF_FORMAT_WAV | SF_FORMAT_PCM_24
                                         : SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                                  8000, 1, x, 1000),
                         0);
        e = open_test_engine(M_IDENTITY);
        assert_int_equal(separate(e, &r, 300, 30, i == 0 ? 0 : SAMSEP_FORMAT_FLAC, 0),
                         SAMSEP_OK);
        assert_int_equal(samsep_probe_file(r.tgt, &info, err, sizeof err), SAMSEP_OK);
        assert_int_equal(strncmp(info.software, "samsep ", 7), 0);
        assert_non_null(strstr(info.comment, "role=target"));
        assert_non_null(strstr(info.comment, "engine=test"));
        assert_non_null(strstr(info.comment, "prompt=speech"));
        assert_non_null(strstr(info.comment, r.dir + 1)); /* the source path */
        assert_int_equal(info.auto_format,
                         i == 0 ? SAMSEP_FORMAT_WAV : SAMSEP_FORMAT_FLAC);
        assert_int_equal(samsep_probe_file(r.res, &info, err, sizeof err), SAMSEP_OK);
        assert_non_null(strstr(info.comment, "role=residual"));
        /* the input carries no such tag */
        assert_int_equal(samsep_probe_file(r.in, &info, err, sizeof err), SAMSEP_OK);
        assert_null(strstr(info.software, "samsep"));
        samsep_engine_close(e);
        run_free(&r);
    }
}

static void test_api_abuse(void **state)
{
    samsep_engine *e = (samsep_engine *)&eng;
    samsep_engine_vtable broken = test_vt;
    samsep_report rep;
    samsep_job job;
    char err[256];

    (void)state;
    samsep_engine_close(NULL);
    assert_int_equal(samsep_engine_open("no-such-engine", NULL, &e, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_ENGINE);
    assert_null(e);
    assert_non_null(strstr(err, "dsp")); /* lists the engines there are */
    assert_int_equal(samsep_engine_open(NULL, NULL, &e, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    broken.process = NULL;
    assert_int_equal(samsep_engine_open_custom(&broken, NULL, &e, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    samsep_job_init(&job);
    assert_int_equal(samsep_separate_file(NULL, &job, &rep), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_separate_file(NULL, NULL, NULL), SAMSEP_ERR_INVALID);
    e = open_test_engine(M_IDENTITY);
    assert_int_equal(samsep_separate_file(e, &job, &rep), SAMSEP_ERR_INVALID);
    assert_string_equal(samsep_engine_name(e), "test");
    assert_string_equal(samsep_engine_prompt(e), "speech");
    assert_null(samsep_engine_name(NULL));
    samsep_engine_close(e);
    assert_int_equal(samsep_probe_file(NULL, NULL, err, sizeof err), SAMSEP_ERR_INVALID);
    assert_string_equal(samsep_format_extension(SAMSEP_FORMAT_FLAC), "flac");
    assert_null(samsep_format_extension(SAMSEP_FORMAT_AUTO));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_many_plans),
        cmocka_unit_test(test_chunker_matches_plan),
        cmocka_unit_test(test_subtractive_sum),
        cmocka_unit_test(test_engine_residual),
        cmocka_unit_test(test_tap_sees_outputs),
        cmocka_unit_test(test_crossfade_shape),
        cmocka_unit_test(test_streaming_latency),
        cmocka_unit_test(test_resample_mono),
        cmocka_unit_test(test_mono_engine_keeps_channels),
        cmocka_unit_test(test_clamping_counted),
        cmocka_unit_test(test_failures_leave_nothing),
        cmocka_unit_test(test_provenance_tags),
        cmocka_unit_test(test_api_abuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
