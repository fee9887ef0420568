/*
 * stop.h - how a run stops early: on SIGINT, SIGTERM, SIGHUP, or when its
 * standard output or error is closed (SIGPIPE, or EPIPE where SIGPIPE is
 * ignored). The first stops after the current block, with every unfinished
 * output removed and the exit status 128 + the signal's number; a second
 * SIGINT, SIGTERM or SIGHUP ends the process at once, removing the hidden
 * temporaries and lock files first.
 */
#ifndef SAMSEP_CLI_STOP_H
#define SAMSEP_CLI_STOP_H

/* Catch the stop signals (those not ignored when samsep was started: nohup
 * stays nohup) and ignore SIGXFSZ, so that a file-size limit (ulimit -f)
 * fails the write with EFBIG, and so that one input, instead of ending the
 * process. */
void stop_catch(void);

/* The signal that asked the run to stop, or 0. The pointer is the job's
 * cancel flag: non-zero once a stop is asked for. */
int stop_signal(void);
const volatile int *stop_flag(void);

/* Ask for a stop as if `sig` had arrived (EPIPE on standard output). */
void stop_request(int sig);

/* Why the run stopped, in words ("interrupted", ...). */
const char *stop_reason(int sig);

/* End the process by `sig` with its default action, as shells and job
 * schedulers expect of a program stopped by a signal (a shell script's
 * loop stops at Ctrl-C too). Returns only where the signal is ignored (an
 * inherited SIG_IGN on SIGPIPE); the caller then exits with 128 + sig. */
void stop_exit(int sig);

#endif
