/* Argument parsing shared by the icstr subcommands. */
#ifndef ICSTR_CLI_ARGS_H
#define ICSTR_CLI_ARGS_H

#include "crop_batch.h"

/* A whole decimal integer in [lo, hi] given to `flag` of command `cmd` (e.g. "icstr eval"):
 * 0 and *out set, or a message on stderr ("icstr eval: --beam wants an integer in [1, 64], got
 * 'x'") and 2, the usage exit code, for the caller to return. */
int icstr_cli_long(const char *cmd, const char *flag, const char *s, long lo, long hi, long *out);
/* The same for a decimal number in [lo, hi]. */
int icstr_cli_double(const char *cmd, const char *flag, const char *s, double lo, double hi, double *out);

/* The options that say how crops are read with a pool, and their help lines. */
#define ICSTR_CLI_POOL_READING_USAGE \
    "[--shots N] [--min-similarity S] [--no-compare-plain] [--compare-margin M] [--trust-similarity S] " \
    "[--lexicon [--lexicon-distance D] [--lexicon-word-distance D] [--lexicon-margin N]] " \
    "[--knn [--knn-k K] [--knn-temperature T] [--knn-lambda W]] " \
    "[--glyphs [--glyph-k K] [--glyph-temperature T] [--glyph-lambda W] [--glyph-records R]] " \
    "[--lm [--lm-weight W] [--lm-order N] [--lm-class-order N] [--lookalikes [--lookalike-weight W]]] [--views V]"
#define ICSTR_CLI_POOL_READING_HELP                                                                    \
    "                       (each crop cut to the pool's view first: icstr pool view --help)\n"        \
    "  --shots N            prompts per crop with --pool (default 2, at most the model's max_prompts)\n" \
    "  --min-similarity S   with --pool: only records at least S similar to the crop (cosine of the\n"  \
    "                       pool keys; default -1: the N most similar, however far)\n"                 \
    "  --no-compare-plain   with --pool: keep the reading with prompts. By default each crop that got\n" \
    "                       prompts is also read without them and the reading the model is surer of\n" \
    "                       (--compare-margin) stays (--compare-plain, the default), except where\n"  \
    "                       a prompt is a near-copy of the crop (--trust-similarity)\n"               \
    "  --compare-margin M   with compare-plain: the reading with prompts stays only when its\n"       \
    "                       confidence is at least M times the plain one's (default 1.25: prompts\n" \
    "                       make the model surer of a wrong reading too; 1: the surer one)\n"        \
    "  --trust-similarity S a crop whose most similar prompt is at least S similar is read with that\n" \
    "                       prompt alone and keeps that reading (default 0.998: the crop itself, a\n" \
    "                       hard sample added to the pool; 2: never)\n"                              \
    "  --lexicon            with --pool: the pool's labels are also a lexicon: a reading whose\n"  \
    "                       letters and digits are within --lexicon-distance (edit distance over\n" \
    "                       the longer length; default 0.5) of some labels becomes the label the\n" \
    "                       model finds likeliest for the crop (either case), if its log-\n"       \
    "                       probability is at most --lexicon-margin (default 4) below the\n"       \
    "                       reading's: \"Toial\" becomes the pool's \"TOTAL :\" (a reading with no\n" \
    "                       letter, \"18.00\", stays). Else each word of 3 or more letters and\n" \
    "                       digits may become the labels' word within --lexicon-word-distance\n" \
    "                       (default 0.34; 0: no word pass) under the same margin: \"CST\" the\n" \
    "                       \"GST\" of \"GST ID: 0021...\". A line read in pieces is also judged\n" \
    "                       whole, each candidate's parts scored on their pieces (\"ROUNDI\" +\n"  \
    "                       \"HG\" -> \"ROUNDING\"). For a domain that repeats its text\n"          \
    "                       (receipts); a pool of hard samples reads worse with it\n"            \
    "  --knn                with --pool: the pool is also a datastore of the decoder's states: each\n" \
    "                       record's latents read with its label give one entry per character;\n"  \
    "                       at every step the --knn-k (default 8) entries nearest the decoder's\n"  \
    "                       state vote for their characters, weights exp(-distance / --knn-\n"      \
    "                       temperature) (default 10), and the vote gets --knn-lambda (default\n"   \
    "                       0.3) of the probability: the crop reads as the pool's crops were\n"     \
    "                       read (a domain's glyphs). Greedy only; costs a product with every\n"    \
    "                       entry per step (for pools of hundreds of records, not 100,000)\n"    \
    "  --glyphs             with --pool and the joint reading (--ctc-weight): the pool is also a\n"  \
    "                       store of glyphs: each record's label aligned to its CTC frames gives one\n" \
    "                       entry per frame (the encoder token, the character or blank); each frame\n" \
    "                       of a crop gets the votes of the --glyph-k (default 16) most similar\n"  \
    "                       entries, weights exp((cosine - best) / --glyph-temperature) (default\n" \
    "                       0.05), with --glyph-lambda (default 0.5) of the probability, before the\n" \
    "                       joint reading: a domain's glyphs read as its labels name them, also in\n" \
    "                       text the pool never shows. Costs a product with every entry per crop;\n" \
    "                       --glyph-records R: only the entries of the crop's R most similar\n"   \
    "                       records vote (default 0: all), for large pools. The --glyphs and\n"  \
    "                       --knn stores are kept in the pool's folder (glyphs.cache, about\n"    \
    "                       100 KB a record; knn.cache) for the next reading with the pool;\n"    \
    "                       ICSTR_STORE_CACHE=0 turns that off\n"                                \
    "  --lm                 with --pool: the pool's labels are also a character language model:\n"  \
    "                       every decoding step (and the joint reading's choice) weighs log\n"    \
    "                       p_model + --lm-weight (default 0.2) log p_lm, p_lm an n-gram model\n"  \
    "                       of the labels' letters and digits (order --lm-order, default 3;\n"    \
    "                       letters as lower case; other characters cost nothing) backed off to\n" \
    "                       their classes (letter, digit, end; --lm-class-order, default 5): a\n" \
    "                       domain's formats (three letters then digits, \"12.00\" not \"12.0C\").\n" \
    "                       A pool of fewer than 50 labels gets that share of the weight (a\n"    \
    "                       model of 10 labels is too sure). Greedy only; the confidence stays\n" \
    "                       the model's\n"                                                          \
    "  --lookalikes         with --lm: then each letter or digit of a reading that has a lookalike\n" \
    "                       of the other class (0/O/D/Q/C, 1/I/L, 2/Z, 4/A, 5/S, 6/G/B, 7/T, 8/B,\n" \
    "                       9/G/Q) may become it where its neighbours are of the class it turns\n" \
    "                       into (or it is the whole line: a lone \"i\"): a swap stays when log\n" \
    "                       p_model (no prompts) + --lookalike-weight (default 1) log p_lm of the\n" \
    "                       whole new text beats the reading's (\"106.1C\" -> \"106.10\"); up to 3\n" \
    "                       swaps a reading\n"                                                        \
    "  --views V            with --pool: read each crop under the pool's view and under its first\n" \
    "                       V - 1 alternate views too (icstr pool view --auto ranks them on the\n"  \
    "                       pool's records; at most 9), the same reading each time, and keep the\n" \
    "                       text most of them read (the same but for spaces; ties: the surer);\n"  \
    "                       V times the work. Default 1\n"
