/* The input iterator: expands arguments lazily so a 100,000-crop LMDB or a long stdin list is
 * read one crop at a time (flat memory). */
#include "inputs.h"
#include "icstr_data.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

struct icstr_inputs {
    char **args;
    int n_args, next_arg;
    /* the current source */
    icstr_dataset *ds;           /* a dataset argument */
    long ds_next;
    icstr_paths files;           /* a folder of images, or one image */
    int next_file;
    int reading_stdin;
    /* buffers owned by the iterator */
    unsigned char *buf;
    size_t buf_cap;
    char name[4096];
    char *line;
    size_t line_cap;
};

static void free_files(icstr_inputs *in) {
    icstr_paths_free(&in->files);
    in->next_file = 0;
}

int icstr_inputs_open(char **args, int n_args, icstr_inputs **out) {
    *out = NULL;
    icstr_inputs *in = calloc(1, sizeof *in);
    if (!in) return icstr_fail(ICSTR_ERR_NOMEM, "inputs");
    in->args = args;
    in->n_args = n_args;
    *out = in;
    return ICSTR_OK;
}

void icstr_inputs_close(icstr_inputs *in) {
    if (!in) return;
    icstr_dataset_close(in->ds);
    free_files(in);
    free(in->buf);
    free(in->line);
    free(in);
}

/* Reads a whole image file into the iterator's buffer; on failure item->error is set. */
static void read_file(icstr_inputs *in, const char *path, icstr_input_item *item) {
    snprintf(in->name, sizeof in->name, "%s", path);
    item->name = in->name;
    /* O_NONBLOCK: a FIFO with an image name must not hang the run; fstat then refuses it */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        item->error = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        item->error = icstr_fail(ICSTR_ERR_IO, "%s: %s, not an image file", path,
                                 S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        close(fd);
        return;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        item->error = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        close(fd);
        return;
    }
    size_t len = 0;
    for (;;) {
        if (len == in->buf_cap) {
            if (in->buf_cap >= ICSTR_IMAGE_DEFAULT_MAX_FILE_BYTES) {
                fclose(f);
                item->error = icstr_fail(ICSTR_ERR_LIMIT, "%s: file larger than %zu bytes", path,
                                         (size_t)ICSTR_IMAGE_DEFAULT_MAX_FILE_BYTES);
                return;
            }
            size_t cap = in->buf_cap ? in->buf_cap * 2 : 1 << 16;
            unsigned char *grown = realloc(in->buf, cap);
            if (!grown) {
                fclose(f);
                item->error = icstr_fail(ICSTR_ERR_NOMEM, "%s: reading", path);
                return;
            }
            in->buf = grown;
            in->buf_cap = cap;
        }
        size_t got = fread(in->buf + len, 1, in->buf_cap - len, f);
        len += got;
        if (!got) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        item->error = icstr_fail(ICSTR_ERR_IO, "%s: read error", path);
        return;
    }
    item->bytes = in->buf;
    item->len = len;
}

/* The scan takes regular files only; entries of the folder that have an image name but are not
 * regular files (a broken symlink, a directory called x.png) become items too, so that read_file
 * reports each by name instead of the run passing over them in silence. */
static int add_odd_entries(icstr_inputs *in, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return ICSTR_OK; /* the scan has just read it; nothing to add */
    int rc = ICSTR_OK;
    struct dirent *e;
    char path[4096];
    while (rc == ICSTR_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !icstr_is_image_name(e->d_name)) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        if (stat(path, &st) || !S_ISREG(st.st_mode)) rc = icstr_paths_add(&in->files, path);
    }
    closedir(d);
    return rc;
}

static int open_argument(icstr_inputs *in, const char *arg) {
    if (!strcmp(arg, "-")) {
        in->reading_stdin = 1;
        return ICSTR_OK;
    }
    struct stat st;
    if (stat(arg, &st)) return icstr_fail(ICSTR_ERR_NOTFOUND, "%s: %s", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/data.mdb", arg);
        int is_db = access(probe, F_OK) == 0;
        snprintf(probe, sizeof probe, "%s/gt.txt", arg);
        if (is_db || access(probe, F_OK) == 0) return icstr_dataset_open(arg, &in->ds);
        int rc = icstr_paths_scan(&in->files, arg, 0, icstr_is_image_name, 1 << 30);
        if (rc == ICSTR_OK) rc = add_odd_entries(in, arg);
        icstr_paths_sort(&in->files);
        return rc;
    }
    /* a file with an image extension is one crop; any other file is a list (gt.txt style) or
     * an LMDB's data.mdb, as icstr_dataset_open decides */
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    if (!icstr_is_image_name(base)) return icstr_dataset_open(arg, &in->ds);
    return icstr_paths_add(&in->files, arg);
}

int icstr_inputs_next(icstr_inputs *in, icstr_input_item *item) {
    memset(item, 0, sizeof *item);
    for (;;) {
        if (in->ds) {
            if (in->ds_next < icstr_dataset_count(in->ds)) {
                const char *label = NULL, *name = NULL;
                int rc = icstr_dataset_get(in->ds, in->ds_next++, &item->bytes, &item->len, &label, &name);
                item->label = label;
                item->name = name ? name : icstr_dataset_path(in->ds);
                if (rc) {
                    item->error = rc;
                    item->bytes = NULL;
                    snprintf(item->reason, sizeof item->reason, "%s", icstr_last_error());
                }
                return 1;
            }
            icstr_dataset_close(in->ds);
            in->ds = NULL;
            in->ds_next = 0;
        }
        if (in->next_file < in->files.n) {
            read_file(in, in->files.v[in->next_file++], item);
            if (item->error) snprintf(item->reason, sizeof item->reason, "%s", icstr_last_error());
            return 1;
        }
        free_files(in);
        if (in->reading_stdin) {
            ssize_t n = getline(&in->line, &in->line_cap, stdin);
            if (n < 0) {
                in->reading_stdin = 0;
                continue;
            }
            while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r')) in->line[--n] = 0;
            if (n == 0) continue;
            read_file(in, in->line, item);
            if (item->error) snprintf(item->reason, sizeof item->reason, "%s", icstr_last_error());
            return 1;
        }
        if (in->next_arg >= in->n_args) return 0;
        const char *arg = in->args[in->next_arg++];
        int rc = open_argument(in, arg);
        if (rc) {
            /* a missing or unreadable argument is one failed item, not the end of the run */
            snprintf(in->name, sizeof in->name, "%s", arg);
            item->name = in->name;
            item->error = rc;
            snprintf(item->reason, sizeof item->reason, "%s", icstr_last_error());
            return 1;
        }
    }
}
