/*
 * report.c - see report.h. JSON lines are built with cJSON so every string
 * (file names included) is escaped correctly; stdout is flushed after each
 * event so a consumer sees events as they happen, and so that a consumer
 * gone (EPIPE where SIGPIPE is ignored) stops the run as SIGPIPE would.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "stop.h"

static void flush_stdout(void)
{
    if (fflush(stdout) != 0 && errno == EPIPE)
        stop_request(SIGPIPE);
}

static void emit(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);

    if (s != NULL) {
        fputs(s, stdout);
        fputc('\n', stdout);
        flush_stdout();
        free(s);
    }
    cJSON_Delete(o);
}

static cJSON *event(const char *name, const char *input)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "event", name);
    if (input != NULL)
        cJSON_AddStringToObject(o, "input", input);
    return o;
}

static void stamp(FILE *log)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(log, "%s ", buf);
}

static const char *action_name(int a)
{
    return a == SAMSEP_ACTION_PROCESS ? "process"
           : a == SAMSEP_ACTION_SKIP  ? "skip"
                                      : "fail";
}

void report_message(FILE *log, const char *level, const char *message)
{
    stamp(log);
    fprintf(log, "%s: %s\n", level, message);
    fflush(log);
}

void report_plan(reporter *r, const samsep_item *it, int print)
{
    if (r->json) {
        cJSON *o = event("plan", it->input);

        cJSON_AddStringToObject(o, "action", action_name(it->action));
        if (it->reason != NULL)
            cJSON_AddStringToObject(o, "reason", it->reason);
        if (it->target != NULL) {
            cJSON_AddStringToObject(o, "target", it->target);
            cJSON_AddStringToObject(o, "residual", it->residual);
        }
        if (it->prompt != NULL)
            cJSON_AddStringToObject(o, "prompt", it->prompt);
        emit(o);
    } else if (print) {
        if (it->action == SAMSEP_ACTION_PROCESS)
            printf("process %s -> %s\n", it->input, it->target);
        else
            printf("%s %s: %s\n", action_name(it->action), it->input, it->reason);
    }
    if (r->log != NULL) {
        stamp(r->log);
        if (it->action == SAMSEP_ACTION_PROCESS)
            fprintf(r->log, "plan process %s -> %s\n", it->input, it->target);
        else
            fprintf(r->log, "plan %s %s: %s\n", action_name(it->action), it->input,
                    it->reason);
    }
}

void report_start(reporter *r, const char *input)
{
    webreport_started(r->web, input);
    if (r->json)
        emit(event("start", input));
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log, "start %s\n", input);
        fflush(r->log);
    }
}

void report_done(reporter *r, const samsep_item *it, const samsep_report *rep)
{
    double secs = rep->sample_rate > 0 ? (double)rep->frames / rep->sample_rate : 0;
    double speed = rep->seconds > 0 ? secs / rep->seconds : 0;
    long long clipped = (long long)(rep->clipped_target + rep->clipped_residual);

    webreport_done(r->web, it->input, rep);
    if (r->json) {
        cJSON *o = event("done", it->input);

        cJSON_AddStringToObject(o, "target", it->target);
        cJSON_AddStringToObject(o, "residual", it->residual);
        if (it->prompt != NULL)
            cJSON_AddStringToObject(o, "prompt", it->prompt);
        cJSON_AddNumberToObject(o, "frames", (double)rep->frames);
        cJSON_AddNumberToObject(o, "audio_seconds", secs);
        cJSON_AddNumberToObject(o, "seconds", rep->seconds);
        cJSON_AddNumberToObject(o, "clipped", (double)clipped);
        cJSON_AddNumberToObject(o, "nonfinite", (double)rep->nonfinite);
        if (rep->frames_promised > 0)
            cJSON_AddNumberToObject(o, "frames_promised", (double)rep->frames_promised);
        if (rep->note[0] != '\0')
            cJSON_AddStringToObject(o, "note", rep->note);
        emit(o);
    } else if (r->verbosity >= 0) {
        printf("%s -> %s, %s (%.1f s of audio, %.0fx real time)\n", it->input, it->target,
               it->residual, secs, speed);
        if (clipped > 0)
            printf("  warning: %lld target and %lld residual samples clamped to fit the "
                   "output format (use --subtype float to keep them)\n",
                   (long long)rep->clipped_target, (long long)rep->clipped_residual);
        if (rep->note[0] != '\0' && r->verbosity > 0)
            printf("  note: %s\n", rep->note);
        flush_stdout();
    }
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log,
                "done %s -> %s, %s: %lld frames, %.1f s audio in %.2f s "
                "(%.0fx real time), %lld samples clamped, %lld non-finite input "
                "samples replaced by 0\n",
                it->input, it->target, it->residual, (long long)rep->frames, secs,
                rep->seconds, speed, clipped, (long long)rep->nonfinite);
        if (rep->frames_promised > 0)
            fprintf(r->log,
                    "  %s is shorter than its header says: %lld frames "
                    "promised, %lld read\n",
                    it->input, (long long)rep->frames_promised, (long long)rep->frames);
        if (rep->note[0] != '\0')
            fprintf(r->log, "  note on %s: %s\n", it->input, rep->note);
        fflush(r->log);
    }
}

void report_skipped(reporter *r, const char *input, const char *reason)
{
    webreport_skipped(r->web, input, reason);
    if (r->json) {
        cJSON *o = event("skipped", input);

        cJSON_AddStringToObject(o, "reason", reason);
        emit(o);
    } else if (r->verbosity > 0) {
        printf("skip %s: %s\n", input, reason);
    }
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log, "skipped %s: %s\n", input, reason);
    }
}

void report_failed(reporter *r, const char *input, const char *error)
{
    webreport_failed(r->web, input, error);
    if (r->json) {
        cJSON *o = event("failed", input);

        cJSON_AddStringToObject(o, "error", error);
        emit(o);
    }
    /* the library's messages start with the file name already */
    if (strncmp(error, input, strlen(input)) == 0)
        fprintf(stderr, "samsep: FAILED %s\n", error);
    else
        fprintf(stderr, "samsep: FAILED %s: %s\n", input, error);
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log, "FAILED %s: %s\n", input, error);
        fflush(r->log);
    }
}

