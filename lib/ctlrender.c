/* ctlrender.c - see ctlrender.h. */
#include "ctlrender.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W CTLRENDER_WIDTH

/* ---- text helpers ---- */

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t ctlrender_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (!is_cont((unsigned char)*s))
            n++;
    return n;
}

/* A copy of s fit for a terminal: C0 and C1 control characters (newlines,
 * escapes) become spaces. */
static char *clean(const char *s)
{
    char *out = xstrdup(s ? s : "");
    char *w = out;
    for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *w++ = ' ';
        } else if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            *w++ = ' ';
            p++;
        } else {
            *w++ = (char)*p;
        }
    }
    *w = '\0';
    return out;
}

/* Append the first n characters of s; returns where it stopped. */
static const char *put_chars(buf_t *out, const char *s, size_t n)
{
    const char *p = s;
    while (*p && n > 0) {
        p++;
        while (*p && is_cont((unsigned char)*p))
            p++;
        n--;
    }
    buf_append(out, s, (size_t)(p - s));
    return p;
}

static void spaces(buf_t *out, size_t n)
{
    while (n--)
        buf_putc(out, ' ');
}

/* s in exactly width columns: cut with '~' when longer, padded unless last. */
static void put_cell(buf_t *out, const char *s, size_t width, bool last)
{
    char *c = clean(s);
    size_t w = ctlrender_width(c);
    if (w > width) {
        put_chars(out, c, width - 1);
        buf_putc(out, '~');
        w = width;
    } else {
        buf_puts(out, c);
    }
    if (!last)
        spaces(out, width - w + 1);
    free(c);
}

/* A name in exactly width columns: cut in the middle when longer, since the
 * end of a node name ("-01", "-02") is what tells nodes apart. */
static void put_name_cell(buf_t *out, const char *s, size_t width)
{
    char *c = clean(s);
    size_t w = ctlrender_width(c);
    if (w > width) {
        size_t head = (width - 1) / 2 + (width - 1) % 2, tail = (width - 1) / 2;
        put_chars(out, c, head);
        buf_putc(out, '~');
        const char *p = c;
        for (size_t skip = w - tail; skip > 0; skip--) {
            p++;
            while (*p && is_cont((unsigned char)*p))
                p++;
        }
        buf_puts(out, p);
        w = width;
    } else {
        buf_puts(out, c);
    }
    spaces(out, width - w + 1);
    free(c);
}

/* A prefix (a long key, a long name) wider than the line is cut into lines
 * like a long word; returns the column after it. */
static size_t put_prefix(buf_t *out, const char *prefix, size_t indent)
{
    char *c = clean(prefix);
    const char *p = c;
    size_t col = 0;
    if (indent > W / 2)
        indent = W / 2;
    while (col + ctlrender_width(p) > W) {
        p = put_chars(out, p, W - col);
        buf_putc(out, '\n');
        spaces(out, indent);
        col = indent;
    }
    buf_puts(out, p);
    col += ctlrender_width(p);
    free(c);
    return col;
}

/* prefix + text, word-wrapped at W columns; continuation lines start with
 * indent spaces; a word longer than a line is split. Ends with a newline. */
static void wrap(buf_t *out, const char *prefix, size_t indent, const char *text)
{
    char *t = clean(text);
    if (indent > W / 2)
        indent = W / 2; /* deep nesting must still leave room for text */
    size_t col = put_prefix(out, prefix, indent);
    bool empty = true; /* nothing of text on this line yet */
    const char *p = t;
    for (;;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        char *word = xstrndup(p, (size_t)(e - p));
        size_t wl = ctlrender_width(word);
        if (!empty && col + 1 + wl > W) {
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
            empty = true;
        }
        if (!empty) {
            buf_putc(out, ' ');
            col++;
        }
        const char *rest = word;
        while (col + ctlrender_width(rest) > W) {
            size_t room = W > col ? W - col : 0;
            if (room == 0 || (room < 8 && !empty)) {
                buf_putc(out, '\n');
                spaces(out, indent);
                col = indent;
                empty = true;
                continue;
            }
            rest = put_chars(out, rest, room);
            buf_putc(out, '\n');
            spaces(out, indent);
            col = indent;
        }
        buf_puts(out, rest);
        col += ctlrender_width(rest);
        empty = false;
        free(word);
        p = e;
    }
    buf_putc(out, '\n');
    free(t);
}

/* Pieces separated by two spaces; a piece that would cross W starts a new
 * line indented by indent. */
typedef struct {
    buf_t *out;
    size_t col;
    size_t indent;
    bool first;
} line_t;

static void piece(line_t *l, const char *text)
{
    char *t = clean(text);
    size_t w = ctlrender_width(t);
    if (!l->first && l->col + 2 + w > W) {
        buf_putc(l->out, '\n');
        spaces(l->out, l->indent);
        l->col = l->indent;
        l->first = true;
    }
    if (!l->first) {
        buf_puts(l->out, "  ");
        l->col += 2;
    }
    if (l->col + w > W) {
        put_chars(l->out, t, W - l->col - 1);
        buf_putc(l->out, '~');
        l->col = W;
    } else {
        buf_puts(l->out, t);
        l->col += w;
    }
    l->first = false;
    free(t);
}

static void piecef(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void piecef(line_t *l, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    piece(l, buf_str(&b));
    buf_free(&b);
}

/* ---- field access ---- */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A string field, or "?" when null or missing. */
static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = str(o, key);
    return s ? s : dflt;
}

static bool nonempty(const char *s)
{
    return s && *s;
}

/* ---- value formats ---- */

