/*
 * run.c - one run of the program: the plan, the engine, the batch.
 *
 * The library plans the batch (folder collisions, own outputs, duplicates,
 * names, resume) before anything is created; this file shows the plan,
 * applies the runaway guard, opens the engine only when there is work for
 * it, then claims and processes one item at a time, reporting each result
 * as it comes, in words or as JSON lines, and in the run's log. A failing
 * input is one failure and the next one is processed. Interactive mode
 * reuses the plan, the engine check and the counts (cli.h).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"
#include "report.h"
#include "samsep.h"
#include "stop.h"
#include "values.h"
#include "webreport.h"

/* Where the library's messages go: the terminal up to the level -q/-v
 * chose; the run's log (once open; kept until then) up to info, so that a
 * worker's stderr always reaches the log. */
#define EARLY_MAX 128
#define EARLY_LINE 400

typedef struct log_sink {
    int terminal;                      /* most detailed level shown on stderr */
    FILE *file;                        /* the run's log, or NULL */
    char early[EARLY_MAX][EARLY_LINE]; /* level digit, then the message */
    int n_early;
} log_sink;

static log_sink sink;

static const char *level_name(int level)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };

    return level >= 0 && level <= 3 ? names[level] : "log";
}

static void log_message(void *user, int level, const char *msg)
{
    log_sink *s = user;

    if (level <= s->terminal)
        fprintf(stderr, "samsep: %s: %s\n", level_name(level), msg);
    if (level < 0 || level > SAMSEP_LOG_INFO)
        return;
    if (s->file != NULL)
        report_message(s->file, level_name(level), msg);
    else if (s->n_early < EARLY_MAX)
        snprintf(s->early[s->n_early++], EARLY_LINE, "%d%s", level, msg);
}

/* Send the messages kept so far to `file` (NULL: drop them); later ones go
 * straight to it. */
static void log_sink_attach(log_sink *s, FILE *file)
{
    int i;

    for (i = 0; i < s->n_early && file != NULL; i++)
        report_message(file, level_name(s->early[i][0] - '0'), s->early[i] + 1);
    s->n_early = 0;
    s->file = file;
}

void cli_log_start(int verbosity)
{
    sink.terminal = verbosity < 0    ? SAMSEP_LOG_ERROR
                    : verbosity == 0 ? SAMSEP_LOG_WARN
                    : verbosity == 1 ? SAMSEP_LOG_INFO
                                     : SAMSEP_LOG_DEBUG;
    samsep_set_log(log_message, &sink,
                   sink.terminal > SAMSEP_LOG_INFO ? sink.terminal : SAMSEP_LOG_INFO);
}

int cli_check_engine(const options *o, char *err, size_t errlen)
{
    samsep_engine_config cfg = cli_engine_config(o);
    const char *const *prompts;
    int n, i, j, rc = SAMSEP_OK;

    prompts = cli_prompts(o, &n);
    for (i = 0; i < n && rc == SAMSEP_OK; i++) {
        for (j = 0; j < i; j++)
            if (strcmp(prompts[i], prompts[j]) == 0) {
                snprintf(err, errlen, "the prompt \"%s\" is given twice (-p)",
                         prompts[i]);
                return SAMSEP_ERR_INVALID;
            }
        cfg.prompt = prompts[i];
        rc = samsep_engine_check(o->engine, &cfg, err, errlen);
    }
    return rc;
}

int cli_open_engine(const options *o, samsep_engine **engine, char *err, size_t errlen)
{
    samsep_engine_config cfg = cli_engine_config(o);
    int rc;

    const char *const *prompts;
    int n;

    prompts = cli_prompts(o, &n);
    rc = samsep_engine_open_prompts(o->engine, &cfg, prompts, n, engine, err, errlen);
    if (rc == SAMSEP_OK &&
        value_check_chunking(o, o->engine, samsep_engine_get_info(*engine), err,
                             errlen) != 0) {
        samsep_engine_close(*engine);
        *engine = NULL;
        rc = SAMSEP_ERR_INVALID;
    }
    return rc;
}

/* --channels as a word, for the settings and the log; unset is keep. */
static const char *channels_name(const options *o)
{
    return VALUE_CHANNELS[o->channels > 0 ? o->channels - 1 : 0];
}

