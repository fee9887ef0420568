/*
 * separate.c - the smallest program built on libsamsep: isolate speech
 * from one file with the default engine and write OUTDIR/target.wav and
 * OUTDIR/residual.wav. Build it against an installed library with
 *
 *     cc separate.c $(pkg-config --cflags --libs samsep) -o separate
 *
 * Usage: separate INPUT OUTDIR [PROMPT]
 */
#include <stdio.h>
#include <stdlib.h>

#include <samsep.h>

int main(int argc, char **argv)
{
    samsep_engine_config cfg = { 0 };
    samsep_engine *engine = NULL;
    samsep_report report;
    samsep_job job;
    char err[SAMSEP_MSG_MAX], target[4096], residual[4096];
    int rc;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s INPUT OUTDIR [PROMPT]\n", argv[0]);
        return 2;
    }
    cfg.prompt = argc == 4 ? argv[3] : "speech";
    rc = samsep_engine_open("dsp", &cfg, &engine, err, sizeof err);
    if (rc != SAMSEP_OK) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (samsep_make_dirs(argv[2]) != 0) {
        perror(argv[2]);
        samsep_engine_close(engine);
        return 1;
    }
    snprintf(target, sizeof target, "%s/target.wav", argv[2]);
    snprintf(residual, sizeof residual, "%s/residual.wav", argv[2]);
    samsep_job_init(&job);
    job.input_path = argv[1];
    job.target_path = target;
    job.residual_path = residual;
    job.format = SAMSEP_FORMAT_WAV;
    rc = samsep_separate_file(engine, &job, &report);
    if (rc != SAMSEP_OK)
        fprintf(stderr, "%s\n", report.message);
    else
        printf("%s: %lld frames at %d Hz -> %s, %s\n", argv[1], (long long)report.frames,
               report.sample_rate, target, residual);
    samsep_engine_close(engine);
    return rc == SAMSEP_OK ? 0 : 1;
}
