/* The journal kept within journal_max_bytes: what compaction keeps, and that
 * a crash at any point of it leaves a journal that reads as before. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jcompact.h"
#include "journal.h"

static char path[256], tmp[300];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/failoverd-jcompact-test-%d.jsonl", (int)getpid());
    snprintf(tmp, sizeof tmp, "%s.compact", path);
    unlink(path);
    unlink(tmp);
}

static void teardown(void)
{
    unlink(path);
    unlink(tmp);
}

TestSuite(jcompact, .init = setup, .fini = teardown);

static json_t *rec(const char *cluster, const char *op, const char *type, int pad)
{
    char *filler = calloc((size_t)pad + 1, 1);
    memset(filler, 'x', (size_t)pad);
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cluster", cluster, "op", op, "kind",
                          "failover", "type", type, "pad", filler);
    free(filler);
    return r;
}

static const char *op_at(json_t *a, size_t i)
{
    return json_string_value(json_object_get(json_array_get(a, i), "op"));
}

Test(jcompact, keeps_each_clusters_last_operation_and_the_newest_that_fit)
{
    json_t *all = json_array();
    /* main: o1 o2 o3 done; other: p1 done long ago; main: o4 open. */
    json_array_append_new(all, rec("other", "p1", "begin", 100));
    json_array_append_new(all, rec("other", "p1", "done", 100));
    const char *ops[] = {"o1", "o2", "o3"};
    for (int i = 0; i < 3; i++) {
        json_array_append_new(all, rec("main", ops[i], "begin", 100));
        json_array_append_new(all, rec("main", ops[i], "done", 100));
    }
    json_array_append_new(all, rec("main", "o4", "begin", 100));
    json_array_append_new(all, rec("main", "o4", "step", 100));

    size_t dropped, bytes;
    /* A budget for the two kept by rule and one more operation. */
    json_t *k = jcompact_select(all, 1100, &dropped, &bytes);
    cr_assert_eq(json_array_size(k), 6, "%zu", json_array_size(k));
    cr_expect_eq(dropped, 2);
    cr_expect_str_eq(op_at(k, 0), "p1"); /* other's last operation */
    cr_expect_str_eq(op_at(k, 2), "o3"); /* the newest that fits */
    cr_expect_str_eq(op_at(k, 4), "o4"); /* the open one */
    cr_expect_leq(bytes, 1100);
    json_decref(k);

    /* No budget at all: what must stay stays. */
    k = jcompact_select(all, 0, &dropped, &bytes);
    cr_expect_eq(json_array_size(k), 4);
    cr_expect_eq(dropped, 3);
    json_decref(k);
    json_decref(all);
}

/* A rejoin that writes while an operation runs is kept beside it: neither
 * hides the other from what must stay. */
Test(jcompact, keeps_the_open_operation_behind_a_later_rejoin)
{
    json_t *all = json_array();
    json_array_append_new(all, rec("main", "o1", "begin", 100));
    json_array_append_new(all, rec("main", "o1", "step", 100));
    json_t *r = rec("main", "r1", "step_done", 100);
    json_object_set_new(r, "kind", json_string("rejoin"));
    json_array_append_new(all, r);
    size_t dropped, bytes;
    json_t *k = jcompact_select(all, 0, &dropped, &bytes);
    cr_assert_eq(json_array_size(k), 3, "%zu", json_array_size(k));
    cr_expect_eq(dropped, 0);
    cr_expect_str_eq(op_at(k, 0), "o1");
    cr_expect_str_eq(op_at(k, 2), "r1");
    json_decref(k);
    json_decref(all);
}

/* A journal with an open operation and much history. */
static void fill(journal_t *j, int ops)
{
    for (int i = 0; i < ops; i++) {
        char op[32];
        snprintf(op, sizeof op, "old%d", i);
        cr_assert(journal_record(j, "main", op, "failover", "begin", NULL));
        cr_assert(journal_record(j, "main", op, "failover", "done", NULL));
    }
    cr_assert(journal_record(j, "other", "last", "switchover", "begin", NULL));
    cr_assert(journal_record(j, "other", "last", "switchover", "done", NULL));
    cr_assert(journal_record(j, "main", "open", "failover", "begin", NULL));
    cr_assert(journal_record(j, "main", "open", "failover", "step",
                             json_pack("{s:s}", "step", "promote")));
}

static long long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

