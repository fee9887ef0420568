/*
 * internal.h - helpers shared by the library's subsystems.
 *
 * Logging goes through the caller's callback (samsep_set_log); the level is
 * checked before any formatting so disabled messages cost one comparison.
 * Error text for the caller is written with set_err() into the buffers the
 * public API hands in, always NUL-terminated and truncated, never overflowed.
 */
#ifndef SAMSEP_INTERNAL_H
#define SAMSEP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "samsep.h"

#if defined(__GNUC__)
#define SAMSEP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SAMSEP_PRINTF(f, a)
#endif

/* Non-zero when messages of `level` reach the callback. */
int samsep_log_enabled(int level);

/* Format and send a message if its level is enabled. */
void samsep_log(int level, const char *fmt, ...) SAMSEP_PRINTF(2, 3);

/* Write a formatted message into err[0..errlen) (no-op if err is NULL). */
void set_err(char *err, size_t errlen, const char *fmt, ...) SAMSEP_PRINTF(3, 4);

/* Record `path`, a hidden temporary or lock file this process owns, for
 * samsep_remove_temporaries() (cleanup.c). Returns the slot to hand to
 * temporary_untrack() once the file is gone, renamed or no longer ours;
 * -1 when it could not be recorded (then nothing needs untracking). */
int temporary_track(const char *path);
void temporary_untrack(int slot);

/*
 * Hidden companions of an output file (its lock file, its temporaries) are
 * named "." + key + a tail of at most SAMSEP_HIDDEN_TAIL_MAX bytes. The key
 * is the output's own file name when that fits NAME_MAX, else the name's
 * first bytes (cut at a UTF-8 character boundary), "~" and 16 hex digits of
 * a hash of the whole name: whenever the output's name fits, so do its
 * companions, and the same name always gives the same key, so a later run
 * finds what an earlier one left.
 */
#define SAMSEP_NAME_MAX 255       /* NAME_MAX of Linux and most filesystems */
#define SAMSEP_HIDDEN_TAIL_MAX 40 /* ".samsep-tmp-<pid>-<n>", ".samsep-lock" */
#define SAMSEP_HIDDEN_KEY_MAX (SAMSEP_NAME_MAX - 1 - SAMSEP_HIDDEN_TAIL_MAX)

/* Write the key of output file name `name` (no folder) into
 * key[0..SAMSEP_HIDDEN_KEY_MAX]. */
void samsep_hidden_key(const char *name, char key[SAMSEP_HIDDEN_KEY_MAX + 1] /* OUT */);

/* FNV-1a, 64 bits, of a string: names hashed for keys, shards and
 * provenance (stable across runs and hosts). */
uint64_t samsep_fnv1a(const char *s);

/* Record the process group of a child this process started (an exec
 * worker), for samsep_remove_temporaries() to kill; untrack it before the
 * child is reaped, so that a reused id is never signalled. */
int child_track(long pgid);
void child_untrack(int slot);

#define LOG_ERROR(...) samsep_log(SAMSEP_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(...) samsep_log(SAMSEP_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) samsep_log(SAMSEP_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) samsep_log(SAMSEP_LOG_DEBUG, __VA_ARGS__)

#endif
