/*
 * options.c - the settings of one run: the usage text, the flags, the
 * config file's values for what the flags left unset, the checks that need
 * no engine, and the engine configuration the settings make.
 *
 * Settings come from defaults, then the config file, then the flags. A
 * refused value is explained on stderr and makes the command unusable
 * (exit 2); nothing here touches a file or loads a model.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "config.h"
#include "samsep.h"
#include "stop.h"
#include "values.h"

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
    OPT_PRECISION,
    OPT_SEED,
    OPT_FORMATS,
    OPT_WORKER,
    OPT_WORKER_TIMEOUT,
    OPT_WORKER_START_TIMEOUT,
    OPT_REPORT,
    OPT_CHANNELS,
    OPT_SPAN
};

#define DEFAULT_MAX_FILES 100

void cli_usage(FILE *f)
{
    fputs(
        "Usage: samsep [OPTIONS] INPUT... -o OUTDIR     (files and/or folders)\n"
        "       samsep [-i]                            interactive mode on a terminal\n"
        "Isolate one sound: writes OUTDIR/<stem>_target.<ext> (the sound asked for)\n"
        "and OUTDIR/<stem>_residual.<ext> (everything else) for each input.\n"
        "\n"
        "  -o, --output DIR       output folder; never an input folder, inside or around "
        "one\n"
        "  -p, --prompt TEXT      what to isolate (default: speech); give -p again for\n"
        "                         several prompts in one pass: outputs "
        "STEM_PROMPT_target...\n"
        "  -e, --engine NAME      separation engine (default: dsp; see --list-engines)\n"
        "      --model DIR        model folder (sam-audio: config.json, checkpoint.pt, "
        "t5/)\n"
        "      --t5 DIR           text encoder folder (default: MODEL/t5)\n"
        "      --residual model|subtract  sam-audio: the model's residual, or mixture - "
        "target\n"
        "      --precision fp32|bf16  sam-audio: weights in float32 (default) or bf16 "
        "(half\n"
        "                         the memory; faster on CPUs with bf16 arithmetic)\n"
        "      --seed N           seed of the model's noise (default 0)\n"
        "      --channels keep|mono  mono engines (sam-audio) on a multichannel input:\n"
        "                         outputs with the input's channels (default) or mono\n"
        "      --span +START:END  sam-audio: the target sounds from START to END "
        "seconds\n"
        "                         (-START:END: it does not there); repeatable, in order\n"
        "      --worker \"COMMAND ARGS...\"  exec: the worker program "
        "(doc/exec-protocol.md)\n"
        "      --worker-timeout S  exec: seconds a chunk may take (default 600)\n"
        "      --worker-start-timeout S  exec: seconds to start the worker (default "
        "1800)\n"
        "  -r, --recursive        descend into sub-folders; outputs mirror them\n"
        "      --chunk SECONDS    chunk length (default: engine's, else 30)\n"
        "      --overlap SECONDS  overlap between chunks (default: engine's, else 2)\n"
        "      --format wav|flac  output format (default: as input if WAV/FLAC, else "
        "WAV)\n"
        "      --subtype pcm16|pcm24|float   sample format (default: as input)\n"
        "      --max-files N      refuse more than N inputs without --yes (default 100)\n"
        "  -y, --yes              proceed past the --max-files guard\n"
        "      --overwrite        redo inputs whose outputs are already current\n"
        "      --shard I/N        process only share I of N (for many workers)\n"
        "      --skip-suffix S    also skip inputs whose name ends in S (repeatable)\n"
        "      --dry-run          print the plan (what is processed or skipped, and "
        "why)\n"
        "      --json             one JSON object per event on stdout\n"
        "      --config FILE      config file (default: "
        "$XDG_CONFIG_HOME/samsep/config.json)\n"
        "      --log-dir DIR      where the run's log goes "
        "($XDG_STATE_HOME/samsep/logs)\n"
        "      --report DIR       write DIR/index.html: spectrograms and players per "
        "input\n"
        "      --threads N        worker threads for engines that use them\n"
        "  -i, --interactive      ask for folders, prompt and engine\n"
        "  -q, --quiet / -v, --verbose\n"
        "  -h, --help / --version / --list-engines\n"
        "      --list-prompts     the words the dsp engine understands, and what each "
        "isolates\n"
        "      --formats          the input formats this build reads\n"
        "\n"
        "dsp prompts: speech, noise, music, drums, vocals, hum (--list-prompts for all\n"
        "words); sam-audio: any text, e.g. -p \"dog barking\"; exec: what the worker "
        "takes.\n"
        "Exit status: 0 all done, 1 some inputs failed, 2 usage error or refused,\n"
        "128+N stopped by signal N (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM, 141 closed "
        "pipe).\n",
        f);
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

/* Returns 0 to go on, a positive exit status, or -1 for "exit 0 now". */
int cli_parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        { "output", required_argument, NULL, 'o' },
        { "prompt", required_argument, NULL, 'p' },
        { "engine", required_argument, NULL, 'e' },
        { "model", required_argument, NULL, OPT_MODEL },
        { "t5", required_argument, NULL, OPT_T5 },
        { "residual", required_argument, NULL, OPT_RESIDUAL },
        { "precision", required_argument, NULL, OPT_PRECISION },
        { "seed", required_argument, NULL, OPT_SEED },
        { "channels", required_argument, NULL, OPT_CHANNELS },
        { "span", required_argument, NULL, OPT_SPAN },
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
        case 'p':
            if (o->n_prompts >= SAMSEP_MAX_PROMPTS) {
                fprintf(stderr, "samsep: at most %d prompts (-p)\n", SAMSEP_MAX_PROMPTS);
                return EXIT_USAGE;
            }
            o->prompts[o->n_prompts++] = optarg;
            o->prompt = o->prompts[0];
            break;
        case 'e': o->engine = optarg; break;
        case 'r':
            o->recursive = 1;
            o->set_recursive = 1;
            break;
        case 'y': o->yes = 1; break;
        case 'i': o->interactive = 1; break;
        case OPT_MODEL: o->model = optarg; break;
        case OPT_T5: o->t5 = optarg; break;
        case OPT_RESIDUAL:
            if (refused(value_choice_from_text("--residual", optarg, VALUE_RESIDUALS,
                                               VALUE_N_RESIDUALS, &o->residual, err,
                                               sizeof err),
                        err))
                return EXIT_USAGE;
            break;
        case OPT_CHANNELS:
            if (refused(value_choice_from_text("--channels", optarg, VALUE_CHANNELS,
                                               VALUE_N_CHANNELS, &o->channels, err,
                                               sizeof err),
                        err))
                return EXIT_USAGE;
            break;
        case OPT_PRECISION:
            if (refused(value_choice_from_text("--precision", optarg, VALUE_PRECISIONS,
                                               VALUE_N_PRECISIONS, &o->precision, err,
                                               sizeof err),
                        err))
                return EXIT_USAGE;
            break;
        case OPT_SEED:
            if (refused(value_seed_from_text(optarg, &o->seed, err, sizeof err), err))
                return EXIT_USAGE;
            break;
        case OPT_SPAN:
            if (o->n_spans >= MAX_SPANS) {
                fprintf(stderr, "samsep: --span: at most %d spans\n", MAX_SPANS);
                return EXIT_USAGE;
            }
            if (samsep_anchor_parse(optarg, &o->spans[o->n_spans], err, sizeof err) !=
                SAMSEP_OK) {
                fprintf(stderr, "samsep: --span: %s\n", err);
                return EXIT_USAGE;
            }
            o->n_spans++;
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
                                               sizeof err),
                        err))
                return EXIT_USAGE;
            break;
        case OPT_SUBTYPE:
            if (refused(value_choice_from_text("--subtype", optarg, VALUE_SUBTYPES,
                                               VALUE_N_SUBTYPES, &o->subtype, err,
                                               sizeof err),
                        err))
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
                                              err, sizeof err),
                        err))
                return EXIT_USAGE;
            break;
        case OPT_SKIP_SUFFIX:
            if (optarg[0] == '\0' || o->n_skip_suffixes >= MAX_SKIP_SUFFIXES) {
                fprintf(stderr,
                        "samsep: --skip-suffix wants a non-empty suffix "
                        "(at most %d)\n",
                        MAX_SKIP_SUFFIXES);
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
                           ? samsep_engine_builtin(i)->description
                           : "");
            return -1;
        case OPT_LIST_PROMPTS: {
            const char *kw, *words, *what;

            for (i = 0; (kw = samsep_dsp_prompt(i, &words, &what)) != NULL; i++)
                printf("%-8s %s\n%-8s %s\n", kw, words, "", what);
            return -1;
        }
        case OPT_FORMATS: print_formats(); return -1;
        case 'q': o->verbosity = -1; break;
        case 'v': o->verbosity++; break;
        case 'h': cli_usage(stdout); return -1;
        case OPT_VERSION: printf("samsep %s\n", samsep_version()); return -1;
        default: fputs("Try 'samsep --help'.\n", stderr); return EXIT_USAGE;
        }
    }
    o->inputs = (const char *const *)argv + optind;
    o->n_inputs = argc - optind;
    return 0;
}

