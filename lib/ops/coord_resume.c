/* coord_resume.c - see coord.h: the reads and writes by which a leader
 * finds, and closes, an operation a previous leader left open. */
#include "coord_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

/* A read whose etcd request is out, listed in c->reads: etcd closed with the
 * request out never calls back, so coord_free answers it (as failed) and
 * frees it; the token the caller gave is often freed by the answer. */
struct read_req {
    read_req_t *next;
    coord_t *c;
    coord_read_fn answer;
    void *token;
};

static void unlink_read(coord_t *c, read_req_t *q)
{
    for (read_req_t **pp = &c->reads; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            return;
        }
}

static void on_range(void *ud, const etcd_reply_t *r)
{
    read_req_t *q = ud;
    unlink_read(q->c, q);
    if (!r->ok)
        q->answer(q->token, false, NULL, r->err);
    else
        q->answer(q->token, true, r->n_kvs ? r->kvs[0].value : NULL, NULL);
    free(q);
}

void coord_read_failover(coord_t *c, const char *cluster, coord_read_fn answer, void *token)
{
    read_req_t *q = xcalloc(1, sizeof *q);
    q->c = c;
    q->answer = answer;
    q->token = token;
    q->next = c->reads;
    c->reads = q;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s%s/failover", c->prefix, cluster);
    etcd_range(c->e, buf_str(&b), on_range, q);
    buf_free(&b);
}

void coord__free_reads(coord_t *c)
{
    while (c->reads) {
        read_req_t *q = c->reads;
        c->reads = q->next;
        q->answer(q->token, false, NULL, "the coordination closed before etcd answered");
        free(q);
    }
}

static void end_recorded(void *token, int outcome, const char *msg)
{
    char *what = token;
    if (outcome == 0)
        log_info("%s recorded in etcd", what);
    else
        log_warn("%s not recorded in etcd: %s; a later leader will find it open", what,
                 msg ? msg : "?");
    free(what);
}

void coord_record_end(coord_t *c, const char *cluster, const char *op, const char *kind,
                      const char *type)
{
    if (!c || !op)
        return;
    buf_t b = BUF_INIT;
    buf_printf(&b, "the end (%s) of %s %s", type, kind, op);
    char step[64];
    snprintf(step, sizeof step, "end:%s", type);
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "op", op, "kind", kind, "type", type,
                            "step", step);
    coord_step_guard(c, cluster, rec, false, NULL, end_recorded, buf_steal(&b));
}
