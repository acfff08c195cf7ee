/* libFuzzer target: the pool record decoder (every length against the bytes left, M and D,
 * UTF-8 label and tag, the checksum of version 2, finite floats, the image hash). An accepted
 * record must encode back to the same bytes (a version 1 record: to the same bytes as version 2,
 * with the checksum appended). Each version 2 input is also tried with its checksum made right,
 * so that random changes reach the checks behind the checksum; the checksum is computed here
 * bit by bit, a reference for the library's table-driven one. */
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

static uint32_t record_crc32c_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static uint32_t record_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void record_check_one(const uint8_t *data, size_t size) {
    icstr_pool_record r;
    if (icstr_pool_record_decode(data, size, 0, &r) == ICSTR_OK) {
        if (!r.label || !r.tag || r.embedding || r.latents || r.image) abort();
        icstr_pool_record_free(&r);
    }
    if (icstr_pool_record_decode(data, size, ICSTR_POOL_WANT_ALL, &r)) return;
    unsigned char *enc;
    size_t len;
    if (icstr_pool_record_encode(&r, &enc, &len)) abort();
    if (len < 10 || enc[4] != 2 || enc[5] != 0) abort();
    if (record_get_u32(enc + len - 4) != record_crc32c_ref(enc, len - 4)) abort();
    if (data[4] == 2) {
        if (len != size || memcmp(enc, data, size)) abort();
    } else {
        /* version 1: the same fields, without the checksum */
        if (data[4] != 1 || len != size + 4 || memcmp(enc, data, 4) || memcmp(enc + 6, data + 6, size - 6)) abort();
    }
    free(enc);
    icstr_pool_record_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    record_check_one(data, size);
    if (size >= 10 && data[4] == 2 && data[5] == 0) {
        uint8_t *c = malloc(size);
        if (!c) return 0;
        memcpy(c, data, size);
        uint32_t crc = record_crc32c_ref(c, size - 4);
        for (int i = 0; i < 4; i++) c[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        record_check_one(c, size);
        free(c);
    }
    return 0;
}
