/*
 * values.c - see values.h. The bounds are chosen so that a value accepted
 * here never fails a file later: the pipeline refuses, file by file, what
 * it cannot do (a chunk longer than it will hold in memory, an overlap as
 * long as the chunk), so the program refuses it first, once, with exit
 * status 2 and nothing written.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "values.h"

/* A chunk is held in memory whole, several buffers of it (input, target,
 * residual): an hour at 48 kHz is 173 million samples, 0.7 GB a buffer,
 * which is already far from "memory that does not grow with the file";
 * the pipeline itself refuses a buffer over 1 GiB (93 minutes of mono
 * 48 kHz). The shortest chunk, 1 ms, is 48 samples at 48 kHz. */
const value_range VALUE_CHUNK = { "--chunk", "chunk", 0.001,
                                  3600,      0,       "a chunk is held in memory whole" };
const value_range VALUE_OVERLAP = { "--overlap", "overlap", 0, 3600, 0, NULL };
/* 0 is the engine's choice; more threads than 1024 is a typo. */
const value_range VALUE_THREADS = { "--threads", "threads", 0,
                                    1024,        1,         "0: the engine's choice" };
const value_range VALUE_MAX_FILES = { "--max-files", "max_files", 0, 1e9, 1, NULL };
/* The exec engine's limits on its worker: more than a week is a typo. */
const value_range VALUE_WORKER_TIMEOUT = {
    "--worker-timeout", "worker_timeout", 0.001, 604800, 0, NULL
};
const value_range VALUE_WORKER_START_TIMEOUT = {
    "--worker-start-timeout", "worker_start_timeout", 0.001, 604800, 0, NULL
};

const char *const VALUE_FORMATS[] = { "wav", "flac" };
const char *const VALUE_SUBTYPES[] = { "pcm16", "pcm24", "float" };
const char *const VALUE_RESIDUALS[] = { "model", "subtract" };
const char *const VALUE_CHANNELS[] = { "keep", "mono" };
const char *const VALUE_PRECISIONS[] = { "fp32", "bf16" };

#define SHARD_MAX 1000000

void value_describe(const value_range *r, char *buf, size_t len)
{
    snprintf(buf, len,
             r->integer ? "%s from %.0f to %.0f%s%s%s" : "%s from %g to %g%s%s%s",
             r->integer ? "a whole number" : "a number of seconds", r->lo, r->hi,
             r->why != NULL ? " (" : "", r->why != NULL ? r->why : "",
             r->why != NULL ? ")" : "");
}

int value_in_range(const value_range *r, double x)
{
    return x >= r->lo && x <= r->hi && (!r->integer || x == floor(x));
}

static int refuse(const value_range *r, const char *s, char *err, size_t errlen)
{
    char want[160];

    value_describe(r, want, sizeof want);
    snprintf(err, errlen, "%s wants %s, not \"%s\"", r->flag, want, s);
    return -1;
}

int value_from_text(const value_range *r, const char *s, double *out, char *err,
                    size_t errlen)
{
    const char *chars = r->integer ? "0123456789" : "0123456789.eE+-";
    char *end;
    double v;

    if (s[0] == '\0' || s[strspn(s, chars)] != '\0')
        return refuse(r, s, err, errlen);
    errno = 0;
    if (r->integer) {
        long long n = strtoll(s, &end, 10);

        v = (double)n;
    } else {
        v = strtod(s, &end) + 0.0; /* + 0.0: "-0" is 0 */
    }
    if (errno != 0 || end == s || *end != '\0' || !value_in_range(r, v))
        return refuse(r, s, err, errlen);
    *out = v;
    return 0;
}

