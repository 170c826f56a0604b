/*
 * Checks that wait on a shared store, driven through the C ABI by a host with its own "client":
 * here an in-memory table of store keys. The four deployments' tables with their records moved
 * out of the snapshot (tg_store_records_from_snapshot) and every provider set to
 * "records": "store" decide as with the snapshot; then a store that does not answer, a bad
 * record, invalidation, a pending check freed unused, and a webhook claim for a shared replay
 * guard.
 *
 * usage: store <repository root>
 */
#include "scenario.h"

static const char *const DEPLOYMENTS[] = {"project-oidc", "service-accounts", "tenant-path",
                                          "workspace-api"};

/* The host's store: the records tg_store_records_from_snapshot gave, looked up by key. */
typedef struct {
    cJSON *doc; /* {"snapshot": …, "records": [{"key", "value", "expires"}]} */
    int lookups;
} memory_store;

static const char *store_get(memory_store *s, const char *key) {
    s->lookups++;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(s->doc, "records")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "key")), key) == 0) {
            return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "value"));
        }
    }
    return NULL;
}

/* Replaces the value stored under `key` (which must be there). */
static void store_put(memory_store *s, const char *key, const char *value) {
    cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(s->doc, "records")) {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "key")), key) == 0) {
            cJSON_ReplaceItemInObjectCaseSensitive(r, "value", cJSON_CreateString(value));
            return;
        }
    }
    check(false, "no record under %s", key);
}

/* A check to its decision, each pending record answered from `s` (or, when `down`, not at all).
 * Returns the decision (NULL on a status other than OK, which fails the test). */
static tg_decision *decide(const tg_engine *engine, const scenario_table *t,
                           const scenario_case *c, memory_store *s, bool down) {
    tg_decision *d = NULL;
    tg_pending *p = NULL;
    tg_status st = tg_engine_check_step(engine, U8(c->method), strlen(c->method), U8(c->path),
                                        strlen(c->path), c->headers, c->header_count, t->now, &d,
                                        &p);
    while (st == TG_STATUS_OK && p != NULL) {
        check(d == NULL, "pending and decided at once");
        size_t key_len = 0;
        const char *key = tg_pending_store_key(p, &key_len);
        check(key != NULL && key_len == strlen(key) && strncmp(key, "tollgate:", 9) == 0,
              "store key %s", show(key));
        if (down) {
            st = tg_engine_resume_unavailable(engine, p, t->now, &d);
            p = NULL;
            break;
        }
        const char *value = store_get(s, key);
        st = tg_engine_resume(engine, p, U8(value), value != NULL ? strlen(value) : 0,
                              value != NULL, t->now, &d, &p);
    }
    check(st == TG_STATUS_OK && d != NULL && p == NULL, "%s: %s", c->name, tg_error_name(st));
    return d;
}

/* The deployment's engine with its records in `s`. */
static tg_engine *store_engine(const char *root, const char *deployment, memory_store *s) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/%s/policy.json", root, deployment);
    cJSON *policy = read_json(path);
    cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(policy, "providers")) {
        cJSON_AddStringToObject(p, "records", "store");
    }
    char *policy_text = cJSON_PrintUnformatted(policy);
    cJSON_Delete(policy);
    size_t snapshot_len;
    snprintf(path, sizeof path, "%s/examples/%s/snapshot.json", root, deployment);
    char *snapshot = read_file(path, &snapshot_len);
    char *out = NULL, *error = NULL;
    tg_engine *engine = NULL;
    tg_status st = tg_engine_new(U8(policy_text), strlen(policy_text), &engine, &error);
    if (st == TG_STATUS_OK) {
        st = tg_store_records_from_snapshot(U8(snapshot), snapshot_len, &out, &error);
    }
    if (st == TG_STATUS_OK) {
        s->doc = cJSON_Parse(out);
        char *rest = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(s->doc, "snapshot"));
        st = tg_engine_swap_snapshot_json(engine, U8(rest), strlen(rest), &error);
        free(rest);
    }
    check(st == TG_STATUS_OK, "%s: %s (%s)", deployment, tg_error_name(st), show(error));
    tg_string_free(out);
    tg_string_free(error);
    free(policy_text);
    free(snapshot);
    return engine;
}

