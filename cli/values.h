/*
 * values.h - the values the program's settings accept, in one place.
 *
 * A flag (text) and a config key (JSON) of the same setting accept exactly
 * the same values, because both check them against the same range here; a
 * value outside it is refused at start with a message naming the option or
 * key and the value, never found out file by file. Enumerated settings
 * (--format, --subtype, --residual, --channels) are lists of words kept beside them.
 */
#ifndef SAMSEP_CLI_VALUES_H
#define SAMSEP_CLI_VALUES_H

#include <stddef.h>

#include "samsep.h"

struct options;

/* A numeric setting: its names, what it is, and the values it takes. */
typedef struct value_range {
    const char *flag; /* "--chunk" */
    const char *key;  /* "chunk" in the config file */
    double lo, hi;    /* inclusive */
    int integer;      /* whole numbers only */
    const char *why;  /* why the bounds are what they are, or NULL */
} value_range;

extern const value_range VALUE_CHUNK, VALUE_OVERLAP, VALUE_THREADS, VALUE_MAX_FILES;
extern const value_range VALUE_WORKER_TIMEOUT, VALUE_WORKER_START_TIMEOUT;

/* The pipeline's chunk and overlap when neither the settings nor the engine
 * choose one (samsep_job in samsep.h). */
#define VALUE_DEFAULT_CHUNK 30.0
#define VALUE_DEFAULT_OVERLAP 2.0
/* The shortest step from one chunk to the next (chunk - overlap): 48
 * samples at 48 kHz, so the two never round to the same number of frames. */
#define VALUE_MIN_HOP 0.001

extern const char *const VALUE_FORMATS[];   /* samsep_format 1..n */
extern const char *const VALUE_SUBTYPES[];  /* samsep_subtype 1..n */
extern const char *const VALUE_RESIDUALS[]; /* samsep_residual_request 1..n */
extern const char *const VALUE_CHANNELS[];  /* samsep_channels + 1: keep, mono */
#define VALUE_N_FORMATS 2
#define VALUE_N_SUBTYPES 3
#define VALUE_N_RESIDUALS 2
#define VALUE_N_CHANNELS 2
extern const char *const VALUE_PRECISIONS[]; /* samsep_precision + 1 */
#define VALUE_N_PRECISIONS 2

/* "a whole number from 0 to 1024" (with the reason for the bounds, if any)
 * into buf. */
void value_describe(const value_range *r, char *buf, size_t len);

/* 1 when x is one of the range's values. */
int value_in_range(const value_range *r, double x);

/* Parse the text of a flag: plain decimal notation only (no spaces, signs
 * other than an exponent's, hex, "inf" or "nan"; digits only for whole
 * numbers). Returns 0, or -1 with a message naming the flag and the text
 * in err. */
int value_from_text(const value_range *r, const char *s, double *out, char *err,
                    size_t errlen);

/* --seed: a whole number from 0 to 2^64 - 1, in digits. */
int value_seed_from_text(const char *s, unsigned long long *out, char *err,
                         size_t errlen);

/* --shard I/N: 1 <= I <= N <= 1000000, in digits. */
int value_shard_from_text(const char *s, int *index, int *count, char *err,
                          size_t errlen);

/* One of names[0..n-1]; *out is its index + 1. */
int value_choice_from_text(const char *flag, const char *s, const char *const *names,
                           int n, int *out, char *err, size_t errlen);

/* The chunk and overlap every file of the run will get (the settings, else
 * the engine's, else the pipeline's defaults): the overlap shorter than the
 * chunk by VALUE_MIN_HOP at least, and the chunk no longer than the engine
 * takes. With info NULL (the engine not open yet) only what the settings
 * fix is checked. Returns 0, or -1 with a message naming where each value
 * came from (a flag, a config key, the engine). */
int value_check_chunking(const struct options *o, const char *engine,
                         const samsep_engine_info *info, char *err, size_t errlen);

#endif
