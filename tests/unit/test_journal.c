#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
