/*
 * config.h - the user's config file ($XDG_CONFIG_HOME/samsep/config.json).
 *
 * Every key is optional; a flag on the command line overrides the key. The
 * "last" object holds interactive mode's previous answers. Parsing is
 * strict: an unknown key, a value of the wrong type or a value out of range
 * (the same ranges as the flags', values.h) is an error naming the file,
 * the key and the value, so a typo never silently changes nothing.
 */
#ifndef SAMSEP_CLI_CONFIG_H
#define SAMSEP_CLI_CONFIG_H

#include <stddef.h>

#include "samsep.h"

#define CONFIG_MAX_SUFFIXES 32
#define CONFIG_MAX_SPANS 64
#define CONFIG_MAX_PROMPTS 64 /* = SAMSEP_MAX_PROMPTS */

typedef struct config {
    const char *path; /* the file read (not owned), or NULL */
    /* each field is set only if has_<field> */
    char *prompt, *engine, *model, *output, *log_dir, *worker, *report;
    double chunk, overlap, worker_timeout, worker_start_timeout;
    int format, subtype, threads, max_files, recursive, precision;
    int channels;      /* VALUE_CHANNELS index + 1; 0 when the key is absent */
    int has_precision; /* precision: samsep_precision + 1 */
    int has_chunk, has_overlap, has_format, has_subtype, has_threads, has_max_files,
        has_recursive, has_worker_timeout, has_worker_start_timeout;
    char *skip_suffixes[CONFIG_MAX_SUFFIXES];
    int n_skip_suffixes;
    samsep_anchor spans[CONFIG_MAX_SPANS]; /* "spans": ["+1:2.5", "-4:6"] */
    int n_spans;
    char *prompts[CONFIG_MAX_PROMPTS]; /* "prompts": several prompts */
    int n_prompts;
    /* interactive mode's last answers */
    char *last_input, *last_output, *last_prompt, *last_engine;
} config;

/* The default path (in a static buffer), or NULL when neither
 * XDG_CONFIG_HOME nor HOME is set. */
const char *config_default_path(void);

/* Load `path`. A missing file is not an error when `must_exist` is 0 (the
 * config is then empty). Returns 0, or -1 with err filled. */
int config_load(const char *path, int must_exist, config *cfg, char *err, size_t errlen);
void config_free(config *cfg);

/* Store interactive mode's answers under "last" in `path`, keeping the
 * file's other keys; written to a temporary and renamed. */
int config_save_last(const char *path, const char *input, const char *output,
                     const char *prompt, const char *engine, char *err, size_t errlen);

#endif
