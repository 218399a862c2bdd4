/* The etcd client: request bodies and reply parsing from fixed texts (what the
 * 3.4 gateway writes: int64 as strings, defaults left out), then the client on
 * the loop against a real single-member etcd on 127.0.0.1 (skipped when
 * /usr/bin/etcd is not installed): leases, a create-if-absent txn, ranges,
 * a watch seeing a delete, the next endpoint tried on a refused connection. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcd.h"
#include "etcd_fixture.h"
#include "testutil.h"

/* ---- JSON ------------------------------------------------------------------------ */

Test(etcd_json, bodies_are_base64)
{
    char *b = etcd_body_put("/a", "{}", 7);
    cr_expect_str_eq(b, "{\"key\":\"L2E=\",\"value\":\"e30=\",\"lease\":\"7\"}");
    free(b);
    etcd_cmp_t c = {.key = "/l", .target = ETCD_CMP_CREATE, .create_revision = 0};
    etcd_op_t op = {.key = "/l", .value = "x", .lease = 0};
    b = etcd_body_txn(&c, 1, &op, 1, "/l");
    cr_expect(strstr(b, "\"target\":\"CREATE\"") && strstr(b, "\"create_revision\":\"0\""), "%s",
              b);
    cr_expect(strstr(b, "\"failure\":[{\"request_range\":{\"key\":\"L2w=\"}}]"), "%s", b);
    free(b);
}

Test(etcd_json, prefix_bodies)
{
    /* range_end: the prefix with its last byte plus one ("/p/" -> "/p0"). */
    char *b = etcd_body_range_prefix("/p/");
    cr_expect_str_eq(b, "{\"key\":\"L3Av\",\"range_end\":\"L3Aw\"}");
    free(b);
    b = etcd_body_watch_prefix("/p/", 12);
    cr_expect(strstr(b, "\"range_end\":\"L3Aw\"") && strstr(b, "\"start_revision\":\"12\""),
              "%s", b);
    free(b);
}

static const struct {
    etcd_rkind_t kind;
    const char *text;
    bool ok;
    const char *err; /* substring of the error */
} replies[] = {
    {ETCD_R_RANGE, "{\"header\":{\"revision\":\"5\"}}", true, NULL},
    {ETCD_R_RANGE,
     "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"L2E=\",\"create_revision\":\"4\","
     "\"mod_revision\":\"5\",\"version\":\"2\",\"value\":\"e30=\",\"lease\":\"99\"}],\"count\":\"1\"}",
     true, NULL},
    {ETCD_R_RANGE, "{\"kvs\":[{\"key\":\"%%%\"}]}", false, "base64"},
    {ETCD_R_RANGE, "{\"kvs\":[{\"key\":\"L2E=\",\"version\":\"x\"}]}", false, "integer"},
    {ETCD_R_RANGE, "{\"kvs\":{}}", false, "array"},
    {ETCD_R_RANGE, "[1]", false, "object"},
    {ETCD_R_RANGE, "{\"header\"", false, "malformed JSON"},
    {ETCD_R_RANGE, "", false, "malformed JSON"},
    {ETCD_R_TXN, "{\"header\":{\"revision\":\"6\"}}", true, NULL},
    {ETCD_R_TXN, "{\"header\":{},\"succeeded\":true,\"responses\":[{\"response_put\":{}}]}", true,
     NULL},
    {ETCD_R_TXN, "{\"succeeded\":\"yes\"}", false, "boolean"},
    {ETCD_R_LEASE, "{\"header\":{},\"ID\":\"7587\",\"TTL\":\"3\"}", true, NULL},
    {ETCD_R_LEASE, "{\"result\":{\"header\":{},\"ID\":\"7587\"}}", true, NULL},
    {ETCD_R_LEASE, "{\"error\":\"etcdserver: requested lease not found\",\"code\":5}", false,
     "lease not found"},
    {ETCD_R_PUT, "{\"error\":{\"message\":\"boom\"}}", false, "boom"},
};

