/* observe.c - see observe.h. */
#include "observe.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "filters.h"

/* One row of a result set, with the flavor's column names and where to say
 * what is wrong with it. */
typedef struct {
    const observe_rows_t *rows;
    size_t row;
    const flavor_replica_columns_t *R;
    char *err;
    size_t errlen;
    bool failed;
} row_t;

static void fail(row_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(row_t *r, const char *fmt, ...)
{
    if (r->failed)
        return; /* the first problem is the one to tell */
    r->failed = true;
    if (!r->err || !r->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
}

static int col_index(const observe_rows_t *rows, const char *name)
{
    for (size_t i = 0; name && i < rows->ncols; i++)
        if (rows->cols[i] && strcasecmp(rows->cols[i], name) == 0)
            return (int)i;
    return -1;
}

/* The value of the column, NULL for SQL NULL; a column the flavor names but
 * the row lacks is an error when required (a flavor's column without a name,
 * NULL in flavor_replica_columns_t, is simply absent). */
static const char *value(row_t *r, const char *name, bool required)
{
    if (!name)
        return NULL;
    int c = col_index(r->rows, name);
    if (c < 0) {
        if (required)
            fail(r, "the replica status has no %s column", name);
        return NULL;
    }
    return r->rows->vals[r->row * r->rows->ncols + (size_t)c];
}

/* A non-negative decimal number; dflt for SQL NULL or an absent column. */
static uint64_t number(row_t *r, const char *name, bool required, uint64_t dflt)
{
    const char *v = value(r, name, required);
    if (!v)
        return dflt;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (!v[0] || v[0] == '-' || *end || errno == ERANGE) {
        fail(r, "the replica status's %s is not a number: \"%s\"", name, v);
        return dflt;
    }
    return n;
}

/* "" (an empty error text) is no error. */
static char *text_or_null(const char *s)
{
    return s && s[0] ? xstrdup(s) : NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* The default channel's row: MySQL's Channel_Name "", MariaDB's
 * Connection_name ""; the first row where there is no such column or no row
 * has the default name. */
static size_t default_row(const observe_rows_t *rows, const flavor_replica_columns_t *R)
{
    int c = col_index(rows, R->channel);
    for (size_t i = 0; c >= 0 && i < rows->nrows; i++) {
        const char *ch = rows->vals[i * rows->ncols + (size_t)c];
        if (ch && !ch[0])
            return i;
    }
    return 0;
}

static io_state_t io_thread(row_t *r)
{
    const char *v = value(r, r->R->io_running, true);
    io_state_t s = io_state_parse(v);
    if (v && s == IO_UNKNOWN)
        fail(r, "the replica status's %s is not a thread state: \"%s\"", r->R->io_running, v);
    return s;
}

static bool sql_thread(row_t *r)
{
    const char *v = value(r, r->R->sql_running, true);
    if (!v || strcasecmp(v, "No") == 0)
        return false;
    if (strcasecmp(v, "Yes") != 0)
        fail(r, "the replica status's %s is not Yes or No: \"%s\"", r->R->sql_running, v);
    return strcasecmp(v, "Yes") == 0;
}

/* Seconds_Behind_*: -1 when NULL (the SQL thread is not running, or the IO
 * thread not connected). */
static int64_t seconds_behind(row_t *r)
{
    const char *v = value(r, r->R->seconds_behind, true);
    if (!v)
        return -1;
    uint64_t n = number(r, r->R->seconds_behind, true, 0);
    return n > INT64_MAX ? INT64_MAX : (int64_t)n;
}

/* The replication filters of the row (filters.h). */
static char *filters(row_t *r)
{
    const char *vals[FILTERS_NCOLUMNS + 1] = {NULL};
    for (size_t i = 0; filters_columns[i]; i++)
        vals[i] = value(r, filters_columns[i], false);
    return filters_canonical(vals);
}

/* Yes / No / Ignored of an optional column: 1 / 0 / 2; -1 when absent or
 * anything else. */
static int yes_no(row_t *r, const char *name)
{
    const char *v = name ? value(r, name, false) : NULL;
    if (!v)
        return -1;
    if (strcasecmp(v, "Yes") == 0)
        return 1;
    if (strcasecmp(v, "No") == 0)
        return 0;
    if (strcasecmp(v, "Ignored") == 0)
        return 2;
    return -1;
}

/* The heartbeat period of the channel in ms (MariaDB shows it in the row);
 * 0 when absent or not a number of seconds: unknown, so the detector waits
 * the full replica_confirm. */
static uint64_t heartbeat_ms(row_t *r, const char *name)
{
    const char *v = name ? value(r, name, false) : NULL;
    uint64_t ms = 0;
    if (!v || !flavor_parse_seconds_ms(v, &ms))
        return 0;
    return ms;
}

/* The GTIDs of the row: MySQL's Retrieved_Gtid_Set and Executed_Gtid_Set,
 * MariaDB's Gtid_IO_Pos and Gtid_Slave_Pos (or the node state's). */
static void gtids(row_t *r, bool maria, observation_t *t)
{
    const flavor_replica_columns_t *R = r->R;
    if (maria) {
        t->received_gtids = dup_or_null(value(r, R->gtid_io_pos, true));
        const char *applied = value(r, R->gtid_slave_pos, false);
        t->executed_gtids = dup_or_null(applied ? applied : t->gtid_slave_pos);
        t->heartbeats = number(r, R->received_heartbeats, false, t->heartbeats);
        t->heartbeat_period_ms = heartbeat_ms(r, R->heartbeat_period);
    } else {
        t->received_gtids = dup_or_null(value(r, R->retrieved_gtid_set, true));
        t->executed_gtids = dup_or_null(value(r, R->executed_gtid_set, true));
    }
}

/* Frees what a failed parse had filled of t (borrowed fields untouched). */
static void drop(observation_t *t)
{
    free(t->source_host);
    free(t->last_io_error);
    free(t->last_sql_error);
    free(t->repl_filters);
    free(t->received_gtids);
    free(t->executed_gtids);
}

/* How many channels the rows list, Group Replication's left out, and
 * whether one of them is Group Replication's. */
static unsigned channels(const observe_rows_t *rows, const flavor_replica_columns_t *R, bool *gr)
{
    int c = col_index(rows, R->channel);
    unsigned n = 0;
    *gr = false;
    for (size_t i = 0; i < rows->nrows; i++) {
        const char *v = c >= 0 ? rows->vals[i * rows->ncols + (size_t)c] : NULL;
        if (v && strncasecmp(v, "group_replication_", 18) == 0)
            *gr = true;
        else
            n++;
    }
    return n;
}

bool observe_replica(const flavor_t *f, const observe_rows_t *rows, observation_t *o, char *err,
                     size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!rows || rows->nrows == 0)
        return true;
    const flavor_replica_columns_t *R = flavor_replica_columns(f);
    row_t r = {.rows = rows, .row = default_row(rows, R), .R = R, .err = err, .errlen = errlen};
    observation_t t = {.heartbeats = o->heartbeats,
                       .gtid_slave_pos = o->gtid_slave_pos,
                       .heartbeat_period_ms = o->heartbeat_period_ms};
    t.source_host = dup_or_null(value(&r, R->source_host, true));
    uint64_t port = number(&r, R->source_port, true, 3306);
    if (port > 65535)
        fail(&r, "the replica status's %s is not a port: %" PRIu64, R->source_port, port);
    t.source_port = (unsigned)port;
    t.io = io_thread(&r);
    t.sql_running = sql_thread(&r);
    t.last_io_errno = (unsigned)number(&r, R->last_io_errno, true, 0);
    t.last_sql_errno = (unsigned)number(&r, R->last_sql_errno, true, 0);
    t.last_io_error = text_or_null(value(&r, R->last_io_error, true));
    t.last_sql_error = text_or_null(value(&r, R->last_sql_error, true));
    t.lag_s = seconds_behind(&r);
    uint64_t delay = number(&r, R->sql_delay, false, 0);
    t.sql_delay_s = delay > INT64_MAX ? INT64_MAX : (int64_t)delay;
    t.relay_log_space = number(&r, R->relay_log_space, false, 0);
    t.repl_filters = filters(&r);
    t.channel_ssl = yes_no(&r, R->ssl_allowed);
    t.channel_ssl_verify = yes_no(&r, R->ssl_verify_server_cert);
    gtids(&r, f->family == FAMILY_MARIADB, &t);
    if (r.failed) {
        drop(&t);
        return false;
    }
    o->replica = true;
    o->source_host = t.source_host;
    o->source_port = t.source_port;
    o->io = t.io;
    o->sql_running = t.sql_running;
    o->last_io_errno = t.last_io_errno;
    o->last_sql_errno = t.last_sql_errno;
    o->last_io_error = t.last_io_error;
    o->last_sql_error = t.last_sql_error;
    o->lag_s = t.lag_s;
    o->sql_delay_s = t.sql_delay_s;
    o->relay_log_space = t.relay_log_space;
    o->repl_filters = t.repl_filters;
    o->received_gtids = t.received_gtids;
    o->executed_gtids = t.executed_gtids;
    o->heartbeats = t.heartbeats;
    o->heartbeat_period_ms = t.heartbeat_period_ms;
    o->channel_ssl = t.channel_ssl;
    o->channel_ssl_verify = t.channel_ssl_verify;
    bool gr;
    o->repl_channels = channels(rows, R, &gr);
    o->group_replication = o->group_replication || gr;
    return true;
}

const char *observe_thread_word(io_state_t s)
{
    switch (s) {
    case IO_YES: return "Yes";
    case IO_NO: return "No";
    case IO_CONNECTING: return "Connecting";
    case IO_UNKNOWN: break;
    }
    return "?";
}
