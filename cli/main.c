/*
 * main.c - the command-line program: a client of libsamsep, nothing more.
 *
 * main reads the settings (options.c: defaults, then the config file, then
 * the flags), asks for what is missing in interactive mode
 * (interactive.c), and hands the run to run.c, which plans the batch,
 * opens the engine and processes one input at a time.
 *
 * Exit status: 0 all done (or nothing to do), 1 some inputs failed, 2 the
 * command was unusable or refused as unsafe, 128 + N stopped by signal N
 * (130 Ctrl-C, 129 SIGHUP, 143 SIGTERM, 141 a closed output pipe). A stop
 * asks the library to finish the current block and remove its temporaries
 * (stop.c); a second signal ends at once.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "samsep.h"
#include "stop.h"

/* Without interactive mode, the inputs and the output folder are given. */
static int check_inputs(const options *o)
{
    if (o->n_inputs < 1) {
        fputs("samsep: no inputs; give files or folders (or run samsep with no "
              "arguments on a terminal)\n",
              stderr);
        cli_usage(stderr);
        return EXIT_USAGE;
    }
    if (o->outdir == NULL) {
        fputs("samsep: no output folder; give one with -o DIR\n", stderr);
        return EXIT_USAGE;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    config cfg;
    char err[SAMSEP_MSG_MAX];
    const char *config_path;
    int rc;

    memset(&o, 0, sizeof o);
    o.overlap = -1;
    rc = cli_parse_options(argc, argv, &o);
    if (rc < 0)
        return EXIT_ALL_DONE;
    if (rc != 0)
        return rc;
    if (argc == 1 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        o.interactive = 1;
    cli_log_start(o.verbosity);

    config_path = o.config_path != NULL ? o.config_path : config_default_path();
    if (config_load(config_path, o.config_path != NULL, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "samsep: %s\n", err);
        return EXIT_USAGE;
    }
    cli_apply_config(&o, &cfg);
    rc = cli_check_settings(&o);
    if (rc == 0)
        rc = o.interactive ? interactive_ask(&o, &cfg, config_path) : check_inputs(&o);
    if (rc == 0)
        rc = cli_run(&o, argc, argv);
    config_free(&cfg);
    cli_options_free(&o);
    if (stop_signal() != 0)
        stop_exit(stop_signal());
    return rc;
}
