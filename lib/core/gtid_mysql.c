/* gtid_mysql.c - MySQL GTID sets (see gtid.h): representation, parsing,
 * formatting and the set algebra. */
#include "gtid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtid_internal.h"

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

/* Reads a UUID in the 8-4-4-4-12 hex form at *i into out (lowercase). */
static bool parse_uuid_at(parser_t *p, size_t *i, char out[GTID_UUID_LEN + 1])
{
    char d[16];
    const char *t = p->t;
    if (!is_hex(t[*i]))
        return gtid__perr(p, *i, "expected a UUID, found %s", gtid__describe(t[*i], d));
    for (size_t k = 0; k < GTID_UUID_LEN; k++) {
        char c = t[*i + k];
        bool dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (c == '\0')
            return gtid__perr(p, *i + k, "malformed UUID: the text ends inside it");
        if (dash && c != '-')
            return gtid__perr(p, *i + k, "malformed UUID: expected '-', found %s",
                              gtid__describe(c, d));
        if (!dash && !is_hex(c))
            return gtid__perr(p, *i + k, "malformed UUID: expected a hex digit, found %s",
                              gtid__describe(c, d));
        out[k] = lower(c);
    }
    out[GTID_UUID_LEN] = '\0';
    *i += GTID_UUID_LEN;
    return true;
}

/* One element's labels and intervals, after its UUID: where it is and what
 * it has read so far. */
typedef struct {
    char uuid[GTID_UUID_LEN + 1];
    size_t gi;       /* the group the next intervals go to */
    size_t items;    /* numbers since the UUID or the last tag */
    size_t label_at; /* where the UUID or the last tag began */
} element_t;

/* A tag at *i: it opens a group of its own. */
static bool parse_tag(parser_t *p, gtid_set_t *s, element_t *e, size_t *i)
{
    const char *t = p->t;
    char d[16];
    /* "uuid:tag:1" is fine; "uuid:tag1:tag2:1" leaves tag1 empty. */
    if (e->items == 0 && s->g[e->gi].tag[0])
        return gtid__perr(p, e->label_at, "tag without transaction numbers");
    size_t start = *i;
    while (is_tag_char(t[*i]))
        (*i)++;
    if (*i - start > GTID_TAG_MAX)
        return gtid__perr(p, start, "tag longer than %d characters", GTID_TAG_MAX);
    char tag[GTID_TAG_MAX + 1];
    for (size_t k = start; k < *i; k++)
        tag[k - start] = lower(t[k]);
    tag[*i - start] = '\0';
    e->gi = set_push_group(s, e->uuid, tag);
    e->items = 0;
    e->label_at = start;
    *i = skip_ws(t, *i);
    if (t[*i] != ':' && t[*i] != ',' && t[*i] != '\0')
        return gtid__perr(p, *i, "expected ':' after the tag, found %s", gtid__describe(t[*i], d));
    return true;
}

/* An interval "txn" or "txn-txn" at *i, into the element's group. */
static bool parse_interval(parser_t *p, gtid_set_t *s, element_t *e, size_t *i)
{
    const char *t = p->t;
    size_t start = *i;
    uint64_t first, last;
    if (!gtid__parse_dec(p, i, GTID_TXN_MAX, false, "transaction number", &first))
        return false;
    *i = skip_ws(t, *i);
    last = first;
    if (t[*i] == '-') {
        *i = skip_ws(t, *i + 1);
        if (!gtid__parse_dec(p, i, GTID_TXN_MAX, false, "transaction number", &last))
            return false;
        if (last < first)
            return gtid__perr(p, start, "reversed interval %" PRIu64 "-%" PRIu64, first, last);
        *i = skip_ws(t, *i);
    }
    group_push_raw(&s->g[e->gi], first, last);
    e->items++;
    return true;
}

/* One element at *i: a UUID, then its intervals and tags. */
static bool parse_element(parser_t *p, gtid_set_t *s, size_t *i)
{
    const char *t = p->t;
    char d[16];
    if (t[*i] == ',')
        return gtid__perr(p, *i, "empty element (a comma without a UUID before it)");
    element_t e = {.label_at = *i};
    if (!parse_uuid_at(p, i, e.uuid))
        return false;
    e.gi = set_push_group(s, e.uuid, "");
    *i = skip_ws(t, *i);
    if (t[*i] != ':' && t[*i] != ',' && t[*i] != '\0')
        return gtid__perr(p, *i, "expected ':' after the UUID, found %s", gtid__describe(t[*i], d));
    while (t[*i] == ':') {
        *i = skip_ws(t, *i + 1);
        if (is_tag_start(t[*i])) {
            if (!parse_tag(p, s, &e, i))
                return false;
        } else if (is_digit(t[*i])) {
            if (!parse_interval(p, s, &e, i))
                return false;
        } else {
            return gtid__perr(p, *i, "expected a transaction number or a tag, found %s",
                              gtid__describe(t[*i], d));
        }
    }
    if (e.items == 0)
        return gtid__perr(p, e.label_at, "%s without transaction numbers",
                          s->g[e.gi].tag[0] ? "tag" : "UUID");
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
        gtid__set_err(err, errlen, "no GTID set text");
        return NULL;
    }
    gtid_set_t *s = gtid_set_new();
    const char *t = text;
    size_t i = skip_ws(t, 0);
    if (t[i] == '\0')
        return s;
    for (;;) {
        if (!parse_element(&p, s, &i))
            goto fail;
        int next = gtid__next_element(&p, &i, "',' or ':'");
        if (next < 0)
            goto fail;
        if (next == 0)
            break;
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
            gtid__put_u64(out, g->iv[k].first);
            if (g->iv[k].last != g->iv[k].first) {
                buf_putc(out, '-');
                gtid__put_u64(out, g->iv[k].last);
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
        gtid__set_err(err, errlen, "no UUID");
        return false;
    }
    if (!parse_uuid_at(&p, &i, u) || uuid[i] != '\0') {
        gtid__set_err(err, errlen, "not a UUID: '%.60s'", uuid);
        return false;
    }
    if (!tag)
        tag = "";
    size_t n = strlen(tag);
    bool ok = n <= GTID_TAG_MAX && (n == 0 || is_tag_start(tag[0]));
    for (size_t k = 0; ok && k < n; k++)
        ok = is_tag_char(tag[k]);
    if (!ok) {
        gtid__set_err(err, errlen, "not a GTID tag: '%.60s'", tag);
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
        gtid__set_err(err, errlen,
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
