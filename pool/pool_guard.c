/* An opt-in guard for programs (the icstr CLI) against pool files corrupted on disk. LMDB trusts
 * the pages it maps: a flipped node offset in a branch or leaf page can send it outside its page
 * and kill the process with SIGSEGV, a damaged page can fail one of its internal assertions
 * (abort, SIGABRT), and a file cut shorter while open raises SIGBUS (all seen in
 * bench/pool_faults.sh's corruption campaign with LMDB 0.9.24). The pool refuses what it can
 * check (record and search entry checksums, lengths, a truncated file, disagreeing meta pages);
 * for the rest, this guard turns a fault (or an abort) raised while the thread is inside a pool
 * transaction into a message naming the pool and exit status 1. A fault anywhere else is left to what was
 * installed before (the default action, or a sanitizer's report): real bugs still crash.
 * This is the one place where the library may end the process, and only when a program asks. */
#include "pool_internal.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static struct sigaction previous[3]; /* SIGSEGV, SIGBUS, SIGABRT */

static int slot(int sig) { return sig == SIGSEGV ? 0 : sig == SIGBUS ? 1 : 2; }

static void say(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fault(int sig, siginfo_t *info, void *uctx) {
    (void)uctx;
    const char *path = icstr_pool_fault_context();
    /* a fault of this thread's own, or abort() called by this process (LMDB's failed assertions) */
    int ours = info && (sig == SIGABRT ? info->si_pid == getpid() : info->si_code > 0);
    if (path && ours) {
        /* only async-signal-safe calls from here on */
        say("icstr: the pool ");
        say(path);
        say(sig == SIGBUS    ? " is corrupt: reading its data.mdb faulted (SIGBUS: the file is shorter than its pages say)"
            : sig == SIGSEGV ? " is corrupt: reading its data.mdb faulted (SIGSEGV: a damaged LMDB page)"
                             : " is corrupt: LMDB stopped on a failed internal check (SIGABRT: a damaged LMDB page)");
        say("; nothing was changed. Restore a copy of the pool, or run `icstr pool check` on it.\n");
        _exit(1);
    }
    /* not ours: back to what was there, and let the fault happen again (or re-raise a sent one) */
    sigaction(sig, &previous[slot(sig)], NULL);
    if (!info || info->si_code <= 0) raise(sig);
}

int icstr_pool_guard_faults(void) {
    static int installed;
    if (installed) return ICSTR_OK;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous[0]) || sigaction(SIGBUS, &sa, &previous[1]) ||
        sigaction(SIGABRT, &sa, &previous[2]))
        return icstr_fail(ICSTR_ERR_INTERNAL, "pool: cannot install the fault guard");
    installed = 1;
    return ICSTR_OK;
}
