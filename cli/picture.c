/*
 * picture.c - samsep-picture, the report's drawing program: reads the
 * spectrogram cells of one file (cli/spectro.h: mixture, target and
 * residual, column after column, one dB code per cell) on standard input
 * and writes one PNG: the three spectrograms stacked on one dB colour
 * scale, a time axis in seconds, a mel frequency axis, and a title.
 *
 *   samsep-picture --out FILE.png --columns C --rows H --rate R --frames N
 *                  --title TEXT [--subtitle TEXT]   < 3*C*H bytes
 *
 * samsep runs it once per input after the input is done. It is a program
 * of its own so that the batch process never loads cairo, FreeType and
 * fontconfig and never holds a whole picture: those cost more than the
 * streaming itself needs, and would stay with a long batch until its end.
 * The spectrogram raster is written by hand, pixel for pixel, into a cairo
 * image surface; cairo draws the axes, the text and the colour bar and
 * writes the PNG, under a temporary name renamed into place.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "spectro.h"

#define PLOT_W 800    /* pixels of the time axis */
#define LEFT 66       /* frequency labels */
#define RIGHT 92      /* colour bar and its labels */
#define TOP 74        /* title, subtitle and the first panel's name */
#define GAP 24        /* between panels: the next panel's name */
#define BOTTOM 50     /* time labels and caption */
#define RANGE_DB 90.0 /* the colour scale spans this much below its top */

typedef struct args {
    const char *out, *title, *subtitle;
    int columns, rows, rate;
    long long frames;
} args;

typedef struct layout {
    int panel_h, width, height;
    double top_db, bottom_db, seconds;
} layout;

static const char *const panel_names[SPECTRO_SIGNALS] = { "mixture", "target",
                                                          "residual" };

static int usage(void)
{
    fputs("usage: samsep-picture --out FILE.png --columns C --rows H --rate R "
          "--frames N --title TEXT [--subtitle TEXT] < cells\n",
          stderr);
    return 2;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option longs[] = { { "out", required_argument, NULL, 'o' },
                                           { "title", required_argument, NULL, 't' },
                                           { "subtitle", required_argument, NULL, 's' },
                                           { "columns", required_argument, NULL, 'c' },
                                           { "rows", required_argument, NULL, 'r' },
                                           { "rate", required_argument, NULL, 'R' },
                                           { "frames", required_argument, NULL, 'n' },
                                           { NULL, 0, NULL, 0 } };
    long long v;
    int c;

    memset(a, 0, sizeof *a);
    a->subtitle = "";
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'o': a->out = optarg; break;
        case 't': a->title = optarg; break;
        case 's': a->subtitle = optarg; break;
        case 'c':
            if (parse_int(optarg, 1, PLOT_W, &v) != 0)
                return -1;
            a->columns = (int)v;
            break;
        case 'r':
            if (parse_int(optarg, 1, 1024, &v) != 0)
                return -1;
            a->rows = (int)v;
            break;
        case 'R':
            if (parse_int(optarg, 1, 100000000, &v) != 0)
                return -1;
            a->rate = (int)v;
            break;
        case 'n':
            if (parse_int(optarg, 0, LLONG_MAX / 2, &v) != 0)
                return -1;
            a->frames = v;
            break;
        default: return -1;
        }
    }
    if (optind != argc || a->out == NULL || a->title == NULL || a->columns == 0 ||
        a->rows == 0 || a->rate == 0)
        return -1;
    return 0;
}

