/* The DNS plugin: names, the update script and the judgement of dig's answer
 * (plugins/dns/dnsmsg.c), and the built dns.so driven through the daemon's
 * plugin host with stand-ins for nsupdate and dig that record what they get. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "dnsmsg.h"
#include "log.h"
#include "plugin.h"
#include "testutil.h"

/* ---- names -------------------------------------------------------------------- */

Test(dnsmsg, names)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"db.example.com", true},  {"db.example.com.", true}, {"_mysql._tcp.example", true},
        {"a-b.c", true},           {".", true},               {"", false},
        {"..", false},             {".db", false},            {"db..example", false},
        {"db example", false},     {"db\nsend", false},       {"db;x", false},
        {"d\xc3\xa9.example", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(dns_name_ok(cases[i].s), cases[i].ok, "\"%s\"", cases[i].s);
    char long_label[80];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    cr_expect_not(dns_name_ok(long_label), "a label has at most 63 characters");
}

Test(dnsmsg, fully_qualified_names)
{
    static const struct {
        const char *name, *zone, *want;
    } cases[] = {
        {"db", "example.com", "db.example.com."},
        {"db", "example.com.", "db.example.com."},
        {"@", "example.com", "example.com."},
        {"db.other.org.", "example.com", "db.other.org."},
        {"db.prod", "example.com", "db.prod.example.com."},
        {"bad name", "example.com", NULL},
        {"db", "exa mple.com", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256] = "";
        bool ok = dns_fqdn(cases[i].name, cases[i].zone, out, sizeof out);
        cr_expect_eq(ok, cases[i].want != NULL, "%s in %s", cases[i].name, cases[i].zone);
        if (cases[i].want)
            cr_expect_str_eq(out, cases[i].want);
    }
}

Test(dnsmsg, the_update_replaces_both_families_in_one_message)
{
    dns_update_t u = {.server = "10.0.0.53", .port = 5353, .zone = "example.com.",
                      .name = "db.example.com.", .ttl = 30, .key_algorithm = "hmac-sha256",
                      .key_name = "failoverd", .key_secret = "c2VjcmV0", .address = "10.0.0.12"};
    putil_str_t s = {0};
    cr_assert(dns_update_script(&u, &s));
    cr_expect_str_eq(putil_str_get(&s), "server 10.0.0.53 5353\n"
                                        "zone example.com.\n"
                                        "key hmac-sha256:failoverd c2VjcmV0\n"
                                        "update delete db.example.com. A\n"
                                        "update delete db.example.com. AAAA\n"
                                        "update add db.example.com. 30 IN A 10.0.0.12\n"
                                        "send\n");
    putil_str_free(&s);

    u = (dns_update_t){.server = "ns1.example.com", .zone = "example.com.",
                       .name = "db.example.com.", .ttl = 60, .address = "2001:db8::12"};
    cr_assert(dns_update_script(&u, &s));
    cr_expect_str_eq(putil_str_get(&s), "server ns1.example.com\n"
                                        "zone example.com.\n"
                                        "update delete db.example.com. A\n"
                                        "update delete db.example.com. AAAA\n"
                                        "update add db.example.com. 60 IN AAAA 2001:db8::12\n"
                                        "send\n");
    putil_str_free(&s);

    u.address = "db2.example.com";
    cr_expect_not(dns_update_script(&u, &s), "only a literal address goes into a record");
    putil_str_free(&s);
}

