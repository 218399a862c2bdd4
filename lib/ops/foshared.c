/* foshared.c - coordination: the cluster's state that every manager shares
 * through etcd (docs/ha.md, "The shared state"; the format is
 * lib/core/hastate.h).
 *
 * The leader writes it whenever it changes - a pause or resume, an ack, a
 * hold entered, an operation ended - asynchronously, the latest state
 * winning, and tries a failed write again every second while it leads. A
 * manager that becomes the leader reads it before it admits anything
 * (foharesume.c chains that read before the operation record's) and adopts
 * it: paused stays paused, a hold stays held until `failoverctl ack`, and the
 * failover_block window counts from the previous leader's last failover.
 * Followers read it every second and show what the leader sees. Nothing here
 * runs in standalone mode (f->s.coord NULL). */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord.h"
#include "event.h"
#include "hastate.h"
#include "log.h"
#include "timefmt.h"

#define SHARED_READ_MS 1000
#define SHARED_RETRY_MS 1000

struct fo_shared {
    char *paused_by;
    uint64_t paused_at_ms;
    char *held_by;          /* the manager that held the cluster first */
    uint64_t held_at_ms;
    char *last_old, *last_new; /* the last failover's nodes, when adopted */
    hastate_t seen;         /* the state as last read, adopted or written */
    bool has_seen;
    char err[384];          /* the last read or write that failed; "" none */
    bool dirty, writing, failing, reading;
    uint64_t retry_at, next_read; /* loop ms */
};

static struct fo_shared *sh_of(failover_t *f)
{
    if (!f->sh)
        f->sh = xcalloc(1, sizeof *f->sh);
    return f->sh;
}

static bool leading(failover_t *f)
{
    return f->s.coord && !coord_why_not(f->s.coord);
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = s ? xstrdup(s) : NULL;
}

static void remember(struct fo_shared *sh, const hastate_t *s)
{
    hastate_free(&sh->seen);
    hastate_copy(&sh->seen, s);
    sh->has_seen = true;
}

/* The state as this manager holds it now. Borrowed strings: use at once. */
static void build(failover_t *f, hastate_t *s)
{
    struct fo_shared *sh = sh_of(f);
    if (f->state_unknown && !sh->held_by) {
        sh->held_by = xstrdup(coord_manager_id(f->s.coord));
        sh->held_at_ms = wall_now_ms();
    } else if (!f->state_unknown) {
        set_str(&sh->held_by, NULL);
        sh->held_at_ms = 0;
    }
    const json_t *lo = f->last_op;
    const char *lop = json_string_value(json_object_get(lo, "op"));
    bool own = lop && f->last_failover_op && strcmp(lop, f->last_failover_op) == 0;
    *s = (hastate_t){
        .cluster = (char *)f->s.cluster, .paused = f->paused, .paused_by = sh->paused_by,
        .paused_at_ms = sh->paused_at_ms, .held = f->state_unknown, .held_by = sh->held_by,
        .held_at_ms = sh->held_at_ms,
        .has_last = f->last_failover_wall && f->last_failover_op && f->last_failover_op[0],
        .last_op = f->last_failover_op, .last_ended_ms = f->last_failover_wall,
        .last_old = own ? (char *)json_string_value(json_object_get(lo, "old_primary"))
                        : sh->last_old,
        .last_new = own ? (char *)json_string_value(json_object_get(lo, "new_primary"))
                        : sh->last_new,
        .last_acked = f->last_acked, .written_ms = wall_now_ms()};
}

static void flush(failover_t *f);

static void on_written(void *token, bool ok, const char *err)
{
    failover_t *f = token;
    struct fo_shared *sh = f->sh;
    sh->writing = false;
    if (ok) {
        if (sh->failing)
            log_notice("cluster %s: the shared state is written in etcd again", f->s.cluster);
        sh->failing = false;
        sh->err[0] = '\0';
        flush(f);
        return;
    }
    snprintf(sh->err, sizeof sh->err, "%s", err ? err : "?");
    if (!leading(f))
        return; /* the next leader reads the state as it was; it writes its own */
    sh->dirty = true;
    sh->retry_at = uv_now(f->loop) + SHARED_RETRY_MS;
    if (!sh->failing)
        event_emit(LOG_LVL_ERROR, EV_COORD_STATE_WRITE_FAILED, f->s.cluster, NULL,
                   json_pack("{s:s?, s:s}", "manager", coord_manager_id(f->s.coord), "error",
                             sh->err),
                   "the cluster's shared state could not be written in etcd (%s): the other "
                   "managers do not see the latest pause, ack, hold or failover; tried again "
                   "every %d ms while this manager leads",
                   sh->err, SHARED_RETRY_MS);
    sh->failing = true;
}

