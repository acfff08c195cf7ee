/* YAML configs: one table of every key (type, member, range) drives parsing, validation,
 * the metadata round trip of model configs and the YAML dump. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum field_type { F_INT, F_LONG, F_U64, F_FLOAT, F_BOOL, F_STR, F_SOURCES };

typedef struct {
    const char *key;       /* "section.name" */
    enum field_type type;
    size_t offset;         /* into icstr_model_config or icstr_train_config */
    size_t size;           /* for strings */
    double min, max;
} field;

#define M_FIELD(name, type, lo, hi) {"model." #name, type, offsetof(icstr_model_config, name), sizeof(((icstr_model_config *)0)->name), lo, hi}
#define T_FIELD(name, type, lo, hi) {"train." #name, type, offsetof(icstr_train_config, name), sizeof(((icstr_train_config *)0)->name), lo, hi}

static const field fields[] = {
    M_FIELD(img_h, F_INT, 4, 256),
    M_FIELD(img_w, F_INT, 4, 1024),
    M_FIELD(stem, F_INT, 0, 1),
    M_FIELD(patch_h, F_INT, 1, 64),
    M_FIELD(patch_w, F_INT, 1, 64),
    M_FIELD(stem_channels, F_INT, 2, 1024),
    M_FIELD(enc_dim, F_INT, 4, 2048),
    M_FIELD(enc_layers, F_INT, 0, 48),
    M_FIELD(enc_heads, F_INT, 1, 64),
    M_FIELD(enc_mlp, F_INT, 4, 8192),
    M_FIELD(latents, F_INT, 1, 256),
    M_FIELD(resampler_layers, F_INT, 0, 16),
    M_FIELD(dec_dim, F_INT, 4, 2048),
    M_FIELD(dec_layers, F_INT, 1, 48),
    M_FIELD(dec_heads, F_INT, 1, 64),
    M_FIELD(dec_mlp, F_INT, 4, 8192),
    M_FIELD(max_label, F_INT, 1, 255),
    M_FIELD(max_prompts, F_INT, 0, 16),
    M_FIELD(charset, F_STR, 0, 0),
    M_FIELD(ctc_weight, F_FLOAT, 0, 10),
    M_FIELD(label_smoothing, F_FLOAT, 0, 0.5),
    M_FIELD(dropout, F_FLOAT, 0, 0.9),
    M_FIELD(key_weight, F_FLOAT, 0, 100),
    M_FIELD(key_temperature, F_FLOAT, 0.01, 10),
    M_FIELD(prompt_similarity, F_INT, 0, 1),
    M_FIELD(glyph_labels, F_INT, 0, 1),
    M_FIELD(glyph_init, F_FLOAT, 0, 10),
    T_FIELD(seed, F_U64, 0, 0),
    T_FIELD(steps, F_LONG, 0, 1e12),
    T_FIELD(batch_size, F_INT, 1, 4096),
    T_FIELD(lr, F_FLOAT, 0, 1),
    T_FIELD(min_lr, F_FLOAT, 0, 1),
    T_FIELD(warmup, F_LONG, 0, 1e12),
    T_FIELD(weight_decay, F_FLOAT, 0, 1),
    T_FIELD(grad_clip, F_FLOAT, 0, 1e6),
    T_FIELD(bf16, F_BOOL, 0, 1),
    T_FIELD(threads, F_INT, 0, 1024),
    T_FIELD(synth_fraction, F_FLOAT, 0, 1),
    T_FIELD(sources, F_SOURCES, 0, 0),
    T_FIELD(augment, F_BOOL, 0, 1),
    T_FIELD(val_size, F_INT, 0, 1000000),
    T_FIELD(fonts_dir, F_STR, 0, 0),
    T_FIELD(photos_dir, F_STR, 0, 0),
    T_FIELD(document_fraction, F_FLOAT, 0, 1),
    T_FIELD(line_piece_fraction, F_FLOAT, 0, 1),
    T_FIELD(max_words_len, F_INT, 0, 255),
    T_FIELD(curriculum_steps, F_LONG, 0, 1e12),
    T_FIELD(frame_fraction, F_FLOAT, 0, 1),
    T_FIELD(prompts_max, F_INT, 0, 16),
    T_FIELD(incontext_fraction, F_FLOAT, 0, 1),
    T_FIELD(copy_fraction, F_FLOAT, 0, 1),
    T_FIELD(twin_fraction, F_FLOAT, 0, 1),
    T_FIELD(cipher_fraction, F_FLOAT, 0, 1),
    T_FIELD(cipher_decoys, F_FLOAT, 0, 1),
    T_FIELD(log_every, F_INT, 1, 1000000000),
    T_FIELD(eval_every, F_INT, 0, 1000000000),
    T_FIELD(checkpoint_every, F_INT, 0, 1000000000),
    T_FIELD(out_dir, F_STR, 0, 0),
    T_FIELD(init_from, F_STR, 0, 0),
};
#define N_FIELDS ((int)(sizeof fields / sizeof *fields))

