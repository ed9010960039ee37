// The two decisions of a cycle, as pure functions of the numbers and the thresholds.
#include <stdio.h>
#include <string.h>

#include "cli/cycle/cycle_internal.h"

bool yl_cycle_decide(const yl_workspace_config *config, double map50, bool had_previous, double previous, bool force,
                     char *reason, size_t size) {
    const double change = had_previous ? map50 - previous : 0.0;
    bool finetune = true;
    if (map50 < config->min_map50)
        snprintf(reason, size, "mAP50 %.4f < min_map50 %.4f", map50, config->min_map50);
    else if (had_previous && change < -config->max_drop)
        snprintf(reason, size, "mAP50 fell %.4f since the previous evaluation (%.4f -> %.4f), more than max_drop %.4f",
                 -change, previous, map50, config->max_drop);
    else {
        finetune = false;
        if (had_previous)
            snprintf(reason, size, "mAP50 %.4f >= min_map50 %.4f and changed %+.4f since the previous evaluation "
                     "(max_drop %.4f)", map50, config->min_map50, change, config->max_drop);
        else
            snprintf(reason, size, "mAP50 %.4f >= min_map50 %.4f (no previous evaluation)", map50, config->min_map50);
    }
    if (!finetune && force) {
        char why[400];
        snprintf(why, sizeof why, "%s", reason);
        snprintf(reason, size, "forced (force=true); without it: no action: %s", why);
        return true;
    }
    return finetune;
}

// Appends "; <text>" (or the text when reason is empty).
static void add_reason(char *reason, size_t size, const char *text) {
    const size_t used = strlen(reason);
    if (used + 1 < size) snprintf(reason + used, size - used, "%s%s", used ? "; " : "", text);
}

bool yl_cycle_compare(const yl_workspace_config *config, const yl_cycle_metrics *deployed,
                      const yl_cycle_metrics *candidate, const yl_cycle_metrics *deployed_golden,
                      const yl_cycle_metrics *candidate_golden, char *reason, size_t size) {
    char line[256];
    bool deploy = candidate->map50 > deployed->map50 + config->min_gain;
    reason[0] = '\0';
    snprintf(line, sizeof line, "candidate mAP50 %.4f %s deployed %.4f + min_gain %.4f", candidate->map50,
             deploy ? ">" : "<=", deployed->map50, config->min_gain);
    add_reason(reason, size, line);
    if (config->golden_max_drop > 0 && deployed_golden && candidate_golden && deployed_golden->measured &&
        candidate_golden->measured) {
        const double drop = deployed_golden->map50 - candidate_golden->map50;
        if (drop > config->golden_max_drop) {
            deploy = false;
            snprintf(line, sizeof line, "golden-set mAP50 fell %.4f (%.4f -> %.4f), more than golden_max_drop %.4f", drop,
                     deployed_golden->map50, candidate_golden->map50, config->golden_max_drop);
        } else {
            snprintf(line, sizeof line, "golden-set mAP50 %.4f -> %.4f within golden_max_drop %.4f",
                     deployed_golden->map50, candidate_golden->map50, config->golden_max_drop);
        }
        add_reason(reason, size, line);
    }
    if (config->class_max_drop > 0 && deployed->ap50 && candidate->ap50) {
        for (int c = 0; c < deployed->nc && c < candidate->nc && c < config->nc; c++) {
            if (!deployed->has_gt[c]) continue;
            const double drop = deployed->ap50[c] - candidate->ap50[c];
            if (drop > config->class_max_drop) {
                deploy = false;
                snprintf(line, sizeof line, "class '%s' AP50 fell %.4f (%.4f -> %.4f), more than class_max_drop %.4f",
                         config->names[c], drop, deployed->ap50[c], candidate->ap50[c], config->class_max_drop);
                add_reason(reason, size, line);
            }
        }
    }
    return deploy;
}