static void fmt_duration(char *b, size_t n, double s)
{
    if (s < 0)
        s = 0;
    long long t = (long long)s;
    if (t < 60)
        snprintf(b, n, "%llds", t);
    else if (t < 3600)
        snprintf(b, n, "%lldm%02llds", t / 60, t % 60);
    else if (t < 86400)
        snprintf(b, n, "%lldh%02lldm", t / 3600, t % 3600 / 60);
    else
        snprintf(b, n, "%lldd%02lldh", t / 86400, t % 86400 / 3600);
}

/* Lag in at most 4 columns. */
static void fmt_lag(char *b, size_t n, const json_t *v)
{
    if (!json_is_number(v)) {
        snprintf(b, n, "?");
        return;
    }
    double s = json_number_value(v);
    if (s < 0)
        s = 0;
    if (s < 999.5)
        snprintf(b, n, "%.0fs", s);
    else if (s < 999.5 * 60)
        snprintf(b, n, "%.0fm", s / 60);
    else if (s < 999.5 * 3600)
        snprintf(b, n, "%.0fh", s / 3600);
    else
        snprintf(b, n, "%.0fd", s / 86400);
}

/* A count in at most 5 columns. */
static void fmt_count(char *b, size_t n, const json_t *v)
{
    if (!json_is_integer(v)) {
        snprintf(b, n, "?");
        return;
    }
    long long c = json_integer_value(v);
    if (c < 0)
        c = 0;
    if (c < 100000)
        snprintf(b, n, "%lld", c);
    else if (c < 10000000)
        snprintf(b, n, "%lldk", c / 1000);
    else if (c < 10000000000LL)
        snprintf(b, n, "%lldM", c / 1000000);
    else
        snprintf(b, n, "%lldG", c / 1000000000);
}

/* Latency in at most 5 columns. */
static void fmt_latency(char *b, size_t n, const json_t *v)
{
    if (!json_is_number(v)) {
        snprintf(b, n, "?");
        return;
    }
    double ms = json_number_value(v);
    if (ms < 0)
        ms = 0;
    if (ms < 9.95)
        snprintf(b, n, "%.1fms", ms);
    else if (ms < 999.5)
        snprintf(b, n, "%.0fms", ms);
    else if (ms < 99950)
        snprintf(b, n, "%.1fs", ms / 1000);
    else
        snprintf(b, n, "%.0fs", ms / 1000);
}

static const char *yes_no(const json_t *v)
{
    return json_is_true(v) ? "yes" : json_is_false(v) ? "no" : "?";
}

/* ---- GTID summary ---- */

