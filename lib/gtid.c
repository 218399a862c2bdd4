/* gtid.c - see gtid.h. */
#include "gtid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The same whitespace the servers skip (C isspace in the "C" locale). */
static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_tag_start(char c)
{
    return is_alpha(c) || c == '_';
}
static bool is_tag_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static size_t skip_ws(const char *t, size_t i)
{
    while (is_ws(t[i]))
        i++;
    return i;
}

/* How a character found where something else was expected reads in a message. */
static const char *describe(char c, char out[16])
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

/* Appends v in decimal; faster than printf for sets of thousands of intervals. */
static void put_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    buf_append(b, tmp + n, sizeof(tmp) - n);
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: representation                                     */
/* ------------------------------------------------------------------ */

/* One UUID-and-tag group: its intervals are sorted, disjoint and never touch
 * (iv[k].last + 1 < iv[k + 1].first) once the set is normalized. */
typedef struct {
    char uuid[GTID_UUID_LEN + 1];
    char tag[GTID_TAG_MAX + 1];
    gtid_interval_t *iv;
    size_t n, cap;
} group_t;

/* Groups sorted by (uuid, tag), each non-empty. Lowercase UUIDs compare in the
 * same order as the servers' binary UUIDs, and tags compare bytewise, so this
 * is also the order of the canonical text. */
struct gtid_set {
    group_t *g;
    size_t n, cap;
};

static int key_cmp(const char *uuid_a, const char *tag_a, const char *uuid_b, const char *tag_b)
{
    int c = memcmp(uuid_a, uuid_b, GTID_UUID_LEN);
    return c ? c : strcmp(tag_a, tag_b);
}

static int group_cmp(const group_t *a, const group_t *b)
{
    return key_cmp(a->uuid, a->tag, b->uuid, b->tag);
}

static int group_qsort_cmp(const void *a, const void *b)
{
    return group_cmp(a, b);
}

static int interval_qsort_cmp(const void *a, const void *b)
{
    const gtid_interval_t *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return 0;
}

static void group_reserve(group_t *g, size_t extra)
{
    if (g->n + extra <= g->cap)
        return;
    size_t cap = g->cap ? g->cap * 2 : 4;
    while (cap < g->n + extra)
        cap *= 2;
    g->iv = xrealloc(g->iv, cap * sizeof(*g->iv));
    g->cap = cap;
}

/* Appends an interval, merging it into the last one when they overlap or touch;
 * callers append in ascending order of first. */
static void group_push_merge(group_t *g, uint64_t first, uint64_t last)
{
    if (g->n && first <= g->iv[g->n - 1].last + 1) {
        if (last > g->iv[g->n - 1].last)
            g->iv[g->n - 1].last = last;
        return;
    }
    group_reserve(g, 1);
    g->iv[g->n].first = first;
    g->iv[g->n].last = last;
    g->n++;
}

/* Appends an interval as it is (parsing; normalized later). */
static void group_push_raw(group_t *g, uint64_t first, uint64_t last)
{
    group_reserve(g, 1);
    g->iv[g->n].first = first;
    g->iv[g->n].last = last;
    g->n++;
}

static void group_free(group_t *g)
{
    free(g->iv);
    g->iv = NULL;
    g->n = g->cap = 0;
}

/* Appends a new empty group with the given key; returns its index. */
static size_t set_push_group(gtid_set_t *s, const char *uuid, const char *tag)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->g = xrealloc(s->g, s->cap * sizeof(*s->g));
    }
    group_t *g = &s->g[s->n];
    memset(g, 0, sizeof(*g));
    memcpy(g->uuid, uuid, GTID_UUID_LEN);
    g->uuid[GTID_UUID_LEN] = '\0';
    snprintf(g->tag, sizeof(g->tag), "%s", tag);
    return s->n++;
}

/* Copies a group's key into a new group of out and returns it. */
static group_t *set_push_like(gtid_set_t *out, const group_t *like)
{
    size_t i = set_push_group(out, like->uuid, like->tag); /* may move out->g */
    return &out->g[i];
}

/* Drops the last group of s if it stayed empty. */
static void set_drop_empty_last(gtid_set_t *s)
{
    if (s->n && s->g[s->n - 1].n == 0) {
        group_free(&s->g[s->n - 1]);
        s->n--;
    }
}

