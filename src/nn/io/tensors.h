/*
 * tensors.h - named tensors read from model files (PyTorch checkpoint.pt or
 * HuggingFace safetensors), shared by every part of the model code.
 *
 * A tensor_file is a read-only view of one file: the file is memory-mapped
 * and each tensor's data points into the mapping when its layout allows
 * (contiguous, little-endian), so loading costs no copy. Every offset and
 * size was checked against the file before a tensor is handed out; names are
 * unique. Readers never execute or import anything from the file.
 *
 * Lifetime: tensors, their names and data belong to the tensor_file and
 * are valid until tensor_file_close().
 */
#ifndef SAMSEP_NN_IO_TENSORS_H
#define SAMSEP_NN_IO_TENSORS_H

#include <stddef.h>
#include <stdint.h>

#define TENSOR_MAX_DIMS 8

typedef enum tensor_dtype {
    TENSOR_F32 = 0,
    TENSOR_F16 = 1,
    TENSOR_BF16 = 2
} tensor_dtype;

typedef struct tensor {
    const char *name;
    tensor_dtype dtype;
    int ndim;
    int64_t shape[TENSOR_MAX_DIMS];
    int64_t numel;        /* product of shape (1 for a scalar) */
    const void *data;     /* numel elements, C order, little-endian */
} tensor;

typedef struct tensor_file tensor_file;

/*
 * Open `path` as a PyTorch zip checkpoint (torch.save of a state_dict) or a
 * safetensors file, told apart by their first bytes. Returns 0 (SAMSEP_OK)
 * or a negative samsep_status with err naming the file and the problem.
 */
int tensor_file_open(const char *path, tensor_file **out /* OUT */, char *err,
                     size_t errlen);
void tensor_file_close(tensor_file *tf);

/* "pytorch" or "safetensors". */
const char *tensor_file_kind(const tensor_file *tf);
int tensor_file_count(const tensor_file *tf);
const tensor *tensor_file_at(const tensor_file *tf, int index);
/* NULL when there is no tensor of that name. */
const tensor *tensor_file_find(const tensor_file *tf, const char *name);

/* Element size in bytes of a dtype; its name ("F32", "F16", "BF16"). */
size_t tensor_dtype_size(tensor_dtype dt);
const char *tensor_dtype_name(tensor_dtype dt);

/*
 * Hint that the tensors whose names start with `prefix` will not be read
 * again (a model that copied them, e.g. to fold weight norm): their pages
 * of the mapping are dropped from memory. Reading them later still works;
 * the pages come back from the file. A no-op for tensors not mapped.
 */
void tensor_file_release(tensor_file *tf, const char *prefix);

/* Convert a tensor's elements to float32 (n = t->numel floats). */
void tensor_to_f32(const tensor *t, float *out);

#endif