Test(etcd_json, replies)
{
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        etcd_reply_t r;
        bool ok = etcd_parse_reply(replies[i].kind, replies[i].text, strlen(replies[i].text), &r);
        cr_expect_eq(ok, replies[i].ok, "row %zu: %s", i, r.err);
        cr_expect_eq(r.ok, ok);
        if (replies[i].err)
            cr_expect(strstr(r.err, replies[i].err), "row %zu: %s", i, r.err);
        etcd_reply_free(&r);
    }
    etcd_reply_t r;
    const char *t = replies[1].text;
    cr_assert(etcd_parse_reply(ETCD_R_RANGE, t, strlen(t), &r));
    cr_expect_eq(r.revision, 5);
    cr_assert_eq(r.n_kvs, 1);
    cr_expect_str_eq(r.kvs[0].key, "/a");
    cr_expect_str_eq(r.kvs[0].value, "{}");
    cr_expect_eq(r.kvs[0].create_revision, 4);
    cr_expect_eq(r.kvs[0].lease, 99);
    etcd_reply_free(&r);
    t = replies[12].text;
    cr_assert(etcd_parse_reply(ETCD_R_LEASE, t, strlen(t), &r));
    cr_expect_eq(r.lease_id, 7587);
    cr_expect_eq(r.ttl, 0, "a keepalive without TTL: the lease is gone");
    etcd_reply_free(&r);
    t = replies[8].text;
    cr_assert(etcd_parse_reply(ETCD_R_TXN, t, strlen(t), &r));
    cr_expect_not(r.succeeded, "a failed txn has no succeeded field");
    etcd_reply_free(&r);
}

typedef struct {
    etcd_wkind_t kinds[8];
    char keys[8][32];
    int n;
} wlog_t;

static void wrec(void *ud, const etcd_wevent_t *ev)
{
    wlog_t *l = ud;
    if (l->n < 8) {
        l->kinds[l->n] = ev->kind;
        snprintf(l->keys[l->n], 32, "%s", ev->kv.key ? ev->kv.key : "");
        l->n++;
    }
}

Test(etcd_json, watch_lines)
{
    wlog_t l = {.n = 0};
    char why[128];
    const char *lines[] = {
        "{\"result\":{\"header\":{\"revision\":\"3\"},\"created\":true}}",
        "{\"result\":{\"header\":{\"revision\":\"4\"},\"events\":[{\"kv\":{\"key\":\"L2E=\"}},"
        "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L2I=\"}}]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"}}}",
        "{\"result\":{\"header\":{},\"canceled\":true,\"compact_revision\":\"8\"}}",
    };
    for (size_t i = 0; i < 4; i++)
        cr_assert(etcd_parse_watch(lines[i], strlen(lines[i]), wrec, &l, why, sizeof why), "%s",
                  why);
    cr_assert_eq(l.n, 5);
    cr_expect_eq(l.kinds[0], ETCD_W_CREATED);
    cr_expect_eq(l.kinds[1], ETCD_W_PUT);
    cr_expect_str_eq(l.keys[1], "/a");
    cr_expect_eq(l.kinds[2], ETCD_W_DELETE);
    cr_expect_str_eq(l.keys[2], "/b");
    cr_expect_eq(l.kinds[3], ETCD_W_PROGRESS);
    cr_expect_eq(l.kinds[4], ETCD_W_END);
    cr_expect_not(etcd_parse_watch("{\"result\":7}", 12, wrec, &l, why, sizeof why));
    cr_expect_not(etcd_parse_watch("{\"error\":{\"message\":\"x\"}}", 25, wrec, &l, why,
                                   sizeof why));
    cr_expect(strstr(why, "x"));
}

/* ---- against a real etcd -------------------------------------------------------------- */

static etcd_fixture_t fx;
static uv_loop_t loop;

static void start_etcd(void)
{
    etcd_fixture_start(&fx);
    uv_loop_init(&loop);
}

static void stop_etcd(void)
{
    etcd_fixture_stop(&fx);
}

typedef struct {
    bool done, ok, succeeded;
    int64_t lease, ttl, rev, create_rev;
    char value[64], err[256];
} res_t;

static void on_reply(void *ud, const etcd_reply_t *r)
{
    res_t *x = ud;
    x->done = true;
    x->ok = r->ok;
    x->succeeded = r->succeeded;
    x->lease = r->lease_id;
    x->ttl = r->ttl;
    x->rev = r->revision;
    snprintf(x->err, sizeof x->err, "%s", r->err);
    x->value[0] = '\0';
    x->create_rev = 0;
    if (r->n_kvs) {
        snprintf(x->value, sizeof x->value, "%s", r->kvs[0].value);
        x->create_rev = r->kvs[0].create_revision;
    }
}