static int read_cells(uint8_t *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = read(STDIN_FILENO, buf + got, n - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* ---- colour ----------------------------------------------------------- */

/* Dark blue-black through violet, red and orange to pale yellow: brightness
 * rises steadily, so the scale reads in grey too. */
static uint32_t colour(double v)
{
    static const double stops[][3] = { { 4, 4, 18 },     { 46, 18, 92 },
                                       { 118, 28, 118 }, { 186, 52, 86 },
                                       { 232, 104, 44 }, { 250, 178, 60 },
                                       { 252, 246, 190 } };
    const int n = (int)(sizeof stops / sizeof stops[0]) - 1;
    double x, f;
    int i, k, rgb[3];

    v = v < 0 ? 0 : v > 1 ? 1 : v;
    x = v * n;
    i = (int)x < n ? (int)x : n - 1;
    f = x - i;
    for (k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + f * (stops[i + 1][k] - stops[i][k]));
    return (uint32_t)rgb[0] << 16 | (uint32_t)rgb[1] << 8 | (uint32_t)rgb[2];
}

/* The top of the scale: the loudest cell, up to the next 10 dB. */
static double top_db(const uint8_t *cells, size_t n)
{
    uint8_t hi = 0;
    size_t i;
    double db;

    for (i = 0; i < n; i++)
        if (cells[i] > hi)
            hi = cells[i];
    if (hi == 0)
        return -60.0;
    db = ceil(spectro_code_db(hi) / 10.0) * 10.0 + 0.0; /* never -0 */
    return db > 20.0 ? 20.0 : db;
}

/* ---- drawing ---------------------------------------------------------- */

static int panel_top(const layout *l, int p)
{
    return TOP + p * (l->panel_h + GAP);
}

/* The raster, by hand: each pixel takes the cell under it. */
static void draw_raster(cairo_surface_t *s, const args *a, const layout *l,
                        const uint8_t *cells)
{
    unsigned char *data;
    uint32_t lut[256];
    int stride, p, x, y, code;

    for (code = 0; code < 256; code++)
        lut[code] =
            colour((spectro_code_db(code) - l->bottom_db) / (l->top_db - l->bottom_db));
    cairo_surface_flush(s);
    data = cairo_image_surface_get_data(s);
    stride = cairo_image_surface_get_stride(s);
    for (p = 0; p < SPECTRO_SIGNALS; p++) {
        const uint8_t *sig = cells + (size_t)p * (size_t)a->columns * (size_t)a->rows;

        for (y = 0; y < l->panel_h; y++) {
            uint32_t *row = (uint32_t *)(data + (size_t)(panel_top(l, p) + y) * stride);
            int r = (l->panel_h - 1 - y) * a->rows / l->panel_h;

            for (x = 0; x < PLOT_W; x++) {
                int c = x * a->columns / PLOT_W;

                row[LEFT + x] = lut[sig[(size_t)c * (size_t)a->rows + (size_t)r]];
            }
        }
    }
    cairo_surface_mark_dirty(s);
}

static void text(cairo_t *cr, double x, double y, double size, int bold, double align,
                 const char *s)
{
    cairo_text_extents_t e;

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align * (e.width + e.x_bearing), y);
    cairo_show_text(cr, s);
}

static void line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
    cairo_stroke(cr);
}

static double mel_top(const args *a)
{
    return spectro_mel(a->rate / 2.0);
}

static void frequency_axis(cairo_t *cr, const args *a, const layout *l, int p)
{
    static const double ticks[] = {
        100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000
    };
    double top = mel_top(a), bottom = panel_top(l, p) + l->panel_h, last = 1e9;
    char label[16];
    size_t i;

    text(cr, LEFT - 6, bottom, 10, 0, 1.0, "0");
    for (i = 0; i < sizeof ticks / sizeof ticks[0]; i++) {
        double y;

        if (ticks[i] >= a->rate / 2.0)
            break;
        y = bottom - spectro_mel(ticks[i]) / top * l->panel_h;
        line(cr, LEFT - 4, y + 0.5, LEFT, y + 0.5);
        if (last - y < 12 || bottom - y < 14)
            continue;
        if (ticks[i] >= 1000)
            snprintf(label, sizeof label, "%gk", ticks[i] / 1000);
        else
            snprintf(label, sizeof label, "%g", ticks[i]);
        text(cr, LEFT - 6, y + 4, 10, 0, 1.0, label);
        last = y;
    }
}

static double nice_step(double seconds)
{
    static const double steps[] = { 0.01, 0.02, 0.05, 0.1,  0.2,   0.5,   1,     2,
                                    5,    10,   15,   30,   60,    120,   300,   600,
                                    900,  1800, 3600, 7200, 10800, 21600, 43200, 86400 };
    size_t i;

    for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (seconds / steps[i] <= 10)
            return steps[i];
    return ceil(seconds / 10 / 86400) * 86400;
}

static void time_axis(cairo_t *cr, const layout *l)
{
    double y = panel_top(l, SPECTRO_SIGNALS - 1) + l->panel_h;
    double step = nice_step(l->seconds), t;
    char label[32];
    int k;

    line(cr, LEFT, y + 0.5, LEFT + PLOT_W, y + 0.5);
    for (k = 0; (t = k * step) <= l->seconds + 1e-9; k++) {
        double x = LEFT + (l->seconds > 0 ? t / l->seconds * PLOT_W : 0);

        line(cr, x + 0.5, y, x + 0.5, y + 5);
        snprintf(label, sizeof label,
                 step < 0.1 ? "%.2f"
                 : step < 1 ? "%.1f"
                            : "%.0f",
                 t);
        text(cr, x, y + 18, 10, 0, x > LEFT + PLOT_W - 20 ? 1.0 : 0.5, label);
    }
    text(cr, LEFT + PLOT_W / 2.0, y + 38, 11, 0, 0.5, "time (s)");
}

