/* coord_vantage.c - the managers' verdict on each cluster's primary
 * (docs/ha.md, "The verdict from several vantage points").
 *
 * With a `managers` list configured, this manager publishes its observation
 * record (obsrec.h) for each cluster under <prefix><cluster>/obs/<id>, on its
 * own lease (the record goes when the manager does): at once when what it
 * sees changes (a node's reachability or error class, a replica's threads
 * or source, the primary), and at least every VANTAGE_PERIOD_MS anyway. It
 * reads the other managers' records with one range and a watch of the obs/
 * prefix (read again and watched again whenever the watch ends), decodes
 * each where it arrives, and notes when each mod_revision first arrived
 * (quorum_seen_note): freshness counts from there. The monitor asks for the
 * verdict at every reassessment (coord_vantage). Failures to publish or to
 * read, and rejected records, are logged once per episode. */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gtid.h"
#include "log.h"
#include "obsrec.h"
#include "wallclock.h"

#define VANTAGE_PERIOD_MS 500 /* level: a record at least this often */
#define VANTAGE_FRESH_MS 2000 /* a peer's record older than this is stale */
#define VANTAGE_RETRY_MS 1000 /* a failed read of the records is tried again after this */

typedef struct {
    bool present;     /* a record is stored under its key */
    bool decoded;     /* ... and it decoded: rec is valid */
    obsrec_t rec;
    char *rejected;   /* why it did not */
    quorum_seen_t seen;
    uint64_t received_at; /* quorum_seen_note's answer (loop ms) */
    bool told;        /* its rejection was logged */
} vpeer_t;

struct vcluster {
    vcluster_t *next;
    coord_t *c;
    char *name, *k_obs, *k_me;
    etcd_watch_t *watch;
    bool reading;
    uint64_t read_after; /* loop ms: no new read before */
    bool read_failed;    /* logged */
    vpeer_t peers[QUORUM_MAX_MANAGERS];
    /* Publishing. */
    char *sig;           /* what the last record said, for the edge */
    uint64_t last_pub;   /* loop ms of the last put sent */
    uint64_t seq;
    bool put_inflight;
    char *pending;       /* a newer record to put once the one in flight is answered */
    bool put_failed;     /* logged */
    bool eval_failed;    /* logged */
    uint64_t up_since[OBSREC_MAX_NODES]; /* loop ms each node was first seen up in a row; 0 down */
};

bool coord_vantage_on(const coord_t *c)
{
    return c && c->n_managers > 0;
}

static int manager_index(const coord_t *c, const char *id)
{
    for (size_t i = 0; i < c->n_managers; i++)
        if (strcmp(c->managers[i], id) == 0)
            return (int)i;
    return -1;
}

static vcluster_t *vcluster_of(coord_t *c, const char *name)
{
    for (vcluster_t *v = c->vclusters; v; v = v->next)
        if (strcmp(v->name, name) == 0)
            return v;
    vcluster_t *v = xcalloc(1, sizeof *v);
    v->c = c;
    v->name = xstrdup(name);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/obs/", c->prefix, name);
    v->k_obs = buf_steal(&b);
    buf_printf(&b, "%s%s", v->k_obs, c->id);
    v->k_me = buf_steal(&b);
    v->next = c->vclusters;
    c->vclusters = v;
    return v;
}

/* ---- reading the others' records ----------------------------------------------------- */

static void peer_clear(vpeer_t *p)
{
    if (p->decoded)
        obsrec_free(&p->rec);
    memset(&p->rec, 0, sizeof p->rec);
    free(p->rejected);
    p->rejected = NULL;
    p->decoded = false;
    p->present = false;
}

/* The manager id a key under obs/ names, or -1 (this manager's own, or none
 * of the listed ones: neither is a vote). */
static int peer_of_key(const vcluster_t *v, const char *key)
{
    size_t n = strlen(v->k_obs);
    if (strncmp(key, v->k_obs, n) != 0 || strcmp(key + n, v->c->id) == 0)
        return -1;
    return manager_index(v->c, key + n);
}

