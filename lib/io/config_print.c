/* config_print.c - a loaded configuration printed back through the table
 * (fo_config_print), and the table as Markdown (fo_config_doc); see config.c. */
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
/* Printing                                                                  */

static void indent(buf_t *out, int n)
{
    for (int i = 0; i < n; i++)
        buf_putc(out, ' ');
}

/* A key that names a secret, in any case: DB_PASSWORD, Api_Token, passwd ... */
static bool secret_key(const char *key)
{
    static const char *const words[] = {"password",   "passwd", "secret",  "token",
                                        "credential", "apikey", "api_key", "auth"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasestr(key, words[i]))
            return true;
    return false;
}

/* A URL with its user information (user:password@) and its path and query
 * masked: both may hold credentials. */
static void put_masked_url(buf_t *out, const char *url)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    size_t hl = strcspn(host, "/?#");
    buf_t b = BUF_INIT;
    buf_append(&b, url, (size_t)(host - url));
    const char *at = memrchr(host, '@', hl);
    if (at) {
        buf_puts(&b, "********@");
        hl -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    buf_append(&b, host, hl);
    if (host[hl])
        buf_puts(&b, "/********");
    cfg_put_quoted(out, buf_str(&b));
    buf_free(&b);
}

static void print_section(buf_t *out, const section_t *sec, const void *obj, int ind);

/* One printer per kind of setting: the value of row (resolved to s) in the
 * field at off of obj, after "name = ", at indentation ind. */
typedef void (*print_fn)(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                         size_t off, int ind);

/* K_STRING, K_SECRET_FILE and K_COMMAND. */
static void print_string(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                         size_t off, int ind)
{
    (void)row, (void)ind;
    const char *v = *CAT(obj, off, char *);
    if (s->flags & F_MASK_URL)
        put_masked_url(out, v);
    else
        cfg_put_quoted(out, v);
}

static void print_secret(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                         size_t off, int ind)
{
    (void)s, (void)row, (void)obj, (void)off, (void)ind;
    buf_puts(out, "\"********\"");
}

static void print_int(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                      size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    buf_printf(out, "%d", *CAT(obj, off, int));
}

static void print_bool(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                       size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    buf_puts(out, *CAT(obj, off, bool) ? "true" : "false");
}

static void print_duration(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                           size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    buf_putc(out, '"');
    fo_duration_format(*CAT(obj, off, uint64_t), out);
    buf_putc(out, '"');
}

static void print_enum(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                       size_t off, int ind)
{
    (void)row, (void)ind;
    cfg_put_quoted(out, cfg_name_of(s->names, *CAT(obj, off, int)));
}

static void print_mode(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                       size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    buf_printf(out, "\"%04o\"", *CAT(obj, off, unsigned));
}

static void print_ids(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                      size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    const fo_idlist_t *ids = CAT(obj, off, fo_idlist_t);
    buf_puts(out, "[");
    for (size_t i = 0; i < ids->n; i++)
        buf_printf(out, "%s %u", i ? "," : "", ids->ids[i]);
    buf_puts(out, " ]");
}

static void print_strings(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                          size_t off, int ind)
{
    (void)s, (void)row, (void)ind;
    const fo_strlist_t *sl = CAT(obj, off, fo_strlist_t);
    buf_puts(out, "[");
    for (size_t i = 0; i < sl->n; i++) {
        buf_puts(out, i ? ", " : " ");
        cfg_put_quoted(out, sl->items[i]);
    }
    buf_puts(out, " ]");
}

/* On one line when it fits, else one entry per line; values under a key that
 * names a secret are masked. */
static void print_kv(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                     size_t off, int ind)
{
    (void)s;
    const fo_kvlist_t *kv = CAT(obj, off, fo_kvlist_t);
    buf_t items[2] = {BUF_INIT, BUF_INIT};
    for (size_t i = 0; i < kv->n; i++) {
        const fo_kv_t *e = &kv->items[i];
        buf_t v = BUF_INIT;
        if (secret_key(e->key))
            buf_puts(&v, "\"********\"");
        else if (e->type == FO_KV_STRING)
            cfg_put_quoted(&v, e->value);
        else
            buf_puts(&v, e->value);
        buf_printf(&items[0], " %s = %s;", e->key, buf_str(&v));
        indent(&items[1], ind + 2);
        buf_printf(&items[1], "%s = %s;\n", e->key, buf_str(&v));
        buf_free(&v);
    }
    if ((size_t)ind + strlen(row->name) + items[0].len + 8 <= 90)
        buf_printf(out, "{%s }", buf_str(&items[0]));
    else {
        buf_printf(out, "{\n%s", buf_str(&items[1]));
        indent(out, ind);
        buf_putc(out, '}');
    }
    buf_free(&items[0]);
    buf_free(&items[1]);
}

