/*
 * tg_refresher and tg_discovery_* against a real HTTP server: tests/keysource/jwks_server.py,
 * which tests/c/run.sh starts on 127.0.0.1 and passes the port of. A tiny blocking HTTP/1.1
 * client (Connection: close) fetches; `now` is simulated, so nothing sleeps.
 *
 *   keysource <repository root> <port>
 *
 * First fetch and verify; rotation a -> a+b -> b; outages (down, 500, garbage) keep the last good
 * set and back off; a flood of 1000 tokens with an unpublished kid costs at most one fetch per
 * unknown_kid_interval (counted by the server's /hits); a set swapped into an engine; staleness;
 * OpenID discovery, including an issuer mismatch.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

#define T0 1767225600u
#define VERIFY_OPTIONS "{\"issuers\":[\"https://issuer.test\"],\"audiences\":[\"api\"]}"
#define POLICY                                                                                      \
    "{\"version\":1,\"name\":\"keysource\",\"credentials\":[{\"name\":\"bearer\",\"header\":"       \
    "\"Authorization\",\"scheme\":\"Bearer\"}],\"providers\":[{\"name\":\"idp\",\"credentials\":"   \
    "[\"bearer\"],\"issuers\":[\"https://issuer.test\"],\"audiences\":[\"api\"],\"algorithms\":"     \
    "[\"ES256\"]}],\"routes\":[{\"method\":\"GET\",\"path\":\"/v1/me\"}]}"

static int g_port;

/* One HTTP response: status 0 when the server closed without answering. */
typedef struct {
    int status;
    char *cache_control; /* malloc'd value of Cache-Control, or NULL */
    char *body;          /* malloc'd, NUL-terminated */
    size_t body_len;
} response;

