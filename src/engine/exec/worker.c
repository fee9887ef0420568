/*
 * worker.c - see worker.h.
 *
 * The worker is started with posix_spawn() (no fork of a large process, safe
 * beside other threads) in a new process group, so that a timeout can kill
 * it together with anything it started. Our ends of its three pipes are
 * close-on-exec and non-blocking; one loop polls all three at once, so a
 * worker that writes a lot on stderr, or starts answering before it has read
 * the whole request, never deadlocks with us. SIGPIPE is blocked in the
 * calling thread for the duration of an exchange and a SIGPIPE raised by our
 * own write is consumed before it is unblocked, so a worker's death is an
 * EPIPE here and never kills the process that uses the library.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "engine/exec/wire.h"
#include "engine/exec/worker.h"

extern char **environ;

#define LINE_MAX_KEPT 200 /* bytes of one stderr line kept */
#define TAIL_LINES 4      /* stderr lines kept for messages */
#define PIPE_BYTES (1 << 20)
#define EXIT_WAIT 1.0  /* seconds to wait for a worker that closed its end */
#define POLL_SLICE 250 /* ms: how late a cancel may be noticed */

struct worker {
    pid_t pid; /* also its process group */
    const volatile int *cancel;
    int child_slot;        /* in cleanup.c's list of groups to kill at exit */
    int in, out, err;      /* our ends: its stdin, stdout, stderr; -1 closed */
    int ended;             /* it has exited or was killed (not yet reaped) */
    int exit_code, signal; /* how: exit status (-1 if killed), or signal */
    int gone_unseen;       /* reaped by someone else: how is unknown */
    int reaped;
    char line[LINE_MAX_KEPT + 1];
    size_t line_len;
    int line_cut; /* the current line is longer than what is kept */
    char tail[TAIL_LINES][LINE_MAX_KEPT + 1];
    int tail_next, tail_count;
};

double worker_clock(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- stderr ------------------------------------------------------------ */

static void end_line(worker *w)
{
    char *keep = w->tail[w->tail_next];

    while (w->line_len > 0 &&
           (w->line[w->line_len - 1] == '\r' || w->line[w->line_len - 1] == ' '))
        w->line_len--;
    w->line[w->line_len] = '\0';
    if (w->line_len > 0 || w->line_cut) {
        LOG_INFO("worker %ld: %s%s", (long)w->pid, w->line, w->line_cut ? "..." : "");
        snprintf(keep, LINE_MAX_KEPT + 1, "%s", w->line);
        w->tail_next = (w->tail_next + 1) % TAIL_LINES;
        if (w->tail_count < TAIL_LINES)
            w->tail_count++;
    }
    w->line_len = 0;
    w->line_cut = 0;
}

static void take_stderr(worker *w, const char *buf, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];

        if (c == '\n') {
            end_line(w);
        } else if (w->line_len < LINE_MAX_KEPT) {
            w->line[w->line_len++] = c == '\t'               ? ' '
                                     : c < 0x20 || c == 0x7f ? '?'
                                                             : (char)c;
        } else {
            w->line_cut = 1;
        }
    }
}

