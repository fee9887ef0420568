/*
 * fuzz_checkpoint.c - libFuzzer target for the PyTorch checkpoint reader
 * (zip.c, pickle.c, checkpoint.c behind nn_tensor_file_open_memory).
 *
 * An input starting with "PK" is a whole checkpoint file. Any other input
 * is taken as a pickle program and wrapped here into a well-formed archive
 * (`archive/data.pkl` with a correct CRC, next to four storages "0".."3":
 * 16 float32, 16 float16, 16 bfloat16 and 4 float32 elements), so that
 * mutations reach the pickle reader instead of dying at the CRC check.
 * Every tensor of a file that opens is converted to float32 and looked up
 * by name. Seeds: fuzz/corpus/checkpoint/ (made by fuzz/make_corpus.py).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tensors.h"
#include "nn/io/tensorfile.h"
#include "nn/io/tensors.h"

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static int put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        uint8_t *p;

        while (cap < b->n + n)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    return 0;
}

static int put_le(buf *b, uint64_t v, int n)
{
    uint8_t t[8];
    int k;

    for (k = 0; k < n; k++)
        t[k] = (uint8_t)(v >> (8 * k));
    return put(b, t, (size_t)n);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

typedef struct entry {
    const char *name;
    const uint8_t *data;
    size_t len;
} entry;

/* Little-endian fields, written in order: {value, width} pairs. */
typedef struct field {
    uint64_t v;
    int n;
} field;

static int put_fields(buf *b, const field *f, size_t n)
{
    size_t k;
    int rc = 0;

    for (k = 0; k < n; k++)
        rc |= put_le(b, f[k].v, f[k].n);
    return rc;
}

/* A stored zip, data 64-byte aligned as torch writes it. */
static int build_zip(buf *z, const entry *e, int n)
{
    size_t offs[8], cd;
    int i, rc = 0;

    z->n = 0;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name), at = z->n + 30 + nl + 4;
        size_t pad = (64 - at % 64) % 64, k;
        uint32_t crc = crc32_of(e[i].data, e[i].len);
        const field local[] = {
            { 0x04034b50, 4 }, { 20, 2 },      { 0, 2 },        { 0, 2 },
            { 0, 4 },          { crc, 4 },     { e[i].len, 4 }, { e[i].len, 4 },
            { nl, 2 },         { 4 + pad, 2 },
        };
        const field fb[] = { { 0x4246, 2 }, { pad, 2 } };

        offs[i] = z->n;
        rc |= put_fields(z, local, sizeof local / sizeof local[0]);
        rc |= put(z, e[i].name, nl);
        rc |= put_fields(z, fb, 2);
        for (k = 0; k < pad; k++)
            rc |= put(z, "Z", 1);
        rc |= put(z, e[i].data, e[i].len);
    }
    cd = z->n;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        const field central[] = {
            { 0x02014b50, 4 },
            { 20, 2 },
            { 20, 2 },
            { 0, 2 },
            { 0, 2 },
            { 0, 4 },
            { crc32_of(e[i].data, e[i].len), 4 },
            { e[i].len, 4 },
            { e[i].len, 4 },
            { nl, 2 },
            { 0, 2 },
            { 0, 2 },
            { 0, 2 },
            { 0, 2 },
            { 0, 4 },
            { offs[i], 4 },
        };

        rc |= put_fields(z, central, sizeof central / sizeof central[0]);
        rc |= put(z, e[i].name, nl);
    }
    {
        const field eocd[] = {
            { 0x06054b50, 4 },  { 0, 2 },         { 0, 2 },  { (uint64_t)n, 2 },
            { (uint64_t)n, 2 }, { z->n - cd, 4 }, { cd, 4 }, { 0, 2 },
        };

        rc |= put_fields(z, eocd, sizeof eocd / sizeof eocd[0]);
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t storage[64 + 32 + 32 + 16];
    static buf z;
    nn_tensor_file *tf = NULL;
    char err[512];

    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        /* A copy, so that misaligned tensor data is really misaligned
         * only where the file puts it. */
        uint8_t *copy = malloc(size);

        if (copy == NULL)
            return 0;
        memcpy(copy, data, size);
        if (nn_tensor_file_open_memory(copy, size, "fuzz.pt", &tf, err, sizeof err) ==
            0) {
            fuzz_touch_tensors(tf);
            nn_tensor_file_close(tf);
        }
        free(copy);
        return 0;
    } else {
        entry e[6];
        size_t k;

        for (k = 0; k < sizeof storage; k++)
            storage[k] = (uint8_t)(k * 37 + 11);
        e[0] = (entry){ "archive/data.pkl", data, size };
        e[1] = (entry){ "archive/data/0", storage, 64 };
        e[2] = (entry){ "archive/data/1", storage + 64, 32 };
        e[3] = (entry){ "archive/data/2", storage + 96, 32 };
        e[4] = (entry){ "archive/data/3", storage + 128, 16 };
        e[5] = (entry){ "archive/version", (const uint8_t *)"3\n", 2 };
        if (build_zip(&z, e, 6) != 0)
            return 0;
        if (nn_tensor_file_open_memory(z.p, z.n, "fuzz.pt", &tf, err, sizeof err) == 0) {
            fuzz_touch_tensors(tf);
            nn_tensor_file_close(tf);
        }
    }
    return 0;
}