static void replay(const char *root, const char *deployment) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/%s/scenarios.json", root, deployment);
    scenario_table table = load_table(path);
    memory_store s = {0};
    tg_engine *engine = store_engine(root, deployment, &s);
    int agree = 0;
    for (size_t i = 0; i < table.count; i++) {
        const scenario_case *c = &table.cases[i];
        tg_decision *d = decide(engine, &table, c, &s, false);
        char why[2048] = "no decision";
        agree += check(d != NULL && decision_matches(d, c->expect, why, sizeof why), "%s / %s: %s",
                       deployment, c->name, why);
        tg_decision_free(d);
    }
    printf("%-20s %3d of %3zu cases agree with their records in the store (%d lookups)\n",
           deployment, agree, table.count, s.lookups);
    tg_engine_free(engine);
    cJSON_Delete(s.doc);
    free_table(&table);
}

/* service-accounts' first allowed case that sends an API key. */
static const scenario_case *key_case(const scenario_table *t) {
    for (size_t i = 0; i < t->count; i++) {
        const scenario_case *c = &t->cases[i];
        int status = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c->expect, "status"));
        for (size_t j = 0; status == 200 && j < c->header_count; j++) {
            if (strstr(c->values[j], "fln_live_") != NULL) {
                return c;
            }
        }
    }
    return NULL;
}