/* Read what stderr holds now; at its end, keep the unfinished line. */
static void read_stderr(worker *w)
{
    char buf[4096];
    int rounds;

    for (rounds = 0; rounds < 64 && w->err >= 0; rounds++) {
        ssize_t n = read(w->err, buf, sizeof buf);

        if (n > 0) {
            take_stderr(w, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
            end_line(w);
            close_fd(&w->err);
        }
        break;
    }
}

void worker_stderr_tail(worker *w, char *buf, size_t len)
{
    int i;
    size_t used = 0;

    if (len == 0)
        return;
    buf[0] = '\0';
    if (w == NULL)
        return;
    for (i = 0; i < w->tail_count && used + 1 < len; i++) {
        int k = (w->tail_next - w->tail_count + i + TAIL_LINES) % TAIL_LINES;
        int n = snprintf(buf + used, len - used, "%s%s", i > 0 ? " | " : "", w->tail[k]);

        if (n < 0)
            break;
        used += (size_t)n < len - used ? (size_t)n : len - used - 1;
    }
}

/* ---- process ----------------------------------------------------------- */

/* Move a descriptor above stdin/stdout/stderr so dup2 in the child never
 * meets itself; keeps it close-on-exec. */
static int above_stdio(int fd)
{
    int moved;

    if (fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

static int make_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    p[0] = above_stdio(p[0]);
    p[1] = above_stdio(p[1]);
    return p[0] >= 0 && p[1] >= 0 ? 0 : -1;
}

static int spawn_child(const char *command, int in[2], int out[2], int errp[2],
                       pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, deflt;
    char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
    int rc;

    sigemptyset(&none);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    sigaddset(&deflt, SIGINT);
    sigaddset(&deflt, SIGTERM);
    sigaddset(&deflt, SIGHUP);
    sigaddset(&deflt, SIGQUIT);
    sigaddset(&deflt, SIGCHLD);
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* nothing else of ours (locks, output files) reaches the worker */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

int worker_spawn(const char *command, const volatile int *cancel, worker **out, char *err,
                 size_t errlen)
{
    int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 };
    worker *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return SAMSEP_ERR_NOMEM;
    w->cancel = cancel;
    if (make_pipe(in) != 0 || make_pipe(o) != 0 || make_pipe(e) != 0) {
        set_err(err, errlen, "cannot make pipes for the worker: %s", strerror(errno));
        rc = SAMSEP_ERR_IO;
        goto fail;
    }
    /* bigger pipes move audio in fewer, larger steps (best effort) */
    (void)fcntl(in[1], F_SETPIPE_SZ, PIPE_BYTES);
    (void)fcntl(o[0], F_SETPIPE_SZ, PIPE_BYTES);
    rc = spawn_child(command, in, o, e, &w->pid);
    if (rc != 0) {
        set_err(err, errlen, "cannot start /bin/sh for the worker: %s", strerror(rc));
        rc = SAMSEP_ERR_IO;
        goto fail;
    }
    close_fd(&in[0]);
    close_fd(&o[1]);
    close_fd(&e[1]);
    w->in = in[1];
    w->out = o[0];
    w->err = e[0];
    fcntl(w->in, F_SETFL, fcntl(w->in, F_GETFL) | O_NONBLOCK);
    fcntl(w->out, F_SETFL, fcntl(w->out, F_GETFL) | O_NONBLOCK);
    fcntl(w->err, F_SETFL, fcntl(w->err, F_GETFL) | O_NONBLOCK);
    w->child_slot = child_track((long)w->pid);
    LOG_DEBUG("worker %ld started: %s", (long)w->pid, command);
    *out = w;
    return SAMSEP_OK;
fail:
    close_fd(&in[0]);
    close_fd(&in[1]);
    close_fd(&o[0]);
    close_fd(&o[1]);
    close_fd(&e[0]);
    close_fd(&e[1]);
    free(w);
    return rc;
}

long worker_pid(const worker *w)
{
    return w != NULL ? (long)w->pid : -1;
}

/* Has the worker ended? Looks without reaping it, so that its process
 * group id stays reserved (a zombie's pid is never reused) until release()
 * has signalled the group. */
static int has_ended(worker *w)
{
    siginfo_t si;
    int r;

    if (w->ended)
        return 1;
    memset(&si, 0, sizeof si);
    do
        r = waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG | WNOWAIT);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        w->ended = 1; /* reaped elsewhere (SIGCHLD ignored): nothing to say */
        w->gone_unseen = 1;
    } else if (si.si_pid == w->pid) {
        w->ended = 1;
        w->exit_code = si.si_code == CLD_EXITED ? si.si_status : -1;
        w->signal = si.si_code == CLD_EXITED ? 0 : si.si_status;
    }
    return w->ended;
}

/* Wait up to `secs` for the worker to end, reading its stderr meanwhile. */
static int wait_exit(worker *w, double secs)
{
    double end = worker_clock() + secs;

    while (!has_ended(w)) {
        double left = end - worker_clock();
        struct pollfd pf = { w->err, POLLIN, 0 };

        if (left <= 0)
            return 0;
        if (w->err >= 0) {
            int ms = (int)(left * 1000) + 1;

            if (poll(&pf, 1, ms < 10 ? ms : 10) > 0)
                read_stderr(w);
        } else {
            struct timespec ts = { 0, 5000000 };

            nanosleep(&ts, NULL);
        }
    }
    return 1;
}

static void describe_end(const worker *w, char *buf, size_t len)
{
    if (!w->ended)
        snprintf(buf, len, "is still running");
    else if (w->gone_unseen)
        snprintf(buf, len, "has ended");
    else if (w->exit_code == 127)
        snprintf(buf, len, "exited with status 127: command not found");
    else if (w->exit_code == 126)
        snprintf(buf, len, "exited with status 126: command not executable");
    else if (w->exit_code > 128 && w->exit_code < 128 + 65)
        /* how a shell reports a command that a signal killed */
        snprintf(buf, len, "exited with status %d: 128 + signal %d, %s", w->exit_code,
                 w->exit_code - 128, strsignal(w->exit_code - 128));
    else if (w->exit_code >= 0)
        snprintf(buf, len, "exited with status %d", w->exit_code);
    else
        snprintf(buf, len, "was killed by signal %d, %s", w->signal,
                 strsignal(w->signal));
}

