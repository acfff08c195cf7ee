/* Reading datasets: the standard STR LMDB (num-samples, image-%09d, label-%09d) and gt.txt lists,
 * behind one handle that detects which kind a path is. */
#include "icstr_data.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_MAX_BYTES ((uint64_t)1 << 30)
#define IMAGE_MAX_BYTES ((uint64_t)256 << 20)
#define WARN_LINES 20

struct icstr_dataset {
    int kind;
    char *path;
    long count;
    /* LMDB: one read transaction for the handle's life (the set is immutable while read) */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uintptr_t map_lo, map_hi; /* LMDB's read-only map, 0 until found (see note_read) */
    size_t read_since_drop;   /* value bytes copied out since its pages were last released */
    /* folder: the list file's text, cut in place into paths and labels */
    char *dir;
    char *text;
    char **paths;
    char **labels;
    icstr_dataset_bad bad;
    /* what get hands out, reused */
    unsigned char *img;
    size_t img_cap;
    char *label;
    size_t label_cap;
    char *name;
    size_t name_cap;
};

static int grow(void **buf, size_t *cap, size_t need) {
    if (need <= *cap) return ICSTR_OK;
    size_t n = *cap ? *cap : 256;
    while (n < need) n = n > SIZE_MAX / 2 ? need : n * 2;
    void *p = realloc(*buf, n);
    if (!p) return icstr_fail(ICSTR_ERR_NOMEM, "dataset buffer of %zu bytes", need);
    *buf = p;
    *cap = n;
    return ICSTR_OK;
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, name, b + 1);
    return s;
}

static int is_file(const char *p) {
    struct stat st;
    return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* Reads a whole regular file into a new NUL-terminated buffer of at most max bytes. */
static int read_file(const char *path, uint64_t max, char **out, size_t *n_out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_IO, "%s: not a readable regular file", path);
    }
    if ((uint64_t)st.st_size > max) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: %lld bytes is over the limit of %llu", path,
                          (long long)st.st_size, (unsigned long long)max);
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_NOMEM, "%s: %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        free(buf);
        return icstr_fail(ICSTR_ERR_IO, "%s: short read (%zu of %zu bytes)", path, got, n);
    }
    buf[n] = 0;
    *out = buf;
    *n_out = n;
    return ICSTR_OK;
}

/* ---- LMDB ---- */

static int db_fail(int mrc, const char *path, const char *what) {
    return icstr_fail(ICSTR_ERR_DB, "%s: %s: %s", path, what, mdb_strerror(mrc));
}

static int open_lmdb(icstr_dataset *ds, const char *dir) {
    int mrc;
    if ((mrc = mdb_env_create(&ds->env))) return db_fail(mrc, dir, "mdb_env_create");
    /* MDB_NOTLS: the read transaction belongs to the handle, which may move between threads */
    if ((mrc = mdb_env_open(ds->env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS, 0644)))
        return db_fail(mrc, dir, "open");
    if ((mrc = mdb_txn_begin(ds->env, NULL, MDB_RDONLY, &ds->txn)))
        return db_fail(mrc, dir, "begin read transaction");
    if ((mrc = mdb_dbi_open(ds->txn, NULL, 0, &ds->dbi))) return db_fail(mrc, dir, "open database");
    MDB_stat st;
    if ((mrc = mdb_stat(ds->txn, ds->dbi, &st))) return db_fail(mrc, dir, "stat");
    MDB_val k = {11, (void *)"num-samples"}, v;
    mrc = mdb_get(ds->txn, ds->dbi, &k, &v);
    if (mrc == MDB_NOTFOUND)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: no num-samples key (not an STR LMDB?)", dir);
    if (mrc) return db_fail(mrc, dir, "read num-samples");
    const char *s = v.mv_data;
    long long n = 0;
    if (v.mv_size == 0 || v.mv_size > 18)
        return icstr_fail(ICSTR_ERR_FORMAT, "%s: num-samples is %zu bytes long", dir, v.mv_size);
    for (size_t i = 0; i < v.mv_size; i++) {
        if (s[i] < '0' || s[i] > '9')
            return icstr_fail(ICSTR_ERR_FORMAT, "%s: num-samples '%.*s' is not a decimal number",
                              dir, (int)v.mv_size, s);
        n = n * 10 + (s[i] - '0');
    }
    /* every sample needs an image and a label key besides num-samples itself */
    long long most = st.ms_entries >= 1 ? (long long)((st.ms_entries - 1) / 2) : 0;
    if (n > most || n > LONG_MAX)
        return icstr_fail(ICSTR_ERR_FORMAT,
                          "%s: num-samples %lld, but the database holds %zu entries (at most %lld samples)",
                          dir, n, st.ms_entries, most);
    ds->count = (long)n;
    ds->kind = ICSTR_DATASET_LMDB;
    return ICSTR_OK;
}

