/*
 * tensors.h - named tensors read from model files (PyTorch checkpoint.pt or
 * HuggingFace safetensors): what the one weight loader (nn/weights.h) and
 * the tools read. This folder takes untrusted bytes in and gives tensors
 * out; it never includes the kernels.
 *
 * A nn_tensor_file is a read-only view of one file: the file is memory-mapped
 * and each tensor's data points into the mapping when its layout allows
 * (contiguous, little-endian), so loading costs no copy. Every offset and
 * size was checked against the file before a tensor is handed out; names are
 * unique. Readers never execute or import anything from the file.
 *
 * Lifetime: tensors, their names and data belong to the nn_tensor_file and
 * are valid until nn_tensor_file_close().
 */
#ifndef SAMSEP_NN_IO_TENSORS_H
#define SAMSEP_NN_IO_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_DIMS 8

typedef enum nn_dtype { NN_F32 = 0, NN_F16 = 1, NN_BF16 = 2 } nn_dtype;

typedef struct nn_tensor {
    const char *name;
    nn_dtype dtype;
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    int64_t numel;    /* product of shape (1 for a scalar) */
    const void *data; /* numel elements, C order, little-endian */
} nn_tensor;

typedef struct nn_tensor_file nn_tensor_file;

/*
 * Open `path` as a PyTorch zip checkpoint (torch.save of a state_dict) or a
 * safetensors file, told apart by their first bytes. Returns 0 (SAMSEP_OK)
 * or a negative samsep_status with err naming the file and the problem.
 */
int nn_tensor_file_open(const char *path, nn_tensor_file **out /* OUT */, char *err,
                        size_t errlen);
void nn_tensor_file_close(nn_tensor_file *tf);

/* "pytorch" or "safetensors". */
const char *nn_tensor_file_kind(const nn_tensor_file *tf);
int nn_tensor_file_count(const nn_tensor_file *tf);
const nn_tensor *nn_tensor_file_at(const nn_tensor_file *tf, int index);
/* NULL when there is no tensor of that name. */
const nn_tensor *nn_tensor_file_find(const nn_tensor_file *tf, const char *name);
/* The index of t in tf (nn_tensor_file_at), or -1 when t is not tf's. */
int nn_tensor_file_index(const nn_tensor_file *tf, const nn_tensor *t);

/* Element size in bytes of a dtype; its name ("F32", "F16", "BF16"). */
size_t nn_dtype_size(nn_dtype dt);
const char *nn_dtype_name(nn_dtype dt);

/*
 * Hint that the tensors whose names start with `prefix` will not be read
 * again (a model that copied them, e.g. to fold weight norm): their pages
 * of the mapping are dropped from memory. Reading them later still works;
 * the pages come back from the file. A no-op for tensors not mapped.
 */
void nn_tensor_file_release(nn_tensor_file *tf, const char *prefix);
/* The same for the one tensor t of tf. */
void nn_tensor_file_release_tensor(nn_tensor_file *tf, const nn_tensor *t);

/* Convert a tensor's elements to float32 (n = t->numel floats). */
void nn_tensor_to_f32(const nn_tensor *t, float *out);

#endif
