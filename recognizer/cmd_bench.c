/* `icstr bench`: benchmarks a user can run: accuracy on labelled sets under both protocols,
 * speed (latency on one thread, throughput on all, memory, FLOP efficiency), the peers
 * (Tesseract, PP-OCRv4) on the same crops with the same scorer, and a report with plots. */
#include "cli.h"
#include "cmd_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr bench COMMAND [options]   (icstr bench COMMAND --help for its options)\n"
    "\n"
    "  accuracy   word accuracy and 1-NED per set and overall, standard and cased protocols,\n"
    "             per-crop predictions, a contact sheet of misreads (--errors); also scores\n"
    "             another system's predictions (--predictions-in)\n"
    "  speed      model load time, ms per crop on one thread (median, p95), crops/s on all\n"
    "             threads, peak memory, FLOPs per crop and efficiency vs this machine's sgemm\n"
    "  peers      runs peer recognizers (e.g. Tesseract, PP-OCRv4) on the same decoded crops and\n"
    "             scores them with the same scorer (bench/run_peers.sh finds the installed ones)\n"
    "  report     Markdown table, CSV and SVG plots (accuracy against ms per crop) of a results\n"
    "             folder\n"
    "\n"
    "Every command writes into --out DIR (default " ICSTR_BENCH_DEFAULT_OUT "): results-SYSTEM.csv,\n"
    "speed-SYSTEM.{csv,json}, predictions and sheets; `icstr bench report DIR` gathers them.\n";

int icstr_cmd_bench(int argc, char **argv) {
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "--help") || !strcmp(c, "-h") || !strcmp(c, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(c, "accuracy")) return icstr_bench_accuracy(argc - 1, argv + 1);
    if (!strcmp(c, "speed")) return icstr_bench_speed(argc - 1, argv + 1);
    if (!strcmp(c, "peers")) return icstr_bench_peers(argc - 1, argv + 1);
    if (!strcmp(c, "report")) return icstr_bench_report(argc - 1, argv + 1);
    fprintf(stderr, "icstr bench: unknown command '%s'\n\n%s", c, usage);
    return 2;
}
