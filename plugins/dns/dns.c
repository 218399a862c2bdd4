/* dns.c - the DNS plugin: a name follows the primary.
 *
 * At `post_promotion` (failovers and switchovers; the new primary is writable by
 * then) it sends one RFC 2136 dynamic update, signed with TSIG, that replaces
 * the name's A and AAAA records with the new primary's address, then asks the
 * server until it answers with that address and the configured TTL.
 *
 * The update is made by nsupdate and checked by dig (both from Debian's
 * bind9-dnsutils), run through host->spawn(): the update script, TSIG secret
 * included, goes to nsupdate's standard input, never into an argument.  Why
 * not a resolver library such as ldns: its sending functions block, so they
 * would need a thread of their own in the daemon, and nsupdate's TSIG, retries
 * and error messages are what operators already know.  See docs/plugins-dns.md.
 */
#include <failoverd/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "putil.h"

#define DNS_VERSION "1.0"
#define ADDRESS_VAR "dns_address"
#define VERIFY_RETRY_MS 200
#define DNS_DURATION_OK " of at least 1s (\"5s\")"

typedef struct {
    const failoverd_host_t *host;
    const failoverd_init_t *args;
    const char *server;
    int port;
    char zone[256], name[256];
    long ttl;
    const char *key_name, *key_algorithm, *key_secret, *key_file;
    bool tcp;
    char nsupdate[4096], dig[4096];
    uint64_t update_timeout, verify_timeout;
} dns_t;

typedef struct {
    putil_job_t base; /* first: the call, its context and when it came */
    dns_t *d;
    const failoverd_node_t *node;
    const char *address;
    uint64_t updated_ms, verify_deadline;
    int queries;
    char last[384];
} job_t;

/* The address a node gets in DNS: its var dns_address, else its host when
 * that is a literal address. */
static const char *node_address(const failoverd_node_t *n)
{
    for (size_t i = 0; i < n->n_vars; i++)
        if (strcmp(n->vars[i].key, ADDRESS_VAR) == 0)
            return n->vars[i].value;
    return n->host;
}

/* Ends the call of job j with how and a formatted message. */
#define finish(j, how, ...) putil_job_endf(&(j)->base, (how), NULL, __VA_ARGS__)

static uint64_t now(const dns_t *d)
{
    return d->host->now_ms(d->host);
}


/* ---- verify: ask the server ------------------------------------------------- */

static void query(job_t *j);

static void query_again(void *ud)
{
    query(ud);
}

static void on_answer(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    dns_t *d = j->d;
    if (r->status == FAILOVERD_SPAWN_EXITED && r->exit_code == 0) {
        if (dns_answer_ok(r->out, d->name, j->address, d->ttl, j->last, sizeof j->last)) {
            finish(j, FAILOVERD_DONE_OK,
                   "%s is %s (TTL %ld) on %s in %llu ms (update %llu ms, %d quer%s)", d->name,
                   j->address, d->ttl, d->server, (unsigned long long)(now(d) - j->base.started),
                   (unsigned long long)j->updated_ms, j->queries, j->queries == 1 ? "y" : "ies");
            return;
        }
    } else {
        char how[300];
        putil_describe(r, how, sizeof how);
        snprintf(j->last, sizeof j->last, "dig %s", how);
    }
    if (now(d) + VERIFY_RETRY_MS >= j->verify_deadline) {
        finish(j, FAILOVERD_DONE_FAILED, "%s was updated to %s but after %d quer%s: %s", d->name,
               j->address, j->queries, j->queries == 1 ? "y" : "ies", j->last);
        return;
    }
    d->host->after(d->host, VERIFY_RETRY_MS, query_again, j);
}

static void query(job_t *j)
{
    dns_t *d = j->d;
    char port[16], time_opt[32];
    snprintf(port, sizeof port, "%d", d->port);
    uint64_t left = j->verify_deadline > now(d) ? j->verify_deadline - now(d) : 1;
    snprintf(time_opt, sizeof time_opt, "+time=%llu",
             (unsigned long long)(left >= 2000 ? left / 2000 : 1));
    char at[300];
    snprintf(at, sizeof at, "@%s", d->server);
    /* Both types in one run: the other family's record must be gone too. */
    const char *argv[] = {d->dig,        at,      "-p",       port,    "+norecurse",
                          time_opt,      "+tries=2", d->tcp ? "+tcp" : "+notcp", "+noall",
                          "+answer",     d->name, "A",        d->name, "AAAA",
                          NULL};
    failoverd_spawn_t cmd = {.size = sizeof cmd, .argv = argv, .timeout_ms = left};
    j->queries++;
    int rc = d->host->spawn(d->host, &cmd, on_answer, j);
    if (rc != 0)
        finish(j, FAILOVERD_DONE_FAILED, "%s was updated but dig could not be run (%s)", d->name,
               strerror(-rc));
}

/* ---- update ------------------------------------------------------------------ */

