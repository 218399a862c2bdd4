/* hapcmd.c - see hapcmd.h. */
#include "hapcmd.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

void hap_commands(const hap_server_t *s, size_t n, const char *writer_backend,
                  const char *reader_backend, putil_str_t *out)
{
    size_t k = 0;
    /* Out of the writer backend first, so that there is never a moment with
     * two servers ready in it. */
    for (size_t i = 0; i < n; i++) {
        if (s[i].writer)
            continue;
        putil_str_printf(out, "%sset server %s/%s state maint", k++ ? "; " : "", writer_backend,
                         s[i].server);
        if (s[i].was_writer)
            putil_str_printf(out, "; shutdown sessions server %s/%s", writer_backend, s[i].server);
    }
    for (size_t i = 0; i < n; i++)
        if (s[i].writer)
            putil_str_printf(out, "%sset server %s/%s state ready", k++ ? "; " : "",
                             writer_backend, s[i].server);
    if (reader_backend && reader_backend[0])
        for (size_t i = 0; i < n; i++)
            putil_str_printf(out, "%sset server %s/%s state %s", k++ ? "; " : "", reader_backend,
                             s[i].server, s[i].reader ? "ready" : "maint");
    putil_str_puts(out, "\n");
}

bool hap_answer_ok(const char *answer, char *why, size_t why_len)
{
    size_t o = 0;
    bool ok = true;
    for (const char *p = answer; *p; p++) {
        if (isspace((unsigned char)*p)) {
            if (o && why[o - 1] != ' ' && !ok && o + 1 < why_len)
                why[o++] = ' ';
            continue;
        }
        ok = false;
        if (o + 1 < why_len)
            why[o++] = *p;
    }
    while (o && why[o - 1] == ' ')
        o--;
    if (why_len)
        why[o < why_len ? o : why_len - 1] = '\0';
    return ok;
}

bool hap_read_routing(const char *event_json, hap_server_t *s, size_t n, char *why,
                      size_t why_len)
{
    json_error_t e;
    json_t *j = json_loads(event_json ? event_json : "", 0, &e);
    json_t *nodes = json_object_get(j, "nodes");
    if (!json_is_array(nodes)) {
        snprintf(why, why_len, "the event has no \"nodes\" list");
        json_decref(j);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        s[i].writer = s[i].reader = false;
    size_t k;
    json_t *v;
    json_array_foreach(nodes, k, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        for (size_t i = 0; name && i < n; i++)
            if (strcmp(s[i].node, name) == 0) {
                s[i].writer = json_is_true(json_object_get(v, "writer"));
                s[i].reader = json_is_true(json_object_get(v, "reader"));
            }
    }
    json_decref(j);
    return true;
}
