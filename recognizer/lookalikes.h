/* icstr recognizer: lookalike characters re-decided by the whole reading. A model misreads a
 * domain's glyphs as their lookalikes ("106.1C" for "106.10", "Down1oad" for "Download", "O.70"
 * for "0.70"); greedy decoding with a character model (char_lm.h) weighs the model only against
 * what came before each character, and lightly, since it may pick any character. Here the
 * choice is narrower: each letter or digit of a finished reading that has a lookalike of the other
 * class (0/O/D/Q/C, 1/I/L, 2/Z, 4/A, 5/S, 6/G/B, 7/T, 8/B, 9/G/Q) may become it, and a swap stays
 * when log p_decoder + weight log p_lm of the whole new text (the crop's decoder, no prompts, either
 * case; the character model on every character, those after it included) beats the reading's.
 * One swap at a time, the best first, up to `rounds` swaps per reading. */
#ifndef ICSTR_LOOKALIKES_H
#define ICSTR_LOOKALIKES_H

#include "char_lm.h"
#include "model.h"

typedef struct {
    float weight;  /* the character model's weight against the decoder's log-probability (default
                      1, chosen on the domains' pool sides, bench/incontext_val.sh) */
    int rounds;    /* swaps per reading at most, [1, 16] (default 3) */
} icstr_lookalike_params;
icstr_lookalike_params icstr_lookalike_default_params(void);

/* The lookalikes of an ASCII character in the other class (letters as they fold to lower case),
 * "" when it has none: '0' -> "odqc", 'o' -> "0". */
const char *icstr_lookalikes_of(char c);

/* What a reading is, for icstr_lookalikes_correct (flags, or-ed) */
enum {
    ICSTR_LOOKALIKE_KEEP = 1,  /* the reading stays as it is */
    ICSTR_LOOKALIKE_PIECE = 2, /* it is a piece of a longer line: a lone character in it has no
                                  start or end of text around it to go by */
};

/* Re-decides the lookalikes of n readings (texts, cap bytes each; confidence) of the crops with
 * these latents (n, M, dec_dim) in place, against the character model lm; readings with
 * ICSTR_LOOKALIKE_KEEP in flags[i] (flags may be NULL: every reading whole, none kept), and
 * readings the model cannot encode, keep theirs. A swap must fit its neighbours: the bytes either
 * side of it include the class it turns into and not the other ("106.1C" -> "106.10"), or it is
 * the whole text of a whole reading (a lone "i" -> "1": the character model knows how often a
 * line is a lone digit), not of a piece. A changed reading's
 * confidence is multiplied by the ratio of the decoder's probabilities of the new text and the old
 * (at most 1). *changed (may be NULL) counts the changed readings.
 * Errors: ICSTR_ERR_ARG (rounds outside [1, 16], a negative weight), ICSTR_ERR_NOMEM, those of
 * icstr_model_score. */
int icstr_lookalikes_correct(icstr_model *m, const icstr_char_lm *lm, const float *latents, int n,
                             const icstr_lookalike_params *p, const unsigned char *flags, char **texts, int cap,
                             float *confidence, int *changed);

#endif
