/* vip.c - the virtual IP plugin: the address clients use follows the primary.
 *
 * At `post_promotion` (failovers and switchovers; the new primary is writable
 * by then) it acquires the address on the new primary's host, announces it with
 * a gratuitous ARP that nobody waits for, releases it on the old primary's host
 * (best effort, briefly bounded: that host may be dead), and reports success
 * only once the address answers. Make before break: while the old host still
 * holds the address, clients trying it get a refusal at once (the old server is
 * gone or fenced read-only); an address released first would swallow their
 * connection attempts until TCP's one-second SYN retransmit.
 * With release_at_fence, the `fence` step of a failover releases it instead.
 *
 * Commands are templates run through a wrapper that reaches the node's host
 * (ssh in production, ip netns exec in the lab); see docs/plugins-vip.md.
 * Nothing here blocks: commands go through host->spawn(), and the check's
 * non-blocking connection is polled from host->after() timers.
 */
#include <failoverd/plugin.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "putil.h"

#define VIP_VERSION "1.0"

#define DEFAULT_ACQUIRE "ip addr replace {address} dev {interface}"
#define DEFAULT_RELEASE "ip addr del {address} dev {interface}"
#define DEFAULT_ANNOUNCE "arping -U -c 1 -I {interface} {ip}"

/* How often the check looks at its connection, how long one attempt may take
 * (the first, then doubling up to the last), and the pause after an attempt
 * that failed at once (refused, unreachable). */
#define CHECK_POLL_MS 5
#define CHECK_FIRST_ATTEMPT_MS 25
#define CHECK_LAST_ATTEMPT_MS 1000
#define CHECK_RETRY_MS 50
#define CHECK_COMMAND_RETRY_MS 200
#define VIP_DURATION_OK " (\"500ms\", \"2s\")"

typedef enum { CHECK_GREETING, CHECK_CONNECT, CHECK_COMMAND, CHECK_NONE } check_mode_t;

typedef struct {
    const failoverd_host_t *host;
    const failoverd_init_t *args; /* valid until fini(): the nodes and settings */
    const char *address;          /* "10.0.0.100/24" as configured */
    char ip[INET6_ADDRSTRLEN];    /* "10.0.0.100" */
    int family;
    const char *interface; /* NULL: each node's vars must say */
    const char *wrap, *acquire, *release, *announce, *check_cmd;
    int wrap_quote; /* -1: when the wrapper is ssh */
    check_mode_t check;
    int port; /* 0: the new primary's own port */
    uint64_t acquire_timeout, release_timeout, announce_timeout, check_timeout;
    char *fenced_op; /* the operation whose fence step released the address */
    bool release_at_fence;
} vip_t;

/* One on_event() call in progress. */
typedef struct {
    putil_job_t base; /* first: the call, its context and when it came */
    vip_t *v;
    const failoverd_node_t *old, *new;
    uint64_t acquired_ms;
    char note[256]; /* what went wrong on the way without failing the call */
    /* the check */
    uint64_t check_started, check_deadline, attempt_started, attempt_ms;
    int fd;
    bool connected;
    int attempts;
    char last_error[160];
} job_t;

/* ---- placeholders ----------------------------------------------------------- */

typedef struct {
    const vip_t *v;
    const failoverd_node_t *node;
    char port[16];
} scope_t;

/* The rules: the node's own vars first (so a node can have its own interface),
 * then what the configuration says of the node, then the plugin's settings. */
static const char *lookup(void *ud, const char *name)
{
    scope_t *s = ud;
    for (size_t i = 0; i < s->node->n_vars; i++)
        if (strcmp(s->node->vars[i].key, name) == 0)
            return s->node->vars[i].value;
    if (strcmp(name, "name") == 0)
        return s->node->name;
    if (strcmp(name, "host") == 0)
        return s->node->host;
    if (strcmp(name, "port") == 0) {
        snprintf(s->port, sizeof s->port, "%d", s->node->port);
        return s->port;
    }
    if (strcmp(name, "address") == 0)
        return s->v->address;
    if (strcmp(name, "ip") == 0)
        return s->v->ip;
    if (strcmp(name, "interface") == 0)
        return s->v->interface;
    return NULL;
}

