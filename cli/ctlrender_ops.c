/* ctlrender_ops.c - failovers and switchovers for people: a finished
 * operation, a plan (or dry run) and the history (see ctlrender.h). */
#include "ctlrender.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlrender_int.h"

/* ---- operations, plans, history ---- */

static void fmt_ms(char *b, size_t n, const json_t *v)
{
    double ms;
    if (!cr_number(b, n, v, &ms))
        return;
    long long m = (long long)(ms + 0.5);
    if (m < 1000)
        snprintf(b, n, "%lldms", m);
    else if (m % 1000 == 0 && m < 600000)
        snprintf(b, n, "%llds", m / 1000);
    else if (m < 600000)
        snprintf(b, n, "%.1fs", (double)m / 1000);
    else
        cr_fmt_duration(b, n, (double)m / 1000);
}

/* Lines end without trailing blanks (padding of a row's last cells). */
static void trim_lines(buf_t *out, size_t from)
{
    char *d = out->data;
    size_t w = from;
    for (size_t r = from; r < out->len; r++) {
        if (d[r] == '\n')
            while (w > from && d[w - 1] == ' ')
                w--;
        d[w++] = d[r];
    }
    out->len = w;
    if (out->data)
        out->data[w] = '\0';
}

/* "2026-11-23T22:50:01.123Z" as "2026-11-23 22:50" (16 columns). */
static void fmt_time(char *b, size_t n, const char *iso)
{
    if (!iso || strlen(iso) < 16) {
        snprintf(b, n, "%s", iso ? iso : "?");
        return;
    }
    snprintf(b, n, "%.10s %.5s", iso, iso + 11);
}

/* Width of the widest string field key of the array's objects, within limits. */
static size_t column_width(const json_t *a, const char *key, size_t min, size_t max)
{
    size_t w = min, i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        char *c = cr_clean(cr_str_or(v, key, "-"));
        size_t cw = ctlrender_width(c);
        free(c);
        if (cw > w)
            w = cw;
    }
    return w > max ? max : w;
}

#define STEP_W 34
#define TOOK_W 7

static void render_steps_done(buf_t *out, const json_t *steps)
{
    if (json_array_size(steps) == 0)
        return;
    cr_put_cell(out, "STEP", STEP_W, false);
    cr_put_cell(out, "RESULT", 6, false);
    cr_put_cell(out, "AT", TOOK_W, false);
    cr_put_cell(out, "TOOK", TOOK_W, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        char at[32], took[32];
        fmt_ms(at, sizeof at, json_object_get(st, "at_ms"));
        fmt_ms(took, sizeof took, json_object_get(st, "ms"));
        cr_put_name_cell(out, cr_str_or(st, "name", "?"), STEP_W);
        cr_put_cell(out, json_is_true(json_object_get(st, "ok")) ? "ok" : "FAILED", 6, false);
        cr_put_cell(out, json_object_get(st, "at_ms") ? at : "-", TOOK_W, false);
        cr_put_cell(out, took, TOOK_W, true);
        buf_putc(out, '\n');
        if (cr_nonempty(cr_str(st, "error")))
            cr_wrap(out, "    ", 4, cr_str(st, "error"));
    }
}

/* What a failover knew of its loss (a lower bound with its time, the writes
 * at risk after a semi-sync fallback) and, later, the exact loss. */
/* What the salvage step did (docs/failover.md, "Salvage"), when there was one. */
static void render_salvage(buf_t *out, const json_t *op, const char *prefix, size_t indent)
{
    const json_t *sv = json_object_get(op, "salvage");
    if (!json_is_object(sv))
        return;
    buf_t b = BUF_INIT, p = BUF_INIT;
    buf_printf(&p, "%ssalvaged: ", prefix);
    json_t *n = json_object_get(sv, "salvaged_count");
    if (json_is_true(json_object_get(sv, "ok")))
        buf_printf(&b, "%lld transaction%s from %s%s%s", (long long)json_integer_value(n),
                   json_integer_value(n) == 1 ? "" : "s", cr_str_or(sv, "old_primary", "?"),
                   cr_nonempty(cr_str(sv, "salvaged")) ? ": " : "",
                   cr_str_or(sv, "salvaged", ""));
    else
        buf_printf(&b, "nothing, %s", cr_str_or(sv, "error", "the salvage failed"));
    cr_wrap(out, buf_str(&p), indent, buf_str(&b));
    buf_free(&b);
    buf_free(&p);
}

