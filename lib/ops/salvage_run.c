/* salvage_run.c - see salvage_run.h. */
#include "salvage_run.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "event.h"
#include "log.h"
#include "names.h"
#include "plan.h"

/* A child that outlives its share of the bound gets SIGTERM, then SIGKILL
 * this much later. */
#define SALVAGE_KILL_GRACE_MS 300

typedef struct {
    uv_loop_t *loop;
    salvage_cb cb;
    void *ud;
    bool mariadb, super_read_only;
    char *client;
    char *defaults;   /* the option file's path, removed at the end */
    char *before;
    uint64_t started, timeout_ms, bytes;
} run_t;

static uint64_t left_ms(const run_t *r)
{
    uint64_t used = uv_now(r->loop) - r->started;
    return used < r->timeout_ms ? r->timeout_ms - used : 0;
}

static void finish(run_t *r, bool ok, bool timed_out, const char *error, const char *after)
{
    char err[256] = "";
    uint64_t count = 0;
    char *salvaged = NULL;
    if (after) {
        salvaged = plan_divergence(r->mariadb, after, r->before, &count, err, sizeof err);
        if (!salvaged && ok) {
            ok = false;
            error = err;
        }
    }
    salvage_result_t res = {.ok = ok, .timed_out = timed_out, .error = ok ? NULL : error,
                            .before = r->before, .after = after,
                            .salvaged = salvaged ? salvaged : "", .count = count,
                            .bytes = r->bytes, .elapsed_ms = uv_now(r->loop) - r->started};
    if (r->defaults)
        unlink(r->defaults);
    r->cb(&res, r->ud);
    free(salvaged);
    free(r->client);
    free(r->defaults);
    free(r->before);
    free(r);
}

static void describe(const child_result_t *c, const char *what, buf_t *b)
{
    buf_printf(b, "%s ", what);
    child_describe(c, b);
    /* The last line of what it said on standard error tells why (the
     * client prints the statement that failed before its error). */
    size_t end = c->err_len;
    while (end > 0 && (c->err[end - 1] == '\n' || c->err[end - 1] == ' '))
        end--;
    size_t start = end;
    while (start > 0 && c->err[start - 1] != '\n')
        start--;
    if (end > start)
        buf_printf(b, ": %.*s", (int)(end - start > 300 ? 300 : end - start), c->err + start);
}

static void applied(const child_result_t *c, void *ud)
{
    run_t *r = ud;
    if (c->status != CHILD_EXITED || c->exit_code != 0) {
        buf_t b = BUF_INIT;
        describe(c, "the mysql client applying it", &b);
        finish(r, false, c->status == CHILD_TIMEOUT, buf_str(&b), NULL);
        buf_free(&b);
        return;
    }
    char *after = salvage_parse_after(c->out, c->out_len);
    if (!after)
        finish(r, false, false, "the mysql client did not report the GTID state after", NULL);
    else
        finish(r, true, false, NULL, after);
    free(after);
}

static void read_done(const child_result_t *c, void *ud)
{
    run_t *r = ud;
    r->bytes = c->out_total;
    buf_t b = BUF_INIT;
    if (c->status != CHILD_EXITED || c->exit_code != 0) {
        describe(c, "salvage_command", &b);
        finish(r, false, c->status == CHILD_TIMEOUT, buf_str(&b), NULL);
        buf_free(&b);
        return;
    }
    if (c->out_total > c->out_len) {
        buf_printf(&b, "salvage_command printed more than %u bytes; nothing applied",
                   SALVAGE_OUTPUT_MAX);
        finish(r, false, false, buf_str(&b), NULL);
        buf_free(&b);
        return;
    }
    uint64_t left = left_ms(r);
    if (left == 0) {
        finish(r, false, true, "no time left to apply what was read", NULL);
        return;
    }
    buf_t in = BUF_INIT;
    salvage_client_input(r->mariadb, r->super_read_only, c->out, c->out_len, &in);
    buf_printf(&b, "--defaults-extra-file=%s", r->defaults);
    const char *argv[] = {r->client, buf_str(&b), "--batch", "--skip-column-names",
                          "--binary-mode", NULL};
    child_opts_t o = {.argv = argv, .timeout_ms = left, .kill_grace_ms = SALVAGE_KILL_GRACE_MS,
                      .input = buf_str(&in), .input_len = in.len, .clean_env = true};
    int rc = child_start(r->loop, &o, applied, r);
    buf_free(&in);
    buf_free(&b);
    if (rc != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "the mysql client could not be started: %s", strerror(-rc));
        finish(r, false, false, msg, NULL);
    }
}

