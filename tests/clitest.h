/*
 * clitest.h - running a program as a user runs it, for the end-to-end
 * suites: fork + exec with stdin from /dev/null, stdout and stderr captured.
 */
#ifndef SAMSEP_CLITEST_H
#define SAMSEP_CLITEST_H

typedef struct result {
    int status; /* exit status, or 128 + signal */
    char out[16384];
    char err[16384];
} result;

/* Run `bin` with args (NULL-terminated, without the program name); fails
 * the running cmocka test if it cannot be started. */
void run_program(result *r, const char *bin, const char *const *args);

/* RUN(&r, "arg", ...) runs the suite's `bin`. */
#define RUN(r, ...)                                        \
    do {                                                   \
        const char *const args_[] = { __VA_ARGS__, NULL }; \
        run_program((r), bin, args_);                      \
    } while (0)

#endif
