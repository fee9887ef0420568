/*
 * threadpool.c - persistent worker threads for the model kernels.
 *
 * One job at a time: the caller publishes (fn, ctx, n_items) and bumps a
 * generation counter; every worker wakes, runs its own contiguous range (or
 * nothing when there are fewer ranges than threads) and counts itself off.
 * All workers take part in every job, so a worker can never miss one
 * generation and read the next job's fields by mistake. The caller runs
 * range 0 itself, then waits for the count to reach zero.
 *
 * Waiting is spin-then-sleep on both sides: a forward pass issues hundreds
 * of short jobs back to back, where a condition-variable round trip per job
 * would cost more than the work; after a short spin everybody sleeps, so an
 * idle pool costs nothing. Workers block all signals so that the program's
 * handlers (Ctrl-C in the CLI) run on its own threads.
 */
#include "nn/cpu/threadpool.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "samsep.h"

#define TPOOL_MAX_THREADS 1024
/* Busy-wait iterations before sleeping (each a pause instruction, roughly
 * 10-150 cycles): tens of microseconds, enough to bridge two kernels. */
#define TPOOL_SPIN 4096

typedef struct worker_arg {
    struct nn_tpool *pool;
    int index;
} worker_arg;

struct nn_tpool {
    int n;                   /* threads including the caller */
    pthread_t *threads;      /* n - 1 workers */
    worker_arg *args;        /* arguments of the n - 1 workers */
    pthread_mutex_t mu;      /* guards sleeping and waking */
    pthread_cond_t wake;     /* gen changed or stop set */
    pthread_cond_t done;     /* pending reached zero */
    pthread_mutex_t call_mu; /* one job at a time */
    atomic_uint gen;
    atomic_int pending;
    atomic_int stop;
    /* the current job, written before gen is bumped */
    nn_tpool_fn fn;
    void *ctx;
    int64_t n_items;
    int n_ranges;
};

/* The pool whose job this thread is running, and its worker index: lets a
 * nested nn_tpool_parallel_for run inline instead of deadlocking. */
static _Thread_local const nn_tpool *tl_pool;
static _Thread_local int tl_worker;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static void range_of(int64_t n, int parts, int r, int64_t *b, int64_t *e)
{
    int64_t base = n / parts, rem = n % parts;
    *b = (int64_t)r * base + (r < rem ? r : rem);
    *e = *b + base + (r < rem ? 1 : 0);
}

static void run_range(nn_tpool *p, int r)
{
    int64_t b, e;
    if (r >= p->n_ranges)
        return;
    range_of(p->n_items, p->n_ranges, r, &b, &e);
    if (e > b) {
        tl_pool = p;
        tl_worker = r;
        p->fn(p->ctx, b, e, r);
        tl_pool = NULL;
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    nn_tpool *p = wa->pool;
    unsigned seen = 0;

    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_acquire)) {
            if (++spins < TPOOL_SPIN) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load_explicit(&p->gen, memory_order_acquire) == seen &&
                   !atomic_load_explicit(&p->stop, memory_order_acquire))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load_explicit(&p->stop, memory_order_acquire))
            break;
        seen = g;
        run_range(p, wa->index);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > TPOOL_MAX_THREADS ? TPOOL_MAX_THREADS : (int)n;
}

int nn_tpool_create(int n_threads, nn_tpool **out)
{
    nn_tpool *p;
    int i, started = 0, rc;
    sigset_t all, old;

    if (out == NULL || n_threads < 0 || n_threads > TPOOL_MAX_THREADS)
        return SAMSEP_ERR_INVALID;
    *out = NULL;
    if (n_threads == 0)
        n_threads = online_cpus();
    p = calloc(1, sizeof *p);
    if (p == NULL)
        return SAMSEP_ERR_NOMEM;
    p->n = n_threads;
    atomic_init(&p->gen, 0u);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->call_mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        p->args = calloc((size_t)n_threads - 1, sizeof *p->args);
        if (p->threads == NULL || p->args == NULL) {
            p->n = 1;
            nn_tpool_destroy(p);
            return SAMSEP_ERR_NOMEM;
        }
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        for (i = 1; i < n_threads; i++) {
            worker_arg *wa = &p->args[i - 1];
            wa->pool = p;
            wa->index = i;
            rc = pthread_create(&p->threads[i - 1], NULL, worker_main, wa);
            if (rc != 0)
                break;
            started++;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (started != n_threads - 1) {
            p->n = started + 1;
            nn_tpool_destroy(p);
            return SAMSEP_ERR_NOMEM;
        }
    }
    *out = p;
    return SAMSEP_OK;
}

void nn_tpool_destroy(nn_tpool *p)
{
    int i;
    if (p == NULL)
        return;
    if (p->n > 1) {
        pthread_mutex_lock(&p->mu);
        atomic_store_explicit(&p->stop, 1, memory_order_release);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (i = 0; i < p->n - 1; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->call_mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->args);
    free(p);
}

int nn_tpool_size(const nn_tpool *p)
{
    return p == NULL ? 1 : p->n;
}

void nn_tpool_parallel_for(nn_tpool *p, int64_t n_items, nn_tpool_fn fn, void *ctx)
{
    nn_tpool_parallel_for_n(p, n_items, TPOOL_MAX_THREADS, fn, ctx);
}

void nn_tpool_parallel_for_n(nn_tpool *p, int64_t n_items, int max_ranges, nn_tpool_fn fn,
                             void *ctx)
{
    int spins = 0, ranges;

    if (n_items <= 0 || fn == NULL)
        return;
    if (tl_pool != NULL && tl_pool == p) {
        fn(ctx, 0, n_items, tl_worker); /* nested: inline, same worker */
        return;
    }
    ranges = p == NULL ? 1 : p->n;
    if (max_ranges < ranges)
        ranges = max_ranges < 1 ? 1 : max_ranges;
    if (n_items < ranges)
        ranges = (int)n_items;
    if (ranges == 1) {
        const nn_tpool *saved = tl_pool;
        int saved_w = tl_worker;
        tl_pool = p;
        tl_worker = 0;
        fn(ctx, 0, n_items, 0);
        tl_pool = saved;
        tl_worker = saved_w;
        return;
    }

    pthread_mutex_lock(&p->call_mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_items = n_items;
    p->n_ranges = ranges;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1u, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    run_range(p, 0);

    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        if (++spins < TPOOL_SPIN) {
            cpu_relax();
            continue;
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->call_mu);
}
