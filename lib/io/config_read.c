/* config_read.c - reading a libconfig group against its section of the
 * table, one reader per kind of setting (see config.c). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "defaults.h"
#include "metrics.h"

#include "config_int.h"

/* ------------------------------------------------------------------------ */
/* Reading values                                                            */

/* libconfig 1.5 reads an integer literal with atoi(): 5000000000 silently becomes
 * 705032704, which could pass a range check.  So a named integer setting's literal
 * is read again from the file's text, and its true value checked. */
static const char *file_text(load_t *L, const char *name)
{
    for (size_t i = 0; i < L->n_texts; i++)
        if (strcmp(L->texts[i].name, name) == 0)
            return L->texts[i].text;
    /* Included files are named as written in @include, relative to the main file's
     * directory (the include directory given to libconfig). */
    buf_t path = BUF_INIT;
    if (strcmp(name, L->cfg->path) != 0 && name[0] != '/')
        buf_puts(&path, L->dir);
    buf_puts(&path, name);
    char *text = NULL;
    FILE *f = fopen(buf_str(&path), "r");
    if (f) {
        buf_t t = BUF_INIT;
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            buf_append(&t, chunk, n);
        fclose(f);
        text = buf_steal(&t);
    }
    buf_free(&path);
    L->texts = xrealloc(L->texts, (L->n_texts + 1) * sizeof *L->texts);
    L->texts[L->n_texts++] = (text_t){xstrdup(name), text};
    return text;
}

static bool int_literal(load_t *L, const config_setting_t *m, int parsed, long long *out)
{
    const char *name = config_setting_name(m);
    const char *file = config_setting_source_file(m);
    unsigned line = config_setting_source_line(m);
    if (!name || !file || !line)
        return false;
    const char *p = file_text(L, file);
    for (unsigned l = 1; l < line && p; l++) {
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (!p)
        return false;
    const char *eol = strchr(p, '\n');
    size_t nl = strlen(name);
    for (const char *q = p; (q = strstr(q, name)) && (!eol || q < eol); q += nl) {
        if (q > p && (isalnum((unsigned char)q[-1]) || strchr("_-*", q[-1])))
            continue;
        const char *v = q + nl;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v != '=' && *v != ':')
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        bool neg = *v == '-';
        const char *digits = v + (*v == '-' || *v == '+');
        if (!isdigit((unsigned char)*digits))
            continue;
        errno = 0;
        unsigned long long u;
        if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
            u = strtoull(digits + 2, NULL, 16);
        else
            u = strtoull(digits, NULL, 10);
        long long val;
        if (errno == ERANGE || u > (unsigned long long)LLONG_MAX)
            val = neg ? LLONG_MIN : LLONG_MAX;
        else
            val = neg ? -(long long)u : (long long)u;
        /* The same name may occur twice on a line ("{ port = 1; }, { port = 2; }"):
         * only a literal that libconfig's truncation turns into its value is ours. */
        if ((uint32_t)(unsigned long long)val == (uint32_t)parsed) {
            *out = val;
            return true;
        }
    }
    return false;
}

/* The integer value of m; false when m is no integer. */
static bool get_int(load_t *L, const config_setting_t *m, long long *out)
{
    if (config_setting_type(m) == CONFIG_TYPE_INT64) {
        *out = config_setting_get_int64(m);
        return true;
    }
    if (config_setting_type(m) != CONFIG_TYPE_INT)
        return false;
    long long lit;
    *out = config_setting_get_int(m);
    if (int_literal(L, m, (int)*out, &lit))
        *out = lit;
    return true;
}

/* The bounds of s as text: "1..65535", "50ms..1m". */
char *cfg_range_str(const setting_t *s)
{
    buf_t b = BUF_INIT;
    if (s->kind == K_DURATION) {
        fo_duration_format((uint64_t)s->min, &b);
        buf_puts(&b, "..");
        fo_duration_format((uint64_t)s->max, &b);
    } else if (s->kind == K_MODE) {
        buf_printf(&b, "%04llo..%04llo", (long long)s->min, (long long)s->max);
    } else {
        buf_printf(&b, "%lld..%lld", (long long)s->min, (long long)s->max);
    }
    return buf_steal(&b);
}

