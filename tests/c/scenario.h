/*
 * Scenario tables (examples/<deployment>/scenarios.json, format in core/src/scenario.rs): loading
 * them, turning each case into a tg_engine_check call ({{name}} in a header value is replaced by
 * the table's token of that name), and comparing a decision with a case's expectation.
 */
#ifndef TOLLGATE_TEST_SCENARIO_H
#define TOLLGATE_TEST_SCENARIO_H

#include "common.h"

typedef struct {
    const char *name;
    const char *method;
    const char *path;
    size_t header_count;
    tg_header *headers; /* point into `values` and the table document */
    char **values;      /* header values with tokens substituted (owned) */
    const cJSON *expect;
} scenario_case;

typedef struct {
    cJSON *doc;
    uint64_t now;
    size_t count;
    scenario_case *cases;
} scenario_table;

/* Replaces every {{name}} naming one of `tokens` in `value`; returns a malloc'd string. */
static inline char *substitute(const char *value, const cJSON *tokens) {
    size_t cap = strlen(value) + 1, len = 0;
    char *out = malloc(cap);
    const char *p = value;
    while (out != NULL && *p != '\0') {
        const char *repl = NULL;
        size_t skip = 1;
        if (p[0] == '{' && p[1] == '{') {
            const char *end = strstr(p + 2, "}}");
            if (end != NULL) {
                size_t name_len = (size_t)(end - (p + 2));
                const cJSON *t;
                cJSON_ArrayForEach(t, tokens) {
                    if (strlen(t->string) == name_len && memcmp(t->string, p + 2, name_len) == 0 &&
                        cJSON_IsString(t)) {
                        repl = t->valuestring;
                        skip = name_len + 4;
                        break;
                    }
                }
            }
        }
        size_t add = repl != NULL ? strlen(repl) : 1;
        if (len + add + 1 > cap) {
            cap = (len + add + 1) * 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL) {
                free(out);
            }
            out = bigger;
            if (out == NULL) {
                break;
            }
        }
        memcpy(out + len, repl != NULL ? repl : p, add);
        len += add;
        p += skip;
    }
    if (out == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    out[len] = '\0';
    return out;
}

static inline scenario_table load_table(const char *path) {
    scenario_table t = {0};
    t.doc = read_json(path);
    t.now = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t.doc, "now"));
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(t.doc, "tokens");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(t.doc, "cases");
    t.count = (size_t)cJSON_GetArraySize(cases);
    t.cases = calloc(t.count, sizeof(scenario_case));
    size_t i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        scenario_case *sc = &t.cases[i++];
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(c, "request");
        const cJSON *headers = cJSON_GetObjectItemCaseSensitive(req, "headers");
        sc->name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "name"));
        sc->method = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "method"));
        sc->path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "path"));
        sc->expect = cJSON_GetObjectItemCaseSensitive(c, "expect");
        sc->header_count = (size_t)cJSON_GetArraySize(headers);
        sc->headers = calloc(sc->header_count + 1, sizeof(tg_header));
        sc->values = calloc(sc->header_count + 1, sizeof(char *));
        size_t j = 0;
        const cJSON *h;
        cJSON_ArrayForEach(h, headers) {
            const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(h, 0));
            sc->values[j] = substitute(cJSON_GetStringValue(cJSON_GetArrayItem(h, 1)), tokens);
            sc->headers[j] = header_of(name, sc->values[j]);
            j++;
        }
    }
    return t;
}

static inline void free_table(scenario_table *t) {
    for (size_t i = 0; i < t->count; i++) {
        for (size_t j = 0; j < t->cases[i].header_count; j++) {
            free(t->cases[i].values[j]);
        }
        free(t->cases[i].values);
        free(t->cases[i].headers);
    }
    free(t->cases);
    cJSON_Delete(t->doc);
}

/* Runs one case into `decision` (reused). */
static inline tg_status run_case_into(const tg_engine *engine, const scenario_table *t,
                               const scenario_case *c, tg_decision *decision) {
    return tg_engine_check_into(engine, U8(c->method), strlen(c->method), U8(c->path),
                                strlen(c->path), c->headers, c->header_count, t->now, decision);
}

/* Appends one difference to `why`. */
static inline void differ(char *why, size_t cap, const char *what, const char *want, const char *got) {
    size_t used = strlen(why);
    snprintf(why + used, cap - used, "%s%s: expected %s, got %s", used ? "; " : "", what,
             show(want), show(got));
}

