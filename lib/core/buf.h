/* buf.h - a growable NUL-terminated byte buffer for building SQL, JSON and text.
 *
 * Allocation failure aborts the process (there is nothing sensible a failover
 * manager can do without memory), so callers never check for it.
 */
#ifndef FAILOVERD_BUF_H
#define FAILOVERD_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated once anything was added; NULL when empty */
    size_t len;
    size_t cap;
} buf_t;

#define BUF_INIT {NULL, 0, 0}

void buf_append(buf_t *b, const char *s, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_putc(buf_t *b, char c);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf_t *b, const char *fmt, va_list ap);
void buf_reset(buf_t *b);        /* length 0, memory kept */
char *buf_steal(buf_t *b);       /* the string (never NULL), buffer emptied; caller frees */
const char *buf_str(const buf_t *b); /* "" when empty */
void buf_free(buf_t *b);

/* Writes the message into err (when err and errlen), returns false: for
 * functions that answer bool and explain a refusal in a caller's buffer. */
bool fail_msg(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Memory helpers that abort on failure. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