/* Sorts intervals and merges those that overlap or touch. */
static void group_normalize(group_t *g)
{
    if (g->n < 2)
        return;
    bool sorted = true;
    for (size_t k = 1; k < g->n && sorted; k++)
        sorted = g->iv[k - 1].first <= g->iv[k].first;
    if (!sorted)
        qsort(g->iv, g->n, sizeof(*g->iv), interval_qsort_cmp);
    size_t k = 0;
    for (size_t m = 1; m < g->n; m++) {
        if (g->iv[m].first <= g->iv[k].last + 1) {
            if (g->iv[m].last > g->iv[k].last)
                g->iv[k].last = g->iv[m].last;
        } else {
            g->iv[++k] = g->iv[m];
        }
    }
    g->n = k + 1;
}

/* Restores the set invariants after groups were appended in any order: sorts
 * the groups, folds groups with the same key into one, normalizes intervals. */
static void set_normalize(gtid_set_t *s)
{
    bool sorted = true;
    for (size_t i = 1; i < s->n && sorted; i++)
        sorted = group_cmp(&s->g[i - 1], &s->g[i]) < 0;
    if (!sorted)
        qsort(s->g, s->n, sizeof(*s->g), group_qsort_cmp);
    size_t out = 0;
    for (size_t i = 0; i < s->n;) {
        group_t *g = &s->g[i];
        size_t j = i + 1;
        while (j < s->n && group_cmp(g, &s->g[j]) == 0) {
            if (s->g[j].n) {
                group_reserve(g, s->g[j].n);
                memcpy(g->iv + g->n, s->g[j].iv, s->g[j].n * sizeof(*g->iv));
                g->n += s->g[j].n;
            }
            group_free(&s->g[j]);
            j++;
        }
        group_normalize(g);
        if (g->n == 0)
            group_free(g);
        else
            s->g[out++] = *g;
        i = j;
    }
    s->n = out;
}

gtid_set_t *gtid_set_new(void)
{
    return xcalloc(1, sizeof(gtid_set_t));
}

void gtid_set_free(gtid_set_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        group_free(&s->g[i]);
    free(s->g);
    free(s);
}

gtid_set_t *gtid_set_copy(const gtid_set_t *s)
{
    gtid_set_t *c = gtid_set_new();
    for (size_t i = 0; i < s->n; i++) {
        group_t *g = set_push_like(c, &s->g[i]);
        group_reserve(g, s->g[i].n);
        memcpy(g->iv, s->g[i].iv, s->g[i].n * sizeof(*g->iv));
        g->n = s->g[i].n;
    }
    return c;
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: parsing                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *t;
    char *err;
    size_t errlen;
} parser_t;

static bool perr(parser_t *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "offset N: message" and returns false. */
static bool perr(parser_t *p, size_t off, const char *fmt, ...)
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

/* Reads a UUID in the 8-4-4-4-12 hex form at *i into out (lowercase). */
static bool parse_uuid_at(parser_t *p, size_t *i, char out[GTID_UUID_LEN + 1])
{
    char d[16];
    const char *t = p->t;
    if (!is_hex(t[*i]))
        return perr(p, *i, "expected a UUID, found %s", describe(t[*i], d));
    for (size_t k = 0; k < GTID_UUID_LEN; k++) {
        char c = t[*i + k];
        bool dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (c == '\0')
            return perr(p, *i + k, "malformed UUID: the text ends inside it");
        if (dash && c != '-')
            return perr(p, *i + k, "malformed UUID: expected '-', found %s", describe(c, d));
        if (!dash && !is_hex(c))
            return perr(p, *i + k, "malformed UUID: expected a hex digit, found %s",
                        describe(c, d));
        out[k] = lower(c);
    }
    out[GTID_UUID_LEN] = '\0';
    *i += GTID_UUID_LEN;
    return true;
}

/* Reads a decimal number without sign or leading zero, at most max. what names
 * it in messages ("transaction number", "domain id" ...). */
static bool parse_dec(parser_t *p, size_t *i, uint64_t max, bool zero_ok, const char *what,
                      uint64_t *out)
{
    char d[16];
    const char *t = p->t;
    size_t start = *i;
    if (!is_digit(t[start]))
        return perr(p, start, "expected a %s, found %s", what, describe(t[start], d));
    if (t[start] == '0' && is_digit(t[start + 1]))
        return perr(p, start, "leading zero in %s", what);
    if (t[start] == '0' && !zero_ok)
        return perr(p, start, "%s 0 is not allowed (they start at 1)", what);
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
        return perr(p, start, "%s %.*s%s is too large (largest is %" PRIu64 ")", what,
                    len > 40 ? 40 : len, t + start, len > 40 ? "..." : "", max);
    }
    *out = v;
    *i = k;
    return true;
}

