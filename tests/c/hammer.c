/*
 * One engine shared by 8 threads that check the tenant-path table's requests in a loop (each
 * thread reusing one decision with tg_engine_check_into), while the main thread keeps swapping
 * between two snapshots: the real one, and one without keys (where every token fails with
 * unknown_kid). Every decision must match what one of the two snapshots gives for that request
 * (computed first, single-threaded, on two private engines), and both must be seen.
 *
 * usage: hammer <repository root> [iterations per thread]
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "scenario.h"

#define THREADS 8
#define NO_KEYS "{\"keys\":{\"app\":{\"keys\":[]}}}"
/* Workers keep going until the main thread has swapped at least this often. */
#define MIN_SWAPS 4

typedef struct {
    uint16_t status;
    uint32_t reason;
} outcome;

typedef struct {
    const tg_engine *engine;
    const scenario_table *table;
    const outcome *with_keys;
    const outcome *without_keys;
    int iterations;
    atomic_int *running;
    atomic_long *swaps;
    /* results */
    long rounds, decisions, mismatches, only_with_keys, only_without_keys, errors;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    tg_decision *d = NULL;
    if (tg_decision_new(&d) != TG_STATUS_OK) {
        w->errors++;
        atomic_fetch_sub(w->running, 1);
        return NULL;
    }
    for (int it = 0; it < w->iterations || atomic_load(w->swaps) < MIN_SWAPS; it++) {
        if (it >= w->iterations) {
            /* Done, but for the swaps: let the main thread run. Valgrind runs one thread at a
             * time and favours the one that had the lock, so without this eight busy workers
             * can keep the swapping thread waiting for minutes. */
            sched_yield();
        }
        w->rounds++;
        for (size_t i = 0; i < w->table->count; i++) {
            if (run_case_into(w->engine, w->table, &w->table->cases[i], d) != TG_STATUS_OK) {
                w->errors++;
                continue;
            }
            outcome got = {tg_decision_status(d), tg_decision_reason(d)};
            outcome a = w->with_keys[i], b = w->without_keys[i];
            bool is_a = got.status == a.status && got.reason == a.reason;
            bool is_b = got.status == b.status && got.reason == b.reason;
            w->decisions++;
            if (!is_a && !is_b) {
                w->mismatches++;
                fprintf(stderr, "mismatch: %s: %u %s\n", w->table->cases[i].name, got.status,
                        tg_error_name(got.reason));
            } else if (is_a && !is_b) {
                w->only_with_keys++;
            } else if (is_b && !is_a) {
                w->only_without_keys++;
            }
        }
    }
    tg_decision_free(d);
    atomic_fetch_sub(w->running, 1);
    return NULL;
}

/* An engine for the policy with `snapshot` swapped in. */
static tg_engine *engine_with(const char *policy, size_t policy_len, const char *snapshot) {
    tg_engine *e = NULL;
    tg_status st = tg_engine_new(U8(policy), policy_len, &e, NULL);
    if (st == TG_STATUS_OK) {
        st = tg_engine_swap_snapshot_json(e, U8(snapshot), strlen(snapshot), NULL);
    }
    check(st == TG_STATUS_OK, "engine setup: %s", tg_error_name(st));
    return e;
}

