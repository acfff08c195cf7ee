/* libFuzzer target: the STR LMDB reader (num-samples parsing and its bound by the number of
 * entries, missing keys, odd labels and images). The input is a list of records, each one
 * key/value pair written with LMDB's own API into a scratch environment, which is then opened
 * and read back through icstr_dataset_*. Record: u8 kind, u8 n, u16 LE len, len value bytes;
 * kind % 4: 0 "num-samples", 1 "image-%09d" (index n), 2 "label-%09d" (index n), 3 a raw key
 * made of the value's first n bytes. The LMDB file itself is not fuzzed: LMDB trusts its file. */
#include "icstr_core.h"
#include "icstr_data.h"

#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char lmdb_dir[64], lmdb_file[96];

static void lmdb_cleanup(void) {
    unlink(lmdb_file);
    rmdir(lmdb_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    icstr_log_set_level(ICSTR_LOG_ERROR);
    /* memory-backed when possible: every input writes a fresh environment */
    snprintf(lmdb_dir, sizeof lmdb_dir, "/dev/shm/icstr-fuzz-lmdb-XXXXXX");
    if (!mkdtemp(lmdb_dir)) {
        snprintf(lmdb_dir, sizeof lmdb_dir, "/tmp/icstr-fuzz-lmdb-XXXXXX");
        if (!mkdtemp(lmdb_dir)) abort();
    }
    snprintf(lmdb_file, sizeof lmdb_file, "%s/data.mdb", lmdb_dir);
    atexit(lmdb_cleanup);
    return 0;
}

static int lmdb_build(const uint8_t *data, size_t size) {
    unlink(lmdb_file);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    if (mdb_env_create(&env)) return -1;
    int rc = mdb_env_set_mapsize(env, 4 << 20);
    if (!rc) rc = mdb_env_open(env, lmdb_dir, MDB_NOSYNC | MDB_NOLOCK, 0644);
    if (!rc) rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc) {
        mdb_env_close(env);
        return -1;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dbi))) {
        mdb_txn_abort(txn);
        mdb_env_close(env);
        return -1;
    }
    size_t pos = 0;
    while (pos + 4 <= size) {
        int kind = data[pos] % 4, n = data[pos + 1];
        size_t len = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
        pos += 4;
        if (len > size - pos) len = size - pos;
        const uint8_t *v = data + pos;
        pos += len;
        char key[64];
        MDB_val k, val;
        if (kind == 0) {
            k.mv_data = "num-samples";
            k.mv_size = 11;
        } else if (kind < 3) {
            k.mv_size = (size_t)snprintf(key, sizeof key, "%s-%09d", kind == 1 ? "image" : "label", n);
            k.mv_data = key;
        } else {
            size_t kl = (size_t)n < len ? (size_t)n : len;
            k.mv_data = (void *)v;
            k.mv_size = kl;
            v += kl;
            len -= kl;
        }
        val.mv_data = (void *)v;
        val.mv_size = len;
        (void)mdb_put(txn, dbi, &k, &val, 0); /* an empty key is refused by LMDB: fine */
    }
    rc = mdb_txn_commit(txn);
    mdb_env_close(env);
    return rc ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (lmdb_build(data, size)) return 0;
    icstr_dataset *ds;
    if (icstr_dataset_open(lmdb_dir, &ds)) return 0;
    if (icstr_dataset_kind(ds) != ICSTR_DATASET_LMDB) abort();
    long n = icstr_dataset_count(ds);
    if (n < 0 || (size_t)n > size / 8) abort(); /* each sample needs two records of >= 4 bytes */
    for (long i = 0; i < n; i++) {
        const unsigned char *bytes = NULL;
        size_t len = 0;
        const char *label = NULL, *name = NULL;
        if (icstr_dataset_get(ds, i, &bytes, &len, &label, &name) == ICSTR_OK && (!bytes || !label || !name))
            abort();
        if (icstr_dataset_get(ds, i, NULL, NULL, &label, NULL) == ICSTR_OK && !label) abort();
    }
    if (icstr_dataset_get(ds, n, NULL, NULL, NULL, NULL) != ICSTR_ERR_RANGE) abort();
    icstr_dataset_close(ds);
    return 0;
}
