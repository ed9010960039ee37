// POST /predict of the ML backend (spec label_studio.md §5.3, §6, pitfalls 7 and 13): a batch of
// tasks -> one prediction per task, in order, from the model served now.
//
// Per task: the image URL is data[<image key of the label config>] (else data["$undefined$"]),
// fetched with the Label Studio client (client.h: upload, local-files, cloud presign, plain
// http; the token only from LABEL_STUDIO_API_KEY or a file) into the cache folder as
// <sha256(url)[:16]>__<file name>, and reused from there on later requests (Label Studio's URLs
// name immutable files). The folder is kept under cache_max_bytes, least recently used images
// out first (file_cache.h): a running total of the folder's size (scanned once, then grown by
// each download) says when a trim, which lists the folder, is due. Then the model runs and every detection whose class maps to a label
// and whose score reaches the threshold becomes a rectanglelabels region in percent
// (predictions.h), with its score; the task's score is the mean region score (0 without one).
//
// Label mapping (yl_ls_label_config_map_class): a Label's predicted_values="a, b" first, then the
// Label whose name (alias or value) equals the model class, else one equal without regard to
// case; unmapped classes are dropped. When no class maps at all the request fails (422) naming
// both sides.
// Threshold: the control's model_score_threshold when the label config has one, else the
// server's default.
//
// A task whose image cannot be fetched or decoded gets {"model_version", "error"} and no
// "result": Label Studio skips such an entry instead of storing an empty prediction, so it asks
// again later rather than remembering "nothing here" for this model version.
#pragma once
#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdint.h>

#include "cli/serve/model_slot.h"
#include "cli/serve/reply.h"

typedef struct {
    yl_model_slot *slot;
    const char *ls_url;            // NULL: only tasks whose images are already cached work
    const char *token_file;        // NULL: LABEL_STUDIO_API_KEY
    const char *local_files_root;  // optional disk shortcuts (client.h)
    const char *media_root;
    const char *cache_dir;         // must exist
    uint64_t cache_max_bytes;      // 0: unbounded
    atomic_bool *cache_trimming;   // shared by the server's requests: one trim at a time
    _Atomic uint64_t *cache_bytes; // the folder's size as last seen plus downloads since; UINT64_MAX: unknown
    const char *control;           // the RectangleLabels control; NULL: the only one
    double default_threshold;
} yl_predict_context;

// `label_config` is the project's XML; `tasks` the request's task array.
void yl_serve_predict(const yl_predict_context *context, const char *label_config, const cJSON *tasks,
                      yl_serve_reply *reply);
