/* The cluster's shared state and history in a real single-member etcd on
 * 127.0.0.1 (coord_state.c; skipped when /usr/bin/etcd is not installed):
 * only the leader's writes are taken, and a follower reads what it wrote,
 * stamped with its term and id; the history keeps the newest
 * COORD_HISTORY_KEEP entries; a manager that stops answers what is still
 * out, once, as failed, and a caller that forgot its token hears nothing.
 * The loop ends with no handle left open. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "coord.h"
#include "etcd_fixture.h"

static etcd_fixture_t fx;
static uv_loop_t loop;

static void start_etcd(void)
{
    etcd_fixture_start(&fx);
    uv_loop_init(&loop);
}

static void stop_etcd(void) { etcd_fixture_stop(&fx); }

static bool run_until(bool (*cond)(void *), void *arg, uint64_t ms)
{
    uint64_t end = uv_hrtime() / 1000000 + ms;
    while (!cond(arg) && uv_hrtime() / 1000000 < end)
        uv_run(&loop, UV_RUN_ONCE);
    return cond(arg);
}

static bool is_leader(void *c) { return coord_role(c) == COORD_LEADER; }
static bool is_follower(void *c) { return coord_role(c) == COORD_FOLLOWER; }

typedef struct {
    int calls;
    bool ok;
    char value[2048];
    size_t n;
} got_t;

static bool answered(void *g) { return ((got_t *)g)->calls > 0; }

static void on_write(void *token, bool ok, const char *err)
{
    got_t *g = token;
    g->calls++;
    g->ok = ok;
    snprintf(g->value, sizeof g->value, "%s", err ? err : "");
}

static void on_read(void *token, bool ok, const char *value, const char *err)
{
    got_t *g = token;
    g->calls++;
    g->ok = ok;
    snprintf(g->value, sizeof g->value, "%s", ok ? (value ? value : "") : err);
}

static void on_history(void *token, bool ok, json_t *entries, const char *err)
{
    got_t *g = token;
    g->calls++;
    g->ok = ok;
    g->n = json_array_size(entries);
    json_t *first = json_array_get(entries, 0);
    snprintf(g->value, sizeof g->value, "%s",
             ok ? (json_string_value(json_object_get(first, "op")) ?: "") : err);
}

static coord_t *manager(const char *id)
{
    static char *eps[1];
    eps[0] = fx.endpoint;
    fo_coord_cfg_t cfg = {.mode = FO_COORD_ETCD,
                          .etcd_endpoints = {.items = eps, .n = 1},
                          .key_prefix = "/s/",
                          .manager_id = (char *)id,
                          .zone = "z",
                          .lease_ttl = 2,
                          .etcd_ca = "",
                          .etcd_cert = "",
                          .etcd_key = "",
                          .etcd_timeout_ms = 1000};
    return coord_create(&loop, &cfg, "/run/x.sock");
}

Test(coord_state, leader_writes_follower_reads, .init = start_etcd, .fini = stop_etcd,
     .timeout = 60)
{
    coord_t *a = manager("a");
    cr_assert(run_until(is_leader, a, 15000), "a leads");
    coord_t *b = manager("b");
    cr_assert(run_until(is_follower, b, 5000), "b follows");
    cr_expect_str_eq(coord_manager_id(a), "a");

    got_t none = {0};
    coord_state_read(b, "main", on_read, &none);
    cr_assert(run_until(answered, &none, 5000));
    cr_expect(none.ok && none.value[0] == '\0', "no state yet: %s", none.value);

    got_t wa = {0}, wb = {0};
    coord_state_write(a, "main", json_pack("{s:i, s:b}", "v", 1, "paused", 1), on_write, &wa);
    coord_state_write(b, "main", json_pack("{s:i, s:b}", "v", 1, "paused", 0), on_write, &wb);
    cr_assert(run_until(answered, &wa, 5000) && run_until(answered, &wb, 5000));
    cr_expect(wa.ok && wa.calls == 1, "the leader's write is taken: %s", wa.value);
    cr_expect(!wb.ok && wb.calls == 1 && strstr(wb.value, "not the leader"),
              "a follower's write is refused: %s", wb.value);

    got_t r = {0};
    coord_state_read(b, "main", on_read, &r);
    cr_assert(run_until(answered, &r, 5000));
    json_t *j = json_loads(r.value, 0, NULL);
    cr_expect(json_is_true(json_object_get(j, "paused")), "%s", r.value);
    cr_expect_str_eq(json_string_value(json_object_get(j, "manager")), "a");
    cr_expect_gt(json_integer_value(json_object_get(j, "term")), 0);
    json_decref(j);

    coord_close(a);
    coord_close(b);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    coord_free(b);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

static bool history_full(void *g) { return ((got_t *)g)->n == COORD_HISTORY_KEEP; }

Test(coord_state, history_is_bounded, .init = start_etcd, .fini = stop_etcd, .timeout = 90)
{
    coord_t *a = manager("a");
    cr_assert(run_until(is_leader, a, 15000), "a leads");
    int n = COORD_HISTORY_KEEP + 3;
    got_t puts[COORD_HISTORY_KEEP + 3];
    memset(puts, 0, sizeof puts);
    for (int i = 0; i < n; i++) {
        char op[32];
        snprintf(op, sizeof op, "op%04d", i);
        coord_history_put(a, "main", op, json_pack("{s:s, s:s}", "op", op, "state", "done"),
                          on_write, &puts[i]);
        cr_assert(run_until(answered, &puts[i], 5000), "put %d answered", i);
        cr_expect(puts[i].ok, "put %d: %s", i, puts[i].value);
    }
    /* The trimming follows each put; read until it has caught up. */
    got_t h = {0};
    uint64_t end = uv_hrtime() / 1000000 + 10000;
    do {
        h = (got_t){0};
        coord_history_read(a, "main", on_history, &h);
        cr_assert(run_until(answered, &h, 5000));
    } while (!history_full(&h) && uv_hrtime() / 1000000 < end);
    cr_expect(h.ok && h.n == COORD_HISTORY_KEEP, "kept %zu", h.n);
    cr_expect_str_eq(h.value, "op0003", "the oldest are deleted");
    coord_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

Test(coord_state, stopping_answers_once, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    coord_t *a = manager("a");
    cr_assert(run_until(is_leader, a, 15000), "a leads");
    got_t r = {0}, h = {0}, w = {0}, forgotten = {0};
    coord_state_read(a, "main", on_read, &r);
    coord_history_read(a, "main", on_history, &h);
    coord_state_write(a, "main", json_pack("{s:i, s:b}", "v", 1, "paused", 0), on_write, &w);
    coord_state_read(a, "main", on_read, &forgotten);
    coord_state_forget(a, &forgotten);
    coord_close(a);
    cr_expect(r.calls == 1 && !r.ok, "a read in flight fails: %s", r.value);
    cr_expect(h.calls == 1 && !h.ok, "a history read in flight fails: %s", h.value);
    cr_expect(w.calls == 1 && !w.ok, "a write in flight fails: %s", w.value);
    got_t after = {0};
    coord_state_write(a, "main", json_pack("{s:i}", "v", 1), on_write, &after);
    cr_expect(after.calls == 1 && !after.ok, "a closed manager's write fails at once");
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect(r.calls == 1 && h.calls == 1 && w.calls == 1, "answered once");
    cr_expect_eq(forgotten.calls, 0, "a forgotten token hears nothing");
    coord_free(a);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}
