/*
 * test_anchors.c - span prompts as the pipeline hands them to each chunk
 * (samsep_anchors_for_chunk) and as the user writes them
 * (samsep_anchor_parse).
 *
 * The mapping: a span across a chunk boundary is cut in two, each part in
 * its chunk's time; spans wholly outside a chunk (or only touching it) are
 * left out; overlapping spans keep their order, so a later one still
 * overrides an earlier. The first chunk gets the spans unchanged. And the
 * property the mapping is for: over a plan of 10 s chunks with 2 s of
 * overlap, what the official processor makes of each chunk's spans
 * (sam_anchor_alignment) labels every latent frame as the whole file's
 * spans label it. Through samsep_separate_file, an engine of the caller's
 * own gets each chunk's spans before the chunk, and a job with spans fails
 * on an engine that takes none.
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

#include "engine/sam/sam.h"
#include "samsep.h"
#include "testutil.h"

#define RATE 48000
#define HOP 1920

static void expect(const samsep_anchor *got, char sign, double start, double end)
{
    assert_int_equal(got->sign, sign);
    assert_true(fabs(got->start - start) < 1e-9);
    assert_true(fabs(got->end - end) < 1e-9);
}

static void test_across_a_boundary(void **state)
{
    const samsep_anchor a[1] = { { '+', 9.0, 12.0 } };
    samsep_anchor out[1];

    (void)state;
    /* chunk 0: [0, 10) s; chunk 1: [8, 18) s */
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 0, 10 * RATE, RATE, out), 1);
    expect(&out[0], '+', 9.0, 10.0);
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 8 * RATE, 10 * RATE, RATE, out), 1);
    expect(&out[0], '+', 1.0, 4.0);
    /* one that began before the chunk starts at its first frame */
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 10 * RATE, 5 * RATE, RATE, out), 1);
    expect(&out[0], '+', 0.0, 2.0);
}

static void test_outside_a_chunk(void **state)
{
    const samsep_anchor a[4] = { { '+', 1.0, 8.0 },   /* ends where the chunk starts */
                                 { '-', 20.0, 25.0 }, /* after it */
                                 { '+', 18.0, 19.0 }, /* starts where it ends */
                                 { '-', 17.5, 30.0 } };
    samsep_anchor out[4];

    (void)state;
    assert_int_equal(samsep_anchors_for_chunk(a, 4, 8 * RATE, 10 * RATE, RATE, out), 1);
    expect(&out[0], '-', 9.5, 10.0);
    assert_int_equal(samsep_anchors_for_chunk(a, 3, 8 * RATE, 10 * RATE, RATE, out), 0);
    assert_int_equal(samsep_anchors_for_chunk(NULL, 0, 0, RATE, RATE, NULL), 0);
}

static void test_overlapping_keep_order(void **state)
{
    const samsep_anchor a[3] = { { '+', 11.0, 15.0 },
                                 { '-', 12.0, 13.0 },
                                 { '+', 12.5, 20.0 } };
    samsep_anchor out[3];

    (void)state;
    assert_int_equal(samsep_anchors_for_chunk(a, 3, 8 * RATE, 10 * RATE, RATE, out), 3);
    expect(&out[0], '+', 3.0, 7.0);
    expect(&out[1], '-', 4.0, 5.0);
    expect(&out[2], '+', 4.5, 10.0);
}

static void test_first_chunk_unchanged(void **state)
{
    /* a file shorter than one chunk: the spans as the user gave them, but
     * for the cut at the end */
    const samsep_anchor a[2] = { { '+', 0.1 + 0.2, 1.7 }, { '-', 2.2, 9.0 } };
    samsep_anchor out[2];

    (void)state;
    assert_int_equal(samsep_anchors_for_chunk(a, 2, 0, 3 * RATE, RATE, out), 2);
    assert_true(out[0].start == a[0].start && out[0].end == a[0].end);
    assert_true(out[1].start == a[1].start && out[1].end == 3.0);
}

