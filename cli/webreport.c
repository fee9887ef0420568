/*
 * webreport.c - see webreport.h.
 *
 * The report keeps one row per planned item and one spectrogram grid
 * (cli/spectro.c) that the running job's tap fills; memory is the rows and
 * the grid, whatever the files' lengths. When an input is done its grid is
 * handed to samsep-picture over a socket (the drawing, with cairo and its
 * fonts, lives and dies in that process) and the page is written again.
 *
 * Links are relative to the report folder, from the real paths of both
 * ends, so the folder can be opened from disk or served as it is, and
 * percent-encoded, so any file name works. Pictures mirror the outputs'
 * names under the report folder (out/sub/a_target.wav -> DIR/sub/a.png), so
 * a re-run that skips finished inputs still shows their pictures.
 *
 * The page is rewritten after each input unless writing it costs more than
 * a tenth of the time since the last write (a batch of 100 000 short files
 * would otherwise spend its time rewriting); the last write is always made.
 */
#include "webreport.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spectro.h"

#define GRID_COLUMNS 800 /* one per pixel of the picture's time axis */
#define GRID_ROWS 128
#define PICTURE_PROGRAM "samsep-picture"

extern char **environ;

enum status { PENDING, RUNNING, DONE, SKIPPED, FAILED, INTERRUPTED, NOT_REACHED };

static const char *const status_names[] = { "pending",    "processing", "done",
                                            "skipped",    "failed",     "interrupted",
                                            "not reached" };
static const char *const status_classes[] = { "pending",    "processing", "done",
                                              "skipped",    "failed",     "interrupted",
                                              "not-reached" };

typedef struct row {
    const samsep_item *it;
    int status;
    char *why;     /* skipped or failed: the reason */
    char *picture; /* path under the report folder, NULL if none planned */
    char *picture_error;
    int has_picture;
    double audio_s, speed;
    long long clamped, repaired;
    char *href_in, *href_target, *href_residual; /* NULL: no player */
} row;

struct webreport {
    char *dir; /* real path of the report folder */
    char *outdir, *engine, *prompt;
    char helper[PATH_MAX];
    spectro *grid;
    row *rows;
    int n, cursor, current;
    int exit_code; /* -1 while running */
    double last_end, last_cost;
};

/* ---- strings and paths ------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Absolute, resolved path of an existing file; NULL if it is not there. */
static char *real(const char *path)
{
    return realpath(path, NULL);
}

/* Relative path from folder `from` to `to`, both absolute and resolved. */
static char *relative(const char *from, const char *to)
{
    size_t i = 0, last = 0, ups = 0, len;
    const char *p, *rest;
    char *out;

    while (from[i] != '\0' && from[i] == to[i]) {
        if (from[i] == '/')
            last = i;
        i++;
    }
    if (from[i] == '\0' && (to[i] == '/' || to[i] == '\0'))
        last = i;
    for (p = from + last; *p != '\0'; p++)
        if (*p != '/' && (p == from + last || p[-1] == '/'))
            ups++;
    rest = to + last;
    while (*rest == '/')
        rest++;
    len = ups * 3 + strlen(rest) + 2;
    out = malloc(len);
    if (out == NULL)
        return NULL;
    out[0] = '\0';
    while (ups-- > 0)
        strcat(out, "../");
    strcat(out, rest);
    if (out[0] == '\0')
        strcpy(out, ".");
    return out;
}

/* A link from the report folder to `path`, or NULL when it does not exist. */
static char *href(const webreport *w, const char *path)
{
    char *r = path != NULL ? real(path) : NULL, *rel;

    if (r == NULL)
        return NULL;
    rel = relative(w->dir, r);
    free(r);
    return rel;
}

