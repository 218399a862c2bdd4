/* The replica status rows (observe.h): real rows of MariaDB 10.11 and MySQL
 * 9.7 (tests/unit/data/observe/, one file each, as `lab sql` prints them: a header
 * line of column names, tab-separated values, NULL for SQL NULL), one table
 * row each, then rows broken on purpose. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "flavor.h"
#include "model.h"
#include "observe.h"

#define MARIADB_VERSION "10.11.14-MariaDB-log"
#define MYSQL_VERSION "9.7.0"

/* A result set loaded from a file; owns its strings. */
typedef struct {
    observe_rows_t rows;
    char **cols;
    char **vals;
} rs_t;

static size_t split(char *line, char **out, size_t max)
{
    size_t n = 0;
    line[strcspn(line, "\n")] = '\0';
    for (char *p = line;; n++) {
        char *tab = strchr(p, '\t');
        if (n < max)
            out[n] = p;
        if (!tab)
            return n + 1;
        *tab = '\0';
        p = tab + 1;
    }
}

static rs_t load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/observe/%s.tsv", TEST_DATA_DIR, name);
    FILE *f = fopen(path, "r");
    cr_assert(f, "open %s", path);
    static char line[3][16384];
    char *head[128], *row[128];
    cr_assert(fgets(line[0], sizeof line[0], f), "%s: no header", path);
    size_t ncols = split(line[0], head, 128);
    rs_t r = {.cols = xcalloc(ncols, sizeof(char *))};
    r.rows.ncols = ncols;
    for (size_t i = 0; i < ncols; i++)
        r.cols[i] = xstrdup(head[i]);
    while (fgets(line[1], sizeof line[1], f)) {
        cr_assert_eq(split(line[1], row, 128), ncols, "%s: a row of another width", path);
        r.vals = realloc(r.vals, (r.rows.nrows + 1) * ncols * sizeof(char *));
        for (size_t i = 0; i < ncols; i++)
            r.vals[r.rows.nrows * ncols + i] = strcmp(row[i], "NULL") ? xstrdup(row[i]) : NULL;
        r.rows.nrows++;
    }
    fclose(f);
    r.rows.cols = r.cols;
    r.rows.vals = r.vals;
    return r;
}

static void rs_free(rs_t *r)
{
    for (size_t i = 0; i < r->rows.ncols; i++)
        free(r->cols[i]);
    for (size_t i = 0; i < r->rows.ncols * r->rows.nrows; i++)
        free(r->vals[i]);
    free(r->cols);
    free(r->vals);
}

/* Sets (or, with NULL, nulls) one value of row 0. */
static void set(rs_t *r, const char *col, const char *v)
{
    for (size_t i = 0; i < r->rows.ncols; i++) {
        if (strcmp(r->cols[i], col) == 0) {
            free(r->vals[i]);
            r->vals[i] = v ? xstrdup(v) : NULL;
            return;
        }
    }
    cr_assert_fail("no column %s", col);
}

/* Renames a column of the header (a server that spells it otherwise). */
static void rename_col(rs_t *r, const char *col, const char *to)
{
    for (size_t i = 0; i < r->rows.ncols; i++) {
        if (strcmp(r->cols[i], col) == 0) {
            free(r->cols[i]);
            r->cols[i] = xstrdup(to);
            return;
        }
    }
    cr_assert_fail("no column %s", col);
}

static flavor_t flavor_of(bool maria)
{
    flavor_t f;
    char err[256];
    cr_assert(flavor_detect(&f, maria ? MARIADB_VERSION : MYSQL_VERSION, NULL, err, sizeof err),
              "%s", err);
    return f;
}

/* ---- real rows ----------------------------------------------------------- */

typedef struct {
    const char *file;
    bool maria;
    const char *host;
    unsigned port;
    io_state_t io;
    bool sql;
    int64_t lag;
    unsigned io_errno;
    const char *io_error_start; /* NULL: no error */
    const char *received;
    const char *executed;
    uint64_t heartbeats; /* MariaDB: from the row; MySQL: the node state's (7) */
} real_row_t;

#define UUID "3cf13edb-f11a-11f1-b9a2-e69b2f54304c"

static const real_row_t real_rows[] = {
    {"mariadb-running", true, "10.213.229.11", 3306, IO_YES, true, 0, 0, NULL, "0-1-11", "0-1-11",
     41},
    {"mariadb-stopped", true, "10.213.229.11", 3306, IO_NO, false, -1, 0, NULL, "0-1-11", "0-1-11",
     43},
    {"mariadb-ioerror", true, "10.213.229.11", 3399, IO_CONNECTING, true, -1, 2003,
     "error connecting to master", "0-1-11", "0-1-11", 0},
    {"mysql-running", false, "10.213.10.11", 3306, IO_YES, true, 0, 0, NULL, UUID ":1-13",
     UUID ":1-13", 7},
    {"mysql-stopped", false, "10.213.10.11", 3306, IO_NO, false, -1, 0, NULL, UUID ":1-13",
     UUID ":1-13", 7},
    {"mysql-ioerror", false, "10.213.10.11", 3399, IO_CONNECTING, true, 0, 2003,
     "Error connecting to source", "", UUID ":1-13", 7},
};

