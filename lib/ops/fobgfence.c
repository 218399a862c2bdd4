/* fobgfence.c - the fence of a silent old primary, in the background.
 *
 * An old primary that did not answer its last probe (a crashed host, a cut
 * link, a hung server) can't be fenced by SQL, and waiting for the attempt
 * only held the election up by fence_timeout. Its fence:OLD step
 * (STEP_FENCE_BG_START, plan_failover.c) starts this instead and ends at
 * once; the failover elects and promotes meanwhile. This keeps trying the
 * fence of a returning primary (rejoin_fence_for_failover: read-only queued,
 * client sessions cut off, MySQL's semi-sync waits ended) on the node until
 * it worked or fence_timeout has passed, an attempt at a time, each bounded by
 * step_timeout (its connection's timeout: a hung server's connection waits
 * in its listen queue, and is served the moment it runs again).
 *
 * The safety rules it keeps:
 *   - the replicas' IO threads are stopped in the same group as the start,
 *     before the election: the old primary gets no semi-sync acknowledgement
 *     from them, so no commit it takes is acknowledged while semi-sync is on;
 *   - just before the promotion, fence_wait:OLD (STEP_FENCE_BG_WAIT) waits
 *     for the attempt in flight when it reached the node (connected: the node
 *     runs again), so a node that returns before the promotion is read-only
 *     before anything else is writable; while it is silent, it does not wait;
 *   - a node that returns later is fenced by the attempt then in flight, and,
 *     once the failover ended, by the rejoin watch (rejoin.h) as well.
 * What it did is reported: fence_background_done or fence_background_gave_up
 * (events), a "fence_background" record in the failover's journal, and the
 * cluster's status ("fence_background"). */
#include "failover_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "journal.h"
#include "timefmt.h"
#include "wallclock.h"

typedef enum { BG_RUNNING, BG_FENCED, BG_GAVE_UP } bg_state_t;

struct fo_bgfence {
    failover_t *f;      /* NULL once the failover is freed */
    uv_timer_t timer;
    int node;
    char *name, *op;
    uint64_t started, until; /* loop ms */
    uint64_t started_wall;
    unsigned attempts;
    bool in_flight;     /* an attempt runs (the rejoin's fence) */
    bool closing;       /* the timer is being closed */
    bg_state_t state;
    char *last;         /* what the last attempt said */
    exec_answer_fn wait_answer; /* a fence_wait step waiting for the attempt */
    void *wait_token;
};

static const char *state_str(bg_state_t s)
{
    switch (s) {
    case BG_RUNNING: return "running";
    case BG_FENCED: return "fenced";
    case BG_GAVE_UP: return "gave_up";
    }
    return "?";
}

static void bg_free(fo_bgfence_t *b)
{
    free(b->name);
    free(b->op);
    free(b->last);
    free(b);
}

static void timer_closed(uv_handle_t *h)
{
    fo_bgfence_t *b = h->data;
    b->closing = false;
    if (!b->in_flight)
        bg_free(b);
}

static void tell_waiter(fo_bgfence_t *b, bool ok, const char *msg)
{
    exec_answer_fn fn = b->wait_answer;
    b->wait_answer = NULL;
    if (fn)
        fn(b->wait_token, ok ? 0 : 1, msg);
}

static void bg_end(fo_bgfence_t *b, bg_state_t st)
{
    failover_t *f = b->f;
    b->state = st;
    uint64_t ms = uv_now(f->loop) - b->started;
    json_t *fields = json_pack("{s:s, s:s, s:I, s:I, s:s}", "node", b->name, "state",
                               state_str(st), "attempts", (json_int_t)b->attempts,
                               "elapsed_ms", (json_int_t)ms, "message",
                               b->last ? b->last : "");
    if (!journal_record(f->j, f->s.cluster, b->op, "failover", "fence_background",
                        json_deep_copy(fields)))
        log_warn("%s: the end of %s's fence in the background could not be journaled",
                 f->s.cluster, b->name);
    if (st == BG_FENCED)
        event_emit(LOG_LVL_NOTICE, EV_FENCE_BACKGROUND_DONE, f->s.cluster, b->name, fields,
                   "the old primary %s is fenced, %llu ms after its failover began (%u "
                   "attempts): %s",
                   b->name, (unsigned long long)ms, b->attempts, b->last ? b->last : "");
    else
        event_emit(LOG_LVL_ERROR, EV_FENCE_BACKGROUND_GAVE_UP, f->s.cluster, b->name, fields,
                   "the old primary %s could not be fenced within %llu ms (%u attempts; last: "
                   "%s); it is fenced when it is seen writable again, or fence it by hand "
                   "(read-only, or cut it off)",
                   b->name, (unsigned long long)ms, b->attempts, b->last ? b->last : "");
}

