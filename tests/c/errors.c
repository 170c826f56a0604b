/*
 * Error handling: NULL parameters, text that is not UTF-8, invalid policies, snapshots, options
 * and keys give the documented statuses (and messages through error_out), never crash, and leave
 * output parameters untouched; getters and frees accept NULL; every status has its name.
 *
 * usage: errors <repository root>
 */
#include "common.h"

/* A recognisable pointer value that no call may overwrite on failure. */
static int sentinel_storage;
#define SENTINEL ((void *)&sentinel_storage)

static const char *POLICY_OK =
    "{\"version\":1,\"name\":\"t\",\"realm\":\"r\","
    "\"credentials\":[{\"name\":\"h\",\"header\":\"token\"}],"
    "\"providers\":[{\"name\":\"app\",\"credentials\":[\"h\"],\"algorithms\":[\"HS256\"]}],"
    "\"permissions\":[],\"roles\":[],"
    "\"routes\":[{\"method\":\"GET\",\"path\":\"/a\",\"requires\":[]}]}";

/* Expects `got == want`, and a message iff the call failed. */
static void expect_status(const char *what, tg_status got, tg_status want, char **error) {
    check(got == want, "%s: expected %s, got %s", what, tg_error_name(want), tg_error_name(got));
    if (error != NULL) {
        check((*error != NULL) == (want != TG_STATUS_OK), "%s: message %s", what, show(*error));
        tg_string_free(*error);
        *error = NULL;
    }
}