static void response_free(response *r) {
    free(r->cache_control);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Sends one request and reads the whole answer (the server closes after it). */
static response http(const char *method, const char *path, const char *body) {
    response r = {0, NULL, NULL, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)g_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("connect");
        exit(2);
    }
    char request[1024];
    size_t body_len = body == NULL ? 0 : strlen(body);
    int n = snprintf(request, sizeof request,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, g_port, body_len, body == NULL ? "" : body);
    if (n < 0 || (size_t)n >= sizeof request) {
        fprintf(stderr, "request too long\n");
        exit(2);
    }
    for (size_t sent = 0; sent < (size_t)n;) {
        ssize_t w = write(fd, request + sent, (size_t)n - sent);
        if (w <= 0) {
            break; /* a server that went away answers nothing: status 0 */
        }
        sent += (size_t)w;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        if (len == cap) {
            cap *= 2;
            char *bigger = realloc(buf, cap + 1);
            if (bigger == NULL) {
                free(buf);
            }
            buf = bigger;
            continue;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (len == 0 || end == NULL || sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1) {
        r.status = 0;
        r.body = buf;
        buf[0] = '\0';
        return r;
    }
    *end = '\0';
    for (char *line = strstr(buf, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncmp(line, "Cache-Control: ", 15) == 0) {
            char *stop = strstr(line, "\r\n");
            size_t vlen = stop == NULL ? strlen(line + 15) : (size_t)(stop - line - 15);
            r.cache_control = malloc(vlen + 1);
            if (r.cache_control == NULL) {
                exit(2);
            }
            memcpy(r.cache_control, line + 15, vlen);
            r.cache_control[vlen] = '\0';
        }
    }
    r.body_len = len - (size_t)(end + 4 - buf);
    r.body = malloc(r.body_len + 1);
    if (r.body == NULL) {
        exit(2);
    }
    memcpy(r.body, end + 4, r.body_len);
    r.body[r.body_len] = '\0';
    free(buf);
    return r;
}

static void control(const char *json) {
    response r = http("POST", "/control", json);
    if (r.status != 200) {
        fprintf(stderr, "POST /control %s: HTTP %d\n", json, r.status);
        exit(2);
    }
    response_free(&r);
}

static int jwks_hits(void) {
    response r = http("GET", "/hits", NULL);
    cJSON *doc = cJSON_Parse(r.body);
    int hits = doc == NULL ? -1 : cJSON_GetObjectItem(doc, "jwks")->valueint;
    cJSON_Delete(doc);
    response_free(&r);
    return hits;
}

/* GETs `path` and reports what came back to the refresher; returns the refresher's status. */
static tg_status fetch(const tg_refresher *refresher, const char *path, uint64_t now) {
    response r = http("GET", path, NULL);
    tg_status st;
    if (r.status == 0) {
        const char *reason = "the server closed the connection without answering";
        st = tg_refresher_on_fetch_failed(refresher, U8(reason), strlen(reason), now);
        if (st == TG_STATUS_OK) {
            st = TG_STATUS_KEY_SET_FETCH_FAILED;
        }
    } else {
        tg_header h = header_of("Cache-Control", r.cache_control == NULL ? "" : r.cache_control);
        char *error = NULL;
        st = tg_refresher_on_fetched(refresher, (uint16_t)r.status, &h,
                                     r.cache_control == NULL ? 0 : 1, U8(r.body), r.body_len, now,
                                     &error);
        check((st == TG_STATUS_OK) == (error == NULL), "error_out only on failure");
        tg_string_free(error);
    }
    response_free(&r);
    return st;
}

/* Verifies `token` with a fresh verifier over the refresher's set at `now`. */
static tg_status verify(const tg_refresher *refresher, const char *token, uint64_t now) {
    tg_verifier *v = NULL;
    tg_status st = tg_refresher_verifier(refresher, U8(VERIFY_OPTIONS), strlen(VERIFY_OPTIONS),
                                         now, &v, NULL);
    if (st != TG_STATUS_OK) {
        check(v == NULL, "no verifier written on failure");
        return st;
    }
    tg_token *t = NULL;
    st = tg_verifier_verify(v, U8(token), strlen(token), now, &t, NULL);
    tg_token_free(t);
    tg_verifier_free(v);
    return st;
}

static cJSON *status_of(const tg_refresher *refresher, uint64_t now) {
    char *json = NULL;
    check(tg_refresher_status_json(refresher, now, &json) == TG_STATUS_OK, "status_json");
    cJSON *doc = cJSON_Parse(json);
    tg_string_free(json);
    if (doc == NULL) {
        fprintf(stderr, "status_json is not JSON\n");
        exit(2);
    }
    return doc;
}

static uint64_t until_of(const tg_refresher *refresher, uint64_t now) {
    uint64_t until = 0;
    check(!tg_refresher_poll(refresher, now, &until), "poll at %llu says wait",
          (unsigned long long)now);
    return until;
}

static char *read_trimmed(const char *root, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/keysource/%s", root, name);
    char *text = read_file(path, NULL);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) {
        text[--n] = '\0';
    }
    return text;
}

static char *kid_of(const char *root, const char *name) {
    char *text = read_trimmed(root, name);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cJSON *key = doc == NULL ? NULL : cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "keys"), 0);
    char *kid = dup_string(cJSON_GetObjectItem(key, "kid")->valuestring);
    cJSON_Delete(doc);
    return kid;
}

