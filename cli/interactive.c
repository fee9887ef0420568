/*
 * interactive.c - samsep with no arguments on a terminal (or -i): asks for
 * the input folder, output folder, prompt and engine, each with the last
 * answer as its default, checks every answer at once (an unsafe folder pair
 * is explained and asked again, an unknown prompt or engine likewise),
 * shows what the run would do and asks before doing it. The answers are
 * remembered in the config file for next time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

/* Read one answer; Enter keeps `def`. Returns a malloc'd string, or NULL at
 * end of input. */
static char *ask(const char *question, const char *def)
{
    char line[4096];
    size_t n;

    if (def != NULL && def[0] != '\0')
        printf("%s [%s]: ", question, def);
    else
        printf("%s: ", question);
    fflush(stdout);
    if (fgets(line, sizeof line, stdin) == NULL) {
        printf("\n");
        return NULL;
    }
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
        line[--n] = '\0';
    if (n == 0 && def != NULL)
        return strdup(def);
    return strdup(line);
}

static int is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int interactive_ask(options *o, const config *cfg, const char *config_path)
{
    char err[SAMSEP_MSG_MAX], summary[128];
    samsep_batch *batch = NULL;
    char def_prompt[256], def_engine[256];
    int n_process, n_skip, n_fail, rc;

    printf("samsep %s: isolate one sound from every recording in a folder.\n",
           samsep_version());
    for (;;) {
        free(o->ask_input);
        o->ask_input = ask("Input folder", cfg->last_input);
        if (o->ask_input == NULL)
            return EXIT_USAGE;
        if (is_dir(o->ask_input))
            break;
        printf("  \"%s\" is not a folder; try again.\n", o->ask_input);
    }
    o->ask_inputs[0] = o->ask_input;
    o->inputs = o->ask_inputs;
    o->n_inputs = 1;
    for (;;) {
        free(o->ask_output);
        o->ask_output = ask("Output folder",
                            cfg->last_output != NULL ? cfg->last_output : cfg->output);
        if (o->ask_output == NULL)
            return EXIT_USAGE;
        if (o->ask_output[0] == '\0')
            continue;
        o->outdir = o->ask_output;
        rc = cli_plan(o, &batch, err, sizeof err);
        if (rc == SAMSEP_OK)
            break;
        printf("  %s\n  Choose another output folder.\n", err);
    }
    samsep_batch_free(batch);
    batch = NULL;
    /* copies: o->prompt and o->engine point into the answers freed below */
    snprintf(def_prompt, sizeof def_prompt, "%s",
             cfg->last_prompt != NULL ? cfg->last_prompt : o->prompt);
    snprintf(def_engine, sizeof def_engine, "%s",
             cfg->last_engine != NULL ? cfg->last_engine : o->engine);
    for (;;) {
        free(o->ask_prompt);
        free(o->ask_engine);
        o->ask_engine = NULL;
        o->ask_prompt = ask("Prompt (what to isolate)", def_prompt);
        if (o->ask_prompt == NULL)
            return EXIT_USAGE;
        o->ask_engine = ask("Engine", def_engine);
        if (o->ask_engine == NULL)
            return EXIT_USAGE;
        o->prompt = o->ask_prompt;
        o->n_prompts = 0; /* the answer is the one prompt */
        o->engine = o->ask_engine;
        if (cli_check_engine(o, err, sizeof err) == SAMSEP_OK)
            break;
        printf("  %s\n", err);
    }
    if (config_save_last(config_path, o->ask_input, o->ask_output, o->ask_prompt,
                         o->ask_engine, err, sizeof err) != 0)
        printf("  (could not remember these answers: %s)\n", err);

    rc = cli_plan(o, &batch, err, sizeof err);
    if (rc != SAMSEP_OK) {
        printf("  %s\n", err);
        return EXIT_USAGE;
    }
    cli_plan_counts(batch, &n_process, &n_skip, &n_fail);
    printf("Plan: %d to process, %d skipped, %d failing.\n", n_process, n_skip, n_fail);
    {
        int i, shown = 0;

        for (i = 0; i < samsep_batch_count(batch) && shown < 10; i++) {
            const samsep_item *it = samsep_batch_item(batch, i);

            if (it->action != SAMSEP_ACTION_PROCESS) {
                printf("  %s %s: %s\n",
                       it->action == SAMSEP_ACTION_SKIP ? "skip" : "fail", it->input,
                       it->reason);
                shown++;
            }
        }
    }
    samsep_batch_free(batch);
    snprintf(summary, sizeof summary, "Proceed?");
    printf("%s [y/N] ", summary);
    fflush(stdout);
    {
        char line[64];

        if (fgets(line, sizeof line, stdin) == NULL ||
            (line[0] != 'y' && line[0] != 'Y')) {
            printf("Nothing done.\n");
            return EXIT_USAGE;
        }
    }
    o->yes = 1; /* the user has seen the count */
    return 0;
}