static bool check_string(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                         const char *v)
{
    size_t len = strlen(v);
    if (s->min > 0 && len == 0) {
        cfg_err_at(L, m, path, "must not be empty");
        return false;
    }
    if (s->max > 0 && len > (size_t)s->max) {
        cfg_err_at(L, m, path, "is too long (%zu characters, at most %lld)", len,
                   (long long)s->max);
        return false;
    }
    if (s->kind != K_SECRET && cfg_has_control(v)) {
        cfg_err_at(L, m, path, "must not contain control characters");
        return false;
    }
    buf_t why = BUF_INIT;
    if (s->check && !s->check(v, &why)) {
        char *q = cfg_quote_for_msg(v);
        cfg_err_at(L, m, path, "%s %s", q, buf_str(&why));
        free(q);
        buf_free(&why);
        return false;
    }
    return true;
}

/* A hook must name an executable that is there now, not at the first failover. */
static bool check_command(load_t *L, const config_setting_t *m, const char *path, const char *v)
{
    if (!*v)
        return true;
    char *prog = xstrndup(v, strcspn(v, " \t"));
    bool ok = false;
    struct stat st;
    if (prog[0] != '/')
        cfg_err_at(L, m, path, "\"%s\" is not an absolute path", prog);
    else if (stat(prog, &st) != 0)
        cfg_err_at(L, m, path, "cannot use %s: %s", prog, strerror(errno));
    else if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
        cfg_err_at(L, m, path, "%s is not an executable file", prog);
    else
        ok = true;
    free(prog);
    return ok;
}

/* Read a secret from a file that only its owner can read.  A final newline is not
 * part of the secret (editors add one). */
static bool read_secret_file(load_t *L, const config_setting_t *at, const char *path,
                             const char *file, char **out)
{
    /* O_NONBLOCK: a FIFO must not hang the load; it is refused below anyway. */
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        cfg_err_at(L, at, path, "cannot open %s: %s", file, strerror(errno));
        return false;
    }
    bool ok = false;
    buf_t b = BUF_INIT;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        cfg_err_at(L, at, path, "cannot stat %s: %s", file, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        cfg_err_at(L, at, path, "%s is not a regular file", file);
    } else if (st.st_mode & 077) {
        cfg_err_at(L, at, path,
                   "%s must not be accessible by group or others (mode %04o; chmod 600 it)", file,
                   (unsigned)(st.st_mode & 07777));
    } else if (st.st_size > 4096) {
        cfg_err_at(L, at, path, "%s is too large for a password (%lld bytes)", file,
                   (long long)st.st_size);
    } else {
        char chunk[4097];
        ssize_t n;
        while ((n = read(fd, chunk, sizeof chunk)) > 0 && b.len <= 4096)
            buf_append(&b, chunk, (size_t)n);
        if (n < 0) {
            cfg_err_at(L, at, path, "cannot read %s: %s", file, strerror(errno));
        } else if (b.len > 4096) {
            cfg_err_at(L, at, path, "%s is too large for a password", file);
        } else {
            if (b.len && b.data[b.len - 1] == '\n')
                b.data[--b.len] = '\0';
            if (b.len && b.data[b.len - 1] == '\r')
                b.data[--b.len] = '\0';
            if (b.len == 0)
                cfg_err_at(L, at, path, "%s is empty", file);
            else if (memchr(b.data, '\0', b.len) || strchr(b.data, '\n'))
                cfg_err_at(L, at, path, "%s must hold the password on one line", file);
            else
                ok = true;
        }
    }
    close(fd);
    if (ok) {
        *out = buf_steal(&b);
    } else if (b.data) {
        memset(b.data, 0, b.cap);
        buf_free(&b);
    }
    return ok;
}

static void kv_add(fo_kvlist_t *kv, const char *key, char *value, fo_kv_type_t type, fo_src_t src)
{
    kv->items = xrealloc(kv->items, (kv->n + 1) * sizeof *kv->items);
    kv->items[kv->n++] = (fo_kv_t){xstrdup(key), value, type, src};
}

