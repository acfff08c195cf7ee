/* libFuzzer target: the pool record decoder (every length against the bytes left, M and D,
 * UTF-8 label and tag, finite floats, the image hash); an accepted record must encode back to
 * the same bytes. */
#include "icstr_pool.h"

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    icstr_pool_record r;
    if (icstr_pool_record_decode(data, size, 0, &r) == ICSTR_OK) {
        if (!r.label || !r.tag || r.embedding || r.latents || r.image) abort();
        icstr_pool_record_free(&r);
    }
    if (icstr_pool_record_decode(data, size, ICSTR_POOL_WANT_ALL, &r)) return 0;
    unsigned char *enc;
    size_t len;
    if (icstr_pool_record_encode(&r, &enc, &len)) abort();
    if (len != size || memcmp(enc, data, size)) abort();
    free(enc);
    icstr_pool_record_free(&r);
    return 0;
}
