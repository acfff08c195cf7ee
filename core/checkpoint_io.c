/* Parameter slabs to and from safetensors files: every parameter under its own name and shape,
 * and, for checkpoints that must resume exactly, the AdamW moments under ICSTR_ST_PREFIX_M and
 * ICSTR_ST_PREFIX_V. Loading checks the whole file against the slab before it writes a float. */
#include "icstr_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOMENT_NAME_MAX (ICSTR_NAME_MAX + 16)

static int moment_name(char *dst, const char *prefix, const char *name) {
    int k = snprintf(dst, MOMENT_NAME_MAX, "%s%s", prefix, name);
    return k < 0 || k >= MOMENT_NAME_MAX;
}

int icstr_slab_save(const icstr_slab *s, const char *path, int dtype, int flags, const char *const *meta_keys,
                    const char *const *meta_values, int n_meta) {
    if (!s || !s->data) return icstr_fail(ICSTR_ERR_ARG, "%s: the slab has no parameters allocated", path ? path : "?");
    int moments = (flags & ICSTR_ST_MOMENTS) != 0;
    if (moments && (!s->m || !s->v))
        return icstr_fail(ICSTR_ERR_ARG, "%s: moments asked for but the slab has none (allocated for inference?)",
                          path ? path : "?");
    int per = moments ? 3 : 1;
    size_t n = (size_t)s->count * (size_t)per;
    icstr_st_tensor *t = calloc(n ? n : 1, sizeof *t);
    char (*names)[MOMENT_NAME_MAX] = moments && s->count ? calloc((size_t)s->count * 2, MOMENT_NAME_MAX) : NULL;
    if (!t || (moments && s->count && !names)) {
        free(t);
        free(names);
        return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path ? path : "?");
    }
    for (int i = 0; i < s->count; i++) {
        const icstr_param *p = &s->params[i];
        icstr_st_tensor *d = &t[i];
        d->name = p->name;
        d->dtype = dtype;
        d->ndim = p->ndim;
        memcpy(d->shape, p->shape, sizeof d->shape);
        d->data = s->data + p->offset;
        if (!moments) continue;
        for (int k = 0; k < 2; k++) {
            char *nm = names[2 * i + k];
            if (moment_name(nm, k ? ICSTR_ST_PREFIX_V : ICSTR_ST_PREFIX_M, p->name)) {
                free(t);
                free(names);
                return icstr_fail(ICSTR_ERR_ARG, "%s: parameter '%s': name too long", path ? path : "?", p->name);
            }
            icstr_st_tensor *mt = &t[(size_t)s->count * (size_t)(1 + k) + (size_t)i];
            *mt = *d;
            mt->name = nm;
            mt->dtype = ICSTR_ST_F32; /* moments stay exact: resuming must not change the run */
            mt->data = (k ? s->v : s->m) + p->offset;
        }
    }
    int rc = icstr_st_write(path, t, (int)n, meta_keys, meta_values, n_meta);
    free(t);
    free(names);
    return rc;
}

/* Accumulates one kind of problem ("2 missing: 'a', 'b'"), cut with "..." when long. */
typedef struct {
    int count;
    size_t len;
    char text[320];
} problems;

static void add_problem(problems *p, const char *fmt, const char *name, const char *extra) {
    p->count++;
    if (p->len >= sizeof p->text) return;
    char item[400];
    snprintf(item, sizeof item, fmt, name, extra);
    size_t k = strlen(item), room = sizeof p->text - p->len;
    const char *sep = p->count > 1 ? ", " : "";
    if (strlen(sep) + k + 4 < room) {
        p->len += (size_t)snprintf(p->text + p->len, room, "%s%s", sep, item);
    } else {
        snprintf(p->text + p->len, room, ", ...");
        p->len = sizeof p->text;
    }
}

static int cmp_param_name(const void *a, const void *b) {
    return strcmp((*(const icstr_param *const *)a)->name, (*(const icstr_param *const *)b)->name);
}

static int cmp_name_param(const void *key, const void *elem) {
    return strcmp((const char *)key, (*(const icstr_param *const *)elem)->name);
}

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* Looks up one expected tensor and records what is wrong with it (missing: NULL = allowed). */
static void check_one(const icstr_st_file *f, const char *name, const icstr_param *p, problems *missing, problems *shapes) {
    icstr_st_tensor_info info;
    if (icstr_st_find(f, name, &info)) {
        if (missing) add_problem(missing, "'%s'%s", name, "");
        return;
    }
    int same = info.ndim == p->ndim;
    for (int d = 0; same && d < p->ndim; d++) same = info.shape[d] == p->shape[d];
    if (!same) {
        char want[96], got[96], extra[240];
        shape_text(want, sizeof want, p->ndim, p->shape);
        shape_text(got, sizeof got, info.ndim, info.shape);
        snprintf(extra, sizeof extra, ": expected shape %s, found %s", want, got);
        add_problem(shapes, "'%s'%s", name, extra);
    }
}

