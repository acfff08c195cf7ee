/* One LMDB environment per pool per process. LMDB forbids opening one environment twice in a
 * process: closing the second copy drops the first one's reader slots (MDB_BAD_RSLOT) and its
 * fcntl locks. So handles on the same pool directory share one MDB_env, counted by reference,
 * and a mutex per environment keeps one transaction open at a time in the process, which also
 * makes growing the map (only allowed with no transaction open) safe. Entries made before a
 * fork() are never used by the child (LMDB environments must not cross fork). The lock also marks
 * the thread as reading that pool's file, for icstr_pool_fault_context (pool_guard.c). */
#include "pool_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct pool_env {
    MDB_env *env;
    char *path;            /* for fault messages */
    dev_t dev;
    ino_t ino;
    pid_t pid;
    int refs;
    int rdonly;            /* opened with MDB_RDONLY (no write access to the files) */
    pthread_mutex_t lock;  /* held while a transaction of this process is open */
    struct pool_env *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pool_env *registry;
/* the pool whose mapped file this thread may be reading (a transaction is open), else NULL */
static _Thread_local const char *reading;

const char *icstr_pool_fault_context(void) { return reading; }

static int open_env(const char *path, unsigned flags, size_t map_bytes, MDB_env **out) {
    MDB_env *env;
    int mrc = mdb_env_create(&env);
    if (mrc) return mrc;
    /* a new environment starts at map_bytes; an existing one keeps the size stored in it */
    if (!(mrc = mdb_env_set_maxdbs(env, POOL_MAX_DBS)) && (!map_bytes || !(mrc = mdb_env_set_mapsize(env, map_bytes))))
        mrc = mdb_env_open(env, path, flags | MDB_NOTLS, 0664);
    if (mrc) {
        mdb_env_close(env);
        return mrc;
    }
    *out = env;
    return 0;
}

int pool_env_acquire(const char *path, int rdonly, size_t map_bytes, pool_env **out) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st)) return icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
    pid_t pid = getpid();
    pthread_mutex_lock(&registry_lock);
    int rc = ICSTR_OK;
    pool_env *e = registry;
    for (; e; e = e->next)
        if (e->pid == pid && e->dev == st.st_dev && e->ino == st.st_ino) break;
    if (e) {
        if (e->rdonly && !rdonly)
            rc = icstr_fail(ICSTR_ERR_ARG, "pool %s is open read-only (no write access) elsewhere in this process", path);
        else
            e->refs++;
    } else if (!(e = calloc(1, sizeof *e))) {
        rc = icstr_fail(ICSTR_ERR_NOMEM, "pool %s", path);
    } else {
        int mrc = (e->path = strdup(path)) ? open_env(path, 0, map_bytes, &e->env) : ENOMEM;
        if ((mrc == EACCES || mrc == EROFS) && rdonly) {
            mrc = open_env(path, MDB_RDONLY, 0, &e->env);
            e->rdonly = 1;
        }
        if (mrc) {
            rc = icstr_fail(ICSTR_ERR_DB, "pool %s: open: %s", path, mdb_strerror(mrc));
            free(e->path);
            free(e);
            e = NULL;
        } else {
            e->dev = st.st_dev;
            e->ino = st.st_ino;
            e->pid = pid;
            e->refs = 1;
            pthread_mutex_init(&e->lock, NULL);
            e->next = registry;
            registry = e;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (!rc) *out = e;
    return rc;
}

void pool_env_release(pool_env *e) {
    if (!e) return;
    pthread_mutex_lock(&registry_lock);
    if (--e->refs == 0) {
        for (pool_env **pp = &registry; *pp; pp = &(*pp)->next)
            if (*pp == e) {
                *pp = e->next;
                break;
            }
        mdb_env_close(e->env);
        pthread_mutex_destroy(&e->lock);
        free(e->path);
        free(e);
    }
    pthread_mutex_unlock(&registry_lock);
}

MDB_env *pool_env_mdb(const pool_env *e) { return e->env; }
void pool_env_lock(pool_env *e) {
    pthread_mutex_lock(&e->lock);
    reading = e->path;
}
void pool_env_unlock(pool_env *e) {
    reading = NULL;
    pthread_mutex_unlock(&e->lock);
}