/* The argument vector of template tmpl for node, through the wrapper, with
 * argv[0] made absolute; NULL with a reason in err. */
static char **command(const vip_t *v, const failoverd_node_t *node, const char *tmpl, char *err,
                      size_t err_len)
{
    scope_t s = {.v = v, .node = node};
    char why[256];
    char **w = putil_expand(v->wrap, lookup, &s, why, sizeof why);
    if (!w) {
        snprintf(err, err_len, "wrap for node %s: %s", node->name, why);
        return NULL;
    }
    char **c = putil_expand(tmpl, lookup, &s, why, sizeof why);
    if (!c) {
        snprintf(err, err_len, "\"%s\" for node %s: %s", tmpl, node->name, why);
        putil_strv_free(w);
        return NULL;
    }
    bool quote = v->wrap_quote < 0 ? (w[0] && putil_is_ssh(w[0])) : v->wrap_quote;
    char **argv = putil_wrap(w, c, quote);
    if (!argv || !argv[0]) {
        snprintf(err, err_len, argv ? "the command is empty" : "out of memory");
        putil_strv_free(argv);
        return NULL;
    }
    char path[4096];
    if (!putil_which(argv[0], getenv("PATH"), path, sizeof path)) {
        snprintf(err, err_len, "%s: not found (PATH=%s)", argv[0],
                 getenv("PATH") ? getenv("PATH") : "");
        putil_strv_free(argv);
        return NULL;
    }
    char *abs = strdup(path);
    if (!abs) {
        snprintf(err, err_len, "out of memory");
        putil_strv_free(argv);
        return NULL;
    }
    free(argv[0]);
    argv[0] = abs;
    return argv;
}

/* Starts tmpl on node; false (with err) if it could not even be asked for. */
static bool run(const vip_t *v, const failoverd_node_t *node, const char *what, const char *tmpl,
                uint64_t timeout_ms, failoverd_spawn_cb cb, void *ud, char *err, size_t err_len)
{
    char **argv = command(v, node, tmpl, err, err_len);
    if (!argv)
        return false;
    putil_str_t text = {0};
    putil_argv_text(argv, &text);
    v->host->log(v->host, FAILOVERD_LOG_INFO, "%s on %s: %s", what, node->name,
                 putil_str_get(&text));
    putil_str_free(&text);
    failoverd_spawn_t cmd = {
        .size = sizeof cmd, .argv = (const char *const *)argv, .timeout_ms = timeout_ms};
    int rc = v->host->spawn(v->host, &cmd, cb, ud);
    putil_strv_free(argv);
    if (rc != 0) {
        snprintf(err, err_len, "the host refused to run it (%s)", strerror(-rc));
        return false;
    }
    return true;
}


static bool succeeded(const failoverd_spawn_result_t *r)
{
    return r->status == FAILOVERD_SPAWN_EXITED && r->exit_code == 0;
}

/* `ip addr del` of an address the interface does not have: nothing to release. */
static bool was_absent(const failoverd_spawn_result_t *r)
{
    return r->status == FAILOVERD_SPAWN_EXITED && r->err &&
           strstr(r->err, "Cannot assign requested address");
}

/* ---- ending a call --------------------------------------------------------- */

static job_t *close_fd(job_t *j)
{
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    return j;
}

/* Ends the call of job j with how and a formatted message, its note
 * appended. */
#define finish(j, how, ...) putil_job_endf(&close_fd(j)->base, (how), (j)->note, __VA_ARGS__)

static uint64_t since(const job_t *j, uint64_t t0)
{
    return j->v->host->now_ms(j->v->host) - t0;
}

/* ---- fence: release on the old primary ------------------------------------- */

