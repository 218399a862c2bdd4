/* The DNS plugin's message handling (plugins/dns/dnsmsg.c): dig's answer as
 * any bytes, names, addresses and keys as the configuration gives them, and
 * the nsupdate script built from them.  A script is only built from checked
 * values, so it must never carry a line break inside a value. */
#include "dnsmsg.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *s = fuzz_str(data, size);
    char *name = s;
    char *address = fuzz_split(name, '|');
    char *zone = fuzz_split(address, '|');
    char *secret = fuzz_split(zone, '|');
    char *answer = fuzz_split(secret, '|');
    char why[256];
    (void)dns_answer_ok(answer, name, address, 60, why, sizeof why);
    (void)dns_answer_ok(answer, "db.example.com.", "10.0.0.1", 30, why, sizeof why);
    (void)dns_algorithm_ok(secret);
    bool ok_name = dns_name_ok(name), ok_zone = dns_name_ok(zone);
    bool ok_secret = dns_base64_ok(secret);
    char fqdn[300];
    bool ok_fqdn = ok_name && ok_zone && dns_fqdn(name, zone, fqdn, sizeof fqdn);
    if (ok_fqdn && dns_family(address) && ok_secret) {
        dns_update_t u = {.server = "10.0.0.53", .port = 53, .zone = zone, .name = fqdn,
                          .ttl = 60, .key_algorithm = "hmac-sha256", .key_name = zone,
                          .key_secret = secret, .address = address};
        putil_str_t out = {0};
        if (dns_update_script(&u, &out)) {
            const char *text = putil_str_get(&out);
            size_t lines = 0;
            for (const char *p = text; *p; p++)
                lines += *p == '\n';
            /* server, zone, key, two deletes, one add, send: a fixed shape. */
            FUZZ_CHECK(lines <= 12, "the script has %zu lines:\n%s", lines, text);
        }
        putil_str_free(&out);
    }
    free(s);
    return 0;
}
