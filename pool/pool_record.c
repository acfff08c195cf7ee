/* Pool records: the versioned little-endian encoding, the validating decoder (it reads bytes
 * from disk that may be corrupt, and is fuzzed by the tests), the image-bytes hash, and the
 * search entries (an embedding and its checksum). Version 2 records end with a CRC-32C so that a
 * flipped byte in a label, a latent or the image is refused instead of read back as data. */
#include "pool_internal.h"
#include "icstr_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char MAGIC[4] = {'I', 'C', 'P', 'R'};
#define HEADER_BYTES 40 /* magic .. D */

uint64_t icstr_pool_hash_mask_ = ~(uint64_t)0;

void pool_put_f32s(unsigned char *dst, const float *src, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, src, n * sizeof(float));
#else
    for (size_t i = 0; i < n; i++) pool_put_f32(dst + 4 * i, src[i]);
#endif
}

void pool_get_f32s(float *dst, const unsigned char *src, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(dst, src, n * sizeof(float));
#else
    for (size_t i = 0; i < n; i++) dst[i] = pool_get_f32(src + 4 * i);
#endif
}

/* Multiply-rotate over 8-byte words, then a final avalanche (the shape of xxhash's core loop);
 * a few GB/s, and every input bit reaches every output bit. */
static uint64_t rotl(uint64_t x, int r) { return x << r | x >> (64 - r); }
static uint64_t avalanche(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t icstr_pool_hash(const void *bytes, size_t n) {
    const unsigned char *p = bytes;
    const uint64_t k1 = 0x9e3779b185ebca87ULL, k2 = 0xc2b2ae3d27d4eb4fULL;
    uint64_t h = 0x27d4eb2f165667c5ULL ^ ((uint64_t)n * k1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pool_get_u64(p + i);
        h ^= rotl(w * k2, 31) * k1;
        h = rotl(h, 27) * k1 + 0x85ebca77c2b2ae63ULL;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < n; j++) tail |= (uint64_t)p[i + j] << (8 * j);
    h ^= rotl(tail * k2, 31) * k1;
    return avalanche(h);
}

static int field_ok(const char *what, const char *s, size_t max, size_t *len) {
    if (!s) return icstr_fail(ICSTR_ERR_ARG, "pool record: no %s", what);
    size_t n = strlen(s);
    if (n > max) return icstr_fail(ICSTR_ERR_ARG, "pool record: %s of %zu bytes (max %zu)", what, n, max);
    if (!icstr_utf8_valid(s, n)) return icstr_fail(ICSTR_ERR_ARG, "pool record: %s is not valid UTF-8", what);
    *len = n;
    return ICSTR_OK;
}

int icstr_pool_record_encode(const icstr_pool_record *r, unsigned char **out, size_t *len) {
    if (!r || !out || !len) return icstr_fail(ICSTR_ERR_ARG, "pool record: NULL argument");
    *out = NULL;
    *len = 0;
    size_t ll, tl;
    int rc;
    if ((rc = field_ok("label", r->label, ICSTR_POOL_LABEL_MAX, &ll)) ||
        (rc = field_ok("tag", r->tag ? r->tag : "", ICSTR_POOL_TAG_MAX, &tl)))
        return rc;
    if (r->M < 1 || r->M > ICSTR_POOL_M_MAX || r->D < 1 || r->D > ICSTR_POOL_D_MAX)
        return icstr_fail(ICSTR_ERR_ARG, "pool record: M = %d, D = %d out of range", r->M, r->D);
    if (!r->embedding || !r->latents || !r->image || r->image_len < 1 || r->image_len > ICSTR_POOL_IMAGE_MAX)
        return icstr_fail(ICSTR_ERR_ARG, "pool record: missing embedding, latents or image (or %zu image bytes)",
                          r->image_len);
    size_t nf = (size_t)r->D * (1 + (size_t)r->M);
    size_t total = HEADER_BYTES + 4 + ll + 4 + tl + 4 * nf + 8 + r->image_len + 4;
    unsigned char *b = malloc(total);
    if (!b) return icstr_fail(ICSTR_ERR_NOMEM, "pool record of %zu bytes", total);
    unsigned char *p = b;
    memcpy(p, MAGIC, 4);
    pool_put_u16(p + 4, ICSTR_POOL_RECORD_VERSION);
    pool_put_u16(p + 6, 0);
    pool_put_u64(p + 8, r->id);
    pool_put_u64(p + 16, (uint64_t)r->time_added);
    pool_put_u64(p + 24, r->image_hash);
    pool_put_u32(p + 32, (uint32_t)r->M);
    pool_put_u32(p + 36, (uint32_t)r->D);
    p += HEADER_BYTES;
    pool_put_u32(p, (uint32_t)ll);
    memcpy(p + 4, r->label, ll);
    p += 4 + ll;
    pool_put_u32(p, (uint32_t)tl);
    if (tl) memcpy(p + 4, r->tag, tl);
    p += 4 + tl;
    pool_put_f32s(p, r->embedding, (size_t)r->D);
    p += 4 * (size_t)r->D;
    pool_put_f32s(p, r->latents, (size_t)r->M * r->D);
    p += 4 * (size_t)r->M * r->D;
    pool_put_u64(p, (uint64_t)r->image_len);
    memcpy(p + 8, r->image, r->image_len);
    pool_put_u32(b + total - 4, pool_crc32c(0, b, total - 4));
    *out = b;
    *len = total;
    return ICSTR_OK;
}

/* A cursor over the record bytes that refuses to read past the end. */
typedef struct {
    const unsigned char *p;
    size_t left;
} reader;

static int take(reader *r, size_t n, const unsigned char **at) {
    if (n > r->left) return 0;
    *at = r->p;
    r->p += n;
    r->left -= n;
    return 1;
}

static int take_text(reader *r, size_t max, const char *what, const char **s, size_t *n) {
    const unsigned char *at;
    if (!take(r, 4, &at)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: truncated before the %s length", what);
    uint32_t len = pool_get_u32(at);
    if (len > max || len > r->left)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: %s length %u (max %zu, %zu bytes left)", what, len, max,
                          r->left);
    take(r, len, &at);
    if (!icstr_utf8_valid((const char *)at, len) || memchr(at, 0, len))
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: %s is not valid UTF-8 without NUL", what);
    *s = (const char *)at;
    *n = len;
    return ICSTR_OK;
}

static int floats_finite(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pool_get_f32(p + 4 * i))) return 0;
    return 1;
}

