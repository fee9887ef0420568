/*
 * samsep.c - the command-line program: a client of libsamsep, nothing more.
 *
 * It parses options, opens the engine once, and for each input file builds
 * the two output names <stem>_target.<ext> and <stem>_residual.<ext> in the
 * output folder and calls samsep_separate_file(). A failing input is
 * reported and the next one is processed; the exit status says whether all
 * went well (0), some inputs failed (1), the command was unusable (2) or the
 * run was interrupted (130). Ctrl-C asks the library to stop after the
 * current block and remove its temporaries; a second Ctrl-C ends at once.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"
#include "samsep.h"

enum {
    EXIT_ALL_DONE = 0,
    EXIT_SOME_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_INTERRUPTED = 130
};

enum {
    OPT_CHUNK = 256,
    OPT_OVERLAP,
    OPT_FORMAT,
    OPT_SUBTYPE,
    OPT_MODEL,
    OPT_THREADS,
    OPT_LIST_ENGINES,
    OPT_VERSION
};

typedef struct options {
    const char *outdir;
    const char *prompt;
    const char *engine;
    const char *model;
    double chunk;   /* 0: engine default */
    double overlap; /* < 0: engine default */
    int format;
    int subtype;
    int threads;
    int verbosity;  /* -1 quiet, 0 normal, 1+ verbose */
} options;

static volatile int interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1; /* SA_RESETHAND: the next Ctrl-C kills at once */
}

static void usage(FILE *f)
{
    fputs(
"Usage: samsep [OPTIONS] FILE... -o OUTDIR\n"
"Isolate one sound: writes OUTDIR/<stem>_target.<ext> (the sound asked for)\n"
"and OUTDIR/<stem>_residual.<ext> (everything else) for each FILE.\n"
"\n"
"  -o, --output DIR       output folder (created if missing)\n"
"  -p, --prompt TEXT      what to isolate (default: speech)\n"
"  -e, --engine NAME      separation engine (default: dsp; see --list-engines)\n"
"      --model PATH       model folder, for engines that need one\n"
"      --chunk SECONDS    chunk length (default: engine's, else 30)\n"
"      --overlap SECONDS  overlap between chunks (default: engine's, else 2)\n"
"      --format wav|flac  output format (default: as input if WAV/FLAC, else WAV)\n"
"      --subtype pcm16|pcm24|float\n"
"                         sample format (default: as input, else float/pcm24)\n"
"      --threads N        worker threads for engines that use them\n"
"      --list-engines     list engines and exit\n"
"  -q, --quiet            only errors\n"
"  -v, --verbose          more detail\n"
"  -h, --help             this help\n"
"      --version          version\n"
"\n"
"dsp prompts: speech (voice), noise.\n"
"Exit status: 0 all done, 1 some inputs failed, 2 usage error, 130 interrupted.\n",
        f);
}

static void log_to_stderr(void *user, int level, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };

    (void)user;
    fprintf(stderr, "samsep: %s: %s\n",
            level >= 0 && level <= 3 ? names[level] : "log", msg);
}

