/*
 * jsonfile.c - see jsonfile.h. Read whole (the files are small), parsed
 * with cJSON, the buffer freed at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/internal.h"
#include "nn/io/jsonfile.h"

#define JSON_FILE_MAX (4L << 20)

cJSON *nn_json_load(const char *path, int *rc, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    cJSON *root;
    char *text;
    long n;

    *rc = SAMSEP_ERR_IO;
    if (f == NULL) {
        set_err(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        set_err(err, errlen, "%s: cannot read", path);
        fclose(f);
        return NULL;
    }
    if (n > JSON_FILE_MAX) {
        set_err(err, errlen, "%s: too large for a config (%ld bytes)", path, n);
        *rc = SAMSEP_ERR_FORMAT;
        fclose(f);
        return NULL;
    }
    text = malloc((size_t)n + 1);
    if (text == NULL) {
        set_err(err, errlen, "out of memory");
        *rc = SAMSEP_ERR_NOMEM;
        fclose(f);
        return NULL;
    }
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
        set_err(err, errlen, "%s: cannot read", path);
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL || !cJSON_IsObject(root)) {
        set_err(err, errlen, "%s: not a JSON object", path);
        cJSON_Delete(root);
        *rc = root == NULL && cJSON_GetErrorPtr() == NULL ? SAMSEP_ERR_NOMEM
                                                          : SAMSEP_ERR_FORMAT;
        return NULL;
    }
    *rc = SAMSEP_OK;
    return root;
}
