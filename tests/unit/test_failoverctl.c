/* failoverctl: the status table from fixtures, the other renderers, the exit
 * codes, and the binary itself against no daemon and against a control server
 * running in this process. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "ctlclient.h"
#include "ctlrender.h"
#include "defaults.h"

/* ---- helpers ---- */

static json_t *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert_not_null(j, "%s: %s (line %d)", path, e.text, e.line);
    return j;
}

static char *render_status_fixture(const char *name)
{
    json_t *j = fixture(name);
    buf_t b = BUF_INIT;
    ctlrender_status(&b, j);
    json_decref(j);
    return buf_steal(&b);
}

/* Every line at most 80 columns, and no control character but newlines. */
static void assert_fits(const char *text)
{
    char *copy = xstrdup(text);
    int n = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        n++;
        cr_assert_leq(ctlrender_width(line), 80, "line %d is %zu columns: '%s'", n,
                      ctlrender_width(line), line);
        for (const char *p = line; *p; p++)
            cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "control character in '%s'", line);
    }
    free(copy);
}

/* The line of text that starts with prefix (NULL if none). */
static char *line_starting(const char *text, const char *prefix)
{
    const char *p = text;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return xstrndup(p, len);
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static size_t col_of(const char *line, const char *word)
{
    const char *p = strstr(line, word);
    cr_assert_not_null(p, "'%s' not in '%s'", word, line);
    return (size_t)(p - line);
}

/* ---- the status table ---- */

Test(render, healthy_cluster_table)
{
    char *t = render_status_fixture("ctl_status_healthy.json");
    assert_fits(t);
    cr_assert(strstr(t, "failoverd 0.1.0  pid 4242  up 3h04m  config "
                        "/etc/failoverd/failoverd.conf\n"),
              "%s", t);
    cr_assert(strstr(t, "\nCLUSTER main  HEALTHY  primary db1  policy reliability  paused no\n"),
              "%s", t);
    cr_assert(strstr(t, "\n  since 2026-11-23T22:50:01.123Z: the primary answers probes\n"));
    cr_assert_null(strstr(t, "auto-failover"), "shown only when off");

    char *head = line_starting(t, "NODE");
    cr_assert_not_null(head, "%s", t);
    cr_assert_str_eq(head, "NODE ROLE    STATE RO    IO/SQL   LAG  BKLOG LAT   GTID");
    char *db1 = line_starting(t, "db1 ");
    char *db3 = line_starting(t, "db3 ");
    cr_assert_str_eq(db1, "db1  primary up    no    -        -    -     0.4ms 0-1-4242");
    cr_assert_str_eq(db3, "db3  replica up    yes   yes/yes  12s  3     23ms  0-1-4239");
    /* Columns line up with their headers. */
    static const char *const cols[] = {" ROLE", " STATE", " RO ", " IO/SQL",
                                       " LAG",  " BKLOG", " LAT", " GTID"};
    static const char *const vals[] = {" replica", " up", " yes ", " yes/yes",
                                       " 12s",     " 3 ", " 23ms", " 0-1-4239"};
    for (size_t i = 0; i < 8; i++)
        cr_assert_eq(col_of(head, cols[i]), col_of(db3, vals[i]), "column %s", cols[i]);
    cr_assert_null(strstr(t, "error:"), "no error lines when nothing failed");
    free(head);
    free(db1);
    free(db3);
    free(t);
}

Test(render, troubled_clusters_fit_and_show_their_errors)
{
    char *t = render_status_fixture("ctl_status_troubled.json");
    assert_fits(t);
    /* The loop guard, the verdict, the failover and the issues. */
    cr_assert(strstr(t, "\nWARNING: the daemon's loop stalled"), "%s", t);
    cr_assert(strstr(t, "\nCLUSTER orders  DEAD  primary mysql-orders-primary-01  policy "
                        "availability\n  paused no\n"),
              "%s", t);
    cr_assert(strstr(t, "\n  failover running: step promote, candidate mysql-orders-replica-02,"));
    cr_assert(strstr(t, "\n  issue: two writable nodes: mysql-orders-primary-01,"));
    cr_assert(strstr(t, "\n         reach them)\n"), "wrapped issue lines are indented");

    /* Long names are cut in the middle, keeping what tells them apart. */
    char *p = line_starting(t, "mysql-o~mary-01 primary down");
    cr_assert_not_null(p, "%s", t);
    cr_assert(strstr(p, " 3e11fa47:1-1000 +2"), "GTID summary in '%s'", p);
    cr_assert_eq(ctlrender_width(p), 80);
    free(p);
    cr_assert(strstr(t, "\n  error: Can't connect to server on '10.0.1.1' (111)\n"), "%s", t);
    cr_assert(strstr(t, "\n  down since 2026-11-23T22:58:58.000Z\n"));

    char *r2 = line_starting(t, "mysql-o~lica-02 ");
    cr_assert_str_eq(r2, "mysql-o~lica-02 replica up    super conn/yes ?    123k  1.2s  "
                         "3e11fa47:1-998");
    free(r2);
    /* An IO error with a newline and terminal escapes: wrapped, defused. */
    cr_assert(strstr(t, "\n  io error: error reconnecting to source 'repl@10.0.1.1:3306'"));
    cr_assert(strstr(t, "\n            retries: 3 message: "), "%s", t);
    cr_assert_null(strchr(t, '\x1b'));
    cr_assert(
        strstr(t, "\n  sql error: Error 'Duplicate entry '42' for key 'PRIMARY'' on query\n"));
    cr_assert(strstr(t, "\n  source: mysql-orders-replica-02 (not the primary)\n"));
    char *r3 = line_starting(t, "mysql-o~lica-03 ");
    cr_assert(strstr(r3, " no    no/no    67m  ?     3.0ms -"), "'%s'", r3);
    free(r3);

    /* Unknowns show as "?", what does not apply as "-". */
    cr_assert(strstr(t, "\nCLUSTER edge  ?  primary ?  policy ?  paused yes  auto-failover off\n"
                        "  automatic failover blocked until 2026-11-24T00:30:00.000Z: the last"),
              "%s", t);
    cr_assert(strstr(t, "`failoverctl ack edge`"), "the way out is named: %s", t);
    cr_assert(strstr(t, "\ne1   ?       ?     ?     -        -    -     ?     ?\n"), "%s", t);
    cr_assert(strstr(t, "\ne2   replica up    yes   ?/?      ?    ?     ?     ?\n"), "%s", t);
    cr_assert(strstr(t, "\n  source: 192.168.7.7:3307 (not in the cluster)\n"));
    cr_assert(strstr(t, "\n  error: Access denied for user 'failoverd'@'10.0.0.9' (using "
                        "password: YES)\n"));
    cr_assert(strstr(t, "\nCLUSTER empty  HEALTHY  primary ?  policy ?  paused ?\n  (no nodes)\n"));
    free(t);
}

Test(render, no_clusters_and_no_daemon_block)
{
    char *t = render_status_fixture("ctl_status_empty.json");
    cr_assert_str_eq(t, "failoverd 0.1.0  pid 1  up 0s  config /tmp/x.conf\nno clusters\n");
    free(t);
    json_t *j = json_object();
    buf_t b = BUF_INIT;
    ctlrender_status(&b, j);
    cr_assert_str_eq(buf_str(&b), "no clusters\n");
    buf_free(&b);
    json_decref(j);
}

Test(render, gtid_summaries)
{
    static const struct {
        const char *in;
        size_t width;
        const char *want;
    } rows[] = {
        {"0-1-42", 20, "0-1-42"},
        {"0-1-42,1-2-7", 20, "0-1-42,1-2-7"},
        {"0-1-42, 1-2-7,\n2-3-99", 20, "0-1-42,1-2-7,2-3-99"},
        {"0-1-42,1-2-7,2-3-99", 15, "0-1-42,1-2-7 +1"},
        {"0-1-42,1-2-7,2-3-99", 10, "0-1-42 +2"},
        {"3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5", 20, "3e11fa47:1-5"},
        {"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7-9,\n"
         "4a5b6c7d-1111-2222-3333-444455556666:1-3",
         30, "3e11fa47:1-5:7-9,4a5b6c7d:1-3"},
        {"3e11fa47-71ca-11e1-9e33-c80aa9429562:tag1:1-3", 20, "3e11fa47:tag1:1-3"},
        {"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-123456789", 12, "3e11fa47:1-~"},
        {"3e11fa47-71ca-11e1-9e33-c80aa9429562:1-123456789,0-1-1", 12, "3e11fa47~ +1"},
        {"not-a-uuid-but-long-enough-to-cut-it-somewhere", 10, "not-a-uui~"},
        {"", 10, ""},
        {" , ", 10, ""},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        buf_t b = BUF_INIT;
        ctlrender_gtid_summary(&b, rows[i].in, rows[i].width);
        cr_assert_str_eq(buf_str(&b), rows[i].want, "row %zu", i);
        cr_assert_leq(b.len, rows[i].width);
        buf_free(&b);
    }
}

Test(render, generic_results)
{
    json_t *j = json_loads(
        "{\"cluster\":\"main\",\"paused\":true,\"nodes\":[\"db1\",\"db2\"],\"took_ms\":12.5,"
        "\"steps\":[{\"step\":\"promote\",\"node\":\"db2\"},{\"step\":\"repoint\",\"nodes\":[]}],"
        "\"detail\":{\"reason\":null,\"n\":3}}",
        JSON_PRESERVE_ORDER, NULL);
    buf_t b = BUF_INIT;
    ctlrender_generic(&b, j);
    cr_assert_str_eq(buf_str(&b), "cluster: main\n"
                                  "paused: yes\n"
                                  "nodes: db1, db2\n"
                                  "took_ms: 12.5\n"
                                  "steps:\n"
                                  "  - step: promote\n"
                                  "    node: db2\n"
                                  "  - step: repoint\n"
                                  "    nodes: (none)\n"
                                  "detail:\n"
                                  "  reason: -\n"
                                  "  n: 3\n");
    json_decref(j);

    buf_reset(&b);
    ctlrender_generic(&b, NULL);
    cr_assert_str_eq(buf_str(&b), "ok\n");
    buf_reset(&b);
    j = json_object();
    ctlrender_generic(&b, j);
    cr_assert_str_eq(buf_str(&b), "ok\n");
    json_decref(j);

    /* Long values wrap inside 80 columns; deep nesting stays inside too. */
    buf_reset(&b);
    j = json_pack("{s:s}", "message",
                  "a long message that goes on and on and on, well past the right margin of an "
                  "ordinary terminal, and then some more");
    json_t *deep = json_object();
    json_t *cur = deep;
    for (int i = 0; i < 60; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "level", next);
        cur = next;
    }
    json_object_set_new(cur, "leaf", json_string("bottom"));
    json_object_set_new(j, "deep", deep);
    ctlrender_generic(&b, j);
    assert_fits(buf_str(&b));
    cr_assert(strstr(buf_str(&b), "bottom"));
    json_decref(j);
    buf_free(&b);
}

