/* plan_writes.c - which statements seen on an old primary are long writes (see plan.h). */
#include "plan.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* The text after blanks, comments and opening parentheses. */
static const char *skip_noise(const char *s)
{
    for (;;) {
        while (*s && (isspace((unsigned char)*s) || *s == '('))
            s++;
        if (s[0] == '/' && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            if (!e)
                return s + strlen(s);
            s = e + 2;
        } else if ((s[0] == '-' && s[1] == '-') || s[0] == '#') {
            const char *e = strchr(s, '\n');
            if (!e)
                return s + strlen(s);
            s = e + 1;
        } else {
            return s;
        }
    }
}

static bool word_is(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* A whole word w somewhere in s (case-insensitive). */
static bool has_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = s; *p; p++) {
        if (strncasecmp(p, w, n) == 0 && (p == s || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n]) && p[n] != '_')
            return true;
    }
    return false;
}

bool plan_is_long_write(const char *command, const char *state, const char *info)
{
    static const char *const writes[] = {"INSERT", "UPDATE",   "DELETE",   "REPLACE", "LOAD",
                                         "ALTER",  "CREATE",   "DROP",     "RENAME",  "TRUNCATE",
                                         "OPTIMIZE", "REPAIR", "ANALYZE",  "GRANT",   "REVOKE",
                                         "CALL",   NULL};
    if (!command || !info || (strcasecmp(command, "Query") != 0 && strcasecmp(command, "Execute") != 0))
        return false;
    if (state && (strcasestr(state, "global read lock") || strcasestr(state, "backup lock")))
        return false;
    const char *w = skip_noise(info);
    size_t n = 0;
    while (isalpha((unsigned char)w[n]))
        n++;
    for (const char *const *k = writes; *k; k++)
        if (word_is(w, n, *k))
            return true;
    if (word_is(w, n, "WITH"))
        return has_word(w, "UPDATE") || has_word(w, "DELETE");
    return false;
}
