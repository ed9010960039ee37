// The workspace report: <workspace>/report.html, one self-contained page (inline CSS and SVG, no
// scripts or external assets) with
//   - a summary: deployed version, last cycle's decision, counts;
//   - the mAP50 / mAP50-95 history over cycles (an SVG line plot of eval_history.csv, deployed
//     and candidate series (golden ones too when present), the decide.min_map50 threshold line
//     from yoloop.yaml (0.60 when it is absent or unreadable), deployments marked);
//   - per-class AP50 of the latest evaluations (deployed vs candidate bars);
//   - PR curves of the latest evaluation of each role (history/evals/*.json);
//   - the decisions table (decisions.jsonl) and the registry (versions with lineage);
// and a concise terminal summary for the end of `yoloop cycle`.
// Everything read is escaped for HTML; a missing history gives an "no cycles yet" page. An
// unreadable evaluation record is skipped with a warning shown on the page; a malformed history,
// decisions file or registry is an error (and the previous report.html stays as it was).
#pragma once
#include <stddef.h>
#include <stdio.h>

#include "engine/core/status.h"

// Writes <workspace>/report.html atomically. path_out (may be NULL) receives its path.
yl_status yl_report_write(const char *workspace, char *path_out, size_t size);
// A few lines: the last cycle's evaluations, decision and deployed version.
yl_status yl_report_print_summary(const char *workspace, FILE *out);
