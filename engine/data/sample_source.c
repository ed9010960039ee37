#include "sample_source.h"

#include <stddef.h>

yl_status yl_sample_source_check(const yl_sample_source *source, const char *who) {
    if (!source) return yl_error(YL_ERR_INVALID_ARG, "%s: source is NULL", who);
    if (!source->load) return yl_error(YL_ERR_INVALID_ARG, "%s: source has no load function", who);
    if (source->count < 1) return yl_error(YL_ERR_INVALID_ARG, "%s: source has %d samples", who, source->count);
    return YL_OK;
}
