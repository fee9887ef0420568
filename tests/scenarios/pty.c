/*
 * pty.c - pty-run: run a command on a pseudo-terminal and answer its prompts,
 * for the scenario tests of samsep's terminal behaviour (interactive mode, the
 * runaway-guard question). expect is not needed and tmux's timing is not
 * relied on.
 *
 *   pty-run [--timeout SEC] [--expect TEXT | --wait-glob PATTERN]
 *           [--answer TEXT | --raw TEXT]... -- CMD [ARGS...]
 *
 * The steps are taken in order. --expect TEXT waits until TEXT appears in
 * what CMD wrote since the previous expectation was met (ANSI escape
 * sequences are ignored when matching), then until CMD has been quiet for a
 * moment, so the whole prompt is out. --answer TEXT types TEXT and Enter;
 * --raw TEXT types TEXT alone (e.g. $'\x04' for Ctrl-D, $'\x03' for Ctrl-C).
 * --wait-glob PATTERN waits until a path matching the glob(3) PATTERN exists
 * (e.g. a temporary file CMD writes). An --answer that follows neither an
 * --expect nor a --wait-glob waits for CMD to go quiet.
 * Everything read from the terminal is echoed to stdout as it arrives.
 *
 * Exit status: CMD's (128 + signal if it was killed); 124 if a step was not
 * reached within --timeout seconds (default 30) of the previous one, or CMD
 * ran longer than that after the last step (CMD is then killed); 125 if CMD
 * ended before all the steps were taken; 126 on a usage or system error.
 * Messages of pty-run itself go to stderr, starting with "pty-run:".
 */
#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { STEP_EXPECT, STEP_ANSWER, STEP_RAW, STEP_WAIT_GLOB };

typedef struct step {
    int kind;
    const char *text;
} step;

#define MAX_STEPS 256
#define QUIET_MS 150

static step steps[MAX_STEPS];
static int nsteps;

/* What CMD wrote, escape sequences removed, for matching. */
static char *seen;
static size_t seen_len, seen_cap, match_from;
static int esc_state; /* 0 text, 1 after ESC, 2 in CSI, 3 in OSC */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *step_name(int kind)
{
    switch (kind) {
    case STEP_EXPECT: return "expect";
    case STEP_ANSWER: return "answer";
    case STEP_RAW: return "raw";
    default: return "wait-glob";
    }
}

static void usage(void)
{
    fputs("usage: pty-run [--timeout SEC] [--expect TEXT | --wait-glob PATTERN]"
          " [--answer TEXT | --raw TEXT]... -- CMD [ARGS...]\n",
          stderr);
    exit(126);
}

static void seen_add(const char *buf, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];

        switch (esc_state) {
        case 1: esc_state = c == '[' ? 2 : c == ']' ? 3 : 0; continue;
        case 2:
            if (c >= 0x40 && c <= 0x7e)
                esc_state = 0;
            continue;
        case 3:
            if (c == 0x07 || c == 0x1b)
                esc_state = c == 0x1b ? 1 : 0;
            continue;
        default: break;
        }
        if (c == 0x1b) {
            esc_state = 1;
            continue;
        }
        if (seen_len + 1 >= seen_cap) {
            size_t cap = seen_cap ? seen_cap * 2 : 65536;
            char *p = realloc(seen, cap);

            if (p == NULL) {
                fputs("pty-run: out of memory\n", stderr);
                exit(126);
            }
            seen = p;
            seen_cap = cap;
        }
        seen[seen_len++] = (char)c;
        seen[seen_len] = '\0';
    }
}

/* Does the unmatched part of the transcript contain text? Advances past it. */
static int seen_match(const char *text)
{
    char *hit;

    if (seen == NULL)
        return text[0] == '\0';
    hit = strstr(seen + match_from, text);
    if (hit == NULL)
        return 0;
    match_from = (size_t)(hit - seen) + strlen(text);
    return 1;
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 126;
}

