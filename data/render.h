/* icstr data: render (part of icstr_data.h). Placeholder until that work lands. */
#ifndef ICSTR_RENDER_H
#define ICSTR_RENDER_H
#endif
