/* grants.c - see grants.h. */
#include "grants.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* One needed privilege: its name as SHOW GRANTS prints it, the names that
 * also satisfy it ('|'-separated), what it is for, and its uses. */
typedef struct {
    const char *name;
    const char *also;
    const char *what;
    unsigned uses;
} need_t;

/* A special name: SELECT on performance_schema (MySQL). */
#define PS_SELECT "SELECT ON performance_schema.*"

static const need_t MARIADB[] = {
    {"SLAVE MONITOR", "REPLICA MONITOR|SUPER", "SHOW REPLICA STATUS: every probe of a replica",
     GRANTS_MONITOR},
    {"REPLICATION SLAVE ADMIN", "SUPER",
     "STOP/START REPLICA, CHANGE MASTER TO, RESET REPLICA ALL, gtid_slave_pos, semi-sync replica "
     "switch", GRANTS_PROMOTE},
    {"READ_ONLY ADMIN", NULL, "SET GLOBAL read_only (fencing, promotion)", GRANTS_PROMOTE},
    {"RELOAD", NULL, "RESET REPLICA ALL, FLUSH BINARY LOGS", GRANTS_PROMOTE},
    {"REPLICATION MASTER ADMIN", "SUPER", "the semi-sync source switch, SHOW REPLICA HOSTS",
     GRANTS_PROMOTE},
    {"BINLOG MONITOR", "REPLICATION CLIENT|SUPER", "SHOW BINARY LOGS, SHOW MASTER STATUS",
     GRANTS_OPERATE},
    {"CONNECTION ADMIN", "SUPER", "KILL the sessions still writing on a fenced primary",
     GRANTS_OPERATE},
    {"PROCESS", NULL, "see every session (SHOW PROCESSLIST) of a primary being fenced",
     GRANTS_OPERATE},
};

static const need_t MYSQL[] = {
    {"REPLICATION CLIENT", "SUPER", "SHOW REPLICA STATUS: every probe of a replica",
     GRANTS_MONITOR},
    {PS_SELECT, NULL, "the replication tables of performance_schema (every probe)",
     GRANTS_MONITOR},
    {"REPLICATION_SLAVE_ADMIN", "SUPER",
     "STOP/START REPLICA, CHANGE REPLICATION SOURCE TO, semi-sync replica switch",
     GRANTS_PROMOTE},
    {"SYSTEM_VARIABLES_ADMIN", "SUPER", "SET GLOBAL read_only, super_read_only, semi-sync switches",
     GRANTS_PROMOTE},
    {"RELOAD", NULL, "RESET REPLICA ALL, FLUSH BINARY LOGS", GRANTS_PROMOTE},
    {"REPLICATION SLAVE", NULL, "SHOW REPLICAS", GRANTS_OPERATE},
    {"CONNECTION_ADMIN", "SUPER", "KILL the sessions still writing on a fenced primary",
     GRANTS_OPERATE},
    {"PROCESS", NULL, "see every session (SHOW PROCESSLIST) of a primary being fenced",
     GRANTS_OPERATE},
    /* MySQL 8.0.16 and later: KILL of a replication thread (plan_failover.c). */
    {"SYSTEM_USER", NULL,
     "KILL a replica's applier stuck in a transaction its dead source never finished (failover)",
     GRANTS_OPERATE},
};

static const need_t *needs_of(const flavor_t *f, size_t *n)
{
    if (f->family == FAMILY_MARIADB) {
        *n = sizeof MARIADB / sizeof MARIADB[0];
        return MARIADB;
    }
    *n = sizeof MYSQL / sizeof MYSQL[0];
    return MYSQL;
}

const char *const *grants_needed(const flavor_t *f)
{
    static char *lines[2][16];
    int k = f->family == FAMILY_MARIADB ? 0 : 1;
    if (!lines[k][0]) {
        size_t n;
        const need_t *t = needs_of(f, &n);
        for (size_t i = 0; i < n && i < 15; i++) {
            buf_t b = BUF_INIT;
            buf_printf(&b, "%s: %s", t[i].name, t[i].what);
            lines[k][i] = buf_steal(&b);
        }
    }
    return (const char *const *)lines[k];
}

/* A set of privilege names (upper case, blanks squeezed). */
typedef struct {
    char **v;
    size_t n;
} names_t;

static void names_add(names_t *s, const char *p, size_t len)
{
    while (len && isspace((unsigned char)*p))
        p++, len--;
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    if (!len)
        return;
    buf_t b = BUF_INIT;
    bool blank = false;
    for (size_t i = 0; i < len; i++) {
        if (isspace((unsigned char)p[i])) {
            blank = true;
            continue;
        }
        if (blank && b.len)
            buf_putc(&b, ' ');
        blank = false;
        buf_putc(&b, (char)toupper((unsigned char)p[i]));
    }
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = buf_steal(&b);
}

static bool names_has(const names_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i], name) == 0)
            return true;
    return false;
}