/* Grammar, with whitespace allowed around every separator and at both ends:
 *   set      := "" | element ("," element)*
 *   element  := uuid (":" interval)* (":" tag (":" interval)+)*
 *   interval := txn | txn "-" txn
 * with at least one interval per element: a UUID needs no untagged intervals
 * when tagged ones follow, but every tag needs intervals of its own.
 */
gtid_set_t *gtid_set_parse(const char *text, char *err, size_t errlen)
{
    parser_t p = {text, err, errlen};
    if (!text) {
        set_err(err, errlen, "no GTID set text");
        return NULL;
    }
    gtid_set_t *s = gtid_set_new();
    const char *t = text;
    char d[16];
    size_t i = skip_ws(t, 0);
    if (t[i] == '\0')
        return s;
    for (;;) {
        if (t[i] == ',') {
            perr(&p, i, "empty element (a comma without a UUID before it)");
            goto fail;
        }
        char uuid[GTID_UUID_LEN + 1];
        size_t label_at = i;
        if (!parse_uuid_at(&p, &i, uuid))
            goto fail;
        size_t gi = set_push_group(s, uuid, "");
        size_t items = 0; /* numbers since the UUID or the last tag */
        i = skip_ws(t, i);
        if (t[i] != ':' && t[i] != ',' && t[i] != '\0') {
            perr(&p, i, "expected ':' after the UUID, found %s", describe(t[i], d));
            goto fail;
        }
        while (t[i] == ':') {
            i = skip_ws(t, i + 1);
            if (is_tag_start(t[i])) {
                /* "uuid:tag:1" is fine; "uuid:tag1:tag2:1" leaves tag1 empty. */
                if (items == 0 && s->g[gi].tag[0]) {
                    perr(&p, label_at, "tag without transaction numbers");
                    goto fail;
                }
                size_t start = i;
                while (is_tag_char(t[i]))
                    i++;
                if (i - start > GTID_TAG_MAX) {
                    perr(&p, start, "tag longer than %d characters", GTID_TAG_MAX);
                    goto fail;
                }
                char tag[GTID_TAG_MAX + 1];
                for (size_t k = start; k < i; k++)
                    tag[k - start] = lower(t[k]);
                tag[i - start] = '\0';
                gi = set_push_group(s, uuid, tag);
                items = 0;
                label_at = start;
                i = skip_ws(t, i);
                if (t[i] != ':' && t[i] != ',' && t[i] != '\0') {
                    perr(&p, i, "expected ':' after the tag, found %s", describe(t[i], d));
                    goto fail;
                }
            } else if (is_digit(t[i])) {
                size_t start = i;
                uint64_t first, last;
                if (!parse_dec(&p, &i, GTID_TXN_MAX, false, "transaction number", &first))
                    goto fail;
                i = skip_ws(t, i);
                last = first;
                if (t[i] == '-') {
                    i = skip_ws(t, i + 1);
                    if (!parse_dec(&p, &i, GTID_TXN_MAX, false, "transaction number", &last))
                        goto fail;
                    if (last < first) {
                        perr(&p, start, "reversed interval %" PRIu64 "-%" PRIu64, first, last);
                        goto fail;
                    }
                    i = skip_ws(t, i);
                }
                group_push_raw(&s->g[gi], first, last);
                items++;
            } else {
                perr(&p, i, "expected a transaction number or a tag, found %s", describe(t[i], d));
                goto fail;
            }
        }
        if (items == 0) {
            perr(&p, label_at, "%s without transaction numbers", s->g[gi].tag[0] ? "tag" : "UUID");
            goto fail;
        }
        if (t[i] == '\0')
            break;
        if (t[i] != ',') {
            perr(&p, i, "expected ',' or ':', found %s", describe(t[i], d));
            goto fail;
        }
        size_t comma = i;
        i = skip_ws(t, i + 1);
        if (t[i] == '\0') {
            perr(&p, comma, "trailing comma");
            goto fail;
        }
    }
    set_normalize(s);
    return s;
fail:
    gtid_set_free(s);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: formatting                                         */
/* ------------------------------------------------------------------ */

void gtid_set_append(buf_t *out, const gtid_set_t *s, const char *uuid_sep)
{
    for (size_t i = 0; i < s->n; i++) {
        const group_t *g = &s->g[i];
        if (i == 0 || memcmp(g->uuid, s->g[i - 1].uuid, GTID_UUID_LEN) != 0) {
            if (i)
                buf_puts(out, uuid_sep);
            buf_append(out, g->uuid, GTID_UUID_LEN);
        }
        if (g->tag[0]) {
            buf_putc(out, ':');
            buf_puts(out, g->tag);
        }
        for (size_t k = 0; k < g->n; k++) {
            buf_putc(out, ':');
            put_u64(out, g->iv[k].first);
            if (g->iv[k].last != g->iv[k].first) {
                buf_putc(out, '-');
                put_u64(out, g->iv[k].last);
            }
        }
    }
}

char *gtid_set_format(const gtid_set_t *s)
{
    buf_t b = BUF_INIT;
    gtid_set_append(&b, s, ",\n");
    return buf_steal(&b);
}

char *gtid_set_format_line(const gtid_set_t *s)
{
    buf_t b = BUF_INIT;
    gtid_set_append(&b, s, ",");
    return buf_steal(&b);
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: algebra                                            */
/* ------------------------------------------------------------------ */

/* out := a ∪ b for one group's intervals. */
static void iv_union(const group_t *a, const group_t *b, group_t *out)
{
    size_t i = 0, j = 0;
    group_reserve(out, a->n + b->n);
    while (i < a->n || j < b->n) {
        const gtid_interval_t *x;
        if (j == b->n || (i < a->n && a->iv[i].first <= b->iv[j].first))
            x = &a->iv[i++];
        else
            x = &b->iv[j++];
        group_push_merge(out, x->first, x->last);
    }
}

/* out := a − b for one group's intervals. */
static void iv_subtract(const group_t *a, const group_t *b, group_t *out)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        uint64_t cur = a->iv[i].first, last = a->iv[i].last;
        bool done = false;
        while (j < b->n && b->iv[j].last < cur)
            j++;
        size_t k = j;
        while (k < b->n && b->iv[k].first <= last) {
            if (b->iv[k].first > cur)
                group_push_merge(out, cur, b->iv[k].first - 1);
            if (b->iv[k].last >= last) {
                done = true;
                break;
            }
            cur = b->iv[k].last + 1;
            k++;
        }
        if (!done)
            group_push_merge(out, cur, last);
        j = k;
    }
}

