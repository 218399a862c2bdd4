#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"

static char path[256];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/failoverd-journal-test-%d.jsonl", (int)getpid());
    unlink(path);
}

static void teardown(void) { unlink(path); }

TestSuite(journal, .init = setup, .fini = teardown);

Test(journal, an_unfinished_operation_survives_a_restart)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert(journal_record(j, "main", "op1", "failover", "begin", json_pack("{s:s}", "old", "db1")));
    cr_assert(journal_record(j, "main", "op1", "failover", "step", json_pack("{s:s}", "step", "fence")));
    cr_assert(journal_record(j, "other", "op2", "switchover", "begin", NULL));
    cr_assert(journal_record(j, "other", "op2", "switchover", "done", NULL));
    journal_close(j);

    /* A crash tore the last line in half. */
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert(write(fd, "{\"seq\":5,\"clus", 14) == 14);
    close(fd);

    j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    json_t *open_op = journal_open_op(j, "main");
    cr_assert_not_null(open_op, "main's failover was interrupted");
    cr_assert_eq(json_array_size(open_op), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(open_op, 1), "step")), "fence");
    json_decref(open_op);
    cr_assert_null(journal_open_op(j, "other"), "a finished switchover is not open");

    /* An acknowledgement closes it; sequence numbers go on from the file. */
    cr_assert(journal_record(j, "main", "op1", "failover", "ack", NULL));
    cr_assert_null(journal_open_op(j, "main"));
    json_t *all = journal_records(j, "main");
    cr_assert_eq(json_array_size(all), 3);
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 2), "seq")), 5);
    json_decref(all);
    journal_close(j);

    /* The record written after the torn line reads back intact. */
    j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_null(journal_open_op(j, "main"), "the ack was not swallowed by the torn line");
    all = journal_records(j, NULL);
    cr_assert_eq(json_array_size(all), 5);
    json_decref(all);
    journal_close(j);
}

Test(journal, unwritable_path_is_a_clear_error)
{
    char err[256] = "";
    journal_t *j = journal_open("/nonexistent-dir/j.jsonl", err, sizeof err);
    cr_assert_null(j);
    cr_assert(strstr(err, "/nonexistent-dir/j.jsonl: No such file or directory"), "%s", err);
}

/* A damaged line in the middle of the file (here a torn "begin" that later
 * records follow) is not forgotten: the cluster it names is reported damaged
 * until acknowledged, the operation whose steps follow it is still open, and
 * the acknowledgement holds across a restart. */
Test(journal, a_damaged_line_in_the_middle_holds_its_cluster)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"cluster\":\"other\",\"op\":\"o0\",\"kind\":\"failover\",\"type\":\"begin\",\"seq\":1}\n"
          "{\"cluster\":\"other\",\"op\":\"o0\",\"kind\":\"failover\",\"type\":\"done\",\"seq\":2}\n"
          "{\"cluster\":\"main\",\"op\":\"op1\",\"kind\":\"failover\",\"ty\n"
          "{\"cluster\":\"main\",\"op\":\"op1\",\"kind\":\"failover\",\"type\":\"step\","
          "\"step\":\"fence:db1\",\"seq\":4}\n",
          f);
    fclose(f);
    char err[256], why[512];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert(journal_damage(j, "main", why, sizeof why));
    cr_assert(strstr(why, "line 3"), "%s", why);
    cr_assert_not(journal_damage(j, "other", why, sizeof why), "the line names main only");
    json_t *op = journal_open_op(j, "main");
    cr_assert_not_null(op, "the steps after a damaged begin keep the operation open");
    cr_assert_eq(json_array_size(op), 1);
    json_decref(op);

    cr_assert(journal_record(j, "main", "op1", "failover", "ack",
                             json_pack("{s:b}", "journal_damage", 1)));
    cr_assert_not(journal_damage(j, "main", why, sizeof why));
    cr_assert_null(journal_open_op(j, "main"));
    journal_close(j);

    j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_not(journal_damage(j, "main", why, sizeof why), "the ack holds after a restart");
    journal_close(j);
}

Test(journal, a_damaged_line_without_a_cluster_holds_every_cluster)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{\"clu\n"
          "{\"cluster\":\"a\",\"op\":\"x\",\"kind\":\"failover\",\"type\":\"ack\",\"seq\":2}\n",
          f);
    fclose(f);
    char err[256], why[512];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert(journal_damage(j, "a", why, sizeof why), "a plain ack does not cover damage");
    cr_assert(journal_damage(j, "b", why, sizeof why));
    cr_assert(journal_record(j, "a", "y", "failover", "ack", json_pack("{s:b}", "journal_damage", 1)));
    cr_assert_not(journal_damage(j, "a", why, sizeof why));
    cr_assert(journal_damage(j, "b", why, sizeof why), "each cluster acknowledges for itself");
    journal_close(j);
}

/* A record that does not fit is not durable: append says so, and the part of
 * it that reached the file is taken back, so the next record (once there is
 * room) starts on a line of its own and the file reads back whole. */
