/* `icstr data unpack PATH OUTDIR`: the reverse of pack: writes every sample of a dataset as an
 * image file under OUTDIR/images and a gt.txt beside it, so an LMDB can be looked at, edited or
 * handed to a tool that reads folders. */
#include "cli.h"
#include "icstr_data.h"

#include <stdio.h>
#include <string.h>

static const char *usage =
    "usage: icstr data unpack PATH OUTDIR\n\n"
    "Writes each sample of PATH (an STR LMDB, a gt.txt folder or a list file) as\n"
    "OUTDIR/images/NNNNNNNNN.<ext> (the original bytes; the extension from the format) and\n"
    "OUTDIR/gt.txt with `images/NAME<TAB>label` lines. Labels holding a TAB or a newline are\n"
    "skipped and reported, since gt.txt cannot hold them.\n";

int icstr_cmd_data_unpack(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "icstr data unpack: want PATH and OUTDIR\n\n%s", usage);
        return 2;
    }
    icstr_dataset *ds = NULL;
    icstr_folder_writer *w = NULL;
    if (icstr_dataset_open(argv[1], &ds) || icstr_folder_writer_open(argv[2], &w)) {
        fprintf(stderr, "icstr data unpack: %s\n", icstr_last_error());
        icstr_dataset_close(ds);
        return 1;
    }
    long n = icstr_dataset_count(ds), skipped = 0;
    int rc = ICSTR_OK;
    for (long i = 0; i < n && !rc; i++) {
        const unsigned char *bytes;
        size_t len;
        const char *label, *name;
        int r = icstr_dataset_get(ds, i, &bytes, &len, &label, &name);
        if (!r) {
            r = icstr_folder_writer_add(w, bytes, len, label);
            if (r == ICSTR_ERR_IO) rc = r; /* the output failed: stop */
        }
        if (r && !rc) {
            fprintf(stderr, "icstr data unpack: skipped %s: %s\n", name ? name : "?", icstr_last_error());
            skipped++;
        }
    }
    long written = icstr_folder_writer_count(w);
    if (icstr_folder_writer_close(w)) rc = ICSTR_ERR_IO;
    icstr_dataset_close(ds);
    if (rc) fprintf(stderr, "icstr data unpack: %s\n", icstr_last_error());
    fprintf(stderr, "icstr data unpack: %ld samples written to %s, %ld skipped\n", written, argv[2], skipped);
    return rc || skipped ? 1 : 0;
}
