/*
 * test_spectro.c - the report's streaming spectrograms (cli/spectro.c):
 * tones land in the right rows at the right level, time lands in the right
 * columns whether the length is known or not (columns merge as the audio
 * outgrows the guess), the result does not depend on how the audio is cut
 * into blocks, and files shorter than one analysis frame still fill the
 * picture.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spectro.h"

#define PI 3.14159265358979323846

/* Signals of a test: x[sig][frame * ch + c]. */
typedef struct sigs {
    float *x[SPECTRO_SIGNALS];
    int64_t frames;
    int ch;
} sigs;

static void sigs_alloc(sigs *s, int64_t frames, int ch)
{
    int i;

    s->frames = frames;
    s->ch = ch;
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        s->x[i] = calloc((size_t)(frames * ch), sizeof(float));
        assert_non_null(s->x[i]);
    }
}

static void sigs_free(sigs *s)
{
    int i;

    for (i = 0; i < SPECTRO_SIGNALS; i++)
        free(s->x[i]);
}

/* Feed s in blocks whose sizes cycle through `sizes` (0-terminated). */
static void feed(spectro *sp, const sigs *s, int rate, int64_t total, const int *sizes)
{
    int64_t at = 0;
    int k = 0;

    while (at < s->frames) {
        samsep_tap_block b;
        int64_t n = sizes[k] < s->frames - at ? sizes[k] : s->frames - at;
        size_t off = (size_t)at * (size_t)s->ch;

        b.start = at;
        b.frames = n;
        b.frames_total = total;
        b.sample_rate = rate;
        b.channels = s->ch;
        b.mixture = s->x[0] + off;
        b.target = s->x[1] + off;
        b.residual = s->x[2] + off;
        spectro_tap(sp, &b);
        at += n;
        k = sizes[k + 1] != 0 ? k + 1 : 0;
    }
    spectro_finish(sp);
}

static int row_of(double hz, int rows, int rate)
{
    int r;

    for (r = 0; r < rows; r++)
        if (spectro_row_hz(r + 1, rows, rate) > hz)
            return r;
    return rows - 1;
}

static double cell_db(const spectro *sp, int sig, int col, int row)
{
    return spectro_code_db(spectro_cells(sp, sig)[(size_t)col * spectro_rows(sp) + row]);
}

/* A 1 kHz tone in the target and a 3 kHz tone in the residual, both in the
 * mixture: each shows in its own row, at its level, in every column. */
static void test_tones_in_rows(void **state)
{
    static const int sizes[] = { 1000, 7, 4096, 333, 0 };
    const int rate = 16000, cols = 200, rows = 64;
    int64_t i, frames = 10 * rate;
    int r1 = row_of(1000, rows, rate), r3 = row_of(3000, rows, rate), c;
    spectro *sp = spectro_new(cols, rows);
    sigs s;

    (void)state;
    assert_non_null(sp);
    sigs_alloc(&s, frames, 1);
    for (i = 0; i < frames; i++) {
        s.x[1][i] = 0.5f * (float)sin(2 * PI * 1000.0 * i / rate);
        s.x[2][i] = 0.25f * (float)sin(2 * PI * 3000.0 * i / rate);
        s.x[0][i] = s.x[1][i] + s.x[2][i];
    }
    feed(sp, &s, rate, frames, sizes);
    assert_int_equal(spectro_columns(sp), cols);
    assert_int_equal(spectro_frames(sp), frames);
    for (c = 1; c < cols - 1; c++) {
        /* -6 dB and -12 dB sines, a little lower for the bins around them */
        assert_true(cell_db(sp, 1, c, r1) > -12 && cell_db(sp, 1, c, r1) < -3);
        assert_true(cell_db(sp, 2, c, r3) > -20 && cell_db(sp, 2, c, r3) < -9);
        assert_true(cell_db(sp, 0, c, r1) > -12 && cell_db(sp, 0, c, r3) > -20);
        /* and nothing where the other tone is, or far from both */
        assert_true(cell_db(sp, 1, c, r3) < -60);
        assert_true(cell_db(sp, 2, c, r1) < -60);
        assert_true(cell_db(sp, 0, c, row_of(200, rows, rate)) < -60);
    }
    sigs_free(&s);
    spectro_free(sp);
}

