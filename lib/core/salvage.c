/* salvage.c - see salvage.h. */
#include "salvage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const placeholders[] = {"node", "host", "port", "flavor", "gtid",
                                           "binlog_filter"};
#define N_PLACEHOLDERS (sizeof placeholders / sizeof placeholders[0])

/* The placeholder starting at p (just after '{'): its index, or -1; *len is
 * the length of its name. */
static int placeholder_at(const char *p, size_t *len)
{
    const char *end = strchr(p, '}');
    if (!end)
        return -2;
    *len = (size_t)(end - p);
    for (size_t i = 0; i < N_PLACEHOLDERS; i++)
        if (strlen(placeholders[i]) == *len && strncmp(p, placeholders[i], *len) == 0)
            return (int)i;
    return -1;
}

bool salvage_template_check(const char *tmpl, char *err, size_t errlen)
{
    if (!tmpl || !tmpl[0])
        return true;
    const char *p = tmpl;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '/') {
        snprintf(err, errlen, "must start with the absolute path of an executable");
        return false;
    }
    for (p = tmpl; *p; p++) {
        if (*p == '}') {
            snprintf(err, errlen, "a '}' without its '{'");
            return false;
        }
        if (*p != '{')
            continue;
        size_t len = 0;
        int k = placeholder_at(p + 1, &len);
        if (k == -2) {
            snprintf(err, errlen, "a '{' without its '}'");
            return false;
        }
        if (k < 0) {
            snprintf(err, errlen,
                     "unknown placeholder {%.*s} (known: {node} {host} {port} {flavor} {gtid} "
                     "{binlog_filter})",
                     (int)(len > 40 ? 40 : len), p + 1);
            return false;
        }
        p += len + 1;
    }
    return true;
}

/* The GTID state without blanks (MySQL breaks gtid_executed into lines), or
 * NULL when it has a character no GTID state has. */
static char *clean_gtid(const char *gtid, char *err, size_t errlen)
{
    buf_t b = BUF_INIT;
    for (const char *p = gtid ? gtid : ""; *p; p++) {
        char ch = *p;
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
            continue;
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == ':' || ch == ',' || ch == '_')) {
            snprintf(err, errlen, "the GTID state \"%.60s\" has a character no GTID state has",
                     gtid);
            buf_free(&b);
            return NULL;
        }
        buf_putc(&b, ch);
    }
    return buf_steal(&b);
}

char *salvage_binlog_filter(bool mariadb, const char *gtid, char *err, size_t errlen)
{
    char *g = clean_gtid(gtid, err, errlen);
    if (!g)
        return NULL;
    buf_t b = BUF_INIT;
    if (g[0])
        buf_printf(&b, "%s%s", mariadb ? "--start-position=" : "--exclude-gtids=", g);
    free(g);
    return buf_steal(&b);
}

char **salvage_argv(const char *tmpl, const salvage_vars_t *v, char *err, size_t errlen)
{
    if (!tmpl || !tmpl[0]) {
        snprintf(err, errlen, "no salvage_command");
        return NULL;
    }
    if (!salvage_template_check(tmpl, err, errlen))
        return NULL;
    char *gtid = clean_gtid(v->gtid, err, errlen);
    if (!gtid)
        return NULL;
    char *filter = salvage_binlog_filter(v->mariadb, gtid, err, errlen);
    char port[16];
    snprintf(port, sizeof port, "%u", v->port);
    const char *values[N_PLACEHOLDERS] = {v->node ? v->node : "", v->host ? v->host : "", port,
                                          v->mariadb ? "mariadb" : "mysql", gtid, filter};
    size_t n = 0, cap = 8;
    char **argv = calloc(cap, sizeof *argv);
    if (!argv)
        abort();
    const char *p = tmpl;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        buf_t w = BUF_INIT;
        bool only_filter = strncmp(p, "{binlog_filter}", 15) == 0 &&
                           (p[15] == 0 || p[15] == ' ' || p[15] == '\t');
        while (*p && *p != ' ' && *p != '\t') {
            size_t len = 0;
            int k = *p == '{' ? placeholder_at(p + 1, &len) : -1;
            if (k >= 0) {
                buf_puts(&w, values[k]);
                p += len + 2;
            } else {
                buf_putc(&w, *p++);
            }
        }
        if (only_filter && !filter[0]) {
            buf_free(&w);
            continue;
        }
        if (n + 2 > cap) {
            cap *= 2;
            argv = realloc(argv, cap * sizeof *argv);
            if (!argv)
                abort();
        }
        argv[n++] = buf_steal(&w);
        argv[n] = NULL;
    }
    free(gtid);
    free(filter);
    return argv;
}