static void flush(failover_t *f)
{
    struct fo_shared *sh = sh_of(f);
    if (!sh->dirty || sh->writing)
        return;
    if (!leading(f)) {
        sh->dirty = false;
        return;
    }
    if (uv_now(f->loop) < sh->retry_at)
        return;
    hastate_t s;
    build(f, &s);
    s.manager = (char *)coord_manager_id(f->s.coord);
    remember(sh, &s);
    sh->dirty = false;
    sh->writing = true;
    coord_state_write(f->s.coord, f->s.cluster, hastate_to_json(&s), on_written, f);
}

void fo_shared_changed(failover_t *f)
{
    if (!f->s.coord)
        return;
    sh_of(f)->dirty = true;
    flush(f);
}

void failover_pause_by(failover_t *f, bool paused, const char *who)
{
    if (f->s.coord && f->paused != paused) {
        struct fo_shared *sh = sh_of(f);
        set_str(&sh->paused_by, paused ? who : NULL);
        sh->paused_at_ms = paused ? wall_now_ms() : 0;
    }
    failover_pause(f, paused);
}

/* ---- adopting what the leader wrote ---------------------------------------------------- */

/* Takes s's pause and last failover (a newer one than this manager knows). */
static void mirror(failover_t *f, const hastate_t *s)
{
    struct fo_shared *sh = sh_of(f);
    f->paused = s->paused;
    set_str(&sh->paused_by, s->paused_by);
    sh->paused_at_ms = s->paused_at_ms;
    if (s->has_last && s->last_ended_ms >= f->last_failover_wall) {
        bool same = f->last_failover_op && strcmp(f->last_failover_op, s->last_op) == 0;
        f->last_failover_wall = s->last_ended_ms;
        f->last_acked = s->last_acked || (same && f->last_acked);
        set_str(&f->last_failover_op, s->last_op);
        set_str(&sh->last_old, s->last_old);
        set_str(&sh->last_new, s->last_new);
    }
    remember(sh, s);
}

static void adopt(failover_t *f, const hastate_t *s)
{
    struct fo_shared *sh = sh_of(f);
    bool newer = s->has_last && s->last_ended_ms > f->last_failover_wall;
    mirror(f, s);
    /* The node the last failover promoted is failoverd's: the nodes it left
     * behind are seen to by this leader too (rejoin.h). */
    if (newer && s->last_new)
        fo_set_promoted(f, s->last_new, s->last_old);
    char until[32] = "none";
    uint64_t bu = hastate_blocked_until(s, f->s.failover_block_ms);
    if (bu > wall_now_ms())
        format_wall_ms(bu, until, sizeof until);
    log_notice("cluster %s: as the new leader, it adopts the shared state written by %s (term "
               "%lld): paused %s%s%s, held %s, last failover %s, blocked until %s",
               f->s.cluster, s->manager ? s->manager : "?", (long long)s->term,
               s->paused ? "yes" : "no", s->paused_by ? " by " : "",
               s->paused_by ? s->paused_by : "", s->held ? s->held : "no",
               s->has_last ? s->last_op : "none", until);
    if (s->held && !f->state_unknown) {
        set_str(&sh->held_by, s->held_by);
        sh->held_at_ms = s->held_at_ms;
        fo_hold_unknown(f, s->held);
    }
}

bool fo_shared_adopt(failover_t *f, bool ok, const char *value, const char *err)
{
    if (!ok) {
        log_warn("cluster %s: the shared state in etcd could not be read (%s); read again at "
                 "the next look, nothing starts before",
                 f->s.cluster, err ? err : "?");
        return false;
    }
    if (!value) {
        log_info("cluster %s: no shared state in etcd yet; this manager's own applies",
                 f->s.cluster);
    } else {
        hastate_t s;
        char why[320];
        if (hastate_parse(value, &s, why, sizeof why)) {
            adopt(f, &s);
        } else {
            char msg[400];
            snprintf(msg, sizeof msg, "the shared state in etcd can't be read: %s", why);
            fo_hold_unknown(f, msg);
        }
        hastate_free(&s);
    }
    fo_shared_changed(f); /* written under this leader's term */
    return true;
}