/* out := a ∩ b for one group's intervals. */
static void iv_intersect(const group_t *a, const group_t *b, group_t *out)
{
    size_t i = 0, j = 0;
    while (i < a->n && j < b->n) {
        uint64_t lo = a->iv[i].first > b->iv[j].first ? a->iv[i].first : b->iv[j].first;
        uint64_t hi = a->iv[i].last < b->iv[j].last ? a->iv[i].last : b->iv[j].last;
        if (lo <= hi)
            group_push_merge(out, lo, hi);
        if (a->iv[i].last < b->iv[j].last)
            i++;
        else
            j++;
    }
}

static void copy_group_into(gtid_set_t *out, const group_t *g)
{
    group_t *o = set_push_like(out, g);
    group_reserve(o, g->n);
    memcpy(o->iv, g->iv, g->n * sizeof(*g->iv));
    o->n = g->n;
}

typedef enum { OP_UNION, OP_SUBTRACT, OP_INTERSECT } set_op_t;

/* Walks the groups of a and b in order and combines them by op. */
static gtid_set_t *set_combine(const gtid_set_t *a, const gtid_set_t *b, set_op_t op)
{
    gtid_set_t *out = gtid_set_new();
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        int c = i == a->n ? 1 : j == b->n ? -1 : group_cmp(&a->g[i], &b->g[j]);
        if (c < 0) { /* only in a */
            if (op != OP_INTERSECT)
                copy_group_into(out, &a->g[i]);
            i++;
        } else if (c > 0) { /* only in b */
            if (op == OP_UNION)
                copy_group_into(out, &b->g[j]);
            j++;
        } else {
            group_t *o = set_push_like(out, &a->g[i]);
            if (op == OP_UNION)
                iv_union(&a->g[i], &b->g[j], o);
            else if (op == OP_SUBTRACT)
                iv_subtract(&a->g[i], &b->g[j], o);
            else
                iv_intersect(&a->g[i], &b->g[j], o);
            set_drop_empty_last(out);
            i++;
            j++;
        }
    }
    return out;
}

gtid_set_t *gtid_set_union(const gtid_set_t *a, const gtid_set_t *b)
{
    return set_combine(a, b, OP_UNION);
}

