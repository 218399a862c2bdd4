/* putil.h - helpers shared by the plugins that ship with failoverd (vip, dns):
 * settings, durations, a growable string, command templates, and the start
 * and end of a call in progress.
 *
 * Like the plugins themselves, this needs nothing of the daemon but the ABI
 * header.  Everything here is pure (no I/O, no clock) except putil_which(),
 * which looks at the file system, and the calls' helpers (putil_done,
 * putil_job_*), which go through the host; so it is unit tested on its own
 * (tests/unit/test_vip.c).
 */
#ifndef FAILOVERD_PUTIL_H
#define FAILOVERD_PUTIL_H

#include <failoverd/plugin.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- settings ------------------------------------------------------------ */

/* The value of setting key of the plugin's `config` group, or NULL. */
const char *putil_setting(const failoverd_kv_t *kv, size_t n, const char *key);

/* Whether every setting's key is one of known (NULL-terminated); if not, the
 * first unknown one is named in err.  A typo in a setting must not go unnoticed. */
bool putil_known_settings(const failoverd_kv_t *kv, size_t n, const char *const *known, char *err,
                          size_t err_len);

/* A duration: "250ms", "2s", "1.5s", "1m", or a bare number of milliseconds.
 * Returns false for anything else (negative, trailing text, overflow). */
bool putil_duration_ms(const char *text, uint64_t *ms);

/* A whole number within [min, max]. */
bool putil_long(const char *text, long min, long max, long *out);

/* "true"/"yes"/"on"/"1" or "false"/"no"/"off"/"0". */
bool putil_bool(const char *text, bool *out);

/* A plugin's state of size bytes, zeroed, once every setting in a->config is
 * one of known; NULL with the reason in err otherwise (or when out of memory). */
void *putil_new_state(const failoverd_init_t *a, const char *const *known, size_t size, char *err,
                      size_t err_len);

/* Setting key as a port number (1-65535) or a boolean: *out keeps its value
 * when the setting is absent; false, with the reason in err, when it is not
 * one. */
bool putil_port_setting(const failoverd_kv_t *kv, size_t n, const char *key, int *out, char *err,
                        size_t err_len);
bool putil_bool_setting(const failoverd_kv_t *kv, size_t n, const char *key, bool *out, char *err,
                        size_t err_len);

/* Setting key of a->config as a duration in ms into *out, def when absent;
 * false, with "KEY: "VALUE" is not a duration" and what_ok after it in err,
 * when it is not one or is shorter than min_ms. */
bool putil_duration_setting(const failoverd_init_t *a, const char *key, uint64_t def,
                            uint64_t min_ms, const char *what_ok, uint64_t *out, char *err,
                            size_t err_len);

/* The node of a->nodes named name; NULL for none, or for a NULL or empty name. */
const failoverd_node_t *putil_find_node(const failoverd_init_t *a, const char *name);

/* Ends a call: logs "HOOK: MSG" (info when how is FAILOVERD_DONE_OK, a warning
 * otherwise) and answers the call with how and msg. */
void putil_done(const failoverd_host_t *host, failoverd_call_t *call, const char *hook,
                failoverd_outcome_t how, const char *msg);

/* ---- calls in progress ---------------------------------------------------- */

/* What a plugin's job (one on_event() call in progress) begins with. */
typedef struct {
    const failoverd_host_t *host;
    failoverd_call_t *call;
    const failoverd_context_t *ctx;
    uint64_t started; /* host->now_ms() when the call came */
} putil_job_t;

/* A job of size bytes, zeroed, whose first member is a putil_job_t filled in
 * for this call; when out of memory the call is answered as failed and NULL
 * returned. */
void *putil_job_start(const failoverd_host_t *host, const failoverd_context_t *ctx,
                      failoverd_call_t *call, size_t size);

/* Ends a job: frees it (the whole job whose first member job is) and ends its
 * call with how and msg as putil_done() does. */
void putil_job_end(putil_job_t *job, failoverd_outcome_t how, const char *msg);
/* The same with the message formatted (cut at 511 bytes), then "; note"
 * appended when note is neither NULL nor "" and it fits. */
void putil_job_endf(putil_job_t *job, failoverd_outcome_t how, const char *note, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

/* ---- strings -------------------------------------------------------------- */

/* A growable NUL-terminated string; {0} is an empty one.  Allocation failure
 * sets oom and further appends do nothing, so a caller checks once at the end. */
typedef struct {
    char *s;
    size_t len, cap;
    bool oom;
} putil_str_t;

void putil_str_add(putil_str_t *b, const char *s, size_t n);
void putil_str_puts(putil_str_t *b, const char *s);
void putil_str_printf(putil_str_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *putil_str_get(const putil_str_t *b); /* never NULL */
void putil_str_free(putil_str_t *b);

/* NULL-terminated vectors of malloc'ed strings. */
void putil_strv_free(char **v);
size_t putil_strv_len(char *const *v);

/* ---- command templates ---------------------------------------------------- */

/* Looks a placeholder up: its value, or NULL when it is not defined. */
typedef const char *(*putil_lookup_fn)(void *ud, const char *name);

/* Turns a command template into an argument vector.
 *
 * The rules, which keep a template free of a shell's surprises:
 * - words are separated by spaces and tabs;
 * - single quotes group: 'a b' is one word "a b"; there is no other quoting
 *   and no escape character;
 * - {name} (letters, digits, '_') is replaced by the placeholder's value, also
 *   inside quotes; the value never splits a word, whatever it contains;
 * - a '{' that does not start such a name is kept as it is.
 *
 * Returns the vector, or NULL with a reason in err: an unterminated quote, an
 * undefined placeholder (named), or running out of memory.  An empty template
 * gives an empty vector. */
char **putil_expand(const char *tmpl, putil_lookup_fn lookup, void *ud, char *err, size_t err_len);

/* The placeholders a template uses, in order, each once, joined by spaces,
 * into out ("" for none).  For error messages and documentation checks. */
void putil_placeholders(const char *tmpl, char *out, size_t out_len);

/* One word quoted for a POSIX shell: returned as is when it holds only
 * characters that are safe unquoted, else in single quotes ('\'' for a quote). */
void putil_shell_quote(putil_str_t *b, const char *word);

/* A command that goes through a wrapper (ssh, ip netns exec ...): wrap's words,
 * then cmd's.  With quote, cmd's words are shell-quoted, because ssh joins
 * them into one line for the remote shell.  Takes ownership of both vectors
 * (either may be NULL: empty); returns NULL when out of memory. */
char **putil_wrap(char **wrap, char **cmd, bool quote);

/* Whether a wrapper's program is ssh (then its command is shell-quoted). */
bool putil_is_ssh(const char *program);

/* A command's text for logs: its words joined by spaces. */
void putil_argv_text(char *const *argv, putil_str_t *out);

/* ---- the file system ------------------------------------------------------ */

/* The absolute path of program: as is when it contains a '/', else the first
 * executable found in the directories of path (a $PATH value; NULL or "":
 * "/usr/sbin:/usr/bin:/sbin:/bin").  Returns false when none is found. */
bool putil_which(const char *program, const char *path, char *out, size_t out_len);

/* What became of a spawned command, for messages: "exited with status 2: the
 * first line it printed" (up to 200 bytes of it), "killed by signal 9", "timed
 * out after 2000 ms", "could not start: ...". */
void putil_describe(const failoverd_spawn_result_t *r, char *out, size_t len);

#endif
