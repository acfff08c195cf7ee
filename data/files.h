/* icstr data: finding files (part of icstr_data.h): the fonts, the photo backgrounds and the
 * folders given to recognize are all "the files under a folder whose names look right". */
#ifndef ICSTR_FILES_H
#define ICSTR_FILES_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char **v;   /* paths, each malloc'd */
    int n, cap;
} icstr_paths;

/* 1 when the name ends in an image extension icstr decodes: .png .jpg .jpeg .bmp .gif .tga .pnm
 * .ppm .pgm (any case). */
int icstr_is_image_name(const char *name);

/* Appends the regular files under dir whose names accept() takes, descending max_depth folder
 * levels (0: dir only); names starting with '.' are skipped. Errors: ICSTR_ERR_IO when dir itself
 * cannot be read (a sub-folder that cannot is skipped), ICSTR_ERR_LIMIT past max_files paths in
 * all, ICSTR_ERR_NOMEM. */
int icstr_paths_scan(icstr_paths *p, const char *dir, int max_depth, int (*accept)(const char *name),
                     int max_files);
/* Appends one path. */
int icstr_paths_add(icstr_paths *p, const char *path);
void icstr_paths_sort(icstr_paths *p);
void icstr_paths_free(icstr_paths *p);

#ifdef __cplusplus
}
#endif

#endif
