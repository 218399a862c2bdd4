/* test_salvage.c - the salvage's command lines and option file (lib/salvage.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "salvage.h"

static char *joined(char **argv)
{
    buf_t b = BUF_INIT;
    for (char **a = argv; a && *a; a++)
        buf_printf(&b, "%s[%s]", a == argv ? "" : " ", *a);
    return buf_steal(&b);
}

typedef struct {
    const char *tmpl;
    bool mariadb;
    const char *gtid;
    const char *want; /* words in brackets; NULL: an error containing err */
    const char *err;
} argv_case_t;

Test(salvage, argv_from_template)
{
    static const argv_case_t cases[] = {
        /* MySQL: what the candidate has is excluded, by GTID set; the server
         * breaks gtid_executed into lines, which never reach the command. */
        {"/usr/bin/ssh u@{host} /usr/bin/mysqlbinlog {binlog_filter} /var/lib/mysql/binlog.0*",
         false, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,\n4f22fa47-71ca-11e1-9e33-c80aa9429562:1-5",
         "[/usr/bin/ssh] [u@10.0.0.1] [/usr/bin/mysqlbinlog] "
         "[--exclude-gtids=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-77,"
         "4f22fa47-71ca-11e1-9e33-c80aa9429562:1-5] [/var/lib/mysql/binlog.0*]", NULL},
        /* MariaDB: a GTID list start position, exclusive per domain. */
        {"/x {binlog_filter}", true, "0-1-100,1-2-7", "[/x] [--start-position=0-1-100,1-2-7]",
         NULL},
        /* An empty state: the candidate lacks everything, the filter word goes. */
        {"/x {binlog_filter} /f", true, "", "[/x] [/f]", NULL},
        {"/x {binlog_filter} /f", false, " \n", "[/x] [/f]", NULL},
        /* Inside a word it is replaced, not dropped. */
        {"/x --opt={gtid}", true, "", "[/x] [--opt=]", NULL},
        /* Every placeholder, several in one word. */
        {"/w {node}@{host}:{port} {flavor}", false, "u:1", "[/w] [db1@10.0.0.1:3306] [mysql]", NULL},
        /* Bad templates and states. */
        {"ssh {host}", false, "", NULL, "absolute path"},
        {"/x {hots}", false, "", NULL, "unknown placeholder {hots}"},
        {"/x {host", false, "", NULL, "without its '}'"},
        {"/x host}", false, "", NULL, "without its '{'"},
        {"", false, "", NULL, "no salvage_command"},
        {"/x {gtid}", false, "u:1;rm -rf /", NULL, "no GTID state has"},
        {"/x {gtid}", true, "0-1-5 $(id)", NULL, "no GTID state has"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const argv_case_t *c = &cases[i];
        salvage_vars_t v = {.node = "db1", .host = "10.0.0.1", .port = 3306,
                            .mariadb = c->mariadb, .gtid = c->gtid};
        char err[256] = "";
        char **argv = salvage_argv(c->tmpl, &v, err, sizeof err);
        if (c->want) {
            cr_assert(argv, "case %zu: %s", i, err);
            char *got = joined(argv);
            cr_expect_str_eq(got, c->want, "case %zu", i);
            free(got);
        } else {
            cr_expect_null(argv, "case %zu", i);
            cr_expect(strstr(err, c->err), "case %zu: \"%s\" lacks \"%s\"", i, err, c->err);
        }
        salvage_argv_free(argv);
    }
}

Test(salvage, template_check)
{
    char err[256];
    cr_expect(salvage_template_check("", err, sizeof err), "off is valid");
    cr_expect(salvage_template_check("/bin/true {host} {port} {node} {flavor} {gtid} "
                                     "{binlog_filter}", err, sizeof err));
    cr_expect(!salvage_template_check("/bin/true {password}", err, sizeof err));
    cr_expect(strstr(err, "{password}"), "%s", err);
}

Test(salvage, option_file_keeps_secrets_quoted)
{
    buf_t b = BUF_INIT;
    salvage_defaults_text("db2.example", 3307, "fo", "p\"a\\ss", NULL, 2, &b);
    cr_expect(strstr(buf_str(&b), "[client]\nhost=\"db2.example\"\nport=3307\nprotocol=tcp\n"
                                  "connect-timeout=2\nuser=\"fo\"\npassword=\"p\\\"a\\\\ss\"\n"),
              "%s", buf_str(&b));
    buf_reset(&b);
    /* The operator's account replaces failoverd's: its password is not written. */
    salvage_defaults_text("h", 1, "fo", "secret", "/etc/failoverd/salvage.cnf", 0, &b);
    cr_expect(strstr(buf_str(&b), "connect-timeout=1\n!include /etc/failoverd/salvage.cnf\n"),
              "%s", buf_str(&b));
    cr_expect(!strstr(buf_str(&b), "secret"), "%s", buf_str(&b));
    buf_free(&b);
}

Test(salvage, client_input_and_state_after)
{
    buf_t b = BUF_INIT;
    salvage_client_input(false, true, "BINLOG 'x'/*!*/;\n", 17, &b);
    cr_expect(strstr(buf_str(&b), "SET GLOBAL super_read_only = OFF;\nBINLOG 'x'/*!*/;\n\nDELIMITER ;\nSELECT @@GLOBAL.gtid_executed;\n"),
              "%s", buf_str(&b));
    buf_reset(&b);
    salvage_client_input(true, false, "", 0, &b);
    cr_expect(strstr(buf_str(&b), "SELECT @@GLOBAL.gtid_binlog_pos;"), "%s", buf_str(&b));
    cr_expect(!strstr(buf_str(&b), "super_read_only"), "%s", buf_str(&b));
    buf_free(&b);

    static const struct {
        const char *out, *want;
    } cases[] = {
        {"0-1-5\n", "0-1-5"},
        {"noise\n0-1-5,1-2-3\n\n", "0-1-5,1-2-3"},
        /* MySQL's multi-line value, as the batch output escapes it. */
        {"u1:1-5,\\nu2:1-3\n", "u1:1-5,\nu2:1-3"},
        {"\n\n", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = salvage_parse_after(cases[i].out, strlen(cases[i].out));
        if (cases[i].want)
            cr_expect(got && strcmp(got, cases[i].want) == 0, "case %zu: %s", i, got);
        else
            cr_expect_null(got, "case %zu", i);
        free(got);
    }
}