/* A whole number in digits only, no larger than max. */
static int digits(const char *s, const char *stop, unsigned long long max,
                  unsigned long long *out)
{
    unsigned long long n = 0;
    const char *p;

    if (s == stop)
        return -1;
    for (p = s; p < stop; p++) {
        unsigned d = (unsigned)(*p - '0');

        if (*p < '0' || *p > '9' || n > (max - d) / 10)
            return -1;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

int value_seed_from_text(const char *s, unsigned long long *out, char *err, size_t errlen)
{
    if (digits(s, s + strlen(s), ~0ULL, out) != 0) {
        snprintf(err, errlen, "--seed wants a whole number from 0 to %llu, not \"%s\"",
                 ~0ULL, s);
        return -1;
    }
    return 0;
}

int value_shard_from_text(const char *s, int *index, int *count, char *err, size_t errlen)
{
    const char *slash = strchr(s, '/');
    unsigned long long i, n;

    if (slash == NULL || digits(s, slash, SHARD_MAX, &i) != 0 ||
        digits(slash + 1, slash + strlen(slash), SHARD_MAX, &n) != 0 || i < 1 || i > n) {
        snprintf(err, errlen,
                 "--shard wants I/N with 1 <= I <= N <= %d, e.g. 3/8 "
                 "(not \"%s\")",
                 SHARD_MAX, s);
        return -1;
    }
    *index = (int)i;
    *count = (int)n;
    return 0;
}

int value_choice_from_text(const char *flag, const char *s, const char *const *names,
                           int n, int *out, char *err, size_t errlen)
{
    size_t l;
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i + 1;
            return 0;
        }
    snprintf(err, errlen, "%s must be one of:", flag);
    for (i = 0; i < n; i++) {
        l = strlen(err);
        snprintf(err + l, errlen - l, " %s", names[i]);
    }
    l = strlen(err);
    snprintf(err + l, errlen - l, " (not \"%s\")", s);
    return -1;
}

/* "--chunk (12 s)", "\"chunk\" (12 s)" (a config key), "engine "x"'s chunk
 * (10 s)", "the default chunk (30 s)". */
static void origin(char *buf, size_t len, const value_range *r, int by_flag,
                   int by_config, const char *engine, int by_engine, double v)
{
    const char *what = r == &VALUE_CHUNK ? "chunk" : "overlap";

    if (by_flag)
        snprintf(buf, len, "%s (%g s)", r->flag, v);
    else if (by_config)
        snprintf(buf, len, "\"%s\" (%g s)", r->key, v);
    else if (by_engine)
        snprintf(buf, len, "engine \"%s\"'s %s (%g s)", engine, what, v);
    else
        snprintf(buf, len, "the default %s (%g s)", what, v);
}

int value_check_chunking(const options *o, const char *engine,
                         const samsep_engine_info *info, char *err, size_t errlen)
{
    int engine_chunk = o->chunk <= 0 && info != NULL && info->chunk_seconds > 0;
    int engine_overlap = o->overlap < 0 && info != NULL && info->overlap_seconds >= 0;
    double chunk = o->chunk > 0   ? o->chunk
                   : engine_chunk ? info->chunk_seconds
                                  : VALUE_DEFAULT_CHUNK;
    double overlap = o->overlap >= 0  ? o->overlap
                     : engine_overlap ? info->overlap_seconds
                                      : VALUE_DEFAULT_OVERLAP;
    const char *file = o->chunk_config != NULL ? o->chunk_config : o->overlap_config;
    char c[128], v[128], in[SAMSEP_MSG_MAX / 2] = "";

    if (info == NULL && (o->chunk <= 0 || o->overlap < 0))
        return 0; /* decided by the engine, checked once it is open */
    origin(c, sizeof c, &VALUE_CHUNK, o->set_chunk, o->chunk_config != NULL, engine,
           engine_chunk, chunk);
    origin(v, sizeof v, &VALUE_OVERLAP, o->set_overlap, o->overlap_config != NULL, engine,
           engine_overlap, overlap);
    if (file != NULL)
        snprintf(in, sizeof in, " (in %s)", file);
    if (!(overlap <= chunk - VALUE_MIN_HOP)) {
        snprintf(err, errlen, "%s must be shorter than %s, by %g s at least%s", v, c,
                 VALUE_MIN_HOP, in);
        return -1;
    }
    if (info != NULL && info->max_chunk_seconds > 0 && chunk > info->max_chunk_seconds) {
        snprintf(err, errlen, "%s is longer than engine \"%s\" takes (%g s at most)%s", c,
                 engine, info->max_chunk_seconds, o->chunk_config != NULL ? in : "");
        return -1;
    }
    return 0;
}