static void expect_as_before(long long records, long long max_seq_min)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    json_t *open = journal_open_op(j, "main");
    cr_assert_not_null(open, "the interrupted operation is lost");
    cr_expect_eq(json_array_size(open), 2);
    cr_expect_str_eq(op_at(open, 0), "open");
    json_decref(open);
    cr_expect_null(journal_open_op(j, "other"));
    json_t *all = journal_records(j, NULL);
    if (records >= 0)
        cr_expect_eq((long long)json_array_size(all), records);
    json_int_t last =
        json_integer_value(json_object_get(json_array_get(all, json_array_size(all) - 1), "seq"));
    cr_expect_geq(last, max_seq_min);
    json_decref(all);
    char why[256];
    cr_expect_not(journal_damage(j, "main", why, sizeof why), "%s", why);
    /* A new record follows the highest sequence number. */
    cr_assert(journal_record(j, "main", "open", "failover", "ack", NULL));
    all = journal_records(j, NULL);
    cr_expect_eq(
        json_integer_value(json_object_get(json_array_get(all, json_array_size(all) - 1), "seq")),
        max_seq_min + 1);
    json_decref(all);
    journal_close(j);
}

Test(jcompact, the_journal_stays_within_its_bound_and_keeps_what_is_needed)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    journal_set_max_bytes(j, 65536);
    fill(j, 600); /* about 130 KB without compaction */
    /* Compacted between operations: the bound is exceeded by at most the
     * records of an operation in progress. */
    cr_expect_leq(file_size(path), 65536 + 1024);
    json_t *all = journal_records(j, NULL);
    size_t n = json_array_size(all);
    cr_expect_gt(n, 100, "history is kept too: %zu records", n);
    json_decref(all);
    journal_close(j);
    cr_expect_eq(file_size(tmp), -1, "no temporary file is left");
    expect_as_before((long long)n, 1204);
}

Test(jcompact, compacts_at_once_when_opened_above_the_bound)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    fill(j, 600);
    journal_close(j);
    cr_assert_gt(file_size(path), 65536);
    j = journal_open(path, err, sizeof err);
    journal_set_max_bytes(j, 65536);
    journal_close(j);
    cr_expect_leq(file_size(path), 32768);
    expect_as_before(-1, 1204);
}

Test(jcompact, a_journal_with_damage_is_not_compacted)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    fill(j, 10);
    journal_close(j);
    int fd = open(path, O_WRONLY | O_APPEND);
    cr_assert(write(fd, "garbage\n", 8) == 8);
    close(fd);
    long long before = file_size(path);
    j = journal_open(path, err, sizeof err);
    journal_set_max_bytes(j, 65536);
    cr_expect_not(journal_compact(j));
    cr_expect_eq(file_size(path), before);
    journal_close(j);
}

/* A crash at each point of a compaction: the journal reads as before. */
static void crash_at(jcompact_stop_t stop)
{
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    fill(j, 300);
    json_t *all = journal_records(j, NULL);
    journal_close(j);
    size_t dropped;
    json_t *kept = jcompact_select(all, 16384, &dropped, NULL);
    cr_assert_gt(dropped, 0);
    bool replaced;
    int fd = jcompact_rewrite(path, kept, stop, &replaced, err, sizeof err);
    cr_assert_eq(fd, -1);
    cr_expect_str_eq(err, "stopped");
    cr_expect_eq(replaced, stop == JCOMPACT_STOP_BEFORE_DIRSYNC);
    expect_as_before(replaced ? (long long)json_array_size(kept) : (long long)json_array_size(all),
                     604);
    json_decref(kept);
    json_decref(all);
    /* What the crash left next to the journal goes at the next start. */
    j = journal_open(path, err, sizeof err);
    journal_set_max_bytes(j, 1 << 20);
    cr_expect_eq(file_size(tmp), -1);
    journal_close(j);
}

Test(jcompact, crash_with_the_new_file_half_written)
{
    crash_at(JCOMPACT_STOP_HALF_WRITTEN);
}
Test(jcompact, crash_before_the_rename)
{
    crash_at(JCOMPACT_STOP_BEFORE_RENAME);
}
Test(jcompact, crash_before_the_directory_is_synced)
{
    crash_at(JCOMPACT_STOP_BEFORE_DIRSYNC);
}

Test(jcompact, a_compacted_journal_keeps_its_owner)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    cr_assert_not_null(j, "%s", err);
    cr_assert_eq(chown(path, 65534, 65534), 0);
    journal_set_max_bytes(j, 65536);
    fill(j, 600);
    journal_close(j);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq(st.st_uid, 65534);
    cr_expect_eq(st.st_gid, 65534);
    cr_expect_eq(st.st_mode & 0777, 0600);
}
