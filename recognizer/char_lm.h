/* icstr recognizer: a character n-gram language model of a domain's labels (the prompt pool's),
 * fused into greedy decoding (icstr_decode_params.lm): at every step the decoder's choice is
 * log p_decoder + weight log p_lm. Only letters and digits are modelled (what the standard
 * protocol scores), a letter as its lower case (the model's case choice is its own); any other
 * character is skipped in a history and scores as the likeliest symbol (no gain, no cost); a
 * label ends with the end symbol (EOC). Two models, Witten-Bell interpolated:
 *   - characters, histories of up to order - 1 folded characters (the label's start padded with
 *     a start symbol), bottoming out on
 *   - classes (letter, digit, end), histories of up to class_order - 1 classes,
 *     times the character's add-one share of its class:
 * so a pool of plates "ABC123" says a digit follows three letters even for digits it never
 * shows, and a pool of receipts says "13.0C" is unlikely where "13.00" is. */
#ifndef ICSTR_CHAR_LM_H
#define ICSTR_CHAR_LM_H

#include "model.h"

typedef struct {
    int order;        /* character n-gram order, [1, 6] (default 3) */
    int class_order;  /* class n-gram order, [1, 6] (default 5) */
} icstr_char_lm_params;
icstr_char_lm_params icstr_char_lm_default_params(void);

/* An empty model over m's characters. Errors: ICSTR_ERR_ARG (orders outside [1, 6], a charset
 * of more than ICSTR_CHARSET_MAX characters), ICSTR_ERR_NOMEM. */
int icstr_char_lm_create(const icstr_model *m, const icstr_char_lm_params *p, icstr_char_lm **out);
void icstr_char_lm_free(icstr_char_lm *lm);

/* Counts one label of len tokens (the model's characters). Errors: ICSTR_ERR_ARG (a token
 * outside the characters), ICSTR_ERR_NOMEM. */
int icstr_char_lm_add(icstr_char_lm *lm, const int *tokens, int len);

/* Labels counted so far. */
long icstr_char_lm_labels(const icstr_char_lm *lm);

/* The log-probability of every vocabulary token (the model's vocab size entries) coming after
 * the n tokens of hist: a character's is that of its lower case, EOC's that the label ends
 * there; BOS and PAD get -HUGE_VAL. With no label counted: the class model's uniform share. */
void icstr_char_lm_next(const icstr_char_lm *lm, const int *hist, int n, double *logp);

/* The log-probability of a whole text (len tokens): its letters' and digits' (each after the
 * ones before it) and its end's; the skipped characters count nothing. */
double icstr_char_lm_score(const icstr_char_lm *lm, const int *tokens, int len);

#endif
