/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader
 * (safetensors.c behind tensor_file_open_memory, cJSON for the header).
 * The input is a whole file; every tensor of a file that opens is converted
 * to float32 and looked up by name. Seeds: fuzz/corpus/safetensors/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/tensorfile.h"
#include "model/tensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tensor_file *tf = NULL;
    char err[512];
    uint8_t *copy = malloc(size > 0 ? size : 1);
    int i;

    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    if (tensor_file_open_memory(copy, size, "fuzz.safetensors", &tf, err,
                                sizeof err) == 0) {
        for (i = 0; i < tensor_file_count(tf); i++) {
            const tensor *t = tensor_file_at(tf, i);
            float *f = malloc((size_t)(t->numel > 0 ? t->numel : 1) * sizeof *f);

            if (f != NULL) {
                tensor_to_f32(t, f);
                free(f);
            }
            if (tensor_file_find(tf, t->name) != t)
                abort();
        }
        tensor_file_close(tf);
    }
    free(copy);
    return 0;
}