/* ---- plans, operations, history (replies captured from a daemon) ---- */

static char *render_with(void (*fn)(buf_t *, const json_t *), const json_t *j)
{
    buf_t b = BUF_INIT;
    fn(&b, j);
    return buf_steal(&b);
}

Test(render, switchover_plan_by_group_with_the_point_of_no_return)
{
    json_t *j = fixture("ctl_plan_switchover.json");
    char *t = render_with(ctlrender_plan, j);
    assert_fits(t);
    cr_assert(strstr(t, "switchover plan for main (reliability): primary primary-east-01"), "%s", t);
    char *l = line_starting(t, "CANDIDATE");
    cr_assert(l && strstr(l, " RANK RULE "), "%s", t);
    free(l);
    l = line_starting(t, " 2  block_writes:primary-east-01");
    cr_assert_not_null(l, "a step row: group, name, node, timeout:\n%s", t);
    cr_assert(strstr(l, "primary-east-01") && strstr(l, "7s"), "%s", l);
    free(l);
    const char *ponr = strstr(t, "point of no return");
    cr_assert(ponr && ponr > strstr(t, "sync:replica-east-02") &&
                  ponr < strstr(t, "promote:replica-east-02"),
              "the point of no return lies between the sync and the promotion:\n%s", t);
    cr_assert(strstr(t, "rollback_writes:primary-east-01: make primary-east-01 writable again"),
              "%s", t);
    cr_assert(!strstr(t, " \n"), "no trailing blanks");
    free(t);
    json_decref(j);
}

