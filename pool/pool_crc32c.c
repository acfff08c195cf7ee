/* CRC-32C (Castagnoli, the iSCSI/ext4 polynomial 0x1EDC6F41, reflected 0x82F63B78) for the pool's
 * record and embedding checksums. Portable C, slice-by-8 (about 1-2 GB/s, so a 22 KB record
 * costs some 15 us, small beside the 8 ms it took to embed it); no new dependency. */
#include "pool_internal.h"

#include <pthread.h>

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++) table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
}

uint32_t pool_crc32c(uint32_t crc, const void *buf, size_t n) {
    pthread_once(&table_once, make_table);
    const unsigned char *p = buf;
    uint32_t c = ~crc;
    for (; n && ((uintptr_t)p & 7); n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    for (; n >= 8; n -= 8, p += 8) {
        /* bytes one by one, so the result does not depend on the host's byte order */
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
            table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
    }
    for (; n; n--) c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}