static void test_bad_arguments(void **state)
{
    const samsep_anchor a[1] = { { '+', 1.0, 2.0 } };
    samsep_anchor out[1];

    (void)state;
    assert_int_equal(samsep_anchors_for_chunk(a, -1, 0, 10, RATE, out),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_anchors_for_chunk(NULL, 1, 0, 10, RATE, out),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 0, 10, RATE, NULL),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_anchors_for_chunk(a, 1, -1, 10, RATE, out),
                     SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 0, 0, RATE, out), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_anchors_for_chunk(a, 1, 0, 10, 0, out), SAMSEP_ERR_INVALID);
}

/* The token of every latent frame: ids[align[t]]. */
static void tokens(const samsep_anchor *a, int n, int64_t T, int32_t *tok)
{
    int32_t *ids = malloc((size_t)(n + 2) * sizeof *ids);
    int32_t *al = malloc((size_t)T * sizeof *al);
    int64_t t;

    assert_non_null(ids);
    assert_non_null(al);
    sam_anchor_alignment(a, n, RATE, HOP, T, T, ids, al);
    for (t = 0; t < T; t++)
        tok[t] = ids[al[t]];
    free(ids);
    free(al);
}

static void test_chunks_label_as_the_file(void **state)
{
    /* edges inside frames, on frame edges (8.04 s, 12.5 s, and 8.56 s,
     * 10.24 s, 12.36 s, where t x rate - 8 s x rate, back in seconds, gives a
     * product just past the edge), across chunk boundaries, overlapping,
     * and one past the end */
    const samsep_anchor a[10] = { { '+', 0.5, 1.8 },     { '-', 7.3, 8.04 },
                                  { '+', 8.04, 12.5 },   { '-', 9.99, 10.01 },
                                  { '+', 15.7, 26.3 },   { '-', 17.77, 18.0 },
                                  { '+', 24.123, 29.0 }, { '-', 28.5, 40.0 },
                                  { '+', 8.56, 8.68 },   { '-', 10.24, 12.36 } };
    const int64_t frames = 29 * RATE + 777, chunk = 10 * RATE, overlap = 2 * RATE;
    const int64_t T = (frames + HOP - 1) / HOP;
    int32_t *whole = malloc((size_t)T * sizeof *whole);
    int32_t *part = malloc((size_t)T * sizeof *part);
    samsep_anchor out[10];
    int64_t count, k, t;

    (void)state;
    assert_non_null(whole);
    assert_non_null(part);
    tokens(a, 10, T, whole);
    assert_int_equal(samsep_plan_count(frames, chunk, overlap, &count), SAMSEP_OK);
    assert_true(count == 4);
    for (k = 0; k < count; k++) {
        samsep_span sp;
        int64_t Tc, off;
        int m;

        assert_int_equal(samsep_plan_chunk(frames, chunk, overlap, k, &sp), SAMSEP_OK);
        assert_int_equal(sp.start % HOP, 0); /* 8 s is a whole number of frames */
        off = sp.start / HOP;
        Tc = (sp.end - sp.start + HOP - 1) / HOP;
        m = samsep_anchors_for_chunk(a, 10, sp.start, sp.end - sp.start, RATE, out);
        assert_true(m >= 1);
        tokens(out, m, Tc, part);
        for (t = 0; t < Tc; t++)
            if (part[t] != whole[off + t])
                fail_msg("chunk %lld frame %lld (file frame %lld): token %d, the file "
                         "has %d",
                         (long long)k, (long long)t, (long long)(off + t), part[t],
                         whole[off + t]);
    }
    free(whole);
    free(part);
}

/* An engine of the caller's own that records the spans of each chunk. */
typedef struct recorder {
    int chunks;
    int count[8];
    samsep_anchor got[8][4];
    int64_t frames[8];
} recorder;

static recorder rec;

static int rec_open(const samsep_engine_config *c, void **e, samsep_engine_info *info,
                    char *err, size_t errlen)
{
    (void)c;
    (void)err;
    (void)errlen;
    memset(info, 0, sizeof *info);
    info->sample_rate = RATE;
    info->channels = 1;
    info->residual_mode = SAMSEP_RESIDUAL_SUBTRACT;
    info->overlap_seconds = -1;
    *e = &rec;
    return SAMSEP_OK;
}

