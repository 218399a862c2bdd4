/* hapcmd.h - the pure part of the HAProxy plugin: what the two backends
 * should hold, as runtime API commands, and what HAProxy's answers mean.
 * No I/O, no clock (tests/unit/test_haproxy.c).
 */
#ifndef FAILOVERD_HAPCMD_H
#define FAILOVERD_HAPCMD_H

#include <stdbool.h>
#include <stddef.h>

#include "putil.h"

/* One node as the plugin sees it: its HAProxy server name and where traffic
 * should go. */
typedef struct {
    const char *node;   /* failoverd's name */
    const char *server; /* HAProxy's server name in both backends */
    bool writer;        /* wanted in the writer backend */
    bool reader;        /* wanted in the reader backend */
    bool was_writer;    /* was in the writer backend at the last change sent */
} hap_server_t;

/* The commands that bring both backends to the wanted state, joined by "; "
 * and ended by a newline (one request in non-interactive mode): every server
 * of the writer backend "ready" or "maint", likewise in the reader backend, and
 * "shutdown sessions" for a server that leaves the writer backend (clients
 * connected to an old primary are cut off so that they reconnect to the new
 * one). reader_backend "" leaves the readers alone. */
void hap_commands(const hap_server_t *s, size_t n, const char *writer_backend,
                  const char *reader_backend, putil_str_t *out);

/* Whether HAProxy's answer to such a request says every command worked: it
 * prints nothing for a successful "set server" or "shutdown sessions", and a
 * sentence for each one that failed ("No such server.", "Permission denied").
 * When not, why holds that text on one line. */
bool hap_answer_ok(const char *answer, char *why, size_t why_len);

/* Reads a routing_changed event's JSON (its "nodes" array) into the wanted
 * state of s[]: writer/reader of each node it names. Returns false (why
 * filled) when the JSON is not such an event. */
bool hap_read_routing(const char *event_json, hap_server_t *s, size_t n, char *why,
                      size_t why_len);

#endif
