// The ZIP container of a torch.save file (libzip underneath): every record lives under one top
// folder, `<prefix>/` ("archive" for Ultralytics' training checkpoints written to a buffer,
// the file's base name when torch.save was given a path), holding `data.pkl` (the pickle),
// `data/<key>` (one raw little-endian storage per key), `version`, and in newer torch
// `byteorder`. The prefix is found from the one record named `<prefix>/data.pkl`.
//
// Reads are bounded: only stored or deflated records, no encryption, a record may not claim
// more than YL_PT_ZIP_MAX_RECORD bytes (data.pkl: YL_PT_ZIP_MAX_PICKLE), a stored record not
// more than the archive holds, a deflated one not more than deflate can expand to, all records
// read together not more than 16x the archive (+1 MiB; zip bombs, overlapping entries), and
// the bytes read must be exactly the size the directory states (CRC checked by libzip).
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "engine/core/status.h"

#define YL_PT_ZIP_MAX_ENTRIES (1 << 20)
#define YL_PT_ZIP_MAX_PICKLE ((size_t)1 << 30)
#define YL_PT_ZIP_MAX_RECORD ((size_t)1 << 34)

typedef struct yl_pt_zip yl_pt_zip;

// Opens `path` and checks the layout (one top-level `<prefix>/data.pkl`, a `version` of 1..10
// when present, as torch accepts, a `byteorder` of "little" when present).
yl_status yl_pt_zip_open(yl_pt_zip **out, const char *path);
// The same from memory; `data` must outlive the archive. `name` is used in messages.
yl_status yl_pt_zip_open_memory(yl_pt_zip **out, const void *data, size_t size, const char *name);
void yl_pt_zip_close(yl_pt_zip *z);

const char *yl_pt_zip_name(const yl_pt_zip *z);    // the path or name given to open
const char *yl_pt_zip_prefix(const yl_pt_zip *z);  // e.g. "archive", "best"
int yl_pt_zip_version(const yl_pt_zip *z);         // the `version` record, 0 when absent

bool yl_pt_zip_has(const yl_pt_zip *z, const char *record);
// Reads `<prefix>/<record>` (e.g. "data.pkl", "data/12") into a new malloc'd buffer, NUL-
// terminated one byte past *size. The caller frees it.
yl_status yl_pt_zip_read(yl_pt_zip *z, const char *record, unsigned char **data, size_t *size);
