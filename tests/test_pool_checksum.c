/* The pool against damage on disk: the CRC-32C against published vectors and a bit-by-bit
 * reference; a version 2 record refuses every single-bit flip (payload flips as a checksum
 * mismatch naming the id) while a version 1 record still reads; in a real pool, a flipped label
 * or latent byte and a flipped search entry are refused naming the record, and icstr_pool_check
 * reports each problem and still lists the intact records; a version 1 record with an unchecked
 * search entry written the old way still reads, searches and checks; an empty data.mdb, a
 * truncated one and meta pages with non-consecutive transaction ids are refused at open; a
 * record under the wrong key is refused by walks and reported as damage by retrieval, while a
 * record removed meanwhile is still left out quietly; and
 * the fault guard turns a fault or an abort inside a pool transaction into exit status 1 with a
 * message, but leaves a fault elsewhere alone. */
#include "check.h"
#include "pool_internal.h"
#include "tiny_pool_model.h"
#include "read_file.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static uint32_t crc_ref(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_crc(void) {
    /* RFC 3720 (iSCSI) B.4 and the usual check value */
    unsigned char z[32] = {0}, ff[32], inc[32];
    memset(ff, 0xff, 32);
    for (int i = 0; i < 32; i++) inc[i] = (unsigned char)i;
    CHECK(pool_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(pool_crc32c(0, z, 32) == 0x8A9136AAu);
    CHECK(pool_crc32c(0, ff, 32) == 0x62A8AB43u);
    CHECK(pool_crc32c(0, inc, 32) == 0x46DD794Eu);
    CHECK(pool_crc32c(0, "", 0) == 0);
    /* the table-driven code against the bit-by-bit one: every alignment and length, in pieces */
    unsigned char buf[300];
    icstr_rng g;
    icstr_rng_seed(&g, 5);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)icstr_rng_u64(&g);
    int same = 1;
    for (size_t at = 0; at < 9; at++)
        for (size_t n = 0; at + n <= sizeof buf; n += 1 + n / 8) {
            uint32_t whole = pool_crc32c(0, buf + at, n), cut = (uint32_t)(n / 3);
            uint32_t pieces = pool_crc32c(pool_crc32c(0, buf + at, cut), buf + at + cut, n - cut);
            if (whole != crc_ref(buf + at, n) || pieces != whole) same = 0;
        }
    CHECK(same);
}

/* a record of M = 2, D = 4 with unique bytes */
typedef struct {
    char label[32];
    float emb[4], lat[8];
    unsigned char img[40];
    icstr_pool_record r;
} rec_fixture;

static void make_rec(rec_fixture *f, int i) {
    snprintf(f->label, sizeof f->label, "label-%03d-q", i);
    for (int k = 0; k < 4; k++) f->emb[k] = (float)(1 + k + 10 * i) * (k % 2 ? -1.0f : 1.0f);
    for (int k = 0; k < 8; k++) f->lat[k] = 1000.25f * (float)(i + 1) + (float)k;
    for (int k = 0; k < 40; k++) f->img[k] = (unsigned char)(i * 41 + k * 7 + 3);
    f->r = (icstr_pool_record){.id = (uint64_t)i + 100, .time_added = 1700000000 + i, .label = f->label,
                               .tag = "t", .M = 2, .D = 4, .embedding = f->emb, .latents = f->lat,
                               .image = f->img, .image_len = 40};
    f->r.image_hash = icstr_pool_hash(f->img, 40);
}

