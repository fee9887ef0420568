/*
 * report.h - what the program tells the user and the log: human lines on
 * stdout/stderr, or with --json one JSON object per event on stdout; the
 * per-run log file; and, with --report, the batch's page (webreport.h).
 */
#ifndef SAMSEP_CLI_REPORT_H
#define SAMSEP_CLI_REPORT_H

#include <stdio.h>

#include "samsep.h"
#include "webreport.h"

typedef struct reporter {
    int json;       /* events as JSON lines on stdout */
    int verbosity;  /* -1 quiet, 0 normal, 1+ verbose */
    FILE *log;      /* the run's log file, or NULL */
    webreport *web; /* --report's page, or NULL */
} reporter;

/* One planned item ("plan" event / dry-run line). `print` 0 writes only the
 * log and JSON, not the human line. */
void report_plan(reporter *r, const samsep_item *it, int print);
void report_start(reporter *r, const char *input);
void report_done(reporter *r, const samsep_item *it, const samsep_report *rep);
void report_skipped(reporter *r, const char *input, const char *reason);
void report_failed(reporter *r, const char *input, const char *error);
/* The run stopped early (a signal, a closed output): say why, on stderr
 * and in the log. */
void report_stopped(reporter *r, const char *why, int done);
void report_summary(reporter *r, int processed, int skipped, int failed, int code);

/* A message of the library (or of an engine's worker) in the log, stamped. */
void report_message(FILE *log, const char *level, const char *message);

/* Open a new log file in `dir` (created if needed); NULL on failure with
 * the reason in err. `path` receives the file's name. */
FILE *log_open(const char *dir, char *path, size_t pathlen, char *err, size_t errlen);

/* Peak resident memory of this process in KiB. */
long peak_rss_kib(void);

#endif
