// Writing the synthetic dataset in the YOLO layout (see synth.h); the pixels come from
// synth_render.c.
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "engine/data/file_util.h"

static const char *const default_names[YL_SYNTH_KINDS] = {"dentado", "concave", "perforation"};

yl_synth_options yl_synth_defaults(void) {
    return (yl_synth_options){.out_dir = NULL,
                              .n = 300,
                              .imgsz = 160,
                              .seed = 0,
                              .shift = 0.0f,
                              .val_fraction = 0.2f,
                              .class_names = default_names,
                              .class_count = YL_SYNTH_KINDS};
}

yl_status yl_synth_check_options(const yl_synth_options *o) {
    if (!o) return yl_error(YL_ERR_INVALID_ARG, "synth: NULL options");
    if (o->n < 2 || o->n > 1000000) return yl_error(YL_ERR_INVALID_ARG, "synth: n=%d, expected 2 to 1000000", o->n);
    if (o->imgsz < 32 || o->imgsz > 4096)
        return yl_error(YL_ERR_INVALID_ARG, "synth: imgsz=%d, expected 32 to 4096", o->imgsz);
    if (!(o->shift >= 0.0f && o->shift <= 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "synth: shift=%g, expected a value in [0, 1]", (double)o->shift);
    if (!(o->val_fraction > 0.0f && o->val_fraction < 1.0f))
        return yl_error(YL_ERR_INVALID_ARG, "synth: val_fraction=%g, expected a value in (0, 1)",
                        (double)o->val_fraction);
    if (o->class_names) {
        if (o->class_count < 1 || o->class_count > YL_SYNTH_KINDS)
            return yl_error(YL_ERR_INVALID_ARG, "synth: %d classes, expected 1 to %d (dent, concave, perforation)",
                            o->class_count, YL_SYNTH_KINDS);
        for (int i = 0; i < o->class_count; i++) {
            if (!o->class_names[i] || !o->class_names[i][0])
                return yl_error(YL_ERR_INVALID_ARG, "synth: class %d has an empty name", i);
            for (int j = 0; j < i; j++)
                if (!strcmp(o->class_names[i], o->class_names[j]))
                    return yl_error(YL_ERR_INVALID_ARG, "synth: class name '%s' appears twice", o->class_names[i]);
        }
    }
    return YL_OK;
}

static int val_count(const yl_synth_options *o) {
    int n_val = (int)lround((double)o->n * o->val_fraction);
    return n_val < 1 ? 1 : n_val > o->n - 1 ? o->n - 1 : n_val;
}

static char *path_printf(const char *fmt, const char *dir, const char *split, int index) {
    size_t size = strlen(dir) + 64;
    char *path = malloc(size);
    if (path) snprintf(path, size, fmt, dir, split, index);
    return path;
}

static yl_status write_labels(const char *path, const yl_box_label *labels, int count) {
    FILE *f = fopen(path, "w");
    if (!f) return yl_error(YL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    for (int i = 0; i < count; i++)
        fprintf(f, "%d %.6f %.6f %.6f %.6f\n", labels[i].cls, (double)labels[i].cx, (double)labels[i].cy,
                (double)labels[i].w, (double)labels[i].h);
    if (fclose(f) != 0) return yl_error(YL_ERR_IO, "%s: write failed", path);
    return YL_OK;
}

static void write_yaml_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static yl_status write_data_yaml(const yl_synth_options *o, const char *const *names, int nc) {
    char *path = yl_path_join(o->out_dir, "data.yaml");
    if (!path) return yl_error(YL_ERR_OOM, "synth: out of memory");
    FILE *f = fopen(path, "w");
    if (!f) {
        yl_status status = yl_error(YL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        free(path);
        return status;
    }
    // No `path:` key: the dataset root is then the folder of this file, so the dataset can move.
    fprintf(f,
            "# Synthetic metal-surface defects written by yoloop synth (n=%d imgsz=%d seed=%llu shift=%.3f)\n"
            "train: images/train\n"
            "val: images/val\n"
            "nc: %d\n"
            "names:\n",
            o->n, o->imgsz, (unsigned long long)o->seed, (double)o->shift, nc);
    for (int i = 0; i < nc; i++) {
        fprintf(f, "  %d: ", i);
        write_yaml_string(f, names[i]);
        fputc('\n', f);
    }
    yl_status status = fclose(f) == 0 ? YL_OK : yl_error(YL_ERR_IO, "%s: write failed", path);
    free(path);
    return status;
}

static yl_status refuse_existing(const char *out_dir, const char *name) {
    char *path = yl_path_join(out_dir, name);
    if (!path) return yl_error(YL_ERR_OOM, "synth: out of memory");
    yl_status status = YL_OK;
    if (yl_is_directory(path) || yl_is_regular_file(path))
        status = yl_error(YL_ERR_IO, "synth: %s already exists; choose a new out= or remove it", path);
    free(path);
    return status;
}

static yl_status write_image(const yl_synth_options *o, int index, int split, yl_synth_report *report) {
    static const char *const split_names[2] = {"train", "val"};
    yl_image_u8 image;
    yl_box_label labels[YL_SYNTH_MAX_OBJECTS];
    int count = 0;
    YL_TRY(yl_synth_render(o, index, &image, labels, &count));
    char *image_path = path_printf("%s/images/%s/synth_%06d.png", o->out_dir, split_names[split], index);
    char *label_path = path_printf("%s/labels/%s/synth_%06d.txt", o->out_dir, split_names[split], index);
    yl_status status = YL_OK;
    if (!image_path || !label_path)
        status = yl_error(YL_ERR_OOM, "synth: out of memory");
    else if (!stbi_write_png(image_path, image.width, image.height, 3, image.pixels, image.width * 3))
        status = yl_error(YL_ERR_IO, "%s: cannot write the PNG", image_path);
    else
        status = write_labels(label_path, labels, count);
    if (status == YL_OK) {
        report->images[split]++;
        report->backgrounds[split] += count == 0;
        report->objects[split] += count;
        for (int i = 0; i < count; i++) report->objects_per_class[labels[i].cls]++;
    }
    free(image_path);
    free(label_path);
    yl_image_u8_free(&image);
    return status;
}

yl_status yl_synth_write(const yl_synth_options *options, yl_synth_report *report) {
    if (report) memset(report, 0, sizeof *report);
    YL_TRY(yl_synth_check_options(options));
    if (!report) return yl_error(YL_ERR_INVALID_ARG, "synth: NULL report");
    if (!options->out_dir || !options->out_dir[0]) return yl_error(YL_ERR_INVALID_ARG, "synth: out= is required");
    yl_synth_options o = *options;
    if (!o.class_names) {
        o.class_names = default_names;
        o.class_count = YL_SYNTH_KINDS;
    }
    YL_TRY(refuse_existing(o.out_dir, "images"));
    YL_TRY(refuse_existing(o.out_dir, "labels"));
    YL_TRY(refuse_existing(o.out_dir, "data.yaml"));
    static const char *const folders[] = {"images/train", "images/val", "labels/train", "labels/val"};
    for (int i = 0; i < 4; i++) {
        char *path = yl_path_join(o.out_dir, folders[i]);
        if (!path) return yl_error(YL_ERR_OOM, "synth: out of memory");
        yl_status status = yl_make_directories(path);
        free(path);
        YL_TRY(status);
    }
    int n_train = o.n - val_count(&o);
    for (int i = 0; i < o.n; i++) YL_TRY(write_image(&o, i, i >= n_train, report));
    return write_data_yaml(&o, o.class_names, o.class_count);
}