icstr_train_config icstr_train_default_config(void) {
    icstr_train_config t;
    memset(&t, 0, sizeof t);
    t.seed = 1;
    t.steps = 100000;
    t.batch_size = 32;
    t.lr = 1e-3f;
    t.min_lr = 1e-5f;
    t.warmup = 2000;
    t.weight_decay = 0.05f;
    t.grad_clip = 1.0f;
    t.bf16 = 0;
    t.threads = 0;
    t.synth_fraction = 1.0f;
    t.augment = 1;
    t.val_size = 500;
    t.log_every = 50;
    t.eval_every = 1000;
    t.checkpoint_every = 500;
    strcpy(t.out_dir, "runs/default");
    return t;
}

static const field *find_field(const char *key) {
    for (int i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].key, key)) return &fields[i];
    return NULL;
}

static void *member(const field *f, icstr_model_config *mc, icstr_train_config *tc) {
    return (char *)(f->key[0] == 'm' ? (void *)mc : (void *)tc) + f->offset;
}

/* Parses one scalar into the field; returns NULL or a reason. */
static const char *set_scalar(const field *f, void *dst, const char *s) {
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case F_INT:
    case F_LONG: {
        double v = strtod(s, &end);
        if (end == s || *end || errno || v != floor(v)) return "expected an integer";
        if (v < f->min || v > f->max) return "out of range";
        if (f->type == F_INT) *(int *)dst = (int)v;
        else *(long *)dst = (long)v;
        return NULL;
    }
    case F_U64: {
        if (*s == '-') return "expected a non-negative integer";
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || *end || errno) return "expected a non-negative integer";
        *(uint64_t *)dst = (uint64_t)v;
        return NULL;
    }
    case F_FLOAT: {
        double v = strtod(s, &end);
        if (end == s || *end || errno || !isfinite(v)) return "expected a number";
        /* the range is checked on the float that is stored: 0.0100000001 passes a double check
         * against 0.01 but is stored as 0.00999999978f, which the metadata round trip (and any
         * later check) reads back as out of range */
        float fv = (float)v;
        if (fv < (float)f->min || fv > (float)f->max) return "out of range";
        *(float *)dst = fv;
        return NULL;
    }
    case F_BOOL:
        if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) *(int *)dst = 1;
        else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no")) *(int *)dst = 0;
        else return "expected true or false";
        return NULL;
    case F_STR:
        if (strlen(s) >= f->size) return "string too long";
        strcpy((char *)dst, s);
        return NULL;
    case F_SOURCES:
        return "expected a list";
    }
    return "unknown field type";
}

static int fail_at(const char *name, const yaml_node_t *n, const char *key, const char *why) {
    return icstr_fail(ICSTR_ERR_CONFIG, "%s:%lu:%lu: %s: %s", name, (unsigned long)n->start_mark.line + 1,
                      (unsigned long)n->start_mark.column + 1, key, why);
}