void salvage_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* An option file value in double quotes: backslash and quote escaped. */
static void quoted(buf_t *out, const char *s)
{
    buf_putc(out, '"');
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_putc(out, '\\');
        if (*s == '\n')
            buf_puts(out, "\\n");
        else
            buf_putc(out, *s);
    }
    buf_putc(out, '"');
}

void salvage_defaults_text(const char *host, unsigned port, const char *user,
                           const char *password, const char *credentials,
                           unsigned connect_timeout_s, buf_t *out)
{
    buf_puts(out, "# written by failoverd for one salvage; removed after it\n[client]\nhost=");
    quoted(out, host);
    buf_printf(out, "\nport=%u\nprotocol=tcp\nconnect-timeout=%u\n", port,
               connect_timeout_s ? connect_timeout_s : 1);
    if (credentials && credentials[0]) {
        buf_printf(out, "!include %s\n", credentials);
        return;
    }
    buf_puts(out, "user=");
    quoted(out, user);
    buf_puts(out, "\npassword=");
    quoted(out, password);
    buf_putc(out, '\n');
}

void salvage_client_input(bool mariadb, bool super_read_only, const char *binlog_text, size_t len,
                          buf_t *out)
{
    if (super_read_only)
        buf_puts(out, "SET GLOBAL super_read_only = OFF;\n");
    buf_append(out, binlog_text, len);
    /* mysqlbinlog ends with "DELIMITER ;", but a stream cut short may not. */
    buf_puts(out, "\nDELIMITER ;\n");
    buf_puts(out, mariadb ? "SELECT @@GLOBAL.gtid_binlog_pos;\n" : "SELECT @@GLOBAL.gtid_executed;\n");
}

char *salvage_parse_after(const char *out, size_t len)
{
    size_t end = len;
    while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' '))
        end--;
    if (end == 0)
        return NULL;
    size_t start = end;
    while (start > 0 && out[start - 1] != '\n')
        start--;
    char *s = malloc(end - start + 1);
    if (!s)
        abort();
    memcpy(s, out + start, end - start);
    s[end - start] = 0;
    /* The batch output escapes a newline inside a value as "\n". */
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') {
            *w++ = '\n';
            r++;
        } else {
            *w++ = *r;
        }
    }
    *w = 0;
    return s;
}

/* Adds the state text into *acc; false when it can't be parsed. */
static bool gate_add(gtid_state_t **acc, server_family_t fam, const char *text)
{
    if (!text || !text[0])
        return true;
    char err[128];
    gtid_state_t *g = gtid_state_parse(fam, text, err, sizeof err);
    if (!g)
        return false;
    if (!*acc)
        *acc = g;
    else {
        gtid_state_add(*acc, g);
        gtid_state_free(g);
    }
    return true;
}

char *salvage_gate(const cluster_t *c, int old_primary, const elect_result_t *e)
{
    if (!e || e->chosen < 0 || old_primary < 0 || (size_t)old_primary >= c->n_nodes)
        return NULL;
    const observation_t *p = &c->nodes[old_primary].last_ok;
    if (!p->ok || p->gtid_error || !p->gtid_executed || !p->gtid_executed[0])
        return NULL;
    server_family_t fam = p->family == FAMILY_MARIADB ? FAMILY_MARIADB : FAMILY_MYSQL;
    gtid_state_t *need = NULL;
    bool ok = gate_add(&need, fam, p->gtid_executed) && gate_add(&need, fam, e->union_text);
    for (size_t k = 0; ok && k < e->n; k++)
        if (e->c[k].unseen)
            ok = gate_add(&need, fam, e->c[k].received);
    char *text = ok && need ? gtid_state_format(need) : NULL;
    gtid_state_free(need);
    return text;
}

char *salvage_gate_lacks(bool mariadb, const char *after, const char *gate)
{
    server_family_t fam = mariadb ? FAMILY_MARIADB : FAMILY_MYSQL;
    char err[128];
    gtid_state_t *have = gtid_state_parse(fam, after ? after : "", err, sizeof err);
    gtid_state_t *need = gtid_state_parse(fam, gate ? gate : "", err, sizeof err);
    char *text = have && need ? gtid_state_beyond_text(need, have, NULL) : NULL;
    gtid_state_free(have);
    gtid_state_free(need);
    return text;
}