static int lmdb_value(icstr_dataset *ds, const char *prefix, long index1, MDB_val *v) {
    char key[64];
    int kl = snprintf(key, sizeof key, "%s-%09ld", prefix, index1);
    MDB_val k = {(size_t)kl, key};
    int mrc = mdb_get(ds->txn, ds->dbi, &k, v);
    if (mrc == MDB_NOTFOUND)
        return icstr_fail(ICSTR_ERR_NOTFOUND, "%s: key %s is missing", ds->path, key);
    if (mrc) return db_fail(mrc, ds->path, key);
    return ICSTR_OK;
}

/* The map's pages stay resident (counted in the process's RSS) once read, so a pass over a large
 * set grew RSS by the whole file, ~11 KB per crop. Every value is copied out before use, so after
 * every DROP_AFTER bytes read the map's pages are released (MADV_DONTNEED on a read-only file
 * mapping only unmaps them: the data stays in the page cache and in the file, and the next read
 * faults its pages back in). Dropping just the pages of each value was not enough: the kernel
 * maps neighbouring pages on every fault (fault-around). LMDB does not tell where its map is
 * (mdb_env_info's me_mapaddr is set only for MDB_FIXEDMAP), so the mapping holding a value is
 * looked up once in /proc/self/maps; where that fails nothing is dropped. */
#define DROP_AFTER ((size_t)32 << 20)

static void find_map(icstr_dataset *ds, const void *inside) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    unsigned long lo, hi, p = (unsigned long)(uintptr_t)inside;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && p >= lo && p < hi) {
            ds->map_lo = (uintptr_t)lo;
            ds->map_hi = (uintptr_t)hi;
            break;
        }
        if (!strchr(line, '\n')) { /* an over-long line (a long path): skip the rest of it */
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n') {}
        }
    }
    fclose(f);
}

static void note_read(icstr_dataset *ds, const void *data, size_t len) {
    if (!ds->map_hi) find_map(ds, data);
    ds->read_since_drop += len;
    if (ds->read_since_drop < DROP_AFTER || !ds->map_hi) return;
    ds->read_since_drop = 0;
    madvise((void *)ds->map_lo, ds->map_hi - ds->map_lo, MADV_DONTNEED); /* best effort */
}

static int get_lmdb(icstr_dataset *ds, long i, const unsigned char **bytes, size_t *len,
                    const char **label, const char **name) {
    int rc;
    MDB_val v;
    if (name) {
        size_t need = strlen(ds->path) + 32;
        if ((rc = grow((void **)&ds->name, &ds->name_cap, need))) return rc;
        snprintf(ds->name, ds->name_cap, "%s/image-%09ld", ds->path, i + 1);
        *name = ds->name;
    }
    if (label) {
        if ((rc = lmdb_value(ds, "label", i + 1, &v))) return rc;
        if ((rc = grow((void **)&ds->label, &ds->label_cap, v.mv_size + 1))) return rc;
        memcpy(ds->label, v.mv_data, v.mv_size);
        ds->label[v.mv_size] = 0;
        *label = ds->label;
    }
    if (bytes || len) {
        if ((rc = lmdb_value(ds, "image", i + 1, &v))) return rc;
        if ((rc = grow((void **)&ds->img, &ds->img_cap, v.mv_size ? v.mv_size : 1))) return rc;
        memcpy(ds->img, v.mv_data, v.mv_size);
        note_read(ds, v.mv_data, v.mv_size);
        if (bytes) *bytes = ds->img;
        if (len) *len = v.mv_size;
    }
    return ICSTR_OK;
}

/* ---- gt.txt lists ---- */

static void bad_line(icstr_dataset *ds, const char *list, long lineno, long *counter,
                     const char *why) {
    (*counter)++;
    ds->bad.total++;
    if (ds->bad.total <= WARN_LINES) ICSTR_WARN("%s:%ld: %s; line skipped", list, lineno, why);
}

