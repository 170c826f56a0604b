/*
 * The rest of the ABI end to end: an API key generated through the ABI authenticates once its
 * record is in a snapshot; a valid token is re-issued; plain JWT verification and the token
 * getters; Standard Webhooks signing, verification and replay refusal (v1 and v1a); reusing one
 * decision for several checks; the header names an engine forwards; the URLs a key source may
 * fetch. Built with the flags `pkg-config --cflags --libs --static tollgate` gives, so the .pc
 * file is exercised too.
 *
 * usage: surface <repository root>
 */
#include "common.h"

static char root_path[4096];

static char *example(const char *deployment, const char *file, size_t *len) {
    char path[8192];
    snprintf(path, sizeof path, "%s/examples/%s/%s", root_path, deployment, file);
    return read_file(path, len);
}

static tg_engine *engine_for(const char *deployment, const char *snapshot, size_t snapshot_len) {
    size_t policy_len;
    char *policy = example(deployment, "policy.json", &policy_len);
    tg_engine *e = NULL;
    tg_status st = tg_engine_new(U8(policy), policy_len, &e, NULL);
    if (st == TG_STATUS_OK) {
        st = tg_engine_swap_snapshot_json(e, U8(snapshot), snapshot_len, NULL);
    }
    check(st == TG_STATUS_OK, "%s: engine: %s", deployment, tg_error_name(st));
    free(policy);
    return e;
}

static tg_decision *get(const tg_engine *e, const char *method, const char *path,
                        const tg_header *headers, size_t count, uint64_t now) {
    tg_decision *d = NULL;
    tg_status st = tg_engine_check(e, U8(method), strlen(method), U8(path), strlen(path), headers,
                                   count, now, &d);
    check(st == TG_STATUS_OK, "check %s %s: %s", method, path, tg_error_name(st));
    return d;
}

static void api_keys(void) {
    char *key = NULL, *record = NULL, *error = NULL, *hash = NULL;
    tg_status st = tg_apikey_generate(U8("fln_live"), 8, U8("sa_new"), 6, NULL, 0, 1764633600,
                                      &key, &record, &error);
    if (!check(st == TG_STATUS_OK, "apikey generate: %s (%s)", tg_error_name(st), show(error))) {
        return;
    }
    check(strncmp(key, "fln_live_", 9) == 0 && strlen(key) == 9 + 32 + 6, "key form: %s", key);
    check(tg_apikey_check(U8(key), strlen(key), NULL, 0) == TG_STATUS_OK, "own prefix");
    check(tg_apikey_check(U8(key), strlen(key), U8("pat fln_live"), 12) == TG_STATUS_OK,
          "listed prefix");
    check(tg_apikey_check(U8(key), strlen(key), U8("fln_test"), 8) == TG_STATUS_MALFORMED_API_KEY,
          "other prefix");
    char original = key[12];
    key[12] = original == 'a' ? 'b' : 'a';
    check(tg_apikey_check(U8(key), strlen(key), NULL, 0) == TG_STATUS_MALFORMED_API_KEY,
          "a typo breaks the checksum");
    key[12] = original;
    cJSON *rec = cJSON_Parse(record);
    check(tg_apikey_hash(U8(key), strlen(key), NULL, 0, &hash) == TG_STATUS_OK &&
              strcmp(hash, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "hash"))) == 0,
          "the record holds the key's hash");
    check(strstr(record, key) == NULL, "the record never holds the key");

    /* Store the record (bound to org_1, allowed to read invoices) and use the key. */
    cJSON_AddStringToObject(rec, "tenant", "org_1");
    cJSON *scopes = cJSON_AddArrayToObject(rec, "scopes");
    cJSON_AddItemToArray(scopes, cJSON_CreateString("invoices:read"));
    size_t snap_len;
    char *snap_text = example("service-accounts", "snapshot.json", &snap_len);
    cJSON *snap = cJSON_Parse(snap_text);
    cJSON *records = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(snap, "api_keys"), "api-keys");
    cJSON_AddItemToArray(records, rec);
    char *doc = cJSON_PrintUnformatted(snap);
    tg_engine *e = engine_for("service-accounts", doc, strlen(doc));
    char bearer[256];
    snprintf(bearer, sizeof bearer, "Bearer %s", key);
    tg_header h = header_of("Authorization", bearer);
    tg_decision *d = get(e, "GET", "/v1/orgs/org_1/invoices", &h, 1, 1767225600);
    size_t n = 0;
    double exp = 0;
    check(tg_decision_status(d) == 200 && str_is(tg_decision_subject(d, &n), &n, "sa_new") &&
              str_is(tg_decision_kind(d, &n), &n, "service_account") &&
              str_is(tg_decision_tenant(d, &n), &n, "org_1") &&
              str_is(tg_decision_provider(d, &n), &n, "api-keys"),
          "a generated key authenticates (%u %s)", (unsigned)tg_decision_status(d),
          show(tg_decision_reason_name(d, NULL)));
    check(tg_decision_has_permission(d, U8("invoices:read"), 13) &&
              !tg_decision_has_permission(d, U8("invoices:write"), 14) &&
              tg_decision_permissions_count(d) == 1 &&
              str_is(tg_decision_permission(d, 0, &n), &n, "invoices:read"),
          "its scopes are its permissions");
    check(!tg_decision_expires_at(d, &exp), "no expiry");
    cJSON *claims = cJSON_Parse(tg_decision_claims_json(d, NULL));
    check(cJSON_IsObject(claims) && cJSON_GetObjectItemCaseSensitive(claims, "hash") == NULL,
          "claims: the record without its hash");
    cJSON_Delete(claims);
    bool forwarded = false;
    for (size_t i = 0; i < tg_decision_forward_headers_count(d); i++) {
        tg_header f;
        if (tg_decision_forward_header(d, i, &f) == TG_STATUS_OK &&
            str_is((const char *)f.name, &f.name_len, "x-service-account")) {
            forwarded = str_is((const char *)f.value, &f.value_len, "sa_new");
        }
    }
    check(forwarded, "x-service-account forwarded");
    tg_decision_free(d);
    d = get(e, "POST", "/v1/orgs/org_1/invoices", &h, 1, 1767225600);
    n = 0;
    const char *challenge = tg_decision_www_authenticate(d, &n);
    check(tg_decision_status(d) == 403 && challenge != NULL &&
              strstr(challenge, "insufficient_scope") != NULL,
          "writing needs invoices:write: %s", show(challenge));
    tg_decision_free(d);
    tg_engine_free(e);
    free(doc);
    cJSON_Delete(snap);
    free(snap_text);
    tg_string_free(hash);
    tg_string_free(key);
    tg_string_free(record);
}

