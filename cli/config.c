/*
 * config.c - see config.h. The file is small, so it is read whole and
 * parsed with cJSON; values are copied out so the cJSON tree is freed at
 * once.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "samsep.h"
#include "values.h"

#define CONFIG_MAX_BYTES (1 << 20)

const char *config_default_path(void)
{
    static char path[PATH_MAX];
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/')
        snprintf(path, sizeof path, "%s/samsep/config.json", xdg);
    else if (home != NULL && home[0] != '\0')
        snprintf(path, sizeof path, "%s/.config/samsep/config.json", home);
    else
        return NULL;
    return path;
}

static char *read_all(const char *path, int must_exist, int *missing, char *err,
                      size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    *missing = 0;
    if (f == NULL) {
        if (errno == ENOENT && !must_exist) {
            *missing = 1;
            return NULL;
        }
        snprintf(err, errlen, "%s: cannot read config: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(CONFIG_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    fclose(f);
    if (n > CONFIG_MAX_BYTES) {
        free(buf);
        snprintf(err, errlen, "%s: config file larger than 1 MiB", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* What a JSON value is, for "must be X, not Y": `a string ("4")`, `1.5`. */
static void describe(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsString(v))
        snprintf(buf, len, "a string (\"%.60s%s\")", v->valuestring,
                 strlen(v->valuestring) > 60 ? "..." : "");
    else if (cJSON_IsNumber(v))
        snprintf(buf, len, "a number (%.15g)", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(buf, len, "a boolean (%s)", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v))
        snprintf(buf, len, "null");
    else if (cJSON_IsArray(v))
        snprintf(buf, len, "an array");
    else
        snprintf(buf, len, "an object");
}

/* "FILE: key "k" must be WANT, not WHAT-IT-IS". */
static int wrong(const char *path, const char *key, const char *want, const cJSON *v,
                 char *err, size_t errlen)
{
    char is[128];

    describe(v, is, sizeof is);
    snprintf(err, errlen, "%s: key \"%s\" must be %s, not %s", path, key, want, is);
    return -1;
}

static int want_string(const char *path, const cJSON *v, char **out, char *err,
                       size_t errlen)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return wrong(path, v->string, "a string", v, err, errlen);
    free(*out);
    *out = strdup(v->valuestring);
    return *out != NULL ? 0 : -1;
}

/* "spans": an array of span prompts as --span writes them, in order. */
static int want_spans(const char *path, const cJSON *v, config *cfg, char *err,
                      size_t errlen)
{
    const cJSON *s;
    char why[SAMSEP_MSG_MAX];

    if (!cJSON_IsArray(v))
        return wrong(path, v->string, "an array of spans such as \"+1.5:4\"", v, err,
                     errlen);
    cfg->n_spans = 0;
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s))
            return wrong(path, v->string, "an array of span strings such as \"+1.5:4\"",
                         s, err, errlen);
        if (cfg->n_spans >= CONFIG_MAX_SPANS) {
            snprintf(err, errlen, "%s: key \"spans\" holds more than %d spans", path,
                     CONFIG_MAX_SPANS);
            return -1;
        }
        if (samsep_anchor_parse(s->valuestring, &cfg->spans[cfg->n_spans], why,
                                sizeof why) != SAMSEP_OK) {
            snprintf(err, errlen, "%s: key \"spans\": %s", path, why);
            return -1;
        }
        cfg->n_spans++;
    }
    return 0;
}

/* An array of 1 to `max` non-empty strings, appended to out[*n]. */
static int want_strings(const char *path, const cJSON *v, char **out, int *n, int max,
                        char *err, size_t errlen)
{
    const cJSON *s;

    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) < 1)
        return wrong(path, v->string, "a non-empty array of strings", v, err, errlen);
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s) || s->valuestring[0] == '\0') {
            char is[128];

            describe(s, is, sizeof is);
            snprintf(err, errlen,
                     "%s: key \"%s\" must be an array of non-empty "
                     "strings; it holds %s",
                     path, v->string, is);
            return -1;
        }
        if (*n >= max) {
            snprintf(err, errlen, "%s: key \"%s\" holds more than %d strings", path,
                     v->string, max);
            return -1;
        }
        if ((out[*n] = strdup(s->valuestring)) == NULL)
            return -1;
        (*n)++;
    }
    return 0;
}

