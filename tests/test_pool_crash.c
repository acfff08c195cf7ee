/* The pool under crashes and concurrency, with forked processes:
 *  - a child adds crops in chunks (each one icstr_pool_add, one transaction) and is SIGKILLed at
 *    a random moment: the pool still opens, every record decodes and holds exactly the bytes,
 *    label and latents it was given, and the records are a whole number of chunks (they are
 *    exactly the first count crops of the child's sequence);
 *  - the same with precomputed records in bigger chunks, where the kill lands in LMDB commits
 *    much more often;
 *  - two children add disjoint sets at the same time (and one common set) into a pool whose map
 *    starts at 64 KiB, so both grow it while the other writes: nothing is lost or doubled.
 * Seeds are fixed; set ICSTR_TEST_SEED to vary the kill moments. */
#include "check.h"
#include "tiny_pool_model.h"
#include "icstr_data.h"
#include "icstr_pool.h"

#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static const char *CHARS = TINY_POOL_CHARS;


/* crop i: label = i in base 36 (3 characters), a PNG that depends on i only */
static void label_of(long i, char out[4]) {
    out[0] = CHARS[(i / 1296) % 36];
    out[1] = CHARS[(i / 36) % 36];
    out[2] = CHARS[i % 36];
    out[3] = 0;
}

static long index_of(const char *label) {
    if (strlen(label) != 3) return -1;
    long v = 0;
    for (int k = 0; k < 3; k++) {
        const char *c = strchr(CHARS, label[k]);
        if (!c) return -1;
        v = v * 36 + (c - CHARS);
    }
    return v;
}

static unsigned char *draw_crop(long i, size_t *len) {
    char label[4];
    label_of(i, label);
    icstr_rng r;
    icstr_rng_seed(&r, (uint64_t)i * 31 + 7);
    unsigned char bg[3] = {(unsigned char)(150 + icstr_rng_below(&r, 100)), 200, (unsigned char)(150 + icstr_rng_below(&r, 100))};
    unsigned char fg[3] = {(unsigned char)icstr_rng_below(&r, 90), 20, 40};
    icstr_image im;
    if (icstr_image_alloc(48, 12, bg, &im)) exit(1);
    icstr_draw_text(&im, 2, 2, label, 1, fg);
    for (int k = 0; k < 24; k++) im.rgb[icstr_rng_below(&r, 48 * 12 * 3)] = (unsigned char)icstr_rng_below(&r, 256);
    unsigned char *png = NULL;
    if (icstr_image_encode_png(im.w, im.h, 3, im.rgb, &png, len)) exit(1);
    icstr_image_free(&im);
    return png;
}

/* Adds crops [first, last) in chunks of k (one icstr_pool_add each); writes a byte to fd after
 * every commit. Returns 0 or the failing status. */
static int add_crops(const char *path, icstr_model *m, long first, long last, int k, int fd) {
    icstr_pool *p;
    int rc = icstr_pool_open(path, m, 0, &p);
    if (rc) return rc;
    icstr_pool_item *items = calloc((size_t)k, sizeof *items);
    char (*labels)[4] = calloc((size_t)k, sizeof *labels);
    icstr_pool_add_result *res = calloc((size_t)k, sizeof *res);
    for (long c = first; c < last && !rc; c += k) {
        int n = 0;
        for (long i = c; i < last && n < k; i++, n++) {
            label_of(i, labels[n]);
            size_t len;
            unsigned char *png = draw_crop(i, &len);
            items[n] = (icstr_pool_item){png, len, labels[n], labels[n]};
        }
        rc = icstr_pool_add(p, items, n, "crash", res);
        for (int j = 0; j < n && !rc; j++)
            if (res[j].status < 0) rc = res[j].status;
        for (int j = 0; j < n; j++) free((void *)items[j].image);
        if (!rc && fd >= 0 && write(fd, "x", 1) != 1) rc = ICSTR_ERR_IO;
    }
    icstr_pool_close(p);
    free(items);
    free(labels);
    free(res);
    return rc;
}

typedef struct {
    long n, bad, min, max;
    int kind; /* 0 crops, 1 synthetic records */
    char seen[16384];
} check_acc;

static float synth_value(long i, int k) { return (float)((i * 131 + k * 17) % 1000) / 100.0f - 5.0f; }

