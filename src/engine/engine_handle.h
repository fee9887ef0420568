/*
 * engine_handle.h - the inside of samsep_engine, shared by the registry and
 * the pipeline (which calls the table's per-file functions).
 */
#ifndef SAMSEP_ENGINE_HANDLE_H
#define SAMSEP_ENGINE_HANDLE_H

#include "samsep.h"

struct samsep_engine {
    const samsep_engine_vtable *vt;
    void *state;             /* what vt->open (or open_prompts) returned */
    samsep_engine_info info; /* what it declared */
    char *prompt;            /* copy of the (first) prompt */
    int n_prompts;
    char **prompts; /* copies of all of them */
    /* An engine without process_prompts opened for several prompts: one
     * state per prompt (state is instances[0]); else NULL. */
    void **instances;
    int n_open; /* states opened (closed by samsep_engine_close) */
};

/*
 * One file's streams for the pipeline: a single one, or one per prompt for
 * an engine opened once per prompt. *n (OUT) says how many; latency[j]
 * (OUT, n_prompts entries) is the latency of prompt j's stream.
 */
int engine_streams_open(samsep_engine *e, int rate, int channels, int64_t max_frames,
                        void ***streams /* OUT */, int *n /* OUT */,
                        int64_t *latency /* OUT */, char *err, size_t errlen);
void engine_streams_close(samsep_engine *e, void **streams, int n);

/*
 * Separate one chunk for every prompt j of the engine whose targets[j] is
 * not NULL (residuals[j] as for process()): `start` as process_at's.
 * Returns the engine's status, with why in err when it said.
 */
int engine_process(samsep_engine *e, void **streams, const float *in,
                   float *const *targets, float *const *residuals, int64_t frames,
                   int64_t start, char *err, size_t errlen);

#endif
