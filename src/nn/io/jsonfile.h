/*
 * jsonfile.h - reading a model folder's small JSON files (config.json).
 */
#ifndef SAMSEP_NN_IO_JSONFILE_H
#define SAMSEP_NN_IO_JSONFILE_H

#include <stddef.h>

struct cJSON;

/* Parse the JSON object in `path` (at most 4 MiB). Returns the object, or
 * NULL with *rc (SAMSEP_ERR_IO, _FORMAT or _NOMEM) and err naming the file. */
struct cJSON *nn_json_load(const char *path, int *rc, char *err, size_t errlen);

#endif
