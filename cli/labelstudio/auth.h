// Label Studio credentials (spec label_studio.md §1).
//
// Two kinds of token: a legacy key, sent as "Authorization: Token <key>", and a Personal Access
// Token (a JWT refresh token) that is exchanged at POST /api/token/refresh/ for a short-lived
// access token sent as "Authorization: Bearer <access>". A token that looks like a JWT (three
// base64url segments whose middle one is JSON with an `exp` claim) is a PAT, anything else a
// legacy key — the rule the official SDK uses.
//
// The token comes only from an environment variable or a file. It is never printed, logged or
// put into a message; yl_ls_auth_scrub removes it from any text that might have caught it.
#pragma once
#include <stddef.h>

#include "cli/labelstudio/http.h"
#include "engine/core/status.h"

#define YL_LS_TOKEN_ENV "LABEL_STUDIO_API_KEY"

typedef enum {
    YL_LS_TOKEN_LEGACY = 1,          // "Token <key>"
    YL_LS_TOKEN_PERSONAL_ACCESS,     // PAT: refresh, then "Bearer <access>"
    YL_LS_TOKEN_ACCESS,              // a bare (short-lived) access JWT: "Bearer" until it expires
} yl_ls_token_kind;

typedef struct {
    const char *file;     // read the token from this file when set (surrounding whitespace ignored)
    const char *env_var;  // otherwise from this variable; NULL: LABEL_STUDIO_API_KEY
} yl_ls_token_source;

typedef struct yl_ls_auth yl_ls_auth;

// Loads and classifies the token. Fails with a message naming the source (never the token)
// when it is missing, empty, holds whitespace/control bytes, or is a JWT that expired or has no
// `exp` claim.
yl_status yl_ls_auth_load(yl_ls_auth **out, const yl_ls_token_source *source);
void yl_ls_auth_free(yl_ls_auth *auth);

yl_ls_token_kind yl_ls_auth_kind(const yl_ls_auth *auth);
// "environment variable LABEL_STUDIO_API_KEY" or "file <path>", for messages.
const char *yl_ls_auth_source(const yl_ls_auth *auth);

// The Authorization header value for the next request. For a PAT it refreshes first when no
// access token is cached or the cached one expires within 30 s. The pointer stays valid until
// the next call or yl_ls_auth_free.
yl_status yl_ls_auth_header(yl_ls_auth *auth, yl_http *http, const char *base_url, const char **value);

// Drops the cached access token (after a 401) so the next header refreshes. Returns 1 when a
// refresh can fix a 401 (a PAT), 0 otherwise.
int yl_ls_auth_invalidate(yl_ls_auth *auth);

// Number of refreshes done so far (tests and diagnostics).
int yl_ls_auth_refresh_count(const yl_ls_auth *auth);
// HTTP status of the last /api/token/refresh/ answer (0 when none arrived): 401 when Label
// Studio refused the PAT (revoked, blacklisted, another instance).
long yl_ls_auth_refresh_status(const yl_ls_auth *auth);

// Replaces every occurrence of the token and of the cached access token in `text` with "***".
void yl_ls_auth_scrub(const yl_ls_auth *auth, char *text);

// Explains a 401 from Label Studio for this token kind: what was rejected and how to fix it.
// `detail` is the server's "detail" text (may be NULL).
void yl_ls_auth_explain_401(const yl_ls_auth *auth, const char *detail, char *out, size_t capacity);

// Reads the `exp` claim of a JWT without checking its signature. Returns 1 and sets *exp (Unix
// seconds) and, when token_type is not NULL, the token_type claim ("" when absent); 0 when the
// text is not a JWT with a JSON payload; -1 when it is one but has no numeric `exp`.
int yl_ls_jwt_expiry(const char *token, double *exp, char *token_type, size_t token_type_capacity);
