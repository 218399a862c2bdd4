/* coord_state.c - see coord.h: the cluster's shared state and its history in
 * etcd (docs/ha.md, "The shared state").
 *
 * The writes are the leader's only: one txn each, whose compares are the
 * step guard's (the leader key was created at this manager's term and holds
 * its value), so a deposed leader's write changes nothing.  Unlike a step
 * guard they do not renew the lease first: they start nothing on a server.
 *
 * Every request is kept on c->sreqs until etcd answers it, so that closing
 * the coordination can answer what is still out (the daemon is stopping)
 * and free what etcd will never call back, and a caller that goes away
 * first can forget its token (coord_state_forget). */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

typedef enum { SREQ_WRITE, SREQ_READ, SREQ_HISTORY_PUT, SREQ_HISTORY_READ, SREQ_TRIM } sreq_kind_t;

struct sreq {
    sreq_t *next;
    coord_t *c;
    sreq_kind_t kind;
    void *token;
    coord_read_fn read_answer;      /* SREQ_READ */
    coord_history_fn hist_answer;   /* SREQ_HISTORY_READ */
    coord_write_fn write_answer;    /* SREQ_WRITE, SREQ_HISTORY_PUT */
    bool answered;                  /* the answer went out (closing): only free it */
    char *key, *value;
};

static sreq_t *sreq_new(coord_t *c, sreq_kind_t kind, void *token)
{
    sreq_t *q = xcalloc(1, sizeof *q);
    q->c = c;
    q->kind = kind;
    q->token = token;
    q->next = c->sreqs;
    c->sreqs = q;
    return q;
}

