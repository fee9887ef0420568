/*
 * test_exec_wire.c - the exec protocol's bytes (src/engine/exec/wire.c):
 * frame headers both ways, what a HELO may and may not say, the CONF that
 * samsep sends (exact seed above 2^53), chunk headers at their documented
 * offsets, the checks of a RSLT against its chunk, and the sample pass that
 * counts NaN and infinity. The end-to-end behaviour with real worker
 * processes is in tests/scenarios/2[234]_exec_*.sh.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/exec/wire.h"

static int hello(const char *json, wire_hello *h, char *err, size_t errlen)
{
    return wire_parse_hello(json, strlen(json), h, err, errlen);
}

static void test_header(void **state)
{
    unsigned char b[WIRE_HEADER];
    uint32_t len;
    int type;

    (void)state;
    wire_put_header(b, WIRE_RSLT, 0x01020304u);
    assert_memory_equal(b, "RSLT\x04\x03\x02\x01", 8);
    wire_get_header(b, &type, &len);
    assert_int_equal(type, WIRE_RSLT);
    assert_int_equal(len, 0x01020304u);
    wire_get_header((const unsigned char *)"HELLO!!!", &type, &len);
    assert_int_equal(type, WIRE_UNKNOWN);
    wire_get_header((const unsigned char *)"rslt\0\0\0\0", &type, &len);
    assert_int_equal(type, WIRE_UNKNOWN); /* tags are case-sensitive */
}

static void test_hello_good(void **state)
{
    wire_hello h;
    char err[256];

    (void)state;
    assert_int_equal(hello("{\"protocol\": 1, \"name\": \"sam\", \"sample_rate\": 48000, "
                           "\"channels\": 1, \"chunk_seconds\": 10, \"overlap_seconds\": "
                           "2, "
                           "\"residual\": true, \"future_key\": [1, 2]}",
                           &h, err, sizeof err),
                     SAMSEP_OK);
    assert_string_equal(h.name, "sam");
    assert_int_equal(h.sample_rate, 48000);
    assert_int_equal(h.channels, 1);
    assert_true(h.chunk_seconds == 10.0 && h.overlap_seconds == 2.0);
    assert_int_equal(h.residual, 1);
    /* the minimum: everything else is "the file's" or samsep's default */
    assert_int_equal(hello("{\"protocol\":1,\"name\":\"x\"}", &h, err, sizeof err),
                     SAMSEP_OK);
    assert_int_equal(h.sample_rate, 0);
    assert_int_equal(h.channels, 0);
    assert_true(h.chunk_seconds == 0.0 && h.overlap_seconds < 0);
    assert_int_equal(h.residual, 0);
    /* control characters in the name are not passed on to messages */
    assert_int_equal(hello("{\"protocol\":1,\"name\":\"a\\u001bb\"}", &h, err,
                           sizeof err),
                     SAMSEP_OK);
    assert_string_equal(h.name, "a?b");
}

static void test_hello_bad(void **state)
{
    static const struct {
        const char *json, *why;
    } bad[] = {
        { "not json", "not a JSON object" },
        { "[1]", "not a JSON object" },
        { "{\"name\":\"x\"}", "no \"protocol\"" },
        { "{\"protocol\":2,\"name\":\"x\"}",
          "protocol version 2; this samsep speaks version 1" },
        { "{\"protocol\":1.5,\"name\":\"x\"}", "\"protocol\" must be a whole number" },
        { "{\"protocol\":1}", "\"name\" must be a string" },
        { "{\"protocol\":1,\"name\":\"\"}", "\"name\" must be a string" },
        { "{\"protocol\":1,\"name\":\"x\",\"channels\":2}", "\"channels\" is 2" },
        { "{\"protocol\":1,\"name\":\"x\",\"channels\":-1}", "\"channels\" must be" },
        { "{\"protocol\":1,\"name\":\"x\",\"sample_rate\":\"48k\"}",
          "\"sample_rate\" must be" },
        { "{\"protocol\":1,\"name\":\"x\",\"chunk_seconds\":-1}",
          "\"chunk_seconds\" must be" },
        { "{\"protocol\":1,\"name\":\"x\",\"chunk_seconds\":2,\"overlap_seconds\":2}",
          "must be shorter" },
        { "{\"protocol\":1,\"name\":\"x\",\"residual\":1}",
          "\"residual\" must be true or false" },
        { "{\"protocol\":1,\"name\":\"x\",\"chunk_seconds\":30,\"max_chunk_seconds\":10}",
          "longer than \"max_chunk_seconds\"" },
    };
    wire_hello h;
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(hello(bad[i].json, &h, err, sizeof err), SAMSEP_ERR_FORMAT);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("HELO %s: message \"%s\" lacks \"%s\"", bad[i].json, err,
                     bad[i].why);
    }
    /* a payload is not NUL-terminated: only `len` bytes count */
    assert_int_equal(wire_parse_hello("{\"protocol\":1,\"name\":\"x\"}garbage", 26, &h,
                                      err, sizeof err),
                     SAMSEP_OK);
}

