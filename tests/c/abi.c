/* ABI contract checks that need no runtime API server: NULL arguments, out-params untouched on
 * failure, invalid UTF-8, finalizers exactly once, per-thread last error, result strings, the
 * version macros, and (when SCFRUNTIME_TEST_PANIC names scf_runtime_set_max_invocations) a
 * panic caught at the boundary with the process going on, and which registered handler _HANDLER
 * selects (core's one parser, docs/handler.md). Prints "abi: all checks passed". */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "common.h"

static int finalized[4];

static void fin(void *userdata) {
    finalized[*(int *)userdata]++;
}

static int handler(void *userdata, const scf_invocation *inv, scf_response *resp) {
    (void)userdata;
    (void)inv;
    (void)resp;
    return 0;
}

static int init(void *userdata) {
    (void)userdata;
    return 0;
}

static void *other_thread(void *arg) {
    (void)arg;
    /* A fresh thread has no last error, whatever the main thread did. */
    int fresh = scf_last_error_message() == NULL;
    EXPECT_RC(scf_runtime_run(NULL), SCF_RESULT_NULL_PARAMETER);
    int set = scf_last_error_message() != NULL && strstr(scf_last_error_message(), "rt") != NULL;
    return (fresh && set) ? (void *)1 : NULL;
}

/* The result `function` gives: `normal`, or SCF_RESULT_PANIC when the test hook makes it panic. */
static scf_result expected(const char *function, scf_result normal) {
    const char *inject = getenv("SCFRUNTIME_TEST_PANIC");
    return inject && strcmp(inject, function) == 0 ? SCF_RESULT_PANIC : normal;
}

static void set_env(void) {
    setenv("SCF_RUNTIME_API", "127.0.0.1", 1);
    setenv("SCF_RUNTIME_API_PORT", "9", 1);
}

static void results_and_version(void) {
    char version[64];
    snprintf(version, sizeof version, "%d.%d.%d", SCF_VERSION_MAJOR, SCF_VERSION_MINOR,
             SCF_VERSION_PATCH);
    EXPECT(strcmp(scf_version(), version) == 0);

    const char *unknown = scf_result_str(12345);
    EXPECT(unknown != NULL && strcmp(unknown, "unknown result code") == 0);
    EXPECT(strcmp(scf_result_str(-1), "unknown result code") == 0);
    int codes[] = {SCF_RESULT_OK,          SCF_RESULT_NULL_PARAMETER, SCF_RESULT_INVALID_UTF8,
                   SCF_RESULT_TRANSPORT,   SCF_RESULT_HTTP_STATUS,    SCF_RESULT_CONFIG,
                   SCF_RESULT_INIT_FAILED, SCF_RESULT_HANDLER_NOT_FOUND, SCF_RESULT_BUSY,
                   SCF_RESULT_OTHER,       SCF_RESULT_PANIC};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = scf_result_str(codes[i]);
        EXPECT(s != NULL && strcmp(s, "unknown result code") != 0);
    }
    /* The numbers are ABI. */
    EXPECT(SCF_RESULT_OK == 0 && SCF_RESULT_NULL_PARAMETER == 1 && SCF_RESULT_INVALID_UTF8 == 2);
    EXPECT(SCF_RESULT_PANIC == 99);
}

static void null_arguments(void) {
    EXPECT_RC(scf_runtime_new(NULL), SCF_RESULT_NULL_PARAMETER);
    EXPECT(strstr(last_error(), "out") != NULL);
    EXPECT_RC(scf_runtime_register(NULL, "x", handler, NULL, NULL), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_runtime_set_init(NULL, init, NULL, NULL), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_runtime_set_max_invocations(NULL, 1),
              expected("scf_runtime_set_max_invocations", SCF_RESULT_NULL_PARAMETER));
    EXPECT_RC(scf_runtime_set_handle_signals(NULL, 0), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_runtime_run(NULL), SCF_RESULT_NULL_PARAMETER);
    scf_runtime_free(NULL);

    size_t len = 777;
    EXPECT(scf_invocation_request_id(NULL) == NULL);
    EXPECT(scf_invocation_body(NULL, &len) == NULL && len == 777);
    EXPECT(scf_invocation_body(NULL, NULL) == NULL);
    EXPECT(scf_invocation_memory_limit_mb(NULL) == 0);
    EXPECT(scf_invocation_time_limit_ms(NULL) == 0);
    EXPECT(scf_invocation_remaining_ms(NULL) == 0);
    EXPECT_RC(scf_response_set_body(NULL, (const uint8_t *)"x", 1), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_response_set_body(NULL, NULL, 0), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_response_set_error(NULL, "t", "m"), SCF_RESULT_NULL_PARAMETER);

    EXPECT(scf_env(NULL) == NULL);
    EXPECT(strstr(last_error(), "name") != NULL);
    EXPECT(scf_run(NULL, NULL) == 1); /* prints "scfruntime: argument `f` is NULL" */
}