static void render_loss(buf_t *out, const json_t *op, const char *prefix, size_t indent)
{
    buf_t b = BUF_INIT;
    json_t *n = json_object_get(op, "lost_at_least");
    if (json_is_integer(n) && cr_str(op, "lost_as_of")) {
        buf_printf(&b, "lost at least %lld, as of the probe of %s at %s", json_integer_value(n),
                   cr_str_or(op, "old_primary", "the old primary"), cr_str(op, "lost_as_of"));
        cr_wrap(out, prefix, indent, buf_str(&b));
        buf_reset(&b);
    }
    if (cr_str(op, "semisync_off_since")) {
        buf_printf(&b, "semi-sync had fallen back at %s: writes acknowledged after it were at risk",
                   cr_str(op, "semisync_off_since"));
        n = json_object_get(op, "at_risk_count");
        if (cr_nonempty(cr_str(op, "at_risk")) && json_is_integer(n))
            buf_printf(&b, " (%lld: %s)", json_integer_value(n), cr_str(op, "at_risk"));
        cr_wrap(out, prefix, indent, buf_str(&b));
        buf_reset(&b);
    }
    n = json_object_get(op, "lost_exact_count");
    if (json_is_integer(n)) {
        buf_printf(&b, "lost exactly %lld", json_integer_value(n));
        if (cr_nonempty(cr_str(op, "lost_exact")))
            buf_printf(&b, ": %s", cr_str(op, "lost_exact"));
        if (cr_str(op, "lost_exact_node"))
            buf_printf(&b, " (found when %s came back at %s)", cr_str(op, "lost_exact_node"),
                       cr_str_or(op, "lost_exact_found", "?"));
        cr_wrap(out, prefix, indent, buf_str(&b));
    }
    buf_free(&b);
}

static void ctlrender_operation_body(buf_t *out, const json_t *op)
{
    if (!json_is_object(op)) {
        ctlrender_generic(out, op);
        return;
    }
    const char *type = cr_str(op, "type");
    const char *kind = cr_str_or(op, "kind", "operation");
    char took[32];
    fmt_ms(took, sizeof took, json_object_get(op, "duration_ms"));
    buf_t b = BUF_INIT;
    const char *state = !type                                              ? "ended"
                        : strcmp(type, "done") == 0                        ? "done"
                        : json_is_true(json_object_get(op, "rolled_back")) ? "rolled back"
                        : strcmp(type, "aborted") == 0                     ? "aborted"
                                                                           : "failed";
    buf_printf(&b, "%s %s in %s", kind, state, took);
    if (cr_str(op, "op"))
        buf_printf(&b, " (operation %s)", cr_str(op, "op"));
    cr_wrap(out, "", 2, buf_str(&b));
    buf_free(&b);

    line_t l = {out, 0, 4, true};
    buf_puts(out, "  ");
    l.col = 2;
    l.first = true;
    if (type && strcmp(type, "done") == 0)
        cr_piecef(&l, "%s -> %s", cr_str_or(op, "old_primary", "?"),
                  cr_str_or(op, "new_primary", "?"));
    else
        cr_piecef(&l, "primary %s", cr_str_or(op, "old_primary", "?"));
    if (cr_str(op, "policy"))
        cr_piecef(&l, "policy %s", cr_str(op, "policy"));
    if (json_is_number(json_object_get(op, "write_blocked_ms"))) {
        char wb[32];
        fmt_ms(wb, sizeof wb, json_object_get(op, "write_blocked_ms"));
        cr_piecef(&l, "writes blocked %s", wb);
    }
    if (json_is_number(json_object_get(op, "detection_ms"))) {
        char d[32];
        fmt_ms(d, sizeof d, json_object_get(op, "detection_ms"));
        cr_piecef(&l, "detected in %s", d);
    }
    buf_putc(out, '\n');
    if (json_is_false(json_object_get(op, "traffic_moved")))
        cr_wrap(out, "  TRAFFIC NOT MOVED: ", 4,
                "the post_promotion hook failed; clients still go where they went");
    if (cr_nonempty(cr_str(op, "possibly_lost"))) {
        buf_t lost = BUF_INIT;
        json_t *n = json_object_get(op, "possibly_lost_count");
        if (json_is_integer(n))
            buf_printf(&lost, "%lld transaction%s: ", json_integer_value(n),
                       json_integer_value(n) == 1 ? "" : "s");
        buf_puts(&lost, cr_str(op, "possibly_lost"));
        cr_wrap(out, "  possibly lost: ", 4, buf_str(&lost));
        buf_free(&lost);
    }
    render_loss(out, op, "  ", 4);
    render_salvage(out, op, "  ", 4);
    if (cr_nonempty(cr_str(op, "message")))
        cr_wrap(out, "  ", 2, cr_str(op, "message"));
    render_steps_done(out, json_object_get(op, "steps"));
}