static void faults(const char *root) {
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/service-accounts/scenarios.json", root);
    scenario_table table = load_table(path);
    const scenario_case *c = key_case(&table);
    if (!check(c != NULL, "an allowed API-key case")) {
        free_table(&table);
        return;
    }
    memory_store s = {0};
    tg_engine *engine = store_engine(root, "service-accounts", &s);

    /* The store does not answer: 503 store_unavailable, never 200. */
    tg_decision *d = decide(engine, &table, c, &s, true);
    check(d != NULL && tg_decision_status(d) == 503 &&
              tg_decision_reason(d) == TG_STATUS_STORE_UNAVAILABLE,
          "an unanswered lookup is 503 store_unavailable (got %u)", tg_decision_status(d));
    tg_decision_free(d);

    /* Answered: allowed, and cached: the next check decides without the store. */
    d = decide(engine, &table, c, &s, false);
    check(d != NULL && tg_decision_status(d) == 200, "allowed with the store");
    tg_decision_free(d);
    tg_pending *p = NULL;
    d = NULL;
    tg_status st = tg_engine_check_step(engine, U8(c->method), strlen(c->method), U8(c->path),
                                        strlen(c->path), c->headers, c->header_count, table.now,
                                        &d, &p);
    check(st == TG_STATUS_OK && d != NULL && p == NULL, "a cached record decides at once");
    tg_decision_free(d);

    /* A bad record (another version) after an invalidation: 500 invalid_record. */
    tg_pending *first = NULL;
    char *error = NULL;
    check(tg_engine_invalidate(engine, U8("*"), 1, &error) == TG_STATUS_OK, "invalidate *");
    d = NULL;
    st = tg_engine_check_step(engine, U8(c->method), strlen(c->method), U8(c->path),
                              strlen(c->path), c->headers, c->header_count, table.now, &d, &first);
    check(st == TG_STATUS_OK && first != NULL, "pending again after the invalidation");
    check(tg_pending_steps(first) == 0, "no record given yet");
    /* A copy: the pending check owns its key, and resuming consumes it. */
    char *key = dup_string(tg_pending_store_key(first, NULL));
    char *value = dup_string(store_get(&s, key));
    char *v = strstr(value, "\"v\":1");
    if (check(v != NULL, "the record has \"v\":1: %s", value)) {
        v[4] = '2';
    }
    st = tg_engine_resume(engine, first, U8(value), strlen(value), true, table.now, &d, &p);
    check(st == TG_STATUS_OK && d != NULL && tg_decision_status(d) == 500 &&
              tg_decision_reason(d) == TG_STATUS_INVALID_RECORD,
          "a record of another version is 500 invalid_record");
    size_t n = 0;
    const char *message = tg_decision_message(d, &n);
    check(message != NULL && strstr(message, "version 2") != NULL, "the message names it: %s",
          show(message));
    tg_decision_free(d);
    free(value);

    /* Revocation: the store's record changes, the engine drops its copy on the message. */
    d = decide(engine, &table, c, &s, false);
    check(d != NULL && tg_decision_status(d) == 200, "allowed again");
    tg_decision_free(d);
    char *revoked = dup_string(store_get(&s, key));
    char *flag = strstr(revoked, "\"revoked\":false");
    if (check(flag != NULL, "the record says revoked false: %s", revoked)) {
        memcpy(flag, "\"revoked\":true ", 15);
    }
    store_put(&s, key, revoked);
    free(revoked);
    check(tg_engine_invalidate(engine, U8(key), strlen(key), &error) == TG_STATUS_OK,
          "invalidate the key");
    d = decide(engine, &table, c, &s, false);
    check(d != NULL && tg_decision_reason(d) == TG_STATUS_API_KEY_REVOKED,
          "revoked after the invalidation");
    tg_decision_free(d);
    st = tg_engine_invalidate(engine, U8("bogus"), 5, &error);
    check(st == TG_STATUS_INVALID_REQUEST && error != NULL && strstr(error, "not a store key"),
          "a message that is not a store key: %s (%s)", tg_error_name(st), show(error));
    tg_string_free(error);

    /* A pending check freed without being resumed; NULLs refused. */
    check(tg_engine_invalidate(engine, U8("*"), 1, NULL) == TG_STATUS_OK, "invalidate *");
    p = NULL;
    st = tg_engine_check_step(engine, U8(c->method), strlen(c->method), U8(c->path),
                              strlen(c->path), c->headers, c->header_count, table.now, &d, &p);
    check(st == TG_STATUS_OK && p != NULL, "pending");
    tg_pending_free(p);
    /* A failed resume consumes the pending check and clears the pointer passed for the next. */
    p = NULL;
    st = tg_engine_check_step(engine, U8(c->method), strlen(c->method), U8(c->path),
                              strlen(c->path), c->headers, c->header_count, table.now, &d, &p);
    check(st == TG_STATUS_OK && p != NULL, "pending, to resume without an engine");
    st = tg_engine_resume(NULL, p, NULL, 0, false, table.now, &d, &p);
    check(st == TG_STATUS_NULL_PARAMETER && p == NULL,
          "a failed resume leaves no pointer to what it consumed: %s", tg_error_name(st));
    tg_pending_free(p); /* NULL: nothing to free twice */
    tg_pending_free(NULL);
    check(tg_pending_store_key(NULL, NULL) == NULL && tg_pending_steps(NULL) == 0, "NULL pending");
    check(tg_engine_resume(engine, NULL, NULL, 0, false, 0, &d, &p) == TG_STATUS_NULL_PARAMETER,
          "resume NULL");
    check(tg_engine_resume_unavailable(engine, NULL, 0, &d) == TG_STATUS_NULL_PARAMETER,
          "resume_unavailable NULL");

    free(key);
    tg_engine_free(engine);
    cJSON_Delete(s.doc);
    free_table(&table);
}

