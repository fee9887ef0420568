/*
 * samsep.c - the command-line program: a client of libsamsep, nothing more.
 *
 * Settings come from defaults, then the config file, then the flags. The
 * library plans the batch (folder collisions, own outputs, duplicates,
 * names, resume) before anything is created; this program shows the plan,
 * applies the runaway guard, then claims and processes one item at a time,
 * reporting each result as it comes, in words or as JSON lines, and in the
 * run's log. A failing input is one failure and the next one is processed.
 *
 * Exit status: 0 all done (or nothing to do), 1 some inputs failed, 2 the
 * command was unusable or refused as unsafe, 128 + N stopped by signal N
 * (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM, 141 a closed output pipe). A stop
 * asks the library to finish the current block and remove its temporaries
 * (stop.c); a second signal ends at once.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "progress.h"
#include "report.h"
#include "samsep.h"
#include "stop.h"
#include "values.h"
#include "webreport.h"

enum {
    OPT_CHUNK = 256,
    OPT_OVERLAP,
    OPT_FORMAT,
    OPT_SUBTYPE,
    OPT_MODEL,
    OPT_THREADS,
    OPT_LIST_ENGINES,
    OPT_LIST_PROMPTS,
    OPT_VERSION,
    OPT_MAX_FILES,
    OPT_OVERWRITE,
    OPT_DRY_RUN,
    OPT_JSON,
    OPT_CONFIG,
    OPT_LOG_DIR,
    OPT_SHARD,
    OPT_SKIP_SUFFIX,
    OPT_T5,
    OPT_RESIDUAL,
    OPT_SEED,
    OPT_FORMATS,
    OPT_WORKER,
    OPT_WORKER_TIMEOUT,
    OPT_WORKER_START_TIMEOUT,
    OPT_REPORT
};

#define DEFAULT_MAX_FILES 100

static void usage(FILE *f)
{
    fputs(
"Usage: samsep [OPTIONS] INPUT... -o OUTDIR     (files and/or folders)\n"
"       samsep [-i]                            interactive mode on a terminal\n"
"Isolate one sound: writes OUTDIR/<stem>_target.<ext> (the sound asked for)\n"
"and OUTDIR/<stem>_residual.<ext> (everything else) for each input.\n"
"\n"
"  -o, --output DIR       output folder; never an input folder, inside or around one\n"
"  -p, --prompt TEXT      what to isolate (default: speech)\n"
"  -e, --engine NAME      separation engine (default: dsp; see --list-engines)\n"
"      --model DIR        model folder (sam-audio: config.json, checkpoint.pt, t5/)\n"
"      --t5 DIR           text encoder folder (default: MODEL/t5)\n"
"      --residual model|subtract  sam-audio: the model's residual, or mixture - target\n"
"      --seed N           seed of the model's noise (default 0)\n"
"      --worker \"COMMAND ARGS...\"  exec: the worker program (doc/exec-protocol.md)\n"
"      --worker-timeout S  exec: seconds a chunk may take (default 600)\n"
"      --worker-start-timeout S  exec: seconds to start the worker (default 1800)\n"
"  -r, --recursive        descend into sub-folders; outputs mirror them\n"
"      --chunk SECONDS    chunk length (default: engine's, else 30)\n"
"      --overlap SECONDS  overlap between chunks (default: engine's, else 2)\n"
"      --format wav|flac  output format (default: as input if WAV/FLAC, else WAV)\n"
"      --subtype pcm16|pcm24|float   sample format (default: as input)\n"
"      --max-files N      refuse more than N inputs without --yes (default 100)\n"
"  -y, --yes              proceed past the --max-files guard\n"
"      --overwrite        redo inputs whose outputs are already current\n"
"      --shard I/N        process only share I of N (for many workers)\n"
"      --skip-suffix S    also skip inputs whose name ends in S (repeatable)\n"
"      --dry-run          print the plan (what is processed or skipped, and why)\n"
"      --json             one JSON object per event on stdout\n"
"      --config FILE      config file (default: $XDG_CONFIG_HOME/samsep/config.json)\n"
"      --log-dir DIR      where the run's log goes ($XDG_STATE_HOME/samsep/logs)\n"
"      --report DIR       write DIR/index.html: spectrograms and players per input\n"
"      --threads N        worker threads for engines that use them\n"
"  -i, --interactive      ask for folders, prompt and engine\n"
"  -q, --quiet / -v, --verbose\n"
"  -h, --help / --version / --list-engines\n"
"      --list-prompts     the words the dsp engine understands, and what each isolates\n"
"      --formats          the input formats this build reads\n"
"\n"
"dsp prompts: speech, noise, music, drums, vocals, hum (--list-prompts for all\n"
"words); sam-audio: any text, e.g. -p \"dog barking\"; exec: what the worker takes.\n"
"Exit status: 0 all done, 1 some inputs failed, 2 usage error or refused,\n"
"128+N stopped by signal N (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM, 141 closed pipe).\n",
        f);
}

/* Where the library's messages go: the terminal up to the level -q/-v
 * chose; the run's log (once open; kept until then) up to info, so that a
 * worker's stderr always reaches the log. */