static char *tenant_path_token(const char *name) {
    char path[8192];
    snprintf(path, sizeof path, "%s/examples/tenant-path/scenarios.json", root_path);
    cJSON *table = read_json(path);
    char *token = dup_string(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(table, "tokens"), name)));
    cJSON_Delete(table);
    return token;
}

static void reissue_and_reuse(void) {
    size_t snap_len;
    char *snap = example("tenant-path", "snapshot.json", &snap_len);
    tg_engine *e = engine_for("tenant-path", snap, snap_len);
    char *alice = tenant_path_token("alice");
    const uint64_t now = 1767225600;
    tg_header h = header_of("token", alice);
    tg_decision *d = get(e, "POST", "/api/token", &h, 1, now);
    char *fresh = NULL, *error = NULL;
    tg_status st = tg_engine_reissue(e, d, now + 100, &fresh, &error);
    check(st == TG_STATUS_OK, "reissue: %s (%s)", tg_error_name(st), show(error));
    tg_string_free(error);
    if (st == TG_STATUS_OK) {
        /* The new token works where the old one has expired, in the same (reused) decision. */
        tg_header h2 = header_of("token", fresh);
        const char *path = "/api/tenants/A/items";
        st = tg_engine_check_into(e, U8("GET"), 3, U8(path), strlen(path), &h2, 1, now + 650, d);
        size_t n = 0;
        check(st == TG_STATUS_OK && tg_decision_status(d) == 200 &&
                  str_is(tg_decision_subject(d, &n), &n, "alice") &&
                  tg_decision_roles_count(d) == 2,
              "the re-issued token is valid later (%u)", (unsigned)tg_decision_status(d));
        st = tg_engine_check_into(e, U8("GET"), 3, U8(path), strlen(path), &h, 1, now + 650, d);
        check(st == TG_STATUS_OK && tg_decision_reason(d) == TG_STATUS_EXPIRED &&
                  tg_decision_subject(d, NULL) == NULL && tg_decision_roles_count(d) == 0,
              "the original has expired by then; the reused decision forgot the principal");
        tg_string_free(fresh);
    }
    tg_decision_free(d);

    /* Plain verification with the same key: the getters. */
    cJSON *doc = cJSON_Parse(snap);
    char *keys = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(doc, "keys"), "app"));
    const char *options = "{\"issuers\":[\"https://app.example\"],\"leeway\":0,"
                          "\"max_lifetime\":600,\"required\":[\"exp\",\"iat\",\"sub\"]}";
    tg_verifier *v = NULL;
    st = tg_verifier_new(U8(keys), strlen(keys), U8(options), strlen(options), &v, NULL);
    check(st == TG_STATUS_OK, "verifier: %s", tg_error_name(st));
    tg_token *t = NULL;
    st = tg_verifier_verify(v, U8(alice), strlen(alice), now, &t, NULL);
    size_t n = 0;
    double iat = 0, exp = 0, nbf = 0;
    check(st == TG_STATUS_OK && str_is(tg_token_subject(t, &n), &n, "alice") &&
              str_is(tg_token_issuer(t, &n), &n, "https://app.example") &&
              str_is(tg_token_algorithm(t, &n), &n, "HS256") && tg_token_key_id(t, &n) != NULL &&
              tg_token_issued_at(t, &iat) && tg_token_expires_at(t, &exp) && exp - iat <= 600 &&
              !tg_token_not_before(t, &nbf),
          "verified token getters (%s)", tg_error_name(st));
    cJSON *header = cJSON_Parse(tg_token_header_json(t, NULL));
    cJSON *claims = cJSON_Parse(tg_token_claims_json(t, NULL));
    check(strcmp(show(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(header, "alg"))),
                 "HS256") == 0 &&
              cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(claims, "tenants")),
          "header and claims JSON");
    cJSON_Delete(header);
    cJSON_Delete(claims);
    tg_token_free(t);
    t = NULL;
    char *message = NULL;
    st = tg_verifier_verify(v, U8(alice), strlen(alice), now + 10000, &t, &message);
    check(st == TG_STATUS_EXPIRED && t == NULL && message != NULL && strstr(message, "exp") != NULL,
          "expired, with a message: %s", show(message));
    tg_string_free(message);
    tg_verifier_free(v);
    free(keys);
    cJSON_Delete(doc);
    free(alice);
    free(snap);
    tg_engine_free(e);
}