static void engine_errors(void) {
    tg_engine *e = SENTINEL;
    char *error = NULL;
    expect_status("engine: NULL policy with a length", tg_engine_new(NULL, 5, &e, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("engine: NULL engine_out",
                  tg_engine_new(U8(POLICY_OK), strlen(POLICY_OK), NULL, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("engine: empty policy", tg_engine_new(NULL, 0, &e, &error),
                  TG_STATUS_INVALID_POLICY, &error);
    expect_status("engine: truncated JSON", tg_engine_new(U8("{\"version\":"), 11, &e, &error),
                  TG_STATUS_INVALID_POLICY, &error);
    const char *bad_utf8 = "{\"version\":1,\"name\":\"\xff\"}";
    expect_status("engine: policy not UTF-8",
                  tg_engine_new(U8(bad_utf8), strlen(bad_utf8), &e, &error),
                  TG_STATUS_INVALID_POLICY, &error);
    /* The message names the place. */
    const char *unknown = "{\"version\":1,\"name\":\"t\",\"routes\":[],\"bogus\":1}";
    tg_status st = tg_engine_new(U8(unknown), strlen(unknown), &e, &error);
    check(st == TG_STATUS_INVALID_POLICY && error != NULL && strstr(error, "bogus") != NULL,
          "engine: unknown member named in the message: %s", show(error));
    tg_string_free(error);
    error = NULL;
    check(e == SENTINEL, "engine: engine_out untouched on failure");
    /* A failure without error_out is fine too. */
    expect_status("engine: no error_out", tg_engine_new(U8("[]"), 2, &e, NULL),
                  TG_STATUS_INVALID_POLICY, NULL);

    st = tg_engine_new(U8(POLICY_OK), strlen(POLICY_OK), &e, &error);
    expect_status("engine: a valid policy", st, TG_STATUS_OK, &error);
    if (st != TG_STATUS_OK) {
        return;
    }

    /* Snapshots. */
    tg_snapshot *s = SENTINEL;
    expect_status("snapshot: NULL engine", tg_snapshot_new(NULL, U8("{}"), 2, &s, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("snapshot: invalid JSON", tg_snapshot_new(e, U8("{"), 1, &s, &error),
                  TG_STATUS_INVALID_SNAPSHOT, &error);
    const char *unknown_provider = "{\"keys\":{\"nobody\":{\"keys\":[]}}}";
    expect_status("snapshot: unknown provider",
                  tg_snapshot_new(e, U8(unknown_provider), strlen(unknown_provider), &s, &error),
                  TG_STATUS_INVALID_SNAPSHOT, &error);
    const char *weak = "{\"keys\":{\"app\":{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"}}}";
    tg_status weak_st = tg_snapshot_new(e, U8(weak), strlen(weak), &s, &error);
    check(weak_st == TG_STATUS_INVALID_SNAPSHOT && error != NULL &&
              strstr(error, "keys.app") != NULL && strstr(error, "5 bytes") != NULL,
          "snapshot: a 5-byte HMAC secret is refused, the message naming the place (%s: %s)",
          tg_error_name(weak_st), show(error));
    tg_string_free(error);
    error = NULL;
    check(s == SENTINEL, "snapshot: snapshot_out untouched on failure");
    expect_status("swap: NULL snapshot", tg_engine_swap_snapshot(e, NULL, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("swap json: invalid", tg_engine_swap_snapshot_json(e, U8("nope"), 4, &error),
                  TG_STATUS_INVALID_SNAPSHOT, &error);

    /* Checks. */
    tg_decision *d = SENTINEL;
    tg_header h = header_of("token", "x");
    check(tg_engine_check(NULL, U8("GET"), 3, U8("/a"), 2, NULL, 0, 0, &d) ==
              TG_STATUS_NULL_PARAMETER,
          "check: NULL engine");
    check(tg_engine_check(e, U8("GET"), 3, U8("/a"), 2, NULL, 0, 0, NULL) ==
              TG_STATUS_NULL_PARAMETER,
          "check: NULL decision_out");
    check(tg_engine_check(e, NULL, 3, U8("/a"), 2, NULL, 0, 0, &d) == TG_STATUS_NULL_PARAMETER,
          "check: NULL method with a length");
    check(tg_engine_check(e, U8("GET"), 3, U8("/a"), 2, NULL, 1, 0, &d) ==
              TG_STATUS_NULL_PARAMETER,
          "check: NULL headers with a count");
    tg_header null_name = {NULL, 3, U8("v"), 1};
    check(tg_engine_check(e, U8("GET"), 3, U8("/a"), 2, &null_name, 1, 0, &d) ==
              TG_STATUS_NULL_PARAMETER,
          "check: a header name NULL with a length");
    check(d == SENTINEL, "check: decision_out untouched on failure");

    /* Text that is not UTF-8 is a request the engine refuses: 400 invalid_request. */
    const char *bad_path = "/a\xc3\x28";
    tg_header bad_value = {U8("token"), 5, U8("\xff\xfe"), 2};
    struct {
        const char *what;
        const char *method;
        const char *path;
        const tg_header *headers;
        size_t count;
    } not_utf8[] = {
        {"path", "GET", bad_path, NULL, 0},
        {"method", "G\x80T", "/a", NULL, 0},
        {"header value", "GET", "/a", &bad_value, 1},
    };
    for (size_t i = 0; i < sizeof not_utf8 / sizeof not_utf8[0]; i++) {
        tg_status cst = tg_engine_check(e, U8(not_utf8[i].method), strlen(not_utf8[i].method),
                                        U8(not_utf8[i].path), strlen(not_utf8[i].path),
                                        not_utf8[i].headers, not_utf8[i].count, 0, &d);
        check(cst == TG_STATUS_OK && tg_decision_status(d) == 400 &&
                  tg_decision_reason(d) == TG_STATUS_INVALID_REQUEST,
              "check: %s not UTF-8 gives 400 invalid_request (%s, %u)", not_utf8[i].what,
              tg_error_name(cst), (unsigned)tg_decision_status(d));
        if (cst == TG_STATUS_OK) {
            tg_decision_free(d);
        }
        d = SENTINEL;
        /* The stepwise check (records in a store) reads the request the same way. */
        tg_pending *p = NULL;
        cst = tg_engine_check_step(e, U8(not_utf8[i].method), strlen(not_utf8[i].method),
                                   U8(not_utf8[i].path), strlen(not_utf8[i].path),
                                   not_utf8[i].headers, not_utf8[i].count, 0, &d, &p);
        check(cst == TG_STATUS_OK && p == NULL && d != SENTINEL && d != NULL &&
                  tg_decision_status(d) == 400 &&
                  tg_decision_reason(d) == TG_STATUS_INVALID_REQUEST,
              "check_step: %s not UTF-8 gives 400 invalid_request (%s)", not_utf8[i].what,
              tg_error_name(cst));
        if (cst == TG_STATUS_OK && d != SENTINEL && d != NULL) {
            tg_decision_free(d);
        }
        d = SENTINEL;
    }
    /* Several faults at once: the method is named first, then the path, then a header. */
    const struct {
        const char *method;
        const char *path;
        size_t count;
        const char *message;
    } precedence[] = {
        {"G\x80T", bad_path, 1, "the method is not valid UTF-8"},
        {"GET", bad_path, 1, "the path is not valid UTF-8"},
        {"GET", "/a", 1, "a header name or value is not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof precedence / sizeof precedence[0]; i++) {
        for (int step = 0; step < 2; step++) {
            tg_pending *p = NULL;
            tg_status cst =
                step ? tg_engine_check_step(e, U8(precedence[i].method),
                                            strlen(precedence[i].method), U8(precedence[i].path),
                                            strlen(precedence[i].path), &bad_value,
                                            precedence[i].count, 0, &d, &p)
                     : tg_engine_check(e, U8(precedence[i].method), strlen(precedence[i].method),
                                       U8(precedence[i].path), strlen(precedence[i].path),
                                       &bad_value, precedence[i].count, 0, &d);
            size_t len = 0;
            const char *message = cst == TG_STATUS_OK ? tg_decision_message(d, &len) : NULL;
            check(message != NULL && strcmp(message, precedence[i].message) == 0,
                  "%s: several faults name %s", step ? "check_step" : "check",
                  precedence[i].message);
            if (cst == TG_STATUS_OK) {
                tg_decision_free(d);
            }
            d = SENTINEL;
        }
    }

    /* A decision's indexed getters. */
    if (tg_engine_check(e, U8("GET"), 3, U8("/a"), 2, &h, 1, 0, &d) == TG_STATUS_OK) {
        tg_header out = {0};
        check(tg_decision_forward_header(d, 0, &out) == TG_STATUS_OUT_OF_RANGE,
              "forward header out of range");
        check(tg_decision_forward_header(d, 0, NULL) == TG_STATUS_NULL_PARAMETER,
              "forward header NULL out");
        check(tg_decision_role(d, 99, NULL) == NULL, "role out of range");
        check(tg_decision_permission(d, 99, NULL) == NULL, "permission out of range");
        check(tg_decision_status(d) == 401, "a malformed token is a 401 (%u)",
              (unsigned)tg_decision_status(d));
        char *json = SENTINEL;
        check(tg_decision_to_json(d, NULL) == TG_STATUS_NULL_PARAMETER, "to_json NULL out");
        char *token = SENTINEL;
        expect_status("reissue: a refused decision",
                      tg_engine_reissue(e, d, 0, &token, &error), TG_STATUS_SIGNING_FAILED,
                      &error);
        check(token == SENTINEL && json == SENTINEL, "reissue: token_out untouched");
        tg_decision_free(d);
    }
    check(tg_engine_check_into(e, U8("GET"), 3, U8("/a"), 2, NULL, 0, 0, NULL) ==
              TG_STATUS_NULL_PARAMETER,
          "check_into: NULL decision");
    tg_engine_free(e);
}

static void null_getters_and_frees(void) {
    size_t n = 12345;
    double x = 1.5;
    check(tg_decision_status(NULL) == 0, "status(NULL)");
    check(tg_decision_reason(NULL) == TG_STATUS_NULL_PARAMETER, "reason(NULL)");
    check(tg_decision_reason_name(NULL, &n) == NULL && n == 12345, "reason_name(NULL)");
    check(tg_decision_subject(NULL, &n) == NULL, "subject(NULL)");
    check(tg_decision_roles_count(NULL) == 0, "roles_count(NULL)");
    check(tg_decision_role(NULL, 0, &n) == NULL, "role(NULL)");
    check(!tg_decision_expires_at(NULL, &x) && x == 1.5, "expires_at(NULL)");
    check(!tg_decision_has_permission(NULL, U8("x"), 1), "has_permission(NULL)");
    check(tg_decision_forward_headers_count(NULL) == 0, "forward_headers_count(NULL)");
    check(tg_token_subject(NULL, &n) == NULL, "token_subject(NULL)");
    check(tg_token_payload(NULL, &n) == NULL, "token_payload(NULL)");
    check(!tg_token_expires_at(NULL, &x), "token_expires_at(NULL)");
    tg_engine_free(NULL);
    tg_snapshot_free(NULL);
    tg_decision_free(NULL);
    tg_verifier_free(NULL);
    tg_token_free(NULL);
    tg_webhook_verifier_free(NULL);
    tg_replay_guard_free(NULL);
    tg_string_free(NULL);
    check(true, "every free accepts NULL");
    /* A fresh decision answers like an empty one. */
    tg_decision *d = NULL;
    check(tg_decision_new(&d) == TG_STATUS_OK && tg_decision_status(d) == 0 &&
              tg_decision_subject(d, NULL) == NULL,
          "tg_decision_new");
    tg_decision_free(d);
    check(tg_decision_new(NULL) == TG_STATUS_NULL_PARAMETER, "tg_decision_new(NULL)");
}

static void verifier_errors(void) {
    const char *jwks = "{\"keys\":[{\"kty\":\"oct\",\"alg\":\"HS256\",\"kid\":\"k\","
                       "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}";
    tg_verifier *v = SENTINEL;
    char *error = NULL;
    struct {
        const char *what;
        const char *keys;
        const char *options;
        tg_status want;
    } cases[] = {
        {"options not JSON", jwks, "{", TG_STATUS_INVALID_OPTIONS},
        {"unknown option", jwks, "{\"leway\":1}", TG_STATUS_INVALID_OPTIONS},
        {"leeway above the cap", jwks, "{\"leeway\":601}", TG_STATUS_INVALID_OPTIONS},
        {"unknown alg", jwks, "{\"alg\":\"HS999\"}", TG_STATUS_INVALID_OPTIONS},
        {"keys not a key set", "{\"keys\":3}", "", TG_STATUS_INVALID_KEY_SET},
        {"PEM without alg", "-----BEGIN PUBLIC KEY-----", "", TG_STATUS_INVALID_OPTIONS},
        {"key bound to another alg", jwks, "{\"alg\":\"HS384\"}", TG_STATUS_INVALID_KEY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_status st = tg_verifier_new(U8(cases[i].keys), strlen(cases[i].keys),
                                       U8(cases[i].options), strlen(cases[i].options), &v, &error);
        check(st == cases[i].want,
              "verifier: %s: expected %s, got %s (%s)", cases[i].what,
              tg_error_name(cases[i].want), tg_error_name(st), show(error));
        check(error != NULL, "verifier: %s: a message", cases[i].what);
        tg_string_free(error);
        error = NULL;
    }
    check(v == SENTINEL, "verifier_out untouched on failure");
    expect_status("verifier: NULL out", tg_verifier_new(U8(jwks), strlen(jwks), NULL, 0, NULL, NULL),
                  TG_STATUS_NULL_PARAMETER, NULL);
    tg_status st = tg_verifier_new(U8(jwks), strlen(jwks), NULL, 0, &v, &error);
    expect_status("verifier: defaults", st, TG_STATUS_OK, &error);
    if (st != TG_STATUS_OK) {
        return;
    }
    tg_token *t = SENTINEL;
    expect_status("verify: garbage", tg_verifier_verify(v, U8("abc"), 3, 0, &t, &error),
                  TG_STATUS_MALFORMED_TOKEN, &error);
    expect_status("verify: empty", tg_verifier_verify(v, NULL, 0, 0, &t, &error),
                  TG_STATUS_MALFORMED_TOKEN, &error);
    expect_status("verify: NULL verifier", tg_verifier_verify(NULL, U8("a"), 1, 0, &t, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("verify: bad base64",
                  tg_verifier_verify(v, U8("eyJhbGciOiJIUzI1NiJ9.e30.a+b"), 28, 0, &t, &error),
                  TG_STATUS_INVALID_BASE64, &error);
    expect_status("verify jws: NULL out", tg_verifier_verify_jws(v, U8("a"), 1, NULL, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    check(t == SENTINEL, "token_out untouched on failure");
    tg_verifier_free(v);
}

static void apikey_and_webhook_errors(void) {
    char *out = SENTINEL, *out2 = SENTINEL, *error = NULL;
    expect_status("apikey check: not UTF-8", tg_apikey_check(U8("fln_\xff"), 5, NULL, 0),
                  TG_STATUS_INVALID_UTF8, NULL);
    expect_status("apikey check: NULL key with a length", tg_apikey_check(NULL, 4, NULL, 0),
                  TG_STATUS_NULL_PARAMETER, NULL);
    expect_status("apikey check: malformed", tg_apikey_check(U8("fln_live_abc"), 12, NULL, 0),
                  TG_STATUS_MALFORMED_API_KEY, NULL);
    expect_status("apikey generate: bad prefix",
                  tg_apikey_generate(U8("bad-prefix"), 10, U8("o"), 1, NULL, 0, 0, &out, &out2,
                                     &error),
                  TG_STATUS_KEY_GENERATION_FAILED, &error);
    expect_status("apikey generate: short pepper",
                  tg_apikey_generate(U8("pat"), 3, U8("o"), 1, U8("short"), 5, 0, &out, &out2,
                                     &error),
                  TG_STATUS_INVALID_OPTIONS, &error);
    expect_status("apikey generate: NULL record_out",
                  tg_apikey_generate(U8("pat"), 3, U8("o"), 1, NULL, 0, 0, &out, NULL, &error),
                  TG_STATUS_NULL_PARAMETER, &error);
    expect_status("apikey hash: owner not UTF-8", tg_apikey_hash(U8("\xc0"), 1, NULL, 0, &out),
                  TG_STATUS_INVALID_UTF8, NULL);
    check(out == SENTINEL && out2 == SENTINEL, "apikey outputs untouched on failure");

    expect_status("webhook sign: a public key cannot sign",
                  tg_webhook_sign(U8("whpk_AAAA"), 9, U8("m"), 1, 1, NULL, 0, &out, &error),
                  TG_STATUS_INVALID_WEBHOOK_SECRET, &error);
    expect_status("webhook sign: no prefix",
                  tg_webhook_sign(U8("c2VjcmV0"), 8, U8("m"), 1, 1, NULL, 0, &out, &error),
                  TG_STATUS_INVALID_WEBHOOK_SECRET, &error);
    tg_webhook_verifier *wv = SENTINEL;
    expect_status("webhook verifier: not JSON", tg_webhook_verifier_new(U8("x"), 1, &wv, &error),
                  TG_STATUS_INVALID_OPTIONS, &error);
    const char *too_tolerant = "{\"keys\":[],\"tolerance\":100000}";
    expect_status("webhook verifier: tolerance above a day",
                  tg_webhook_verifier_new(U8(too_tolerant), strlen(too_tolerant), &wv, &error),
                  TG_STATUS_INVALID_OPTIONS, &error);
    const char *short_secret = "{\"keys\":[\"whsec_c2hvcnQ=\"]}";
    expect_status("webhook verifier: short secret",
                  tg_webhook_verifier_new(U8(short_secret), strlen(short_secret), &wv, &error),
                  TG_STATUS_INVALID_WEBHOOK_SECRET, &error);
    check(wv == SENTINEL && out == SENTINEL, "webhook outputs untouched on failure");
    tg_header only_id = header_of("webhook-id", "m");
    expect_status("webhook verify: a bad key",
                  tg_webhook_verify(U8("nope"), 4, &only_id, 1, NULL, 0, 0, &error),
                  TG_STATUS_INVALID_WEBHOOK_SECRET, &error);
    tg_replay_guard *g = SENTINEL;
    expect_status("replay guard: capacity 0", tg_replay_guard_new(0, 0, &g, &error),
                  TG_STATUS_INVALID_OPTIONS, &error);
    check(g == SENTINEL, "guard_out untouched on failure");
}

static void status_names(void) {
    struct {
        uint32_t number;
        const char *name;
        uint16_t http;
    } known[] = {
        {TG_STATUS_OK, "ok", 200},
        {TG_STATUS_INTERNAL_ERROR, "internal_error", 500},
        {TG_STATUS_UNSUPPORTED_CRIT, "unsupported_crit", 401},
        {TG_STATUS_INVALID_TYP, "invalid_typ", 401},
        {TG_STATUS_NOT_FOUND, "not_found", 404},
        {TG_STATUS_WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE, "webhook_timestamp_out_of_tolerance", 401},
        {TG_STATUS_WEBHOOK_REPLAY_GUARD_FULL, "webhook_replay_guard_full", 503},
        {TG_STATUS_NULL_PARAMETER, "null_parameter", 500},
        {TG_STATUS_INVALID_UTF8, "invalid_utf8", 500},
        {TG_STATUS_OUT_OF_RANGE, "out_of_range", 500},
        {TG_STATUS_PANIC, "panic", 500},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        check(strcmp(tg_error_name(known[i].number), known[i].name) == 0 &&
                  tg_error_http_status(known[i].number) == known[i].http &&
                  strlen(tg_error_message(known[i].number)) > 0,
              "status %u is %s (%s)", known[i].number, known[i].name,
              tg_error_name(known[i].number));
    }
    check(strcmp(tg_error_name(99999), "unknown") == 0, "unknown status name");
    check(strcmp(tg_error_message(99999), "unknown status") == 0, "unknown status message");
    check(tg_error_http_status(99999) == 0, "unknown status http");
    check(tg_version() != NULL && strlen(tg_version()) > 0, "version %s", tg_version());
}

/* tg_backends lists the build's backends, preferred first (TOLLGATE_EXPECT_BACKENDS, when set,
 * says what that must be: scripts/test links an aws-lc build too); a verifier's "backend" picks
 * one of them, and a backend the build lacks is TG_STATUS_INVALID_OPTIONS. */
static void backends(void) {
    const char *listed = tg_backends();
    bool aws_lc = strcmp(listed, "aws-lc,ring") == 0;
    check(aws_lc || strcmp(listed, "ring") == 0, "tg_backends: %s", listed);
    const char *expect = getenv("TOLLGATE_EXPECT_BACKENDS");
    if (expect != NULL && expect[0] != '\0') {
        check(strcmp(listed, expect) == 0, "tg_backends: %s, expected %s", listed, expect);
    }
    const char *key = "{\"kty\":\"oct\",\"alg\":\"HS256\","
                      "\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
    struct {
        const char *options;
        tg_status want;
    } cases[] = {
        {"{\"backend\":\"ring\"}", TG_STATUS_OK},
        {"{\"backend\":\"aws-lc\"}", aws_lc ? TG_STATUS_OK : TG_STATUS_INVALID_OPTIONS},
        {"{\"backend\":\"openssl\"}", TG_STATUS_INVALID_OPTIONS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tg_verifier *v = NULL;
        char *error = NULL;
        tg_status st = tg_verifier_new(U8(key), strlen(key), U8(cases[i].options),
                                       strlen(cases[i].options), &v, &error);
        check(st == cases[i].want, "backend %s on %s: expected %s, got %s (%s)", cases[i].options,
              listed, tg_error_name(cases[i].want), tg_error_name(st), show(error));
        tg_string_free(error);
        tg_verifier_free(v);
    }
}

int main(void) {
    backends();
    engine_errors();
    null_getters_and_frees();
    verifier_errors();
    apikey_and_webhook_errors();
    status_names();
    return finish("errors");
}
