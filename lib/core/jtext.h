/* jtext.h - JSON strings from text that may not be valid UTF-8.
 *
 * Text from a server (error messages, versions, GTID sets) is bytes in
 * whatever character set the server used.  jansson refuses a string that is
 * not valid UTF-8 (json_string returns NULL, json_pack fails as a whole), and
 * a NULL handed on silently drops the member or the whole object.  These
 * never fail: each byte that is not part of a valid UTF-8 sequence becomes
 * U+FFFD, so the rest of the text survives. */
#ifndef FAILOVERD_JTEXT_H
#define FAILOVERD_JTEXT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Whether s[0..len) is UTF-8 as jansson accepts it (no overlong forms, no
 * surrogates, nothing above U+10FFFF; NUL is refused). */
bool jtext_valid(const char *s, size_t len);

/* Appends s with invalid bytes replaced by U+FFFD. */
void jtext_repair(buf_t *out, const char *s);

/* A JSON string of s, repaired when needed; JSON null when s is NULL. */
json_t *jtext(const char *s);

#endif
