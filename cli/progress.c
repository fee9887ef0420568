/*
 * progress.c - one self-overwriting status line per file on a terminal:
 * file, chunks done, a bar, speed in multiples of real time and the time
 * left. Redraws are rate-limited so a fast engine is not slowed by the
 * terminal.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "progress.h"

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void format_duration(double s, char *buf, size_t len)
{
    long t;

    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, len, "--:--");
        return;
    }
    t = lround(s);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

void progress_update(void *user, const samsep_progress *p)
{
    progress_line *pl = user;
    double now = mono_now(), frac = 0, speed = 0, eta = -1;
    char bar[21], etabuf[32];
    int i, fill;
    int done = p->frames_total > 0 && p->frames_done >= p->frames_total;

    if (!done && now - pl->last_draw < 0.1)
        return;
    pl->last_draw = now;
    if (p->frames_total > 0)
        frac = (double)p->frames_done / (double)p->frames_total;
    if (frac > 1)
        frac = 1;
    if (p->elapsed > 0 && p->sample_rate > 0)
        speed = (double)p->frames_done / p->sample_rate / p->elapsed;
    if (speed > 0 && p->frames_total > 0)
        eta = (double)(p->frames_total - p->frames_done) / p->sample_rate / speed;
    fill = (int)(frac * 20);
    for (i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    format_duration(eta, etabuf, sizeof etabuf);
    fprintf(pl->out,
            "\r\033[K[%d/%d] %.40s  chunk %lld/%lld  [%s] %3.0f%%  %.0fx real time  ETA "
            "%s",
            pl->index, pl->count, pl->label, (long long)p->chunks_done,
            (long long)p->chunks_total, bar, frac * 100, speed, etabuf);
    fflush(pl->out);
    pl->drawn = 1;
}

void progress_clear(progress_line *pl)
{
    if (pl->drawn) {
        fputs("\r\033[K", pl->out);
        fflush(pl->out);
        pl->drawn = 0;
    }
}