/* Cuts ds->text (n bytes plus a NUL) into samples; list names the list in warnings. */
static int parse_list(icstr_dataset *ds, const char *list, size_t n) {
    char *p = ds->text, *end = ds->text + n;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3;
    size_t lines = 1;
    for (char *q = p; q < end; q++) lines += *q == '\n';
    ds->paths = malloc(lines * sizeof *ds->paths);
    ds->labels = malloc(lines * sizeof *ds->labels);
    if (!ds->paths || !ds->labels) return icstr_fail(ICSTR_ERR_NOMEM, "%s: %zu lines", list, lines);
    long lineno = 0, count = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        lineno++;
        if (le > p && le[-1] == '\r') le--;
        *le = 0;
        size_t ll = (size_t)(le - p);
        if (ll == 0) {
            ds->bad.blank++;
        } else if (memchr(p, 0, ll)) {
            bad_line(ds, list, lineno, &ds->bad.bad_utf8, "NUL byte in the line");
        } else {
            char *tab = strchr(p, '\t');
            if (!tab) bad_line(ds, list, lineno, &ds->bad.no_tab, "no TAB between path and label");
            else if (tab == p) bad_line(ds, list, lineno, &ds->bad.empty_path, "empty path");
            else if (!icstr_utf8_valid(tab + 1, strlen(tab + 1)))
                bad_line(ds, list, lineno, &ds->bad.bad_utf8, "label is not valid UTF-8");
            else {
                *tab = 0;
                ds->paths[count] = p;
                ds->labels[count] = tab + 1;
                count++;
            }
        }
        p = next;
    }
    if (ds->bad.total > WARN_LINES)
        ICSTR_WARN("%s: %ld more bad lines not shown (%ld in all)", list,
                   ds->bad.total - WARN_LINES, ds->bad.total);
    ds->count = count;
    ds->kind = ICSTR_DATASET_FOLDER;
    return ICSTR_OK;
}

static int open_list(icstr_dataset *ds, const char *list) {
    size_t n = 0;
    int rc = read_file(list, LIST_MAX_BYTES, &ds->text, &n);
    if (rc) return rc;
    const char *slash = strrchr(list, '/');
    ds->dir = slash ? strndup(list, (size_t)(slash - list) + (slash == list)) : strdup(".");
    if (!ds->dir) return icstr_fail(ICSTR_ERR_NOMEM, "%s", list);
    return parse_list(ds, list, n);
}

static int get_folder(icstr_dataset *ds, long i, const unsigned char **bytes, size_t *len,
                      const char **label, const char **name) {
    const char *rel = ds->paths[i];
    int rc;
    size_t need = strlen(ds->dir) + strlen(rel) + 2;
    if ((rc = grow((void **)&ds->name, &ds->name_cap, need))) return rc;
    if (rel[0] == '/') snprintf(ds->name, ds->name_cap, "%s", rel);
    else snprintf(ds->name, ds->name_cap, "%s/%s", ds->dir, rel);
    if (name) *name = ds->name;
    if (label) *label = ds->labels[i];
    if (!bytes && !len) return ICSTR_OK;
    FILE *f = fopen(ds->name, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", ds->name, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_IO, "%s: not a readable regular file", ds->name);
    }
    if ((uint64_t)st.st_size > IMAGE_MAX_BYTES) {
        fclose(f);
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: %lld bytes is over the image file limit",
                          ds->name, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    if ((rc = grow((void **)&ds->img, &ds->img_cap, n ? n : 1))) {
        fclose(f);
        return rc;
    }
    size_t got = fread(ds->img, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err)
        return icstr_fail(ICSTR_ERR_IO, "%s: short read (%zu of %zu bytes)", ds->name, got, n);
    if (bytes) *bytes = ds->img;
    if (len) *len = n;
    return ICSTR_OK;
}

/* ---- the common handle ---- */

int icstr_dataset_open(const char *path, icstr_dataset **out) {
    if (!out || !path || !*path) return icstr_fail(ICSTR_ERR_ARG, "dataset open: no path");
    *out = NULL;
    struct stat st;
    if (stat(path, &st))
        return icstr_fail(errno == ENOENT ? ICSTR_ERR_NOTFOUND : ICSTR_ERR_IO, "%s: %s", path,
                          strerror(errno));
    icstr_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->path = strdup(path))) {
        free(ds);
        return icstr_fail(ICSTR_ERR_NOMEM, "dataset open %s", path);
    }
    int rc;
    if (S_ISDIR(st.st_mode)) {
        char *mdb = join(path, "data.mdb"), *gt = join(path, "gt.txt");
        if (!mdb || !gt) rc = icstr_fail(ICSTR_ERR_NOMEM, "dataset open %s", path);
        else if (is_file(mdb)) rc = open_lmdb(ds, path);
        else if (is_file(gt)) rc = open_list(ds, gt);
        else
            rc = icstr_fail(ICSTR_ERR_NOTFOUND,
                            "%s: neither data.mdb (STR LMDB) nor gt.txt (image folder) is in it", path);
        free(mdb);
        free(gt);
    } else if (S_ISREG(st.st_mode)) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        if (!strcmp(base, "data.mdb")) {
            char *dir = strndup(path, (size_t)(base - path));
            if (!dir) rc = icstr_fail(ICSTR_ERR_NOMEM, "dataset open %s", path);
            else rc = open_lmdb(ds, *dir ? dir : ".");
            free(dir);
        } else {
            rc = open_list(ds, path);
        }
    } else {
        rc = icstr_fail(ICSTR_ERR_ARG, "%s: neither a directory nor a regular file", path);
    }
    if (rc) {
        icstr_dataset_close(ds);
        return rc;
    }
    *out = ds;
    return ICSTR_OK;
}

