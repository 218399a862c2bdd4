/* hookctx.c - the context a hook point gets: from an event (hooks_ctx_from_event),
 * as JSON for scripts and plugins, and as FAILOVERD_* environment variables
 * (hooks_env).  Declared in hooks.h; split from hooks.c, which runs the hooks. */
#include "hooks.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A node named in event data: a name, or {"name","host","port"}. */
static void jref(json_t *o, const char *key, failoverd_node_ref_t *r)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        r->name = json_string_value(v);
    else if (json_is_object(v)) {
        r->name = jstr(v, "name");
        r->host = jstr(v, "host");
        r->port = (int)json_integer_value(json_object_get(v, "port"));
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

failoverd_context_t *hooks_ctx_from_event(const event_t *ev, failoverd_hook_point_t point,
                                          const char *default_policy)
{
    json_t *d = ev->data;
    failoverd_context_t c = {.size = sizeof c,
                             .point = point,
                             .hook = failoverd_hook_point_name(point),
                             .cluster = ev->cluster,
                             .event = ev->name,
                             .message = ev->message};
    c.node.name = ev->node;
    c.operation = jstr(d, "operation");
    c.policy = jstr(d, "policy");
    if (!c.policy)
        c.policy = default_policy;
    jref(d, "old_primary", &c.old_primary);
    jref(d, "new_primary", &c.new_primary);
    jref(d, "candidate", &c.candidate);
    /* The primary found dead is the one a failover will replace. */
    if (!c.old_primary.name && point == FAILOVERD_HOOK_DETECTION)
        c.old_primary.name = ev->node;
    c.lost_gtids = jstr(d, "lost_gtids");
    if (!c.lost_gtids)
        c.lost_gtids = jstr(d, "possibly_lost"); /* as failover_done says it */
    c.errant_gtids = jstr(d, "errant_gtids");
    c.lost_as_of = jstr(d, "lost_as_of");
    c.lost_at_least = json_integer_value(json_object_get(d, "lost_at_least"));

    /* Timings: the members of "timings", and any integer member named *_ms. */
    json_t *timings = json_object_get(d, "timings");
    size_t cap = json_object_size(d) + json_object_size(timings);
    failoverd_timing_t *t = xcalloc(cap ? cap : 1, sizeof *t);
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(timings, key, v)
    {
        if (json_is_integer(v))
            t[n++] = (failoverd_timing_t){.name = key, .ms = json_integer_value(v)};
    }
    json_object_foreach(d, key, v)
    {
        if (json_is_integer(v) && ends_with(key, "_ms"))
            t[n++] = (failoverd_timing_t){.name = key, .ms = json_integer_value(v)};
    }
    c.timings = t;
    c.n_timings = n;

    json_t *j = event_to_json(ev);
    redact_json(j);
    char *text = json_dumps(j, JSON_COMPACT);
    c.event_json = text;
    failoverd_context_t *out = plugin_ctx_dup(&c);
    free(text);
    json_decref(j);
    free(t);
    return out;
}

static json_t *ref_json(const failoverd_node_ref_t *r)
{
    if (!r->name[0])
        return json_null();
    return json_pack("{s:s, s:s, s:i}", "name", r->name, "host", r->host, "port", r->port);
}

/* The JSON of a context that came from the executor rather than from an event. */
char *hooks_ctx_json(const failoverd_context_t *c)
{
    json_t *timings = json_object();
    for (size_t i = 0; i < c->n_timings; i++)
        json_object_set_new(timings, c->timings[i].name, json_integer(c->timings[i].ms));
    char ts[32];
    format_wall_ms(wall_now_ms(), ts, sizeof ts);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:o, s:s, s:s}", "event",
        c->event, "hook", c->hook, "cluster", c->cluster, "operation", c->operation, "policy",
        c->policy, "message", c->message, "node", ref_json(&c->node), "old_primary",
        ref_json(&c->old_primary), "new_primary", ref_json(&c->new_primary), "candidate",
        ref_json(&c->candidate), "lost_gtids", c->lost_gtids, "errant_gtids", c->errant_gtids,
        "timings", timings, "time", ts, "level", "info");
    if (c->lost_as_of && c->lost_as_of[0]) {
        json_object_set_new(j, "lost_at_least", json_integer(c->lost_at_least));
        json_object_set_new(j, "lost_as_of", json_string(c->lost_as_of));
    }
    redact_json(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void env_add(char ***v, size_t *n, size_t *cap, const char *name, const char *value)
{
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s=%s", name, value ? value : "");
    (*v)[(*n)++] = buf_steal(&b);
    (*v)[*n] = NULL;
}

static void env_ref(char ***v, size_t *n, size_t *cap, const char *prefix,
                    const failoverd_node_ref_t *r)
{
    char name[64], port[16] = "";
    if (r->port > 0)
        snprintf(port, sizeof port, "%d", r->port);
    env_add(v, n, cap, prefix, r->name);
    snprintf(name, sizeof name, "%s_HOST", prefix);
    env_add(v, n, cap, name, r->host);
    snprintf(name, sizeof name, "%s_PORT", prefix);
    env_add(v, n, cap, name, port);
}

char **hooks_env(const failoverd_context_t *c)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    env_add(&v, &n, &cap, "FAILOVERD_VERSION", FAILOVERD_VERSION);
    env_add(&v, &n, &cap, "FAILOVERD_HOOK", c->hook);
    env_add(&v, &n, &cap, "FAILOVERD_CLUSTER", c->cluster);
    env_add(&v, &n, &cap, "FAILOVERD_EVENT", c->event);
    env_add(&v, &n, &cap, "FAILOVERD_OPERATION", c->operation);
    env_add(&v, &n, &cap, "FAILOVERD_POLICY", c->policy);
    env_ref(&v, &n, &cap, "FAILOVERD_NODE", &c->node);
    env_ref(&v, &n, &cap, "FAILOVERD_OLD_PRIMARY", &c->old_primary);
    env_ref(&v, &n, &cap, "FAILOVERD_NEW_PRIMARY", &c->new_primary);
    env_ref(&v, &n, &cap, "FAILOVERD_CANDIDATE", &c->candidate);
    env_add(&v, &n, &cap, "FAILOVERD_LOST_GTIDS", c->lost_gtids);
    env_add(&v, &n, &cap, "FAILOVERD_ERRANT_GTIDS", c->errant_gtids);
    /* The loss as a lower bound with its time; both empty when not known. */
    char least[24] = "";
    if (c->lost_as_of && c->lost_as_of[0])
        snprintf(least, sizeof least, "%lld", (long long)c->lost_at_least);
    env_add(&v, &n, &cap, "FAILOVERD_LOST_AT_LEAST", least);
    env_add(&v, &n, &cap, "FAILOVERD_LOST_AS_OF", c->lost_as_of);
    env_add(&v, &n, &cap, "FAILOVERD_MESSAGE", c->message);
    buf_t all = BUF_INIT;
    for (size_t i = 0; i < c->n_timings; i++) {
        buf_t name = BUF_INIT;
        buf_puts(&name, "FAILOVERD_TIMING_");
        for (const char *p = c->timings[i].name; *p; p++)
            buf_putc(&name, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
        char ms[24];
        snprintf(ms, sizeof ms, "%lld", (long long)c->timings[i].ms);
        env_add(&v, &n, &cap, buf_str(&name), ms);
        buf_printf(&all, "%s%s=%s", i ? " " : "", c->timings[i].name, ms);
        buf_free(&name);
    }
    env_add(&v, &n, &cap, "FAILOVERD_TIMINGS", buf_str(&all));
    buf_free(&all);
    /* One environment string may not exceed 128 KiB (execve fails with E2BIG);
     * a huge event (long GTID sets) still reaches the script on stdin. */
    bool fits = strlen(c->event_json) <= HOOKS_ENV_JSON_MAX;
    env_add(&v, &n, &cap, "FAILOVERD_EVENT_JSON", fits ? c->event_json : "");
    return v;
}