Test(observe, real_rows)
{
    for (size_t i = 0; i < sizeof real_rows / sizeof real_rows[0]; i++) {
        const real_row_t *w = &real_rows[i];
        rs_t r = load(w->file);
        flavor_t f = flavor_of(w->maria);
        observation_t o = {.heartbeats = 7};
        char err[256];
        cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s: %s", w->file, err);
        cr_expect(o.replica, "%s", w->file);
        cr_expect_str_eq(o.source_host, w->host, "%s", w->file);
        cr_expect_eq(o.source_port, w->port, "%s", w->file);
        cr_expect_eq(o.io, w->io, "%s: io %d", w->file, o.io);
        cr_expect_eq(o.sql_running, w->sql, "%s", w->file);
        cr_expect_eq(o.lag_s, w->lag, "%s: lag %lld", w->file, (long long)o.lag_s);
        cr_expect_eq(o.last_io_errno, w->io_errno, "%s", w->file);
        if (w->io_error_start)
            cr_expect(o.last_io_error && strncmp(o.last_io_error, w->io_error_start,
                                                 strlen(w->io_error_start)) == 0,
                      "%s: %s", w->file, o.last_io_error ? o.last_io_error : "(none)");
        else
            cr_expect_null(o.last_io_error, "%s", w->file);
        cr_expect_null(o.last_sql_error, "%s", w->file);
        cr_expect_eq(o.last_sql_errno, 0, "%s", w->file);
        cr_expect_str_eq(o.received_gtids, w->received, "%s", w->file);
        cr_expect_str_eq(o.executed_gtids, w->executed, "%s", w->file);
        cr_expect_eq(o.heartbeats, w->heartbeats, "%s: %llu", w->file,
                     (unsigned long long)o.heartbeats);
        cr_expect_eq(o.sql_delay_s, 0, "%s", w->file);
        cr_expect_str_eq(o.repl_filters, "", "%s", w->file);
        cr_expect(o.relay_log_space > 0, "%s", w->file);
        observation_clear(&o);
        rs_free(&r);
    }
}

Test(observe, no_row_is_no_replica)
{
    flavor_t f = flavor_of(true);
    rs_t r = load("mariadb-running");
    r.rows.nrows = 0;
    observation_t o = {0};
    char err[256];
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err));
    cr_expect(!o.replica);
    cr_expect_null(o.source_host);
    cr_assert(observe_replica(&f, NULL, &o, err, sizeof err));
    cr_expect(!o.replica);
    r.rows.nrows = 1;
    rs_free(&r);
}

/* MariaDB without Gtid_Slave_Pos in the row takes the node state's. */
Test(observe, mariadb_applied_position_from_node_state)
{
    flavor_t f = flavor_of(true);
    rs_t r = load("mariadb-running");
    rename_col(&r, "Gtid_Slave_Pos", "Something_Else");
    observation_t o = {.gtid_slave_pos = xstrdup("0-1-9")};
    char err[256];
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s", err);
    cr_expect_str_eq(o.executed_gtids, "0-1-9");
    observation_clear(&o);
    rs_free(&r);
}

