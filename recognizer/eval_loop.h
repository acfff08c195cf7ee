/* icstr recognizer: the scoring loop shared by `icstr eval` and `icstr bench accuracy`: read the
 * crops in batches, recognize the ones that decode, and hand every crop (read or not) to the caller
 * in input order, so both commands count the same crops the same way. */
#ifndef ICSTR_EVAL_LOOP_H
#define ICSTR_EVAL_LOOP_H

#include "crop_batch.h"

/* Called once per crop: i indexes the batch (names, labels, reasons, ok_index); text is the
 * recognized text, "" with confidence 0 for a crop that could not be read (cb->ok_index[i] < 0,
 * its reason in cb->reasons[i]). A negative return stops the loop with that status. */
typedef int (*icstr_eval_visit)(void *ctx, const icstr_crop_batch *cb, int i, const char *text, float confidence);

typedef struct {
    long seen;      /* crops visited */
    double seconds; /* reading, decoding, preprocessing and recognizing (not the visits) */
} icstr_eval_stats;

/* Runs the loop over every crop of in (the first limit crops when limit > 0). cb must have been
 * initialised for the model's input size. progress (may be NULL) names the loop in a
 * "\rNAME: N crops" line on stderr about every 1024 crops. Errors: those of icstr_crop_batch_read
 * and icstr_crop_batch_recognize, or the visit's status. */
int icstr_eval_loop(icstr_model *m, icstr_inputs *in, icstr_crop_batch *cb, const icstr_decode_params *dp,
                    long limit, const char *progress, icstr_eval_visit visit, void *ctx, icstr_eval_stats *stats);

#endif