/* Silence, then a tone from the middle on: the change is in the middle
 * column. With the length unknown the 60 s guess is outgrown twice by a
 * 180 s file; the grid then covers 240 s and uses three quarters of it. */
static void check_step(int rate, int seconds, int cols, int64_t total_given,
                       int expect_used)
{
    static const int sizes[] = { 8192, 0 };
    const int rows = 32;
    int64_t i, frames = (int64_t)seconds * rate;
    int r = row_of(500, rows, rate), used, c;
    spectro *sp = spectro_new(cols, rows);
    sigs s;

    assert_non_null(sp);
    sigs_alloc(&s, frames, 1);
    for (i = frames / 2; i < frames; i++)
        s.x[0][i] = s.x[1][i] = 0.5f * (float)sin(2 * PI * 500.0 * i / rate);
    feed(sp, &s, rate, total_given, sizes);
    used = spectro_columns(sp);
    assert_int_equal(used, expect_used);
    for (c = 0; c < used; c++) {
        if (c < used / 2 - 1)
            assert_true(cell_db(sp, 0, c, r) < -100);
        else if (c > used / 2 + 1)
            assert_true(cell_db(sp, 0, c, r) > -15);
        assert_true(cell_db(sp, 2, c, r) < -100); /* the residual is silent */
    }
    sigs_free(&s);
    spectro_free(sp);
}

static void test_step_known_length(void **state)
{
    (void)state;
    check_step(8000, 180, 400, 180 * 8000, 400);
}

static void test_step_unknown_length(void **state)
{
    (void)state;
    check_step(8000, 180, 400, -1, 300);
}

/* 20 minutes in 40 columns: hops of 30 frames' length, most samples never
 * analysed, and still the change is in the middle column. */
static void test_step_long_hops(void **state)
{
    (void)state;
    check_step(4000, 1200, 40, 1200 * 4000, 40);
}

/* A length that was underestimated grows like an unknown one: 70 s, 140 s,
 * 280 s, of which 180 s fill 258 of 400 columns. */
static void test_length_underestimated(void **state)
{
    (void)state;
    check_step(8000, 180, 400, 70 * 8000, 258);
}

/* Blocks of one frame, of odd sizes and one big block give the same
 * cells: with every sample analysed (3 s) and with hops far longer than a
 * frame, where samples between frames are skipped (10 minutes in 40
 * columns), the length known or not. */
static void check_blocks(int rate, int64_t frames, int cols, int known, int ch)
{
    static const int ones[] = { 1, 0 };
    static const int odd[] = { 100, 7, 3001, 255, 256, 257, 0 };
    static const int big[] = { 1 << 30, 0 };
    const int *cuts[] = { ones, odd };
    const int rows = 48;
    spectro *a = spectro_new(cols, rows), *b = spectro_new(cols, rows);
    sigs s;
    int i, c;

    sigs_alloc(&s, frames, ch);
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        int64_t k;

        for (k = 0; k < frames * ch; k++)
            s.x[i][k] = (float)sin(0.37 * k * (i + 1)) * (float)(k % 1000) / 1000.0f;
    }
    feed(b, &s, rate, known ? frames : -1, big);
    for (c = 0; c < 2; c++) {
        feed(a, &s, rate, known ? frames : -1, cuts[c]);
        assert_int_equal(spectro_columns(a), spectro_columns(b));
        for (i = 0; i < SPECTRO_SIGNALS; i++)
            assert_memory_equal(spectro_cells(a, i), spectro_cells(b, i),
                                (size_t)cols * rows);
    }
    sigs_free(&s);
    spectro_free(a);
    spectro_free(b);
}

