/* Folder scanning shared by the font loader, the photo loader and the input iterator. */
#include "icstr_data.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int icstr_is_image_name(const char *name) {
    static const char *exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".pnm", ".ppm", ".pgm"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

int icstr_paths_add(icstr_paths *p, const char *path) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        char **v = realloc(p->v, (size_t)cap * sizeof *v);
        if (!v) return icstr_fail(ICSTR_ERR_NOMEM, "file list");
        p->v = v;
        p->cap = cap;
    }
    if (!(p->v[p->n] = strdup(path))) return icstr_fail(ICSTR_ERR_NOMEM, "file list");
    p->n++;
    return ICSTR_OK;
}

static int scan(icstr_paths *p, const char *dir, int depth, int max_depth, int (*accept)(const char *),
                int max_files) {
    DIR *d = opendir(dir);
    if (!d) return depth == 0 ? icstr_fail(ICSTR_ERR_IO, "%s: %s", dir, strerror(errno)) : ICSTR_OK;
    int rc = ICSTR_OK;
    struct dirent *e;
    char path[PATH_MAX];
    while (rc == ICSTR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        if (stat(path, &st)) continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < max_depth) rc = scan(p, path, depth + 1, max_depth, accept, max_files);
        } else if (S_ISREG(st.st_mode) && accept(e->d_name)) {
            if (p->n >= max_files) rc = icstr_fail(ICSTR_ERR_LIMIT, "%s: more than %d files", dir, max_files);
            else rc = icstr_paths_add(p, path);
        }
    }
    closedir(d);
    return rc;
}

int icstr_paths_scan(icstr_paths *p, const char *dir, int max_depth, int (*accept)(const char *name),
                     int max_files) {
    return scan(p, dir, 0, max_depth, accept, max_files);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void icstr_paths_sort(icstr_paths *p) {
    if (p->n > 1) qsort(p->v, (size_t)p->n, sizeof *p->v, cmp_str);
}

void icstr_paths_free(icstr_paths *p) {
    for (int i = 0; i < p->n; i++) free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof *p);
}
