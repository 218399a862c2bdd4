/* filesafe.h - files an attacker could swap or read.
 *
 * failoverd runs code named in its configuration (plugins are loaded into the
 * daemon, hook scripts run as its user) and reads secrets from it. A file that
 * someone else can replace, or that lies in a directory someone else can
 * write, hands that someone the daemon's rights; a configuration with inline
 * passwords that others can read hands them the database. These checks run
 * on every load (start, --check-config, reload), after the file parsed, and
 * refuse with the file's name and the fix.
 *
 * The rules (docs/security.md, "Files"):
 *   - a plugin or hook program, and every directory above it, belongs to root
 *     or to the daemon's user and is not writable by group or others; a
 *     directory writable by others is accepted only with the sticky bit
 *     (/tmp): there, others cannot rename or remove what they do not own;
 *   - a relative plugin path stays inside the plugin directory (no "..");
 *   - when a cluster has an inline password, no file of the configuration is
 *     readable by others, nor by a group other than the daemon's own or the
 *     service's group FILESAFE_SERVICE_GROUP (systemd/failoverd.sysusers);
 *   - a password file belongs to the daemon's user (its mode is checked when
 *     it is read: config.c).
 * The judgements of one file's owner and mode are pure (unit-tested); the
 * walk over the path is thin I/O.
 */
#ifndef FAILOVERD_FILESAFE_H
#define FAILOVERD_FILESAFE_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"

/* The group of the packaged service's user. */
#define FILESAFE_SERVICE_GROUP "failoverd"

/* What the checks need of a stat(2). */
typedef struct {
    uid_t uid;
    gid_t gid;
    mode_t mode; /* type and permission bits */
} filesafe_stat_t;

/* Pure: may a program (or, is_dir, a directory on its path) with st be trusted
 * by a daemon running as uid self? false with why set ("is owned by uid 1000 ..."). */
bool filesafe_trusted(const filesafe_stat_t *st, uid_t self, buf_t *why);

/* Pure: may a configuration file holding passwords have st, for a daemon
 * whose group is self_gid? */
bool filesafe_secret_readers_ok(const filesafe_stat_t *st, gid_t self_gid, buf_t *why);

/* Pure: a relative plugin path that does not climb out of its directory. */
bool filesafe_relative_ok(const char *path);

/* The path and every directory above it (symbolic links resolved) pass
 * filesafe_trusted(); false with why set, naming the offending file and the fix.
 * A path that does not exist passes: its loader reports it. */
bool filesafe_check_path(const char *path, uid_t self, buf_t *why);

/* Every rule above for cfg; false with one line per refusal appended to
 * errors ("FILE: what is wrong; the fix"). */
bool filesafe_check_config(const fo_config_t *cfg, uid_t self, gid_t self_gid, buf_t *errors);

#endif