Test(render, failover_plan_has_both_phases)
{
    json_t *j = fixture("ctl_plan_failover.json");
    char *t = render_with(ctlrender_plan, j);
    assert_fits(t);
    cr_assert(strstr(t, "PREPARE") && strstr(t, "PROMOTE:") &&
                  strstr(t, "PREPARE") < strstr(t, "PROMOTE:"), "%s", t);
    cr_assert(strstr(t, "note: a real failover elects again"), "%s", t);
    free(t);
    json_decref(j);
}

Test(render, operation_done_and_rolled_back)
{
    json_t *j = fixture("ctl_switchover_done.json");
    char *t = render_with(ctlrender_operation, j);
    assert_fits(t);
    cr_assert(strncmp(t, "switchover done in ", 19) == 0, "%s", t);
    cr_assert(strstr(t, "primary-east-01 -> replica-east-02  policy reliability  writes "
                        "blocked "), "%s", t);
    char *l = line_starting(t, "promote:replica-east-02");
    cr_assert(l && strstr(l, " ok "), "%s", t);
    free(l);
    free(t);
    json_decref(j);

    j = fixture("ctl_switchover_rolled_back.json");
    const json_t *op = json_object_get(json_object_get(j, "error"), "operation");
    t = render_with(ctlrender_operation, op);
    assert_fits(t);
    cr_assert(strncmp(t, "switchover rolled back in ", 26) == 0, "%s", t);
    l = line_starting(t, "check_lag:replica-west-03");
    cr_assert(l && strstr(l, "FAILED"), "%s", t);
    free(l);
    l = line_starting(t, "    still not done after");
    cr_assert_not_null(l, "the error under its step:\n%s", t);
    free(l);
    cr_assert(strstr(t, "is the primary and writable again"), "%s", t);
    free(t);
    json_decref(j);
}

