/*
 * zip.c - see zip.h. The reader trusts nothing it has not checked: the
 * end-of-central-directory record is searched from the end of the buffer
 * and must end exactly there (its comment included), the ZIP64 locator and
 * record are followed only when they lie inside the buffer, every central
 * entry is parsed with its extra fields bounded by the directory, and every
 * local header is read and compared with its central entry at open. All
 * offset arithmetic is done in uint64_t through add_ok(), which refuses to
 * wrap, so a crafted size cannot point outside the buffer.
 *
 * torch.save() writes its archive with miniz: stored entries, data
 * descriptors (bit 3, so the local header sizes are zero and the central
 * directory is the authority), names under one prefix folder, data padded
 * to 64 bytes by an "FB" extra field, and ZIP64 records once the archive or
 * an entry passes 4 GiB or 65535 entries.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/io/zip.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define EOCD_LEN 22u
#define LOCATOR64_LEN 20u
#define EOCD64_LEN 56u
#define CENTRAL_LEN 46u
#define LOCAL_LEN 30u
#define MAX_COMMENT 65535u

struct nn_zip_archive {
    const uint8_t *buf;
    size_t len;
    size_t count;
    nn_zip_entry *entries;       /* [count], central-directory order */
    const nn_zip_entry **sorted; /* [count] the entries sorted by name */
    char *names;                 /* all names, NUL-terminated, back to back */
};

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

/* *r = a + b; 0 when the sum does not fit. */
static int add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a > UINT64_MAX - b)
        return 0;
    *r = a + b;
    return 1;
}

/* Non-zero when [off, off + n) lies inside [0, limit). */
static int span_ok(uint64_t off, uint64_t n, uint64_t limit)
{
    uint64_t end;

    return add_ok(off, n, &end) && end <= limit;
}

/* Where the central directory is and how many entries it holds. */
typedef struct cd_info {
    uint64_t offset, size, count;
    uint64_t end; /* the directory must end at or before this offset */
} cd_info;

static int find_eocd(const uint8_t *buf, size_t len, uint64_t *pos, char *err,
                     size_t errlen)
{
    size_t lo, p;

    if (len < EOCD_LEN) {
        set_err(err, errlen, "too short to be a zip archive (%zu bytes)", len);
        return SAMSEP_ERR_FORMAT;
    }
    lo = len - EOCD_LEN > MAX_COMMENT ? len - EOCD_LEN - MAX_COMMENT : 0;
    /* The record that ends the buffer exactly, comment included, so that a
     * signature inside some comment or data is not taken for it. */
    for (p = len - EOCD_LEN + 1; p-- > lo;) {
        if (rd32(buf + p) == SIG_EOCD &&
            (uint64_t)p + EOCD_LEN + rd16(buf + p + 20) == len) {
            *pos = p;
            return 0;
        }
    }
    set_err(err, errlen,
            "no zip end-of-central-directory record "
            "(not a zip archive, or truncated)");
    return SAMSEP_ERR_FORMAT;
}

