/* config_coord.c - the coordination section: standalone, or several managers
 * coordinated through etcd (docs/ha.md).  Its rows live here rather than in
 * config.c's table to keep that file readable; they go through the same walker,
 * printer and documentation generator. */
#include <ctype.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "quorum.h"

static const char *const coord_mode_names[] = {"standalone", "etcd", NULL};
_Static_assert(sizeof(fo_coord_mode_t) == sizeof(int), "enum size");

const char *fo_coord_mode_str(fo_coord_mode_t m)
{
    return cfg_name_of(coord_mode_names, (int)m);
}

/* An etcd endpoint: http(s)://host[:port], no path (the gateway's /v3/ is added). */
static bool check_endpoint(const char *s, buf_t *why)
{
    if (!check_url(s, why))
        return false;
    const char *host = strstr(s, "://") + 3;
    const char *slash = strchr(host, '/');
    if (slash && slash[1] != '\0') {
        buf_puts(why, "has a path: give scheme, host and port only (http://10.0.0.1:2379)");
        return false;
    }
    return true;
}

/* Keys start with the prefix: it must be absolute and end with '/'. */
static bool check_key_prefix(const char *s, buf_t *why)
{
    size_t n = strlen(s);
    if (n < 2 || s[0] != '/' || s[n - 1] != '/' || strpbrk(s, " \t\n")) {
        buf_puts(why, "is not a key prefix: it starts and ends with '/', without blanks");
        return false;
    }
    return true;
}

/* Manager ids are key names and appear in events: keep them plain. */
static bool check_manager_id(const char *s, buf_t *why)
{
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("_-.", *p)) {
            buf_puts(why, "is not a manager id (letters, digits, '_', '-' and '.')");
            return false;
        }
    }
    return true;
}

static void coord_error(load_t *L, const char *setting, const char *msg)
{
    const config_setting_t *at = config_lookup(&L->lc, "coordination");
    const config_setting_t *m = at ? config_setting_get_member(at, setting) : NULL;
    char path[64];
    snprintf(path, sizeof path, "coordination.%s", setting);
    cfg_err_at(L, m ? m : at, path, "%s", msg);
}

static void check_managers(load_t *L, fo_coord_cfg_t *c);

static void check_coord(load_t *L, void *obj, const char *path)
{
    (void)path;
    fo_coord_cfg_t *c = obj;
    if (c->mode != FO_COORD_ETCD)
        return;
    if (!*c->manager_id) {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) != 0 || !*host)
            snprintf(host, sizeof host, "manager");
        for (char *p = host; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("_-.", *p))
                *p = '_';
        free(c->manager_id);
        c->manager_id = xstrdup(host);
    }
    if (c->etcd_endpoints.n == 0)
        coord_error(L, "etcd_endpoints", "mode etcd needs at least one etcd endpoint");
    if (!*c->etcd_cert != !*c->etcd_key)
        coord_error(L, *c->etcd_cert ? "etcd_cert" : "etcd_key",
                    "etcd_cert and etcd_key go together");
    for (size_t i = 0; i < c->etcd_endpoints.n; i++) {
        bool tls = strncmp(c->etcd_endpoints.items[i], "https://", 8) == 0;
        if (!tls && (*c->etcd_ca || *c->etcd_cert)) {
            coord_error(L, "etcd_endpoints",
                        "a plain http:// endpoint while etcd TLS settings are set: use https://");
            break;
        }
    }
    check_managers(L, c);
}

/* "majority" or a number of managers (quorum.h). */
static bool check_verdict_quorum(const char *s, buf_t *why)
{
    quorum_rule_t r;
    char err[160];
    if (!quorum_rule_parse(s, &r, err, sizeof err)) {
        buf_printf(why, "is neither \"majority\" nor a number of managers from 1 to %d",
                   QUORUM_MAX_MANAGERS);
        return false;
    }
    return true;
}

/* The manager set of the multi-vantage verdict: this manager among them, each
 * once, and a quorum they can reach. */
static void check_managers(load_t *L, fo_coord_cfg_t *c)
{
    quorum_rule_t r = {0};
    char err[160];
    if (quorum_rule_parse(c->verdict_quorum, &r, err, sizeof err))
        c->verdict_quorum_k = r.k;
    if (c->managers.n == 0)
        return;
    if (c->managers.n > QUORUM_MAX_MANAGERS) {
        coord_error(L, "managers", "more than 16 managers listed");
        return;
    }
    bool self = false;
    for (size_t i = 0; i < c->managers.n; i++) {
        self = self || strcmp(c->managers.items[i], c->manager_id) == 0;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->managers.items[k], c->managers.items[i]) == 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "manager %.64s is listed twice", c->managers.items[i]);
                coord_error(L, "managers", msg);
                return;
            }
    }
    if (!self) {
        char msg[160];
        snprintf(msg, sizeof msg, "this manager (%.64s) is not among the managers listed",
                 c->manager_id);
        coord_error(L, "managers", msg);
    }
    if (!quorum_rule_check(r, c->managers.n, err, sizeof err))
        coord_error(L, "verdict_quorum", err);
}