static void print_group(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                        size_t off, int ind)
{
    (void)row;
    buf_puts(out, "{\n");
    print_section(out, s->sub, CAT(obj, off, void), ind + 2);
    indent(out, ind);
    buf_puts(out, "}");
}

static void print_list(buf_t *out, const setting_t *s, const setting_t *row, const void *obj,
                       size_t off, int ind)
{
    (void)row;
    const char *elems = *CAT(obj, off, char *);
    size_t n = *CAT(obj, s->off2, size_t);
    if (!n) {
        buf_puts(out, "( )");
        return;
    }
    buf_puts(out, "(\n");
    for (size_t i = 0; i < n; i++) {
        indent(out, ind + 2);
        buf_puts(out, "{\n");
        print_section(out, s->sub, elems + i * s->sub->size, ind + 4);
        indent(out, ind + 2);
        buf_puts(out, i + 1 < n ? "},\n" : "}\n");
    }
    indent(out, ind);
    buf_puts(out, ")");
}

/* Indexed by kind; K_INHERIT has none (its row resolves to the daemon's). */
static const print_fn printers[] = {
    [K_STRING] = print_string,     [K_SECRET] = print_secret,   [K_SECRET_FILE] = print_string,
    [K_COMMAND] = print_string,    [K_INT] = print_int,         [K_BOOL] = print_bool,
    [K_DURATION] = print_duration, [K_ENUM] = print_enum,       [K_MODE] = print_mode,
    [K_IDS] = print_ids,           [K_STRINGS] = print_strings, [K_KV] = print_kv,
    [K_GROUP] = print_group,       [K_LIST] = print_list,       [K_INHERIT] = NULL,
};

static void print_value(buf_t *out, const section_t *sec, const setting_t *row, const void *obj,
                        int ind)
{
    const setting_t *s = cfg_resolve(row);
    size_t off = row->off;
    if (s->kind == K_SECRET) {
        /* Only the file is shown when the secret came from one. */
        for (size_t k = 0; k < sec->n; k++) {
            const setting_t *f = &sec->settings[k];
            if (f->kind == K_SECRET_FILE && f->off2 == s->off && **CAT(obj, f->off, char *))
                return;
        }
    }
    if (s->kind == K_SECRET_FILE && !**CAT(obj, off, char *))
        return;
    if ((size_t)s->kind >= sizeof printers / sizeof printers[0] || !printers[s->kind])
        abort();
    indent(out, ind);
    buf_printf(out, "%s = ", row->name);
    printers[s->kind](out, s, row, obj, off, ind);
    buf_puts(out, ";\n");
}

static void print_section(buf_t *out, const section_t *sec, const void *obj, int ind)
{
    for (size_t i = 0; i < sec->n; i++)
        print_value(out, sec, &sec->settings[i], obj, ind);
}

void fo_config_print(const fo_config_t *cfg, buf_t *out)
{
    buf_printf(out, "# Effective configuration of %s (passwords masked).\n", cfg->path);
    print_section(out, &root_section, cfg, 0);
}

/* ------------------------------------------------------------------------ */
/* Documentation                                                             */

