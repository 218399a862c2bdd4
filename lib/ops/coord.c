/* coord.c - see coord.h: the lease, the leader key, the watch, status. */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "names.h"
#include "wallclock.h"

const char *coord_role_str(coord_role_t r)
{
    switch (r) {
    case COORD_STARTING: return "starting";
    case COORD_FOLLOWER: return "follower";
    case COORD_LEADER: return "leader";
    case COORD_NO_QUORUM: return "no-quorum";
    }
    return "?";
}

uint64_t coord__now(void)
{
    return uv_hrtime() / 1000000;
}

bool coord__leading(const coord_t *c)
{
    return c->role == COORD_LEADER && !c->closing && c->valid_until &&
           coord__now() < c->valid_until;
}

static void set_leader(coord_t *c, const char *value, int64_t term)
{
    json_t *j = json_loads(value ? value : "", 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *host = json_string_value(json_object_get(j, "host"));
    const char *ctl = json_string_value(json_object_get(j, "control"));
    free(c->leader_id);
    free(c->leader_host);
    free(c->leader_control);
    c->leader_id = xstrdup(id ? id : (value ? "?" : ""));
    c->leader_host = xstrdup(host ? host : "");
    c->leader_control = xstrdup(ctl ? ctl : "");
    c->leader_since_wall = (uint64_t)json_integer_value(json_object_get(j, "since"));
    c->leader_term = term;
    json_decref(j);
}

void coord__lost(coord_t *c, coord_role_t to, const char *why)
{
    bool was = c->role == COORD_LEADER;
    c->role = to;
    c->next_campaign = 0; /* read the key again at once */
    if (was)
        event_emit(LOG_LVL_ERROR, to == COORD_NO_QUORUM ? EV_COORD_NO_QUORUM : EV_COORD_FOLLOWER,
                   NULL, NULL,
                   json_pack("{s:s, s:I, s:s}", "manager", c->id, "term", (json_int_t)c->term,
                             "reason", why),
                   "manager %s is no longer the leader (term %lld): %s; it starts no step",
                   c->id, (long long)c->term, why);
}

/* ---- the lease -------------------------------------------------------------------- */

static void put_record(coord_t *c);

static void on_grant(void *ud, const etcd_reply_t *r)
{
    coord_t *c = ud;
    c->granting = false;
    if (!r->ok || r->ttl <= 0) {
        /* Said once per run of failed grants (e.g. TLS refused at start),
         * not at every retry; the status always has the latest. */
        bool again = strncmp(c->etcd_err, "lease grant: ", 13) == 0;
        c->etcd_ok = false;
        snprintf(c->etcd_err, sizeof c->etcd_err, "lease grant: %.200s", r->ok ? "no TTL" : r->err);
        if (!again)
            log_warn("etcd: %s; this manager can't lead until it gets a lease", c->etcd_err);
        return;
    }
    c->etcd_ok = true;
    c->lease = r->lease_id;
    coord__renewed(c, c->ka_sent, r->ttl);
    json_t *v = json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "id", c->id, "host", c->host, "pid",
                          (json_int_t)getpid(), "since", (json_int_t)wall_now_ms(), "zone",
                          c->zone, "control", c->control);
    free(c->my_value);
    c->my_value = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(v);
    put_record(c);
    c->next_campaign = 0;
    coord__campaign(c);
}

static void grant(coord_t *c)
{
    c->granting = true;
    /* The validity starts from this send time: the grant is the first renewal. */
    c->valid_until = 0;
    c->ka_sent = coord__now();
    etcd_lease_grant(c->e, c->ttl, on_grant, c);
}

static void on_record(void *ud, const etcd_reply_t *r)
{
    coord_t *c = ud;
    if (!r->ok)
        log_warn("etcd: manager record %s not written: %s", c->k_me, r->err);
}

static void put_record(coord_t *c)
{
    etcd_put(c->e, c->k_me, c->my_value, c->lease, on_record, c);
}