/* The old primary answered again after another node became the primary: it
 * was writable beside it, and is reported as the rejoin watch reports such a
 * node (node_fenced), besides the end of this fence. */
static void report_returned(fo_bgfence_t *b)
{
    failover_t *f = b->f;
    cluster_t *c = monitor_cluster(f->m);
    int i = cluster_find_node_by_name(c, b->name);
    if (c->primary < 0 || i < 0 || c->primary == i)
        return;
    size_t cut;
    bool released;
    rejoin_fence_counts(f->rj, &cut, &released);
    const char *gtid = c->nodes[i].last_ok.gtid_executed;
    event_emit(LOG_LVL_WARN, EV_NODE_FENCED, f->s.cluster, b->name,
               json_pack("{s:s, s:s?, s:I, s:b, s:I}", "primary", c->nodes[c->primary].name,
                         "gtid", gtid, "sessions_cut", (json_int_t)cut, "semisync_released",
                         released, "fence_ms", (json_int_t)(uv_now(f->loop) - b->started)),
               "the old primary %s answered again while %s is the primary: its fence in the "
               "background %s",
               b->name, c->nodes[c->primary].name, b->last ? b->last : "made it read-only");
}

static void attempt(uv_timer_t *t);

static void attempt_done(void *ud, bool ok, const char *msg)
{
    fo_bgfence_t *b = ud;
    b->in_flight = false;
    free(b->last);
    b->last = xstrdup(msg ? msg : "");
    if (!b->f) { /* the failover was freed meanwhile */
        if (!b->closing)
            bg_free(b);
        return;
    }
    tell_waiter(b, ok, b->last);
    if (ok) {
        report_returned(b);
        bg_end(b, BG_FENCED);
        return;
    }
    if (uv_now(b->f->loop) >= b->until) {
        bg_end(b, BG_GAVE_UP);
        return;
    }
    uv_timer_start(&b->timer, attempt, BG_FENCE_RETRY_MS, 0);
}

static void attempt(uv_timer_t *t)
{
    fo_bgfence_t *b = t->data;
    failover_t *f = b->f;
    cluster_t *c = monitor_cluster(f->m);
    int i = cluster_find_node_by_name(c, b->name);
    if (i < 0) { /* a reload took it out of the cluster */
        free(b->last);
        b->last = xstrdup("the node is no longer in the cluster");
        bg_end(b, BG_GAVE_UP);
        return;
    }
    /* The rejoin runs one action at a time; busy, it is asked again soon. */
    if (rejoin_fence_for_failover(f->rj, c, i, uv_now(f->loop), attempt_done, b)) {
        b->in_flight = true;
        b->attempts++;
        return;
    }
    if (uv_now(f->loop) >= b->until) {
        free(b->last);
        b->last = xstrdup("the rejoin was busy with another node");
        bg_end(b, BG_GAVE_UP);
        return;
    }
    uv_timer_start(&b->timer, attempt, BG_FENCE_RETRY_MS, 0);
}

/* Forget an earlier fence: one still in flight ends on its own, bounded by
 * step_timeout (the rejoin's), without a report. */
static void bg_drop(failover_t *f)
{
    fo_bgfence_t *b = f->bg;
    if (!b)
        return;
    f->bg = NULL;
    tell_waiter(b, false, "a newer failover replaced this fence");
    b->f = NULL;
    uv_timer_stop(&b->timer);
    b->closing = true;
    uv_close((uv_handle_t *)&b->timer, timer_closed);
}

