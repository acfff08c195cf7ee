/* `icstr data unpack PATH OUTDIR`: the reverse of pack: writes every sample of a dataset as an
 * image file under OUTDIR/images and a gt.txt beside it, so an LMDB can be looked at, edited or
 * handed to a tool that reads folders. */
#include "cli.h"
#include "icstr_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *usage =
    "usage: icstr data unpack PATH OUTDIR\n\n"
    "Writes each sample of PATH (an STR LMDB, a gt.txt folder or a list file) as\n"
    "OUTDIR/images/NNNNNNNNN.<ext> (the original bytes; the extension from the format) and\n"
    "OUTDIR/gt.txt with `images/NAME<TAB>label` lines. Labels holding a TAB or a newline are\n"
    "skipped and reported, since gt.txt cannot hold them.\n";

static const char *extension(const void *bytes, size_t n) {
    const char *f = icstr_image_format_name(bytes, n);
    if (!strcmp(f, "jpeg")) return "jpg";
    if (!strcmp(f, "other")) return "img";
    return f;
}

int icstr_cmd_data_unpack(int argc, char **argv) {
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "icstr data unpack: want PATH and OUTDIR\n\n%s", usage);
        return 2;
    }
    const char *src = argv[1], *out = argv[2];
    char path[4096];
    snprintf(path, sizeof path, "%s/images", out);
    if ((mkdir(out, 0755) && errno != EEXIST) || (mkdir(path, 0755) && errno != EEXIST)) {
        fprintf(stderr, "icstr data unpack: %s: %s\n", path, strerror(errno));
        return 1;
    }
    icstr_dataset *ds = NULL;
    int rc = icstr_dataset_open(src, &ds);
    if (rc) {
        fprintf(stderr, "icstr data unpack: %s\n", icstr_last_error());
        return 1;
    }
    snprintf(path, sizeof path, "%s/gt.txt", out);
    FILE *gt = fopen(path, "w");
    if (!gt) {
        fprintf(stderr, "icstr data unpack: %s: %s\n", path, strerror(errno));
        icstr_dataset_close(ds);
        return 1;
    }
    long n = icstr_dataset_count(ds), written = 0, skipped = 0;
    for (long i = 0; i < n; i++) {
        const unsigned char *bytes;
        size_t len;
        const char *label, *name;
        if (icstr_dataset_get(ds, i, &bytes, &len, &label, &name)) {
            fprintf(stderr, "icstr data unpack: skipped: %s\n", icstr_last_error());
            skipped++;
            continue;
        }
        if (strpbrk(label, "\t\r\n")) {
            fprintf(stderr, "icstr data unpack: skipped %s: its label holds a TAB or a newline\n", name);
            skipped++;
            continue;
        }
        char rel[64];
        snprintf(rel, sizeof rel, "images/%09ld.%s", i + 1, extension(bytes, len));
        snprintf(path, sizeof path, "%s/%s", out, rel);
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(bytes, 1, len, f) == len;
        if (f && fclose(f)) ok = 0;
        if (!ok) {
            fprintf(stderr, "icstr data unpack: %s: %s\n", path, strerror(errno));
            rc = 1;
            break;
        }
        fprintf(gt, "%s\t%s\n", rel, label);
        written++;
    }
    if (fclose(gt)) rc = 1;
    icstr_dataset_close(ds);
    fprintf(stderr, "icstr data unpack: %ld samples written to %s, %ld skipped\n", written, out, skipped);
    return rc ? 1 : skipped ? 1 : 0;
}
