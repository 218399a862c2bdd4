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
    cr_log_info("a wrong CA: %s", x.err);
    cr_expect(strstr(x.err, fx.etcd.endpoint), "the error names the endpoint: %s", x.err);
    cr_expect(strstr(x.err, "server certificate does not verify against etcd_ca") &&
                  strstr(x.err, "certificate problem"),
              "the error names the setting and the certificate problem: %s", x.err);
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
    cr_log_info("no client certificate: %s", x.err);
    cr_expect(strstr(x.err, fx.etcd.endpoint), "the error names the endpoint: %s", x.err);
    cr_expect(strstr(x.err, "etcd may demand a client certificate (etcd_cert unset)"),
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

/* ---- the managers over TLS ----------------------------------------------------------- */

#define MANAGER_ID "fo-tls-mgr7"
#define PRIMARY_HOST "10.9.8.7"

/* A manager on endpoint ep with the given TLS files; with a managers list
 * (itself alone), so that it also writes its observation records. */
static coord_t *manager(const char *ep, const char *ca, const char *cert, const char *key,
                        const char *id)
{
    static char *eps[1], *ids[1];
    eps[0] = (char *)ep;
    ids[0] = (char *)id;
    fo_coord_cfg_t cfg = {.mode = FO_COORD_ETCD,
                          .etcd_endpoints = {.items = eps, .n = 1},
                          .key_prefix = "/failoverd/v1/",
                          .manager_id = (char *)id,
                          .zone = "z",
                          .lease_ttl = 2,
                          .etcd_ca = (char *)ca,
                          .etcd_cert = (char *)cert,
                          .etcd_key = (char *)key,
                          .etcd_timeout_ms = 1000,
                          .managers = {.items = ids, .n = 1},
                          .verdict_quorum = "majority"};
    return coord_create(&loop, &cfg, "/run/x.sock");
}

static bool is_leader(void *c) { return coord_role(c) == COORD_LEADER; }
static bool is_follower(void *c) { return coord_role(c) == COORD_FOLLOWER; }

Test(etcd_tls, a_manager_leads_over_tls, .init = start_etcd, .fini = stop_etcd, .timeout = 90)
{
    coord_t *a = manager(fx.etcd.endpoint, fx.ca, fx.cert, fx.key, "a");
    cr_assert(test_run_until_fn(&loop, is_leader, a, 20000), "a leads over TLS");
    coord_t *b = manager(fx.etcd.endpoint, fx.ca, fx.cert, fx.key, "b");
    cr_assert(test_run_until_fn(&loop, is_follower, b, 10000), "b follows over TLS");
    cr_expect(strstr(coord_why_not(b), "the leader is a"), "%s", coord_why_not(b));
    coord_close(b);
    coord_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    coord_free(b);
    test_close_loop(&loop);
}

static bool has_etcd_error(void *c)
{
    json_t *st = coord_status_json(c);
    bool has = json_string_value(json_object_get(st, "etcd_error")) != NULL;
    json_decref(st);
    return has;
}

Test(etcd_tls, a_manager_with_the_wrong_ca_says_why_it_does_not_lead, .init = start_etcd,
     .fini = stop_etcd, .timeout = 90)
{
    wait_up();
    coord_t *a = manager(fx.etcd.endpoint, fx.other_ca, fx.cert, fx.key, "a");
    cr_assert(test_run_until_fn(&loop, has_etcd_error, a, 10000), "an etcd error is shown");
    cr_expect_neq(coord_role(a), COORD_LEADER);
    json_t *st = coord_status_json(a);
    const char *err = json_string_value(json_object_get(st, "etcd_error"));
    cr_expect(strstr(err, "lease grant: ") && strstr(err, fx.etcd.endpoint) &&
                  strstr(err, "does not verify against etcd_ca"),
              "the status says what failed where: %s", err);
    cr_expect(json_is_false(json_object_get(st, "etcd_ok")));
    json_decref(st);
    cr_expect(strstr(coord_why_not(a), "does not verify against etcd_ca"), "%s",
              coord_why_not(a));
    coord_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    test_close_loop(&loop);
}

/* A cluster "main" whose primary db1 is PRIMARY_HOST, all up. */
static void cluster_init(cluster_t *c)
{
    memset(c, 0, sizeof *c);
    c->name = strdup("main");
    c->n_nodes = 2;
    c->nodes = calloc(2, sizeof *c->nodes);
    node_init(&c->nodes[0], "db1", PRIMARY_HOST, 3306, RULE_NEUTRAL);
    node_init(&c->nodes[1], "db2", "10.9.8.6", 3306, RULE_NEUTRAL);
    c->primary = 0;
    for (size_t i = 0; i < 2; i++)
        c->nodes[i].probed = c->nodes[i].up = true;
}

/* Until the manager's observation record and the primary it published are
 * in etcd, as a reader with the same TLS files sees them. */
typedef struct {
    coord_t *c;
    cluster_t *cl;
    etcd_t *reader;
    res_t obs, primary;
    bool asked;
} written_t;

static bool records_written(void *ud)
{
    written_t *w = ud;
    detect_params_t dp = {.down_after = 1000, .replica_confirm = 3000};
    coord_vantage(w->c, w->cl, &dp, uv_now(&loop));
    if (w->asked && !(w->obs.done && w->primary.done))
        return false;
    if (w->asked && w->obs.value[0] && w->primary.value[0])
        return true;
    memset(&w->obs, 0, sizeof w->obs);
    memset(&w->primary, 0, sizeof w->primary);
    etcd_range(w->reader, "/failoverd/v1/main/obs/" MANAGER_ID, on_reply, &w->obs);
    etcd_range(w->reader, "/failoverd/v1/main/primary", on_reply, &w->primary);
    w->asked = true;
    return false;
}

/* A manager leads through ep and writes its leader key, its manager and
 * observation records and the cluster's primary, then stops. */
static void lead_and_write(const char *ep, const char *ca, const char *cert, const char *key)
{
    coord_t *a = manager(ep, ca, cert, key, MANAGER_ID);
    cr_assert(test_run_until_fn(&loop, is_leader, a, 20000), "the manager leads");
    coord_publish_primary(a, "main", PRIMARY_HOST, 3306);
    cluster_t cl;
    cluster_init(&cl);
    static char *eps[1];
    eps[0] = (char *)ep;
    etcd_opts_t o = {.endpoints = eps, .n_endpoints = 1, .ca = ca, .cert = cert, .key = key,
                     .timeout_ms = 1000};
    written_t w = {.c = a, .cl = &cl, .reader = etcd_create(&loop, &o)};
    cr_assert(test_run_until_fn(&loop, records_written, &w, 15000),
              "the records are written: %s %s", w.obs.err, w.primary.err);
    cr_expect(strstr(w.primary.value, PRIMARY_HOST), "%s", w.primary.value);
    etcd_close(w.reader);
    coord_close(a);
    uv_run(&loop, UV_RUN_DEFAULT);
    coord_free(a);
    cluster_free(&cl);
    test_close_loop(&loop);
}

/* ---- a packet capture of the etcd port ------------------------------------------------ */

typedef struct {
    pid_t pid;
    char path[96], log[96];
} capture_t;

static bool capture_listening(void *ud)
{
    capture_t *c = ud;
    char *text = test_slurp(c->log);
    bool on = text && strstr(text, "listening on");
    free(text);
    cr_assert(on || waitpid(c->pid, NULL, WNOHANG) == 0, "tcpdump exited");
    return on;
}

/* tcpdump on the loopback, of TCP port `port`, into dir/NAME.pcap; returns
 * once it captures.  Skips the test unless run as root with tcpdump. */
static void capture_start(capture_t *c, const char *dir, const char *name, int port)
{
    if (geteuid() != 0)
        cr_skip_test("the packet capture needs root (tcpdump)");
    if (access("/usr/bin/tcpdump", X_OK) != 0)
        cr_skip_test("tcpdump is not installed");
    snprintf(c->path, sizeof c->path, "%s/%s.pcap", dir, name);
    snprintf(c->log, sizeof c->log, "%s/%s.log", dir, name);
    char filter[32];
    snprintf(filter, sizeof filter, "tcp port %d", port);
    /* --immediate-mode: without it, some kernels hand tcpdump nothing of a
     * short capture (its ring's blocks are never released). */
    char *argv[] = {"/usr/bin/tcpdump", "-i", "lo", "--immediate-mode", "-U", "-n", "-s", "0",
                    "-w", c->path, filter, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, c->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_eq(posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 200 && !capture_listening(c); i++)
        usleep(50000);
    cr_assert(capture_listening(c), "tcpdump does not capture (%s)", c->log);
}

/* Ends tcpdump (SIGTERM: it writes what it holds) and returns the capture
 * (free() it) and its size. */
static char *capture_stop(capture_t *c, size_t *len)
{
    kill(c->pid, SIGTERM);
    cr_assert_eq(waitpid(c->pid, NULL, 0), c->pid);
    FILE *f = fopen(c->path, "rb");
    cr_assert(f, "%s", c->path);
    char *data = malloc(16u << 20);
    *len = fread(data, 1, 16u << 20, f);
    fclose(f);
    return data;
}

static bool holds(const char *data, size_t len, const char *s, size_t n)
{
    return memmem(data, len, s, n) != NULL;
}

/* Whether the capture holds text in clear or base64-encoded at any of the
 * three byte alignments (the gateway sends keys and values in base64). */
static bool holds_text(const char *data, size_t len, const char *text)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(text);
    if (holds(data, len, text, n))
        return true;
    for (size_t k = 0; k < 3; k++) {
        /* k bytes before the text: keep only the characters whose six bits
         * all come from the text. */
        unsigned char in[96] = {0};
        memcpy(in + k, text, n);
        char out[160];
        size_t m = 0;
        for (size_t bit = 0; bit + 6 <= (k + n) * 8; bit += 6) {
            if (bit < k * 8)
                continue;
            unsigned v = (unsigned)(in[bit / 8] << 8 | in[bit / 8 + 1]);
            out[m++] = b64[(v >> (10 - bit % 8)) & 63];
        }
        if (m >= 4 && holds(data, len, out, m))
            return true;
    }
    return false;
}

/* What must not cross the wire in clear: the manager's id, the key prefix
 * (the leader key, the records), the word "leader", the primary's address. */
static const char *const markers[] = {MANAGER_ID, "/failoverd/", "leader", PRIMARY_HOST};

Test(etcd_tls, nothing_crosses_the_wire_in_clear, .init = start_etcd, .fini = stop_etcd,
     .timeout = 120)
{
    capture_t cap;
    capture_start(&cap, fx.etcd.dir, "tls", fx.etcd.port);
    wait_up();
    lead_and_write(fx.etcd.endpoint, fx.ca, fx.cert, fx.key);
    size_t len;
    char *data = capture_stop(&cap, &len);
    cr_assert_gt(len, 1000, "the capture holds the session");
    cr_expect(holds(data, len, "\x16\x03\x01", 3), "a TLS handshake record");
    cr_expect(holds(data, len, "\x17\x03\x03", 3), "TLS application data records");
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        cr_expect_not(holds_text(data, len, markers[i]), "%s crossed the wire in clear",
                      markers[i]);
    free(data);
}

/* The same over plain http: the search finds every marker, so that its
 * finding none over TLS means something. */
static etcd_fixture_t plain;

static void start_plain(void)
{
    etcd_fixture_start(&plain);
    uv_loop_init(&loop);
}

static void stop_plain(void)
{
    etcd_fixture_stop(&plain);
}

Test(etcd_tls, the_capture_sees_plain_http, .init = start_plain, .fini = stop_plain,
     .timeout = 120)
{
    capture_t cap;
    capture_start(&cap, plain.dir, "plain", plain.port);
    lead_and_write(plain.endpoint, "", "", "");
    size_t len;
    char *data = capture_stop(&cap, &len);
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        cr_expect(holds_text(data, len, markers[i]), "%s is not found in the plain capture",
                  markers[i]);
    cr_expect_not(holds(data, len, "\x17\x03\x03", 3), "no TLS");
    free(data);
}
