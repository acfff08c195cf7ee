/* libFuzzer target: the store cache file reader (recognizer/store_cache.c): every length against
 * the bytes there are, the entry counts against the entries, ids in order, the checksum. The
 * width and stamp it is asked for are the input's own (so inputs get past those checks); each
 * input is also tried with its checksum made right, so that random changes reach the checks
 * behind it. An accepted file must encode back to the same bytes, and every record must be found
 * by its id and key with its entries inside the file. */
#include "store_cache.h"

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

static void check_one(const uint8_t *data, size_t size, int fix_sum) {
    if (size < 24) return;
    unsigned char *buf = malloc(size);
    if (!buf) return;
    memcpy(buf, data, size);
    if (fix_sum && size >= 48) {
        uint64_t sum = icstr_pool_hash(buf, size - 8);
        memcpy(buf + size - 8, &sum, 8);
    }
    icstr_store_cache c;
    memset(&c, 0, sizeof c);
    uint32_t w;
    memcpy(&w, buf + 12, 4);
    c.width = w >= 1 && w <= 4096 ? (int)w : 1;
    memcpy(&c.stamp, buf + 16, 8);
    if (icstr_store_cache_parse(&c, buf, size) != ICSTR_OK) abort(); /* only NOMEM may fail */
    if (c.file) {
        icstr_store_records r;
        memset(&r, 0, sizeof r);
        for (long i = 0; i < c.n; i++) {
            const float *k;
            const int *v;
            int n = icstr_store_cache_find(&c, c.ids[i], c.hashes[i], &k, &v);
            if (n != (int)(c.first[i + 1] - c.first[i])) abort();
            if (n > 0 && ((const unsigned char *)k < c.file || (const unsigned char *)(v + n) > c.file + size)) abort();
            if (icstr_store_records_add(&r, c.ids[i], c.hashes[i], n)) abort();
        }
        unsigned char *again;
        size_t len;
        if (icstr_store_cache_encode(c.stamp, c.width, &r, c.keys, c.values, &again, &len) == ICSTR_OK) {
            if (len != size || memcmp(again, c.file, size)) abort();
            free(again);
        }
        icstr_store_records_free(&r);
    }
    icstr_store_cache_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_one(data, size, 0);
    check_one(data, size, 1);
    return 0;
}
