/* tls.c - see tls.h. */
#include "tls.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"

const char *const tls_mode_names[] = {"disabled", "preferred", "required", "verify_ca",
                                      "verify_identity", NULL};

const char *tls_mode_str(tls_mode_t m)
{
    return (int)m >= 0 && m <= TLS_MODE_VERIFY_IDENTITY ? tls_mode_names[m] : "?";
}

bool tls_mode_parse(const char *s, tls_mode_t *out)
{
    for (int i = 0; tls_mode_names[i]; i++) {
        if (strcmp(s, tls_mode_names[i]) == 0) {
            *out = (tls_mode_t)i;
            return true;
        }
    }
    return false;
}

static char *dup_set(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

tls_cfg_t *tls_cfg_dup(const tls_cfg_t *t)
{
    if (!t)
        return NULL;
    tls_cfg_t *d = xcalloc(1, sizeof *d);
    d->mode = t->mode;
    d->ca = dup_set(t->ca);
    d->capath = dup_set(t->capath);
    d->cert = dup_set(t->cert);
    d->key = dup_set(t->key);
    d->version = dup_set(t->version);
    d->cipher = dup_set(t->cipher);
    return d;
}

void tls_cfg_free(tls_cfg_t *t)
{
    if (!t)
        return;
    free(t->ca);
    free(t->capath);
    free(t->cert);
    free(t->key);
    free(t->version);
    free(t->cipher);
    free(t);
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool tls_cfg_equal(const tls_cfg_t *a, const tls_cfg_t *b)
{
    if (!a || !b)
        return a == b;
    return a->mode == b->mode && same_str(a->ca, b->ca) && same_str(a->capath, b->capath) &&
           same_str(a->cert, b->cert) && same_str(a->key, b->key) &&
           same_str(a->version, b->version) && same_str(a->cipher, b->cipher);
}

const char *tls_version_list(const char *min_version)
{
    if (!min_version || !*min_version)
        return NULL;
    if (strcmp(min_version, "TLSv1.2") == 0)
        return "TLSv1.2,TLSv1.3";
    if (strcmp(min_version, "TLSv1.3") == 0)
        return "TLSv1.3";
    return NULL;
}

void tls_channel(const tls_cfg_t *t, flavor_source_t *src)
{
    if (!t || t->mode <= TLS_MODE_PREFERRED)
        return;
    src->tls = FLAVOR_TLS_ON;
    if (t->mode >= TLS_MODE_VERIFY_CA) {
        src->ssl_ca = t->ca;
        src->ssl_capath = t->capath;
    }
    src->ssl_verify_server_cert = t->mode == TLS_MODE_VERIFY_IDENTITY;
}

const char *tls_verified_str(tls_mode_t m)
{
    return m == TLS_MODE_VERIFY_IDENTITY ? "identity" : m == TLS_MODE_VERIFY_CA ? "ca" : "none";
}