static void put_url(FILE *f, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~/", c) != NULL)
            fputc(c, f);
        else
            fprintf(f, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
}

static void put_text(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* DIR-relative picture name: the target's path under the output folder,
 * less "_target.<ext>", plus ".png". */
static char *picture_name(const char *outdir, const char *target)
{
    size_t n = strlen(outdir);
    const char *rel = target, *dot;
    char *out;
    size_t len;

    while (n > 1 && outdir[n - 1] == '/')
        n--;
    if (strncmp(target, outdir, n) == 0 && target[n] == '/')
        rel = target + n;
    else if (strrchr(target, '/') != NULL)
        rel = strrchr(target, '/');
    while (*rel == '/')
        rel++;
    dot = strrchr(rel, '.');
    len = dot != NULL && dot > rel ? (size_t)(dot - rel) : strlen(rel);
    if (len > 7 && strncmp(rel + len - 7, "_target", 7) == 0)
        len -= 7;
    out = malloc(len + 5);
    if (out != NULL)
        snprintf(out, len + 5, "%.*s.png", (int)len, rel);
    return out;
}

static int exists(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    struct stat st;

    return snprintf(path, sizeof path, "%s/%s", dir, rel) < (int)sizeof path &&
           stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- the page --------------------------------------------------------- */

static void put_duration(FILE *f, double s)
{
    if (s >= 3600)
        fprintf(f, "%.0f s (%d:%02d:%02d)", s, (int)(s / 3600), (int)(s / 60) % 60,
                (int)s % 60);
    else if (s >= 60)
        fprintf(f, "%.1f s (%d:%02d)", s, (int)(s / 60), (int)s % 60);
    else
        fprintf(f, "%.2f s", s);
}

static void put_player(FILE *f, const char *label, const char *link)
{
    if (link == NULL)
        return;
    fprintf(f,
            "<div class=\"player\"><span>%s</span><audio controls preload=\"none\" "
            "src=\"",
            label);
    put_url(f, link);
    fputs("\"></audio></div>", f);
}

static void put_row(FILE *f, const row *r, int index)
{
    fprintf(f,
            "<tr class=\"item %s\" id=\"item-%d\">\n<td class=\"about\">"
            "<div class=\"name\">",
            status_classes[r->status], index + 1);
    if (r->href_in != NULL) {
        fputs("<a href=\"", f);
        put_url(f, r->href_in);
        fputs("\">", f);
        put_text(f, r->it->input);
        fputs("</a>", f);
    } else {
        put_text(f, r->it->input);
    }
    fprintf(f, "</div>\n<div class=\"status\">%s", status_names[r->status]);
    if (r->why != NULL) {
        fputs(": ", f);
        put_text(f, r->why);
    }
    fputs("</div>\n", f);
    if (r->status == DONE) {
        fputs("<dl><dt>duration</dt><dd class=\"duration\">", f);
        put_duration(f, r->audio_s);
        fprintf(f,
                "</dd><dt>speed</dt><dd class=\"speed\">%.0f&times; real time</dd>"
                "<dt>clamped</dt><dd class=\"clamped\">%lld sample%s</dd>"
                "<dt>repaired</dt><dd class=\"repaired\">%lld sample%s</dd></dl>\n",
                r->speed, r->clamped, r->clamped == 1 ? "" : "s", r->repaired,
                r->repaired == 1 ? "" : "s");
    }
    if (r->picture_error != NULL) {
        fputs("<div class=\"warn\">no picture: ", f);
        put_text(f, r->picture_error);
        fputs("</div>\n", f);
    }
    fputs("</td>\n<td class=\"picture\">", f);
    if (r->has_picture) {
        fputs("<a href=\"", f);
        put_url(f, r->picture);
        fputs("\"><img src=\"", f);
        put_url(f, r->picture);
        fputs("\" alt=\"spectrograms of ", f);
        put_text(f, r->it->input);
        fputs("\"></a>", f);
    }
    fputs("</td>\n<td class=\"listen\">", f);
    put_player(f, "input", r->href_in);
    put_player(f, "target", r->href_target);
    put_player(f, "residual", r->href_residual);
    fputs("</td>\n</tr>\n", f);
}

static const char page_style[] =
    "body{font-family:sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em;margin:0 0 .3em}"
    ".summary{color:#444;margin:0 0 1em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border-bottom:1px solid #ccc;padding:.5em;vertical-align:top;text-align:left}"
    "td.about{width:18em}"
    ".name{font-weight:bold;word-break:break-all}"
    ".status{margin:.3em 0}"
    "tr.done .status{color:#176117}tr.failed .status,tr.interrupted .status{color:#a11}"
    "tr.skipped .status,tr.pending .status,tr.not-reached .status{color:#666}"
    "dl{display:grid;grid-template-columns:auto 1fr;gap:.1em .8em;margin:.3em 0}"
    "dt{color:#666}dd{margin:0}"
    ".warn{color:#a60}"
    "td.picture img{max-width:100%;height:auto;display:block}"
    ".player span{display:inline-block;width:5em;color:#666}"
    ".player audio{vertical-align:middle;height:2.2em}";

static void count(const webreport *w, int *done, int *skipped, int *failed)
{
    int i;

    *done = *skipped = *failed = 0;
    for (i = 0; i < w->n; i++) {
        *done += w->rows[i].status == DONE;
        *skipped += w->rows[i].status == SKIPPED;
        *failed += w->rows[i].status == FAILED;
    }
}

static void put_page(FILE *f, const webreport *w)
{
    char stamp[64];
    time_t t = time(NULL);
    struct tm tm;
    int i, done, skipped, failed;

    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    count(w, &done, &skipped, &failed);
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n", f);
    fprintf(f,
            "<title>samsep report: %d input%s</title>\n<style>%s</style>\n</head>\n"
            "<body>\n<h1>samsep report</h1>\n<p class=\"summary\">engine <b>",
            w->n, w->n == 1 ? "" : "s", page_style);
    put_text(f, w->engine);
    fputs("</b>, prompt <b>", f);
    put_text(f, w->prompt);
    fprintf(f, "</b> &middot; %d input%s: %d done, %d skipped, %d failed &middot; ", w->n,
            w->n == 1 ? "" : "s", done, skipped, failed);
    if (w->exit_code < 0)
        fprintf(f, "<span class=\"state\">running</span>, updated %s (reload for more)",
                stamp);
    else
        fprintf(f, "<span class=\"state\">finished</span> %s, exit status %d", stamp,
                w->exit_code);
    fputs("</p>\n<table>\n<thead><tr><th>input</th><th>spectrograms: mixture, target, "
          "residual</th><th>listen</th></tr></thead>\n<tbody>\n",
          f);
    for (i = 0; i < w->n; i++)
        put_row(f, &w->rows[i], i);
    fputs("</tbody>\n</table>\n</body>\n</html>\n", f);
}

/* Write index.html under a temporary name, then rename it into place. */
static void write_page(webreport *w, int always)
{
    char tmp[PATH_MAX], final[PATH_MAX];
    double t0 = now();
    FILE *f;
    int ok;

    if (!always && t0 - w->last_end < 9 * w->last_cost)
        return;
    snprintf(final, sizeof final, "%s/index.html", w->dir);
    snprintf(tmp, sizeof tmp, "%s/.index.html.tmp-%ld", w->dir, (long)getpid());
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "samsep: warning: %s: %s; the report is not updated\n", tmp,
                strerror(errno));
        return;
    }
    put_page(f, w);
    ok = !ferror(f);
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, final) != 0) {
        fprintf(stderr, "samsep: warning: %s: cannot write the report page: %s\n", final,
                strerror(errno));
        remove(tmp);
    }
    w->last_end = now();
    w->last_cost = w->last_end - t0;
}

