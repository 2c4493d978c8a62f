/* The C echo served by libscfruntime, for the benchmark: the same work as raw_client.c's loop
 * body (take the event, answer it unchanged), through scf_run. It prints nothing per event so
 * that only the transport is measured; the library still calls fflush(NULL) after each one.
 * SCFRUNTIME_MAX_INVOCATIONS bounds the run. */
#include <scfruntime.h>

static int echo(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    return scf_response_set_body(resp, body, len);
}

int main(void) {
    return scf_run(echo, NULL);
}
