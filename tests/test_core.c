/* Core basics: status words and details, the arena, the slab layout, the RNG's reproducibility
 * and moments, AdamW against a hand-computed step, clipping, the schedule. */
#include "check.h"
#include "icstr_core.h"

#include <string.h>

static void test_status(void) {
    CHECK(!strcmp(icstr_strerror(ICSTR_OK), "success"));
    CHECK(!strcmp(icstr_strerror(-9999), "unknown error"));
    CHECK(icstr_fail(ICSTR_ERR_IO, "open %s: %s", "x.png", "No such file") == ICSTR_ERR_IO);
    CHECK(!strcmp(icstr_last_error(), "open x.png: No such file"));
    icstr_fail_context(ICSTR_ERR_IO, "loading %s", "model");
    CHECK(!strcmp(icstr_last_error(), "loading model: open x.png: No such file"));
    icstr_clear_error();
    CHECK(icstr_last_error()[0] == 0);
}

static void test_memory(void) {
    float *p = icstr_alloc(1000, sizeof(float));
    CHECK(p && ((uintptr_t)p % ICSTR_ALIGN) == 0);
    CHECK(p[999] == 0.0f);
    icstr_free(p);
    CHECK(icstr_alloc(SIZE_MAX / 2, 4) == NULL);
    icstr_arena a;
    CHECK(icstr_arena_init(&a, 4096) == ICSTR_OK);
    float *x = icstr_arena_floats(&a, 10), *y = icstr_arena_floats(&a, 10);
    CHECK(x && y && ((uintptr_t)y % ICSTR_ALIGN) == 0 && y >= x + 10);
    CHECK(icstr_arena_alloc(&a, 5000) == NULL);
    icstr_arena_reset(&a);
    CHECK(icstr_arena_floats(&a, 10) == x);
    icstr_arena_free(&a);

    icstr_slab s;
    icstr_slab_init(&s);
    size_t o1, o2;
    int64_t sh1[2] = {3, 5}, sh2[1] = {7};
    CHECK(icstr_slab_declare(&s, "w", 2, sh1, 1, &o1) == ICSTR_OK);
    CHECK(icstr_slab_declare(&s, "b", 1, sh2, 0, &o2) == ICSTR_OK);
    CHECK(icstr_slab_declare(&s, "b", 1, sh2, 0, &o2) == ICSTR_ERR_ARG);
    CHECK(o1 == 0 && o2 == 16 && s.total == 23);
    CHECK(icstr_slab_alloc(&s, 1) == ICSTR_OK);
    CHECK(icstr_slab_find(&s, "b")->numel == 7 && icstr_slab_find(&s, "nope") == NULL);
    icstr_slab_free(&s);
}

static void test_rng(void) {
    icstr_rng a, b;
    icstr_rng_seed(&a, 7);
    icstr_rng_seed(&b, 7);
    int same = 1;
    for (int i = 0; i < 100; i++) same &= icstr_rng_u64(&a) == icstr_rng_u64(&b);
    CHECK(same);
    icstr_rng_seed(&b, 8);
    CHECK(icstr_rng_u64(&a) != icstr_rng_u64(&b));
    double sum = 0, sq = 0;
    int n = 200000, inrange = 1;
    for (int i = 0; i < n; i++) {
        double z = icstr_rng_normal(&a);
        sum += z;
        sq += z * z;
        float u = icstr_rng_uniform(&a);
        inrange &= u >= 0.0f && u < 1.0f && icstr_rng_below(&a, 10) < 10;
    }
    CHECK(inrange);
    CHECK_NEAR(sum / n, 0.0, 0.01);
    CHECK_NEAR(sq / n, 1.0, 0.02);
}

