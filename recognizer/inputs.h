/* icstr recognizer: the crops a command reads, from any mix of image files, folders of images,
 * gt.txt folders, STR LMDBs, and `-` (paths on stdin). One iterator for recognize and eval, so
 * both accept the same inputs and report a bad crop the same way. */
#ifndef ICSTR_INPUTS_H
#define ICSTR_INPUTS_H

#include <stddef.h>

typedef struct icstr_inputs icstr_inputs;

/* Takes the list of arguments (opened one at a time by icstr_inputs_next). A file with an image
 * extension is one crop; any other file is a list of `path<TAB>label` lines (gt.txt style) or an
 * LMDB's data.mdb. Folders without gt.txt contribute their image files (png, jpg, jpeg, bmp, gif, tga, pnm, ppm, pgm; sorted by
 * name); an entry with such a name that is not a readable regular file (a broken symlink, a
 * directory, a FIFO) is an item with its error, never skipped in silence. An argument that does not exist or cannot be opened becomes one item with its error.
 * Errors: ICSTR_ERR_NOMEM. */
int icstr_inputs_open(char **args, int n_args, icstr_inputs **out);
void icstr_inputs_close(icstr_inputs *in);

typedef struct {
    const char *name;            /* path or "LMDB/image-000000001"; valid until the next call */
    const unsigned char *bytes;  /* the encoded image; NULL when it could not be read */
    size_t len;
    const char *label;           /* the ground truth when the source has one, else NULL */
    int error;                   /* ICSTR_OK or the status of reading this crop */
    char reason[512];            /* why, when error != 0 */
} icstr_input_item;

/* Next crop: 1 = an item (possibly with error set: report it and go on), 0 = the end, < 0 = a
 * failure of the whole source (e.g. an LMDB that became unreadable). */
int icstr_inputs_next(icstr_inputs *in, icstr_input_item *item);

#endif