#define EARLY_MAX 128
#define EARLY_LINE 400

typedef struct log_sink {
    int terminal;      /* most detailed level shown on stderr */
    FILE *file;        /* the run's log, or NULL */
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

/* A flag's value refused by values.c: say why (err); 1 when refused. */
static int refused(int rc, const char *err)
{
    if (rc != 0)
        fprintf(stderr, "samsep: %s\n", err);
    return rc != 0;
}

static int parse_value(const value_range *r, const char *s, double *out)
{
    char err[SAMSEP_MSG_MAX];

    return refused(value_from_text(r, s, out, err, sizeof err), err) ? -1 : 0;
}

static int parse_int(const value_range *r, const char *s, int *out)
{
    double v;

    if (parse_value(r, s, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

/* Returns 0 to go on, a positive exit status, or -1 for "exit 0 now". */
/* --formats: what this build reads, by library, then what it writes. */
static void print_formats(void)
{
    samsep_input_format f;
    const char *library = "";
    int i, codecs = 0, col = 0;

    printf("Inputs (%s):\n", samsep_input_libraries());
    for (i = 0; samsep_input_format_get(i, &f); i++) {
        if (strcmp(f.library, library) != 0) {
            library = f.library;
            if (strcmp(library, "libsndfile") == 0)
                printf("  through libsndfile:\n");
            else
                printf("  through FFmpeg, for what libsndfile cannot read (FFmpeg reads "
                       "more than is named here):\n");
        }
        if (strcmp(f.kind, "codec") == 0) {
            /* one list, wrapped under its heading */
            if (codecs++ == 0)
                col = printf("    audio codecs: %s", f.name);
            else if (col + 2 + (int)strlen(f.name) > 78)
                col = printf(",\n                  %s", f.name) - 2;
            else
                col += printf(", %s", f.name);
        } else
            printf("    %-28s %s\n", f.extensions, f.name);
    }
    if (codecs > 0)
        printf("\n");
    printf("  A video file's first audio stream is read; its video is ignored.\n"
           "Outputs: wav, flac (--format).\n");
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        { "output", required_argument, NULL, 'o' },
        { "prompt", required_argument, NULL, 'p' },
        { "engine", required_argument, NULL, 'e' },
        { "model", required_argument, NULL, OPT_MODEL },
        { "t5", required_argument, NULL, OPT_T5 },
        { "residual", required_argument, NULL, OPT_RESIDUAL },
        { "seed", required_argument, NULL, OPT_SEED },
        { "worker", required_argument, NULL, OPT_WORKER },
        { "worker-timeout", required_argument, NULL, OPT_WORKER_TIMEOUT },
        { "worker-start-timeout", required_argument, NULL, OPT_WORKER_START_TIMEOUT },
        { "recursive", no_argument, NULL, 'r' },
        { "chunk", required_argument, NULL, OPT_CHUNK },
        { "overlap", required_argument, NULL, OPT_OVERLAP },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "subtype", required_argument, NULL, OPT_SUBTYPE },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "max-files", required_argument, NULL, OPT_MAX_FILES },
        { "yes", no_argument, NULL, 'y' },
        { "overwrite", no_argument, NULL, OPT_OVERWRITE },
        { "shard", required_argument, NULL, OPT_SHARD },
        { "skip-suffix", required_argument, NULL, OPT_SKIP_SUFFIX },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "json", no_argument, NULL, OPT_JSON },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "log-dir", required_argument, NULL, OPT_LOG_DIR },
        { "report", required_argument, NULL, OPT_REPORT },
        { "interactive", no_argument, NULL, 'i' },
        { "list-engines", no_argument, NULL, OPT_LIST_ENGINES },
        { "list-prompts", no_argument, NULL, OPT_LIST_PROMPTS },
        { "formats", no_argument, NULL, OPT_FORMATS },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 }
    };
    char err[SAMSEP_MSG_MAX];
    int c, i;

    while ((c = getopt_long(argc, argv, "o:p:e:ryiqvh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->outdir = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'e': o->engine = optarg; break;
        case 'r': o->recursive = 1; o->set_recursive = 1; break;
        case 'y': o->yes = 1; break;
        case 'i': o->interactive = 1; break;
        case OPT_MODEL: o->model = optarg; break;
        case OPT_T5: o->t5 = optarg; break;
        case OPT_RESIDUAL:
            if (refused(value_choice_from_text("--residual", optarg, VALUE_RESIDUALS,
                                               VALUE_N_RESIDUALS, &o->residual, err,
                                               sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (refused(value_seed_from_text(optarg, &o->seed, err, sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_WORKER:
            o->worker = optarg;
            o->set_worker = 1;
            break;
        case OPT_WORKER_TIMEOUT:
            if (parse_value(&VALUE_WORKER_TIMEOUT, optarg, &o->worker_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_WORKER_START_TIMEOUT:
            if (parse_value(&VALUE_WORKER_START_TIMEOUT, optarg,
                            &o->worker_start_timeout) != 0)
                return EXIT_USAGE;
            break;
        case OPT_CHUNK:
            if (parse_value(&VALUE_CHUNK, optarg, &o->chunk) != 0)
                return EXIT_USAGE;
            o->set_chunk = 1;
            break;
        case OPT_OVERLAP:
            if (parse_value(&VALUE_OVERLAP, optarg, &o->overlap) != 0)
                return EXIT_USAGE;
            o->set_overlap = 1;
            break;
        case OPT_FORMAT:
            if (refused(value_choice_from_text("--format", optarg, VALUE_FORMATS,
                                               VALUE_N_FORMATS, &o->format, err,
                                               sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_SUBTYPE:
            if (refused(value_choice_from_text("--subtype", optarg, VALUE_SUBTYPES,
                                               VALUE_N_SUBTYPES, &o->subtype, err,
                                               sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (parse_int(&VALUE_THREADS, optarg, &o->threads) != 0)
                return EXIT_USAGE;
            o->set_threads = 1;
            break;
        case OPT_MAX_FILES:
            if (parse_int(&VALUE_MAX_FILES, optarg, &o->max_files) != 0)
                return EXIT_USAGE;
            o->set_max_files = 1;
            break;
        case OPT_OVERWRITE: o->overwrite = 1; break;
        case OPT_SHARD:
            if (refused(value_shard_from_text(optarg, &o->shard_index, &o->shard_count,
                                              err, sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_SKIP_SUFFIX:
            if (optarg[0] == '\0' || o->n_skip_suffixes >= MAX_SKIP_SUFFIXES) {
                fprintf(stderr, "samsep: --skip-suffix wants a non-empty suffix "
                        "(at most %d)\n", MAX_SKIP_SUFFIXES);
                return EXIT_USAGE;
            }
            o->skip_suffixes[o->n_skip_suffixes++] = optarg;
            break;
        case OPT_DRY_RUN: o->dry_run = 1; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_CONFIG: o->config_path = optarg; break;
        case OPT_LOG_DIR: o->log_dir = optarg; break;
        case OPT_REPORT: o->report = optarg; break;
        case OPT_LIST_ENGINES:
            for (i = 0; samsep_engine_builtin(i) != NULL; i++)
                printf("%-10s %s\n", samsep_engine_builtin(i)->name,
                       samsep_engine_builtin(i)->description != NULL
                           ? samsep_engine_builtin(i)->description : "");
            return -1;
        case OPT_LIST_PROMPTS: {
            const char *kw, *words, *what;

            for (i = 0; (kw = samsep_dsp_prompt(i, &words, &what)) != NULL; i++)
                printf("%-8s %s\n%-8s %s\n", kw, words, "", what);
            return -1;
        }
        case OPT_FORMATS:
            print_formats();
            return -1;
        case 'q': o->verbosity = -1; break;
        case 'v': o->verbosity++; break;
        case 'h': usage(stdout); return -1;
        case OPT_VERSION:
            printf("samsep %s\n", samsep_version());
            return -1;
        default:
            fputs("Try 'samsep --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    o->inputs = (const char *const *)argv + optind;
    o->n_inputs = argc - optind;
    return 0;
}

static void options_free(options *o)
{
    free(o->ask_input);
    free(o->ask_output);
    free(o->ask_prompt);
    free(o->ask_engine);
}

/* Config values for what the flags left unset. */
static void apply_config(options *o, config *cfg)
{
    int i;

    if (o->prompt == NULL)
        o->prompt = cfg->prompt;
    if (o->engine == NULL)
        o->engine = cfg->engine;
    if (o->model == NULL)
        o->model = cfg->model;
    if (o->outdir == NULL && !o->interactive)
        o->outdir = cfg->output;
    if (o->log_dir == NULL)
        o->log_dir = cfg->log_dir;
    if (o->worker == NULL)
        o->worker = cfg->worker;
    if (o->worker_timeout == 0 && cfg->has_worker_timeout)
        o->worker_timeout = cfg->worker_timeout;
    if (o->worker_start_timeout == 0 && cfg->has_worker_start_timeout)
        o->worker_start_timeout = cfg->worker_start_timeout;
    if (o->report == NULL)
        o->report = cfg->report;
    if (!o->set_chunk && cfg->has_chunk) {
        o->chunk = cfg->chunk;
        o->chunk_config = cfg->path;
    }
    if (!o->set_overlap && cfg->has_overlap) {
        o->overlap = cfg->overlap;
        o->overlap_config = cfg->path;
    }
    if (o->format == 0 && cfg->has_format)
        o->format = cfg->format;
    if (o->subtype == 0 && cfg->has_subtype)
        o->subtype = cfg->subtype;
    if (!o->set_threads && cfg->has_threads)
        o->threads = cfg->threads;
    if (!o->set_max_files && cfg->has_max_files)
        o->max_files = cfg->max_files;
    if (!o->set_recursive && cfg->has_recursive)
        o->recursive = cfg->recursive;
    for (i = 0; i < cfg->n_skip_suffixes && o->n_skip_suffixes < MAX_SKIP_SUFFIXES; i++)
        o->skip_suffixes[o->n_skip_suffixes++] = cfg->skip_suffixes[i];
    if (o->prompt == NULL)
        o->prompt = "speech";
    if (o->engine == NULL)
        o->engine = "dsp";
    if (!o->set_max_files && !cfg->has_max_files)
        o->max_files = DEFAULT_MAX_FILES;
}

static int check_settings(const options *o)
{
    char err[SAMSEP_MSG_MAX];

    if (o->format == SAMSEP_FORMAT_FLAC && o->subtype == SAMSEP_SUBTYPE_FLOAT) {
        fputs("samsep: FLAC cannot store float samples; use --subtype pcm16 or "
              "pcm24, or --format wav\n", stderr);
        return EXIT_USAGE;
    }
    if (o->set_worker && !o->interactive && strcasecmp(o->engine, "exec") != 0) {
        fprintf(stderr, "samsep: --worker is for the exec engine (-e exec), not for "
                "\"%s\"\n", o->engine);
        return EXIT_USAGE;
    }
    if (refused(value_check_chunking(o, o->engine, NULL, err, sizeof err), err))
        return EXIT_USAGE;
    if (o->outdir != NULL && o->outdir[0] == '\0') {
        fputs("samsep: the output folder (-o, or \"output\" in the config) is an "
              "empty name\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

static samsep_engine_config engine_config(const options *o)
{
    samsep_engine_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.prompt = o->prompt;
    cfg.model_path = o->model;
    cfg.threads = o->threads;
    cfg.text_encoder_path = o->t5;
    cfg.residual = o->residual;
    cfg.seed = o->seed;
    cfg.worker = o->worker;
    cfg.worker_timeout = o->worker_timeout;
    cfg.worker_start_timeout = o->worker_start_timeout;
    cfg.cancel = stop_flag();
    return cfg;
}

int cli_check_engine(const options *o, char *err, size_t errlen)
{
    samsep_engine_config cfg = engine_config(o);

    return samsep_engine_check(o->engine, &cfg, err, errlen);
}

int cli_open_engine(const options *o, samsep_engine **engine, char *err, size_t errlen)
{
    samsep_engine_config cfg = engine_config(o);
    int rc;

    rc = samsep_engine_open(o->engine, &cfg, engine, err, errlen);
    if (rc == SAMSEP_OK &&
        value_check_chunking(o, o->engine, samsep_engine_get_info(*engine), err,
                             errlen) != 0) {
        samsep_engine_close(*engine);
        *engine = NULL;
        rc = SAMSEP_ERR_INVALID;
    }
    return rc;
}

int cli_plan(const options *o, samsep_batch **batch, char *err, size_t errlen)
{
    samsep_batch_config bc;
    char settings[4 * PATH_MAX];
    int exec = strcasecmp(o->engine, "exec") == 0;

    /* what the outputs depend on; for exec, the worker's command line */
    snprintf(settings, sizeof settings,
             "engine=%s;prompt=%s;model=%s;t5=%s;residual=%d;seed=%llu;chunk=%.6g;"
             "overlap=%.6g;format=%d;subtype=%d%s%s",
             o->engine, o->prompt, o->model != NULL ? o->model : "",
             o->t5 != NULL ? o->t5 : "", o->residual, o->seed, o->chunk, o->overlap,
             o->format, o->subtype, exec ? ";worker=" : "",
             exec && o->worker != NULL ? o->worker : "");
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
    return samsep_batch_plan(&bc, batch, err, errlen);
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
    fprintf(log, "\nsettings: engine=%s prompt=\"%s\" model=%s chunk=%g overlap=%g "
            "format=%d subtype=%d recursive=%d overwrite=%d max_files=%d shard=%d/%d\n",
            o->engine, o->prompt, o->model != NULL ? o->model : "-", o->chunk,
            o->overlap, o->format, o->subtype, o->recursive, o->overwrite,
            o->max_files, o->shard_index, o->shard_count);
    if (strcasecmp(o->engine, "exec") == 0 && o->worker != NULL)
        fprintf(log, "worker: %s\n", o->worker);
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

/* Process every planned item; returns the exit status. */
static int run_batch(const options *o, samsep_engine *engine, samsep_batch *b,
                     reporter *rep)
{
    int i, n = samsep_batch_count(b), done = 0, skipped = 0, failed = 0, code;
    int total = 0, index = 0;
    char err[SAMSEP_MSG_MAX];

    for (i = 0; i < n; i++)
        total += samsep_batch_item(b, i)->action == SAMSEP_ACTION_PROCESS;
    for (i = 0; i < n && stop_signal() == 0; i++) {
        const samsep_item *it = samsep_batch_item(b, i);
        samsep_claim *claim = NULL;
        samsep_report r;
        samsep_job job;
        progress_line pl;
        int rc;

        if (it->action == SAMSEP_ACTION_SKIP) {
            skipped++;
            continue;
        }
        if (it->action == SAMSEP_ACTION_FAIL) {
            report_failed(rep, it->input, it->reason);
            failed++;
            continue;
        }
        index++;
        rc = samsep_batch_claim(b, i, &claim, err, sizeof err);
        if (rc == SAMSEP_ERR_BUSY || rc == SAMSEP_ERR_EMPTY) {
            report_skipped(rep, it->input, err);
            skipped++;
            continue;
        }
        if (rc != SAMSEP_OK) {
            report_failed(rep, it->input, err);
            failed++;
            continue;
        }
        report_start(rep, it->input);
        samsep_job_init(&job);
        job.input_path = it->input;
        job.target_path = it->target;
        job.residual_path = it->residual;
        job.format = o->format;
        job.subtype = o->subtype;
        job.chunk_seconds = o->chunk;
        job.overlap_seconds = o->overlap; /* < 0: the engine's choice */
        job.cancel = stop_flag();
        job.provenance = it->provenance;
        webreport_watch(rep->web, &job);
        memset(&pl, 0, sizeof pl);
        if (o->verbosity >= 0 && !o->json && isatty(STDERR_FILENO)) {
            pl.out = stderr;
            pl.label = strrchr(it->input, '/') != NULL ? strrchr(it->input, '/') + 1
                                                       : it->input;
            pl.index = index;
            pl.count = total;
            job.progress = progress_update;
            job.progress_user = &pl;
        }
        rc = samsep_separate_file(engine, &job, &r);
        if (pl.out != NULL)
            progress_clear(&pl);
        samsep_claim_release(claim);
        if (rc == SAMSEP_ERR_CANCELLED)
            break;
        if (rc != SAMSEP_OK) {
            report_failed(rep, it->input, r.message);
            failed++;
            continue;
        }
        report_done(rep, it, &r);
        done++;
    }
    code = stop_signal() != 0 ? EXIT_SIGNAL_BASE + stop_signal()
           : failed > 0 ? EXIT_SOME_FAILED : EXIT_ALL_DONE;
    if (stop_signal() != 0)
        report_stopped(rep, stop_reason(stop_signal()), done);
    else if (failed > 0)
        fprintf(stderr, "samsep: %d input(s) failed, %d done, %d skipped\n", failed,
                done, skipped);
    report_summary(rep, done, skipped, failed, code);
    return code;
}

int main(int argc, char **argv)
{
    options o;
    config cfg;
    samsep_engine *engine = NULL;
    samsep_batch *batch = NULL;
    reporter rep;
    char err[SAMSEP_MSG_MAX], logpath[PATH_MAX], logdir[PATH_MAX];
    const char *config_path;
    int rc, i, n_process, n_skip, n_fail, code;

    memset(&o, 0, sizeof o);
    o.overlap = -1;
    rc = parse_options(argc, argv, &o);
    if (rc < 0)
        return EXIT_ALL_DONE;
    if (rc != 0)
        return rc;
    if (argc == 1 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        o.interactive = 1;
    sink.terminal = o.verbosity < 0 ? SAMSEP_LOG_ERROR
                    : o.verbosity == 0 ? SAMSEP_LOG_WARN
                    : o.verbosity == 1 ? SAMSEP_LOG_INFO : SAMSEP_LOG_DEBUG;
    samsep_set_log(log_message, &sink,
                   sink.terminal > SAMSEP_LOG_INFO ? sink.terminal : SAMSEP_LOG_INFO);

    config_path = o.config_path != NULL ? o.config_path : config_default_path();
    if (config_load(config_path, o.config_path != NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "samsep: %s\n", err);
        return EXIT_USAGE;
    }
    apply_config(&o, &cfg);
    rc = check_settings(&o);
    if (rc == 0 && o.interactive) {
        rc = interactive_ask(&o, &cfg, config_path);
    } else if (rc == 0) {
        if (o.n_inputs < 1) {
            fputs("samsep: no inputs; give files or folders (or run samsep with no "
                  "arguments on a terminal)\n", stderr);
            usage(stderr);
            rc = EXIT_USAGE;
        } else if (o.outdir == NULL) {
            fputs("samsep: no output folder; give one with -o DIR\n", stderr);
            rc = EXIT_USAGE;
        }
    }
    if (rc != 0) {
        config_free(&cfg);
        options_free(&o);
        return rc;
    }

    /* An unknown engine or prompt, or a model folder without its files, is
     * refused before any planning; nothing is loaded yet. */
    if (cli_check_engine(&o, err, sizeof err) != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        config_free(&cfg);
        options_free(&o);
        return EXIT_USAGE;
    }
    rc = cli_plan(&o, &batch, err, sizeof err);
    if (rc != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        config_free(&cfg);
        options_free(&o);
        return EXIT_USAGE;
    }

    /* From the first line of output on, a signal or a closed output stops
     * the run cleanly (stop.c). */
    stop_catch();
    memset(&rep, 0, sizeof rep);
    rep.json = o.json;
    rep.verbosity = o.verbosity;
    cli_plan_counts(batch, &n_process, &n_skip, &n_fail);
    for (i = 0; i < samsep_batch_count(batch) && stop_signal() == 0; i++) {
        const samsep_item *it = samsep_batch_item(batch, i);

        report_plan(&rep, it, o.dry_run || (o.verbosity > 0 &&
                                            it->action == SAMSEP_ACTION_SKIP));
    }
    if (o.dry_run) {
        if (!o.json)
            printf("%d to process, %d skipped, %d failing\n", n_process, n_skip, n_fail);
        code = EXIT_ALL_DONE;
        goto out;
    }
    if (!o.json && !o.interactive && n_skip > 0 && o.verbosity == 0)
        printf("%d input(s) skipped (see --dry-run or -v for why)\n", n_skip);

    /* Runaway guard. */
    if (n_process > o.max_files && !o.yes) {
        char q[128];

        snprintf(q, sizeof q, "Process %d files (more than --max-files %d)?",
                 n_process, o.max_files);
        if (!(isatty(STDIN_FILENO) && !o.json && cli_confirm(q))) {
            fprintf(stderr, "samsep: refusing to process %d files (more than "
                    "--max-files %d); nothing was written. Use --yes or a larger "
                    "--max-files if this is what you want.\n", n_process, o.max_files);
            code = EXIT_USAGE;
            goto out;
        }
    }

    /* The engine (its model) is loaded only when there is work for it. */
    if (n_process > 0 && cli_open_engine(&o, &engine, err, sizeof err) != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        code = EXIT_USAGE;
        goto out;
    }

    if (o.report != NULL) {
        webreport_settings ws = { o.report, o.outdir, o.engine, o.prompt };

        rep.web = webreport_open(&ws, batch, err, sizeof err);
        if (rep.web == NULL) {
            fprintf(stderr, "samsep: %s\n", err);
            code = EXIT_USAGE;
            goto out;
        }
    }

    /* The run's log. */
    if (o.log_dir != NULL)
        snprintf(logdir, sizeof logdir, "%s", o.log_dir);
    else if (default_log_dir(logdir, sizeof logdir) != 0)
        logdir[0] = '\0';
    if (logdir[0] != '\0') {
        rep.log = log_open(logdir, logpath, sizeof logpath, err, sizeof err);
        if (rep.log == NULL)
            fprintf(stderr, "samsep: warning: %s; continuing without a log\n", err);
        else {
            write_log_header(rep.log, &o, argc, argv);
            log_sink_attach(&sink, rep.log);
            for (i = 0; i < samsep_batch_count(batch); i++)
                report_plan(&(reporter){ .verbosity = -1, .log = rep.log }, samsep_batch_item(batch, i), 0);
            if (o.verbosity > 0)
                fprintf(stderr, "samsep: log: %s\n", logpath);
        }
    }

    code = run_batch(&o, engine, batch, &rep);
    webreport_close(rep.web, code);
    log_sink_attach(&sink, NULL);
    if (rep.log != NULL)
        fclose(rep.log);

out:
    log_sink_attach(&sink, NULL);
    samsep_batch_free(batch);
    samsep_engine_close(engine);
    config_free(&cfg);
    options_free(&o);
    if (stop_signal() != 0)
        stop_exit(stop_signal());
    return code;
}
