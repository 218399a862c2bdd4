/* dbconn_result.c - the results of a query: collected from Connector/C's
 * result sets, then read by column name with typed look-ups (dbconn.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dbconn_int.h"

static void rs_free(dbconn_rs_t *rs)
{
    for (size_t i = 0; i < rs->ncols; i++)
        free(rs->cols[i]);
    for (size_t i = 0; i < rs->nrows * rs->ncols; i++)
        free(rs->vals[i]);
    free(rs->cols);
    free(rs->vals);
    free(rs->lens);
    memset(rs, 0, sizeof(*rs));
}

void dbconn__result_clear(dbconn_result_t *res)
{
    for (size_t i = 0; i < res->nsets; i++)
        rs_free(&res->sets[i]);
    free(res->sets);
    res->sets = NULL;
    res->nsets = 0;
}

void dbconn_result_free(dbconn_result_t *res)
{
    if (!res)
        return;
    dbconn__result_clear(res);
    free(res);
}

dbconn_result_t *dbconn_result_move(dbconn_result_t *res)
{
    dbconn_result_t *r = xcalloc(1, sizeof(*r));
    *r = *res;
    res->sets = NULL;
    res->nsets = 0;
    return r;
}

const dbconn_rs_t *dbconn_result_set(const dbconn_result_t *res, size_t i)
{
    return res && i < res->nsets ? &res->sets[i] : NULL;
}

dbconn_rs_t *dbconn__result_push(dbconn_result_t *res)
{
    res->sets = xrealloc(res->sets, (res->nsets + 1) * sizeof(*res->sets));
    memset(&res->sets[res->nsets], 0, sizeof(*res->sets));
    return &res->sets[res->nsets++];
}

/* A stored result is entirely in memory: fetching its rows does no I/O. */
void dbconn__rs_fill(dbconn_rs_t *rs, MYSQL_RES *r)
{
    unsigned nf = mysql_num_fields(r);
    MYSQL_FIELD *f = mysql_fetch_fields(r);
    size_t nr = (size_t)mysql_num_rows(r), i = 0, n;
    MYSQL_ROW row;

    rs->has_rows = true;
    rs->ncols = nf;
    rs->cols = xcalloc(nf ? nf : 1, sizeof(char *));
    for (unsigned j = 0; j < nf; j++)
        rs->cols[j] = xstrdup(f[j].name ? f[j].name : "");
    n = nr * nf;
    rs->vals = xcalloc(n ? n : 1, sizeof(char *));
    rs->lens = xcalloc(n ? n : 1, sizeof(size_t));
    while (i < nr && (row = mysql_fetch_row(r))) {
        unsigned long *lens = mysql_fetch_lengths(r);
        for (unsigned j = 0; j < nf; j++) {
            size_t k = i * nf + j;
            if (!row[j])
                continue;
            rs->vals[k] = xmalloc(lens[j] + 1);
            memcpy(rs->vals[k], row[j], lens[j]);
            rs->vals[k][lens[j]] = '\0';
            rs->lens[k] = lens[j];
        }
        i++;
    }
    rs->nrows = i;
}

int dbconn_rs_col(const dbconn_rs_t *rs, const char *name)
{
    if (!rs || !name)
        return -1;
    for (size_t j = 0; j < rs->ncols; j++)
        if (strcasecmp(rs->cols[j], name) == 0)
            return (int)j;
    return -1;
}

const char *dbconn_rs_value(const dbconn_rs_t *rs, size_t row, size_t col)
{
    if (!rs || row >= rs->nrows || col >= rs->ncols)
        return NULL;
    return rs->vals[row * rs->ncols + col];
}

static dbconn_val_t lookup(const dbconn_rs_t *rs, size_t row, const char *col, const char **v)
{
    int j = dbconn_rs_col(rs, col);
    *v = NULL;
    if (j < 0 || row >= rs->nrows)
        return DBCONN_VAL_MISSING;
    *v = rs->vals[row * rs->ncols + (size_t)j];
    return *v ? DBCONN_VAL_OK : DBCONN_VAL_NULL;
}

const char *dbconn_rs_str(const dbconn_rs_t *rs, size_t row, const char *col)
{
    const char *v;
    lookup(rs, row, col, &v);
    return v;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9')))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

dbconn_val_t dbconn_rs_int(const dbconn_rs_t *rs, size_t row, const char *col, int64_t *out)
{
    const char *v;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    return parse_i64(v, out) ? DBCONN_VAL_OK : DBCONN_VAL_BAD;
}

dbconn_val_t dbconn_rs_uint(const dbconn_rs_t *rs, size_t row, const char *col, uint64_t *out)
{
    const char *v;
    char *end;
    unsigned long long u;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    if (*v < '0' || *v > '9') /* strtoull would accept "-1" */
        return DBCONN_VAL_BAD;
    errno = 0;
    u = strtoull(v, &end, 10);
    if (errno || *end)
        return DBCONN_VAL_BAD;
    *out = u;
    return DBCONN_VAL_OK;
}

dbconn_val_t dbconn_rs_bool(const dbconn_rs_t *rs, size_t row, const char *col, bool *out)
{
    static const struct {
        const char *word;
        bool val;
    } words[] = {{"ON", true},  {"OFF", false}, {"YES", true},
                 {"NO", false}, {"TRUE", true}, {"FALSE", false}};
    const char *v;
    int64_t i;
    dbconn_val_t r = lookup(rs, row, col, &v);
    if (r != DBCONN_VAL_OK)
        return r;
    if (parse_i64(v, &i)) {
        *out = i != 0;
        return DBCONN_VAL_OK;
    }
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (strcasecmp(v, words[k].word) == 0) {
            *out = words[k].val;
            return DBCONN_VAL_OK;
        }
    return DBCONN_VAL_BAD;
}
