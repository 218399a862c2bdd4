/* durability.c - see durability.h. */
#include "durability.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "timefmt.h"
#include "gtid.h"

const char *semisync_wait_point_str(semisync_wait_point_t w)
{
    switch (w) {
    case SEMISYNC_WAIT_AFTER_SYNC: return "AFTER_SYNC";
    case SEMISYNC_WAIT_AFTER_COMMIT: return "AFTER_COMMIT";
    default: return NULL;
    }
}

const char *semisync_state_str(semisync_state_t s)
{
    switch (s) {
    case SEMISYNC_STATE_ON: return "on";
    case SEMISYNC_STATE_OFF: return "off";
    default: return "unknown";
    }
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

void durability_clear(durability_state_t *d)
{
    free(d->semisync_off_from);
    free(d->last_on_gtid);
    free(d->primary_gtid);
    free(d->stalled);
    memset(d, 0, sizeof *d);
    d->primary = -1;
}

static uint64_t wall_of(uint64_t mono, uint64_t now, uint64_t now_wall)
{
    uint64_t ago = now > mono ? now - mono : 0;
    return now_wall > ago ? now_wall - ago : 0;
}

/* The replicas of the primary that have not received from it (durability.h),
 * as "db2, db3", and since when the earliest of them last received (mono ms). */
static void not_receiving(const cluster_t *c, const durability_state_t *d, uint64_t now,
                          uint64_t stall_after, buf_t *names, uint64_t *since)
{
    *since = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *r = &c->nodes[i];
        const observation_t *o = &r->last_ok;
        if ((int)i == c->primary || !r->up || !o->ok || !o->replica ||
            cluster_source_of(c, o) != c->primary)
            continue;
        /* A thread stopped on purpose (a switchover stops the candidate's) counts
         * only once the primary writes past it; one that fails counts at once. */
        bool io_down = o->io == IO_CONNECTING || (o->io == IO_NO && o->last_io_errno);
        bool silent =
            r->heard_at && now >= r->heard_at + stall_after && d->primary_moved_at > r->heard_at;
        if (!io_down && !silent)
            continue;
        buf_printf(names, "%s%s", names->len ? ", " : "", r->name);
        uint64_t last = r->heard_at ? r->heard_at : r->last_probe_at;
        if (!*since || last < *since)
            *since = last;
    }
}

/* What the replicas of the primary hold together (received or executed), as
 * GTID text: the transactions beyond it exist on the primary only. NULL when
 * no replica was observed or a text does not parse. */
static char *replicas_hold(const cluster_t *c, bool mariadb)
{
    server_family_t fam = mariadb ? FAMILY_MARIADB : FAMILY_MYSQL;
    gtid_state_t *all = gtid_state_new(fam);
    bool any = false;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const observation_t *o = &c->nodes[i].last_ok;
        if ((int)i == c->primary || !o->ok || !o->replica ||
            cluster_source_of(c, o) != c->primary)
            continue;
        const char *parts[2] = {o->received_gtids, o->executed_gtids};
        for (int k = 0; k < 2; k++) {
            gtid_state_t *s = gtid_state_parse(fam, parts[k] ? parts[k] : "", NULL, 0);
            if (!s) {
                gtid_state_free(all);
                return NULL;
            }
            gtid_state_add(all, s);
            gtid_state_free(s);
        }
        any = true;
    }
    /* MySQL's set is written as the server writes gtid_executed (",\n"
     * between UUIDs), like the primary's own text this stands in for. */
    char *text = !any ? NULL : mariadb ? gtid_state_format(all) : gtid_set_format(all->set);
    gtid_state_free(all);
    return text;
}

/* The replicas that stopped receiving from the primary (not_receiving): the
 * stall's start, change and end, as DURABILITY_STALL_* bits. */
