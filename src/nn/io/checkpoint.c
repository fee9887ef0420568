/*
 * checkpoint.c - the nn_tensor_file reader for PyTorch checkpoints as
 * torch.save(state_dict) writes them since torch 1.6: a zip archive (zip.c)
 * holding `<prefix>/data.pkl`, the pickled state_dict (pickle.c), and one
 * stored entry `<prefix>/data/<key>` per storage, raw little-endian
 * elements. The prefix is the archive's name at save time ("checkpoint",
 * "archive", ...), so it is found, not assumed: the one entry named
 * `<something>/data.pkl`.
 *
 * Each tensor's storage entry must be stored (not compressed) and exactly
 * as long as the pickle says the storage is; the tensor then points into
 * the file at its storage offset. torch pads entries to 64 bytes, so the
 * data is aligned in the mapping and nothing is copied; a misaligned entry
 * (another writer) is copied by nn_tf_set_data().
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "nn/io/pickle.h"
#include "nn/io/tensorfile.h"
#include "nn/io/zip.h"

/* The entry `<prefix>/data.pkl`, with the prefix length; NULL if none or
 * several. */
static const nn_zip_entry *find_pickle(const nn_zip_archive *z, size_t *prefix_len,
                                       char *err, size_t errlen)
{
    const nn_zip_entry *found = NULL;
    size_t i, n = nn_zip_count(z);

    for (i = 0; i < n; i++) {
        const nn_zip_entry *e = nn_zip_entry_at(z, i);
        const char *slash = strchr(e->name, '/');

        if (slash == NULL || slash == e->name || strcmp(slash, "/data.pkl") != 0)
            continue;
        if (found != NULL) {
            set_err(err, errlen, "the archive holds two pickles ('%s' and '%s')",
                    found->name, e->name);
            return NULL;
        }
        found = e;
        *prefix_len = (size_t)(slash - e->name);
    }
    if (found == NULL)
        set_err(err, errlen,
                "zip archive without a <name>/data.pkl entry: not "
                "a PyTorch checkpoint");
    return found;
}

/* torch >= 2.1 records the byte order; older files are little-endian. */
static int check_byteorder(const nn_zip_archive *z, const char *prefix, size_t prefix_len,
                           char *err, size_t errlen)
{
    char *name = malloc(prefix_len + sizeof "/byteorder");
    const nn_zip_entry *e;
    const uint8_t *d;
    uint64_t n;
    int rc;

    if (name == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    memcpy(name, prefix, prefix_len);
    memcpy(name + prefix_len, "/byteorder", sizeof "/byteorder");
    e = nn_zip_find(z, name);
    free(name);
    if (e == NULL)
        return 0;
    rc = nn_zip_entry_data(z, e, &d, &n, err, errlen);
    if (rc != 0)
        return rc;
    if (n != 6 || memcmp(d, "little", 6) != 0) {
        set_err(err, errlen, "checkpoint is not little-endian ('%s')", e->name);
        return SAMSEP_ERR_FORMAT;
    }
    return 0;
}

static int map_tensor(nn_tensor_file *tf, const nn_zip_archive *z, const char *prefix,
                      size_t prefix_len, const nn_pickle_tensor *pt, nn_tensor *t,
                      char *err, size_t errlen)
{
    size_t es = nn_dtype_size(pt->dtype), klen = strlen(pt->storage_key);
    char *entry_name = malloc(prefix_len + klen + 7);
    const nn_zip_entry *e;
    const uint8_t *d;
    uint64_t n;
    int rc;

    if (entry_name == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    memcpy(entry_name, prefix, prefix_len);
    memcpy(entry_name + prefix_len, "/data/", 6);
    memcpy(entry_name + prefix_len + 6, pt->storage_key, klen + 1);
    e = nn_zip_find(z, entry_name);
    if (e == NULL) {
        set_err(err, errlen, "tensor '%s': its storage entry '%s' is missing", pt->name,
                entry_name);
        free(entry_name);
        return SAMSEP_ERR_FORMAT;
    }
    free(entry_name);
    rc = nn_zip_entry_data(z, e, &d, &n, err, errlen);
    if (rc != 0)
        return rc;
    /* storage_numel <= INT64_MAX / 16 (pickle.c), so the product fits. */
    if (n != (uint64_t)pt->storage_numel * es) {
        set_err(err, errlen,
                "tensor '%s': storage '%s' holds %llu bytes, the "
                "pickle says %lld elements of %zu bytes",
                pt->name, e->name, (unsigned long long)n, (long long)pt->storage_numel,
                es);
        return SAMSEP_ERR_FORMAT;
    }
    if (pt->name[0] == '\0') {
        set_err(err, errlen, "a tensor has an empty name");
        return SAMSEP_ERR_FORMAT;
    }
    t->name = nn_tf_strdup(tf, pt->name);
    if (t->name == NULL) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    t->dtype = pt->dtype;
    t->ndim = pt->ndim;
    memcpy(t->shape, pt->shape, sizeof t->shape);
    t->numel = pt->numel;
    /* pickle.c checked offset + numel <= storage_numel. */
    if (nn_tf_set_data(tf, t, d + (size_t)pt->offset * es) != 0) {
        set_err(err, errlen, "out of memory");
        return SAMSEP_ERR_NOMEM;
    }
    return 0;
}

int nn_checkpoint_read(nn_tensor_file *tf, char *err, size_t errlen)
{
    nn_zip_archive *z = NULL;
    nn_pickle_state_dict *sd = NULL;
    const nn_zip_entry *pkl;
    const uint8_t *pdata;
    uint64_t plen;
    size_t prefix_len = 0, i;
    char msg[768];
    int rc;

    rc = nn_zip_open_memory(tf->base, tf->len, &z, err, errlen);
    if (rc != 0)
        return rc;
    pkl = find_pickle(z, &prefix_len, err, errlen);
    if (pkl == NULL) {
        rc = SAMSEP_ERR_FORMAT;
        goto out;
    }
    rc = check_byteorder(z, pkl->name, prefix_len, err, errlen);
    if (rc != 0)
        goto out;
    rc = nn_zip_entry_data(z, pkl, &pdata, &plen, err, errlen);
    if (rc != 0)
        goto out;
    if (!nn_zip_entry_crc_ok(z, pkl)) {
        set_err(err, errlen, "'%s' fails its CRC check (damaged file)", pkl->name);
        rc = SAMSEP_ERR_FORMAT;
        goto out;
    }
    msg[0] = '\0';
    rc = nn_pickle_read_state_dict(pdata, (size_t)plen, &sd, msg, sizeof msg);
    if (rc != 0) {
        set_err(err, errlen, "%s: %s", pkl->name, msg);
        goto out;
    }
    if (sd->count > (size_t)INT32_MAX / 2) {
        set_err(err, errlen, "too many tensors");
        rc = SAMSEP_ERR_FORMAT;
        goto out;
    }
    tf->tensors = nn_tf_alloc(tf, (sd->count > 0 ? sd->count : 1) * sizeof *tf->tensors);
    if (tf->tensors == NULL) {
        set_err(err, errlen, "out of memory");
        rc = SAMSEP_ERR_NOMEM;
        goto out;
    }
    for (i = 0; i < sd->count; i++) {
        rc = map_tensor(tf, z, pkl->name, prefix_len, &sd->tensors[i], &tf->tensors[i],
                        err, errlen);
        if (rc != 0)
            goto out;
    }
    tf->count = (int)sd->count;

out:
    nn_pickle_state_dict_free(sd);
    nn_zip_close(z);
    return rc;
}