gtid_set_t *gtid_set_subtract(const gtid_set_t *a, const gtid_set_t *b)
{
    return set_combine(a, b, OP_SUBTRACT);
}

gtid_set_t *gtid_set_intersect(const gtid_set_t *a, const gtid_set_t *b)
{
    return set_combine(a, b, OP_INTERSECT);
}

void gtid_set_add_set(gtid_set_t *dst, const gtid_set_t *src)
{
    gtid_set_t *u = set_combine(dst, src, OP_UNION);
    for (size_t i = 0; i < dst->n; i++)
        group_free(&dst->g[i]);
    free(dst->g);
    *dst = *u;
    free(u);
}

bool gtid_set_is_subset(const gtid_set_t *a, const gtid_set_t *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->n; i++) {
        while (j < b->n && group_cmp(&b->g[j], &a->g[i]) < 0)
            j++;
        if (j == b->n || group_cmp(&b->g[j], &a->g[i]) != 0)
            return false;
        /* b's intervals never touch, so each of a's must lie inside one of b's. */
        const group_t *ga = &a->g[i], *gb = &b->g[j];
        size_t k = 0;
        for (size_t m = 0; m < ga->n; m++) {
            while (k < gb->n && gb->iv[k].last < ga->iv[m].first)
                k++;
            if (k == gb->n || gb->iv[k].first > ga->iv[m].first || gb->iv[k].last < ga->iv[m].last)
                return false;
        }
    }
    return true;
}

bool gtid_set_equal(const gtid_set_t *a, const gtid_set_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const group_t *x = &a->g[i], *y = &b->g[i];
        if (group_cmp(x, y) != 0 || x->n != y->n)
            return false;
        if (x->n && memcmp(x->iv, y->iv, x->n * sizeof(*x->iv)) != 0)
            return false;
    }
    return true;
}

bool gtid_set_is_empty(const gtid_set_t *s)
{
    return s->n == 0;
}

uint64_t gtid_set_count(const gtid_set_t *s)
{
    uint64_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->g[i].n; k++) {
            uint64_t len = s->g[i].iv[k].last - s->g[i].iv[k].first + 1;
            if (total > UINT64_MAX - len)
                return UINT64_MAX;
            total += len;
        }
    }
    return total;
}

/* Validates and lowercases a UUID and a tag given apart (API callers). */
static bool normalize_key(const char *uuid, const char *tag, char u[GTID_UUID_LEN + 1],
                          char g[GTID_TAG_MAX + 1], char *err, size_t errlen)
{
    parser_t p = {uuid, NULL, 0};
    size_t i = 0;
    if (!uuid) {
        set_err(err, errlen, "no UUID");
        return false;
    }
    if (!parse_uuid_at(&p, &i, u) || uuid[i] != '\0') {
        set_err(err, errlen, "not a UUID: '%.60s'", uuid);
        return false;
    }
    if (!tag)
        tag = "";
    size_t n = strlen(tag);
    bool ok = n <= GTID_TAG_MAX && (n == 0 || is_tag_start(tag[0]));
    for (size_t k = 0; ok && k < n; k++)
        ok = is_tag_char(tag[k]);
    if (!ok) {
        set_err(err, errlen, "not a GTID tag: '%.60s'", tag);
        return false;
    }
    for (size_t k = 0; k <= n; k++)
        g[k] = lower(tag[k]);
    return true;
}

