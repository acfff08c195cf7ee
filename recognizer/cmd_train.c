/* `icstr train --config FILE`: runs (or resumes) a training run described by a YAML config. */
#include "cli.h"
#include "train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: icstr train --config FILE [--fresh] [--steps-now N] [--out DIR] [--threads N]\n"
    "                   [--show-batch PNG]\n"
    "\n"
    "Trains the recognizer as the YAML config says (configs/README.md documents every key).\n"
    "Resumes from OUT/checkpoint.safetensors when it exists, exactly where it stopped.\n"
    "\n"
    "  --config FILE   the training config (required)\n"
    "  --fresh         ignore an existing checkpoint and start from step 0\n"
    "  --steps-now N   stop after N steps in this process (the schedule still spans train.steps)\n"
    "  --out DIR       override train.out_dir\n"
    "  --threads N     override train.threads (0 = all cores)\n"
    "  --show-batch PNG  write the first batch as the model sees it (with labels) and exit\n"
    "\n"
    "Writes OUT/log.csv (a row every train.log_every steps), OUT/config.yaml (the full config),\n"
    "OUT/checkpoint.safetensors (weights, AdamW moments, step) and OUT/model.safetensors (weights,\n"
    "half precision, usable with icstr recognize --model).\n";

int icstr_cmd_train(int argc, char **argv) {
    const char *config = NULL, *out = NULL, *show = NULL;
    int fresh = 0, threads = -1;
    long steps_now = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--config") && i + 1 < argc) {
            config = argv[++i];
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--show-batch") && i + 1 < argc) {
            show = argv[++i];
        } else if (!strcmp(a, "--fresh")) {
            fresh = 1;
        } else if (!strcmp(a, "--steps-now") && i + 1 < argc) {
            char *end;
            steps_now = strtol(argv[++i], &end, 10);
            if (*end || steps_now <= 0) {
                fprintf(stderr, "icstr train: --steps-now wants a positive integer\n");
                return 2;
            }
        } else if (!strcmp(a, "--threads") && i + 1 < argc) {
            char *end;
            threads = (int)strtol(argv[++i], &end, 10);
            if (*end || threads < 0) {
                fprintf(stderr, "icstr train: --threads wants a non-negative integer\n");
                return 2;
            }
        } else {
            fprintf(stderr, "icstr train: unexpected argument '%s'\n\n%s", a, usage);
            return 2;
        }
    }
    if (!config) {
        fprintf(stderr, "icstr train: --config is required\n\n%s", usage);
        return 2;
    }
    icstr_model_config mc = icstr_model_default_config();
    icstr_train_config tc = icstr_train_default_config();
    if (icstr_config_load(config, &mc, &tc)) {
        fprintf(stderr, "icstr train: %s\n", icstr_last_error());
        return 1;
    }
    if (out) {
        if (strlen(out) >= sizeof tc.out_dir) {
            fprintf(stderr, "icstr train: --out path too long\n");
            return 2;
        }
        strcpy(tc.out_dir, out);
    }
    if (threads >= 0) tc.threads = threads;
    if (show) {
        if (icstr_train_show_batch(&mc, &tc, 0, show)) {
            fprintf(stderr, "icstr train: %s\n", icstr_last_error());
            return 1;
        }
        return 0;
    }
    icstr_train_options opt = {.resume = !fresh, .max_steps_now = steps_now, .quiet = 0};
    return icstr_train_run(&mc, &tc, &opt) ? 1 : 0;
}