int main(int argc, char **argv)
{
    double timeout = 30.0, last_step, last_output;
    struct winsize ws = { 24, 100, 0, 0 };
    int i, master, cur = 0, status = 0, child_done = 0, eof = 0, matched = 0;
    pid_t pid;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--timeout") == 0) {
            timeout = atof(argv[++i]);
            if (timeout <= 0)
                usage();
            continue;
        }
        if (nsteps == MAX_STEPS)
            usage();
        if (strcmp(argv[i], "--expect") == 0)
            steps[nsteps].kind = STEP_EXPECT;
        else if (strcmp(argv[i], "--answer") == 0)
            steps[nsteps].kind = STEP_ANSWER;
        else if (strcmp(argv[i], "--raw") == 0)
            steps[nsteps].kind = STEP_RAW;
        else if (strcmp(argv[i], "--wait-glob") == 0)
            steps[nsteps].kind = STEP_WAIT_GLOB;
        else
            usage();
        steps[nsteps++].text = argv[++i];
    }
    if (i >= argc)
        usage();

    if (getenv("TERM") == NULL)
        setenv("TERM", "xterm", 1);
    fflush(stdout);
    pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) {
        perror("pty-run: forkpty");
        return 126;
    }
    if (pid == 0) {
        execvp(argv[i], argv + i);
        fprintf(stderr, "pty-run: cannot run %s: %s\n", argv[i], strerror(errno));
        _exit(127);
    }

    last_step = last_output = now_s();
    for (;;) {
        struct pollfd pfd = { master, POLLIN, 0 };
        double t;
        int r;

        if (!eof) {
            r = poll(&pfd, 1, 20);
            if (r < 0 && errno != EINTR) {
                perror("pty-run: poll");
                break;
            }
            if (r > 0) {
                char buf[4096];
                ssize_t n = read(master, buf, sizeof buf);

                if (n > 0) {
                    fwrite(buf, 1, (size_t)n, stdout);
                    fflush(stdout);
                    seen_add(buf, (size_t)n);
                    last_output = now_s();
                } else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                    eof = 1; /* EIO: every holder of the slave side closed it */
                }
            }
        } else if (!child_done) {
            usleep(20000);
        }
        if (!child_done) {
            pid_t w = waitpid(pid, &status, WNOHANG);

            if (w == pid)
                child_done = 1;
        }
        if (child_done && (eof || now_s() - last_output > 0.5))
            break;

        /* Take the next step when it is due. */
        t = now_s();
        while (cur < nsteps) {
            step *s = &steps[cur];

            if (s->kind == STEP_WAIT_GLOB) {
                glob_t g;
                int found = glob(s->text, 0, NULL, &g) == 0 && g.gl_pathc > 0;

                globfree(&g);
                if (!found)
                    break;
                cur++;
                last_step = t;
                continue;
            }
            if (s->kind == STEP_EXPECT) {
                if (!matched && seen_match(s->text))
                    matched = 1;
                if (!matched || t - last_output < QUIET_MS / 1000.0)
                    break;
                matched = 0;
                cur++;
                last_step = t;
                continue;
            }
            /* An answer: after an expectation, at once; else when quiet. */
            if ((cur == 0 || (steps[cur - 1].kind != STEP_EXPECT &&
                              steps[cur - 1].kind != STEP_WAIT_GLOB)) &&
                t - last_output < QUIET_MS / 1000.0)
                break;
            if (write_all(master, s->text, strlen(s->text)) != 0 ||
                (s->kind == STEP_ANSWER && write_all(master, "\r", 1) != 0)) {
                perror("pty-run: write");
                break;
            }
            cur++;
            last_step = t;
        }
        if (t - last_step > timeout) {
            if (cur < nsteps)
                fprintf(stderr,
                        "\npty-run: timed out after %.0f s waiting for step %d (%s "
                        "\"%s\")\n",
                        timeout, cur + 1, step_name(steps[cur].kind), steps[cur].text);
            else
                fprintf(stderr,
                        "\npty-run: command still running %.0f s after the last step\n",
                        timeout);
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return 124;
        }
    }
    if (!child_done)
        waitpid(pid, &status, 0);
    close(master);
    /* Expectations met by the command's last words still count. */
    if (matched)
        cur++;
    while (cur < nsteps && steps[cur].kind == STEP_EXPECT && seen_match(steps[cur].text))
        cur++;
    if (cur < nsteps) {
        fprintf(stderr,
                "\npty-run: the command ended (status %d) before step %d (%s \"%s\")\n",
                exit_code(status), cur + 1, step_name(steps[cur].kind), steps[cur].text);
        return 125;
    }
    return exit_code(status);
}
