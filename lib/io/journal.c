/* journal.c - see journal.h. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "jcompact.h"
#include "log.h"
#include "resume.h"
#include "timefmt.h"
#include "wallclock.h"

struct journal {
    char *path;
    int fd;
    long long seq;
    json_t *records; /* everything in the file, kept for replay and history */
    /* Damage found when reading: [{"line", "cluster" (or absent: unknown, so
     * every cluster), "error", "acked": [clusters that acknowledged it]}]. */
    json_t *damage;
    char *unreadable; /* the file could not be read at all: why (every cluster) */
    char *broken;     /* an append failed and its bytes could not be taken back */
    char last_error[256]; /* why the last append failed */
    size_t max_bytes;     /* compacted above this size (jcompact.h); 0 = never */
    bool compact_held;    /* said once that damage keeps it from compacting */
    journal_compacted_fn on_compacted; /* told after each compaction, or NULL */
    void *on_compacted_ctx;
};

static bool is_terminal(const char *type)
{
    return strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
           strcmp(type, "aborted") == 0 || strcmp(type, "ack") == 0;
}

/* The cluster a damaged line names, when its text still shows one
 * ("cluster":"NAME" with a complete name), or NULL. */
static char *damaged_cluster(const char *line)
{
    const char *k = strstr(line, "\"cluster\":\"");
    if (!k)
        return NULL;
    k += strlen("\"cluster\":\"");
    const char *e = strchr(k, '"');
    if (!e || e == k)
        return NULL;
    for (const char *p = k; p < e; p++)
        if (*p == '\\')
            return NULL;
    return xstrndup(k, (size_t)(e - k));
}

static void note_damage(journal_t *j, long lineno, const char *line, const char *why)
{
    char *cluster = damaged_cluster(line);
    log_error("%s:%ld: the journal record on this line is damaged (%s): what it said is lost; "
              "%s held until an operator checks and acknowledges it",
              j->path, lineno, why, cluster ? "its cluster is" : "every cluster is");
    json_t *d = json_pack("{s:I, s:s, s:[]}", "line", (json_int_t)lineno, "error", why, "acked");
    if (cluster)
        json_object_set_new(d, "cluster", json_string(cluster));
    free(cluster);
    json_array_append_new(j->damage, d);
}

/* An acknowledgement of damage ("journal_damage": true) covers the damage
 * found before it, for its cluster. */
static void note_ack(journal_t *j, json_t *rec)
{
    const char *type = json_string_value(json_object_get(rec, "type"));
    const char *cluster = json_string_value(json_object_get(rec, "cluster"));
    if (!type || strcmp(type, "ack") != 0 || !cluster ||
        !json_is_true(json_object_get(rec, "journal_damage")))
        return;
    size_t i;
    json_t *d;
    json_array_foreach(j->damage, i, d)
        json_array_append_new(json_object_get(d, "acked"), json_string(cluster));
}

static bool load(journal_t *j, char *err, size_t err_len)
{
    FILE *f = fopen(j->path, "r");
    if (!f) {
        if (errno == ENOENT)
            return true;
        snprintf(err, err_len, "%s: %s", j->path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    off_t complete = 0, total = 0; /* bytes in newline-terminated lines; in all */
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        total += n;
        if (line[n - 1] != '\n')
            break; /* a torn tail, cut below */
        complete = total;
        json_error_t je;
        json_t *rec = json_loadb(line, (size_t)n, 0, &je);
        if (!rec || !json_is_object(rec)) {
            /* Only the last line can be torn by a crash; anything else is
             * damage, and what it said is lost: the clusters it may have
             * been about are held until an operator checks them. */
            note_damage(j, lineno, line, rec ? "not an object" : je.text);
            json_decref(rec);
            continue;
        }
        note_ack(j, rec);
        json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
        if (seq > j->seq)
            j->seq = seq;
        json_array_append_new(j->records, rec);
    }
    bool bad = ferror(f);
    int e = errno;
    free(line);
    fclose(f);
    if (bad) {
        snprintf(err, err_len, "%s: %s", j->path, strerror(e));
        return false;
    }
    /* A crash mid-write leaves a line without its newline; cut it off so that
     * the next record starts on a line of its own. */
    if (total > complete) {
        log_warn("%s: cutting a torn last record (%lld bytes)", j->path,
                 (long long)(total - complete));
        if (truncate(j->path, complete) != 0) {
            snprintf(err, err_len, "%s: %s", j->path, strerror(errno));
            return false;
        }
    }
    return true;
}

journal_t *journal_open(const char *path, char *err, size_t err_len)
{
    journal_t *j = xcalloc(1, sizeof *j);
    j->path = xstrdup(path);
    j->records = json_array();
    j->damage = json_array();
    j->fd = -1;
    if (!load(j, err, err_len))
        goto fail;
    j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        goto fail;
    }
    return j;
fail:
    journal_close(j);
    return NULL;
}

