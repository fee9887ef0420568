/*
 * resample.c - streaming sample-rate conversion through libsoxr.
 *
 * soxr keeps its own filter history, compensates its delay (output frame 0
 * lines up with input frame 0) and, when flushed, returns the tail, so a
 * stream resampled block by block equals the whole file resampled at once.
 * High quality (SOXR_HQ: 20-bit, flat to 95 % of Nyquist) on one thread:
 * the pipeline is the unit of parallelism, not the resampler.
 */
#include <stdlib.h>

#include <soxr.h>

#include "audio/audio.h"
#include "core/internal.h"

struct resampler {
    soxr_t soxr;
    int channels;
};

int resampler_create(double in_rate, double out_rate, int channels, resampler **out,
                     char *err, size_t errlen)
{
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    soxr_error_t e = NULL;
    resampler *rs;

    *out = NULL;
    rs = calloc(1, sizeof *rs);
    if (rs == NULL) {
        set_err(err, errlen, "out of memory creating a resampler");
        return SAMSEP_ERR_NOMEM;
    }
    rs->channels = channels;
    rs->soxr = soxr_create(in_rate, out_rate, (unsigned)channels, &e, &io, &q, &rt);
    if (rs->soxr == NULL || e != NULL) {
        set_err(err, errlen, "cannot resample %.0f Hz to %.0f Hz: %s", in_rate, out_rate,
                e != NULL ? e : "unknown error");
        if (rs->soxr != NULL)
            soxr_delete(rs->soxr);
        free(rs);
        return SAMSEP_ERR_INVALID;
    }
    *out = rs;
    return SAMSEP_OK;
}

void resampler_destroy(resampler *rs)
{
    if (rs == NULL)
        return;
    soxr_delete(rs->soxr);
    free(rs);
}

int resampler_process(resampler *rs, const float *in, int64_t frames, int64_t *used,
                      float *out, int64_t cap, int64_t *made, char *err, size_t errlen)
{
    size_t idone = 0, odone = 0;
    soxr_error_t e;

    e = soxr_process(rs->soxr, in, in != NULL ? (size_t)frames : 0, &idone, out,
                     (size_t)cap, &odone);
    if (e != NULL) {
        set_err(err, errlen, "resampling failed: %s", e);
        return SAMSEP_ERR_ENGINE;
    }
    *used = (int64_t)idone;
    *made = (int64_t)odone;
    return SAMSEP_OK;
}
