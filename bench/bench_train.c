// Training throughput of yoloop on the CPU: yl_train (the real trainer: augmenting loader,
// forward, loss, backward, optimizer, EMA) for one short epoch without validation. A progress
// callback stamps the end of every batch; the first `warmup` + 1 batches are not timed (the first
// stamp ends batch 0, so the timed window starts at stamp `warmup`), then `steps` batches are.
// Afterwards the same loader (same options) runs alone for the same batches to show what the data
// pipeline costs when nothing competes with it: its time per image and its own wait statistics.
//
//   bench_train data=<data.yaml> [imgsz=320] [batch=8] [warmup=2] [steps=6] [workers=2] [threads=2]
//               [model=yolov8n.yaml] [device=cpu|cuda|cuda:N|N]
// On a GPU the trainer waits for each step to finish (train_step.c), so the stamps time the work.
// Prints one line: yoloop imgsz=.. batch=.. steps=.. s_per_img=.. step_s_per_img=.. wait_s_per_img=..
//                  loader_share=.. loader_alone_s_per_img=..
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/core/threads.h"
#include "engine/data/data_yaml.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/train/trainer.h"

#define MAX_STAMPS 4096

typedef struct {
    double stamps[MAX_STAMPS];
    int count;
} stamp_log;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void on_progress(void *user, const yl_train_progress *progress) {
    (void)progress;
    stamp_log *log = user;
    if (log->count < MAX_STAMPS) log->stamps[log->count++] = now_seconds();
}

// The loader alone over `batches` batches of epoch 0: seconds per image after the first batch
// (whose wait includes the workers' start-up).
static int loader_alone(const char *data, int imgsz, int batch, int workers, int batches, double *s_per_img) {
    yl_data_config cfg;
    if (yl_data_yaml_load(data, &cfg) != YL_OK) return 1;
    yl_dataset set;
    if (yl_dataset_build((const char *const *)cfg.train.images.paths, cfg.train.images.count, cfg.nc, &set) != YL_OK) {
        yl_data_config_free(&cfg);
        return 1;
    }
    yl_sample_source source = yl_dataset_sample_source(&set);
    yl_loader_options lo = yl_loader_defaults(YL_LOADER_TRAIN, batch, imgsz);
    lo.workers = workers > 0 ? workers : 1;
    lo.epochs = 100;
    lo.augment = yl_augment_defaults(imgsz);
    lo.augment.imgsz = imgsz;
    yl_loader *loader = NULL;
    int rc = 1, nb = 0;
    if (yl_loader_create(&loader, &source, NULL, &lo) == YL_OK && yl_loader_begin_epoch(loader, 0, &nb) == YL_OK) {
        const yl_batch *b = NULL;
        double start = 0;
        int timed = 0;
        for (int i = 0; i < batches && i < nb; i++) {
            if (yl_loader_next(loader, &b) != YL_OK || !b) break;
            if (i == 0) start = now_seconds();
            else timed++;
        }
        if (timed > 0) {
            *s_per_img = (now_seconds() - start) / (double)(timed * batch);
            rc = 0;
        }
    }
    if (loader) yl_loader_destroy(loader);
    yl_dataset_free(&set);
    yl_data_config_free(&cfg);
    return rc;
}

// "cpu", "cuda", "cuda:N" or "N" (a GPU index, as Ultralytics' device=0).
static int parse_device(const char *v, yl_device *device, int *index) {
    char *end = NULL;
    if (!strcmp(v, "cpu")) {
        *device = YL_DEVICE_CPU;
        return 0;
    }
    const char *number = !strcmp(v, "cuda") ? "0" : !strncmp(v, "cuda:", 5) ? v + 5 : v;
    long i = strtol(number, &end, 10);
    if (end == number || *end != '\0' || i < 0 || i > 63) return 1;
    *device = YL_DEVICE_CUDA;
    *index = (int)i;
    return 0;
}

