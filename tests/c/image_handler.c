/* A C handler for the image-deployment tests, the same code in both deployments.
 *
 * Built as a program it is served by scf_run (main below); built with -DHANDLER_ONLY -shared it
 * is a handler object for scf-c-bootstrap (_HANDLER=libimage.handle), which resolves the scf_*
 * calls from the bootstrap itself.
 *
 * Events (raw, or as the JSON string `scfrt invoke` sends): "context" answers JSON with the
 * request id, limits and every metadata item scf_invocation_metadata gives (null when unset);
 * "error" fails with a UTF-8 error; anything else is echoed byte for byte. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scfruntime.h"

static const char *const NAMES[] = {
    "function_name", "function_version", "namespace",     "tencentcloud_region",
    "tencentcloud_appid", "tencentcloud_uin", "secret_id", "secret_key",
    "session_token", "trigger_src",
};

/* Whether the body is `word`, bare or as a JSON string. */
static int is_command(const uint8_t *body, size_t len, const char *word) {
    size_t n = strlen(word);
    if (len == n && memcmp(body, word, n) == 0) {
        return 1;
    }
    return len == n + 2 && body[0] == '"' && body[len - 1] == '"' && memcmp(body + 1, word, n) == 0;
}

/* Append `s` as a JSON string (or null) to out[*used..cap); 0 when it does not fit. */
static int put_json_string(char *out, size_t cap, size_t *used, const char *s) {
    if (!s) {
        int n = snprintf(out + *used, cap - *used, "null");
        if (n < 0 || (size_t)n >= cap - *used) {
            return 0;
        }
        *used += (size_t)n;
        return 1;
    }
    if (*used + 1 >= cap) {
        return 0;
    }
    out[(*used)++] = '"';
    for (const char *p = s; *p; p++) {
        if (*used + 3 >= cap) {
            return 0;
        }
        if (*p == '"' || *p == '\\') {
            out[(*used)++] = '\\';
        }
        out[(*used)++] = *p;
    }
    out[(*used)++] = '"';
    out[*used] = '\0';
    return 1;
}

static int context(const scf_invocation *inv, scf_response *resp) {
    char out[4096];
    size_t used = 0;
    int n = snprintf(out, sizeof out, "{\"request_id\":");
    if (n < 0) {
        return 91;
    }
    used = (size_t)n;
    if (!put_json_string(out, sizeof out, &used, scf_invocation_request_id(inv))) {
        return 91;
    }
    n = snprintf(out + used, sizeof out - used,
                 ",\"memory_limit_mb\":%" PRIu32 ",\"time_limit_ms\":%" PRIu64 ",\"metadata\":{",
                 scf_invocation_memory_limit_mb(inv), scf_invocation_time_limit_ms(inv));
    if (n < 0 || (size_t)n >= sizeof out - used) {
        return 91;
    }
    used += (size_t)n;
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
        if (i > 0) {
            out[used++] = ',';
        }
        if (!put_json_string(out, sizeof out, &used, NAMES[i]) || used + 1 >= sizeof out) {
            return 91;
        }
        out[used++] = ':';
        if (!put_json_string(out, sizeof out, &used, scf_invocation_metadata(inv, NAMES[i]))) {
            return 91;
        }
    }
    if (used + 3 >= sizeof out) {
        return 91;
    }
    out[used++] = '}';
    out[used++] = '}';
    return scf_response_set_body(resp, (const uint8_t *)out, used);
}

int handle(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    if (!body) {
        return 90;
    }
    printf("c-image: request %s, %zu bytes\n", scf_invocation_request_id(inv), len);
    if (is_command(body, len, "context")) {
        return context(inv, resp);
    }
    if (is_command(body, len, "error")) {
        scf_result rc =
            scf_response_set_error(resp, "ValidationError", "champ «nom» invalide: 错误 🚀");
        return rc == SCF_RESULT_OK ? 1 : (int)rc;
    }
    return scf_response_set_body(resp, body, len);
}

#ifndef HANDLER_ONLY
int main(void) {
    return scf_run(handle, NULL);
}
#endif
