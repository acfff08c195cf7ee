/* icstr recognizer: choosing a prompt pool's view (`icstr pool view --auto`): the rectangle of
 * every crop the model reads with that pool (image.h icstr_view), picked by reading the pool's
 * own labelled records under each candidate view. A domain whose crops carry other text around
 * the word (a plate's state name and slogan, squeezed into the model's 32 x 128 input with the
 * plate number) reads better from a band of it; tight word crops keep the full view. */
#ifndef ICSTR_POOL_VIEW_H
#define ICSTR_POOL_VIEW_H

#include "icstr_pool.h"

typedef struct {
    icstr_view view;
    long n;               /* records scored (the protocol skips some labels) */
    long right;           /* read right */
    long gained, lost;    /* records it reads right and the first view wrong, and the other way */
    double one_minus_ned;
} icstr_view_score;

/* The views --auto tries, the full view first: rows from 0, 0.1, 0.15, 0.2 or 0.25 to 1, 0.9,
 * 0.85 or 0.8, columns whole or 0.03 to 0.97. Writes up to cap, returns how many there are. */
#define ICSTR_VIEW_CANDIDATES 40
int icstr_view_candidates(icstr_view *out, int cap);

/* Reads up to max_records of the pool's records (evenly spread over them in id order; all
 * when max_records <= 0) plainly (no prompts, greedy, the model's decoder) under each of the n
 * views, and scores the readings against the records' labels by `protocol` (data/score.h)
 * into out[i], each against the first view's (gained, lost). The pool's handle needs a model. Logs its progress. Errors: ICSTR_ERR_ARG (no
 * model, n < 1), ICSTR_ERR_NOTFOUND (an empty pool), the errors of icstr_pool_foreach, of
 * decoding a record's image (naming it), of the model. */
int icstr_pool_view_scores(icstr_pool *p, const icstr_view *views, int n, long max_records, int protocol,
                           icstr_view_score *out);

/* The view to keep: of the views that read clearly more records right than the first (the full
 * view), the one that reads the most (ties: the higher 1 - NED, then the earlier); 0 when none
 * does. Clearly: gained - lost is at least ICSTR_VIEW_MIN_GAIN and at least ICSTR_VIEW_MIN_Z
 * times sqrt(gained + lost) (McNemar's test on the records the two views read differently: the
 * best of 40 noisy scores beats the first by luck alone; a 25-line receipt pool moved to a band
 * that read its lines 27 to 25 and the test lines 0.50 to 0.61). */
#define ICSTR_VIEW_MIN_GAIN 2
#define ICSTR_VIEW_MIN_Z 2.5
int icstr_view_choose(const icstr_view_score *s, int n);

/* The vote over n readings of one crop (texts[0] the reading under the pool's own view, the others
 * under its alternates, --views): readings that are the same text but for spaces stand together;
 * the most readings win (ties: the higher summed confidence, then reading 0's side). Returns
 * the reading to keep: 0 when reading 0 is on the winning side, else the surest reading of it. */
int icstr_view_vote(char *const *texts, const float *confidence, int n);

#endif