void journal_close(journal_t *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    json_decref(j->records);
    json_decref(j->damage);
    free(j->unreadable);
    free(j->broken);
    free(j->path);
    free(j);
}

journal_t *journal_open_unreadable(const char *path, const char *why)
{
    journal_t *j = xcalloc(1, sizeof *j);
    j->path = xstrdup(path);
    j->records = json_array();
    j->damage = json_array();
    j->fd = -1;
    j->unreadable = xstrdup(why);
    log_error("the journal can't be opened (%s): every cluster is held, and no operation can be "
              "recorded, until it is repaired and the daemon restarted",
              why);
    return j;
}

static bool acked_by(json_t *d, const char *cluster)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(d, "acked"), i, c)
        if (strcmp(json_string_value(c), cluster) == 0)
            return true;
    return false;
}

bool journal_damage(journal_t *j, const char *cluster, char *why, size_t len)
{
    if (j->unreadable) {
        snprintf(why, len, "the journal can't be opened: %s", j->unreadable);
        return true;
    }
    buf_t lines = BUF_INIT;
    const char *first_err = NULL;
    size_t n = 0, i;
    json_t *d;
    json_array_foreach(j->damage, i, d)
    {
        const char *c = json_string_value(json_object_get(d, "cluster"));
        if ((c && strcmp(c, cluster) != 0) || acked_by(d, cluster))
            continue;
        buf_printf(&lines, "%s%lld", n ? ", " : "",
                   (long long)json_integer_value(json_object_get(d, "line")));
        if (!first_err)
            first_err = json_string_value(json_object_get(d, "error"));
        n++;
    }
    if (n)
        snprintf(why, len, "the journal %s has %zu damaged record%s (line%s %s: %s): what %s lost",
                 j->path, n, n == 1 ? "" : "s", n == 1 ? "" : "s", buf_str(&lines), first_err,
                 n == 1 ? "it said is" : "they said is");
    buf_free(&lines);
    return n > 0;
}

const char *journal_broken(const journal_t *j)
{
    return j->unreadable ? j->unreadable : j->broken;
}