Test(render, history_table)
{
    json_t *j = fixture("ctl_history.json");
    char *t = render_with(ctlrender_history, j);
    assert_fits(t);
    char *head = line_starting(t, "STARTED");
    cr_assert_not_null(head, "%s", t);
    cr_assert(strstr(head, "CLUSTER KIND") && strstr(head, "FROM") && strstr(head, "TOOK"), "%s",
              head);
    char *rb = line_starting(t, "2026-");
    cr_assert(rb && strstr(rb, "rolled back"), "newest first:\n%s", t);
    cr_assert(strstr(t, "writes blocked"), "%s", t);
    free(rb);
    free(head);
    free(t);
    json_decref(j);
    j = json_pack("{s:[]}", "operations");
    t = render_with(ctlrender_history, j);
    cr_assert_str_eq(t, "no failovers or switchovers yet\n");
    free(t);
    json_decref(j);
}

/* What an acknowledgement is worth, and what a failover lost. */
Test(render, durability_and_loss)
{
    json_error_t e;
    json_t *j = json_loads(
        "{\"clusters\": [{\"name\": \"main\", \"verdict\": \"healthy\", \"primary\": \"db1\","
        " \"issues\": [\"semi-sync off on db1 since 2026-12-05T23:19:28.300Z: commits are "
        "asynchronous\"], \"nodes\": [],"
        " \"durability\": {\"degraded\": true, \"semisync_off_since\": "
        "\"2026-12-05T23:19:28.300Z\", \"semisync\": {\"node\": \"db1\", \"state\": \"off\","
        " \"clients\": 0, \"waiting_sessions\": 1, \"timeout_ms\": 10000, \"wait_point\": "
        "\"AFTER_SYNC\", \"wait_no_replica\": true, \"wait_for_replica_count\": 1}}}]}",
        0, &e);
    cr_assert_not_null(j, "%s", e.text);
    buf_t b = BUF_INIT;
    ctlrender_status(&b, j);
    char *t = buf_steal(&b);
    assert_fits(t);
    cr_assert(strstr(t, "\n  semi-sync: OFF on db1 since 2026-12-05T23:19:28.300Z: commits are\n"
                        "             asynchronous; 0 replicas acknowledging, 1 commit waiting;"),
              "%s", t);
    cr_assert(strstr(t, "wait point AFTER_SYNC, timeout 10000 ms"), "%s", t);
    free(t);
    json_decref(j);

    j = json_loads("{\"operations\": [{\"op\": \"1\", \"cluster\": \"main\", \"kind\": "
                   "\"failover\", \"state\": \"done\", \"old_primary\": \"db1\", \"new_primary\": "
                   "\"db2\", \"started\": \"2026-12-05T23:29:06.000Z\", \"duration_ms\": 2182,"
                   " \"possibly_lost\": \"0-1-345..0-1-458\", \"possibly_lost_count\": 114,"
                   " \"lost_at_least\": 114, \"lost_as_of\": \"2026-12-05T23:29:04.991Z\","
                   " \"semisync_off_since\": \"2026-12-05T23:29:03.487Z\", \"at_risk\": "
                   "\"0-1-345..0-1-458\", \"at_risk_count\": 114, \"lost_exact\": "
                   "\"0-1-345..0-1-470\", \"lost_exact_count\": 126, \"lost_exact_node\": \"db1\","
                   " \"lost_exact_found\": \"2026-12-05T23:30:00.000Z\"}]}",
                   0, &e);
    cr_assert_not_null(j, "%s", e.text);
    t = render_with(ctlrender_history, j);
    assert_fits(t);
    cr_assert(strstr(t, "lost at least 114, as of the probe of db1 at 2026-12-05T23:29:04.991Z"),
              "%s", t);
    cr_assert(strstr(t, "semi-sync had fallen back at 2026-12-05T23:29:03.487Z"), "%s", t);
    cr_assert(strstr(t, "lost exactly 126: 0-1-345..0-1-470 (found when db1 came back at"), "%s",
              t);
    free(t);
    json_decref(j);
}