static void render_candidates(buf_t *out, const json_t *e)
{
    const json_t *cands = json_object_get(e, "candidates");
    if (json_array_size(cands) == 0)
        return;
    size_t node_w = column_width(cands, "node", 9, NODE_MAX);
    cr_put_cell(out, "CANDIDATE", node_w, false);
    cr_put_cell(out, "RANK", 4, false);
    cr_put_cell(out, "RULE", 10, false);
    cr_put_cell(out, "BKLOG", 5, false);
    cr_put_cell(out, "STATUS", W - node_w - 23, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c)
    {
        char rank[16], bk[32];
        json_t *r = json_object_get(c, "rank");
        snprintf(rank, sizeof rank, "%s", "-");
        if (json_is_integer(r) && json_integer_value(r) > 0)
            snprintf(rank, sizeof rank, "%lld", json_integer_value(r));
        cr_fmt_count(bk, sizeof bk, json_object_get(c, "backlog"));
        cr_put_name_cell(out, cr_str_or(c, "node", "?"), node_w);
        cr_put_cell(out, rank, 4, false);
        cr_put_cell(out, cr_str_or(c, "promotion_rule", "?"), 10, false);
        cr_put_cell(out, bk, 5, false);
        buf_t st = BUF_INIT;
        if (cr_nonempty(cr_str(c, "excluded")))
            buf_printf(&st, "excluded: %s", cr_str(c, "excluded"));
        else if (json_is_true(json_object_get(c, "lacks")))
            buf_printf(&st, "eligible; lacks %s", cr_str_or(c, "missing", "?"));
        else
            buf_puts(&st, "eligible");
        if (cr_nonempty(cr_str(c, "errant")))
            buf_printf(&st, "; errant %s", cr_str(c, "errant"));
        if (json_is_true(json_object_get(c, "filtering")))
            buf_printf(&st, "; filters %s", cr_str_or(c, "filters", "?"));
        /* The status wraps under its own column. */
        char *cl = cr_clean(buf_str(&st));
        size_t col = node_w + 23, room = W - col;
        const char *p = cl;
        bool first = true;
        while (*p || first) {
            if (!first)
                cr_spaces(out, col);
            size_t n = ctlrender_width(p);
            if (n <= room) {
                buf_puts(out, p);
                buf_putc(out, '\n');
                break;
            }
            /* Break at the last space that fits, else cut. */
            const char *q = p, *cut = NULL;
            for (size_t k = 0; *q && k <= room; k++) {
                if (*q == ' ')
                    cut = q;
                q++;
                while (*q && cr_is_cont((unsigned char)*q))
                    q++;
            }
            if (!cut || cut == p)
                cut = cr_put_chars(out, p, room);
            else
                buf_append(out, p, (size_t)(cut - p));
            buf_putc(out, '\n');
            p = cut;
            while (*p == ' ')
                p++;
            first = false;
        }
        free(cl);
        buf_free(&st);
    }
}