static void on_updated(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    dns_t *d = j->d;
    if (r->status != FAILOVERD_SPAWN_EXITED || r->exit_code != 0) {
        char how[300];
        putil_describe(r, how, sizeof how);
        finish(j, FAILOVERD_DONE_FAILED, "updating %s to %s on %s failed: nsupdate %s", d->name,
               j->address, d->server, how);
        return;
    }
    j->updated_ms = now(d) - j->base.started;
    j->verify_deadline = now(d) + d->verify_timeout;
    query(j);
}

static void update(job_t *j)
{
    dns_t *d = j->d;
    dns_update_t u = {.server = d->server,
                      .port = d->port,
                      .zone = d->zone,
                      .name = d->name,
                      .ttl = d->ttl,
                      .key_algorithm = d->key_algorithm,
                      .key_name = d->key_name,
                      .key_secret = d->key_secret,
                      .address = j->address};
    putil_str_t script = {0};
    if (!dns_update_script(&u, &script)) {
        putil_str_free(&script);
        finish(j, FAILOVERD_DONE_FAILED, "no update for %s: \"%s\" is not an address", d->name,
               j->address);
        return;
    }
    char timeout[32];
    /* nsupdate's own bound, in whole seconds, below the host's. */
    snprintf(timeout, sizeof timeout, "%llu",
             (unsigned long long)(d->update_timeout >= 2000 ? d->update_timeout / 1000 - 1 : 1));
    const char *argv[8];
    size_t n = 0;
    argv[n++] = d->nsupdate;
    argv[n++] = "-t";
    argv[n++] = timeout;
    if (d->tcp)
        argv[n++] = "-v";
    if (d->key_file) {
        argv[n++] = "-k";
        argv[n++] = d->key_file;
    }
    argv[n] = NULL;
    failoverd_spawn_t cmd = {.size = sizeof cmd,
                             .argv = argv,
                             .timeout_ms = d->update_timeout,
                             .input = putil_str_get(&script),
                             .input_len = script.len};
    d->host->log(d->host, FAILOVERD_LOG_INFO, "%s: %s -> %s (TTL %ld) at %s port %d",
                 j->base.ctx->hook, d->name, j->address, d->ttl, d->server, d->port);
    int rc = d->host->spawn(d->host, &cmd, on_updated, j);
    putil_str_free(&script); /* the host copied it */
    if (rc != 0)
        finish(j, FAILOVERD_DONE_FAILED, "nsupdate could not be run (%s)", strerror(-rc));
}

static void dns_event(void *state, const failoverd_context_t *ctx, failoverd_call_t *call)
{
    dns_t *d = state;
    job_t *j = putil_job_start(d->host, ctx, call, sizeof *j);
    if (!j)
        return;
    j->d = d;
    const char *name = ctx->new_primary.name[0] ? ctx->new_primary.name : ctx->candidate.name;
    j->node = putil_find_node(d->args, name);
    if (ctx->point != FAILOVERD_HOOK_POST_PROMOTION) {
        finish(j, FAILOVERD_DONE_OK, "nothing to do at %s", ctx->hook);
        return;
    }
    if (!j->node) {
        finish(j, FAILOVERD_DONE_FAILED, "the context names no new primary of this cluster (\"%s\")",
               name);
        return;
    }
    j->address = node_address(j->node);
    update(j);
}

/* ---- settings ------------------------------------------------------------------ */

static const char *const known_settings[] = {
    "server", "port", "zone", "name", "ttl", "key_name", "key_algorithm", "key_secret",
    "key_file", "tcp", "nsupdate", "dig", "update_timeout", "verify_timeout", NULL};

static bool program(const failoverd_init_t *a, const char *key, const char *def, char *out,
                    size_t len, char *err, size_t err_len)
{
    const char *s = putil_setting(a->config, a->n_config, key);
    if (s && s[0] != '/') {
        snprintf(err, err_len, "%s: \"%s\" must be an absolute path", key, s);
        return false;
    }
    snprintf(out, len, "%s", s ? s : def);
    if (access(out, X_OK) != 0)
        a->host->log(a->host, FAILOVERD_LOG_WARN,
                     "%s is not installed (Debian: bind9-dnsutils); updates will fail until it is",
                     out);
    return true;
}

/* Where the record lives: server, zone, name, port, TTL and transport. */
static bool dns_target(dns_t *d, const failoverd_kv_t *kv, size_t n, char *err, size_t err_len)
{
    const char *s;
    long v;
    d->server = putil_setting(kv, n, "server");
    const char *zone = putil_setting(kv, n, "zone"), *name = putil_setting(kv, n, "name");
    if (!d->server || !zone || !name) {
        snprintf(err, err_len, "\"server\", \"zone\" and \"name\" are required");
        return false;
    }
    if (!dns_family(d->server) && !dns_name_ok(d->server)) {
        snprintf(err, err_len, "server: \"%s\" is neither an address nor a host name", d->server);
        return false;
    }
    if (!dns_fqdn("@", zone, d->zone, sizeof d->zone)) {
        snprintf(err, err_len, "zone: \"%s\" is not a domain name", zone);
        return false;
    }
    if (!dns_fqdn(name, zone, d->name, sizeof d->name)) {
        snprintf(err, err_len, "name: \"%s\" is not a domain name", name);
        return false;
    }
    d->port = 53;
    if (!putil_port_setting(kv, n, "port", &d->port, err, err_len))
        return false;
    d->ttl = 60;
    if ((s = putil_setting(kv, n, "ttl"))) {
        if (!putil_long(s, 0, 2147483647, &v)) {
            snprintf(err, err_len, "ttl: \"%s\" is not a number of seconds", s);
            return false;
        }
        d->ttl = v;
    }
    return putil_bool_setting(kv, n, "tcp", &d->tcp, err, err_len);
}