static void on_fence_released(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    char how[256];
    if (succeeded(r))
        finish(j, FAILOVERD_DONE_OK, "released %s on %s in %llu ms", j->v->address, j->old->name,
               (unsigned long long)r->elapsed_ms);
    else if (was_absent(r))
        finish(j, FAILOVERD_DONE_OK, "%s was not on %s", j->v->address, j->old->name);
    else {
        putil_describe(r, how, sizeof how);
        finish(j, FAILOVERD_DONE_FAILED, "could not release %s on %s: %s", j->v->address,
               j->old->name, how);
    }
}

static void fence(job_t *j)
{
    vip_t *v = j->v;
    free(v->fenced_op);
    v->fenced_op = j->base.ctx->operation[0] ? strdup(j->base.ctx->operation) : NULL;
    if (!j->old) {
        finish(j, FAILOVERD_DONE_OK, "no old primary known: nothing to release");
        return;
    }
    char err[512];
    if (!run(v, j->old, "releasing", v->release, v->release_timeout, on_fence_released, j, err,
             sizeof err))
        finish(j, FAILOVERD_DONE_FAILED, "could not release %s on %s: %s", v->address,
               j->old->name, err);
}

/* ---- post_promotion: acquire, announce, release the old, check -------------- */

static void check_start(job_t *j);

static void on_announced(void *ud, const failoverd_spawn_result_t *r)
{
    /* Nobody waits for this: arping lingers for replies after it has sent.  The
     * host logs a failure; the check tells whether the address answers. */
    (void)ud;
    (void)r;
}

static void on_old_released(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    if (!succeeded(r) && !was_absent(r)) {
        char how[256];
        putil_describe(r, how, sizeof how);
        snprintf(j->note, sizeof j->note, "releasing it on %s failed: %.150s", j->old->name, how);
    }
    check_start(j);
}

static void on_acquired(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    vip_t *v = j->v;
    char err[512];
    if (!succeeded(r)) {
        putil_describe(r, err, sizeof err);
        finish(j, FAILOVERD_DONE_FAILED, "could not acquire %s on %s: %s", v->address, j->new->name,
               err);
        return;
    }
    j->acquired_ms = since(j, j->base.started);
    if (v->announce[0] &&
        !run(v, j->new, "announcing", v->announce, v->announce_timeout, on_announced, NULL, err,
             sizeof err))
        snprintf(j->note, sizeof j->note, "no gratuitous ARP: %.150s", err);

    /* A switchover has no fence step: the old primary, alive, still holds the
     * address.  It is released after the new one has it and announced it, so
     * that no connection attempt meets an address nobody holds. */
    bool fenced = v->fenced_op && strcmp(v->fenced_op, j->base.ctx->operation) == 0;
    if (j->old && j->old != j->new && !fenced) {
        if (run(v, j->old, "releasing", v->release, v->release_timeout, on_old_released, j, err,
                sizeof err))
            return;
        snprintf(j->note, sizeof j->note, "releasing it on %s failed: %.150s", j->old->name, err);
    }
    check_start(j);
}

static void promote(job_t *j)
{
    vip_t *v = j->v;
    if (!j->new) {
        finish(j, FAILOVERD_DONE_FAILED,
               "the context names no new primary of this cluster (\"%s\")",
               j->base.ctx->new_primary.name);
        return;
    }
    char err[512];
    if (!run(v, j->new, "acquiring", v->acquire, v->acquire_timeout, on_acquired, j, err,
             sizeof err))
        finish(j, FAILOVERD_DONE_FAILED, "could not acquire %s on %s: %s", v->address,
               j->new->name, err);
}

/* ---- the check -------------------------------------------------------------- */

static void check_ok(job_t *j, const char *how)
{
    finish(j, FAILOVERD_DONE_OK,
           "%s is on %s in %llu ms (acquired after %llu ms, %s after %llu ms, attempt %d)",
           j->v->address, j->new->name, (unsigned long long)since(j, j->base.started),
           (unsigned long long)j->acquired_ms, how, (unsigned long long)since(j, j->check_started),
           j->attempts);
}

