/*
 * exec_gain_worker.c - an exec worker in plain C: the target is the chunk
 * times a gain (1 by default: a pass-through), the residual, when asked
 * for, what is left. It is the protocol's reference in C (doc/exec-protocol.md)
 * and the worker of samsep's tests and of bench/exec.sh:
 *
 *   samsep -e exec --worker "exec-gain-worker --gain 0.5 --residual" in.wav -o out/
 *
 * The program only uses read(2) and write(2) on its stdin and stdout and
 * reads every field byte by byte in little-endian order, so it is correct
 * on any host. Messages go to stderr, which samsep copies into its log.
 *
 * Options: --gain G, --rate HZ (0: the file's), --mono, --chunk S,
 * --overlap S, --residual (return mixture - target as the residual).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- bytes ---------------------------------------------------------- */

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = get_u32(p);
    float f;

    memcpy(&f, &u, sizeof f);
    return f;
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t u;

    memcpy(&u, &f, sizeof u);
    put_u32(p, u);
}

/* Read exactly n bytes: 1 done, 0 clean end of input before the first byte,
 * -1 error or end inside the n bytes. */
static int read_all(unsigned char *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(0, p + got, n - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return got == 0 && k == 0 ? 0 : -1;
        got += (size_t)k;
    }
    return 1;
}

static int write_all(const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(1, p, n);

        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ---- frames --------------------------------------------------------- */

/* A frame: 4-byte ASCII type, u32 payload length, payload. */
static int write_frame(const char type[4], const void *payload, uint32_t length)
{
    unsigned char h[8];

    memcpy(h, type, 4);
    put_u32(h + 4, length);
    return write_all(h, 8) == 0 && write_all(payload, length) == 0 ? 0 : -1;
}

/* The next frame's type and payload (in *buf, grown as needed): 1, or 0 at
 * the end of input, or -1. */
static int read_frame(char type[5], unsigned char **buf, size_t *cap, uint32_t *len)
{
    unsigned char h[8];
    int r = read_all(h, 8);

    if (r <= 0)
        return r;
    memcpy(type, h, 4);
    type[4] = '\0';
    *len = get_u32(h + 4);
    if (*len > *cap) {
        unsigned char *p = realloc(*buf, *len);

        if (p == NULL)
            return -1;
        *buf = p;
        *cap = *len;
    }
    return read_all(*buf, *len) == 1 ? 1 : -1;
}

/* ---- the worker ------------------------------------------------------ */

typedef struct options {
    double gain, chunk, overlap;
    long rate;
    int mono, residual;
} options;

static int parse(int argc, char **argv, options *o)
{
    int i;

    o->gain = 1.0;
    o->chunk = 10.0;
    o->overlap = 1.0;
    o->rate = 0;
    o->mono = o->residual = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--mono") == 0)
            o->mono = 1;
        else if (strcmp(a, "--residual") == 0)
            o->residual = 1;
        else if (v != NULL && strcmp(a, "--gain") == 0 && ++i)
            o->gain = atof(v);
        else if (v != NULL && strcmp(a, "--rate") == 0 && ++i)
            o->rate = atol(v);
        else if (v != NULL && strcmp(a, "--chunk") == 0 && ++i)
            o->chunk = atof(v);
        else if (v != NULL && strcmp(a, "--overlap") == 0 && ++i)
            o->overlap = atof(v);
        else {
            fprintf(stderr, "exec-gain-worker: unknown option %s\n", a);
            return -1;
        }
    }
    return 0;
}

/* CHNK payload: u32 file, u32 chunk, i64 start, u32 rate, u32 channels,
 * u32 frames, u32 zero, then frames * channels float32. RSLT payload: u32
 * chunk, u32 frames, u32 channels, u32 parts, then the target and, when
 * parts is 2, the residual, each frames * channels float32. */
static int answer_chunk(const options *o, const unsigned char *in, uint32_t len,
                        unsigned char **out, size_t *cap)
{
    uint32_t chunk, channels, frames, parts = o->residual ? 2 : 1;
    const unsigned char *x = in + 32;
    float g = (float)o->gain;
    size_t n, i, need;

    if (len < 32) {
        fprintf(stderr, "exec-gain-worker: CHNK shorter than its header\n");
        return -1;
    }
    chunk = get_u32(in + 4);
    channels = get_u32(in + 20);
    frames = get_u32(in + 24);
    n = (size_t)frames * channels;
    need = 16 + parts * n * 4;
    if (len != 32 + n * 4) {
        fprintf(stderr, "exec-gain-worker: CHNK of %lu bytes does not match its header\n",
                (unsigned long)len);
        return -1;
    }
    if (need > *cap) {
        unsigned char *p = realloc(*out, need);

        if (p == NULL)
            return -1;
        *out = p;
        *cap = need;
    }
    put_u32(*out, chunk);
    put_u32(*out + 4, frames);
    put_u32(*out + 8, channels);
    put_u32(*out + 12, parts);
    for (i = 0; i < n; i++) {
        float s = get_f32(x + 4 * i), t = g * s;

        put_f32(*out + 16 + 4 * i, t);
        if (parts == 2)
            put_f32(*out + 16 + 4 * (n + i), s - t);
    }
    return write_frame("RSLT", *out, (uint32_t)need);
}

int main(int argc, char **argv)
{
    unsigned char *buf = NULL, *out = NULL;
    size_t cap = 0, ocap = 0;
    char hello[512], type[5];
    uint32_t len;
    options o;
    int r;

    if (parse(argc, argv, &o) != 0)
        return 2;
    /* 1. HELO: who we are and what audio we want. */
    snprintf(hello, sizeof hello,
             "{\"protocol\": 1, \"name\": \"gain\", \"sample_rate\": %ld, "
             "\"channels\": %d, \"chunk_seconds\": %g, \"overlap_seconds\": %g, "
             "\"residual\": %s}",
             o.rate, o.mono ? 1 : 0, o.chunk, o.overlap, o.residual ? "true" : "false");
    if (write_frame("HELO", hello, (uint32_t)strlen(hello)) != 0)
        return 1;
    /* 2. CONF: the prompt and options, as JSON; a gain has no use for them. */
    r = read_frame(type, &buf, &cap, &len);
    if (r <= 0 || strcmp(type, "CONF") != 0) {
        fprintf(stderr, "exec-gain-worker: expected CONF\n");
        return r == 0 ? 0 : 1;
    }
    fprintf(stderr, "exec-gain-worker: gain %g, settings %.*s\n", o.gain, (int)len,
            (const char *)buf);
    /* 3. REDY, then one RSLT per CHNK until samsep closes our input. */
    if (write_frame("REDY", "", 0) != 0)
        return 1;
    while ((r = read_frame(type, &buf, &cap, &len)) == 1) {
        if (strcmp(type, "CHNK") != 0 || answer_chunk(&o, buf, len, &out, &ocap) != 0) {
            r = -1;
            break;
        }
    }
    free(buf);
    free(out);
    return r == 0 ? 0 : 1;
}
