/*
 * Replays the four example deployments' scenario tables through the C ABI: every case's status
 * and reason, and its subject, kind, tenant, roles, challenge, forwarded headers, correlation id
 * and refresh hint where the table names them (the same comparison as core/src/scenario.rs).
 *
 * usage: scenarios <repository root>
 */
#include "scenario.h"

static const char *const DEPLOYMENTS[] = {"project-oidc", "service-accounts", "tenant-path",
                                          "workspace-api"};

static void replay(const char *root, const char *deployment, int index) {
    char path[4096];
    size_t policy_len, snapshot_len;
    snprintf(path, sizeof path, "%s/examples/%s/policy.json", root, deployment);
    char *policy = read_file(path, &policy_len);
    snprintf(path, sizeof path, "%s/examples/%s/snapshot.json", root, deployment);
    char *snapshot = read_file(path, &snapshot_len);
    snprintf(path, sizeof path, "%s/examples/%s/scenarios.json", root, deployment);
    scenario_table table = load_table(path);

    tg_engine *engine = NULL;
    char *error = NULL;
    tg_status st = tg_engine_new(U8(policy), policy_len, &engine, &error);
    if (!check(st == TG_STATUS_OK, "%s: tg_engine_new: %s (%s)", deployment, tg_error_name(st),
               show(error))) {
        tg_string_free(error);
        goto done;
    }
    /* Both ways of loading key material: a snapshot handle, or the JSON in one call. */
    if (index % 2 == 0) {
        tg_snapshot *snap = NULL;
        st = tg_snapshot_new(engine, U8(snapshot), snapshot_len, &snap, &error);
        if (st == TG_STATUS_OK) {
            st = tg_engine_swap_snapshot(engine, snap, &error);
        }
        tg_snapshot_free(snap);
    } else {
        st = tg_engine_swap_snapshot_json(engine, U8(snapshot), snapshot_len, &error);
    }
    if (!check(st == TG_STATUS_OK, "%s: snapshot: %s (%s)", deployment, tg_error_name(st),
               show(error))) {
        tg_string_free(error);
        goto done;
    }

    int agree = 0;
    for (size_t i = 0; i < table.count; i++) {
        const scenario_case *c = &table.cases[i];
        tg_decision *d = NULL;
        st = tg_engine_check(engine, U8(c->method), strlen(c->method), U8(c->path),
                             strlen(c->path), c->headers, c->header_count, table.now, &d);
        char why[2048];
        bool ok = st == TG_STATUS_OK && decision_matches(d, c->expect, why, sizeof why);
        if (st != TG_STATUS_OK) {
            snprintf(why, sizeof why, "tg_engine_check returned %s", tg_error_name(st));
        }
        agree += check(ok, "%s / %s: %s", deployment, c->name, why);
        tg_decision_free(d);
    }
    printf("%-20s %3d of %3zu cases agree\n", deployment, agree, table.count);

done:
    tg_engine_free(engine);
    free_table(&table);
    free(policy);
    free(snapshot);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : ".";
    for (int i = 0; i < (int)(sizeof DEPLOYMENTS / sizeof DEPLOYMENTS[0]); i++) {
        replay(root, DEPLOYMENTS[i], i);
    }
    return finish("scenarios");
}