static void parse_kv(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                     fo_kvlist_t *kv)
{
    int n = config_setting_length(m);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        char *p = cfg_join_path(path, config_setting_name(e));
        buf_t v = BUF_INIT;
        fo_kv_type_t type;
        long long x;
        switch (config_setting_type(e)) {
        case CONFIG_TYPE_STRING:
            type = FO_KV_STRING;
            buf_puts(&v, config_setting_get_string(e));
            break;
        case CONFIG_TYPE_INT:
        case CONFIG_TYPE_INT64:
            type = FO_KV_INT;
            get_int(L, e, &x);
            buf_printf(&v, "%lld", x);
            break;
        case CONFIG_TYPE_FLOAT:
            type = FO_KV_FLOAT;
            buf_printf(&v, "%.17g", config_setting_get_float(e));
            if (!strpbrk(buf_str(&v), ".eEin"))
                buf_puts(&v, ".0"); /* stays a float when printed back */
            break;
        case CONFIG_TYPE_BOOL:
            type = FO_KV_BOOL;
            buf_puts(&v, config_setting_get_bool(e) ? "true" : "false");
            break;
        default:
            cfg_err_at(L, e, p, "expected a string, a number or a boolean, found %s",
                       cfg_found_type(e));
            free(p);
            continue;
        }
        if ((s->flags & F_KV_STRINGS) && type != FO_KV_STRING) {
            cfg_err_at(L, e, p, "expected a string, found %s", cfg_found_type(e));
            buf_free(&v);
        } else {
            kv_add(kv, config_setting_name(e), buf_steal(&v), type, cfg_src_of(L, e));
        }
        free(p);
    }
}

/* The path of list element i: the list's path and the element's name, or [i]. */
static char *element_path(load_t *L, const char *list_path, const section_t *sub,
                          const config_setting_t *e, size_t i)
{
    buf_t b = BUF_INIT;
    const char *name = NULL;
    for (size_t k = 0; k < sub->n && config_setting_is_group(e); k++) {
        if (!(sub->settings[k].flags & F_NAME))
            continue;
        const config_setting_t *m = config_setting_get_member(e, sub->settings[k].name);
        if (m && config_setting_type(m) == CONFIG_TYPE_STRING && *config_setting_get_string(m))
            name = config_setting_get_string(m);
    }
    if (name) {
        buf_printf(&b, "%s.%s", list_path, name);
    } else if (sub == &node_section && config_setting_is_group(e)) {
        /* Named after its address, as check_node will name it. */
        const config_setting_t *h = config_setting_get_member(e, "host");
        const config_setting_t *p = config_setting_get_member(e, "port");
        if (h && config_setting_type(h) == CONFIG_TYPE_STRING && *config_setting_get_string(h)) {
            long long port = 3306;
            if (p && !get_int(L, p, &port))
                port = 3306;
            buf_printf(&b, "%s.", list_path);
            cfg_node_default_name(config_setting_get_string(h), port, &b);
        }
    }
    if (!b.len)
        buf_printf(&b, "%s[%zu]", list_path, i);
    return buf_steal(&b);
}

