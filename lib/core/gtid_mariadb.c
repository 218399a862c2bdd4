/* gtid_mariadb.c - MariaDB GTID positions (see gtid.h). */
#include "gtid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gtid_internal.h"

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
        gtid__set_err(err, errlen, "no GTID position text");
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
                gtid__perr(&p, i, "empty element (a comma without a GTID before it)");
                goto fail;
            }
            if (!gtid__parse_dec(&p, &i, UINT32_MAX, true, "domain id", &dom))
                goto fail;
            if (t[i] != '-') {
                gtid__perr(&p, i, "expected '-' after the domain id, found %s",
                           gtid__describe(t[i], d));
                goto fail;
            }
            i++;
            if (!gtid__parse_dec(&p, &i, UINT32_MAX, true, "server id", &srv))
                goto fail;
            if (t[i] != '-') {
                gtid__perr(&p, i, "expected '-' after the server id, found %s",
                           gtid__describe(t[i], d));
                goto fail;
            }
            i++;
            if (!gtid__parse_dec(&p, &i, UINT64_MAX, true, "sequence number", &seq))
                goto fail;
            items = xrealloc(items, (n + 1) * sizeof(*items));
            items[n].e.domain = (uint32_t)dom;
            items[n].e.server = (uint32_t)srv;
            items[n].e.seq = seq;
            items[n].at = at;
            n++;
            int next = gtid__next_element(&p, &i, "','");
            if (next < 0)
                goto fail;
            if (next == 0)
                break;
        }
    }
    if (n > 1)
        qsort(items, n, sizeof(*items), pos_item_cmp);
    for (size_t k = 1; k < n; k++) {
        if (items[k].e.domain == items[k - 1].e.domain) {
            gtid__perr(&p, items[k].at, "duplicate domain %" PRIu32 " (first at offset %zu)",
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
        gtid__put_u64(&b, p->e[k].domain);
        buf_putc(&b, '-');
        gtid__put_u64(&b, p->e[k].server);
        buf_putc(&b, '-');
        gtid__put_u64(&b, p->e[k].seq);
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