static void check_failed(job_t *j)
{
    finish(j, FAILOVERD_DONE_FAILED,
           "%s was acquired on %s but does not answer after %llu ms (%d attempts): %s",
           j->v->address, j->new->name, (unsigned long long)since(j, j->check_started), j->attempts,
           j->last_error[0] ? j->last_error : "no answer");
}

static void check_tick(void *ud);

static void attempt_over(job_t *j, uint64_t retry_ms)
{
    if (j->fd >= 0) {
        close(j->fd);
        j->fd = -1;
    }
    uint64_t now = j->v->host->now_ms(j->v->host);
    if (now + retry_ms >= j->check_deadline) {
        check_failed(j);
        return;
    }
    j->v->host->after(j->v->host, retry_ms, check_tick, j);
}

/* A new connection attempt to the address from the daemon's host. */
static void attempt(job_t *j)
{
    vip_t *v = j->v;
    int port = v->port ? v->port : j->new->port;
    struct sockaddr_storage sa = {0};
    socklen_t sl;
    if (v->family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&sa;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, v->ip, &a->sin_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, v->ip, &a->sin6_addr);
        sl = sizeof *a;
    }
    j->attempts++;
    j->connected = false;
    j->attempt_started = v->host->now_ms(v->host);
    j->attempt_ms = j->attempt_ms ? j->attempt_ms * 2 : CHECK_FIRST_ATTEMPT_MS;
    if (j->attempt_ms > CHECK_LAST_ATTEMPT_MS)
        j->attempt_ms = CHECK_LAST_ATTEMPT_MS;
    j->fd = socket(v->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (j->fd < 0) {
        snprintf(j->last_error, sizeof j->last_error, "socket: %s", strerror(errno));
        attempt_over(j, CHECK_RETRY_MS);
        return;
    }
    if (connect(j->fd, (struct sockaddr *)&sa, sl) == 0)
        j->connected = true;
    else if (errno != EINPROGRESS) {
        snprintf(j->last_error, sizeof j->last_error, "connect to %s port %d: %s", v->ip, port,
                 strerror(errno));
        attempt_over(j, CHECK_RETRY_MS);
        return;
    }
    v->host->after(v->host, CHECK_POLL_MS, check_tick, j);
}

/* Polls the attempt in progress (or starts the next one).  The rules:
 * - connecting: writable means the connection is set up (SO_ERROR 0) or failed;
 * - connected: with check = "connect" that is the answer; with "greeting" the
 *   server must also send its first bytes, as MySQL, MariaDB and proxies do at
 *   once: an address held by a host whose server is gone does not pass;
 * - an attempt gets 25 ms, then a new one starts, with twice the time up to
 *   a second: a SYN sent just before the gratuitous ARP went to the old host
 *   and would wait a second for its retransmission, while a fresh connection
 *   goes to the new one at once; a slow path still gets attempts long enough. */
