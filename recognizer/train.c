/* The training loop: batches from the deterministic data stream, forward/backward, clipping,
 * AdamW with warm-up + cosine, a log line and a CSV row every log_every steps (with the greedy
 * accuracy on the batch, the number that reveals the "reads every crop as one word" plateau),
 * validation on held-out real crops, and checkpoints that resume exactly. */
#include "train.h"
#include "train_internal.h"
#include "train_batch.h"
#include "icstr_data.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Greedy exact-match accuracy (case-sensitive, the training target) of n crops. */
static int greedy_accuracy(icstr_model *m, const float *images, const char *labels, int n,
                           float *acc) {
    char *texts = malloc((size_t)n * ICSTR_LABEL_CAP);
    char **ptrs = malloc((size_t)n * sizeof *ptrs);
    float *conf = malloc((size_t)n * sizeof *conf);
    if (!texts || !ptrs || !conf) {
        free(texts);
        free(ptrs);
        free(conf);
        return icstr_fail(ICSTR_ERR_NOMEM, "greedy accuracy buffers");
    }
    for (int i = 0; i < n; i++) ptrs[i] = texts + (size_t)i * ICSTR_LABEL_CAP;
    icstr_decode_params dp = icstr_decode_default_params();
    int rc = icstr_model_recognize(m, images, n, &dp, ptrs, ICSTR_LABEL_CAP, conf);
    int right = 0;
    if (!rc)
        for (int i = 0; i < n; i++) right += !strcmp(ptrs[i], labels + (size_t)i * ICSTR_LABEL_CAP);
    *acc = n ? (float)right / (float)n : 0.0f;
    free(texts);
    free(ptrs);
    free(conf);
    return rc;
}

/* Validation: greedy accuracy over the held-out real crops, in chunks of the batch size. */
static int validate(icstr_model *m, icstr_train_data *td, icstr_train_batch *tb, const icstr_model_config *mc,
                    float *acc_out) {
    int n = icstr_train_data_val_count(td), right_total = 0;
    size_t img = (size_t)3 * mc->img_h * mc->img_w;
    for (int start = 0; start < n; start += tb->B) {
        int count = n - start < tb->B ? n - start : tb->B;
        for (int i = 0; i < count; i++) {
            int rc = icstr_train_data_val_sample(td, start + i, tb->queries + (size_t)i * img,
                                                 tb->query_labels + (size_t)i * ICSTR_LABEL_CAP, ICSTR_LABEL_CAP);
            if (rc) return rc;
        }
        float acc;
        int rc = greedy_accuracy(m, tb->queries, tb->query_labels, count, &acc);
        if (rc) return rc;
        right_total += (int)lroundf(acc * (float)count);
    }
    *acc_out = n ? (float)right_total / (float)n : NAN;
    return ICSTR_OK;
}

/* CHW floats in [-1, 1] back to an 8-bit RGB image (for looking at what the model sees). */
static int input_to_image(const float *chw, int H, int W, icstr_image *out) {
    int rc = icstr_image_alloc(W, H, NULL, out);
    if (rc) return rc;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float v = (chw[((size_t)c * H + y) * W + x] * 0.5f + 0.5f) * 255.0f;
                out->rgb[((size_t)y * W + x) * 3 + c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5f);
            }
    return ICSTR_OK;
}

int icstr_train_show_batch(const icstr_model_config *mc, const icstr_train_config *tc, long step,
                           const char *png_path) {
    icstr_model *m = NULL;
    icstr_train_data *td = NULL;
    icstr_sheet *sheet = NULL;
    icstr_train_batch tb = {0};
    int rc;
    icstr_set_threads(tc->threads);
    if ((rc = icstr_model_create(mc, 0, &m)) || (rc = icstr_train_data_open(m, tc, &td)) ||
        (rc = icstr_train_batch_alloc(&tb, mc, tc->batch_size, tc->prompts_max)) ||
        (tc->prompts_max > 0 && (rc = icstr_train_context_prepare(td, m))) ||
        (rc = icstr_train_batch_fill(&tb, td, m, step)))
        goto done;
    icstr_sheet_params sp = icstr_sheet_default_params();
    if ((rc = icstr_sheet_create(&sp, tb.n_images, &sheet))) goto done;
    for (int b = 0; b < tb.n_images; b++) {
        icstr_image im;
        if ((rc = input_to_image(tb.images + (size_t)b * tb.img, mc->img_h, mc->img_w, &im))) goto done;
        rc = icstr_sheet_add(sheet, &im, tb.labels + (size_t)b * ICSTR_LABEL_CAP, NULL);
        icstr_image_free(&im);
        if (rc) goto done;
    }
    rc = icstr_sheet_write_png(sheet, png_path);
done:
    icstr_sheet_free(sheet);
    icstr_train_batch_free(&tb);
    icstr_train_data_close(td);
    icstr_model_free(m);
    return rc;
}

