/* The etcd gateway's replies: any text, parsed as each kind of unary reply
 * and as lines of a watch stream, gives a result or an error with a message,
 * never a crash or a half-filled result. */
#include "etcd.h"
#include "fuzz.h"

static void on_event(void *ud, const etcd_wevent_t *ev)
{
    (void)ud;
    FUZZ_CHECK(ev->kind != ETCD_W_PUT || ev->kv.key, "a PUT event without a key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    static const etcd_rkind_t kinds[] = {ETCD_R_RANGE, ETCD_R_PUT, ETCD_R_DELETE,
                                         ETCD_R_TXN, ETCD_R_LEASE, ETCD_R_REVOKE};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        etcd_reply_t r;
        bool ok = etcd_parse_reply(kinds[k], (const char *)data, size, &r);
        FUZZ_CHECK(ok == r.ok, "ok and r.ok disagree");
        FUZZ_CHECK(ok || r.err[0], "a failure without a message");
        FUZZ_CHECK(ok || (!r.kvs && !r.n_kvs), "a failure with results");
        for (size_t i = 0; i < r.n_kvs; i++)
            FUZZ_CHECK(r.kvs[i].key && r.kvs[i].value, "a kv without key or value");
        etcd_reply_free(&r);
    }
    char why[128];
    why[0] = '\0';
    if (!etcd_parse_watch((const char *)data, size, on_event, NULL, why, sizeof why))
        FUZZ_CHECK(why[0], "a malformed watch line without a message");
    return 0;
}