static bool is_uuid(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

void ctlrender_gtid_summary(buf_t *out, const char *gtid, size_t width)
{
    /* Members, whitespace removed and UUIDs cut to 8 hex digits. */
    char *all = clean(gtid);
    size_t n = 0, cap = 0;
    char **m = NULL;
    for (char *save = NULL, *tok = strtok_r(all, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        buf_t b = BUF_INIT;
        for (const char *p = tok; *p; p++)
            if (!isspace((unsigned char)*p))
                buf_putc(&b, *p);
        if (b.len == 0) {
            buf_free(&b);
            continue;
        }
        if (b.len >= 36 && is_uuid(b.data) && (b.data[36] == ':' || b.data[36] == '\0')) {
            for (int i = 0; i < 8; i++)
                b.data[i] = (char)tolower((unsigned char)b.data[i]);
            memmove(b.data + 8, b.data + 36, b.len - 36 + 1);
            b.len -= 28;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            m = xrealloc(m, cap * sizeof *m);
        }
        /* Cleaned again: taking the whitespace out may have joined two bytes
         * into a C1 control character. */
        m[n++] = clean(buf_str(&b));
        buf_free(&b);
    }
    free(all);

    /* As many whole members as fit, the rest counted. */
    size_t k = n, used = 0;
    char more[32] = "";
    for (; k > 0; k--) {
        used = 0;
        for (size_t i = 0; i < k; i++)
            used += (i ? 1 : 0) + ctlrender_width(m[i]);
        more[0] = '\0';
        if (k < n)
            snprintf(more, sizeof more, " +%zu", n - k);
        if (used + strlen(more) <= width)
            break;
    }
    if (k > 0) {
        for (size_t i = 0; i < k; i++) {
            if (i)
                buf_putc(out, ',');
            buf_puts(out, m[i]);
        }
        buf_puts(out, more);
    } else if (n > 0) {
        /* Not even the first member fits: cut it. */
        if (n > 1)
            snprintf(more, sizeof more, " +%zu", n - 1);
        else
            more[0] = '\0';
        size_t room = width > strlen(more) + 1 ? width - strlen(more) - 1 : 0;
        put_chars(out, m[0], room);
        buf_putc(out, '~');
        buf_puts(out, more);
    }
    for (size_t i = 0; i < n; i++)
        free(m[i]);
    free(m);
}

/* ---- status ---- */

static void render_daemon(buf_t *out, const json_t *d)
{
    if (!json_is_object(d))
        return;
    line_t l = {out, 0, 2, true};
    piecef(&l, "failoverd %s", str_or(d, "version", "?"));
    json_t *pid = json_object_get(d, "pid");
    if (json_is_integer(pid))
        piecef(&l, "pid %lld", json_integer_value(pid));
    json_t *up = json_object_get(d, "uptime_s");
    if (json_is_number(up)) {
        char b[32];
        fmt_duration(b, sizeof b, json_number_value(up));
        piecef(&l, "up %s", b);
    }
    if (str(d, "config"))
        piecef(&l, "config %s", str(d, "config"));
    buf_putc(out, '\n');
    if (json_is_true(json_object_get(d, "stalled")))
        wrap(out, "WARNING: ", 9,
             "the daemon's loop stalled or the clock jumped; it observes without acting "
             "for now");
}

static void render_failover(buf_t *out, const json_t *f)
{
    if (!json_is_object(f))
        return;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s %s", str_or(f, "kind", "failover"), str_or(f, "state", "?"));
    const char *sep = ": ";
    if (str(f, "step")) {
        buf_printf(&b, "%sstep %s", sep, str(f, "step"));
        sep = ", ";
    }
    if (str(f, "candidate")) {
        buf_printf(&b, "%scandidate %s", sep, str(f, "candidate"));
        sep = ", ";
    }
    if (str(f, "started"))
        buf_printf(&b, "%sstarted %s", sep, str(f, "started"));
    wrap(out, "  ", 4, buf_str(&b));
    buf_free(&b);
}

/* The node table's fixed columns; NODE takes the width of the longest name
 * (within limits) and GTID whatever is left of the line. */
enum { C_ROLE = 7, C_STATE = 5, C_RO = 5, C_IOSQL = 8, C_LAG = 4, C_BKLOG = 5, C_LAT = 5 };
#define NODE_MIN 4
#define NODE_MAX 15
#define FIXED (C_ROLE + C_STATE + C_RO + C_IOSQL + C_LAG + C_BKLOG + C_LAT + 8)

static const char *io_short(const char *io)
{
    if (!io)
        return "?";
    if (strcmp(io, "yes") == 0 || strcmp(io, "no") == 0)
        return io;
    if (strcmp(io, "connecting") == 0)
        return "conn";
    return "?";
}

static const char *one_of(const char *s, const char *const *known)
{
    for (size_t i = 0; s && known[i]; i++)
        if (strcmp(s, known[i]) == 0)
            return known[i];
    return "?";
}

static void render_node_row(buf_t *out, const json_t *n, size_t node_w)
{
    static const char *const roles[] = {"primary", "replica", NULL};
    static const char *const states[] = {"up", "down", NULL};
    const json_t *r = json_object_get(n, "replication");
    bool repl = json_is_object(r);
    char iosql[32], lag[32], bklog[32], lat[32];

    const json_t *ro = json_object_get(n, "read_only");
    const char *ros = json_is_false(ro)                                     ? "no"
                      : json_is_true(json_object_get(n, "super_read_only")) ? "super"
                      : json_is_true(ro)                                    ? "yes"
                                                                            : "?";
    if (repl)
        snprintf(iosql, sizeof iosql, "%s/%s", io_short(str(r, "io")),
                 yes_no(json_object_get(r, "sql")));
    else
        snprintf(iosql, sizeof iosql, "-");
    if (repl) {
        fmt_lag(lag, sizeof lag, json_object_get(r, "lag_s"));
        fmt_count(bklog, sizeof bklog, json_object_get(r, "backlog"));
    } else {
        snprintf(lag, sizeof lag, "-");
        snprintf(bklog, sizeof bklog, "-");
    }
    fmt_latency(lat, sizeof lat, json_object_get(n, "latency_ms"));

    put_name_cell(out, str_or(n, "name", "?"), node_w);
    put_cell(out, one_of(str(n, "role"), roles), C_ROLE, false);
    /* unobservable: reachable, but the account may not read it ("unobs"; the
     * privilege is in the notes). */
    put_cell(out,
             nonempty(str(n, "state")) && strcmp(str(n, "state"), "unobservable") == 0
                 ? "unobs"
                 : one_of(str(n, "state"), states),
             C_STATE, false);
    put_cell(out, ros, C_RO, false);
    put_cell(out, iosql, C_IOSQL, false);
    put_cell(out, lag, C_LAG, false);
    put_cell(out, bklog, C_BKLOG, false);
    put_cell(out, lat, C_LAT, false);
    const char *g = str(n, "gtid_executed");
    buf_t gs = BUF_INIT;
    if (!g)
        buf_puts(&gs, "?");
    else if (!*g)
        buf_puts(&gs, "-");
    else
        ctlrender_gtid_summary(&gs, g, W - FIXED - node_w);
    put_cell(out, buf_str(&gs), W - FIXED - node_w, true);
    buf_free(&gs);
    buf_putc(out, '\n');
}

/* One line on TLS: failoverd's session to the node (protocol, what of the
 * certificate was verified) and a replica's channel. Only for a node seen
 * up, from a daemon that reports it, and when TLS is in play at all (not
 * ssl_mode disabled with a plain channel). */
static void render_node_tls(buf_t *out, const json_t *n)
{
    const json_t *t = json_object_get(n, "tls");
    if (!json_is_object(t) || !nonempty(str(n, "state")) || strcmp(str(n, "state"), "up") != 0)
        return;
    if (strcmp(str_or(t, "ssl_mode", ""), "disabled") == 0 && !nonempty(str(t, "version")) &&
        strcmp(str_or(t, "channel_ssl", ""), "yes") != 0)
        return;
    buf_t b = BUF_INIT;
    const char *v = str(t, "version"), *ver = str(t, "verified");
    if (nonempty(v))
        buf_printf(&b, "%s, certificate %s", v,
                   !ver || strcmp(ver, "none") == 0 ? "not verified"
                   : strcmp(ver, "identity") == 0   ? "and host name verified"
                                                    : "chain verified");
    else
        buf_puts(&b, "none, plain TCP");
    buf_printf(&b, " (ssl_mode %s)", str_or(t, "ssl_mode", "?"));
    const char *ch = str(t, "channel_ssl"), *chv = str(t, "channel_verify_server_cert");
    if (ch)
        buf_printf(&b, "; channel: %s",
                   strcmp(ch, "yes") == 0       ? (chv && strcmp(chv, "yes") == 0
                                                       ? "TLS, source certificate verified"
                                                       : "TLS")
                   : strcmp(ch, "ignored") == 0 ? "TLS configured but not supported"
                                                : "no TLS");
    wrap(out, "  tls: ", 7, buf_str(&b));
    buf_free(&b);
}

/* The lines under a node row: what went wrong, and where it replicates from
 * when that is not the cluster's primary. */
static void render_node_notes(buf_t *out, const json_t *n, const char *primary)
{
    const json_t *r = json_object_get(n, "replication");
    if (nonempty(str(n, "last_error")))
        wrap(out, "  error: ", 9, str(n, "last_error"));
    if (nonempty(str(n, "gtid_error")))
        wrap(out, "  gtid error: ", 14, str(n, "gtid_error"));
    if (json_is_object(r)) {
        if (nonempty(str(r, "last_io_error")))
            wrap(out, "  io error: ", 12, str(r, "last_io_error"));
        if (nonempty(str(r, "last_sql_error")))
            wrap(out, "  sql error: ", 13, str(r, "last_sql_error"));
        if (nonempty(str(n, "replication_filters")))
            wrap(out, "  filters: ", 11, str(n, "replication_filters"));
        const char *src = str(r, "source");
        buf_t b = BUF_INIT;
        if (src && primary && strcmp(src, primary) != 0) {
            buf_printf(&b, "%s (not the primary)", src);
        } else if (!src && str(r, "source_host")) {
            json_t *port = json_object_get(r, "source_port");
            buf_printf(&b, "%s", str(r, "source_host"));
            if (json_is_integer(port))
                buf_printf(&b, ":%lld", json_integer_value(port));
            buf_puts(&b, " (not in the cluster)");
        }
        if (b.len)
            wrap(out, "  source: ", 10, buf_str(&b));
        buf_free(&b);
    }
    if (str(n, "down_since") && nonempty(str(n, "state")) && strcmp(str(n, "state"), "down") == 0)
        wrap(out, "  down since ", 4, str(n, "down_since"));
    if (nonempty(str(n, "denied_privilege")))
        wrap(out, "  unobservable: failoverd's account lacks ", 4, str(n, "denied_privilege"));
    if (nonempty(str(n, "missing_privileges")))
        wrap(out, "  failoverd's account lacks: ", 4, str(n, "missing_privileges"));
    render_node_tls(out, n);
}

/* Why an automatic failover would not start now, when it would not. */
static void render_auto_blocked(buf_t *out, const json_t *c)
{
    const char *why = str(c, "auto_blocked");
    if (!nonempty(why))
        return;
    buf_t b = BUF_INIT;
    const char *until = str(c, "blocked_until");
    if (nonempty(until))
        buf_printf(&b, "until %s: ", until);
    buf_puts(&b, why);
    wrap(out, "  automatic failover blocked ", 4, buf_str(&b));
    buf_free(&b);
}

/* One line on what a commit acknowledged by the primary is worth: its
 * semi-sync state and settings; the issues say what is degraded. */
static void render_durability(buf_t *out, const json_t *d)
{
    const json_t *ss = json_object_get(d, "semisync");
    if (!json_is_object(ss))
        return;
    buf_t b = BUF_INIT;
    const char *state = str_or(ss, "state", "unknown");
    if (strcmp(state, "off") == 0)
        buf_printf(&b, "OFF on %s since %s: commits are asynchronous", str_or(ss, "node", "?"),
                   str_or(d, "semisync_off_since", "?"));
    else
        buf_printf(&b, "%s on %s", state, str_or(ss, "node", "?"));
    if (strcmp(state, "on") == 0 || strcmp(state, "off") == 0) {
        json_t *v;
        if (json_is_integer(v = json_object_get(ss, "clients")))
            buf_printf(&b, "; %lld replica%s acknowledging", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (json_is_integer(v = json_object_get(ss, "waiting_sessions")))
            buf_printf(&b, ", %lld commit%s waiting", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (json_is_integer(v = json_object_get(ss, "wait_for_replica_count")))
            buf_printf(&b, "; needs %lld ack%s", json_integer_value(v),
                       json_integer_value(v) == 1 ? "" : "s");
        if (str(ss, "wait_point"))
            buf_printf(&b, ", wait point %s", str(ss, "wait_point"));
        if (json_is_integer(v = json_object_get(ss, "timeout_ms")))
            buf_printf(&b, ", timeout %lld ms", json_integer_value(v));
        if (json_is_boolean(v = json_object_get(ss, "wait_no_replica")))
            buf_printf(&b, ", %s with no replica", json_is_true(v) ? "waits" : "does not wait");
    }
    wrap(out, "  semi-sync: ", 13, buf_str(&b));
    buf_free(&b);
}

/* Where a read/write-splitting proxy sends traffic (docs/routing.md): the
 * writer and the reader pool, every replica that is out of the pool and why,
 * the fence state of the last operation's old primary, and how long automatic
 * failovers stay blocked. */
static void render_routing(buf_t *out, const json_t *c)
{
    const json_t *r = json_object_get(c, "routing");
    if (json_is_object(r)) {
        buf_t b = BUF_INIT;
        size_t i, k = 0;
        json_t *v;
        buf_printf(&b, "writer %s; readers ", str_or(r, "writer", "none"));
        json_array_foreach(json_object_get(c, "nodes"), i, v)
        {
            const json_t *nr = json_object_get(v, "routing");
            if (json_is_true(json_object_get(nr, "reader")))
                buf_printf(&b, "%s%s", k++ ? ", " : "", str_or(v, "name", "?"));
        }
        buf_printf(&b, "%s (max_read_lag %s%s)", k ? "" : "none", str_or(r, "max_read_lag", "?"),
                   json_is_true(json_object_get(r, "fallback")) ? "; the primary serves reads"
                                                                 : "");
        wrap(out, "  routing: ", 4, buf_str(&b));
        json_array_foreach(json_object_get(c, "nodes"), i, v)
        {
            const json_t *nr = json_object_get(v, "routing");
            if (!json_is_object(nr) || json_is_true(json_object_get(nr, "reader")) ||
                json_is_true(json_object_get(nr, "writer")))
                continue;
            buf_reset(&b);
            buf_printf(&b, "%s not in the reader pool: %s", str_or(v, "name", "?"),
                       str_or(nr, "why", "?"));
            const json_t *lag = json_object_get(nr, "lag_s");
            if (json_is_integer(lag))
                buf_printf(&b, " (lag %llds)", (long long)json_integer_value(lag));
            wrap(out, "    ", 6, buf_str(&b));
        }
        buf_free(&b);
    }
    const json_t *f = json_object_get(c, "old_primary_fence");
    if (json_is_object(f)) {
        buf_t b = BUF_INIT;
        buf_printf(&b, "%s: %s", str_or(f, "node", "?"), str_or(f, "state", "?"));
        wrap(out, "  old primary ", 4, buf_str(&b));
        buf_free(&b);
    }
    const char *until = str(c, "blocked_until");
    if (nonempty(until) && !nonempty(str(c, "auto_blocked")))
        wrap(out, "  automatic failover blocked until ", 4, until);
}

static void render_cluster(buf_t *out, const json_t *c)
{
    const char *primary = str(c, "primary");
    const char *verdict = str(c, "verdict");
    char vup[32];
    snprintf(vup, sizeof vup, "%s", verdict ? verdict : "?");
    for (char *p = vup; *p; p++)
        *p = (char)toupper((unsigned char)*p);

    line_t l = {out, 0, 2, true};
    piecef(&l, "CLUSTER %s", str_or(c, "name", "?"));
    piece(&l, vup);
    piecef(&l, "primary %s", primary ? primary : "?");
    piecef(&l, "policy %s", str_or(c, "policy", "?"));
    piecef(&l, "paused %s", yes_no(json_object_get(c, "paused")));
    if (json_is_false(json_object_get(c, "auto_failover")))
        piece(&l, "auto-failover off");
    buf_putc(out, '\n');

    const char *since = str(c, "verdict_since");
    const char *reason = str(c, "verdict_reason");
    if (since || reason) {
        buf_t b = BUF_INIT;
        if (since)
            buf_printf(&b, "since %s%s", since, reason ? ": " : "");
        if (reason)
            buf_puts(&b, reason);
        wrap(out, "  ", 4, buf_str(&b));
        buf_free(&b);
    }
    render_failover(out, json_object_get(c, "failover"));
    render_auto_blocked(out, c);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(c, "issues"), i, v)
    {
        if (json_is_string(v))
            wrap(out, "  issue: ", 9, json_string_value(v));
    }
    render_durability(out, json_object_get(c, "durability"));
    render_routing(out, c);

    const json_t *nodes = json_object_get(c, "nodes");
    if (json_array_size(nodes) == 0) {
        buf_puts(out, "  (no nodes)\n");
        return;
    }
    size_t node_w = NODE_MIN;
    json_array_foreach(nodes, i, v)
    {
        char *name = clean(str_or(v, "name", "?"));
        size_t w = ctlrender_width(name);
        free(name);
        if (w > node_w)
            node_w = w;
    }
    if (node_w > NODE_MAX)
        node_w = NODE_MAX;
    put_cell(out, "NODE", node_w, false);
    put_cell(out, "ROLE", C_ROLE, false);
    put_cell(out, "STATE", C_STATE, false);
    put_cell(out, "RO", C_RO, false);
    put_cell(out, "IO/SQL", C_IOSQL, false);
    put_cell(out, "LAG", C_LAG, false);
    put_cell(out, "BKLOG", C_BKLOG, false);
    put_cell(out, "LAT", C_LAT, false);
    put_cell(out, "GTID", W - FIXED - node_w, true);
    buf_putc(out, '\n');
    json_array_foreach(nodes, i, v)
    {
        if (!json_is_object(v))
            continue;
        render_node_row(out, v, node_w);
        render_node_notes(out, v, primary);
    }
}

void ctlrender_status(buf_t *out, const json_t *result)
{
    render_daemon(out, json_object_get(result, "daemon"));
    const json_t *clusters = json_object_get(result, "clusters");
    if (json_array_size(clusters) == 0) {
        buf_puts(out, "no clusters\n");
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        if (i > 0 || json_is_object(json_object_get(result, "daemon")))
            buf_putc(out, '\n');
        render_cluster(out, c);
    }
}

/* ---- operations, plans, history ---- */

static void fmt_ms(char *b, size_t n, const json_t *v)
{
    if (!json_is_number(v)) {
        snprintf(b, n, "?");
        return;
    }
    double ms = json_number_value(v);
    if (ms < 0)
        ms = 0;
    long long m = (long long)(ms + 0.5);
    if (m < 1000)
        snprintf(b, n, "%lldms", m);
    else if (m % 1000 == 0 && m < 600000)
        snprintf(b, n, "%llds", m / 1000);
    else if (m < 600000)
        snprintf(b, n, "%.1fs", (double)m / 1000);
    else
        fmt_duration(b, n, (double)m / 1000);
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
        char *c = clean(str_or(v, key, "-"));
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
    put_cell(out, "STEP", STEP_W, false);
    put_cell(out, "RESULT", 6, false);
    put_cell(out, "AT", TOOK_W, false);
    put_cell(out, "TOOK", TOOK_W, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st)
    {
        char at[32], took[32];
        fmt_ms(at, sizeof at, json_object_get(st, "at_ms"));
        fmt_ms(took, sizeof took, json_object_get(st, "ms"));
        put_name_cell(out, str_or(st, "name", "?"), STEP_W);
        put_cell(out, json_is_true(json_object_get(st, "ok")) ? "ok" : "FAILED", 6, false);
        put_cell(out, json_object_get(st, "at_ms") ? at : "-", TOOK_W, false);
        put_cell(out, took, TOOK_W, true);
        buf_putc(out, '\n');
        if (nonempty(str(st, "error")))
            wrap(out, "    ", 4, str(st, "error"));
    }
}

/* What a failover knew of its loss (a lower bound with its time, the writes
 * at risk after a semi-sync fallback) and, later, the exact loss. */
static void render_loss(buf_t *out, const json_t *op, const char *prefix, size_t indent)
{
    buf_t b = BUF_INIT;
    json_t *n = json_object_get(op, "lost_at_least");
    if (json_is_integer(n) && str(op, "lost_as_of")) {
        buf_printf(&b, "lost at least %lld, as of the probe of %s at %s", json_integer_value(n),
                   str_or(op, "old_primary", "the old primary"), str(op, "lost_as_of"));
        wrap(out, prefix, indent, buf_str(&b));
        buf_reset(&b);
    }
    if (str(op, "semisync_off_since")) {
        buf_printf(&b, "semi-sync had fallen back at %s: writes acknowledged after it were at risk",
                   str(op, "semisync_off_since"));
        n = json_object_get(op, "at_risk_count");
        if (nonempty(str(op, "at_risk")) && json_is_integer(n))
            buf_printf(&b, " (%lld: %s)", json_integer_value(n), str(op, "at_risk"));
        wrap(out, prefix, indent, buf_str(&b));
        buf_reset(&b);
    }
    n = json_object_get(op, "lost_exact_count");
    if (json_is_integer(n)) {
        buf_printf(&b, "lost exactly %lld", json_integer_value(n));
        if (nonempty(str(op, "lost_exact")))
            buf_printf(&b, ": %s", str(op, "lost_exact"));
        if (str(op, "lost_exact_node"))
            buf_printf(&b, " (found when %s came back at %s)", str(op, "lost_exact_node"),
                       str_or(op, "lost_exact_found", "?"));
        wrap(out, prefix, indent, buf_str(&b));
    }
    buf_free(&b);
}

static void ctlrender_operation_body(buf_t *out, const json_t *op)
{
    if (!json_is_object(op)) {
        ctlrender_generic(out, op);
        return;
    }
    const char *type = str(op, "type");
    const char *kind = str_or(op, "kind", "operation");
    char took[32];
    fmt_ms(took, sizeof took, json_object_get(op, "duration_ms"));
    buf_t b = BUF_INIT;
    const char *state = !type                          ? "ended"
                        : strcmp(type, "done") == 0    ? "done"
                        : json_is_true(json_object_get(op, "rolled_back")) ? "rolled back"
                        : strcmp(type, "aborted") == 0 ? "aborted"
                                                       : "failed";
    buf_printf(&b, "%s %s in %s", kind, state, took);
    if (str(op, "op"))
        buf_printf(&b, " (operation %s)", str(op, "op"));
    wrap(out, "", 2, buf_str(&b));
    buf_free(&b);

    line_t l = {out, 0, 4, true};
    buf_puts(out, "  ");
    l.col = 2;
    l.first = true;
    if (type && strcmp(type, "done") == 0)
        piecef(&l, "%s -> %s", str_or(op, "old_primary", "?"), str_or(op, "new_primary", "?"));
    else
        piecef(&l, "primary %s", str_or(op, "old_primary", "?"));
    if (str(op, "policy"))
        piecef(&l, "policy %s", str(op, "policy"));
    if (json_is_number(json_object_get(op, "write_blocked_ms"))) {
        char wb[32];
        fmt_ms(wb, sizeof wb, json_object_get(op, "write_blocked_ms"));
        piecef(&l, "writes blocked %s", wb);
    }
    if (json_is_number(json_object_get(op, "detection_ms"))) {
        char d[32];
        fmt_ms(d, sizeof d, json_object_get(op, "detection_ms"));
        piecef(&l, "detected in %s", d);
    }
    buf_putc(out, '\n');
    if (json_is_false(json_object_get(op, "traffic_moved")))
        wrap(out, "  TRAFFIC NOT MOVED: ", 4,
             "the post_promotion hook failed; clients still go where they went");
    if (nonempty(str(op, "possibly_lost"))) {
        buf_t lost = BUF_INIT;
        json_t *n = json_object_get(op, "possibly_lost_count");
        if (json_is_integer(n))
            buf_printf(&lost, "%lld transaction%s: ", json_integer_value(n),
                       json_integer_value(n) == 1 ? "" : "s");
        buf_puts(&lost, str(op, "possibly_lost"));
        wrap(out, "  possibly lost: ", 4, buf_str(&lost));
        buf_free(&lost);
    }
    render_loss(out, op, "  ", 4);
    if (nonempty(str(op, "message")))
        wrap(out, "  ", 2, str(op, "message"));
    render_steps_done(out, json_object_get(op, "steps"));
}

static void render_candidates(buf_t *out, const json_t *e)
{
    const json_t *cands = json_object_get(e, "candidates");
    if (json_array_size(cands) == 0)
        return;
    size_t node_w = column_width(cands, "node", 9, NODE_MAX);
    put_cell(out, "CANDIDATE", node_w, false);
    put_cell(out, "RANK", 4, false);
    put_cell(out, "RULE", 10, false);
    put_cell(out, "BKLOG", 5, false);
    put_cell(out, "STATUS", W - node_w - 23, true);
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
        fmt_count(bk, sizeof bk, json_object_get(c, "backlog"));
        put_name_cell(out, str_or(c, "node", "?"), node_w);
        put_cell(out, rank, 4, false);
        put_cell(out, str_or(c, "promotion_rule", "?"), 10, false);
        put_cell(out, bk, 5, false);
        buf_t st = BUF_INIT;
        if (nonempty(str(c, "excluded")))
            buf_printf(&st, "excluded: %s", str(c, "excluded"));
        else if (json_is_true(json_object_get(c, "lacks")))
            buf_printf(&st, "eligible; lacks %s", str_or(c, "missing", "?"));
        else
            buf_puts(&st, "eligible");
        if (nonempty(str(c, "errant")))
            buf_printf(&st, "; errant %s", str(c, "errant"));
        if (json_is_true(json_object_get(c, "filtering")))
            buf_printf(&st, "; filters %s", str_or(c, "filters", "?"));
        /* The status wraps under its own column. */
        char *cl = clean(buf_str(&st));
        size_t col = node_w + 23, room = W - col;
        const char *p = cl;
        bool first = true;
        while (*p || first) {
            if (!first)
                spaces(out, col);
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
                while (*q && is_cont((unsigned char)*q))
                    q++;
            }
            if (!cut || cut == p)
                cut = put_chars(out, p, room);
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
    wrap(out, "", 2, title);
    put_cell(out, " G", 3, false);
    put_cell(out, "STEP", STEP_W, false);
    put_cell(out, "NODE", NODE_MAX, false);
    put_cell(out, "TIMEOUT", 7, false);
    put_cell(out, "", 8, true);
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
        put_cell(out, g, 3, false);
        put_name_cell(out, str_or(st, "name", "?"), STEP_W);
        put_name_cell(out, str_or(st, "node", "-"), NODE_MAX);
        put_cell(out, t, 7, false);
        put_cell(out, json_is_true(json_object_get(st, "optional")) ? "optional" : "", 8, true);
        buf_putc(out, '\n');
        if (nonempty(str(st, "desc")))
            wrap(out, "      ", 6, str(st, "desc"));
    }
    const json_t *rb = json_object_get(plan, "rollback");
    if (undoable) {
        buf_puts(out, "on failure before the point of no return:\n");
        json_array_foreach(rb, i, st)
        {
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s: %s", str_or(st, "name", "?"), str_or(st, "desc", ""));
            wrap(out, "  ", 4, buf_str(&b));
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
    buf_printf(&b, "%s plan for %s (%s): primary %s", str_or(r, "kind", "?"),
               str_or(r, "cluster", "?"), str_or(r, "policy", "?"), str_or(r, "primary", "?"));
    if (str(e, "chosen"))
        buf_printf(&b, ", candidate %s", str(e, "chosen"));
    wrap(out, "", 2, buf_str(&b));
    buf_free(&b);
    if (nonempty(str(e, "why")))
        wrap(out, "  ", 2, str(e, "why"));
    render_candidates(out, e);
    const json_t *privs = json_object_get(r, "missing_privileges");
    const char *pn;
    const json_t *pv;
    json_object_foreach((json_t *)privs, pn, pv)
    {
        buf_t pb = BUF_INIT;
        buf_printf(&pb, "failoverd's account lacks on %s: %s", pn, json_string_value(pv));
        wrap(out, "", 2, buf_str(&pb));
        buf_free(&pb);
    }
    if (nonempty(str(r, "hold")))
        wrap(out, "reliability would hold: ", 2, str(r, "hold"));
    else if (nonempty(str(r, "unseen")))
        wrap(out, "not seen: ", 2, str(r, "unseen"));
    if (nonempty(str(r, "error")))
        wrap(out, "no plan: ", 2, str(r, "error"));
    const json_t *prep = json_object_get(r, "prepare");
    const json_t *plan = json_object_get(r, "plan");
    if (json_is_object(prep))
        render_plan_steps(out, prep, "PREPARE (then a fresh election):");
    if (json_is_object(plan))
        render_plan_steps(out, plan, json_is_object(prep) ? "PROMOTE:" : "STEPS (a group's "
                                                                         "steps run in parallel):");
    if (nonempty(str(r, "auto_blocked")))
        wrap(out, "automatic failover blocked: ", 2, str(r, "auto_blocked"));
    if (nonempty(str(r, "note")))
        wrap(out, "note: ", 6, str(r, "note"));
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
    put_cell(out, "STARTED", T_W, false);
    put_cell(out, "CLUSTER", cw, false);
    put_cell(out, "KIND", K_W, false);
    put_cell(out, "STATE", S_W, false);
    put_cell(out, "FROM", ow, false);
    put_cell(out, "TO", nw, false);
    put_cell(out, "TOOK", D_W, true);
    buf_putc(out, '\n');
    size_t i;
    json_t *o;
    json_array_foreach(ops, i, o)
    {
        char t[32], took[32];
        fmt_time(t, sizeof t, str(o, "started"));
        fmt_ms(took, sizeof took, json_object_get(o, "duration_ms"));
        const char *state = str_or(o, "state", "?");
        if (json_is_true(json_object_get(o, "rolled_back")))
            state = "rolled back";
        put_cell(out, t, T_W, false);
        put_name_cell(out, str_or(o, "cluster", "?"), cw);
        put_cell(out, str_or(o, "kind", "?"), K_W, false);
        put_cell(out, state, S_W, false);
        put_name_cell(out, str_or(o, "old_primary", "-"), ow);
        put_name_cell(out, str_or(o, "new_primary", "-"), nw);
        put_cell(out, json_object_get(o, "duration_ms") ? took : "-", D_W, true);
        buf_putc(out, '\n');
        line_t l = {out, 0, 4, true};
        bool any = false;
        if (json_is_true(json_object_get(o, "automatic")) || str(o, "policy") ||
            json_object_get(o, "write_blocked_ms") || json_object_get(o, "detection_ms") ||
            json_is_true(json_object_get(o, "acknowledged"))) {
            buf_puts(out, "    ");
            l.col = 4;
            any = true;
        }
        if (json_is_true(json_object_get(o, "automatic")))
            piece(&l, "automatic");
        if (str(o, "policy"))
            piecef(&l, "policy %s", str(o, "policy"));
        if (json_is_number(json_object_get(o, "detection_ms"))) {
            fmt_ms(t, sizeof t, json_object_get(o, "detection_ms"));
            piecef(&l, "detected in %s", t);
        }
        if (json_is_number(json_object_get(o, "write_blocked_ms"))) {
            fmt_ms(t, sizeof t, json_object_get(o, "write_blocked_ms"));
            piecef(&l, "writes blocked %s", t);
        }
        if (json_is_true(json_object_get(o, "acknowledged")))
            piece(&l, "acknowledged");
        if (any)
            buf_putc(out, '\n');
        if (nonempty(str(o, "possibly_lost"))) {
            buf_t lost = BUF_INIT;
            json_t *n = json_object_get(o, "possibly_lost_count");
            if (json_is_integer(n))
                buf_printf(&lost, "%lld: ", json_integer_value(n));
            buf_puts(&lost, str(o, "possibly_lost"));
            wrap(out, "    possibly lost ", 6, buf_str(&lost));
            buf_free(&lost);
        }
        render_loss(out, o, "    ", 6);
        if (nonempty(str(o, "message")) && strcmp(str_or(o, "state", ""), "done") != 0)
            wrap(out, "    ", 6, str(o, "message"));
    }
}

void ctlrender_message(buf_t *out, const char *prefix, const char *text)
{
    wrap(out, prefix, 4, text ? text : "");
}

/* ---- anything else ---- */

static bool scalar(const json_t *v)
{
    return !(json_is_object(v) && json_object_size(v) > 0) &&
           !(json_is_array(v) && json_array_size(v) > 0);
}

static void scalar_text(buf_t *b, const json_t *v)
{
    if (json_is_string(v))
        buf_puts(b, json_string_value(v));
    else if (json_is_integer(v))
        buf_printf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        buf_printf(b, "%g", json_real_value(v));
    else if (json_is_true(v))
        buf_puts(b, "yes");
    else if (json_is_false(v))
        buf_puts(b, "no");
    else if (json_is_array(v))
        buf_puts(b, "(none)");
    else if (json_is_object(v))
        buf_puts(b, "(empty)");
    else
        buf_puts(b, "-");
}

static bool all_scalars(const json_t *a)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (!scalar(v) || json_is_array(v) || json_is_object(v))
            return false;
    }
    return true;
}

static void gen_object(buf_t *out, const json_t *o, size_t indent, bool dash);

static void gen_elements(buf_t *out, const json_t *a, size_t indent)
{
    if (indent > W / 2)
        indent = W / 2;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (json_is_object(v) && json_object_size(v) > 0) {
            gen_object(out, v, indent + 2, true);
        } else if (json_is_array(v) && json_array_size(v) > 0) {
            spaces(out, indent);
            buf_puts(out, "-\n");
            gen_elements(out, v, indent + 2);
        } else {
            buf_t p = BUF_INIT, t = BUF_INIT;
            spaces(&p, indent);
            buf_puts(&p, "- ");
            scalar_text(&t, v);
            wrap(out, buf_str(&p), indent + 2, buf_str(&t));
            buf_free(&p);
            buf_free(&t);
        }
    }
}

/* Keys at indent; with dash, the first line carries "- " in the two columns
 * before indent (a list element). */
static void gen_object(buf_t *out, const json_t *o, size_t indent, bool dash)
{
    if (indent > W / 2)
        indent = W / 2;
    const char *key;
    json_t *v;
    bool first = true;
    json_object_foreach((json_t *)o, key, v)
    {
        buf_t p = BUF_INIT;
        if (dash && first) {
            spaces(&p, indent - 2);
            buf_puts(&p, "- ");
        } else {
            spaces(&p, indent);
        }
        first = false;
        char *k = clean(key);
        buf_printf(&p, "%s:", k);
        free(k);
        if (json_is_array(v) && json_array_size(v) > 0 && all_scalars(v)) {
            buf_t t = BUF_INIT;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (i)
                    buf_puts(&t, ", ");
                scalar_text(&t, e);
            }
            buf_putc(&p, ' ');
            wrap(out, buf_str(&p), indent + 4, buf_str(&t));
            buf_free(&t);
        } else if (scalar(v)) {
            buf_t t = BUF_INIT;
            scalar_text(&t, v);
            buf_putc(&p, ' ');
            wrap(out, buf_str(&p), indent + 4, buf_str(&t));
            buf_free(&t);
        } else if (json_is_object(v)) {
            put_prefix(out, buf_str(&p), indent + 4);
            buf_putc(out, '\n');
            gen_object(out, v, indent + 2, false);
        } else {
            put_prefix(out, buf_str(&p), indent + 4);
            buf_putc(out, '\n');
            gen_elements(out, v, indent + 2);
        }
        buf_free(&p);
    }
}

void ctlrender_generic(buf_t *out, const json_t *result)
{
    if (!result || json_is_null(result) ||
        (json_is_object(result) && json_object_size(result) == 0)) {
        buf_puts(out, "ok\n");
    } else if (json_is_object(result)) {
        gen_object(out, result, 0, false);
    } else if (json_is_array(result) && json_array_size(result) > 0) {
        gen_elements(out, result, 0);
    } else {
        buf_t t = BUF_INIT;
        scalar_text(&t, result);
        wrap(out, "", 2, buf_str(&t));
        buf_free(&t);
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
    ctlrender_history_body(out, v);
    trim_lines(out, from);
}
