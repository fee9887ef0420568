/*
 * provenance.h - the tags samsep writes into every output and reads back:
 * the one place for their format (provenance.c).
 */
#ifndef SAMSEP_PROVENANCE_H
#define SAMSEP_PROVENANCE_H

#include <stddef.h>
#include <sys/stat.h>

/* The key of a source and settings: "source_id=DEV:INO:SIZE:MTIME;
 * settings=HASH". malloc'd; NULL when out of memory. */
char *provenance_key(const struct stat *source, const char *settings);

/* The software tag of an output: SAMSEP_SOFTWARE_TAG and the version. */
void provenance_software(char *out, size_t len);

/* The comment tag of an output: its role ("target", "residual"), the
 * engine, prompt and source path, then `key` (NULL or "": none). */
void provenance_comment(char *out, size_t len, const char *role, const char *engine,
                        const char *prompt, const char *source, const char *key);

/* Whether a file's software tag says samsep wrote it. */
int provenance_by_samsep(const char *software);

/* Whether a file's comment tag carries `key`. */
int provenance_has_key(const char *comment, const char *key);

#endif
