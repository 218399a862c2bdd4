/* salvage_run.h - runs a salvage on the loop (see salvage.h for what it is).
 *
 * Two children, one after the other, through child.c (own process group,
 * killed on timeout, bounded output): salvage_command prints the binlog
 * events the candidate lacks; the mysql client, given an option file written
 * 0600 in the state directory (no password on any command line), applies them
 * to the candidate and then reads the candidate's GTID state. The whole is
 * bounded by timeout_ms: a host that does not answer costs the failover that
 * long at most. Nothing blocks the loop; the callback comes exactly once
 * (already within salvage_start when nothing could be started). */
#ifndef FAILOVERD_SALVAGE_RUN_H
#define FAILOVERD_SALVAGE_RUN_H

#include <stdbool.h>
#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "salvage.h"

typedef struct {
    const char *command;    /* salvage_command (template) */
    const char *client;     /* absolute path of the mysql client */
    const char *dir;        /* where the option file is written (the state directory) */
    const char *cluster;    /* names the option file: one salvage per cluster at a time, and
                               one left by a daemon that died mid-salvage is replaced */
    salvage_vars_t vars;    /* the old primary, and the candidate's GTID state in gtid */
    const char *cand_host;  /* the candidate, and the account to apply with */
    unsigned cand_port;
    const char *user;
    const char *password;
    const char *credentials; /* salvage_credentials: "" = user and password above */
    bool super_read_only;    /* the candidate has it (MySQL): lifted for the session */
    uint64_t timeout_ms;
} salvage_req_t;

typedef struct {
    bool ok;                /* read and applied (maybe nothing): salvaged is what it added */
    bool timed_out;         /* the bound ran out (error says in which part) */
    const char *error;      /* when !ok */
    const char *before;     /* the candidate's GTID state before */
    const char *after;      /* after (NULL when unknown: the client failed) */
    const char *salvaged;   /* GTIDs it added (MySQL set / MariaDB positions), "" none */
    uint64_t count;         /* transactions in salvaged */
    uint64_t bytes;         /* binlog text read */
    uint64_t elapsed_ms;
} salvage_result_t;

typedef void (*salvage_cb)(const salvage_result_t *r, void *ud);

/* 0: cb comes later, exactly once; negative errno: it never does. */
int salvage_start(uv_loop_t *loop, const salvage_req_t *q, salvage_cb cb, void *ud);

/* Emits salvage_done or salvage_failed for r and returns the same facts as
 * the object the operation's record keeps under "salvage". */
json_t *salvage_report(const char *cluster, const char *candidate, const char *old_primary,
                       const salvage_result_t *r);

#endif