/* The TSIG key that signs the updates: inline (name, algorithm, secret) or a
 * key file, or none. */
static bool dns_key(dns_t *d, const failoverd_kv_t *kv, size_t n, char *err, size_t err_len)
{
    d->key_name = putil_setting(kv, n, "key_name");
    d->key_algorithm = putil_setting(kv, n, "key_algorithm");
    d->key_secret = putil_setting(kv, n, "key_secret");
    d->key_file = putil_setting(kv, n, "key_file");
    if (d->key_secret && d->key_file) {
        snprintf(err, err_len, "give \"key_secret\" or \"key_file\", not both");
        return false;
    }
    if (d->key_secret) {
        if (!d->key_name || !dns_name_ok(d->key_name)) {
            snprintf(err, err_len, "key_secret needs \"key_name\", a domain name");
            return false;
        }
        if (!dns_base64_ok(d->key_secret)) {
            snprintf(err, err_len, "key_secret is not base64");
            return false;
        }
        if (!d->key_algorithm)
            d->key_algorithm = "hmac-sha256";
        if (!dns_algorithm_ok(d->key_algorithm)) {
            snprintf(err, err_len, "key_algorithm: \"%s\" is not an HMAC algorithm nsupdate knows",
                     d->key_algorithm);
            return false;
        }
    } else if (d->key_name || d->key_algorithm) {
        snprintf(err, err_len, "key_name and key_algorithm go with key_secret");
        return false;
    }
    if (d->key_file && d->key_file[0] != '/') {
        snprintf(err, err_len, "key_file: \"%s\" must be an absolute path", d->key_file);
        return false;
    }
    return true;
}

/* Every node needs an address the record can hold. */
static bool dns_nodes_ok(const failoverd_init_t *a, char *err, size_t err_len)
{
    for (size_t i = 0; i < a->n_nodes; i++)
        if (!dns_family(node_address(&a->nodes[i]))) {
            snprintf(err, err_len,
                     "node %s: \"%s\" is not an IPv4 or IPv6 address; give it one in its vars "
                     "(%s = \"...\")",
                     a->nodes[i].name, node_address(&a->nodes[i]), ADDRESS_VAR);
            return false;
        }
    return true;
}

static int dns_init(const failoverd_init_t *a, void **state, char *err, size_t err_len)
{
    dns_t *d = putil_new_state(a, known_settings, sizeof *d, err, err_len);
    if (!d)
        return -1;
    d->host = a->host;
    d->args = a;
    if (!dns_target(d, a->config, a->n_config, err, err_len) ||
        !dns_key(d, a->config, a->n_config, err, err_len) ||
        !program(a, "nsupdate", "/usr/bin/nsupdate", d->nsupdate, sizeof d->nsupdate, err,
                 err_len) ||
        !program(a, "dig", "/usr/bin/dig", d->dig, sizeof d->dig, err, err_len) ||
        !putil_duration_setting(a, "update_timeout", 5000, 1000, DNS_DURATION_OK,
                                &d->update_timeout, err, err_len) ||
        !putil_duration_setting(a, "verify_timeout", 3000, 1000, DNS_DURATION_OK,
                                &d->verify_timeout, err, err_len) ||
        !dns_nodes_ok(a, err, err_len)) {
        free(d);
        return -1;
    }
    if (!d->key_secret && !d->key_file)
        a->host->log(a->host, FAILOVERD_LOG_WARN,
                     "updates of %s are not signed (no key_secret or key_file)", d->name);
    a->host->log(a->host, FAILOVERD_LOG_INFO, "name %s (TTL %ld) in zone %s at %s port %d%s%s",
                 d->name, d->ttl, d->zone, d->server, d->port,
                 d->key_secret || d->key_file ? ", TSIG key " : "",
                 d->key_secret ? d->key_name : d->key_file ? d->key_file : "");
    *state = d;
    return 0;
}

static void dns_fini(void *state)
{
    free(state);
}

FAILOVERD_PLUGIN_EXPORT const failoverd_plugin_t failoverd_plugin = {
    .abi_version = FAILOVERD_PLUGIN_ABI_VERSION,
    .name = "dns",
    .version = DNS_VERSION,
    .points = FAILOVERD_POINT(FAILOVERD_HOOK_POST_PROMOTION),
    .init = dns_init,
    .on_event = dns_event,
    .fini = dns_fini,
};
