/* elect_gtid.c - the election's GTID facts (see elect.h): what a node
 * received, applied and holds beyond others, its errant transactions, what
 * only the old primary had, what a failover loses, and the parse check of an
 * observation's GTID texts where it is made. */
#include "elect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "elect_internal.h"
#include "gtid.h"

/* The GTID family of an observation's texts. */
server_family_t elect__family_of(const observation_t *o)
{
    return o->family == FAMILY_MARIADB ? FAMILY_MARIADB : FAMILY_MYSQL;
}

/* elect__set_of, pos_of and elect__state_of read texts whose parse was checked where they
 * entered (elect_gtid_error on observations; the election's own output
 * otherwise): the empty value they fall back to stands only for an absent
 * text. An observation with a gtid_error never reaches them. */
gtid_set_t *elect__set_of(const char *text)
{
    gtid_set_t *s = text ? gtid_set_parse(text, NULL, 0) : NULL;
    return s ? s : gtid_set_new();
}

static gtid_pos_t *pos_of(const char *text)
{
    gtid_pos_t *p = text ? gtid_pos_parse(text, NULL, 0) : NULL;
    return p ? p : gtid_pos_new();
}

gtid_state_t *elect__state_of(server_family_t family, const char *text)
{
    gtid_state_t *s = text ? gtid_state_parse(family, text, NULL, 0) : NULL;
    return s ? s : gtid_state_new(family);
}

/* The observation's parsed state (observation_parse_gtids) when it has one,
 * else its text read here (an observation made outside the model). */
static gtid_state_t *parsed_or_text(const observation_t *o, const gtid_state_t *st,
                                    const char *text)
{
    return st ? gtid_state_copy(st) : elect__state_of(elect__family_of(o), text);
}

/* What it applied: MySQL @@gtid_executed; MariaDB its applied position. */
static gtid_state_t *applied_of(const observation_t *o)
{
    return o->family == FAMILY_MARIADB ? parsed_or_text(o, o->applied_st, o->executed_gtids)
                                       : parsed_or_text(o, o->executed_st, o->gtid_executed);
}

/* Received: MySQL executed ∪ retrieved; MariaDB the furthest of IO and applied. */
gtid_state_t *elect__received_of(const observation_t *o)
{
    gtid_state_t *applied = applied_of(o);
    gtid_state_t *io = parsed_or_text(o, o->received_st, o->received_gtids);
    gtid_state_t *u =
        o->family == FAMILY_MARIADB ? gtid_state_union(io, applied) : gtid_state_union(applied, io);
    gtid_state_free(applied);
    gtid_state_free(io);
    return u;
}

/* Transactions received but not applied. */
long long elect__backlog_of(const observation_t *o, const gtid_state_t *recv)
{
    gtid_state_t *applied = applied_of(o);
    long long n = (long long)gtid_state_count_beyond(recv, applied);
    gtid_state_free(applied);
    return n;
}