static void on_keepalive(void *ud, const etcd_reply_t *r)
{
    coord_t *c = ud;
    c->ka_inflight = false;
    if (c->ka_lease != c->lease) /* an answer about a lease given up since */
        return;
    if (!r->ok) {
        c->etcd_ok = false;
        snprintf(c->etcd_err, sizeof c->etcd_err, "%s", r->err);
    } else if (r->ttl <= 0) {
        c->etcd_ok = true;
        c->lease = 0;
        c->valid_until = 0;
        coord__lost(c, COORD_NO_QUORUM, "etcd says the lease expired");
        grant(c);
    } else {
        c->etcd_ok = true;
        c->etcd_err[0] = '\0';
        coord__renewed(c, c->ka_sent, r->ttl);
    }
}

void coord__renewed(coord_t *c, uint64_t sent, int64_t ttl)
{
    uint64_t until = sent + (uint64_t)ttl * 1000 - c->margin;
    if (until > c->valid_until)
        c->valid_until = until;
}

static void keepalive(coord_t *c)
{
    c->ka_sent = coord__now();
    c->ka_lease = c->lease;
    c->ka_inflight = true;
    etcd_lease_keepalive(c->e, c->lease, on_keepalive, c);
}

/* ---- the leader key ------------------------------------------------------------------ */

static void watch_leader(coord_t *c, int64_t from);

static void became_leader(coord_t *c, int64_t term, bool again)
{
    c->role = COORD_LEADER;
    c->term = term;
    set_leader(c, c->my_value, term);
    json_object_clear(c->published); /* published again under this term */
    etcd_watch_cancel(c->watch);
    c->watch = NULL;
    event_emit(LOG_LVL_NOTICE, EV_COORD_LEADER, NULL, NULL,
               json_pack("{s:s, s:s, s:I, s:b}", "manager", c->id, "host", c->host, "term",
                         (json_int_t)term, "again", again),
               "manager %s is the leader (term %lld%s)", c->id, (long long)term,
               again ? ", verified again" : "");
}

static void on_campaign(void *ud, const etcd_reply_t *r)
{
    coord_t *c = ud;
    c->campaigning = false;
    c->next_campaign = coord__now() + (uint64_t)c->ttl * 1000;
    if (!r->ok) {
        c->etcd_ok = false;
        snprintf(c->etcd_err, sizeof c->etcd_err, "%s", r->err);
        if (c->role == COORD_FOLLOWER || c->role == COORD_STARTING)
            c->role = COORD_NO_QUORUM;
        return;
    }
    c->etcd_ok = true;
    if (r->succeeded) {
        became_leader(c, r->revision, false);
        return;
    }
    const etcd_kv_t *kv = r->n_kvs ? &r->kvs[0] : NULL;
    if (kv && c->my_value && strcmp(kv->value, c->my_value) == 0 && kv->lease == c->lease) {
        /* Still ours (a stall or a lapse re-verified): the same term. */
        if (c->role != COORD_LEADER)
            became_leader(c, kv->create_revision, true);
        return;
    }
    if (c->role == COORD_LEADER)
        coord__lost(c, COORD_FOLLOWER, "the leader key holds another manager");
    bool changed = !kv || !c->leader_id || c->leader_term != kv->create_revision;
    set_leader(c, kv ? kv->value : NULL, kv ? kv->create_revision : 0);
    c->role = COORD_FOLLOWER;
    if (changed && kv)
        event_emit(LOG_LVL_NOTICE, EV_COORD_FOLLOWER, NULL, NULL,
                   json_pack("{s:s, s:s, s:s, s:I}", "manager", c->id, "leader", c->leader_id,
                             "leader_host", c->leader_host, "term", (json_int_t)c->leader_term),
                   "manager %s follows the leader %s on %s (term %lld)", c->id, c->leader_id,
                   c->leader_host, (long long)c->leader_term);
    if (!c->watch)
        watch_leader(c, r->revision + 1);
}

void coord__campaign(coord_t *c)
{
    if (c->campaigning || !c->lease || c->closing)
        return;
    c->campaigning = true;
    etcd_cmp_t cmp = {.key = c->k_leader, .target = ETCD_CMP_CREATE, .create_revision = 0};
    etcd_op_t op = {.key = c->k_leader, .value = c->my_value, .lease = c->lease};
    etcd_txn(c->e, &cmp, 1, &op, 1, c->k_leader, on_campaign, c);
}