static void parse_list(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                       void *obj)
{
    const section_t *sub = s->sub;
    int n = config_setting_length(m);
    char *elems = xcalloc((size_t)n, sub->size);
    *AT(obj, s->off, void *) = elems;
    *AT(obj, s->off2, size_t) = (size_t)n;
    if ((int64_t)n < s->min) {
        cfg_err_at(L, m, path, "is empty; at least one %s is needed", sub->name);
        return;
    }
    const setting_t *name_row = NULL;
    for (size_t k = 0; k < sub->n; k++)
        if (sub->settings[k].flags & F_NAME)
            name_row = &sub->settings[k];
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        void *elem = elems + (size_t)i * sub->size;
        char *p = element_path(L, path, sub, e, (size_t)i);
        if (sub->off_src >= 0)
            *AT(elem, sub->off_src, fo_src_t) = cfg_src_of(L, e);
        if (sub->off_index >= 0)
            *AT(elem, sub->off_index, size_t) = (size_t)i;
        size_t errors_before = L->n_errs + L->dropped;
        if (!config_setting_is_group(e))
            cfg_err_at(L, e, p, "expected a group { ... }, found %s", cfg_found_type(e));
        else
            cfg_parse_section(L, e, sub, elem, p);
        if (L->n_errs + L->dropped != errors_before) {
            L->bad = xrealloc(L->bad, (L->n_bad + 1) * sizeof *L->bad);
            L->bad[L->n_bad++] = elem;
        }
        /* Names are unique within the list (node names: see check_root). */
        const char *name = name_row ? *CAT(elem, name_row->off, char *) : NULL;
        for (int j = 0; name && sub != &node_section && j < i; j++) {
            const void *other = elems + (size_t)j * sub->size;
            const char *oname = *CAT(other, name_row->off, char *);
            if (oname && strcmp(name, oname) == 0) {
                fo_src_t first = *CAT(other, sub->off_src, fo_src_t);
                cfg_err_at(L, e, p, "duplicate %s name \"%s\" (first defined at %s:%u)", sub->name,
                           name, first.file, first.line);
                break;
            }
        }
        free(p);
    }
}

/* One reader per kind of setting: the setting m (present in the file, at path)
 * read against its row s into the field at off of obj; false when it was not
 * stored (the error is reported). */
typedef bool (*read_fn)(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                        void *obj, size_t off);

/* K_STRING, K_SECRET, K_SECRET_FILE and K_COMMAND. */
static bool read_string(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                        void *obj, size_t off)
{
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    const char *v = config_setting_get_string(m);
    if (!check_string(L, m, s, path, v))
        return false;
    if (s->kind == K_COMMAND && !check_command(L, m, path, v))
        return false;
    if (s->kind == K_SECRET_FILE && v[0] != '/') {
        /* Relative to the configuration file, not to wherever the daemon was started. */
        buf_t p = BUF_INIT;
        buf_printf(&p, "%s%s", L->dir, v);
        *AT(obj, off, char *) = buf_steal(&p);
        return true;
    }
    *AT(obj, off, char *) = xstrdup(v);
    return true;
}

static bool read_int(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                     void *obj, size_t off)
{
    long long v;
    if (!get_int(L, m, &v)) {
        cfg_type_error(L, m, path, s->kind, true);
        return false;
    }
    if (v < s->min || v > s->max) {
        cfg_err_at(L, m, path, "%lld is out of range (%lld..%lld)", v, (long long)s->min,
                   (long long)s->max);
        return false;
    }
    *AT(obj, off, int) = (int)v;
    return true;
}

static bool read_bool(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                      void *obj, size_t off)
{
    if (config_setting_type(m) != CONFIG_TYPE_BOOL) {
        cfg_type_error(L, m, path, s->kind, true);
        return false;
    }
    *AT(obj, off, bool) = config_setting_get_bool(m);
    return true;
}