static int parse_sources(yaml_document_t *doc, const yaml_node_t *seq, const char *name,
                         icstr_train_config *tc) {
    if (seq->type != YAML_SEQUENCE_NODE) return fail_at(name, seq, "train.sources", "expected a list");
    tc->n_sources = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (tc->n_sources == ICSTR_MAX_SOURCES) return fail_at(name, item, "train.sources", "too many sources");
        icstr_data_source *src = &tc->sources[tc->n_sources];
        src->weight = 1.0f;
        const char *path = NULL;
        if (item->type == YAML_SCALAR_NODE) {
            path = (const char *)item->data.scalar.value;
        } else if (item->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(doc, p->key), *v = yaml_document_get_node(doc, p->value);
                if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
                    return fail_at(name, k, "train.sources", "expected path and weight scalars");
                const char *ks = (const char *)k->data.scalar.value, *vs = (const char *)v->data.scalar.value;
                if (!strcmp(ks, "path")) path = vs;
                else if (!strcmp(ks, "weight")) {
                    char *end;
                    double w = strtod(vs, &end);
                    if (end == vs || *end || !(w > 0) || w > 1e6) return fail_at(name, v, "train.sources.weight", "expected a positive number");
                    src->weight = (float)w;
                } else return fail_at(name, k, "train.sources", "unknown key (path, weight)");
            }
        } else return fail_at(name, item, "train.sources", "expected a path or {path, weight}");
        if (!path || !*path) return fail_at(name, item, "train.sources", "missing path");
        if (strlen(path) >= sizeof src->path) return fail_at(name, item, "train.sources", "path too long");
        strcpy(src->path, path);
        tc->n_sources++;
    }
    return ICSTR_OK;
}

int icstr_config_parse(const char *text, size_t len, const char *name, icstr_model_config *mc,
                       icstr_train_config *tc) {
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return icstr_fail(ICSTR_ERR_NOMEM, "%s: yaml parser init", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        int rc = icstr_fail(ICSTR_ERR_CONFIG, "%s:%lu:%lu: %s", name, (unsigned long)parser.problem_mark.line + 1,
                            (unsigned long)parser.problem_mark.column + 1,
                            parser.problem ? parser.problem : "YAML syntax error");
        yaml_parser_delete(&parser);
        return rc;
    }
    int rc = ICSTR_OK;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) goto done; /* empty file: all defaults */
    if (root->type != YAML_MAPPING_NODE) {
        rc = fail_at(name, root, "(top)", "expected a mapping with sections model: and train:");
        goto done;
    }
    for (yaml_node_pair_t *sp = root->data.mapping.pairs.start; sp < root->data.mapping.pairs.top && !rc; sp++) {
        yaml_node_t *sk = yaml_document_get_node(&doc, sp->key), *sv = yaml_document_get_node(&doc, sp->value);
        const char *section = sk->type == YAML_SCALAR_NODE ? (const char *)sk->data.scalar.value : "";
        if (strcmp(section, "model") && strcmp(section, "train")) {
            rc = fail_at(name, sk, section, "unknown section (model, train)");
            break;
        }
        if (sv->type == YAML_SCALAR_NODE && !sv->data.scalar.length) continue; /* empty section */
        if (sv->type != YAML_MAPPING_NODE) {
            rc = fail_at(name, sv, section, "expected a mapping");
            break;
        }
        for (yaml_node_pair_t *p = sv->data.mapping.pairs.start; p < sv->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&doc, p->key), *v = yaml_document_get_node(&doc, p->value);
            char key[160];
            if (k->type != YAML_SCALAR_NODE) {
                rc = fail_at(name, k, section, "expected a key");
                break;
            }
            snprintf(key, sizeof key, "%s.%s", section, (const char *)k->data.scalar.value);
            const field *f = find_field(key);
            if (!f) {
                rc = fail_at(name, k, key, "unknown key (see configs/README.md)");
                break;
            }
            if (f->type == F_SOURCES) {
                if ((rc = parse_sources(&doc, v, name, tc))) break;
                continue;
            }
            if (v->type != YAML_SCALAR_NODE) {
                rc = fail_at(name, v, key, "expected a single value");
                break;
            }
            const char *why = set_scalar(f, member(f, mc, tc), (const char *)v->data.scalar.value);
            if (why) {
                rc = fail_at(name, v, key, why);
                break;
            }
        }
    }
done:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}

int icstr_config_load(const char *path, icstr_model_config *mc, icstr_train_config *tc) {
    FILE *f = fopen(path, "rb");
    if (!f) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 24)) {
                fclose(f);
                free(buf);
                return icstr_fail(ICSTR_ERR_LIMIT, "%s: config larger than 16 MiB", path);
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                fclose(f);
                free(buf);
                return icstr_fail(ICSTR_ERR_NOMEM, "%s: cannot read", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return icstr_fail(ICSTR_ERR_IO, "%s: read error", path);
    }
    int rc = icstr_config_parse(buf, len, path, mc, tc);
    free(buf);
    return rc;
}

static int format_value(const field *f, const void *src, char *out, size_t cap) {
    switch (f->type) {
    case F_INT:
    case F_BOOL: return snprintf(out, cap, "%d", *(const int *)src);
    case F_LONG: return snprintf(out, cap, "%ld", *(const long *)src);
    case F_U64: return snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)src);
    case F_FLOAT: return snprintf(out, cap, "%.9g", (double)*(const float *)src);
    case F_STR: return snprintf(out, cap, "%s", (const char *)src);
    case F_SOURCES: return snprintf(out, cap, "[]");
    }
    return -1;
}

int icstr_config_model_to_meta(const icstr_model_config *mc, const char **keys, const char **values,
                               int cap, char *buf, size_t buf_cap) {
    int n = 0;
    size_t used = 0;
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (f->key[0] != 'm') continue;
        if (n == cap) return icstr_fail(ICSTR_ERR_RANGE, "config metadata: more than %d keys", cap);
        int w = format_value(f, (const char *)mc + f->offset, buf + used, buf_cap - used);
        if (w < 0 || (size_t)w >= buf_cap - used) return icstr_fail(ICSTR_ERR_RANGE, "config metadata buffer too small");
        keys[n] = f->key;
        values[n] = buf + used;
        used += (size_t)w + 1;
        n++;
    }
    return n;
}

int icstr_config_model_from_meta(icstr_model_config *mc,
                                 const char *(*get)(void *ctx, const char *key), void *ctx) {
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        if (f->key[0] != 'm') continue;
        const char *v = get(ctx, f->key);
        if (!v) continue;
        const char *why = set_scalar(f, (char *)mc + f->offset, v);
        if (why) return icstr_fail(ICSTR_ERR_FORMAT, "model metadata %s = '%s': %s", f->key, v, why);
    }
    return ICSTR_OK;
}

static void write_yaml_string(FILE *out, const char *s) {
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int icstr_config_write_yaml(const icstr_model_config *mc, const icstr_train_config *tc, FILE *out) {
    const char *section = "";
    for (int i = 0; i < N_FIELDS; i++) {
        const field *f = &fields[i];
        const char *dot = strchr(f->key, '.');
        if (strncmp(section, f->key, (size_t)(dot - f->key) + 1)) {
            section = f->key;
            fprintf(out, "%.*s:\n", (int)(dot - f->key), f->key);
        }
        const void *src = (const char *)(f->key[0] == 'm' ? (const void *)mc : (const void *)tc) + f->offset;
        fprintf(out, "  %s: ", dot + 1);
        if (f->type == F_STR) {
            write_yaml_string(out, (const char *)src);
        } else if (f->type == F_BOOL) {
            fputs(*(const int *)src ? "true" : "false", out);
        } else if (f->type == F_SOURCES) {
            if (!tc->n_sources) fputs("[]", out);
            for (int s = 0; s < tc->n_sources; s++) {
                fprintf(out, "\n    - {path: ");
                write_yaml_string(out, tc->sources[s].path);
                fprintf(out, ", weight: %g}", (double)tc->sources[s].weight);
            }
        } else {
            char v[64];
            format_value(f, src, v, sizeof v);
            fputs(v, out);
        }
        fputc('\n', out);
    }
    return ferror(out) ? icstr_fail(ICSTR_ERR_IO, "cannot write config") : ICSTR_OK;
}
