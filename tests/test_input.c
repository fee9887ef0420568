/*
 * test_input.c - what the pipeline does with inputs that are not clean: the
 * NaN and infinities of a float file are replaced by 0 before any engine
 * sees them and counted; an engine that returns a non-finite sample fails
 * the file (its own test engines, registered through
 * samsep_engine_open_custom, return one in a chosen chunk), with no output
 * and no temporary left; a WAV shorter than its header promises is
 * processed for the frames it has and reported with both counts; the list
 * of formats this build reads names libsndfile's and FFmpeg's.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sndfile.h>

#include "samsep.h"
#include "audio/audio.h"
#include "testutil.h"

#define RATE 8000
#define CHUNK 1000 /* frames per engine call */

/* ---- test engines ------------------------------------------------------ */

/* What the test engines saw and what they are told to break. */
static struct {
    int64_t calls;
    int64_t nonfinite_seen; /* non-finite samples handed to process() */
    int64_t bad_call;       /* process() call that emits a bad sample, -1 none */
    float bad_value;
    int bad_in_residual;
} eng;

static int t_open(const samsep_engine_config *c, void **s, samsep_engine_info *i, char *e,
                  size_t el)
{
    (void)c;
    (void)e;
    (void)el;
    *s = NULL;
    i->residual_mode = eng.bad_in_residual ? SAMSEP_RESIDUAL_ENGINE
                                           : SAMSEP_RESIDUAL_SUBTRACT;
    return SAMSEP_OK;
}

static int t_stream_open(void *en, int rate, int ch, int64_t max, void **s, int64_t *lat,
                         char *e, size_t el)
{
    (void)en;
    (void)rate;
    (void)max;
    (void)e;
    (void)el;
    *s = (void *)(intptr_t)ch;
    *lat = 0;
    return SAMSEP_OK;
}

/* Identity (target = input, residual = 0), with one bad sample on demand. */
static int t_process(void *s, const float *in, float *t, float *r, int64_t n)
{
    size_t count = (size_t)n * (size_t)(intptr_t)s, i;

    for (i = 0; i < count; i++)
        if (!isfinite(in[i]))
            eng.nonfinite_seen++;
    memcpy(t, in, count * sizeof(float));
    if (r != NULL)
        memset(r, 0, count * sizeof(float));
    if (eng.calls == eng.bad_call)
        (eng.bad_in_residual ? r : t)[count / 2] = eng.bad_value;
    eng.calls++;
    return SAMSEP_OK;
}

static const samsep_engine_vtable test_vt = {
    .name = "nan-test",
    .description = "identity that can emit a non-finite sample",
    .open = t_open,
    .stream_open = t_stream_open,
    .process = t_process
};

/* ---- helpers ----------------------------------------------------------- */

typedef struct run {
    char *dir, *in, *tgt, *res;
    samsep_report rep;
    int rc;
} run;

/* The warnings the library logs, counted by what they are about. */
static int warnings_nonfinite, warnings_short;
static char last_warning[SAMSEP_MSG_MAX];

static void count_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level != SAMSEP_LOG_WARN)
        return;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
    warnings_nonfinite += strstr(msg, "non-finite") != NULL;
    warnings_short += strstr(msg, "shorter than its header") != NULL;
}

static void signal_of(float *x, int64_t frames, int ch)
{
    int64_t i;
    int c;

    for (i = 0; i < frames; i++)
        for (c = 0; c < ch; c++)
            x[i * ch + c] = 0.25f * sinf(0.05f * (float)(i + 7 * c));
}

/* Run the test engine over `in` (already written in r->dir). */
static void separate(run *r)
{
    samsep_engine *e;
    char err[256];
    samsep_job job;

    assert_int_equal(samsep_engine_open_custom(&test_vt, NULL, &e, err, sizeof err),
                     SAMSEP_OK);
    samsep_job_init(&job);
    job.input_path = r->in;
    job.target_path = r->tgt;
    job.residual_path = r->res;
    job.chunk_frames = CHUNK;
    job.overlap_frames = 100;
    eng.calls = 0;
    eng.nonfinite_seen = 0;
    warnings_nonfinite = warnings_short = 0;
    samsep_set_log(count_log, NULL, SAMSEP_LOG_WARN);
    r->rc = samsep_separate_file(e, &job, &r->rep);
    samsep_set_log(NULL, NULL, SAMSEP_LOG_WARN);
    samsep_engine_close(e);
}

