/* What failoverd's account needs, judged from SHOW GRANTS (see grants.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "grants.h"

static flavor_t fl(const char *version)
{
    flavor_t f;
    char err[128];
    cr_assert(flavor_detect(&f, version, NULL, err, sizeof err), "%s", err);
    return f;
}

typedef struct {
    const char *rule;
    const char *version;
    const char *rows[4];
    bool judged;
    const char *missing, *promote, *monitor;
} grants_row_t;

#define MA_FULL "GRANT RELOAD, PROCESS, BINLOG MONITOR, CONNECTION ADMIN, READ_ONLY ADMIN, " \
                "REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, SLAVE MONITOR ON *.* TO " \
                "`failoverd`@`10.0.0.%` IDENTIFIED BY PASSWORD '*9CCC'"
#define MY_STATIC "GRANT RELOAD, PROCESS, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `failoverd`@`10.0.0.%`"
#define MY_DYN "GRANT CONNECTION_ADMIN,REPLICATION_SLAVE_ADMIN,SYSTEM_USER,SYSTEM_VARIABLES_ADMIN ON *.* TO `failoverd`@`10.0.0.%`"
#define MY_PS "GRANT SELECT ON `performance_schema`.* TO `failoverd`@`10.0.0.%`"

static const grants_row_t rows[] = {
    {"MariaDB: the lab's account has everything", "10.11.19-MariaDB", {MA_FULL}, true, "", "", ""},
    {"MariaDB: ALL PRIVILEGES on *.* is everything", "10.11.19-MariaDB",
     {"GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION",
      "GRANT PROXY ON ``@`%` TO `root`@`localhost` WITH GRANT OPTION"}, true, "", "", ""},
    {"MariaDB: replica monitor and read_only admin missing", "10.11.19-MariaDB",
     {"GRANT RELOAD, PROCESS, BINLOG MONITOR, CONNECTION ADMIN, REPLICATION SLAVE ADMIN, "
      "REPLICATION MASTER ADMIN ON *.* TO `failoverd`@`%`"},
     true, "SLAVE MONITOR, READ_ONLY ADMIN", "READ_ONLY ADMIN", "SLAVE MONITOR"},
    {"MariaDB: privileges on one database don't count", "10.11.19-MariaDB",
     {"GRANT USAGE ON *.* TO `failoverd`@`%`", "GRANT ALL PRIVILEGES ON `lab`.* TO `failoverd`@`%`"},
     true,
     "SLAVE MONITOR, REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, RELOAD, REPLICATION MASTER ADMIN, "
     "BINLOG MONITOR, CONNECTION ADMIN, PROCESS",
     "REPLICATION SLAVE ADMIN, READ_ONLY ADMIN, RELOAD, REPLICATION MASTER ADMIN", "SLAVE MONITOR"},
    {"MySQL: the lab's account has everything", "9.7.0", {MY_STATIC, MY_DYN, MY_PS}, true, "", "",
     ""},
    {"MySQL: SUPER stands for the dynamic privileges, but SYSTEM_USER", "8.0.36",
     {"GRANT RELOAD, PROCESS, SUPER, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `f`@`%`",
      MY_PS}, true, "SYSTEM_USER", "", ""},
    {"MySQL before 8.0.16: no SYSTEM_USER", "8.0.15",
     {"GRANT RELOAD, PROCESS, SUPER, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `f`@`%`",
      MY_PS}, true, "", "", ""},
    {"MySQL: no performance_schema, no RELOAD", "9.7.0",
     {"GRANT PROCESS, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `f`@`%`", MY_DYN}, true,
     "SELECT ON performance_schema.*, RELOAD", "RELOAD", "SELECT ON performance_schema.*"},
    {"MySQL: a role is not resolved", "9.7.0", {MY_STATIC, "GRANT `ops`@`%` TO `f`@`%`"}, false,
     "", "", ""},
};

Test(grants, check)
{
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        const grants_row_t *g = &rows[r];
        flavor_t f = fl(g->version);
        size_t n = 0;
        while (n < 4 && g->rows[n])
            n++;
        grants_check_t out;
        char err[128] = "";
        cr_assert(grants_check(&f, g->rows, n, &out, err, sizeof err), "%s: %s", g->rule, err);
        cr_expect_eq(out.judged, g->judged, "%s: judged %d", g->rule, out.judged);
        cr_expect_str_eq(out.missing, g->missing, "%s: missing \"%s\"", g->rule, out.missing);
        cr_expect_str_eq(out.missing_promote, g->promote, "%s: promote \"%s\"", g->rule,
                         out.missing_promote);
        cr_expect_str_eq(out.missing_monitor, g->monitor, "%s: monitor \"%s\"", g->rule,
                         out.missing_monitor);
        grants_check_clear(&out);
    }
}

Test(grants, not_a_grant_is_an_error)
{
    flavor_t f = fl("9.7.0");
    const char *rows1[] = {"Grants for f@%"};
    grants_check_t out;
    char err[128] = "";
    cr_assert_not(grants_check(&f, rows1, 1, &out, err, sizeof err));
    cr_assert(strstr(err, "not a GRANT"), "%s", err);
}

Test(grants, denied_privilege)
{
    struct {
        unsigned code;
        const char *msg, *want;
    } t[] = {
        {1227, "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR privilege(s) "
               "for this operation", "SLAVE MONITOR"},
        {1227, "Access denied; you need (at least one of) the SUPER or SYSTEM_VARIABLES_ADMIN "
               "privilege(s) for this operation", "SYSTEM_VARIABLES_ADMIN"},
        {1227, "Access denied; you need (at least one of) the RELOAD privilege(s) for this "
               "operation", "RELOAD"},
        {1142, "SELECT command denied to user 'failoverd'@'10.213.69.2' for table "
               "'replication_connection_status'", "SELECT on table replication_connection_status"},
        {2013, "Lost connection to server during query", NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char *got = grants_denied_privilege(t[i].code, t[i].msg);
        if (t[i].want)
            cr_expect(got && strcmp(got, t[i].want) == 0, "%s: got %s", t[i].msg,
                      got ? got : "NULL");
        else
            cr_expect_null(got);
        free(got);
    }
    flavor_t f = fl("10.11.19-MariaDB");
    cr_expect(strstr(grants_needed(&f)[0], "SLAVE MONITOR"));
}