static void check_tick(void *ud)
{
    job_t *j = ud;
    vip_t *v = j->v;
    if (j->fd < 0) {
        attempt(j);
        return;
    }
    int port = v->port ? v->port : j->new->port;
    if (!j->connected) {
        struct pollfd p = {.fd = j->fd, .events = POLLOUT};
        if (poll(&p, 1, 0) > 0) {
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (getsockopt(j->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
                soerr = errno;
            if (soerr) {
                snprintf(j->last_error, sizeof j->last_error, "connect to %s port %d: %s", v->ip,
                         port, strerror(soerr));
                attempt_over(j, CHECK_RETRY_MS);
                return;
            }
            j->connected = true;
        }
    }
    if (j->connected && v->check == CHECK_CONNECT) {
        check_ok(j, "accepts connections");
        return;
    }
    if (j->connected) {
        char b[64];
        ssize_t got = recv(j->fd, b, sizeof b, 0);
        if (got > 0) {
            check_ok(j, "the server greets");
            return;
        }
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            snprintf(j->last_error, sizeof j->last_error, "%s port %d: %s", v->ip, port,
                     got == 0 ? "closed without a greeting" : strerror(errno));
            attempt_over(j, CHECK_RETRY_MS);
            return;
        }
    }
    uint64_t now = v->host->now_ms(v->host);
    if (now >= j->check_deadline || now - j->attempt_started >= j->attempt_ms) {
        snprintf(j->last_error, sizeof j->last_error, "%s port %d: %s within %llu ms", v->ip, port,
                 j->connected ? "no greeting" : "no answer to the connection attempt",
                 (unsigned long long)(now - j->attempt_started));
        attempt_over(j, 0);
        return;
    }
    v->host->after(v->host, CHECK_POLL_MS, check_tick, j);
}

static void command_check_again(void *ud);

static void on_check_command(void *ud, const failoverd_spawn_result_t *r)
{
    job_t *j = ud;
    if (succeeded(r)) {
        check_ok(j, "the check passes");
        return;
    }
    putil_describe(r, j->last_error, sizeof j->last_error);
    uint64_t now = j->v->host->now_ms(j->v->host);
    if (now + CHECK_COMMAND_RETRY_MS >= j->check_deadline)
        check_failed(j);
    else
        j->v->host->after(j->v->host, CHECK_COMMAND_RETRY_MS, command_check_again, j);
}

static void command_check_again(void *ud)
{
    job_t *j = ud;
    vip_t *v = j->v;
    uint64_t now = v->host->now_ms(v->host);
    uint64_t left = j->check_deadline > now ? j->check_deadline - now : 1;
    char err[512];
    j->attempts++;
    if (!run(v, j->new, "checking", v->check_cmd, left, on_check_command, j, err, sizeof err)) {
        snprintf(j->last_error, sizeof j->last_error, "%.150s", err);
        check_failed(j);
    }
}

static void check_start(job_t *j)
{
    vip_t *v = j->v;
    j->check_started = v->host->now_ms(v->host);
    j->check_deadline = j->check_started + v->check_timeout;
    switch (v->check) {
    case CHECK_NONE:
        finish(j, FAILOVERD_DONE_OK, "%s is on %s in %llu ms (not checked)", v->address,
               j->new->name, (unsigned long long)since(j, j->base.started));
        return;
    case CHECK_COMMAND:
        command_check_again(j);
        return;
    case CHECK_GREETING:
    case CHECK_CONNECT:
        attempt(j);
        return;
    }
}

/* ---- the plugin ------------------------------------------------------------- */

static void vip_event(void *state, const failoverd_context_t *ctx, failoverd_call_t *call)
{
    vip_t *v = state;
    job_t *j = putil_job_start(v->host, ctx, call, sizeof *j);
    if (!j)
        return;
    j->v = v;
    j->fd = -1;
    j->old = putil_find_node(v->args, ctx->old_primary.name);
    j->new = putil_find_node(v->args, ctx->new_primary.name);
    if (!j->new)
        j->new = putil_find_node(v->args, ctx->candidate.name);
    if (ctx->point == FAILOVERD_HOOK_FENCE && !v->release_at_fence)
        finish(j, FAILOVERD_DONE_OK, "%s moves at post_promotion (release_at_fence is off)",
               v->address);
    else if (ctx->point == FAILOVERD_HOOK_FENCE)
        fence(j);
    else if (ctx->point == FAILOVERD_HOOK_POST_PROMOTION)
        promote(j);
    else
        finish(j, FAILOVERD_DONE_OK, "nothing to do at %s", ctx->hook);
}

static const char *const known_settings[] = {
    "address", "interface", "wrap", "wrap_quote", "acquire", "release", "announce",
    "check", "port", "acquire_timeout", "release_timeout", "announce_timeout",
    "check_timeout", "release_at_fence", NULL};

/* A timeout setting: any duration above zero. */
static bool duration(const failoverd_init_t *a, const char *key, uint64_t def, uint64_t *out,
                     char *err, size_t err_len)
{
    return putil_duration_setting(a, key, def, 1, VIP_DURATION_OK, out, err, err_len);
}

/* "10.0.0.100/24" or "10.0.0.100": the address without its prefix length, and
 * its family. */
static bool parse_address(vip_t *v, char *err, size_t err_len)
{
    size_t n = strcspn(v->address, "/");
    char ip[INET6_ADDRSTRLEN];
    struct in6_addr buf;
    if (n == 0 || n >= sizeof ip) {
        snprintf(err, err_len, "address: \"%s\" is not an address", v->address);
        return false;
    }
    memcpy(ip, v->address, n);
    ip[n] = '\0';
    if (inet_pton(AF_INET, ip, &buf) == 1)
        v->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, &buf) == 1)
        v->family = AF_INET6;
    else {
        snprintf(err, err_len, "address: \"%s\" is not an IPv4 or IPv6 address", ip);
        return false;
    }
    long plen;
    if (v->address[n] == '/' &&
        !putil_long(v->address + n + 1, 0, v->family == AF_INET ? 32 : 128, &plen)) {
        snprintf(err, err_len, "address: \"%s\" has no valid prefix length", v->address);
        return false;
    }
    memcpy(v->ip, ip, n + 1);
    return true;
}

