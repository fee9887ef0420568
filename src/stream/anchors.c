/*
 * anchors.c - span prompts: reading "+START:END" and handing each chunk the
 * spans that concern it.
 *
 * A user gives spans in seconds of the file; an engine that takes them
 * (set_anchors in its table) sees one chunk at a time and, like the
 * official SAM-Audio processor, reads times from the first sample of the
 * audio it is given. samsep_anchors_for_chunk makes the one from the
 * other: the spans that overlap the chunk, in their order (a later span
 * still overrides an earlier one where they overlap), cut to the chunk and
 * shifted to its time. The first chunk starts at 0, so a file no longer
 * than one chunk gets its spans unchanged but for the cut at its end,
 * which the processor makes too: exactly what the official code computes.
 * Later chunks are shifted in frames (time x rate, as the processor
 * computes it, minus the chunk's first frame: exact) rather than in
 * seconds, and turned back into seconds that give that frame position back
 * to an engine's own time x rate arithmetic: where a chunk starts on a
 * whole latent frame (SAM-Audio's default 8 s hop does), every span edge
 * then lands on the very frame the processor gives it in the whole file,
 * even an edge that falls exactly on a frame boundary.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "samsep.h"

/* A plain decimal number of seconds at *p (digits and one point: no sign,
 * exponent, "inf", "nan" or hex); advances *p past it. */
static int read_seconds(const char **p, double *out)
{
    const char *s = *p;
    char *end;
    size_t i;

    if (!isdigit((unsigned char)s[0]) && !(s[0] == '.' && isdigit((unsigned char)s[1])))
        return -1;
    for (i = 0; isdigit((unsigned char)s[i]) || s[i] == '.'; i++)
        ;
    *out = strtod(s, &end);
    if (end != s + i || !isfinite(*out)) /* "1e3", "0x1", "1.2.3" */
        return -1;
    *p = end;
    return 0;
}

int samsep_anchor_parse(const char *text, samsep_anchor *out, char *err, size_t errlen)
{
    const char *p = text;
    samsep_anchor a;

    if (text == NULL || out == NULL) {
        set_err(err, errlen, "span: no text");
        return SAMSEP_ERR_INVALID;
    }
    a.sign = text[0];
    p = text + 1;
    if ((a.sign != '+' && a.sign != '-') || read_seconds(&p, &a.start) != 0 ||
        *p++ != ':' || read_seconds(&p, &a.end) != 0 || *p != '\0') {
        set_err(err, errlen,
                "span '%s': want +START:END (the target sounds there) or "
                "-START:END (it does not), in seconds, e.g. +1.5:4",
                text);
        return SAMSEP_ERR_INVALID;
    }
    if (a.end <= a.start) {
        set_err(err, errlen, "span '%s' is empty: its end must come after its start",
                text);
        return SAMSEP_ERR_INVALID;
    }
    *out = a;
    return SAMSEP_OK;
}

/* Whether y, as an engine gets it back (seconds x rate), puts a span edge
 * at frame position d on the same frame for every frame size: no integer
 * (so no multiple of any hop) between them, and an integer d not passed. */
static int same_frames(double y, double d)
{
    if (d == floor(d))
        return y <= d && y > d - 1;
    return floor(y) == floor(d) && ceil(y) == ceil(d);
}

/* Seconds for frame position d (>= 0) of a chunk: d / rate, or the nearest
 * double to it whose product with the rate lands on the same frames as d
 * (d / rate x rate need not give d back). */
static double seconds_of(double d, int rate)
{
    double c = d / rate, up = c, down = c;
    int i;

    for (i = 0; i < 8 && !same_frames(c * rate, d); i++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        if (same_frames(up * rate, d))
            c = up;
        else if (same_frames(down * rate, d))
            c = down;
    }
    return c;
}

/* Time `seconds` (= `frame` / rate) in the time of a chunk starting at
 * frame `from`; unchanged in the first chunk. */
static double shift(double seconds, double frame, double from, int rate)
{
    return from == 0 ? seconds : seconds_of(frame - from, rate);
}

int samsep_anchors_for_chunk(const samsep_anchor *anchors, int n, int64_t start,
                             int64_t frames, int rate, samsep_anchor *out)
{
    double from = (double)start, to = (double)(start + frames);
    int k, m = 0;

    if (n < 0 || (n > 0 && (anchors == NULL || out == NULL)) || start < 0 || frames < 1 ||
        rate < 1)
        return SAMSEP_ERR_INVALID;
    for (k = 0; k < n; k++) {
        /* in frames, as the processor's start_time * sampling_rate, so that
         * the shift by a whole frame count changes no rounding of it */
        double a = anchors[k].start * rate, b = anchors[k].end * rate;
        samsep_anchor c;

        if (b <= from || a >= to)
            continue;
        c.sign = anchors[k].sign;
        c.start = a > from ? shift(anchors[k].start, a, from, rate) : 0.0;
        c.end = b < to ? shift(anchors[k].end, b, from, rate) : (to - from) / rate;
        if (c.end > c.start) /* never a span the rounding made empty */
            out[m++] = c;
    }
    return m;
}