/* Every record must be exactly what its index says. */
static int check_record(void *user, const icstr_pool_record *r) {
    check_acc *a = user;
    long i = index_of(r->label);
    int ok = i >= 0 && i < (long)sizeof a->seen && !a->seen[i];
    if (ok && a->kind == 0) {
        size_t len;
        unsigned char *png = draw_crop(i, &len);
        ok = r->image_len == len && !memcmp(r->image, png, len) && r->latents && r->embedding && r->M == 4;
        free(png);
    } else if (ok) {
        uint64_t b = (uint64_t)i;
        ok = r->image_len == 8 && !memcmp(r->image, &b, 8) && r->M == 16 && r->D == 64;
        for (int k = 0; ok && k < 16 * 64; k++) ok = r->latents[k] == synth_value(i, k);
    }
    if (!ok) {
        a->bad++;
        return 0;
    }
    a->seen[i] = 1;
    if (!a->n || i < a->min) a->min = i;
    if (!a->n || i > a->max) a->max = i;
    a->n++;
    return 0;
}

static uint64_t test_seed(void) {
    const char *s = getenv("ICSTR_TEST_SEED");
    return s ? strtoull(s, NULL, 10) : 20240607;
}

/* Checks the pool after a kill: decodes everything, returns the record count (or -1). */
static long verify(const char *path, icstr_model *m, int kind, int chunk) {
    icstr_pool *p;
    int rc = icstr_pool_open(path, m, ICSTR_POOL_RDONLY, &p);
    CHECK_MSG(rc == ICSTR_OK, "%s", icstr_last_error());
    if (rc) return -1;
    check_acc *a = calloc(1, sizeof *a);
    a->kind = kind;
    rc = icstr_pool_foreach(p, ICSTR_POOL_WANT_ALL, check_record, a);
    CHECK_MSG(rc == ICSTR_OK, "%s", icstr_last_error());
    CHECK_MSG(a->bad == 0, "%ld records do not hold what was added", a->bad);
    /* the first n crops of the sequence, a whole number of chunks */
    CHECK_MSG(a->n % chunk == 0, "%ld records is not a whole number of chunks of %d", a->n, chunk);
    CHECK(a->n == 0 || (a->min == 0 && a->max == a->n - 1));
    icstr_pool_info info;
    CHECK(icstr_pool_get_info(p, &info) == ICSTR_OK && info.count == a->n && info.next_id == (uint64_t)a->n + 1);
    CHECK(icstr_pool_search_count(p) == a->n); /* the embedding index agrees */
    long n = a->n;
    free(a);
    icstr_pool_close(p);
    return n;
}

static void test_kill_add(icstr_model *m, icstr_rng *g) {
    char path[300];
    snprintf(path, sizeof path, "%s/kill", tmp);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    meta.map_bytes = 64 << 10;
    CHECK(icstr_pool_create(path, &meta) == ICSTR_OK);
    enum { K = 6 };
    long have = 0;
    for (int round = 0; round < 3; round++) {
        int fds[2];
        if (pipe(fds)) return;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            int rc = add_crops(path, m, have, have + 1200, K, fds[1]);
            _exit(rc ? 3 : 0);
        }
        close(fds[1]);
        char b;
        CHECK(read(fds[0], &b, 1) == 1); /* the first chunk is in */
        usleep(1000 * icstr_rng_below(g, 150));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        close(fds[0]);
        CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
        long n = verify(path, m, 0, K);
        CHECK_MSG(n > have, "round %d: %ld records, %ld before", round, n, have);
        fprintf(stderr, "kill round %d: %ld crops in the pool\n", round, n);
        if (n > 0) have = n;
    }
}

