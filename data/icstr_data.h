/* icstr data: the one public header of the data module. Image decoding and preprocessing
 * (image.h), the standard STR LMDB datasets and gt.txt folders (dataset.h), scoring (score.h)
 * and the synthetic word renderer (render.h). */
#ifndef ICSTR_DATA_H
#define ICSTR_DATA_H

#include "icstr_core.h"

#include "image.h"
#include "dataset.h"
#include "score.h"
#include "render.h"
#include "files.h"

#endif
