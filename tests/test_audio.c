/*
 * test_audio.c - audio I/O through the real pipeline: every container the
 * issue names (WAV, FLAC, OGG/Vorbis, Opus, MP3) is read, any channel count
 * and rates from 8 to 384 kHz; outputs get the format and subtype asked
 * for (by default the input's where possible, else float WAV), keep every
 * frame, and WAV output is plain RIFF when it fits. A job's temporaries are
 * removable at any moment, as a program ending at once on a signal does.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sndfile.h>

#include "samsep.h"
#include "testutil.h"

/* identity engine, subtracting residual */
static int id_open(const samsep_engine_config *c, void **s, samsep_engine_info *i,
                   char *e, size_t el)
{
    (void)c;
    (void)e;
    (void)el;
    *s = NULL;
    i->residual_mode = SAMSEP_RESIDUAL_SUBTRACT;
    return SAMSEP_OK;
}

static int id_stream_open(void *eng, int rate, int ch, int64_t max, void **s,
                          int64_t *lat, char *e, size_t el)
{
    (void)eng;
    (void)rate;
    (void)max;
    (void)e;
    (void)el;
    *s = (void *)(intptr_t)ch;
    *lat = 0;
    return SAMSEP_OK;
}

static int id_process(void *s, const float *in, float *t, float *r, int64_t n)
{
    (void)r;
    memcpy(t, in, (size_t)n * (size_t)(intptr_t)s * sizeof(float));
    return SAMSEP_OK;
}

static const samsep_engine_vtable id_vt = { .name = "identity",
                                            .description = "test",
                                            .open = id_open,
                                            .stream_open = id_stream_open,
                                            .process = id_process };

typedef struct fcase {
    const char *ext;
    int in_format;
    int rate;
    int channels;
    int want_major; /* of the outputs with AUTO */
    int want_sub;
    int lossy; /* decoded length may differ from what was written */
} fcase;

static void signal_of(float *x, int64_t frames, int ch, int rate)
{
    int64_t i;
    int c;

    for (i = 0; i < frames; i++)
        for (c = 0; c < ch; c++)
            x[i * ch + c] = 0.25f * sinf(2.0f * (float)M_PI * (float)(300 + 100 * c) *
                                         (float)i / (float)rate);
}