static unsigned stall_update(cluster_t *c, durability_state_t *d, uint64_t now, uint64_t now_wall,
                             uint64_t stall_after_ms)
{
    unsigned changed = 0;
    buf_t names = BUF_INIT;
    uint64_t since;
    not_receiving(c, d, now, stall_after_ms, &names, &since);
    if (names.len) {
        if (!d->stalled) {
            changed |= DURABILITY_STALL_BEGAN;
            d->stalled_at = now;
            d->stalled_wall = now_wall;
        } else if (strcmp(d->stalled, buf_str(&names)) != 0) {
            changed |= DURABILITY_STALL_CHANGED;
        }
        set_str(&d->stalled, buf_str(&names));
        if (since != d->stalled_since) {
            /* Converted once: the issue's text must not change with the clocks' jitter. */
            d->stalled_since = since;
            d->stalled_since_wall = wall_of(since, now, now_wall);
        }
    } else if (d->stalled) {
        changed |= DURABILITY_STALL_ENDED;
        set_str(&d->stalled, NULL);
        d->stalled_at = d->stalled_wall = d->stalled_since_wall = d->stalled_since = 0;
    }
    buf_free(&names);
    return changed;
}

unsigned durability_update(cluster_t *c, uint64_t now, uint64_t now_wall, uint64_t stall_after_ms)
{
    durability_state_t *d = &c->durability;
    unsigned changed = 0;
    if (c->primary != d->primary) {
        /* A new primary (or the first): what was known of the old one is void. */
        durability_clear(d);
        d->primary = c->primary;
    }
    if (c->primary < 0)
        return 0;
    const node_t *p = &c->nodes[c->primary];
    const observation_t *po = &p->last_ok;
    if (p->up && po->ok) {
        if (!d->primary_moved_at || !same(d->primary_gtid, po->gtid_executed)) {
            set_str(&d->primary_gtid, po->gtid_executed);
            d->primary_moved_at = po->at;
        }
        if (po->semisync_state == SEMISYNC_STATE_OFF) {
            if (!d->semisync_off_at) {
                /* It fell back after the last probe that saw it on: from then on, an
                 * acknowledgement may be worth nothing. */
                d->semisync_off_at = po->at ? po->at : now;
                d->semisync_off_wall =
                    wall_of(d->last_on_at ? d->last_on_at : d->semisync_off_at, now, now_wall);
                /* The risk starts where the replicas stand: what they hold is safe. */
                free(d->semisync_off_from);
                d->semisync_off_from = replicas_hold(c, po->family == FAMILY_MARIADB);
                if (!d->semisync_off_from && d->last_on_gtid)
                    d->semisync_off_from = xstrdup(d->last_on_gtid);
                changed |= DURABILITY_SEMISYNC_OFF;
            }
        } else {
            if (po->semisync_state == SEMISYNC_STATE_ON) {
                set_str(&d->last_on_gtid, po->gtid_executed);
                d->last_on_at = po->at ? po->at : now;
            }
            if (d->semisync_off_at) {
                changed |= DURABILITY_SEMISYNC_ON;
                d->semisync_off_at = d->semisync_off_wall = 0;
                set_str(&d->semisync_off_from, NULL);
            }
        }
        changed |= stall_update(c, d, now, now_wall, stall_after_ms);
    }
    char ts[32];
    if (d->semisync_off_at) {
        format_wall_ms(d->semisync_off_wall, ts, sizeof ts);
        cluster_add_issue(c,
                          "semi-sync off on %s since %s: commits are asynchronous (a write "
                          "acknowledged since then may exist on %s only)",
                          p->name, ts, p->name);
    }
    if (d->stalled) {
        format_wall_ms(d->stalled_since_wall, ts, sizeof ts);
        cluster_add_issue(c, "%s %s not received from %s since %s", d->stalled,
                          strchr(d->stalled, ',') ? "have" : "has", p->name, ts);
    }
    return changed;
}

static json_t *stamp(uint64_t wall)
{
    if (!wall)
        return json_null();
    char ts[32];
    format_wall_ms(wall, ts, sizeof ts);
    return json_string(ts);
}

