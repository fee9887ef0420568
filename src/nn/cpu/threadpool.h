/*
 * threadpool.h - a persistent pool of worker threads for the model kernels.
 *
 * The pool is created once (per model or per session) and reused by every
 * kernel call, so a forward pass starts no threads and allocates nothing.
 * nn_tpool_parallel_for() splits [0, n_items) into at most nn_tpool_size()
 * contiguous ranges, runs the first on the calling thread and the others on
 * the workers, and returns when all are done.
 *
 * Determinism is the callers' half of the contract: a kernel makes each
 * "item" a fixed unit of work (a row, a tile of a fixed size) whose result
 * does not depend on which thread computes it or on where the ranges are
 * cut; then its output is bit-identical for any pool size.
 *
 * Workers spin briefly after a job (so the back-to-back calls of a forward
 * pass are cheap) and then sleep on a condition variable.
 */
#ifndef SAMSEP_NN_CPU_THREADPOOL_H
#define SAMSEP_NN_CPU_THREADPOOL_H

#include <stdint.h>

typedef struct nn_tpool nn_tpool;

/*
 * The job: process items [begin, end). `worker` is the index (0 .. size-1)
 * of the thread running the range; ranges handed to one call never share a
 * worker index, so it may select per-worker scratch memory.
 */
typedef void (*nn_tpool_fn)(void *ctx, int64_t begin, int64_t end, int worker);

/*
 * Create a pool of `n_threads` threads including the caller (n_threads - 1
 * workers are started; 1 runs every job inline; 0 means the number of online
 * CPUs). Returns SAMSEP_OK, SAMSEP_ERR_INVALID (n_threads < 0 or > 1024) or
 * SAMSEP_ERR_NOMEM (memory or threads could not be had).
 */
int nn_tpool_create(int n_threads, nn_tpool **out /* OUT */);

/* Stop and join the workers; NULL is allowed. No job may be running. */
void nn_tpool_destroy(nn_tpool *pool);

/* Number of threads a job may use (>= 1); 1 for a NULL pool. */
int nn_tpool_size(const nn_tpool *pool);

/*
 * Run fn over [0, n_items) and wait for it. With n_items <= 0 nothing runs.
 * A NULL pool, a pool of 1, or n_items == 1 runs fn(ctx, 0, n_items, 0) on
 * the caller. Calls from several threads are serialised; a call made from
 * inside a job of the same pool runs inline with the job's worker index (so
 * nested work shares that worker's scratch and must not overlap its use).
 */
void nn_tpool_parallel_for(nn_tpool *pool, int64_t n_items, nn_tpool_fn fn, void *ctx);

/*
 * As nn_tpool_parallel_for, using at most `max_ranges` threads (values < 1
 * count as 1, which runs the whole range on the caller). Kernels use it to
 * keep small jobs off the workers; the items, and so the results, are the
 * same whatever the limit.
 */
void nn_tpool_parallel_for_n(nn_tpool *pool, int64_t n_items, int max_ranges,
                             nn_tpool_fn fn, void *ctx);

#endif
