/* rejoin_compare.c - the rejoin's decisions (pure: see rejoin.h). */
#include "rejoin_compare.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "gtid.h"
#include "tree.h"

rejoin_action_t rejoin_next(const cluster_t *c, const rejoin_memo_t *memo, uint64_t now,
                            uint64_t retry_ms, int *node)
{
    *node = -1;
    int p = c->primary;
    if (p < 0)
        return REJOIN_NOTHING;
    const node_t *pn = &c->nodes[p];
    if (!pn->up || !pn->last_ok.ok || pn->last_ok.read_only) {
        /* The primary failoverd promoted can't be seen: the primary it took
         * over from, back writable (a hung old primary resuming), is fenced
         * all the same (model.c keeps the promoted node the primary then). */
        int d = c->demoted ? cluster_find_node_by_name(c, c->demoted) : -1;
        const node_t *dn = d >= 0 ? &c->nodes[d] : NULL;
        if (!dn || d == p || !c->promoted || strcmp(c->promoted, pn->name) != 0 || !dn->up ||
            !dn->last_ok.ok || dn->last_ok.read_only ||
            (memo[d].fence_at && now < memo[d].fence_at + retry_ms))
            return REJOIN_NOTHING;
        *node = d;
        return REJOIN_FENCE;
    }
    /* Two writable nodes first: the one that is not the primary is fenced. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        if ((int)i == p || !n->up || !n->last_ok.ok || n->last_ok.read_only)
            continue;
        if (memo[i].fence_at && now < memo[i].fence_at + retry_ms)
            continue;
        *node = (int)i;
        return REJOIN_FENCE;
    }
    /* Then the read-only nodes that don't follow the primary, once per GTID state. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        const node_t *n = &c->nodes[i];
        const observation_t *o = &n->last_ok;
        if ((int)i == p || !n->up || !o->ok || !o->read_only)
            continue;
        if (o->replica) {
            int src = cluster_source_of(c, o);
            /* A replica of the primary back from being down, whose
             * replication is stopped, not broken (restarted with
             * skip_replica_start: the old half of a dual primary after a
             * failover, which pointed at its partner all along), is checked
             * like an old primary: it holds nothing the primary lacks before
             * it is started. One an operator stopped is left alone. */
            bool stopped = memo[i].returned && o->io == IO_NO && !o->sql_running &&
                           !o->last_io_errno && !o->last_sql_errno;
            if ((src == p && !stopped) || (src < 0 && o->io == IO_YES))
                continue; /* a replica of the primary, or of a server outside the cluster */
            if (tree_relayed(c, (int)i, p))
                continue; /* a replica of a live relay below the primary (tree.h) */
            /* A replica still following another node of the cluster (it was
             * hung or cut off while an operation repointed the others) is
             * checked and repointed like any node left behind. */
        }
        if (memo[i].checked && rejoin_same_state(memo[i].checked, o->gtid_executed))
            continue;
        *node = (int)i;
        return REJOIN_CHECK;
    }
    return REJOIN_NOTHING;
}

bool rejoin_same_state(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    for (;;) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (*a != *b)
            return false;
        if (!*a)
            return true;
        a++;
        b++;
    }
}

bool rejoin_waits_for_ack(const char *state)
{
    return state && strncasecmp(state, "Waiting for semi-sync ACK", 25) == 0;
}

bool rejoin_fence_cuts(const char *user, const char *command, const char *state,
                       const char *own_user)
{
    if (!user || !command)
        return false;
    if (strcmp(user, "system user") == 0 || strcmp(user, "event_scheduler") == 0)
        return false; /* the server's own threads: replication, events */
    if (strcasecmp(command, "Killed") == 0 || strcasecmp(command, "Daemon") == 0 ||
        strncasecmp(command, "Binlog Dump", 11) == 0)
        return false; /* cut off already; server threads; a replica reading the binlog */
    if (own_user && strcmp(user, own_user) == 0)
        return rejoin_waits_for_ack(state); /* failoverd's own sessions write no data */
    return true;
}

