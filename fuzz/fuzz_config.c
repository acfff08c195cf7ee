/* libFuzzer target: the YAML config reader (sections, keys, types, ranges), then a round trip of
 * an accepted model config through the safetensors metadata strings, which must give it back. */
#include "config.h"
#include "icstr_core.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *config_devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    icstr_log_set_level(ICSTR_LOG_ERROR);
    config_devnull = fopen("/dev/null", "w");
    return 0;
}

#define CONFIG_META_CAP 128
typedef struct {
    const char **keys, **values;
    int n;
} config_meta;

static const char *config_get(void *ctx, const char *key) {
    config_meta *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->keys[i], key)) return m->values[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    icstr_model_config mc = icstr_model_default_config();
    icstr_train_config tc = icstr_train_default_config();
    if (icstr_config_parse((const char *)data, size, "fuzz.yaml", &mc, &tc)) return 0;
    if (config_devnull) (void)icstr_config_write_yaml(&mc, &tc, config_devnull);
    static const char *keys[CONFIG_META_CAP], *values[CONFIG_META_CAP];
    static char buf[1 << 16];
    int n = icstr_config_model_to_meta(&mc, keys, values, CONFIG_META_CAP, buf, sizeof buf);
    if (n < 0) abort();
    config_meta m = {keys, values, n};
    icstr_model_config back = icstr_model_default_config();
    if (icstr_config_model_from_meta(&back, config_get, &m)) abort();
    static const char *keys2[CONFIG_META_CAP], *values2[CONFIG_META_CAP];
    static char buf2[1 << 16];
    if (icstr_config_model_to_meta(&back, keys2, values2, CONFIG_META_CAP, buf2, sizeof buf2) != n) abort();
    for (int i = 0; i < n; i++)
        if (strcmp(keys[i], keys2[i]) || strcmp(values[i], values2[i])) abort();
    return 0;
}