static int rec_stream_open(void *e, int rate, int ch, int64_t max, void **s,
                           int64_t *latency, char *err, size_t errlen)
{
    (void)rate;
    (void)ch;
    (void)max;
    (void)err;
    (void)errlen;
    *s = e;
    *latency = 0;
    return SAMSEP_OK;
}

static int rec_process(void *s, const float *in, float *t, float *r, int64_t n)
{
    recorder *rc = s;

    (void)r;
    memcpy(t, in, (size_t)n * sizeof *t);
    rc->frames[rc->chunks - 1] = n;
    return SAMSEP_OK;
}

static int rec_set_anchors(void *s, const samsep_anchor *a, int n, char *err,
                           size_t errlen)
{
    recorder *rc = s;

    (void)err;
    (void)errlen;
    assert_true(rc->chunks < 8 && n <= 4);
    rc->count[rc->chunks] = n;
    if (n > 0)
        memcpy(rc->got[rc->chunks], a, (size_t)n * sizeof *a);
    rc->chunks++;
    return SAMSEP_OK;
}

static void rec_nop(void *s)
{
    (void)s;
}

static void test_pipeline_hands_chunks_their_spans(void **state)
{
    samsep_engine_vtable vt = { .name = "recorder",
                                .description = "records spans",
                                .open = rec_open,
                                .stream_open = rec_stream_open,
                                .process = rec_process,
                                .stream_close = rec_nop,
                                .close = rec_nop,
                                .set_anchors = rec_set_anchors };
    const samsep_anchor a[3] = { { '+', 9.0, 12.0 },
                                 { '-', 1.0, 2.0 },
                                 { '+', 19.0, 30.0 } };
    char *dir = tu_mkdtemp(), *in = tu_path(dir, "in.wav");
    char *t = tu_path(dir, "t.wav"), *r = tu_path(dir, "r.wav");
    float *x = calloc(20 * RATE, sizeof *x);
    samsep_engine *eng = NULL;
    samsep_report rep;
    samsep_job job;
    char err[1024];

    (void)state;
    assert_non_null(x);
    tu_noise(x, 20 * RATE, 0.1f, 7);
    assert_int_equal(tu_write(in, SF_FORMAT_WAV | SF_FORMAT_FLOAT, RATE, 1, x, 20 * RATE),
                     0);
    memset(&rec, 0, sizeof rec);
    assert_int_equal(samsep_engine_open_custom(&vt, NULL, &eng, err, sizeof err),
                     SAMSEP_OK);
    samsep_job_init(&job);
    job.input_path = in;
    job.target_path = t;
    job.residual_path = r;
    job.chunk_seconds = 10;
    job.overlap_seconds = 2;
    job.anchors = a;
    job.n_anchors = 3;
    assert_int_equal(samsep_separate_file(eng, &job, &rep), SAMSEP_OK);
    /* chunks [0, 10), [8, 18), [16, 20) s */
    assert_int_equal(rec.chunks, 3);
    assert_int_equal(rec.count[0], 2);
    expect(&rec.got[0][0], '+', 9.0, 10.0);
    expect(&rec.got[0][1], '-', 1.0, 2.0);
    assert_int_equal(rec.count[1], 1);
    expect(&rec.got[1][0], '+', 1.0, 4.0);
    assert_int_equal(rec.count[2], 1);
    expect(&rec.got[2][0], '+', 3.0, 4.0);
    samsep_engine_close(eng);

    /* an engine without set_anchors: the job fails before any output */
    vt.set_anchors = NULL;
    remove(t);
    remove(r);
    assert_int_equal(samsep_engine_open_custom(&vt, NULL, &eng, err, sizeof err),
                     SAMSEP_OK);
    assert_int_equal(samsep_separate_file(eng, &job, &rep), SAMSEP_ERR_INVALID);
    assert_non_null(strstr(rep.message, "takes no span prompts"));
    assert_false(tu_file_exists(t));
    samsep_engine_close(eng);
    free(x);
    free(in);
    free(t);
    free(r);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_across_a_boundary),
        cmocka_unit_test(test_outside_a_chunk),
        cmocka_unit_test(test_overlapping_keep_order),
        cmocka_unit_test(test_first_chunk_unchanged),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_chunks_label_as_the_file),
        cmocka_unit_test(test_pipeline_hands_chunks_their_spans),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