static void webhooks(void) {
    char *secret = NULL, *signature = NULL, *config = NULL;
    check(tg_webhook_secret_generate(&secret) == TG_STATUS_OK && strncmp(secret, "whsec_", 6) == 0,
          "secret");
    const char *id = "msg_2Lh9", *body = "{\"type\":\"invoice.paid\"}";
    const uint64_t ts = 1700000000;
    tg_status st = tg_webhook_sign(U8(secret), strlen(secret), U8(id), strlen(id), ts, U8(body),
                                   strlen(body), &signature, NULL);
    check(st == TG_STATUS_OK && strncmp(signature, "v1,", 3) == 0, "sign v1: %s",
          tg_error_name(st));
    cJSON *c = cJSON_CreateObject();
    cJSON *keys = cJSON_AddArrayToObject(c, "keys");
    cJSON_AddItemToArray(keys, cJSON_CreateString(secret));
    cJSON_AddNumberToObject(c, "tolerance", 60);
    config = cJSON_PrintUnformatted(c);
    tg_webhook_verifier *v = NULL;
    tg_replay_guard *g = NULL;
    check(tg_webhook_verifier_new(U8(config), strlen(config), &v, NULL) == TG_STATUS_OK,
          "webhook verifier");
    check(tg_replay_guard_new(1000, 0, &g, NULL) == TG_STATUS_OK, "replay guard");
    tg_header headers[] = {
        header_of("Content-Type", "application/json"),
        header_of("Webhook-Id", id),
        header_of("Webhook-Timestamp", "1700000000"),
        header_of("Webhook-Signature", signature),
    };
    char *error = NULL;
    st = tg_webhook_verifier_verify(v, g, headers, 4, U8(body), strlen(body), ts + 5, &error);
    check(st == TG_STATUS_OK, "delivery verifies: %s (%s)", tg_error_name(st), show(error));
    tg_string_free(error);
    error = NULL;
    st = tg_webhook_verifier_verify(v, g, headers, 4, U8(body), strlen(body), ts + 6, NULL);
    check(st == TG_STATUS_WEBHOOK_REPLAYED, "replay refused: %s", tg_error_name(st));
    st = tg_webhook_verifier_verify(v, NULL, headers, 4, U8(body), strlen(body), ts + 6, NULL);
    check(st == TG_STATUS_OK, "without a guard, no replay detection: %s", tg_error_name(st));
    st = tg_webhook_verifier_verify(v, NULL, headers, 4, U8("{}"), 2, ts, &error);
    check(st == TG_STATUS_WEBHOOK_SIGNATURE_INVALID && error != NULL, "tampered body: %s",
          tg_error_name(st));
    tg_string_free(error);
    st = tg_webhook_verifier_verify(v, NULL, headers, 4, U8(body), strlen(body), ts + 61, NULL);
    check(st == TG_STATUS_WEBHOOK_TIMESTAMP_OUT_OF_TOLERANCE, "stale: %s", tg_error_name(st));
    st = tg_webhook_verifier_verify(v, NULL, headers, 3, U8(body), strlen(body), ts, NULL);
    check(st == TG_STATUS_WEBHOOK_MALFORMED, "signature header missing: %s", tg_error_name(st));

    /* v1a: Ed25519. */
    char *sk = NULL, *pk = NULL, *sig2 = NULL;
    check(tg_webhook_key_pair_generate(&sk, &pk) == TG_STATUS_OK &&
              strncmp(sk, "whsk_", 5) == 0 && strncmp(pk, "whpk_", 5) == 0,
          "key pair");
    st = tg_webhook_sign(U8(sk), strlen(sk), U8(id), strlen(id), ts, U8(body), strlen(body),
                         &sig2, NULL);
    check(st == TG_STATUS_OK && strncmp(sig2, "v1a,", 4) == 0, "sign v1a");
    headers[3] = header_of("webhook-signature", sig2);
    st = tg_webhook_verify(U8(pk), strlen(pk), headers, 4, U8(body), strlen(body), ts, NULL);
    check(st == TG_STATUS_OK, "v1a verifies with the public key: %s", tg_error_name(st));
    st = tg_webhook_verify(U8(secret), strlen(secret), headers, 4, U8(body), strlen(body), ts,
                           NULL);
    check(st == TG_STATUS_WEBHOOK_SIGNATURE_INVALID, "a v1a entry is never checked with a v1 "
          "secret: %s", tg_error_name(st));

    tg_string_free(sk);
    tg_string_free(pk);
    tg_string_free(sig2);
    tg_replay_guard_free(g);
    tg_webhook_verifier_free(v);
    cJSON_Delete(c);
    free(config);
    tg_string_free(signature);
    tg_string_free(secret);
}

