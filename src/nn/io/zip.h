/*
 * zip.h - a read-only ZIP archive reader over bytes already in memory (the
 * caller maps the file), for the archives torch.save() writes.
 *
 * The central directory (found from the end-of-central-directory record,
 * ZIP64 records and extra fields included) is read once at open and every
 * entry's name, sizes and local header are checked against the buffer then,
 * so a nn_zip_entry handed out can be trusted: its data lies inside the buffer.
 * Only STORED entries (method 0, unencrypted) give their data; any other
 * method is refused with an error when the data is asked for. Nothing is
 * decompressed and CRCs are not checked unless nn_zip_entry_crc_ok() is called.
 *
 * Lifetime: the buffer must outlive the archive; entries and their names
 * belong to the archive and are valid until nn_zip_close().
 */
#ifndef SAMSEP_NN_IO_ZIP_H
#define SAMSEP_NN_IO_ZIP_H

#include <stddef.h>
#include <stdint.h>

typedef struct nn_zip_entry {
    const char *name; /* NUL-terminated; no NUL inside the stored name */
    uint16_t method;  /* 0 = stored, 8 = deflate, ... */
    uint16_t flags;   /* general purpose bit flags */
    uint32_t crc32;
    uint64_t comp_size;   /* bytes of (possibly compressed) data */
    uint64_t size;        /* uncompressed bytes */
    uint64_t data_offset; /* offset of the data in the buffer, checked:
                             * data_offset + comp_size <= buffer length */
} nn_zip_entry;

typedef struct nn_zip_archive nn_zip_archive;

/*
 * Read the central directory of the archive in buf[0..len). Returns 0 or a
 * negative samsep_status (SAMSEP_ERR_FORMAT for a corrupt or unsupported
 * archive, SAMSEP_ERR_NOMEM) with err saying what is wrong (without the file
 * name: the caller adds it). Duplicate entry names are refused.
 */
int nn_zip_open_memory(const uint8_t *buf, size_t len, nn_zip_archive **out /* OUT */,
                       char *err, size_t errlen);
void nn_zip_close(nn_zip_archive *z);

size_t nn_zip_count(const nn_zip_archive *z);
/* Entries in central-directory order; NULL when index is out of range. */
const nn_zip_entry *nn_zip_entry_at(const nn_zip_archive *z, size_t index);
/* The entry of that exact name, or NULL. */
const nn_zip_entry *nn_zip_find(const nn_zip_archive *z, const char *name);

/*
 * The bytes of a stored entry: *data points into the buffer, *size bytes.
 * Returns SAMSEP_ERR_FORMAT (err names the entry and the method) for a
 * compressed or encrypted entry.
 */
int nn_zip_entry_data(const nn_zip_archive *z, const nn_zip_entry *e,
                      const uint8_t **data /* OUT */, uint64_t *size /* OUT */, char *err,
                      size_t errlen);

/* Non-zero when the stored entry's bytes match its CRC-32. */
int nn_zip_entry_crc_ok(const nn_zip_archive *z, const nn_zip_entry *e);

#endif