/* Errant transactions of replica o against the old primary p (see elect.h). */
char *elect_errant(const observation_t *o, const observation_t *p)
{
    if (!p->ok || !p->gtid_executed || p->gtid_error)
        return xstrdup(""); /* the primary was never seen: nothing to compare with */
    if (o->gtid_error)
        return xstrdup(""); /* unknown, not errant: the node's own error says so */
    /* The families really differ here: a MySQL set names every transaction,
     * so the errant ones are the difference, less the old primary's own
     * (by its UUID); a MariaDB position names one per domain, which takes the
     * two signs read below. */
    if (o->family != FAMILY_MARIADB) {
        gtid_set_t *mine = elect__set_of(o->gtid_executed),
                   *theirs = elect__set_of(p->gtid_executed);
        gtid_set_t *d = gtid_set_subtract(mine, theirs);
        gtid_set_t *errant = gtid_set_new();
        for (size_t i = 0; i < gtid_set_group_count(d); i++) {
            gtid_group_t g = gtid_set_group(d, i);
            /* The primary's own later transactions are not errant: it wrote them after
             * its last probe and the replica received them. */
            if (p->server_uuid && strcasecmp(g.uuid, p->server_uuid) == 0)
                continue;
            for (size_t k = 0; k < g.n_iv; k++)
                gtid_set_add(errant, g.uuid, g.tag, g.iv[k].first, g.iv[k].last, NULL, 0);
        }
        char *text = gtid_set_format_line(errant);
        gtid_set_free(mine);
        gtid_set_free(theirs);
        gtid_set_free(d);
        gtid_set_free(errant);
        return text;
    }
    /* MariaDB positions keep only the last transaction per domain, so two
     * signs are read: an entry of another server beyond the primary's
     * position; and, where the replica replicates the domain, a last logged
     * transaction of its own that is not the last one it replicated. The
     * second catches a local write even after the primary went past its
     * sequence number (under gtid_strict_mode the replica then stops at the
     * primary's transaction with that number, with the local one last in its
     * binary log). */
    gtid_pos_t *mine = pos_of(o->gtid_executed), *theirs = pos_of(p->gtid_executed);
    gtid_pos_t *slave = pos_of(o->gtid_slave_pos ? o->gtid_slave_pos : o->executed_gtids);
    gtid_pos_t *errant = gtid_pos_new();
    for (size_t i = 0; i < mine->n; i++) {
        const gtid_pos_entry_t *e = &mine->e[i];
        const gtid_pos_entry_t *t = gtid_pos_find(theirs, e->domain);
        const gtid_pos_entry_t *r = gtid_pos_find(slave, e->domain);
        bool beyond = e->server != p->server_id && (!t || e->seq > t->seq);
        bool local = o->server_id && e->server == o->server_id && e->server != p->server_id && r &&
                     (r->server != e->server || r->seq != e->seq) && e->seq >= r->seq;
        if (beyond || local)
            gtid_pos_set(errant, e->domain, e->server, e->seq);
    }
    char *text = gtid_pos_format(errant);
    gtid_pos_free(mine);
    gtid_pos_free(theirs);
    gtid_pos_free(slave);
    gtid_pos_free(errant);
    return text;
}

char *elect_primary_only(const cluster_t *c, int old_primary, const elect_result_t *e)
{
    if (old_primary < 0)
        return xstrdup("");
    const observation_t *p = &c->nodes[old_primary].last_ok;
    if (!p->ok || !p->gtid_executed || p->gtid_error || !e->union_text)
        return xstrdup("");
    gtid_state_t *mine = elect__state_of(elect__family_of(p), p->gtid_executed);
    gtid_state_t *all = elect__state_of(elect__family_of(p), e->union_text);
    char *text = gtid_state_beyond_text(mine, all, NULL);
    gtid_state_free(mine);
    gtid_state_free(all);
    return text;
}

long long elect_backlog(const observation_t *o)
{
    if (!o->ok || !o->replica || o->gtid_error)
        return -1;
    gtid_state_t *recv = elect__received_of(o);
    long long n = elect__backlog_of(o, recv);
    gtid_state_free(recv);
    return n;
}

char *elect_lost(const cluster_t *c, int old_primary, const elect_result_t *e, const char *kept,
                 uint64_t *count)
{
    const observation_t *prim = old_primary >= 0 ? &c->nodes[old_primary].last_ok : NULL;
    const char *seen = prim && prim->ok && !prim->gtid_error ? prim->gtid_executed : NULL;
    bool mysql = true;
    if (e->chosen >= 0 && c->nodes[e->chosen].last_ok.ok)
        mysql = c->nodes[e->chosen].last_ok.family != FAMILY_MARIADB;
    else if (prim && prim->ok)
        mysql = prim->family != FAMILY_MARIADB;
    *count = 0;
    server_family_t fam = mysql ? FAMILY_MYSQL : FAMILY_MARIADB;
    gtid_state_t *all = elect__state_of(fam, e->union_text), *old = elect__state_of(fam, seen),
                 *have = elect__state_of(fam, kept);
    gtid_state_add(all, old);
    char *text;
    if (mysql) {
        text = gtid_state_beyond_text(all, have, count);
    } else {
        /* A MariaDB position names only the last transaction of a domain:
         * what is lost is stated as the range from the kept position to the
         * furthest one (every transaction in between), not as the furthest
         * position alone as gtid_state_beyond_text would write it. */
        gtid_pos_diff_t *d = gtid_pos_diff(have->pos, all->pos);
        text = gtid_pos_diff_format_range(d, count);
        gtid_pos_diff_free(d);
    }
    gtid_state_free(all);
    gtid_state_free(old);
    gtid_state_free(have);
    return text;
}