/* A duration as a string with units ("1m30s"), or as a number of milliseconds. */
static bool read_duration(load_t *L, const config_setting_t *m, const setting_t *s,
                          const char *path, void *obj, size_t off)
{
    uint64_t ms;
    long long v;
    if (config_setting_type(m) == CONFIG_TYPE_STRING) {
        if (!fo_duration_parse(config_setting_get_string(m), &ms)) {
            char *q = cfg_quote_for_msg(config_setting_get_string(m));
            cfg_err_at(L, m, path,
                       "%s is not a duration (a number and a unit ms, s, m or h, such as "
                       "\"500ms\" or \"1m30s\")",
                       q);
            free(q);
            return false;
        }
    } else if (get_int(L, m, &v)) {
        if (v < 0) {
            cfg_err_at(L, m, path, "%lld is not a duration (negative)", v);
            return false;
        }
        ms = (uint64_t)v;
    } else {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    if (ms < (uint64_t)s->min || ms > (uint64_t)s->max) {
        char a[64], lo[64], hi[64];
        cfg_err_at(L, m, path, "%s is out of range (%s..%s)", cfg_duration_str(ms, a, sizeof a),
                   cfg_duration_str((uint64_t)s->min, lo, sizeof lo),
                   cfg_duration_str((uint64_t)s->max, hi, sizeof hi));
        return false;
    }
    *AT(obj, off, uint64_t) = ms;
    return true;
}

/* One of the row's names; a wrong one is answered with the list, and the
 * closest name when one is close. */
static bool read_enum(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                      void *obj, size_t off)
{
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    const char *v = config_setting_get_string(m);
    int e;
    if (cfg_parse_name(s->names, v, &e)) {
        *AT(obj, off, int) = e;
        return true;
    }
    buf_t b = BUF_INIT;
    char *q = cfg_quote_for_msg(v);
    buf_printf(&b, "%s is not one of ", q);
    for (size_t i = 0; s->names[i]; i++)
        buf_printf(&b, "%s%s", i ? ", " : "", s->names[i]);
    const char *near = cfg_closest(v, s->names, cfg_names_count(s->names));
    if (near)
        buf_printf(&b, " (did you mean \"%s\"?)", near);
    cfg_err_at(L, m, path, "%s", buf_str(&b));
    free(q);
    buf_free(&b);
    return false;
}

/* Permission bits, written as an octal string ("0660"). */
static bool read_mode(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                      void *obj, size_t off)
{
    if (config_setting_type(m) != CONFIG_TYPE_STRING) {
        cfg_type_error(L, m, path, s->kind, true);
        return false;
    }
    const char *v = config_setting_get_string(m);
    char *end;
    errno = 0;
    unsigned long mode = strtoul(v, &end, 8);
    if (!isdigit((unsigned char)*v) || *end || errno || strlen(v) > 5) {
        char *q = cfg_quote_for_msg(v);
        cfg_err_at(L, m, path, "%s is not an octal mode such as \"0660\"", q);
        free(q);
        return false;
    }
    if (mode > (unsigned long)s->max) {
        char *r = cfg_range_str(s);
        cfg_err_at(L, m, path, "%s is out of range (%s)", v, r);
        free(r);
        return false;
    }
    *AT(obj, off, unsigned) = (unsigned)mode;
    return true;
}

/* A list of user or group ids; the valid ones are kept, the others reported. */
static bool read_ids(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                     void *obj, size_t off)
{
    fo_idlist_t *ids = AT(obj, off, fo_idlist_t);
    if (!config_setting_is_array(m) && !config_setting_is_list(m)) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    int n = config_setting_length(m);
    ids->ids = xcalloc((size_t)n, sizeof *ids->ids);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        buf_t p = BUF_INIT;
        buf_printf(&p, "%s[%d]", path, i);
        long long v;
        if (!get_int(L, e, &v))
            cfg_err_at(L, e, buf_str(&p), "expected an integer, found %s", cfg_found_type(e));
        else if (v < s->min || v > s->max)
            cfg_err_at(L, e, buf_str(&p), "%lld is out of range (%lld..%lld)", v, (long long)s->min,
                       (long long)s->max);
        else
            ids->ids[ids->n++] = (unsigned)v;
        buf_free(&p);
    }
    return true; /* what was valid; the rest is reported */
}

/* A list of strings, each checked like a string setting of the row. */
static bool read_strings(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                         void *obj, size_t off)
{
    fo_strlist_t *sl = AT(obj, off, fo_strlist_t);
    if (!config_setting_is_array(m) && !config_setting_is_list(m)) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    int n = config_setting_length(m);
    sl->items = xcalloc((size_t)n, sizeof *sl->items);
    for (int i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(m, (unsigned)i);
        buf_t p = BUF_INIT;
        buf_printf(&p, "%s[%d]", path, i);
        if (config_setting_type(e) != CONFIG_TYPE_STRING)
            cfg_err_at(L, e, buf_str(&p), "expected a string, found %s", cfg_found_type(e));
        else if (check_string(L, e, s, buf_str(&p), config_setting_get_string(e)))
            sl->items[sl->n++] = xstrdup(config_setting_get_string(e));
        buf_free(&p);
    }
    return true;
}