/* ---- followers --------------------------------------------------------------------------- */

static void on_follower_read(void *token, bool ok, const char *value, const char *err)
{
    failover_t *f = token;
    struct fo_shared *sh = f->sh;
    sh->reading = false;
    if (leading(f))
        return; /* this manager leads now: what it adopted and wrote since counts */
    if (!ok) {
        snprintf(sh->err, sizeof sh->err, "read: %s", err ? err : "?");
        return;
    }
    if (!value) {
        sh->err[0] = '\0';
        return;
    }
    hastate_t s;
    char why[320];
    if (!hastate_parse(value, &s, why, sizeof why)) {
        snprintf(sh->err, sizeof sh->err, "the shared state can't be read: %s", why);
        return;
    }
    sh->err[0] = '\0';
    mirror(f, &s);
    hastate_free(&s);
}

void fo_shared_look(failover_t *f)
{
    if (!f->s.coord)
        return;
    struct fo_shared *sh = sh_of(f);
    if (leading(f)) {
        flush(f);
        return;
    }
    uint64_t now = uv_now(f->loop);
    if (sh->reading || now < sh->next_read)
        return;
    sh->reading = true;
    sh->next_read = now + SHARED_READ_MS;
    coord_state_read(f->s.coord, f->s.cluster, on_follower_read, f);
}

/* ---- history ------------------------------------------------------------------------------- */

static void history_put(void *token, bool ok, const char *err)
{
    char *what = token;
    if (!ok)
        log_warn("%s not recorded in etcd: %s; it stays in this manager's journal", what,
                 err ? err : "?");
    free(what);
}

void fo_shared_op_ended(failover_t *f)
{
    if (!f->s.coord || !f->op)
        return;
    if (leading(f)) {
        json_t *all = journal_records(f->j, f->s.cluster);
        json_t *mine = json_array();
        size_t i;
        json_t *rec;
        json_array_foreach(all, i, rec)
        {
            const char *op = json_string_value(json_object_get(rec, "op"));
            if (op && strcmp(op, f->op) == 0)
                json_array_append(mine, rec);
        }
        json_t *ops = failover_history_ops(mine);
        json_t *entry = json_array_get(ops, 0);
        if (entry) {
            buf_t b = BUF_INIT;
            buf_printf(&b, "the history entry of %s %s", fo_kind_str(f->kind), f->op);
            coord_history_put(f->s.coord, f->s.cluster, f->op, json_incref(entry), history_put,
                              buf_steal(&b));
        }
        json_decref(ops);
        json_decref(mine);
        json_decref(all);
    }
    fo_shared_changed(f);
}

/* ---- status and life ---------------------------------------------------------------------- */

void fo_shared_status(failover_t *f, json_t *st)
{
    if (!f->s.coord)
        return;
    struct fo_shared *sh = sh_of(f);
    json_t *j = sh->has_seen ? hastate_to_json(&sh->seen) : json_object();
    char ts[32];
    if (sh->has_seen && sh->seen.written_ms) {
        format_wall_ms(sh->seen.written_ms, ts, sizeof ts);
        json_object_set_new(j, "written", json_string(ts));
    }
    uint64_t bu = sh->has_seen ? hastate_blocked_until(&sh->seen, f->s.failover_block_ms) : 0;
    if (bu > wall_now_ms()) {
        format_wall_ms(bu, ts, sizeof ts);
        json_object_set_new(j, "blocked_until", json_string(ts));
    }
    if (sh->err[0])
        json_object_set_new(j, "error", json_string(sh->err));
    json_object_set_new(st, "shared", j);
}

void fo_shared_free(failover_t *f)
{
    struct fo_shared *sh = f->sh;
    if (!sh)
        return;
    coord_state_forget(f->s.coord, f);
    free(sh->paused_by);
    free(sh->held_by);
    free(sh->last_old);
    free(sh->last_new);
    hastate_free(&sh->seen);
    free(sh);
    f->sh = NULL;
}
