/* icstr data: image (part of icstr_data.h). Placeholder until that work lands. */
#ifndef ICSTR_IMAGE_H
#define ICSTR_IMAGE_H
#endif
