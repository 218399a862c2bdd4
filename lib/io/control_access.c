/* control_access.c - who may use the control socket (owner, listed users and
 * groups, readers), how many connections each may hold, and the access lists'
 * own copies. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

#include "control_int.h"

/* ---- access rule ---- */

void control_opts_init(control_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->mode = 0660;
    opts->gid = (gid_t)-1;
    opts->acl.self_uid = geteuid();
    opts->max_request = CONTROL_DEFAULT_MAX_REQUEST;
    opts->max_output = CONTROL_DEFAULT_MAX_OUTPUT;
    opts->idle_timeout_ms = CONTROL_DEFAULT_IDLE_TIMEOUT_MS;
    opts->max_connections = CONTROL_DEFAULT_MAX_CONNECTIONS;
}

static bool gid_listed(gid_t g, const control_acl_t *acl)
{
    for (size_t i = 0; i < acl->n_gids; i++)
        if (acl->gids[i] == g)
            return true;
    return false;
}

static bool in_lists(const control_peer_t *peer, const uid_t *uids, size_t n_uids,
                     const gid_t *gids, size_t n_gids)
{
    control_acl_t g = {.gids = gids, .n_gids = n_gids};
    for (size_t i = 0; i < n_uids; i++)
        if (uids[i] == peer->uid)
            return true;
    if (gid_listed(peer->gid, &g))
        return true;
    for (size_t i = 0; i < peer->n_groups; i++)
        if (gid_listed(peer->groups[i], &g))
            return true;
    return false;
}

/* Rules, first match wins:
 *   1. root is an operator (it could take the socket anyway);
 *   2. the daemon's own uid is an operator;
 *   3. a listed uid, or a listed group (primary or supplementary), is an operator;
 *   4. a uid or group of the read-only lists is a reader;
 *   5. everyone else is refused. */
control_role_t control_peer_role(const control_peer_t *peer, const control_acl_t *acl)
{
    if (peer->uid == 0 || peer->uid == acl->self_uid)
        return CONTROL_ROLE_OPERATE;
    if (in_lists(peer, acl->uids, acl->n_uids, acl->gids, acl->n_gids))
        return CONTROL_ROLE_OPERATE;
    if (in_lists(peer, acl->ro_uids, acl->n_ro_uids, acl->ro_gids, acl->n_ro_gids))
        return CONTROL_ROLE_READ;
    return CONTROL_ROLE_NONE;
}

bool control_peer_allowed(const control_peer_t *peer, const control_acl_t *acl)
{
    return control_peer_role(peer, acl) == CONTROL_ROLE_OPERATE;
}

unsigned control__reader_limit(unsigned max_connections)
{
    return max_connections > CONTROL_RESERVED_SLOTS ? max_connections - CONTROL_RESERVED_SLOTS : 1;
}

bool control_slot_free(control_role_t role, unsigned open, unsigned max_connections)
{
    if (role == CONTROL_ROLE_OPERATE)
        return open < max_connections;
    return open < control__reader_limit(max_connections);
}

void control__acl_free(control_acl_t *a)
{
    free((void *)a->uids);
    free((void *)a->gids);
    free((void *)a->ro_uids);
    free((void *)a->ro_gids);
    memset(a, 0, sizeof *a);
}

static void *dup_ids(const void *ids, size_t n, size_t size)
{
    if (!n)
        return NULL;
    void *d = xcalloc(n, size);
    memcpy(d, ids, n * size);
    return d;
}

void control__acl_copy(control_acl_t *to, const control_acl_t *from)
{
    *to = (control_acl_t){
        .self_uid = from->self_uid,
        .uids = dup_ids(from->uids, from->n_uids, sizeof(uid_t)),
        .n_uids = from->n_uids,
        .gids = dup_ids(from->gids, from->n_gids, sizeof(gid_t)),
        .n_gids = from->n_gids,
        .ro_uids = dup_ids(from->ro_uids, from->n_ro_uids, sizeof(uid_t)),
        .n_ro_uids = from->n_ro_uids,
        .ro_gids = dup_ids(from->ro_gids, from->n_ro_gids, sizeof(gid_t)),
        .n_ro_gids = from->n_ro_gids,
    };
}