static void colour_bar(cairo_t *cr, const layout *l)
{
    int x = LEFT + PLOT_W + 18, y0 = TOP;
    int y1 = panel_top(l, SPECTRO_SIGNALS - 1) + l->panel_h, y;
    double db;
    char label[16];

    for (y = y0; y < y1; y++) {
        uint32_t c = colour((double)(y1 - 1 - y) / (y1 - 1 - y0));

        cairo_set_source_rgb(cr, (c >> 16) / 255.0, (c >> 8 & 255) / 255.0,
                             (c & 255) / 255.0);
        cairo_rectangle(cr, x, y, 12, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_rectangle(cr, x + 0.5, y0 + 0.5, 11, y1 - y0 - 1);
    cairo_stroke(cr);
    for (db = l->top_db; db >= l->bottom_db - 1e-9; db -= 10) {
        double yy = y0 + (l->top_db - db) / (l->top_db - l->bottom_db) * (y1 - 1 - y0);

        line(cr, x + 12, yy + 0.5, x + 16, yy + 0.5);
        snprintf(label, sizeof label, "%.0f", db);
        text(cr, x + 19, yy + 4, 10, 0, 0.0, label);
    }
    text(cr, x, y0 - 8, 11, 0, 0.0, "dB");
}

static void draw_frame(cairo_t *cr, const args *a, const layout *l)
{
    int p;

    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, LEFT, 22, 15, 1, 0.0, a->title);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    text(cr, LEFT, 42, 12, 0, 0.0, a->subtitle);
    cairo_set_source_rgb(cr, 0.15, 0.15, 0.15);
    cairo_set_line_width(cr, 1.0);
    for (p = 0; p < SPECTRO_SIGNALS; p++) {
        int y = panel_top(l, p);

        text(cr, LEFT, y - 7, 12, 1, 0.0, panel_names[p]);
        cairo_rectangle(cr, LEFT - 0.5, y - 0.5, PLOT_W + 1, l->panel_h + 1);
        cairo_stroke(cr);
        frequency_axis(cr, a, l, p);
    }
    cairo_save(cr);
    cairo_translate(cr, 16, panel_top(l, 1) + l->panel_h / 2.0);
    cairo_rotate(cr, -M_PI / 2);
    text(cr, 0, 0, 11, 0, 0.5, "frequency (Hz, mel scale)");
    cairo_restore(cr);
    time_axis(cr, l);
    colour_bar(cr, l);
}

static int write_png(cairo_surface_t *s, const char *out)
{
    char tmp[PATH_MAX];
    const char *slash = strrchr(out, '/');
    int n;

    if (slash != NULL)
        n = snprintf(tmp, sizeof tmp, "%.*s/.%s.tmp-%ld", (int)(slash - out), out,
                     slash + 1, (long)getpid());
    else
        n = snprintf(tmp, sizeof tmp, ".%s.tmp-%ld", out, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "samsep-picture: %s: name too long\n", out);
        return -1;
    }
    if (cairo_surface_write_to_png(s, tmp) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "samsep-picture: %s: cannot write the PNG\n", tmp);
        remove(tmp);
        return -1;
    }
    if (rename(tmp, out) != 0) {
        fprintf(stderr, "samsep-picture: %s: %s\n", out, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cairo_surface_t *s;
    cairo_t *cr;
    uint8_t *cells;
    size_t n;
    layout l;
    args a;
    int rc;

    if (parse_args(argc, argv, &a) != 0)
        return usage();
    n = (size_t)SPECTRO_SIGNALS * (size_t)a.columns * (size_t)a.rows;
    cells = malloc(n);
    if (cells == NULL || read_cells(cells, n) != 0) {
        fprintf(stderr,
                "samsep-picture: expected %zu bytes of cells on standard "
                "input\n",
                n);
        free(cells);
        return 1;
    }
    l.panel_h = a.rows < 96 ? 96 / a.rows * a.rows : a.rows;
    l.width = LEFT + PLOT_W + RIGHT;
    l.height = panel_top(&l, SPECTRO_SIGNALS - 1) + l.panel_h + BOTTOM;
    l.top_db = top_db(cells, n);
    l.bottom_db = l.top_db - RANGE_DB;
    l.seconds = (double)a.frames / a.rate;

    s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, l.width, l.height);
    cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    draw_raster(s, &a, &l, cells);
    draw_frame(cr, &a, &l);
    rc = cairo_status(cr) == CAIRO_STATUS_SUCCESS ? write_png(s, a.out) : -1;
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS)
        fprintf(stderr, "samsep-picture: %s: %s\n", a.out,
                cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    free(cells);
    /* Hand back the font caches, so leak checkers see only real leaks. */
    cairo_debug_reset_static_data();
    FcFini();
    return rc == 0 ? 0 : 1;
}
