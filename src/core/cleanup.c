/*
 * cleanup.c - the temporaries and lock files of this process, removable from
 * a signal handler.
 *
 * A program told to stop twice (a second Ctrl-C, SIGTERM after SIGHUP) ends
 * at once, in its signal handler, without returning to the jobs that own the
 * hidden temporary outputs and lock files. So that it still leaves nothing
 * behind, the writer and the claims record each such path here while it
 * exists, and samsep_remove_temporaries() unlinks every recorded one using
 * only what is async-signal-safe: no allocation, no locks, atomics and
 * unlink(). Final names are never recorded, so a file under a final name is
 * never touched.
 *
 * Each slot is a sequence lock: `gen` is odd while `path` is valid. The
 * remover copies the path and unlinks the copy only if `gen` did not move
 * meanwhile, so a slot reused by another thread is never read half-written.
 * A path that finds no free slot (or is too long) is simply not recorded;
 * the next run removes it, as it removes those of a process that was killed.
 *
 * The process groups of the workers this process started (the exec engine)
 * are recorded the same way and killed with the same call: a worker runs in
 * a group of its own, out of reach of the terminal's signals, and would
 * otherwise outlive a process that ends at once.
 */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/internal.h"

/* Two temporaries and one lock per job in progress: room for ten jobs. */
#define TEMP_SLOTS 32

typedef struct temp_slot {
    atomic_int used; /* 0 free, 1 owned by a caller of temporary_track() */
    atomic_uint gen; /* odd while `path` names a file to remove */
    char path[PATH_MAX];
} temp_slot;

static temp_slot slots[TEMP_SLOTS];

/* Worker process groups: 0 is a free slot. */
#define CHILD_SLOTS 16

static atomic_long children[CHILD_SLOTS];

int temporary_track(const char *path)
{
    size_t len = strlen(path);
    int i;

    if (len >= PATH_MAX)
        return -1;
    for (i = 0; i < TEMP_SLOTS; i++) {
        int expected = 0;

        if (atomic_compare_exchange_strong(&slots[i].used, &expected, 1)) {
            memcpy(slots[i].path, path, len + 1);
            atomic_fetch_add(&slots[i].gen, 1); /* even -> odd: armed */
            return i;
        }
    }
    return -1;
}

void temporary_untrack(int slot)
{
    if (slot < 0 || slot >= TEMP_SLOTS)
        return;
    atomic_fetch_add(&slots[slot].gen, 1); /* odd -> even: disarmed */
    atomic_store(&slots[slot].used, 0);
}

int child_track(long pgid)
{
    int i;

    for (i = 0; i < CHILD_SLOTS && pgid > 0; i++) {
        long expected = 0;

        if (atomic_compare_exchange_strong(&children[i], &expected, pgid))
            return i;
    }
    return -1;
}

void child_untrack(int slot)
{
    if (slot >= 0 && slot < CHILD_SLOTS)
        atomic_store(&children[slot], 0);
}

void samsep_remove_temporaries(void)
{
    char copy[PATH_MAX];
    int i;

    for (i = 0; i < CHILD_SLOTS; i++) {
        long g = atomic_load(&children[i]);

        if (g > 0)
            (void)kill(-(pid_t)g, SIGKILL);
    }
    for (i = 0; i < TEMP_SLOTS; i++) {
        unsigned g = atomic_load(&slots[i].gen);

        if ((g & 1u) == 0)
            continue;
        memcpy(copy, slots[i].path, sizeof copy);
        copy[sizeof copy - 1] = '\0';
        if (atomic_load(&slots[i].gen) == g)
            (void)unlink(copy);
    }
}
