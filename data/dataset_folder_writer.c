/* Writing a gt.txt folder (the reverse of the folder reader): used by `icstr data unpack` and by
 * `icstr eval --errors`, whose misread crops go straight into `icstr pool add --data`. */
#include "icstr_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct icstr_folder_writer {
    char *dir;
    FILE *gt;
    long count;
};

int icstr_folder_writer_open(const char *dir, icstr_folder_writer **out) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/gt.txt", dir);
    if (access(path, F_OK) == 0) return icstr_fail(ICSTR_ERR_ARG, "%s already exists", path);
    if (mkdir(dir, 0755) && errno != EEXIST) return icstr_fail(ICSTR_ERR_IO, "%s: %s", dir, strerror(errno));
    snprintf(path, sizeof path, "%s/images", dir);
    if (mkdir(path, 0755) && errno != EEXIST) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    icstr_folder_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return icstr_fail(ICSTR_ERR_NOMEM, "folder writer");
    }
    snprintf(path, sizeof path, "%s/gt.txt", dir);
    if (!(w->gt = fopen(path, "w"))) {
        int rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        free(w->dir);
        free(w);
        return rc;
    }
    *out = w;
    return ICSTR_OK;
}

static const char *extension(const void *bytes, size_t n) {
    const char *f = icstr_image_format_name(bytes, n);
    if (!strcmp(f, "jpeg")) return "jpg";
    if (!strcmp(f, "other")) return "img";
    return f;
}

int icstr_folder_writer_add(icstr_folder_writer *w, const void *image_bytes, size_t n, const char *label) {
    if (strpbrk(label, "\t\r\n")) return icstr_fail(ICSTR_ERR_ARG, "a label holding a TAB or a newline cannot go in gt.txt");
    char rel[64], path[4200];
    snprintf(rel, sizeof rel, "images/%09ld.%s", w->count + 1, extension(image_bytes, n));
    snprintf(path, sizeof path, "%s/%s", w->dir, rel);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(image_bytes, 1, n, f) == n;
    if (f && fclose(f)) ok = 0;
    if (!ok) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    if (fprintf(w->gt, "%s\t%s\n", rel, label) < 0) return icstr_fail(ICSTR_ERR_IO, "%s/gt.txt: write failed", w->dir);
    w->count++;
    return ICSTR_OK;
}

long icstr_folder_writer_count(const icstr_folder_writer *w) { return w ? w->count : 0; }

int icstr_folder_writer_close(icstr_folder_writer *w) {
    if (!w) return ICSTR_OK;
    int rc = fclose(w->gt) ? icstr_fail(ICSTR_ERR_IO, "%s/gt.txt: %s", w->dir, strerror(errno)) : ICSTR_OK;
    free(w->dir);
    free(w);
    return rc;
}
