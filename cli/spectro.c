/*
 * spectro.c - see spectro.h.
 *
 * The three signals are downmixed to mono and pushed, sample by sample and
 * in lockstep, into rings of one analysis frame (len samples). Analysis
 * frame j is centred on sample c_j = hop/2 + j*hop and windowed over
 * [c_j - len/2, c_j + len/2), moved inside the file near its ends; it is
 * analysed as soon as its last sample arrives (at the end, the rest are).
 * Its power spectrum, averaged over the FFT bins of each mel row,
 * is added to the column its centre falls in: floor(c_j * columns / span).
 *
 * The hop follows from the span: a column of a short file gets at least one
 * frame (the hop is shortened below len/2), and a column of a long one at
 * most SPECTRO_FRAMES_PER_COLUMN, evenly spaced (the hop grows past len, so
 * the work per file is bounded too: a 10-hour file costs what a 20-minute
 * one does). A column is finished, as dB codes, when the first frame of the
 * next one arrives; only the column being filled is kept in floats.
 */
#include "spectro.h"

#include <fftw3.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define GUESS_SECONDS 60.0 /* span of a file of unknown length, at first */

struct spectro {
    int columns, rows;
    uint8_t *cells[SPECTRO_SIGNALS]; /* [columns * rows] */
    uint32_t *count;                 /* [columns] frames in each column */

    /* per file */
    int rate, len, begun, finished;
    int64_t span; /* frames the columns cover */
    int64_t hop;
    int64_t next;                 /* centre of the next analysis frame */
    int64_t pos;                  /* samples received */
    int cur;                      /* column being filled, -1 none */
    int used;                     /* columns in use after spectro_finish */
    float *ring[SPECTRO_SIGNALS]; /* [len] */
    double *acc[SPECTRO_SIGNALS]; /* [rows] power sums of column cur */
    int *row_lo, *row_hi;         /* [rows] FFT bins of each row */
    float *win;                   /* [len] Hann */
    float *frame;                 /* [len] */
    fftwf_complex *spec;          /* [len/2 + 1] */
    fftwf_plan plan;
    double norm; /* power of a full-scale sine's peak bin */
};

spectro *spectro_new(int columns, int rows)
{
    spectro *s;
    int i;

    if (columns < 2 || rows < 1 || columns % 2 != 0)
        return NULL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->columns = columns;
    s->rows = rows;
    s->count = calloc((size_t)columns, sizeof *s->count);
    s->row_lo = calloc((size_t)rows, sizeof *s->row_lo);
    s->row_hi = calloc((size_t)rows, sizeof *s->row_hi);
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        s->cells[i] = calloc((size_t)columns * (size_t)rows, 1);
        s->acc[i] = calloc((size_t)rows, sizeof(double));
    }
    if (s->count == NULL || s->row_lo == NULL || s->row_hi == NULL ||
        s->cells[0] == NULL || s->cells[1] == NULL || s->cells[2] == NULL ||
        s->acc[0] == NULL || s->acc[1] == NULL || s->acc[2] == NULL) {
        spectro_free(s);
        return NULL;
    }
    s->cur = -1;
    return s;
}

static void free_frame(spectro *s)
{
    int i;

    if (s->plan != NULL)
        fftwf_destroy_plan(s->plan);
    s->plan = NULL;
    fftwf_free(s->frame);
    fftwf_free(s->spec);
    free(s->win);
    s->frame = NULL;
    s->spec = NULL;
    s->win = NULL;
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        free(s->ring[i]);
        s->ring[i] = NULL;
    }
    s->len = 0;
}

void spectro_free(spectro *s)
{
    int i;

    if (s == NULL)
        return;
    free_frame(s);
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        free(s->cells[i]);
        free(s->acc[i]);
    }
    free(s->count);
    free(s->row_lo);
    free(s->row_hi);
    free(s);
}

/* About 40 ms, a power of two (the rings are indexed with a mask): fine
 * enough in time for speech, in frequency for the low rows. */
static int frame_length(int rate)
{
    int len = 64;

    while (len < 16384 && len * 2 <= rate / 25 + rate / 50)
        len *= 2;
    return len;
}

static int alloc_frame(spectro *s, int len)
{
    int i;

    if (len == s->len)
        return 0;
    free_frame(s);
    s->frame = fftwf_malloc((size_t)len * sizeof(float));
    s->spec = fftwf_malloc((size_t)(len / 2 + 1) * sizeof(fftwf_complex));
    s->win = malloc((size_t)len * sizeof(float));
    for (i = 0; i < SPECTRO_SIGNALS; i++)
        s->ring[i] = malloc((size_t)len * sizeof(float));
    if (s->frame == NULL || s->spec == NULL || s->win == NULL || s->ring[0] == NULL ||
        s->ring[1] == NULL || s->ring[2] == NULL)
        goto fail;
    s->plan = fftwf_plan_dft_r2c_1d(len, s->frame, s->spec, FFTW_ESTIMATE);
    if (s->plan == NULL)
        goto fail;
    s->len = len;
    return 0;
fail:
    free_frame(s);
    return -1;
}