static void took_record(vcluster_t *v, const etcd_kv_t *kv)
{
    int i = peer_of_key(v, kv->key);
    if (i < 0)
        return;
    vpeer_t *p = &v->peers[i];
    if (kv->mod_revision > 0 && (uint64_t)kv->mod_revision < p->seen.revision)
        return; /* an older version than the one held */
    peer_clear(p);
    p->present = true;
    p->received_at = quorum_seen_note(&p->seen, (uint64_t)kv->mod_revision, uv_now(v->c->loop));
    char err[OBSREC_ERR_SIZE];
    const char *text = kv->value ? kv->value : "";
    p->decoded = obsrec_decode(text, strlen(text), &p->rec, err, sizeof err);
    if (p->decoded) {
        p->told = false;
        return;
    }
    p->rejected = xstrdup(err);
    if (!p->told)
        log_warn("cluster %s: the observation record of manager %s is rejected (%s): it counts "
                 "as no record",
                 v->name, v->c->managers[i], err);
    p->told = true;
}

static void dropped_record(vcluster_t *v, const char *key)
{
    int i = peer_of_key(v, key);
    if (i >= 0)
        peer_clear(&v->peers[i]);
}

static void watch_records(vcluster_t *v, int64_t from);

static void on_range(void *ud, const etcd_reply_t *r)
{
    vcluster_t *v = ud;
    v->reading = false;
    if (v->c->closing)
        return;
    if (!r->ok) {
        if (!v->read_failed)
            log_warn("cluster %s: the managers' observation records can't be read (%s): "
                     "trying again every %d ms",
                     v->name, r->err, VANTAGE_RETRY_MS);
        v->read_failed = true;
        v->read_after = uv_now(v->c->loop) + VANTAGE_RETRY_MS;
        return;
    }
    if (v->read_failed)
        log_notice("cluster %s: the managers' observation records are read again", v->name);
    v->read_failed = false;
    /* A record not in the range was deleted while nobody watched. */
    bool there[QUORUM_MAX_MANAGERS] = {false};
    for (size_t k = 0; k < r->n_kvs; k++) {
        int i = peer_of_key(v, r->kvs[k].key);
        if (i >= 0)
            there[i] = true;
        took_record(v, &r->kvs[k]);
    }
    for (size_t i = 0; i < v->c->n_managers; i++)
        if (!there[i])
            peer_clear(&v->peers[i]);
    watch_records(v, r->revision + 1);
}

static void on_watch(void *ud, const etcd_wevent_t *ev)
{
    vcluster_t *v = ud;
    switch (ev->kind) {
    case ETCD_W_PUT: took_record(v, &ev->kv); break;
    case ETCD_W_DELETE: dropped_record(v, ev->kv.key); break;
    case ETCD_W_END:
        log_info("cluster %s: watch of the observation records ended (%s); reading them again",
                 v->name, ev->err);
        v->watch = NULL;
        v->read_after = uv_now(v->c->loop) + VANTAGE_RETRY_MS / 4;
        break;
    case ETCD_W_CREATED:
    case ETCD_W_PROGRESS: break;
    }
}

static void watch_records(vcluster_t *v, int64_t from)
{
    v->watch = etcd_watch_prefix(v->c->e, v->k_obs, from, on_watch, v);
}

static void read_records(vcluster_t *v)
{
    if (v->watch || v->reading || v->c->closing || !v->c->e ||
        uv_now(v->c->loop) < v->read_after)
        return;
    v->reading = true;
    etcd_range_prefix(v->c->e, v->k_obs, on_range, v);
}

/* ---- publishing this manager's record --------------------------------------------------- */

/* The class of a failed probe's message, for the other managers (a hint for
 * people: the verdict counts only reachable or not). */
static obs_err_t err_class(const node_t *n)
{
    const char *e = n->last_error ? n->last_error : "";
    if (n->unobservable)
        return OBS_ERR_PRIVILEGE;
    if (strstr(e, "imed out") || strstr(e, "imeout"))
        return OBS_ERR_TIMEOUT;
    if (strstr(e, "ccess denied"))
        return OBS_ERR_AUTH;
    if (strstr(e, "connect") || strstr(e, "refused") || strstr(e, "Lost connection") ||
        strstr(e, "gone away") || strstr(e, "nknown") || strstr(e, "route"))
        return OBS_ERR_CONNECT;
    return OBS_ERR_OTHER;
}

