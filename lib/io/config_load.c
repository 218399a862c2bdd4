/* config_load.c - loading a configuration file: errors with file and line,
 * includes, the load itself and freeing, and the look-ups (see config.c). */
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

#include "cfgsyntax.h"
#include "config_int.h"

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

/* Errors kept before sorting; the rest are only counted. */
#define MAX_KEPT 1000

static size_t intern_file(load_t *L, const char *file)
{
    fo_config_t *cfg = L->cfg;
    for (size_t i = 0; i < cfg->n_files; i++)
        if (strcmp(cfg->files[i], file) == 0)
            return i;
    cfg->files = xrealloc(cfg->files, (cfg->n_files + 1) * sizeof *cfg->files);
    cfg->files[cfg->n_files] = xstrdup(file);
    return cfg->n_files++;
}

fo_src_t cfg_src_of(load_t *L, const config_setting_t *at)
{
    const char *f = at ? config_setting_source_file(at) : NULL;
    size_t i = intern_file(L, f ? f : L->cfg->path); /* may move cfg->files */
    fo_src_t src = {L->cfg->files[i], at ? config_setting_source_line(at) : 0};
    return src;
}

/* Record "file:line: path: message" (no line when src.line is 0, no path when
 * path is empty). */
void cfg_verr_at(load_t *L, fo_src_t src, const char *path, const char *fmt, va_list ap)
{
    if (L->n_errs >= MAX_KEPT) {
        L->dropped++;
        return;
    }
    buf_t b = BUF_INIT;
    buf_puts(&b, src.file);
    if (src.line)
        buf_printf(&b, ":%u", src.line);
    buf_puts(&b, ": ");
    if (path && *path)
        buf_printf(&b, "%s: ", path);
    buf_vprintf(&b, fmt, ap);
    if (L->n_errs == L->cap_errs) {
        L->cap_errs = L->cap_errs ? 2 * L->cap_errs : 16;
        L->errs = xrealloc(L->errs, L->cap_errs * sizeof *L->errs);
    }
    L->errs[L->n_errs] = (err_t){intern_file(L, src.file), src.line, L->n_errs, buf_steal(&b)};
    L->n_errs++;
}