static void sreq_free(sreq_t *q)
{
    coord_t *c = q->c;
    for (sreq_t **pp = &c->sreqs; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    free(q->key);
    free(q->value);
    free(q);
}

/* Answers q once (ok false: err says why); nothing when its caller forgot it. */
static void sreq_answer(sreq_t *q, bool ok, const etcd_reply_t *r, const char *err)
{
    if (q->answered)
        return;
    q->answered = true;
    switch (q->kind) {
    case SREQ_WRITE:
    case SREQ_HISTORY_PUT:
        if (q->write_answer)
            q->write_answer(q->token, ok, err);
        break;
    case SREQ_READ:
        if (q->read_answer)
            q->read_answer(q->token, ok, ok && r->n_kvs ? r->kvs[0].value : NULL, err);
        break;
    case SREQ_HISTORY_READ:
        if (q->hist_answer) {
            json_t *entries = json_array();
            for (size_t i = 0; ok && i < r->n_kvs; i++) {
                json_t *e = json_loads(r->kvs[i].value, 0, NULL);
                if (json_is_object(e))
                    json_array_append(entries, e);
                else
                    log_warn("etcd: history entry %s is not a JSON object; left out",
                             r->kvs[i].key);
                json_decref(e);
            }
            q->hist_answer(q->token, ok, ok ? entries : NULL, err);
            json_decref(entries);
        }
        break;
    case SREQ_TRIM: break;
    }
}

/* ---- writes ------------------------------------------------------------------------ */

static void trim_history(coord_t *c, const char *cluster);

static void on_written(void *ud, const etcd_reply_t *r)
{
    sreq_t *q = ud;
    coord_t *c = q->c;
    char msg[384];
    if (!r->ok) {
        snprintf(msg, sizeof msg, "etcd did not take the write: %s", r->err);
        sreq_answer(q, false, r, msg);
    } else if (!r->succeeded) {
        snprintf(msg, sizeof msg, "the leader key no longer holds term %lld of manager %s",
                 (long long)c->term, c->id);
        sreq_answer(q, false, r, msg);
    } else {
        sreq_answer(q, true, r, NULL);
        if (q->kind == SREQ_HISTORY_PUT && q->value)
            trim_history(c, q->value); /* the cluster's name, kept there */
    }
    sreq_free(q);
}

/* A txn putting value under key, if this manager still leads in its term. */
static void guarded_put(coord_t *c, sreq_t *q, const char *key, const char *value)
{
    char msg[384];
    if (!coord__leading(c)) {
        snprintf(msg, sizeof msg, "%s", coord_why_not(c));
        sreq_answer(q, false, NULL, msg);
        sreq_free(q);
        return;
    }
    etcd_cmp_t cmp[2] = {
        {.key = c->k_leader, .target = ETCD_CMP_CREATE, .create_revision = c->term},
        {.key = c->k_leader, .target = ETCD_CMP_VALUE, .value = c->my_value},
    };
    etcd_op_t op = {.key = key, .value = value, .lease = 0};
    etcd_txn(c->e, cmp, 2, &op, 1, NULL, on_written, q);
}

/* The record with its writer added, as text. */
static char *stamped(coord_t *c, json_t *rec)
{
    json_object_set_new(rec, "term", json_integer(c->term));
    json_object_set_new(rec, "manager", json_string(c->id));
    char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(rec);
    return text;
}

void coord_state_write(coord_t *c, const char *cluster, json_t *state, coord_write_fn answer,
                       void *token)
{
    sreq_t *q = sreq_new(c, SREQ_WRITE, token);
    q->write_answer = answer;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/state", c->prefix, cluster);
    char *text = stamped(c, state);
    guarded_put(c, q, buf_str(&b), text);
    free(text);
    buf_free(&b);
}

void coord_history_put(coord_t *c, const char *cluster, const char *op, json_t *entry,
                       coord_write_fn answer, void *token)
{
    sreq_t *q = sreq_new(c, SREQ_HISTORY_PUT, token);
    q->write_answer = answer;
    q->value = xstrdup(cluster);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/history/%s", c->prefix, cluster, op);
    char *text = stamped(c, entry);
    guarded_put(c, q, buf_str(&b), text);
    free(text);
    buf_free(&b);
}

/* ---- keeping the history bounded ------------------------------------------------------ */

static void on_deleted(void *ud, const etcd_reply_t *r)
{
    sreq_t *q = ud;
    if (!r->ok)
        log_warn("etcd: old history entry %s not deleted: %s", q->key, r->err);
    sreq_free(q);
}

/* Keys sort by operation id, whose first part is the hex wall clock of its
 * start: the oldest come first. */
static void on_trim_range(void *ud, const etcd_reply_t *r)
{
    sreq_t *q = ud;
    coord_t *c = q->c;
    for (size_t i = 0; r->ok && r->n_kvs > COORD_HISTORY_KEEP && i < r->n_kvs - COORD_HISTORY_KEEP;
         i++) {
        if (!coord__leading(c))
            break;
        sreq_t *d = sreq_new(c, SREQ_TRIM, NULL);
        d->key = xstrdup(r->kvs[i].key);
        etcd_delete(c->e, d->key, on_deleted, d);
    }
    sreq_free(q);
}

static void trim_history(coord_t *c, const char *cluster)
{
    if (!coord__leading(c))
        return;
    sreq_t *q = sreq_new(c, SREQ_TRIM, NULL);
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/history/", c->prefix, cluster);
    etcd_range_prefix(c->e, buf_str(&b), on_trim_range, q);
    buf_free(&b);
}

/* ---- reads ---------------------------------------------------------------------------- */

static void on_read(void *ud, const etcd_reply_t *r)
{
    sreq_t *q = ud;
    sreq_answer(q, r->ok, r, r->ok ? NULL : r->err);
    sreq_free(q);
}

void coord_state_read(coord_t *c, const char *cluster, coord_read_fn answer, void *token)
{
    sreq_t *q = sreq_new(c, SREQ_READ, token);
    q->read_answer = answer;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/state", c->prefix, cluster);
    etcd_range(c->e, buf_str(&b), on_read, q);
    buf_free(&b);
}

void coord_history_read(coord_t *c, const char *cluster, coord_history_fn answer, void *token)
{
    sreq_t *q = sreq_new(c, SREQ_HISTORY_READ, token);
    q->hist_answer = answer;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/history/", c->prefix, cluster);
    etcd_range_prefix(c->e, buf_str(&b), on_read, q);
    buf_free(&b);
}

/* ---- life ------------------------------------------------------------------------------ */

const char *coord_manager_id(const coord_t *c) { return c ? c->id : NULL; }

void coord_state_forget(coord_t *c, void *token)
{
    if (!c)
        return;
    for (sreq_t *q = c->sreqs; q; q = q->next)
        if (q->token == token)
            q->answered = true;
}

void coord__state_close(coord_t *c)
{
    for (sreq_t *q = c->sreqs; q; q = q->next)
        sreq_answer(q, false, NULL, "the daemon is stopping");
}

void coord__state_free(coord_t *c)
{
    while (c->sreqs)
        sreq_free(c->sreqs);
}
