/* The observation record (obsrec.h): what decodes, what is rejected and why,
 * and that encoding and decoding agree. */
#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"
#include "obsrec.h"

/* A record with one node whose fields are node (JSON members after "name"). */
#define REC_WITH(top, node)                                                                        \
    "{\"v\":1,\"manager\":\"m2\",\"zone\":\"b\",\"cluster\":\"main\",\"seq\":7,"                   \
    "\"published_at\":1795474201123,\"primary\":\"db1\"" top ",\"nodes\":[{\"name\":\"db1\"," node \
    "}]}"
#define NODE_OK "\"reachable\":true,\"since_ms\":60000"
#define REC(node) REC_WITH("", node)

typedef struct {
    const char *rule;
    const char *text;
    bool ok;
    const char *err_contains;
} row_t;

static const row_t rows[] = {
    {"a minimal record decodes", REC(NODE_OK), true, NULL},
    {"a full node decodes",
     REC("\"reachable\":false,\"since_ms\":5200,\"error\":\"timeout\",\"io\":\"connecting\","
         "\"sql\":true,\"source\":\"10.0.0.1:3306\",\"gtid\":{\"hash\":\"0123456789abcdef\","
         "\"count\":42},\"lag_ms\":1500"),
     true, NULL},
    {"unknown fields are ignored, at the top and in a node",
     REC_WITH(",\"future\":{\"x\":[1,2]}", NODE_OK ",\"rtt_us\":12"), true, NULL},
    {"an error class a newer version knows reads as other",
     REC("\"reachable\":false,\"since_ms\":1,\"error\":\"tls_handshake\""), true, NULL},
    {"no nodes at all is a record", "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":0,"
                                    "\"published_at\":0,\"nodes\":[]}",
     true, NULL},
    {"not JSON", "{\"v\":1,", false, "not valid JSON"},
    {"empty", "", false, "empty"},
    {"not an object", "[1,2,3]", false, "must be a JSON object"},
    {"duplicate keys", "{\"v\":1,\"v\":1}", false, "not valid JSON"},
    {"no version", "{\"manager\":\"m2\"}", false, "v (the record's version)"},
    {"another version", "{\"v\":2,\"manager\":\"m2\"}", false, "version 2 is not supported"},
    {"no manager", "{\"v\":1,\"cluster\":\"main\"}", false, "manager is missing"},
    {"a manager given twice", REC_WITH(",\"manager\":\"m 2\"", NODE_OK), false,
     "not valid JSON"},
    {"a manager id with a slash",
     "{\"v\":1,\"manager\":\"m/2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,\"nodes\":[]}",
     false, "manager must be 1 to 64 characters"},
    {"a negative sequence number",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":-1,\"published_at\":1,\"nodes\":[]}",
     false, "seq must be a non-negative integer"},
    {"published_at as text",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":\"now\","
     "\"nodes\":[]}",
     false, "published_at must be a non-negative integer"},
    {"nodes not an array",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,\"nodes\":{}}",
     false, "nodes must be an array"},
    {"reachable as a string", REC("\"reachable\":\"no\",\"since_ms\":1"), false,
     "node db1: reachable must be true or false"},
    {"no since_ms", REC("\"reachable\":true"), false, "node db1: since_ms is missing"},
    {"an unreachable node without an error class", REC("\"reachable\":false,\"since_ms\":1"), false,
     "needs an error class"},
    {"a reachable node with an error", REC(NODE_OK ",\"error\":\"timeout\""), false,
     "can't have an error"},
    {"a bad GTID hash", REC(NODE_OK ",\"gtid\":{\"hash\":\"XYZ\",\"count\":1}"), false,
     "gtid.hash must be 16 lower-case hex digits"},
    {"a GTID digest without a count", REC(NODE_OK ",\"gtid\":{\"hash\":\"0123456789abcdef\"}"),
     false, "gtid.count is missing"},
    {"a negative lag", REC(NODE_OK ",\"lag_ms\":-5"), false, "lag_ms must be a non-negative"},
    {"io as a number", REC(NODE_OK ",\"io\":1"), false, "io must be a string or null"},
    {"a node listed twice",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,\"nodes\":["
     "{\"name\":\"db1\"," NODE_OK "},{\"name\":\"db1\"," NODE_OK "}]}",
     false, "node db1 is listed twice"},
    {"a node name with a control character",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,\"nodes\":["
     "{\"name\":\"db\\u0001\"," NODE_OK "}]}",
     false, "nodes[0]: name must be 1 to 255 bytes"},
    {"a NUL inside a string", "{\"v\":1,\"manager\":\"m\\u00002\"}", false, "not valid JSON"},
    {"an integer too large for JSON numbers here",
     "{\"v\":1,\"manager\":\"m2\",\"cluster\":\"main\",\"seq\":99999999999999999999,"
     "\"published_at\":1,\"nodes\":[]}",
     false, "not valid JSON"},
};