int icstr_slab_load(icstr_slab *s, const icstr_st_file *f, int flags) {
    if (!s || !f) return icstr_fail(ICSTR_ERR_ARG, "icstr_slab_load: NULL argument");
    const char *path = icstr_st_path(f);
    if (!s->data) return icstr_fail(ICSTR_ERR_ARG, "%s: the slab has no parameters allocated", path);
    int moments = (flags & ICSTR_ST_MOMENTS) != 0;
    if (moments && (!s->m || !s->v))
        return icstr_fail(ICSTR_ERR_ARG, "%s: moments asked for but the slab has none (allocated for inference?)", path);

    problems missing = {0}, unexpected = {0}, shapes = {0};
    problems *miss = (flags & ICSTR_ST_ALLOW_MISSING) ? NULL : &missing;
    char mname[MOMENT_NAME_MAX];
    for (int i = 0; i < s->count; i++) {
        const icstr_param *p = &s->params[i];
        check_one(f, p->name, p, miss, &shapes);
        if (!moments) continue;
        for (int k = 0; k < 2; k++) {
            if (moment_name(mname, k ? ICSTR_ST_PREFIX_V : ICSTR_ST_PREFIX_M, p->name))
                return icstr_fail(ICSTR_ERR_ARG, "%s: parameter '%s': name too long", path, p->name);
            check_one(f, mname, p, miss, &shapes);
        }
    }

    if (!(flags & ICSTR_ST_ALLOW_EXTRA)) {
        /* every tensor of the file must belong to a declared parameter */
        const icstr_param **sorted = malloc((size_t)(s->count ? s->count : 1) * sizeof *sorted);
        if (!sorted) return icstr_fail(ICSTR_ERR_NOMEM, "%s: out of memory", path);
        for (int i = 0; i < s->count; i++) sorted[i] = &s->params[i];
        qsort(sorted, (size_t)s->count, sizeof *sorted, cmp_param_name);
        size_t lm = strlen(ICSTR_ST_PREFIX_M), lv = strlen(ICSTR_ST_PREFIX_V);
        for (int i = 0; i < icstr_st_count(f); i++) {
            icstr_st_tensor_info info;
            icstr_st_info(f, i, &info);
            const char *base = info.name;
            int is_moment = !strncmp(base, ICSTR_ST_PREFIX_M, lm) || !strncmp(base, ICSTR_ST_PREFIX_V, lv);
            if (is_moment) {
                if (!moments) continue; /* a training checkpoint read for inference */
                base += !strncmp(base, ICSTR_ST_PREFIX_M, lm) ? lm : lv;
            }
            if (!s->count || !bsearch(base, sorted, (size_t)s->count, sizeof *sorted, cmp_name_param))
                add_problem(&unexpected, "'%s'%s", info.name, "");
        }
        free(sorted);
    }

    if (missing.count || unexpected.count || shapes.count) {
        char a[360] = "", b[360] = "";
        if (missing.count) snprintf(a, sizeof a, "%d missing: %s", missing.count, missing.text);
        if (unexpected.count)
            snprintf(b, sizeof b, "%s%d unexpected: %s", missing.count ? "; " : "", unexpected.count, unexpected.text);
        return icstr_fail(ICSTR_ERR_MISMATCH, "%s: does not match the model: %s%s%s%s", path, a, b,
                          shapes.count && (missing.count || unexpected.count) ? "; " : "", shapes.text);
    }

    for (int i = 0; i < s->count; i++) {
        const icstr_param *p = &s->params[i];
        icstr_st_tensor_info info;
        if (icstr_st_find(f, p->name, &info)) continue; /* missing and allowed: kept */
        icstr_st_to_f32(&info, s->data + p->offset);
        if (!moments) continue;
        for (int k = 0; k < 2; k++) {
            moment_name(mname, k ? ICSTR_ST_PREFIX_V : ICSTR_ST_PREFIX_M, p->name);
            if (icstr_st_find(f, mname, &info)) continue;
            icstr_st_to_f32(&info, (k ? s->v : s->m) + p->offset);
        }
    }
    return ICSTR_OK;
}

int icstr_slab_load_file(icstr_slab *s, const char *path, int flags) {
    icstr_st_file *f;
    int rc = icstr_st_open(path, &f);
    if (rc) return rc;
    rc = icstr_slab_load(s, f, flags);
    icstr_st_close(f);
    return rc;
}
