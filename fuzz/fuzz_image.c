/* libFuzzer target: the image loader (stb_image behind our header checks, the 16-bit PNM
 * decoder, alpha compositing) with small limits, then the model's resize of what it decoded and
 * the long-line splitter (pieces must tile the image left to right). */
#include "icstr_core.h"
#include "icstr_data.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    icstr_log_set_level(ICSTR_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* small enough that a hostile header cannot make the fuzzer spend its time in memset */
    icstr_image_limits lim = {.max_pixels = 1 << 20, .max_side = 4096, .max_file_bytes = 1 << 20};
    int w, h, c;
    (void)icstr_image_info_memory(data, size, "fuzz", &w, &h, &c);
    (void)icstr_image_format_name(data, size);
    icstr_image img;
    if (icstr_image_load_memory_ex(data, size, "fuzz", &lim, &img) == ICSTR_OK) {
        if (img.w < 1 || img.h < 1 || !img.rgb || (int64_t)img.w * img.h > lim.max_pixels) abort();
        static float chw[3 * 32 * 128];
        if (icstr_image_to_input(&img, 32, 128, chw)) abort();
        for (size_t i = 0; i < sizeof chw / sizeof *chw; i++)
            if (!(chw[i] >= -1.0f && chw[i] <= 1.0f)) abort();
        icstr_line_split_params sp = icstr_line_split_default_params();
        sp.split_aspect = 1.0f; /* cut whatever is wider than high, so the splitter sees most inputs */
        int x0[ICSTR_LINE_MAX_PIECES], x1[ICSTR_LINE_MAX_PIECES];
        unsigned char glued[ICSTR_LINE_MAX_PIECES];
        int n = icstr_line_split(&img, &sp, x0, x1, ICSTR_LINE_MAX_PIECES, glued);
        if (n < 1 || n > ICSTR_LINE_MAX_PIECES || x0[0] != 0 || x1[n - 1] != img.w || glued[0]) abort();
        for (int j = 0; j < n; j++)
            if (x1[j] <= x0[j] || (j && x0[j] != x1[j - 1]) || glued[j] > 1) abort();
        icstr_image_free(&img);
    }
    return 0;
}
