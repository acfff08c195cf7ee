/* A derived store's per-record entries kept in the pool's directory (see store_cache.h). */
#include "store_cache.h"
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CACHE_MAGIC "ICSTRSC1"
#define CACHE_MARK 0x01020304u
#define CACHE_HEADER 40 /* magic 8, mark 4, width 4, stamp 8, records 8, entries 8 */
#define STORE_CACHE_MAX_BYTES ((size_t)1 << 30) /* a file is not written past this (~10,000 records of glyphs) */

/* the bytes of a file of n records holding `entries` entries of `width` floats */
static size_t file_bytes(uint32_t width, uint64_t n, uint64_t entries) {
    return CACHE_HEADER + 20 * n + entries * (4 * (size_t)width + 4) + 8;
}

static uint64_t entry_count(const icstr_store_records *r) {
    uint64_t entries = 0;
    for (long i = 0; i < r->n; i++) entries += (uint64_t)r->counts[i];
    return entries;
}

int icstr_store_cache_enabled(void) {
    const char *e = getenv("ICSTR_STORE_CACHE");
    return !(e && !strcmp(e, "0"));
}

/* the pool state a file belongs to, hashed */
static int pool_stamp(icstr_pool *pool, const char *name, int width, uint64_t *stamp) {
    icstr_pool_info info;
    int rc = icstr_pool_get_info(pool, &info);
    if (rc) return rc;
    char s[512];
    int n = snprintf(s, sizeof s, "%s|%d|%s|%lld|%d|%.9g,%.9g,%.9g,%.9g|bf16 %d", name, width, info.fingerprint,
                     (long long)info.created, info.generation, (double)info.view.top, (double)info.view.bottom,
                     (double)info.view.left, (double)info.view.right, icstr_ops_get_bf16());
    *stamp = icstr_pool_hash(s, (size_t)n);
    return ICSTR_OK;
}

void icstr_store_cache_free(icstr_store_cache *c) {
    if (!c) return;
    free(c->path);
    free(c->file);
    free(c->first);
    memset(c, 0, sizeof *c);
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *buf = NULL;
    long size = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    if (size >= CACHE_HEADER + 8 && !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)size)) &&
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

int icstr_store_cache_parse(icstr_store_cache *c, unsigned char *buf, size_t len) {
    if (!buf || len < CACHE_HEADER + 8) {
        free(buf);
        return ICSTR_OK;
    }
    uint32_t mark, width;
    uint64_t stamp, n, entries, sum;
    memcpy(&mark, buf + 8, 4), memcpy(&width, buf + 12, 4), memcpy(&stamp, buf + 16, 8);
    memcpy(&n, buf + 24, 8), memcpy(&entries, buf + 32, 8), memcpy(&sum, buf + len - 8, 8);
    int ok = !memcmp(buf, CACHE_MAGIC, 8) && mark == CACHE_MARK && (int)width == c->width && stamp == c->stamp &&
             c->width > 0 && n <= len / 20 && entries <= len / (4 * (size_t)width + 4) &&
             len == file_bytes(width, n, entries) &&
             icstr_pool_hash(buf, len - 8) == sum;
    long *first = ok ? malloc((size_t)(n + 1) * sizeof *first) : NULL;
    if (!first) {
        free(buf);
        return ok ? icstr_fail(ICSTR_ERR_NOMEM, "store cache of %llu records", (unsigned long long)n) : ICSTR_OK;
    }
    const unsigned char *counts = buf + CACHE_HEADER + 16 * n;
    first[0] = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t k;
        memcpy(&k, counts + 4 * i, 4);
        first[i + 1] = first[i] + (long)k;
    }
    uint64_t *ids = (uint64_t *)(void *)(buf + CACHE_HEADER);
    int sorted = (uint64_t)first[n] == entries;
    for (uint64_t i = 1; i < n && sorted; i++) sorted = ids[i - 1] < ids[i];
    if (!sorted) { /* a file that says otherwise than it holds: passed over */
        free(buf);
        free(first);
        return ICSTR_OK;
    }
    c->file = buf;
    c->n = (long)n;
    c->ids = ids;
    c->hashes = ids + n;
    c->first = first;
    c->keys = (float *)(void *)(counts + 4 * n);
    c->values = (int *)(void *)(c->keys + entries * width);
    return ICSTR_OK;
}

int icstr_store_cache_open(icstr_pool *pool, const char *name, int width, icstr_store_cache *c) {
    memset(c, 0, sizeof *c);
    c->width = width;
    if (!icstr_store_cache_enabled()) return ICSTR_OK;
    int rc = pool_stamp(pool, name, width, &c->stamp);
    if (rc) return rc;
    const char *dir = icstr_pool_path(pool);
    size_t need = strlen(dir) + strlen(name) + 16;
    if (!(c->path = malloc(need))) return icstr_fail(ICSTR_ERR_NOMEM, "store cache path");
    snprintf(c->path, need, "%s/%s.cache", dir, name);
    size_t len = 0;
    unsigned char *buf = read_all(c->path, &len); /* before len is read */
    return icstr_store_cache_parse(c, buf, len);
}