/* ---- pictures --------------------------------------------------------- */

static int find_helper(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

    if (n > 0) {
        char *slash;

        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash != NULL) {
            *slash = '\0';
            if (snprintf(out, len, "%s/%s", self, PICTURE_PROGRAM) < (int)len &&
                access(out, X_OK) == 0)
                return 0;
        }
    }
    if (snprintf(out, len, "%s/%s", SAMSEP_LIBEXECDIR, PICTURE_PROGRAM) < (int)len &&
        access(out, X_OK) == 0)
        return 0;
    return -1;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* mkdir -p of the folder of `path`. */
static int make_parent(const char *path)
{
    char dir[PATH_MAX];
    char *slash;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        return 0;
    *slash = '\0';
    return samsep_make_dirs(dir);
}

/* Run samsep-picture on the grid; NULL, or why it failed. */
static const char *draw(webreport *w, row *r, const samsep_report *rep)
{
    static char why[PATH_MAX + 256];
    char out[PATH_MAX], cols[16], rows[16], rate[16], frames[32], sub[512];
    char *argv[16];
    posix_spawn_file_actions_t fa;
    int sv[2], i, status, rc, ok;
    int used = spectro_columns(w->grid), nrows = spectro_rows(w->grid);
    pid_t pid;

    if (used <= 0)
        return "no audio was seen";
    if (snprintf(out, sizeof out, "%s/%s", w->dir, r->picture) >= (int)sizeof out ||
        make_parent(out) != 0) {
        snprintf(why, sizeof why, "cannot make the folder of %s", r->picture);
        return why;
    }
    snprintf(cols, sizeof cols, "%d", used);
    snprintf(rows, sizeof rows, "%d", nrows);
    snprintf(rate, sizeof rate, "%d", spectro_rate(w->grid));
    snprintf(frames, sizeof frames, "%lld", (long long)spectro_frames(w->grid));
    snprintf(sub, sizeof sub,
             "engine %s \xc2\xb7 prompt \"%s\" \xc2\xb7 %d Hz, %d ch "
             "\xc2\xb7 %.1f s",
             w->engine, w->prompt, rep->sample_rate, rep->channels,
             rep->sample_rate > 0 ? (double)rep->frames / rep->sample_rate : 0.0);
    i = 0;
    argv[i++] = (char *)PICTURE_PROGRAM;
    argv[i++] = (char *)"--out";
    argv[i++] = out;
    argv[i++] = (char *)"--columns";
    argv[i++] = cols;
    argv[i++] = (char *)"--rows";
    argv[i++] = rows;
    argv[i++] = (char *)"--rate";
    argv[i++] = rate;
    argv[i++] = (char *)"--frames";
    argv[i++] = frames;
    argv[i++] = (char *)"--title";
    argv[i++] = (char *)r->it->input;
    argv[i++] = (char *)"--subtitle";
    argv[i++] = sub;
    argv[i] = NULL;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        snprintf(why, sizeof why, "socketpair: %s", strerror(errno));
        return why;
    }
    /* The helper reads the cells on its stdin; its stdout would mix with
     * --json events, so it goes to stderr. */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    rc = posix_spawn(&pid, w->helper, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        snprintf(why, sizeof why, "cannot run %s: %s", w->helper, strerror(rc));
        return why;
    }
    ok = 1;
    for (i = 0; i < SPECTRO_SIGNALS && ok; i++)
        ok = send_all(sv[0], spectro_cells(w->grid, i), (size_t)used * (size_t)nrows) ==
             0;
    close(sv[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            status = -1;
            break;
        }
    if (ok && status == 0)
        return NULL;
    snprintf(why, sizeof why, "%s %s", PICTURE_PROGRAM,
             status != -1 && WIFEXITED(status) ? "failed" : "did not finish");
    return why;
}