static void kill_group(worker *w, int sig)
{
    if (!w->reaped && w->pid > 0)
        kill(-w->pid, sig);
}

/* Kill what is left of the group, reap the worker, read the rest of its
 * stderr (bounded: whoever could write it is gone) and free it. */
static void release(worker *w, char *tail, size_t taillen)
{
    kill_group(w, SIGKILL);
    child_untrack(w->child_slot);
    while (!w->reaped) {
        int status;
        pid_t r = waitpid(w->pid, &status, 0);

        if (r == w->pid || (r < 0 && errno != EINTR))
            w->reaped = 1;
    }
    read_stderr(w);
    if (w->line_len > 0)
        end_line(w);
    if (tail != NULL)
        worker_stderr_tail(w, tail, taillen);
    close_fd(&w->in);
    close_fd(&w->out);
    close_fd(&w->err);
    free(w);
}

void worker_kill(worker *w, char *tail, size_t taillen)
{
    if (w != NULL)
        release(w, tail, taillen);
    else if (tail != NULL && taillen > 0)
        tail[0] = '\0';
}

void worker_close(worker *w, double grace)
{
    if (w == NULL)
        return;
    close_fd(&w->in);
    if (!wait_exit(w, grace)) {
        LOG_DEBUG("worker %ld did not exit within %g s of its input closing; "
                  "terminating it",
                  (long)w->pid, grace);
        kill_group(w, SIGTERM);
        wait_exit(w, 2.0);
    }
    release(w, NULL, 0);
}

/* ---- one exchange --------------------------------------------------------- */

typedef struct xfer {
    const worker_seg *out;
    int n_out, oi; /* segment being sent */
    size_t ooff;
    unsigned char hdr[WIRE_HEADER];
    size_t hgot;
    worker_seg in[WORKER_MAX_SEGS];
    int n_in, ii; /* segment being received */
    size_t ioff;
    uint64_t want, got; /* payload bytes */
    int type, planned;
    int epipe;
} xfer;

static int sent_all(const xfer *x)
{
    return x->oi >= x->n_out;
}

static int received_all(const xfer *x)
{
    return x->planned && x->got == x->want;
}

/* The worker has closed an end: say how it ended (waiting a moment). */
static void gone(worker *w, const char *what, char *err, size_t errlen)
{
    char how[160];

    wait_exit(w, EXIT_WAIT);
    describe_end(w, how, sizeof how);
    set_err(err, errlen, "it %s (and %s)", what, how);
}