/* ";spans=+1:2,-3:4" onto the settings the outputs depend on (nothing
 * without spans, so that earlier outputs stay current). */
static void append_spans(char *buf, size_t len, const options *o)
{
    int i;

    for (i = 0; i < o->n_spans; i++) {
        size_t n = strlen(buf);

        snprintf(buf + n, len - n, "%s%c%.17g:%.17g", i == 0 ? ";spans=" : ",",
                 o->spans[i].sign, o->spans[i].start, o->spans[i].end);
    }
}

int cli_plan(const options *o, samsep_batch **batch, char *err, size_t errlen)
{
    samsep_batch_config bc;
    char settings[4 * PATH_MAX];
    int exec = strcasecmp(o->engine, "exec") == 0, n;
    const char *const *prompts = cli_prompts(o, &n);

    /* what the outputs depend on; for exec, the worker's command line; bf16
     * only when asked (fp32 outputs made before the option stay current).
     * With several prompts the plan adds each item's own (so that adding a
     * prompt leaves the others' outputs current). */
    snprintf(settings, sizeof settings,
             "engine=%s;prompt=%s;model=%s;t5=%s;residual=%d;seed=%llu;chunk=%.6g;"
             "overlap=%.6g;format=%d;subtype=%d;channels=%s%s%s%s",
             o->engine, n > 1 ? "" : o->prompt, o->model != NULL ? o->model : "",
             o->t5 != NULL ? o->t5 : "", o->residual, o->seed, o->chunk, o->overlap,
             o->format, o->subtype, channels_name(o),
             o->precision == 2 ? ";precision=bf16" : "", exec ? ";worker=" : "",
             exec && o->worker != NULL ? o->worker : "");
    append_spans(settings, sizeof settings, o);
    memset(&bc, 0, sizeof bc);
    bc.inputs = o->inputs;
    bc.n_inputs = o->n_inputs;
    bc.outdir = o->outdir;
    bc.recursive = o->recursive;
    bc.skip_suffixes = (const char *const *)o->skip_suffixes;
    bc.n_skip_suffixes = o->n_skip_suffixes;
    bc.format = o->format;
    bc.overwrite = o->overwrite;
    bc.shard_index = o->shard_index;
    bc.shard_count = o->shard_count;
    bc.settings = settings;
    return samsep_batch_plan_prompts(&bc, prompts, n, batch, err, errlen);
}

void cli_plan_counts(const samsep_batch *b, int *process, int *skip, int *fail)
{
    int i;

    *process = *skip = *fail = 0;
    for (i = 0; i < samsep_batch_count(b); i++) {
        int a = samsep_batch_item(b, i)->action;

        *process += a == SAMSEP_ACTION_PROCESS;
        *skip += a == SAMSEP_ACTION_SKIP;
        *fail += a == SAMSEP_ACTION_FAIL;
    }
}

/* Ask a yes/no question on the terminal; default no. */
int cli_confirm(const char *question)
{
    char line[64];

    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    if (fgets(line, sizeof line, stdin) == NULL)
        return 0;
    return line[0] == 'y' || line[0] == 'Y';
}

static void write_log_header(FILE *log, const options *o, int argc, char **argv)
{
    int i;

    fprintf(log, "samsep %s\n", samsep_version());
    fprintf(log, "command:");
    for (i = 0; i < argc; i++)
        fprintf(log, " %s", argv[i]);
    fprintf(log,
            "\nsettings: engine=%s prompt=\"%s\" model=%s chunk=%g overlap=%g "
            "format=%d subtype=%d channels=%s recursive=%d overwrite=%d max_files=%d "
            "shard=%d/%d\n",
            o->engine, o->prompt, o->model != NULL ? o->model : "-", o->chunk, o->overlap,
            o->format, o->subtype, channels_name(o), o->recursive, o->overwrite,
            o->max_files, o->shard_index, o->shard_count);
    for (i = 1; i < o->n_prompts; i++)
        fprintf(log, "prompt: \"%s\"\n", o->prompts[i]);
    if (strcasecmp(o->engine, "exec") == 0 && o->worker != NULL)
        fprintf(log, "worker: %s\n", o->worker);
    for (i = 0; i < o->n_spans; i++)
        fprintf(log, "span: %c%g:%g\n", o->spans[i].sign, o->spans[i].start,
                o->spans[i].end);
    fprintf(log, "output: %s\n", o->outdir);
    for (i = 0; i < o->n_inputs; i++)
        fprintf(log, "input: %s\n", o->inputs[i]);
    fflush(log);
}