static void on_watch(void *ud, const etcd_wevent_t *ev)
{
    coord_t *c = ud;
    switch (ev->kind) {
    case ETCD_W_DELETE:
        log_notice("etcd: the leader key is gone: campaigning");
        c->next_campaign = 0;
        coord__campaign(c);
        break;
    case ETCD_W_PUT: set_leader(c, ev->kv.value, ev->kv.create_revision); break;
    case ETCD_W_END:
        log_info("etcd: watch of the leader key ended (%s); reading it again", ev->err);
        c->watch = NULL;
        c->next_campaign = 0; /* the campaign reads the key and watches again */
        break;
    case ETCD_W_CREATED:
    case ETCD_W_PROGRESS: break;
    }
}

static void watch_leader(coord_t *c, int64_t from)
{
    c->watch = etcd_watch(c->e, c->k_leader, from, on_watch, c);
}

/* ---- the tick: keepalive, expiry, stall guard, campaign ------------------------------ */

static void on_tick(uv_timer_t *t)
{
    coord_t *c = t->data;
    uint64_t now = coord__now();
    uint64_t gap = c->last_tick ? now - c->last_tick : 0;
    c->last_tick = now;
    if (gap > c->interval + (uint64_t)c->ttl * 500 && c->role == COORD_LEADER) {
        char why[128];
        snprintf(why, sizeof why, "the loop stalled for %llu ms; reading the leader key again",
                 (unsigned long long)gap);
        coord__lost(c, COORD_FOLLOWER, why);
        c->next_campaign = 0;
    }
    if (c->role == COORD_LEADER && !coord__leading(c))
        coord__lost(c, COORD_NO_QUORUM,
                    c->etcd_ok ? "the lease ran out" : "etcd did not renew the lease in time");
    if (!c->lease) {
        if (!c->granting)
            grant(c);
        return;
    }
    if (!c->ka_inflight)
        keepalive(c);
    if (c->role != COORD_LEADER && now >= c->next_campaign)
        coord__campaign(c);
}

/* ---- life -------------------------------------------------------------------------------- */

coord_t *coord_create(uv_loop_t *loop, const fo_coord_cfg_t *cfg, const char *control)
{
    coord_t *c = xcalloc(1, sizeof *c);
    c->loop = loop;
    etcd_opts_t o = {.endpoints = cfg->etcd_endpoints.items,
                     .n_endpoints = cfg->etcd_endpoints.n,
                     .ca = cfg->etcd_ca,
                     .cert = cfg->etcd_cert,
                     .key = cfg->etcd_key,
                     .timeout_ms = cfg->etcd_timeout_ms};
    c->e = etcd_create(loop, &o);
    c->prefix = xstrdup(cfg->key_prefix);
    c->id = xstrdup(cfg->manager_id);
    c->zone = xstrdup(cfg->zone);
    c->control = xstrdup(control ? control : "");
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    c->host = xstrdup(host);
    c->ttl = cfg->lease_ttl;
    c->interval = (uint64_t)c->ttl * 1000 / 3;
    c->margin = c->interval;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%sleader", c->prefix);
    c->k_leader = buf_steal(&b);
    buf_printf(&b, "%smanagers/%s", c->prefix, c->id);
    c->k_me = buf_steal(&b);
    c->leader_id = xstrdup("");
    c->leader_host = xstrdup("");
    c->leader_control = xstrdup("");
    c->published = json_object();
    c->role = COORD_STARTING;
    c->n_managers = cfg->managers.n;
    c->managers = xcalloc(c->n_managers + 1, sizeof *c->managers);
    for (size_t i = 0; i < c->n_managers; i++)
        c->managers[i] = xstrdup(cfg->managers.items[i]);
    c->rule.k = cfg->verdict_quorum_k;
    uv_timer_init(loop, &c->tick);
    c->tick.data = c;
    uv_timer_start(&c->tick, on_tick, 0, c->interval);
    log_notice("coordination through etcd (%zu endpoint%s, lease %d s) as manager %s",
               cfg->etcd_endpoints.n, cfg->etcd_endpoints.n == 1 ? "" : "s", c->ttl, c->id);
    return c;
}