static void test_record_flips(void) {
    rec_fixture f;
    make_rec(&f, 7);
    unsigned char *b;
    size_t n;
    CHECK(icstr_pool_record_encode(&f.r, &b, &n) == ICSTR_OK);
    /* every single-bit flip anywhere is refused; past the header, by the checksum, naming the id */
    int accepted = 0, unnamed = 0;
    for (size_t at = 0; at < n; at++)
        for (int bit = 0; bit < 8; bit++) {
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            c[at] ^= (unsigned char)(1u << bit);
            icstr_pool_record d;
            int rc = icstr_pool_record_decode(c, n, 0, &d);
            if (rc == ICSTR_OK) {
                accepted++;
                icstr_pool_record_free(&d);
            } else if (at >= 40 && at < n - 4 &&
                       (!strstr(icstr_last_error(), "checksum mismatch") || !strstr(icstr_last_error(), "record 107")) &&
                       !strstr(icstr_last_error(), "length") && !strstr(icstr_last_error(), "UTF-8") &&
                       !strstr(icstr_last_error(), "fit")) {
                unnamed++;
                fprintf(stderr, "flip at %zu: %s\n", at, icstr_last_error());
            }
            free(c);
        }
    CHECK_MSG(accepted == 0, "%d flipped records were accepted", accepted);
    CHECK(unnamed == 0);
    /* a payload flip says so and names the record */
    b[60] ^= 4;
    icstr_pool_record d;
    CHECK(icstr_pool_record_decode(b, n, 0, &d) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "record 107: checksum mismatch") != NULL, "%s", icstr_last_error());
    b[60] ^= 4;
    /* the same record as version 1 wrote it (no checksum) still reads, field for field */
    b[4] = 1;
    CHECK(icstr_pool_record_decode(b, n - 4, ICSTR_POOL_WANT_ALL, &d) == ICSTR_OK);
    CHECK(d.id == 107 && !strcmp(d.label, f.label) && d.image_len == 40 && !memcmp(d.image, f.img, 40));
    CHECK(d.latents && !memcmp(d.latents, f.lat, sizeof f.lat) && !memcmp(d.embedding, f.emb, sizeof f.emb));
    icstr_pool_record_free(&d);
    /* and a version 1 record with 4 extra bytes is not mistaken for version 2 */
    CHECK(icstr_pool_record_decode(b, n, 0, &d) == ICSTR_ERR_FORMAT);
    free(b);
}

/* ---- a real pool ---- */

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(b, 1, n, fp);
        fclose(fp);
    }
}

/* the first offset of needle in hay at or after from, or -1 */
static long find(const unsigned char *hay, size_t n, const void *needle, size_t k, size_t from) {
    for (size_t i = from; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k)) return (long)i;
    return -1;
}

static void copy_pool(const char *from, const char *to, unsigned char **data, size_t *n) {
    char f[600];
    mkdir(to, 0775);
    snprintf(f, sizeof f, "%s/data.mdb", from);
    *data = read_file(f, n);
    snprintf(f, sizeof f, "%s/data.mdb", to);
    spit(f, *data, *n);
}

typedef struct {
    long good, problems;
    uint64_t bad_id;
    char first[512];
} seen;

static int on_good(void *user, const icstr_pool_record *r) {
    (void)r;
    ((seen *)user)->good++;
    return 0;
}

static void on_problem(void *user, uint64_t id, const char *what) {
    seen *s = user;
    if (!s->problems++) {
        s->bad_id = id;
        snprintf(s->first, sizeof s->first, "%s", what);
    }
}

static int count_one(void *user, const icstr_pool_record *r) {
    (void)r;
    (*(long *)user)++;
    return 0;
}

#define NREC 5

/* Writes record 99 the way icstr wrote it before record version 2: a version 1 record and a
 * search entry of 4D bytes without a checksum. */