static void doc_type(buf_t *out, const setting_t *row)
{
    const setting_t *s = cfg_resolve(row);
    switch (s->kind) {
    case K_STRING: buf_puts(out, "string"); break;
    case K_SECRET: buf_puts(out, "string, secret"); break;
    case K_SECRET_FILE: buf_puts(out, "path"); break;
    case K_COMMAND: buf_puts(out, "command"); break;
    case K_INT: buf_printf(out, "integer, %lld..%lld", (long long)s->min, (long long)s->max); break;
    case K_BOOL: buf_puts(out, "boolean"); break;
    case K_DURATION: {
        char *r = cfg_range_str(s);
        buf_printf(out, "duration, %s", r);
        free(r);
        break;
    }
    case K_ENUM:
        for (size_t i = 0; s->names[i]; i++)
            buf_printf(out, "%s`%s`", i ? ", " : "", s->names[i]);
        break;
    case K_MODE: buf_puts(out, "octal string"); break;
    case K_IDS: buf_puts(out, "array of integers"); break;
    case K_STRINGS: buf_puts(out, "array of strings"); break;
    case K_KV: buf_puts(out, "group"); break;
    case K_GROUP: buf_printf(out, "group, see `%s`", s->sub->where); break;
    case K_LIST: buf_printf(out, "list of groups, see `%s`", s->sub->where); break;
    case K_INHERIT: abort();
    }
}

static void doc_default(buf_t *out, const section_t *sec, const setting_t *row)
{
    const setting_t *s = row;
    if (s->kind == K_INHERIT) {
        buf_printf(out, "`daemon.%s`", s->def_s);
        return;
    }
    if (s->kind == K_SECRET && (s->flags & F_REQUIRED)) {
        for (size_t k = 0; k < sec->n; k++)
            if (sec->settings[k].kind == K_SECRET_FILE && sec->settings[k].off2 == s->off)
                buf_printf(out, "required, or `%s`", sec->settings[k].name);
        return;
    }
    if (s->flags & F_REQUIRED) {
        buf_puts(out, "required");
        return;
    }
    if (s->def_doc) {
        buf_puts(out, s->def_doc);
        return;
    }
    buf_t v = BUF_INIT;
    switch (s->kind) {
    case K_STRING:
    case K_COMMAND:
        if (s->def_s)
            cfg_put_quoted(&v, s->def_s);
        break;
    case K_INT: buf_printf(&v, "%lld", (long long)s->def); break;
    case K_BOOL: buf_puts(&v, s->def ? "true" : "false"); break;
    case K_DURATION:
        buf_putc(&v, '"');
        fo_duration_format((uint64_t)s->def, &v);
        buf_putc(&v, '"');
        break;
    case K_ENUM: buf_printf(&v, "\"%s\"", s->names[s->def]); break;
    case K_MODE: buf_printf(&v, "\"%04llo\"", (long long)s->def); break;
    case K_IDS: {
        buf_puts(&v, "[");
        const char *p = s->def_s;
        while (*p) {
            size_t n = strcspn(p, " ");
            buf_printf(&v, "%s %.*s", v.len > 1 ? "," : "", (int)n, p);
            p += n + strspn(p + n, " ");
        }
        buf_puts(&v, " ]");
        break;
    }
    case K_STRINGS: buf_puts(&v, "[ ]"); break;
    case K_KV: buf_puts(&v, "{ }"); break;
    case K_LIST: buf_puts(&v, "( )"); break;
    default: break;
    }
    if (v.len)
        buf_printf(out, "`%s`", buf_str(&v));
    else if (s->kind == K_GROUP)
        buf_puts(out, "all defaults");
    else
        buf_puts(out, "none");
    buf_free(&v);
}

void fo_config_doc(buf_t *out)
{
    for (size_t i = 0; i < n_all_sections; i++) {
        const section_t *sec = all_sections[i];
        if (sec == &root_section)
            buf_puts(out, "### Top level\n\n");
        else
            buf_printf(out, "### `%s`\n\n%s\n\n", sec->where, sec->doc);
        buf_puts(out, "| Setting | Type | Default | Meaning |\n|---|---|---|---|\n");
        for (size_t k = 0; k < sec->n; k++) {
            const setting_t *s = &sec->settings[k];
            buf_printf(out, "| `%s` | ", s->name);
            doc_type(out, s);
            buf_puts(out, " | ");
            doc_default(out, sec, s);
            buf_puts(out, " | ");
            if (s->kind == K_INHERIT)
                buf_printf(out, "Overrides `daemon.%s` for this cluster.", s->def_s);
            else
                buf_puts(out, s->doc);
            buf_puts(out, " |\n");
        }
        buf_puts(out, i + 1 < n_all_sections ? "\n" : "");
    }
}
