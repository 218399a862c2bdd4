/* ctlrender.c - see ctlrender.h. */
#include "ctlrender.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlrender_int.h"

/* ---- text helpers ---- */

bool cr_is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t ctlrender_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (!cr_is_cont((unsigned char)*s))
            n++;
    return n;
}

/* A copy of s fit for a terminal: C0 and C1 control characters (newlines,
 * escapes) become spaces. */
char *cr_clean(const char *s)
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
const char *cr_put_chars(buf_t *out, const char *s, size_t n)
{
    const char *p = s;
    while (*p && n > 0) {
        p++;
        while (*p && cr_is_cont((unsigned char)*p))
            p++;
        n--;
    }
    buf_append(out, s, (size_t)(p - s));
    return p;
}

void cr_spaces(buf_t *out, size_t n)
{
    while (n--)
        buf_putc(out, ' ');
}

/* s in exactly width columns: cut with '~' when longer, padded unless last. */
void cr_put_cell(buf_t *out, const char *s, size_t width, bool last)
{
    char *c = cr_clean(s);
    size_t w = ctlrender_width(c);
    if (w > width) {
        cr_put_chars(out, c, width - 1);
        buf_putc(out, '~');
        w = width;
    } else {
        buf_puts(out, c);
    }
    if (!last)
        cr_spaces(out, width - w + 1);
    free(c);
}

/* A name in exactly width columns: cut in the middle when longer, since the
 * end of a node name ("-01", "-02") is what tells nodes apart. */
void cr_put_name_cell(buf_t *out, const char *s, size_t width)
{
    char *c = cr_clean(s);
    size_t w = ctlrender_width(c);
    if (w > width) {
        size_t head = (width - 1) / 2 + (width - 1) % 2, tail = (width - 1) / 2;
        cr_put_chars(out, c, head);
        buf_putc(out, '~');
        const char *p = c;
        for (size_t skip = w - tail; skip > 0; skip--) {
            p++;
            while (*p && cr_is_cont((unsigned char)*p))
                p++;
        }
        buf_puts(out, p);
        w = width;
    } else {
        buf_puts(out, c);
    }
    cr_spaces(out, width - w + 1);
    free(c);
}

/* A prefix (a long key, a long name) wider than the line is cut into lines
 * like a long word; returns the column after it. */
static size_t put_prefix(buf_t *out, const char *prefix, size_t indent)
{
    char *c = cr_clean(prefix);
    const char *p = c;
    size_t col = 0;
    if (indent > W / 2)
        indent = W / 2;
    while (col + ctlrender_width(p) > W) {
        p = cr_put_chars(out, p, W - col);
        buf_putc(out, '\n');
        cr_spaces(out, indent);
        col = indent;
    }
    buf_puts(out, p);
    col += ctlrender_width(p);
    free(c);
    return col;
}

/* prefix + text, word-wrapped at W columns; continuation lines start with
 * indent spaces; a word longer than a line is split. Ends with a newline. */
void cr_wrap(buf_t *out, const char *prefix, size_t indent, const char *text)
{
    char *t = cr_clean(text);
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
            cr_spaces(out, indent);
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
                cr_spaces(out, indent);
                col = indent;
                empty = true;
                continue;
            }
            rest = cr_put_chars(out, rest, room);
            buf_putc(out, '\n');
            cr_spaces(out, indent);
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

void cr_piece(line_t *l, const char *text)
{
    char *t = cr_clean(text);
    size_t w = ctlrender_width(t);
    if (!l->first && l->col + 2 + w > W) {
        buf_putc(l->out, '\n');
        cr_spaces(l->out, l->indent);
        l->col = l->indent;
        l->first = true;
    }
    if (!l->first) {
        buf_puts(l->out, "  ");
        l->col += 2;
    }
    if (l->col + w > W) {
        cr_put_chars(l->out, t, W - l->col - 1);
        buf_putc(l->out, '~');
        l->col = W;
    } else {
        buf_puts(l->out, t);
        l->col += w;
    }
    l->first = false;
    free(t);
}

void cr_piecef(line_t *l, const char *fmt, ...)
{
    buf_t b = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    cr_piece(l, buf_str(&b));
    buf_free(&b);
}

/* ---- field access ---- */

const char *cr_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A string field, or "?" when null or missing. */
const char *cr_str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = cr_str(o, key);
    return s ? s : dflt;
}

bool cr_nonempty(const char *s)
{
    return s && *s;
}

/* ---- value formats ---- */

void cr_fmt_duration(char *b, size_t n, double s)
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

/* A number of v, negative ones as 0; false, with "?" in b, when v is none. */
bool cr_number(char *b, size_t n, const json_t *v, double *out)
{
    if (!json_is_number(v)) {
        snprintf(b, n, "?");
        return false;
    }
    double d = json_number_value(v);
    *out = d < 0 ? 0 : d;
    return true;
}

/* Lag in at most 4 columns. */
void cr_fmt_lag(char *b, size_t n, const json_t *v)
{
    double s;
    if (!cr_number(b, n, v, &s))
        return;
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
void cr_fmt_count(char *b, size_t n, const json_t *v)
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
void cr_fmt_latency(char *b, size_t n, const json_t *v)
{
    double ms;
    if (!cr_number(b, n, v, &ms))
        return;
    if (ms < 9.95)
        snprintf(b, n, "%.1fms", ms);
    else if (ms < 999.5)
        snprintf(b, n, "%.0fms", ms);
    else if (ms < 99950)
        snprintf(b, n, "%.1fs", ms / 1000);
    else
        snprintf(b, n, "%.0fs", ms / 1000);
}

const char *cr_yes_no(const json_t *v)
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
    char *all = cr_clean(gtid);
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
        m[n++] = cr_clean(buf_str(&b));
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
        cr_put_chars(out, m[0], room);
        buf_putc(out, '~');
        buf_puts(out, more);
    }
    for (size_t i = 0; i < n; i++)
        free(m[i]);
    free(m);
}

void ctlrender_message(buf_t *out, const char *prefix, const char *text)
{
    cr_wrap(out, prefix, 4, text ? text : "");
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
            cr_spaces(out, indent);
            buf_puts(out, "-\n");
            gen_elements(out, v, indent + 2);
        } else {
            buf_t p = BUF_INIT, t = BUF_INIT;
            cr_spaces(&p, indent);
            buf_puts(&p, "- ");
            scalar_text(&t, v);
            cr_wrap(out, buf_str(&p), indent + 2, buf_str(&t));
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
            cr_spaces(&p, indent - 2);
            buf_puts(&p, "- ");
        } else {
            cr_spaces(&p, indent);
        }
        first = false;
        char *k = cr_clean(key);
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
            cr_wrap(out, buf_str(&p), indent + 4, buf_str(&t));
            buf_free(&t);
        } else if (scalar(v)) {
            buf_t t = BUF_INIT;
            scalar_text(&t, v);
            buf_putc(&p, ' ');
            cr_wrap(out, buf_str(&p), indent + 4, buf_str(&t));
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
        cr_wrap(out, "", 2, buf_str(&t));
        buf_free(&t);
    }
}
