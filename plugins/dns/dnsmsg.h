/* dnsmsg.h - the pure part of the DNS plugin: names, the nsupdate script of an
 * RFC 2136 update, and the judgement of dig's answer.  No I/O, no clock. */
#ifndef FAILOVERD_DNSMSG_H
#define FAILOVERD_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>

#include "putil.h"

/* Whether s is usable as a domain name here: letters, digits, '-', '_', '.',
 * at most 253 characters, no empty label (a trailing dot is allowed).  It
 * keeps anything that could end a line of the update script out of it. */
bool dns_name_ok(const char *s);

/* The fully qualified form, with its trailing dot: "db" in zone "example.com"
 * is "db.example.com.", "@" the zone itself, and "db.example.com." stays.
 * false if the result does not fit or is not a name. */
bool dns_fqdn(const char *name, const char *zone, char *out, size_t len);

/* The address family of a literal address (AF_INET, AF_INET6), or 0. */
int dns_family(const char *address);

/* The update the plugin sends. */
typedef struct {
    const char *server; /* address or name of the primary server for the zone */
    int port;
    const char *zone; /* fully qualified */
    const char *name; /* fully qualified */
    long ttl;
    const char *key_algorithm; /* "hmac-sha256" ...; with key_name and key_secret, or NULL */
    const char *key_name;
    const char *key_secret; /* base64; travels on nsupdate's standard input only */
    const char *address;    /* the new primary's */
} dns_update_t;

/* The nsupdate script: one UPDATE message that deletes every A and AAAA record
 * of the name and adds the new address with the TTL.  A message is applied
 * atomically by the server, so the name never resolves to nothing.  false if
 * the address is not a literal or out of memory. */
bool dns_update_script(const dns_update_t *u, putil_str_t *out);

/* Judges dig's "+noall +answer" output for the name: true when its only A or
 * AAAA record is the address with the TTL; else false with what the server
 * answers instead in why. */
bool dns_answer_ok(const char *answer, const char *name, const char *address, long ttl, char *why,
                   size_t why_len);

/* Whether an algorithm name is one nsupdate knows for TSIG. */
bool dns_algorithm_ok(const char *alg);

/* Whether s looks like base64 (a TSIG secret). */
bool dns_base64_ok(const char *s);

#endif
