// The native Label Studio ML backend (spec label_studio.md §5, §6; continual_learning.md step 8):
// an HTTP server (libmicrohttpd) answering
//
//   GET  /, /health   {"status": "UP", "model_class", "model_version", "model_loaded", "cycle", ...}
//                     at once, also while predictions run (no lock it takes is held by a model)
//   POST /setup       {"model_version": <deployed version id>}; remembers the project's schema
//   POST /predict     {"results": [one prediction per task, in order]} (predict_handler.h)
//   POST /webhook     counts verified annotations, starts a background cycle (webhook.h)
//   POST /train       starts a cycle now; POST /job_status reports it
//   GET  /versions    {"versions": [registry ids], "deployed", "cycle"}
//   GET  /metrics     request counters
//   POST /validate, /duplicate_model, /delete   {} (the connector calls them; nothing to do)
//
// Threads: one per connection (libmicrohttpd), at most max_connections, so /health never queues
// behind a /predict; `threads` bounds how many /predict requests run at once (more wait).
// Limits: a body over max_body_bytes is refused with 413 (from Content-Length before reading
// it), a batch over max_tasks with 413, malformed JSON with 400, an unknown path with 404, a
// wrong method with 405 — always a JSON error body, never a crash.
// Basic auth (optional, "user:password"): every route, except /webhook unless webhook_auth,
// since the webhook Label Studio creates for a backend sends no credentials (spec §5.4).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "engine/core/status.h"
#include "engine/ops/ops.h"

typedef struct {
    const char *workspace;       // serve its deployed model (and run cycles in it), or
    const char *model_file;      // one model file (quick use; no cycles)
    const char *host;            // "127.0.0.1" (IPv4 or IPv6 literal)
    int port;                    // 9090; 0: any free port (yl_server_port tells which)
    int threads;                 // concurrent /predict requests; 4
    int max_connections;         // 64
    size_t max_body_bytes;       // 16 MiB
    int max_tasks;               // tasks per /predict; 1000
    const char *basic_auth;      // "user:password" or NULL (a secret: from a file or env only)
    bool webhook_auth;           // require basic auth on /webhook too
    // Images (predict_handler.h); the CLI fills them from yoloop.yaml unless given.
    const char *ls_url, *token_file, *local_files_root, *media_root, *control;
    const char *cache_dir;       // NULL: <workspace>/cache/serve_images (file mode: required)
    uint64_t cache_max_bytes;    // images kept, least recently used out first; 4 GiB; 0: unbounded
    // The model (model_slot.h).
    yl_device device;
    int cuda_index;
    int imgsz;                   // 0: the checkpoint's
    float conf;                  // NMS floor; 0.1
    double threshold;            // region score threshold without model_score_threshold; 0.5
    int poll_ms;                 // deployed pointer reads; 1000
    // Cycles (webhook.h).
    int retrain_after;           // 0: only START_TRAINING and /train start one
    bool trust_imported;
    const char *const *cycle_argv;  // NULL: <this executable> cycle workspace=<dir>
    FILE *log;                   // one line per request; NULL: none
} yl_serve_options;

yl_serve_options yl_serve_defaults(void);

typedef struct yl_server yl_server;

// Loads the model, binds and starts answering. The option strings must outlive the server.
yl_status yl_server_start(yl_server **out, const yl_serve_options *options);
int yl_server_port(const yl_server *server);
// Stops accepting, lets running requests finish, frees everything. wait_for_cycle = false
// leaves a running cycle process to finish on its own.
void yl_server_stop(yl_server *server, bool wait_for_cycle);