/* The bins of each mel row; a row narrower than a bin takes the nearest. */
static void map_rows(spectro *s)
{
    int r, bins = s->len / 2 + 1;
    double bin_hz = (double)s->rate / s->len;

    for (r = 0; r < s->rows; r++) {
        double lo = spectro_row_hz(r, s->rows, s->rate) / bin_hz;
        double hi = spectro_row_hz(r + 1, s->rows, s->rate) / bin_hz;
        int a = (int)ceil(lo), b = (int)ceil(hi);

        if (b > bins)
            b = bins;
        if (a >= b) {
            a = (int)lround(0.5 * (lo + hi));
            if (a >= bins)
                a = bins - 1;
            b = a + 1;
        }
        s->row_lo[r] = a;
        s->row_hi[r] = b;
    }
}

static void set_hop(spectro *s)
{
    double per_col = (double)s->span / s->columns;

    if (per_col < s->len / 2)
        s->hop = per_col >= 1 ? (int64_t)per_col : 1;
    else {
        s->hop = (int64_t)(per_col / SPECTRO_FRAMES_PER_COLUMN);
        if (s->hop < s->len / 2)
            s->hop = s->len / 2;
    }
}

int spectro_begin(spectro *s, int sample_rate, int64_t frames_total)
{
    int i;

    if (sample_rate <= 0 || alloc_frame(s, frame_length(sample_rate)) != 0)
        return -1;
    s->rate = sample_rate;
    s->span = frames_total > 0 ? frames_total : (int64_t)(GUESS_SECONDS * sample_rate);
    s->begun = 1;
    s->finished = 0;
    s->pos = 0;
    s->cur = -1;
    s->used = 0;
    set_hop(s);
    s->next = s->hop / 2;
    for (i = 0; i < s->len; i++)
        s->win[i] = (float)(0.5 - 0.5 * cos(2 * PI * i / s->len));
    /* |X| of a full-scale sine at its bin is sum(win) / 2 = len / 4. */
    s->norm = (double)s->len * s->len / 16.0;
    map_rows(s);
    memset(s->count, 0, (size_t)s->columns * sizeof *s->count);
    for (i = 0; i < SPECTRO_SIGNALS; i++)
        memset(s->cells[i], 0, (size_t)s->columns * (size_t)s->rows);
    return 0;
}

static uint8_t db_code(double power)
{
    double db, c;

    if (!(power > 0))
        return 0;
    db = 10.0 * log10(power);
    c = floor((db - SPECTRO_DB_FLOOR) / SPECTRO_DB_STEP + 0.5);
    return c <= 0 ? 0 : c >= 255 ? 255 : (uint8_t)c;
}

static double code_power(uint8_t code)
{
    return code == 0 ? 0.0 : pow(10.0, spectro_code_db(code) / 10.0);
}

/* Store the column being filled as codes. */
static void close_column(spectro *s)
{
    int i, r;
    uint32_t n;

    if (s->cur < 0)
        return;
    n = s->count[s->cur];
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        uint8_t *cell = s->cells[i] + (size_t)s->cur * (size_t)s->rows;

        for (r = 0; r < s->rows; r++)
            cell[r] = n > 0 ? db_code(s->acc[i][r] / n) : 0;
    }
    s->cur = -1;
}

/* Make `col` the column being filled, carrying on from what it holds. */
static void open_column(spectro *s, int col)
{
    int i, r;
    uint32_t n = s->count[col];

    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        const uint8_t *cell = s->cells[i] + (size_t)col * (size_t)s->rows;

        for (r = 0; r < s->rows; r++)
            s->acc[i][r] = n > 0 ? code_power(cell[r]) * n : 0.0;
    }
    s->cur = col;
}

/* The audio outgrew the span: double it, merging columns in pairs. */
static void grow(spectro *s)
{
    int half = s->columns / 2, c, i, r;

    close_column(s);
    for (c = 0; c < half; c++) {
        uint32_t na = s->count[2 * c], nb = s->count[2 * c + 1];

        for (i = 0; i < SPECTRO_SIGNALS; i++) {
            uint8_t *a = s->cells[i] + (size_t)(2 * c) * (size_t)s->rows;
            uint8_t *b = a + s->rows;
            uint8_t *to = s->cells[i] + (size_t)c * (size_t)s->rows;

            for (r = 0; r < s->rows; r++) {
                double p = na + nb > 0 ? (code_power(a[r]) * na + code_power(b[r]) * nb) /
                                             (na + nb)
                                       : 0.0;

                to[r] = db_code(p);
            }
        }
        s->count[c] = na + nb;
    }
    for (i = 0; i < SPECTRO_SIGNALS; i++)
        memset(s->cells[i] + (size_t)half * (size_t)s->rows, 0,
               (size_t)half * (size_t)s->rows);
    memset(s->count + half, 0, (size_t)half * sizeof *s->count);
    s->span *= 2;
    set_hop(s);
}

/* Analyse the frame centred on s->next. Its window is moved to lie inside
 * the file where the file is long enough (an edge inside the window would
 * smear a click over every row); the samples it needs are then the last
 * len of the rings, or zeros past the end of a file shorter than a frame. */