/* The entries "d-s-n" of a MariaDB gtid_binlog_state (several per domain). */
static gtid_pos_entry_t *parse_state(const char *text, size_t *n, char *err, size_t errlen)
{
    gtid_pos_entry_t *out = NULL;
    *n = 0;
    char *copy = xstrdup(text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        gtid_pos_t *one = gtid_pos_parse(tok, err, errlen);
        if (!one || one->n != 1) {
            if (one && err)
                snprintf(err, errlen, "\"%s\" is not one GTID", tok);
            gtid_pos_free(one);
            free(out);
            free(copy);
            return NULL;
        }
        out = xrealloc(out, (*n + 1) * sizeof *out);
        out[(*n)++] = one->e[0];
        gtid_pos_free(one);
    }
    free(copy);
    if (!*n && text[strspn(text, " \t\r\n")]) {
        /* Only separators ("," or ", ,"): not a state, and the caller reports err. */
        if (err)
            snprintf(err, errlen, "\"%s\" holds no GTID", text);
        return NULL;
    }
    return out;
}

static int compare_mariadb(const char *node, const char *primary, char **errant, char *err,
                           size_t errlen)
{
    char e[GTID_ERR_SIZE] = "";
    gtid_pos_t *np = gtid_pos_parse(node, e, sizeof e);
    if (!np) {
        snprintf(err, errlen, "the node's position: %s", e);
        return -1;
    }
    size_t ns = 0;
    gtid_pos_entry_t *st = parse_state(primary, &ns, e, sizeof e);
    if (!st && primary[strspn(primary, " \t\r\n")]) {
        snprintf(err, errlen, "the primary's binlog state: %s", e);
        gtid_pos_free(np);
        return -1;
    }
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < np->n; i++) {
        const gtid_pos_entry_t *x = &np->e[i];
        const gtid_pos_entry_t *have = NULL;
        for (size_t k = 0; k < ns; k++)
            if (st[k].domain == x->domain && st[k].server == x->server)
                have = &st[k];
        if (have && have->seq >= x->seq)
            continue;
        buf_printf(&b, "%s%u-%u-%llu", b.len ? ", " : "", x->domain, x->server,
                   (unsigned long long)x->seq);
        if (have)
            buf_printf(&b, " (the primary has up to %u-%u-%llu)", have->domain, have->server,
                       (unsigned long long)have->seq);
        else
            buf_printf(&b, " (the primary has nothing from server %u in domain %u)", x->server,
                       x->domain);
    }
    gtid_pos_free(np);
    free(st);
    if (!b.len) {
        buf_free(&b);
        return 1;
    }
    *errant = buf_steal(&b);
    return 0;
}

/* The families differ here, and on purpose: a MariaDB node's binlog position
 * is compared server by server with the primary's binlog STATE (one entry per
 * domain and server), which is not a gtid_state_t (a position keeps one entry
 * per domain). A MySQL node's set is compared with gtid_state_covers. */
int rejoin_compare(bool mariadb, const char *node, const char *primary, char **errant, char *err,
                   size_t errlen)
{
    *errant = NULL;
    node = node ? node : "";
    primary = primary ? primary : "";
    if (mariadb)
        return compare_mariadb(node, primary, errant, err, errlen);
    char e[GTID_ERR_SIZE];
    gtid_state_t *a = gtid_state_parse(FAMILY_MYSQL, node, e, sizeof e);
    if (!a) {
        snprintf(err, errlen, "the node's GTID set: %s", e);
        return -1;
    }
    gtid_state_t *b = gtid_state_parse(FAMILY_MYSQL, primary, e, sizeof e);
    if (!b) {
        snprintf(err, errlen, "the primary's GTID set: %s", e);
        gtid_state_free(a);
        return -1;
    }
    int rc = gtid_state_covers(b, a) ? 1 : 0;
    if (!rc)
        *errant = gtid_state_beyond_text(a, b, NULL);
    gtid_state_free(a);
    gtid_state_free(b);
    return rc;
}
