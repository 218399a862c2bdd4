/* filesafe.c - see filesafe.h. */
#include "filesafe.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "plugin.h"

bool filesafe_trusted(const filesafe_stat_t *st, uid_t self, buf_t *why)
{
    bool dir = S_ISDIR(st->mode);
    if (st->uid != 0 && st->uid != self) {
        buf_printf(why, "is owned by uid %u, not by root%s", (unsigned)st->uid,
                   self ? " or the daemon's user" : "");
        return false;
    }
    mode_t w = st->mode & (S_IWGRP | S_IWOTH);
    /* A sticky directory (/tmp): others may add entries but not rename or
     * remove the ones root or the daemon own, which is all that is looked at. */
    if (w && dir && (st->mode & S_ISVTX))
        return true;
    if (w) {
        buf_printf(why, "is writable by %s (mode %04o)",
                   w == (S_IWGRP | S_IWOTH) ? "group and others" : w == S_IWGRP ? "its group"
                                                                               : "others",
                   (unsigned)(st->mode & 07777));
        return false;
    }
    return true;
}

bool filesafe_secret_readers_ok(const filesafe_stat_t *st, gid_t self_gid, buf_t *why)
{
    if (st->mode & S_IROTH) {
        buf_printf(why, "holds passwords and is readable by others (mode %04o)",
                   (unsigned)(st->mode & 07777));
        return false;
    }
    if ((st->mode & S_IRGRP) && st->gid != self_gid) {
        buf_printf(why, "holds passwords and is readable by group %u, not the daemon's (mode %04o)",
                   (unsigned)st->gid, (unsigned)(st->mode & 07777));
        return false;
    }
    return true;
}

bool filesafe_relative_ok(const char *path)
{
    if (path[0] == '/')
        return true;
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        while (*p == '/')
            p++;
    }
    return true;
}

static void to_fs(const struct stat *s, filesafe_stat_t *f)
{
    *f = (filesafe_stat_t){.uid = s->st_uid, .gid = s->st_gid, .mode = s->st_mode};
}

bool filesafe_check_path(const char *path, uid_t self, buf_t *why)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        /* A file that is not there is the loader's to report ("cannot load",
         * "cannot use"): nothing here could be trusted or not. */
        if (errno == ENOENT)
            return true;
        buf_printf(why, "%s: %s", path, strerror(errno));
        return false;
    }
    /* The file, then each directory above it, up to /. */
    bool first = true;
    for (;; first = false) {
        struct stat st;
        if (stat(real, &st) != 0) {
            buf_printf(why, "%s: %s", real, strerror(errno));
            return false;
        }
        filesafe_stat_t f;
        to_fs(&st, &f);
        buf_t w = BUF_INIT;
        if (!filesafe_trusted(&f, self, &w)) {
            buf_printf(why, "%s%s %s; %s", first ? "" : "directory ", real, buf_str(&w),
                       f.uid != 0 && f.uid != self ? "chown it to root (or move the file to a "
                                                     "directory root owns)"
                                                   : "chmod go-w it (or move the file to a "
                                                     "directory only root can write)");
            buf_free(&w);
            return false;
        }
        buf_free(&w);
        char *slash = strrchr(real, '/');
        if (!slash || (slash == real && real[1] == '\0'))
            return true;
        if (slash == real)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
}

static bool has_inline_password(const fo_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        const fo_cluster_cfg_t *c = &cfg->clusters[i];
        if ((c->password[0] && !c->password_file[0]) ||
            (c->repl_password[0] && !c->repl_password_file[0]))
            return true;
    }
    return false;
}

static bool check_password_file(const char *file, uid_t self, buf_t *errors)
{
    struct stat st;
    if (!file[0])
        return true;
    if (stat(file, &st) != 0) {
        buf_printf(errors, "%s: %s\n", file, strerror(errno));
        return false;
    }
    if (st.st_uid != self) {
        buf_printf(errors,
                   "%s: the password file is owned by uid %u, not by the daemon's user (uid "
                   "%u): chown %u it\n",
                   file, (unsigned)st.st_uid, (unsigned)self, (unsigned)self);
        return false;
    }
    return true;
}

bool filesafe_check_config(const fo_config_t *cfg, uid_t self, gid_t self_gid, buf_t *errors)
{
    bool ok = true;
    if (has_inline_password(cfg)) {
        /* The service's group counts as the daemon's also when root runs the
         * check (sudo failoverd --check-config) on a root:failoverd 0640 file. */
        struct group *g = getgrnam(FILESAFE_SERVICE_GROUP);
        gid_t service_gid = g ? g->gr_gid : self_gid;
        for (size_t i = 0; i < cfg->n_files; i++) {
            struct stat st;
            if (stat(cfg->files[i], &st) != 0)
                continue; /* it was just read; gone since: nothing to protect */
            filesafe_stat_t f;
            to_fs(&st, &f);
            buf_t why = BUF_INIT;
            if (!filesafe_secret_readers_ok(&f, f.gid == service_gid ? service_gid : self_gid,
                                            &why)) {
                buf_printf(errors,
                           "%s: %s: chmod 600 it (or chgrp it to the daemon's group, "
                           FILESAFE_SERVICE_GROUP ", and chmod 640), or move the passwords to "
                           "password_file\n",
                           cfg->files[i], buf_str(&why));
                ok = false;
            }
            buf_free(&why);
        }
    }
    for (size_t c = 0; c < cfg->n_clusters; c++) {
        const fo_cluster_cfg_t *cc = &cfg->clusters[c];
        ok &= check_password_file(cc->password_file, self, errors);
        ok &= check_password_file(cc->repl_password_file, self, errors);
        for (int h = 0; h < FO_HOOK__COUNT; h++) {
            const char *cmd = cc->hooks.cmd[h];
            if (!cmd[0])
                continue;
            char *prog = xstrndup(cmd, strcspn(cmd, " \t"));
            buf_t why = BUF_INIT;
            if (!filesafe_check_path(prog, self, &why)) {
                buf_printf(errors, "cluster %s: hook %s: %s\n", cc->name,
                           fo_hook_point_str((fo_hook_point_t)h), buf_str(&why));
                ok = false;
            }
            buf_free(&why);
            free(prog);
        }
        for (size_t i = 0; i < cc->n_plugins; i++) {
            const fo_plugin_cfg_t *pc = &cc->plugins[i];
            if (!filesafe_relative_ok(pc->path)) {
                buf_printf(errors,
                           "%s:%u: cluster %s: plugin \"%s\" climbs out of the plugin "
                           "directory: name a file in it, or give an absolute path\n",
                           pc->src.file, pc->src.line, cc->name, pc->path);
                ok = false;
                continue;
            }
            buf_t file = BUF_INIT, why = BUF_INIT;
            plugin_resolve_path(pc->path, NULL, &file);
            if (!filesafe_check_path(buf_str(&file), self, &why)) {
                buf_printf(errors, "%s:%u: cluster %s: plugin %s\n", pc->src.file, pc->src.line,
                           cc->name, buf_str(&why));
                ok = false;
            }
            buf_free(&file);
            buf_free(&why);
        }
    }
    return ok;
}
