/*
 * fuzz_spans.c - libFuzzer target for span prompts as a user writes them
 * (--span, the config's "spans"): samsep_anchor_parse on each line of the
 * input, then what the pipeline and the sam-audio engine make of the spans
 * read (samsep_anchors_for_chunk over a chunk plan, sam_anchor_alignment on
 * each chunk), with their promises checked: every span handed to a chunk
 * lies inside it, non-empty, and every frame's index names one of the ids.
 * Seeds: fuzz/corpus/spans/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sam/sam.h"
#include "samsep.h"

#define MAX_SPANS 16
#define RATE 48000
#define HOP 1920

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The spans read from the input's lines, into a; returns how many. */
static int read_spans(const uint8_t *data, size_t size, samsep_anchor *a)
{
    char line[128], err[256];
    size_t i = 0;
    int n = 0;

    while (i < size && n < MAX_SPANS) {
        size_t len = 0;

        while (i < size && data[i] != '\n') {
            if (len + 1 < sizeof line)
                line[len++] = (char)data[i];
            i++;
        }
        i++;
        line[len] = '\0';
        if (samsep_anchor_parse(line, &a[n], err, sizeof err) == SAMSEP_OK) {
            if (!(a[n].end > a[n].start) || a[n].start < 0)
                abort();
            n++;
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    samsep_anchor a[MAX_SPANS], c[MAX_SPANS];
    int32_t ids[MAX_SPANS + 2], *al;
    int64_t frames = 7 * RATE + (int64_t)(size * 131 % RATE);
    int64_t chunk = 2 * RATE + (int64_t)(size % 3) * HOP, overlap = RATE / 2;
    int64_t count, k, t;
    int n = read_spans(data, size, a), m, j;

    if (samsep_plan_count(frames, chunk, overlap, &count) != SAMSEP_OK)
        abort();
    al = malloc((size_t)((chunk + HOP - 1) / HOP) * sizeof *al);
    if (al == NULL)
        return 0;
    for (k = 0; k < count; k++) {
        samsep_span sp;
        int64_t len, T;

        if (samsep_plan_chunk(frames, chunk, overlap, k, &sp) != SAMSEP_OK)
            abort();
        len = sp.end - sp.start;
        m = samsep_anchors_for_chunk(a, n, sp.start, len, RATE, c);
        if (m < 0 || m > n)
            abort();
        for (j = 0; j < m; j++)
            if (!(c[j].start >= 0 && c[j].end > c[j].start &&
                  c[j].end <= (double)len / RATE * (1 + 1e-12)))
                abort();
        T = (len + HOP - 1) / HOP;
        sam_anchor_alignment(c, m, RATE, HOP, T, T, ids, al);
        for (t = 0; t < T; t++)
            if (al[t] < 0 || al[t] >= m + 2)
                abort();
    }
    free(al);
    return 0;
}
