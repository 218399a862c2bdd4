/* stateown.c - see stateown.h. */
#include "stateown.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void user_name(uid_t uid, char *out, size_t len)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        snprintf(out, len, "%s", pw->pw_name);
    else
        snprintf(out, len, "%u", (unsigned)uid);
}

static void group_name(gid_t gid, char *out, size_t len)
{
    struct group *gr = getgrgid(gid);
    if (gr)
        snprintf(out, len, "%s", gr->gr_name);
    else
        snprintf(out, len, "%u", (unsigned)gid);
}

/* As root, in a directory another user owns: the file goes to that user. */
static void give_to_dir_owner(const char *dir, const char *path)
{
    struct stat ds, fs;
    if (geteuid() != 0 || stat(dir, &ds) != 0 || ds.st_uid == 0 || lstat(path, &fs) != 0 ||
        !S_ISREG(fs.st_mode) || (fs.st_uid == ds.st_uid && fs.st_gid == ds.st_gid))
        return;
    char u[64], g[64];
    user_name(ds.st_uid, u, sizeof u);
    group_name(ds.st_gid, g, sizeof g);
    if (chown(path, ds.st_uid, ds.st_gid) != 0) {
        log_error("%s: cannot give it to %s:%s, the owner of %s: %s; the service running as "
                  "%s may not be able to open it (chown %s:%s %s)",
                  path, u, g, dir, strerror(errno), u, u, g, path);
        return;
    }
    log_notice("%s: given to %s:%s, the owner of %s, so that the service running as %s can "
               "open it (the daemon runs as root here)",
               path, u, g, dir, u);
}

bool stateown_check(const char *dir, const char *path, char *why, size_t len)
{
    give_to_dir_owner(dir, path);
    struct stat fs;
    if (geteuid() == 0 || stat(path, &fs) != 0 || access(path, R_OK | W_OK) == 0 ||
        (errno != EACCES && errno != EPERM))
        return true;
    char owner[64], group[64], me[64], mygroup[64];
    user_name(fs.st_uid, owner, sizeof owner);
    group_name(fs.st_gid, group, sizeof group);
    user_name(geteuid(), me, sizeof me);
    group_name(getegid(), mygroup, sizeof mygroup);
    snprintf(why, len,
             "%s: permission denied: it belongs to %s:%s (mode %04o) and the daemon runs as %s; "
             "a daemon started by hand as another user leaves such files behind. Give the state "
             "directory back to the service's user: chown -R %s:%s %s",
             path, owner, group, (unsigned)(fs.st_mode & 07777), me, me, mygroup, dir);
    return false;
}

void stateown_adopt(const char *dir, const char *path)
{
    give_to_dir_owner(dir, path);
}