/* Every template must expand for every node: a missing var shows at load, not
 * in the middle of a failover. */
static bool validate(vip_t *v, char *err, size_t err_len)
{
    const char *names[] = {"acquire", "release", "announce", "check"};
    const char *tmpls[] = {v->acquire, v->release, v->announce,
                           v->check == CHECK_COMMAND ? v->check_cmd : ""};
    for (size_t i = 0; i < v->args->n_nodes; i++) {
        const failoverd_node_t *node = &v->args->nodes[i];
        scope_t s = {.v = v, .node = node};
        char why[256];
        char **w = putil_expand(v->wrap, lookup, &s, why, sizeof why);
        if (!w) {
            snprintf(err, err_len, "wrap: %s for node %s (set it in the node's vars)", why,
                     node->name);
            return false;
        }
        putil_strv_free(w);
        for (size_t k = 0; k < 4; k++) {
            if (!tmpls[k][0])
                continue;
            char **c = putil_expand(tmpls[k], lookup, &s, why, sizeof why);
            if (!c) {
                snprintf(err, err_len, "%s: %s for node %s (set it in the node's vars%s)",
                         names[k], why, node->name,
                         strstr(why, "{interface}") ? " or the setting \"interface\"" : "");
                return false;
            }
            putil_strv_free(c);
        }
    }
    return true;
}

/* The address and the commands that move it, with how they reach a host. */
static bool vip_commands(vip_t *v, const failoverd_kv_t *kv, size_t n, char *err, size_t err_len)
{
    const char *s;
    v->address = putil_setting(kv, n, "address");
    v->interface = putil_setting(kv, n, "interface");
    v->wrap = putil_setting(kv, n, "wrap");
    v->acquire = (s = putil_setting(kv, n, "acquire")) ? s : DEFAULT_ACQUIRE;
    v->release = (s = putil_setting(kv, n, "release")) ? s : DEFAULT_RELEASE;
    v->announce = (s = putil_setting(kv, n, "announce")) ? s : DEFAULT_ANNOUNCE;
    v->wrap_quote = -1;
    if (!v->address || !v->address[0]) {
        snprintf(err, err_len, "\"address\" is required (e.g. \"10.0.0.100/24\")");
        return false;
    }
    if (!parse_address(v, err, err_len))
        return false;
    /* No default: running the commands on the daemon's own host by mistake
     * would put the VIP there. */
    if (!v->wrap) {
        snprintf(err, err_len,
                 "\"wrap\" is required: how commands reach a node's host, e.g. \"ssh -o "
                 "BatchMode=yes root@{host} --\", or \"\" for this host");
        return false;
    }
    if (!v->acquire[0] || !v->release[0]) {
        snprintf(err, err_len, "\"acquire\" and \"release\" cannot be empty");
        return false;
    }
    if ((s = putil_setting(kv, n, "wrap_quote"))) {
        bool q;
        if (!putil_bool(s, &q)) {
            snprintf(err, err_len, "wrap_quote: \"%s\" is not true or false", s);
            return false;
        }
        v->wrap_quote = q;
    }
    return true;
}

