/* Tests: a whole file's bytes. */
#ifndef ICSTR_TEST_READ_FILE_H
#define ICSTR_TEST_READ_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The bytes of path (malloc'd, *n of them), or NULL when it cannot be opened or read whole. */
static unsigned char *read_file(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (b && fread(b, 1, (size_t)len, fp) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *n = len > 0 ? (size_t)len : 0;
    return b;
}

#endif