int icstr_dataset_open_list_memory(const void *text, size_t n, const char *name, const char *dir,
                                   icstr_dataset **out) {
    if (out) *out = NULL;
    if (!out || (!text && n) || !name || !*name || !dir || !*dir)
        return icstr_fail(ICSTR_ERR_ARG, "dataset open: NULL list, name or folder");
    if ((uint64_t)n > LIST_MAX_BYTES)
        return icstr_fail(ICSTR_ERR_LIMIT, "%s: %zu bytes is over the limit of %llu", name, n,
                          (unsigned long long)LIST_MAX_BYTES);
    icstr_dataset *ds = calloc(1, sizeof *ds);
    int rc = ICSTR_OK;
    if (!ds || !(ds->path = strdup(name)) || !(ds->dir = strdup(dir)) || !(ds->text = malloc(n + 1)))
        rc = icstr_fail(ICSTR_ERR_NOMEM, "dataset open %s", name);
    if (rc == ICSTR_OK) {
        if (n) memcpy(ds->text, text, n);
        ds->text[n] = 0;
        rc = parse_list(ds, name, n);
    }
    if (rc) {
        icstr_dataset_close(ds);
        return rc;
    }
    *out = ds;
    return ICSTR_OK;
}

void icstr_dataset_close(icstr_dataset *ds) {
    if (!ds) return;
    if (ds->txn) mdb_txn_abort(ds->txn);
    if (ds->env) mdb_env_close(ds->env);
    free(ds->path);
    free(ds->dir);
    free(ds->text);
    free(ds->paths);
    free(ds->labels);
    free(ds->img);
    free(ds->label);
    free(ds->name);
    free(ds);
}

int icstr_dataset_kind(const icstr_dataset *ds) { return ds ? ds->kind : 0; }
long icstr_dataset_count(const icstr_dataset *ds) { return ds ? ds->count : 0; }
const char *icstr_dataset_path(const icstr_dataset *ds) { return ds ? ds->path : NULL; }

void icstr_dataset_bad_lines(const icstr_dataset *ds, icstr_dataset_bad *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (ds) *out = ds->bad;
}

int icstr_dataset_get(icstr_dataset *ds, long i, const unsigned char **bytes, size_t *len,
                      const char **label, const char **name) {
    if (!ds) return icstr_fail(ICSTR_ERR_ARG, "dataset get: NULL handle");
    if (i < 0 || i >= ds->count)
        return icstr_fail(ICSTR_ERR_RANGE, "%s: sample %ld outside 0..%ld", ds->path, i,
                          ds->count - 1);
    return ds->kind == ICSTR_DATASET_LMDB ? get_lmdb(ds, i, bytes, len, label, name)
                                          : get_folder(ds, i, bytes, len, label, name);
}