static void test_blocks_do_not_matter(void **state)
{
    (void)state;
    check_blocks(22050, 3 * 22050, 100, 1, 2);
    /* 1875-frame hops; the last frame is centred 20 samples before the end,
     * so it is analysed at the end from the last 128 samples */
    check_blocks(4000, 2400957, 40, 1, 1);
    check_blocks(4000, 2400957, 40, 0, 1);
}

/* The same 10-minute file, silent but for a tone in 40 samples just inside
 * its last 128: the frame centred 20 samples before the end is analysed
 * from the last 128 samples, which the long hops must not have skipped
 * (its own window would start after the tone), and the tone shows in the
 * last column. */
static void test_tail_reaches_last_column(void **state)
{
    static const int sizes[] = { 4096, 0 };
    const int rate = 4000, cols = 40, rows = 32;
    int64_t i, frames = 2400957;
    int r = row_of(1000, rows, rate);
    spectro *sp = spectro_new(cols, rows);
    sigs s;

    (void)state;
    sigs_alloc(&s, frames, 1);
    for (i = frames - 128; i < frames - 88; i++)
        s.x[0][i] = 0.5f * (float)sin(2 * PI * 1000.0 * i / rate);
    feed(sp, &s, rate, frames, sizes);
    assert_int_equal(spectro_columns(sp), cols);
    assert_true(cell_db(sp, 0, cols - 1, r) > -60);
    assert_true(cell_db(sp, 0, cols - 2, r) < -100);
    sigs_free(&s);
    spectro_free(sp);
}

/* 100 frames at 48 kHz, far less than one analysis frame: every column
 * still gets a frame, and one grid serves file after file. */
static void test_tiny_file_fills_columns(void **state)
{
    static const int sizes[] = { 64, 0 };
    const int rate = 48000, cols = 50, rows = 40;
    int64_t i;
    int c, pass;
    spectro *sp = spectro_new(cols, rows);
    sigs s;

    (void)state;
    sigs_alloc(&s, 100, 1);
    for (i = 0; i < 100; i++)
        s.x[0][i] = s.x[1][i] = s.x[2][i] = (float)((i * 7919) % 200 - 100) / 100.0f;
    for (pass = 0; pass < 2; pass++) {
        feed(sp, &s, rate, 100, sizes);
        assert_int_equal(spectro_columns(sp), cols);
        assert_int_equal(spectro_frames(sp), 100);
        for (c = 0; c < cols; c++)
            assert_true(cell_db(sp, 0, c, rows / 2) > -100);
    }
    sigs_free(&s);
    spectro_free(sp);
}

/* Channels are averaged: opposite channels cancel in the picture. */
static void test_downmix(void **state)
{
    static const int sizes[] = { 4096, 0 };
    const int rate = 16000, cols = 20, rows = 16;
    int64_t i, frames = rate;
    spectro *sp = spectro_new(cols, rows);
    sigs s;
    int c;

    (void)state;
    sigs_alloc(&s, frames, 2);
    for (i = 0; i < frames; i++) {
        float v = 0.5f * (float)sin(2 * PI * 700.0 * i / rate);

        s.x[0][2 * i] = v;
        s.x[0][2 * i + 1] = -v;
        s.x[1][2 * i] = s.x[1][2 * i + 1] = v;
    }
    feed(sp, &s, rate, frames, sizes);
    for (c = 0; c < cols; c++) {
        assert_true(cell_db(sp, 0, c, row_of(700, rows, rate)) < -100);
        assert_true(cell_db(sp, 1, c, row_of(700, rows, rate)) > -20);
    }
    sigs_free(&s);
    spectro_free(sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tones_in_rows),
        cmocka_unit_test(test_step_known_length),
        cmocka_unit_test(test_step_unknown_length),
        cmocka_unit_test(test_length_underestimated),
        cmocka_unit_test(test_step_long_hops),
        cmocka_unit_test(test_blocks_do_not_matter),
        cmocka_unit_test(test_tail_reaches_last_column),
        cmocka_unit_test(test_tiny_file_fills_columns),
        cmocka_unit_test(test_downmix),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