int pool_record_parse(const void *buf, size_t len, int check_hash, pool_record_view *v) {
    memset(v, 0, sizeof *v);
    if (!buf) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: no bytes");
    reader r = {buf, len};
    const unsigned char *h;
    if (!take(&r, HEADER_BYTES, &h)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: %zu bytes, the header alone is %d", len, HEADER_BYTES);
    if (memcmp(h, MAGIC, 4)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: bad magic");
    uint16_t version = pool_get_u16(h + 4);
    if (version != 1 && version != 2)
        return icstr_fail(ICSTR_ERR_UNSUPPORTED, "pool record: version %u (this icstr reads 1 and 2)", version);
    v->version = version;
    if (pool_get_u16(h + 6)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: reserved field is not zero");
    v->id = pool_get_u64(h + 8);
    v->time_added = (int64_t)pool_get_u64(h + 16);
    v->image_hash = pool_get_u64(h + 24);
    v->M = pool_get_u32(h + 32);
    v->D = pool_get_u32(h + 36);
    if (v->M < 1 || v->M > ICSTR_POOL_M_MAX || v->D < 1 || v->D > ICSTR_POOL_D_MAX)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: M = %u, D = %u out of range", v->M, v->D);
    /* version 2 ends with the CRC-32C of everything before it */
    if (version == 2) {
        if (r.left < 4) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: truncated before the checksum");
        r.left -= 4;
    }
    int rc;
    if ((rc = take_text(&r, ICSTR_POOL_LABEL_MAX, "label", &v->label, &v->label_len)) ||
        (rc = take_text(&r, ICSTR_POOL_TAG_MAX, "tag", &v->tag, &v->tag_len)))
        return rc;
    /* M and D are bounded above, so this product cannot overflow */
    size_t nf = (size_t)v->D * (1 + (size_t)v->M);
    if (!take(&r, 4 * (size_t)v->D, &v->embedding) || !take(&r, 4 * (size_t)v->M * v->D, &v->latents))
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: %zu floats do not fit in the %zu bytes left", nf, r.left);
    const unsigned char *at;
    if (!take(&r, 8, &at)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: truncated before the image length");
    uint64_t il = pool_get_u64(at);
    if (il != r.left)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: image length %llu, %zu bytes left", (unsigned long long)il,
                          r.left);
    if (il < 1 || il > ICSTR_POOL_IMAGE_MAX)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record: image of %llu bytes (max %zu)", (unsigned long long)il,
                          ICSTR_POOL_IMAGE_MAX);
    v->image = r.p;
    v->image_len = (size_t)il;
    /* every length agrees with the value's size: only now read the bulk of it */
    if (version == 2) {
        uint32_t stored = pool_get_u32((const unsigned char *)buf + len - 4), got = pool_crc32c(0, buf, len - 4);
        if (stored != got)
            return icstr_fail(ICSTR_ERR_FORMAT, "pool record %llu: checksum mismatch (stored %08x, computed %08x): the "
                              "record is corrupt", (unsigned long long)v->id, stored, got);
    }
    if (!floats_finite(v->embedding, nf)) return icstr_fail(ICSTR_ERR_FORMAT, "pool record: a float is not finite");
    if (check_hash && icstr_pool_hash(v->image, v->image_len) != v->image_hash)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool record %llu: the image does not match its hash",
                          (unsigned long long)v->id);
    return ICSTR_OK;
}

int pool_record_check_key(const icstr_pool *p, uint64_t key_id, uint64_t record_id) {
    if (key_id == record_id) return ICSTR_OK;
    return icstr_fail(ICSTR_ERR_FORMAT, "pool %s: record %llu is stored under the key %llu (corrupt)", p->path,
                      (unsigned long long)record_id, (unsigned long long)key_id);
}

void pool_emb_put(unsigned char *dst, const float *e, int D) {
    pool_put_f32s(dst, e, (size_t)D);
    pool_put_u32(dst + 4 * (size_t)D, pool_crc32c(0, dst, 4 * (size_t)D));
}

int pool_emb_get(const icstr_pool *p, uint64_t id, const MDB_val *v, float *out, int *checked) {
    size_t n = 4 * (size_t)p->D;
    if (checked) *checked = 0;
    if (v->mv_size != n && v->mv_size != n + 4)
        return icstr_fail(ICSTR_ERR_FORMAT, "pool %s: the search entry of record %llu has %zu bytes, not %zu", p->path,
                          (unsigned long long)id, v->mv_size, n + 4);
    if (v->mv_size == n + 4) {
        uint32_t stored = pool_get_u32((const unsigned char *)v->mv_data + n), got = pool_crc32c(0, v->mv_data, n);
        if (stored != got)
            return icstr_fail(ICSTR_ERR_FORMAT, "pool %s: the search entry of record %llu: checksum mismatch (stored "
                              "%08x, computed %08x): it is corrupt", p->path, (unsigned long long)id, stored, got);
        if (checked) *checked = 1;
    }
    pool_get_f32s(out, v->mv_data, (size_t)p->D);
    return ICSTR_OK;
}

void icstr_pool_record_free(icstr_pool_record *r) {
    if (!r) return;
    free(r->label);
    free(r->tag);
    icstr_free(r->embedding);
    icstr_free(r->latents);
    free(r->image);
    memset(r, 0, sizeof *r);
}

static char *dup_text(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

int icstr_pool_record_decode(const void *buf, size_t len, int want, icstr_pool_record *out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "pool record: NULL out");
    memset(out, 0, sizeof *out);
    pool_record_view v;
    int rc = pool_record_parse(buf, len, (want & ICSTR_POOL_WANT_IMAGE) != 0, &v);
    if (rc) return rc;
    out->id = v.id;
    out->time_added = v.time_added;
    out->image_hash = v.image_hash;
    out->M = (int)v.M;
    out->D = (int)v.D;
    out->image_len = v.image_len;
    out->label = dup_text(v.label, v.label_len);
    out->tag = dup_text(v.tag, v.tag_len);
    int nomem = !out->label || !out->tag;
    if (want & ICSTR_POOL_WANT_EMBEDDING) {
        if ((out->embedding = icstr_alloc(v.D, sizeof(float)))) pool_get_f32s(out->embedding, v.embedding, v.D);
        else nomem = 1;
    }
    if (want & ICSTR_POOL_WANT_LATENTS) {
        size_t n = (size_t)v.M * v.D;
        if ((out->latents = icstr_alloc(n, sizeof(float)))) pool_get_f32s(out->latents, v.latents, n);
        else nomem = 1;
    }
    if (want & ICSTR_POOL_WANT_IMAGE) {
        if ((out->image = malloc(v.image_len))) memcpy(out->image, v.image, v.image_len);
        else nomem = 1;
    }
    if (nomem) {
        icstr_pool_record_free(out);
        return icstr_fail(ICSTR_ERR_NOMEM, "pool record of %zu bytes", len);
    }
    return ICSTR_OK;
}

int icstr_pool_record_input(const icstr_pool *p, const icstr_pool_record *r, int H, int W, float *chw) {
    return pool_record_input_view(p, r, &p->view, H, W, chw);
}

int pool_record_input_view(const icstr_pool *p, const icstr_pool_record *r, const icstr_view *v, int H, int W,
                           float *chw) {
    icstr_image im;
    int rc = icstr_image_load_memory(r->image, r->image_len, NULL, &im);
    if (!rc) {
        rc = icstr_image_view_to_input(&im, v, H, W, chw);
        icstr_image_free(&im);
    }
    if (rc)
        icstr_fail_context(rc, "pool %s: the image of record %llu cannot be decoded (remove it with `icstr pool rm`)",
                           p->path, (unsigned long long)r->id);
    return rc;
}