uint64_t icstr_store_record_key(const icstr_pool_record *r) {
    return r->image_hash ^ (icstr_pool_hash(r->label, strlen(r->label)) * 0x9e3779b97f4a7c15ULL);
}

int icstr_store_cache_find(const icstr_store_cache *c, uint64_t id, uint64_t hash, const float **keys,
                           const int **values) {
    long lo = 0, hi = c->n - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (c->ids[mid] < id) lo = mid + 1;
        else if (c->ids[mid] > id) hi = mid - 1;
        else {
            if (c->hashes[mid] != hash) return -1;
            *keys = c->keys + (size_t)c->first[mid] * c->width;
            *values = c->values + c->first[mid];
            return (int)(c->first[mid + 1] - c->first[mid]);
        }
    }
    return -1;
}

int icstr_store_records_add(icstr_store_records *r, uint64_t id, uint64_t hash, int count) {
    if (r->n == r->cap) {
        long cap = r->cap ? 2 * r->cap : 256;
        uint64_t *ids = realloc(r->ids, (size_t)cap * sizeof *ids);
        if (ids) r->ids = ids;
        uint64_t *hashes = realloc(r->hashes, (size_t)cap * sizeof *hashes);
        if (hashes) r->hashes = hashes;
        int *counts = realloc(r->counts, (size_t)cap * sizeof *counts);
        if (counts) r->counts = counts;
        if (!ids || !hashes || !counts) return icstr_fail(ICSTR_ERR_NOMEM, "store records: %ld", cap);
        r->cap = cap;
    }
    r->ids[r->n] = id, r->hashes[r->n] = hash, r->counts[r->n] = count;
    r->n++;
    return ICSTR_OK;
}

void icstr_store_records_free(icstr_store_records *r) {
    if (!r) return;
    free(r->ids);
    free(r->hashes);
    free(r->counts);
    memset(r, 0, sizeof *r);
}

static int holds_exactly(const icstr_store_cache *c, const icstr_store_records *r) {
    if (c->n != r->n) return 0;
    for (long i = 0; i < r->n; i++)
        if (c->ids[i] != r->ids[i] || c->hashes[i] != r->hashes[i] || c->first[i + 1] - c->first[i] != r->counts[i])
            return 0;
    return 1;
}

int icstr_store_cache_encode(uint64_t stamp, int width, const icstr_store_records *r, const float *keys,
                             const int *values, unsigned char **out, size_t *out_len) {
    uint64_t n = (uint64_t)r->n, entries = entry_count(r);
    size_t len = file_bytes((uint32_t)width, n, entries);
    unsigned char *buf = malloc(len);
    if (!buf) return icstr_fail(ICSTR_ERR_NOMEM, "store cache: %zu bytes", len);
    uint32_t mark = CACHE_MARK, w = (uint32_t)width;
    unsigned char *p = buf;
    memcpy(p, CACHE_MAGIC, 8), memcpy(p + 8, &mark, 4), memcpy(p + 12, &w, 4), memcpy(p + 16, &stamp, 8);
    memcpy(p + 24, &n, 8), memcpy(p + 32, &entries, 8);
    p += CACHE_HEADER;
    if (n) memcpy(p, r->ids, 8 * n), memcpy(p + 8 * n, r->hashes, 8 * n);
    p += 16 * n;
    for (uint64_t i = 0; i < n; i++, p += 4) {
        uint32_t k = (uint32_t)r->counts[i];
        memcpy(p, &k, 4);
    }
    if (entries) memcpy(p, keys, entries * width * sizeof(float)), memcpy(p + entries * width * sizeof(float), values, entries * sizeof(int));
    p += entries * (width * sizeof(float) + sizeof(int));
    uint64_t sum = icstr_pool_hash(buf, len - 8);
    memcpy(p, &sum, 8);
    *out = buf;
    *out_len = len;
    return ICSTR_OK;
}

int icstr_store_cache_save(const icstr_store_cache *c, const icstr_store_records *r, const float *keys,
                           const int *values) {
    if (!c->path || holds_exactly(c, r)) return ICSTR_OK;
    size_t len = file_bytes((uint32_t)c->width, (uint64_t)r->n, entry_count(r));
    if (len > STORE_CACHE_MAX_BYTES) {
        ICSTR_INFO("%s not written: %.0f MB, over the %.0f MB a store cache may take (the store is computed each time)",
                   c->path, len / 1e6, STORE_CACHE_MAX_BYTES / 1e6);
        return ICSTR_OK;
    }
    unsigned char *buf;
    int rc = icstr_store_cache_encode(c->stamp, c->width, r, keys, values, &buf, &len);
    if (rc) return rc;
    size_t tn = strlen(c->path) + 32;
    char *tmp = malloc(tn);
    FILE *f = tmp ? (snprintf(tmp, tn, "%s.tmp.%ld", c->path, (long)getpid()), fopen(tmp, "wb")) : NULL;
    if (f) { /* a file that cannot be written whole is left out: the next reading computes again */
        int ok = fwrite(buf, 1, len, f) == len;
        ok = !fclose(f) && ok;
        if (!ok || rename(tmp, c->path)) remove(tmp);
    }
    free(tmp);
    free(buf);
    return ICSTR_OK;
}
