/* A C function served by libscfruntime through scf_runtime_* calls, as the integration test
 * drives it against scfrt's runtime API.
 *
 * Usage: function [MAX_INVOCATIONS]
 *
 * Handlers: "echo" (the body back, byte for byte), "main_handler" and "other_handler" (the body
 * prefixed with "main:" / "other:"), and a default one ("default:" prefix, left out when
 * TEST_NO_DEFAULT is set). Every handler answers these events specially:
 *   "error"  sets an error (UTF-8 type and message) and returns 1
 *   "fail7"  returns 7 without setting an error
 *   "empty"  returns 0 without setting anything
 *   "info"   answers JSON with the request id, limits and function metadata
 *   "abi"    checks argument validation inside a handler, answers "abi ok" or "abi FAILED"
 * The init callback prints "init ran", or fails with status 3 when TEST_INIT_FAIL is set.
 * On exit it checks that each userdata finalizer ran exactly once. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>

#include "common.h"

struct handler_state {
    const char *name;
    const char *prefix;
    int calls;
};

static int finalized = 0;
static int allocated = 0;
static scf_runtime *the_runtime = NULL;

static struct handler_state *new_state(const char *name, const char *prefix) {
    struct handler_state *st = malloc(sizeof *st);
    if (!st) {
        perror("malloc");
        exit(2);
    }
    st->name = name;
    st->prefix = prefix;
    st->calls = 0;
    allocated++;
    return st;
}

static void free_state(void *userdata) {
    struct handler_state *st = userdata;
    printf("finalize %s after %d calls\n", st->name, st->calls);
    finalized++;
    free(st);
}

static int init(void *userdata) {
    struct handler_state *st = userdata;
    st->calls++;
    if (getenv("TEST_INIT_FAIL")) {
        fprintf(stderr, "init: refusing to start: TEST_INIT_FAIL is set (données ✗)\n");
        return 3;
    }
    printf("init ran\n");
    return 0;
}

static int late_handler(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    (void)inv;
    (void)resp;
    return 0;
}

/* Argument checks that need a live invocation and response. */
static int abi_checks(const scf_invocation *inv, scf_response *resp) {
    int before = test_failures;
    size_t len = 12345;
    EXPECT(scf_invocation_body(inv, NULL) == NULL);
    EXPECT(scf_invocation_body(NULL, &len) == NULL && len == 12345);
    EXPECT_RC(scf_response_set_body(resp, NULL, 3), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_response_set_body(resp, NULL, 0), SCF_RESULT_OK);
    EXPECT_RC(scf_response_set_error(resp, NULL, "m"), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_response_set_error(resp, "t", NULL), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_response_set_error(resp, "bad \xff type", "m"), SCF_RESULT_INVALID_UTF8);
    EXPECT_RC(scf_response_set_error(resp, "t", "bad \xc3 message"), SCF_RESULT_INVALID_UTF8);
    EXPECT(scf_invocation_metadata(NULL, "function_name") == NULL);
    EXPECT(strstr(last_error(), "inv") != NULL);
    EXPECT(scf_invocation_metadata(inv, NULL) == NULL);
    EXPECT(strstr(last_error(), "name") != NULL);
    EXPECT(scf_invocation_metadata(inv, "no_such_item") == NULL);
    EXPECT(strstr(last_error(), "unknown metadata name \"no_such_item\"") != NULL);
    EXPECT(scf_invocation_metadata(inv, "bad \xff name") == NULL);
    EXPECT(strstr(last_error(), "UTF-8") != NULL);
    /* The running runtime refuses changes from its own callbacks. */
    EXPECT_RC(scf_runtime_register(the_runtime, "late", late_handler, NULL, NULL), SCF_RESULT_BUSY);
    EXPECT_RC(scf_runtime_set_max_invocations(the_runtime, 1), SCF_RESULT_BUSY);
    EXPECT_RC(scf_runtime_set_handle_signals(the_runtime, 0), SCF_RESULT_BUSY);
    EXPECT_RC(scf_runtime_run(the_runtime), SCF_RESULT_BUSY);
    scf_runtime_free(the_runtime); /* ignored while running */
    EXPECT(strstr(last_error(), "running") != NULL);
    const char *answer = test_failures == before ? "abi ok" : "abi FAILED";
    return scf_response_set_body(resp, (const uint8_t *)answer, strlen(answer));
}