static json_t *number(int64_t v)
{
    return v >= 0 ? json_integer(v) : json_null();
}

json_t *durability_json(const cluster_t *c, uint64_t now, uint64_t now_wall)
{
    const durability_state_t *d = &c->durability;
    const node_t *p = c->primary >= 0 ? &c->nodes[c->primary] : NULL;
    const observation_t *po = p ? &p->last_ok : NULL;
    json_t *ss = json_null();
    if (po && po->ok) {
        const char *state = !po->semisync_source ? "not enabled"
                            : po->semisync_state == SEMISYNC_STATE_UNKNOWN
                                ? "unknown"
                                : semisync_state_str(po->semisync_state);
        ss = json_pack(
            "{s:s, s:s, s:o, s:o, s:o, s:s?, s:o, s:o, s:o}", "node", p->name, "state", state,
            "clients", number(po->semisync_clients), "waiting_sessions",
            number(po->semisync_wait_sessions), "timeout_ms", number(po->semisync_timeout_ms),
            "wait_point", semisync_wait_point_str(po->semisync_wait_point), "wait_no_replica",
            po->semisync_wait_no_replica < 0 ? json_null()
                                             : json_boolean(po->semisync_wait_no_replica),
            "wait_for_replica_count", number(po->semisync_wait_count), "not_acknowledged_commits",
            number(po->semisync_no_tx));
    }
    json_t *stalled = json_array();
    if (d->stalled) {
        char *copy = xstrdup(d->stalled);
        for (char *save = NULL, *t = strtok_r(copy, ", ", &save); t;
             t = strtok_r(NULL, ", ", &save))
            json_array_append_new(stalled, json_string(t));
        free(copy);
    }
    uint64_t stalled_for = d->stalled && now_wall > d->stalled_since_wall
                               ? (now_wall - d->stalled_since_wall) / 1000
                               : 0;
    (void)now; /* the state's times are already wall times */
    return json_pack(
        "{s:b, s:o, s:o, s:s?, s:o, s:o, s:o}", "degraded", d->semisync_off_at || d->stalled,
        "semisync", ss, "semisync_off_since", stamp(d->semisync_off_at ? d->semisync_off_wall : 0),
        "at_risk_after", d->semisync_off_at ? d->semisync_off_from : NULL, "not_receiving", stalled,
        "not_receiving_since", stamp(d->stalled ? d->stalled_since_wall : 0), "not_receiving_for_s",
        d->stalled ? json_integer((json_int_t)stalled_for) : json_null());
}

/* ---- ranges ------------------------------------------------------------- */

void durability_range_free(durability_range_t *r)
{
    free(r->text);
    r->text = NULL;
    r->count = 0;
}

/* One domain's range d-s-(from)..d-s-(to) (one GTID when from == to). */
static void put_range(buf_t *b, uint32_t domain, uint32_t server, uint64_t from, uint64_t to)
{
    if (b->len)
        buf_puts(b, ",");
    if (from >= to)
        buf_printf(b, "%u-%u-%llu", domain, server, (unsigned long long)to);
    else
        buf_printf(b, "%u-%u-%llu..%u-%u-%llu", domain, server, (unsigned long long)from, domain,
                   server, (unsigned long long)to);
}

static bool mysql_subtract(const char *a, const char *b, durability_range_t *out, char *err,
                           size_t errlen)
{
    char e[GTID_ERR_SIZE];
    gtid_set_t *sa = gtid_set_parse(a ? a : "", e, sizeof e);
    if (!sa) {
        snprintf(err, errlen, "%s", e);
        return false;
    }
    gtid_set_t *sb = gtid_set_parse(b ? b : "", e, sizeof e);
    if (!sb) {
        snprintf(err, errlen, "%s", e);
        gtid_set_free(sa);
        return false;
    }
    gtid_set_t *dd = gtid_set_subtract(sa, sb);
    out->text = gtid_set_format_line(dd);
    out->count = gtid_set_count(dd);
    gtid_set_free(sa);
    gtid_set_free(sb);
    gtid_set_free(dd);
    return true;
}