static void names_free(names_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

/* The object of a grant, without quotes: "*.*", "performance_schema.*" ... */
static char *object_of(const char *p, size_t len)
{
    buf_t b = BUF_INIT;
    for (size_t i = 0; i < len; i++)
        if (p[i] != '`' && p[i] != '\'' && p[i] != '"' && !isspace((unsigned char)p[i]))
            buf_putc(&b, p[i]);
    return buf_steal(&b);
}

static bool satisfied(const need_t *nd, const names_t *global, const names_t *ps, bool all)
{
    if (all)
        return true;
    if (strcmp(nd->name, PS_SELECT) == 0)
        return names_has(global, "SELECT") || names_has(ps, "SELECT") ||
               names_has(ps, "ALL PRIVILEGES");
    if (names_has(global, nd->name))
        return true;
    for (const char *a = nd->also; a && *a;) {
        const char *bar = strchr(a, '|');
        size_t len = bar ? (size_t)(bar - a) : strlen(a);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, a);
        if (names_has(global, name))
            return true;
        a = bar ? bar + 1 : a + len;
    }
    return false;
}

bool grants_check(const flavor_t *f, const char *const *rows, size_t n, grants_check_t *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    names_t global = {0}, ps = {0};
    bool all = false, roles = false;
    for (size_t r = 0; r < n; r++) {
        const char *row = rows[r] ? rows[r] : "";
        while (isspace((unsigned char)*row))
            row++;
        if (strncasecmp(row, "GRANT ", 6) != 0) {
            snprintf(err, errlen, "not a GRANT statement: \"%.60s\"", row);
            names_free(&global);
            names_free(&ps);
            return false;
        }
        const char *list = row + 6;
        const char *on = strcasestr(list, " ON ");
        const char *to = strcasestr(list, " TO ");
        if (!to) {
            snprintf(err, errlen, "a GRANT without TO: \"%.60s\"", row);
            names_free(&global);
            names_free(&ps);
            return false;
        }
        if (!on || on > to) {
            roles = true; /* GRANT role TO user: its privileges are not listed here */
            continue;
        }
        char *obj = object_of(on + 4, (size_t)(to - on - 4));
        names_t *into = strcmp(obj, "*.*") == 0                                  ? &global
                        : strcasecmp(obj, "performance_schema.*") == 0 ? &ps
                                                                                  : NULL;
        free(obj);
        if (!into)
            continue;
        for (const char *p = list; p < on;) {
            const char *comma = memchr(p, ',', (size_t)(on - p));
            const char *end = comma ? comma : on;
            names_add(into, p, (size_t)(end - p));
            p = end + 1;
        }
        if (into == &global && names_has(&global, "ALL PRIVILEGES"))
            all = true;
    }
    out->judged = !roles;
    buf_t m = BUF_INIT, mp = BUF_INIT, mm = BUF_INIT;
    if (!roles) {
        size_t nn;
        const need_t *t = needs_of(f, &nn);
        for (size_t i = 0; i < nn; i++) {
            if (satisfied(&t[i], &global, &ps, all) ||
                (strcmp(t[i].name, "SYSTEM_USER") == 0 && !flavor_at_least(f, 8, 0, 16)))
                continue;
            buf_printf(&m, "%s%s", m.len ? ", " : "", t[i].name);
            if (t[i].uses & GRANTS_PROMOTE)
                buf_printf(&mp, "%s%s", mp.len ? ", " : "", t[i].name);
            if (t[i].uses & GRANTS_MONITOR)
                buf_printf(&mm, "%s%s", mm.len ? ", " : "", t[i].name);
        }
    }
    out->missing = buf_steal(&m);
    out->missing_promote = buf_steal(&mp);
    out->missing_monitor = buf_steal(&mm);
    names_free(&global);
    names_free(&ps);
    return true;
}

void grants_check_clear(grants_check_t *g)
{
    free(g->missing);
    free(g->missing_promote);
    free(g->missing_monitor);
    memset(g, 0, sizeof *g);
}

bool grants_is_denied(unsigned code)
{
    return code == 1227 || code == 1142 || code == 1143 || code == 1044;
}

char *grants_denied_privilege(unsigned code, const char *msg)
{
    if (!msg || !grants_is_denied(code))
        return NULL;
    if (code == 1227) {
        const char *k = strstr(msg, "at least one of) the ");
        const char *start = k ? k + strlen("at least one of) the ") : NULL;
        const char *end = start ? strstr(start, " privilege") : NULL;
        if (!end)
            return NULL;
        /* "SUPER, SLAVE MONITOR" or "SUPER or SYSTEM_VARIABLES_ADMIN": SUPER is
         * the old catch-all; name what is meant. */
        names_t alts = {0};
        for (const char *p = start; p < end;) {
            const char *sep = p;
            while (sep < end && *sep != ',' && strncmp(sep, " or ", 4) != 0)
                sep++;
            names_add(&alts, p, (size_t)(sep - p));
            p = sep < end ? sep + (*sep == ',' ? 1 : 4) : end;
        }
        buf_t b = BUF_INIT;
        for (size_t i = 0; i < alts.n; i++)
            if (alts.n == 1 || strcmp(alts.v[i], "SUPER") != 0)
                buf_printf(&b, "%s%s", b.len ? " or " : "", alts.v[i]);
        names_free(&alts);
        return buf_steal(&b);
    }
    /* "SELECT command denied to user 'u'@'h' for table 'x'" */
    const char *cmd = strstr(msg, " command denied");
    const char *tbl = strstr(msg, "for table '");
    if (!cmd)
        return NULL;
    buf_t b = BUF_INIT;
    buf_printf(&b, "%.*s", (int)(cmd - msg), msg);
    if (tbl) {
        tbl += strlen("for table '");
        const char *q = strchr(tbl, '\'');
        if (q)
            buf_printf(&b, " on table %.*s", (int)(q - tbl), tbl);
    }
    return buf_steal(&b);
}
