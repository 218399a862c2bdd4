/* jcompact.c - see jcompact.h. */
#include "jcompact.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "resume.h"

typedef struct {
    const char *cluster, *op;
    size_t bytes;
    size_t last; /* index of the operation's newest record */
    bool keep;
} group_t;

static const char *str_of(json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

static size_t line_bytes(json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t n = text ? strlen(text) + 1 : 1;
    free(text);
    return n;
}

/* The group of rec, by cluster and operation; a new one (n) when none. */
static size_t group_of(json_t *index, size_t n, json_t *rec)
{
    buf_t key = BUF_INIT;
    buf_printf(&key, "%s%c%s", str_of(rec, "cluster"), 0x1f, str_of(rec, "op"));
    json_t *k = json_object_get(index, buf_str(&key));
    size_t out = k ? (size_t)json_integer_value(k) : n;
    if (!k)
        json_object_set_new(index, buf_str(&key), json_integer((json_int_t)n));
    buf_free(&key);
    return out;
}

json_t *jcompact_select(json_t *records, size_t budget, size_t *dropped_ops, size_t *kept_bytes)
{
    size_t n = json_array_size(records), ng = 0;
    group_t *g = xcalloc(n ? n : 1, sizeof *g);
    size_t *gi = xcalloc(n ? n : 1, sizeof *gi); /* each record's group */
    json_t *index = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(records, i);
        size_t k = group_of(index, ng, rec);
        if (k == ng)
            g[ng++] = (group_t){.cluster = str_of(rec, "cluster"), .op = str_of(rec, "op")};
        g[k].bytes += line_bytes(rec);
        g[k].last = i;
        gi[i] = k;
    }
    json_decref(index);
    /* What must stay: the operation of each cluster's last record, and of
     * its last rejoin record (a rejoin may write while an operation runs).
     * Going from the newest record back meets each operation at its newest
     * record, so each cluster's first one met is the one of its last record. */
    size_t total = 0;
    json_t *seen = json_object();
    for (size_t i = n; i-- > 0;) {
        json_t *rec = json_array_get(records, i);
        buf_t key = BUF_INIT;
        buf_printf(&key, "%s%c%d", str_of(rec, "cluster"), 0x1f, resume_rec_is_rejoin(rec));
        bool met = json_object_get(seen, buf_str(&key)) != NULL;
        if (!met)
            json_object_set_new(seen, buf_str(&key), json_true());
        buf_free(&key);
        if (met)
            continue;
        if (!g[gi[i]].keep) {
            g[gi[i]].keep = true;
            total += g[gi[i]].bytes;
        }
    }
    json_decref(seen);
    /* Then the newest operations (by their newest record) while they fit;
     * the first that does not fit ends it, so that history has no holes. */
    for (size_t i = n; i-- > 0;) {
        group_t *o = &g[gi[i]];
        if (o->keep || o->last != i)
            continue;
        if (total + o->bytes > budget)
            break;
        o->keep = true;
        total += o->bytes;
    }
    size_t dropped = 0;
    for (size_t k = 0; k < ng; k++)
        dropped += !g[k].keep;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        if (g[gi[i]].keep)
            json_array_append(out, json_array_get(records, i));
    free(g);
    free(gi);
    if (dropped_ops)
        *dropped_ops = dropped;
    if (kept_bytes)
        *kept_bytes = total;
    return out;
}

static bool write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = ENOSPC;
            return false;
        }
        p += w;
        len -= (size_t)w;
    }
    return true;
}

static char *tmp_path(const char *path)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%s.compact", path);
    return buf_steal(&b);
}

void jcompact_cleanup(const char *path)
{
    char *tmp = tmp_path(path);
    unlink(tmp);
    free(tmp);
}

/* fsync of the directory that holds path: the rename itself is durable then. */
static bool sync_dir(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    if (fd < 0)
        return false;
    bool ok = fsync(fd) == 0;
    int e = errno;
    close(fd);
    errno = e;
    return ok;
}

int jcompact_rewrite(const char *path, json_t *kept, jcompact_stop_t stop, bool *replaced,
                     char *err, size_t err_len)
{
    *replaced = false;
    char *tmp = tmp_path(path);
    const char *what = "open";
    int fd = -1, out = -1;
    buf_t text = BUF_INIT;
    size_t i;
    json_t *rec;
    json_array_foreach(kept, i, rec)
    {
        char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        buf_puts(&text, line ? line : "{}");
        buf_putc(&text, '\n');
        free(line);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    /* The new file belongs to whoever owns the journal: a daemon run as
     * root must not leave a file the service user can't open. */
    struct stat st;
    what = "fchown";
    if (stat(path, &st) == 0 && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0)
        goto fail;
    what = "write";
    size_t first = stop == JCOMPACT_STOP_HALF_WRITTEN ? text.len / 2 : text.len;
    if (!write_all(fd, text.data, first))
        goto fail;
    if (stop == JCOMPACT_STOP_HALF_WRITTEN)
        goto stopped;
    what = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    close(fd);
    fd = -1;
    if (stop == JCOMPACT_STOP_BEFORE_RENAME)
        goto stopped;
    what = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    *replaced = true;
    if (stop == JCOMPACT_STOP_BEFORE_DIRSYNC)
        goto stopped;
    what = "fsync of the directory";
    if (!sync_dir(path))
        goto fail;
    what = "reopen";
    out = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (out < 0)
        goto fail;
    buf_free(&text);
    free(tmp);
    return out;
stopped:
    snprintf(err, err_len, "stopped");
    goto out;
fail:
    snprintf(err, err_len, "%s %s: %s", what, *replaced ? path : tmp, strerror(errno));
    if (!*replaced)
        unlink(tmp);
out:
    if (fd >= 0)
        close(fd);
    buf_free(&text);
    free(tmp);
    return -1;
}