static void test_config_json(void **state)
{
    samsep_engine_config cfg;
    char *s;

    (void)state;
    memset(&cfg, 0, sizeof cfg);
    cfg.prompt = "a \"dog\" barking";
    cfg.seed = 18446744073709551615ull;
    cfg.threads = 3;
    cfg.residual = SAMSEP_RESIDUAL_MIX_MINUS;
    s = wire_config_json(&cfg);
    assert_non_null(s);
    assert_non_null(strstr(s, "\"protocol\":1"));
    assert_non_null(strstr(s, "\"prompt\":\"a \\\"dog\\\" barking\""));
    assert_non_null(strstr(s, "\"model\":null"));
    assert_non_null(strstr(s, "\"seed\":18446744073709551615"));
    assert_non_null(strstr(s, "\"threads\":3"));
    assert_non_null(strstr(s, "\"residual\":\"subtract\""));
    free(s);
    cfg.prompt = NULL;
    cfg.model_path = "/m";
    s = wire_config_json(&cfg);
    assert_non_null(strstr(s, "\"prompt\":\"speech\""));
    assert_non_null(strstr(s, "\"model\":\"/m\""));
    free(s);
}

static void test_chunk_header(void **state)
{
    wire_chunk c = { 7, 9, ((int64_t)1 << 33) + 5, 44100, 2, 1000 };
    unsigned char b[WIRE_CHUNK_HEADER];

    (void)state;
    wire_put_chunk(b, &c);
    assert_memory_equal(b,
                        "\x07\0\0\0"
                        "\x09\0\0\0"
                        "\x05\0\0\0\x02\0\0\0"
                        "\x44\xac\0\0"
                        "\x02\0\0\0"
                        "\xe8\x03\0\0"
                        "\0\0\0\0",
                        32);
    assert_int_equal(wire_chunk_length(&c), 32 + 8000);
    assert_int_equal(wire_result_length(&c, 1), 16 + 8000);
    assert_int_equal(wire_result_length(&c, 2), 16 + 16000);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static void result_header(unsigned char *h, uint32_t chunk, uint32_t frames,
                          uint32_t channels, uint32_t parts)
{
    put32(h, chunk);
    put32(h + 4, frames);
    put32(h + 8, channels);
    put32(h + 12, parts);
}

static void test_check_result(void **state)
{
    wire_chunk c = { 0, 4, 0, 16000, 1, 100 };
    unsigned char h[WIRE_RESULT_HEADER];
    char err[256];

    (void)state;
    result_header(h, 4, 100, 1, 2);
    assert_int_equal(wire_check_result(h, 816, &c, 2, err, sizeof err), SAMSEP_OK);
    result_header(h, 3, 100, 1, 2);
    assert_int_equal(wire_check_result(h, 816, &c, 2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "answers chunk 3, not chunk 4"));
    result_header(h, 4, 99, 1, 2);
    assert_int_equal(wire_check_result(h, 808, &c, 2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "99 frames"));
    result_header(h, 4, 100, 2, 2);
    assert_int_equal(wire_check_result(h, 1616, &c, 2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    result_header(h, 4, 100, 1, 1);
    assert_int_equal(wire_check_result(h, 416, &c, 2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "promised 2"));
    result_header(h, 4, 100, 1, 2);
    assert_int_equal(wire_check_result(h, 815, &c, 2, err, sizeof err),
                     SAMSEP_ERR_FORMAT);
    assert_non_null(strstr(err, "815 bytes"));
}

static void test_floats(void **state)
{
    float x[6] = { 0.5f, -1.0f, 0.0f, 1e30f, 3.0f, 4.0f };
    unsigned char le[6 * 4];
    int64_t first;

    (void)state;
    assert_int_equal(wire_floats_in(x, 6, &first), 0);
    assert_int_equal(first, -1);
    wire_floats_out(le, x, 6);
    assert_memory_equal(le, "\0\0\0\x3f", 4); /* 0.5f, little-endian */
    memcpy(x, le, sizeof x);
    assert_int_equal(wire_floats_in(x, 6, &first), 0);
    assert_true(x[0] == 0.5f && x[1] == -1.0f);
    x[2] = NAN;
    x[4] = INFINITY;
    x[5] = -INFINITY;
    assert_int_equal(wire_floats_in(x, 6, &first), 3);
    assert_int_equal(first, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),       cmocka_unit_test(test_hello_good),
        cmocka_unit_test(test_hello_bad),    cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_chunk_header), cmocka_unit_test(test_check_result),
        cmocka_unit_test(test_floats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
