/* Observation records as other managers publish them (obsrec.h): any bytes
 * are decoded without crashing; a record that decodes encodes again, and the
 * encoding decodes to the same record; and fed to the verdict (quorum.h) as a
 * peer's record, the votes add up, a dead verdict always has its quorum of
 * fresh unreachable votes, and a manager that reaches the primary never
 * reaches another verdict than "reachable". */
#include "fuzz.h"
#include "obsrec.h"
#include "quorum.h"

static void verdict_of(const obsrec_t *r)
{
    static const char *const ids[] = {"m1", "m2", "m3"};
    /* The record filed under m2 (whatever manager it names) and, decoded
     * once more, as m3's stale copy. */
    quorum_obs_t obs[2] = {{.manager = "m2", .rec = r, .received_at = 99000},
                           {.manager = "m3", .rec = r, .received_at = 90000}};
    for (int self_up = 0; self_up < 2; self_up++) {
        quorum_input_t in = {.managers = ids, .n_managers = 3, .self = "m1", .fresh_ms = 2000,
                             .down_after = 1000, .cluster = "main",
                             .primary = r->n_nodes ? r->nodes[0].name : "db1",
                             .self_view = {.probed = true, .reachable = self_up,
                                           .unreached_ms = self_up ? 0 : 5000},
                             .obs = obs, .n_obs = 2};
        quorum_result_t res;
        char err[160];
        FUZZ_CHECK(quorum_evaluate(&in, 100000, &res, err, sizeof err), "evaluate: %s", err);
        unsigned total = 0;
        for (int k = 0; k < VOTE_KINDS; k++)
            total += res.count[k];
        FUZZ_CHECK(total == 3, "%u votes for 3 managers", total);
        FUZZ_CHECK(res.votes[2].vote == VOTE_STALE || res.votes[2].vote == VOTE_MISSING,
                   "a record 10 s old is %s", vote_str(res.votes[2].vote));
        FUZZ_CHECK(res.verdict != QUORUM_DEAD_CONFIRMED || res.count[VOTE_UNREACHABLE] >= 2,
                   "dead with %u unreachable votes", res.count[VOTE_UNREACHABLE]);
        FUZZ_CHECK(!self_up || res.verdict == QUORUM_REACHABLE,
                   "this manager reaches the primary, yet the verdict is %s",
                   quorum_verdict_str(res.verdict));
        json_decref(quorum_json(&res));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > OBSREC_MAX_BYTES + 64)
        return 0;
    obsrec_t r;
    char err[OBSREC_ERR_SIZE];
    if (!obsrec_decode((const char *)data, size, &r, err, sizeof err)) {
        FUZZ_CHECK(err[0] != '\0', "a rejection without a reason");
        return 0;
    }
    char *text = obsrec_encode(&r, err, sizeof err);
    FUZZ_CHECK(text, "a decoded record does not encode: %s", err);
    obsrec_t back;
    FUZZ_CHECK(obsrec_decode(text, strlen(text), &back, err, sizeof err),
               "the encoding \"%s\" does not decode: %s", text, err);
    json_t *a = obsrec_to_json(&r), *b = obsrec_to_json(&back);
    FUZZ_CHECK(json_equal(a, b), "\"%s\" decodes to another record", text);
    json_decref(a);
    json_decref(b);
    verdict_of(&back);
    obsrec_free(&back);
    free(text);
    obsrec_free(&r);
    return 0;
}
