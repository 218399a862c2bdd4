/* daemon.h - failoverd's runtime: one libuv loop with the monitors, the
 * control socket, signals, the loop guard and systemd notifications. */
#ifndef FAILOVERD_DAEMON_H
#define FAILOVERD_DAEMON_H

#include "config.h"

/* Runs until SIGTERM/SIGINT; takes ownership of cfg. Returns an exit code. */
int daemon_run(fo_config_t *cfg);

#endif
