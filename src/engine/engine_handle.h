/*
 * engine_handle.h - the inside of samsep_engine, shared by the registry and
 * the pipeline (which calls the table's per-file functions).
 */
#ifndef SAMSEP_ENGINE_HANDLE_H
#define SAMSEP_ENGINE_HANDLE_H

#include "samsep.h"

struct samsep_engine {
    const samsep_engine_vtable *vt;
    void *state;             /* what vt->open returned */
    samsep_engine_info info; /* what vt->open declared */
    char *prompt;            /* copy of the configured prompt */
};

#endif
