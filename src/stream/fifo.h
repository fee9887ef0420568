/*
 * fifo.h - a growable first-in first-out queue of interleaved float frames.
 *
 * The pipeline's stages hand audio to each other through these queues. The
 * queue grows only while a stage's lag grows (at most one chunk plus the
 * resamplers' delay), so its capacity settles after the first chunk and no
 * allocation happens in steady state.
 */
#ifndef SAMSEP_FIFO_H
#define SAMSEP_FIFO_H

#include <stdint.h>

typedef struct fifo {
    float *data;  /* cap * channels floats */
    int64_t cap;  /* frames */
    int64_t head; /* first queued frame */
    int64_t len;  /* queued frames */
    int channels;
} fifo;

/* Start an empty queue; fails only for channels < 1. */
int fifo_init(fifo *q, int channels, int64_t initial_frames);
void fifo_free(fifo *q);

/* Room for n more frames at the end: returns where to write them (then call
 * fifo_commit), or NULL when out of memory. */
float *fifo_reserve(fifo *q, int64_t n);
void fifo_commit(fifo *q, int64_t n);

/* Append n frames (reserve + copy + commit). */
int fifo_push(fifo *q, const float *frames, int64_t n);
/* Append n frames of silence. */
int fifo_push_zeros(fifo *q, int64_t n);

/* The queued frames, contiguous. */
static inline float *fifo_peek(const fifo *q)
{
    return q->data + q->head * q->channels;
}

/* Remove the first n (<= len) frames. */
void fifo_drop(fifo *q, int64_t n);

#endif
