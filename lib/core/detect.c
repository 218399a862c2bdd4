/* detect.c - see detect.h for the rules. */
#include "detect.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *verdict_str(verdict_t v)
{
    switch (v) {
    case VERDICT_HEALTHY: return "healthy";
    case VERDICT_SUSPECT: return "suspect";
    case VERDICT_UNREACHABLE: return "unreachable";
    case VERDICT_DEAD: return "dead";
    }
    return "?";
}

const char *io_state_str(io_state_t s)
{
    switch (s) {
    case IO_UNKNOWN: return "unknown";
    case IO_NO: return "no";
    case IO_CONNECTING: return "connecting";
    case IO_YES: return "yes";
    }
    return "?";
}

io_state_t io_state_parse(const char *s)
{
    if (!s)
        return IO_UNKNOWN;
    if (strcasecmp(s, "Yes") == 0)
        return IO_YES;
    if (strcasecmp(s, "No") == 0)
        return IO_NO;
    /* "Connecting" and MariaDB's "Preparing" both mean: not receiving now. */
    if (strcasecmp(s, "Connecting") == 0 || strcasecmp(s, "Preparing") == 0)
        return IO_CONNECTING;
    return IO_UNKNOWN;
}

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

static verdict_t set(detect_state_t *st, verdict_t v, uint64_t now)
{
    if (st->verdict != v || st->since == 0) {
        st->verdict = v;
        st->since = now;
    }
    return v;
}

uint64_t detect_confirm_ms(const detect_replica_t *r, const detect_params_t *p)
{
    if (!r->heartbeat_ms)
        return p->replica_confirm;
    uint64_t ms = r->heartbeat_ms * DETECT_HEARTBEATS_MISSED;
    if (ms < DETECT_CONFIRM_MIN_MS)
        ms = DETECT_CONFIRM_MIN_MS;
    return ms < p->replica_confirm ? ms : p->replica_confirm;
}

/* A replica's answer to "do you still hear the primary?" */
typedef enum { ANSWER_PENDING, ANSWER_LOST, ANSWER_HEARS } answer_t;

/* The answer of a replica that says itself how long it has received nothing
 * (silent_ms, measured on its clock from its last heartbeat or queued
 * transaction to the probe's statement). The silence is exact, so the confirm
 * time counts from the receipt itself, not from a probe that noticed it up to
 * an interval later. The moment of that receipt on the manager's clock is
 * taken at its latest (the probe's end less the silence: the statement ran
 * before the probe ended), so a receipt just before the suspicion may count as
 * hearing, never the other way round. */
static answer_t replica_says(const detect_replica_t *r, uint64_t suspect_at, const detect_params_t *p)
{
    if (r->silent_ms >= detect_confirm_ms(r, p))
        return ANSWER_LOST;
    uint64_t last = r->observed_at > r->silent_ms ? r->observed_at - r->silent_ms : 0;
    return last >= suspect_at ? ANSWER_HEARS : ANSWER_PENDING;
}

static answer_t replica_answer(const detect_replica_t *r, uint64_t suspect_at, const detect_params_t *p)
{
    if (r->observed_at < suspect_at)
        return ANSWER_PENDING; /* asked, not answered yet */
    if (r->io == IO_NO || r->io == IO_CONNECTING || r->last_io_errno != 0)
        return ANSWER_LOST;
    if (r->silent_known)
        return replica_says(r, suspect_at, p);
    /* Its IO thread still says "Yes" (a cut connection can take the replica's
     * net timeout to notice). A live primary sends a heartbeat at least every
     * heartbeat period, so silence for the confirm time means it is lost, and
     * anything heard after the suspicion began means it is alive. heard_at is
     * when a probe saw the counters move, at or after the move itself: the
     * silence is never overestimated. */
    if (r->observed_at >= r->heard_at + detect_confirm_ms(r, p))
        return ANSWER_LOST;
    if (r->heard_at >= suspect_at)
        return ANSWER_HEARS;
    return ANSWER_PENDING; /* silent, but not yet for its confirm time */
}