static void err_src(load_t *L, fo_src_t src, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void err_src(load_t *L, fo_src_t src, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verr_at(L, src, path, fmt, ap);
    va_end(ap);
}

/* An error at the file and line of setting `at` (NULL: the main file, no line). */
void cfg_err_at(load_t *L, const config_setting_t *at, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cfg_verr_at(L, cfg_src_of(L, at), path, fmt, ap);
    va_end(ap);
}

static int err_cmp(const void *a, const void *b)
{
    const err_t *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void fo_config_errors_free(fo_config_errors_t *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    *errs = (fo_config_errors_t)FO_CONFIG_ERRORS_INIT;
}

void fo_config_errors_format(const fo_config_errors_t *errs, buf_t *out)
{
    for (size_t i = 0; i < errs->n; i++)
        buf_printf(out, "%s\n", errs->lines[i]);
    if (errs->more)
        buf_printf(out, "... and %zu more error%s\n", errs->more, errs->more == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

char *cfg_join_path(const char *a, const char *b)
{
    buf_t p = BUF_INIT;
    buf_printf(&p, "%s%s%s", a, *a ? "." : "", b);
    return buf_steal(&p);
}

const char *cfg_found_type(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64: return "an integer";
    case CONFIG_TYPE_FLOAT: return "a floating-point number";
    case CONFIG_TYPE_STRING: return "a string";
    case CONFIG_TYPE_BOOL: return "a boolean";
    case CONFIG_TYPE_ARRAY: return "an array";
    case CONFIG_TYPE_LIST: return "a list";
    case CONFIG_TYPE_GROUP: return "a group";
    default: return "nothing";
    }
}

static const char *expected_type(kind_t k)
{
    switch (k) {
    case K_INT: return "an integer";
    case K_BOOL: return "true or false";
    case K_DURATION: return "a duration (integer milliseconds or a string such as \"2s\")";
    case K_MODE: return "an octal string such as \"0660\"";
    case K_IDS: return "an array of integers";
    case K_STRINGS: return "an array of strings";
    case K_KV:
    case K_GROUP: return "a group { ... }";
    case K_LIST: return "a list ( ... )";
    default: return "a string";
    }
}

/* Append s as a libconfig string literal. */
void cfg_put_quoted(buf_t *b, const char *s)
{
    buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        case '\f': buf_puts(b, "\\f"); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                buf_printf(b, "\\x%02x", *p);
            else
                buf_putc(b, (char)*p);
        }
    }
    buf_putc(b, '"');
}

/* A value quoted for a message, shortened when long. */
char *cfg_quote_for_msg(const char *s)
{
    buf_t b = BUF_INIT;
    if (strlen(s) > 60) {
        char *cut = xstrndup(s, 57);
        cfg_put_quoted(&b, cut);
        free(cut);
        b.len--; /* drop the closing quote */
        buf_puts(&b, "...\"");
    } else {
        cfg_put_quoted(&b, s);
    }
    return buf_steal(&b);
}

/* "expected an integer, found a string ("3306")": the value is shown only for
 * strings that are no secret. */
void cfg_type_error(load_t *L, const config_setting_t *m, const char *path, kind_t kind,
                    bool show_value)
{
    if (show_value && config_setting_type(m) == CONFIG_TYPE_STRING) {
        char *q = cfg_quote_for_msg(config_setting_get_string(m));
        cfg_err_at(L, m, path, "expected %s, found a string (%s)", expected_type(kind), q);
        free(q);
    } else {
        cfg_err_at(L, m, path, "expected %s, found %s", expected_type(kind), cfg_found_type(m));
    }
}

/* Edit distance counting a swap of neighbours as one edit ("prot" is one from
 * "port"), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char x = (char)tolower((unsigned char)a[i - 1]);
            char y = (char)tolower((unsigned char)b[j - 1]);
            size_t best = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && x == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == y && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

/* The candidate cfg_closest to s, if close enough to be a likely typo. */
const char *cfg_closest(const char *s, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(s, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(s);
    size_t allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return bestd <= allowed ? best : NULL;
}

bool cfg_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* A node without a name is named after its address: "db1", "db1:3307", "[::1]:3307". */
void cfg_node_default_name(const char *host, long long port, buf_t *out)
{
    if (port == 3306)
        buf_puts(out, host);
    else if (strchr(host, ':'))
        buf_printf(out, "[%s]:%lld", host, port);
    else
        buf_printf(out, "%s:%lld", host, port);
}

/* ------------------------------------------------------------------------ */
/* Includes                                                                  */

/* libconfig 1.5 opens an @include with fopen() and, when reading it then
 * fails (a directory, a device that errs), calls exit() from inside its
 * scanner: --check-config would die and a reload would end the daemon.  It
 * has no hook for includes (config_set_include_func came with 1.7), so every
 * file is scanned here first, the way libconfig's scanner reads it, and an
 * include that is not a readable regular file is an error before libconfig
 * sees it.  Included files are read and scanned in turn (libconfig stops at a
 * depth of 10 with an error of its own). */
#define INCLUDE_DEPTH_MAX 10

static void check_includes(load_t *L, const char *file, const char *text, size_t len, int depth);

/* Reads a whole file: 0, or -1 when it cannot be opened, -2 when reading it
 * fails (errno set). */
static int slurp(const char *path, buf_t *out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    bool failed = ferror(f) != 0;
    int e = errno;
    fclose(f);
    errno = e;
    return failed ? -2 : 0;
}

/* The file an include names, as libconfig 1.5 builds it: the include
 * directory and the name, whatever the name holds (even a leading '/'). */
static void check_one_include(load_t *L, fo_src_t at, const char *name, int depth)
{
    buf_t path = BUF_INIT;
    if (*L->dir) {
        buf_puts(&path, L->dir); /* ends in '/': libconfig's extra one changes nothing */
    }
    buf_puts(&path, name);
    struct stat st;
    if (stat(buf_str(&path), &st) != 0) {
        buf_free(&path);
        return; /* libconfig says "cannot open include file" itself */
    }
    if (!S_ISREG(st.st_mode)) {
        err_src(L, at, NULL, "@include \"%s\": %s is %s, not a configuration file", name,
                buf_str(&path), S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        buf_free(&path);
        return;
    }
    buf_t t = BUF_INIT;
    int rc = slurp(buf_str(&path), &t);
    if (rc == -2) /* one libconfig could open, then exit() on */
        err_src(L, at, NULL, "@include \"%s\": cannot read %s: %s", name, buf_str(&path),
                strerror(errno));
    else if (rc == 0 && depth + 1 < INCLUDE_DEPTH_MAX) {
        check_includes(L, name, buf_str(&t), t.len, depth + 1);
    }
    buf_free(&t);
    buf_free(&path);
}

/* At p, the start of a line outside strings and comments: an @include
 * directive, checked (and the file it names); returns where the scan goes on,
 * or NULL when the line holds none.  *line counts the newlines of the name. */
static const char *include_at(load_t *L, const char *file, const char *p, unsigned *line, int depth)
{
    const char *q = p + strspn(p, " \t");
    if (strncmp(q, "@include", 8) != 0 || (q[8] != ' ' && q[8] != '\t'))
        return NULL;
    q += 8 + strspn(q + 8, " \t");
    if (*q != '"')
        return NULL;
    unsigned at_line = *line;
    buf_t name = BUF_INIT;
    bool closed = false, bad = false;
    for (q++; *q; q++) {
        if (*q == '"') {
            closed = true;
            q++;
            break;
        }
        if (*q == '\\' && (q[1] == '\\' || q[1] == '"'))
            q++;
        else if (*q == '\\')
            bad = true;
        if (*q == '\n')
            (*line)++;
        buf_putc(&name, *q);
    }
    fo_src_t at = {file, at_line};
    if (bad)
        err_src(L, at, NULL, "@include: a backslash in a file name must be written \\\\");
    else if (closed)
        check_one_include(L, at, buf_str(&name), depth);
    buf_free(&name);
    return q;
}

/* The directive as libconfig's scanner sees it: at the start of a line (not
 * in a string or comment), blanks, "@include", blanks, a string in which only
 * \\ and \" are escapes.  A NUL byte is refused first: libconfig reads on
 * past it, a scan of C strings would not. */
static void check_includes(load_t *L, const char *file, const char *text, size_t len, int depth)
{
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        unsigned nl = 1;
        for (const char *q = text; q < nul; q++)
            nl += *q == '\n';
        fo_src_t at = {file, nl};
        err_src(L, at, NULL, "a NUL byte: a configuration file is text");
        return;
    }
    enum { CODE, STRING, BLOCK, LINE } state = CODE;
    unsigned line = 1;
    bool bol = true;
    for (const char *p = text; *p;) {
        if (state == CODE && bol) {
            const char *next = include_at(L, file, p, &line, depth);
            if (next) {
                p = next;
                bol = false;
                continue;
            }
        }
        char c = *p++;
        bol = c == '\n';
        if (c == '\n') {
            line++;
            if (state == LINE)
                state = CODE;
            continue;
        }
        switch (state) {
        case CODE:
            if (c == '"')
                state = STRING;
            else if (c == '#' || (c == '/' && *p == '/'))
                state = LINE;
            else if (c == '/' && *p == '*') {
                state = BLOCK;
                p++;
            }
            break;
        case STRING:
            if (c == '\\' && *p && *p != '\n')
                p++;
            else if (c == '"')
                state = CODE;
            break;
        case BLOCK:
            if (c == '*' && *p == '/') {
                state = CODE;
                p++;
            }
            break;
        case LINE: break;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Loading and freeing                                                       */

static void load_done(load_t *L)
{
    config_destroy(&L->lc);
    for (size_t i = 0; i < L->n_texts; i++) {
        free(L->texts[i].name);
        free(L->texts[i].text);
    }
    free(L->texts);
    free(L->bad);
    free(L->dir);
}

fo_config_t *fo_config_load(const char *path, fo_config_errors_t *errs)
{
    fo_config_errors_free(errs);
    load_t L = {0};
    L.cfg = xcalloc(1, sizeof *L.cfg);
    L.cfg->path = xstrdup(path);
    intern_file(&L, path);
    const char *slash = strrchr(path, '/');
    L.dir = slash ? xstrndup(path, (size_t)(slash - path) + 1) : xstrdup("");

    config_init(&L.lc);
    /* @include paths are relative to the main file's directory. */
    if (*L.dir)
        config_set_include_dir(&L.lc, L.dir);
    FILE *f = fopen(path, "r");
    fo_src_t top = {L.cfg->files[0], 0};
    if (!f || (getc(f) == EOF && ferror(f))) {
        err_src(&L, top, NULL, "cannot read: %s", strerror(errno));
        if (f)
            fclose(f);
    } else {
        fclose(f);
        buf_t main_text = BUF_INIT;
        int rc = slurp(path, &main_text);
        if (rc == 0)
            check_includes(&L, path, buf_str(&main_text), main_text.len, 0);
        else
            err_src(&L, top, NULL, "cannot read: %s", strerror(errno));
        buf_free(&main_text);
        char ef[4096], etext[1024];
        int eline = 0;
        if (L.n_errs) {
            /* errors have already been recorded; libconfig must not see the file */
        } else if (!cfgsyntax_read(&L.lc, path, ef, sizeof ef, &eline, etext, sizeof etext)) {
            /* cfgsyntax.h: what libconfig leaks on a syntax error stays out. */
            fo_src_t at = {ef, (unsigned)eline};
            err_src(&L, at, NULL, "%s", etext);
        } else {
            cfg_parse_section(&L, config_root_setting(&L.lc), &root_section, L.cfg, "");
        }
    }

    if (L.n_errs)
        qsort(L.errs, L.n_errs, sizeof *L.errs, err_cmp);
    size_t keep = L.n_errs < FO_CONFIG_MAX_ERRORS ? L.n_errs : FO_CONFIG_MAX_ERRORS;
    errs->lines = xcalloc(keep, sizeof *errs->lines);
    for (size_t i = 0; i < L.n_errs; i++) {
        if (i < keep)
            errs->lines[errs->n++] = L.errs[i].text;
        else
            free(L.errs[i].text);
    }
    errs->more = L.n_errs - keep + L.dropped;
    free(L.errs);
    load_done(&L);
    if (errs->n) {
        fo_config_free(L.cfg);
        return NULL;
    }
    return L.cfg;
}

static void free_secret(char *s)
{
    if (s) {
        /* Do not leave passwords in freed memory. */
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

static void free_section(const section_t *sec, void *obj)
{
    for (size_t i = 0; i < sec->n; i++) {
        const setting_t *s = &sec->settings[i];
        switch (s->kind) {
        case K_STRING:
        case K_SECRET_FILE:
        case K_COMMAND: free(*AT(obj, s->off, char *)); break;
        case K_SECRET: free_secret(*AT(obj, s->off, char *)); break;
        case K_IDS: free(AT(obj, s->off, fo_idlist_t)->ids); break;
        case K_STRINGS: {
            fo_strlist_t *sl = AT(obj, s->off, fo_strlist_t);
            for (size_t k = 0; k < sl->n; k++)
                free(sl->items[k]);
            free(sl->items);
            break;
        }
        case K_KV: {
            fo_kvlist_t *kv = AT(obj, s->off, fo_kvlist_t);
            for (size_t k = 0; k < kv->n; k++) {
                free(kv->items[k].key);
                free_secret(kv->items[k].value);
            }
            free(kv->items);
            break;
        }
        case K_GROUP: free_section(s->sub, AT(obj, s->off, void)); break;
        case K_LIST: {
            char *elems = *AT(obj, s->off, char *);
            size_t n = *AT(obj, s->off2, size_t);
            for (size_t k = 0; elems && k < n; k++)
                free_section(s->sub, elems + k * s->sub->size);
            free(elems);
            break;
        }
        default: break;
        }
    }
}

void fo_config_free(fo_config_t *cfg)
{
    if (!cfg)
        return;
    free_section(&root_section, cfg);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg->path);
    free(cfg);
}

/* ------------------------------------------------------------------------ */
/* Look-ups                                                                  */

const char *fo_kv_get(const fo_kvlist_t *kv, const char *key)
{
    const fo_kv_t *e = fo_kv_find(kv, key);
    return e ? e->value : NULL;
}

const fo_kv_t *fo_kv_find(const fo_kvlist_t *kv, const char *key)
{
    for (size_t i = 0; i < kv->n; i++)
        if (strcmp(kv->items[i].key, key) == 0)
            return &kv->items[i];
    return NULL;
}

const fo_cluster_cfg_t *fo_config_cluster(const fo_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_clusters; i++)
        if (strcmp(cfg->clusters[i].name, name) == 0)
            return &cfg->clusters[i];
    return NULL;
}

const fo_node_cfg_t *fo_config_node(const fo_cluster_cfg_t *cluster, const char *name)
{
    for (size_t i = 0; i < cluster->n_nodes; i++)
        if (strcmp(cluster->nodes[i].name, name) == 0)
            return &cluster->nodes[i];
    return NULL;
}

const fo_node_cfg_t *fo_config_node_by_addr(const fo_cluster_cfg_t *cluster, const char *host,
                                            int port)
{
    for (size_t i = 0; i < cluster->n_nodes; i++)
        if (cluster->nodes[i].port == port && strcasecmp(cluster->nodes[i].host, host) == 0)
            return &cluster->nodes[i];
    return NULL;
}
