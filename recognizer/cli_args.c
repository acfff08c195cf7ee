/* Argument parsing shared by the icstr subcommands (cli_args.h). */
#include "cli_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int icstr_cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: %s wants an integer in [%ld, %ld], got '%s'\n", cmd, flag, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int icstr_cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "%s: %s wants a number in [%g, %g], got '%s'\n", cmd, flag, lo, hi, s);
        return 2;
    }
    *out = v;
    return 0;
}

int icstr_cli_pool_reading(const char *cmd, int argc, char **argv, int *i, icstr_pool_reading *r, int *given) {
    const char *a = argv[*i];
    int more = *i + 1 < argc;
    if (!strcmp(a, "--compare-plain") || !strcmp(a, "--no-compare-plain")) {
        r->compare_plain = a[2] == 'c';
    } else if (!strcmp(a, "--compare-margin") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 1.0, 1000.0, &v)) return 2;
        r->compare_margin = (float)v;
    } else if (!strcmp(a, "--trust-similarity") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], -2.0, 2.0, &v)) return 2;
        r->trust_similarity = (float)v;
    } else if (!strcmp(a, "--shots") && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 0, 1024, &v)) return 2;
        r->shots = (int)v;
    } else if (!strcmp(a, "--lexicon") || !strcmp(a, "--no-lexicon")) {
        r->lexicon = a[2] == 'l';
    } else if (!strcmp(a, "--lexicon-margin") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 1000.0, &v)) return 2;
        r->lexicon_params.margin = (float)v;
    } else if (!strcmp(a, "--lexicon-distance") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 1.0, &v)) return 2;
        r->lexicon_params.max_ned = (float)v;
    } else if (!strcmp(a, "--lexicon-word-distance") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 1.0, &v)) return 2;
        r->lexicon_params.word_ned = (float)v;
    } else if (!strcmp(a, "--knn") || !strcmp(a, "--no-knn")) {
        r->knn = a[2] == 'k';
    } else if (!strcmp(a, "--knn-k") && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 1, 64, &v)) return 2;
        r->knn_params.k = (int)v;
    } else if (!strcmp(a, "--knn-temperature") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 1e-3, 1e6, &v)) return 2;
        r->knn_params.temperature = (float)v;
    } else if (!strcmp(a, "--knn-lambda") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 1.0, &v)) return 2;
        r->knn_params.lambda = (float)v;
    } else if (!strcmp(a, "--glyphs") || !strcmp(a, "--no-glyphs")) {
        r->glyphs = a[2] == 'g';
    } else if (!strcmp(a, "--glyph-k") && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 1, 64, &v)) return 2;
        r->glyph_params.k = (int)v;
    } else if (!strcmp(a, "--glyph-temperature") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 1e-4, 1e3, &v)) return 2;
        r->glyph_params.temperature = (float)v;
    } else if (!strcmp(a, "--glyph-records") && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 0, 1 << 20, &v)) return 2;
        r->glyph_params.records = (int)v;
    } else if (!strcmp(a, "--glyph-lambda") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 1.0, &v)) return 2;
        r->glyph_params.lambda = (float)v;
    } else if (!strcmp(a, "--lm") || !strcmp(a, "--no-lm")) {
        r->lm = a[2] == 'l';
    } else if (!strcmp(a, "--lm-weight") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 100.0, &v)) return 2;
        r->lm_weight = (float)v;
    } else if ((!strcmp(a, "--lm-order") || !strcmp(a, "--lm-class-order")) && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 1, 6, &v)) return 2;
        *(a[5] == 'o' ? &r->lm_params.order : &r->lm_params.class_order) = (int)v;
    } else if (!strcmp(a, "--lookalikes") || !strcmp(a, "--no-lookalikes")) {
        r->lookalikes = a[2] == 'l';
    } else if (!strcmp(a, "--lookalike-weight") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], 0.0, 100.0, &v)) return 2;
        r->lookalike_params.weight = (float)v;
    } else if (!strcmp(a, "--views") && more) {
        long v;
        if (icstr_cli_long(cmd, a, argv[++*i], 1, 1 + ICSTR_POOL_ALTERNATES_MAX, &v)) return 2;
        r->views = (int)v;
    } else if (!strcmp(a, "--min-similarity") && more) {
        double v;
        if (icstr_cli_double(cmd, a, argv[++*i], -1.0, 1.0, &v)) return 2;
        r->min_similarity = (float)v;
    } else {
        return 0;
    }
    *given = 1;
    return 1;
}

int icstr_cli_line_split(const char *cmd, int argc, char **argv, int *i, icstr_line_split_params *p) {
    if (strcmp(argv[*i], "--split-aspect") || *i + 1 >= argc) return 0;
    double v;
    if (icstr_cli_double(cmd, argv[*i], argv[*i + 1], 0.0, 1000.0, &v)) return 2;
    ++*i;
    p->split_aspect = (float)v;
    return 1;
}

int icstr_cli_ctc_weight(const char *cmd, int argc, char **argv, int *i, icstr_decode_params *p) {
    if (strcmp(argv[*i], "--ctc-weight") || *i + 1 >= argc) return 0;
    double v;
    if (icstr_cli_double(cmd, argv[*i], argv[*i + 1], 0.0, 1.0, &v)) return 2;
    ++*i;
    p->ctc_weight = (float)v;
    return 1;
}

int icstr_cli_check_reading(const char *cmd, const icstr_pool_reading *r, icstr_decode_params *dp) {
    if (r->knn && dp->beam > 1) {
        fprintf(stderr, "%s: --knn decodes greedily; it does not go with --beam\n", cmd);
        return 2;
    }
    if (r->lm && dp->beam > 1) {
        fprintf(stderr, "%s: --lm is fused into greedy decoding; it does not go with --beam\n", cmd);
        return 2;
    }
    if (r->lookalikes && !r->lm) {
        fprintf(stderr, "%s: --lookalikes re-decides readings with the pool's character model: it needs --lm\n", cmd);
        return 2;
    }
    if (dp->ctc_weight < 0.0f) dp->ctc_weight = r->glyphs ? ICSTR_CLI_GLYPH_CTC_WEIGHT : 0.0f; /* not given */
    if (r->glyphs && dp->ctc_weight == 0.0f) {
        fprintf(stderr, "%s: --glyphs weighs the glyphs' votes in the joint reading: it does not go with --ctc-weight 0\n",
                cmd);
        return 2;
    }
    return 0;
}
