/* defaults.h - every default, file name and exit code of failoverd in one place. */
#ifndef FAILOVERD_DEFAULTS_H
#define FAILOVERD_DEFAULTS_H

/* Exit codes, sysexits(3) style; documented in failoverd(8) and failoverctl(8). */
#define FO_EXIT_OK 0
#define FO_EXIT_FAILURE 1     /* failoverctl: the request was carried out but failed */
#define FO_EXIT_NO_TRAFFIC 2  /* failoverctl: a failover or switchover done, traffic not moved */
#define FO_EXIT_USAGE 64      /* EX_USAGE: bad command line */
#define FO_EXIT_DATAERR 65    /* EX_DATAERR: the daemon rejected the request */
#define FO_EXIT_UNAVAILABLE 69 /* EX_UNAVAILABLE: daemon not reachable */
#define FO_EXIT_SOFTWARE 70   /* EX_SOFTWARE: internal error */
#define FO_EXIT_OSERR 71      /* EX_OSERR: a system call failed */
#define FO_EXIT_TEMPFAIL 75   /* EX_TEMPFAIL: try again (a failover is running...) */
#define FO_EXIT_CONFIG 78     /* EX_CONFIG: invalid configuration */

#define FO_DEFAULT_CONFIG_FILE "/etc/failoverd/failoverd.conf"
#define FO_DEFAULT_CONTROL_SOCKET "/run/failoverd/control.sock"
#define FO_DEFAULT_STATE_DIR "/var/lib/failoverd"

#endif
