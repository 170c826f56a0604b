/*
 * Replays the shared JWS vectors through the plain verifier API, with the verdicts
 * tests/jws_vectors.rs asserts:
 *
 *  - rfc-jws.json (RFC 7515 / 7520 / 8037 examples; signature only, their payloads are not all
 *    JWT claims): the key is jwk.public, else jwk.private, bound to the case's alg when Tollgate
 *    supports it (the `alg_none` case, which has no key, gets a dummy HS256 key). Supported and
 *    "valid": verifies; supported otherwise (the detached-payload example): invalid_signature;
 *    alg none: alg_none; other unsupported algorithms (ES512): unsupported_algorithm.
 *  - jws-derived-cases.json (attack cases; full JWT verification at the case's `now`): a JWKS of
 *    trusted_keys[].jwk, leeway 0 unless the case's policy says, the policy's expected audience,
 *    and no required claims when the policy sets require_exp to false. A key set the ABI refuses
 *    counts as a rejection, as in Rust. Each case must end with the code tests/jws-derived-codes.json
 *    gives it (the table every harness shares), not only with the right verdict.
 *
 * usage: jws_vectors <vectors directory> <tests/jws-derived-codes.json>
 */
#include "common.h"

#define DUMMY_HS256_KEY "{\"kty\":\"oct\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"alg\":\"HS256\"}"

/* Builds a verifier; returns the status (and the verifier on success). */
static tg_status make_verifier(const char *keys, const char *options, tg_verifier **out) {
    return tg_verifier_new(U8(keys), strlen(keys), U8(options), strlen(options), out, NULL);
}

static void rfc_examples(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/rfc-jws.json", dir);
    cJSON *cases = read_json(path);
    int agree = 0, total = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        const char *alg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "alg"));
        const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "token"));
        const char *expected =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "expected"));
        bool supported =
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "alg_supported_by_tollgate"));
        const cJSON *jwk = cJSON_GetObjectItemCaseSensitive(c, "jwk");
        char *keys;
        if (cJSON_IsNull(jwk)) {
            keys = dup_string(DUMMY_HS256_KEY);
        } else {
            const cJSON *pub = cJSON_GetObjectItemCaseSensitive(jwk, "public");
            keys = cJSON_PrintUnformatted(
                cJSON_IsNull(pub) ? cJSON_GetObjectItemCaseSensitive(jwk, "private") : pub);
        }
        char options[128];
        if (supported) {
            snprintf(options, sizeof options, "{\"alg\":\"%s\"}", alg);
        } else {
            snprintf(options, sizeof options, "{}");
        }
        tg_verifier *v = NULL;
        tg_status built = make_verifier(keys, options, &v);
        if (built != TG_STATUS_OK && !supported) {
            /* A key the ABI cannot hold (P-521 for ES512): the header check that refuses the
             * token comes before any key is used, so an empty key set gives the same verdict. */
            built = make_verifier("{\"keys\":[]}", "{}", &v);
        }
        tg_status got = built;
        if (built == TG_STATUS_OK) {
            tg_token *t = NULL;
            got = tg_verifier_verify_jws(v, U8(token), strlen(token), &t, NULL);
            if (got == TG_STATUS_OK) {
                /* The verified header and payload come back as the signed bytes. */
                size_t n = 0;
                const uint8_t *payload = tg_token_payload(t, &n);
                const char *want =
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "payload"));
                if (want != NULL && (payload == NULL || n != strlen(want) ||
                                     memcmp(payload, want, n) != 0)) {
                    got = TG_STATUS_INTERNAL_ERROR;
                }
                if (!str_is(tg_token_algorithm(t, &n), &n, alg)) {
                    got = TG_STATUS_INTERNAL_ERROR;
                }
            }
            tg_token_free(t);
        }
        tg_status want;
        if (supported) {
            want = strcmp(expected, "valid") == 0 ? TG_STATUS_OK : TG_STATUS_INVALID_SIGNATURE;
        } else {
            want = strcmp(alg, "none") == 0 ? TG_STATUS_ALG_NONE : TG_STATUS_UNSUPPORTED_ALGORITHM;
        }
        total++;
        agree += check(got == want, "rfc-jws.json %s: expected %s, got %s", name,
                       tg_error_name(want), tg_error_name(got));
        tg_verifier_free(v);
        free(keys);
    }
    printf("%-28s %3d of %3d agree\n", "rfc-jws.json", agree, total);
    cJSON_Delete(cases);
}

static void derived_cases(const char *dir, const char *codes_path) {
    char path[4096];
    snprintf(path, sizeof path, "%s/jws-derived-cases.json", dir);
    cJSON *doc = read_json(path);
    cJSON *table = read_json(codes_path);
    const cJSON *codes = cJSON_GetObjectItemCaseSensitive(table, "codes");
    int agree = 0, total = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(doc, "cases")) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        const char *token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "token"));
        const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(codes, name));
        uint64_t now = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "now"));

        cJSON *jwks = cJSON_CreateObject();
        cJSON *keys = cJSON_AddArrayToObject(jwks, "keys");
        const cJSON *k;
        cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(c, "trusted_keys")) {
            cJSON_AddItemToArray(keys,
                                 cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(k, "jwk"), 1));
        }
        char *keys_text = cJSON_PrintUnformatted(jwks);

        cJSON *options = cJSON_CreateObject();
        cJSON_AddNumberToObject(options, "leeway", 0);
        const cJSON *policy = cJSON_GetObjectItemCaseSensitive(c, "policy");
        if (cJSON_IsObject(policy)) {
            const char *aud = cJSON_GetStringValue(
                cJSON_GetObjectItemCaseSensitive(policy, "expected_audience"));
            if (aud != NULL) {
                cJSON *auds = cJSON_AddArrayToObject(options, "audiences");
                cJSON_AddItemToArray(auds, cJSON_CreateString(aud));
            }
            cJSON_ReplaceItemInObject(
                options, "leeway",
                cJSON_CreateNumber(
                    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(policy, "leeway_s"))));
            if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(policy, "require_exp"))) {
                cJSON_AddArrayToObject(options, "required");
            }
        }
        char *options_text = cJSON_PrintUnformatted(options);

        tg_verifier *v = NULL;
        tg_status got = make_verifier(keys_text, options_text, &v);
        if (got == TG_STATUS_OK) {
            tg_token *t = NULL;
            char *error = NULL;
            got = tg_verifier_verify(v, U8(token), strlen(token), now, &t, &error);
            /* A failure always says why; a success never writes a message. */
            if ((got == TG_STATUS_OK) != (error == NULL)) {
                got = TG_STATUS_INTERNAL_ERROR;
            }
            tg_string_free(error);
            tg_token_free(t);
        }
        total++;
        agree += check(want != NULL && strcmp(tg_error_name(got), want) == 0,
                       "jws-derived-cases.json %s: expected %s, got %s", name,
                       want != NULL ? want : "(no entry in the codes table)", tg_error_name(got));
        tg_verifier_free(v);
        free(keys_text);
        free(options_text);
        cJSON_Delete(jwks);
        cJSON_Delete(options);
    }
    printf("%-28s %3d of %3d agree\n", "jws-derived-cases.json", agree, total);
    cJSON_Delete(doc);
    cJSON_Delete(table);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "../shared/vectors";
    const char *codes = argc > 2 ? argv[2] : "tests/jws-derived-codes.json";
    rfc_examples(dir);
    derived_cases(dir, codes);
    return finish("jws_vectors");
}