/* Training hours already spent by a resumed run: the last row's `hours` column of log.csv. */
static double logged_hours(const char *csv_path) {
    FILE *f = fopen(csv_path, "r");
    if (!f) return 0.0;
    char line[512], last[512] = "";
    while (fgets(line, sizeof line, f)) memcpy(last, line, sizeof last);
    fclose(f);
    const char *comma = strrchr(last, ',');
    double h = comma ? atof(comma + 1) : 0.0;
    return h > 0.0 ? h : 0.0;
}

static int make_dir(const char *path) {
    char tmp[ICSTR_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) && errno != EEXIST) return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) && errno != EEXIST) return icstr_fail(ICSTR_ERR_IO, "mkdir %s: %s", tmp, strerror(errno));
    return ICSTR_OK;
}

int icstr_train_run(const icstr_model_config *mc, const icstr_train_config *tc,
                    const icstr_train_options *opt) {
    int rc;
    icstr_set_threads(tc->threads);
    icstr_ops_set_bf16(tc->bf16);
    if ((rc = make_dir(tc->out_dir))) return rc;

    icstr_model *m = NULL;
    icstr_train_data *td = NULL;
    icstr_train_batch tb = {0};
    FILE *csv = NULL;
    char path[ICSTR_PATH_MAX + 64];

    if ((rc = icstr_model_create(mc, 1, &m))) return rc;
    icstr_model_init_weights(m, tc->seed);
    long step = 0, adam_step = 0;
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", tc->out_dir);
    int have_checkpoint = access(path, F_OK) == 0;
    if (opt->resume && have_checkpoint) {
        if ((rc = icstr_train_checkpoint_load(m, path, &step, &adam_step))) goto done;
        ICSTR_INFO("resumed from %s at step %ld", path, step);
    } else if (tc->init_from[0]) {
        if ((rc = icstr_train_weights_load(m, tc->init_from))) goto done;
        ICSTR_INFO("initialised from %s", tc->init_from);
    }
    if ((rc = icstr_train_data_open(m, tc, &td))) goto done;
    if ((rc = icstr_train_batch_alloc(&tb, mc, tc->batch_size, tc->prompts_max))) goto done;
    if (tc->prompts_max > 0 && tc->incontext_fraction > 0.0f && (rc = icstr_train_context_prepare(td, m))) goto done;

    snprintf(path, sizeof path, "%s/log.csv", tc->out_dir);
    int fresh_csv = step == 0 || access(path, F_OK) != 0;
    double hours_before = fresh_csv ? 0.0 : logged_hours(path);
    csv = fopen(path, fresh_csv ? "w" : "a");
    if (!csv) {
        rc = icstr_fail(ICSTR_ERR_IO, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (fresh_csv) fprintf(csv, "step,loss,ce,ctc,lr,grad_norm,crops_per_s,train_acc,val_acc,hours\n");
    snprintf(path, sizeof path, "%s/config.yaml", tc->out_dir);
    FILE *cf = fopen(path, "w");
    if (cf) {
        icstr_config_write_yaml(mc, tc, cf);
        fclose(cf);
    }

    icstr_slab *slab = icstr_model_slab(m);
    icstr_adamw_params ap = icstr_adamw_default_params();
    ap.weight_decay = tc->weight_decay;
    long stop = tc->steps;
    if (opt->max_steps_now > 0 && step + opt->max_steps_now < stop) stop = step + opt->max_steps_now;
    double t_start = icstr_now_seconds(), t_window = t_start;
    int progress = !opt->quiet && isatty(2); /* a live line on a terminal; logs stay clean */
    long crops_window = 0;
    double sum_loss = 0, sum_ce = 0, sum_ctc = 0, sum_key = 0, sum_norm = 0;
    int n_window = 0;
    ICSTR_INFO("training steps %ld..%ld, batch %d, %d threads, bf16 %s, %zu parameters", step, stop,
               tc->batch_size, icstr_get_threads(), tc->bf16 ? "on" : "off", slab->total);

    while (step < stop) {
        if ((rc = icstr_train_batch_fill(&tb, td, m, step))) goto done;
        icstr_batch batch = icstr_train_batch_view(&tb);
        icstr_rng drop_rng;
        icstr_rng_seed(&drop_rng, tc->seed * 0x9e3779b97f4a7c15ULL + (uint64_t)step);
        icstr_loss_info li;
        icstr_slab_zero_grad(slab);
        if ((rc = icstr_model_train_step(m, &batch, &drop_rng, &li))) goto done;
        if ((rc = icstr_ops_error())) goto done;
        if (!isfinite(li.loss)) {
            rc = icstr_fail(ICSTR_ERR_INTERNAL, "loss is %f at step %ld; stopping (lower lr?)", (double)li.loss, step);
            goto done;
        }
        float norm = icstr_clip_grad_norm(slab, tc->grad_clip);
        float lr = icstr_lr_schedule(step, tc->warmup, tc->steps, tc->lr, tc->min_lr);
        icstr_adamw_step(slab, &ap, lr, ++adam_step);
        step++;
        crops_window += tb.n_images;
        sum_loss += li.loss;
        sum_ce += li.ce;
        sum_ctc += li.ctc;
        sum_key += li.key;
        sum_norm += norm;
        n_window++;

        int log_now = step % tc->log_every == 0 || step == stop;
        if (progress && !log_now) {
            double el = icstr_now_seconds() - t_window;
            double rate = el > 0 ? (double)crops_window / el : 0.0;
            double eta_h = rate > 0 ? (double)(stop - step) * tc->batch_size / rate / 3600.0 : 0.0;
            fprintf(stderr, "\rstep %ld/%ld  loss %.4f  %.0f crops/s  eta %.1f h   ", step, stop, (double)li.loss, rate, eta_h);
        } else if (progress) {
            fputc('\r', stderr);
        }
        int eval_now = tc->eval_every && (step % tc->eval_every == 0 || step == stop);
        if (log_now) {
            double now = icstr_now_seconds();
            float train_acc = NAN, val_acc = NAN;
            if ((rc = greedy_accuracy(m, tb.queries, tb.query_labels, tb.B, &train_acc))) goto done;
            if (eval_now && (rc = validate(m, td, &tb, mc, &val_acc))) goto done;
            double cps = (double)crops_window / (now - t_window);
            double hours = hours_before + (now - t_start) / 3600.0;
            char val[32] = "";
            if (eval_now) snprintf(val, sizeof val, " val_acc %.3f", (double)val_acc);
            char key[32] = "";
            if (mc->key_weight > 0.0f) snprintf(key, sizeof key, " key %.4f", sum_key / n_window);
            ICSTR_INFO("step %ld loss %.4f (ce %.4f ctc %.4f%s) lr %.2e |g| %.2f %.0f crops/s train_acc %.3f%s", step,
                       sum_loss / n_window, sum_ce / n_window, sum_ctc / n_window, key, (double)lr, sum_norm / n_window,
                       cps, (double)train_acc, val);
            fprintf(csv, "%ld,%.5f,%.5f,%.5f,%.3e,%.3f,%.1f,%.4f,%.4f,%.4f\n", step, sum_loss / n_window,
                    sum_ce / n_window, sum_ctc / n_window, (double)lr, sum_norm / n_window, cps,
                    (double)train_acc, (double)val_acc, hours);
            fflush(csv);
            t_window = icstr_now_seconds();
            crops_window = 0;
            sum_loss = sum_ce = sum_ctc = sum_key = sum_norm = 0;
            n_window = 0;
        }
        if ((tc->checkpoint_every && step % tc->checkpoint_every == 0) || step == stop) {
            if ((rc = icstr_train_checkpoint_save(m, tc->out_dir, step, adam_step))) goto done;
        }
    }
done:
    if (rc) ICSTR_ERROR("training stopped: %s: %s", icstr_strerror(rc), icstr_last_error());
    if (csv) fclose(csv);
    icstr_train_batch_free(&tb);
    icstr_train_data_close(td);
    icstr_model_free(m);
    return rc;
}