static bool read_kv(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                    void *obj, size_t off)
{
    if (!config_setting_is_group(m)) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    parse_kv(L, m, s, path, AT(obj, off, fo_kvlist_t));
    return true;
}

static bool read_group(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                       void *obj, size_t off)
{
    if (!config_setting_is_group(m)) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    cfg_parse_section(L, m, s->sub, AT(obj, off, void), path);
    return true;
}

static bool read_list(load_t *L, const config_setting_t *m, const setting_t *s, const char *path,
                      void *obj, size_t off)
{
    (void)off; /* the row's own offsets: array and count */
    /* "( )" and "[ ]" are both an empty list to the reader. */
    if (!config_setting_is_list(m) &&
        !(config_setting_is_array(m) && config_setting_length(m) == 0)) {
        cfg_type_error(L, m, path, s->kind, false);
        return false;
    }
    parse_list(L, m, s, path, obj);
    return true;
}

/* Indexed by kind; K_INHERIT has none (its row resolves to the daemon's). */
static const read_fn readers[] = {
    [K_STRING] = read_string,     [K_SECRET] = read_string,   [K_SECRET_FILE] = read_string,
    [K_COMMAND] = read_string,    [K_INT] = read_int,         [K_BOOL] = read_bool,
    [K_DURATION] = read_duration, [K_ENUM] = read_enum,       [K_MODE] = read_mode,
    [K_IDS] = read_ids,           [K_STRINGS] = read_strings, [K_KV] = read_kv,
    [K_GROUP] = read_group,       [K_LIST] = read_list,       [K_INHERIT] = NULL,
};

/* Parse the setting m (present in the file) into obj; false when it was not stored
 * (the error is reported). */
static bool parse_value(load_t *L, const config_setting_t *m, const setting_t *row,
                        const char *path, void *obj)
{
    const setting_t *s = cfg_resolve(row);
    if ((size_t)s->kind >= sizeof readers / sizeof readers[0] || !readers[s->kind])
        abort();
    return readers[s->kind](L, m, s, path, obj, row->off);
}

/* Fill in the default of a setting that is absent from grp (missing) or whose value
 * was refused (!missing; no second error then).  grp is NULL for an absent group. */
static void apply_default(load_t *L, const config_setting_t *grp, const setting_t *row,
                          const char *path, void *obj, bool missing)
{
    if (row->kind == K_INHERIT) {
        const setting_t *base = cfg_resolve(row);
        const void *from = (const char *)&L->cfg->daemon + base->off;
        size_t size = base->kind == K_DURATION ? sizeof(uint64_t) : sizeof(int);
        memcpy(AT(obj, row->off, char), from, size);
        return;
    }
    if ((row->flags & F_REQUIRED) && row->kind != K_SECRET) {
        if (missing)
            cfg_err_at(L, grp, path, "required setting is missing");
        return;
    }
    switch (row->kind) {
    case K_STRING:
    case K_COMMAND:
        if (row->def_s)
            *AT(obj, row->off, char *) = xstrdup(row->def_s);
        return;
    case K_SECRET:
    case K_SECRET_FILE: return; /* see resolve_secrets */
    case K_INT:
    case K_ENUM: *AT(obj, row->off, int) = (int)row->def; return;
    case K_BOOL: *AT(obj, row->off, bool) = row->def != 0; return;
    case K_DURATION: *AT(obj, row->off, uint64_t) = (uint64_t)row->def; return;
    case K_MODE: *AT(obj, row->off, unsigned) = (unsigned)row->def; return;
    case K_IDS: {
        fo_idlist_t *ids = AT(obj, row->off, fo_idlist_t);
        const char *p = row->def_s;
        ids->ids = xcalloc(strlen(p) + 1, sizeof *ids->ids);
        while (*p) {
            char *end;
            unsigned long v = strtoul(p, &end, 10);
            if (end == p)
                break;
            ids->ids[ids->n++] = (unsigned)v;
            p = end + strspn(end, " ");
        }
        return;
    }
    case K_STRINGS:
    case K_KV:
    case K_LIST: return; /* empty */
    case K_GROUP: cfg_parse_section(L, NULL, row->sub, AT(obj, row->off, void), path); return;
    case K_INHERIT: break;
    }
    abort();
}

