/*
 * test_engine_check.c - checking an engine's settings without opening it
 * (samsep_engine_check): the built-in engines refuse what their open
 * refuses, with the same status and message, and a table's check function
 * is called instead of open; a table without one is opened and closed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "samsep.h"

static int g_opens, g_closes, g_checks;

static int c_open(const samsep_engine_config *cfg, void **engine,
                  samsep_engine_info *info, char *err, size_t errlen)
{
    (void)info;
    g_opens++;
    if (cfg->prompt != NULL && strcmp(cfg->prompt, "bad") == 0) {
        snprintf(err, errlen, "no such sound");
        return SAMSEP_ERR_UNKNOWN_PROMPT;
    }
    *engine = &g_opens;
    return SAMSEP_OK;
}

static int c_stream_open(void *engine, int rate, int channels, int64_t max_frames,
                         void **stream, int64_t *latency, char *err, size_t errlen)
{
    (void)engine;
    (void)rate;
    (void)channels;
    (void)max_frames;
    (void)err;
    (void)errlen;
    *stream = NULL;
    *latency = 0;
    return SAMSEP_OK;
}

static int c_process(void *stream, const float *in, float *t, float *r, int64_t n)
{
    (void)stream;
    (void)in;
    (void)t;
    (void)r;
    (void)n;
    return SAMSEP_OK;
}

static void c_close(void *engine)
{
    (void)engine;
    g_closes++;
}

static int c_check(const samsep_engine_config *cfg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    g_checks++;
    return cfg->prompt != NULL && strcmp(cfg->prompt, "bad") == 0
               ? SAMSEP_ERR_UNKNOWN_PROMPT /* no message: the library adds one */
               : SAMSEP_OK;
}

static const samsep_engine_vtable no_check = { .name = "no-check",
                                               .description = "test",
                                               .open = c_open,
                                               .stream_open = c_stream_open,
                                               .process = c_process,
                                               .close = c_close };
static const samsep_engine_vtable with_check = { .name = "with-check",
                                                 .description = "test",
                                                 .open = c_open,
                                                 .stream_open = c_stream_open,
                                                 .process = c_process,
                                                 .close = c_close,
                                                 .check = c_check };

static void test_builtins(void **state)
{
    samsep_engine_config cfg;
    samsep_engine *e = NULL;
    char err[SAMSEP_MSG_MAX], oerr[SAMSEP_MSG_MAX];
    int i;

    (void)state;
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(samsep_engine_check("dsp", NULL, err, sizeof err), SAMSEP_OK);
    cfg.prompt = "drums";
    assert_int_equal(samsep_engine_check("DSP", &cfg, err, sizeof err), SAMSEP_OK);
    cfg.prompt = "banjo";
    assert_int_equal(samsep_engine_check("dsp", &cfg, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_int_equal(samsep_engine_open("dsp", &cfg, &e, oerr, sizeof oerr),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_string_equal(err, oerr);
    assert_int_equal(samsep_engine_check("nope", &cfg, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_ENGINE);
    assert_non_null(strstr(err, "dsp"));
    assert_int_equal(samsep_engine_check(NULL, &cfg, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    /* sam-audio: the folder is looked at, nothing loaded */
    cfg.prompt = "dog barking";
    assert_int_equal(samsep_engine_check("sam-audio", &cfg, err, sizeof err),
                     SAMSEP_ERR_INVALID);
    assert_non_null(strstr(err, "--model"));
    cfg.model_path = "/nonexistent/model";
    assert_int_equal(samsep_engine_check("sam-audio", &cfg, err, sizeof err),
                     SAMSEP_ERR_IO);
    assert_int_equal(samsep_engine_open("sam-audio", &cfg, &e, oerr, sizeof oerr),
                     SAMSEP_ERR_IO);
    assert_string_equal(err, oerr);
    for (i = 0; samsep_engine_builtin(i) != NULL; i++)
        assert_non_null(samsep_engine_builtin(i)->check);
}

static void test_tables(void **state)
{
    samsep_engine_config cfg;
    char err[SAMSEP_MSG_MAX];

    (void)state;
    memset(&cfg, 0, sizeof cfg);
    g_opens = g_closes = g_checks = 0;
    assert_int_equal(samsep_engine_check_custom(&with_check, &cfg, err, sizeof err),
                     SAMSEP_OK);
    cfg.prompt = "bad";
    assert_int_equal(samsep_engine_check_custom(&with_check, &cfg, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_non_null(strstr(err, "with-check"));
    assert_int_equal(g_checks, 2);
    assert_int_equal(g_opens, 0);
    /* without a check function: open and close stand in */
    assert_int_equal(samsep_engine_check_custom(&no_check, &cfg, err, sizeof err),
                     SAMSEP_ERR_UNKNOWN_PROMPT);
    assert_string_equal(err, "no such sound");
    cfg.prompt = "fine";
    assert_int_equal(samsep_engine_check_custom(&no_check, &cfg, err, sizeof err),
                     SAMSEP_OK);
    assert_int_equal(g_opens, 2);
    assert_int_equal(g_closes, 1);
    assert_int_equal(samsep_engine_check_custom(NULL, &cfg, err, sizeof err),
                     SAMSEP_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