static void node_view(obsrec_node_t *o, const node_t *n, uint64_t up_since, uint64_t now)
{
    uint64_t since = n->up ? up_since : node_unreached_since(n);
    o->name = n->name;
    o->reachable = n->up;
    o->since_ms = since && now > since ? now - since : 0;
    o->error = n->up ? OBS_ERR_NONE : err_class(n);
    o->io = IO_UNKNOWN;
    o->sql = -1;
    o->lag_ms = -1;
    const observation_t *l = &n->last_ok;
    if (n->up && l->ok && l->replica) {
        o->io = l->io;
        o->sql = l->sql_running ? 1 : 0;
        o->lag_ms = l->lag_s >= 0 ? l->lag_s * 1000 : -1;
    }
    if (l->ok && l->executed_st) {
        char *text = gtid_state_format(l->executed_st);
        gtid_state_t *none = gtid_state_new(l->family);
        obsrec_gtid_hash(text ? text : "", o->gtid_hash);
        o->gtid_count = gtid_state_count_beyond(l->executed_st, none);
        gtid_state_free(none);
        free(text);
    }
}

/* What the edge compares: everything but ages, counters and GTIDs. */
static char *signature(const obsrec_t *r)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s|", r->primary ? r->primary : "");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const obsrec_node_t *n = &r->nodes[i];
        buf_printf(&b, "%s:%d:%d:%d:%d:%s;", n->name, n->reachable, (int)n->error, (int)n->io,
                   n->sql, n->source ? n->source : "");
    }
    return buf_steal(&b);
}

static void put_record(vcluster_t *v, char *text);

static void on_put(void *ud, const etcd_reply_t *r)
{
    vcluster_t *v = ud;
    v->put_inflight = false;
    if (!r->ok && !v->put_failed)
        log_warn("cluster %s: this manager's observation record %s is not published (%s); the "
                 "other managers will find it stale",
                 v->name, v->k_me, r->err);
    else if (r->ok && v->put_failed)
        log_notice("cluster %s: this manager's observation record is published again", v->name);
    v->put_failed = !r->ok;
    char *next = v->pending;
    v->pending = NULL;
    if (next && !v->c->closing && v->c->lease)
        put_record(v, next);
    else
        free(next);
}

static void put_record(vcluster_t *v, char *text)
{
    if (v->put_inflight) {
        free(v->pending);
        v->pending = text; /* the newest wins */
        return;
    }
    v->put_inflight = true;
    etcd_put(v->c->e, v->k_me, text, v->c->lease, on_put, v);
    free(text);
}

static void publish(vcluster_t *v, const cluster_t *cl, uint64_t now)
{
    coord_t *c = v->c;
    if (c->closing || !c->e || !c->lease)
        return; /* no lease yet: the record would outlive this manager */
    obsrec_node_t nodes[OBSREC_MAX_NODES];
    char sources[OBSREC_MAX_NODES][OBSREC_NAME_MAX + 8];
    size_t n = 0;
    for (size_t i = 0; i < cl->n_nodes && n < OBSREC_MAX_NODES; i++) {
        const node_t *nd = &cl->nodes[i];
        if (!nd->up)
            v->up_since[i] = 0;
        else if (!v->up_since[i])
            v->up_since[i] = now;
        if (!nd->probed)
            continue; /* says nothing of a node it has not probed */
        memset(&nodes[n], 0, sizeof nodes[n]);
        node_view(&nodes[n], nd, v->up_since[i], now);
        const observation_t *l = &nd->last_ok;
        if (nd->up && l->ok && l->replica && l->source_host) {
            snprintf(sources[n], sizeof sources[n], "%.255s:%u", l->source_host, l->source_port);
            nodes[n].source = sources[n];
        }
        n++;
    }
    obsrec_t r = {.version = OBSREC_VERSION,
                  .manager = c->id,
                  .zone = c->zone,
                  .cluster = (char *)cl->name,
                  .seq = v->seq + 1,
                  .published_at = wall_now_ms(),
                  .primary = cl->primary >= 0 ? cl->nodes[cl->primary].name : NULL,
                  .nodes = nodes,
                  .n_nodes = n};
    char *sig = signature(&r);
    bool edge = !v->sig || strcmp(sig, v->sig) != 0;
    if (!edge && now < v->last_pub + VANTAGE_PERIOD_MS) {
        free(sig);
        return;
    }
    char err[OBSREC_ERR_SIZE];
    char *text = obsrec_encode(&r, err, sizeof err);
    if (!text) {
        if (!v->put_failed)
            log_warn("cluster %s: this manager's observation record can't be encoded: %s",
                     v->name, err);
        v->put_failed = true;
        free(sig);
        return;
    }
    free(v->sig);
    v->sig = sig;
    v->seq++;
    v->last_pub = now;
    put_record(v, text);
}

