/*
 * pickle.h - a strict reader for the pickle program torch.save() writes for
 * a state_dict (the `data.pkl` of a PyTorch zip checkpoint).
 *
 * This is not a pickle interpreter: it builds a small tree of plain values
 * (ints, strings, tuples, lists, dicts) for the opcodes a state_dict uses
 * and refuses every other opcode. Globals are matched against an allow-list
 * (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and the float32,
 * float16 and bfloat16 storage types) and only ever compared as names;
 * "calling" OrderedDict makes an empty dict and "calling"
 * _rebuild_tensor_v2 records a tensor description. Nothing is imported or
 * executed. Stack, memo, mark depth and lengths are bounded by the size of
 * the program, so a hostile pickle costs at most a few times its own size.
 *
 * The result names each tensor and where its elements lie: a storage key
 * (the archive entry `<prefix>/data/<key>`), the storage's element count as
 * the pickle declared it, and an element offset into it. Tensors are
 * checked to be contiguous in C order and to fit their declared storage;
 * checking the storage against the archive is the caller's job.
 */
#ifndef SAMSEP_NN_IO_PICKLE_H
#define SAMSEP_NN_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/io/tensors.h"

typedef struct nn_pickle_tensor {
    const char *name;        /* the state_dict key */
    const char *storage_key; /* persistent id key: "0", "1", ... */
    int64_t storage_numel;   /* elements in the storage, as declared */
    int64_t offset;          /* storage offset in elements */
    nn_dtype dtype;
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    int64_t numel; /* offset + numel <= storage_numel */
} nn_pickle_tensor;

typedef struct nn_pickle_state_dict {
    nn_pickle_tensor *tensors; /* [count] in the order the dict holds them */
    size_t count;
    void *priv; /* the reader's allocations (names, keys) */
} nn_pickle_state_dict;

/*
 * Read the state_dict pickled in buf[0..len). Returns 0 with *out set (free
 * with nn_pickle_state_dict_free), or SAMSEP_ERR_FORMAT / SAMSEP_ERR_NOMEM with
 * err saying what is wrong (the offending opcode's offset, the global's or
 * the tensor's name) but not the file's name: the caller adds it.
 */
int nn_pickle_read_state_dict(const uint8_t *buf, size_t len,
                              nn_pickle_state_dict **out /* OUT */, char *err,
                              size_t errlen);
void nn_pickle_state_dict_free(nn_pickle_state_dict *sd);

#endif
