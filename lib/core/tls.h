/* tls.h - TLS to the database servers: the settings of one node, as the
 * configuration gives them, and what they mean for failoverd's own sessions
 * (dbconn.c) and for the replication channels it configures (flavor.c).
 *
 * Pure: no I/O.  The modes are the mysql client's --ssl-mode vocabulary:
 *  disabled         plain TCP;
 *  preferred        TLS when the server offers it, plain TCP otherwise;
 *  required         TLS or no connection; the certificate is not checked;
 *  verify_ca        TLS, and the certificate must chain to ssl_ca/ssl_capath;
 *  verify_identity  verify_ca, and the certificate must name the host.
 */
#ifndef FAILOVERD_TLS_H
#define FAILOVERD_TLS_H

#include <stdbool.h>

#include "flavor.h"

typedef enum {
    TLS_MODE_DISABLED,
    TLS_MODE_PREFERRED,
    TLS_MODE_REQUIRED,
    TLS_MODE_VERIFY_CA,
    TLS_MODE_VERIFY_IDENTITY,
} tls_mode_t;

/* One node's TLS settings; every string NULL or non-empty ("" is stored as NULL).
 * Where a caller has none (NULL), TLS is off: ssl_mode disabled. */
typedef struct tls_cfg {
    tls_mode_t mode;
    char *ca;      /* CA certificate file */
    char *capath;  /* directory of CA certificates (c_rehash layout) */
    char *cert;    /* client certificate */
    char *key;     /* its private key */
    char *version; /* minimum protocol version: "TLSv1.2" or "TLSv1.3"; NULL: the library's */
    char *cipher;  /* OpenSSL cipher list (TLS 1.2) */
} tls_cfg_t;

/* The names, in tls_mode_t order, NULL-terminated. */
extern const char *const tls_mode_names[];
const char *tls_mode_str(tls_mode_t m);
bool tls_mode_parse(const char *s, tls_mode_t *out);

/* An owned copy ("" becomes NULL); NULL for NULL. */
tls_cfg_t *tls_cfg_dup(const tls_cfg_t *t);
void tls_cfg_free(tls_cfg_t *t); /* NULL-safe */
/* Same settings (NULL equals NULL only). */
bool tls_cfg_equal(const tls_cfg_t *a, const tls_cfg_t *b);

/* Connector/C's protocol list for a minimum version ("TLSv1.2" ->
 * "TLSv1.2,TLSv1.3"); NULL for a version it does not know. */
const char *tls_version_list(const char *min_version);

/* The source-side TLS options of a replication channel that failoverd points
 * at a new source, for a replica whose settings are t (NULL: the defaults):
 *  disabled, preferred  say nothing: the replica keeps what its channel had
 *                       (CHANGE MASTER / CHANGE REPLICATION SOURCE leave
 *                       unnamed options as they are);
 *  required             {MASTER,SOURCE}_SSL = 1, no verification;
 *  verify_ca            ... and _SSL_CA / _SSL_CAPATH, the chain is checked;
 *  verify_identity      ... and _SSL_VERIFY_SERVER_CERT = 1.
 * The CA paths are the node's own settings: on the replica's host the same
 * files must exist (docs/security.md). */
void tls_channel(const tls_cfg_t *t, flavor_source_t *src);

/* The mode's promise about the server's certificate, for status:
 * "none", "ca" or "identity". */
const char *tls_verified_str(tls_mode_t m);

#endif
