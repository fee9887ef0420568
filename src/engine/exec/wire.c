/*
 * wire.c - see wire.h. The handshake is JSON (parsed with cJSON, strictly:
 * a key samsep knows must have the right type and range; keys it does not
 * know are ignored, so a version-1 worker may say more), the audio frames
 * are fixed little-endian headers followed by float32 samples.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "engine/exec/wire.h"

#define MAX_RATE 1536000
#define MAX_SECONDS 86400.0

static const char *const tags[] = {
    "????", "HELO", "CONF", "REDY", "CHNK", "RSLT", "EROR"
};

const char *wire_tag(int type)
{
    return type > 0 && type <= WIRE_EROR ? tags[type] : tags[0];
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

void wire_put_header(unsigned char out[WIRE_HEADER], int type, uint32_t length)
{
    memcpy(out, wire_tag(type), 4);
    put_u32(out + 4, length);
}

void wire_get_header(const unsigned char in[WIRE_HEADER], int *type, uint32_t *length)
{
    int t;

    *type = WIRE_UNKNOWN;
    for (t = WIRE_HELO; t <= WIRE_EROR; t++)
        if (memcmp(in, tags[t], 4) == 0)
            *type = t;
    *length = get_u32(in + 4);
}

/* ---- handshake -------------------------------------------------------- */

static int want_int(const cJSON *o, const char *key, long lo, long hi, int *out,
                    char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (v == NULL)
        return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        set_err(err, errlen, "its HELO: \"%s\" must be a whole number from %ld to %ld",
                key, lo, hi);
        return -1;
    }
    *out = (int)v->valuedouble;
    return 0;
}

static int want_seconds(const cJSON *o, const char *key, double *out, char *err,
                        size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    if (v == NULL)
        return 1;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= MAX_SECONDS)) {
        set_err(err, errlen, "its HELO: \"%s\" must be a number of seconds from 0 to %g",
                key, MAX_SECONDS);
        return -1;
    }
    *out = v->valuedouble;
    return 0;
}

