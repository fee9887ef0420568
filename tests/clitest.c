/*
 * clitest.c - see clitest.h.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "clitest.h"

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n;

    buf[0] = '\0';
    if (f == NULL)
        return;
    n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

void run_program(result *r, const char *bin, const char *const *args)
{
    char outp[] = "/tmp/samsep-cli-out-XXXXXX", errp[] = "/tmp/samsep-cli-err-XXXXXX";
    int fo = mkstemp(outp), fe = mkstemp(errp), st, i;
    const char *argv[64];
    pid_t pid;

    assert_true(fo >= 0 && fe >= 0);
    argv[0] = bin;
    for (i = 0; args[i] != NULL && i < 62; i++)
        argv[i + 1] = args[i];
    argv[i + 1] = NULL;
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);

        dup2(devnull, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    close(fo);
    close(fe);
    slurp(outp, r->out, sizeof r->out);
    slurp(errp, r->err, sizeof r->err);
    unlink(outp);
    unlink(errp);
}
