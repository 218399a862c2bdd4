/* config_check.c - the checks of the configuration that are not a value's
 * kind or bounds: string checks (paths, names, hosts, URLs) and the checks
 * across settings (see config.c). */
#include "salvage.h"
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "defaults.h"
#include "metrics.h"
#include "route.h"
#include "tls.h"

#include "config_int.h"

/* ------------------------------------------------------------------------ */
/* String checks                                                             */

bool check_abs_path(const char *s, buf_t *why)
{
    if (s[0] != '/') {
        buf_puts(why, "is not an absolute path");
        return false;
    }
    return true;
}

bool check_read_lag(const char *s, buf_t *why)
{
    route_settings_t rs;
    char err[160];
    if (!route_lag_parse(s, &rs, err, sizeof err)) {
        buf_puts(why, err);
        return false;
    }
    return true;
}

bool check_opt_abs_path(const char *s, buf_t *why)
{
    return !s[0] || check_abs_path(s, why);
}

bool check_salvage_command(const char *s, buf_t *why)
{
    char err[200];
    if (!salvage_template_check(s, err, sizeof err)) {
        buf_puts(why, err);
        return false;
    }
    return true;
}

static bool only_chars(const char *s, const char *extra)
{
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(extra, *p))
            return false;
    return true;
}

/* Cluster names end up in state file names and URLs: keep them plain. */
bool check_cluster_name(const char *s, buf_t *why)
{
    if (!only_chars(s, "_-.") || s[0] == '.' || s[0] == '-') {
        buf_puts(why, "is not a valid cluster name (letters, digits, '_', '-' and '.', not "
                      "starting with '.' or '-')");
        return false;
    }
    return true;
}

bool check_node_name(const char *s, buf_t *why)
{
    if (!only_chars(s, "_-.:[]") || s[0] == '-') {
        buf_puts(why, "is not a valid node name (letters, digits, '_', '-', '.', ':', '[' and "
                      "']', not starting with '-')");
        return false;
    }
    return true;
}

bool check_host(const char *s, buf_t *why)
{
    if (s[0] == '[') {
        buf_puts(why, "is not a host name or IP address (write IPv6 addresses without brackets)");
        return false;
    }
    if (!only_chars(s, "_-.:%") || s[0] == '-') {
        buf_puts(why, "is not a host name or IP address");
        return false;
    }
    return true;
}

bool check_group_name(const char *s, buf_t *why)
{
    if (*s && (!only_chars(s, "_-.") || s[0] == '-')) {
        buf_puts(why, "is not a valid group name");
        return false;
    }
    return true;
}

bool check_listen(const char *s, buf_t *why)
{
    if (!s[0])
        return true;
    struct sockaddr_storage sa;
    char err[256];
    if (metrics_parse_listen(s, &sa, err, sizeof err))
        return true;
    buf_puts(why, err);
    return false;
}

bool check_url(const char *s, buf_t *why)
{
    const char *host = NULL;
    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    if (!host || !*host || *host == '/' || strpbrk(s, " \t")) {
        buf_puts(why, "is not an http:// or https:// URL");
        return false;
    }
    return true;
}