static void run_init(run *r, const char *name)
{
    memset(r, 0, sizeof *r);
    r->dir = tu_mkdtemp();
    assert_non_null(r->dir);
    r->in = tu_path(r->dir, name);
    r->tgt = tu_path(r->dir, "out_target.wav");
    r->res = tu_path(r->dir, "out_residual.wav");
}

static void run_free(run *r)
{
    tu_rmtree(r->dir);
    free(r->dir);
    free(r->in);
    free(r->tgt);
    free(r->res);
}

/* A float WAV of `frames` frames, `ch` channels, NaN/inf at given samples. */
static void write_float_wav(const char *path, int64_t frames, int ch, const int64_t *bad,
                            const float *bad_values, int n_bad)
{
    float *x = malloc((size_t)(frames * ch) * sizeof(float));
    int i;

    assert_non_null(x);
    signal_of(x, frames, ch);
    for (i = 0; i < n_bad; i++)
        x[bad[i]] = bad_values[i];
    assert_int_equal(tu_write(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, RATE, ch, x, frames),
                     0);
    free(x);
}

/* ---- non-finite input -------------------------------------------------- */

static void test_input_nonfinite_zeroed(void **state)
{
    static const int64_t bad[] = { 1000, 2001, 4999, 5000 };
    const float vals[] = { NAN, INFINITY, -INFINITY, -NAN };
    int64_t n, i;
    float *t, *rs;
    run r;

    (void)state;
    eng.bad_call = -1;
    eng.bad_in_residual = 0;
    run_init(&r, "in.wav");
    write_float_wav(r.in, 3000, 2, bad, vals, 4);
    separate(&r);
    assert_int_equal(r.rc, SAMSEP_OK);
    assert_int_equal(eng.nonfinite_seen, 0); /* the engine never saw one */
    assert_int_equal(r.rep.nonfinite, 4);
    assert_int_equal(r.rep.frames, 3000);
    assert_int_equal(warnings_nonfinite, 1); /* one warning for the file */
    assert_non_null(strstr(last_warning, r.in));
    t = tu_read(r.tgt, &n, NULL, NULL, NULL);
    assert_non_null(t);
    assert_int_equal(n, 3000);
    rs = tu_read(r.res, &n, NULL, NULL, NULL);
    assert_non_null(rs);
    for (i = 0; i < 6000; i++) {
        assert_true(isfinite(t[i]) && isfinite(rs[i]));
        assert_true(fabsf(t[i] + rs[i]) < 1.0f);
    }
    for (i = 0; i < 4; i++)
        assert_true(t[bad[i]] == 0.0f && rs[bad[i]] == 0.0f);
    free(t);
    free(rs);
    run_free(&r);
}

static void test_input_clean_counts_zero(void **state)
{
    run r;

    (void)state;
    eng.bad_call = -1;
    eng.bad_in_residual = 0;
    run_init(&r, "in.wav");
    write_float_wav(r.in, 2500, 1, NULL, NULL, 0);
    separate(&r);
    assert_int_equal(r.rc, SAMSEP_OK);
    assert_int_equal(r.rep.nonfinite, 0);
    assert_int_equal(warnings_nonfinite, 0);
    run_free(&r);
}

/* ---- non-finite engine output ------------------------------------------ */

/* The engine breaks chunk `call`: the file fails, naming the engine, the
 * chunk and the output; nothing is left in the folder but the input. */
static void expect_engine_failure(int call, float value, int in_residual)
{
    run r;

    eng.bad_call = call;
    eng.bad_value = value;
    eng.bad_in_residual = in_residual;
    run_init(&r, "in.wav");
    write_float_wav(r.in, 5000, 2, NULL, NULL, 0);
    separate(&r);
    assert_int_equal(r.rc, SAMSEP_ERR_ENGINE);
    assert_non_null(strstr(r.rep.message, r.in));
    assert_non_null(strstr(r.rep.message, "nan-test"));
    assert_non_null(strstr(r.rep.message, "non-finite"));
    assert_non_null(strstr(r.rep.message, in_residual ? "residual" : "target"));
    {
        char want[32];

        snprintf(want, sizeof want, "chunk %d,", call);
        assert_non_null(strstr(r.rep.message, want));
    }
    assert_false(tu_file_exists(r.tgt));
    assert_false(tu_file_exists(r.res));
    assert_int_equal(tu_count_entries(r.dir), 1); /* no temporary either */
    run_free(&r);
    eng.bad_call = -1;
    eng.bad_in_residual = 0;
}

