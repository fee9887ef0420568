/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader
 * (safetensors.c behind nn_tensor_file_open_memory, cJSON for the header).
 * The input is a whole file; every tensor of a file that opens is converted
 * to float32 and looked up by name. Seeds: fuzz/corpus/safetensors/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_tensors.h"
#include "nn/io/tensorfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_tensor_file *tf = NULL;
    char err[512];
    uint8_t *copy = malloc(size > 0 ? size : 1);

    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    if (nn_tensor_file_open_memory(copy, size, "fuzz.safetensors", &tf, err,
                                   sizeof err) == 0) {
        fuzz_touch_tensors(tf);
        nn_tensor_file_close(tf);
    }
    free(copy);
    return 0;
}
