/* recorder.c - a plugin for the unit tests: it writes what it is given to a
 * file and answers as its configuration says.
 *
 * Settings (all optional):
 *   out        file that gets one line per init, call and fini
 *   veto       hook points (comma-separated) at which it answers "veto"
 *   fail       hook points at which it answers "failed"
 *   delay_ms   answer that much later (through host->after)
 *   spawn      absolute path of a command run (through host->spawn) before
 *              answering: exit 0 -> ok, else failed; its stdout is the message
 *   fail_init  "true": init() fails
 *
 * Built three times by tests/unit/CMakeLists.txt: as is (recorder.so), with
 * RECORDER_ABI set to another version (badabi.so), and without the descriptor
 * symbol (nosym.so).
 */
#include <failoverd/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RECORDER_ABI
#define RECORDER_ABI FAILOVERD_PLUGIN_ABI_VERSION
#endif

typedef struct {
    const failoverd_host_t *host;
    char out[512];
    char veto[256];
    char fail[256];
    char spawn[512];
    unsigned long delay_ms;
} recorder_t;

typedef struct {
    recorder_t *r;
    failoverd_call_t *call;
    const failoverd_context_t *ctx;
} pending_t;

static void record(const recorder_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void record(const recorder_t *r, const char *fmt, ...)
{
    if (!r->out[0])
        return;
    FILE *f = fopen(r->out, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

/* Whether name is one of the comma-separated words of list. */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

static void answer(pending_t *pd, failoverd_outcome_t how, const char *message)
{
    pd->r->host->done(pd->call, how, message);
    free(pd);
}

static void answer_by_config(pending_t *pd)
{
    const char *hook = pd->ctx->hook;
    if (listed(pd->r->veto, hook))
        answer(pd, FAILOVERD_DONE_VETO, "the recorder vetoes");
    else if (listed(pd->r->fail, hook))
        answer(pd, FAILOVERD_DONE_FAILED, "the recorder fails");
    else
        answer(pd, FAILOVERD_DONE_OK, "recorded");
}

static void on_spawned(void *ud, const failoverd_spawn_result_t *res)
{
    pending_t *pd = ud;
    char msg[256];
    snprintf(msg, sizeof msg, "%.*s", (int)(res->out_len < 200 ? res->out_len : 200), res->out);
    msg[strcspn(msg, "\n")] = '\0';
    record(pd->r, "spawned %s status=%d exit=%d out=%s", pd->ctx->hook, (int)res->status,
           res->exit_code, msg);
    if (res->status == FAILOVERD_SPAWN_EXITED && res->exit_code == 0)
        answer(pd, FAILOVERD_DONE_OK, msg);
    else
        answer(pd, FAILOVERD_DONE_FAILED, msg);
}

static void on_delay(void *ud)
{
    answer_by_config(ud);
}

static int recorder_init(const failoverd_init_t *a, void **state, char *err, size_t err_len)
{
    recorder_t *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    r->host = a->host;
    int fail = 0;
    char config[512] = "";
    for (size_t i = 0; i < a->n_config; i++) {
        const char *k = a->config[i].key, *v = a->config[i].value;
        size_t used = strlen(config);
        snprintf(config + used, sizeof config - used, "%s%s=%s", i ? "," : "", k, v);
        if (strcmp(k, "out") == 0)
            snprintf(r->out, sizeof r->out, "%s", v);
        else if (strcmp(k, "veto") == 0)
            snprintf(r->veto, sizeof r->veto, "%s", v);
        else if (strcmp(k, "fail") == 0)
            snprintf(r->fail, sizeof r->fail, "%s", v);
        else if (strcmp(k, "spawn") == 0)
            snprintf(r->spawn, sizeof r->spawn, "%s", v);
        else if (strcmp(k, "delay_ms") == 0)
            r->delay_ms = strtoul(v, NULL, 10);
        else if (strcmp(k, "fail_init") == 0)
            fail = strcmp(v, "true") == 0;
        else {
            snprintf(err, err_len, "unknown setting \"%s\"", k);
            free(r);
            return -1;
        }
    }
    if (fail) {
        snprintf(err, err_len, "fail_init is set");
        free(r);
        return -1;
    }
    char nodes[512] = "";
    for (size_t i = 0; i < a->n_nodes; i++) {
        size_t used = strlen(nodes);
        snprintf(nodes + used, sizeof nodes - used, "%s%s@%s:%d", i ? "," : "", a->nodes[i].name,
                 a->nodes[i].host, a->nodes[i].port);
        for (size_t k = 0; k < a->nodes[i].n_vars; k++) {
            used = strlen(nodes);
            snprintf(nodes + used, sizeof nodes - used, "[%s=%s]", a->nodes[i].vars[k].key,
                     a->nodes[i].vars[k].value);
        }
    }
    /* init() may log but must not act: spawn() is refused here. */
    const char *argv[] = {"/bin/true", NULL};
    failoverd_spawn_t cmd = {.size = sizeof cmd, .argv = argv};
    int spawn_rc = a->host->spawn(a->host, &cmd, on_spawned, NULL);
    record(r, "init cluster=%s config=%s nodes=%s spawn_in_init=%d", a->cluster, config, nodes,
           spawn_rc);
    a->host->log(a->host, FAILOVERD_LOG_INFO, "recording to %s", r->out[0] ? r->out : "nowhere");
    *state = r;
    return 0;
}

static void recorder_on_event(void *state, const failoverd_context_t *c, failoverd_call_t *call)
{
    recorder_t *r = state;
    record(r,
           "event hook=%s event=%s cluster=%s node=%s old=%s@%s:%d new=%s@%s:%d cand=%s "
           "policy=%s lost=%s errant=%s timings=%zu message=%s has_json=%d",
           c->hook, c->event, c->cluster, c->node.name, c->old_primary.name, c->old_primary.host,
           c->old_primary.port, c->new_primary.name, c->new_primary.host, c->new_primary.port,
           c->candidate.name, c->policy, c->lost_gtids, c->errant_gtids, c->n_timings, c->message,
           c->event_json[0] == '{');
    pending_t *pd = calloc(1, sizeof *pd);
    pd->r = r;
    pd->call = call;
    pd->ctx = c;
    if (r->spawn[0]) {
        const char *argv[] = {r->spawn, c->hook, NULL};
        const char *env[] = {"RECORDER=yes", NULL};
        failoverd_spawn_t cmd = {.size = sizeof cmd,
                                 .argv = argv,
                                 .env = env,
                                 .input = "from the recorder\n",
                                 .input_len = 18};
        if (r->host->spawn(r->host, &cmd, on_spawned, pd) != 0)
            answer(pd, FAILOVERD_DONE_FAILED, "spawn refused");
    } else if (r->delay_ms)
        r->host->after(r->host, r->delay_ms, on_delay, pd);
    else
        answer_by_config(pd); /* from within on_event: allowed */
}

static void recorder_fini(void *state)
{
    recorder_t *r = state;
    record(r, "fini");
    free(r);
}

#ifdef RECORDER_NO_SYMBOL
#define DESCRIPTOR not_the_descriptor
#else
#define DESCRIPTOR failoverd_plugin
#endif

FAILOVERD_PLUGIN_EXPORT const failoverd_plugin_t DESCRIPTOR = {
    .abi_version = RECORDER_ABI,
    .name = "recorder",
    .version = "1.0",
    .points = FAILOVERD_POINTS_ALL,
    .init = recorder_init,
    .on_event = recorder_on_event,
    .fini = recorder_fini,
};
