/*
 * tensorfile.h - the inside of a nn_tensor_file (tensors.h), shared by the
 * format readers: tensorfile.c maps the file and dispatches on its first
 * bytes; checkpoint.c (PyTorch zip) and safetensors.c fill in the tensors.
 *
 * A reader sees the whole file as base[0..len) and must check every offset
 * against len before pointing a tensor into it. Everything a reader
 * allocates for the file (names, copies of misaligned data) goes through
 * nn_tf_alloc() so that nn_tensor_file_close() frees it.
 */
#ifndef SAMSEP_NN_IO_TENSORFILE_H
#define SAMSEP_NN_IO_TENSORFILE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/io/tensors.h"

struct nn_tensor_file {
    const char *kind;    /* "pytorch" or "safetensors" */
    const uint8_t *base; /* the file's bytes */
    size_t len;
    void *map; /* the mapping to unmap, or NULL */
    size_t map_len;
    nn_tensor *tensors; /* [count], in the file's order */
    int count;
    const nn_tensor **sorted; /* [count], by name, for nn_tensor_file_find */
    void **owned;             /* allocations freed at close */
    size_t n_owned, owned_cap;
};

/* Readers: fill tf->tensors and tf->count from tf->base[0..len). The
 * message in err does not name the file; nn_tensor_file_open adds it. */
int nn_checkpoint_read(nn_tensor_file *tf, char *err, size_t errlen);
int nn_safetensors_read(nn_tensor_file *tf, char *err, size_t errlen);

/* Zeroed memory owned by tf until close; NULL when out of memory. */
void *nn_tf_alloc(nn_tensor_file *tf, size_t size);
/* A copy of s owned by tf; NULL when out of memory. */
char *nn_tf_strdup(nn_tensor_file *tf, const char *s);

/*
 * Point t->data at the t->numel elements starting at p, which the reader
 * has checked lie inside the file. Elements that are not aligned for their
 * type are copied into memory of the file's own (0 or SAMSEP_ERR_NOMEM).
 */
int nn_tf_set_data(nn_tensor_file *tf, nn_tensor *t, const uint8_t *p);

/*
 * Open model-file bytes already in memory (tests and fuzzers); `name`
 * stands for the file in messages. The bytes must outlive the nn_tensor_file.
 */
int nn_tensor_file_open_memory(const void *data, size_t len, const char *name,
                               nn_tensor_file **out /* OUT */, char *err, size_t errlen);

#endif
