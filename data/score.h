/* icstr data: score (part of icstr_data.h). Placeholder until that work lands. */
#ifndef ICSTR_SCORE_H
#define ICSTR_SCORE_H
#endif