verdict_t detect_step(detect_state_t *st, const detect_input_t *in, const detect_params_t *p,
                      uint64_t now, char *why, size_t why_len)
{
    if (in->primary_ok || in->primary_fail_since == 0) {
        st->suspect_at = 0;
        say(why, why_len, "the primary answers probes");
        return set(st, VERDICT_HEALTHY, now);
    }
    uint64_t failing = now >= in->primary_fail_since ? now - in->primary_fail_since : 0;
    if (failing < p->down_after && !in->primary_refused) {
        st->suspect_at = 0;
        say(why, why_len,
            "the manager has not reached the primary for %llu ms (down_after %llu ms)",
            (unsigned long long)failing, (unsigned long long)p->down_after);
        return set(st, VERDICT_HEALTHY, now);
    }
    if (st->suspect_at == 0)
        st->suspect_at = now;

    size_t asked = 0, lost = 0, hears = 0, pending = 0;
    const char *hearing = NULL, *waiting = NULL;
    for (size_t i = 0; i < in->n_replicas; i++) {
        const detect_replica_t *r = &in->replicas[i];
        if (!r->follows_primary)
            continue;
        if (!r->reachable && r->observed_at >= st->suspect_at)
            continue; /* down itself: it can't answer */
        asked++;
        if (!r->reachable) { /* its last probe predates the suspicion and failed */
            pending++;
            waiting = waiting ? waiting : r->name;
            continue;
        }
        switch (replica_answer(r, st->suspect_at, p)) {
        case ANSWER_LOST: lost++; break;
        case ANSWER_HEARS: hears++; hearing = hearing ? hearing : r->name; break;
        case ANSWER_PENDING: pending++; waiting = waiting ? waiting : r->name; break;
        }
    }

    if (hears > 0) {
        say(why, why_len, "the manager can't reach the primary, but replica %s still receives from it",
            hearing);
        return set(st, VERDICT_UNREACHABLE, now);
    }
    if (asked == 0) {
        say(why, why_len, "the manager can't reach the primary and no reachable replica follows it "
                          "to confirm");
        return set(st, VERDICT_UNREACHABLE, now);
    }
    if (pending > 0) {
        say(why, why_len,
            "the manager has not reached the primary for %llu ms%s; waiting for replica %s to "
            "confirm",
            (unsigned long long)failing, in->primary_refused ? " (its host refuses connections)" : "",
            waiting);
        /* Once unreachable, stay so until the evidence changes to dead. */
        return set(st, st->verdict == VERDICT_UNREACHABLE ? VERDICT_UNREACHABLE : VERDICT_SUSPECT, now);
    }
    if (now < in->stalled_until) {
        say(why, why_len, "the replicas confirm the primary is lost, but the manager's loop stalled "
                          "recently; observing without acting");
        return set(st, VERDICT_SUSPECT, now);
    }
    say(why, why_len, "the manager can't reach the primary for %llu ms and all %zu reachable "
                      "replicas have lost it too",
        (unsigned long long)failing, lost);
    return set(st, VERDICT_DEAD, now);
}

bool guard_tick(guard_t *g, uint64_t mono, uint64_t wall, uint64_t interval, uint64_t threshold,
                uint64_t grace)
{
    bool stalled = false;
    if (g->last_mono) {
        uint64_t dm = mono - g->last_mono;
        int64_t drift = (int64_t)(wall - g->last_wall) - (int64_t)dm;
        uint64_t late = dm > interval ? dm - interval : 0;
        if (late > threshold || drift > (int64_t)threshold || -drift > (int64_t)threshold) {
            stalled = true;
            g->last_stall_ms = late > threshold ? late : (uint64_t)(drift < 0 ? -drift : drift);
            g->stalled_until = mono + grace;
        }
    }
    g->last_mono = mono;
    g->last_wall = wall;
    return stalled;
}

const char *quorum_verdict_str(quorum_verdict_t q)
{
    switch (q) {
    case QUORUM_NO_PRIMARY: return "no_primary";
    case QUORUM_REACHABLE: return "reachable";
    case QUORUM_NOT_CONFIRMED: return "not_confirmed";
    case QUORUM_NO_OBSERVERS: return "no_quorum_of_observers";
    case QUORUM_PARTITIONED: return "partitioned_from_leader";
    case QUORUM_DEAD_CONFIRMED: return "dead_confirmed";
    }
    return "?";
}

verdict_t detect_combine(verdict_t local, quorum_verdict_t q, char *why, size_t why_len)
{
    if (local != VERDICT_DEAD || q == QUORUM_DEAD_CONFIRMED)
        return local;
    switch (q) {
    case QUORUM_PARTITIONED:
        say(why, why_len, "the replicas confirm the primary is lost, but most of the other "
                          "managers still reach it: this manager is cut off from it; no failover");
        return VERDICT_UNREACHABLE;
    case QUORUM_NO_OBSERVERS:
        say(why, why_len, "the replicas confirm the primary is lost, but too few managers have a "
                          "fresh view of it to confirm; observing without acting");
        break;
    case QUORUM_NOT_CONFIRMED:
        say(why, why_len, "the replicas confirm the primary is lost, but fewer than the quorum of "
                          "managers can't reach it; waiting for them to confirm");
        break;
    case QUORUM_REACHABLE:
        say(why, why_len, "the replicas confirm the primary is lost, but this manager's latest "
                          "view has it reachable; observing");
        break;
    case QUORUM_NO_PRIMARY:
    case QUORUM_DEAD_CONFIRMED:
        say(why, why_len, "the replicas confirm the primary is lost, but the managers' quorum has "
                          "no primary to judge; observing without acting");
        break;
    }
    return VERDICT_SUSPECT;
}