static void on_revoked(void *ud, const etcd_reply_t *r)
{
    coord_t *c = ud;
    if (!r->ok)
        log_warn("etcd: the lease was not revoked (%s): the others take over when it expires",
                 r->err);
    else
        log_notice("etcd: lease revoked; another manager can lead at once");
    etcd_close(c->e);
    c->e = NULL;
}

static void on_tick_closed(uv_handle_t *h)
{
    (void)h;
}

void coord_close(coord_t *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    if (c->role == COORD_LEADER) /* no event: stopping is not losing */
        log_notice("manager %s gives the leadership up (term %lld): stopping", c->id,
                   (long long)c->term);
    c->role = COORD_FOLLOWER;
    coord__fail_guards(c, "the daemon is stopping");
    etcd_watch_cancel(c->watch);
    c->watch = NULL;
    coord__vantage_close(c);
    coord__state_close(c);
    uv_close((uv_handle_t *)&c->tick, on_tick_closed);
    if (c->lease) {
        c->revoking = true;
        etcd_lease_revoke(c->e, c->lease, on_revoked, c);
    } else {
        etcd_close(c->e);
        c->e = NULL;
    }
}

void coord_free(coord_t *c)
{
    if (!c)
        return;
    coord__free_reads(c); /* first: an answer may still ask c why it can't lead */
    free(c->prefix);
    free(c->id);
    free(c->zone);
    free(c->control);
    free(c->host);
    free(c->k_leader);
    free(c->k_me);
    free(c->my_value);
    free(c->leader_id);
    free(c->leader_host);
    free(c->leader_control);
    json_decref(c->published);
    coord__vantage_free(c);
    coord__state_free(c);
    coord__free_ended_guards(c);
    free(c);
}

/* ---- what others ask -------------------------------------------------------------------- */

coord_role_t coord_role(const coord_t *c)
{
    if (c->role == COORD_LEADER && !coord__leading(c))
        return COORD_NO_QUORUM;
    return c->role;
}

const char *coord_why_not(coord_t *c)
{
    if (!c || coord__leading(c))
        return NULL;
    if (c->closing)
        snprintf(c->why, sizeof c->why, "manager %s is stopping", c->id);
    else if (c->role == COORD_FOLLOWER && c->leader_id[0])
        snprintf(c->why, sizeof c->why,
                 "manager %s is not the leader: the leader is %s on %s (term %lld%s%s)", c->id,
                 c->leader_id, c->leader_host, (long long)c->leader_term,
                 c->leader_control[0] ? ", control socket " : "", c->leader_control);
    else
        snprintf(c->why, sizeof c->why,
                 "manager %s holds no valid leader lease (%s%s%s): no operation starts", c->id,
                 coord_role_str(coord_role(c)), c->etcd_err[0] ? ": " : "", c->etcd_err);
    return c->why;
}

json_t *coord_status_json(coord_t *c)
{
    coord_role_t role = coord_role(c);
    uint64_t now = coord__now();
    json_t *leader = c->leader_id[0]
                         ? json_pack("{s:s, s:s, s:I, s:I, s:s?}", "id", c->leader_id, "host",
                                     c->leader_host, "term", (json_int_t)c->leader_term, "since",
                                     (json_int_t)c->leader_since_wall, "control",
                                     c->leader_control[0] ? c->leader_control : NULL)
                         : json_null();
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:b, s:s, s:s?}", "mode", "etcd",
                     "manager", c->id, "zone", c->zone, "role", coord_role_str(role), "leader",
                     leader, "term", (json_int_t)(role == COORD_LEADER ? c->term : c->leader_term),
                     "lease_valid_ms",
                     (json_int_t)(c->valid_until > now ? c->valid_until - now : 0), "etcd_ok",
                     c->etcd_ok, "etcd_endpoint", c->e ? etcd_endpoint(c->e) : "", "etcd_error",
                     c->etcd_err[0] ? c->etcd_err : NULL);
}
