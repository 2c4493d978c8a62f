/* Helpers shared by the C test programs: every scf_* call that must succeed goes through CHECK,
 * every expectation through EXPECT, and main() returns failures() so the harness sees them. */
#ifndef SCF_TEST_COMMON_H
#define SCF_TEST_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scfruntime.h"

static int test_failures = 0;

static inline const char *last_error(void) {
    const char *m = scf_last_error_message();
    return m ? m : "(no message)";
}

/* A call that must return SCF_RESULT_OK; anything else ends the program with status 2. */
#define CHECK(call)                                                                        \
    do {                                                                                   \
        scf_result check_rc_ = (call);                                                     \
        if (check_rc_ != SCF_RESULT_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s (%d): %s\n", __FILE__, __LINE__, #call, \
                    scf_result_str((int)check_rc_), (int)check_rc_, last_error());         \
            exit(2);                                                                       \
        }                                                                                  \
    } while (0)

/* An expectation; a failure is printed and counted, and the program goes on. */
#define EXPECT(cond)                                                                       \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond);            \
            test_failures++;                                                               \
        }                                                                                  \
    } while (0)

/* A call that must return `want`. */
#define EXPECT_RC(call, want)                                                              \
    do {                                                                                   \
        scf_result expect_rc_ = (call);                                                    \
        if (expect_rc_ != (want)) {                                                        \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s; last error: %s\n",    \
                    __FILE__, __LINE__, #call, (int)expect_rc_,                            \
                    scf_result_str((int)expect_rc_), #want, last_error());                 \
            test_failures++;                                                               \
        }                                                                                  \
    } while (0)

/* Whether the `len` bytes at `data` spell the NUL-terminated `text`. */
static inline int bytes_are(const uint8_t *data, size_t len, const char *text) {
    size_t n = strlen(text);
    return len == n && (n == 0 || memcmp(data, text, n) == 0);
}

#endif
