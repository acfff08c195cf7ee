/* Frozen weights for the bf16 product: ranges of floats the caller promises not to change
 * (a model loaded for recognition), and for every right operand met inside one, a copy packed
 * once for the AVX512_BF16 kernel. Recognising a crop or two at a time multiplies a few rows by
 * each weight matrix, so converting and packing the weights at every call was most of the time.
 *
 * One process-wide table (open addressing on the operand's address and shape) under a mutex:
 * lookups are a few per layer, packing happens once per operand. A full table or a failed
 * allocation only means that operand is packed per call as before. */
#include "icstr_core.h"
#include "ops_gemm_avx512bf16.h"
#include "ops_internal.h"

#include <pthread.h>
#include <stdlib.h>

#define MAX_RANGES 16
#define SLOTS 1024 /* a power of two; at most 3/4 used */

typedef struct {
    const float *base;
    size_t n;
} frozen_range;

typedef struct {
    const float *b; /* NULL: empty slot */
    int tb, ldb, K, N, range;
    uint32_t *packed;
} packed_entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static frozen_range ranges[MAX_RANGES];
static packed_entry table[SLOTS];
static int used;

int icstr_ops_freeze(const float *base, size_t n) {
    if (!base || !n) return icstr_fail(ICSTR_ERR_ARG, "freeze: empty range");
    pthread_mutex_lock(&lock);
    int slot = -1;
    for (int i = 0; i < MAX_RANGES; i++)
        if (!ranges[i].base && slot < 0) slot = i;
    if (slot >= 0) ranges[slot] = (frozen_range){base, n};
    pthread_mutex_unlock(&lock);
    if (slot < 0) return icstr_fail(ICSTR_ERR_LIMIT, "freeze: more than %d frozen ranges", MAX_RANGES);
    return ICSTR_OK;
}

static size_t slot_of(const float *b, int tb, int ldb, int K, int N) {
    uint64_t h = (uint64_t)(uintptr_t)b * 0x9e3779b97f4a7c15ull;
    h ^= ((uint64_t)(unsigned)K << 32 | (unsigned)N) * 0xbf58476d1ce4e5b9ull;
    h ^= ((uint64_t)(unsigned)ldb << 1 | (unsigned)tb) * 0x94d049bb133111ebull;
    return (size_t)(h >> 40) & (SLOTS - 1);
}

void icstr_ops_thaw(const float *base) {
    pthread_mutex_lock(&lock);
    int r = -1;
    for (int i = 0; i < MAX_RANGES; i++)
        if (ranges[i].base == base) r = i;
    if (r >= 0) {
        ranges[r].base = NULL;
        ranges[r].n = 0;
        /* rebuild the table without the range's entries (open addressing has no cheap delete) */
        packed_entry keep[SLOTS];
        int kept = 0;
        for (int s = 0; s < SLOTS; s++) {
            if (!table[s].b) continue;
            if (table[s].range == r) icstr_free(table[s].packed);
            else keep[kept++] = table[s];
            table[s].b = NULL;
        }
        for (int i = 0; i < kept; i++) {
            size_t s = slot_of(keep[i].b, keep[i].tb, keep[i].ldb, keep[i].K, keep[i].N);
            while (table[s].b) s = (s + 1) & (SLOTS - 1);
            table[s] = keep[i];
        }
        used = kept;
    }
    pthread_mutex_unlock(&lock);
}

/* The range holding every float op(B) (K,N) reads, or -1. */
static int range_of(const float *b, int tb, int ldb, int K, int N) {
    size_t rows = tb ? (size_t)N : (size_t)K, cols = tb ? (size_t)K : (size_t)N;
    size_t last = (rows - 1) * (size_t)ldb + cols; /* one past the last float read */
    for (int i = 0; i < MAX_RANGES; i++) {
        const float *base = ranges[i].base;
        if (base && b >= base && b < base + ranges[i].n && (size_t)(b - base) + last <= ranges[i].n)
            return i;
    }
    return -1;
}

const uint32_t *icstr_ops_frozen_packed(int tb, int K, int N, const float *b, int ldb) {
    if (K <= 0 || N <= 0) return NULL;
    const uint32_t *out = NULL;
    pthread_mutex_lock(&lock);
    int r = range_of(b, tb, ldb, K, N);
    if (r >= 0) {
        size_t s = slot_of(b, tb, ldb, K, N);
        while (table[s].b && !(table[s].b == b && table[s].tb == tb && table[s].ldb == ldb &&
                               table[s].K == K && table[s].N == N))
            s = (s + 1) & (SLOTS - 1);
        if (table[s].b) {
            out = table[s].packed;
        } else if (used < SLOTS / 4 * 3) {
            uint32_t *p = icstr_alloc(icstr_gemm_avx512bf16_packed_words(K, N), sizeof *p);
            if (p) {
                icstr_gemm_avx512bf16_pack_b(p, tb, K, N, b, ldb);
                table[s] = (packed_entry){b, tb, ldb, K, N, r, p};
                used++;
                out = p;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return out;
}
