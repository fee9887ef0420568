/*
 * test_plan.c - the chunk plan, exhaustively over small sizes and by property
 * at 10-hour sizes. The properties are checked against an independent
 * per-frame coverage count, not against the formula under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "samsep.h"

/* Fail with the plan's parameters; cheap branch in the hot loop. */
#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond))                                                          \
            fail_msg("frames=%lld chunk=%lld overlap=%lld k=%lld: %s",        \
                     (long long)frames, (long long)chunk, (long long)overlap, \
                     (long long)k, #cond);                                    \
    } while (0)

/* Check every rule of the plan for one (frames, chunk, overlap). With
 * `cover` (frames + 1 ints) it also counts, per frame, how many chunks cover
 * it, independently of the plan's own arithmetic. */
static void check_plan(int64_t frames, int64_t chunk, int64_t overlap, int *cover)
{
    int64_t count = -1, k = -1, i;
    samsep_span s, prev = { 0, 0 };

    EXPECT(samsep_plan_count(frames, chunk, overlap, &count) == SAMSEP_OK);
    if (frames == 0) {
        EXPECT(count == 0);
        EXPECT(samsep_plan_chunk(frames, chunk, overlap, 0, &s) == SAMSEP_ERR_INVALID);
        return;
    }
    EXPECT(count >= 1);
    EXPECT(count <= frames); /* ends: never more chunks than frames */
    if (cover != NULL)
        memset(cover, 0, (size_t)(frames + 1) * sizeof *cover);
    for (k = 0; k < count; k++) {
        EXPECT(samsep_plan_chunk(frames, chunk, overlap, k, &s) == SAMSEP_OK);
        EXPECT(s.start >= 0 && s.end <= frames && s.end > s.start);
        EXPECT(s.end - s.start <= chunk);
        EXPECT(s.start == k * (chunk - overlap));
        if (k == 0) {
            EXPECT(s.start == 0);
        } else {
            /* always advances, both ends, and overlaps by exactly `overlap` */
            EXPECT(s.start > prev.start && s.end > prev.end);
            EXPECT(prev.end - s.start == overlap);
        }
        if (k < count - 1) {
            EXPECT(s.end - s.start == chunk && s.end < frames);
        } else {
            EXPECT(s.end == frames);
            EXPECT(k == 0 || s.end - s.start > overlap);
        }
        if (cover != NULL) { /* difference array: +1 at start, -1 at end */
            cover[s.start]++;
            cover[s.end]--;
        }
        prev = s;
    }
    EXPECT(samsep_plan_chunk(frames, chunk, overlap, count, &s) == SAMSEP_ERR_INVALID);
    if (cover != NULL) {
        int c = 0;

        for (i = 0; i < frames; i++) {
            c += cover[i];
            k = i;
            EXPECT(c >= 1);                /* every frame covered */
            EXPECT(overlap > 0 || c == 1); /* once, without overlap */
            /* outside every overlap region a frame is covered once */
            EXPECT(i >= chunk - overlap || c == 1);
            EXPECT(c <= (chunk + (chunk - overlap) - 1) / (chunk - overlap));
        }
    }
}

static void test_exhaustive_small(void **state)
{
    int *cover = malloc(2002 * sizeof *cover);
    int64_t frames, chunk, overlap;

    (void)state;
    assert_non_null(cover);
    /* Every plan's chunk-level rules; per-frame coverage counted for all
     * plans up to 300 frames and for every 97th size beyond. */
    for (frames = 0; frames <= 2000; frames++)
        for (chunk = 1; chunk <= 64; chunk++)
            for (overlap = 0; overlap < chunk; overlap++)
                check_plan(frames, chunk, overlap,
                           frames <= 300 || frames % 97 == 0 ? cover : NULL);
    free(cover);
}

/* Frames covered more than once are exactly those in a pairwise overlap:
 * count them independently and compare with (count - 1) * overlap when the
 * overlap is at most half a chunk (no frame in three chunks). */
static void test_overlap_total(void **state)
{
    int *cover = malloc(5001 * sizeof *cover);
    int64_t frames, count, i, multi;
    int c;

    (void)state;
    assert_non_null(cover);
    for (frames = 1; frames < 5000; frames += 7) {
        check_plan(frames, 100, 30, cover);
        samsep_plan_count(frames, 100, 30, &count);
        for (c = 0, multi = 0, i = 0; i < frames; i++) {
            c += cover[i];
            multi += c > 1;
        }
        assert_int_equal(multi, (count - 1) * 30);
    }
    free(cover);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_ten_hour_properties(void **state)
{
    /* 10 hours at 384 kHz is 1.4e10 frames; the plan is O(1) per chunk, so
     * walk all chunks of a handful of plans and sample random others. */
    const int64_t ten_h_48k = 10LL * 3600 * 48000;
    const int64_t ten_h_384k = 10LL * 3600 * 384000;
    int64_t sizes[][3] = {
        { ten_h_48k, 30 * 48000, 2 * 48000 },
        { ten_h_48k + 1, 30 * 48000, 2 * 48000 },
        { ten_h_48k - 1, 10 * 48000, 2 * 48000 },
        { ten_h_384k, 30 * 384000, 0 },
        { ten_h_48k, 16384, 0 },
        { ten_h_48k, 30 * 48000, 30 * 48000 - 1 },
    };
    size_t n;
    int r;

    (void)state;
    for (n = 0; n < sizeof sizes / sizeof sizes[0]; n++) {
        int64_t count = 0;

        check_plan(sizes[n][0], sizes[n][1], sizes[n][2], NULL);
        samsep_plan_count(sizes[n][0], sizes[n][1], sizes[n][2], &count);
        /* the plan never uses more chunks than whole hops need, plus one */
        assert_true(count <= sizes[n][0] / (sizes[n][1] - sizes[n][2]) + 1);
    }
    for (r = 0; r < 200; r++) {
        int64_t frames = (int64_t)(next_rand() % (uint64_t)ten_h_48k) + 1;
        int64_t chunk = (int64_t)(next_rand() % (60 * 48000)) + 1;
        int64_t overlap = (int64_t)(next_rand() % (uint64_t)chunk);

        if (frames / (chunk - overlap) > 3000000) /* keep the walk quick */
            overlap = chunk / 2;
        check_plan(frames, chunk, overlap, NULL);
    }
}

static void test_invalid(void **state)
{
    int64_t count = 42;
    samsep_span s;

    (void)state;
    assert_int_equal(samsep_plan_count(100, 10, 10, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(100, 10, 11, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(100, 0, 0, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(100, -5, 0, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(100, 10, -1, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(-1, 10, 0, &count), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_count(100, 10, 0, NULL), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_chunk(100, 10, 0, -1, &s), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_chunk(100, 10, 0, 0, NULL), SAMSEP_ERR_INVALID);
    assert_int_equal(samsep_plan_chunk(100, 10, 10, 0, &s), SAMSEP_ERR_INVALID);
    assert_int_equal(count, 42); /* untouched on error */
    assert_string_equal(samsep_strerror(SAMSEP_ERR_INVALID), "invalid argument");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_small),
        cmocka_unit_test(test_overlap_total),
        cmocka_unit_test(test_ten_hour_properties),
        cmocka_unit_test(test_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
