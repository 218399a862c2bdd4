/* stateown.h - the owner of the daemon's state files.
 *
 * The service runs as its own user (failoverd), and its state directory
 * belongs to that user. A daemon started once by hand as root would create
 * or take over files there as root, and the service could not open them
 * afterwards. So: a daemon running as root gives the files it uses in a
 * state directory owned by another user to that user (the directory's owner
 * names the service user: the unit's StateDirectory=, tmpfiles.d or the
 * package made it); a daemon that is not root and can't open a state file
 * says whose it is and the command that repairs it.
 */
#ifndef FAILOVERD_STATEOWN_H
#define FAILOVERD_STATEOWN_H

#include <stdbool.h>
#include <stddef.h>

/* Before a state file (path, in directory dir) is opened. As root: a file
 * that exists and is not owned like dir is given dir's owner and group (when
 * dir is not root's). Not root: when the file exists and can't be opened for
 * reading and writing, false with why filled (who owns it, the chown that
 * repairs it). True otherwise. */
bool stateown_check(const char *dir, const char *path, char *why, size_t len);

/* After a state file was created: as root, give it dir's owner and group
 * when dir is not root's. Logs what it could not do. */
void stateown_adopt(const char *dir, const char *path);

#endif
