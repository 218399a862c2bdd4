/* test_haproxy.c - the HAProxy plugin's commands and answers (hapcmd.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "hapcmd.h"

Test(haproxy, commands_take_the_old_writer_out_first)
{
    hap_server_t s[] = {
        {.node = "db1", .server = "db1", .writer = false, .reader = false, .was_writer = true},
        {.node = "db2", .server = "s2", .writer = true, .reader = false, .was_writer = false},
        {.node = "db3", .server = "db3", .writer = false, .reader = true, .was_writer = false},
    };
    putil_str_t out = {0};
    hap_commands(s, 3, "writer", "reader", &out);
    cr_expect_str_eq(putil_str_get(&out),
                     "set server writer/db1 state maint; shutdown sessions server writer/db1; "
                     "set server writer/db3 state maint; set server writer/s2 state ready; "
                     "set server reader/db1 state maint; set server reader/s2 state maint; "
                     "set server reader/db3 state ready\n");
    putil_str_free(&out);
    hap_commands(s, 3, "w", "", &out);
    cr_expect_str_eq(putil_str_get(&out), "set server w/db1 state maint; shutdown sessions "
                                          "server w/db1; set server w/db3 state maint; set "
                                          "server w/s2 state ready\n");
    putil_str_free(&out);
}

Test(haproxy, answers)
{
    char why[64];
    cr_expect(hap_answer_ok("", why, sizeof why));
    cr_expect(hap_answer_ok("\n\n\n", why, sizeof why));
    cr_expect(!hap_answer_ok("\nNo such server.\n\n", why, sizeof why));
    cr_expect_str_eq(why, "No such server.");
    cr_expect(!hap_answer_ok("Permission denied\n", why, sizeof why));
    cr_expect_str_eq(why, "Permission denied");
}

Test(haproxy, routing_event)
{
    hap_server_t s[] = {{.node = "db1", .server = "db1"}, {.node = "db2", .server = "db2"}};
    char why[128];
    cr_assert(hap_read_routing("{\"event\":\"routing_changed\",\"nodes\":[{\"name\":\"db1\","
                               "\"writer\":true,\"reader\":false},{\"name\":\"db2\",\"writer\":"
                               "false,\"reader\":true}]}",
                               s, 2, why, sizeof why));
    cr_expect(s[0].writer && !s[0].reader && !s[1].writer && s[1].reader);
    cr_expect(!hap_read_routing("{\"event\":\"node_up\"}", s, 2, why, sizeof why));
    cr_expect(!hap_read_routing("not json", s, 2, why, sizeof why));
}
