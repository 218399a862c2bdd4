/* exec_int.h - what the executor's files share (not part of exec.h's API).
 *
 * exec.c runs the groups of a plan and ends each step (journal, results,
 * events); exec_wait.c has the steps that wait on a node (GTID waits and
 * captures, check_lag and verify polls); exec_block.c has block_writes. */
#ifndef FAILOVERD_EXEC_INT_H
#define FAILOVERD_EXEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dbconn.h"
#include "exec.h"

#define POLL_MS 50

typedef struct run run_t;

struct exec {
    uv_loop_t *loop;
    const cluster_t *c;
    const plan_t *p;
    exec_opts_t o;
    journal_t *j;
    exec_env_t env;
    exec_done_cb cb;
    void *ud;
    dbconn_t **conns;     /* per node, created on first use */
    dbconn_t **aux;       /* per node, a second connection (block_writes looks at and
                             kills sessions while its statement waits) */
    const step_t *steps;  /* the list running: plan steps, then maybe rollback */
    size_t n_steps;
    size_t first;         /* first step of the group running */
    size_t next;          /* first step of the next group */
    bool *ended;          /* per step of the list running: it has ended */
    size_t running;       /* steps of the current group still running */
    bool failed;          /* a required step of this list failed */
    char *fail_msg;
    bool rolling_back;
    bool past_no_return;  /* a plan step at or after the point of no return started */
    size_t failed_at;     /* index of the failed step in the plan list */
    char *captured;
    char **captured_by;   /* per node: the last state captured there */
    uint64_t started;     /* when the plan started (the deadline counts from here) */
    json_t *results;
    const char *current;
    uv_idle_t kick;       /* starts the next group from a fresh loop turn */
    int open;             /* handles and connections still open at the end */
    char *journal_fail;   /* a record could not be made durable: why (the plan stops) */
    int journal_failures; /* how many records could not be */
};

/* One running step. */
struct run {
    exec_t *x;
    const step_t *s;
    uint64_t started;
    uint64_t timeout_ms; /* the step's own, or less: what is left before the plan's deadline */
    bool clamped;     /* timeout_ms was cut by the deadline */
    int good_polls;   /* verify: polls in a row that found both threads running */
    uv_timer_t timer; /* deadline for hooks/refresh; poll interval for check/verify */
    bool timer_on;
    bool finished;
    char *sql;        /* built at run time (waits) */
    bool awaiting;    /* a hook or refresh answer is still to come */
    bool closed;      /* its timer is closed: free it when the answer comes */
    /* block_writes */
    unsigned long tid;   /* server thread of the statement setting read_only */
    bool kill_sent;      /* KILL QUERY was sent to it */
    char *fail;          /* why the step fails when the statement comes back */
    unsigned long *victims; /* sessions to kill, one after the other */
    size_t n_victims, next_victim;
    char *victims_text;
};

/* Ends step r once: records the result, journals its end, reports a failure,
 * and closes its timer (r is freed once it is closed and no answer is due). */
void exec__step_end(run_t *r, bool ok, const char *msg);
void exec__run_free(run_t *r);
/* The connection to node in *slot, created on first use. */
dbconn_t *exec__conn_in(exec_t *x, dbconn_t **slot, int node, uint64_t timeout);
/* A statement on c, connecting first when it is closed; done(arg) gets the
 * outcome either way. Non-zero, without calling done, when c is busy. */
int exec__sql_on(uv_loop_t *loop, dbconn_t *c, const char *sql, uint64_t timeout, dbconn_cb done,
                 void *arg);
/* What a bound of timeout ms begun at since has left at now; 0 once spent. */
uint64_t exec__time_left(uint64_t timeout, uint64_t since, uint64_t now);
/* sql on the step's node over the executor's connection; done gets r. A busy
 * connection ends the step. */
void exec__run_sql(run_t *r, const char *sql, uint64_t timeout, dbconn_cb done);

/* exec_wait.c */
void exec__wait_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg);
void exec__capture_done(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg);
/* check_lag / verify: poll the node's replication now (the timer's callback). */
void exec__poll_now(uv_timer_t *t);

/* exec_block.c */
void exec__block_writes(run_t *r);

#endif
