/* The shared cluster state as another manager wrote it in etcd (hastate.h):
 * any bytes are decoded without crashing; a rejection always says why; a
 * record that decodes encodes again to a record that decodes to the same
 * thing; its copy is equal to it; and the failover_block window it implies
 * never starts before its last failover ended, and is none once that
 * failover was acknowledged. */
#include "fuzz.h"
#include "hastate.h"

static json_t *as_json(const hastate_t *s)
{
    return hastate_to_json(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > HASTATE_MAX_BYTES + 64)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    hastate_t s;
    char why[256];
    if (!hastate_parse(text, &s, why, sizeof why)) {
        FUZZ_CHECK(why[0] != '\0', "a rejection without a reason");
        hastate_free(&s);
        free(text);
        return 0;
    }
    json_t *j = as_json(&s);
    char *again = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(again, "a decoded record does not encode");
    hastate_t back, copy;
    FUZZ_CHECK(hastate_parse(again, &back, why, sizeof why), "the encoding \"%s\" does not decode: %s",
               again, why);
    hastate_copy(&copy, &s);
    json_t *jb = as_json(&back), *jc = as_json(&copy);
    FUZZ_CHECK(json_equal(j, jb), "\"%s\" decodes to another record", again);
    FUZZ_CHECK(json_equal(j, jc), "a copy differs from its original");
    uint64_t until = hastate_blocked_until(&s, 300000);
    FUZZ_CHECK(until == 0 || (s.has_last && !s.last_acked && until >= s.last_ended_ms),
               "a block until %llu from a last failover that ended at %llu (acked %d)",
               (unsigned long long)until, (unsigned long long)s.last_ended_ms, s.last_acked);
    json_decref(j);
    json_decref(jb);
    json_decref(jc);
    free(again);
    hastate_free(&back);
    hastate_free(&copy);
    hastate_free(&s);
    free(text);
    return 0;
}