/* How the new primary is checked behind the address, when the old one lets
 * go of it, and how long each step may take. */
static bool vip_checks(vip_t *v, const failoverd_init_t *a, char *err, size_t err_len)
{
    const failoverd_kv_t *kv = a->config;
    size_t n = a->n_config;
    const char *s = putil_setting(kv, n, "check");
    if (!s || strcmp(s, "greeting") == 0)
        v->check = CHECK_GREETING;
    else if (strcmp(s, "connect") == 0)
        v->check = CHECK_CONNECT;
    else if (strcmp(s, "none") == 0 || !s[0])
        v->check = CHECK_NONE;
    else {
        v->check = CHECK_COMMAND;
        v->check_cmd = s;
    }
    v->port = 0;
    return putil_port_setting(kv, n, "port", &v->port, err, err_len) &&
           putil_bool_setting(kv, n, "release_at_fence", &v->release_at_fence, err, err_len) &&
           duration(a, "acquire_timeout", 3000, &v->acquire_timeout, err, err_len) &&
           duration(a, "release_timeout", 2000, &v->release_timeout, err, err_len) &&
           duration(a, "announce_timeout", 3000, &v->announce_timeout, err, err_len) &&
           duration(a, "check_timeout", 3000, &v->check_timeout, err, err_len);
}

static int vip_init(const failoverd_init_t *a, void **state, char *err, size_t err_len)
{
    vip_t *v = putil_new_state(a, known_settings, sizeof *v, err, err_len);
    if (!v)
        return -1;
    v->host = a->host;
    v->args = a;
    if (!vip_commands(v, a->config, a->n_config, err, err_len) || !vip_checks(v, a, err, err_len) ||
        !validate(v, err, err_len)) {
        free(v);
        return -1;
    }

    /* The program that starts each command must exist where the daemon runs;
     * a missing one is only a warning now (it may be installed later) and a
     * failure when it is needed. */
    if (a->n_nodes > 0) {
        char why[512];
        char **argv = command(v, &a->nodes[0], v->acquire, why, sizeof why);
        if (!argv)
            a->host->log(a->host, FAILOVERD_LOG_WARN, "%s", why);
        putil_strv_free(argv);
    }
    a->host->log(a->host, FAILOVERD_LOG_INFO,
                 "virtual IP %s%s%s%s%s; check: %s", v->address, v->interface ? " on " : "",
                 v->interface ? v->interface : "", v->wrap[0] ? " through " : "",
                 v->wrap[0] ? v->wrap : "",
                 v->check == CHECK_COMMAND ? v->check_cmd
                 : v->check == CHECK_NONE  ? "none"
                 : v->check == CHECK_CONNECT ? "connect"
                                             : "greeting");
    *state = v;
    return 0;
}

static void vip_fini(void *state)
{
    vip_t *v = state;
    free(v->fenced_op);
    free(v);
}

FAILOVERD_PLUGIN_EXPORT const failoverd_plugin_t failoverd_plugin = {
    .abi_version = FAILOVERD_PLUGIN_ABI_VERSION,
    .name = "vip",
    .version = VIP_VERSION,
    .points = FAILOVERD_POINT(FAILOVERD_HOOK_FENCE) | FAILOVERD_POINT(FAILOVERD_HOOK_POST_PROMOTION),
    .init = vip_init,
    .on_event = vip_event,
    .fini = vip_fini,
};