static void analyse(spectro *s, int at_end)
{
    int64_t c = s->next, first = c - s->len / 2;
    int col, i, k, r;

    if (at_end && first > s->pos - s->len)
        first = s->pos - s->len;
    if (first < 0)
        first = 0;

    while (c >= s->span)
        grow(s);
    col = (int)(c * s->columns / s->span);
    if (col != s->cur) {
        close_column(s);
        open_column(s, col);
    }
    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        for (k = 0; k < s->len; k++) {
            int64_t at = first + k;

            s->frame[k] =
                at < 0 || at >= s->pos ? 0.0f : s->win[k] * s->ring[i][at & (s->len - 1)];
        }
        fftwf_execute(s->plan);
        for (r = 0; r < s->rows; r++) {
            double sum = 0;

            for (k = s->row_lo[r]; k < s->row_hi[r]; k++)
                sum += (double)s->spec[k][0] * s->spec[k][0] +
                       (double)s->spec[k][1] * s->spec[k][1];
            s->acc[i][r] += sum / (s->row_hi[r] - s->row_lo[r]) / s->norm;
        }
    }
    s->count[col]++;
    s->next += s->hop;
}

/* Downmix `n` frames of the block, from frame `f`, into the rings. */
static void push(spectro *s, const samsep_tap_block *b, int64_t f, int64_t n)
{
    const float *sig[SPECTRO_SIGNALS] = { b->mixture, b->target, b->residual };
    int64_t mask = s->len - 1, k;
    int ch = b->channels, i, c;
    float scale = 1.0f / (float)ch;

    for (i = 0; i < SPECTRO_SIGNALS; i++) {
        const float *x = sig[i] + (size_t)f * (size_t)ch;
        float *ring = s->ring[i];

        if (ch == 1) {
            for (k = 0; k < n; k++)
                ring[(s->pos + k) & mask] = x[k];
            continue;
        }
        for (k = 0; k < n; k++, x += ch) {
            float m = 0;

            for (c = 0; c < ch; c++)
                m += x[c];
            ring[(s->pos + k) & mask] = m * scale;
        }
    }
    s->pos += n;
}

/* Samples that no frame will read are not even downmixed: those before
 * the next frame's window (hops longer than a frame, in long files), except
 * the last frame's worth of each block, which the frames at the very end
 * may need. Between two frames, the samples go in as one run. */
void spectro_tap(void *user, const samsep_tap_block *b)
{
    spectro *s = user;
    int64_t f = 0;

    if (b->frames <= 0 || b->channels <= 0)
        return;
    if (!s->begun && spectro_begin(s, b->sample_rate, b->frames_total) != 0)
        return;
    if (s->len == 0 || s->finished)
        return;
    while (f < b->frames) {
        int64_t need = s->next - s->len / 2;
        int64_t keep = s->pos + (b->frames - f) - s->len;
        int64_t from = need < keep ? need : keep;
        int64_t until = s->next + s->len / 2, run;

        if (from > s->pos) {
            f += from - s->pos;
            s->pos = from;
        }
        if (until < s->len)
            until = s->len;
        run = until - s->pos;
        if (run < 1)
            run = 1;
        if (run > b->frames - f)
            run = b->frames - f;
        push(s, b, f, run);
        f += run;
        while (s->next + s->len / 2 <= s->pos && s->pos >= s->len)
            analyse(s, 0);
    }
}

/* Columns no frame fell in (hops longer than a column, near the end) take
 * the column before them. */
static void fill_gaps(spectro *s)
{
    int c, i;

    for (c = 1; c < s->used; c++)
        if (s->count[c] == 0)
            for (i = 0; i < SPECTRO_SIGNALS; i++)
                memcpy(s->cells[i] + (size_t)c * (size_t)s->rows,
                       s->cells[i] + (size_t)(c - 1) * (size_t)s->rows, (size_t)s->rows);
}

void spectro_finish(spectro *s)
{
    if (!s->begun || s->finished)
        return;
    if (s->len > 0)
        while (s->next < s->pos)
            analyse(s, 1);
    close_column(s);
    s->used = 0;
    if (s->pos > 0 && s->span > 0) {
        int64_t u = (s->pos * s->columns + s->span - 1) / s->span;

        s->used = u > s->columns ? s->columns : (int)u;
    }
    fill_gaps(s);
    s->finished = 1;
    s->begun = 0;
}

void spectro_reset(spectro *s)
{
    s->begun = 0;
    s->finished = 0;
    s->used = 0;
    s->pos = 0;
}

int spectro_columns(const spectro *s)
{
    return s->finished ? s->used : 0;
}

int spectro_rows(const spectro *s)
{
    return s->rows;
}

int spectro_rate(const spectro *s)
{
    return s->rate;
}

int64_t spectro_frames(const spectro *s)
{
    return s->pos;
}

const uint8_t *spectro_cells(const spectro *s, int sig)
{
    return sig >= 0 && sig < SPECTRO_SIGNALS ? s->cells[sig] : NULL;
}
