/* daemon_history.c - `failoverctl history` when the managers coordinate
 * through etcd (docs/ha.md, "The shared state"): the cluster's operations as
 * the leaders recorded them under <prefix><cluster>/history/, whichever
 * manager ran them, together with what this manager's own journal holds
 * that etcd does not (an operation in flight or interrupted here).  The
 * reads are asynchronous, each bounded by etcd_timeout; when one fails the
 * answer is the local journal's history, and says so. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "coord.h"
#include "failover.h"
#include "journal.h"
#include "log.h"

#include "daemon_int.h"

typedef struct {
    daemon_t *d;
    control_req_t *req;
    char *cluster; /* NULL: every cluster */
    long long limit;
    size_t pending;
    json_t *entries; /* read from etcd */
    char err[512];   /* the first read that failed; "" none */
} hist_q_t;

typedef struct {
    json_t *e;
    size_t i;
} sorted_t;

static int by_start(const void *a, const void *b)
{
    const sorted_t *x = a, *y = b;
    const char *sx = json_string_value(json_object_get(x->e, "started"));
    const char *sy = json_string_value(json_object_get(y->e, "started"));
    int c = strcmp(sx ? sx : "", sy ? sy : "");
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Newest first, at most limit. */
static json_t *newest(json_t *ops, long long limit)
{
    size_t n = json_array_size(ops);
    sorted_t *v = xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (sorted_t){json_array_get(ops, i), i};
    qsort(v, n, sizeof *v, by_start);
    json_t *out = json_array();
    for (size_t k = n; k-- > 0 && json_array_size(out) < (size_t)limit;)
        json_array_append(out, v[k].e);
    free(v);
    return out;
}

static void finish(hist_q_t *q)
{
    json_t *recs = journal_records(q->d->journal, q->cluster);
    json_t *local = failover_history_ops(recs);
    json_decref(recs);
    json_t *reply;
    if (q->err[0]) {
        log_warn("history: %s; answering with this manager's journal", q->err);
        reply = json_pack("{s:o, s:s, s:s}", "operations", newest(local, q->limit), "source",
                          "journal", "etcd_error", q->err);
    } else {
        json_t *seen = json_object();
        size_t i;
        json_t *e;
        json_array_foreach(q->entries, i, e)
        {
            json_object_del(e, "term"); /* "manager": the leader that recorded it */
            const char *op = json_string_value(json_object_get(e, "op"));
            if (op)
                json_object_set(seen, op, e);
        }
        /* What this journal learnt of an operation after its entry was
         * written (an ack, the exact loss) is added to it. */
        json_array_foreach(local, i, e)
        {
            const char *op = json_string_value(json_object_get(e, "op"));
            json_t *known = op ? json_object_get(seen, op) : NULL;
            if (known)
                json_object_update_missing(known, e);
            else
                json_array_append(q->entries, e);
        }
        json_decref(seen);
        reply = json_pack("{s:o, s:s}", "operations", newest(q->entries, q->limit), "source",
                          "etcd");
    }
    json_decref(local);
    control_reply_ok(q->req, reply);
    json_decref(q->entries);
    free(q->cluster);
    free(q);
}

static void on_entries(void *token, bool ok, json_t *entries, const char *err)
{
    hist_q_t *q = token;
    if (!ok && !q->err[0])
        snprintf(q->err, sizeof q->err, "the history in etcd could not be read: %s",
                 err ? err : "?");
    else if (ok)
        json_array_extend(q->entries, entries);
    if (--q->pending == 0)
        finish(q);
}

void daemon_history_etcd(daemon_t *d, control_req_t *req, const char *cluster, long long limit)
{
    hist_q_t *q = xcalloc(1, sizeof *q);
    q->d = d;
    q->req = req;
    q->cluster = cluster ? xstrdup(cluster) : NULL;
    q->limit = limit;
    q->entries = json_array();
    for (size_t i = 0; i < d->n_cl; i++)
        if (!cluster || strcmp(cluster, d->cfg->clusters[i].name) == 0)
            q->pending++;
    if (cluster && q->pending == 0)
        q->pending = 1; /* not configured here: its keys may still be there */
    if (q->pending == 0) {
        finish(q);
        return;
    }
    if (cluster) {
        coord_history_read(d->coord, cluster, on_entries, q);
        return;
    }
    for (size_t i = 0; i < d->n_cl; i++)
        coord_history_read(d->coord, d->cfg->clusters[i].name, on_entries, q);
}
