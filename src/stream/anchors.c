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
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "samsep.h"

/* A plain decimal number of seconds at *p (no sign, "inf", "nan" or hex);
 * advances *p past it. */
static int read_seconds(const char **p, double *out)
{
    const char *s = *p;
    char *end;
    size_t i;

    if (!isdigit((unsigned char)s[0]) && !(s[0] == '.' && isdigit((unsigned char)s[1])))
        return -1;
    for (i = 0; isdigit((unsigned char)s[i]) || s[i] == '.'; i++)
        ;
    if (s[i] == 'x' || s[i] == 'X')
        return -1;
    *out = strtod(s, &end);
    if (end == s || !isfinite(*out))
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
        set_err(err, errlen, "span '%s': want +START:END (the target sounds there) or "
                "-START:END (it does not), in seconds, e.g. +1.5:4", text);
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

int samsep_anchors_for_chunk(const samsep_anchor *anchors, int n, int64_t start,
                             int64_t frames, int rate, samsep_anchor *out)
{
    double from, to;
    int k, m = 0;

    if (n < 0 || (n > 0 && (anchors == NULL || out == NULL)) || start < 0 ||
        frames < 1 || rate < 1)
        return SAMSEP_ERR_INVALID;
    from = (double)start / rate;
    to = (double)(start + frames) / rate;
    for (k = 0; k < n; k++) {
        const samsep_anchor *a = &anchors[k];
        samsep_anchor c;

        if (a->end <= from || a->start >= to)
            continue;
        c.sign = a->sign;
        c.start = a->start > from ? a->start - from : 0.0;
        c.end = (a->end < to ? a->end : to) - from;
        if (c.end > c.start) /* never a span the rounding made empty */
            out[m++] = c;
    }
    return m;
}