/* Precomputed records (M 16, D 64) in chunks of 50: most of the child's time is in LMDB. */
static void test_kill_encoded(icstr_rng *g) {
    char path[300];
    snprintf(path, sizeof path, "%s/kill-enc", tmp);
    icstr_pool_meta meta;
    memset(&meta, 0, sizeof meta);
    memset(meta.fingerprint, 'b', 64);
    meta.M = 16;
    meta.D = 64;
    meta.map_bytes = 64 << 10;
    CHECK(icstr_pool_create(path, &meta) == ICSTR_OK);
    enum { K = 50 };
    long have = 0;
    for (int round = 0; round < 4; round++) {
        int fds[2];
        if (pipe(fds)) return;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            icstr_pool *p;
            if (icstr_pool_open(path, NULL, 0, &p)) _exit(3);
            icstr_pool_record *r = calloc(K, sizeof *r);
            float *lat = malloc((size_t)K * 16 * 64 * sizeof(float)), *emb = malloc((size_t)K * 64 * sizeof(float));
            char (*labels)[4] = calloc(K, sizeof *labels);
            uint64_t *img = calloc(K, sizeof *img);
            for (long c = have; c < have + 3000; c += K) {
                for (int j = 0; j < K; j++) {
                    long i = c + j;
                    label_of(i, labels[j]);
                    img[j] = (uint64_t)i;
                    for (int k = 0; k < 16 * 64; k++) lat[(size_t)j * 1024 + k] = synth_value(i, k);
                    for (int k = 0; k < 64; k++) emb[(size_t)j * 64 + k] = synth_value(i, k) + 5.5f;
                    r[j] = (icstr_pool_record){0, 0, 0, labels[j], "enc", 16, 64, emb + (size_t)j * 64,
                                               lat + (size_t)j * 1024, (unsigned char *)&img[j], 8};
                }
                if (icstr_pool_add_encoded(p, r, K, NULL)) _exit(3);
                if (write(fds[1], "x", 1) != 1) _exit(3);
            }
            _exit(0);
        }
        close(fds[1]);
        char b;
        CHECK(read(fds[0], &b, 1) == 1);
        usleep(1000 * icstr_rng_below(g, 60));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        close(fds[0]);
        CHECK(WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) == 0));
        long n = verify(path, NULL, 1, K);
        CHECK(n > have);
        fprintf(stderr, "kill (records) round %d: %ld records in the pool\n", round, n);
        if (n > 0) have = n;
    }
}

static void test_two_writers(icstr_model *m) {
    char path[300];
    snprintf(path, sizeof path, "%s/two", tmp);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    meta.map_bytes = 64 << 10;
    CHECK(icstr_pool_create(path, &meta) == ICSTR_OK);
    int go[2];
    if (pipe(go)) return;
    pid_t pids[2];
    for (int c = 0; c < 2; c++) {
        if ((pids[c] = fork()) == 0) {
            close(go[1]);
            char b;
            if (read(go[0], &b, 1) != 0) _exit(4); /* wait for the parent to close the pipe */
            /* the common crops 3000..3009 first (both race to add them), then each its own */
            int rc = add_crops(path, m, 3000, 3010, 5, -1);
            if (!rc) rc = add_crops(path, m, c * 60, c * 60 + 60, 5, -1);
            _exit(rc ? 3 : 0);
        }
    }
    close(go[0]);
    close(go[1]); /* both start now */
    for (int c = 0; c < 2; c++) {
        int st;
        waitpid(pids[c], &st, 0);
        CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer %d failed", c);
    }
    icstr_pool *p;
    CHECK(icstr_pool_open(path, m, 0, &p) == ICSTR_OK);
    check_acc *a = calloc(1, sizeof *a);
    CHECK(icstr_pool_foreach(p, ICSTR_POOL_WANT_ALL, check_record, a) == ICSTR_OK);
    CHECK(a->bad == 0);
    CHECK_MSG(a->n == 130, "%ld records, want 130", a->n);
    int all = 1;
    for (int i = 0; i < 120; i++) all &= a->seen[i];
    for (int i = 3000; i < 3010; i++) all &= a->seen[i];
    CHECK(all);
    icstr_pool_info info;
    CHECK(icstr_pool_get_info(p, &info) == ICSTR_OK && info.map_bytes > (64 << 10) && info.next_id == 131);
    free(a);
    icstr_pool_close(p);
}

int main(void) {
    icstr_set_threads(1);
    snprintf(tmp, sizeof tmp, "%s/icstr-pool-crash-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return 1;
    icstr_rng g;
    icstr_rng_seed(&g, test_seed());
    icstr_model *m = tiny_pool_model(1);
    double t0 = icstr_now_seconds();
    test_kill_add(m, &g);
    test_kill_encoded(&g);
    test_two_writers(m);
    fprintf(stderr, "test_pool_crash: %.2f s\n", icstr_now_seconds() - t0);
    icstr_model_free(m);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_pool_crash");
}
