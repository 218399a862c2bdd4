/* ctlrender_int.h - the text helpers failoverctl's renderers share (see
 * ctlrender.c): wrapping, table cells, pieces of a line, field access and
 * value formats. Not for use outside cli/ctlrender*.c. */
#ifndef FAILOVERD_CTLRENDER_INT_H
#define FAILOVERD_CTLRENDER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "buf.h"
#include "ctlrender.h"

#define W CTLRENDER_WIDTH

/* The width of a column of node names, whatever the table. */
#define NODE_MIN 4
#define NODE_MAX 15

/* Pieces separated by two spaces; a piece that would cross W starts a new
 * line indented by indent. */
typedef struct {
    buf_t *out;
    size_t col;
    size_t indent;
    bool first;
} line_t;

bool cr_is_cont(unsigned char c);
char *cr_clean(const char *s);
const char *cr_put_chars(buf_t *out, const char *s, size_t n);
void cr_spaces(buf_t *out, size_t n);
void cr_put_cell(buf_t *out, const char *s, size_t width, bool last);
void cr_put_name_cell(buf_t *out, const char *s, size_t width);
void cr_wrap(buf_t *out, const char *prefix, size_t indent, const char *text);
void cr_piece(line_t *l, const char *text);
void cr_piecef(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *cr_str(const json_t *o, const char *key);
const char *cr_str_or(const json_t *o, const char *key, const char *dflt);
bool cr_nonempty(const char *s);
bool cr_number(char *b, size_t n, const json_t *v, double *out);
void cr_fmt_duration(char *b, size_t n, double s);
void cr_fmt_lag(char *b, size_t n, const json_t *v);
void cr_fmt_count(char *b, size_t n, const json_t *v);
void cr_fmt_latency(char *b, size_t n, const json_t *v);
const char *cr_yes_no(const json_t *v);

#endif