/* ---- the parse check at the boundary, and received sets that go backwards ---- */

/* Parses text (the value of name) in the flavor: its state, or NULL with
 * "NAME 'TEXT': why" appended to b (*ok false) when it does not parse. An
 * absent text is no state and no error. */
static gtid_state_t *parse_one(buf_t *b, bool *ok, bool mysql, const char *name,
                               const char *text)
{
    if (!text || !*ok)
        return NULL;
    char err[256] = "";
    gtid_state_t *s =
        gtid_state_parse(mysql ? FAMILY_MYSQL : FAMILY_MARIADB, text, err, sizeof err);
    if (!s) {
        *ok = false;
        buf_printf(b, "%s '%.200s' can't be parsed: %s", name, text, err[0] ? err : "invalid");
    }
    return s;
}

/* Every GTID text of o parsed once, in a fixed order (the first that fails
 * is the error): the executed, received and applied states into st[0..2]
 * (all NULL on an error); the error text, or NULL. */
static char *parse_all(const observation_t *o, gtid_state_t *st[3])
{
    bool mysql = o->family != FAMILY_MARIADB, ok = true;
    buf_t b = BUF_INIT;
    gtid_state_t *extra[2] = {NULL, NULL};
    st[0] = parse_one(&b, &ok, mysql, mysql ? "@@gtid_executed" : "@@gtid_binlog_pos",
                      o->gtid_executed);
    if (!mysql) {
        extra[0] = parse_one(&b, &ok, false, "@@gtid_current_pos", o->gtid_current_pos);
        extra[1] = parse_one(&b, &ok, false, "@@gtid_slave_pos", o->gtid_slave_pos);
    }
    st[1] = parse_one(&b, &ok, mysql, mysql ? "Retrieved_Gtid_Set" : "Gtid_IO_Pos",
                      o->received_gtids);
    st[2] = parse_one(&b, &ok, mysql, mysql ? "Executed_Gtid_Set" : "Gtid_Slave_Pos",
                      o->executed_gtids);
    gtid_state_free(extra[0]);
    gtid_state_free(extra[1]);
    if (ok) {
        buf_free(&b);
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        gtid_state_free(st[i]);
        st[i] = NULL;
    }
    return buf_steal(&b);
}

char *elect_gtid_error(const observation_t *o)
{
    if (!o->ok)
        return NULL;
    gtid_state_t *st[3];
    char *err = parse_all(o, st);
    for (int i = 0; i < 3; i++)
        gtid_state_free(st[i]);
    return err;
}

char *elect_gtid_enter(observation_t *o)
{
    if (!o->ok)
        return NULL;
    gtid_state_t *st[3];
    char *err = parse_all(o, st);
    gtid_state_free(o->executed_st);
    gtid_state_free(o->received_st);
    gtid_state_free(o->applied_st);
    o->executed_st = st[0];
    o->received_st = st[1];
    o->applied_st = st[2];
    o->gtids_parsed = true;
    return err;
}

static bool usable(const observation_t *o)
{
    return o->ok && o->replica && !o->gtid_error;
}

char *elect_received_regress(const observation_t *before, const observation_t *after,
                             uint64_t *count)
{
    *count = 0;
    if (!usable(before) || !usable(after) ||
        (before->family == FAMILY_MARIADB) != (after->family == FAMILY_MARIADB))
        return xstrdup("");
    /* MySQL: what was received before and is not now; MariaDB, per domain,
     * where the position now is short of the one before. */
    gtid_state_t *b = elect__received_of(before), *a = elect__received_of(after);
    char *text = gtid_state_beyond_text(b, a, count);
    gtid_state_free(b);
    gtid_state_free(a);
    return text;
}

void elect_add_received(elect_result_t *e, const observation_t *o)
{
    if (!usable(o))
        return;
    gtid_state_t *g = elect__received_of(o);
    gtid_state_t *u = elect__state_of(g->family, e->union_text);
    gtid_state_add(u, g);
    char *text = gtid_state_format(u);
    gtid_state_free(u);
    gtid_state_free(g);
    free(e->union_text);
    e->union_text = text;
}
