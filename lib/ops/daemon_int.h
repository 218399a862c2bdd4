/* daemon_int.h - what the daemon's own files share: its run-time state, and
 * the few functions one of them calls in another (daemon.c starts, guards and
 * stops; daemon_ctl.c answers the control socket; daemon_reload.c applies a
 * new configuration file). Not for use outside them. */
#ifndef FAILOVERD_DAEMON_INT_H
#define FAILOVERD_DAEMON_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "config.h"
#include "control.h"
#include "detect.h"
#include "failover.h"
#include "hooks.h"
#include "journal.h"
#include "metrics_http.h"
#include "monitor.h"
#include "webhook.h"

/* One cluster at run time. Allocated on its own: the operations manager keeps a
 * pointer to its hooks slot, which a reload refills. */
typedef struct {
    monitor_t *m;
    failover_t *fo;
    hooks_t *hooks;
} cluster_rt_t;

typedef struct {
    uv_loop_t loop;
    fo_config_t *cfg;
    cluster_rt_t **cl; /* one per configured cluster, in config order */
    size_t n_cl;
    webhooks_t *webhooks;
    control_t *ctl;
    journal_t *journal;
    uv_signal_t sig_term, sig_int, sig_hup;
    uv_timer_t guard_timer;
    uv_timer_t block_timer; /* test.block_loop; initialised only when set */
    bool block_armed;
    guard_t guard;
    uint64_t started_mono;
    uint64_t last_watchdog;
    uint64_t last_status;
    uint64_t watchdog_ms;
    int sigints;
    bool ready;
    bool stopping;
    int exit_code;
    char *reload_errors;  /* why the last reload was rejected; NULL when it was not */
    json_t *reload_notes; /* the last reload's restart_needed and deferred lists */
    struct {              /* the settings read at start only, as they were then */
        char *control_socket, *control_socket_group, *state_dir, *block_loop;
        unsigned control_socket_mode;
    } boot;
    metrics_http_t *metrics; /* the /metrics listener; NULL when metrics_listen is "" */
    struct coord *coord;     /* coordination through etcd (coord.h); NULL: standalone */
    struct reload_run *reload; /* daemon_reload.c: a reload under way; NULL when none */
} daemon_t;

/* daemon.c */
void daemon_failover_settings(daemon_t *d, const fo_cluster_cfg_t *cc, failover_settings_t *s);
cluster_rt_t *daemon_start_cluster(daemon_t *d, const fo_cluster_cfg_t *cc, hooks_t *hooks);
bool daemon_build_hooks(daemon_t *d, const fo_config_t *cfg, hooks_t ***out, char *err,
                        size_t err_len);
void daemon_retire_cluster(cluster_rt_t *rt);

/* daemon_ctl.c: the control socket's commands, registered on d->ctl. */
void daemon_register_commands(daemon_t *d);
/* daemon_history.c: the history command under coordination, answered from
 * etcd (or, when it can't be read, from the journal). */
void daemon_history_etcd(daemon_t *d, control_req_t *req, const char *cluster, long long limit);

/* daemon_reload.c */
/* A reload (SIGHUP): the new file is checked in a child process the loop
 * does not wait for (cfgsyntax.h), then applied or rejected. */
void daemon_reload(daemon_t *d);
/* The same, and done(d, ud) runs from the loop once it has ended: applied,
 * or rejected (d->reload_errors set), or given up because the daemon stops
 * (d->stopping). A reload asked for while one is being checked follows it
 * (the file may have changed since), and its done runs after that one. */
typedef void (*daemon_reload_done_fn)(daemon_t *d, void *ud);
void daemon_reload_start(daemon_t *d, daemon_reload_done_fn done, void *ud);
/* Stopping: a check under way is given up, every done runs. */
void daemon_reload_stop(daemon_t *d);
void daemon_note_boot(daemon_t *d, const fo_config_t *cfg);
void daemon_free_boot(daemon_t *d);
void daemon_acl_from_config(const fo_daemon_cfg_t *dc, control_acl_t *acl);
void daemon_acl_free(control_acl_t *acl);

/* daemon.c: a cluster's read/write routing settings to its monitor. */
void daemon_routing_from(monitor_t *m, const fo_cluster_cfg_t *cc);

#endif
