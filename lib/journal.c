/* journal.c - see journal.h. */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"

struct journal {
    char *path;
    int fd;
    long long seq;
    json_t *records; /* everything in the file, kept for replay and history */
};

static bool is_terminal(const char *type)
{
    return strcmp(type, "done") == 0 || strcmp(type, "failed") == 0 ||
           strcmp(type, "aborted") == 0 || strcmp(type, "ack") == 0;
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
            /* Only the last line can be torn by a crash; anything else is damage. */
            log_warn("%s:%ld: ignoring an unreadable journal record: %s", j->path, lineno,
                     rec ? "not an object" : je.text);
            json_decref(rec);
            continue;
        }
        json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
        if (seq > j->seq)
            j->seq = seq;
        json_array_append_new(j->records, rec);
    }
    free(line);
    fclose(f);
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
    free(j->path);
    free(j);
}

bool journal_append(journal_t *j, json_t *rec)
{
    char ts[32];
    format_wall_ms(wall_now_ms(), ts, sizeof ts);
    json_object_set_new(rec, "seq", json_integer(++j->seq));
    json_object_set_new(rec, "time", json_string(ts));
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    buf_t b = BUF_INIT;
    buf_puts(&b, text);
    buf_putc(&b, '\n');
    free(text);
    bool ok = true;
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(j->fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            log_error("journal %s: write failed: %s", j->path, strerror(errno));
            ok = false;
            break;
        }
        off += (size_t)w;
    }
    if (ok && fdatasync(j->fd) != 0) {
        log_error("journal %s: fdatasync failed: %s", j->path, strerror(errno));
        ok = false;
    }
    buf_free(&b);
    json_array_append_new(j->records, rec);
    return ok;
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

json_t *journal_open_op(journal_t *j, const char *cluster)
{
    /* The last "begin" of this cluster, unless a terminal record of it follows. */
    size_t n = json_array_size(j->records);
    const char *op = NULL;
    size_t start = 0;
    for (size_t i = n; i-- > 0;) {
        json_t *rec = json_array_get(j->records, i);
        if (strcmp(str_of(rec, "cluster"), cluster) != 0)
            continue;
        if (is_terminal(str_of(rec, "type")))
            return NULL;
        if (strcmp(str_of(rec, "type"), "begin") == 0) {
            op = str_of(rec, "op");
            start = i;
            break;
        }
    }
    if (!op)
        return NULL;
    json_t *out = json_array();
    for (size_t i = start; i < n; i++) {
        json_t *rec = json_array_get(j->records, i);
        if (strcmp(str_of(rec, "op"), op) == 0)
            json_array_append(out, rec);
    }
    return out;
}

json_t *journal_records(journal_t *j, const char *cluster)
{
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(j->records, i, rec)
    {
        if (!cluster || strcmp(str_of(rec, "cluster"), cluster) == 0)
            json_array_append(out, rec);
    }
    return out;
}

char *journal_new_op_id(journal_t *j)
{
    buf_t b = BUF_INIT;
    buf_printf(&b, "%llx-%lld", (unsigned long long)wall_now_ms(), j->seq + 1);
    return buf_steal(&b);
}
