/* Step names as types (stepname.h): every role formats to its text and reads
 * back, hook steps carry their point, and a journal written by an earlier
 * version (the same text) reads into the same roles. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "failover_int.h"
#include "plan.h"
#include "stepname.h"

Test(stepname, every_role_formats_and_reads_back)
{
    for (int r = STEP_ROLE_UNKNOWN + 1; r < STEP_ROLE__COUNT; r++) {
        buf_t b = BUF_INIT;
        step_name_format((step_role_t)r, "db2", &b);
        step_id_t id;
        cr_assert(step_name_parse(buf_str(&b), &id), "%s", buf_str(&b));
        cr_expect_eq(id.role, r, "%s", buf_str(&b));
        cr_expect_str_eq(id.arg, "db2");
        cr_expect(step_name_is(buf_str(&b), (step_role_t)r, FO_HOOK_NONE, "db2"));
        cr_expect(!step_name_is(buf_str(&b), (step_role_t)r, FO_HOOK_NONE, "db3"));
        for (int q = r + 1; q < STEP_ROLE__COUNT; q++)
            cr_expect_str_neq(step_role_str((step_role_t)r), step_role_str((step_role_t)q));
        buf_free(&b);
    }
    for (int p = 0; p < FO_HOOK__COUNT; p++) {
        step_id_t id;
        cr_assert(step_name_parse(step_hook_name((fo_hook_point_t)p), &id));
        cr_expect_eq(id.role, STEP_ROLE_HOOK);
        cr_expect_eq(id.hook, p, "%s", step_hook_name((fo_hook_point_t)p));
    }
    step_id_t id;
    cr_expect(step_name_parse("refresh", &id) && id.role == STEP_ROLE_REFRESH && !id.arg[0]);
    cr_expect(step_name_parse("refresh:after_failure", &id) && id.role == STEP_ROLE_REFRESH);
    cr_expect(!step_name_parse("promotex:db2", &id) && id.role == STEP_ROLE_UNKNOWN);
    cr_expect(!step_name_parse(NULL, &id));
    cr_expect(!step_name_is("hook:post_failover", STEP_ROLE_HOOK, FO_HOOK_POST_PROMOTION, NULL));
    cr_expect(step_name_is("hook:post_promotion", STEP_ROLE_HOOK, FO_HOOK_POST_PROMOTION, NULL));
}

/* Lines of a switchover's journal as the previous version wrote them (no
 * phase records; step names as text): where it stopped reads as before. */
Test(stepname, an_old_journal_reads_into_the_same_steps)
{
    static const char *const lines[] = {
        "{\"seq\":1,\"time\":\"2026-01-01T00:00:00.000Z\",\"cluster\":\"main\",\"op\":\"o1\","
        "\"kind\":\"switchover\",\"type\":\"begin\",\"old_primary\":\"db1\"}",
        "{\"seq\":2,\"cluster\":\"main\",\"op\":\"o1\",\"kind\":\"switchover\",\"type\":\"step\","
        "\"step\":\"check_lag:db2\",\"node\":\"db2\"}",
        "{\"seq\":3,\"cluster\":\"main\",\"op\":\"o1\",\"kind\":\"switchover\","
        "\"type\":\"step_done\",\"step\":\"check_lag:db2\",\"ms\":3}",
        "{\"seq\":4,\"cluster\":\"main\",\"op\":\"o1\",\"kind\":\"switchover\",\"type\":\"step\","
        "\"step\":\"promote:db2\",\"node\":\"db2\"}",
        "{\"seq\":5,\"cluster\":\"main\",\"op\":\"o1\",\"kind\":\"switchover\",\"type\":\"step\","
        "\"step\":\"hook:post_promotion\"}",
        NULL};
    json_t *recs = json_array();
    for (size_t i = 0; lines[i]; i++)
        json_array_append_new(recs, json_loads(lines[i], 0, NULL));
    json_t *sum = fo_interrupted_summary(recs);
    cr_expect_str_eq(json_string_value(json_object_get(sum, "candidate")), "db2");
    cr_expect_str_eq(json_string_value(json_object_get(sum, "promotion")), "unknown");
    cr_expect_str_eq(json_string_value(json_object_get(sum, "step")), "hook:post_promotion");
    cr_expect_str_eq(json_string_value(json_object_get(sum, "step_state")), "started");
    cr_expect_str_eq(fo_op_step_state(recs, step_hook_name(FO_HOOK_POST_PROMOTION)), "started");
    cr_expect_str_eq(fo_op_step_state(recs, "check_lag:db2"), "done");
    json_decref(sum);
    json_decref(recs);
}