/* Index of the group with the key, or where it would go (*found false). */
static size_t find_group(const gtid_set_t *s, const char *uuid, const char *tag, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = key_cmp(s->g[mid].uuid, s->g[mid].tag, uuid, tag);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

bool gtid_set_add(gtid_set_t *s, const char *uuid, const char *tag, uint64_t first, uint64_t last,
                  char *err, size_t errlen)
{
    char u[GTID_UUID_LEN + 1], t[GTID_TAG_MAX + 1];
    if (!normalize_key(uuid, tag, u, t, err, errlen))
        return false;
    if (first < 1 || last > GTID_TXN_MAX || first > last) {
        set_err(err, errlen,
                "not a transaction interval: %" PRIu64 "-%" PRIu64 " (must be 1 <= first <= "
                "last <= %" PRIu64 ")",
                first, last, GTID_TXN_MAX);
        return false;
    }
    bool found;
    size_t gi = find_group(s, u, t, &found);
    if (!found) {
        set_push_group(s, u, t);
        group_t g = s->g[s->n - 1];
        memmove(&s->g[gi + 1], &s->g[gi], (s->n - 1 - gi) * sizeof(*s->g));
        s->g[gi] = g;
    }
    group_t *g = &s->g[gi];
    /* lo: first interval that overlaps or touches [first, last] from below;
     * hi: one past the last one that does. */
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->iv[mid].last + 1 < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t end = lo;
    while (end < g->n && g->iv[end].first <= last + 1)
        end++;
    if (end == lo) {
        group_reserve(g, 1);
        memmove(&g->iv[lo + 1], &g->iv[lo], (g->n - lo) * sizeof(*g->iv));
        g->iv[lo].first = first;
        g->iv[lo].last = last;
        g->n++;
        return true;
    }
    uint64_t nf = g->iv[lo].first < first ? g->iv[lo].first : first;
    uint64_t nl = g->iv[end - 1].last > last ? g->iv[end - 1].last : last;
    g->iv[lo].first = nf;
    g->iv[lo].last = nl;
    memmove(&g->iv[lo + 1], &g->iv[end], (g->n - end) * sizeof(*g->iv));
    g->n -= end - lo - 1;
    return true;
}

bool gtid_set_contains(const gtid_set_t *s, const char *uuid, const char *tag, uint64_t txn)
{
    char u[GTID_UUID_LEN + 1], t[GTID_TAG_MAX + 1];
    if (!normalize_key(uuid, tag, u, t, NULL, 0))
        return false;
    bool found;
    size_t gi = find_group(s, u, t, &found);
    if (!found)
        return false;
    const group_t *g = &s->g[gi];
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g->iv[mid].last < txn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n && g->iv[lo].first <= txn;
}

size_t gtid_set_group_count(const gtid_set_t *s)
{
    return s->n;
}

gtid_group_t gtid_set_group(const gtid_set_t *s, size_t i)
{
    gtid_group_t v = {"", "", NULL, 0};
    if (i < s->n) {
        v.uuid = s->g[i].uuid;
        v.tag = s->g[i].tag;
        v.iv = s->g[i].iv;
        v.n_iv = s->g[i].n;
    }
    return v;
}

/* ------------------------------------------------------------------ */
/* MySQL GTID sets: text in, text out                                  */
/* ------------------------------------------------------------------ */

static gtid_set_t *parse_arg(const char *text, const char *name, char *err, size_t errlen)
{
    char msg[GTID_ERR_SIZE];
    gtid_set_t *s = gtid_set_parse(text, msg, sizeof(msg));
    if (!s)
        set_err(err, errlen, "%s: %s", name, msg);
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

static char *text_op(const char *a, const char *b, set_op_t op, char *err, size_t errlen)
{
    gtid_set_t *x = parse_arg(a, "first set", err, errlen);
    if (!x)
        return NULL;
    gtid_set_t *y = parse_arg(b, "second set", err, errlen);
    if (!y) {
        gtid_set_free(x);
        return NULL;
    }
    gtid_set_t *r = set_combine(x, y, op);
    char *out = gtid_set_format(r);
    gtid_set_free(x);
    gtid_set_free(y);
    gtid_set_free(r);
    return out;
}

char *gtid_text_union(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, OP_UNION, err, errlen);
}

char *gtid_text_subtract(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, OP_SUBTRACT, err, errlen);
}