/* One test walks the table (criterion's sandboxed parameters can't carry
 * pointers); each failure names its rule. */
static void check_row(const row_t *row)
{
    obsrec_t r;
    char err[OBSREC_ERR_SIZE] = "";
    bool ok = obsrec_decode(row->text, strlen(row->text), &r, err, sizeof err);
    cr_expect_eq(ok, row->ok, "%s: %s", row->rule, err);
    if (!ok && row->err_contains) {
        cr_expect_not_null(strstr(err, row->err_contains), "%s: '%s' lacks '%s'", row->rule, err,
                           row->err_contains);
        cr_expect_null(r.manager, "%s: nothing is left of a rejected record", row->rule);
        cr_expect_eq(r.n_nodes, 0);
    }
    obsrec_free(&r);
}

Test(obsrec, decode_rules)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_row(&rows[i]);
}

Test(obsrec, decoded_fields)
{
    const char *t = REC("\"reachable\":false,\"since_ms\":5200,\"error\":\"timeout\",\"io\":"
                        "\"connecting\",\"sql\":false,\"source\":\"10.0.0.1:3306\",\"gtid\":{"
                        "\"hash\":\"0123456789abcdef\",\"count\":42},\"lag_ms\":1500");
    obsrec_t r;
    char err[OBSREC_ERR_SIZE];
    cr_assert(obsrec_decode(t, strlen(t), &r, err, sizeof err), "%s", err);
    cr_assert_str_eq(r.manager, "m2");
    cr_assert_str_eq(r.zone, "b");
    cr_assert_str_eq(r.cluster, "main");
    cr_assert_str_eq(r.primary, "db1");
    cr_assert_eq(r.seq, 7);
    cr_assert_eq(r.published_at, 1795474201123ULL);
    const obsrec_node_t *n = obsrec_node(&r, "db1");
    cr_assert_not_null(n);
    cr_assert_not(n->reachable);
    cr_assert_eq(n->since_ms, 5200);
    cr_assert_eq(n->error, OBS_ERR_TIMEOUT);
    cr_assert_eq(n->io, IO_CONNECTING);
    cr_assert_eq(n->sql, 0);
    cr_assert_str_eq(n->source, "10.0.0.1:3306");
    cr_assert_str_eq(n->gtid_hash, "0123456789abcdef");
    cr_assert_eq(n->gtid_count, 42);
    cr_assert_eq(n->lag_ms, 1500);
    cr_assert_null(obsrec_node(&r, "db2"));
    obsrec_free(&r);

    /* Absent optional fields: zone "", no primary, replication unknown. */
    const char *m = "{\"v\":1,\"manager\":\"m3\",\"cluster\":\"main\",\"seq\":1,\"published_at\":1,"
                    "\"nodes\":[{\"name\":\"db2\"," NODE_OK "}]}";
    cr_assert(obsrec_decode(m, strlen(m), &r, err, sizeof err), "%s", err);
    cr_assert_str_eq(r.zone, "");
    cr_assert_null(r.primary);
    cr_assert_eq(r.nodes[0].io, IO_UNKNOWN);
    cr_assert_eq(r.nodes[0].sql, -1);
    cr_assert_eq(r.nodes[0].lag_ms, -1);
    cr_assert_str_eq(r.nodes[0].gtid_hash, "");
    obsrec_free(&r);
}