void cli_options_free(options *o)
{
    free(o->ask_input);
    free(o->ask_output);
    free(o->ask_prompt);
    free(o->ask_engine);
}

/* Config values for what the flags left unset. */
void cli_apply_config(options *o, config *cfg)
{
    int i;

    if (o->prompt == NULL && cfg->n_prompts > 0) {
        for (i = 0; i < cfg->n_prompts; i++)
            o->prompts[i] = cfg->prompts[i];
        o->n_prompts = cfg->n_prompts;
        o->prompt = o->prompts[0];
    }
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
    if (o->channels == 0)
        o->channels = cfg->channels;
    if (o->precision == 0 && cfg->has_precision)
        o->precision = cfg->precision;
    if (!o->set_threads && cfg->has_threads)
        o->threads = cfg->threads;
    if (!o->set_max_files && cfg->has_max_files)
        o->max_files = cfg->max_files;
    if (!o->set_recursive && cfg->has_recursive)
        o->recursive = cfg->recursive;
    if (o->n_spans == 0)
        for (i = 0; i < cfg->n_spans && i < MAX_SPANS; i++)
            o->spans[o->n_spans++] = cfg->spans[i];
    for (i = 0; i < cfg->n_skip_suffixes && o->n_skip_suffixes < MAX_SKIP_SUFFIXES; i++)
        o->skip_suffixes[o->n_skip_suffixes++] = cfg->skip_suffixes[i];
    if (o->prompt == NULL)
        o->prompt = "speech";
    if (o->engine == NULL)
        o->engine = "dsp";
    if (!o->set_max_files && !cfg->has_max_files)
        o->max_files = DEFAULT_MAX_FILES;
}

