/*
 * weights.h - the one loader of network weights: every network asks for
 * each of its tensors by name and shape through nn_weight(), which checks
 * the name and the shape in one place, converts or keeps the dtype, and
 * places the weight where the backend wants it.
 *
 * An nn_weights is one model file opened for loading onto the backend of
 * a kernel context (nn.h). On a backend whose memory is host memory (the
 * CPU), a tensor stays in the read-only mapping of the file when it can be
 * used as it is (the dtype asked for is the dtype stored), so loading
 * copies nothing; elsewhere it is uploaded once. A tensor of another dtype
 * is converted once. Weights a network derives from others are made either
 * on the host from nn_weight_host() copies and handed over with
 * nn_weight_adopt() (folded weight norm, split matrices), or by kernels
 * into nn_weight_alloc() memory (products of weights). Pages of the
 * mapping that were only copied are given back by nn_weights_trim().
 *
 * Errors are kept, not returned: the first failed call (a tensor missing,
 * of another shape, out of memory) records its message and every later
 * call returns NULL at once, so a network's loader is straight-line code
 * that asks for its tensors and checks nn_weights_status() once at the end
 * (as llama.cpp's create_tensor does with exceptions).
 *
 * Lifetime and threads: everything handed out belongs to the nn_weights
 * and is valid until nn_weights_close(); the context MUST outlive it.
 * Loading is one thread's job; afterwards the weights are read-only and
 * may be read by kernels of any context that shares memory with the
 * loading one (nn_ctx_shares_memory), from any number of threads: several
 * runs of one model share them.
 */
#ifndef SAMSEP_NN_WEIGHTS_H
#define SAMSEP_NN_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "nn/io/tensors.h"
#include "nn/nn.h"

/* A shape to check against; NN_ANY accepts any size >= 1 in that place. */
typedef struct nn_dims {
    int n;
    int64_t d[NN_MAX_DIMS];
} nn_dims;

#define NN_ANY ((int64_t)-1)
/* NN_DIMS(D, 3 * C) : the shape [D, 3C]. */
#define NN_DIMS(...)                                                         \
    ((nn_dims){ (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), \
                { __VA_ARGS__ } })

typedef struct nn_weights nn_weights;

/*
 * Open the model file `path` (PyTorch zip checkpoint or safetensors) for
 * the backend of `k`. Returns SAMSEP_OK or the reader's error, with err
 * naming the file.
 */
int nn_weights_open(const char *path, nn_ctx *k, nn_weights **out /* OUT */, char *err,
                    size_t errlen);

/* The same over a tensor file already open (tests, files in memory); the
 * nn_weights takes tf over, also on failure. */
int nn_weights_wrap(nn_tensor_file *tf, const char *name, nn_ctx *k,
                    nn_weights **out /* OUT */, char *err, size_t errlen);

void nn_weights_close(nn_weights *ws); /* NULL allowed */

/* The file's path (or name), the tensor file itself, and the context the
 * weights are placed for (kernels deriving weights at load run on it). */
const char *nn_weights_path(const nn_weights *ws);
const nn_tensor_file *nn_weights_file(const nn_weights *ws);
nn_ctx *nn_weights_ctx(const nn_weights *ws);

/* Put `prefix` before every name asked for from now on ("" or NULL: none);
 * e.g. "audio_codec." for the codec inside SAM-Audio's checkpoint. */
void nn_weights_set_prefix(nn_weights *ws, const char *prefix);

/* The tensor `name` (prefix applied), or NULL; never records an error:
 * for a network that probes for optional tensors or reads a size off one. */
const nn_tensor *nn_weights_find(const nn_weights *ws, const char *name);
const nn_tensor *nn_weights_findf(const nn_weights *ws, const char *fmt, ...)
    SAMSEP_PRINTF(2, 3);

/*
 * The weight `name` of shape `dims` as `dtype`: the tensor itself when it
 * is stored in that dtype, else (to NN_F32 or NN_BF16, rounded to nearest
 * even) a converted copy. NULL
 * when it is missing, of another shape or cannot be converted; the error
 * is recorded.
 */
const void *nn_weight(nn_weights *ws, const char *name, nn_dims dims, nn_dtype dtype);
/* nn_weight(ws, name, dims, NN_F32) with the name made by printf. */
const float *nn_weightf(nn_weights *ws, nn_dims dims, const char *fmt, ...)
    SAMSEP_PRINTF(3, 4);

/* A float32 copy of `name` (checked against dims) in host memory that the
 * caller owns (free()), to derive other weights from; NULL on error. */
float *nn_weight_host(nn_weights *ws, const char *name, nn_dims dims);

/* Make `n` floats of host memory (malloc'd; taken over, also on failure) a
 * weight owned by ws, in the backend's memory. NULL on error. */
const float *nn_weight_adopt(nn_weights *ws, float *host, int64_t n);

/* Backend memory for `n` floats of a weight that kernels on
 * nn_weights_ctx(ws) will compute, owned by ws. NULL on error. */
float *nn_weight_alloc(nn_weights *ws, int64_t n);

/*
 * Record an error of the network's own (sizes that do not fit together, a
 * layer too many) unless one is already recorded. Returns rc.
 */
int nn_weights_fail(nn_weights *ws, int rc, const char *fmt, ...) SAMSEP_PRINTF(3, 4);

/*
 * SAMSEP_OK, or the first error recorded since the last call, its message
 * copied into err; the record is then cleared, so that the next network
 * (or a second try) loads from a clean slate.
 */
int nn_weights_status(nn_weights *ws, char *err, size_t errlen);

/* Give back to the system the pages of the mapping that hold tensors
 * which were only copied (converted, derived), never used in place. */
void nn_weights_trim(nn_weights *ws);

/*
 * Matrices of products and convolutions in the precision of the context
 * the file was opened on (nn_ctx_precision): float32 as nn_weight does, or
 * bf16, kept in place when the file stores bf16, else rounded once (to
 * nearest even) into memory of ws; the float32 pages of the file are then
 * only copied, and nn_weights_trim() gives them back. A NULL data on
 * error, recorded as for nn_weight.
 */
nn_precision nn_weights_precision(const nn_weights *ws);
nn_w nn_wmat(nn_weights *ws, nn_dims dims, const char *fmt, ...) SAMSEP_PRINTF(3, 4);
/* nn_weight_adopt for a derived matrix: host floats taken over, kept in
 * the same precision. */
nn_w nn_wmat_adopt(nn_weights *ws, float *host, int64_t n);

#endif
