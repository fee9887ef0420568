/*
 * fs.c - file system helpers that the library and its programs share:
 * mkdir -p, and the names of the hidden files that accompany an output
 * (see samsep_hidden_key in internal.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "samsep.h"

int samsep_make_dirs(const char *path)
{
    char buf[PATH_MAX];
    size_t i, len = strlen(path);

    if (len == 0 || len >= sizeof buf) {
        errno = len == 0 ? ENOENT : ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return -1;
        buf[i] = i < len ? '/' : '\0';
    }
    return 0;
}

uint64_t samsep_fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void samsep_hidden_key(const char *name, char key[SAMSEP_HIDDEN_KEY_MAX + 1])
{
    size_t len = strlen(name), keep = SAMSEP_HIDDEN_KEY_MAX - 17; /* "~" + 16 hex */

    if (len <= SAMSEP_HIDDEN_KEY_MAX) {
        memcpy(key, name, len + 1);
        return;
    }
    /* never cut a multi-byte character: back off its continuation bytes */
    while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80)
        keep--;
    memcpy(key, name, keep);
    snprintf(key + keep, SAMSEP_HIDDEN_KEY_MAX + 1 - keep, "~%016llx",
             (unsigned long long)samsep_fnv1a(name));
}