static int hello_name(const cJSON *o, wire_hello *h, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "name");
    size_t i, n;

    if (!cJSON_IsString(v) || v->valuestring == NULL ||
        (n = strlen(v->valuestring)) == 0 || n >= sizeof h->name) {
        set_err(err, errlen, "its HELO: \"name\" must be a string of 1 to %d characters",
                (int)sizeof h->name - 1);
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v->valuestring[i];

        h->name[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    h->name[n] = '\0';
    return 0;
}

static int hello_fields(const cJSON *o, wire_hello *h, char *err, size_t errlen)
{
    const cJSON *v;

    if (want_int(o, "protocol", 0, 1000000, &h->protocol, err, errlen) != 0) {
        if (err != NULL && err[0] == '\0')
            set_err(err, errlen, "its HELO: no \"protocol\" version");
        return -1;
    }
    if (h->protocol != WIRE_PROTOCOL) {
        set_err(err, errlen,
                "it speaks protocol version %d; this samsep speaks "
                "version %d",
                h->protocol, WIRE_PROTOCOL);
        return -1;
    }
    if (hello_name(o, h, err, errlen) != 0 ||
        want_int(o, "sample_rate", 0, MAX_RATE, &h->sample_rate, err, errlen) < 0 ||
        want_int(o, "channels", 0, 1000000, &h->channels, err, errlen) < 0 ||
        want_seconds(o, "chunk_seconds", &h->chunk_seconds, err, errlen) < 0 ||
        want_seconds(o, "overlap_seconds", &h->overlap_seconds, err, errlen) < 0 ||
        want_seconds(o, "max_chunk_seconds", &h->max_chunk_seconds, err, errlen) < 0)
        return -1;
    if (h->channels > 1) {
        set_err(err, errlen,
                "its HELO: \"channels\" is %d; a worker may ask for 0 (the "
                "file's channels) or 1 (mono)",
                h->channels);
        return -1;
    }
    if (h->chunk_seconds > 0 && h->overlap_seconds >= h->chunk_seconds) {
        set_err(err, errlen,
                "its HELO: \"overlap_seconds\" (%g) must be shorter than "
                "\"chunk_seconds\" (%g)",
                h->overlap_seconds, h->chunk_seconds);
        return -1;
    }
    if (h->max_chunk_seconds > 0 && h->chunk_seconds > h->max_chunk_seconds) {
        set_err(err, errlen,
                "its HELO: \"chunk_seconds\" (%g) is longer than "
                "\"max_chunk_seconds\" (%g)",
                h->chunk_seconds, h->max_chunk_seconds);
        return -1;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "residual");
    if (v != NULL && !cJSON_IsBool(v)) {
        set_err(err, errlen, "its HELO: \"residual\" must be true or false");
        return -1;
    }
    h->residual = v != NULL && cJSON_IsTrue(v);
    return 0;
}

int wire_parse_hello(const char *json, size_t len, wire_hello *h, char *err,
                     size_t errlen)
{
    cJSON *o;
    int rc;

    memset(h, 0, sizeof *h);
    h->overlap_seconds = -1.0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    o = cJSON_ParseWithLength(json, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        set_err(err, errlen, "its HELO is not a JSON object");
        return SAMSEP_ERR_FORMAT;
    }
    rc = hello_fields(o, h, err, errlen);
    cJSON_Delete(o);
    return rc == 0 ? SAMSEP_OK : SAMSEP_ERR_FORMAT;
}

char *wire_config_json(const samsep_engine_config *cfg)
{
    static const char *const residual[] = { "default", "model", "subtract" };
    cJSON *o = cJSON_CreateObject();
    char seed[32];
    char *s = NULL;
    int r = cfg->residual >= 0 && cfg->residual <= 2 ? cfg->residual : 0;

    /* the seed as an exact integer, even above 2^53 */
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    if (o != NULL && cJSON_AddNumberToObject(o, "protocol", WIRE_PROTOCOL) != NULL &&
        cJSON_AddStringToObject(o, "samsep", SAMSEP_VERSION_STRING) != NULL &&
        cJSON_AddStringToObject(o, "prompt",
                                cfg->prompt != NULL ? cfg->prompt : "speech") != NULL &&
        (cfg->model_path != NULL ? cJSON_AddStringToObject(o, "model", cfg->model_path)
                                 : cJSON_AddNullToObject(o, "model")) != NULL &&
        cJSON_AddRawToObject(o, "seed", seed) != NULL &&
        cJSON_AddNumberToObject(o, "threads", cfg->threads) != NULL &&
        cJSON_AddStringToObject(o, "residual", residual[r]) != NULL)
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- audio frames ----------------------------------------------------- */

void wire_put_chunk(unsigned char out[WIRE_CHUNK_HEADER], const wire_chunk *c)
{
    uint64_t start = (uint64_t)c->start;

    put_u32(out, c->file);
    put_u32(out + 4, c->chunk);
    put_u32(out + 8, (uint32_t)start);
    put_u32(out + 12, (uint32_t)(start >> 32));
    put_u32(out + 16, c->rate);
    put_u32(out + 20, c->channels);
    put_u32(out + 24, c->frames);
    put_u32(out + 28, 0);
}

uint64_t wire_chunk_length(const wire_chunk *c)
{
    return WIRE_CHUNK_HEADER + (uint64_t)c->frames * c->channels * 4u;
}

uint64_t wire_result_length(const wire_chunk *c, int parts)
{
    return WIRE_RESULT_HEADER + (uint64_t)parts * c->frames * c->channels * 4u;
}

int wire_check_result(const unsigned char h[WIRE_RESULT_HEADER], uint32_t length,
                      const wire_chunk *c, int parts, char *err, size_t errlen)
{
    uint32_t chunk = get_u32(h), frames = get_u32(h + 4);
    uint32_t channels = get_u32(h + 8), got_parts = get_u32(h + 12);

    if (chunk != c->chunk) {
        set_err(err, errlen, "its RSLT answers chunk %lu, not chunk %lu",
                (unsigned long)chunk, (unsigned long)c->chunk);
        return SAMSEP_ERR_FORMAT;
    }
    if (frames != c->frames || channels != c->channels) {
        set_err(err, errlen,
                "its RSLT has %lu frames of %lu channel(s); the chunk had "
                "%lu frames of %lu",
                (unsigned long)frames, (unsigned long)channels, (unsigned long)c->frames,
                (unsigned long)c->channels);
        return SAMSEP_ERR_FORMAT;
    }
    if (got_parts != (uint32_t)parts) {
        set_err(err, errlen,
                "its RSLT carries %lu signal(s); its HELO promised "
                "%d",
                (unsigned long)got_parts, parts);
        return SAMSEP_ERR_FORMAT;
    }
    if ((uint64_t)length != wire_result_length(c, parts)) {
        set_err(err, errlen, "its RSLT payload is %lu bytes; %llu expected",
                (unsigned long)length, (unsigned long long)wire_result_length(c, parts));
        return SAMSEP_ERR_FORMAT;
    }
    return SAMSEP_OK;
}

int wire_host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;

    memcpy(&b, &one, 1);
    return b == 1;
}

static void swap4(unsigned char *p)
{
    unsigned char t = p[0];

    p[0] = p[3];
    p[3] = t;
    t = p[1];
    p[1] = p[2];
    p[2] = t;
}

int64_t wire_floats_in(float *x, int64_t n, int64_t *first)
{
    int64_t i, bad = 0;

    if (!wire_host_is_le())
        for (i = 0; i < n; i++)
            swap4((unsigned char *)&x[i]);
    *first = -1;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            if (bad++ == 0)
                *first = i;
        }
    return bad;
}

void wire_floats_out(unsigned char *dst, const float *src, int64_t n)
{
    int64_t i;

    memcpy(dst, src, (size_t)n * sizeof(float));
    if (!wire_host_is_le())
        for (i = 0; i < n; i++)
            swap4(dst + 4 * i);
}