/* ---- the verdict ------------------------------------------------------------------------ */

static void self_view(quorum_self_t *s, const cluster_t *cl, uint64_t now)
{
    const node_t *p = &cl->nodes[cl->primary];
    uint64_t since = node_unreached_since(p);
    s->probed = p->probed;
    s->reachable = p->up;
    s->unreached_ms = !p->up && since && now > since ? now - since : 0;
    s->error = p->up ? OBS_ERR_NONE : err_class(p);
}

static void evaluate(vcluster_t *v, cluster_t *cl, const detect_params_t *dp, uint64_t now)
{
    coord_t *c = v->c;
    quorum_obs_t obs[QUORUM_MAX_MANAGERS];
    size_t n = 0;
    for (size_t i = 0; i < c->n_managers; i++) {
        const vpeer_t *p = &v->peers[i];
        if (p->present)
            obs[n++] = (quorum_obs_t){.manager = c->managers[i],
                                      .rec = p->decoded ? &p->rec : NULL,
                                      .rejected = p->rejected,
                                      .received_at = p->received_at};
    }
    quorum_input_t in = {.managers = (const char *const *)c->managers,
                         .n_managers = c->n_managers,
                         .self = c->id,
                         .rule = c->rule,
                         .fresh_ms = VANTAGE_FRESH_MS,
                         .down_after = dp->down_after,
                         .cluster = cl->name,
                         .primary = cl->primary >= 0 ? cl->nodes[cl->primary].name : NULL,
                         .self_view = {.zone = c->zone},
                         .obs = obs,
                         .n_obs = n};
    if (cl->primary >= 0)
        self_view(&in.self_view, cl, now);
    char err[256];
    if (quorum_evaluate(&in, now, &cl->vantage, err, sizeof err)) {
        v->eval_failed = false;
        return;
    }
    if (!v->eval_failed)
        log_error("cluster %s: no verdict from the managers' views: %s", v->name, err);
    v->eval_failed = true;
    memset(&cl->vantage, 0, sizeof cl->vantage);
    cl->vantage.verdict = QUORUM_NO_OBSERVERS;
}

quorum_verdict_t coord_vantage(void *ud, cluster_t *cl, const detect_params_t *dp, uint64_t now)
{
    coord_t *c = ud;
    if (!coord_vantage_on(c))
        return QUORUM_DEAD_CONFIRMED; /* nothing to add to the detector's verdict */
    vcluster_t *v = vcluster_of(c, cl->name);
    read_records(v);
    publish(v, cl, now);
    evaluate(v, cl, dp, now);
    return cl->vantage.verdict;
}

/* ---- life ------------------------------------------------------------------------------- */

void coord__vantage_close(coord_t *c)
{
    for (vcluster_t *v = c->vclusters; v; v = v->next) {
        etcd_watch_cancel(v->watch);
        v->watch = NULL;
    }
}

void coord__vantage_free(coord_t *c)
{
    vcluster_t *v = c->vclusters;
    while (v) {
        vcluster_t *next = v->next;
        for (size_t i = 0; i < QUORUM_MAX_MANAGERS; i++)
            peer_clear(&v->peers[i]);
        free(v->name);
        free(v->k_obs);
        free(v->k_me);
        free(v->sig);
        free(v->pending);
        free(v);
        v = next;
    }
    c->vclusters = NULL;
    for (size_t i = 0; i < c->n_managers; i++)
        free(c->managers[i]);
    free(c->managers);
}