Test(render, messages_wrap_in_80_columns)
{
    buf_t b = BUF_INIT;
    ctlrender_message(&b, "failoverctl: switchover: ",
                      "switchover rolled back: step check_lag:db2 failed: still not done after "
                      "1999 ms: its SQL thread is not running\n(No), so it applies nothing");
    assert_fits(buf_str(&b));
    cr_assert(strncmp(buf_str(&b), "failoverctl: switchover: switchover rolled back", 46) == 0);
    cr_assert(strstr(buf_str(&b), "\n    "), "later lines are indented: %s", buf_str(&b));
    buf_free(&b);
}

/* Long keys and long prefixes (a cluster named at length) are cut like long
 * words: no line passes 80 columns. */
Test(render, long_keys_and_prefixes_fit)
{
    char key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    json_t *j = json_pack("{s:s, s:{s:[s,s]}, s:{s:{s:i}}}", key, "value", "nested", key, "a",
                          "b", "deeper", key, "x", 1);
    buf_t b = BUF_INIT;
    ctlrender_generic(&b, j);
    assert_fits(buf_str(&b));
    cr_assert(strstr(buf_str(&b), "value"), "%s", buf_str(&b));
    buf_reset(&b);
    char prefix[204];
    snprintf(prefix, sizeof prefix, "%s: ", key);
    ctlrender_message(&b, prefix, "automatic failover paused");
    assert_fits(buf_str(&b));
    cr_assert(strstr(buf_str(&b), "automatic failover paused"), "%s", buf_str(&b));
    buf_free(&b);
    json_decref(j);
}

/* Taking the whitespace out of a GTID text must not join two bytes into a C1
 * control character (0xC2 0x80-0x9F). */
Test(render, gtid_summary_makes_no_control_characters)
{
    buf_t b = BUF_INIT;
    ctlrender_gtid_summary(&b, "au\xc2\xc2\x8b\x8f:1-5", 30);
    assert_fits(buf_str(&b));
    for (const char *p = buf_str(&b); *p; p++)
        cr_assert(!((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] >= 0x80 &&
                    (unsigned char)p[1] <= 0x9F),
                  "a C1 control character in '%s'", buf_str(&b));
    buf_free(&b);
}

/* ---- exit codes ---- */

Test(exit_codes, error_codes_map_to_documented_exit_codes)
{
    static const struct {
        const char *code;
        int want;
    } rows[] = {
        {"bad_request", 65},
        {"unknown_command", 65},
        {"missing_argument", 65},
        {"bad_argument", 65},
        {"not_found", 65},
        {"forbidden", 65},
        {"too_large", 65},
        {"busy", 75},
        {"failed", 1},
        {"internal", 70},
        {"something_new", 1},
        {NULL, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_assert_eq(ctlclient_exit_for_error(rows[i].code), rows[i].want, "%s",
                     rows[i].code ? rows[i].code : "(null)");
    cr_assert_eq(FO_EXIT_DATAERR, 65);
    cr_assert_eq(FO_EXIT_UNAVAILABLE, 69);
    cr_assert_eq(FO_EXIT_TEMPFAIL, 75);
}

Test(exit_codes, call_outcomes_map_to_exit_codes)
{
    json_t *ok = json_loads("{\"ok\":true,\"result\":{}}", 0, NULL);
    json_t *busy =
        json_loads("{\"ok\":false,\"error\":{\"code\":\"busy\",\"message\":\"x\"}}", 0, NULL);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_OK, ok), 0);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_OK, busy), 75);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_UNREACHABLE, NULL), 69);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_CLOSED, NULL), 69);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_TIMEOUT, NULL), 75);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_PROTOCOL, NULL), 70);
    /* A failover that ran and was aborted replies with its record. */
    json_t *ran = json_loads("{\"ok\":true,\"result\":{\"type\":\"aborted\",\"ok\":false,"
                             "\"error\":\"no replica can be promoted\"}}",
                             0, NULL);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_OK, ran), 1);
    json_decref(ran);
    /* Done, but the post_promotion hook failed: the traffic did not move. */
    json_t *stuck = json_loads("{\"ok\":true,\"result\":{\"type\":\"done\",\"traffic_moved\":false}}",
                               0, NULL);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_OK, stuck), 2);
    json_decref(stuck);
    json_t *moved = json_loads("{\"ok\":true,\"result\":{\"type\":\"done\",\"traffic_moved\":true}}",
                               0, NULL);
    cr_assert_eq(ctlclient_exit_code(CTLCLIENT_OK, moved), 0);
    json_decref(moved);
    json_decref(ok);
    json_decref(busy);
}

/* ---- the binary ---- */

