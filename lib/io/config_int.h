/* config_int.h - what the configuration's files share (see config.c): the
 * table's row and section types, the state of one load, and the functions one
 * of them calls in another. Not for use outside lib/config*.c. */
#ifndef FAILOVERD_CONFIG_INT_H
#define FAILOVERD_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "buf.h"
#include "config.h"

typedef enum {
    K_STRING,      /* char * */
    K_SECRET,      /* char *, never printed; may come from its K_SECRET_FILE partner */
    K_SECRET_FILE, /* char * path; the file's content goes into the partner at off2 */
    K_COMMAND,     /* char *: absolute path of an executable, then arguments; "" = none */
    K_INT,         /* int */
    K_BOOL,        /* bool */
    K_DURATION,    /* uint64_t milliseconds */
    K_ENUM,        /* an int-sized enum; names in .names */
    K_MODE,        /* unsigned permission bits, written as an octal string */
    K_IDS,         /* fo_idlist_t */
    K_STRINGS,     /* fo_strlist_t */
    K_KV,          /* fo_kvlist_t, a free-form group */
    K_GROUP,       /* a nested section (.sub) stored in place */
    K_LIST,        /* a list of nested sections: array at off, count at off2 */
    K_INHERIT,     /* the daemon setting named .def_s, whose value is the default */
} kind_t;

enum {
    F_REQUIRED = 1 << 0,
    F_NAME = 1 << 1,       /* the name of a list element, used in setting paths */
    F_KV_STRINGS = 1 << 2, /* K_KV: strings only */
    F_MASK_URL = 1 << 3,   /* printed with path and query masked */
};

typedef struct load load_t;
typedef struct section section_t;
/* A string check: false with the reason in why (a phrase after the quoted value). */
typedef bool (*str_check_fn)(const char *s, buf_t *why);

typedef struct {
    const char *name;
    kind_t kind;
    size_t off;
    size_t off2;
    int64_t def;       /* K_INT, K_BOOL, K_DURATION, K_ENUM, K_MODE */
    const char *def_s; /* string kinds; K_IDS ("0 1"); K_INHERIT: the daemon setting */
    int64_t min, max;  /* value bounds; string kinds: length bounds (max 0 = none);
                          K_LIST: the least number of elements */
    const char *const *names;
    const section_t *sub;
    str_check_fn check;
    unsigned flags;
    const char *def_doc; /* the default in words, when no value says it */
    const char *doc;
} setting_t;

struct section {
    const char *name;  /* in messages ("duplicate node name") and docs */
    const char *where; /* how the docs address it: "clusters[].nodes[]" */
    const setting_t *settings;
    size_t n;
    size_t size;    /* of the struct, for list elements */
    long off_src;   /* offset of its fo_src_t, or -1 */
    long off_index; /* offset of its size_t index, or -1 */
    /* Checks that span settings, run after the section's settings are parsed. */
    void (*check)(load_t *L, void *obj, const char *path);
    const char *doc;
};

#define AT(obj, off, T) ((T *)((char *)(obj) + (off)))
#define CAT(obj, off, T) ((const T *)((const char *)(obj) + (off)))

/* The state of one load. */
typedef struct {
    size_t file; /* index into cfg->files */
    unsigned line;
    size_t seq;
    char *text;
} err_t;

typedef struct {
    char *name; /* as libconfig reports it */
    char *text; /* NULL when unreadable */
} text_t;

struct load {
    fo_config_t *cfg;
    config_t lc;
    char *dir; /* directory of the main file: "" or ending in '/' */
    err_t *errs;
    size_t n_errs, cap_errs, dropped;
    text_t *texts; /* file contents, read again to check integers (see int_literal) */
    size_t n_texts;
    const void **bad; /* list elements with errors of their own: left out of check_root */
    size_t n_bad;
};

/* config.c: names of the enums, durations, the table */
size_t cfg_names_count(const char *const *names);
const char *cfg_name_of(const char *const *names, int v);
bool cfg_parse_name(const char *const *names, const char *s, int *out);
char *cfg_duration_str(uint64_t ms, char *tmp, size_t n);
extern const section_t node_section;
extern const section_t root_section;
extern const section_t coord_section; /* config_coord.c */
extern const section_t *const all_sections[];
extern const size_t n_all_sections;
const setting_t *cfg_find_setting(const section_t *sec, const char *name);
const setting_t *cfg_resolve(const setting_t *s);

/* config_check.c: checks of strings and across settings */
bool check_abs_path(const char *s, buf_t *why);
bool check_cluster_name(const char *s, buf_t *why);
bool check_node_name(const char *s, buf_t *why);
bool check_host(const char *s, buf_t *why);
bool check_group_name(const char *s, buf_t *why);
bool check_listen(const char *s, buf_t *why);
bool check_url(const char *s, buf_t *why);
bool check_event_name(const char *s, buf_t *why);
bool check_read_lag(const char *s, buf_t *why);
bool check_opt_abs_path(const char *s, buf_t *why);
bool check_salvage_command(const char *s, buf_t *why);
bool check_tls_file(const char *s, buf_t *why);
bool check_tls_key(const char *s, buf_t *why);
bool check_tls_dir(const char *s, buf_t *why);
bool check_tls_version(const char *s, buf_t *why);
void check_node(load_t *L, void *obj, const char *path);
void check_root(load_t *L, void *obj, const char *path);

/* config_read.c: reading values */
char *cfg_range_str(const setting_t *s);
void cfg_parse_section(load_t *L, const config_setting_t *grp, const section_t *sec, void *obj,
                       const char *path);

/* config_load.c: errors, includes, loading, freeing, look-ups */
fo_src_t cfg_src_of(load_t *L, const config_setting_t *at);
void cfg_verr_at(load_t *L, fo_src_t src, const char *path, const char *fmt, va_list ap);
void cfg_err_at(load_t *L, const config_setting_t *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
char *cfg_join_path(const char *a, const char *b);
const char *cfg_found_type(const config_setting_t *s);
void cfg_put_quoted(buf_t *b, const char *s);
char *cfg_quote_for_msg(const char *s);
void cfg_type_error(load_t *L, const config_setting_t *m, const char *path, kind_t kind,
                    bool show_value);
const char *cfg_closest(const char *s, const char *const *cands, size_t n);
bool cfg_has_control(const char *s);
void cfg_node_default_name(const char *host, long long port, buf_t *out);

#endif