void fo_bgfence_start(failover_t *f, int node)
{
    cluster_t *c = monitor_cluster(f->m);
    if (f->bg && f->bg->state == BG_RUNNING && strcmp(f->bg->name, c->nodes[node].name) == 0)
        return; /* already trying (a second election of the same failover) */
    bg_drop(f); /* an earlier one in flight ends within its bound, and is still reported */
    fo_bgfence_t *b = xcalloc(1, sizeof *b);
    b->f = f;
    b->node = node;
    b->name = xstrdup(c->nodes[node].name);
    b->op = xstrdup(f->op ? f->op : "");
    b->started = uv_now(f->loop);
    b->started_wall = wall_now_ms();
    uint64_t bound = f->s.plan.fence_timeout_ms;
    b->until = b->started + bound;
    b->state = BG_RUNNING;
    uv_timer_init(f->loop, &b->timer);
    b->timer.data = b;
    f->bg = b;
    event_emit(LOG_LVL_WARN, EV_FENCE_BACKGROUND, f->s.cluster, b->name,
               json_pack("{s:I}", "bound_ms", (json_int_t)bound),
               "the old primary %s does not answer: it is fenced in the background (for at "
               "most %llu ms, fence_timeout) while the failover goes on",
               b->name, (unsigned long long)bound);
    attempt(&b->timer);
}

bool fo_bgfence_wait(failover_t *f, int node, exec_answer_fn answer, void *token)
{
    fo_bgfence_t *b = f->bg;
    cluster_t *c = monitor_cluster(f->m);
    if (!b || b->state != BG_RUNNING || strcmp(b->name, c->nodes[node].name) != 0) {
        answer(token, 0, b && b->state == BG_FENCED ? "fenced already" : "no fence to wait for");
        return true;
    }
    /* Answering again shows as the attempt's connection going through, or as
     * a probe of the monitor that succeeded: then an attempt is made at once
     * if none is in flight (between two), and waited for. */
    bool up = c->nodes[node].up;
    if (!b->in_flight && up) {
        uv_timer_stop(&b->timer);
        attempt(&b->timer);
    }
    if (b->state != BG_RUNNING || !b->in_flight || !(up || rejoin_fence_reached(f->rj))) {
        answer(token, 0, "the old primary still does not answer; its fence goes on in the "
                         "background");
        return true;
    }
    /* It answers again and is being fenced: nothing is made writable before
     * that ended (the step's own bound, step_timeout, holds). */
    tell_waiter(b, false, "replaced by another wait");
    b->wait_answer = answer;
    b->wait_token = token;
    return true;
}

bool fo_bgfence_join(failover_t *f, int node, exec_answer_fn answer, void *token)
{
    fo_bgfence_t *b = f->bg;
    cluster_t *c = monitor_cluster(f->m);
    if (!b || b->state != BG_RUNNING || !b->in_flight || strcmp(b->name, c->nodes[node].name) != 0)
        return false;
    tell_waiter(b, false, "replaced by another wait");
    b->wait_answer = answer;
    b->wait_token = token;
    return true;
}

void fo_bgfence_status(failover_t *f, json_t *st)
{
    fo_bgfence_t *b = f->bg;
    if (!b) {
        json_object_set_new(st, "fence_background", json_null());
        return;
    }
    char ts[32];
    format_wall_ms(b->started_wall, ts, sizeof ts);
    json_object_set_new(st, "fence_background",
                        json_pack("{s:s, s:s, s:s, s:I, s:s?}", "node", b->name, "state",
                                  state_str(b->state), "started", ts, "attempts",
                                  (json_int_t)b->attempts, "last", b->last));
}

void fo_bgfence_free(failover_t *f)
{
    fo_bgfence_t *b = f->bg;
    if (!b)
        return;
    f->bg = NULL;
    tell_waiter(b, false, "failoverd is stopping"); /* the step ended already: only freed */
    b->f = NULL;
    uv_timer_stop(&b->timer);
    b->closing = true;
    uv_close((uv_handle_t *)&b->timer, timer_closed);
}