static int send_some(worker *w, xfer *x, char *err, size_t errlen)
{
    while (!sent_all(x)) {
        const worker_seg *s = &x->out[x->oi];
        ssize_t n;

        if (x->ooff == s->n) {
            x->oi++;
            x->ooff = 0;
            continue;
        }
        n = write(w->in, (const char *)s->p + x->ooff, s->n - x->ooff);
        if (n > 0) {
            x->ooff += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return SAMSEP_OK;
        x->epipe = n < 0 && errno == EPIPE;
        gone(w, "stopped reading its input", err, errlen);
        return SAMSEP_ERR_ENGINE;
    }
    return SAMSEP_OK;
}

static int plan_payload(xfer *x, worker_plan_fn plan, void *user, char *err,
                        size_t errlen)
{
    uint32_t length;
    uint64_t sum = 0;
    int i;

    wire_get_header(x->hdr, &x->type, &length);
    if (x->type == WIRE_UNKNOWN) {
        set_err(err, errlen,
                "it sent bytes that are not a frame header "
                "(%02x %02x %02x %02x %02x %02x %02x %02x)",
                x->hdr[0], x->hdr[1], x->hdr[2], x->hdr[3], x->hdr[4], x->hdr[5],
                x->hdr[6], x->hdr[7]);
        return SAMSEP_ERR_ENGINE;
    }
    x->n_in = 0;
    if (plan(user, x->type, length, x->in, &x->n_in, err, errlen) != 0)
        return SAMSEP_ERR_ENGINE;
    for (i = 0; i < x->n_in; i++)
        sum += x->in[i].n;
    if (sum != length) {
        set_err(err, errlen, "internal: %s frame of %lu bytes planned as %llu",
                wire_tag(x->type), (unsigned long)length, (unsigned long long)sum);
        return SAMSEP_ERR_ENGINE;
    }
    x->want = length;
    x->planned = 1;
    return SAMSEP_OK;
}

static int receive_some(worker *w, xfer *x, worker_plan_fn plan, void *user, char *err,
                        size_t errlen)
{
    while (!received_all(x)) {
        void *dst;
        size_t room;
        ssize_t n;

        if (x->hgot < WIRE_HEADER) {
            dst = x->hdr + x->hgot;
            room = WIRE_HEADER - x->hgot;
        } else if (x->ioff == x->in[x->ii].n) {
            x->ii++;
            x->ioff = 0;
            continue;
        } else {
            dst = (char *)x->in[x->ii].p + x->ioff;
            room = x->in[x->ii].n - x->ioff;
        }
        n = read(w->out, dst, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return SAMSEP_OK;
        if (n <= 0) {
            char what[160];

            /* whichever pipe the kernel reports first, a worker that left
             * before reading the whole request stopped reading its input */
            if (!sent_all(x))
                snprintf(what, sizeof what, "stopped reading its input");
            else if (x->hgot == 0)
                snprintf(what, sizeof what, "closed its output");
            else if (!x->planned)
                snprintf(what, sizeof what,
                         "closed its output in the middle of a "
                         "frame header (%zu of %d bytes)",
                         x->hgot, WIRE_HEADER);
            else
                snprintf(what, sizeof what,
                         "closed its output in the middle of a %s "
                         "frame (%llu of %llu payload bytes)",
                         wire_tag(x->type), (unsigned long long)x->got,
                         (unsigned long long)x->want);
            gone(w, what, err, errlen);
            return SAMSEP_ERR_ENGINE;
        }
        if (x->hgot < WIRE_HEADER) {
            x->hgot += (size_t)n;
            if (x->hgot == WIRE_HEADER &&
                plan_payload(x, plan, user, err, errlen) != SAMSEP_OK)
                return SAMSEP_ERR_ENGINE;
        } else {
            x->ioff += (size_t)n;
            x->got += (uint64_t)n;
        }
    }
    return SAMSEP_OK;
}

static int poll_once(worker *w, xfer *x, double deadline, double limit, char *err,
                     size_t errlen, worker_plan_fn plan, void *user)
{
    struct pollfd pf[3];
    int n = 0, i_out, i_err = -1, i_in = -1, rc;
    double left = deadline - worker_clock();

    if (w->cancel != NULL && *w->cancel) {
        set_err(err, errlen, "cancelled");
        return SAMSEP_ERR_CANCELLED;
    }
    if (left <= 0) {
        set_err(err, errlen, "it did not answer within %g s", limit);
        return SAMSEP_ERR_ENGINE;
    }
    i_out = n;
    pf[n++] = (struct pollfd){ w->out, POLLIN, 0 };
    if (w->err >= 0) {
        i_err = n;
        pf[n++] = (struct pollfd){ w->err, POLLIN, 0 };
    }
    if (!sent_all(x)) {
        i_in = n;
        pf[n++] = (struct pollfd){ w->in, POLLOUT, 0 };
    }
    /* in slices, so that a cancel raised just before poll() waits little */
    rc = poll(pf, (nfds_t)n,
              left * 1000 >= POLL_SLICE ? POLL_SLICE : (int)(left * 1000) + 1);
    if (rc < 0 && errno == EINTR)
        return SAMSEP_OK;
    if (rc < 0) {
        set_err(err, errlen, "cannot wait for it: %s", strerror(errno));
        return SAMSEP_ERR_ENGINE;
    }
    if (i_err >= 0 && pf[i_err].revents != 0)
        read_stderr(w);
    if (i_in >= 0 && pf[i_in].revents != 0 && send_some(w, x, err, errlen) != SAMSEP_OK)
        return SAMSEP_ERR_ENGINE;
    if (pf[i_out].revents != 0 &&
        receive_some(w, x, plan, user, err, errlen) != SAMSEP_OK)
        return SAMSEP_ERR_ENGINE;
    return SAMSEP_OK;
}

int worker_exchange(worker *w, const worker_seg *out, int n_out, worker_plan_fn plan,
                    void *user, double deadline, double limit, int *type, char *err,
                    size_t errlen)
{
    sigset_t pipe_set, old, pending;
    int was_pending, rc = SAMSEP_OK;
    xfer x;

    memset(&x, 0, sizeof x);
    x.out = out;
    x.n_out = n_out;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

    if (w->in < 0 || w->out < 0) {
        set_err(err, errlen, "it is no longer connected");
        rc = SAMSEP_ERR_ENGINE;
    }
    while (rc == SAMSEP_OK && !received_all(&x))
        rc = poll_once(w, &x, deadline, limit, err, errlen, plan, user);
    if (rc == SAMSEP_OK && !sent_all(&x)) {
        set_err(err, errlen,
                "it answered with %s before it had read the "
                "whole request",
                wire_tag(x.type));
        rc = SAMSEP_ERR_ENGINE;
    }

    if (x.epipe && !was_pending) {
        struct timespec zero = { 0, 0 };

        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *type = x.type;
    return rc;
}
