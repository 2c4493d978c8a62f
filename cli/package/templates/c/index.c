/* An SCF function in C, served by scfruntime's C bootstrap (scf-c-bootstrap).
 *
 * _HANDLER=index.main_handler makes the bootstrap dlopen ./index.so and call main_handler for
 * each event. main_handler_init, when defined, runs once before the function reports ready;
 * returning non-zero there fails the init. scfruntime.h (beside this file) is the whole API. */
#include <stdio.h>
#include <string.h>

#include "scfruntime.h"

int main_handler_init(void *userdata) {
    (void)userdata;
    fprintf(stderr, "init: scfruntime %s\n", scf_version());
    return 0;
}

int main_handler(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    printf("request %s: %zu bytes\n", scf_invocation_request_id(inv), len); /* to the log */

    static const char prefix[] = "{\"echo\":";
    char out[64 * 1024];
    if (len > sizeof out - sizeof prefix - 1) {
        scf_response_set_error(resp, "EventTooLarge", "this starter echoes events up to 64 KB");
        return 1;
    }
    memcpy(out, prefix, sizeof prefix - 1);
    memcpy(out + sizeof prefix - 1, body, len);
    out[sizeof prefix - 1 + len] = '}';
    return scf_response_set_body(resp, (const uint8_t *)out, sizeof prefix + len);
}