static void test_engine_nan_target_fails(void **state)
{
    (void)state;
    expect_engine_failure(0, NAN, 0);
    expect_engine_failure(3, NAN, 0);
    expect_engine_failure(5, -INFINITY, 0); /* the last chunk */
}

static void test_engine_inf_residual_fails(void **state)
{
    (void)state;
    expect_engine_failure(2, INFINITY, 1);
}

/* ---- files cut short --------------------------------------------------- */

static void test_truncated_wav_reported(void **state)
{
    struct stat st;
    float x[4000];
    int64_t n;
    float *t;
    run r;

    (void)state;
    eng.bad_call = -1;
    eng.bad_in_residual = 0;
    run_init(&r, "cut.wav");
    signal_of(x, 4000, 1);
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, RATE, 1, x, 4000),
                     0);
    assert_int_equal(stat(r.in, &st), 0);
    /* keep the header and 2500 of the 4000 frames */
    assert_int_equal(truncate(r.in, st.st_size - 1500 * 2), 0);
    separate(&r);
    assert_int_equal(r.rc, SAMSEP_OK);
    assert_int_equal(r.rep.frames, 2500);
    assert_int_equal(r.rep.frames_promised, 4000);
    assert_int_equal(warnings_short, 1);
    assert_non_null(strstr(last_warning, "4000 frames promised, 2500 read"));
    t = tu_read(r.tgt, &n, NULL, NULL, NULL);
    assert_non_null(t);
    assert_int_equal(n, 2500);
    free(t);
    run_free(&r);

    /* the whole file: no promise reported, no warning */
    run_init(&r, "whole.wav");
    assert_int_equal(tu_write(r.in, SF_FORMAT_WAV | SF_FORMAT_PCM_16, RATE, 1, x, 4000),
                     0);
    separate(&r);
    assert_int_equal(r.rc, SAMSEP_OK);
    assert_int_equal(r.rep.frames, 4000);
    assert_int_equal(r.rep.frames_promised, 0);
    assert_int_equal(warnings_short, 0);
    run_free(&r);
}

/* ---- what this build reads -------------------------------------------- */

static void test_formats_listed(void **state)
{
    samsep_input_format f;
    int i, sndfile = 0, ffmpeg = 0, m4a = 0, wav = 0, codecs = 0;

    (void)state;
    for (i = 0; samsep_input_format_get(i, &f); i++) {
        assert_non_null(f.library);
        assert_non_null(f.kind);
        assert_non_null(f.name);
        assert_non_null(f.extensions);
        if (strcmp(f.library, "libsndfile") == 0) {
            assert_int_equal(ffmpeg, 0); /* libsndfile's come first */
            sndfile++;
            wav |= strcmp(f.extensions, "wav") == 0;
        } else {
            assert_string_equal(f.library, "FFmpeg");
            ffmpeg++;
            m4a |= strstr(f.extensions, "m4a") != NULL;
            codecs += strcmp(f.kind, "codec") == 0;
        }
    }
    assert_false(samsep_input_format_get(i, &f));
    assert_false(samsep_input_format_get(-1, &f));
    assert_true(sndfile > 10 && ffmpeg > 5 && codecs > 3 && wav && m4a);
    assert_non_null(strstr(samsep_input_libraries(), "libsndfile"));
    assert_non_null(strstr(samsep_input_libraries(), "FFmpeg"));
    /* a folder scan's notion of a name meant to be audio */
    assert_true(audio_known_extension("wav") && audio_known_extension("FLAC"));
    assert_true(audio_known_extension("m4a") && audio_known_extension("mp4") &&
                audio_known_extension("webm") && audio_known_extension("wma") &&
                audio_known_extension("mkv") && audio_known_extension("aac"));
    assert_false(audio_known_extension("txt") || audio_known_extension("") ||
                 audio_known_extension("jpg") || audio_known_extension("m4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_nonfinite_zeroed),
        cmocka_unit_test(test_input_clean_counts_zero),
        cmocka_unit_test(test_engine_nan_target_fails),
        cmocka_unit_test(test_engine_inf_residual_fails),
        cmocka_unit_test(test_truncated_wav_reported),
        cmocka_unit_test(test_formats_listed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