#define FLD(st, f, T) (offsetof(st, f) + 0 * sizeof(&((st *)0)->f - (T *)0))
#define K fo_coord_cfg_t
static const setting_t coord_settings[] = {
    {.name = "mode",
     .kind = K_ENUM,
     .off = FLD(K, mode, fo_coord_mode_t),
     .def = FO_COORD_STANDALONE,
     .names = coord_mode_names,
     .doc = "standalone: this manager acts alone (one failoverd per cluster). etcd: several "
            "managers share an etcd cluster; the one holding the leader lease acts, the others "
            "watch and take over when it goes (docs/ha.md)."},
    {.name = "etcd_endpoints",
     .kind = K_STRINGS,
     .off = FLD(K, etcd_endpoints, fo_strlist_t),
     .min = 1,
     .max = 512,
     .check = check_endpoint,
     .doc = "The etcd members' client URLs (http://host:2379 or https://...); a request that "
            "can't connect to one tries the next."},
    {.name = "key_prefix",
     .kind = K_STRING,
     .off = FLD(K, key_prefix, char *),
     .def_s = "/failoverd/v1/",
     .min = 2,
     .max = 256,
     .check = check_key_prefix,
     .doc = "Prefix of every key failoverd writes in etcd; managers of the same clusters share "
            "it."},
    {.name = "manager_id",
     .kind = K_STRING,
     .off = FLD(K, manager_id, char *),
     .def_s = "",
     .max = 64,
     .check = check_manager_id,
     .def_doc = "the host name",
     .doc = "This manager's name among the managers; unique for each of them."},
    {.name = "zone",
     .kind = K_STRING,
     .off = FLD(K, zone, char *),
     .def_s = "",
     .max = 64,
     .check = check_manager_id,
     .doc = "Failure domain of this manager (a rack, a data centre), shown in its record."},
    {.name = "lease_ttl",
     .kind = K_INT,
     .off = FLD(K, lease_ttl, int),
     .def = 3,
     .min = 2,
     .max = 60,
     .doc = "Seconds of the leader lease: a leader that stops renewing it is replaced after "
            "about this long plus an etcd election. The leader's steps that change a server or "
            "run a hook are bounded by the lease validity left when they start, about two "
            "thirds of this: keep it above what the slowest hook needs."},
    {.name = "etcd_ca",
     .kind = K_STRING,
     .off = FLD(K, etcd_ca, char *),
     .def_s = "",
     .max = 511,
     .check = check_tls_file,
     .doc = "CA certificate that etcd's server certificates must chain to (https endpoints); "
            "\"\" = the system's CAs."},
    {.name = "etcd_cert",
     .kind = K_STRING,
     .off = FLD(K, etcd_cert, char *),
     .def_s = "",
     .max = 511,
     .check = check_tls_file,
     .doc = "Client certificate presented to etcd; needs etcd_key."},
    {.name = "etcd_key",
     .kind = K_STRING,
     .off = FLD(K, etcd_key, char *),
     .def_s = "",
     .max = 511,
     .check = check_tls_key,
     .doc = "Private key of etcd_cert; must not be readable by others."},
    {.name = "etcd_timeout",
     .kind = K_DURATION,
     .off = FLD(K, etcd_timeout_ms, uint64_t),
     .def = 1000,
     .min = 100,
     .max = 60000,
     .doc = "Bound on one etcd request (a watch excepted); one that takes longer failed, and "
            "the next endpoint is tried."},
    {.name = "managers",
     .kind = K_STRINGS,
     .off = FLD(K, managers, fo_strlist_t),
     .min = 1,
     .max = 64,
     .check = check_manager_id,
     .def_doc = "none: each manager judges from its own probes",
     .doc = "The manager_id of every manager watching these clusters, this one included (at "
            "most 16). When set, each manager publishes what it sees of every node under the "
            "key CLUSTER/obs/MANAGER_ID below key_prefix and reads the others' records, and the "
            "primary is dead only when verdict_quorum of them can't reach it and the "
            "replicas confirm (docs/ha.md). Give every manager the same list."},
    {.name = "verdict_quorum",
     .kind = K_STRING,
     .off = FLD(K, verdict_quorum, char *),
     .def_s = "majority",
     .min = 1,
     .max = 16,
     .check = check_verdict_quorum,
     .doc = "How many of the managers listed must fail to reach the primary, with a fresh "
            "record, before it is declared dead: majority (more than half of them) or a "
            "number from 1 to their count. 1 lets each manager's own view decide."},
};
#undef K

const section_t coord_section = {
    .name = "coordination",
    .where = "coordination",
    .settings = coord_settings,
    .n = sizeof coord_settings / sizeof coord_settings[0],
    .size = sizeof(fo_coord_cfg_t),
    .off_src = -1,
    .off_index = -1,
    .check = check_coord,
    .doc = "How this manager coordinates with others watching the same clusters. The whole "
           "group is optional: without it failoverd runs standalone."};
