/* coord_int.h - what coord.c (lease, leadership) and coord_guard.c (guarded
 * writes) share.  Not for use outside them. */
#ifndef FAILOVERD_COORD_INT_H
#define FAILOVERD_COORD_INT_H

#include "coord.h"
#include "etcd.h"

#include "quorum.h"

typedef struct guard_req guard_req_t;
typedef struct vcluster vcluster_t;
typedef struct read_req read_req_t;
typedef struct sreq sreq_t;

struct coord {
    uv_loop_t *loop;
    etcd_t *e;
    char *prefix, *id, *zone, *control, *host;
    int ttl;             /* seconds */
    uint64_t interval;   /* keepalive period, ms */
    uint64_t margin;     /* subtracted from the TTL for the local validity, ms */
    char *k_leader, *k_me;
    int64_t lease;       /* 0: none */
    uint64_t ka_sent;    /* hrtime ms of the keepalive in flight */
    int64_t ka_lease;
    bool granting, ka_inflight, campaigning, closing, revoking;
    uint64_t valid_until; /* hrtime ms; 0: no valid lease */
    coord_role_t role;
    int64_t term;         /* this manager's term while leader */
    char *my_value;       /* the leader value this manager writes */
    char *leader_id, *leader_host; /* the leader as last read ("" unknown) */
    int64_t leader_term;
    uint64_t leader_since_wall;
    etcd_watch_t *watch;
    uv_timer_t tick;
    uint64_t last_tick;     /* hrtime ms */
    uint64_t next_campaign; /* hrtime ms */
    bool etcd_ok;
    char etcd_err[256];
    char why[384];
    guard_req_t *guards; /* in flight */
    guard_req_t *ended_guards; /* answered early, their etcd request still out */
    json_t *published;   /* cluster -> "host:port" last published */
    /* The managers' verdict (coord_vantage.c): the configured manager set,
     * empty when each manager judges alone; the quorum; per cluster, the
     * records read and this manager's publishing. */
    char **managers;
    size_t n_managers;
    quorum_rule_t rule;
    vcluster_t *vclusters;
    read_req_t *reads; /* coord_read_failover's, etcd's answer not back yet */
    sreq_t *sreqs; /* coord_state.c: requests etcd has not answered yet */
    char *leader_control; /* the leader's control socket, as it published it ("" unknown) */
};

uint64_t coord__now(void); /* monotonic ms, not the loop's cached time */
/* The leadership is believed now: the leader role, a valid lease. */
bool coord__leading(const coord_t *c);
/* Leadership is gone (lease lost, stall, a failed guard): why, for the event. */
void coord__lost(coord_t *c, coord_role_t to, const char *why);
void coord__campaign(coord_t *c);
/* etcd renewed the lease for ttl seconds on a request sent at sent (hrtime ms). */
void coord__renewed(coord_t *c, uint64_t sent, int64_t ttl);
/* coord_guard.c: fail every guard still waiting (closing). */
void coord__fail_guards(coord_t *c, const char *why);
/* Frees the guards answered early whose etcd request never came back
 * (etcd closed first): coord_free. */
void coord__free_ended_guards(coord_t *c);
/* coord_vantage.c: end the watches (closing); free what remains. */
void coord__vantage_close(coord_t *c);
void coord__vantage_free(coord_t *c);
/* coord_resume.c: answer (as failed) and free the reads whose etcd request
 * never came back (etcd closed first): coord_free. */
void coord__free_reads(coord_t *c);
/* coord_state.c: answer what is still out (closing); free what remains. */
void coord__state_close(coord_t *c);
void coord__state_free(coord_t *c);

#endif
