/* The C echo as a handler object for the dlopen bootstrap (bootstrap/c, scf-c-bootstrap):
 * _HANDLER=libecho.handle loads ./libecho.so and serves `handle`, the same work as echo_lib.c's
 * callback. No main and no -lscfruntime: the scf_* functions come from the bootstrap. */
#include <scfruntime.h>

int handle(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    return scf_response_set_body(resp, body, len);
}