/* A number in the range the matching flag accepts (values.h). */
static int want_number(const char *path, const cJSON *v, const value_range *r,
                       double *out, char *err, size_t errlen)
{
    char want[160];

    value_describe(r, want, sizeof want);
    if (!cJSON_IsNumber(v))
        return wrong(path, v->string, want, v, err, errlen);
    if (!value_in_range(r, v->valuedouble)) {
        snprintf(err, errlen, "%s: key \"%s\" must be %s, not %.15g", path, v->string,
                 want, v->valuedouble);
        return -1;
    }
    *out = v->valuedouble + 0.0; /* + 0.0: -0 is 0 */
    return 0;
}

static int want_int(const char *path, const cJSON *v, const value_range *r, int *out,
                    char *err, size_t errlen)
{
    double d;

    if (want_number(path, v, r, &d, err, errlen) != 0)
        return -1;
    *out = (int)d;
    return 0;
}

static int want_choice(const char *path, const cJSON *v, const char *const *names, int n,
                       int *out, char *err, size_t errlen)
{
    char want[128] = "one of";
    int i;

    if (cJSON_IsString(v))
        for (i = 0; i < n; i++)
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i + 1;
                return 0;
            }
    for (i = 0; i < n; i++) {
        size_t l = strlen(want);

        snprintf(want + l, sizeof want - l, "%s \"%s\"", i ? "," : "", names[i]);
    }
    if (!cJSON_IsString(v))
        return wrong(path, v->string, want, v, err, errlen);
    snprintf(err, errlen, "%s: key \"%s\" must be %s, not \"%.60s\"", path, v->string,
             want, v->valuestring);
    return -1;
}