static int read_directory_info(const uint8_t *buf, size_t len, cd_info *cd, char *err,
                               size_t errlen)
{
    uint64_t eocd;
    const uint8_t *e;
    uint16_t disk, cd_disk, n_disk, n_total;
    uint32_t size32, off32;
    int rc = find_eocd(buf, len, &eocd, err, errlen);

    if (rc != 0)
        return rc;
    e = buf + eocd;
    disk = rd16(e + 4);
    cd_disk = rd16(e + 6);
    n_disk = rd16(e + 8);
    n_total = rd16(e + 10);
    size32 = rd32(e + 12);
    off32 = rd32(e + 16);
    cd->count = n_total;
    cd->size = size32;
    cd->offset = off32;
    cd->end = eocd;

    if (eocd >= LOCATOR64_LEN && rd32(buf + eocd - LOCATOR64_LEN) == SIG_LOCATOR64) {
        const uint8_t *l = buf + eocd - LOCATOR64_LEN;
        uint64_t rec = rd64(l + 8), rec_size;
        const uint8_t *r;

        if (rd32(l + 4) != 0 || rd32(l + 16) > 1) {
            set_err(err, errlen, "multi-disk zip archives are not supported");
            return SAMSEP_ERR_FORMAT;
        }
        if (!span_ok(rec, EOCD64_LEN, eocd - LOCATOR64_LEN)) {
            set_err(err, errlen,
                    "ZIP64 end-of-central-directory record at "
                    "offset %llu lies outside the archive",
                    (unsigned long long)rec);
            return SAMSEP_ERR_FORMAT;
        }
        r = buf + rec;
        rec_size = rd64(r + 4);
        if (rd32(r) != SIG_EOCD64 || rec_size < EOCD64_LEN - 12 || rec_size > len ||
            !span_ok(rec, rec_size + 12, eocd - LOCATOR64_LEN)) {
            set_err(err, errlen, "corrupt ZIP64 end-of-central-directory record");
            return SAMSEP_ERR_FORMAT;
        }
        if (rd32(r + 16) != 0 || rd32(r + 20) != 0 || rd64(r + 24) != rd64(r + 32)) {
            set_err(err, errlen, "multi-disk zip archives are not supported");
            return SAMSEP_ERR_FORMAT;
        }
        cd->count = rd64(r + 32);
        cd->size = rd64(r + 40);
        cd->offset = rd64(r + 48);
        cd->end = rec;
    } else {
        if (n_total == 0xFFFF || size32 == 0xFFFFFFFFu || off32 == 0xFFFFFFFFu) {
            set_err(err, errlen, "zip archive needs ZIP64 records but has none");
            return SAMSEP_ERR_FORMAT;
        }
        if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
            set_err(err, errlen, "multi-disk zip archives are not supported");
            return SAMSEP_ERR_FORMAT;
        }
    }
    if (!span_ok(cd->offset, cd->size, cd->end)) {
        set_err(err, errlen,
                "zip central directory (offset %llu, %llu bytes) "
                "lies outside the archive",
                (unsigned long long)cd->offset, (unsigned long long)cd->size);
        return SAMSEP_ERR_FORMAT;
    }
    if (cd->count > cd->size / CENTRAL_LEN) {
        set_err(err, errlen,
                "zip central directory claims %llu entries in %llu "
                "bytes",
                (unsigned long long)cd->count, (unsigned long long)cd->size);
        return SAMSEP_ERR_FORMAT;
    }
    return 0;
}

/*
 * Apply the ZIP64 extended-information extra field (id 1) found in
 * extra[0..n): each 64-bit value is present only when the 32-bit field of
 * the central entry is saturated, in the order size, comp_size, offset.
 */
static int apply_zip64_extra(const uint8_t *extra, size_t n, uint64_t *size,
                             uint64_t *comp_size, uint64_t *offset, int need_size,
                             int need_comp, int need_off)
{
    size_t p = 0;

    while (p + 4 <= n) {
        uint16_t id = rd16(extra + p), sz = rd16(extra + p + 2);
        size_t q = p + 4, qend = q + sz;

        if (qend > n)
            return -1;
        if (id == 0x0001) {
            if (need_size) {
                if (q + 8 > qend)
                    return -1;
                *size = rd64(extra + q);
                q += 8;
            }
            if (need_comp) {
                if (q + 8 > qend)
                    return -1;
                *comp_size = rd64(extra + q);
                q += 8;
            }
            if (need_off) {
                if (q + 8 > qend)
                    return -1;
                *offset = rd64(extra + q);
            }
            return 0;
        }
        p = qend;
    }
    /* Fewer than 4 bytes left over are padding some writers leave. */
    return need_size || need_comp || need_off ? -1 : 0;
}

