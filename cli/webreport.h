/*
 * webreport.h - `samsep --report DIR`: a page to look at and listen to a
 * batch. Per input, a PNG of the spectrograms of mixture, target and
 * residual (computed while the file streams, drawn by samsep-picture), and
 * one DIR/index.html for the batch with a row per input: status and why,
 * duration, x real time, clamped samples and repaired (non-finite) input
 * samples, the picture and players for the
 * input and both outputs, linked relative to DIR. The page is rewritten
 * (temporary file, then rename) as results come, so it can be opened while
 * the batch runs.
 */
#ifndef SAMSEP_CLI_WEBREPORT_H
#define SAMSEP_CLI_WEBREPORT_H

#include <stddef.h>

#include "samsep.h"

typedef struct webreport webreport;

typedef struct webreport_settings {
    const char *dir;    /* the report folder (created) */
    const char *outdir; /* the batch's output folder, as given */
    const char *engine;
    const char *prompt;
} webreport_settings;

/* Start the report of batch `b` (which must outlive it): creates the
 * folder, finds samsep-picture, writes the first page. NULL with err filled
 * on failure. */
webreport *webreport_open(const webreport_settings *settings, const samsep_batch *b,
                          char *err, size_t errlen);

/* Let the report see the audio of the job about to run (sets its tap). */
void webreport_watch(webreport *w, samsep_job *job);

/* Results, by the item's input path (samsep_item.input). NULL w: no-op. */
void webreport_started(webreport *w, const char *input);
void webreport_done(webreport *w, const char *input, const samsep_report *r);
void webreport_skipped(webreport *w, const char *input, const char *reason);
void webreport_failed(webreport *w, const char *input, const char *reason);

/* Write the final page (`exit_code` of the run) and free. NULL: no-op. */
void webreport_close(webreport *w, int exit_code);

#endif
