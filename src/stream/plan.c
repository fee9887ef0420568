/*
 * plan.c - the chunk plan: which frames each chunk covers.
 *
 * Pure integer arithmetic, shared by the pipeline's streaming chunker and by
 * anyone who wants to know the plan up front. Chunk k starts at k * hop with
 * hop = chunk - overlap >= 1, so starts strictly increase and the plan
 * always advances; the last chunk is the first whose start + chunk reaches
 * the end, so the plan always ends, after 1 + ceil((frames - chunk) / hop)
 * chunks. Every chunk before the last is full length and ends before the
 * file does, hence consecutive chunks overlap by exactly `overlap` frames
 * and the last chunk is longer than the overlap.
 */
#include "samsep.h"

static int check(int64_t frames, int64_t chunk, int64_t overlap)
{
    if (frames < 0 || chunk <= 0 || overlap < 0 || overlap >= chunk)
        return SAMSEP_ERR_INVALID;
    return SAMSEP_OK;
}

int samsep_plan_count(int64_t frames, int64_t chunk, int64_t overlap, int64_t *count)
{
    int64_t hop;
    int rc = check(frames, chunk, overlap);

    if (rc != SAMSEP_OK || count == NULL)
        return rc != SAMSEP_OK ? rc : SAMSEP_ERR_INVALID;
    hop = chunk - overlap;
    if (frames == 0)
        *count = 0;
    else if (frames <= chunk)
        *count = 1;
    else /* written to avoid overflow of frames - chunk + hop - 1 */
        *count = 1 + (frames - chunk) / hop + ((frames - chunk) % hop != 0);
    return SAMSEP_OK;
}

int samsep_plan_chunk(int64_t frames, int64_t chunk, int64_t overlap, int64_t index,
                      samsep_span *span)
{
    int64_t count, start;
    int rc = samsep_plan_count(frames, chunk, overlap, &count);

    if (rc != SAMSEP_OK)
        return rc;
    if (span == NULL || index < 0 || index >= count)
        return SAMSEP_ERR_INVALID;
    start = index * (chunk - overlap);
    span->start = start;
    span->end = frames - start <= chunk ? frames : start + chunk;
    return SAMSEP_OK;
}