static int parse_entry(nn_zip_archive *z, const cd_info *cd, uint64_t *pos, size_t index,
                       char **name_out, char *err, size_t errlen)
{
    const uint8_t *buf = z->buf;
    const uint8_t *c, *local;
    uint64_t cd_end = cd->offset + cd->size, after, local_off, data_off;
    uint16_t nlen, xlen, clen, disk, lnlen, lxlen;
    uint32_t size32, comp32, off32;
    nn_zip_entry *e = &z->entries[index];
    char *name = *name_out;

    if (!span_ok(*pos, CENTRAL_LEN, cd_end) || rd32(buf + *pos) != SIG_CENTRAL) {
        set_err(err, errlen, "zip central directory entry %zu is corrupt", index);
        return SAMSEP_ERR_FORMAT;
    }
    c = buf + *pos;
    e->flags = rd16(c + 8);
    e->method = rd16(c + 10);
    e->crc32 = rd32(c + 16);
    comp32 = rd32(c + 20);
    size32 = rd32(c + 24);
    nlen = rd16(c + 28);
    xlen = rd16(c + 30);
    clen = rd16(c + 32);
    disk = rd16(c + 34);
    off32 = rd32(c + 42);
    if (!span_ok(*pos + CENTRAL_LEN, (uint64_t)nlen + xlen + clen, cd_end)) {
        set_err(err, errlen,
                "zip central directory entry %zu runs past the "
                "directory",
                index);
        return SAMSEP_ERR_FORMAT;
    }
    if (nlen == 0 || memchr(c + CENTRAL_LEN, 0, nlen) != NULL) {
        set_err(err, errlen,
                "zip entry %zu has an empty name or a NUL byte in "
                "its name",
                index);
        return SAMSEP_ERR_FORMAT;
    }
    memcpy(name, c + CENTRAL_LEN, nlen);
    name[nlen] = '\0';
    e->name = name;
    *name_out = name + nlen + 1;

    e->size = size32;
    e->comp_size = comp32;
    local_off = off32;
    if (apply_zip64_extra(c + CENTRAL_LEN + nlen, xlen, &e->size, &e->comp_size,
                          &local_off, size32 == 0xFFFFFFFFu, comp32 == 0xFFFFFFFFu,
                          off32 == 0xFFFFFFFFu) != 0) {
        set_err(err, errlen, "zip entry '%s' has corrupt extra fields", name);
        return SAMSEP_ERR_FORMAT;
    }
    if (disk != 0 && disk != 0xFFFF) {
        set_err(err, errlen, "zip entry '%s' is on another disk", name);
        return SAMSEP_ERR_FORMAT;
    }
    *pos += CENTRAL_LEN + (uint64_t)nlen + xlen + clen;

    /* The local header: its signature and name must agree with the central
     * entry; its sizes are ignored (torch writes data descriptors). */
    if (!span_ok(local_off, LOCAL_LEN, cd->offset) ||
        rd32(buf + local_off) != SIG_LOCAL) {
        set_err(err, errlen, "zip entry '%s': no local header at offset %llu", name,
                (unsigned long long)local_off);
        return SAMSEP_ERR_FORMAT;
    }
    local = buf + local_off;
    lnlen = rd16(local + 26);
    lxlen = rd16(local + 28);
    if (!add_ok(local_off + LOCAL_LEN, (uint64_t)lnlen + lxlen, &data_off) ||
        lnlen != nlen || data_off > cd->offset ||
        memcmp(local + LOCAL_LEN, e->name, nlen) != 0) {
        set_err(err, errlen,
                "zip entry '%s': local header does not match the "
                "central directory",
                name);
        return SAMSEP_ERR_FORMAT;
    }
    if (!add_ok(data_off, e->comp_size, &after) || after > cd->offset) {
        set_err(err, errlen,
                "zip entry '%s' (%llu bytes at offset %llu) runs "
                "past the end of the data",
                name, (unsigned long long)e->comp_size, (unsigned long long)data_off);
        return SAMSEP_ERR_FORMAT;
    }
    e->data_offset = data_off;
    return 0;
}

static int cmp_entry_name(const void *a, const void *b)
{
    const nn_zip_entry *ea = *(const nn_zip_entry *const *)a;
    const nn_zip_entry *eb = *(const nn_zip_entry *const *)b;

    return strcmp(ea->name, eb->name);
}