/* Each case's outcome on `engine`, single-threaded. */
static outcome *outcomes(const tg_engine *engine, const scenario_table *t) {
    outcome *out = calloc(t->count, sizeof(outcome));
    tg_decision *d = NULL;
    tg_decision_new(&d);
    for (size_t i = 0; i < t->count; i++) {
        tg_status st = run_case_into(engine, t, &t->cases[i], d);
        check(st == TG_STATUS_OK, "%s: %s", t->cases[i].name, tg_error_name(st));
        out[i].status = tg_decision_status(d);
        out[i].reason = tg_decision_reason(d);
    }
    tg_decision_free(d);
    return out;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : ".";
    int iterations = argc > 2 ? atoi(argv[2]) : 300;
    char path[4096];
    size_t policy_len;
    snprintf(path, sizeof path, "%s/examples/tenant-path/policy.json", root);
    char *policy = read_file(path, &policy_len);
    snprintf(path, sizeof path, "%s/examples/tenant-path/snapshot.json", root);
    size_t snapshot_len;
    char *snapshot = read_file(path, &snapshot_len);
    snprintf(path, sizeof path, "%s/examples/tenant-path/scenarios.json", root);
    scenario_table table = load_table(path);

    /* What each snapshot answers, one request at a time. */
    tg_engine *a = engine_with(policy, policy_len, snapshot);
    tg_engine *b = engine_with(policy, policy_len, NO_KEYS);
    outcome *with_keys = outcomes(a, &table);
    outcome *without_keys = outcomes(b, &table);
    int differ = 0, unknown_kid = 0;
    for (size_t i = 0; i < table.count; i++) {
        char why[2048];
        tg_decision *d = NULL;
        tg_engine_check(a, U8(table.cases[i].method), strlen(table.cases[i].method),
                        U8(table.cases[i].path), strlen(table.cases[i].path),
                        table.cases[i].headers, table.cases[i].header_count, table.now, &d);
        check(decision_matches(d, table.cases[i].expect, why, sizeof why), "%s: %s",
              table.cases[i].name, why);
        tg_decision_free(d);
        differ += with_keys[i].reason != without_keys[i].reason;
        unknown_kid += without_keys[i].reason == TG_STATUS_UNKNOWN_KID;
    }
    check(differ > 0 && unknown_kid > 0, "the keyless snapshot changes %d answers (%d unknown_kid)",
          differ, unknown_kid);
    tg_engine_free(a);
    tg_engine_free(b);

    /* The hammer. */
    tg_engine *engine = engine_with(policy, policy_len, snapshot);
    atomic_int running = THREADS;
    atomic_long swaps = 0;
    worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){engine, &table, with_keys, without_keys, iterations, &running,
                              &swaps, 0, 0, 0, 0, 0, 0};
        if (pthread_create(&threads[i], NULL, work, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    }
    long swap_failures = 0;
    /* Each snapshot stays in for a millisecond, so every worker meets both. */
    const struct timespec pause = {0, 1000000};
    while (atomic_load(&running) > 0) {
        tg_status st;
        if (atomic_load(&swaps) % 2 == 0) {
            st = tg_engine_swap_snapshot_json(engine, U8(NO_KEYS), strlen(NO_KEYS), NULL);
        } else {
            tg_snapshot *s = NULL;
            st = tg_snapshot_new(engine, U8(snapshot), snapshot_len, &s, NULL);
            if (st == TG_STATUS_OK) {
                st = tg_engine_swap_snapshot(engine, s, NULL);
            }
            tg_snapshot_free(s);
        }
        atomic_fetch_add(&swaps, 1);
        swap_failures += st != TG_STATUS_OK;
        nanosleep(&pause, NULL);
    }
    long rounds = 0, decisions = 0, mismatches = 0, only_a = 0, only_b = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        rounds += workers[i].rounds;
        decisions += workers[i].decisions;
        mismatches += workers[i].mismatches;
        only_a += workers[i].only_with_keys;
        only_b += workers[i].only_without_keys;
        errors += workers[i].errors;
    }
    printf("%d threads, %ld rounds of %zu requests: %ld decisions across %ld swaps; %ld only "
           "with keys, %ld only without\n",
           THREADS, rounds, table.count, decisions, (long)atomic_load(&swaps), only_a, only_b);
    check(errors == 0, "%ld checks failed to run", errors);
    check(rounds >= (long)THREADS * iterations && decisions == rounds * (long)table.count,
          "%ld decisions in %ld rounds", decisions, rounds);
    check(mismatches == 0, "%ld decisions match neither snapshot", mismatches);
    check(swap_failures == 0, "%ld of %ld swaps failed", swap_failures, (long)atomic_load(&swaps));
    check(only_a > 0 && only_b > 0, "both snapshots were seen (%ld with keys, %ld without)",
          only_a, only_b);

    tg_engine_free(engine);
    free(with_keys);
    free(without_keys);
    free_table(&table);
    free(policy);
    free(snapshot);
    return finish("hammer");
}
