/* The etcd client and the managers' coordination over TLS, against a real
 * single-member etcd on 127.0.0.1 that demands client certificates (skipped
 * when /usr/bin/etcd or openssl is not installed): a lease, a txn, a range
 * and a watch work with the CA and the client certificate; a CA that did not
 * sign etcd's certificate and a missing client certificate each fail with an
 * error naming the endpoint and the problem, within etcd_timeout; a client
 * certificate without its key is refused at load; a manager leads over TLS.
 * Then a packet capture of the etcd port (tcpdump, as root; skipped
 * otherwise) while a manager leads and writes its records: TLS records and
 * none of the keys or values in clear -- and the same capture over plain
 * http finds them, so the search itself is known to work. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "coord.h"
#include "etcd.h"
#include "etcd_fixture.h"
#include "testutil.h"

extern char **environ;

static etcd_tls_fixture_t fx;
static uv_loop_t loop;

static void start_etcd(void)
{
    etcd_tls_fixture_start(&fx);
    uv_loop_init(&loop);
}

static void stop_etcd(void)
{
    etcd_tls_fixture_stop(&fx);
}

typedef struct {
    bool done, ok, succeeded;
    int64_t lease, ttl;
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
    snprintf(x->err, sizeof x->err, "%s", r->err);
    x->value[0] = '\0';
    if (r->n_kvs)
        snprintf(x->value, sizeof x->value, "%s", r->kvs[0].value);
}

#define CALL(x, stmt)                                                                              \
    do {                                                                                           \
        memset(&(x), 0, sizeof(x));                                                                \
        stmt;                                                                                      \
        cr_assert(test_run_until(&loop, &(x).done, 10000), "no answer");                           \
    } while (0)

static etcd_t *client(const char *ca, const char *cert, const char *key, uint64_t timeout_ms)
{
    static char *eps[1];
    eps[0] = fx.etcd.endpoint;
    etcd_opts_t o = {.endpoints = eps, .n_endpoints = 1, .ca = ca, .cert = cert, .key = key,
                     .timeout_ms = timeout_ms};
    return etcd_create(&loop, &o);
}

/* Waits (bounded) until etcd answers a client that has everything. */
static void wait_up(void)
{
    etcd_t *e = client(fx.ca, fx.cert, fx.key, 1000);
    res_t x;
    for (int i = 0; i < 100; i++) { /* etcd needs a moment to start */
        CALL(x, etcd_range(e, "/k", on_reply, &x));
        if (x.ok)
            break;
        usleep(100000);
    }
    cr_assert(x.ok, "etcd over TLS does not answer: %s", x.err);
    etcd_close(e);
}

typedef struct {
    etcd_wkind_t kinds[8];
    int n;
} wlog_t;

static void wrec(void *ud, const etcd_wevent_t *ev)
{
    wlog_t *l = ud;
    if (l->n < 8)
        l->kinds[l->n++] = ev->kind;
}

static bool wlog_has(void *ud)
{
    wlog_t *l = ud;
    return l->n >= 2;
}

Test(etcd_tls, lease_txn_range_watch, .init = start_etcd, .fini = stop_etcd, .timeout = 90)
{
    wait_up();
    etcd_t *e = client(fx.ca, fx.cert, fx.key, 1000);
    res_t x;
    CALL(x, etcd_lease_grant(e, 2, on_reply, &x));
    cr_assert(x.ok, "%s", x.err);
    cr_expect_eq(x.ttl, 2);
    int64_t lease = x.lease;
    etcd_cmp_t c = {.key = "/k", .target = ETCD_CMP_CREATE, .create_revision = 0};
    etcd_op_t op = {.key = "/k", .value = "me", .lease = lease};
    CALL(x, etcd_txn(e, &c, 1, &op, 1, "/k", on_reply, &x));
    cr_assert(x.ok && x.succeeded, "%s", x.err);
    CALL(x, etcd_range(e, "/k", on_reply, &x));
    cr_assert(x.ok, "%s", x.err);
    cr_expect_str_eq(x.value, "me");

    wlog_t l = {.n = 0};
    etcd_watch_t *w = etcd_watch(e, "/k", 0, wrec, &l);
    for (int i = 0; i < 2000 && l.n < 1; i++)
        uv_run(&loop, UV_RUN_ONCE);
    cr_assert_eq(l.n, 1, "the watch over TLS is created");
    cr_expect_eq(l.kinds[0], ETCD_W_CREATED);
    CALL(x, etcd_lease_revoke(e, lease, on_reply, &x));
    cr_expect(x.ok, "%s", x.err);
    cr_assert(test_run_until_fn(&loop, wlog_has, &l, 10000), "the watch sees the delete");
    cr_expect_eq(l.kinds[1], ETCD_W_DELETE);
    etcd_watch_cancel(w);
    etcd_close(e);
    test_close_loop(&loop);
}