static void test_optim(void) {
    icstr_slab s;
    icstr_slab_init(&s);
    int64_t sh[1] = {2};
    icstr_slab_declare(&s, "w", 1, sh, 1, NULL);
    icstr_slab_declare(&s, "b", 1, sh, 0, NULL);
    icstr_slab_alloc(&s, 1);
    float *w = s.data, *b = s.data + icstr_slab_find(&s, "b")->offset;
    float *gw = s.grad, *gb = s.grad + icstr_slab_find(&s, "b")->offset;
    w[0] = 1.0f; w[1] = -2.0f; b[0] = 0.5f; b[1] = 0.0f;
    gw[0] = 0.3f; gw[1] = -0.4f; gb[0] = 0.0f; gb[1] = 1.2f;
    CHECK_NEAR(icstr_grad_norm(&s), sqrt(0.09 + 0.16 + 1.44), 1e-6);
    icstr_adamw_params p = icstr_adamw_default_params();
    icstr_adamw_step(&s, &p, 0.1f, 1);
    /* first step: m_hat = g, v_hat = g^2, update = lr * sign(g) (eps negligible) */
    CHECK_NEAR(w[0], 1.0 - 0.1 * 0.05 * 1.0 - 0.1, 1e-6);
    CHECK_NEAR(w[1], -2.0 + 0.1 * 0.05 * 2.0 + 0.1, 1e-6);
    CHECK_NEAR(b[0], 0.5, 1e-7); /* zero gradient, no decay on b */
    CHECK_NEAR(b[1], -0.1, 1e-6);
    float before = icstr_clip_grad_norm(&s, 0.13f);
    CHECK_NEAR(before, sqrt(1.69), 1e-5);
    CHECK_NEAR(icstr_grad_norm(&s), 0.13, 1e-5);
    icstr_slab_free(&s);

    CHECK_NEAR(icstr_lr_schedule(0, 10, 110, 1.0f, 0.0f), 0.1, 1e-7);
    CHECK_NEAR(icstr_lr_schedule(9, 10, 110, 1.0f, 0.0f), 1.0, 1e-7);
    CHECK_NEAR(icstr_lr_schedule(60, 10, 110, 1.0f, 0.0f), 0.5, 1e-6);
    CHECK_NEAR(icstr_lr_schedule(110, 10, 110, 1.0f, 0.1f), 0.1, 1e-7);
}

static void test_half(void) {
    /* exact values and round-to-nearest-even, checked against hand-computed bit patterns */
    CHECK(icstr_f32_to_f16(1.0f) == 0x3c00 && icstr_f32_to_f16(-2.0f) == 0xc000);
    CHECK(icstr_f32_to_f16(65504.0f) == 0x7bff && icstr_f32_to_f16(65520.0f) == 0x7c00);
    CHECK(icstr_f32_to_f16(5.9604645e-8f) == 0x0001); /* smallest subnormal */
    CHECK(icstr_f32_to_f16(1.0f + 1.0f / 2048.0f) == 0x3c00); /* tie rounds to even */
    CHECK(icstr_f32_to_f16(1.0f + 3.0f / 2048.0f) == 0x3c02);
    CHECK(icstr_f16_to_f32(0x3555) == 0.333251953125f);
    CHECK(icstr_f16_to_f32(0x0001) == 5.9604645e-8f);
    CHECK(icstr_f16_to_f32(0x7c00) == INFINITY);
    CHECK(isnan(icstr_f16_to_f32(icstr_f32_to_f16(NAN))));
    CHECK(icstr_f32_to_bf16(1.0f) == 0x3f80 && icstr_bf16_to_f32(0xc040) == -3.0f);
    CHECK(icstr_f32_to_bf16(1.0f + 1.0f / 256.0f) == 0x3f80); /* tie to even */
    CHECK(icstr_f32_to_bf16(1.0f + 3.0f / 256.0f) == 0x3f82);
    CHECK(isnan(icstr_bf16_to_f32(icstr_f32_to_bf16(NAN))));
    /* every finite f16 survives the round trip through f32 */
    int all = 1;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        all &= icstr_f32_to_f16(icstr_f16_to_f32((uint16_t)h)) == h;
    }
    CHECK(all);
}

int main(void) {
    test_half();
    test_status();
    test_memory();
    test_rng();
    test_optim();
    return check_finish("test_core");
}
