/* gtid.c - see gtid.h: what both notations share (the helpers of
 * gtid_internal.h, the text-in text-out operations on MySQL sets and the most
 * advanced replica). MySQL GTID sets are in gtid_mysql.c, MariaDB GTID
 * positions in gtid_mariadb.c. */
#include "gtid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtid_internal.h"

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

void gtid__set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *gtid__describe(char c, char out[16])
{
    if (c == '\0')
        snprintf(out, 16, "end of text");
    else if (c == '\n')
        snprintf(out, 16, "newline");
    else if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
        snprintf(out, 16, "'%c'", c);
    else
        snprintf(out, 16, "byte 0x%02x", (unsigned char)c);
    return out;
}

void gtid__put_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, tmp + n, sizeof(tmp) - n);
}
bool gtid__perr(parser_t *p, size_t off, const char *fmt, ...)
{
    if (!p->err || p->errlen == 0)
        return false;
    char msg[GTID_ERR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "offset %zu: %s", off, msg);
    return false;
}

bool gtid__parse_dec(parser_t *p, size_t *i, uint64_t max, bool zero_ok, const char *what,
                     uint64_t *out)
{
    char d[16];
    const char *t = p->t;
    size_t start = *i;
    if (!is_digit(t[start]))
        return gtid__perr(p, start, "expected a %s, found %s", what, gtid__describe(t[start], d));
    if (t[start] == '0' && is_digit(t[start + 1]))
        return gtid__perr(p, start, "leading zero in %s", what);
    if (t[start] == '0' && !zero_ok)
        return gtid__perr(p, start, "%s 0 is not allowed (they start at 1)", what);
    uint64_t v = 0;
    bool overflow = false;
    size_t k = start;
    for (; is_digit(t[k]); k++) {
        unsigned dig = (unsigned)(t[k] - '0');
        if (overflow || v > (max - dig) / 10)
            overflow = true;
        else
            v = v * 10 + dig;
    }
    if (overflow) {
        int len = (int)(k - start);
        return gtid__perr(p, start, "%s %.*s%s is too large (largest is %" PRIu64 ")", what,
                          len > 40 ? 40 : len, t + start, len > 40 ? "..." : "", max);
    }
    *out = v;
    *i = k;
    return true;
}

int gtid__next_element(parser_t *p, size_t *i, const char *expected)
{
    const char *t = p->t;
    char d[16];
    *i = skip_ws(t, *i);
    if (t[*i] == '\0')
        return 0;
    if (t[*i] != ',') {
        gtid__perr(p, *i, "expected %s, found %s", expected, gtid__describe(t[*i], d));
        return -1;
    }
    size_t comma = *i;
    *i = skip_ws(t, *i + 1);
    if (t[*i] == '\0') {
        gtid__perr(p, comma, "trailing comma");
        return -1;
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: text in, text out                                  */
/* ------------------------------------------------------------------ */

static gtid_set_t *parse_arg(const char *text, const char *name, char *err, size_t errlen)
{
    char msg[GTID_ERR_SIZE];
    gtid_set_t *s = gtid_set_parse(text, msg, sizeof(msg));
    if (!s)
        gtid__set_err(err, errlen, "%s: %s", name, msg);
    return s;
}

char *gtid_text_normalize(const char *text, char *err, size_t errlen)
{
    gtid_set_t *s = parse_arg(text, "set", err, errlen);
    if (!s)
        return NULL;
    char *r = gtid_set_format(s);
    gtid_set_free(s);
    return r;
}

static char *text_op(const char *a, const char *b,
                     gtid_set_t *(*op)(const gtid_set_t *, const gtid_set_t *), char *err,
                     size_t errlen)
{
    gtid_set_t *x = parse_arg(a, "first set", err, errlen);
    if (!x)
        return NULL;
    gtid_set_t *y = parse_arg(b, "second set", err, errlen);
    if (!y) {
        gtid_set_free(x);
        return NULL;
    }
    gtid_set_t *r = op(x, y);
    char *out = gtid_set_format(r);
    gtid_set_free(x);
    gtid_set_free(y);
    gtid_set_free(r);
    return out;
}

char *gtid_text_union(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, gtid_set_union, err, errlen);
}

char *gtid_text_subtract(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, gtid_set_subtract, err, errlen);
}

char *gtid_text_intersect(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, gtid_set_intersect, err, errlen);
}

int gtid_text_subset(const char *a, const char *b, char *err, size_t errlen)
{
    gtid_set_t *x = parse_arg(a, "first set", err, errlen);
    if (!x)
        return -1;
    gtid_set_t *y = parse_arg(b, "second set", err, errlen);
    if (!y) {
        gtid_set_free(x);
        return -1;
    }
    int r = gtid_set_is_subset(x, y) ? 1 : 0;
    gtid_set_free(x);
    gtid_set_free(y);
    return r;
}

/* ------------------------------------------------------------------ */
/* The most advanced replica                                           */
/* ------------------------------------------------------------------ */

gtid_advanced_t *gtid_set_most_advanced(const gtid_set_t *const *sets, size_t n)
{
    gtid_advanced_t *r = xcalloc(1, sizeof(*r));
    r->most_advanced = -1;
    r->n = n;
    r->missing_set = xcalloc(n ? n : 1, sizeof(*r->missing_set));
    gtid_set_t *all = gtid_set_new();
    for (size_t i = 0; i < n; i++)
        if (sets[i])
            gtid_set_add_set(all, sets[i]);
    for (size_t i = 0; i < n; i++) {
        r->missing_set[i] = sets[i] ? gtid_set_subtract(all, sets[i]) : gtid_set_copy(all);
        if (r->most_advanced < 0 && gtid_set_is_empty(r->missing_set[i]))
            r->most_advanced = (int)i;
    }
    gtid_set_free(all);
    return r;
}

gtid_advanced_t *gtid_pos_most_advanced(const gtid_pos_t *const *pos, size_t n)
{
    static const gtid_pos_t empty = {NULL, 0};
    gtid_advanced_t *r = xcalloc(1, sizeof(*r));
    r->most_advanced = -1;
    r->n = n;
    r->missing_pos = xcalloc(n ? n : 1, sizeof(*r->missing_pos));
    gtid_pos_t *all = gtid_pos_new();
    for (size_t i = 0; i < n; i++) {
        if (!pos[i])
            continue;
        gtid_pos_t *m = gtid_pos_max(all, pos[i]);
        gtid_pos_free(all);
        all = m;
    }
    for (size_t i = 0; i < n; i++) {
        r->missing_pos[i] = gtid_pos_diff(pos[i] ? pos[i] : &empty, all);
        if (r->most_advanced < 0 && r->missing_pos[i]->n == 0)
            r->most_advanced = (int)i;
    }
    gtid_pos_free(all);
    return r;
}

bool gtid_advanced_lacks(const gtid_advanced_t *r, size_t i)
{
    if (i >= r->n)
        return false;
    if (r->missing_set)
        return !gtid_set_is_empty(r->missing_set[i]);
    return r->missing_pos[i]->n > 0;
}

char *gtid_advanced_missing_text(const gtid_advanced_t *r, size_t i)
{
    if (i >= r->n)
        return xstrdup("");
    if (r->missing_set)
        return gtid_set_format_line(r->missing_set[i]);
    return gtid_pos_diff_format(r->missing_pos[i]);
}

void gtid_advanced_free(gtid_advanced_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        if (r->missing_set)
            gtid_set_free(r->missing_set[i]);
        if (r->missing_pos)
            gtid_pos_diff_free(r->missing_pos[i]);
    }
    free(r->missing_set);
    free(r->missing_pos);
    free(r);
}
