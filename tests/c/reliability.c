/* reliability: the C bootstrap of tests/reliability. Events are {"i":N,"mode":"..."}:
 *   ok     echo the event (byte for byte)
 *   fail   scf_response_set_error("Fail", ...)
 *   segv   raise SIGSEGV inside the handler (the process dies)
 *   loop   spin forever (the emulator's timeout kills it)
 *   flood  write 100 MB to stdout, then answer "flooded"
 *   close  close stdout and stderr, then echo
 *   sleep  sleep 20 ms and answer {"pid":P,"start_ns":S,"end_ns":E} (CLOCK_MONOTONIC)
 * Anything else is echoed.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <scfruntime.h>

static int has_mode(const uint8_t *body, size_t len, const char *mode) {
    char needle[64];
    int n = snprintf(needle, sizeof needle, "\"mode\":\"%s\"", mode);
    if (n <= 0 || (size_t)n > len) {
        return 0;
    }
    for (size_t i = 0; i + (size_t)n <= len; i++) {
        if (memcmp(body + i, needle, (size_t)n) == 0) {
            return 1;
        }
    }
    return 0;
}

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int handler(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    if (has_mode(body, len, "fail")) {
        return scf_response_set_error(resp, "Fail", "the event asked to fail");
    }
    if (has_mode(body, len, "segv")) {
        fflush(stdout);
        raise(SIGSEGV);
        return 1;
    }
    if (has_mode(body, len, "loop")) {
        volatile unsigned long spin = 0;
        for (;;) {
            spin++;
        }
    }
    if (has_mode(body, len, "flood")) {
        static char line[4096];
        memset(line, 'x', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (int i = 0; i < 100 * 256; i++) { /* 100 MiB */
            if (fwrite(line, 1, sizeof line, stdout) != sizeof line) {
                break;
            }
        }
        return scf_response_set_body(resp, (const uint8_t *)"flooded", 7);
    }
    if (has_mode(body, len, "close")) {
        fflush(stdout);
        fflush(stderr);
        close(1);
        close(2);
        printf("written to a closed stdout\n");
        fprintf(stderr, "written to a closed stderr\n");
        return scf_response_set_body(resp, body, len);
    }
    if (has_mode(body, len, "sleep")) {
        long long start = now_ns();
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
        char out[128];
        int n = snprintf(out, sizeof out, "{\"pid\":%ld,\"start_ns\":%lld,\"end_ns\":%lld}",
                         (long)getpid(), start, now_ns());
        return scf_response_set_body(resp, (const uint8_t *)out, (size_t)n);
    }
    return scf_response_set_body(resp, body, len);
}

int main(void) {
    return scf_run(handler, NULL);
}