bool journal_append(journal_t *j, json_t *rec)
{
    char ts[32];
    format_wall_ms(wall_now_ms(), ts, sizeof ts);
    if (j->fd < 0 || j->broken) {
        if (j->unreadable)
            snprintf(j->last_error, sizeof j->last_error, "the journal can't be opened: %s",
                     j->unreadable);
        else
            snprintf(j->last_error, sizeof j->last_error, "journal %s: %s", j->path,
                     j->broken ? j->broken : "not open");
        log_error("%s; the record was not written", j->last_error);
        json_decref(rec);
        return false;
    }
    json_object_set_new(rec, "seq", json_integer(j->seq + 1));
    json_object_set_new(rec, "time", json_string(ts));
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_t b = BUF_INIT;
    buf_puts(&b, text);
    buf_putc(&b, '\n');
    free(text);
    bool ok = true;
    size_t off = 0;
    const char *what = "write";
    int e = 0;
    off_t before = lseek(j->fd, 0, SEEK_END);
    while (off < b.len) {
        ssize_t w = write(j->fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            e = w < 0 ? errno : ENOSPC;
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    if (ok && fdatasync(j->fd) != 0) {
        e = errno;
        what = "fdatasync";
        ok = false;
    }
    buf_free(&b);
    if (!ok) {
        /* The record is not durable, so it does not count: take back what
         * reached the file, so that no torn line is left in the middle of
         * the journal. If even that fails, nothing more is appended. */
        snprintf(j->last_error, sizeof j->last_error, "%s %s: %s", what, j->path, strerror(e));
        log_error("journal %s: %s failed: %s; the record was not made durable", j->path, what,
                  strerror(e));
        if (before < 0 || ftruncate(j->fd, before) != 0 || fdatasync(j->fd) != 0) {
            buf_t why = BUF_INIT;
            buf_printf(&why, "a record could not be written (%s) nor taken back (%s): the file "
                             "may end with a torn record",
                       strerror(e), strerror(errno));
            j->broken = buf_steal(&why);
            log_error("journal %s: %s; nothing more is written to it", j->path, j->broken);
        }
        errno = e;
        json_decref(rec);
        return false;
    }
    j->seq++;
    j->last_error[0] = '\0';
    note_ack(j, rec);
    json_array_append_new(j->records, rec);
    /* Between operations only: never in the middle of a failover's steps. */
    if (is_terminal(json_string_value(json_object_get(rec, "type")) ?: ""))
        journal_compact(j);
    return true;
}

void journal_set_max_bytes(journal_t *j, size_t max_bytes)
{
    j->max_bytes = max_bytes;
    jcompact_cleanup(j->path);
    journal_compact(j);
}

bool journal_compact(journal_t *j)
{
    struct stat st;
    if (!j->max_bytes || j->fd < 0 || j->broken || fstat(j->fd, &st) != 0 ||
        (size_t)st.st_size <= j->max_bytes)
        return false;
    if (json_array_size(j->damage) > 0) {
        /* The damaged lines are the only trace of what they said. */
        if (!j->compact_held)
            log_warn("journal %s: %lld bytes, above journal_max_bytes, but it has damaged "
                     "records: it is not compacted until they are dealt with "
                     "(docs/recovery.md)",
                     j->path, (long long)st.st_size);
        j->compact_held = true;
        return false;
    }
    size_t dropped, kept_bytes;
    json_t *kept = jcompact_select(j->records, j->max_bytes / 2, &dropped, &kept_bytes);
    if (dropped == 0) {
        json_decref(kept);
        return false;
    }
    char err[512];
    bool replaced;
    int fd = jcompact_rewrite(j->path, kept, JCOMPACT_ALL, &replaced, err, sizeof err);
    if (fd < 0) {
        json_decref(kept);
        log_error("journal %s: compacting it failed: %s", j->path, err);
        if (replaced) {
            /* The old descriptor names a file no longer in place. */
            buf_t why = BUF_INIT;
            buf_printf(&why, "compacted, but not reopened: %s", err);
            j->broken = buf_steal(&why);
        }
        return false;
    }
    close(j->fd);
    j->fd = fd;
    json_decref(j->records);
    j->records = kept;
    if (j->on_compacted)
        j->on_compacted(j->on_compacted_ctx, j->path, (long long)st.st_size, kept_bytes,
                        dropped);
    return true;
}

void journal_on_compacted(journal_t *j, journal_compacted_fn fn, void *ctx)
{
    j->on_compacted = fn;
    j->on_compacted_ctx = ctx;
}

const char *journal_last_error(const journal_t *j)
{
    return j->last_error[0] ? j->last_error : "the journal record was not written";
}

bool journal_record(journal_t *j, const char *cluster, const char *op, const char *kind,
                    const char *type, json_t *fields)
{
    json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "cluster", cluster, "op", op, "kind", kind,
                            "type", type);
    if (fields) {
        json_object_update_missing(rec, fields);
        json_decref(fields);
    }
    return journal_append(j, rec);
}

static const char *str_of(json_t *rec, const char *key)
{
    const char *s = json_string_value(json_object_get(rec, key));
    return s ? s : "";
}

bool journal_is_note(const json_t *rec)
{
    return strcmp(str_of((json_t *)rec, "kind"), "note") == 0;
}

json_t *journal_open_op(journal_t *j, const char *cluster)
{
    /* The operation of this cluster's last record, unless a terminal record of
     * it was written. Not the last "begin": a damaged begin must not make the
     * steps after it disappear. */
    size_t n = json_array_size(j->records);
    const char *op = NULL;
    /* Not a rejoin's: a rejoin may still write while an operation starts,
     * and it is never an operation to resume (resume_open_rejoins). */
    for (size_t i = n; i-- > 0 && !op;) {
        json_t *rec = json_array_get(j->records, i);
        if (strcmp(str_of(rec, "cluster"), cluster) == 0 && !resume_rec_is_rejoin(rec) &&
            !journal_is_note(rec))
            op = str_of(rec, "op");
    }
    if (!op)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_array_get(j->records, i);
        if (strcmp(str_of(rec, "cluster"), cluster) != 0 || strcmp(str_of(rec, "op"), op) != 0)
            continue;
        if (is_terminal(str_of(rec, "type"))) {
            json_decref(out);
            return NULL;
        }
        json_array_append(out, rec);
    }
    return out;
}

static json_t *records_of(journal_t *j, const char *cluster, bool rejoins)
{
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(j->records, i, rec)
    {
        if ((!cluster || strcmp(str_of(rec, "cluster"), cluster) == 0) &&
            (rejoins || !resume_rec_is_rejoin(rec)))
            json_array_append(out, rec);
    }
    return out;
}

json_t *journal_records(journal_t *j, const char *cluster)
{
    return records_of(j, cluster, false);
}

json_t *journal_all_records(journal_t *j, const char *cluster)
{
    return records_of(j, cluster, true);
}

char *journal_new_op_id(journal_t *j)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%llx-%lld", (unsigned long long)wall_now_ms(), j->seq + 1);
    return buf_steal(&b);
}
