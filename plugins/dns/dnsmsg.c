/* dnsmsg.c - see dnsmsg.h. */
#include "dnsmsg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

bool dns_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 254 || (n == 254 && s[253] != '.'))
        return false;
    if (strcmp(s, ".") == 0)
        return true;
    size_t label = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return false; /* "..", or a leading dot */
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

bool dns_fqdn(const char *name, const char *zone, char *out, size_t len)
{
    size_t zl = strlen(zone);
    const char *zdot = zl && zone[zl - 1] == '.' ? "" : ".";
    int n;
    if (strcmp(name, "@") == 0)
        n = snprintf(out, len, "%s%s", zone, zdot);
    else if (name[0] && name[strlen(name) - 1] == '.')
        n = snprintf(out, len, "%s", name);
    else
        n = snprintf(out, len, "%s.%s%s", name, zone, zdot);
    return n > 0 && (size_t)n < len && dns_name_ok(out);
}

int dns_family(const char *address)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, address, buf) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, address, buf) == 1)
        return AF_INET6;
    return 0;
}

bool dns_update_script(const dns_update_t *u, putil_str_t *out)
{
    int family = dns_family(u->address);
    if (!family)
        return false;
    if (u->port)
        putil_str_printf(out, "server %s %d\n", u->server, u->port);
    else
        putil_str_printf(out, "server %s\n", u->server);
    putil_str_printf(out, "zone %s\n", u->zone);
    if (u->key_name && u->key_secret)
        putil_str_printf(out, "key %s:%s %s\n", u->key_algorithm ? u->key_algorithm : "hmac-sha256",
                         u->key_name, u->key_secret);
    putil_str_printf(out, "update delete %s A\n", u->name);
    putil_str_printf(out, "update delete %s AAAA\n", u->name);
    putil_str_printf(out, "update add %s %ld IN %s %s\n", u->name, u->ttl,
                     family == AF_INET ? "A" : "AAAA", u->address);
    putil_str_puts(out, "send\n");
    return !out->oom;
}

/* Whether two names are the same, ignoring case and a trailing dot. */
static bool same_name(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la && a[la - 1] == '.')
        la--;
    if (lb && b[lb - 1] == '.')
        lb--;
    return la == lb && strncasecmp(a, b, la) == 0;
}

static bool same_address(const char *a, const char *b)
{
    unsigned char x[sizeof(struct in6_addr)], y[sizeof(struct in6_addr)];
    int fa = dns_family(a), fb = dns_family(b);
    if (!fa || fa != fb)
        return false;
    inet_pton(fa, a, x);
    inet_pton(fb, b, y);
    return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

/* The rules: lines starting with ';' and blank lines are dig's comments; a
 * record line is "NAME TTL CLASS TYPE DATA"; only A and AAAA records of the
 * name count; the answer is right when there is exactly one, the address,
 * with the TTL. */
bool dns_answer_ok(const char *answer, const char *name, const char *address, long ttl, char *why,
                   size_t why_len)
{
    putil_str_t seen = {0};
    int records = 0;
    bool match = false;
    const char *line = answer ? answer : "";
    while (*line) {
        size_t len = strcspn(line, "\n");
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
        line += len + (line[len] == '\n');
        char *save = NULL;
        char *f[5] = {0};
        int nf = 0;
        for (char *t = strtok_r(buf, " \t\r", &save); t && nf < 5; t = strtok_r(NULL, " \t\r", &save))
            f[nf++] = t;
        if (nf < 5 || f[0][0] == ';')
            continue;
        if (!same_name(f[0], name) || (strcmp(f[3], "A") != 0 && strcmp(f[3], "AAAA") != 0))
            continue;
        records++;
        long t = strtol(f[1], NULL, 10);
        putil_str_printf(&seen, "%s%s (TTL %ld)", seen.len ? ", " : "", f[4], t);
        if (same_address(f[4], address) && t == ttl)
            match = true;
    }
    bool ok = records == 1 && match;
    if (!ok)
        snprintf(why, why_len, "the server answers %s instead of %s (TTL %ld)",
                 records ? putil_str_get(&seen) : "no A or AAAA record", address, ttl);
    putil_str_free(&seen);
    return ok;
}

bool dns_algorithm_ok(const char *alg)
{
    static const char *const known[] = {"hmac-md5",    "hmac-sha1",   "hmac-sha224",
                                        "hmac-sha256", "hmac-sha384", "hmac-sha512"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcasecmp(alg, known[i]) == 0)
            return true;
    return false;
}

bool dns_base64_ok(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/' && *p != '=')
            return false;
    return true;
}