static int parse_last(const char *path, const cJSON *last, config *cfg, char *err,
                      size_t errlen)
{
    const cJSON *v;

    if (!cJSON_IsObject(last))
        return wrong(path, "last", "an object", last, err, errlen);
    cJSON_ArrayForEach(v, last)
    {
        char **dst = strcmp(v->string, "input") == 0    ? &cfg->last_input
                     : strcmp(v->string, "output") == 0 ? &cfg->last_output
                     : strcmp(v->string, "prompt") == 0 ? &cfg->last_prompt
                     : strcmp(v->string, "engine") == 0 ? &cfg->last_engine
                                                        : NULL;

        if (dst == NULL) {
            snprintf(err, errlen,
                     "%s: unknown key \"last.%s\" (known: input, output, "
                     "prompt, engine)",
                     path, v->string);
            return -1;
        }
        if (!cJSON_IsString(v)) {
            char key[64];

            snprintf(key, sizeof key, "last.%s", v->string);
            return wrong(path, key, "a string", v, err, errlen);
        }
        if (want_string(path, v, dst, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int config_load(const char *path, int must_exist, config *cfg, char *err, size_t errlen)
{
    const cJSON *v;
    cJSON *root;
    char *text;
    int missing, rc = 0;

    memset(cfg, 0, sizeof *cfg);
    if (path == NULL)
        return 0;
    text = read_all(path, must_exist, &missing, err, errlen);
    if (text == NULL)
        return missing ? 0 : -1;
    root = cJSON_Parse(text);
    if (root == NULL || !cJSON_IsObject(root)) {
        const char *at = cJSON_GetErrorPtr();
        long line = 1;
        const char *p;

        if (root == NULL && at != NULL && at >= text)
            for (p = text; p < at; p++)
                line += *p == '\n';
        snprintf(err, errlen, "%s: not a JSON object%s (line %ld)", path,
                 root == NULL ? ": syntax error" : "", line);
        cJSON_Delete(root);
        free(text);
        return -1;
    }
    cJSON_ArrayForEach(v, root)
    {
        const char *k = v->string;

        if (strcmp(k, "prompt") == 0)
            rc = want_string(path, v, &cfg->prompt, err, errlen);
        else if (strcmp(k, "prompts") == 0)
            rc = want_strings(path, v, cfg->prompts, &cfg->n_prompts, CONFIG_MAX_PROMPTS,
                              err, errlen);
        else if (strcmp(k, "engine") == 0)
            rc = want_string(path, v, &cfg->engine, err, errlen);
        else if (strcmp(k, "model") == 0)
            rc = want_string(path, v, &cfg->model, err, errlen);
        else if (strcmp(k, "output") == 0)
            rc = want_string(path, v, &cfg->output, err, errlen);
        else if (strcmp(k, "log_dir") == 0)
            rc = want_string(path, v, &cfg->log_dir, err, errlen);
        else if (strcmp(k, "worker") == 0)
            rc = want_string(path, v, &cfg->worker, err, errlen);
        else if (strcmp(k, "worker_timeout") == 0) {
            rc = want_number(path, v, &VALUE_WORKER_TIMEOUT, &cfg->worker_timeout, err,
                             errlen);
            cfg->has_worker_timeout = rc == 0;
        } else if (strcmp(k, "worker_start_timeout") == 0) {
            rc = want_number(path, v, &VALUE_WORKER_START_TIMEOUT,
                             &cfg->worker_start_timeout, err, errlen);
            cfg->has_worker_start_timeout = rc == 0;
        } else if (strcmp(k, "report") == 0) {
            rc = want_string(path, v, &cfg->report, err, errlen);
        } else if (strcmp(k, "chunk") == 0) {
            rc = want_number(path, v, &VALUE_CHUNK, &cfg->chunk, err, errlen);
            cfg->has_chunk = rc == 0;
        } else if (strcmp(k, "overlap") == 0) {
            rc = want_number(path, v, &VALUE_OVERLAP, &cfg->overlap, err, errlen);
            cfg->has_overlap = rc == 0;
        } else if (strcmp(k, "format") == 0) {
            rc = want_choice(path, v, VALUE_FORMATS, VALUE_N_FORMATS, &cfg->format, err,
                             errlen);
            cfg->has_format = rc == 0;
        } else if (strcmp(k, "subtype") == 0) {
            rc = want_choice(path, v, VALUE_SUBTYPES, VALUE_N_SUBTYPES, &cfg->subtype,
                             err, errlen);
            cfg->has_subtype = rc == 0;
        } else if (strcmp(k, "channels") == 0) {
            rc = want_choice(path, v, VALUE_CHANNELS, VALUE_N_CHANNELS, &cfg->channels,
                             err, errlen);
        } else if (strcmp(k, "precision") == 0) {
            rc = want_choice(path, v, VALUE_PRECISIONS, VALUE_N_PRECISIONS,
                             &cfg->precision, err, errlen);
            cfg->has_precision = rc == 0;
        } else if (strcmp(k, "threads") == 0) {
            rc = want_int(path, v, &VALUE_THREADS, &cfg->threads, err, errlen);
            cfg->has_threads = rc == 0;
        } else if (strcmp(k, "max_files") == 0) {
            rc = want_int(path, v, &VALUE_MAX_FILES, &cfg->max_files, err, errlen);
            cfg->has_max_files = rc == 0;
        } else if (strcmp(k, "recursive") == 0) {
            if (!cJSON_IsBool(v)) {
                rc = wrong(path, k, "true or false", v, err, errlen);
            } else {
                cfg->recursive = cJSON_IsTrue(v);
                cfg->has_recursive = 1;
            }
        } else if (strcmp(k, "skip_suffixes") == 0) {
            const cJSON *s;

            if (!cJSON_IsArray(v))
                rc = wrong(path, k, "an array of strings", v, err, errlen);
            cJSON_ArrayForEach(s, v)
            {
                if (rc != 0)
                    break;
                if (!cJSON_IsString(s) || s->valuestring[0] == '\0') {
                    char is[128];

                    describe(s, is, sizeof is);
                    snprintf(err, errlen,
                             "%s: key \"skip_suffixes\" must be an array "
                             "of non-empty strings; it holds %s",
                             path, is);
                    rc = -1;
                } else if (cfg->n_skip_suffixes >= CONFIG_MAX_SUFFIXES) {
                    snprintf(err, errlen,
                             "%s: key \"skip_suffixes\" holds more than %d "
                             "suffixes",
                             path, CONFIG_MAX_SUFFIXES);
                    rc = -1;
                } else if ((cfg->skip_suffixes[cfg->n_skip_suffixes] =
                                strdup(s->valuestring)) != NULL) {
                    cfg->n_skip_suffixes++;
                }
            }
        } else if (strcmp(k, "spans") == 0) {
            rc = want_spans(path, v, cfg, err, errlen);
        } else if (strcmp(k, "last") == 0) {
            rc = parse_last(path, v, cfg, err, errlen);
        } else {
            snprintf(err, errlen,
                     "%s: unknown key \"%s\" (known: prompt, prompts, engine, "
                     "model, output, chunk, overlap, format, subtype, channels, threads, "
                     "max_files, recursive, skip_suffixes, log_dir, precision, worker, "
                     "worker_timeout, worker_start_timeout, report, spans, last)",
                     path, k);
            rc = -1;
        }
        if (rc != 0)
            break;
    }
    cJSON_Delete(root);
    free(text);
    if (rc == 0 && cfg->prompt != NULL && cfg->n_prompts > 0) {
        snprintf(err, errlen, "%s: keys \"prompt\" and \"prompts\" both set; keep one",
                 path);
        rc = -1;
    }
    if (rc != 0)
        config_free(cfg);
    else
        cfg->path = path;
    return rc;
}

void config_free(config *cfg)
{
    int i;

    free(cfg->prompt);
    free(cfg->engine);
    free(cfg->model);
    free(cfg->output);
    free(cfg->log_dir);
    free(cfg->worker);
    free(cfg->report);
    for (i = 0; i < cfg->n_skip_suffixes; i++)
        free(cfg->skip_suffixes[i]);
    for (i = 0; i < cfg->n_prompts; i++)
        free(cfg->prompts[i]);
    free(cfg->last_input);
    free(cfg->last_output);
    free(cfg->last_prompt);
    free(cfg->last_engine);
    memset(cfg, 0, sizeof *cfg);
}

static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    size_t i;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (i = 1; buf[i]; i++)
        if (buf[i] == '/') {
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return -1;
            buf[i] = '/';
        }
    return 0;
}

int config_save_last(const char *path, const char *input, const char *output,
                     const char *prompt, const char *engine, char *err, size_t errlen)
{
    char tmp[PATH_MAX + 32], *text = NULL, *out;
    cJSON *root = NULL, *last;
    int missing, fd;
    size_t len;

    text = read_all(path, 0, &missing, err, errlen);
    if (text != NULL)
        root = cJSON_Parse(text);
    free(text);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "last");
    last = cJSON_AddObjectToObject(root, "last");
    if (last == NULL || cJSON_AddStringToObject(last, "input", input) == NULL ||
        cJSON_AddStringToObject(last, "output", output) == NULL ||
        cJSON_AddStringToObject(last, "prompt", prompt) == NULL ||
        cJSON_AddStringToObject(last, "engine", engine) == NULL ||
        (out = cJSON_Print(root)) == NULL) {
        cJSON_Delete(root);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    cJSON_Delete(root);
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    len = strlen(out);
    if (mkdir_parents(path) != 0 ||
        (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666)) < 0) {
        snprintf(err, errlen, "%s: cannot save: %s", path, strerror(errno));
        free(out);
        return -1;
    }
    {
        int bad = write(fd, out, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
                  fsync(fd) != 0;
        int e = errno;

        if (close(fd) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        if (!bad && rename(tmp, path) != 0) {
            bad = 1;
            e = errno;
        }
        if (bad) {
            snprintf(err, errlen, "%s: cannot save: %s", path, strerror(e));
            unlink(tmp);
            free(out);
            return -1;
        }
    }
    free(out);
    return 0;
}