/* ---- the report ------------------------------------------------------- */

static void init_row(webreport *w, row *r, const samsep_item *it)
{
    r->it = it;
    r->href_in = href(w, it->input);
    switch (it->action) {
    case SAMSEP_ACTION_PROCESS: r->status = PENDING; break;
    case SAMSEP_ACTION_SKIP: r->status = SKIPPED; break;
    default: r->status = FAILED; break;
    }
    r->why = dup_or_null(it->reason);
    if (it->target != NULL) {
        r->picture = picture_name(w->outdir, it->target);
        if (r->picture != NULL && r->status == SKIPPED) {
            /* finished by an earlier run: what it left is still worth showing */
            r->has_picture = exists(w->dir, r->picture);
            r->href_target = href(w, it->target);
            r->href_residual = href(w, it->residual);
        }
    }
}

webreport *webreport_open(const webreport_settings *s, const samsep_batch *b, char *err,
                          size_t errlen)
{
    char helper[PATH_MAX];
    webreport *w;
    int i;

    if (find_helper(helper, sizeof helper) != 0) {
        snprintf(err, errlen,
                 "cannot find %s (looked beside samsep and in %s); it "
                 "draws the report's pictures",
                 PICTURE_PROGRAM, SAMSEP_LIBEXECDIR);
        return NULL;
    }
    if (samsep_make_dirs(s->dir) != 0) {
        snprintf(err, errlen, "%s: cannot create the report folder: %s", s->dir,
                 strerror(errno));
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->exit_code = -1;
    w->current = -1;
    w->n = samsep_batch_count(b);
    w->dir = real(s->dir);
    w->outdir = strdup(s->outdir);
    w->engine = strdup(s->engine);
    w->prompt = strdup(s->prompt);
    w->grid = spectro_new(GRID_COLUMNS, GRID_ROWS);
    w->rows = calloc((size_t)(w->n > 0 ? w->n : 1), sizeof *w->rows);
    if (w->dir == NULL || w->outdir == NULL || w->engine == NULL || w->prompt == NULL ||
        w->grid == NULL || w->rows == NULL) {
        snprintf(err, errlen, "%s: %s", s->dir,
                 w->dir == NULL ? strerror(errno) : "out of memory");
        webreport_close(w, -2);
        return NULL;
    }
    memcpy(w->helper, helper, sizeof helper);
    for (i = 0; i < w->n; i++)
        init_row(w, &w->rows[i], samsep_batch_item(b, i));
    write_page(w, 1);
    return w;
}

/* The row of `input`: results come in plan order, so look from the last. */
static row *find(webreport *w, const char *input)
{
    int k;

    for (k = 0; k < w->n; k++) {
        int i = (w->cursor + k) % w->n;

        if (w->rows[i].it->input == input || strcmp(w->rows[i].it->input, input) == 0) {
            w->cursor = i;
            return &w->rows[i];
        }
    }
    return NULL;
}

void webreport_watch(webreport *w, samsep_job *job)
{
    if (w == NULL)
        return;
    spectro_reset(w->grid);
    job->tap = spectro_tap;
    job->tap_user = w->grid;
}

void webreport_started(webreport *w, const char *input)
{
    row *r;

    if (w == NULL || (r = find(w, input)) == NULL)
        return;
    r->status = RUNNING;
    free(r->why);
    r->why = NULL;
    w->current = (int)(r - w->rows);
    write_page(w, 0);
}

void webreport_done(webreport *w, const char *input, const samsep_report *rep)
{
    const char *why;
    row *r;

    if (w == NULL || (r = find(w, input)) == NULL)
        return;
    r->status = DONE;
    r->audio_s = rep->sample_rate > 0 ? (double)rep->frames / rep->sample_rate : 0;
    r->speed = rep->seconds > 0 ? r->audio_s / rep->seconds : 0;
    r->clamped = (long long)(rep->clipped_target + rep->clipped_residual);
    r->repaired = (long long)rep->nonfinite;
    free(r->href_target);
    free(r->href_residual);
    r->href_target = href(w, r->it->target);
    r->href_residual = href(w, r->it->residual);
    spectro_finish(w->grid);
    why = r->picture != NULL ? draw(w, r, rep) : "no output name";
    free(r->picture_error);
    r->picture_error = dup_or_null(why);
    r->has_picture = why == NULL;
    if (why != NULL)
        fprintf(stderr, "samsep: warning: %s: no picture for the report: %s\n",
                r->it->input, why);
    w->current = -1;
    write_page(w, 0);
}

static void set_result(webreport *w, const char *input, int status, const char *why)
{
    row *r;

    if (w == NULL || (r = find(w, input)) == NULL)
        return;
    r->status = status;
    free(r->why);
    r->why = dup_or_null(why);
    if ((int)(r - w->rows) == w->current) {
        spectro_reset(w->grid);
        w->current = -1;
    }
    write_page(w, 0);
}

void webreport_skipped(webreport *w, const char *input, const char *reason)
{
    set_result(w, input, SKIPPED, reason);
}

void webreport_failed(webreport *w, const char *input, const char *reason)
{
    set_result(w, input, FAILED, reason);
}

void webreport_close(webreport *w, int exit_code)
{
    int i;

    if (w == NULL)
        return;
    if (exit_code >= 0 && w->dir != NULL) {
        for (i = 0; i < w->n; i++) {
            if (w->rows[i].status == RUNNING)
                w->rows[i].status = INTERRUPTED;
            else if (w->rows[i].status == PENDING)
                w->rows[i].status = NOT_REACHED;
        }
        w->exit_code = exit_code;
        write_page(w, 1);
    }
    for (i = 0; w->rows != NULL && i < w->n; i++) {
        row *r = &w->rows[i];

        free(r->why);
        free(r->picture);
        free(r->picture_error);
        free(r->href_in);
        free(r->href_target);
        free(r->href_residual);
    }
    free(w->rows);
    spectro_free(w->grid);
    free(w->dir);
    free(w->outdir);
    free(w->engine);
    free(w->prompt);
    free(w);
}
