/* The hard-sample loop's first half: `icstr eval --errors DIR` writes exactly the misread crops,
 * byte for byte, with their TRUE labels, as a gt.txt folder that `icstr pool add --data` takes. */
#include "check.h"
#include "cli_util.h"
#include "icstr_data.h"

#include <string.h>
#include <unistd.h>

int main(void) {
    const char *b = getenv("ICSTR_BUILD_DIR");
    char B[2048], T[] = "/tmp/icstr_test_errors_XXXXXX";
    snprintf(B, sizeof B, "%s", b && *b ? b : ".");
    if (!mkdtemp(T)) return 1;
    /* 10 rendered crops and a model trained for 2 steps: it misreads all or nearly all */
    CHECK(sh("'%s/icstr' data synth --n 10 --seed 3 --threads 1 --out '%s/set.lmdb' > /dev/null 2>&1", B, T) == 0);
    CHECK(sh("'%s/icstr' train --config '%s/configs/tiny.yaml' --steps-now 2 --threads 1 --out '%s/m' > /dev/null 2>&1",
             B, ICSTR_SOURCE_DIR, T) == 0);
    CHECK(sh("'%s/icstr' eval --model '%s/m/model.safetensors' --data '%s/set.lmdb' --protocol cased --threads 1 "
             "--predictions '%s/pred.tsv' --errors '%s/errors' > /dev/null 2>&1",
             B, T, T, T, T) == 0);
    /* every "wrong" row of the predictions is in the errors folder, in order, bytes unchanged */
    char *pred = slurp("%s/pred.tsv", T);
    char path[4096];
    snprintf(path, sizeof path, "%s/set.lmdb", T);
    icstr_dataset *src = NULL, *err = NULL;
    CHECK(icstr_dataset_open(path, &src) == ICSTR_OK);
    snprintf(path, sizeof path, "%s/errors", T);
    CHECK(icstr_dataset_open(path, &err) == ICSTR_OK);
    long wrong = 0, matched = 0, i = 0;
    for (char *line = pred; src && err && line && *line; i++) {
        char *next = strchr(line, '\n');
        if (next) *next++ = 0;
        if (strstr(line, "\twrong")) {
            const unsigned char *sb, *eb;
            size_t sl, el;
            const char *slabel, *elabel;
            int ok = icstr_dataset_get(src, i, &sb, &sl, &slabel, NULL) == ICSTR_OK;
            unsigned char *copy = ok ? malloc(sl) : NULL;
            if (copy) memcpy(copy, sb, sl);
            char truth[256];
            snprintf(truth, sizeof truth, "%s", ok ? slabel : "");
            ok = ok && icstr_dataset_get(err, wrong, &eb, &el, &elabel, NULL) == ICSTR_OK;
            matched += ok && el == sl && !memcmp(eb, copy, sl) && !strcmp(elabel, truth);
            free(copy);
            wrong++;
        }
        line = next;
    }
    CHECK_MSG(wrong > 0, "the 2-step model read everything right?");
    CHECK(icstr_dataset_count(err) == wrong);
    CHECK_MSG(matched == wrong, "%ld of %ld misreads written as they came", matched, wrong);
    icstr_dataset_close(src);
    icstr_dataset_close(err);
    free(pred);
    /* the folder goes into a pool as it is; a second --errors into it is refused */
    CHECK(sh("'%s/icstr' pool create '%s/p' --model '%s/m/model.safetensors' > /dev/null 2>&1", B, T, T) == 0);
    CHECK(sh("'%s/icstr' pool add '%s/p' --data '%s/errors' > /dev/null 2>&1", B, T, T) == 0);
    CHECK(sh("'%s/icstr' eval --model '%s/m/model.safetensors' --data '%s/set.lmdb' --errors '%s/errors' > /dev/null 2>&1",
             B, T, T, T) == 1);
    sh("rm -rf '%s'", T);
    return check_finish("test_eval_errors");
}