typedef struct {
    int rc;
    char *out;
    char *err;
} run_t;

static const char *ctl_path(void)
{
    static char path[1024];
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", FAILOVERD_BIN);
    snprintf(path, sizeof path, "%s/failoverctl", dirname(bin));
    cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
    return path;
}

/* Run failoverctl with args (NULL-terminated); env_socket sets
 * FAILOVERD_SOCKET (NULL: unset). Output is captured. */
static run_t run_ctl(const char *env_socket, const char *const *args)
{
    const char *argv[32] = {"failoverctl"};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int o[2], e[2];
    cr_assert_eq(pipe(o), 0);
    cr_assert_eq(pipe(e), 0);
    const char *path = ctl_path();
    pid_t pid = fork();
    if (pid == 0) {
        dup2(o[1], 1);
        dup2(e[1], 2);
        close(o[0]);
        close(e[0]);
        if (env_socket)
            setenv("FAILOVERD_SOCKET", env_socket, 1);
        else
            unsetenv("FAILOVERD_SOCKET");
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(o[1]);
    close(e[1]);
    buf_t out = BUF_INIT, err = BUF_INIT;
    struct pollfd p[2] = {{.fd = o[0], .events = POLLIN}, {.fd = e[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        cr_assert(poll(p, 2, 20000) > 0, "failoverctl hangs");
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            char chunk[4096];
            ssize_t r = read(p[i].fd, chunk, sizeof chunk);
            if (r > 0) {
                buf_append(i == 0 ? &out : &err, chunk, (size_t)r);
            } else {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status), "failoverctl died: %d", status);
    return (run_t){WEXITSTATUS(status), buf_steal(&out), buf_steal(&err)};
}

/* Messages are wrapped at 80 columns: the text with every run of blanks
 * (newlines and indents included) made one space, in place. */
static char *squash(char *s)
{
    char *w = s;
    for (const char *p = s; *p; p++) {
        bool blank = *p == ' ' || *p == '\n';
        if (blank && w > s && w[-1] == ' ')
            continue;
        *w++ = blank ? ' ' : *p;
    }
    *w = '\0';
    return s;
}

static void run_free(run_t *r)
{
    free(r->out);
    free(r->err);
}

Test(failoverctl, a_missing_socket_is_exit_69_with_a_clear_message, .timeout = 30)
{
    const char *const args[] = {"-s", "/nonexistent/failoverd.sock", "status", NULL};
    run_t r = run_ctl(NULL, args);
    cr_assert_eq(r.rc, 69, "rc %d, stderr: %s", r.rc, r.err);
    cr_assert(strstr(r.err, "cannot connect to failoverd"), "%s", r.err);
    cr_assert(strstr(r.err, "/nonexistent/failoverd.sock"), "%s", r.err);
    cr_assert_str_eq(r.out, "");
    run_free(&r);

    /* FAILOVERD_SOCKET is the default when -s is not given. */
    const char *const args2[] = {"status", "--json", NULL};
    r = run_ctl("/nonexistent/env.sock", args2);
    cr_assert_eq(r.rc, 69);
    cr_assert(strstr(r.err, "/nonexistent/env.sock"), "%s", r.err);
    run_free(&r);
}

Test(failoverctl, bad_command_lines_are_exit_64, .timeout = 30)
{
    static const struct {
        const char *args[8];
        const char *err_contains;
    } rows[] = {
        {{NULL}, "usage:"},
        {{"explode", NULL}, "unknown command 'explode'"},
        {{"plan", NULL}, "plan needs a CLUSTER"},
        {{"status", "a", "b", NULL}, "too many arguments"},
        {{"status", "--force", NULL}, "status takes no option '--force'"},
        {{"status", "--limit", "3", NULL}, "status takes no option '--limit'"},
        {{"switchover", "main", "--policy", "fast", NULL}, "reliability or availability"},
        {{"switchover", "main", "--timeout", "-1", NULL}, "--timeout needs seconds"},
        {{"--timeout", "soon", "status", NULL}, "--timeout needs seconds"},
        {{"history", "--limit", "0", NULL}, "--limit needs"},
        {{"--bogus", "status", NULL}, "unknown or incomplete option '--bogus'"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        run_t r = run_ctl("/nonexistent/x.sock", rows[i].args);
        cr_assert_eq(r.rc, 64, "row %zu: rc %d (%s)", i, r.rc, r.err);
        cr_assert(strstr(r.err, rows[i].err_contains), "row %zu: %s", i, r.err);
        run_free(&r);
    }
    const char *const help[] = {"--help", NULL};
    run_t r = run_ctl(NULL, help);
    cr_assert_eq(r.rc, 0);
    cr_assert(strstr(r.out, "exit codes:"));
    assert_fits(r.out);
    run_free(&r);
}

/* A control server in a thread of this process, answering like a daemon. */
typedef struct {
    uv_loop_t loop;
    uv_async_t stop;
    control_t *ctl;
    pthread_t thread;
    char dir[64];
    char path[100];
    atomic_int loop_close_rc;
} daemon_t;

static void d_status(control_req_t *req, void *ud)
{
    const char *cluster = NULL;
    if (!control_arg_string(req, "cluster", false, &cluster))
        return;
    if (cluster && strcmp(cluster, "main") != 0) {
        control_reply_error(req, CONTROL_E_NOT_FOUND, "no cluster named '%s'", cluster);
        return;
    }
    control_reply_ok(req, fixture("ctl_status_healthy.json"));
}

/* Hands back what it was asked, to check how the command line maps. */
static void d_echo(control_req_t *req, void *ud)
{
    control_reply_ok(
        req, json_pack("{s:s, s:O}", "cmd", control_req_cmd(req), "args", control_req_args(req)));
}

static void d_failed(control_req_t *req, void *ud)
{
    control_reply_error(req, CONTROL_E_FAILED,
                        "the candidate db2 did not catch up within 5 s; "
                        "rolled back, db1 is writable again");
}

static void d_busy(control_req_t *req, void *ud)
{
    control_reply_error(req, CONTROL_E_BUSY, "a switchover of main is running");
}

static void late_closed(uv_handle_t *h)
{
    free(h);
}

static void late_fire(uv_timer_t *t)
{
    control_reply_ok(t->data, NULL);
    uv_close((uv_handle_t *)t, late_closed);
}

/* Answers after a second: longer than the client is willing to wait. */
static void d_late(control_req_t *req, void *ud)
{
    daemon_t *d = ud;
    uv_timer_t *t = xmalloc(sizeof *t);
    uv_timer_init(&d->loop, t);
    t->data = req;
    uv_timer_start(t, late_fire, 1000, 0);
}

static void d_stop(uv_async_t *a)
{
    daemon_t *d = a->data;
    control_close(d->ctl, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *d_main(void *arg)
{
    daemon_t *d = arg;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    atomic_store(&d->loop_close_rc, uv_loop_close(&d->loop));
    return NULL;
}

static daemon_t *daemon_start(void)
{
    daemon_t *d = xcalloc(1, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/fo-ctl-XXXXXX");
    cr_assert_not_null(mkdtemp(d->dir));
    snprintf(d->path, sizeof d->path, "%s/control.sock", d->dir);
    uv_loop_init(&d->loop);
    uv_async_init(&d->loop, &d->stop, d_stop);
    d->stop.data = d;
    control_opts_t o;
    control_opts_init(&o);
    o.path = d->path;
    d->ctl = control_create(&d->loop, &o);
    control_register(d->ctl, "status", d_status, d);
    control_register(d->ctl, "plan", d_status, d); /* not_found for other clusters */
    control_register(d->ctl, "switchover", d_echo, d);
    control_register(d->ctl, "pause", d_echo, d);
    control_register(d->ctl, "failover", d_failed, d);
    control_register(d->ctl, "resume", d_busy, d);
    control_register(d->ctl, "history", d_late, d);
    char err[256];
    cr_assert(control_listen(d->ctl, err, sizeof err), "%s", err);
    pthread_create(&d->thread, NULL, d_main, d);
    return d;
}

static void daemon_stop(daemon_t *d)
{
    uv_async_send(&d->stop);
    pthread_join(d->thread, NULL);
    cr_assert_eq(atomic_load(&d->loop_close_rc), 0);
    rmdir(d->dir);
    free(d);
}

Test(failoverctl, against_a_daemon, .timeout = 60)
{
    daemon_t *d = daemon_start();

    /* status: the table. */
    const char *const st[] = {"-s", d->path, "status", NULL};
    run_t r = run_ctl(NULL, st);
    cr_assert_eq(r.rc, 0, "rc %d: %s", r.rc, r.err);
    cr_assert(strstr(r.out, "CLUSTER main  HEALTHY  primary db1"), "%s", r.out);
    cr_assert(strstr(r.out, "\ndb3  replica up    yes   yes/yes  12s  3     23ms  0-1-4239\n"));
    assert_fits(r.out);
    run_free(&r);

    /* status --json (after the command, too): the raw result. */
    const char *const sj[] = {"status", "--json", NULL};
    r = run_ctl(d->path, sj);
    cr_assert_eq(r.rc, 0);
    json_t *got = json_loads(r.out, 0, NULL);
    json_t *want = fixture("ctl_status_healthy.json");
    cr_assert(json_equal(got, want), "%s", r.out);
    json_decref(got);
    json_decref(want);
    run_free(&r);

    /* An unknown cluster: rejected, 65. */
    const char *const nf[] = {"-s", d->path, "plan", "nope", NULL};
    r = run_ctl(NULL, nf);
    cr_assert_eq(r.rc, 65, "rc %d", r.rc);
    cr_assert(strstr(r.err, "no cluster named 'nope'"), "%s", r.err);
    cr_assert(strstr(r.err, "not_found"), "%s", r.err);
    run_free(&r);

    /* The switchover's options become its arguments. */
    const char *const so[] = {"-s",        d->path, "--json",   "switchover",   "--to",
                              "db2",       "main",  "--policy", "availability", "--dry-run",
                              "--timeout", "30",    NULL};
    r = run_ctl(NULL, so);
    cr_assert_eq(r.rc, 0, "%s", r.err);
    got = json_loads(r.out, 0, NULL);
    want = json_loads("{\"cmd\":\"switchover\",\"args\":{\"cluster\":\"main\",\"to\":\"db2\","
                      "\"policy\":\"availability\",\"dry_run\":true,\"timeout_s\":30.0}}",
                      0, NULL);
    cr_assert(json_equal(got, want), "%s", r.out);
    json_decref(got);
    json_decref(want);
    run_free(&r);

    /* A generic result, human form. */
    const char *const pa[] = {"-s", d->path, "pause", "main", NULL};
    r = run_ctl(NULL, pa);
    cr_assert_eq(r.rc, 0);
    cr_assert_str_eq(r.out, "cmd: pause\nargs:\n  cluster: main\n");
    run_free(&r);

    /* Ran but failed: 1. Busy: 75. */
    const char *const fo[] = {"-s", d->path, "failover", "main", "--force", NULL};
    r = run_ctl(NULL, fo);
    cr_assert_eq(r.rc, 1);
    cr_assert(strstr(squash(r.err), "rolled back"), "%s", r.err);
    run_free(&r);
    const char *const re[] = {"-s", d->path, "resume", "main", NULL};
    r = run_ctl(NULL, re);
    cr_assert_eq(r.rc, 75);
    cr_assert(strstr(r.err, "a switchover of main is running"), "%s", r.err);
    run_free(&r);

    /* A command this daemon does not know yet: rejected, 65. */
    const char *const ack[] = {"-s", d->path, "ack", "main", NULL};
    r = run_ctl(NULL, ack);
    cr_assert_eq(r.rc, 65);
    cr_assert(strstr(r.err, "unknown command 'ack'"), "%s", r.err);
    run_free(&r);

    /* No reply in time: 75, and the client does not hang. */
    const char *const hi[] = {"-s", d->path, "--timeout", "0.3", "history", NULL};
    r = run_ctl(NULL, hi);
    cr_assert_eq(r.rc, 75, "rc %d: %s", r.rc, r.err);
    cr_assert(strstr(r.err, "no reply from failoverd within 0.3 s"), "%s", r.err);
    run_free(&r);

    daemon_stop(d);
}

/* Coordination through etcd: who this manager is, its role, the leader, the
 * term and the lease; nothing at all in standalone mode. */
Test(failoverctl, status_coordination)
{
    json_t *j = json_loads(
        "{\"daemon\":{\"version\":\"x\"},\"clusters\":[],\"coordination\":{\"mode\":\"etcd\","
        "\"manager\":\"m2\",\"role\":\"follower\",\"leader\":{\"id\":\"m1\",\"host\":\"h1\","
        "\"term\":7},\"term\":7,\"lease_valid_ms\":1500,\"etcd_error\":\"boom\"}}",
        0, NULL);
    cr_assert_not_null(j);
    buf_t b = BUF_INIT;
    ctlrender_status(&b, j);
    const char *t = buf_str(&b);
    cr_expect(strstr(t, "manager m2") && strstr(t, "role follower") &&
                  strstr(t, "leader m1 on h1") && strstr(t, "term 7") &&
                  strstr(t, "lease valid 1500 ms") && strstr(t, "etcd: boom"),
              "%s", t);
    json_decref(j);
    buf_free(&b);
    j = json_loads("{\"daemon\":{\"version\":\"x\"},\"clusters\":[],"
                   "\"coordination\":{\"mode\":\"standalone\"}}",
                   0, NULL);
    ctlrender_status(&b, j);
    cr_expect_null(strstr(buf_str(&b), "coordination"), "%s", buf_str(&b));
    json_decref(j);
    buf_free(&b);
}