static void put_v1_record(const char *path) {
    rec_fixture f;
    make_rec(&f, 99);
    f.r.id = 99 + NREC + 1000;
    unsigned char *b;
    size_t n;
    CHECK(icstr_pool_record_encode(&f.r, &b, &n) == ICSTR_OK);
    b[4] = 1;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi rec, emb, hash, meta;
    CHECK(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, POOL_MAX_DBS);
    CHECK(mdb_env_open(env, path, 0, 0664) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    CHECK(!mdb_dbi_open(txn, "rec.0", 0, &rec) && !mdb_dbi_open(txn, "emb.0", 0, &emb) &&
          !mdb_dbi_open(txn, "hash", MDB_DUPSORT, &hash) && !mdb_dbi_open(txn, "meta", 0, &meta));
    unsigned char key[8], e[16], hk[8];
    pool_id_key(key, f.r.id);
    pool_put_f32s(e, f.emb, 4);
    pool_put_u64(hk, f.r.image_hash);
    MDB_val k = {8, key}, v = {n - 4, b}, ev = {16, e}, h = {8, hk}, hv = {8, key};
    CHECK(mdb_put(txn, rec, &k, &v, 0) == 0 && mdb_put(txn, emb, &k, &ev, 0) == 0 && mdb_put(txn, hash, &h, &hv, 0) == 0);
    CHECK(pool_meta_put_u64(txn, meta, "next_id", f.r.id + 1) == 0);
    CHECK(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    free(b);
}

static void test_pool_damage(void) {
    char good[300], bad[300];
    snprintf(good, sizeof good, "%s/good", tmp);
    icstr_pool_meta meta;
    memset(&meta, 0, sizeof meta);
    memset(meta.fingerprint, 'a', 64);
    meta.M = 2;
    meta.D = 4;
    CHECK(icstr_pool_create(good, &meta) == ICSTR_OK);
    icstr_pool *p;
    CHECK(icstr_pool_open(good, NULL, 0, &p) == ICSTR_OK);
    rec_fixture f[NREC];
    icstr_pool_record recs[NREC];
    for (int i = 0; i < NREC; i++) {
        make_rec(&f[i], i);
        recs[i] = f[i].r;
    }
    CHECK(icstr_pool_add_encoded(p, recs, NREC, NULL) == ICSTR_OK);
    icstr_pool_check_report rep;
    seen s = {0};
    CHECK(icstr_pool_check(p, on_good, on_problem, &s, &rep) == ICSTR_OK);
    CHECK(rep.records == NREC && rep.checksummed == NREC && rep.problems == 0 && s.good == NREC && rep.next_id_ok);
    icstr_pool_close(p);

    /* a flipped label byte: foreach refuses naming the record, check lists the other four */
    unsigned char *data;
    size_t n;
    snprintf(bad, sizeof bad, "%s/label", tmp);
    copy_pool(good, bad, &data, &n);
    long at = find(data, n, f[2].label, strlen(f[2].label), 0);
    CHECK(at > 0);
    if (at > 0) {
        data[at + 1] ^= 0x20; /* 'a' -> 'A': still a valid label */
        char dm[600];
        snprintf(dm, sizeof dm, "%s/data.mdb", bad);
        spit(dm, data, n);
        CHECK(icstr_pool_open(bad, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
        long count = 0;
        CHECK(icstr_pool_foreach(p, 0, count_one, &count) == ICSTR_ERR_FORMAT);
        CHECK_MSG(strstr(icstr_last_error(), "record 3") && strstr(icstr_last_error(), "checksum mismatch"), "%s",
                  icstr_last_error());
        icstr_pool_record d;
        CHECK(icstr_pool_get(p, 3, 0, &d) == ICSTR_ERR_FORMAT);
        CHECK(icstr_pool_get(p, 4, 0, &d) == ICSTR_OK);
        icstr_pool_record_free(&d);
        memset(&s, 0, sizeof s);
        CHECK(icstr_pool_check(p, on_good, on_problem, &s, &rep) == ICSTR_OK);
        CHECK(rep.records == NREC - 1 && rep.bad_records == 1 && rep.problems == 1 && s.good == NREC - 1);
        CHECK_MSG(s.bad_id == 3 && strstr(s.first, "checksum mismatch"), "%llu %s", (unsigned long long)s.bad_id, s.first);
        icstr_pool_close(p);
    }
    free(data);

    /* a flipped latent */
    snprintf(bad, sizeof bad, "%s/latent", tmp);
    copy_pool(good, bad, &data, &n);
    unsigned char lat[4];
    pool_put_f32(lat, f[4].lat[5]);
    at = find(data, n, lat, 4, 0);
    CHECK(at > 0);
    if (at > 0) {
        data[at] ^= 1;
        char dm[600];
        snprintf(dm, sizeof dm, "%s/data.mdb", bad);
        spit(dm, data, n);
        CHECK(icstr_pool_open(bad, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
        icstr_pool_record d;
        CHECK(icstr_pool_get(p, 5, ICSTR_POOL_WANT_LATENTS, &d) == ICSTR_ERR_FORMAT);
        CHECK(strstr(icstr_last_error(), "record 5") && strstr(icstr_last_error(), "checksum mismatch"));
        icstr_pool_close(p);
    }
    free(data);

    /* a flipped search entry: the entry is the embedding followed by its checksum */
    snprintf(bad, sizeof bad, "%s/entry", tmp);
    copy_pool(good, bad, &data, &n);
    /* stored normalised, as icstr_pool_add_encoded makes it */
    double ss = 0.0;
    for (int k = 0; k < 4; k++) ss += (double)f[1].emb[k] * f[1].emb[k];
    float inv = (float)(1.0 / sqrt(ss)), en[4];
    for (int k = 0; k < 4; k++) en[k] = f[1].emb[k] * inv;
    unsigned char e[20];
    pool_emb_put(e, en, 4);
    at = find(data, n, e, 20, 0);
    CHECK(at > 0);
    if (at > 0) {
        data[at + 3] ^= 0x40;
        char dm[600];
        snprintf(dm, sizeof dm, "%s/data.mdb", bad);
        spit(dm, data, n);
        CHECK(icstr_pool_open(bad, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
        long count = 0;
        CHECK(icstr_pool_foreach(p, ICSTR_POOL_WANT_ALL, count_one, &count) == ICSTR_OK && count == NREC);
        CHECK(icstr_pool_search_count(p) == ICSTR_ERR_FORMAT);
        CHECK_MSG(strstr(icstr_last_error(), "search entry of record 2"), "%s", icstr_last_error());
        memset(&s, 0, sizeof s);
        CHECK(icstr_pool_check(p, on_good, on_problem, &s, &rep) == ICSTR_OK);
        CHECK(rep.bad_entries == 1 && rep.problems == 1 && s.bad_id == 2 && rep.records == NREC - 1);
        icstr_pool_close(p);
    }
    free(data);

    /* truncated: to half (a page boundary), and to nothing (which LMDB must not re-initialise) */
    snprintf(bad, sizeof bad, "%s/cut", tmp);
    copy_pool(good, bad, &data, &n);
    char dm[600];
    snprintf(dm, sizeof dm, "%s/data.mdb", bad);
    CHECK(truncate(dm, (off_t)(n / 2 / 4096 * 4096)) == 0);
    CHECK(icstr_pool_open(bad, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "truncated") != NULL, "%s", icstr_last_error());
    CHECK(truncate(dm, 0) == 0);
    CHECK(icstr_pool_open(bad, NULL, 0, &p) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "empty") != NULL, "%s", icstr_last_error());
    struct stat st;
    CHECK(stat(dm, &st) == 0 && st.st_size == 0);
    free(data);

    /* the older meta page's transaction id raised: LMDB would silently read the older state */
    snprintf(bad, sizeof bad, "%s/meta", tmp);
    copy_pool(good, bad, &data, &n);
    uint32_t psize = pool_get_u32(data + 40);
    uint64_t t0 = pool_get_u64(data + 144), t1 = pool_get_u64(data + psize + 144);
    CHECK(t0 + 1 == t1 || t1 + 1 == t0);
    size_t older = t0 < t1 ? 144 : psize + 144;
    pool_put_u64(data + older, (t0 > t1 ? t0 : t1) + 64);
    snprintf(dm, sizeof dm, "%s/data.mdb", bad);
    spit(dm, data, n);
    CHECK(icstr_pool_open(bad, NULL, ICSTR_POOL_RDONLY, &p) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "meta pages") != NULL, "%s", icstr_last_error());
    free(data);

    /* a version 1 record and an unchecked search entry, as older icstr wrote them */
    put_v1_record(good);
    CHECK(icstr_pool_open(good, NULL, 0, &p) == ICSTR_OK);
    uint64_t v1 = 99 + NREC + 1000;
    icstr_pool_record d;
    CHECK(icstr_pool_get(p, v1, ICSTR_POOL_WANT_ALL, &d) == ICSTR_OK);
    CHECK(!strcmp(d.label, "label-099-q") && d.image_len == 40);
    icstr_pool_record_free(&d);
    CHECK(icstr_pool_search_count(p) == NREC + 1);
    float q[4] = {991, -992, 993, -994};
    uint64_t id;
    float score;
    int found;
    CHECK(icstr_pool_search(p, q, 1, 1, &id, &score, &found) == ICSTR_OK && found == 1 && id == v1);
    memset(&s, 0, sizeof s);
    CHECK(icstr_pool_check(p, on_good, on_problem, &s, &rep) == ICSTR_OK);
    CHECK_MSG(rep.records == NREC + 1 && rep.checksummed == NREC && rep.problems == 0, "%ld %ld %ld: %s", rep.records,
              rep.checksummed, rep.problems, s.first);
    /* adding keeps working next to it, in version 2 */
    rec_fixture extra;
    make_rec(&extra, 50);
    icstr_pool_add_result res;
    CHECK(icstr_pool_add_encoded(p, &extra.r, 1, &res) == ICSTR_OK && res.status == ICSTR_POOL_ADDED);
    CHECK(icstr_pool_check(p, NULL, NULL, NULL, &rep) == ICSTR_OK && rep.checksummed == NREC + 1 && !rep.problems);
    icstr_pool_close(p);
}

/* ---- a record under the wrong key: walks refuse it, retrieval calls it damage ---- */

static void test_misplaced(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/misplaced", tmp);
    icstr_model *m = tiny_pool_model(3);
    icstr_pool_meta meta;
    icstr_pool_meta_from_model(m, NULL, &meta);
    CHECK(icstr_pool_create(path, &meta) == ICSTR_OK);
    enum { N = 4, M = 4, D = 16 };
    static float emb[N][D], lat[N][M * D];
    static unsigned char img[N][32];
    char labels[N][8];
    icstr_pool_record r[N];
    icstr_rng g;
    icstr_rng_seed(&g, 11);
    for (int i = 0; i < N; i++) {
        snprintf(labels[i], sizeof labels[i], "w%dx", i);
        for (int k = 0; k < D; k++) emb[i][k] = icstr_rng_normal(&g);
        for (int k = 0; k < M * D; k++) lat[i][k] = icstr_rng_normal(&g);
        for (int k = 0; k < 32; k++) img[i][k] = (unsigned char)icstr_rng_u64(&g);
        r[i] = (icstr_pool_record){.label = labels[i], .tag = "", .M = M, .D = D, .embedding = emb[i],
                                   .latents = lat[i], .image = img[i], .image_len = 32};
    }
    icstr_pool *p;
    CHECK(icstr_pool_open(path, m, 0, &p) == ICSTR_OK);
    CHECK(icstr_pool_add_encoded(p, r, N, NULL) == ICSTR_OK);
    /* a record removed since the matrix was loaded (with its search entry) is left out quietly */
    CHECK(icstr_pool_search_count(p) == N);
    icstr_pool *other;
    uint64_t gone = 4;
    long removed = 0;
    CHECK(icstr_pool_open(path, NULL, 0, &other) == ICSTR_OK);
    CHECK(icstr_pool_remove(other, &gone, 1, NULL, &removed) == ICSTR_OK && removed == 1);
    icstr_pool_close(other);
    icstr_pool_prompts pp;
    CHECK(icstr_pool_prompts_init(&pp, p, 1, 3) == ICSTR_OK);
    CHECK(icstr_pool_prompts_fill(p, emb[3], 1, &pp) == ICSTR_OK);
    CHECK(pp.ctx[0].n_prompts == 2);
    icstr_pool_close(p);
    /* record 2 moved to key 77 behind the pool's back, its search entry left in place */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi rec;
    CHECK(mdb_env_create(&env) == 0);
    mdb_env_set_maxdbs(env, POOL_MAX_DBS);
    CHECK(mdb_env_open(env, path, 0, 0664) == 0);
    CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0 && mdb_dbi_open(txn, "rec.0", 0, &rec) == 0);
    unsigned char k2[8], k77[8];
    pool_id_key(k2, 2);
    pool_id_key(k77, 77);
    MDB_val a = {8, k2}, b = {8, k77}, v;
    CHECK(mdb_get(txn, rec, &a, &v) == 0);
    unsigned char *copy = malloc(v.mv_size);
    memcpy(copy, v.mv_data, v.mv_size);
    MDB_val c = {v.mv_size, copy};
    CHECK(mdb_del(txn, rec, &a, NULL) == 0 && mdb_put(txn, rec, &b, &c, 0) == 0 && mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    free(copy);
    CHECK(icstr_pool_open(path, m, ICSTR_POOL_RDONLY, &p) == ICSTR_OK);
    long count = 0;
    CHECK(icstr_pool_foreach(p, 0, count_one, &count) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "record 2 is stored under the key 77"), "%s", icstr_last_error());
    CHECK(icstr_pool_prompts_fill(p, emb[1], 1, &pp) == ICSTR_ERR_FORMAT);
    CHECK_MSG(strstr(icstr_last_error(), "record 2 has a search entry but no record"), "%s", icstr_last_error());
    icstr_pool_check_report rep;
    CHECK(icstr_pool_check(p, NULL, NULL, NULL, &rep) == ICSTR_OK);
    CHECK(rep.bad_records == 1 && rep.bad_entries == 1 && rep.problems >= 2);
    icstr_pool_prompts_free(&pp);
    icstr_pool_close(p);
    icstr_model_free(m);
}

/* ---- the fault guard ---- */

/* mode 0: a fault outside any pool transaction; 1: inside one; 2: abort() inside one */
static int run_child(const char *pool, int mode, char *err, size_t cap) {
    char ef[300];
    snprintf(ef, sizeof ef, "%s/guard.err", tmp);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(ef, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        volatile unsigned char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        icstr_pool_guard_faults();
        icstr_pool *p;
        if (icstr_pool_open(pool, NULL, ICSTR_POOL_RDONLY, &p)) _exit(3);
        MDB_txn *txn;
        if (mode && pool_txn_begin(p, 1, &txn)) _exit(4);
        if (mode == 2) abort(); /* as LMDB's failed assertions do */
        bad[0] = 1;             /* a fault, as LMDB would take on a damaged page */
        _exit(5);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    size_t n = 0;
    unsigned char *b = read_file(ef, &n);
    snprintf(err, cap, "%.*s", b ? (int)n : 0, b ? (const char *)b : "");
    free(b);
    return status;
}

static void test_guard(void) {
    char pool[300], err[4096];
    snprintf(pool, sizeof pool, "%s/good", tmp);
    int st = run_child(pool, 1, err, sizeof err);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %#x: %s", st, err);
    CHECK_MSG(strstr(err, "icstr: the pool ") && strstr(err, "/good is corrupt") && strstr(err, "SIGSEGV"), "%s", err);
    st = run_child(pool, 2, err, sizeof err);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 1 && strstr(err, "SIGABRT"), "status %#x: %s", st, err);
    /* outside a pool transaction the fault is not ours: it still kills (or the sanitizer reports) */
    st = run_child(pool, 0, err, sizeof err);
#if defined(__SANITIZE_ADDRESS__)
    CHECK_MSG(!(WIFEXITED(st) && WEXITSTATUS(st) == 5) && !strstr(err, "is corrupt"), "status %#x: %s", st, err);
#else
    CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV && !strstr(err, "is corrupt"), "status %#x: %s", st, err);
#endif
}

int main(void) {
    icstr_log_set_level(ICSTR_LOG_ERROR);
    snprintf(tmp, sizeof tmp, "/tmp/icstr-poolcrc-XXXXXX");
    if (!mkdtemp(tmp)) return 1;
    test_crc();
    test_record_flips();
    test_pool_damage();
    test_misplaced();
    test_guard();
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish("test_pool_checksum");
}
