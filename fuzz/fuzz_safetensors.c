/* libFuzzer target: the safetensors reader on a buffer (header length, strict JSON, names,
 * dtypes, shapes, offsets, overlaps), then every tensor converted to float, every lookup by name,
 * every metadata entry, and the model config read from the metadata as icstr_model_load does. */
#include "config.h"
#include "icstr_core.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    icstr_log_set_level(ICSTR_LOG_ERROR);
    return 0;
}

static const char *st_meta_get(void *ctx, const char *key) { return icstr_st_meta(ctx, key); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a copy of exactly size bytes, so ASan sees a read past the end of the input */
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    icstr_st_file *f;
    if (icstr_st_open_memory(buf, size, &f)) {
        free(buf);
        return 0;
    }
    int n = icstr_st_count(f);
    for (int i = 0; i < n; i++) {
        icstr_st_tensor_info t, t2;
        if (icstr_st_info(f, i, &t)) abort();
        if (t.nbytes != t.numel * icstr_st_dtype_size(t.dtype) || t.nbytes > size) abort();
        float *dst = malloc(t.numel ? t.numel * sizeof *dst : 1);
        if (dst) {
            icstr_st_to_f32(&t, dst);
            if (icstr_st_read_f32(f, t.name, t.ndim, t.shape, dst)) abort();
            free(dst);
        }
        if (icstr_st_find(f, t.name, &t2) || t2.data != t.data) abort();
    }
    if (icstr_st_info(f, n, NULL) == ICSTR_OK) abort();
    int nm = icstr_st_meta_count(f);
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        if (icstr_st_meta_at(f, i, &k, &v) || !k || !v) abort();
        if (icstr_st_meta(f, k) != v) abort();
    }
    icstr_model_config mc = icstr_model_default_config();
    (void)icstr_config_model_from_meta(&mc, st_meta_get, f);
    icstr_st_close(f);
    free(buf);
    return 0;
}
