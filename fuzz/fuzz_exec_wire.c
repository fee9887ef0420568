/*
 * fuzz_exec_wire.c - libFuzzer target for what an exec worker sends that
 * samsep parses (src/engine/exec/wire.c): the frame header, the HELO JSON,
 * the fixed header of a RSLT frame checked against a chunk, and the samples
 * (byte order, finiteness). The whole input goes to each of them, so one
 * corpus serves all. Seeds: fuzz/corpus/exec_wire/ (HELO payloads and a
 * RSLT header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_chunk c = { 0, 3, 48000, 48000, 2, 100 };
    wire_hello h;
    char err[256];
    int type;
    uint32_t len;
    int64_t first;
    float *x;

    if (size >= WIRE_HEADER)
        wire_get_header(data, &type, &len);
    wire_parse_hello((const char *)data, size, &h, err, sizeof err);
    if (size >= WIRE_RESULT_HEADER)
        wire_check_result(data, (uint32_t)size, &c, 1 + (int)(size & 1), err, sizeof err);
    x = malloc(size / 4 * sizeof(float) + 1);
    if (x != NULL) {
        memcpy(x, data, size / 4 * sizeof(float));
        wire_floats_in(x, (int64_t)(size / 4), &first);
        free(x);
    }
    return 0;
}
