/*
 * fifo.c - see fifo.h. Frames are kept contiguous so a stage can hand
 * fifo_peek() straight to an engine or a writer; space freed at the front is
 * reclaimed by one memmove when the back runs out, which keeps the amortised
 * cost per frame constant.
 */
#include <stdlib.h>
#include <string.h>

#include "stream/fifo.h"

int fifo_init(fifo *q, int channels, int64_t initial_frames)
{
    memset(q, 0, sizeof *q);
    if (channels < 1)
        return -1;
    q->channels = channels;
    if (initial_frames > 0 && fifo_reserve(q, initial_frames) == NULL)
        return -1;
    return 0;
}

void fifo_free(fifo *q)
{
    free(q->data);
    memset(q, 0, sizeof *q);
}

float *fifo_reserve(fifo *q, int64_t n)
{
    size_t ch = (size_t)q->channels;

    if (n < 0)
        return NULL;
    if (q->head + q->len + n > q->cap && q->head > 0) {
        memmove(q->data, q->data + (size_t)q->head * ch,
                (size_t)q->len * ch * sizeof(float));
        q->head = 0;
    }
    if (q->len + n > q->cap) {
        int64_t cap = q->cap * 2 > q->len + n ? q->cap * 2 : q->len + n;
        float *p = realloc(q->data, (size_t)cap * ch * sizeof(float));

        if (p == NULL)
            return NULL;
        q->data = p;
        q->cap = cap;
    }
    return q->data + (size_t)(q->head + q->len) * ch;
}

void fifo_commit(fifo *q, int64_t n)
{
    q->len += n;
}

int fifo_push(fifo *q, const float *frames, int64_t n)
{
    float *dst = fifo_reserve(q, n);

    if (dst == NULL)
        return -1;
    if (n > 0)
        memcpy(dst, frames, (size_t)n * (size_t)q->channels * sizeof(float));
    fifo_commit(q, n);
    return 0;
}

int fifo_push_zeros(fifo *q, int64_t n)
{
    float *dst = fifo_reserve(q, n);

    if (dst == NULL)
        return -1;
    if (n > 0)
        memset(dst, 0, (size_t)n * (size_t)q->channels * sizeof(float));
    fifo_commit(q, n);
    return 0;
}

void fifo_drop(fifo *q, int64_t n)
{
    if (n >= q->len) {
        q->head = 0;
        q->len = 0;
        return;
    }
    q->head += n;
    q->len -= n;
}