int nn_zip_open_memory(const uint8_t *buf, size_t len, nn_zip_archive **out, char *err,
                       size_t errlen)
{
    nn_zip_archive *z;
    cd_info cd;
    uint64_t pos;
    size_t i;
    char *name;
    int rc;

    *out = NULL;
    rc = read_directory_info(buf, len, &cd, err, errlen);
    if (rc != 0)
        return rc;
    if (cd.count == 0) {
        set_err(err, errlen, "zip archive is empty");
        return SAMSEP_ERR_FORMAT;
    }
    z = calloc(1, sizeof *z);
    if (z == NULL)
        goto nomem;
    z->buf = buf;
    z->len = len;
    z->count = (size_t)cd.count;
    z->entries = calloc(z->count, sizeof *z->entries);
    z->sorted = malloc(z->count * sizeof *z->sorted);
    /* Every name is at most its share of the directory, plus a NUL. */
    z->names = malloc((size_t)cd.size + z->count);
    if (z->entries == NULL || z->sorted == NULL || z->names == NULL)
        goto nomem;

    pos = cd.offset;
    name = z->names;
    for (i = 0; i < z->count; i++) {
        rc = parse_entry(z, &cd, &pos, i, &name, err, errlen);
        if (rc != 0) {
            nn_zip_close(z);
            return rc;
        }
        z->sorted[i] = &z->entries[i];
    }
    qsort(z->sorted, z->count, sizeof *z->sorted, cmp_entry_name);
    for (i = 1; i < z->count; i++) {
        const char *a = z->sorted[i - 1]->name;

        if (strcmp(a, z->sorted[i]->name) == 0) {
            set_err(err, errlen, "zip archive holds two entries named '%s'", a);
            nn_zip_close(z);
            return SAMSEP_ERR_FORMAT;
        }
    }
    *out = z;
    return 0;

nomem:
    nn_zip_close(z);
    set_err(err, errlen, "out of memory reading the zip directory");
    return SAMSEP_ERR_NOMEM;
}

void nn_zip_close(nn_zip_archive *z)
{
    if (z == NULL)
        return;
    free(z->entries);
    free(z->sorted);
    free(z->names);
    free(z);
}

size_t nn_zip_count(const nn_zip_archive *z)
{
    return z->count;
}

const nn_zip_entry *nn_zip_entry_at(const nn_zip_archive *z, size_t index)
{
    return index < z->count ? &z->entries[index] : NULL;
}

const nn_zip_entry *nn_zip_find(const nn_zip_archive *z, const char *name)
{
    size_t lo = 0, hi = z->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, z->sorted[mid]->name);

        if (c == 0)
            return z->sorted[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int nn_zip_entry_data(const nn_zip_archive *z, const nn_zip_entry *e,
                      const uint8_t **data, uint64_t *size, char *err, size_t errlen)
{
    *data = NULL;
    *size = 0;
    if (e->flags & 0x0001) {
        set_err(err, errlen, "zip entry '%s' is encrypted", e->name);
        return SAMSEP_ERR_FORMAT;
    }
    if (e->method != 0) {
        set_err(err, errlen,
                "zip entry '%s' is compressed (method %u); only "
                "stored entries are supported (torch.save writes them "
                "uncompressed)",
                e->name, (unsigned)e->method);
        return SAMSEP_ERR_FORMAT;
    }
    if (e->comp_size != e->size) {
        set_err(err, errlen,
                "zip entry '%s' is stored but its sizes differ "
                "(%llu vs %llu)",
                e->name, (unsigned long long)e->comp_size, (unsigned long long)e->size);
        return SAMSEP_ERR_FORMAT;
    }
    *data = z->buf + e->data_offset;
    *size = e->size;
    return 0;
}

int nn_zip_entry_crc_ok(const nn_zip_archive *z, const nn_zip_entry *e)
{
    uint32_t table[256], crc = 0xFFFFFFFFu;
    const uint8_t *p;
    uint64_t i;
    unsigned n, k;

    if (e->method != 0 || e->comp_size != e->size)
        return 0;
    for (n = 0; n < 256; n++) {
        uint32_t c = n;

        for (k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[n] = c;
    }
    p = z->buf + e->data_offset;
    for (i = 0; i < e->size; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return (crc ^ 0xFFFFFFFFu) == e->crc32;
}
