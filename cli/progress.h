/*
 * progress.h - the live progress line the CLI draws on a terminal.
 */
#ifndef SAMSEP_CLI_PROGRESS_H
#define SAMSEP_CLI_PROGRESS_H

#include <stdio.h>

#include "samsep.h"

typedef struct progress_line {
    FILE *out;         /* where to draw (a terminal) */
    const char *label; /* file being processed */
    int index, count;  /* file index (1-based) and number of files */
    double last_draw;  /* monotonic seconds of the last redraw */
    int drawn;         /* something is on the line */
} progress_line;

/* samsep_progress_fn: redraws at most ten times a second. */
void progress_update(void *user, const samsep_progress *p);

/* Erase the line so the next message starts clean. */
void progress_clear(progress_line *pl);

/* "1:02:03" or "2:03" for a duration in seconds. */
void format_duration(double seconds, char *buf, size_t len);

#endif
