/* ctlclient.h - the client side of the control protocol, for failoverctl.
 *
 * One request, one reply, over the daemon's Unix socket, bounded by a deadline:
 * a daemon that does not answer (or a full accept queue) ends in a timeout,
 * never a hang. This is command-line code: it blocks the calling thread (in
 * poll, with the remaining time), so the daemon itself never uses it.
 */
#ifndef FAILOVERD_CTLCLIENT_H
#define FAILOVERD_CTLCLIENT_H

#include <stddef.h>

#include <jansson.h>

typedef enum {
    CTLCLIENT_OK,          /* a reply arrived: {"ok": true|false, ...} */
    CTLCLIENT_UNREACHABLE, /* no daemon at the socket, or no permission to reach it */
    CTLCLIENT_TIMEOUT,     /* no complete reply before the deadline */
    CTLCLIENT_CLOSED,      /* the daemon closed the connection without a reply */
    CTLCLIENT_PROTOCOL,    /* the reply is not a reply of this protocol */
} ctlclient_status_t;

/* Send {"cmd": cmd, "args": args} (args may be NULL; borrowed) to the daemon at
 * path and wait at most timeout_ms for the reply line. On CTLCLIENT_OK *reply
 * holds the reply object (caller decrefs); otherwise err says what happened. */
ctlclient_status_t ctlclient_call(const char *path, const char *cmd, json_t *args, int timeout_ms,
                                  json_t **reply, char *err, size_t errlen);

/* failoverctl's exit code for an error code of the protocol:
 *   busy                                           -> FO_EXIT_TEMPFAIL (75)
 *   bad_request unknown_command missing_argument
 *   bad_argument not_found forbidden too_large     -> FO_EXIT_DATAERR (65)
 *   internal                                       -> FO_EXIT_SOFTWARE (70)
 *   failed, and codes this client does not know   -> FO_EXIT_FAILURE (1) */
int ctlclient_exit_for_error(const char *code);

/* failoverctl's exit code for a call: the reply's when one arrived (0 for
 * "ok": true), else unreachable/closed -> 69, timeout -> 75, protocol -> 70. */
int ctlclient_exit_code(ctlclient_status_t status, const json_t *reply);

#endif
