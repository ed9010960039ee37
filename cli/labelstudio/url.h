// URL helpers for the Label Studio client: origins, escaping, query parameters, base64url,
// redaction for messages, and the local file name an image URL is saved under.
#pragma once
#include <stddef.h>

#include "engine/core/status.h"

// 1 when `url` starts with http:// or https:// (case-insensitive).
int yl_url_is_http(const char *url);

// 1 when both absolute http(s) URLs share scheme, host (case-insensitive) and port (80/443 when
// absent). The client sends its token only to its own origin.
int yl_url_same_origin(const char *a, const char *b);

// Copies `url` into a new string with every byte that may not appear raw in a URL (controls,
// space, non-ASCII, "<>\"\\^`{|}") percent-encoded. Existing %XX escapes and reserved characters
// are kept, so an already-encoded URL comes back unchanged. NULL when out of memory.
char *yl_url_escape_unsafe(const char *url);

// Percent-encodes every byte outside RFC 3986's unreserved set (for a query value).
yl_status yl_url_escape_component(const char *text, char *out, size_t capacity);

// Decodes %XX escapes of in[0..length) ("+" is kept). Returns the decoded length, or -1 when it
// does not fit `capacity` (which includes the terminating NUL).
long yl_url_percent_decode(const char *in, size_t length, char *out, size_t capacity);

// Finds `name`=value in the query of `url` and writes the decoded value. YL_ERR_FORMAT when absent.
yl_status yl_url_query_param(const char *url, const char *name, char *out, size_t capacity);

// A copy safe to put in an error message: no user:password@, and the query dropped when it looks
// like it carries a signature or a credential (presigned storage URLs).
void yl_url_redact(const char *url, char *out, size_t capacity);

// base64url without padding (RFC 4648 §5). Encode returns the length written (without NUL) or -1;
// decode accepts padding and the standard alphabet too, and returns the decoded length or -1.
long yl_base64url_encode(const unsigned char *in, size_t length, char *out, size_t capacity);
long yl_base64url_decode(const char *in, size_t length, unsigned char *out, size_t capacity);

// The local file name for an image referenced by a task's data URL:
//   /data/upload/<project>/<8hex>-<name>     -> <8hex>-<name> (Label Studio made it unique)
//   any other form (local files, http(s), cloud URIs, presign links) -> <hash8>__<basename>,
//   hash8 = FNV-1a of the whole URL, so equal basenames from different folders do not collide.
// The basename is percent-decoded and made safe (no '/', '\\', control bytes, no leading '.');
// UTF-8 is kept. Stable across runs for the same URL.
yl_status yl_url_image_file_name(const char *data_url, char *out, size_t capacity);
