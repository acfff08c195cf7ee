/* Aligned allocation, the per-step scratch arena and the parameter slab (parameters, gradients
 * and AdamW moments in four arrays of one layout). */
#include "icstr_core.h"

#include <stdlib.h>
#include <string.h>

int icstr_mul_size(size_t n, size_t size, size_t *out) {
    if (size && n > SIZE_MAX / size) return icstr_fail(ICSTR_ERR_RANGE, "size overflow: %zu x %zu", n, size);
    *out = n * size;
    return ICSTR_OK;
}

void *icstr_alloc(size_t n, size_t size) {
    size_t bytes = 0;
    if (icstr_mul_size(n, size, &bytes)) return NULL;
    size_t rounded = (bytes + ICSTR_ALIGN - 1) / ICSTR_ALIGN * ICSTR_ALIGN;
    if (rounded < bytes) {
        icstr_fail(ICSTR_ERR_RANGE, "size overflow: %zu bytes", bytes);
        return NULL;
    }
    if (rounded == 0) rounded = ICSTR_ALIGN;
    void *p = aligned_alloc(ICSTR_ALIGN, rounded);
    if (!p) {
        icstr_fail(ICSTR_ERR_NOMEM, "cannot allocate %zu bytes", rounded);
        return NULL;
    }
    memset(p, 0, rounded);
    return p;
}

void icstr_free(void *p) { free(p); }

int icstr_arena_init(icstr_arena *a, size_t cap) {
    memset(a, 0, sizeof *a);
    a->base = icstr_alloc(cap, 1);
    if (!a->base) return ICSTR_ERR_NOMEM;
    a->cap = cap;
    return ICSTR_OK;
}

void *icstr_arena_alloc(icstr_arena *a, size_t bytes) {
    size_t start = (a->used + ICSTR_ALIGN - 1) / ICSTR_ALIGN * ICSTR_ALIGN;
    if (start > a->cap || bytes > a->cap - start) {
        icstr_fail(ICSTR_ERR_NOMEM, "scratch arena full: %zu of %zu bytes used, %zu more asked",
                   a->used, a->cap, bytes);
        return NULL;
    }
    void *p = a->base + start;
    memset(p, 0, bytes);
    a->used = start + bytes;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *icstr_arena_floats(icstr_arena *a, size_t n) {
    size_t bytes = 0;
    if (icstr_mul_size(n, sizeof(float), &bytes)) return NULL;
    return icstr_arena_alloc(a, bytes);
}

void icstr_arena_reset(icstr_arena *a) { a->used = 0; }

void icstr_arena_free(icstr_arena *a) {
    icstr_free(a->base);
    memset(a, 0, sizeof *a);
}

void icstr_slab_init(icstr_slab *s) { memset(s, 0, sizeof *s); }

int icstr_slab_declare(icstr_slab *s, const char *name, int ndim, const int64_t *shape, int decay,
                       size_t *offset_out) {
    if (s->data) return icstr_fail(ICSTR_ERR_ARG, "slab: declare %s after alloc", name);
    if (ndim < 1 || ndim > ICSTR_MAX_DIMS) return icstr_fail(ICSTR_ERR_ARG, "slab: %s has %d dims", name, ndim);
    if (strlen(name) >= ICSTR_NAME_MAX) return icstr_fail(ICSTR_ERR_ARG, "slab: name too long: %s", name);
    if (icstr_slab_find(s, name)) return icstr_fail(ICSTR_ERR_ARG, "slab: %s declared twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0) return icstr_fail(ICSTR_ERR_ARG, "slab: %s has dim %d = %lld", name, i, (long long)shape[i]);
        if (icstr_mul_size(numel, (size_t)shape[i], &numel)) return ICSTR_ERR_RANGE;
    }
    if (s->count == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        icstr_param *p = realloc(s->params, (size_t)cap * sizeof *p);
        if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "slab: cannot grow the parameter list");
        s->params = p;
        s->cap = cap;
    }
    icstr_param *p = &s->params[s->count++];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    /* keep every tensor 64-byte aligned inside the slab */
    p->offset = (s->total + 15) / 16 * 16;
    p->numel = numel;
    p->decay = decay;
    s->total = p->offset + numel;
    if (offset_out) *offset_out = p->offset;
    return ICSTR_OK;
}

int icstr_slab_alloc(icstr_slab *s, int with_train) {
    s->data = icstr_alloc(s->total, sizeof(float));
    if (!s->data) return ICSTR_ERR_NOMEM;
    if (with_train) {
        s->grad = icstr_alloc(s->total, sizeof(float));
        s->m = icstr_alloc(s->total, sizeof(float));
        s->v = icstr_alloc(s->total, sizeof(float));
        if (!s->grad || !s->m || !s->v) return ICSTR_ERR_NOMEM;
    }
    return ICSTR_OK;
}

const icstr_param *icstr_slab_find(const icstr_slab *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (!strcmp(s->params[i].name, name)) return &s->params[i];
    return NULL;
}

void icstr_slab_zero_grad(icstr_slab *s) {
    if (s->grad) memset(s->grad, 0, s->total * sizeof(float));
}

void icstr_slab_free(icstr_slab *s) {
    free(s->params);
    icstr_free(s->data);
    icstr_free(s->grad);
    icstr_free(s->m);
    icstr_free(s->v);
    memset(s, 0, sizeof *s);
}
