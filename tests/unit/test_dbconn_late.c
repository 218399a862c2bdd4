/* dbconn when the loop comes late: a deadline that passed while the daemon
 * waited for the CPU is not a slow server. An answer already waiting in the
 * socket at the deadline is taken; an operation the loop starts late gets its
 * whole time from its start; a server that really says nothing still times
 * out at the deadline. "Late" is made by holding the test's own thread
 * (usleep) between turns of the loop, as a busy machine would. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "dbconn.h"
#include "mysqld_fixture.h"
#include "testutil.h"

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (!mysqld_shared_start())
        fprintf(stderr, "test_dbconn_late: could not start the shared MariaDB server\n");
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
    (void)stats;
    mysqld_shared_stop();
}

static uv_loop_t loop;
static mysqld_t S;

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    mysqld_shared(&S);
}

static void teardown(void) { test_close_loop(&loop); }

TestSuite(dbconn_late, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    bool done, failed;
    dbconn_error_t err;
    char value[32];
} capture_t;

static void capture_cb(dbconn_t *c, dbconn_result_t *res, const dbconn_error_t *err, void *arg)
{
    capture_t *cap = arg;
    (void)c;
    cap->done = true;
    cap->failed = err != NULL;
    if (err)
        cap->err = *err;
    const dbconn_rs_t *rs = res ? dbconn_result_set(res, 0) : NULL;
    const char *v = rs && rs->has_rows ? dbconn_rs_value(rs, 0, 0) : NULL;
    snprintf(cap->value, sizeof cap->value, "%s", v ? v : "");
}

static dbconn_t *connected_as(bool late_start)
{
    dbconn_opts_t o = {.host = "127.0.0.1", .port = S.port, .user = MYSQLD_USER,
                       .password = MYSQLD_PASSWORD, .database = MYSQLD_DB,
                       .connect_timeout_ms = 3000, .query_timeout_ms = 3000,
                       .late_start = late_start};
    dbconn_t *c = dbconn_new(&loop, &o);
    capture_t cap = {0};
    cr_assert_eq(dbconn_connect(c, capture_cb, &cap), 0);
    cr_assert(test_run_until(&loop, &cap.done, 5000), "connect did not finish");
    cr_assert(!cap.failed, "connect: %s", cap.err.msg);
    return c;
}

static dbconn_t *connected(void)
{
    return connected_as(true);
}

static void on_closed(void *arg) { *(bool *)arg = true; }

static void close_conn(dbconn_t *c)
{
    bool closed = false;
    dbconn_close(c, on_closed, &closed);
    cr_assert(test_run_until(&loop, &closed, 5000), "close did not finish");
}

/* The query is sent (one turn of the loop), then the thread is held three
 * times the query's timeout: its answer comes meanwhile, the loop's next turn
 * finds the deadline passed. */
static void sent_then_held(dbconn_t *c, const char *sql, capture_t *cap)
{
    cr_assert_eq(dbconn_query(c, sql, 100, capture_cb, cap), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_not(cap->done, "the query finished in the turn that sent it");
    usleep(300 * 1000);
    cr_assert(test_run_until(&loop, &cap->done, 5000), "the query did not finish");
}

Test(dbconn_late, an_answer_waiting_at_the_deadline_is_taken)
{
    dbconn_t *c = connected();
    capture_t cap = {0};
    sent_then_held(c, "SELECT 42 + SLEEP(0.05)", &cap);
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_str_eq(cap.value, "42");
    close_conn(c);
}

Test(dbconn_late, a_query_the_loop_starts_late_gets_its_whole_time)
{
    dbconn_t *c = connected();
    capture_t cap = {0};
    cr_assert_eq(dbconn_query(c, "SELECT 7", 100, capture_cb, &cap), 0);
    usleep(300 * 1000); /* the loop does not come round before the deadline */
    cr_assert(test_run_until(&loop, &cap.done, 5000), "the query did not finish");
    cr_assert_not(cap.failed, "%s", cap.err.msg);
    cr_assert_str_eq(cap.value, "7");
    close_conn(c);
}

Test(dbconn_late, a_silent_server_still_times_out_at_the_deadline)
{
    dbconn_t *c = connected();
    capture_t cap = {0};
    double t0 = mysqld_now_ms();
    sent_then_held(c, "SELECT SLEEP(3)", &cap);
    cr_assert(cap.failed);
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    cr_assert_lt(mysqld_now_ms() - t0, 1000, "the deadline did not bound the wait");
    close_conn(c);
}

/* Without late_start (the executor's connections: statements that change a
 * server) an operation the loop comes to after its deadline is never sent. */
Test(dbconn_late, a_statement_the_loop_comes_to_after_its_deadline_is_not_sent)
{
    dbconn_t *c = connected_as(false);
    capture_t cap = {0};
    cr_assert_eq(dbconn_query(c, "CREATE TABLE late_marker (x INT)", 100, capture_cb, &cap), 0);
    usleep(300 * 1000); /* stopped between the request and its start */
    cr_assert(test_run_until(&loop, &cap.done, 5000), "the query did not end");
    cr_assert(cap.failed, "a statement went out after its bound");
    cr_assert_eq(cap.err.kind, DBCONN_ERR_TIMEOUT, "%s", cap.err.msg);
    close_conn(c);
    dbconn_t *d = connected_as(false);
    capture_t again = {0};
    cr_assert_eq(dbconn_query(d,
                              "SELECT COUNT(*) FROM information_schema.TABLES "
                              "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'late_marker'",
                              1000, capture_cb, &again),
                 0);
    cr_assert(test_run_until(&loop, &again.done, 5000), "the check did not finish");
    cr_assert_not(again.failed, "%s", again.err.msg);
    cr_assert_str_eq(again.value, "0", "the late statement ran on the server");
    close_conn(d);
}