Test(dnsmsg, judging_the_answer)
{
    static const struct {
        const char *answer, *address;
        long ttl;
        bool ok;
        const char *why;
    } cases[] = {
        {"db.example.com.\t30\tIN\tA\t10.0.0.12\n", "10.0.0.12", 30, true, NULL},
        {"DB.Example.COM. 30 IN A 10.0.0.12", "10.0.0.12", 30, true, NULL},
        {"; <<>> DiG\n\ndb.example.com. 30 IN A 10.0.0.12\n;; Query time: 0 msec\n", "10.0.0.12",
         30, true, NULL},
        {"db.example.com. 300 IN A 10.0.0.12\n", "10.0.0.12", 30, false,
         "the server answers 10.0.0.12 (TTL 300) instead of 10.0.0.12 (TTL 30)"},
        {"db.example.com. 30 IN A 10.0.0.11\n", "10.0.0.12", 30, false,
         "the server answers 10.0.0.11 (TTL 30) instead of 10.0.0.12 (TTL 30)"},
        {"db.example.com. 30 IN A 10.0.0.12\ndb.example.com. 30 IN A 10.0.0.11\n", "10.0.0.12",
         30, false,
         "the server answers 10.0.0.12 (TTL 30), 10.0.0.11 (TTL 30) instead of 10.0.0.12 (TTL 30)"},
        {"db.example.com. 30 IN A 10.0.0.12\ndb.example.com. 30 IN AAAA 2001:db8::11\n",
         "10.0.0.12", 30, false, NULL},
        {"db.example.com. 30 IN AAAA 2001:DB8:0::12\n", "2001:db8::12", 30, true, NULL},
        {"other.example.com. 30 IN A 10.0.0.12\ndb.example.com. 30 IN TXT x\n", "10.0.0.12", 30,
         false, "the server answers no A or AAAA record instead of 10.0.0.12 (TTL 30)"},
        {"", "10.0.0.12", 30, false, "the server answers no A or AAAA record instead of 10.0.0.12 (TTL 30)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char why[256] = "";
        bool ok = dns_answer_ok(cases[i].answer, "db.example.com.", cases[i].address, cases[i].ttl,
                                why, sizeof why);
        cr_expect_eq(ok, cases[i].ok, "case %zu: %s", i, why);
        if (cases[i].why)
            cr_expect_str_eq(why, cases[i].why, "case %zu", i);
    }
}

Test(dnsmsg, keys)
{
    cr_expect(dns_algorithm_ok("hmac-sha256") && dns_algorithm_ok("HMAC-SHA512"));
    cr_expect_not(dns_algorithm_ok("sha256") || dns_algorithm_ok("hmac-sha256 x"));
    cr_expect(dns_base64_ok("q83vEjRWeJA=") && dns_base64_ok("a+b/"));
    cr_expect_not(dns_base64_ok("") || dns_base64_ok("abc def") || dns_base64_ok("abc\nsend"));
    cr_expect_eq(dns_family("10.0.0.1"), AF_INET);
    cr_expect_eq(dns_family("::1"), AF_INET6);
    cr_expect_eq(dns_family("db1"), 0);
}

/* ---- the plugin ------------------------------------------------------------------ */

static uv_loop_t loop;
static char dir[] = "/tmp/fo-dns-XXXXXX";
static char nsupdate[300], dig[300];
static const char secret[] = "c2VjcmV0LW9mLXRoZS10ZXN0";

static char *slurp_in(const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return test_slurp_or_empty(path);
}

static void write_in(const char *name, const char *text, int mode)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static void setup(void)
{
    log_set_level(LOG_LVL_ERROR);
    cr_assert_eq(uv_loop_init(&loop), 0);
    cr_assert_not_null(mkdtemp(dir));
    snprintf(nsupdate, sizeof nsupdate, "%s/nsupdate", dir);
    snprintf(dig, sizeof dig, "%s/dig", dir);
    /* nsupdate: keeps its input and arguments; "refuse" makes it fail like a
     * server that refuses the update. */
    write_in("nsupdate",
             "#!/bin/sh\n"
             "d=$(dirname \"$0\")\n"
             "cat > \"$d/update.in\"\n"
             "echo \"$*\" > \"$d/update.args\"\n"
             "if [ -f \"$d/refuse\" ]; then echo 'update failed: REFUSED' >&2; exit 2; fi\n"
             "exit 0\n",
             0755);
    /* dig: answers answer.N at its N-th query if there is one, else answer. */
    write_in("dig",
             "#!/bin/sh\n"
             "d=$(dirname \"$0\")\n"
             "echo \"$*\" >> \"$d/dig.args\"\n"
             "n=$(wc -l < \"$d/dig.args\")\n"
             "if [ -f \"$d/answer.$n\" ]; then cat \"$d/answer.$n\"; else cat \"$d/answer\"; fi\n",
             0755);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(dns, .init = setup, .fini = teardown, .timeout = 30);

static failoverd_kv_t db2_vars[] = {{"dns_address", "192.0.2.22"}};
static failoverd_node_t nodes[] = {
    {.name = "db1", .host = "10.0.0.11", .port = 3306},
    {.name = "db2", .host = "db2.internal", .port = 3306, .vars = db2_vars, .n_vars = 1},
    {.name = "db3", .host = "2001:db8::13", .port = 3306},
};

static plugin_t *load(const failoverd_kv_t *extra, size_t n_extra, char *err, size_t err_len)
{
    failoverd_kv_t kv[24] = {{"server", "10.0.0.53"},   {"port", "5353"},
                             {"zone", "example.com"},   {"name", "db"},
                             {"ttl", "30"},             {"key_name", "failoverd"},
                             {"key_secret", secret},    {"nsupdate", nsupdate},
                             {"dig", dig},              {"verify_timeout", "1s"}};
    size_t n = 10;
    n = test_kv_merge(kv, n, extra, n_extra);
    plugin_opts_t o = {.path = DNS_PLUGIN,
                       .cluster = "main",
                       .config = kv,
                       .n_config = n,
                       .nodes = nodes,
                       .n_nodes = 3,
                       .spawn_timeout_ms = 5000};
    return plugin_load(&loop, &o, err, err_len);
}

static bool unloaded;

static void unload_and_close(plugin_t *p)
{
    test_unload_plugin(&loop, p, 10000);
}

static void promote(plugin_t *p, const char *node, test_answer_t *a)
{
    failoverd_context_t ctx = {.size = sizeof ctx,
                               .point = FAILOVERD_HOOK_POST_PROMOTION,
                               .hook = "post_promotion",
                               .cluster = "main",
                               .operation = "op-1",
                               .old_primary = {.name = "db1"},
                               .new_primary = {.name = node}};
    *a = (test_answer_t){0};
    plugin_call(p, &ctx, 15000, test_on_answer, a);
    test_run_until(&loop, &a->done, 15000);
    cr_assert(a->done, "no answer");
}

Test(dns, bad_settings_are_refused_at_load)
{
    static const struct {
        failoverd_kv_t kv;
        const char *err;
    } cases[] = {
        {{"server", NULL}, "\"server\", \"zone\" and \"name\" are required"},
        {{"zone", "exa mple.com"}, "zone: \"exa mple.com\" is not a domain name"},
        {{"name", "db\nsend"}, "is not a domain name"},
        {{"server", "10.0.0.53;x"}, "is neither an address nor a host name"},
        {{"ttl", "-1"}, "ttl: \"-1\" is not a number of seconds"},
        {{"key_name", NULL}, "key_secret needs \"key_name\""},
        {{"key_secret", "not base64!"}, "key_secret is not base64"},
        {{"key_algorithm", "rot13"}, "key_algorithm: \"rot13\" is not an HMAC algorithm"},
        {{"key_file", "/etc/failoverd/dns.key"}, "give \"key_secret\" or \"key_file\", not both"},
        {{"nsupdate", "nsupdate"}, "nsupdate: \"nsupdate\" must be an absolute path"},
        {{"update_timeout", "100ms"}, "update_timeout: \"100ms\" is not a duration of at least 1s"},
        {{"zonee", "x"}, "unknown setting \"zonee\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[512] = "";
        plugin_t *p = load(&cases[i].kv, 1, err, sizeof err);
        if (p) { /* not refused: the expectation below fails; do not leak it */
            unloaded = false;
            plugin_unload(p, test_set_flag, &unloaded);
            test_run_until(&loop, &unloaded, 5000);
        }
        cr_expect_null(p, "%s must be refused", cases[i].kv.key);
        cr_expect(strstr(err, cases[i].err), "%s: %s", cases[i].kv.key, err);
        cr_expect_null(strstr(err, secret), "the secret is never in a message");
    }
    unload_and_close(NULL);
}

Test(dns, every_node_needs_an_address)
{
    static failoverd_node_t bad[] = {{.name = "db1", .host = "db1.internal", .port = 3306}};
    failoverd_kv_t kv[] = {{"server", "10.0.0.53"}, {"zone", "example.com"}, {"name", "db"}};
    plugin_opts_t o = {.path = DNS_PLUGIN, .cluster = "main", .config = kv, .n_config = 3,
                       .nodes = bad, .n_nodes = 1};
    char err[512] = "";
    cr_expect_null(plugin_load(&loop, &o, err, sizeof err));
    cr_expect(strstr(err, "node db1: \"db1.internal\" is not an IPv4 or IPv6 address; give it one "
                          "in its vars (dns_address = \"...\")"),
              "%s", err);
    unload_and_close(NULL);
}

Test(dns, the_name_moves_to_the_new_primary)
{
    write_in("answer", "db.example.com.\t30\tIN\tA\t192.0.2.22\n", 0644);
    char err[512] = "";
    plugin_t *p = load(NULL, 0, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    cr_expect(plugin_handles(p, FAILOVERD_HOOK_POST_PROMOTION));
    cr_expect_not(plugin_handles(p, FAILOVERD_HOOK_FENCE));
    test_answer_t a;
    promote(p, "db2", &a);
    cr_expect_eq(a.r.outcome, FAILOVERD_DONE_OK, "%s", a.message);
    cr_expect(strstr(a.message, "db.example.com. is 192.0.2.22 (TTL 30) on 10.0.0.53") &&
                  strstr(a.message, "1 query"),
              "%s", a.message);
    unload_and_close(p);

    /* db2's address comes from its vars; the secret only on standard input. */
    char *in = slurp_in("update.in"), *args = slurp_in("update.args"), *q = slurp_in("dig.args");
    char want[1024];
    snprintf(want, sizeof want,
             "server 10.0.0.53 5353\nzone example.com.\nkey hmac-sha256:failoverd %s\n"
             "update delete db.example.com. A\nupdate delete db.example.com. AAAA\n"
             "update add db.example.com. 30 IN A 192.0.2.22\nsend\n",
             secret);
    cr_expect_str_eq(in, want);
    cr_expect_str_eq(args, "-t 4\n");
    cr_expect_str_eq(q, "@10.0.0.53 -p 5353 +norecurse +time=1 +tries=2 +notcp +noall +answer "
                        "db.example.com. A db.example.com. AAAA\n");
    free(in);
    free(args);
    free(q);
}

Test(dns, ipv6_key_file_and_tcp)
{
    write_in("answer", "db.example.com. 30 IN AAAA 2001:db8::13\n", 0644);
    char err[512] = "";
    failoverd_kv_t kv[] = {{"key_secret", NULL}, {"key_name", NULL},
                           {"key_file", "/etc/failoverd/dns.key"}, {"tcp", "true"},
                           {"update_timeout", "10s"}};
    plugin_t *p = load(kv, 5, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    test_answer_t a;
    promote(p, "db3", &a);
    cr_expect_eq(a.r.outcome, FAILOVERD_DONE_OK, "%s", a.message);
    unload_and_close(p);
    char *in = slurp_in("update.in"), *args = slurp_in("update.args");
    cr_expect(strstr(in, "update add db.example.com. 30 IN AAAA 2001:db8::13\n"), "%s", in);
    cr_expect_null(strstr(in, "key "), "%s", in);
    cr_expect_str_eq(args, "-t 9 -v -k /etc/failoverd/dns.key\n");
    free(in);
    free(args);
}

Test(dns, a_refused_update_fails_the_call)
{
    write_in("refuse", "", 0644);
    char err[512] = "";
    plugin_t *p = load(NULL, 0, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    test_answer_t a;
    promote(p, "db1", &a);
    cr_expect_eq(a.r.outcome, FAILOVERD_DONE_FAILED, "%s", a.message);
    cr_expect_str_eq(a.message, "updating db.example.com. to 10.0.0.11 on 10.0.0.53 failed: "
                                "nsupdate exited with status 2: update failed: REFUSED");
    unload_and_close(p);
    char *q = slurp_in("dig.args");
    cr_expect_str_eq(q, "", "no query after a failed update");
    free(q);
}

Test(dns, the_check_asks_again_until_the_answer_is_right)
{
    write_in("answer.1", "db.example.com. 300 IN A 10.0.0.11\n", 0644);
    write_in("answer", "db.example.com. 30 IN A 10.0.0.11\n", 0644);
    char err[512] = "";
    plugin_t *p = load(NULL, 0, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    test_answer_t a;
    promote(p, "db1", &a);
    cr_expect_eq(a.r.outcome, FAILOVERD_DONE_OK, "%s", a.message);
    cr_expect(strstr(a.message, "2 queries"), "%s", a.message);
    unload_and_close(p);
}

Test(dns, a_wrong_answer_fails_the_call_in_time)
{
    write_in("answer", "db.example.com. 30 IN A 10.0.0.99\n", 0644);
    char err[512] = "";
    plugin_t *p = load(NULL, 0, err, sizeof err);
    cr_assert_not_null(p, "%s", err);
    test_answer_t a;
    promote(p, "db1", &a);
    cr_expect_eq(a.r.outcome, FAILOVERD_DONE_FAILED, "%s", a.message);
    cr_expect(strstr(a.message, "db.example.com. was updated to 10.0.0.11 but after") &&
                  strstr(a.message, "the server answers 10.0.0.99 (TTL 30) instead of 10.0.0.11 "
                                    "(TTL 30)"),
              "%s", a.message);
    unload_and_close(p);
}