static obsrec_t sample(size_t n_nodes)
{
    obsrec_t r = {.version = OBSREC_VERSION, .manager = xstrdup("m1"), .zone = xstrdup("a"),
                  .cluster = xstrdup("main"), .seq = 99, .published_at = 1795474201123ULL,
                  .primary = xstrdup("db1"), .n_nodes = n_nodes};
    r.nodes = xcalloc(n_nodes + 1, sizeof *r.nodes);
    for (size_t i = 0; i < n_nodes; i++) {
        obsrec_node_t *n = &r.nodes[i];
        char name[32];
        snprintf(name, sizeof name, "db%zu", i + 1);
        n->name = xstrdup(name);
        n->reachable = i != 0;
        n->since_ms = 1000 * i + 5;
        n->error = i == 0 ? OBS_ERR_CONNECT : OBS_ERR_NONE;
        n->io = i == 0 ? IO_UNKNOWN : IO_YES;
        n->sql = i == 0 ? -1 : 1;
        n->source = i == 0 ? NULL : xstrdup("10.0.0.1:3306");
        obsrec_gtid_hash(i == 0 ? "0-1-42" : "0-1-41", n->gtid_hash);
        n->gtid_count = 42 - (i != 0);
        n->lag_ms = i == 0 ? -1 : (int64_t)i * 10;
    }
    return r;
}

Test(obsrec, encode_then_decode_gives_the_same_record)
{
    obsrec_t r = sample(3);
    char err[OBSREC_ERR_SIZE];
    char *text = obsrec_encode(&r, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    obsrec_t back;
    cr_assert(obsrec_decode(text, strlen(text), &back, err, sizeof err), "%s: %s", text, err);
    json_t *a = obsrec_to_json(&r), *b = obsrec_to_json(&back);
    cr_assert(json_equal(a, b), "%s", text);
    cr_assert_eq(back.nodes[0].error, OBS_ERR_CONNECT);
    cr_assert_eq(back.nodes[1].io, IO_YES);
    json_decref(a);
    json_decref(b);
    free(text);
    obsrec_free(&back);
    obsrec_free(&r);
}

Test(obsrec, oversized_records_are_refused_both_ways)
{
    obsrec_t r = sample(OBSREC_MAX_NODES + 1);
    char err[OBSREC_ERR_SIZE];
    cr_assert_null(obsrec_encode(&r, err, sizeof err));
    cr_assert_not_null(strstr(err, "65 nodes: at most 64"), "%s", err);
    obsrec_free(&r);

    /* Text over the bound is refused before it is parsed. */
    buf_t b = BUF_INIT;
    buf_puts(&b, "{\"v\":1,\"pad\":\"");
    while (b.len <= OBSREC_MAX_BYTES)
        buf_puts(&b, "xxxxxxxxxxxxxxxx");
    buf_puts(&b, "\"}");
    obsrec_t out;
    cr_assert_not(obsrec_decode(buf_str(&b), b.len, &out, err, sizeof err));
    cr_assert_not_null(strstr(err, "bytes: at most 16384"), "%s", err);
    buf_free(&b);
}

Test(obsrec, a_record_the_decoder_would_refuse_is_not_encoded)
{
    obsrec_t r = sample(1);
    free(r.manager);
    r.manager = xstrdup("has space");
    char err[OBSREC_ERR_SIZE];
    cr_assert_null(obsrec_encode(&r, err, sizeof err));
    cr_assert_not_null(strstr(err, "manager must be"), "%s", err);
    obsrec_free(&r);
}

Test(obsrec, gtid_digest_and_error_classes)
{
    char h[OBSREC_HASH_LEN + 1];
    obsrec_gtid_hash("", h);
    cr_assert_str_eq(h, "cbf29ce484222325"); /* FNV-1a 64 of nothing */
    obsrec_gtid_hash("a", h);
    cr_assert_str_eq(h, "af63dc4c8601ec8c");
    for (int e = OBS_ERR_NONE; e <= OBS_ERR_OTHER; e++) {
        obs_err_t back;
        cr_assert(obs_err_parse(obs_err_str((obs_err_t)e), &back));
        cr_assert_eq(back, (obs_err_t)e);
    }
    obs_err_t x;
    cr_assert_not(obs_err_parse("nonsense", &x));
}
