/* topofile.c - see topofile.h. */
#include "topofile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

json_t *topofile_json(const cluster_t *c, const route_settings_t *s, const route_t *r,
                      const char *updated)
{
    json_t *j = route_json(c, s, r);
    json_t *readers = json_array();
    for (size_t i = 0; i < r->n && i < c->n_nodes; i++) {
        if (!r->nodes[i].reader)
            continue;
        json_t *e = json_pack("{s:s, s:s, s:i}", "name", c->nodes[i].name, "host",
                              c->nodes[i].host, "port", (int)c->nodes[i].port);
        json_object_set_new(e, "lag_s", r->nodes[i].lag_s >= 0 ? json_integer(r->nodes[i].lag_s)
                                                               : json_null());
        json_array_append_new(readers, e);
    }
    json_object_set_new(j, "readers", readers);
    json_object_set_new(j, "cluster", json_string(c->name));
    json_object_set_new(j, "primary",
                        c->primary >= 0 ? json_string(c->nodes[c->primary].name) : json_null());
    json_object_set_new(j, "updated", json_string(updated ? updated : ""));
    return j;
}

bool topofile_write(const char *path, const json_t *doc, char *err, size_t err_len)
{
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text) {
        snprintf(err, err_len, "out of memory");
        return false;
    }
    buf_t tmp = {0};
    buf_printf(&tmp, "%s.tmp", path);
    bool ok = false;
    int fd = open(buf_str(&tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", buf_str(&tmp), strerror(errno));
        goto out;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, err_len, "%s: %s", buf_str(&tmp), w < 0 ? strerror(errno) : "short write");
            close(fd);
            unlink(buf_str(&tmp));
            goto out;
        }
        off += (size_t)w;
    }
    if (write(fd, "\n", 1) != 1 || close(fd) != 0) {
        snprintf(err, err_len, "%s: %s", buf_str(&tmp), strerror(errno));
        unlink(buf_str(&tmp));
        goto out;
    }
    if (rename(buf_str(&tmp), path) != 0) {
        snprintf(err, err_len, "rename to %s: %s", path, strerror(errno));
        unlink(buf_str(&tmp));
        goto out;
    }
    ok = true;
out:
    buf_free(&tmp);
    free(text);
    return ok;
}