static void webhook_claim(void) {
    tg_webhook_verifier *v = NULL;
    const char *config = "{\"keys\": [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]}";
    char *error = NULL;
    tg_status st = tg_webhook_verifier_new(U8(config), strlen(config), &v, &error);
    check(st == TG_STATUS_OK, "verifier: %s", show(error));
    tg_header headers[] = {
        header_of("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
        header_of("webhook-timestamp", "1614265330"),
        header_of("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
    };
    const char *body = "{\"test\": 2432232314}";
    char *key = NULL;
    uint64_t ttl = 0;
    st = tg_webhook_verifier_verify_for_store(v, headers, 3, U8(body), strlen(body), 1614265330,
                                              600, &key, &ttl, &error);
    /* SHA-256 of "<webhook-id>.<body>", computed with Python's hashlib. */
    check(st == TG_STATUS_OK && key != NULL &&
              strcmp(key, "tollgate:webhook:"
                          "bcda2c50c55350fde15cb6a403311daac6f7adf9e5d5b836363f31d1b908edb1") == 0 &&
              ttl == 601,
          "webhook claim %s for %llu s", show(key), (unsigned long long)ttl);
    tg_string_free(key);
    key = NULL;
    headers[2] = header_of("webhook-signature", "v1,AAAA");
    st = tg_webhook_verifier_verify_for_store(v, headers, 3, U8(body), strlen(body), 1614265330,
                                              600, &key, &ttl, NULL);
    check(st == TG_STATUS_WEBHOOK_SIGNATURE_INVALID && key == NULL, "a forgery claims nothing");
    tg_webhook_verifier_free(v);
}

/* A login service's session record (tg_store_session_record), then a cookie that carries it. */
static void sessions(void) {
    const char *policy =
        "{\"version\": 1, \"credentials\": [{\"name\": \"s\", \"cookie\": \"flow_session\"}],"
        " \"providers\": [{\"name\": \"flow\", \"type\": \"session\", \"credentials\": [\"s\"],"
        " \"records\": \"store\"}], \"tenant\": {\"header\": \"X-Project-ID\"},"
        " \"permissions\": [\"read\"], \"roles\": [{\"name\": \"viewer\", \"grants\": [\"read\"]}],"
        " \"routes\": [{\"method\": \"GET\", \"path\": \"/items\", \"tenant\": true, \"requires\": [\"read\"]}]}";
    tg_engine *engine = NULL;
    char *error = NULL;
    tg_status st = tg_engine_new(U8(policy), strlen(policy), &engine, &error);
    check(st == TG_STATUS_OK, "session policy: %s", show(error));
    const char *sessions[] = {
        "{\"subject\": \"u-alice\", \"expires\": 2000, \"tenants\": {\"A\": [\"viewer\"]}}",
        "{\"subject\": \"u-alice\", \"expires\": 2000, \"tenants\": {\"A\": [\"viewer\"]}, \"revoked\": true}",
    };
    const char *want[] = {"ok", "session_revoked"};
    for (int i = 0; i < 2; i++) {
        char *out = NULL;
        st = tg_store_session_record(U8("s-123"), 5, NULL, 0, U8(sessions[i]), strlen(sessions[i]),
                                     &out, &error);
        if (!check(st == TG_STATUS_OK, "session record: %s", show(error))) {
            break;
        }
        memory_store s = {0};
        char *wrapped = malloc(strlen(out) + 32);
        sprintf(wrapped, "{\"records\": [%s]}", out);
        s.doc = cJSON_Parse(wrapped);
        free(wrapped);
        const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s.doc, "records"), 0);
        check(strncmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "key")),
                      "tollgate:session:", 17) == 0 &&
                  cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "expires")) == 2000,
              "session record %s", out);
        tg_string_free(out);
        scenario_case c = {.name = want[i], .method = "GET", .path = "/items", .header_count = 2};
        tg_header headers[] = {header_of("Cookie", "theme=dark; flow_session=s-123"),
                               header_of("X-Project-ID", "A")};
        c.headers = headers;
        scenario_table t = {.now = 1000};
        check(tg_engine_invalidate(engine, U8("*"), 1, NULL) == TG_STATUS_OK, "invalidate");
        tg_decision *d = decide(engine, &t, &c, &s, false);
        size_t n = 0;
        check(d != NULL && str_is(tg_decision_reason_name(d, &n), &n, want[i]),
              "a session cookie decides %s (got %s)", want[i], show(tg_decision_reason_name(d, NULL)));
        tg_decision_free(d);
        cJSON_Delete(s.doc);
    }
    st = tg_store_session_record(U8("s-1"), 3, NULL, 0, U8("{}"), 2, NULL, &error);
    check(st == TG_STATUS_NULL_PARAMETER, "NULL out");
    tg_string_free(error);
    error = NULL;
    char *out = NULL;
    st = tg_store_session_record(U8("s-1"), 3, NULL, 0, U8("{\"subject\": 1}"), 14, &out, &error);
    check(st == TG_STATUS_INVALID_RECORD && out == NULL && error != NULL, "a bad session: %s",
          tg_error_name(st));
    tg_string_free(error);
    tg_engine_free(engine);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <repository root>\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < sizeof DEPLOYMENTS / sizeof DEPLOYMENTS[0]; i++) {
        replay(argv[1], DEPLOYMENTS[i]);
    }
    faults(argv[1]);
    webhook_claim();
    sessions();
    return finish("store");
}
