/* libFuzzer target: the gt.txt list reader (BOM, CRLF, blank lines, refused lines, UTF-8 labels),
 * through icstr_dataset_open_list_memory, then every sample. Paths are resolved against a scratch
 * folder holding two small files, so reading the image bytes is exercised too; paths holding a
 * '/' are only named, never read, so the fuzzer cannot make it read the machine's files. */
#include "icstr_core.h"
#include "icstr_data.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char gt_dir[64];

static void gt_cleanup(void) {
    char p[128];
    snprintf(p, sizeof p, "%s/a.png", gt_dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/b", gt_dir);
    unlink(p);
    rmdir(gt_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    icstr_log_set_level(ICSTR_LOG_ERROR); /* the reader warns about every bad line */
    snprintf(gt_dir, sizeof gt_dir, "/tmp/icstr-fuzz-gt-XXXXXX");
    if (!mkdtemp(gt_dir)) abort();
    char p[128];
    snprintf(p, sizeof p, "%s/a.png", gt_dir);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    fputs("\x89PNG\r\n\x1a\n", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/b", gt_dir);
    if (!(f = fopen(p, "wb"))) abort();
    fclose(f);
    atexit(gt_cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    icstr_dataset *ds;
    if (icstr_dataset_open_list_memory(data, size, "fuzz/gt.txt", gt_dir, &ds)) return 0;
    icstr_dataset_bad bad;
    icstr_dataset_bad_lines(ds, &bad);
    if (bad.total != bad.no_tab + bad.empty_path + bad.bad_utf8) abort();
    long n = icstr_dataset_count(ds);
    if (n < 0 || (size_t)n > size) abort();
    for (long i = 0; i < n; i++) {
        const char *label = NULL, *name = NULL;
        if (icstr_dataset_get(ds, i, NULL, NULL, &label, &name) || !label || !name) abort();
        if (!icstr_utf8_valid(label, strlen(label))) abort();
        size_t dl = strlen(gt_dir);
        if (!strncmp(name, gt_dir, dl) && name[dl] == '/' && !strchr(name + dl + 1, '/')) {
            const unsigned char *bytes;
            size_t len;
            (void)icstr_dataset_get(ds, i, &bytes, &len, NULL, NULL);
        }
    }
    if (icstr_dataset_get(ds, n, NULL, NULL, NULL, NULL) != ICSTR_ERR_RANGE) abort();
    icstr_dataset_close(ds);
    return 0;
}