static void render_plan_steps(buf_t *out, const json_t *plan, const char *title)
{
    const json_t *steps = json_object_get(plan, "steps");
    json_t *ponr = json_object_get(plan, "point_of_no_return");
    size_t cut = json_is_integer(ponr) ? (size_t)json_integer_value(ponr) : (size_t)-1;
    bool undoable = json_array_size(json_object_get(plan, "rollback")) > 0;
    cr_wrap(out, "", 2, title);
    cr_put_cell(out, " G", 3, false);
    cr_put_cell(out, "STEP", STEP_W, false);
    cr_put_cell(out, "NODE", NODE_MAX, false);
    cr_put_cell(out, "TIMEOUT", 7, false);
    cr_put_cell(out, "", 8, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        if (i == cut && undoable && i > 0)
            buf_puts(out, "   -- point of no return: a failure above is rolled back --\n");
        char g[16], t[32];
        json_t *gv = json_object_get(st, "group");
        snprintf(g, sizeof g, "%2lld", json_is_integer(gv) ? json_integer_value(gv) : 0);
        fmt_ms(t, sizeof t, json_object_get(st, "timeout_ms"));
        cr_put_cell(out, g, 3, false);
        cr_put_name_cell(out, cr_str_or(st, "name", "?"), STEP_W);
        cr_put_name_cell(out, cr_str_or(st, "node", "-"), NODE_MAX);
        cr_put_cell(out, t, 7, false);
        cr_put_cell(out, json_is_true(json_object_get(st, "optional")) ? "optional" : "", 8, true);
        buf_putc(out, '\n');
        if (cr_nonempty(cr_str(st, "desc")))
            cr_wrap(out, "      ", 6, cr_str(st, "desc"));
    }
    const json_t *rb = json_object_get(plan, "rollback");
    if (undoable) {
        buf_puts(out, "on failure before the point of no return:\n");
        json_array_foreach(rb, i, st)
        {
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s: %s", cr_str_or(st, "name", "?"), cr_str_or(st, "desc", ""));
            cr_wrap(out, "  ", 4, buf_str(&b));
            buf_free(&b);
        }
    }
}

static void ctlrender_plan_body(buf_t *out, const json_t *r)
{
    if (!json_is_object(r)) {
        ctlrender_generic(out, r);
        return;
    }
    const json_t *e = json_object_get(r, "election");
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s plan for %s (%s): primary %s", cr_str_or(r, "kind", "?"),
               cr_str_or(r, "cluster", "?"), cr_str_or(r, "policy", "?"),
               cr_str_or(r, "primary", "?"));
    if (cr_str(e, "chosen"))
        buf_printf(&b, ", candidate %s", cr_str(e, "chosen"));
    cr_wrap(out, "", 2, buf_str(&b));
    buf_free(&b);
    if (cr_nonempty(cr_str(e, "why")))
        cr_wrap(out, "  ", 2, cr_str(e, "why"));
    render_candidates(out, e);
    const json_t *privs = json_object_get(r, "missing_privileges");
    const char *pn;
    const json_t *pv;
    json_object_foreach((json_t *)privs, pn, pv)
    {
        buf_t pb = BUF_INIT;
        buf_printf(&pb, "failoverd's account lacks on %s: %s", pn, json_string_value(pv));
        cr_wrap(out, "", 2, buf_str(&pb));
        buf_free(&pb);
    }
    if (cr_nonempty(cr_str(r, "hold")))
        cr_wrap(out, "reliability would hold: ", 2, cr_str(r, "hold"));
    else if (cr_nonempty(cr_str(r, "unseen")))
        cr_wrap(out, "not seen: ", 2, cr_str(r, "unseen"));
    if (cr_nonempty(cr_str(r, "error")))
        cr_wrap(out, "no plan: ", 2, cr_str(r, "error"));
    const json_t *prep = json_object_get(r, "prepare");
    const json_t *plan = json_object_get(r, "plan");
    if (json_is_object(prep))
        render_plan_steps(out, prep, "PREPARE (then a fresh election):");
    if (json_is_object(plan))
        render_plan_steps(out, plan,
                          json_is_object(prep) ? "PROMOTE:"
                                               : "STEPS (a group's "
                                                 "steps run in parallel):");
    if (cr_nonempty(cr_str(r, "auto_blocked")))
        cr_wrap(out, "automatic failover blocked: ", 2, cr_str(r, "auto_blocked"));
    if (cr_nonempty(cr_str(r, "note")))
        cr_wrap(out, "note: ", 6, cr_str(r, "note"));
}

