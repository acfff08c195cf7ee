/* icstr: the command-line program. Dispatches to one function per subcommand (recognizer/cli.h).
 * Results go to stdout; logs and progress to stderr; exit 0 ok, 1 runtime failure, 2 usage. */
#include "cli.h"
#include "icstr_core.h"
#include "icstr_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ICSTR_VERSION "0.1.0"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"recognize", icstr_cmd_recognize, "read the text of word crops (files, folders, LMDBs, stdin)"},
    {"eval", icstr_cmd_eval, "accuracy and 1-NED of a model on a labelled set"},
    {"pool", icstr_cmd_pool, "the prompt pool: create, add, ls, rm, stats, export, reembed"},
    {"bench", icstr_cmd_bench, "benchmarks: accuracy, speed, peers side by side, report with plots"},
    {"train", icstr_cmd_train, "train the recognizer from a YAML config (resumes exactly)"},
    {"selfcheck", icstr_cmd_selfcheck, "check that OpenBLAS, the RNG and threads work here"},
    {"data", icstr_cmd_data, "datasets: pack a folder to LMDB, info, contact sheets, synth"},
};

static void print_usage(FILE *f) {
    fprintf(f,
            "icstr %s: in-context scene-text recognizer\n\n"
            "usage: icstr COMMAND [ARGS...]    (icstr COMMAND --help for its options)\n\ncommands:\n",
            ICSTR_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-12s %s\n", "version", "print the version");
    fprintf(f, "\nenvironment:\n"
               "  ICSTR_MODEL      model file used when --model is not given\n"
               "  ICSTR_PRECISION  matrix products when reading crops: auto (default: bf16 where the\n"
               "                   CPU has AVX512_BF16, as in training, else fp32), bf16 or fp32\n"
               "                   (exact float; slower). icstr train follows its config's bf16 key.\n"
               "  OPENBLAS_CORETYPE OpenBLAS's kernels (SkylakeX, Haswell, ...); unset, icstr names them\n"
               "                   where OpenBLAS does not know the CPU and would take its generic\n"
               "                   Prescott ones (icstr selfcheck says which are in use)\n");
}

/* ICSTR_PRECISION: 0 ok, -1 not a known value */
static int apply_precision(void) {
    const char *p = getenv("ICSTR_PRECISION");
    if (!p || !*p || !strcmp(p, "auto")) {
        icstr_ops_set_bf16(!strcmp(icstr_ops_bf16_path(), "avx512bf16"));
        return 0;
    }
    if (strcmp(p, "bf16") && strcmp(p, "fp32")) return -1;
    icstr_ops_set_bf16(!strcmp(p, "bf16"));
    return 0;
}

int main(int argc, char **argv) {
    icstr_tune_runtime(argv); /* OpenMP's wait policy, OpenBLAS's kernels: may run icstr again */
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (apply_precision()) {
        fprintf(stderr, "icstr: ICSTR_PRECISION must be auto, bf16 or fp32, not '%s'\n", getenv("ICSTR_PRECISION"));
        return 2;
    }
    /* a damaged pool file ends in a message naming it, not a bare SIGSEGV (pool/pool_guard.c) */
    icstr_pool_guard_faults();
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        print_usage(stdout);
        return 0;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("icstr %s\n", ICSTR_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "icstr: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return 2;
}