static void environment(void) {
    scf_runtime *sentinel = (scf_runtime *)&finalized; /* never dereferenced */
    scf_runtime *rt = sentinel;

    unsetenv("SCF_RUNTIME_API");
    EXPECT_RC(scf_runtime_new(&rt), SCF_RESULT_CONFIG);
    EXPECT(rt == sentinel);
    EXPECT(strstr(last_error(), "SCF_RUNTIME_API") != NULL);

    set_env();
    setenv("SCFRUNTIME_MAX_INVOCATIONS", "many", 1);
    EXPECT_RC(scf_runtime_new(&rt), SCF_RESULT_CONFIG);
    EXPECT(rt == sentinel);
    EXPECT(strstr(last_error(), "SCFRUNTIME_MAX_INVOCATIONS") != NULL);
    unsetenv("SCFRUNTIME_MAX_INVOCATIONS");

    setenv("SCF_FUNCTIONNAME", "abi-fn", 1);
    const char *a = scf_env("function_name");
    const char *b = scf_env("SCF_FUNCTIONNAME");
    EXPECT(a != NULL && strcmp(a, "abi-fn") == 0);
    EXPECT(a == b); /* interned: the same library-owned string */
    setenv("SCF_FUNCTIONNAME", "renamed", 1);
    EXPECT(strcmp(scf_env("function_name"), "renamed") == 0);
    EXPECT(strcmp(a, "abi-fn") == 0); /* earlier pointers stay valid */
    EXPECT(scf_env("SCF_NO_SUCH_VARIABLE_SET") == NULL);
    EXPECT(scf_env("bad \xff name") == NULL);
    EXPECT(strstr(last_error(), "UTF-8") != NULL);
}

static void registration_and_finalizers(void) {
    int ids[4] = {0, 1, 2, 3};
    scf_runtime *rt = NULL;
    CHECK(scf_runtime_new(&rt));

    /* Failures leave userdata with the caller: no finalizer runs. */
    EXPECT_RC(scf_runtime_register(rt, "x", NULL, &ids[0], fin), SCF_RESULT_NULL_PARAMETER);
    EXPECT_RC(scf_runtime_register(rt, "bad \xff", handler, &ids[0], fin), SCF_RESULT_INVALID_UTF8);
    EXPECT_RC(scf_runtime_set_init(rt, NULL, &ids[0], fin), SCF_RESULT_NULL_PARAMETER);
    EXPECT(finalized[0] == 0);

    /* No handler and no _HANDLER: run refuses before touching the network. */
    unsetenv("_HANDLER");
    EXPECT_RC(scf_runtime_run(rt), SCF_RESULT_HANDLER_NOT_FOUND);
    EXPECT(strstr(last_error(), "default handler") != NULL);

    CHECK(scf_runtime_register(rt, "x", handler, &ids[0], fin));
    CHECK(scf_runtime_register(rt, "x", handler, &ids[1], fin)); /* replaces: ids[0] freed now */
    EXPECT(finalized[0] == 1 && finalized[1] == 0);
    CHECK(scf_runtime_register(rt, NULL, handler, &ids[2], NULL)); /* no finalizer: fine */
    CHECK(scf_runtime_set_init(rt, init, &ids[3], fin));
    CHECK(scf_runtime_set_handle_signals(rt, 0));

    if (expected("scf_runtime_set_max_invocations", SCF_RESULT_OK) == SCF_RESULT_PANIC) {
        EXPECT_RC(scf_runtime_set_max_invocations(rt, 5), SCF_RESULT_PANIC);
        EXPECT(strstr(last_error(), "panic in scf_runtime_set_max_invocations") != NULL);
        /* The library is still usable after the caught panic. */
        CHECK(scf_runtime_set_handle_signals(rt, 1));
        printf("abi: panic caught\n");
    } else {
        CHECK(scf_runtime_set_max_invocations(rt, 5));
    }

    scf_runtime_free(rt);
    EXPECT(finalized[0] == 1 && finalized[1] == 1 && finalized[2] == 0 && finalized[3] == 1);
}

