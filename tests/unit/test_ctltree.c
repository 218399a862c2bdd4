/* failoverctl status draws a cluster with relay replicas as a tree (each
 * node under its source, a relay's replicas indented), and a cluster
 * without relays in the daemon's order, as before. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ctlrender.h"

static char *render(const char *nodes)
{
    buf_t q = BUF_INIT;
    buf_printf(&q,
               "{\"clusters\": [{\"name\": \"main\", \"verdict\": \"healthy\", \"primary\": "
               "\"db1\", \"issues\": [], \"nodes\": [%s]}]}",
               nodes);
    json_error_t e;
    json_t *j = json_loads(buf_str(&q), 0, &e);
    cr_assert_not_null(j, "%s: %s", e.text, buf_str(&q));
    buf_free(&q);
    buf_t b = BUF_INIT;
    ctlrender_status(&b, j);
    json_decref(j);
    return buf_steal(&b);
}

#define NODE(n, role, src, depth)                                                                  \
    "{\"name\": \"" n "\", \"role\": \"" role "\", \"state\": \"up\", \"source\": " src            \
    ", \"depth\": " depth ", \"gtid_executed\": \"0-1-5\"}"

/* The table's node column, row by row: "db1|db2|  db4|db3". */
static char *rows(const char *t)
{
    buf_t b = BUF_INIT;
    const char *p = strstr(t, "\nNODE");
    cr_assert_not_null(p, "%s", t);
    p = strchr(p + 1, '\n');
    while (p && p[1]) {
        p++;
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        size_t lead = 0;
        while (lead < len && p[lead] == ' ')
            lead++;
        size_t word = strcspn(p + lead, " \n");
        if (strncmp(p + lead, "db", 2) == 0 && lead < 10)
            buf_printf(&b, "%s%.*s", b.len ? "|" : "", (int)(lead + word), p);
        p = end;
    }
    return buf_steal(&b);
}

Test(ctltree, relay_replicas_are_drawn_under_their_relay)
{
    char *t = render(NODE("db1", "primary", "null", "0") ", " NODE("db2", "replica", "\"db1\"", "1")
                         ", " NODE("db3", "replica", "\"db1\"", "1") ", "
                             NODE("db4", "replica", "\"db2\"", "2") ", "
                                 NODE("db5", "replica", "\"db4\"", "3"));
    char *r = rows(t);
    cr_expect_str_eq(r, "db1|db2|  db4|    db5|db3", "%s", t);
    free(r);
    free(t);
}

Test(ctltree, without_relays_the_order_is_the_daemons)
{
    char *t = render(NODE("db2", "replica", "\"db1\"", "1") ", " NODE("db1", "primary", "null", "0")
                         ", " NODE("db3", "replica", "\"db9\"", "null"));
    char *r = rows(t);
    cr_expect_str_eq(r, "db2|db1|db3", "%s", t);
    free(r);
    free(t);
}
