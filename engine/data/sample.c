#include "sample.h"

#include <stdlib.h>
#include <string.h>

void yl_image_u8_free(yl_image_u8 *image) {
    if (!image) return;
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

void yl_sample_free(yl_sample *sample) {
    if (!sample) return;
    yl_image_u8_free(&sample->image);
    free(sample->labels);
    memset(sample, 0, sizeof *sample);
}