bool durability_range(bool mariadb, const char *have, const char *want, durability_range_t *out,
                      char *err, size_t errlen)
{
    out->text = NULL;
    out->count = 0;
    if (!mariadb)
        return mysql_subtract(want, have, out, err, errlen);
    char e[GTID_ERR_SIZE];
    gtid_pos_t *h = gtid_pos_parse(have ? have : "", e, sizeof e);
    if (!h) {
        snprintf(err, errlen, "%s", e);
        return false;
    }
    gtid_pos_t *w = gtid_pos_parse(want ? want : "", e, sizeof e);
    if (!w) {
        snprintf(err, errlen, "%s", e);
        gtid_pos_free(h);
        return false;
    }
    gtid_pos_diff_t *d = gtid_pos_diff(h, w);
    out->text = gtid_pos_diff_format_range(d, &out->count);
    gtid_pos_diff_free(d);
    gtid_pos_free(h);
    gtid_pos_free(w);
    return true;
}

/* Parses a MariaDB GTID list that may hold several entries per domain
 * (gtid_binlog_state). */
static gtid_pos_entry_t *parse_list(const char *text, size_t *n, char *err, size_t errlen)
{
    *n = 0;
    gtid_pos_entry_t *v = NULL;
    size_t cap = 0;
    const char *p = text ? text : "";
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\n' || *p == '\t' || *p == '\r')
            p++;
        if (!*p)
            break;
        unsigned long long f[3];
        for (int k = 0; k < 3; k++) {
            char *end;
            errno = 0;
            if (*p < '0' || *p > '9') {
                snprintf(err, errlen, "malformed GTID near \"%.20s\"", p);
                free(v);
                return NULL;
            }
            f[k] = strtoull(p, &end, 10);
            if (errno || (k < 2 && *end != '-') ||
                (k == 2 && *end && *end != ',' && *end != ' ' && *end != '\n' && *end != '\r' &&
                 *end != '\t') ||
                (k < 2 && f[k] > UINT32_MAX)) {
                snprintf(err, errlen, "malformed GTID near \"%.20s\"", p);
                free(v);
                return NULL;
            }
            p = k < 2 ? end + 1 : end;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[(*n)++] = (gtid_pos_entry_t){(uint32_t)f[0], (uint32_t)f[1], f[2]};
    }
    return v;
}

bool durability_exact_loss(bool mariadb, const char *node, const char *primary,
                           durability_range_t *out, char *err, size_t errlen)
{
    out->text = NULL;
    out->count = 0;
    if (!mariadb)
        return mysql_subtract(node, primary, out, err, errlen);
    size_t nn, np;
    gtid_pos_entry_t *mine = parse_list(node, &nn, err, errlen);
    if (!mine && nn == 0 && node && node[strspn(node, " ,\t\r\n")])
        return false;
    gtid_pos_entry_t *theirs = parse_list(primary, &np, err, errlen);
    if (!theirs && primary && primary[strspn(primary, " ,\t\r\n")]) {
        free(mine);
        return false;
    }
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < nn; i++) {
        const gtid_pos_entry_t *x = &mine[i];
        uint64_t from_server = 0, below = 0;
        for (size_t k = 0; k < np; k++) {
            if (theirs[k].domain != x->domain)
                continue;
            if (theirs[k].server == x->server && theirs[k].seq > from_server)
                from_server = theirs[k].seq;
            if (theirs[k].seq < x->seq && theirs[k].seq > below)
                below = theirs[k].seq;
        }
        uint64_t last = from_server ? from_server : below;
        if (last >= x->seq)
            continue;
        put_range(&b, x->domain, x->server, last + 1, x->seq);
        out->count += x->seq - last;
    }
    out->text = buf_steal(&b);
    free(mine);
    free(theirs);
    return true;
}
