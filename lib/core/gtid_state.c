/* gtid_state.c - a GTID state of either family (see gtid.h). */
#include "gtid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool is_mysql(const gtid_state_t *s)
{
    return s->family != FAMILY_MARIADB;
}

gtid_state_t *gtid_state_new(server_family_t family)
{
    gtid_state_t *s = xcalloc(1, sizeof *s);
    s->family = family;
    if (is_mysql(s))
        s->set = gtid_set_new();
    else
        s->pos = gtid_pos_new();
    return s;
}

gtid_state_t *gtid_state_parse(server_family_t family, const char *text, char *err, size_t errlen)
{
    gtid_set_t *set = NULL;
    gtid_pos_t *pos = NULL;
    if (family != FAMILY_MARIADB)
        set = gtid_set_parse(text, err, errlen);
    else if (text)
        pos = gtid_pos_parse(text, err, errlen);
    else if (err && errlen)
        snprintf(err, errlen, "no GTID position text");
    if (!set && !pos)
        return NULL;
    gtid_state_t *s = xcalloc(1, sizeof *s);
    *s = (gtid_state_t){.family = family, .set = set, .pos = pos};
    return s;
}

gtid_state_t *gtid_state_copy(const gtid_state_t *s)
{
    gtid_state_t *c = xcalloc(1, sizeof *c);
    *c = (gtid_state_t){.family = s->family,
                        .set = is_mysql(s) ? gtid_set_copy(s->set) : NULL,
                        .pos = is_mysql(s) ? NULL : gtid_pos_copy(s->pos)};
    return c;
}

void gtid_state_free(gtid_state_t *s)
{
    if (!s)
        return;
    gtid_set_free(s->set);
    gtid_pos_free(s->pos);
    free(s);
}

char *gtid_state_format(const gtid_state_t *s)
{
    return is_mysql(s) ? gtid_set_format_line(s->set) : gtid_pos_format(s->pos);
}

gtid_state_t *gtid_state_union(const gtid_state_t *a, const gtid_state_t *b)
{
    gtid_state_t *u = xcalloc(1, sizeof *u);
    *u = (gtid_state_t){.family = a->family,
                        .set = is_mysql(a) ? gtid_set_union(a->set, b->set) : NULL,
                        .pos = is_mysql(a) ? NULL : gtid_pos_max(a->pos, b->pos)};
    return u;
}

void gtid_state_add(gtid_state_t *a, const gtid_state_t *b)
{
    if (is_mysql(a)) {
        gtid_set_add_set(a->set, b->set);
        return;
    }
    gtid_pos_t *m = gtid_pos_max(a->pos, b->pos);
    gtid_pos_free(a->pos);
    a->pos = m;
}

bool gtid_state_covers(const gtid_state_t *a, const gtid_state_t *b)
{
    return is_mysql(a) ? gtid_set_is_subset(b->set, a->set) : gtid_pos_covers(a->pos, b->pos);
}

uint64_t gtid_state_count_beyond(const gtid_state_t *a, const gtid_state_t *b)
{
    if (is_mysql(a)) {
        gtid_set_t *d = gtid_set_subtract(a->set, b->set);
        uint64_t n = gtid_set_count(d);
        gtid_set_free(d);
        return n;
    }
    uint64_t n = 0;
    for (size_t i = 0; i < a->pos->n; i++) {
        const gtid_pos_entry_t *have = gtid_pos_find(b->pos, a->pos->e[i].domain);
        uint64_t done = have ? have->seq : 0;
        if (a->pos->e[i].seq > done)
            n += a->pos->e[i].seq - done;
    }
    return n;
}

char *gtid_state_beyond_text(const gtid_state_t *a, const gtid_state_t *b, uint64_t *count)
{
    if (count)
        *count += gtid_state_count_beyond(a, b);
    if (is_mysql(a)) {
        gtid_set_t *d = gtid_set_subtract(a->set, b->set);
        char *text = gtid_set_format_line(d);
        gtid_set_free(d);
        return text;
    }
    gtid_pos_diff_t *d = gtid_pos_diff(b->pos, a->pos);
    char *text = gtid_pos_diff_format(d);
    gtid_pos_diff_free(d);
    return text;
}

gtid_advanced_t *gtid_state_most_advanced(const gtid_state_t *const *s, size_t n,
                                          server_family_t family)
{
    if (family != FAMILY_MARIADB) {
        const gtid_set_t **sets = xcalloc(n + 1, sizeof *sets);
        for (size_t i = 0; i < n; i++)
            sets[i] = s[i] ? s[i]->set : NULL;
        gtid_advanced_t *r = gtid_set_most_advanced(sets, n);
        free(sets);
        return r;
    }
    const gtid_pos_t **ps = xcalloc(n + 1, sizeof *ps);
    for (size_t i = 0; i < n; i++)
        ps[i] = s[i] ? s[i]->pos : NULL;
    gtid_advanced_t *r = gtid_pos_most_advanced(ps, n);
    free(ps);
    return r;
}
