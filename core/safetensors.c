/* safetensors reader (mmap, validates every field before handing out a pointer) and writer
 * (atomic: temp file, fsync, rename). The contract is in safetensors.h. */
#include "icstr_core.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int dtype;
    int ndim;
    int64_t shape[ICSTR_MAX_DIMS];
    size_t numel;
    size_t begin, end;  /* in the data section */
} st_entry;

struct icstr_st_file {
    const unsigned char *base;  /* whole file or buffer */
    size_t size;
    int mapped;
    const unsigned char *data;  /* the data section */
    size_t data_size;
    char *path;
    char *pool;                 /* decoded names, keys and values; never more than the header's bytes */
    size_t pool_used, pool_cap;
    st_entry *t;                /* header order */
    int n, cap;
    const st_entry **by_name;   /* sorted by name */
    const char **meta_k, **meta_v;  /* sorted by key after parsing */
    int n_meta, cap_meta;
};

const char *icstr_st_dtype_name(int dtype) {
    switch (dtype) {
    case ICSTR_ST_F32: return "F32";
    case ICSTR_ST_F16: return "F16";
    case ICSTR_ST_BF16: return "BF16";
    default: return "?";
    }
}

size_t icstr_st_dtype_size(int dtype) {
    switch (dtype) {
    case ICSTR_ST_F32: return 4;
    case ICSTR_ST_F16: case ICSTR_ST_BF16: return 2;
    default: return 0;
    }
}

/* "[3, 5]" into buf (always terminated, cut if it does not fit). */
static const char *fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

static uint64_t load_u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void store_u64le(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* ======================= reader ======================= */

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const st_entry *const *)a)->name, (*(const st_entry *const *)b)->name);
}

static int cmp_entry_begin(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_name_key(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const st_entry *const *)elem)->name);
}

/* Metadata sorting: an index array of pairs would need a context; sort (key, value) pairs. */
typedef struct {
    const char *k, *v;
} kv;

static int cmp_kv(const void *a, const void *b) { return strcmp(((const kv *)a)->k, ((const kv *)b)->k); }

/* Decodes the next JSON string into the pool; cap bounds its length (plus the NUL). */
static int pool_string(icstr_st_file *f, icstr_json *j, size_t cap, int key, const char **out) {
    size_t room = f->pool_cap - f->pool_used;
    if (cap > room) cap = room;
    char *dst = f->pool + f->pool_used;
    size_t len;
    int rc = key ? icstr_json_key(j, dst, cap, &len) : icstr_json_string(j, dst, cap, &len);
    if (rc) return rc;
    f->pool_used += len + 1;
    *out = dst;
    return ICSTR_OK;
}

