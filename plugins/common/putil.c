/* putil.c - see putil.h. */
#include "putil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- settings ------------------------------------------------------------ */

const char *putil_setting(const failoverd_kv_t *kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (kv[i].key && strcmp(kv[i].key, key) == 0)
            return kv[i].value ? kv[i].value : "";
    return NULL;
}

bool putil_known_settings(const failoverd_kv_t *kv, size_t n, const char *const *known, char *err,
                          size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = strcmp(kv[i].key, known[k]) == 0;
        if (!ok) {
            snprintf(err, err_len, "unknown setting \"%s\"", kv[i].key);
            return false;
        }
    }
    return true;
}

bool putil_duration_ms(const char *text, uint64_t *ms)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (errno || end == text)
        return false;
    double scale;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        scale = 1;
    else if (strcmp(end, "s") == 0)
        scale = 1000;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        scale = 60000;
    else
        return false;
    double r = v * scale;
    if (r < 0 || r > 1e15)
        return false;
    *ms = (uint64_t)(r + 0.5);
    return true;
}

bool putil_long(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool putil_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

void *putil_new_state(const failoverd_init_t *a, const char *const *known, size_t size, char *err,
                      size_t err_len)
{
    if (!putil_known_settings(a->config, a->n_config, known, err, err_len))
        return NULL;
    void *state = calloc(1, size);
    if (!state)
        snprintf(err, err_len, "out of memory");
    return state;
}

bool putil_port_setting(const failoverd_kv_t *kv, size_t n, const char *key, int *out, char *err,
                        size_t err_len)
{
    const char *s = putil_setting(kv, n, key);
    long v;
    if (!s)
        return true;
    if (!putil_long(s, 1, 65535, &v)) {
        snprintf(err, err_len, "%s: \"%s\" is not a port number", key, s);
        return false;
    }
    *out = (int)v;
    return true;
}

bool putil_bool_setting(const failoverd_kv_t *kv, size_t n, const char *key, bool *out, char *err,
                        size_t err_len)
{
    const char *s = putil_setting(kv, n, key);
    if (s && !putil_bool(s, out)) {
        snprintf(err, err_len, "%s: \"%s\" is not true or false", key, s);
        return false;
    }
    return true;
}

bool putil_duration_setting(const failoverd_init_t *a, const char *key, uint64_t def,
                            uint64_t min_ms, const char *what_ok, uint64_t *out, char *err,
                            size_t err_len)
{
    const char *s = putil_setting(a->config, a->n_config, key);
    *out = def;
    if (s && (!putil_duration_ms(s, out) || *out < min_ms)) {
        snprintf(err, err_len, "%s: \"%s\" is not a duration%s", key, s, what_ok);
        return false;
    }
    return true;
}

const failoverd_node_t *putil_find_node(const failoverd_init_t *a, const char *name)
{
    for (size_t i = 0; name && name[0] && i < a->n_nodes; i++)
        if (strcmp(a->nodes[i].name, name) == 0)
            return &a->nodes[i];
    return NULL;
}

void putil_done(const failoverd_host_t *host, failoverd_call_t *call, const char *hook,
                failoverd_outcome_t how, const char *msg)
{
    host->log(host, how == FAILOVERD_DONE_OK ? FAILOVERD_LOG_INFO : FAILOVERD_LOG_WARN, "%s: %s",
              hook, msg);
    host->done(call, how, msg);
}

void *putil_job_start(const failoverd_host_t *host, const failoverd_context_t *ctx,
                      failoverd_call_t *call, size_t size)
{
    putil_job_t *job = calloc(1, size);
    if (!job) {
        host->done(call, FAILOVERD_DONE_FAILED, "out of memory");
        return NULL;
    }
    job->host = host;
    job->call = call;
    job->ctx = ctx;
    job->started = host->now_ms(host);
    return job;
}

void putil_job_end(putil_job_t *job, failoverd_outcome_t how, const char *msg)
{
    const failoverd_host_t *host = job->host;
    failoverd_call_t *call = job->call;
    const char *hook = job->ctx->hook;
    free(job);
    putil_done(host, call, hook, how, msg);
}

void putil_job_endf(putil_job_t *job, failoverd_outcome_t how, const char *note, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (note && note[0] && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, "; %s", note);
    putil_job_end(job, how, msg);
}

/* ---- strings -------------------------------------------------------------- */

static bool str_reserve(putil_str_t *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->len + more + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void putil_str_add(putil_str_t *b, const char *s, size_t n)
{
    if (!str_reserve(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void putil_str_puts(putil_str_t *b, const char *s)
{
    putil_str_add(b, s, strlen(s));
}

void putil_str_printf(putil_str_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !str_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *putil_str_get(const putil_str_t *b)
{
    return b->s ? b->s : "";
}

void putil_str_free(putil_str_t *b)
{
    free(b->s);
    *b = (putil_str_t){0};
}

void putil_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

size_t putil_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Appends s to the vector *v of *n words; false when out of memory. */
static bool strv_push(char ***v, size_t *n, char *s)
{
    if (!s)
        return false;
    char **nv = realloc(*v, (*n + 2) * sizeof *nv);
    if (!nv) {
        free(s);
        return false;
    }
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return true;
}

/* ---- command templates ---------------------------------------------------- */

static bool name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* The length of the placeholder name at p (just after a '{') when it is one,
 * i.e. name characters followed by '}'; else 0. */
static size_t placeholder_at(const char *p)
{
    size_t n = 0;
    while (name_char(p[n]))
        n++;
    return n > 0 && p[n] == '}' ? n : 0;
}

char **putil_expand(const char *tmpl, putil_lookup_fn lookup, void *ud, char *err, size_t err_len)
{
    char **v = calloc(1, sizeof *v);
    size_t n = 0;
    putil_str_t word = {0};
    bool in_word = false, quoted = false;
    if (!v)
        goto oom;
    for (const char *p = tmpl ? tmpl : "";; p++) {
        char c = *p;
        if (c == '\0' || (!quoted && (c == ' ' || c == '\t'))) {
            if (c == '\0' && quoted) {
                snprintf(err, err_len, "unterminated quote in \"%s\"", tmpl);
                goto fail;
            }
            if (in_word) {
                if (word.oom || !strv_push(&v, &n, strdup(putil_str_get(&word))))
                    goto oom;
                putil_str_free(&word);
                in_word = false;
            }
            if (c == '\0')
                break;
            continue;
        }
        in_word = true;
        if (c == '\'') {
            quoted = !quoted;
            continue;
        }
        size_t len = c == '{' ? placeholder_at(p + 1) : 0;
        if (len == 0) {
            putil_str_add(&word, p, 1);
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, p + 1);
        const char *value = lookup ? lookup(ud, name) : NULL;
        if (!value) {
            snprintf(err, err_len, "{%s} is not defined", name);
            goto fail;
        }
        putil_str_puts(&word, value);
        p += len + 1; /* the name and the '}' */
    }
    return v;
oom:
    snprintf(err, err_len, "out of memory");
fail:
    putil_str_free(&word);
    putil_strv_free(v);
    return NULL;
}

void putil_placeholders(const char *tmpl, char *out, size_t out_len)
{
    size_t used = 0;
    if (!out_len)
        return;
    out[0] = '\0';
    for (const char *p = tmpl ? tmpl : ""; *p; p++) {
        size_t len = *p == '{' ? placeholder_at(p + 1) : 0;
        if (!len)
            continue;
        /* Already listed? */
        bool seen = false;
        for (const char *q = out; *q && !seen;) {
            size_t wl = strcspn(q, " ");
            seen = wl == len && strncmp(q, p + 1, len) == 0;
            q += wl + (q[wl] == ' ');
        }
        if (!seen && used < out_len) {
            int w = snprintf(out + used, out_len - used, "%s%.*s", used ? " " : "", (int)len,
                             p + 1);
            used += w > 0 ? (size_t)w : 0;
            if (used >= out_len)
                used = out_len - 1;
        }
        p += len + 1;
    }
}

void putil_shell_quote(putil_str_t *b, const char *word)
{
    bool plain = *word != '\0';
    for (const char *p = word; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("@%+=:,./_-", *p);
    if (plain) {
        putil_str_puts(b, word);
        return;
    }
    putil_str_puts(b, "'");
    for (const char *p = word; *p; p++) {
        if (*p == '\'')
            putil_str_puts(b, "'\\''");
        else
            putil_str_add(b, p, 1);
    }
    putil_str_puts(b, "'");
}

char **putil_wrap(char **wrap, char **cmd, bool quote)
{
    size_t nw = putil_strv_len(wrap), nc = putil_strv_len(cmd);
    char **v = calloc(nw + nc + 1, sizeof *v);
    if (!v)
        goto fail;
    size_t n = 0;
    for (size_t i = 0; i < nw; i++) {
        v[n++] = wrap[i];
        wrap[i] = NULL;
    }
    for (size_t i = 0; i < nc; i++) {
        if (quote) {
            putil_str_t q = {0};
            putil_shell_quote(&q, cmd[i]);
            if (q.oom) {
                putil_strv_free(v);
                goto fail;
            }
            v[n++] = q.s ? q.s : strdup("");
        } else {
            v[n++] = cmd[i];
            cmd[i] = NULL;
        }
    }
    putil_strv_free(wrap);
    putil_strv_free(cmd);
    return v;
fail:
    putil_strv_free(wrap);
    putil_strv_free(cmd);
    return NULL;
}

bool putil_is_ssh(const char *program)
{
    const char *base = strrchr(program, '/');
    base = base ? base + 1 : program;
    return strcmp(base, "ssh") == 0;
}

void putil_argv_text(char *const *argv, putil_str_t *out)
{
    for (size_t i = 0; argv && argv[i]; i++) {
        if (i)
            putil_str_puts(out, " ");
        putil_str_puts(out, argv[i]);
    }
}

/* ---- the file system ------------------------------------------------------ */

bool putil_which(const char *program, const char *path, char *out, size_t out_len)
{
    if (!program || !*program)
        return false;
    if (strchr(program, '/')) {
        if (program[0] != '/' || access(program, X_OK) != 0)
            return false;
        snprintf(out, out_len, "%s", program);
        return true;
    }
    if (!path || !*path)
        path = "/usr/sbin:/usr/bin:/sbin:/bin";
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        if (len > 0 && p[0] == '/') {
            char cand[PATH_MAX];
            int w = snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, program);
            struct stat st;
            if (w > 0 && (size_t)w < sizeof cand && stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
                access(cand, X_OK) == 0) {
                snprintf(out, out_len, "%s", cand);
                return true;
            }
        }
        p += len + (p[len] == ':');
    }
    return false;
}

void putil_describe(const failoverd_spawn_result_t *r, char *out, size_t len)
{
    int n;
    switch (r->status) {
    case FAILOVERD_SPAWN_EXITED:
        n = snprintf(out, len, "exited with status %d", r->exit_code);
        break;
    case FAILOVERD_SPAWN_SIGNALED:
        n = snprintf(out, len, "killed by signal %d", r->term_signal);
        break;
    case FAILOVERD_SPAWN_TIMEOUT:
        n = snprintf(out, len, "timed out after %llu ms", (unsigned long long)r->elapsed_ms);
        break;
    default:
        n = snprintf(out, len, "could not start: %s", r->error);
        break;
    }
    /* The first line of what it said. */
    const char *say = r->err_len ? r->err : r->out;
    size_t say_len = strcspn(say, "\n");
    if (n > 0 && (size_t)n < len && say_len)
        snprintf(out + n, len - (size_t)n, ": %.*s", (int)(say_len > 200 ? 200 : say_len), say);
}