static void run_case(const fcase *fc, int format, int subtype)
{
    samsep_engine *e;
    char err[512], name[64];
    char *dir = tu_mkdtemp(), *in, *tgt, *res;
    int64_t frames = fc->rate / 2 + 13, n_in, n_t, n_r, i;
    float *x, *din, *t, *r;
    int fmt, rate, ch;
    samsep_job job;
    samsep_report rep;

    assert_non_null(dir);
    snprintf(name, sizeof name, "in.%s", fc->ext);
    in = tu_path(dir, name);
    x = malloc((size_t)(frames * fc->channels) * sizeof(float));
    signal_of(x, frames, fc->channels, fc->rate);
    if (tu_write(in, fc->in_format, fc->rate, fc->channels, x, frames) != 0)
        fail_msg("libsndfile cannot write the %s test input", fc->ext);
    din = tu_read(in, &n_in, NULL, NULL, NULL);
    assert_non_null(din);
    assert_true(n_in > 0);
    {
        const char *ext = format == SAMSEP_FORMAT_FLAC ? "flac"
                          : format == SAMSEP_FORMAT_WAV
                              ? "wav"
                              : (fc->want_major == SF_FORMAT_FLAC ? "flac" : "wav");

        snprintf(name, sizeof name, "out_target.%s", ext);
        tgt = tu_path(dir, name);
        snprintf(name, sizeof name, "out_residual.%s", ext);
        res = tu_path(dir, name);
    }
    assert_int_equal(samsep_engine_open_custom(&id_vt, NULL, &e, err, sizeof err),
                     SAMSEP_OK);
    samsep_job_init(&job);
    job.input_path = in;
    job.target_path = tgt;
    job.residual_path = res;
    job.format = format;
    job.subtype = subtype;
    job.chunk_seconds = 0.2;
    job.overlap_seconds = 0.05;
    if (samsep_separate_file(e, &job, &rep) != SAMSEP_OK)
        fail_msg("%s: %s", fc->ext, rep.message);
    t = tu_read(tgt, &n_t, &rate, &ch, &fmt);
    r = tu_read(res, &n_r, NULL, NULL, NULL);
    assert_non_null(t);
    assert_non_null(r);
    /* every decoded frame has an output frame */
    assert_int_equal(n_t, n_in);
    assert_int_equal(n_r, n_in);
    assert_int_equal(rep.frames, n_in);
    assert_int_equal(rate, fc->rate);
    assert_int_equal(ch, fc->channels);
    if (format == SAMSEP_FORMAT_AUTO && subtype == SAMSEP_SUBTYPE_AUTO) {
        int major = fmt & SF_FORMAT_TYPEMASK;

        assert_true(major == fc->want_major ||
                    (fc->want_major == SF_FORMAT_WAV && major == SF_FORMAT_WAVEX));
        assert_int_equal(fmt & SF_FORMAT_SUBMASK, fc->want_sub);
    }
    /* identity: the target is the decoded input, to the output's precision */
    {
        double tol = (fmt & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16   ? 1.0 / 32768
                     : (fmt & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_24 ? 1.0 / 8388608
                                                                     : 1e-6;

        for (i = 0; i < n_in * fc->channels; i++) {
            assert_true(fabs((double)t[i] - (double)din[i]) <= tol);
            assert_true(fabs((double)t[i] + (double)r[i] - (double)din[i]) <= 2 * tol);
        }
    }
    samsep_engine_close(e);
    free(x);
    free(din);
    free(t);
    free(r);
    free(in);
    free(tgt);
    free(res);
    tu_rmtree(dir);
    free(dir);
}

static void test_containers(void **state)
{
    static const fcase cases[] = {
        { "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, SF_FORMAT_WAV,
          SF_FORMAT_PCM_16, 0 },
        { "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 48000, 1, SF_FORMAT_WAV,
          SF_FORMAT_PCM_24, 0 },
        { "wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 96000, 3, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 0 },
        { "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 0 },
        { "wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 48000, 6, SF_FORMAT_WAV,
          SF_FORMAT_PCM_16, 0 },
        { "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 2, SF_FORMAT_FLAC,
          SF_FORMAT_PCM_16, 0 },
        { "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 192000, 1, SF_FORMAT_FLAC,
          SF_FORMAT_PCM_24, 0 },
        { "flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 384000, 2, SF_FORMAT_FLAC,
          SF_FORMAT_PCM_24, 0 },
        { "ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 2, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 1 },
        { "opus", SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 1 },
        { "mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 2, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 1 },
        { "aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 11025, 1, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 0 },
        { "wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 384000, 1, SF_FORMAT_WAV,
          SF_FORMAT_FLOAT, 0 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], SAMSEP_FORMAT_AUTO, SAMSEP_SUBTYPE_AUTO);
}

static void test_forced_formats(void **state)
{
    static const fcase wav = {
        "wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, SF_FORMAT_WAV, SF_FORMAT_FLOAT,
        0
    };
    static const fcase flac = { "flac",
                                SF_FORMAT_FLAC | SF_FORMAT_PCM_16,
                                16000,
                                1,
                                SF_FORMAT_FLAC,
                                SF_FORMAT_PCM_16,
                                0 };

    (void)state;
    run_case(&wav, SAMSEP_FORMAT_FLAC, SAMSEP_SUBTYPE_PCM16);
    run_case(&wav, SAMSEP_FORMAT_FLAC, SAMSEP_SUBTYPE_AUTO);
    run_case(&wav, SAMSEP_FORMAT_WAV, SAMSEP_SUBTYPE_PCM24);
    run_case(&flac, SAMSEP_FORMAT_WAV, SAMSEP_SUBTYPE_FLOAT);
    run_case(&flac, SAMSEP_FORMAT_WAV, SAMSEP_SUBTYPE_AUTO);
}

/* WAV outputs under 4 GiB are plain RIFF/WAVE (RF64 downgraded). */
static void test_wav_is_riff(void **state)
{
    static const fcase wav = {
        "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, SF_FORMAT_WAV, SF_FORMAT_PCM_16,
        0
    };
    samsep_engine *e;
    char err[256], head[12];
    char *dir = tu_mkdtemp(), *in = tu_path(dir, "a.wav");
    char *t = tu_path(dir, "a_target.wav"), *r = tu_path(dir, "a_residual.wav");
    float x[800];
    samsep_job job;
    samsep_report rep;
    FILE *f;

    (void)state;
    run_case(&wav, SAMSEP_FORMAT_AUTO, SAMSEP_SUBTYPE_AUTO);
    signal_of(x, 800, 1, 8000);
    assert_int_equal(tu_write(in, wav.in_format, 8000, 1, x, 800), 0);
    assert_int_equal(samsep_engine_open_custom(&id_vt, NULL, &e, err, sizeof err), 0);
    samsep_job_init(&job);
    job.input_path = in;
    job.target_path = t;
    job.residual_path = r;
    assert_int_equal(samsep_separate_file(e, &job, &rep), SAMSEP_OK);
    f = fopen(t, "rb");
    assert_non_null(f);
    assert_int_equal(fread(head, 1, 12, f), 12);
    fclose(f);
    assert_memory_equal(head, "RIFF", 4);
    assert_memory_equal(head + 8, "WAVE", 4);
    samsep_engine_close(e);
    free(in);
    free(t);
    free(r);
    tu_rmtree(dir);
    free(dir);
}

/* An engine that, on its second chunk, does what samsep does on a second
 * signal: samsep_remove_temporaries(), as from a signal handler. */
static const char *abrupt_dir;
static int abrupt_calls, abrupt_before, abrupt_after;

static int abrupt_process(void *s, const float *in, float *t, float *r, int64_t n)
{
    id_process(s, in, t, r, n);
    if (++abrupt_calls == 2) {
        abrupt_before = tu_count_entries(abrupt_dir);
        samsep_remove_temporaries();
        abrupt_after = tu_count_entries(abrupt_dir);
        return SAMSEP_ERR_ENGINE;
    }
    return SAMSEP_OK;
}

static const samsep_engine_vtable abrupt_vt = { .name = "abrupt",
                                                .description = "test",
                                                .open = id_open,
                                                .stream_open = id_stream_open,
                                                .process = abrupt_process };

static void run_into(const samsep_engine_vtable *vt, const char *in, const char *dir,
                     int want)
{
    samsep_engine *e;
    char err[256], *t = tu_path(dir, "a_target.wav"), *r = tu_path(dir, "a_residual.wav");
    samsep_job job;
    samsep_report rep;

    assert_int_equal(samsep_engine_open_custom(vt, NULL, &e, err, sizeof err), 0);
    samsep_job_init(&job);
    job.input_path = in;
    job.target_path = t;
    job.residual_path = r;
    job.chunk_seconds = 0.1;
    job.overlap_seconds = 0;
    assert_int_equal(samsep_separate_file(e, &job, &rep), want);
    samsep_engine_close(e);
    free(t);
    free(r);
}

/* The temporaries of a job in progress are removed by
 * samsep_remove_temporaries(); finished outputs are never touched. */
static void test_remove_temporaries(void **state)
{
    static const fcase wav = {
        "wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, SF_FORMAT_WAV, SF_FORMAT_PCM_16,
        0
    };
    char *dir = tu_mkdtemp(), *in = tu_path(dir, "a.wav");
    char *done = tu_path(dir, "done"), *cut = tu_path(dir, "cut");
    float x[4000];

    (void)state;
    signal_of(x, 4000, 1, 8000);
    assert_int_equal(tu_write(in, wav.in_format, 8000, 1, x, 4000), 0);
    assert_int_equal(samsep_make_dirs(done), 0);
    assert_int_equal(samsep_make_dirs(cut), 0);
    run_into(&id_vt, in, done, SAMSEP_OK);
    samsep_remove_temporaries();
    assert_int_equal(tu_count_entries(done), 2);
    abrupt_dir = cut;
    run_into(&abrupt_vt, in, cut, SAMSEP_ERR_ENGINE);
    assert_int_equal(abrupt_before, 2); /* the two hidden temporaries */
    assert_int_equal(abrupt_after, 0);
    assert_int_equal(tu_count_entries(cut), 0);
    assert_int_equal(tu_count_entries(done), 2);
    free(in);
    free(done);
    free(cut);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_forced_formats),
        cmocka_unit_test(test_wav_is_riff),
        cmocka_unit_test(test_remove_temporaries),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
