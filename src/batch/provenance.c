/*
 * provenance.c - the tags that say where an output came from, written by
 * the pipeline into both outputs and read back by the planner.
 *
 * The software tag starts with SAMSEP_SOFTWARE_TAG, so that an output is
 * known as one (and never taken as an input) whatever it is renamed to. The
 * comment tag is one line of "; "-separated key=value fields:
 *
 *   samsep provenance; role=target; engine=dsp; prompt=speech;
 *   source=/abs/in.wav; source_id=DEV:INO:SIZE:MTIME; settings=HASH
 *
 * The planner's key is the last two fields: the identity of the source
 * (device, inode, size, modification time to the nanosecond) and a hash of
 * every setting the outputs depend on. An output whose comment carries the
 * key of its source and the run's settings is current and is not redone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/provenance.h"
#include "core/internal.h"
#include "samsep.h"

char *provenance_key(const struct stat *source, const char *settings)
{
    char buf[160];
    int n;

    n = snprintf(buf, sizeof buf, "source_id=%llu:%llu:%lld:%lld.%09ld; settings=%016llx",
                 (unsigned long long)source->st_dev, (unsigned long long)source->st_ino,
                 (long long)source->st_size, (long long)source->st_mtim.tv_sec,
                 (long)source->st_mtim.tv_nsec,
                 (unsigned long long)samsep_fnv1a(settings != NULL ? settings : ""));
    if (n < 0 || (size_t)n >= sizeof buf)
        return NULL;
    return strdup(buf);
}

void provenance_software(char *out, size_t len)
{
    snprintf(out, len, "%s %s", SAMSEP_SOFTWARE_TAG, SAMSEP_VERSION_STRING);
}

void provenance_comment(char *out, size_t len, const char *role, const char *engine,
                        const char *prompt, const char *source, const char *key)
{
    int has_key = key != NULL && key[0] != '\0';

    snprintf(out, len, "%s provenance; role=%s; engine=%s; prompt=%s; source=%s%s%s",
             SAMSEP_SOFTWARE_TAG, role, engine, prompt, source, has_key ? "; " : "",
             has_key ? key : "");
}

int provenance_by_samsep(const char *software)
{
    return strncmp(software, SAMSEP_SOFTWARE_TAG, strlen(SAMSEP_SOFTWARE_TAG)) == 0;
}

int provenance_has_key(const char *comment, const char *key)
{
    return strstr(comment, key) != NULL;
}
