/*
 * error.c - status strings, version, logging and error-text helpers.
 *
 * The log sink is process-wide state set once at start-up by the program
 * (the CLI or a test); the library itself only reads it.
 */
#include <stdio.h>

#include "internal.h"

static samsep_log_fn log_fn;
static void *log_user;
static int log_level = SAMSEP_LOG_WARN;

const char *samsep_version(void)
{
    return SAMSEP_VERSION_STRING;
}

const char *samsep_strerror(int status)
{
    switch (status) {
    case SAMSEP_OK: return "success";
    case SAMSEP_ERR_INVALID: return "invalid argument";
    case SAMSEP_ERR_NOMEM: return "out of memory";
    case SAMSEP_ERR_IO: return "input/output error";
    case SAMSEP_ERR_FORMAT: return "unsupported or corrupt audio";
    case SAMSEP_ERR_EMPTY: return "no audio frames";
    case SAMSEP_ERR_UNKNOWN_ENGINE: return "unknown engine";
    case SAMSEP_ERR_UNKNOWN_PROMPT: return "unknown prompt";
    case SAMSEP_ERR_ENGINE: return "engine failure";
    case SAMSEP_ERR_CANCELLED: return "cancelled";
    case SAMSEP_ERR_NOSPACE: return "no space left on device";
    case SAMSEP_ERR_UNSAFE: return "refused as unsafe";
    case SAMSEP_ERR_BUSY: return "claimed by another process";
    }
    return "unknown status";
}

void samsep_set_log(samsep_log_fn fn, void *user, int level)
{
    log_fn = fn;
    log_user = user;
    log_level = level;
}

int samsep_log_enabled(int level)
{
    return log_fn != NULL && level <= log_level;
}

void samsep_log(int level, const char *fmt, ...)
{
    char buf[SAMSEP_MSG_MAX];
    va_list ap;

    if (!samsep_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    log_fn(log_user, level, buf);
}

void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
