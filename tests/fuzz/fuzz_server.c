/* Values servers send, parsed where they enter: the node state row (version,
 * read_only, GTID state, semi-sync counters) and the replica status rows, by
 * the prober's own parsing code (lib/io/probe.c, included for its static
 * functions), then the GTID check made on every observation, the status JSON
 * built from it, and rejoin_compare on a MariaDB binlog state or MySQL set.
 *
 * Input: fields separated by 0x1f, rows by 0x1e; the first row fills the node
 * state columns in order, later rows the replica status columns; a field
 * "\N" is SQL NULL.  The last field is also the primary's state for
 * rejoin_compare. */
#include "../../lib/io/probe.c"

#include "filters.h"
#include "fuzz.h"
#include "jtext.h"
#include "rejoin.h"
#include "status.h"

typedef struct {
    const char *names[96];
    size_t n;
} cols_t;

static void fill(dbconn_rs_t *rs, const cols_t *c, char **fields, size_t nf)
{
    size_t rows = nf / c->n + (nf % c->n ? 1 : 0);
    rs->has_rows = true;
    rs->ncols = c->n;
    rs->cols = (char **)c->names;
    rs->nrows = rows;
    rs->vals = calloc(rows * c->n + 1, sizeof *rs->vals);
    rs->lens = calloc(rows * c->n + 1, sizeof *rs->lens);
    for (size_t i = 0; i < nf; i++) {
        if (strcmp(fields[i], "\\N") == 0)
            continue;
        rs->vals[i] = fields[i];
        rs->lens[i] = strlen(fields[i]);
    }
}

/* Fills the stack below the caller with non-NUL bytes, so that a buffer read
 * before anything wrote it runs into ASan's redzone instead of stopping at a
 * stray NUL. */
__attribute__((noinline)) static void dirty_stack(void)
{
    volatile char junk[16384];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = 'A';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *s = fuzz_str(data, size);
    /* Rows, then fields. */
    char *rows[64];
    size_t nrows = 0;
    for (char *r = s; r && nrows < 64;) {
        rows[nrows++] = r;
        char *next = strchr(r, '\x1e');
        if (next)
            *next++ = '\0';
        r = next;
    }
    char *state_f[FLAVOR_NS_COUNT + 1], *repl_f[4096];
    size_t ns = 0, nr = 0;
    for (char *f = rows[0]; f && ns < FLAVOR_NS_COUNT;) {
        state_f[ns++] = f;
        char *next = strchr(f, '\x1f');
        if (next)
            *next++ = '\0';
        f = next;
    }
    const char *last = ns ? state_f[ns - 1] : "";
    for (size_t r = 1; r < nrows; r++)
        for (char *f = rows[r]; f && nr < 4096;) {
            repl_f[nr++] = f;
            char *next = strchr(f, '\x1f');
            if (next)
                *next++ = '\0';
            f = next;
            last = repl_f[nr - 1];
        }

    probe_t p = {0};
    cols_t sc = {.n = FLAVOR_NS_COUNT};
    for (size_t i = 0; i < FLAVOR_NS_COUNT; i++)
        sc.names[i] = flavor_node_state_columns[i];
    dbconn_rs_t state = {0}, repl = {0};
    fill(&state, &sc, state_f, ns);
    state.nrows = 1;
    observation_t o = {.ok = true};
    if (parse_state(&p, &state, &o)) {
        /* The replica status columns of the flavor the version named. */
        const flavor_replica_columns_t *R = flavor_replica_columns(&p.flavor);
        const char *const *rc = (const char *const *)R;
        cols_t cc = {0};
        for (size_t i = 0; i < sizeof *R / sizeof(char *); i++)
            if (rc[i])
                cc.names[cc.n++] = rc[i];
        for (size_t i = 0; filters_columns[i]; i++)
            cc.names[cc.n++] = filters_columns[i];
        if (nr) {
            fill(&repl, &cc, repl_f, nr);
            if (!parse_replica(&p, &repl, &o))
                FUZZ_CHECK(o.error && o.error[0], "a refused replica status says why");
        }
        o.gtid_error = elect_gtid_error(&o);
        char *errant = NULL;
        char err[256] = "";
        dirty_stack();
        int rc2 = rejoin_compare(o.family == FAMILY_MARIADB, o.gtid_executed, last, &errant, err,
                                 sizeof err);
        FUZZ_CHECK(rc2 != -1 || err[0], "rejoin_compare failed without saying why");
        FUZZ_CHECK((rc2 == 0) == (errant != NULL), "errant text exactly when errant");
        free(errant);
        (void)flavor_gtid_wait_result(&p.flavor, last);
        /* The observation as status shows it: nothing dropped. */
        cluster_t c = {.name = xstrdup("main"), .primary = -1};
        c.n_nodes = 1;
        c.nodes = xcalloc(1, sizeof *c.nodes);
        node_init(&c.nodes[0], "db1", "10.0.0.1", 3306, RULE_NEUTRAL);
        bool replica = o.replica;
        node_observe(&c.nodes[0], &o); /* takes o's strings */
        status_clock_t clk = {.now_mono = 2000, .now_wall = 1795474201123ULL};
        json_t *j = status_cluster_json(&c, &clk);
        FUZZ_CHECK(j, "no status object");
        json_t *n0 = json_array_get(json_object_get(j, "nodes"), 0);
        FUZZ_CHECK(json_is_object(n0), "no node object");
        FUZZ_CHECK(!replica || json_is_object(json_object_get(n0, "replication")),
                   "a replica's replication member was dropped");
        char *dump = json_dumps(j, 0);
        FUZZ_CHECK(dump, "status does not serialize");
        free(dump);
        json_decref(j);
        cluster_free(&c);
    }
    observation_clear(&o);
    free(state.vals);
    free(state.lens);
    free(repl.vals);
    free(repl.lens);
    free(s);
    return 0;
}