/* The engines with set_anchors, named when the chosen one is not among them
 * (checked at the run, so that interactive mode's engine counts too). */
int cli_check_span_engine(const options *o)
{
    const char *engine = o->engine;
    const samsep_engine_vtable *vt;
    char names[256] = "";
    int i, takes = 0;

    for (i = 0; (vt = samsep_engine_builtin(i)) != NULL; i++) {
        if (vt->set_anchors == NULL)
            continue;
        takes |= strcasecmp(vt->name, engine) == 0;
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 names[0] != '\0' ? ", " : "", vt->name);
    }
    if (takes || o->n_spans == 0)
        return 0;
    fprintf(stderr,
            "samsep: --span: engine \"%s\" takes no span prompts; the engines "
            "that do: %s\n",
            engine, names);
    return EXIT_USAGE;
}

int cli_check_settings(const options *o)
{
    char err[SAMSEP_MSG_MAX];

    if (o->format == SAMSEP_FORMAT_FLAC && o->subtype == SAMSEP_SUBTYPE_FLOAT) {
        fputs("samsep: FLAC cannot store float samples; use --subtype pcm16 or "
              "pcm24, or --format wav\n",
              stderr);
        return EXIT_USAGE;
    }
    if (o->set_worker && !o->interactive && strcasecmp(o->engine, "exec") != 0) {
        fprintf(stderr,
                "samsep: --worker is for the exec engine (-e exec), not for "
                "\"%s\"\n",
                o->engine);
        return EXIT_USAGE;
    }
    if (refused(value_check_chunking(o, o->engine, NULL, err, sizeof err), err))
        return EXIT_USAGE;
    if (o->outdir != NULL && o->outdir[0] == '\0') {
        fputs("samsep: the output folder (-o, or \"output\" in the config) is an "
              "empty name\n",
              stderr);
        return EXIT_USAGE;
    }
    return 0;
}

const char *const *cli_prompts(const options *o, int *n)
{
    *n = o->n_prompts > 1 ? o->n_prompts : 1;
    return o->n_prompts > 1 ? o->prompts : &o->prompt;
}

samsep_engine_config cli_engine_config(const options *o)
{
    samsep_engine_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.prompt = o->prompt;
    cfg.model_path = o->model;
    cfg.threads = o->threads;
    cfg.text_encoder_path = o->t5;
    cfg.residual = o->residual;
    cfg.precision = o->precision == 2 ? SAMSEP_PRECISION_BF16 : SAMSEP_PRECISION_FP32;
    cfg.seed = o->seed;
    cfg.worker = o->worker;
    cfg.worker_timeout = o->worker_timeout;
    cfg.worker_start_timeout = o->worker_start_timeout;
    cfg.cancel = stop_flag();
    return cfg;
}