void report_stopped(reporter *r, const char *why, int done)
{
    fprintf(stderr, "samsep: %s; %d file(s) done, unfinished outputs removed\n", why,
            done);
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log, "%s; unfinished outputs removed\n", why);
    }
}

void report_summary(reporter *r, int processed, int skipped, int failed, int code)
{
    if (r->json) {
        cJSON *o = event("summary", NULL);

        cJSON_AddNumberToObject(o, "processed", processed);
        cJSON_AddNumberToObject(o, "skipped", skipped);
        cJSON_AddNumberToObject(o, "failed", failed);
        cJSON_AddNumberToObject(o, "peak_rss_kib", (double)peak_rss_kib());
        cJSON_AddNumberToObject(o, "exit", code);
        emit(o);
    }
    if (r->log != NULL) {
        stamp(r->log);
        fprintf(r->log,
                "summary: %d processed, %d skipped, %d failed; peak RSS %ld KiB; "
                "exit %d\n",
                processed, skipped, failed, peak_rss_kib(), code);
        fflush(r->log);
    }
}

FILE *log_open(const char *dir, char *path, size_t pathlen, char *err, size_t errlen)
{
    char stampbuf[32];
    time_t t = time(NULL);
    struct tm tm;
    FILE *f;

    localtime_r(&t, &tm);
    strftime(stampbuf, sizeof stampbuf, "%Y%m%d-%H%M%S", &tm);
    if (samsep_make_dirs(dir) != 0) {
        snprintf(err, errlen, "%s: cannot create log folder: %s", dir, strerror(errno));
        return NULL;
    }
    snprintf(path, pathlen, "%s/samsep-%s-%ld.log", dir, stampbuf, (long)getpid());
    f = fopen(path, "a");
    if (f == NULL)
        snprintf(err, errlen, "%s: cannot create log: %s", path, strerror(errno));
    return f;
}

long peak_rss_kib(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss;
}
