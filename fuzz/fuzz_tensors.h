/*
 * fuzz_tensors.h - what the tensor-file fuzz targets do with a file that
 * opens: every tensor converted to float32 and found again by its name
 * (abort() if the lookup gives another tensor).
 */
#ifndef SAMSEP_FUZZ_TENSORS_H
#define SAMSEP_FUZZ_TENSORS_H

#include <stdlib.h>

#include "nn/io/tensorfile.h"
#include "nn/io/tensors.h"

static void fuzz_touch_tensors(const nn_tensor_file *tf)
{
    for (int i = 0; i < nn_tensor_file_count(tf); i++) {
        const nn_tensor *t = nn_tensor_file_at(tf, i);
        float *f = malloc((size_t)(t->numel > 0 ? t->numel : 1) * sizeof *f);

        if (f != NULL) {
            nn_tensor_to_f32(t, f);
            free(f);
        }
        if (nn_tensor_file_find(tf, t->name) != t)
            abort();
    }
}

#endif
