/*
 * worker.h - one worker process of the exec engine: started by /bin/sh -c
 * in a process group of its own, with pipes on its stdin, stdout and
 * stderr; one framed request and its answer at a time, under a deadline;
 * killed (the whole group) and reaped, never left a zombie.
 *
 * Nothing here blocks without a limit: every wait is a poll() bounded by
 * the caller's timeout or a short grace period. Writes to a worker that has
 * gone get EPIPE, never a SIGPIPE that would end the calling process. What
 * the worker writes on stderr is logged line by line (SAMSEP_LOG_INFO) and
 * its last lines are kept for error messages.
 */
#ifndef SAMSEP_EXEC_WORKER_H
#define SAMSEP_EXEC_WORKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct worker worker;

/* A piece of memory to send from or receive into. */
typedef struct worker_seg {
    void *p;
    size_t n;
} worker_seg;

#define WORKER_MAX_SEGS 4

/*
 * Called when the header of the answer has arrived: accept a frame of
 * `type` (a wire_type) with a payload of `length` bytes by filling up to
 * WORKER_MAX_SEGS segments whose sizes add up to `length`, or refuse it
 * (return -1 and say why in err).
 */
typedef int (*worker_plan_fn)(void *user, int type, uint32_t length,
                              worker_seg *segs /* OUT */, int *n_segs /* OUT */,
                              char *err, size_t errlen);

/* Start `command`. Fails only when /bin/sh itself cannot be started; a
 * command that does not exist shows as a worker that exits at once. While
 * `*cancel` (may be NULL) is non-zero, exchanges stop at once. */
int worker_spawn(const char *command, const volatile int *cancel, worker **out /* OUT */,
                 char *err, size_t errlen);

/* Seconds on a monotonic clock, for deadlines. */
double worker_clock(void);

/*
 * Send the `n_out` segments while reading the one frame that answers them,
 * all before `deadline` (worker_clock() time; `limit` is how long the caller
 * allowed, for the message). Returns SAMSEP_OK with *type set, or
 * SAMSEP_ERR_ENGINE with err saying what went wrong (a timeout, the worker
 * gone and how it ended, a frame refused by `plan`, an answer that came
 * before the request was read whole), or SAMSEP_ERR_CANCELLED when the
 * cancel flag was raised. After a failure the worker is of no further use:
 * kill it.
 */
int worker_exchange(worker *w, const worker_seg *out, int n_out, worker_plan_fn plan,
                    void *user, double deadline, double limit, int *type /* OUT */,
                    char *err, size_t errlen);

/* The worker's process id. */
long worker_pid(const worker *w);

/* Its last stderr lines, oldest first, joined by " | " ("" when none). */
void worker_stderr_tail(worker *w, char *buf, size_t len);

/* Kill the worker's process group at once, reap it and free w (NULL: no-op).
 * `tail` (may be NULL) receives its last stderr lines, read to the end. */
void worker_kill(worker *w, char *tail, size_t taillen);

/* Close its stdin and give it `grace` seconds to exit on its own; then
 * SIGTERM, then SIGKILL, to the whole group. Reaps it and frees w. */
void worker_close(worker *w, double grace);

#endif