/* A named channel (another source) is not the default one. */
Test(observe, default_channel_row)
{
    flavor_t f = flavor_of(false);
    rs_t r = load("mysql-running");
    size_t n = r.rows.ncols;
    r.vals = realloc(r.vals, 2 * n * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        r.vals[n + i] = r.vals[i] ? xstrdup(r.vals[i]) : NULL;
    r.rows.vals = r.vals;
    r.rows.nrows = 2;
    set(&r, "Channel_Name", "other");
    set(&r, "Source_Host", "10.9.9.9");
    observation_t o = {0};
    char err[256];
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s", err);
    cr_expect_str_eq(o.source_host, "10.213.10.11");
    observation_clear(&o);
    rs_free(&r);
}

/* ---- malformed rows ------------------------------------------------------ */

typedef struct {
    const char *what;
    const char *file;
    const char *col;
    const char *value;  /* NULL: SQL NULL */
    const char *rename; /* instead: the column renamed to this */
    const char *want_err;
} bad_row_t;

static const bad_row_t bad_rows[] = {
    {"port not a number", "mysql-running", "Source_Port", "33o6", NULL,
     "the replica status's Source_Port is not a number: \"33o6\""},
    {"port out of range", "mariadb-running", "Master_Port", "70000", NULL,
     "the replica status's Master_Port is not a port: 70000"},
    {"negative lag", "mariadb-running", "Seconds_Behind_Master", "-3", NULL,
     "the replica status's Seconds_Behind_Master is not a number: \"-3\""},
    {"IO thread in no known state", "mysql-running", "Replica_IO_Running", "Maybe", NULL,
     "the replica status's Replica_IO_Running is not a thread state: \"Maybe\""},
    {"SQL thread neither Yes nor No", "mariadb-running", "Slave_SQL_Running", "Perhaps", NULL,
     "the replica status's Slave_SQL_Running is not Yes or No: \"Perhaps\""},
    {"error number not a number", "mysql-ioerror", "Last_IO_Errno", "x", NULL,
     "the replica status's Last_IO_Errno is not a number: \"x\""},
    {"heartbeats not a number", "mariadb-running", "Slave_received_heartbeats", "many", NULL,
     "the replica status's Slave_received_heartbeats is not a number: \"many\""},
    {"the other flavor's column names", "mysql-running", "Source_Host", NULL, "Master_Host",
     "the replica status has no Source_Host column"},
    {"no received GTID column", "mysql-running", "Retrieved_Gtid_Set", NULL, "Gtids",
     "the replica status has no Retrieved_Gtid_Set column"},
    {"no Gtid_IO_Pos", "mariadb-running", "Gtid_IO_Pos", NULL, "Pos",
     "the replica status has no Gtid_IO_Pos column"},
};

Test(observe, malformed_rows)
{
    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        const bad_row_t *b = &bad_rows[i];
        rs_t r = load(b->file);
        if (b->rename)
            rename_col(&r, b->col, b->rename);
        else
            set(&r, b->col, b->value);
        flavor_t f = flavor_of(strncmp(b->file, "mariadb", 7) == 0);
        observation_t o = {.heartbeats = 5};
        char err[256] = "";
        cr_expect(!observe_replica(&f, &r.rows, &o, err, sizeof err), "%s: accepted", b->what);
        cr_expect_str_eq(err, b->want_err, "%s", b->what);
        /* Nothing of the row is kept. */
        cr_expect(!o.replica, "%s", b->what);
        cr_expect_null(o.source_host, "%s", b->what);
        cr_expect_null(o.received_gtids, "%s", b->what);
        cr_expect_eq(o.heartbeats, 5, "%s", b->what);
        observation_clear(&o);
        rs_free(&r);
    }
}

/* SQL NULL where a number may be missing is no error: Seconds_Behind is -1. */
Test(observe, null_lag_is_unknown)
{
    flavor_t f = flavor_of(false);
    rs_t r = load("mysql-running");
    set(&r, "Seconds_Behind_Source", NULL);
    observation_t o = {0};
    char err[256];
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s", err);
    cr_expect_eq(o.lag_s, -1);
    observation_clear(&o);
    rs_free(&r);
}

/* Real rows of a replica with a second channel (MySQL, FOR CHANNEL 'c2') or
 * named connection (MariaDB, CHANGE MASTER 'c2'): the default channel is
 * read, and the channels counted (multi-source replication: an unsupported
 * topology, tree.h). Group Replication's channels are not counted, and mark
 * the node a group member. */
Test(observe, multi_source_real_rows)
{
    static const struct {
        const char *file;
        bool maria;
        const char *default_host;
    } rows[] = {
        {"mariadb-multisource", true, "10.213.20.11"},
        {"mysql-multisource", false, "10.213.21.11"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        rs_t r = load(rows[i].file);
        flavor_t f = flavor_of(rows[i].maria);
        observation_t o = {0};
        char err[256];
        cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s: %s", rows[i].file, err);
        cr_expect_str_eq(o.source_host, rows[i].default_host, "%s", rows[i].file);
        cr_expect_eq(o.repl_channels, 2, "%s: %u channels", rows[i].file, o.repl_channels);
        cr_expect(!o.group_replication, "%s", rows[i].file);
        observation_clear(&o);
        rs_free(&r);
    }
    rs_t r = load("mysql-running");
    flavor_t f = flavor_of(false);
    observation_t o = {0};
    char err[256];
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s", err);
    cr_expect_eq(o.repl_channels, 1, "one channel");
    observation_clear(&o);
    set(&r, "Channel_Name", "group_replication_applier");
    cr_assert(observe_replica(&f, &r.rows, &o, err, sizeof err), "%s", err);
    cr_expect_eq(o.repl_channels, 0, "Group Replication's channel is not counted");
    cr_expect(o.group_replication, "a group member");
    observation_clear(&o);
    rs_free(&r);
}