static int parse_seconds(const char *name, const char *s, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0) {
        fprintf(stderr, "samsep: %s wants a number of seconds >= 0, not \"%s\"\n",
                name, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_choice(const char *name, const char *s,
                        const char *const *names, int n, int *out)
{
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i + 1;
            return 0;
        }
    fprintf(stderr, "samsep: %s must be one of:", name);
    for (i = 0; i < n; i++)
        fprintf(stderr, " %s", names[i]);
    fprintf(stderr, " (not \"%s\")\n", s);
    return -1;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        { "output", required_argument, NULL, 'o' },
        { "prompt", required_argument, NULL, 'p' },
        { "engine", required_argument, NULL, 'e' },
        { "model", required_argument, NULL, OPT_MODEL },
        { "chunk", required_argument, NULL, OPT_CHUNK },
        { "overlap", required_argument, NULL, OPT_OVERLAP },
        { "format", required_argument, NULL, OPT_FORMAT },
        { "subtype", required_argument, NULL, OPT_SUBTYPE },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "list-engines", no_argument, NULL, OPT_LIST_ENGINES },
        { "quiet", no_argument, NULL, 'q' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 }
    };
    static const char *const formats[] = { "wav", "flac" };
    static const char *const subtypes[] = { "pcm16", "pcm24", "float" };
    int c, i;
    char *end;
    long n;

    memset(o, 0, sizeof *o);
    o->prompt = "speech";
    o->engine = "dsp";
    o->overlap = -1;
    while ((c = getopt_long(argc, argv, "o:p:e:qvh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->outdir = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'e': o->engine = optarg; break;
        case OPT_MODEL: o->model = optarg; break;
        case OPT_CHUNK:
            if (parse_seconds("--chunk", optarg, &o->chunk) != 0)
                return EXIT_USAGE;
            if (o->chunk <= 0) {
                fprintf(stderr, "samsep: --chunk must be more than 0 seconds\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_OVERLAP:
            if (parse_seconds("--overlap", optarg, &o->overlap) != 0)
                return EXIT_USAGE;
            break;
        case OPT_FORMAT:
            if (parse_choice("--format", optarg, formats, 2, &o->format) != 0)
                return EXIT_USAGE;
            break;
        case OPT_SUBTYPE:
            if (parse_choice("--subtype", optarg, subtypes, 3, &o->subtype) != 0)
                return EXIT_USAGE;
            break;
        case OPT_THREADS:
            errno = 0;
            n = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg || n < 0 || n > 1024) {
                fprintf(stderr, "samsep: --threads wants 0..1024, not \"%s\"\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->threads = (int)n;
            break;
        case OPT_LIST_ENGINES:
            for (i = 0; samsep_engine_builtin(i) != NULL; i++)
                printf("%-10s %s\n", samsep_engine_builtin(i)->name,
                       samsep_engine_builtin(i)->description != NULL
                           ? samsep_engine_builtin(i)->description : "");
            return -EXIT_ALL_DONE - 1;
        case 'q': o->verbosity = -1; break;
        case 'v': o->verbosity++; break;
        case 'h': usage(stdout); return -EXIT_ALL_DONE - 1;
        case OPT_VERSION:
            printf("samsep %s\n", samsep_version());
            return -EXIT_ALL_DONE - 1;
        default:
            fputs("Try 'samsep --help'.\n", stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs("samsep: no input files\n", stderr);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (o->outdir == NULL) {
        fputs("samsep: no output folder; give one with -o DIR\n", stderr);
        return EXIT_USAGE;
    }
    if (o->format == SAMSEP_FORMAT_FLAC && o->subtype == SAMSEP_SUBTYPE_FLOAT) {
        fputs("samsep: FLAC cannot store float samples; use --subtype pcm16 or "
              "pcm24, or --format wav\n", stderr);
        return EXIT_USAGE;
    }
    if (o->chunk > 0 && o->overlap >= o->chunk) {
        fprintf(stderr, "samsep: --overlap (%g s) must be shorter than --chunk (%g s)\n",
                o->overlap, o->chunk);
        return EXIT_USAGE;
    }
    return 0;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    size_t i, len = strlen(path);
    struct stat st;

    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        buf[i] = i < len ? '/' : '\0';
    }
    if (stat(path, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* "dir/name.ext" -> "name"; a name without extension stays whole. */
static void file_stem(const char *path, char *stem, size_t len)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    size_t n;

    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= len)
        n = len - 1;
    memcpy(stem, base, n);
    stem[n] = '\0';
}

static int output_paths(const options *o, const char *input, int format,
                        char *target, char *residual, size_t len)
{
    char stem[NAME_MAX + 1];
    const char *ext = samsep_format_extension(format);
    int a, b;

    file_stem(input, stem, sizeof stem);
    a = snprintf(target, len, "%s/%s_target.%s", o->outdir, stem, ext);
    b = snprintf(residual, len, "%s/%s_residual.%s", o->outdir, stem, ext);
    return a < 0 || b < 0 || (size_t)a >= len || (size_t)b >= len ? -1 : 0;
}

int main(int argc, char **argv)
{
    options o;
    samsep_engine_config cfg;
    samsep_engine *engine = NULL;
    char err[SAMSEP_MSG_MAX];
    char (*claimed)[PATH_MAX] = NULL;
    int rc, i, nfiles, failed = 0, done = 0;
    struct sigaction sa;

    rc = parse_options(argc, argv, &o);
    if (rc < 0)
        return -(rc + 1);
    if (rc != 0)
        return rc;
    samsep_set_log(log_to_stderr, NULL,
                   o.verbosity < 0 ? SAMSEP_LOG_ERROR
                   : o.verbosity == 0 ? SAMSEP_LOG_WARN
                   : o.verbosity == 1 ? SAMSEP_LOG_INFO : SAMSEP_LOG_DEBUG);

    memset(&cfg, 0, sizeof cfg);
    cfg.prompt = o.prompt;
    cfg.model_path = o.model;
    cfg.threads = o.threads;
    rc = samsep_engine_open(o.engine, &cfg, &engine, err, sizeof err);
    if (rc != SAMSEP_OK) {
        fprintf(stderr, "samsep: %s\n", err);
        return EXIT_USAGE;
    }
    if (make_dirs(o.outdir) != 0) {
        fprintf(stderr, "samsep: %s: cannot use as output folder: %s\n", o.outdir,
                strerror(errno));
        samsep_engine_close(engine);
        return EXIT_USAGE;
    }

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    nfiles = argc - optind;
    claimed = calloc((size_t)nfiles, sizeof *claimed);
    if (claimed == NULL) {
        fputs("samsep: out of memory\n", stderr);
        samsep_engine_close(engine);
        return EXIT_USAGE;
    }
    for (i = 0; i < nfiles && !interrupted; i++) {
        const char *input = argv[optind + i];
        char target[PATH_MAX], residual[PATH_MAX];
        samsep_file_info info;
        samsep_report rep;
        samsep_job job;
        progress_line pl;
        int format, j, clash = -1;

        rc = samsep_probe_file(input, &info, err, sizeof err);
        if (rc != SAMSEP_OK) {
            fprintf(stderr, "samsep: FAILED %s\n", err);
            failed++;
            continue;
        }
        format = o.format != SAMSEP_FORMAT_AUTO ? o.format : info.auto_format;
        if (output_paths(&o, input, format, target, residual, sizeof target) != 0) {
            fprintf(stderr, "samsep: FAILED %s: output name too long\n", input);
            failed++;
            continue;
        }
        for (j = 0; j < i; j++)
            if (strcmp(claimed[j], target) == 0)
                clash = j;
        if (clash >= 0) {
            fprintf(stderr, "samsep: FAILED %s: its outputs would overwrite those of "
                    "%s (same name in %s)\n", input, argv[optind + clash], o.outdir);
            failed++;
            continue;
        }
        snprintf(claimed[i], PATH_MAX, "%s", target);

        samsep_job_init(&job);
        job.input_path = input;
        job.target_path = target;
        job.residual_path = residual;
        job.format = format;
        job.subtype = o.subtype;
        job.chunk_seconds = o.chunk;
        job.overlap_seconds = o.overlap;
        job.cancel = &interrupted;
        memset(&pl, 0, sizeof pl);
        if (o.verbosity >= 0 && isatty(STDERR_FILENO)) {
            pl.out = stderr;
            pl.label = input;
            pl.index = i + 1;
            pl.count = nfiles;
            job.progress = progress_update;
            job.progress_user = &pl;
        }
        rc = samsep_separate_file(engine, &job, &rep);
        if (pl.out != NULL)
            progress_clear(&pl);
        if (rc == SAMSEP_ERR_CANCELLED)
            break;
        if (rc != SAMSEP_OK) {
            fprintf(stderr, "samsep: FAILED %s\n", rep.message);
            failed++;
            continue;
        }
        done++;
        if (o.verbosity >= 0) {
            double secs = (double)rep.frames / rep.sample_rate;

            printf("%s -> %s, %s (%.1f s of audio, %.0fx real time)\n", input,
                   target, residual, secs, rep.seconds > 0 ? secs / rep.seconds : 0.0);
            if (rep.clipped_target + rep.clipped_residual > 0)
                printf("  warning: %lld target and %lld residual samples clamped to "
                       "fit the output format (use --subtype float to keep them)\n",
                       (long long)rep.clipped_target, (long long)rep.clipped_residual);
            fflush(stdout);
        }
    }
    free(claimed);
    samsep_engine_close(engine);
    if (interrupted) {
        fprintf(stderr, "samsep: interrupted; %d file(s) done, unfinished outputs "
                "removed\n", done);
        return EXIT_INTERRUPTED;
    }
    if (failed > 0) {
        fprintf(stderr, "samsep: %d of %d input(s) failed\n", failed, nfiles);
        return EXIT_SOME_FAILED;
    }
    return EXIT_ALL_DONE;
}
