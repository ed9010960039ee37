// Ultralytics' YOLODataset.set_rectangle: validation batches of similar aspect ratio, each padded
// to its own stride-multiple shape instead of imgsz x imgsz.
#include <math.h>
#include <stdlib.h>

#include "batch.h"

typedef struct {
    double ar;
    int index;
} aspect_entry;

static int compare_aspect(const void *pa, const void *pb) {
    const aspect_entry *a = pa, *b = pb;
    if (a->ar < b->ar) return -1;
    if (a->ar > b->ar) return 1;
    return (a->index > b->index) - (a->index < b->index);
}

yl_status yl_rect_batch_plan(const int *widths, const int *heights, int n, int batch_size, int imgsz, int stride,
                             float pad, int *order, yl_batch_shape *shapes) {
    if (!widths || !heights || !order || !shapes) return yl_error(YL_ERR_INVALID_ARG, "rect batches: NULL argument");
    if (n < 1 || batch_size < 1 || imgsz < 1 || stride < 1 || !(pad >= 0.0f))
        return yl_error(YL_ERR_INVALID_ARG, "rect batches: n %d, batch %d, imgsz %d, stride %d, pad %g invalid", n,
                        batch_size, imgsz, stride, (double)pad);
    aspect_entry *entries = malloc((size_t)n * sizeof *entries);
    if (!entries) return yl_error(YL_ERR_OOM, "rect batches: %d images", n);
    for (int i = 0; i < n; i++) {
        if (widths[i] < 1 || heights[i] < 1) {
            free(entries);
            return yl_error(YL_ERR_INVALID_ARG, "rect batches: image %d is %dx%d", i, widths[i], heights[i]);
        }
        entries[i] = (aspect_entry){(double)heights[i] / widths[i], i};
    }
    qsort(entries, (size_t)n, sizeof *entries, compare_aspect);
    const int batches = (n + batch_size - 1) / batch_size;
    for (int b = 0; b < batches; b++) {
        const int first = b * batch_size;
        const int last = first + batch_size < n ? first + batch_size - 1 : n - 1;
        const double min_ar = entries[first].ar, max_ar = entries[last].ar;
        double shape_h = 1.0, shape_w = 1.0;
        if (max_ar < 1.0) shape_h = max_ar;
        else if (min_ar > 1.0) shape_w = 1.0 / min_ar;
        shapes[b].height = (int)ceil(shape_h * imgsz / stride + pad) * stride;
        shapes[b].width = (int)ceil(shape_w * imgsz / stride + pad) * stride;
    }
    for (int i = 0; i < n; i++) order[i] = entries[i].index;
    free(entries);
    return YL_OK;
}