char *gtid_text_intersect(const char *a, const char *b, char *err, size_t errlen)
{
    return text_op(a, b, OP_INTERSECT, err, errlen);
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
/* MariaDB GTID positions                                              */
/* ------------------------------------------------------------------ */

gtid_pos_t *gtid_pos_new(void)
{
    return xcalloc(1, sizeof(gtid_pos_t));
}

void gtid_pos_free(gtid_pos_t *p)
{
    if (!p)
        return;
    free(p->e);
    free(p);
}

gtid_pos_t *gtid_pos_copy(const gtid_pos_t *p)
{
    gtid_pos_t *c = gtid_pos_new();
    if (p->n) {
        c->e = xmalloc(p->n * sizeof(*c->e));
        memcpy(c->e, p->e, p->n * sizeof(*c->e));
        c->n = p->n;
    }
    return c;
}

static void pos_push(gtid_pos_t *p, uint32_t domain, uint32_t server, uint64_t seq)
{
    p->e = xrealloc(p->e, (p->n + 1) * sizeof(*p->e));
    p->e[p->n].domain = domain;
    p->e[p->n].server = server;
    p->e[p->n].seq = seq;
    p->n++;
}

/* An entry and where its text began, to name duplicates. */
typedef struct {
    gtid_pos_entry_t e;
    size_t at;
} pos_item_t;

static int pos_item_cmp(const void *a, const void *b)
{
    const pos_item_t *x = a, *y = b;
    if (x->e.domain != y->e.domain)
        return x->e.domain < y->e.domain ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Grammar: pos := "" | entry ("," entry)*; entry := domain "-" server "-" seq;
 * whitespace at both ends and around commas. */
gtid_pos_t *gtid_pos_parse(const char *text, char *err, size_t errlen)
{
    parser_t p = {text, err, errlen};
    if (!text) {
        set_err(err, errlen, "no GTID position text");
        return NULL;
    }
    const char *t = text;
    char d[16];
    pos_item_t *items = NULL;
    size_t n = 0;
    size_t i = skip_ws(t, 0);
    if (t[i] != '\0') {
        for (;;) {
            uint64_t dom, srv, seq;
            size_t at = i;
            if (t[i] == ',') {
                perr(&p, i, "empty element (a comma without a GTID before it)");
                goto fail;
            }
            if (!parse_dec(&p, &i, UINT32_MAX, true, "domain id", &dom))
                goto fail;
            if (t[i] != '-') {
                perr(&p, i, "expected '-' after the domain id, found %s", describe(t[i], d));
                goto fail;
            }
            i++;
            if (!parse_dec(&p, &i, UINT32_MAX, true, "server id", &srv))
                goto fail;
            if (t[i] != '-') {
                perr(&p, i, "expected '-' after the server id, found %s", describe(t[i], d));
                goto fail;
            }
            i++;
            if (!parse_dec(&p, &i, UINT64_MAX, true, "sequence number", &seq))
                goto fail;
            items = xrealloc(items, (n + 1) * sizeof(*items));
            items[n].e.domain = (uint32_t)dom;
            items[n].e.server = (uint32_t)srv;
            items[n].e.seq = seq;
            items[n].at = at;
            n++;
            i = skip_ws(t, i);
            if (t[i] == '\0')
                break;
            if (t[i] != ',') {
                perr(&p, i, "expected ',', found %s", describe(t[i], d));
                goto fail;
            }
            size_t comma = i;
            i = skip_ws(t, i + 1);
            if (t[i] == '\0') {
                perr(&p, comma, "trailing comma");
                goto fail;
            }
        }
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), pos_item_cmp);
    for (size_t k = 1; k < n; k++) {
        if (items[k].e.domain == items[k - 1].e.domain) {
            perr(&p, items[k].at, "duplicate domain %" PRIu32 " (first at offset %zu)",
                 items[k].e.domain, items[k - 1].at);
            goto fail;
        }
    }
    gtid_pos_t *pos = gtid_pos_new();
    if (n) {
        pos->e = xmalloc(n * sizeof(*pos->e));
        for (size_t k = 0; k < n; k++)
            pos->e[k] = items[k].e;
        pos->n = n;
    }
    free(items);
    return pos;
fail:
    free(items);
    return NULL;
}

char *gtid_pos_format(const gtid_pos_t *p)
{
    buf_t b = BUF_INIT;
    for (size_t k = 0; k < p->n; k++) {
        if (k)
            buf_putc(&b, ',');
        put_u64(&b, p->e[k].domain);
        buf_putc(&b, '-');
        put_u64(&b, p->e[k].server);
        buf_putc(&b, '-');
        put_u64(&b, p->e[k].seq);
    }
    return buf_steal(&b);
}

/* Index of domain's entry, or where it would go (*found false). */
static size_t pos_index(const gtid_pos_t *p, uint32_t domain, bool *found)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->e[mid].domain < domain)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < p->n && p->e[lo].domain == domain;
    return lo;
}

void gtid_pos_set(gtid_pos_t *p, uint32_t domain, uint32_t server, uint64_t seq)
{
    bool found;
    size_t k = pos_index(p, domain, &found);
    if (!found) {
        pos_push(p, 0, 0, 0);
        memmove(&p->e[k + 1], &p->e[k], (p->n - 1 - k) * sizeof(*p->e));
    }
    p->e[k].domain = domain;
    p->e[k].server = server;
    p->e[k].seq = seq;
}

const gtid_pos_entry_t *gtid_pos_find(const gtid_pos_t *p, uint32_t domain)
{
    bool found;
    size_t k = pos_index(p, domain, &found);
    return found ? &p->e[k] : NULL;
}