static int refusing_init(void *userdata) {
    (void)userdata;
    return 1;
}

/* The result of scf_runtime_run for `_HANDLER=spec` with only a handler named `name`
 * registered (no default) and an init callback that refuses: SCF_RESULT_INIT_FAILED when `name`
 * was selected (init runs only then), SCF_RESULT_HANDLER_NOT_FOUND when not. Either way nothing
 * reaches the network: init and selection come before ready. */
static scf_result select_only(const char *spec, const char *name) {
    setenv("_HANDLER", spec, 1);
    scf_runtime *rt = NULL;
    CHECK(scf_runtime_new(&rt));
    CHECK(scf_runtime_register(rt, name, handler, NULL, NULL));
    CHECK(scf_runtime_set_init(rt, refusing_init, NULL, NULL));
    CHECK(scf_runtime_set_handle_signals(rt, 0));
    scf_result rc = scf_runtime_run(rt);
    scf_runtime_free(rt);
    return rc;
}

/* The registry takes _HANDLER's function part from core's one parser (docs/handler.md). */
static void handler_selection(void) {
    /* Accepted: the function is after the last '.', nothing is stripped from the file. */
    const char *selects[] = {"index.main_handler", "src/app.main_handler", "src.app.main_handler",
                             "index.py.main_handler", "2024/app.main_handler"};
    for (size_t i = 0; i < sizeof selects / sizeof *selects; i++) {
        scf_result rc = select_only(selects[i], "main_handler");
        if (rc != SCF_RESULT_INIT_FAILED) {
            fprintf(stderr, "abi: _HANDLER=%s did not select main_handler: %s: %s\n", selects[i],
                    scf_result_str((int)rc), last_error());
            test_failures++;
        }
    }
    /* A name equal to the whole _HANDLER matches, whether or not it parses. */
    EXPECT_RC(select_only("main_handler", "main_handler"), SCF_RESULT_INIT_FAILED);
    EXPECT_RC(select_only("index.1main", "index.1main"), SCF_RESULT_INIT_FAILED);

    /* Refused by the parser: the text after the last '.' selects nothing, and the message says
     * which rule the string breaks. */
    struct {
        const char *handler, *name, *why;
    } refused[] = {
        {"index.1main", "1main", "not an identifier"},               /* digit first */
        {"index.\xe5\xa4\x84\xe7\x90\x86", "\xe5\xa4\x84\xe7\x90\x86", "not an identifier"}, /* 处理 */
        {"\xc3\xadndex.main_handler", "main_handler", "character"},  /* índex */
        {"index.main-handler", "main-handler", "not an identifier"},
        {" index.main_handler", "main_handler", "whitespace"},        /* not trimmed */
        {"index.main_handler ", "main_handler", "whitespace"},
        {".main_handler", "main_handler", "file name"},
        {"../index.main_handler", "main_handler", "empty component"},
        {"/abs/index.main_handler", "main_handler", "relative"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        scf_result rc = select_only(refused[i].handler, refused[i].name);
        const char *msg = last_error();
        if (rc != SCF_RESULT_HANDLER_NOT_FOUND || strstr(msg, refused[i].why) == NULL ||
            strstr(msg, "no function part") == NULL) {
            fprintf(stderr, "abi: _HANDLER=\"%s\" with \"%s\" registered: %s: %s\n",
                    refused[i].handler, refused[i].name, scf_result_str((int)rc), msg);
            test_failures++;
        }
    }
    unsetenv("_HANDLER");
}

int main(void) {
    results_and_version();
    null_arguments();
    environment();
    registration_and_finalizers();
    handler_selection();

    pthread_t t;
    void *ok = NULL;
    if (pthread_create(&t, NULL, other_thread, NULL) != 0 || pthread_join(t, &ok) != 0) {
        fprintf(stderr, "abi: pthread failed\n");
        return 2;
    }
    EXPECT(ok != NULL);

    if (test_failures) {
        fprintf(stderr, "abi: %d check(s) failed\n", test_failures);
        return 1;
    }
    printf("abi: all checks passed\n");
    return 0;
}