static int parse_metadata(icstr_st_file *f, icstr_json *j) {
    if (icstr_json_peek(j) != ICSTR_JSON_OBJECT)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: __metadata__ is not a JSON object", f->path);
    if (icstr_json_enter(j, ICSTR_JSON_OBJECT)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: __metadata__", f->path);
    for (;;) {
        int more;
        if (icstr_json_next(j, &more)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: __metadata__", f->path);
        if (!more) return ICSTR_OK;
        const char *k, *v;
        if (pool_string(f, j, SIZE_MAX, 1, &k)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: __metadata__ key", f->path);
        if (icstr_json_peek(j) != ICSTR_JSON_STRING)
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: __metadata__ '%.64s': value is not a string", f->path, k);
        if (pool_string(f, j, SIZE_MAX, 0, &v))
            return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: __metadata__ '%.64s'", f->path, k);
        if (f->n_meta == f->cap_meta) {
            int cap = f->cap_meta ? f->cap_meta * 2 : 16;
            const char **nk = realloc(f->meta_k, (size_t)cap * sizeof *nk);
            if (!nk) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for metadata", f->path);
            f->meta_k = nk;
            const char **nv = realloc(f->meta_v, (size_t)cap * sizeof *nv);
            if (!nv) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for metadata", f->path);
            f->meta_v = nv;
            f->cap_meta = cap;
        }
        f->meta_k[f->n_meta] = k;
        f->meta_v[f->n_meta] = v;
        f->n_meta++;
    }
}

static const char *const unsupported_dtypes[] = {
    "F64", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
    "F8_E4M3", "F8_E5M2", "F8_E8M0", "E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
};

static int parse_dtype(icstr_st_file *f, icstr_json *j, const char *name, int *dtype) {
    char s[32];
    if (icstr_json_peek(j) != ICSTR_JSON_STRING)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': dtype is not a string", f->path, name);
    if (icstr_json_string(j, s, sizeof s, NULL))
        return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': unknown dtype", f->path, name);
    for (int d = ICSTR_ST_F32; d <= ICSTR_ST_BF16; d++)
        if (!strcmp(s, icstr_st_dtype_name(d))) {
            *dtype = d;
            return ICSTR_OK;
        }
    for (size_t i = 0; i < sizeof unsupported_dtypes / sizeof *unsupported_dtypes; i++)
        if (!strcmp(s, unsupported_dtypes[i]))
            return icstr_fail(ICSTR_ERR_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (icstr reads F32, F16, BF16)",
                              f->path, name, s);
    return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", f->path, name, s);
}

static int parse_shape(icstr_st_file *f, icstr_json *j, st_entry *e) {
    const char *name = e->name;
    if (icstr_json_peek(j) != ICSTR_JSON_ARRAY)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape is not an array", f->path, name);
    if (icstr_json_enter(j, ICSTR_JSON_ARRAY)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape", f->path, name);
    e->ndim = 0;
    for (;;) {
        int more;
        if (icstr_json_next(j, &more)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape", f->path, name);
        if (!more) return ICSTR_OK;
        if (e->ndim == ICSTR_MAX_DIMS)
            return icstr_fail(ICSTR_ERR_UNSUPPORTED, "%s: tensor '%s': more than %d dims", f->path, name, ICSTR_MAX_DIMS);
        int64_t d;
        if (icstr_json_peek(j) != ICSTR_JSON_NUMBER)
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape dim %d is not a number", f->path, name, e->ndim);
        if (icstr_json_int64(j, &d))
            return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape dim %d", f->path, name, e->ndim);
        if (d < 0)
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape dim %d is negative (%lld)", f->path, name, e->ndim,
                              (long long)d);
        e->shape[e->ndim++] = d;
    }
}

static int parse_offsets(icstr_st_file *f, icstr_json *j, st_entry *e) {
    const char *name = e->name;
    int64_t v[2];
    int n = 0;
    if (icstr_json_peek(j) != ICSTR_JSON_ARRAY)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets is not an array", f->path, name);
    if (icstr_json_enter(j, ICSTR_JSON_ARRAY))
        return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets", f->path, name);
    for (;;) {
        int more;
        if (icstr_json_next(j, &more)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets", f->path, name);
        if (!more) break;
        if (n == 2) return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets has more than 2 numbers", f->path, name);
        if (icstr_json_peek(j) != ICSTR_JSON_NUMBER)
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets holds a non-number", f->path, name);
        if (icstr_json_int64(j, &v[n])) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets", f->path, name);
        if (v[n] < 0)
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets holds a negative number (%lld)", f->path, name,
                              (long long)v[n]);
        n++;
    }
    if (n != 2) return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets has %d numbers, not 2", f->path, name, n);
    /* both are in [0, INT64_MAX], so they fit in a 64-bit size_t; on a 32-bit one the data check below catches them */
    if ((uint64_t)v[0] > SIZE_MAX || (uint64_t)v[1] > SIZE_MAX)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets [%lld, %lld] run past the data section (%zu bytes)",
                          f->path, name, (long long)v[0], (long long)v[1], f->data_size);
    e->begin = (size_t)v[0];
    e->end = (size_t)v[1];
    return ICSTR_OK;
}

/* The checks that need the whole entry: element count, offsets against the data section. */
static int check_entry(icstr_st_file *f, st_entry *e) {
    char sh[160];
    size_t es = icstr_st_dtype_size(e->dtype), numel = 1;
    for (int i = 0; i < e->ndim; i++) {
        uint64_t d = (uint64_t)e->shape[i];
        if (d > SIZE_MAX || (d && numel > SIZE_MAX / (size_t)d))
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements", f->path, e->name,
                              fmt_shape(sh, sizeof sh, e->ndim, e->shape));
        numel *= (size_t)d;
    }
    if (numel > SIZE_MAX / es)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': shape %s has too many elements", f->path, e->name,
                          fmt_shape(sh, sizeof sh, e->ndim, e->shape));
    e->numel = numel;
    if (e->end < e->begin)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] end before they begin", f->path, e->name,
                          e->begin, e->end);
    if (e->end > f->data_size)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] run past the data section (%zu bytes)",
                          f->path, e->name, e->begin, e->end, f->data_size);
    if (e->end - e->begin != numel * es)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but shape %s of %s needs %zu",
                          f->path, e->name, e->begin, e->end, e->end - e->begin, fmt_shape(sh, sizeof sh, e->ndim, e->shape),
                          icstr_st_dtype_name(e->dtype), numel * es);
    return ICSTR_OK;
}