/* Compares an optional string expectation with a getter's result. */
#define EXPECT_STRING(field, getter)                                                          \
    do {                                                                                      \
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(expect, field);                    \
        if (w != NULL) {                                                                      \
            size_t n = 0;                                                                     \
            const char *g = getter(d, &n);                                                    \
            if (!str_is(g, &n, cJSON_GetStringValue(w))) {                                     \
                differ(why, cap, field, cJSON_GetStringValue(w), g);                         \
            }                                                                                 \
        }                                                                                     \
    } while (0)

/* Compares a decision with an expectation (status and reason always; the other fields when the
 * table names them, as Expect::check does). Writes the differences to `why` (empty when none). */
static inline bool decision_matches(const tg_decision *d, const cJSON *expect, char *why, size_t cap) {
    why[0] = '\0';
    char num[32];
    int want_status = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(expect, "status"));
    if (tg_decision_status(d) != want_status) {
        char want[32];
        snprintf(want, sizeof want, "%d", want_status);
        snprintf(num, sizeof num, "%u", (unsigned)tg_decision_status(d));
        differ(why, cap, "status", want, num);
    }
    EXPECT_STRING("reason", tg_decision_reason_name);
    /* The reason number names the same code. */
    const char *by_number = tg_error_name(tg_decision_reason(d));
    const char *by_name = tg_decision_reason_name(d, NULL);
    if (by_name == NULL || strcmp(by_number, by_name) != 0) {
        differ(why, cap, "reason number", by_name, by_number);
    }
    EXPECT_STRING("subject", tg_decision_subject);
    EXPECT_STRING("kind", tg_decision_kind);
    EXPECT_STRING("tenant", tg_decision_tenant);
    EXPECT_STRING("www_authenticate", tg_decision_www_authenticate);
    EXPECT_STRING("correlation_id", tg_decision_correlation_id);
    EXPECT_STRING("refresh_kid", tg_decision_refresh_kid);
    const cJSON *roles = cJSON_GetObjectItemCaseSensitive(expect, "roles");
    if (roles != NULL) {
        bool same = (size_t)cJSON_GetArraySize(roles) == tg_decision_roles_count(d);
        for (size_t i = 0; same && i < tg_decision_roles_count(d); i++) {
            size_t n = 0;
            const char *r = tg_decision_role(d, i, &n);
            same = str_is(r, &n, cJSON_GetStringValue(cJSON_GetArrayItem(roles, (int)i)));
        }
        if (!same) {
            char *want = cJSON_PrintUnformatted(roles);
            snprintf(num, sizeof num, "%zu role(s)", tg_decision_roles_count(d));
            differ(why, cap, "roles", want, num);
            free(want);
        }
    }
    const cJSON *fwd = cJSON_GetObjectItemCaseSensitive(expect, "forward_headers");
    if (fwd != NULL) {
        size_t count = tg_decision_forward_headers_count(d);
        bool same = (size_t)cJSON_GetArraySize(fwd) == count;
        for (size_t i = 0; same && i < count; i++) {
            tg_header h;
            same = tg_decision_forward_header(d, i, &h) == TG_STATUS_OK;
            const cJSON *w = NULL, *item;
            cJSON_ArrayForEach(item, fwd) {
                if (same && strlen(item->string) == h.name_len &&
                    memcmp(item->string, h.name, h.name_len) == 0) {
                    w = item;
                }
            }
            same = same && w != NULL &&
                   str_is((const char *)h.value, &h.value_len, cJSON_GetStringValue(w));
        }
        if (!same) {
            char *want = cJSON_PrintUnformatted(fwd);
            snprintf(num, sizeof num, "%zu header(s)", count);
            differ(why, cap, "forward_headers", want, num);
            free(want);
        }
    }
    /* The JSON form agrees with the getters. */
    char *json = NULL;
    if (tg_decision_to_json(d, &json) != TG_STATUS_OK) {
        differ(why, cap, "to_json", "a JSON string", "a failure");
    } else {
        cJSON *doc = cJSON_Parse(json);
        const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "reason"));
        if (reason == NULL || by_name == NULL || strcmp(reason, by_name) != 0) {
            differ(why, cap, "to_json reason", by_name, reason);
        }
        cJSON_Delete(doc);
        tg_string_free(json);
    }
    return why[0] == '\0';
}

#endif