bool check_event_name(const char *s, buf_t *why)
{
    bool ok = islower((unsigned char)s[0]) && only_chars(s, "_");
    for (const char *p = s; ok && *p; p++)
        ok = !isupper((unsigned char)*p);
    if (!ok)
        buf_puts(why, "is not an event name (lower-case letters, digits and '_')");
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Checks across settings                                                    */

void check_node(load_t *L, void *obj, const char *path)
{
    fo_node_cfg_t *node = obj;
    if (!node->name && node->host) {
        buf_t b = BUF_INIT;
        cfg_node_default_name(node->host, node->port, &b);
        node->name = buf_steal(&b);
    }
}

static void node_error(load_t *L, const fo_cluster_cfg_t *cl, const fo_node_cfg_t *n,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void node_error(load_t *L, const fo_cluster_cfg_t *cl, const fo_node_cfg_t *n,
                       const char *fmt, ...)
{
    buf_t p = BUF_INIT;
    buf_printf(&p, "clusters.%s.nodes.%s", cl->name ? cl->name : "?", n->name ? n->name : "?");
    va_list ap;
    va_start(ap, fmt);
    cfg_verr_at(L, n->src, buf_str(&p), fmt, ap);
    va_end(ap);
    buf_free(&p);
}

static bool is_bad(const load_t *L, const void *elem)
{
    for (size_t i = 0; i < L->n_bad; i++)
        if (L->bad[i] == elem)
            return true;
    return false;
}

/* Node names are unique within their cluster (failoverctl --to NODE), and addresses
 * across the file: a server managed twice would be failed over twice.  Nodes with
 * errors of their own are left out: their values are not what the operator meant. */
/* ------------------------------------------------------------------------ */
/* TLS                                                                       */

/* A TLS file: an absolute path to a regular file failoverd can read. */
static bool tls_path_ok(const char *s, bool dir, struct stat *st, buf_t *why)
{
    if (!*s)
        return true;
    if (s[0] != '/') {
        buf_puts(why, "is not an absolute path");
        return false;
    }
    if (stat(s, st) != 0) {
        buf_printf(why, "cannot be used: %s", strerror(errno));
        return false;
    }
    if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
        buf_puts(why, dir ? "is not a directory" : "is not a regular file");
        return false;
    }
    if (access(s, dir ? R_OK | X_OK : R_OK) != 0) {
        buf_printf(why, "cannot be read: %s", strerror(errno));
        return false;
    }
    return true;
}

bool check_tls_file(const char *s, buf_t *why)
{
    struct stat st;
    return tls_path_ok(s, false, &st, why);
}

bool check_tls_dir(const char *s, buf_t *why)
{
    struct stat st;
    return tls_path_ok(s, true, &st, why);
}

bool check_tls_key(const char *s, buf_t *why)
{
    struct stat st;
    if (!tls_path_ok(s, false, &st, why))
        return false;
    if (*s && (st.st_mode & S_IROTH)) {
        buf_printf(why, "is a private key readable by others (mode %04o): chmod o-r it",
                   (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

bool check_tls_version(const char *s, buf_t *why)
{
    if (!*s || tls_version_list(s))
        return true;
    buf_puts(why, "is not a TLS version failoverd accepts as the lowest: TLSv1.2 or TLSv1.3");
    return false;
}

static char *tls_pick(char *own, char *cluster)
{
    return own && *own ? own : cluster && *cluster ? cluster : NULL;
}

/* A refused ssl_cert or ssl_key is left unset: no second error for that. */
static bool tls_file_refused(const load_t *L)
{
    for (size_t i = 0; i < L->n_errs; i++)
        if (strstr(L->errs[i].text, ".ssl_cert: ") || strstr(L->errs[i].text, ".ssl_key: "))
            return true;
    return false;
}

/* Each node's effective TLS settings, and the rules that span settings. */
static void check_tls(load_t *L, fo_config_t *cfg)
{
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        fo_cluster_cfg_t *cl = &cfg->clusters[c];
        for (size_t i = 0; i < cl->n_nodes; i++) {
            fo_node_cfg_t *n = &cl->nodes[i];
            if (is_bad(L, n))
                continue;
            tls_cfg_t *t = &n->tls;
            t->mode = n->ssl_mode == FO_SSL_MODE_CLUSTER ? cl->ssl_mode : (tls_mode_t)n->ssl_mode;
            t->ca = tls_pick(n->ssl_ca, cl->ssl_ca);
            t->capath = tls_pick(n->ssl_capath, cl->ssl_capath);
            t->cert = tls_pick(n->ssl_cert, cl->ssl_cert);
            t->key = tls_pick(n->ssl_key, cl->ssl_key);
            t->version = tls_pick(n->tls_version, cl->tls_version);
            t->cipher = tls_pick(n->ssl_cipher, cl->ssl_cipher);
            if (t->mode >= TLS_MODE_VERIFY_CA && !t->ca && !t->capath)
                node_error(L, cl, n,
                           "ssl_mode %s needs ssl_ca or ssl_capath: the client library checks "
                           "a certificate only against a CA it is given",
                           tls_mode_str(t->mode));
            if (!t->cert != !t->key && !tls_file_refused(L))
                node_error(L, cl, n, "ssl_cert and ssl_key go together: %s is set, %s is not",
                           t->cert ? "ssl_cert" : "ssl_key", t->cert ? "ssl_key" : "ssl_cert");
        }
    }
}


void check_root(load_t *L, void *obj, const char *path)
{
    fo_config_t *cfg = obj;
    check_tls(L, cfg);
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        const fo_cluster_cfg_t *cl = &cfg->clusters[c];
        for (size_t i = 0; i < cl->n_nodes; i++) {
            const fo_node_cfg_t *n = &cl->nodes[i];
            bool name_dup = false, addr_dup = false;
            if (is_bad(L, n))
                continue;
            for (size_t c2 = 0; c2 <= c; c2++) {
                const fo_cluster_cfg_t *cl2 = &cfg->clusters[c2];
                size_t upto = c2 == c ? i : cl2->n_nodes;
                for (size_t j = 0; j < upto; j++) {
                    const fo_node_cfg_t *o = &cl2->nodes[j];
                    if (is_bad(L, o))
                        continue;
                    if (!name_dup && c2 == c && n->name && o->name &&
                        strcmp(n->name, o->name) == 0) {
                        node_error(L, cl, n, "duplicate node name \"%s\" (first defined at %s:%u)",
                                   n->name, o->src.file, o->src.line);
                        name_dup = true;
                    }
                    if (!addr_dup && n->host && o->host && n->port == o->port &&
                        strcasecmp(n->host, o->host) == 0) {
                        node_error(L, cl, n, "%s:%d is also node %s of cluster %s (%s:%u)", n->host,
                                   n->port, o->name ? o->name : "?", cl2->name ? cl2->name : "?",
                                   o->src.file, o->src.line);
                        addr_dup = true;
                    }
                }
            }
        }
    }
}
