/* gtid_internal.h - what the GTID modules share (gtid.c, gtid_mysql.c,
 * gtid_mariadb.c); not for use outside them. */
#ifndef FAILOVERD_GTID_INTERNAL_H
#define FAILOVERD_GTID_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "gtid.h"

/* The same whitespace the servers skip (C isspace in the "C" locale). */
static inline bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static inline bool is_tag_start(char c)
{
    return is_alpha(c) || c == '_';
}

static inline bool is_tag_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static inline size_t skip_ws(const char *t, size_t i)
{
    while (is_ws(t[i]))
        i++;
    return i;
}

/* Formats into err (when there is one). */
void gtid__set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* How a character found where something else was expected reads in a message. */
const char *gtid__describe(char c, char out[16]);

/* Appends v in decimal; faster than printf for sets of thousands of intervals. */
void gtid__put_u64(buf_t *b, uint64_t v);

/* A parse in progress: the text, and where its error goes. */
typedef struct {
    const char *t;
    char *err;
    size_t errlen;
} parser_t;

/* Writes "offset N: message" and returns false. */
bool gtid__perr(parser_t *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a decimal number without sign or leading zero, at most max. what names
 * it in messages ("transaction number", "domain id" ...). */
bool gtid__parse_dec(parser_t *p, size_t *i, uint64_t max, bool zero_ok, const char *what,
                     uint64_t *out);

/* After an element of a list at *i (whitespace skipped): 0 at the end of
 * the text; 1 past a comma, at the next element; -1 (with the error) for
 * anything else or a trailing comma. expected says what may follow an
 * element, for the message ("','", "',' or ':'"). */
int gtid__next_element(parser_t *p, size_t *i, const char *expected);

#endif
