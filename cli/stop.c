/*
 * stop.c - see stop.h.
 *
 * The handler only records the first signal in a flag that the library
 * polls between blocks (samsep_job.cancel) and that the batch loop checks
 * between inputs, so the run winds down through the same paths as a
 * failure: temporaries unlinked, claims released, the log and the JSON
 * summary written. A second SIGINT, SIGTERM or SIGHUP means "now": the
 * handler removes what samsep_remove_temporaries() knows of (hidden files
 * only, never a final name) and re-raises the signal with its default
 * action. SIGPIPE never escalates: the writes that raise it are samsep's
 * own messages on a closed pipe while it is already stopping.
 *
 * Signals ignored at start stay ignored, as nohup and background jobs of
 * non-interactive shells intend. When SIGPIPE is ignored, a write to the
 * closed pipe fails with EPIPE instead; report.c turns that into the same
 * stop with stop_request(SIGPIPE).
 */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "samsep.h"
#include "stop.h"

/* The job's cancel flag is a volatile int (sig_atomic_t on every POSIX
 * system samsep builds on). */
static volatile int stop_sig;

static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };

static void on_stop_signal(int sig)
{
    if (stop_sig != 0 && sig != SIGPIPE) {
        samsep_remove_temporaries();
        stop_exit(sig);
        _Exit(128 + sig);
    }
    if (stop_sig == 0)
        stop_sig = sig;
}

void stop_catch(void)
{
    struct sigaction sa, old;
    size_t i;

    signal(SIGXFSZ, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    /* No SA_RESTART: a prompt (the runaway guard's) or a write to a stalled
     * pipe gives up at once; files on disk are never interrupted. */
    sa.sa_flags = 0;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);
    for (i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++) {
        if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(stop_signals[i], &sa, NULL);
    }
}

int stop_signal(void)
{
    return stop_sig;
}

const volatile int *stop_flag(void)
{
    return &stop_sig;
}

void stop_request(int sig)
{
    if (stop_sig == 0)
        stop_sig = sig;
}

const char *stop_reason(int sig)
{
    switch (sig) {
    case SIGINT: return "interrupted";
    case SIGTERM: return "stopped by SIGTERM";
    case SIGHUP: return "stopped by SIGHUP (the terminal or connection was closed)";
    case SIGPIPE: return "stopped: the output pipe was closed";
    }
    return "stopped";
}

void stop_exit(int sig)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
        return;
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(sig, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, sig);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
}