Test(journal, a_record_that_does_not_fit_fails_and_leaves_no_torn_line)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert(journal_record(j, "main", "op1", "switchover", "begin", NULL));
    struct stat st;
    cr_assert(stat(path, &st) == 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {.rlim_cur = (rlim_t)st.st_size + 40, .rlim_max = RLIM_INFINITY};
    cr_assert(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    cr_assert_not(journal_record(j, "main", "op1", "switchover", "step",
                                 json_pack("{s:s}", "step", "block_writes:db1")),
                  "a record cut by a full file is not durable");
    cr_assert(strstr(journal_last_error(j), "File too large"), "%s", journal_last_error(j));
    cr_assert_null(journal_broken(j), "the partial record was taken back");
    struct stat st2;
    cr_assert(stat(path, &st2) == 0);
    cr_assert_eq(st2.st_size, st.st_size, "nothing of the failed record is left");
    rl.rlim_cur = RLIM_INFINITY;
    cr_assert(setrlimit(RLIMIT_FSIZE, &rl) == 0);
    cr_assert(journal_record(j, "main", "op1", "switchover", "failed", NULL));
    journal_close(j);

    j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    char why[256];
    cr_assert_not(journal_damage(j, "main", why, sizeof why), "%s", why);
    json_t *all = journal_records(j, NULL);
    cr_assert_eq(json_array_size(all), 2, "begin and failed; the failed step record is not kept");
    cr_assert_eq(json_integer_value(json_object_get(json_array_get(all, 1), "seq")), 2);
    json_decref(all);
    journal_close(j);
}

Test(journal, an_unreadable_journal_holds_everything_and_takes_nothing)
{
    journal_t *j = journal_open_unreadable(path, "Input/output error");
    char why[256];
    cr_assert(journal_damage(j, "main", why, sizeof why));
    cr_assert(strstr(why, "can't be opened: Input/output error"), "%s", why);
    cr_assert_not(journal_record(j, "main", "op1", "failover", "begin", NULL));
    cr_assert_not_null(journal_broken(j));
    journal_close(j);
}

/* The rejoin journals its actions too, but they are not operations: an open
 * rejoin is never the cluster's interrupted operation, and a rejoin that
 * writes while a failover runs does not hide that failover. */
Test(journal, rejoin_records_are_never_an_interrupted_operation)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert(journal_record(j, "main", "f1", "failover", "begin", NULL));
    cr_assert(journal_record(j, "main", "f1", "failover", "done", NULL));
    cr_assert(journal_record(j, "main", "r1", "rejoin", "begin", json_pack("{s:s}", "node", "db1")));
    cr_assert(journal_record(j, "main", "r1", "rejoin", "step", json_pack("{s:s}", "step", "rejoin:db1")));
    journal_close(j);
    j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_expect_null(journal_open_op(j, "main"), "an open rejoin is not an interrupted failover");
    json_t *ops = journal_records(j, "main");
    cr_expect_eq(json_array_size(ops), 2, "history reads the operations only");
    json_decref(ops);
    json_t *all = journal_all_records(j, "main");
    cr_expect_eq(json_array_size(all), 4);
    json_decref(all);

    /* A failover starts while the rejoin still writes: the failover is the
     * open operation, whatever the last record is. */
    cr_assert(journal_record(j, "main", "f2", "failover", "begin", NULL));
    cr_assert(journal_record(j, "main", "r1", "rejoin", "step_done", json_pack("{s:s}", "step", "rejoin:db1")));
    json_t *open_op = journal_open_op(j, "main");
    cr_assert_not_null(open_op);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(open_op, 0), "op")), "f2");
    json_decref(open_op);
    journal_close(j);
}

Test(journal, a_note_holds_no_operation_open)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    /* A lost relay's replica repointed: a note of its own, after a finished
     * failover, with no operation before it at all in the other cluster. */
    cr_assert(journal_record(j, "main", "op1", "failover", "begin", NULL));
    cr_assert(journal_record(j, "main", "op1", "failover", "done", NULL));
    cr_assert(journal_record(j, "main", "n1", "note", "relay_repointed",
                             json_pack("{s:s, s:s}", "node", "db4", "source", "db1")));
    cr_assert(journal_record(j, "other", "n2", "note", "relay_repoint_failed", NULL));
    cr_assert_null(journal_open_op(j, "main"), "a note after a finished failover");
    cr_assert_null(journal_open_op(j, "other"), "a note alone");
    /* An operation open before a note stays open. */
    cr_assert(journal_record(j, "main", "op3", "failover", "begin", NULL));
    cr_assert(journal_record(j, "main", "n3", "note", "relay_repointed", NULL));
    json_t *open_op = journal_open_op(j, "main");
    cr_assert_not_null(open_op, "the failover begun before the note is open");
    cr_assert_eq(json_array_size(open_op), 1);
    json_decref(open_op);
    journal_close(j);
}
