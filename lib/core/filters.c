/* filters.c - see filters.h. */
#include "filters.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

const char *const filters_columns[FILTERS_NCOLUMNS + 1] = {
    "Replicate_Do_DB",
    "Replicate_Ignore_DB",
    "Replicate_Do_Table",
    "Replicate_Ignore_Table",
    "Replicate_Wild_Do_Table",
    "Replicate_Wild_Ignore_Table",
    "Replicate_Rewrite_DB",
    "Replicate_Ignore_Server_Ids",
    "Replicate_Do_Domain_Ids",     /* MariaDB */
    "Replicate_Ignore_Domain_Ids", /* MariaDB */
    NULL,
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Appends the items of one column, trimmed and sorted, to out. Items are
 * separated by commas outside parentheses (MySQL prints rewrite rules as
 * "(from,to),(from,to)"). Returns false when there is no item at all. */
static bool put_items(buf_t *out, const char *v)
{
    char **items = NULL;
    size_t n = 0, cap = 0;
    const char *p = v;
    while (*p) {
        int depth = 0;
        const char *q = p;
        while (*q && !(*q == ',' && depth == 0)) {
            depth += *q == '(' ? 1 : *q == ')' && depth > 0 ? -1 : 0;
            q++;
        }
        const char *a = p, *b = q;
        while (a < b && blank(*a))
            a++;
        while (b > a && blank(b[-1]))
            b--;
        if (b > a) {
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                items = xrealloc(items, cap * sizeof *items);
            }
            items[n++] = xstrndup(a, (size_t)(b - a));
        }
        p = *q ? q + 1 : q;
    }
    if (n > 1)
        qsort(items, n, sizeof *items, cmp_str);
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s%s", i ? "," : "", items[i]);
        free(items[i]);
    }
    free(items);
    return n > 0;
}

char *filters_canonical(const char *const *values)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; filters_columns[i]; i++) {
        if (!values[i])
            continue;
        size_t mark = b.len;
        buf_printf(&b, "%s%s=", b.len ? "; " : "", filters_columns[i]);
        if (!put_items(&b, values[i])) {
            b.len = mark; /* nothing in this column: take back its name */
            if (b.data)
                b.data[mark] = '\0';
        }
    }
    return buf_steal(&b);
}

/* The replica's filters when it is known to replicate from primary; NULL otherwise. */
static const char *filters_of(const cluster_t *c, int primary, size_t i)
{
    const observation_t *o = &c->nodes[i].last_ok;
    if ((int)i == primary || !o->ok || !o->replica || !o->repl_filters)
        return NULL;
    if (cluster_source_of(c, o) != primary)
        return NULL;
    return o->repl_filters;
}

size_t filters_judge(const cluster_t *c, int primary, bool *filtering)
{
    memset(filtering, 0, c->n_nodes * sizeof *filtering);
    if (primary < 0)
        return 0;
    const char *first = NULL;
    bool uniform = true;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const char *f = filters_of(c, primary, i);
        if (!f)
            continue;
        if (!first)
            first = f;
        else if (strcmp(first, f) != 0)
            uniform = false;
    }
    if (uniform)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const char *f = filters_of(c, primary, i);
        if (f && f[0]) {
            filtering[i] = true;
            n++;
        }
    }
    return n;
}

void filters_add_issues(cluster_t *c)
{
    if (c->primary < 0 || c->n_nodes == 0)
        return;
    bool *filtering = xcalloc(c->n_nodes, sizeof *filtering);
    if (filters_judge(c, c->primary, filtering) > 0) {
        for (size_t i = 0; i < c->n_nodes; i++) {
            if (!filtering[i])
                continue;
            const char *mine = c->nodes[i].last_ok.repl_filters;
            /* Name one replica that filters otherwise, to make the difference plain. */
            size_t other = c->n_nodes;
            for (size_t j = 0; j < c->n_nodes && other == c->n_nodes; j++) {
                const char *f = filters_of(c, c->primary, j);
                if (j != i && f && strcmp(f, mine) != 0)
                    other = j;
            }
            if (other == c->n_nodes)
                continue; /* cannot happen: the filters are not all the same */
            const char *theirs = c->nodes[other].last_ok.repl_filters;
            cluster_add_issue(c,
                              "replication filters on %s (%s) differ from %s's (%s): %s may "
                              "lack data it reports as replicated, and is not promoted under "
                              "the reliability policy",
                              c->nodes[i].name, mine, c->nodes[other].name,
                              theirs[0] ? theirs : "none", c->nodes[i].name);
        }
    }
    free(filtering);
}
