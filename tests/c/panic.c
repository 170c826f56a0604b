/*
 * No panic crosses the C ABI. Linked against a debug libtollgate built with the test-only cargo
 * feature `fault-injection` (run.sh builds it; never a shipped library), under which a check of
 * the method TOLLGATE-FAULT-INJECTION panics inside the engine. The panic must come back as
 * TG_STATUS_PANIC with no output written, the process must live on, and the same engine and the
 * same reused decision must then decide ordinary requests as before.
 *
 * usage: panic
 */
#include "common.h"

static const char *POLICY =
    "{\"version\":1,\"name\":\"t\",\"realm\":\"r\","
    "\"credentials\":[{\"name\":\"h\",\"header\":\"token\"}],"
    "\"providers\":[{\"name\":\"app\",\"credentials\":[\"h\"],\"algorithms\":[\"HS256\"]}],"
    "\"routes\":[{\"method\":\"GET\",\"path\":\"/health\",\"public\":true},"
    "{\"method\":\"GET\",\"path\":\"/me\",\"requires\":[]}]}";

static const char *FAULT = "TOLLGATE-FAULT-INJECTION";

/* A recognisable pointer value that a failed call must leave in place. */
static int sentinel_storage;
#define SENTINEL ((tg_decision *)&sentinel_storage)

/* One ordinary check through tg_engine_check: `path` must get `status` and `reason`. */
static void expect_decision(const tg_engine *engine, const char *path, uint16_t status,
                            tg_status reason) {
    tg_decision *d = NULL;
    tg_status st = tg_engine_check(engine, U8("GET"), 3, U8(path), strlen(path), NULL, 0,
                                   1700000000, &d);
    if (!check(st == TG_STATUS_OK && d != NULL, "GET %s after the panic: %s", path,
               tg_error_name(st))) {
        return;
    }
    check(tg_decision_status(d) == status, "GET %s: status %u, expected %u", path,
          tg_decision_status(d), status);
    check(tg_decision_reason(d) == (uint32_t)reason, "GET %s: reason %s, expected %s", path,
          tg_error_name(tg_decision_reason(d)), tg_error_name(reason));
    tg_decision_free(d);
}

int main(void) {
    tg_engine *engine = NULL;
    char *error = NULL;
    tg_status st = tg_engine_new(U8(POLICY), strlen(POLICY), &engine, &error);
    if (!check(st == TG_STATUS_OK, "engine: %s %s", tg_error_name(st), show(error))) {
        tg_string_free(error);
        return finish("panic");
    }

    /* tg_engine_check: the panic is caught, reported, and no decision is written. */
    tg_header h = header_of("token", "x");
    tg_decision *d = SENTINEL;
    st = tg_engine_check(engine, U8(FAULT), strlen(FAULT), U8("/me"), 3, &h, 1, 1700000000, &d);
    check(st == TG_STATUS_PANIC, "tg_engine_check panicking: %s (%u), expected panic (2003)",
          tg_error_name(st), (unsigned)st);
    check(d == SENTINEL, "tg_engine_check panicking: decision_out written");
    check(strcmp(tg_error_name(TG_STATUS_PANIC), "panic") == 0, "TG_STATUS_PANIC's name: %s",
          tg_error_name(TG_STATUS_PANIC));

    /* The engine is unharmed: ordinary checks decide as before, again and again. */
    for (int i = 0; i < 3; i++) {
        expect_decision(engine, "/health", 200, TG_STATUS_OK);
        expect_decision(engine, "/me", 401, TG_STATUS_MISSING_CREDENTIALS);
    }

    /* tg_engine_check_into: a reused decision survives a panic in the middle of a check, and
     * does not keep the verdict before it (an allowed one here). */
    tg_decision *reused = NULL;
    st = tg_decision_new(&reused);
    check(st == TG_STATUS_OK, "tg_decision_new: %s", tg_error_name(st));
    st = tg_engine_check_into(engine, U8("GET"), 3, U8("/health"), 7, NULL, 0, 1700000000,
                              reused);
    check(st == TG_STATUS_OK && tg_decision_status(reused) == 200, "check_into before: %s %u",
          tg_error_name(st), tg_decision_status(reused));
    st = tg_engine_check_into(engine, U8(FAULT), strlen(FAULT), U8("/me"), 3, NULL, 0, 1700000000,
                              reused);
    check(st == TG_STATUS_PANIC, "tg_engine_check_into panicking: %s", tg_error_name(st));
    size_t reason_len = 0;
    const char *reason = tg_decision_reason_name(reused, &reason_len);
    check(tg_decision_status(reused) == 0 && tg_decision_reason(reused) == 1 && reason != NULL &&
              strcmp(reason, "internal_error") == 0,
          "after the panic the decision is empty: status %u, reason %s",
          tg_decision_status(reused), reason ? reason : "(null)");
    st = tg_engine_check_into(engine, U8("GET"), 3, U8("/health"), 7, NULL, 0, 1700000000,
                              reused);
    check(st == TG_STATUS_OK && tg_decision_status(reused) == 200 &&
              tg_decision_reason(reused) == TG_STATUS_OK,
          "check_into after the panic: %s, status %u", tg_error_name(st),
          tg_decision_status(reused));
    tg_decision_free(reused);

    tg_engine_free(engine);
    return finish("panic");
}
