/* Real photos for the renderer's backgrounds: images found under the given folders (train sets
 * only), decoded once at start and kept small, so a crop can take a random patch of real texture,
 * lighting and clutter from them. Files are taken in sorted order, evenly spread when there are
 * more than max_photos, so the set is the same on every machine with the same files. */
#include "icstr_data.h"
#include "render_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MAX_PHOTO_FILES 1000000


void icstr_photoset_free(icstr_photoset *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) free(ps->photos[i].rgb);
    free(ps->photos);
    free(ps);
}

int icstr_photoset_load(const char *dirs, int max_photos, int max_side, icstr_photoset **out) {
    if (!out || !dirs) return icstr_fail(ICSTR_ERR_ARG, "photoset: NULL argument");
    *out = NULL;
    if (max_photos <= 0) max_photos = 3000;
    if (max_side < 16) max_side = 16;
    icstr_paths l = {0};
    int rc = ICSTR_OK;
    char *copy = strdup(dirs);
    if (!copy) return icstr_fail(ICSTR_ERR_NOMEM, "photoset");
    char *save = NULL;
    for (char *d = strtok_r(copy, ":", &save); d && rc == ICSTR_OK; d = strtok_r(NULL, ":", &save))
        if ((rc = icstr_paths_scan(&l, d, 8, icstr_is_image_name, MAX_PHOTO_FILES)))
            rc = icstr_fail_context(rc, "photo folder");
    free(copy);
    icstr_photoset *ps = NULL;
    if (rc == ICSTR_OK) {
        icstr_paths_sort(&l);
        ps = calloc(1, sizeof *ps);
        int want = l.n < max_photos ? l.n : max_photos;
        if (!ps || (want && !(ps->photos = calloc((size_t)want, sizeof *ps->photos))))
            rc = icstr_fail(ICSTR_ERR_NOMEM, "photoset");
        for (int k = 0; rc == ICSTR_OK && k < want; k++) {
            const char *path = l.v[(long)k * l.n / want];
            icstr_image img = {0};
            if (icstr_image_load_file(path, &img)) {
                ICSTR_DEBUG("photo skipped: %s", icstr_last_error());
                continue;
            }
            if (img.w < 8 || img.h < 8) {
                icstr_image_free(&img);
                continue;
            }
            icstr_photo *p = &ps->photos[ps->n];
            int big = img.w > img.h ? img.w : img.h;
            if (big > max_side) {
                p->w = (int)((long)img.w * max_side / big);
                p->h = (int)((long)img.h * max_side / big);
                if (p->w < 8) p->w = 8;
                if (p->h < 8) p->h = 8;
                if (!(p->rgb = malloc((size_t)p->w * p->h * 3))) {
                    icstr_image_free(&img);
                    rc = icstr_fail(ICSTR_ERR_NOMEM, "photoset");
                    break;
                }
                render_resize_rgb(img.rgb, img.w, img.h, p->rgb, p->w, p->h);
                icstr_image_free(&img);
            } else {
                p->w = img.w;
                p->h = img.h;
                p->rgb = img.rgb; /* take the buffer over */
            }
            ps->n++;
        }
    }
    icstr_paths_free(&l);
    if (rc) {
        icstr_photoset_free(ps);
        return rc;
    }
    *out = ps;
    return ICSTR_OK;
}
