/* Config loading: values land in the right members, defaults stay, errors carry file:line:col,
 * the model config survives the metadata round trip, the YAML dump parses back to the same. */
#include "check.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>

static int parse(const char *text, icstr_model_config *mc, icstr_train_config *tc) {
    *mc = icstr_model_default_config();
    *tc = icstr_train_default_config();
    return icstr_config_parse(text, strlen(text), "t.yaml", mc, tc);
}

static void test_values(void) {
    icstr_model_config mc, def = icstr_model_default_config();
    icstr_train_config tc;
    const char *y = "model:\n  enc_dim: 96\n  charset: \"abc\"\n  ctc_weight: 0.25\n"
                    "train:\n  steps: 1234\n  bf16: true\n  seed: 18446744073709551615\n"
                    "  sources:\n    - a/b\n    - {path: c/d, weight: 3}\n  out_dir: runs/x\n";
    CHECK(parse(y, &mc, &tc) == ICSTR_OK);
    CHECK(mc.enc_dim == 96 && !strcmp(mc.charset, "abc") && mc.ctc_weight == 0.25f);
    CHECK(mc.dec_dim == def.dec_dim && mc.img_w == def.img_w);
    CHECK(tc.steps == 1234 && tc.bf16 == 1 && tc.seed == UINT64_MAX);
    CHECK(tc.n_sources == 2 && !strcmp(tc.sources[0].path, "a/b") && tc.sources[0].weight == 1.0f);
    CHECK(!strcmp(tc.sources[1].path, "c/d") && tc.sources[1].weight == 3.0f);
    CHECK(!strcmp(tc.out_dir, "runs/x"));
    CHECK(parse("", &mc, &tc) == ICSTR_OK && mc.enc_dim == def.enc_dim);
}

static void test_errors(void) {
    icstr_model_config mc;
    icstr_train_config tc;
    CHECK(parse("model:\n  enc_dimm: 3\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK_MSG(strstr(icstr_last_error(), "t.yaml:2:3: model.enc_dimm: unknown key"), "%s", icstr_last_error());
    CHECK(parse("model:\n  enc_dim: 3.5\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(strstr(icstr_last_error(), "t.yaml:2:12: model.enc_dim: expected an integer"));
    CHECK(parse("model:\n  enc_dim: 100000\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(strstr(icstr_last_error(), "out of range"));
    CHECK(parse("train:\n  bf16: maybe\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("train:\n  seed: -1\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("train:\n  lr: nan\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("other:\n  x: 1\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("- 1\n- 2\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("model: [1, 2\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK_MSG(strstr(icstr_last_error(), "t.yaml:"), "%s", icstr_last_error());
    CHECK(parse("train:\n  sources: [{path: a, weight: -1}]\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(parse("train:\n  sources: [{weight: 2}]\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(icstr_config_load("/nonexistent/x.yaml", &mc, &tc) == ICSTR_ERR_IO);
}

typedef struct {
    const char **keys, **values;
    int n;
} kv;

static const char *kv_get(void *ctx, const char *key) {
    kv *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->keys[i], key)) return m->values[i];
    return NULL;
}

static void test_meta_and_dump(void) {
    icstr_model_config mc = icstr_model_default_config(), back = icstr_model_default_config();
    mc.enc_dim = 64;
    mc.label_smoothing = 0.05f;
    strcpy(mc.charset, "0123456789");
    const char *keys[64], *values[64];
    char buf[4096];
    int n = icstr_config_model_to_meta(&mc, keys, values, 64, buf, sizeof buf);
    CHECK(n > 10);
    kv m = {keys, values, n};
    CHECK(icstr_config_model_from_meta(&back, kv_get, &m) == ICSTR_OK);
    CHECK(memcmp(&mc, &back, sizeof mc) == 0);

    icstr_train_config tc = icstr_train_default_config();
    tc.n_sources = 1;
    strcpy(tc.sources[0].path, "x \"y\"");
    tc.sources[0].weight = 2.5f;
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    CHECK(icstr_config_write_yaml(&mc, &tc, f) == ICSTR_OK);
    fclose(f);
    icstr_model_config mc2;
    icstr_train_config tc2;
    CHECK_MSG(parse(dump, &mc2, &tc2) == ICSTR_OK, "%s", icstr_last_error());
    CHECK(memcmp(&mc, &mc2, sizeof mc) == 0);
    CHECK(tc2.n_sources == 1 && !strcmp(tc2.sources[0].path, "x \"y\"") && tc2.sources[0].weight == 2.5f);
    CHECK(tc2.steps == tc.steps && tc2.lr == tc.lr && !strcmp(tc2.out_dir, tc.out_dir));
    free(dump);
}

/* A float's range is checked on the float stored, not the double read: 0.0100000001 is stored as
 * 0.01f (0.00999999978), below the double 0.01, and its metadata must still read back (the
 * fuzz_config regression key_temperature_rounds_below_min.yaml). */
static void test_float_bounds(void) {
    icstr_model_config mc, back = icstr_model_default_config();
    icstr_train_config tc;
    CHECK_MSG(parse("model:\n  key_temperature: 0.0100000001\n", &mc, &tc) == ICSTR_OK, "%s", icstr_last_error());
    CHECK(mc.key_temperature == 0.01f);
    const char *keys[64], *values[64];
    char buf[4096];
    int n = icstr_config_model_to_meta(&mc, keys, values, 64, buf, sizeof buf);
    kv m = {keys, values, n};
    CHECK_MSG(n > 0 && icstr_config_model_from_meta(&back, kv_get, &m) == ICSTR_OK, "%s", icstr_last_error());
    CHECK(back.key_temperature == mc.key_temperature);
    CHECK(parse("model:\n  key_temperature: 0.0099\n", &mc, &tc) == ICSTR_ERR_CONFIG);
    CHECK(strstr(icstr_last_error(), "out of range"));
}

int main(void) {
    test_values();
    test_errors();
    test_meta_and_dump();
    test_float_bounds();
    return check_finish("test_config");
}
