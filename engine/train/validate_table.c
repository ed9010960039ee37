// Ultralytics' validation summary table (DetectionValidator.print_results), as a string.
#include <stdarg.h>
#include <stdio.h>

#include "engine/train/validate.h"

typedef struct {
    char *buffer;
    size_t size, length;
} text_sink;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sink_printf(text_sink *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *at = s->buffer && s->length < s->size ? s->buffer + s->length : NULL;
    const size_t room = at ? s->size - s->length : 0;
    const int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0) s->length += (size_t)n;
}

size_t yl_format_val_table(const yl_eval_results *r, const char *const *names, bool per_class, char *buffer,
                           size_t size) {
    text_sink s = {buffer, size, 0};
    if (buffer && size > 0) buffer[0] = '\0';
    if (!r) return 0;
    // Ultralytics: "%22s" + "%11s" * 6 header, "%22s" + "%11i" * 2 + "%11.3g" * 4 rows.
    sink_printf(&s, "%22s%11s%11s%11s%11s%11s%11s\n", "Class", "Images", "Instances", "Box(P", "R", "mAP50",
                "mAP50-95)");
    sink_printf(&s, "%22s%11lld%11lld%11.3g%11.3g%11.3g%11.3g\n", "all", (long long)r->images,
                (long long)r->instances, r->precision, r->recall, r->map50, r->map50_95);
    if (per_class && r->nc > 1) {
        for (int c = 0; c < r->nc; c++) {
            if (!r->has_gt[c]) continue;
            char fallback[32];
            const char *name = names && names[c] ? names[c] : (snprintf(fallback, sizeof fallback, "class%d", c), fallback);
            sink_printf(&s, "%22s%11lld%11lld%11.3g%11.3g%11.3g%11.3g\n", name, (long long)r->nt_per_image[c],
                        (long long)r->nt_per_class[c], r->ap.p[c], r->ap.r[c], r->ap50[c], r->ap50_95[c]);
        }
    }
    return s.length;
}
