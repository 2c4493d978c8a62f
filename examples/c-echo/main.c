/* c-echo: an SCF function in C. It answers each event with the event itself and logs one line.
 *
 * Build (from this folder; see Makefile): make        -> ./bootstrap
 * Run locally:                             scfrt invoke . --event '{"hello":"world"}'
 */
#include <stdio.h>

#include <scfruntime.h>

static int echo(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    /* stdout goes to the function's log; the library flushes it before posting the result. */
    printf("c-echo: request %s, %zu bytes, %llu ms left\n", scf_invocation_request_id(inv), len,
           (unsigned long long)scf_invocation_remaining_ms(inv));
    return scf_response_set_body(resp, body, len);
}

int main(void) {
    return scf_run(echo, NULL);
}