/* One range with the given TLS files: its error, and how long it took. */
static uint64_t failing_range(const char *ca, const char *cert, const char *key, res_t *x)
{
    etcd_t *e = client(ca, cert, key, 1500);
    uint64_t t0 = uv_hrtime();
    CALL(*x, etcd_range(e, "/k", on_reply, x));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    etcd_close(e);
    return ms;
}

Test(etcd_tls, a_wrong_ca_is_a_clear_error, .init = start_etcd, .fini = stop_etcd, .timeout = 90)
{
    wait_up();
    res_t x;
    uint64_t ms = failing_range(fx.other_ca, fx.cert, fx.key, &x);
    cr_assert_not(x.ok, "a server certificate from another CA is accepted");
    cr_expect(strstr(x.err, fx.etcd.endpoint), "the error names the endpoint: %s", x.err);
    cr_expect(strstr(x.err, "certificate"), "the error names the certificate problem: %s", x.err);
    cr_expect(strstr(x.err, "/v3/kv/range"), "and the request: %s", x.err);
    cr_expect_lt(ms, 1500 + 1000, "bounded by etcd_timeout: %llu ms", (unsigned long long)ms);
    test_close_loop(&loop);
}

Test(etcd_tls, no_client_certificate_is_a_clear_error, .init = start_etcd, .fini = stop_etcd,
     .timeout = 90)
{
    wait_up();
    res_t x;
    uint64_t ms = failing_range(fx.ca, NULL, NULL, &x);
    cr_assert_not(x.ok, "etcd answered a client without a certificate");
    cr_expect(strstr(x.err, fx.etcd.endpoint), "the error names the endpoint: %s", x.err);
    cr_expect(strstr(x.err, "client certificate") && strstr(x.err, "etcd_cert is not set"),
              "the error says a client certificate may be missing: %s", x.err);
    cr_expect_lt(ms, 1500 + 1000, "bounded by etcd_timeout: %llu ms", (unsigned long long)ms);
    test_close_loop(&loop);
}

/* ---- configuration ------------------------------------------------------------------- */

static char *load_errors(const char *text)
{
    char dir[] = "/tmp/fo-etcdconf-XXXXXX", path[64];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load(path, &errs);
    buf_t b = BUF_INIT;
    fo_config_errors_format(&errs, &b);
    fo_config_free(cfg);
    fo_config_errors_free(&errs);
    unlink(path);
    rmdir(dir);
    return buf_steal(&b);
}

#define TLS_CONF                                                                                   \
    "coordination = { mode = \"etcd\"; etcd_endpoints = [ \"%s\" ];\n"                             \
    "  etcd_ca = \"%s\"; etcd_cert = \"%s\";%s };\n"                                                \
    "clusters = ({ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\";"            \
    " repl_password = \"q\";\n"                                                                    \
    "  nodes = ( { name = \"db1\"; host = \"h1\"; } );\n});\n"

Test(etcd_tls, a_certificate_without_its_key_is_refused_at_load, .init = start_etcd,
     .fini = stop_etcd, .timeout = 60)
{
    char text[1024], with_key[128];
    snprintf(text, sizeof text, TLS_CONF, fx.etcd.endpoint, fx.ca, fx.cert, "");
    char *got = load_errors(text);
    cr_expect(strstr(got, "coordination.etcd_cert: etcd_cert and etcd_key go together"), "%s",
              got);
    free(got);
    snprintf(with_key, sizeof with_key, " etcd_key = \"%s\";", fx.key);
    snprintf(text, sizeof text, TLS_CONF, fx.etcd.endpoint, fx.ca, fx.cert, with_key);
    got = load_errors(text);
    cr_expect_str_eq(got, "", "with its key the same file loads: %s", text);
    free(got);
}