static int parse_tensor(icstr_st_file *f, icstr_json *j, const char *name) {
    if (f->n == f->cap) {
        if (f->cap > (1 << 29)) return icstr_fail(ICSTR_ERR_FORMAT, "%s: too many tensors", f->path);
        int cap = f->cap ? f->cap * 2 : 64;
        st_entry *t = realloc(f->t, (size_t)cap * sizeof *t);
        if (!t) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for the tensor table", f->path);
        f->t = t;
        f->cap = cap;
    }
    st_entry *e = &f->t[f->n];
    memset(e, 0, sizeof *e);
    e->name = name;
    if (icstr_json_peek(j) != ICSTR_JSON_OBJECT)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", f->path, name);
    if (icstr_json_enter(j, ICSTR_JSON_OBJECT)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s'", f->path, name);
    int have_dtype = 0, have_shape = 0, have_offsets = 0, rc;
    for (;;) {
        int more;
        if (icstr_json_next(j, &more)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s'", f->path, name);
        if (!more) break;
        char key[32];
        if (icstr_json_key(j, key, sizeof key, NULL)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor '%s': key", f->path, name);
        int *have;
        if (!strcmp(key, "dtype")) have = &have_dtype;
        else if (!strcmp(key, "shape")) have = &have_shape;
        else if (!strcmp(key, "data_offsets")) have = &have_offsets;
        else return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': unknown key '%s'", f->path, name, key);
        if (*have) return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': key '%s' appears twice", f->path, name, key);
        *have = 1;
        if (have == &have_dtype) rc = parse_dtype(f, j, name, &e->dtype);
        else if (have == &have_shape) rc = parse_shape(f, j, e);
        else rc = parse_offsets(f, j, e);
        if (rc) return rc;
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': missing '%s'", f->path, name,
                          !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    if ((rc = check_entry(f, e))) return rc;
    f->n++;
    return ICSTR_OK;
}

static int parse_header(icstr_st_file *f, const unsigned char *hdr, size_t hlen) {
    icstr_json j;
    icstr_json_init(&j, hdr, hlen);
    if (icstr_json_peek(&j) != ICSTR_JSON_OBJECT) return icstr_fail(ICSTR_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    if (icstr_json_enter(&j, ICSTR_JSON_OBJECT)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: header", f->path);
    int seen_meta = 0;
    for (;;) {
        int more;
        if (icstr_json_next(&j, &more)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: header", f->path);
        if (!more) break;
        size_t mark = f->pool_used;
        const char *name;
        if (pool_string(f, &j, ICSTR_ST_NAME_MAX, 1, &name)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: tensor name", f->path);
        int rc;
        if (!strcmp(name, "__metadata__")) {
            if (seen_meta) return icstr_fail(ICSTR_ERR_FORMAT, "%s: __metadata__ appears twice", f->path);
            seen_meta = 1;
            f->pool_used = mark;
            rc = parse_metadata(f, &j);
        } else {
            if (!name[0]) return icstr_fail(ICSTR_ERR_FORMAT, "%s: a tensor has an empty name", f->path);
            rc = parse_tensor(f, &j, name);
        }
        if (rc) return rc;
    }
    if (icstr_json_finish(&j)) return icstr_fail_context(ICSTR_ERR_FORMAT, "%s: header", f->path);
    return ICSTR_OK;
}

/* Unique names, unique keys, no shared bytes. Sorting keeps this O(n log n) for big headers. */
static int check_table(icstr_st_file *f) {
    if (f->n) {
        f->by_name = malloc((size_t)f->n * sizeof *f->by_name);
        const st_entry **by_begin = malloc((size_t)f->n * sizeof *by_begin);
        if (!f->by_name || !by_begin) {
            free(by_begin);
            return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for the tensor index", f->path);
        }
        for (int i = 0; i < f->n; i++) f->by_name[i] = by_begin[i] = &f->t[i];
        qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_entry_name);
        for (int i = 1; i < f->n; i++)
            if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name)) {
                free(by_begin);
                return icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': name appears twice", f->path, f->by_name[i]->name);
            }
        qsort(by_begin, (size_t)f->n, sizeof *by_begin, cmp_entry_begin);
        const st_entry *last = NULL; /* the non-empty tensor reaching furthest so far */
        for (int i = 0; i < f->n; i++) {
            const st_entry *e = by_begin[i];
            if (e->begin == e->end) continue;
            if (last && e->begin < last->end) {
                int rc = icstr_fail(ICSTR_ERR_FORMAT, "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]",
                                    f->path, e->name, e->begin, e->end, last->name, last->begin, last->end);
                free(by_begin);
                return rc;
            }
            if (!last || e->end > last->end) last = e;
        }
        free(by_begin);
    }
    if (f->n_meta) {
        kv *pairs = malloc((size_t)f->n_meta * sizeof *pairs);
        if (!pairs) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for metadata", f->path);
        for (int i = 0; i < f->n_meta; i++) pairs[i] = (kv){f->meta_k[i], f->meta_v[i]};
        qsort(pairs, (size_t)f->n_meta, sizeof *pairs, cmp_kv);
        for (int i = 0; i < f->n_meta; i++) {
            f->meta_k[i] = pairs[i].k;
            f->meta_v[i] = pairs[i].v;
        }
        free(pairs);
        for (int i = 1; i < f->n_meta; i++)
            if (!strcmp(f->meta_k[i - 1], f->meta_k[i]))
                return icstr_fail(ICSTR_ERR_FORMAT, "%s: __metadata__ key '%.64s' appears twice", f->path, f->meta_k[i]);
    }
    return ICSTR_OK;
}

static int open_common(const unsigned char *base, size_t size, int mapped, const char *path, icstr_st_file **out) {
    /* every check on the length field comes before the first allocation */
    if (size < 8)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", path, size);
    uint64_t hlen = load_u64le(base);
    if (hlen > size - 8)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                          (unsigned long long)hlen, size);
    if (hlen > ICSTR_ST_HEADER_MAX)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: header length %llu is over the limit of %u bytes", path,
                          (unsigned long long)hlen, ICSTR_ST_HEADER_MAX);
    icstr_st_file *f = calloc(1, sizeof *f);
    if (!f) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path);
    f->base = base;
    f->size = size;
    f->mapped = mapped;
    f->data = base + 8 + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    f->path = strdup(path);
    /* decoded strings are never longer than their quoted text, so the header's size bounds them */
    f->pool_cap = (size_t)hlen + 1;
    f->pool = malloc(f->pool_cap);
    int rc;
    if (!f->path || !f->pool) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path);
    } else {
        rc = parse_header(f, base + 8, (size_t)hlen);
        if (!rc) rc = check_table(f);
    }
    if (rc) {
        f->mapped = 0; /* the caller unmaps on failure */
        icstr_st_close(f);
        return rc;
    }
    *out = f;
    return ICSTR_OK;
}