/* What a command says when those options come without --pool (after "icstr CMD: "). */
#define ICSTR_CLI_POOL_READING_NEED_POOL                                                                 \
    "the pool-reading options (--shots, --min-similarity, --compare-plain, --no-compare-plain, "        \
    "--compare-margin, --trust-similarity, --lexicon, --no-lexicon, --lexicon-distance, "               \
    "--lexicon-word-distance, --lexicon-margin, --knn, --no-knn, --knn-k, --knn-temperature, --knn-lambda, --glyphs, "        \
    "--no-glyphs, --glyph-k, --glyph-temperature, --glyph-lambda, --glyph-records, --lm, --no-lm, "    \
    "--lm-weight, --lm-order, --lm-class-order, --lookalikes, --no-lookalikes, --lookalike-weight, "  \
    "--views) need --pool\n"
/* One of those options at argv[*i] (icstr_pool_reading, crop_batch.h): 1 when it was one (*i
 * moved past its value, *given set), 0 when it was not, 2 after a message for a bad value (the
 * usage exit code). */
int icstr_cli_pool_reading(const char *cmd, int argc, char **argv, int *i, icstr_pool_reading *r, int *given);

/* The option that says when a crop is read in pieces (icstr_line_split_params, icstr_data.h). */
#define ICSTR_CLI_SPLIT_USAGE "[--split-aspect A]"
#define ICSTR_CLI_SPLIT_HELP                                                                           \
    "  --split-aspect A     a crop wider than A times its height (a long line: a receipt's) is also\n" \
    "                       read as pieces cut at the gaps between words, at most 3.5 heights wide,\n" \
    "                       joined by spaces (a piece still wider is cut again between its letters,\n" \
    "                       joined with no space); the reading the model is surer of stays (default\n" \
    "                       3.6; 0: every crop read whole only). A crop over 8 heights wide that\n" \
    "                       has such gaps is read in pieces only, unless the --pool holds that very\n" \
    "                       crop (--trust-similarity): then its whole reading with it stays\n"
/* --split-aspect at argv[*i]: as icstr_cli_pool_reading (1 taken, 0 not this option, 2 bad value). */
int icstr_cli_line_split(const char *cmd, int argc, char **argv, int *i, icstr_line_split_params *p);

/* The joint reading's weight (icstr_decode_params.ctc_weight): --ctc-weight at argv[*i], as
 * icstr_cli_line_split (1 taken, 0 not this option, 2 bad value). A command starts from
 * ctc_weight -1 (not given), which icstr_cli_check_reading resolves: 0, or with --glyphs
 * ICSTR_CLI_GLYPH_CTC_WEIGHT. */
#define ICSTR_CLI_GLYPH_CTC_WEIGHT 0.5f
#define ICSTR_CLI_CTC_USAGE "[--ctc-weight W]"
#define ICSTR_CLI_CTC_HELP                                                                             \
    "  --ctc-weight W       the joint reading: the CTC head's best path is read too, and the reading\n" \
    "                       with the higher (1 - W) log p_decoder + W log p_ctc stays (default 0,\n"   \
    "                       the decoder's reading alone; with --glyphs 0.5)\n"
int icstr_cli_ctc_weight(const char *cmd, int argc, char **argv, int *i, icstr_decode_params *p);

/* Options that do not go together (--knn with --beam, --glyphs with --ctc-weight 0): 0, or a
 * message on stderr and 2. Resolves a ctc_weight not given (-1). */
int icstr_cli_check_reading(const char *cmd, const icstr_pool_reading *r, icstr_decode_params *dp);

#endif
