/* mysqld_fixture.h - throwaway MariaDB servers for loop tests.
 *
 * A server lives in a temporary directory of its own (data, Unix socket, logs),
 * listens on 127.0.0.1 on a free port and has a user MYSQLD_USER identified by
 * MYSQLD_PASSWORD with every privilege, plus a database MYSQLD_DB. It is started,
 * paused (SIGSTOP), resumed, killed and stopped by PID; every wait is bounded.
 * A server started by a test process dies with it (PR_SET_PDEATHSIG), so a
 * crashing test leaves no server behind.
 *
 * criterion runs each test in a child process, so a server shared by all tests
 * of a binary is started by the runner (a PRE_ALL report hook calling
 * mysqld_shared_start()) and found by the tests through the environment:
 *
 *   ReportHook(PRE_ALL)(struct criterion_test_set *s) { mysqld_shared_start(); }
 *   ReportHook(POST_ALL)(struct criterion_global_stats *s) { mysqld_shared_stop(); }
 *   Test(x, y) { mysqld_t m; cr_assert(mysqld_shared(&m)); ... m.port ... }
 */
#ifndef FAILOVERD_TEST_MYSQLD_FIXTURE_H
#define FAILOVERD_TEST_MYSQLD_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

#define MYSQLD_USER "failoverd"
#define MYSQLD_PASSWORD "test-secret"
#define MYSQLD_DB "fodtest"

typedef struct {
    pid_t pid;      /* 0 when not running */
    unsigned port;  /* TCP port on 127.0.0.1 */
    char dir[128];  /* the temporary directory */
    char sock[160]; /* its Unix socket */
} mysqld_t;

/* Install a fresh data directory and start a server; false (with the reason on
 * stderr) if it did not answer within 30 s. */
bool mysqld_start(mysqld_t *m);
/* Run statements as root over the Unix socket (a blocking client: call it from
 * test code, not from a loop callback that must not stall). */
bool mysqld_sql(const mysqld_t *m, const char *sql);
bool mysqld_pause(const mysqld_t *m);  /* SIGSTOP, and wait until every thread has stopped */
bool mysqld_resume(const mysqld_t *m); /* SIGCONT */
/* SIGKILL and reap; the directory stays until mysqld_stop(). */
void mysqld_kill(mysqld_t *m);
/* Stop (SIGCONT, SIGTERM, SIGKILL after 10 s), reap, remove the directory. */
void mysqld_stop(mysqld_t *m);
/* Stop every server this process started and has not stopped: the cleanup
 * of a test that failed half-way (e.g. from criterion's .fini). */
void mysqld_stop_all(void);

bool mysqld_shared_start(void);
bool mysqld_shared(mysqld_t *m);
void mysqld_shared_stop(void);

/* Milliseconds on the monotonic clock, for tests that measure. */
double mysqld_now_ms(void);

#endif