int icstr_st_open_memory(const void *buf, size_t len, icstr_st_file **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_open_memory: out is NULL");
    *out = NULL;
    if (!buf && len) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_open_memory: buffer is NULL");
    return open_common(buf, len, 0, "<memory>", out);
}

int icstr_st_open(const char *path, icstr_st_file **out) {
    if (!out) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_open: out is NULL");
    *out = NULL;
    if (!path) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return icstr_fail(ICSTR_ERR_IO, "%s: open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int rc = icstr_fail(ICSTR_ERR_IO, "%s: fstat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return icstr_fail(ICSTR_ERR_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return icstr_fail(ICSTR_ERR_IO, "%s: too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    if (size < 8) {
        close(fd);
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: %zu bytes, too short for the 8-byte header length", path, size);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return icstr_fail(ICSTR_ERR_IO, "%s: mmap: %s", path, strerror(err));
    int rc = open_common(map, size, 1, path, out);
    if (rc) munmap(map, size);
    return rc;
}

void icstr_st_close(icstr_st_file *f) {
    if (!f) return;
    if (f->mapped) munmap((void *)f->base, f->size);
    free(f->path);
    free(f->pool);
    free(f->t);
    free(f->by_name);
    free(f->meta_k);
    free(f->meta_v);
    free(f);
}

int icstr_st_count(const icstr_st_file *f) { return f ? f->n : 0; }

const char *icstr_st_path(const icstr_st_file *f) { return f ? f->path : ""; }

static void fill_info(const icstr_st_file *f, const st_entry *e, icstr_st_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = e->name;
    info->dtype = e->dtype;
    info->ndim = e->ndim;
    memcpy(info->shape, e->shape, sizeof info->shape);
    info->numel = e->numel;
    info->data = f->data + e->begin;
    info->nbytes = e->end - e->begin;
}

int icstr_st_info(const icstr_st_file *f, int i, icstr_st_tensor_info *info) {
    if (!f || !info) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_tensor_info: NULL argument");
    if (i < 0 || i >= f->n) return icstr_fail(ICSTR_ERR_RANGE, "%s: tensor index %d not in [0, %d)", f->path, i, f->n);
    fill_info(f, &f->t[i], info);
    return ICSTR_OK;
}

int icstr_st_find(const icstr_st_file *f, const char *name, icstr_st_tensor_info *info) {
    if (!f || !name || !info) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_find: NULL argument");
    const st_entry *const *e = f->n ? bsearch(name, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name_key) : NULL;
    if (!e) return icstr_fail(ICSTR_ERR_NOTFOUND, "%s: tensor '%s': not in the file", f->path, name);
    fill_info(f, *e, info);
    return ICSTR_OK;
}

const char *icstr_st_meta(const icstr_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    int lo = 0, hi = f->n_meta;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(key, f->meta_k[mid]);
        if (!c) return f->meta_v[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

int icstr_st_meta_count(const icstr_st_file *f) { return f ? f->n_meta : 0; }

int icstr_st_meta_at(const icstr_st_file *f, int i, const char **key, const char **value) {
    if (!f || !key || !value) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_meta_at: NULL argument");
    if (i < 0 || i >= f->n_meta) return icstr_fail(ICSTR_ERR_RANGE, "%s: metadata index %d not in [0, %d)", f->path, i, f->n_meta);
    *key = f->meta_k[i];
    *value = f->meta_v[i];
    return ICSTR_OK;
}

void icstr_st_to_f32(const icstr_st_tensor_info *t, float *dst) {
    const unsigned char *p = t->data;
    size_t n = t->numel;
    if (t->dtype == ICSTR_ST_F32) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (n) memcpy(dst, p, n * 4);
#else
        for (size_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                         (uint32_t)p[4 * i + 3] << 24;
            memcpy(&dst[i], &u, 4);
        }
#endif
    } else if (t->dtype == ICSTR_ST_F16) {
        for (size_t i = 0; i < n; i++) dst[i] = icstr_f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    } else if (t->dtype == ICSTR_ST_BF16) {
        for (size_t i = 0; i < n; i++) dst[i] = icstr_bf16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
    }
}

int icstr_st_read_f32(const icstr_st_file *f, const char *name, int ndim, const int64_t *shape, float *dst) {
    if (!f || !name || (!dst) || (ndim && !shape)) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_read_f32: NULL argument");
    if (ndim < 0 || ndim > ICSTR_MAX_DIMS)
        return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': asked for %d dims", f->path, name, ndim);
    icstr_st_tensor_info t;
    int rc = icstr_st_find(f, name, &t);
    if (rc) return rc;
    int same = t.ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t.shape[i] == shape[i];
    if (!same) {
        char a[160], b[160];
        return icstr_fail(ICSTR_ERR_MISMATCH, "%s: tensor '%s': expected shape %s, found %s", f->path, name,
                          fmt_shape(a, sizeof a, ndim, shape), fmt_shape(b, sizeof b, t.ndim, t.shape));
    }
    icstr_st_to_f32(&t, dst);
    return ICSTR_OK;
}

/* ======================= writer ======================= */

typedef struct {
    char *s;
    size_t len, cap;
    int err;  /* sticky: 0, ICSTR_ERR_NOMEM or ICSTR_ERR_LIMIT */
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->err) return;
    if (n > ICSTR_ST_HEADER_MAX || b->len > ICSTR_ST_HEADER_MAX - n) {
        b->err = ICSTR_ERR_LIMIT;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->err = ICSTR_ERR_NOMEM;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s) {
    char esc[8];
    sb_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        sb_add(b, esc, (size_t)icstr_json_escape_byte(*p, esc));
    sb_add(b, "\"", 1);
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Converts and writes one tensor in chunks, so no buffer grows with the tensor. */
static int write_tensor(int fd, const icstr_st_tensor *t, size_t numel, unsigned char *buf, size_t buf_elems) {
    size_t es = icstr_st_dtype_size(t->dtype);
    for (size_t i = 0; i < numel;) {
        size_t k = numel - i < buf_elems ? numel - i : buf_elems;
        const float *src = t->data + i;
        for (size_t e = 0; e < k; e++) {
            unsigned char *o = buf + e * es;
            if (t->dtype == ICSTR_ST_F32) {
                uint32_t u;
                memcpy(&u, &src[e], 4);
                o[0] = (unsigned char)u;
                o[1] = (unsigned char)(u >> 8);
                o[2] = (unsigned char)(u >> 16);
                o[3] = (unsigned char)(u >> 24);
            } else {
                uint16_t h = t->dtype == ICSTR_ST_F16 ? icstr_f32_to_f16(src[e]) : icstr_f32_to_bf16(src[e]);
                o[0] = (unsigned char)h;
                o[1] = (unsigned char)(h >> 8);
            }
        }
        if (write_all(fd, buf, k * es)) return -1;
        i += k;
    }
    return 0;
}

static int check_write_args(const char *path, const icstr_st_tensor *t, int n, const char *const *mk,
                            const char *const *mv, int n_meta, size_t *numel) {
    if (!path || !path[0]) return icstr_fail(ICSTR_ERR_ARG, "icstr_st_write: no path");
    if (n < 0 || (n && !t)) return icstr_fail(ICSTR_ERR_ARG, "%s: bad tensor list (%d tensors)", path, n);
    if (n_meta < 0 || (n_meta && (!mk || !mv))) return icstr_fail(ICSTR_ERR_ARG, "%s: bad metadata list (%d entries)", path, n_meta);
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !name[0]) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor %d has no name", path, i);
        size_t len = strlen(name);
        if (len >= ICSTR_ST_NAME_MAX)
            return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%.64s...': name longer than %d bytes", path, name, ICSTR_ST_NAME_MAX - 1);
        if (!icstr_json_utf8_valid(name, len)) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor %d: name is not valid UTF-8", path, i);
        if (!strcmp(name, "__metadata__")) return icstr_fail(ICSTR_ERR_ARG, "%s: '__metadata__' is not a tensor name", path);
        for (int k = 0; k < i; k++)
            if (!strcmp(t[k].name, name)) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': name appears twice", path, name);
        size_t es = icstr_st_dtype_size(t[i].dtype);
        if (!es) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': unknown dtype %d", path, name, t[i].dtype);
        if (t[i].ndim < 0 || t[i].ndim > ICSTR_MAX_DIMS)
            return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': %d dims (at most %d)", path, name, t[i].ndim, ICSTR_MAX_DIMS);
        size_t m = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            int64_t v = t[i].shape[d];
            if (v < 0) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': dim %d is negative (%lld)", path, name, d, (long long)v);
            if ((uint64_t)v > SIZE_MAX || icstr_mul_size(m, (size_t)v, &m))
                return icstr_fail(ICSTR_ERR_RANGE, "%s: tensor '%s': too many elements", path, name);
        }
        size_t bytes;
        if (icstr_mul_size(m, es, &bytes)) return icstr_fail(ICSTR_ERR_RANGE, "%s: tensor '%s': too many bytes", path, name);
        if (m && !t[i].data) return icstr_fail(ICSTR_ERR_ARG, "%s: tensor '%s': data is NULL", path, name);
        numel[i] = m;
    }
    for (int i = 0; i < n_meta; i++) {
        if (!mk[i] || !mv[i]) return icstr_fail(ICSTR_ERR_ARG, "%s: metadata entry %d is NULL", path, i);
        if (!icstr_json_utf8_valid(mk[i], strlen(mk[i])) || !icstr_json_utf8_valid(mv[i], strlen(mv[i])))
            return icstr_fail(ICSTR_ERR_ARG, "%s: metadata '%.64s' is not valid UTF-8", path, mk[i]);
        for (int k = 0; k < i; k++)
            if (!strcmp(mk[k], mk[i])) return icstr_fail(ICSTR_ERR_ARG, "%s: metadata key '%.64s' appears twice", path, mk[i]);
    }
    return ICSTR_OK;
}

/* fsync the directory holding path, so the rename itself survives a crash. */
static void sync_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
    free(dir);
}

int icstr_st_write(const char *path, const icstr_st_tensor *t, int n, const char *const *mk, const char *const *mv, int n_meta) {
    size_t *numel = calloc((size_t)(n > 0 ? n : 1), 2 * sizeof *numel);
    if (!numel) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path ? path : "?");
    size_t *begin = numel + (n > 0 ? n : 1);
    int rc = check_write_args(path, t, n, mk, mv, n_meta, numel);
    if (rc) {
        free(numel);
        return rc;
    }
    /* data order: 4-byte elements first, then 2-byte ones, keeping every tensor naturally aligned */
    size_t off = 0;
    for (int pass = 4; pass >= 2; pass -= 2)
        for (int i = 0; i < n; i++)
            if (icstr_st_dtype_size(t[i].dtype) == (size_t)pass) {
                begin[i] = off;
                size_t bytes = numel[i] * (size_t)pass; /* checked in check_write_args */
                if (bytes > SIZE_MAX - off) {
                    free(numel);
                    return icstr_fail(ICSTR_ERR_RANGE, "%s: tensor '%s': data section too large", path, t[i].name);
                }
                off += bytes;
            }

    sbuf h = {0};
    sb_str(&h, "{");
    if (n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, mk[i]);
            sb_str(&h, ":");
            sb_json_string(&h, mv[i]);
        }
        sb_str(&h, "}");
    }
    for (int i = 0; i < n; i++) {
        char num[64];
        if (i || n_meta) sb_str(&h, ",");
        sb_json_string(&h, t[i].name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, icstr_st_dtype_name(t[i].dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t[i].shape[d]);
            sb_str(&h, num);
        }
        size_t es = icstr_st_dtype_size(t[i].dtype);
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", begin[i], begin[i] + numel[i] * es);
        sb_str(&h, num);
    }
    sb_str(&h, "}");
    while (!h.err && h.len % 8) sb_str(&h, " ");
    if (h.err) {
        free(h.s);
        free(numel);
        return h.err == ICSTR_ERR_LIMIT
                   ? icstr_fail(ICSTR_ERR_LIMIT, "%s: header over %u bytes", path, ICSTR_ST_HEADER_MAX)
                   : icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory for the header", path);
    }

    enum { CHUNK = 16384 };
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    unsigned char *buf = malloc(CHUNK * 4);
    int fd = -1, created = 0;
    if (!tmp || !buf) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: open: %s", tmp, strerror(errno));
        goto done;
    }
    created = 1;
    unsigned char len8[8];
    store_u64le(len8, h.len);
    int bad = write_all(fd, len8, 8) || write_all(fd, h.s, h.len);
    for (int pass = 4; pass >= 2 && !bad; pass -= 2)
        for (int i = 0; i < n && !bad; i++)
            if (icstr_st_dtype_size(t[i].dtype) == (size_t)pass) bad = write_tensor(fd, &t[i], numel[i], buf, CHUNK);
    if (bad) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: write: %s", tmp, strerror(errno));
        goto done;
    }
    if (fsync(fd)) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: fsync: %s", tmp, strerror(errno));
        goto done;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd)) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: close: %s", tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path)) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: rename from %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    sync_dir(path);
    rc = ICSTR_OK;
done:
    if (fd >= 0) close(fd);
    if (rc && created) unlink(tmp);
    free(tmp);
    free(buf);
    free(h.s);
    free(numel);
    return rc;
}