static int handle(void *userdata, const scf_invocation *inv, scf_response *resp) {
    struct handler_state *st = userdata;
    st->calls++;
    size_t len = 0;
    const uint8_t *body = scf_invocation_body(inv, &len);
    const char *id = scf_invocation_request_id(inv);
    if (!body || !id) {
        fprintf(stderr, "handler: invocation accessors failed: %s\n", last_error());
        return 90;
    }
    printf("%s handling %s (%zu bytes)\n", st->name, id, len);

    if (bytes_are(body, len, "error")) {
        scf_result rc = scf_response_set_error(resp, "ValidationError",
                                               "champ «nom» invalide: 错误 🚀");
        return rc == SCF_RESULT_OK ? 1 : (int)rc;
    }
    if (bytes_are(body, len, "fail7")) {
        return 7;
    }
    if (bytes_are(body, len, "empty")) {
        return 0;
    }
    if (bytes_are(body, len, "abi")) {
        return abi_checks(inv, resp);
    }
    if (bytes_are(body, len, "info")) {
        const char *fn = scf_env("function_name");
        const char *ns = scf_env("SCF_NAMESPACE");
        /* Runtime-API mode: the metadata accessor reads the same environment. */
        const char *meta_fn = scf_invocation_metadata(inv, "function_name");
        const char *meta_ns = scf_invocation_metadata(inv, "X-Scf-Namespace");
        const char *meta_trigger = scf_invocation_metadata(inv, "TRIGGER_SRC");
        char out[768];
        int n = snprintf(out, sizeof out,
                         "{\"handler\":\"%s\",\"request_id\":\"%s\",\"memory_limit_mb\":%" PRIu32
                         ",\"time_limit_ms\":%" PRIu64 ",\"remaining_ms\":%" PRIu64
                         ",\"function_name\":\"%s\",\"namespace\":\"%s\""
                         ",\"metadata_function_name\":\"%s\",\"metadata_namespace\":\"%s\""
                         ",\"metadata_trigger_src\":\"%s\"}",
                         st->name, id, scf_invocation_memory_limit_mb(inv),
                         scf_invocation_time_limit_ms(inv), scf_invocation_remaining_ms(inv),
                         fn ? fn : "(unset)", ns ? ns : "(unset)", meta_fn ? meta_fn : "(unset)",
                         meta_ns ? meta_ns : "(unset)", meta_trigger ? meta_trigger : "(unset)");
        if (n < 0 || (size_t)n >= sizeof out) {
            return 91;
        }
        return scf_response_set_body(resp, (const uint8_t *)out, (size_t)n);
    }

    size_t plen = strlen(st->prefix);
    scf_result rc;
    if (plen == 0) {
        rc = scf_response_set_body(resp, body, len);
    } else {
        uint8_t *out = malloc(plen + len + 1);
        if (!out) {
            return 92;
        }
        memcpy(out, st->prefix, plen);
        if (len > 0) {
            memcpy(out + plen, body, len);
        }
        rc = scf_response_set_body(resp, out, plen + len);
        free(out);
    }
    if (rc != SCF_RESULT_OK) {
        fprintf(stderr, "handler: scf_response_set_body: %s: %s\n", scf_result_str((int)rc),
                last_error());
        return (int)rc;
    }
    return 0;
}

int main(int argc, char **argv) {
    scf_runtime *rt = NULL;
    CHECK(scf_runtime_new(&rt));
    the_runtime = rt;
    if (argc > 1) {
        CHECK(scf_runtime_set_max_invocations(rt, strtoull(argv[1], NULL, 10)));
    }
    CHECK(scf_runtime_set_init(rt, init, new_state("init", ""), free_state));
    CHECK(scf_runtime_register(rt, "echo", handle, new_state("echo", ""), free_state));
    CHECK(scf_runtime_register(rt, "main_handler", handle, new_state("main_handler", "main:"),
                               free_state));
    CHECK(scf_runtime_register(rt, "other_handler", handle, new_state("other_handler", "other:"),
                               free_state));
    if (!getenv("TEST_NO_DEFAULT")) {
        CHECK(scf_runtime_register(rt, NULL, handle, new_state("default", "default:"), free_state));
    }

    scf_result rc = scf_runtime_run(rt);
    if (rc != SCF_RESULT_OK) {
        fprintf(stderr, "function: scf_runtime_run: %s (%d): %s\n", scf_result_str((int)rc),
                (int)rc, last_error());
    }
    scf_runtime_free(rt);
    printf("finalizers: %d of %d\n", finalized, allocated);
    EXPECT(finalized == allocated);
    if (test_failures) {
        fprintf(stderr, "function: %d expectation(s) failed\n", test_failures);
        return 4;
    }
    return rc == SCF_RESULT_OK ? 0 : 1;
}