/* The option file, 0600, created anew (never an existing file followed). */
static char *write_defaults(const salvage_req_t *q, char *err, size_t errlen)
{
    buf_t path = BUF_INIT, text = BUF_INIT;
    buf_printf(&path, "%s/salvage-%s.cnf", q->dir, q->cluster ? q->cluster : "cluster");
    salvage_defaults_text(q->cand_host, q->cand_port, q->user, q->password, q->credentials,
                          (unsigned)((q->timeout_ms + 999) / 1000), &text);
    unlink(buf_str(&path)); /* a leftover of a daemon that died mid-salvage */
    int fd = open(buf_str(&path), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && write(fd, buf_str(&text), text.len) == (ssize_t)text.len;
    if (!ok)
        snprintf(err, errlen, "the client's option file %s: %s", buf_str(&path), strerror(errno));
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        snprintf(err, errlen, "the client's option file %s: %s", buf_str(&path), strerror(errno));
    }
    if (!ok && fd >= 0)
        unlink(buf_str(&path));
    buf_free(&text);
    if (!ok) {
        buf_free(&path);
        return NULL;
    }
    return buf_steal(&path);
}

int salvage_start(uv_loop_t *loop, const salvage_req_t *q, salvage_cb cb, void *ud)
{
    if (!q->command || !q->command[0] || !q->client || q->client[0] != '/' || !cb)
        return -EINVAL;
    run_t *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->cb = cb;
    r->ud = ud;
    r->mariadb = q->vars.mariadb;
    r->super_read_only = q->super_read_only;
    r->client = xstrdup(q->client);
    r->before = xstrdup(q->vars.gtid ? q->vars.gtid : "");
    r->started = uv_now(loop);
    r->timeout_ms = q->timeout_ms;
    char err[512];
    char **argv = salvage_argv(q->command, &q->vars, err, sizeof err);
    if (argv)
        r->defaults = write_defaults(q, err, sizeof err);
    if (!argv || !r->defaults) {
        salvage_argv_free(argv);
        /* Reported from the loop, like every other outcome. */
        finish(r, false, false, err, NULL);
        return 0;
    }
    child_opts_t o = {.argv = (const char *const *)argv, .timeout_ms = q->timeout_ms,
                      .kill_grace_ms = SALVAGE_KILL_GRACE_MS, .output_max = SALVAGE_OUTPUT_MAX,
                      .clean_env = true};
    int rc = child_start(loop, &o, read_done, r);
    salvage_argv_free(argv);
    if (rc != 0) {
        snprintf(err, sizeof err, "salvage_command could not be started: %s", strerror(-rc));
        finish(r, false, false, err, NULL);
    }
    return 0;
}

json_t *salvage_report(const char *cluster, const char *candidate, const char *old_primary,
                       const salvage_result_t *r)
{
    json_t *rec = json_pack("{s:s, s:s, s:b, s:s?, s:s?, s:I}", "old_primary", old_primary,
                            "candidate", candidate, "ok", r->ok, "gtid_before", r->before,
                            "gtid_after", r->after, "elapsed_ms", (json_int_t)r->elapsed_ms);
    if (r->ok) {
        json_object_set_new(rec, "salvaged", json_string(r->salvaged));
        json_object_set_new(rec, "salvaged_count", json_integer((json_int_t)r->count));
        json_object_set_new(rec, "bytes", json_integer((json_int_t)r->bytes));
        if (r->count || r->salvaged[0])
            event_emit(LOG_LVL_NOTICE, EV_SALVAGE_DONE, cluster, candidate, json_deep_copy(rec),
                       "salvaged %llu transaction%s (%s) from %s's binlog onto %s in %llu ms",
                       (unsigned long long)r->count, r->count == 1 ? "" : "s", r->salvaged,
                       old_primary, candidate, (unsigned long long)r->elapsed_ms);
        else
            event_emit(LOG_LVL_NOTICE, EV_SALVAGE_DONE, cluster, candidate, json_deep_copy(rec),
                       "salvage: %s's binlog holds nothing %s lacks (%llu bytes read in %llu ms)",
                       old_primary, candidate, (unsigned long long)r->bytes,
                       (unsigned long long)r->elapsed_ms);
    } else {
        json_object_set_new(rec, "error", json_string(r->error ? r->error : "failed"));
        json_object_set_new(rec, "timed_out", json_boolean(r->timed_out));
        event_emit(LOG_LVL_WARN, EV_SALVAGE_FAILED, cluster, candidate, json_deep_copy(rec),
                   "salvage from %s's binlog onto %s failed after %llu ms: %s; the failover goes "
                   "on with what %s holds%s",
                   old_primary, candidate, (unsigned long long)r->elapsed_ms,
                   r->error ? r->error : "failed", candidate,
                   r->after ? "" : " (the candidate may hold part of it: its state is read again)");
    }
    return rec;
}
