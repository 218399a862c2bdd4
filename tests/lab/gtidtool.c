/*
 * gtidtool: lib/core/gtid answers on stdin and stdout, so a script can compare
 * thousands of cases against a server in one run.
 *
 * One command per input line, fields separated by a tab:
 *   normalize A          canonical text of MySQL GTID set A
 *   union A B            A ∪ B
 *   subtract A B         A − B (GTID_SUBTRACT)
 *   intersect A B        A ∩ B
 *   subset A B           1 when A ⊆ B (GTID_SUBSET), else 0
 *   pos_normalize P      MariaDB position P parsed and formatted again
 *   pos_covers P Q       1 when P is at or beyond Q in every domain of Q, else 0
 *   pos_max P Q          the per-domain maximum of P and Q
 *   pos_diff P Q         the entries of Q that P has not reached
 * Sets contain newlines (",\n" between UUIDs), so fields are escaped: "\n",
 * "\t", "\r" and "\\" stand for newline, tab, carriage return and backslash.
 *
 * One output line per command, in the same escaping:
 *   ok<TAB>RESULT        (RESULT may be empty: the empty set)
 *   err<TAB>MESSAGE      the library rejected an argument
 * An unknown command or a wrong number of arguments ends the run with exit
 * status 64, naming the input line, since the caller is broken then.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gtid.h"

#define MAX_FIELDS 3

/* Decodes the escapes in place; a backslash before any other character stands
 * for that character. */
static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        if (*s != '\\' || s[1] == '\0') {
            *out++ = *s;
            continue;
        }
        s++;
        *out++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
    }
    *out = '\0';
}

static void put_escaped(buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\n')
            buf_puts(b, "\\n");
        else if (*s == '\t')
            buf_puts(b, "\\t");
        else if (*s == '\r')
            buf_puts(b, "\\r");
        else if (*s == '\\')
            buf_puts(b, "\\\\");
        else
            buf_putc(b, *s);
    }
}

static void answer(buf_t *out, bool ok, const char *text)
{
    buf_puts(out, ok ? "ok\t" : "err\t");
    put_escaped(out, text);
    buf_putc(out, '\n');
}

/* Text results: NULL means the library rejected an argument (err says why). */
static void answer_text(buf_t *out, char *text, const char *err)
{
    answer(out, text != NULL, text ? text : err);
    free(text);
}

static void answer_bool(buf_t *out, int v, const char *err)
{
    answer(out, v >= 0, v > 0 ? "1" : v == 0 ? "0" : err);
}

/* Parses both positions of a pos_* command; false (and err) if one is malformed. */
static bool two_positions(char **f, gtid_pos_t **p, gtid_pos_t **q, char *err, size_t errlen)
{
    char msg[GTID_ERR_SIZE];
    *q = NULL;
    *p = gtid_pos_parse(f[1], msg, sizeof(msg));
    if (!*p) {
        snprintf(err, errlen, "first position: %s", msg);
        return false;
    }
    *q = gtid_pos_parse(f[2], msg, sizeof(msg));
    if (!*q) {
        snprintf(err, errlen, "second position: %s", msg);
        gtid_pos_free(*p);
        *p = NULL;
        return false;
    }
    return true;
}

/* Runs one command; false when the command itself is unknown or misused. */
static bool run_command(buf_t *out, char **f, size_t n)
{
    char err[GTID_ERR_SIZE + 32] = "";
    const char *cmd = f[0];
    if (n == 2 && strcmp(cmd, "normalize") == 0) {
        answer_text(out, gtid_text_normalize(f[1], err, sizeof(err)), err);
    } else if (n == 3 && strcmp(cmd, "union") == 0) {
        answer_text(out, gtid_text_union(f[1], f[2], err, sizeof(err)), err);
    } else if (n == 3 && strcmp(cmd, "subtract") == 0) {
        answer_text(out, gtid_text_subtract(f[1], f[2], err, sizeof(err)), err);
    } else if (n == 3 && strcmp(cmd, "intersect") == 0) {
        answer_text(out, gtid_text_intersect(f[1], f[2], err, sizeof(err)), err);
    } else if (n == 3 && strcmp(cmd, "subset") == 0) {
        answer_bool(out, gtid_text_subset(f[1], f[2], err, sizeof(err)), err);
    } else if (n == 2 && strcmp(cmd, "pos_normalize") == 0) {
        gtid_pos_t *p = gtid_pos_parse(f[1], err, sizeof(err));
        answer_text(out, p ? gtid_pos_format(p) : NULL, err);
        gtid_pos_free(p);
    } else if (n == 3 && (strcmp(cmd, "pos_covers") == 0 || strcmp(cmd, "pos_max") == 0 ||
                          strcmp(cmd, "pos_diff") == 0)) {
        gtid_pos_t *p, *q;
        if (!two_positions(f, &p, &q, err, sizeof(err))) {
            answer(out, false, err);
            return true;
        }
        if (strcmp(cmd, "pos_covers") == 0) {
            answer_bool(out, gtid_pos_covers(p, q) ? 1 : 0, "");
        } else if (strcmp(cmd, "pos_max") == 0) {
            gtid_pos_t *m = gtid_pos_max(p, q);
            answer_text(out, gtid_pos_format(m), "");
            gtid_pos_free(m);
        } else {
            gtid_pos_diff_t *d = gtid_pos_diff(p, q);
            answer_text(out, gtid_pos_diff_format(d), "");
            gtid_pos_diff_free(d);
        }
        gtid_pos_free(p);
        gtid_pos_free(q);
    } else {
        return false;
    }
    return true;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    buf_t out = BUF_INIT;
    int status = 0;
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        char *f[MAX_FIELDS];
        size_t n = 0;
        char *s = line, *tab;
        f[n++] = s;
        while ((tab = strchr(s, '\t')) != NULL && n < MAX_FIELDS) {
            *tab = '\0';
            s = tab + 1;
            f[n++] = s;
        }
        if (tab) {
            fprintf(stderr, "gtidtool: line %lu: more than %d fields\n", lineno, MAX_FIELDS);
            status = 64;
            break;
        }
        for (size_t k = 0; k < n; k++)
            unescape(f[k]);
        if (!run_command(&out, f, n)) {
            fprintf(stderr, "gtidtool: line %lu: unknown command or wrong arguments: %.40s\n",
                    lineno, f[0]);
            status = 64;
            break;
        }
        /* Flushed in large pieces: a run has thousands of short answers. */
        if (out.len > 65536) {
            fwrite(buf_str(&out), 1, out.len, stdout);
            buf_reset(&out);
        }
    }
    fwrite(buf_str(&out), 1, out.len, stdout);
    buf_free(&out);
    free(line);
    if (fflush(stdout) != 0) {
        perror("gtidtool: stdout");
        status = 1;
    }
    return status;
}