static void unknown_setting(load_t *L, const config_setting_t *m, const section_t *sec,
                            const char *path)
{
    const char *name = config_setting_name(m);
    const char *cands[64];
    size_t n = 0;
    for (size_t i = 0; i < sec->n && n < 64; i++)
        cands[n++] = sec->settings[i].name;
    const char *near = cfg_closest(name, cands, n);
    if (near) {
        cfg_err_at(L, m, path, "unknown setting (did you mean \"%s\"?)", near);
        return;
    }
    /* Perhaps it is right, but in the wrong group. */
    buf_t where = BUF_INIT;
    for (size_t i = 0; i < n_all_sections; i++) {
        if (all_sections[i] != sec && cfg_find_setting(all_sections[i], name))
            buf_printf(&where, "%s%s", where.len ? " or " : "", all_sections[i]->name);
    }
    if (where.len)
        cfg_err_at(L, m, path, "unknown setting here (it is a %s setting)", buf_str(&where));
    else
        cfg_err_at(L, m, path, "unknown setting");
    buf_free(&where);
}

/* The password / password_file pairs: exactly one of the two, and the file is read. */
static void resolve_secrets(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                            const char *path)
{
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *f = &sec->settings[i];
        if (f->kind != K_SECRET_FILE)
            continue;
        const setting_t *secret = NULL;
        for (size_t k = 0; k < sec->n; k++)
            if (sec->settings[k].kind == K_SECRET && sec->settings[k].off == f->off2)
                secret = &sec->settings[k];
        if (!secret)
            abort(); /* a table error, caught by the unit tests */
        const config_setting_t *mf = grp ? config_setting_get_member(grp, f->name) : NULL;
        const config_setting_t *ms = grp ? config_setting_get_member(grp, secret->name) : NULL;
        char **file = AT(obj, f->off, char *);
        char **value = AT(obj, f->off2, char *);
        char *fpath = cfg_join_path(path, f->name);
        if (mf && ms) {
            cfg_err_at(L, mf, fpath, "set either %s or %s, not both", secret->name, f->name);
        } else if (!mf && !ms && (secret->flags & F_REQUIRED)) {
            char *spath = cfg_join_path(path, secret->name);
            cfg_err_at(L, grp, spath, "required setting is missing (or set %s)", f->name);
            free(spath);
        } else if (mf && *file) {
            read_secret_file(L, mf, fpath, *file, value);
        }
        if (!*file)
            *file = xstrdup("");
        if (!*value)
            *value = xstrdup("");
        free(fpath);
    }
}

/* Parse group grp (NULL when absent: defaults only) against sec into obj. */
void cfg_parse_section(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                       const char *path)
{
    int n = grp ? config_setting_length(grp) : 0;
    for (int i = 0; i < n; i++) {
        const config_setting_t *m = config_setting_get_elem(grp, (unsigned)i);
        if (!cfg_find_setting(sec, config_setting_name(m))) {
            char *p = cfg_join_path(path, config_setting_name(m));
            unknown_setting(L, m, sec, p);
            free(p);
        }
    }
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *row = &sec->settings[i];
        const config_setting_t *m = grp ? config_setting_get_member(grp, row->name) : NULL;
        char *p = cfg_join_path(path, row->name);
        /* A value in error leaves the default: the tree stays complete for the
         * checks that follow and for fo_config_free. */
        if (!m)
            apply_default(L, grp, row, p, obj, true);
        else if (!parse_value(L, m, row, p, obj))
            apply_default(L, grp, row, p, obj, false);
        free(p);
    }
    resolve_secrets(L, grp, sec, obj, path);
    if (sec->check)
        sec->check(L, obj, path);
}