static void ctlrender_history_body(buf_t *out, const json_t *result)
{
    const json_t *ops = json_object_get(result, "operations");
    if (json_array_size(ops) == 0) {
        buf_puts(out, "no failovers or switchovers yet\n");
        return;
    }
    /* STARTED CLUSTER KIND STATE FROM TO TOOK: the node names share what the
     * others leave. */
    enum { T_W = 16, K_W = 10, S_W = 11, D_W = 6 };
    size_t cw = column_width(ops, "cluster", 7, 12);
    size_t room = (W - T_W - cw - K_W - S_W - D_W - 6) / 2;
    size_t ow = column_width(ops, "old_primary", 4, room);
    size_t nw = column_width(ops, "new_primary", 4, room);
    cr_put_cell(out, "STARTED", T_W, false);
    cr_put_cell(out, "CLUSTER", cw, false);
    cr_put_cell(out, "KIND", K_W, false);
    cr_put_cell(out, "STATE", S_W, false);
    cr_put_cell(out, "FROM", ow, false);
    cr_put_cell(out, "TO", nw, false);
    cr_put_cell(out, "TOOK", D_W, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        char t[32], took[32];
        fmt_time(t, sizeof t, cr_str(o, "started"));
        fmt_ms(took, sizeof took, json_object_get(o, "duration_ms"));
        const char *state = cr_str_or(o, "state", "?");
        if (json_is_true(json_object_get(o, "rolled_back")))
            state = "rolled back";
        cr_put_cell(out, t, T_W, false);
        cr_put_name_cell(out, cr_str_or(o, "cluster", "?"), cw);
        cr_put_cell(out, cr_str_or(o, "kind", "?"), K_W, false);
        cr_put_cell(out, state, S_W, false);
        cr_put_name_cell(out, cr_str_or(o, "old_primary", "-"), ow);
        cr_put_name_cell(out, cr_str_or(o, "new_primary", "-"), nw);
        cr_put_cell(out, json_object_get(o, "duration_ms") ? took : "-", D_W, true);
        buf_putc(out, '\n');
        line_t l = {out, 0, 4, true};
        bool any = false;
        if (json_is_true(json_object_get(o, "automatic")) || cr_str(o, "policy") ||
            json_object_get(o, "write_blocked_ms") || json_object_get(o, "detection_ms") ||
            json_is_true(json_object_get(o, "acknowledged"))) {
            buf_puts(out, "    ");
            l.col = 4;
            any = true;
        }
        if (json_is_true(json_object_get(o, "automatic")))
            cr_piece(&l, "automatic");
        if (cr_str(o, "policy"))
            cr_piecef(&l, "policy %s", cr_str(o, "policy"));
        if (json_is_number(json_object_get(o, "detection_ms"))) {
            fmt_ms(t, sizeof t, json_object_get(o, "detection_ms"));
            cr_piecef(&l, "detected in %s", t);
        }
        if (json_is_number(json_object_get(o, "write_blocked_ms"))) {
            fmt_ms(t, sizeof t, json_object_get(o, "write_blocked_ms"));
            cr_piecef(&l, "writes blocked %s", t);
        }
        if (json_is_true(json_object_get(o, "acknowledged")))
            cr_piece(&l, "acknowledged");
        if (any)
            buf_putc(out, '\n');
        if (cr_nonempty(cr_str(o, "possibly_lost"))) {
            buf_t lost = BUF_INIT;
            json_t *n = json_object_get(o, "possibly_lost_count");
            if (json_is_integer(n))
                buf_printf(&lost, "%lld: ", json_integer_value(n));
            buf_puts(&lost, cr_str(o, "possibly_lost"));
            cr_wrap(out, "    possibly lost ", 6, buf_str(&lost));
            buf_free(&lost);
        }
        render_loss(out, o, "    ", 6);
        render_salvage(out, o, "    ", 6);
        if (cr_nonempty(cr_str(o, "message")) && strcmp(cr_str_or(o, "state", ""), "done") != 0)
            cr_wrap(out, "    ", 6, cr_str(o, "message"));
    }
}

void ctlrender_operation(buf_t *out, const json_t *v)
{
    size_t from = out->len;
    ctlrender_operation_body(out, v);
    trim_lines(out, from);
}

void ctlrender_plan(buf_t *out, const json_t *v)
{
    size_t from = out->len;
    ctlrender_plan_body(out, v);
    trim_lines(out, from);
}

void ctlrender_history(buf_t *out, const json_t *v)
{
    size_t from = out->len;
    /* Under coordination, when etcd could not be read (docs/ha.md). */
    if (cr_nonempty(cr_str(v, "etcd_error")))
        cr_wrap(out, "note: this manager's journal only: ", 6, cr_str(v, "etcd_error"));
    ctlrender_history_body(out, v);
    trim_lines(out, from);
}