static int default_log_dir(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        snprintf(buf, len, "%s/samsep/logs", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(buf, len, "%s/.local/state/samsep/logs", home);
    else
        return -1;
    return 0;
}

/* Where the items of one input end: i + 1, or past the consecutive items
 * of its other prompts in a several-prompt plan. */
static int group_end(const samsep_batch *b, int i)
{
    const samsep_item *first = samsep_batch_item(b, i), *it;
    int j = i + 1;

    if (first->prompt == NULL)
        return j;
    while ((it = samsep_batch_item(b, j)) != NULL && it->prompt != NULL &&
           it->prompt_index > samsep_batch_item(b, j - 1)->prompt_index &&
           strcmp(it->input, first->input) == 0)
        j++;
    return j;
}

typedef struct tally {
    int done, skipped, failed, index, total;
} tally;

/* Claim the items [i, end) of one input that are to be processed: their
 * outputs go into out[] at their prompt's index (NULL left for the
 * others) and their claims into claims[]. Returns how many were claimed. */
static int claim_group(samsep_batch *b, int i, int end, samsep_output_pair *out,
                       samsep_claim **claims, reporter *rep, tally *t)
{
    char err[SAMSEP_MSG_MAX];
    int k, n = 0;

    for (k = i; k < end; k++) {
        const samsep_item *it = samsep_batch_item(b, k);
        int rc;

        claims[k - i] = NULL;
        if (it->action == SAMSEP_ACTION_SKIP) {
            t->skipped++;
            continue;
        }
        if (it->action == SAMSEP_ACTION_FAIL) {
            report_failed(rep, it->input, it->reason);
            t->failed++;
            continue;
        }
        rc = samsep_batch_claim(b, k, &claims[k - i], err, sizeof err);
        if (rc == SAMSEP_ERR_BUSY || rc == SAMSEP_ERR_EMPTY) {
            report_skipped(rep, it->input, err);
            t->skipped++;
        } else if (rc != SAMSEP_OK) {
            report_failed(rep, it->input, err);
            t->failed++;
        } else {
            out[it->prompt_index].target_path = it->target;
            out[it->prompt_index].residual_path = it->residual;
            out[it->prompt_index].provenance = it->provenance;
            n++;
        }
    }
    return n;
}

/* Separate one input for its claimed items [i, end) in one pass. Returns
 * the library's status (SAMSEP_ERR_CANCELLED stops the run). */
static int run_group(const options *o, samsep_engine *engine, samsep_batch *b, int i,
                     int end, reporter *rep, tally *t)
{
    samsep_output_pair out[SAMSEP_MAX_PROMPTS];
    samsep_claim *claims[SAMSEP_MAX_PROMPTS];
    const samsep_item *first = samsep_batch_item(b, i);
    int k, claimed, rc;
    samsep_report r;
    samsep_job job;
    progress_line pl;

    memset(out, 0, sizeof out);
    claimed = claim_group(b, i, end, out, claims, rep, t);
    if (claimed == 0)
        return SAMSEP_OK;
    t->index++;
    report_start(rep, first->input);
    samsep_job_init(&job);
    job.input_path = first->input;
    job.format = o->format;
    job.subtype = o->subtype;
    job.chunk_seconds = o->chunk;
    job.overlap_seconds = o->overlap; /* < 0: the engine's choice */
    job.channels = o->channels == 2 ? SAMSEP_CHANNELS_MONO : SAMSEP_CHANNELS_KEEP;
    job.cancel = stop_flag();
    job.anchors = o->spans;
    job.n_anchors = o->n_spans;
    webreport_watch(rep->web, &job);
    memset(&pl, 0, sizeof pl);
    if (o->verbosity >= 0 && !o->json && isatty(STDERR_FILENO)) {
        pl.out = stderr;
        pl.label = strrchr(first->input, '/') != NULL ? strrchr(first->input, '/') + 1
                                                      : first->input;
        pl.index = t->index;
        pl.count = t->total;
        job.progress = progress_update;
        job.progress_user = &pl;
    }
    rc = samsep_separate_file_prompts(engine, &job, out,
                                      samsep_engine_prompt_count(engine), &r);
    if (pl.out != NULL)
        progress_clear(&pl);
    for (k = 0; k < end - i; k++)
        samsep_claim_release(claims[k]);
    if (rc == SAMSEP_ERR_CANCELLED)
        return rc;
    for (k = i; k < end; k++) {
        const samsep_item *it = samsep_batch_item(b, k);

        if (claims[k - i] == NULL)
            continue;
        if (rc != SAMSEP_OK) {
            report_failed(rep, it->input, r.message);
            t->failed++;
        } else {
            report_done(rep, it, &r);
            t->done++;
        }
    }
    return rc;
}

/* Process every planned item, the items of one input in one pass; returns
 * the exit status. */
static int run_batch(const options *o, samsep_engine *engine, samsep_batch *b,
                     reporter *rep)
{
    int i, end, n = samsep_batch_count(b), code;
    tally t;

    memset(&t, 0, sizeof t);
    for (i = 0; i < n; i = end) {
        end = group_end(b, i);
        while (i < end && samsep_batch_item(b, i)->action != SAMSEP_ACTION_PROCESS)
            i++;
        t.total += i < end;
    }
    for (i = 0; i < n && stop_signal() == 0; i = end) {
        end = group_end(b, i);
        if (run_group(o, engine, b, i, end, rep, &t) == SAMSEP_ERR_CANCELLED)
            break;
    }
    code = stop_signal() != 0 ? EXIT_SIGNAL_BASE + stop_signal()
           : t.failed > 0     ? EXIT_SOME_FAILED
                              : EXIT_ALL_DONE;
    if (stop_signal() != 0)
        report_stopped(rep, stop_reason(stop_signal()), t.done);
    else if (t.failed > 0)
        fprintf(stderr, "samsep: %d input(s) failed, %d done, %d skipped\n", t.failed,
                t.done, t.skipped);
    report_summary(rep, t.done, t.skipped, t.failed, code);
    return code;
}

/* Every planned item as the user sees it (--dry-run: all of them). */
static void show_plan(const options *o, const samsep_batch *batch, reporter *rep)
{
    int i;

    for (i = 0; i < samsep_batch_count(batch) && stop_signal() == 0; i++) {
        const samsep_item *it = samsep_batch_item(batch, i);

        report_plan(rep, it,
                    o->dry_run || (o->verbosity > 0 && it->action == SAMSEP_ACTION_SKIP));
    }
}

/* Runaway guard: more than --max-files inputs only with --yes or a yes on
 * the terminal. Returns 0 to go on, or the exit status. */
static int runaway_guard(const options *o, int n_process)
{
    char q[128];

    if (n_process <= o->max_files || o->yes)
        return 0;
    /* with several prompts every (file, prompt) pair counts */
    snprintf(q, sizeof q, "Process %d %s (more than --max-files %d)?", n_process,
             o->n_prompts > 1 ? "(file, prompt) pairs" : "files", o->max_files);
    if (isatty(STDIN_FILENO) && !o->json && cli_confirm(q))
        return 0;
    fprintf(stderr,
            "samsep: refusing to process %d %s (more than "
            "--max-files %d); nothing was written. Use --yes or a larger "
            "--max-files if this is what you want.\n",
            n_process, o->n_prompts > 1 ? "(file, prompt) pairs" : "files", o->max_files);
    return EXIT_USAGE;
}

/* The run's log: its header, then the library's messages kept so far and
 * the plan. Without one the run goes on, with a warning. */
static void open_run_log(const options *o, const samsep_batch *batch, reporter *rep,
                         int argc, char **argv)
{
    char err[SAMSEP_MSG_MAX], logpath[PATH_MAX], logdir[PATH_MAX];
    int i;

    if (o->log_dir != NULL)
        snprintf(logdir, sizeof logdir, "%s", o->log_dir);
    else if (default_log_dir(logdir, sizeof logdir) != 0)
        return;
    if (logdir[0] == '\0')
        return;
    rep->log = log_open(logdir, logpath, sizeof logpath, err, sizeof err);
    if (rep->log == NULL) {
        fprintf(stderr, "samsep: warning: %s; continuing without a log\n", err);
        return;
    }
    write_log_header(rep->log, o, argc, argv);
    log_sink_attach(&sink, rep->log);
    for (i = 0; i < samsep_batch_count(batch); i++)
        report_plan(&(reporter){ .verbosity = -1, .log = rep->log },
                    samsep_batch_item(batch, i), 0);
    if (o->verbosity > 0)
        fprintf(stderr, "samsep: log: %s\n", logpath);
}

/* Show the plan, then (unless a dry run) open the engine, the report and
 * the log and process the batch. Returns the exit status. */
static int run_plan(const options *o, samsep_batch *batch, samsep_engine **engine,
                    int argc, char **argv)
{
    reporter rep;
    char err[SAMSEP_MSG_MAX];
    int n_process, n_skip, n_fail, code;

    /* From the first line of output on, a signal or a closed output stops
     * the run cleanly (stop.c). */
    stop_catch();
    memset(&rep, 0, sizeof rep);
    rep.json = o->json;
    rep.verbosity = o->verbosity;
    cli_plan_counts(batch, &n_process, &n_skip, &n_fail);
    show_plan(o, batch, &rep);
    if (o->dry_run) {
        if (!o->json)
            printf("%d to process, %d skipped, %d failing\n", n_process, n_skip, n_fail);
        return EXIT_ALL_DONE;
    }
    if (!o->json && !o->interactive && n_skip > 0 && o->verbosity == 0)
        printf("%d input(s) skipped (see --dry-run or -v for why)\n", n_skip);
    if (runaway_guard(o, n_process) != 0)
        return EXIT_USAGE;

    /* The engine (its model) is loaded only when there is work for it. */
    if (n_process > 0 && cli_open_engine(o, engine, err, sizeof err) != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        return EXIT_USAGE;
    }
    if (o->report != NULL) {
        webreport_settings ws = { o->report, o->outdir, o->engine, o->prompt };

        rep.web = webreport_open(&ws, batch, err, sizeof err);
        if (rep.web == NULL) {
            fprintf(stderr, "samsep: %s\n", err);
            return EXIT_USAGE;
        }
    }
    open_run_log(o, batch, &rep, argc, argv);
    code = run_batch(o, *engine, batch, &rep);
    webreport_close(rep.web, code);
    log_sink_attach(&sink, NULL);
    if (rep.log != NULL)
        fclose(rep.log);
    return code;
}

/* A span that starts after the end of a file named on the command line is
 * a mistake worth stopping for (one past the end of a file found in a
 * folder is only warned about, by the library). Returns 0 or EXIT_USAGE. */
static int check_spans(const options *o)
{
    samsep_file_info info;
    struct stat st;
    char err[SAMSEP_MSG_MAX];
    int i, k;

    for (i = 0; i < o->n_inputs && o->n_spans > 0; i++) {
        if (stat(o->inputs[i], &st) != 0 || !S_ISREG(st.st_mode) ||
            samsep_probe_file(o->inputs[i], &info, err, sizeof err) != SAMSEP_OK ||
            info.frames < 0 || info.sample_rate < 1)
            continue; /* the plan says what is wrong with it */
        for (k = 0; k < o->n_spans; k++) {
            const samsep_anchor *a = &o->spans[k];
            double seconds = (double)info.frames / info.sample_rate;

            if (a->start >= seconds) {
                fprintf(stderr,
                        "samsep: --span %c%g:%g starts after the end of %s "
                        "(%.3f s long)\n",
                        a->sign, a->start, a->end, o->inputs[i], seconds);
                return EXIT_USAGE;
            }
        }
    }
    return 0;
}

int cli_run(const options *o, int argc, char **argv)
{
    samsep_engine *engine = NULL;
    samsep_batch *batch = NULL;
    char err[SAMSEP_MSG_MAX];
    int code;

    /* An unknown engine or prompt, or a model folder without its files, is
     * refused before any planning; nothing is loaded yet. */
    if (cli_check_span_engine(o) != 0 || check_spans(o) != 0)
        return EXIT_USAGE;
    if (cli_check_engine(o, err, sizeof err) != SAMSEP_OK ||
        cli_plan(o, &batch, err, sizeof err) != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        return EXIT_USAGE;
    }
    code = run_plan(o, batch, &engine, argc, argv);
    log_sink_attach(&sink, NULL);
    samsep_batch_free(batch);
    samsep_engine_close(engine);
    return code;
}
