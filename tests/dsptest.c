/*
 * dsptest.c - see dsptest.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsptest.h"
#include "engine/engines.h"
#include "samsep.h"

uint64_t rng_next(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

int64_t run_engine(const char *prompt, int rate, int channels, const float *in,
                   float *out, int64_t n, int64_t block, uint64_t seed)
{
    const samsep_engine_vtable *vt = &samsep_engine_dsp;
    samsep_engine_config cfg = { .prompt = prompt };
    int64_t max_frames = block > 0 ? block : 4096, lat = -1, total, i;
    samsep_engine_info info;
    char err[SAMSEP_MSG_MAX];
    void *eng = NULL, *st = NULL;
    float *x, *y;
    rng r = { seed + 11 };

    assert_int_equal(vt->open(&cfg, &eng, &info, err, sizeof err), SAMSEP_OK);
    assert_int_equal(vt->stream_open(eng, rate, channels, max_frames, &st, &lat, err,
                                     sizeof err),
                     SAMSEP_OK);
    assert_true(lat >= 0);
    total = n + lat;
    x = calloc((size_t)(total * channels), sizeof *x);
    y = calloc((size_t)(total * channels), sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    memcpy(x, in, (size_t)(n * channels) * sizeof *x);
    for (i = 0; i < total;) {
        int64_t b = block > 0 ? block : 1 + (int64_t)(rng_next(&r) % 4096);

        if (b > total - i)
            b = total - i;
        assert_int_equal(vt->process(st, x + i * channels, y + i * channels, NULL, b),
                         SAMSEP_OK);
        i += b;
    }
    memcpy(out, y + lat * channels, (size_t)(n * channels) * sizeof *out);
    free(x);
    free(y);
    vt->stream_close(st);
    vt->close(eng);
    return lat;
}