static void run_until(bool *flag)
{
    for (int i = 0; i < 2000 && !*flag; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert(*flag, "no answer");
}

#define CALL(x, stmt)                                                                              \
    do {                                                                                           \
        memset(&(x), 0, sizeof(x));                                                                \
        stmt;                                                                                      \
        run_until(&(x).done);                                                                      \
    } while (0)

Test(etcd_live, lease_txn_watch, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    char bad[64], good[64];
    snprintf(bad, sizeof bad, "http://127.0.0.1:%d", test_free_port()); /* nobody listens */
    snprintf(good, sizeof good, "http://127.0.0.1:%d", fx.port);
    char *eps[] = {bad, good};
    etcd_opts_t o = {.endpoints = eps, .n_endpoints = 2, .timeout_ms = 1000};
    etcd_t *e = etcd_create(&loop, &o);
    res_t x;
    for (int i = 0; i < 100; i++) { /* etcd needs a moment to start */
        CALL(x, etcd_range(e, "/k", on_reply, &x));
        if (x.ok)
            break;
        usleep(100000);
    }
    cr_assert(x.ok, "%s", x.err);
    CALL(x, etcd_lease_grant(e, 2, on_reply, &x));
    cr_assert(x.ok, "%s", x.err);
    int64_t lease = x.lease;
    cr_expect_eq(x.ttl, 2);
    etcd_cmp_t c = {.key = "/k", .target = ETCD_CMP_CREATE, .create_revision = 0};
    etcd_op_t op = {.key = "/k", .value = "me", .lease = lease};
    CALL(x, etcd_txn(e, &c, 1, &op, 1, "/k", on_reply, &x));
    cr_assert(x.ok && x.succeeded, "%s", x.err);
    op.value = "other";
    CALL(x, etcd_txn(e, &c, 1, &op, 1, "/k", on_reply, &x));
    cr_assert(x.ok, "%s", x.err);
    cr_expect_not(x.succeeded);
    cr_expect_str_eq(x.value, "me", "the failure branch reads the holder");
    int64_t term = x.create_rev;
    CALL(x, etcd_range(e, "/k", on_reply, &x));
    cr_expect_eq(x.create_rev, term);
    CALL(x, etcd_lease_keepalive(e, lease, on_reply, &x));
    cr_expect(x.ok && x.ttl == 2, "%s", x.err);

    wlog_t l = {.n = 0};
    etcd_watch_t *w = etcd_watch(e, "/k", 0, wrec, &l);
    for (int i = 0; i < 2000 && l.n < 1; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(l.n, 1);
    cr_expect_eq(l.kinds[0], ETCD_W_CREATED);
    CALL(x, etcd_lease_revoke(e, lease, on_reply, &x));
    cr_expect(x.ok, "%s", x.err);
    for (int i = 0; i < 2000 && l.n < 2; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(l.n, 2);
    cr_expect_eq(l.kinds[1], ETCD_W_DELETE, "the lease's key went with it");
    etcd_watch_cancel(w);
    CALL(x, etcd_lease_keepalive(e, lease, on_reply, &x));
    cr_expect(x.ok && x.ttl == 0, "a revoked lease has no TTL: %s", x.err);
    etcd_close(e);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}

static void count_kvs(void *ud, const etcd_reply_t *r)
{
    int *n = ud;
    *n = r->ok ? (int)r->n_kvs : -1;
}

static void done_reply(void *ud, const etcd_reply_t *r)
{
    (void)r;
    *(bool *)ud = true;
}

Test(etcd_live, prefix_range_watch, .init = start_etcd, .fini = stop_etcd, .timeout = 60)
{
    char good[64];
    snprintf(good, sizeof good, "http://127.0.0.1:%d", fx.port);
    char *eps[] = {good};
    etcd_opts_t o = {.endpoints = eps, .n_endpoints = 1, .timeout_ms = 1000};
    etcd_t *e = etcd_create(&loop, &o);
    res_t x;
    for (int i = 0; i < 100; i++) { /* etcd needs a moment to start */
        CALL(x, etcd_put(e, "/obs/a", "1", 0, on_reply, &x));
        if (x.ok)
            break;
        usleep(100000);
    }
    cr_assert(x.ok, "%s", x.err);
    CALL(x, etcd_put(e, "/obs/b", "2", 0, on_reply, &x));
    CALL(x, etcd_put(e, "/obt", "3", 0, on_reply, &x));
    int n = -2;
    etcd_range_prefix(e, "/obs/", count_kvs, &n);
    for (int i = 0; i < 2000 && n == -2; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_expect_eq(n, 2, "the keys under /obs/ and no other");
    wlog_t l = {.n = 0};
    etcd_watch_t *w = etcd_watch_prefix(e, "/obs/", 0, wrec, &l);
    for (int i = 0; i < 2000 && l.n < 1; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(l.n, 1);
    bool done = false;
    etcd_put(e, "/obt", "4", 0, done_reply, &done);
    run_until(&done);
    done = false;
    etcd_put(e, "/obs/c", "5", 0, done_reply, &done);
    run_until(&done);
    for (int i = 0; i < 2000 && l.n < 2; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(l.n, 2);
    cr_expect_eq(l.kinds[1], ETCD_W_PUT);
    cr_expect_str_eq(l.keys[1], "/obs/c", "a key outside the prefix is not reported");
    etcd_watch_cancel(w);
    etcd_close(e);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&loop), 0, "a handle was left open");
}