int main(int argc, char **argv) {
    const char *data = NULL, *model = "yolov8n.yaml";
    int imgsz = 320, batch = 8, warmup = 2, steps = 6, workers = 2, threads = 2, cuda_index = 0;
    yl_device device = YL_DEVICE_CPU;
    for (int i = 1; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "bench_train: expected key=value, got %s\n", argv[i]);
            return 2;
        }
        size_t n = (size_t)(eq - argv[i]);
        const char *v = eq + 1;
        if (!strncmp(argv[i], "data", n) && n == 4) data = v;
        else if (!strncmp(argv[i], "model", n) && n == 5) model = v;
        else if (!strncmp(argv[i], "imgsz", n) && n == 5) imgsz = atoi(v);
        else if (!strncmp(argv[i], "batch", n) && n == 5) batch = atoi(v);
        else if (!strncmp(argv[i], "warmup", n) && n == 6) warmup = atoi(v);
        else if (!strncmp(argv[i], "steps", n) && n == 5) steps = atoi(v);
        else if (!strncmp(argv[i], "workers", n) && n == 7) workers = atoi(v);
        else if (!strncmp(argv[i], "threads", n) && n == 7) threads = atoi(v);
        else if (!strncmp(argv[i], "device", n) && n == 6) {
            if (parse_device(v, &device, &cuda_index) != 0) {
                fprintf(stderr, "bench_train: device=%s: expected cpu, cuda, cuda:N or N\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_train: unknown key %s\n", argv[i]);
            return 2;
        }
    }
    if (!data || imgsz < 32 || batch < 1 || warmup < 0 || steps < 1 || warmup + steps + 1 >= MAX_STAMPS) {
        fprintf(stderr, "usage: bench_train data=<data.yaml> [imgsz=320] [batch=8] [warmup=2] [steps=6] "
                        "[workers=2] [threads=2] [model=yolov8n.yaml] [device=cpu]\n");
        return 2;
    }
    yl_set_num_threads(threads);
    const int batches = warmup + steps + 1;

    static stamp_log log;
    char save_dir[] = "/tmp/bench_train_XXXXXX";
    if (!mkdtemp(save_dir)) {
        perror("bench_train: mkdtemp");
        return 1;
    }
    yl_trainer_options o = yl_trainer_defaults();
    o.model = model;
    o.data = data;
    o.imgsz = imgsz;
    o.batch = batch;
    o.workers = workers;
    o.device = device;
    o.cuda_index = cuda_index;
    o.epochs = 100;  // the schedule of a real run; only the first epoch's first batches run
    o.stop_after_epochs = 1;
    o.max_batches_per_epoch = batches;
    o.validate = false;
    o.save_dir = save_dir;
    o.on_progress = on_progress;
    o.user = &log;
    yl_train_summary summary;
    yl_status st = yl_train(&o, &summary);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", save_dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_train: could not remove %s\n", save_dir);
    if (st != YL_OK) {
        fprintf(stderr, "bench_train: %s\n", yl_last_error());
        return 1;
    }
    if (log.count < batches) {
        fprintf(stderr, "bench_train: only %d batches ran (need %d: more images?)\n", log.count, batches);
        return 1;
    }
    double seconds = log.stamps[warmup + steps] - log.stamps[warmup];
    double loader_s = -1;
    if (loader_alone(data, imgsz, batch, workers, batches, &loader_s) != 0)
        fprintf(stderr, "bench_train: the loader-alone run failed: %s\n", yl_last_error());
    // step_s_per_img: the trainer's mean forward + loss + backward + step time over all batches
    // (warm-up included), without the wait for the loader; wait_s_per_img: the trainer's mean
    // wait for the loader's next batch (the first batch's worker start-up included);
    // loader_share: wait / (wait + step).
    printf("yoloop device=%s imgsz=%d batch=%d steps=%d s_per_img=%.5f step_s_per_img=%.5f wait_s_per_img=%.5f "
           "loader_share=%.3f loader_alone_s_per_img=%.5f\n",
           device == YL_DEVICE_CPU ? "cpu" : "cuda", imgsz, batch, steps, seconds / (double)(steps * batch), summary.seconds_per_step / batch,
           summary.wait_seconds_per_step / batch, summary.loader_share, loader_s);
    return 0;
}