/* The names a host clears on every allowed request: each forwarded name once, in policy order. */
static void forwarded_names(void) {
    size_t snapshot_len;
    char *snapshot = example("workspace-api", "snapshot.json", &snapshot_len);
    tg_engine *e = engine_for("workspace-api", snapshot, snapshot_len);
    const char *want[] = {"x-user-id", "x-workspace-id", "x-roles", "x-principal-kind"};
    size_t count = tg_engine_forwarded_names_count(e);
    check(count == 4, "forwarded names: %zu", count);
    for (size_t i = 0; i < 4 && i < count; i++) {
        size_t n = 0;
        const char *name = tg_engine_forwarded_name(e, i, &n);
        check(str_is(name, &n, want[i]), "forwarded name %zu: %s", i, show(name));
    }
    check(tg_engine_forwarded_name(e, count, NULL) == NULL, "forwarded name past the end");
    check(tg_engine_forwarded_names_count(NULL) == 0, "forwarded names of NULL");
    check(tg_engine_forwarded_name(NULL, 0, NULL) == NULL, "forwarded name of NULL");
    tg_engine_free(e);
    free(snapshot);
}

/* The URLs a key source may fetch: https, or http to a loopback host. */
static void fetch_urls(void) {
    const char *good[] = {"https://idp.example/jwks", "http://127.0.0.1:8080/jwks",
                          "http://localhost/jwks", "http://[::1]/jwks"};
    const char *bad[] = {"http://idp.example/jwks", "ftp://idp.example/jwks",
                         "https://user:pw@idp.example/jwks", "https://idp.example/jwks#k",
                         "file:///etc/passwd", "idp.example/jwks"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        tg_status st = tg_discovery_check_url(U8(good[i]), strlen(good[i]), NULL);
        check(st == TG_STATUS_OK, "%s: %s", good[i], tg_error_name(st));
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *error = NULL;
        tg_status st = tg_discovery_check_url(U8(bad[i]), strlen(bad[i]), &error);
        check(st == TG_STATUS_INVALID_DISCOVERY && error != NULL, "%s: %s", bad[i], tg_error_name(st));
        tg_string_free(error);
    }
}

int main(int argc, char **argv) {
    snprintf(root_path, sizeof root_path, "%s", argc > 1 ? argv[1] : ".");
    forwarded_names();
    fetch_urls();
    api_keys();
    reissue_and_reuse();
    webhooks();
    return finish("surface");
}
