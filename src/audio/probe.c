/*
 * probe.c - what a file is, from its header and tags alone: its length,
 * rate, channels, the software and comment tags (samsep's provenance), the
 * container, and the output format "as input" means for it; and the file
 * name extension of each output format.
 *
 * Probing never decodes audio: the batch planner probes every file of a
 * folder of 100 000 recordings, so it reads the first bytes of each in one
 * call (audio_reader_open_header) and parses them from memory.
 */
#include <stdio.h>
#include <string.h>

#include "audio/audio.h"
#include "core/internal.h"

const char *samsep_format_extension(int format)
{
    switch (format) {
    case SAMSEP_FORMAT_WAV: return "wav";
    case SAMSEP_FORMAT_FLAC: return "flac";
    }
    return NULL;
}

int samsep_probe_file(const char *path, samsep_file_info *info, char *err, size_t errlen)
{
    audio_reader *r;
    int fmt, sub, rc;

    if (path == NULL || info == NULL) {
        set_err(err, errlen, "no file given");
        return SAMSEP_ERR_INVALID;
    }
    memset(info, 0, sizeof *info);
    rc = audio_reader_open_header(path, &r, err, errlen);
    if (rc != SAMSEP_OK)
        return rc;
    info->frames = audio_reader_frames(r);
    info->sample_rate = audio_reader_rate(r);
    info->channels = audio_reader_channels(r);
    fmt = audio_reader_sf_format(r);
    snprintf(info->software, sizeof info->software, "%s", audio_reader_software(r));
    snprintf(info->comment, sizeof info->comment, "%s", audio_reader_comment(r));
    snprintf(info->container, sizeof info->container, "%s", audio_reader_container(r));
    audio_reader_close(r);
    info->auto_format = SAMSEP_FORMAT_AUTO;
    sub = SAMSEP_SUBTYPE_AUTO;
    if (audio_resolve_format(fmt, info->sample_rate, info->channels, &info->auto_format,
                             &sub, NULL, 0) != SAMSEP_OK)
        info->auto_format = SAMSEP_FORMAT_WAV;
    return SAMSEP_OK;
}