static int engine_status(const tg_engine *engine, const char *token, uint64_t now) {
    char bearer[1024];
    snprintf(bearer, sizeof bearer, "Bearer %s", token);
    tg_header h = header_of("Authorization", bearer);
    tg_decision *d = NULL;
    if (tg_engine_check(engine, U8("GET"), 3, U8("/v1/me"), 6, &h, 1, now, &d) != TG_STATUS_OK) {
        return -1;
    }
    int status = tg_decision_status(d);
    tg_decision_free(d);
    return status;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s <repository root> <port>\n", argv[0]);
        return 2;
    }
    const char *root = argv[1];
    g_port = atoi(argv[2]);
    char *token_a = read_trimmed(root, "token-a.txt");
    char *token_b = read_trimmed(root, "token-b.txt");
    char *token_c = read_trimmed(root, "token-c.txt");
    char *kid_b = kid_of(root, "key-b.pub.jwk");
    char *kid_c = kid_of(root, "key-c.pub.jwk");
    control("{\"keys\":[\"a\"],\"mode\":\"ok\",\"status\":500,\"max_age\":300,\"issuer\":null,"
            "\"reset_hits\":true}");

    /* First fetch, then verify. */
    tg_refresher *r = NULL;
    char *error = NULL;
    check(tg_refresher_new(NULL, 0, &r, &error) == TG_STATUS_OK && error == NULL, "new");
    uint64_t now = T0;
    check(tg_refresher_poll(r, now, NULL), "the first poll fetches");
    check(verify(r, token_a, now) == TG_STATUS_KEY_SET_FETCH_FAILED, "no set before a fetch");
    uint64_t generation = 99;
    check(tg_refresher_generation(r, now, &generation, NULL) == TG_STATUS_KEY_SET_FETCH_FAILED &&
              generation == 99,
          "no generation before a fetch, and nothing written");
    check(fetch(r, "/jwks", now) == TG_STATUS_OK, "first fetch");
    check(tg_refresher_generation(r, now, &generation, NULL) == TG_STATUS_OK && generation == 1,
          "the first good fetch is generation 1");
    check(until_of(r, now) == now + 300, "max-age=300 schedules the next fetch");
    check(verify(r, token_a, now) == TG_STATUS_OK, "token-a verifies after the first fetch");
    check(verify(r, token_b, now) == TG_STATUS_UNKNOWN_KID, "token-b is not published yet");

    /* Rotation: a+b (fetched early for b's kid), then b alone at the scheduled fetch. */
    control("{\"keys\":[\"a\",\"b\"]}");
    now += 10;
    check(tg_refresher_on_unknown_kid(r, U8(kid_b), strlen(kid_b), now), "b's kid asks a fetch");
    check(tg_refresher_poll(r, now, NULL), "poll agrees");
    check(fetch(r, "/jwks", now) == TG_STATUS_OK, "fetch a+b");
    check(verify(r, token_a, now) == TG_STATUS_OK, "token-a verifies while a is served");
    check(verify(r, token_b, now) == TG_STATUS_OK, "token-b verifies after the refetch");
    control("{\"keys\":[\"b\"]}");
    now = until_of(r, now);
    check(tg_refresher_poll(r, now, NULL), "due at next_fetch");
    check(fetch(r, "/jwks", now) == TG_STATUS_OK, "fetch b");
    check(tg_refresher_generation(r, now, &generation, NULL) == TG_STATUS_OK && generation == 3,
          "each good fetch moves the generation: %llu", (unsigned long long)generation);
    check(verify(r, token_a, now) == TG_STATUS_UNKNOWN_KID, "token-a refused once a is gone");
    check(verify(r, token_b, now) == TG_STATUS_OK, "token-b still verifies");
    uint64_t good_at = now;

    /* Outage: down, 500, garbage. The last good set keeps verifying; retries back off. */
    int hits_before = jwks_hits();
    const char *modes[] = {"{\"mode\":\"down\"}", "{\"mode\":\"error\",\"status\":500}",
                           "{\"mode\":\"garbage\"}"};
    now = until_of(r, now);
    uint64_t delay = 5;
    for (int i = 0; i < 3; i++) {
        control(modes[i]);
        check(tg_refresher_poll(r, now, NULL), "outage %d: due", i);
        check(fetch(r, "/jwks", now) == TG_STATUS_KEY_SET_FETCH_FAILED, "outage %d fails", i);
        check(until_of(r, now) == now + delay, "outage %d: backoff %llu s", i,
              (unsigned long long)delay);
        check(verify(r, token_b, now) == TG_STATUS_OK, "outage %d: the last good set verifies", i);
        check(!tg_refresher_on_unknown_kid(r, U8(kid_c), strlen(kid_c), now),
              "outage %d: no early fetch inside a backoff", i);
        now += delay;
        delay *= 2;
    }
    cJSON *s = status_of(r, now);
    check(cJSON_GetObjectItem(s, "failures")->valueint == 3, "three failures reported");
    cJSON *last = cJSON_GetObjectItem(s, "last_error");
    check(cJSON_IsObject(last) && strcmp(cJSON_GetObjectItem(last, "code")->valuestring,
                                         "key_set_fetch_failed") == 0,
          "last_error is key_set_fetch_failed");
    check((uint64_t)cJSON_GetObjectItem(s, "fetched_at")->valuedouble == good_at,
          "fetched_at is the last good fetch");
    cJSON_Delete(s);
    int outage_hits = jwks_hits() - hits_before;
    check(outage_hits == 3, "three fetches during the outage, got %d", outage_hits);
    printf("keysource: outage: %d JWKS hits for 3 failed attempts\n", outage_hits);
    control("{\"mode\":\"ok\"}");
    check(fetch(r, "/jwks", now) == TG_STATUS_OK, "recovered");
    s = status_of(r, now);
    check(cJSON_GetObjectItem(s, "failures")->valueint == 0 &&
              cJSON_IsNull(cJSON_GetObjectItem(s, "last_error")),
          "a good fetch clears the failures");
    cJSON_Delete(s);

    /* A flood of 1000 tokens with kid c (never published) over 100 simulated seconds. */
    control("{\"reset_hits\":true}");
    int early = 0;
    uint64_t last_fetch = 0;
    bool spaced = true;
    for (int i = 0; i < 1000; i++) {
        uint64_t t = now + (uint64_t)i / 10;
        if (verify(r, token_c, t) != TG_STATUS_UNKNOWN_KID) {
            check(false, "flood token %d is not unknown_kid", i);
            break;
        }
        if (tg_refresher_on_unknown_kid(r, U8(kid_c), strlen(kid_c), t)) {
            spaced = spaced && (early == 0 || t >= last_fetch + 30);
            last_fetch = t;
            early++;
            check(fetch(r, "/jwks", t) == TG_STATUS_OK, "flood fetch");
        }
    }
    int flood_hits = jwks_hits();
    check(spaced, "early fetches at least 30 s apart");
    check(early >= 1 && early <= 4, "1..=4 early fetches in 100 s, got %d", early);
    check(flood_hits == early, "the server saw %d fetches for %d early fetches", flood_hits, early);
    printf("keysource: flood of 1000 unknown-kid tokens over 100 s: %d JWKS hits\n", flood_hits);
    now += 100;

    /* The set swapped into an engine for a provider. */
    tg_engine *engine = NULL;
    check(tg_engine_new(U8(POLICY), strlen(POLICY), &engine, NULL) == TG_STATUS_OK, "engine");
    tg_refresher *pr = NULL;
    check(tg_refresher_new_for_provider(engine, U8("idp"), 3, NULL, 0, &pr, NULL) == TG_STATUS_OK,
          "refresher for provider idp");
    check(tg_refresher_swap_into(pr, engine, U8("idp"), 3, now, &error) ==
              TG_STATUS_KEY_SET_FETCH_FAILED,
          "nothing to swap before a fetch");
    tg_string_free(error);
    error = NULL;
    check(fetch(pr, "/jwks", now) == TG_STATUS_OK, "provider fetch");
    check(engine_status(engine, token_b, now) == 401, "no keys in the engine yet");
    check(tg_refresher_swap_into(pr, engine, U8("idp"), 3, now, NULL) == TG_STATUS_OK, "swap");
    check(engine_status(engine, token_b, now) == 200, "token-b allowed after the swap");
    check(engine_status(engine, token_a, now) == 401, "token-a refused");
    /* Stopping the refresher releases the provider: no keys until a snapshot sets them. */
    check(tg_engine_release_provider_keys(engine, U8("idp"), 3, NULL) == TG_STATUS_OK, "release");
    tg_refresher_free(pr);
    check(engine_status(engine, token_b, now) == 401, "no keys once released");
    check(tg_engine_release_provider_keys(engine, U8("nobody"), 6, NULL) ==
              TG_STATUS_INVALID_OPTIONS,
          "releasing a provider the policy lacks");
    check(tg_engine_release_provider_keys(NULL, U8("idp"), 3, NULL) == TG_STATUS_NULL_PARAMETER,
          "release NULL");
    tg_engine_free(engine);

    /* Stale: not refreshed for stale_after (two days) -> key_set_stale. */
    uint64_t fetched_at;
    s = status_of(r, now);
    fetched_at = (uint64_t)cJSON_GetObjectItem(s, "fetched_at")->valuedouble;
    cJSON_Delete(s);
    uint64_t stale = fetched_at + 172800;
    check(verify(r, token_b, stale - 1) == TG_STATUS_OK, "fresh one second before the limit");
    check(verify(r, token_b, stale) == TG_STATUS_KEY_SET_STALE, "stale at the limit");
    check(tg_refresher_generation(r, stale, &generation, NULL) == TG_STATUS_KEY_SET_STALE,
          "no generation for a stale set");
    s = status_of(r, stale);
    check(cJSON_IsTrue(cJSON_GetObjectItem(s, "stale")), "status says stale");
    check(cJSON_GetArraySize(cJSON_GetObjectItem(s, "kids")) == 1, "the stale set's kid listed");
    cJSON_Delete(s);
    tg_refresher_free(r);

    /* Discovery: configuration URL -> jwks_uri -> fetch. */
    char issuer[64];
    snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", g_port);
    char *url = NULL;
    check(tg_discovery_configuration_url(U8(issuer), strlen(issuer), &url, NULL) == TG_STATUS_OK,
          "configuration URL");
    const char *path = url == NULL ? "" : url + strlen(issuer);
    check(strcmp(path, "/.well-known/openid-configuration") == 0, "configuration path %s", path);
    response doc = http("GET", path, NULL);
    char *jwks_uri = NULL;
    check(doc.status == 200 && tg_discovery_jwks_uri(U8(doc.body), doc.body_len, U8(issuer),
                                                     strlen(issuer), &jwks_uri,
                                                     NULL) == TG_STATUS_OK,
          "jwks_uri");
    response_free(&doc);
    check(jwks_uri != NULL && strncmp(jwks_uri, issuer, strlen(issuer)) == 0, "jwks_uri %s",
          show(jwks_uri));
    tg_refresher *dr = NULL;
    check(tg_refresher_new(NULL, 0, &dr, NULL) == TG_STATUS_OK, "new for discovery");
    check(jwks_uri != NULL && fetch(dr, jwks_uri + strlen(issuer), now) == TG_STATUS_OK,
          "fetch the discovered jwks_uri");
    check(verify(dr, token_b, now) == TG_STATUS_OK, "token-b verifies through discovery");
    tg_refresher_free(dr);
    tg_string_free(jwks_uri);

    control("{\"issuer\":\"http://127.0.0.1:1\"}");
    doc = http("GET", path, NULL);
    jwks_uri = NULL;
    error = NULL;
    check(tg_discovery_jwks_uri(U8(doc.body), doc.body_len, U8(issuer), strlen(issuer), &jwks_uri,
                                &error) == TG_STATUS_INVALID_DISCOVERY &&
              jwks_uri == NULL && error != NULL && strstr(error, "not \"") != NULL,
          "an issuer mismatch is invalid_discovery: %s", show(error));
    tg_string_free(error);
    response_free(&doc);
    tg_string_free(url);
    control("{\"issuer\":null}");

    free(token_a);
    free(token_b);
    free(token_c);
    free(kid_b);
    free(kid_c);
    return finish("keysource");
}
