/*
 * cli.h - what the parts of the samsep program share: the settings of one
 * run, exit statuses, and the steps of a run. main.c calls options.c,
 * interactive.c and run.c; interactive.c reuses run.c's plan and engine
 * check; nothing calls back into main.c.
 */
#ifndef SAMSEP_CLI_H
#define SAMSEP_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "samsep.h"

enum {
    EXIT_ALL_DONE = 0,
    EXIT_SOME_FAILED = 1,
    EXIT_USAGE = 2,
    EXIT_SIGNAL_BASE = 128 /* + the number of the signal that stopped the run */
};

#define MAX_SKIP_SUFFIXES 64
#define MAX_SPANS 64

typedef struct options {
    const char *const *inputs;
    int n_inputs;
    const char *outdir, *prompt, *engine, *model, *config_path, *log_dir;
    const char *t5;                              /* --t5 DIR */
    const char *worker;                          /* --worker "COMMAND" (engine exec) */
    double worker_timeout, worker_start_timeout; /* 0: the engine's default */
    const char *report;                          /* --report DIR */
    int residual;                                /* samsep_residual_request */
    int channels;  /* VALUE_CHANNELS index + 1 (keep, mono); 0: keep */
    int precision; /* samsep_precision + 1; 0: unset (fp32) */
    unsigned long long seed;
    double chunk;   /* 0: engine default */
    double overlap; /* < 0: engine default */
    int format, subtype, threads, max_files, recursive, yes, overwrite;
    int shard_index, shard_count;
    int dry_run, json, interactive;
    int verbosity; /* -1 quiet, 0 normal, 1+ verbose */
    char *skip_suffixes[MAX_SKIP_SUFFIXES];
    int n_skip_suffixes;
    /* --span, in order (or the config's "spans" when no flag gave any) */
    samsep_anchor spans[MAX_SPANS];
    int n_spans;
    /* -p given more than once (or "prompts" in the config): all of them,
     * prompt being the first; n_prompts <= 1 means prompt alone */
    const char *prompts[SAMSEP_MAX_PROMPTS];
    int n_prompts;
    /* which settings came from flags (they beat the config file) */
    int set_chunk, set_overlap, set_threads, set_max_files, set_recursive;
    /* the config file that set chunk / overlap, or NULL (for messages) */
    const char *chunk_config, *overlap_config;
    int set_worker;
    /* interactive mode's answers (owned) */
    char *ask_input, *ask_output, *ask_prompt, *ask_engine;
    const char *ask_inputs[1];
} options;

/* options.c: the usage text; the flags (0 to go on, an exit status, or -1
 * for "exit 0 now": --help, --version, the lists); config values for what
 * the flags left unset; the checks that need no engine (0 or an exit
 * status); the engine configuration of the settings. */
void cli_usage(FILE *f);
int cli_parse_options(int argc, char **argv, options *o);
void cli_options_free(options *o);
void cli_apply_config(options *o, config *cfg);
int cli_check_settings(const options *o);
/* The run's prompts: o->prompts, or o->prompt alone; *n (OUT) how many. */
const char *const *cli_prompts(const options *o, int *n);
samsep_engine_config cli_engine_config(const options *o);
/* options.c: spans (--span or the config's) only for an engine that takes
 * them; 0, or EXIT_USAGE with the engines that do named on stderr. */
int cli_check_span_engine(const options *o);

/* run.c: send the library's messages to the terminal up to the level -q/-v
 * chose (and to the run's log once open). */
void cli_log_start(int verbosity);

/* run.c: plan the batch, show it, open the engine and process every input.
 * Returns the exit status. */
int cli_run(const options *o, int argc, char **argv);

/* run.c, also for interactive mode. Whether the engine would open with
 * these settings, without loading a model (samsep_engine_check). */
int cli_check_engine(const options *o, char *err, size_t errlen);
int cli_open_engine(const options *o, samsep_engine **engine, char *err, size_t errlen);
int cli_plan(const options *o, samsep_batch **batch, char *err, size_t errlen);
void cli_plan_counts(const samsep_batch *b, int *process, int *skip, int *fail);
int cli_confirm(const char *question);

/* Interactive mode: fills o->inputs, outdir, prompt and engine from the
 * user's answers, shows the plan and asks to go on. Returns 0 to go on, or
 * an exit status. */
int interactive_ask(options *o, const config *cfg, const char *config_path);

#endif