bool gtid_pos_equal(const gtid_pos_t *a, const gtid_pos_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t k = 0; k < a->n; k++) {
        if (a->e[k].domain != b->e[k].domain || a->e[k].server != b->e[k].server ||
            a->e[k].seq != b->e[k].seq)
            return false;
    }
    return true;
}

/* The sequence number a has reached in domain, starting the search at *i
 * (domains are visited in ascending order, so the search never goes back).
 * A domain a lacks counts as 0, as MASTER_GTID_WAIT counts it: an entry with
 * sequence number 0 (a position set by hand before anything happened in that
 * domain) is reached by every position, and a replica that lacks the domain
 * altogether has nothing to catch up on there. */
static uint64_t pos_reached(const gtid_pos_t *a, size_t *i, uint32_t domain, bool *has)
{
    while (*i < a->n && a->e[*i].domain < domain)
        (*i)++;
    *has = *i < a->n && a->e[*i].domain == domain;
    return *has ? a->e[*i].seq : 0;
}

bool gtid_pos_covers(const gtid_pos_t *a, const gtid_pos_t *b)
{
    size_t i = 0;
    bool has;
    for (size_t j = 0; j < b->n; j++) {
        if (pos_reached(a, &i, b->e[j].domain, &has) < b->e[j].seq)
            return false;
    }
    return true;
}

gtid_pos_t *gtid_pos_max(const gtid_pos_t *a, const gtid_pos_t *b)
{
    gtid_pos_t *out = gtid_pos_new();
    size_t i = 0, j = 0;
    while (i < a->n || j < b->n) {
        const gtid_pos_entry_t *x;
        if (j == b->n || (i < a->n && a->e[i].domain < b->e[j].domain)) {
            x = &a->e[i++];
        } else if (i == a->n || b->e[j].domain < a->e[i].domain) {
            x = &b->e[j++];
        } else {
            x = a->e[i].seq >= b->e[j].seq ? &a->e[i] : &b->e[j];
            i++;
            j++;
        }
        pos_push(out, x->domain, x->server, x->seq);
    }
    return out;
}

gtid_pos_diff_t *gtid_pos_diff(const gtid_pos_t *a, const gtid_pos_t *b)
{
    gtid_pos_diff_t *d = xcalloc(1, sizeof(*d));
    size_t i = 0;
    for (size_t j = 0; j < b->n; j++) {
        bool has;
        if (pos_reached(a, &i, b->e[j].domain, &has) >= b->e[j].seq)
            continue;
        d->gap = xrealloc(d->gap, (d->n + 1) * sizeof(*d->gap));
        d->gap[d->n].domain = b->e[j].domain;
        d->gap[d->n].a_has = has;
        d->gap[d->n].a_seq = has ? a->e[i].seq : 0;
        d->gap[d->n].b = b->e[j];
        d->n++;
    }
    return d;
}

char *gtid_pos_diff_format(const gtid_pos_diff_t *d)
{
    gtid_pos_t p = {NULL, 0};
    /* The gaps are sorted by domain, so their b entries form a position. */
    if (d->n) {
        p.e = xmalloc(d->n * sizeof(*p.e));
        for (size_t k = 0; k < d->n; k++)
            p.e[k] = d->gap[k].b;
        p.n = d->n;
    }
    char *s = gtid_pos_format(&p);
    free(p.e);
    return s;
}

char *gtid_pos_diff_format_range(const gtid_pos_diff_t *d, uint64_t *count)
{
    buf_t b = BUF_INIT;
    for (size_t k = 0; k < d->n; k++) {
        const gtid_pos_gap_t *g = &d->gap[k];
        uint64_t from = g->a_has ? g->a_seq + 1 : 1;
        if (b.len)
            buf_puts(&b, ",");
        if (from >= g->b.seq)
            buf_printf(&b, "%u-%u-%llu", g->domain, g->b.server, (unsigned long long)g->b.seq);
        else
            buf_printf(&b, "%u-%u-%llu..%u-%u-%llu", g->domain, g->b.server,
                       (unsigned long long)from, g->domain, g->b.server,
                       (unsigned long long)g->b.seq);
        if (count)
            *count += g->b.seq >= from ? g->b.seq - from + 1 : 0;
    }
    return buf_steal(&b);
}

void gtid_pos_diff_free(gtid_pos_diff_t *d)
{
    if (!d)
        return;
    free(d->gap);
    free(d);
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
