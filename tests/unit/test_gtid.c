/* Unit tests of lib/core/gtid: tables that read like the spec, then randomized
 * properties with a fixed seed (checked against a bitmap model where the
 * universe is small enough to enumerate). */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gtid.h"

#define U1 "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define U1_UPPER "3E11FA47-71CA-11E1-9E33-C80AA9429562"
#define U2 "8a94f357-aab4-11df-86ab-c80aa9429562"
#define U3 "f47ac10b-58cc-4372-a567-0e02b2c3d479"
#define MAX "9223372036854775806" /* GTID_TXN_MAX */
#define MAX_1 "9223372036854775805"
#define TAG32 "abcdefghijklmnopqrstuvwxyz_01234"

/* Parses text that must be valid. */
static gtid_set_t *P(const char *text)
{
    char err[GTID_ERR_SIZE] = "";
    gtid_set_t *s = gtid_set_parse(text, err, sizeof(err));
    cr_assert_not_null(s, "parse of \"%s\" failed: %s", text, err);
    return s;
}

static gtid_pos_t *PP(const char *text)
{
    char err[GTID_ERR_SIZE] = "";
    gtid_pos_t *p = gtid_pos_parse(text, err, sizeof(err));
    cr_assert_not_null(p, "parse of \"%s\" failed: %s", text, err);
    return p;
}

/* Asserts that s formats as want, then frees s. */
static void expect_set(gtid_set_t *s, const char *want, const char *what)
{
    char *got = gtid_set_format(s);
    cr_expect_str_eq(got, want, "%s: got \"%s\", want \"%s\"", what, got, want);
    free(got);
    gtid_set_free(s);
}

/* ------------------------------------------------------------------ */
/* MySQL sets: parsing and the canonical text                          */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *in, *canonical;
} canon_case_t;

static const canon_case_t canon_cases[] = {
    /* empty */
    {"", ""},
    {"  \n\t ", ""},
    /* already canonical */
    {U1 ":1", U1 ":1"},
    {U1 ":1-5", U1 ":1-5"},
    {U1 ":1-5:7-9", U1 ":1-5:7-9"},
    {U1 ":1-5,\n" U2 ":3", U1 ":1-5,\n" U2 ":3"},
    /* intervals merged: adjacent, overlapping, contained, repeated, unsorted */
    {U1 ":1-3:4-5", U1 ":1-5"},
    {U1 ":1:2:3", U1 ":1-3"},
    {U1 ":1-5:3-9", U1 ":1-9"},
    {U1 ":1-10:3-4", U1 ":1-10"},
    {U1 ":5:5", U1 ":5"},
    {U1 ":5-5", U1 ":5"},
    {U1 ":7-9:1-5", U1 ":1-5:7-9"},
    {U1 ":7-9:1-5:6", U1 ":1-9"},
    /* case: UUIDs and tags are printed lowercase */
    {U1_UPPER ":1", U1 ":1"},
    {U1 ":TAG_One:1", U1 ":tag_one:1"},
    /* UUIDs sorted; a UUID given twice is merged, as the server does */
    {U2 ":1," U1 ":1", U1 ":1,\n" U2 ":1"},
    {U1 ":1-3," U1 ":4-6", U1 ":1-6"},
    {U1 ":1-3, " U1_UPPER ":5", U1 ":1-3:5"},
    {U3 ":1," U2 ":2," U1 ":3", U1 ":3,\n" U2 ":2,\n" U3 ":1"},
    /* whitespace around every separator and at both ends */
    {" \n" U1 " : 1 - 3 : 5 ,\n " U2 "\t:\t4 \n", U1 ":1-3:5,\n" U2 ":4"},
    {U1 ":1,\r\n" U2 ":2", U1 ":1,\n" U2 ":2"},
    /* tags: untagged first, then tags in byte order, each with its intervals */
    {U1 ":tag1:1-3", U1 ":tag1:1-3"},
    {U1 ":1-3:tag1:4-5:tag2:1", U1 ":1-3:tag1:4-5:tag2:1"},
    {U1 ":1-3:t2:1:t1:4-5", U1 ":1-3:t1:4-5:t2:1"},
    {U1 ":t:1," U1 ":5", U1 ":5:t:1"},
    {U1 ":t:1:t:2", U1 ":t:1-2"},
    {U1 ":t:3:u:1:t:1-2", U1 ":t:1-3:u:1"},
    {U1 ":a_1:1:_x:2", U1 ":_x:2:a_1:1"},
    {U1 ":a:1:a9:2:a_:3", U1 ":a:1:a9:2:a_:3"},
    {U1 ":t:1," U2 ":2," U1 ":T:2:3", U1 ":t:1-3,\n" U2 ":2"},
    {U1 ":" TAG32 ":1", U1 ":" TAG32 ":1"},
    {U1 ":_:1", U1 ":_:1"},
    /* one UUID with two tags, given twice (the manual's example) */
    {U1_UPPER ":Domain_1:1-3:15-21,\n" U1_UPPER ":Domain_2:8-52",
     U1 ":domain_1:1-3:15-21:domain_2:8-52"},
    {U2 ":x:1," U1 ":1:y:1", U1 ":1:y:1,\n" U2 ":x:1"},
    /* the largest transaction number */
    {U1 ":" MAX, U1 ":" MAX},
    {U1 ":1-" MAX, U1 ":1-" MAX},
    {U1 ":" MAX_1 ":" MAX, U1 ":" MAX_1 "-" MAX},
    {U1 ":1-" MAX_1 ":" MAX, U1 ":1-" MAX},
};

Test(gtid_set_parse, canonical_text_is_what_the_server_prints)
{
    for (size_t i = 0; i < sizeof(canon_cases) / sizeof(canon_cases[0]); i++) {
        const canon_case_t *c = &canon_cases[i];
        char err[GTID_ERR_SIZE] = "";
        gtid_set_t *s = gtid_set_parse(c->in, err, sizeof(err));
        cr_expect_not_null(s, "case %zu \"%s\": %s", i, c->in, err);
        if (!s)
            continue;
        char *got = gtid_set_format(s);
        cr_expect_str_eq(got, c->canonical, "case %zu \"%s\": got \"%s\"", i, c->in, got);
        /* The canonical text parses back to itself. */
        gtid_set_t *again = P(got);
        char *got2 = gtid_set_format(again);
        cr_expect_str_eq(got2, got, "case %zu: not idempotent", i);
        cr_expect(gtid_set_equal(s, again));
        free(got);
        free(got2);
        gtid_set_free(s);
        gtid_set_free(again);
    }
}

typedef struct {
    const char *in, *err;
} error_case_t;

static const error_case_t error_cases[] = {
    /* transaction numbers */
    {U1 ":0", "offset 37: transaction number 0 is not allowed (they start at 1)"},
    {U1 ":1-0", "offset 39: transaction number 0 is not allowed (they start at 1)"},
    {U1 ":5-3", "offset 37: reversed interval 5-3"},
    {U1 ":1:" MAX "-" MAX_1, "offset 39: reversed interval " MAX "-" MAX_1},
    {U1 ":9223372036854775807",
     "offset 37: transaction number 9223372036854775807 is too large (largest is " MAX ")"},
    {U1 ":1-18446744073709551615",
     "offset 39: transaction number 18446744073709551615 is too large (largest is " MAX ")"},
    {U1 ":18446744073709551616",
     "offset 37: transaction number 18446744073709551616 is too large (largest is " MAX ")"},
    {U1 ":99999999999999999999999999999999999999999999",
     "offset 37: transaction number 9999999999999999999999999999999999999999... is too "
     "large (largest is " MAX ")"},
    {U1 ":007", "offset 37: leading zero in transaction number"},
    {U1 ":+5", "offset 37: expected a transaction number or a tag, found '+'"},
    {U1 ":-5", "offset 37: expected a transaction number or a tag, found '-'"},
    {U1 ":1-", "offset 39: expected a transaction number, found end of text"},
    {U1 ":1-x", "offset 39: expected a transaction number, found 'x'"},
    {U1 ":1 2", "offset 39: expected ',' or ':', found '2'"},
    {U1 ":1;", "offset 38: expected ',' or ':', found ';'"},
    {U1 ":1x", "offset 38: expected ',' or ':', found 'x'"},
    {U1 ":1\x01", "offset 38: expected ',' or ':', found byte 0x01"},
    {U1 ":", "offset 37: expected a transaction number or a tag, found end of text"},
    {U1 "::1", "offset 37: expected a transaction number or a tag, found ':'"},
    /* commas */
    {U1 ":1,", "offset 38: trailing comma"},
    {U1 ":1 ,\n ", "offset 39: trailing comma"},
    {U1 ":1,," U2 ":1", "offset 39: empty element (a comma without a UUID before it)"},
    {"," U1 ":1", "offset 0: empty element (a comma without a UUID before it)"},
    {",", "offset 0: empty element (a comma without a UUID before it)"},
    /* a UUID or tag needs transaction numbers */
    {U1, "offset 0: UUID without transaction numbers"},
    {U1 " ", "offset 0: UUID without transaction numbers"},
    {U1 "," U2 ":1", "offset 0: UUID without transaction numbers"},
    {U1 ":t", "offset 37: tag without transaction numbers"},
    {U1 ":t:u:1", "offset 37: tag without transaction numbers"},
    {U1 ":1:t," U2 ":1", "offset 39: tag without transaction numbers"},
    {U1 ":t-x:1", "offset 38: expected ':' after the tag, found '-'"},
    {U1 ":t u:1", "offset 39: expected ':' after the tag, found 'u'"},
    {U1 ":" TAG32 "x:1", "offset 37: tag longer than 32 characters"},
    {U1 ":t\xc3\xa9:1", "offset 38: expected ':' after the tag, found byte 0xc3"},
    /* malformed UUIDs */
    {"hello", "offset 0: expected a UUID, found 'h'"},
    {"3e11fa47-71ca-11e1-9e33-c80aa942956:1",
     "offset 35: malformed UUID: expected a hex digit, found ':'"},
    {"3e11fa4771ca-11e1-9e33-c80aa9429562:1", "offset 8: malformed UUID: expected '-', found '7'"},
    {"3e11fa47-71ca-11e1-9e33-c80aa942956g:1",
     "offset 35: malformed UUID: expected a hex digit, found 'g'"},
    {"3e11fa47-71ca", "offset 13: malformed UUID: the text ends inside it"},
    {"{3e11fa47-71ca-11e1-9e33-c80aa9429562}:1", "offset 0: expected a UUID, found '{'"},
    {U1 "0:1", "offset 36: expected ':' after the UUID, found '0'"},
    {U1 ":1," U2 "x:1", "offset 75: expected ':' after the UUID, found 'x'"},
    {"ANONYMOUS", "offset 1: malformed UUID: expected a hex digit, found 'N'"},
};

Test(gtid_set_parse, malformed_text_is_rejected_with_what_and_where)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *c = &error_cases[i];
        char err[GTID_ERR_SIZE] = "";
        gtid_set_t *s = gtid_set_parse(c->in, err, sizeof(err));
        cr_expect_null(s, "case %zu \"%s\" parsed", i, c->in);
        gtid_set_free(s);
        cr_expect_str_eq(err, c->err, "case %zu \"%s\": got \"%s\"", i, c->in, err);
    }
}

Test(gtid_set_parse, error_buffer_is_optional_and_truncated_safely)
{
    cr_expect_null(gtid_set_parse(U1 ":0", NULL, 0));
    char small[12];
    cr_expect_null(gtid_set_parse(U1 ":0", small, sizeof(small)));
    cr_expect_str_eq(small, "offset 37: ");
    char err[GTID_ERR_SIZE];
    cr_expect_null(gtid_set_parse(NULL, err, sizeof(err)));
    cr_expect_str_eq(err, "no GTID set text");
}

Test(gtid_set_format, one_line_and_custom_separators)
{
    gtid_set_t *s = P(U2 ":1:t:2," U1 ":3");
    char *line = gtid_set_format_line(s);
    cr_expect_str_eq(line, U1 ":3," U2 ":1:t:2");
    free(line);
    buf_t b = BUF_INIT;
    buf_puts(&b, "set=");
    gtid_set_append(&b, s, "' '");
    cr_expect_str_eq(buf_str(&b), "set=" U1 ":3' '" U2 ":1:t:2");
    buf_free(&b);
    gtid_set_free(s);

    gtid_set_t *e = gtid_set_new();
    char *t = gtid_set_format(e);
    cr_expect_str_eq(t, "");
    free(t);
    gtid_set_free(e);
}

/* ------------------------------------------------------------------ */
/* MySQL sets: algebra                                                 */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *a, *b;
    const char *a_union_b, *a_minus_b, *a_inter_b;
    bool a_subset_b, equal;
} op_case_t;

static const op_case_t op_cases[] = {
    {"", "", "", "", "", true, true},
    {U1 ":1-5", "", U1 ":1-5", U1 ":1-5", "", false, false},
    {"", U1 ":1-5", U1 ":1-5", "", "", true, false},
    {U1 ":1", U1 ":1", U1 ":1", "", U1 ":1", true, true},
    /* overlapping */
    {U1 ":1-5", U1 ":3-9", U1 ":1-9", U1 ":1-2", U1 ":3-5", false, false},
    /* adjacent: the union is one interval */
    {U1 ":1-5", U1 ":6-9", U1 ":1-9", U1 ":1-5", "", false, false},
    /* holes */
    {U1 ":1-10", U1 ":3-4:6", U1 ":1-10", U1 ":1-2:5:7-10", U1 ":3-4:6", false, false},
    {U1 ":1-100", U1 ":2:4:6:98-99", U1 ":1-100", U1 ":1:3:5:7-97:100", U1 ":2:4:6:98-99", false,
     false},
    /* one interval of b across several of a */
    {U1 ":1-3:5-7:9-11", U1 ":2-10", U1 ":1-11", U1 ":1:11", U1 ":2-3:5-7:9-10", false, false},
    {U1 ":3-4", U1 ":1-10", U1 ":1-10", "", U1 ":3-4", true, false},
    {U1 ":1-3:7-9", U1 ":1-9", U1 ":1-9", "", U1 ":1-3:7-9", true, false},
    {U1 ":1-9", U1 ":1-3:7-9", U1 ":1-9", U1 ":4-6", U1 ":1-3:7-9", false, false},
    /* a subset must lie inside one interval of b, not across a gap */
    {U1 ":3-8", U1 ":1-5:7-10", U1 ":1-10", U1 ":6", U1 ":3-5:7-8", false, false},
    /* different UUIDs */
    {U1 ":1-5", U2 ":1-5", U1 ":1-5,\n" U2 ":1-5", U1 ":1-5", "", false, false},
    {U1 ":1-5,\n" U2 ":1-5", U2 ":3", U1 ":1-5,\n" U2 ":1-5", U1 ":1-5,\n" U2 ":1-2:4-5", U2 ":3",
     false, false},
    {U2 ":3", U1 ":1-5,\n" U2 ":1-5", U1 ":1-5,\n" U2 ":1-5", "", U2 ":3", true, false},
    /* tags are distinct from the untagged GTIDs of the same UUID */
    {U1 ":1-5", U1 ":t:1-5", U1 ":1-5:t:1-5", U1 ":1-5", "", false, false},
    {U1 ":1-5:t:1-5", U1 ":t:3", U1 ":1-5:t:1-5", U1 ":1-5:t:1-2:4-5", U1 ":t:3", false, false},
    {U1 ":t:3", U1 ":1-5:t:1-5", U1 ":1-5:t:1-5", "", U1 ":t:3", true, false},
    {U1 ":a:1:b:1", U1 ":b:1:c:1", U1 ":a:1:b:1:c:1", U1 ":a:1", U1 ":b:1", false, false},
    /* the largest transaction number */
    {U1 ":1-" MAX, U1 ":" MAX, U1 ":1-" MAX, U1 ":1-" MAX_1, U1 ":" MAX, false, false},
    {U1 ":" MAX, U1 ":1-" MAX, U1 ":1-" MAX, "", U1 ":" MAX, true, false},
    {U1 ":1-" MAX, U1 ":1", U1 ":1-" MAX, U1 ":2-" MAX, U1 ":1", false, false},
    {U1 ":1-" MAX, U1 ":2-" MAX_1, U1 ":1-" MAX, U1 ":1:" MAX, U1 ":2-" MAX_1, false, false},
};

Test(gtid_set_ops, union_subtract_intersect_subset_equal)
{
    for (size_t i = 0; i < sizeof(op_cases) / sizeof(op_cases[0]); i++) {
        const op_case_t *c = &op_cases[i];
        gtid_set_t *a = P(c->a), *b = P(c->b);
        char what[64];
        snprintf(what, sizeof(what), "case %zu union", i);
        expect_set(gtid_set_union(a, b), c->a_union_b, what);
        snprintf(what, sizeof(what), "case %zu union reversed", i);
        expect_set(gtid_set_union(b, a), c->a_union_b, what);
        snprintf(what, sizeof(what), "case %zu subtract", i);
        expect_set(gtid_set_subtract(a, b), c->a_minus_b, what);
        snprintf(what, sizeof(what), "case %zu intersect", i);
        expect_set(gtid_set_intersect(a, b), c->a_inter_b, what);
        snprintf(what, sizeof(what), "case %zu intersect reversed", i);
        expect_set(gtid_set_intersect(b, a), c->a_inter_b, what);
        cr_expect_eq(gtid_set_is_subset(a, b), c->a_subset_b, "case %zu subset", i);
        cr_expect_eq(gtid_set_equal(a, b), c->equal, "case %zu equal", i);
        cr_expect_eq(gtid_set_equal(b, a), c->equal, "case %zu equal reversed", i);
        cr_expect(gtid_set_is_subset(a, a), "case %zu a ⊆ a", i);
        /* in-place union agrees with the pure one */
        gtid_set_t *d = gtid_set_copy(a);
        gtid_set_add_set(d, b);
        snprintf(what, sizeof(what), "case %zu add_set", i);
        expect_set(d, c->a_union_b, what);
        gtid_set_free(a);
        gtid_set_free(b);
    }
}

Test(gtid_set_ops, empty_and_copy)
{
    gtid_set_t *e = P(""), *n = gtid_set_new(), *a = P(U1 ":1");
    cr_expect(gtid_set_is_empty(e));
    cr_expect(gtid_set_is_empty(n));
    cr_expect_not(gtid_set_is_empty(a));
    cr_expect(gtid_set_equal(e, n));
    gtid_set_t *c = gtid_set_copy(a);
    cr_expect(gtid_set_equal(a, c));
    cr_expect(gtid_set_add(c, U1, NULL, 2, 2, NULL, 0));
    cr_expect_not(gtid_set_equal(a, c), "the copy is independent");
    expect_set(a, U1 ":1", "original untouched");
    expect_set(c, U1 ":1-2", "copy changed");
    gtid_set_free(e);
    gtid_set_free(n);
    gtid_set_free(NULL);
}

typedef struct {
    const char *set;
    uint64_t count;
} count_case_t;

static const count_case_t count_cases[] = {
    {"", 0},
    {U1 ":1", 1},
    {U1 ":1-5:7", 6},
    {U1 ":1-5:t:1-5", 10},
    {U1 ":1-5," U2 ":10-19", 15},
    {U1 ":1-" MAX, UINT64_C(9223372036854775806)},
    /* two full ranges: 2^64 - 4 still fits */
    {U1 ":1-" MAX "," U2 ":1-" MAX, UINT64_C(18446744073709551612)},
    /* three do not: the count saturates */
    {U1 ":1-" MAX "," U2 ":1-" MAX "," U3 ":1-" MAX, UINT64_MAX},
    {U1 ":1-" MAX ":t:1-" MAX ":u:1-" MAX, UINT64_MAX},
};

Test(gtid_set_ops, transaction_count_saturates)
{
    for (size_t i = 0; i < sizeof(count_cases) / sizeof(count_cases[0]); i++) {
        gtid_set_t *s = P(count_cases[i].set);
        cr_expect_eq(gtid_set_count(s), count_cases[i].count, "case %zu: %" PRIu64, i,
                     gtid_set_count(s));
        gtid_set_free(s);
    }
}

Test(gtid_set_ops, contains_one_transaction)
{
    gtid_set_t *s = P(U1 ":1-5:9:t:3," U2 ":" MAX);
    cr_expect(gtid_set_contains(s, U1, NULL, 1));
    cr_expect(gtid_set_contains(s, U1, "", 5));
    cr_expect(gtid_set_contains(s, U1_UPPER, NULL, 9));
    cr_expect_not(gtid_set_contains(s, U1, NULL, 6));
    cr_expect_not(gtid_set_contains(s, U1, NULL, 10));
    cr_expect_not(gtid_set_contains(s, U1, NULL, 0));
    cr_expect(gtid_set_contains(s, U1, "T", 3));
    cr_expect_not(gtid_set_contains(s, U1, "t", 2));
    cr_expect_not(gtid_set_contains(s, U1, "u", 3));
    cr_expect(gtid_set_contains(s, U2, NULL, GTID_TXN_MAX));
    cr_expect_not(gtid_set_contains(s, U3, NULL, 1));
    cr_expect_not(gtid_set_contains(s, "nonsense", NULL, 1));
    cr_expect_not(gtid_set_contains(s, U1, "9bad", 1));
    gtid_set_free(s);
}

typedef struct {
    const char *uuid, *tag;
    uint64_t first, last;
    const char *after; /* the set after the add, or NULL when the add fails */
    const char *err;
} add_case_t;

/* Each case adds to U1":10-20:30". */
static const add_case_t add_cases[] = {
    {U1, NULL, 1, 5, U1 ":1-5:10-20:30", NULL},
    {U1, NULL, 1, 9, U1 ":1-20:30", NULL},
    {U1, NULL, 21, 29, U1 ":10-30", NULL},
    {U1, NULL, 15, 25, U1 ":10-25:30", NULL},
    {U1, NULL, 5, 35, U1 ":5-35", NULL},
    {U1, NULL, 22, 28, U1 ":10-20:22-28:30", NULL},
    {U1, NULL, 31, 31, U1 ":10-20:30-31", NULL},
    {U1, NULL, 40, GTID_TXN_MAX, U1 ":10-20:30:40-" MAX, NULL},
    {U1, "", 12, 13, U1 ":10-20:30", NULL},
    {U1_UPPER, "New", 1, 1, U1 ":10-20:30:new:1", NULL},
    {U2, NULL, 7, 7, U1 ":10-20:30,\n" U2 ":7", NULL},
    {"00000000-0000-0000-0000-000000000000", "a", 7, 7,
     "00000000-0000-0000-0000-000000000000:a:7,\n" U1 ":10-20:30", NULL},
    {U1, NULL, 0, 5, NULL,
     "not a transaction interval: 0-5 (must be 1 <= first <= last <= " MAX ")"},
    {U1, NULL, 6, 5, NULL,
     "not a transaction interval: 6-5 (must be 1 <= first <= last <= " MAX ")"},
    {U1, NULL, 1, GTID_TXN_MAX + 1, NULL,
     "not a transaction interval: 1-9223372036854775807 (must be 1 <= first <= last <= " MAX ")"},
    {"3e11fa47", NULL, 1, 1, NULL, "not a UUID: '3e11fa47'"},
    {U1 "x", NULL, 1, 1, NULL, "not a UUID: '" U1 "x'"},
    {NULL, NULL, 1, 1, NULL, "no UUID"},
    {U1, "1a", 1, 1, NULL, "not a GTID tag: '1a'"},
    {U1, "a-b", 1, 1, NULL, "not a GTID tag: 'a-b'"},
    {U1, TAG32 "x", 1, 1, NULL, "not a GTID tag: '" TAG32 "x'"},
};

Test(gtid_set_ops, add_an_interval)
{
    for (size_t i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
        const add_case_t *c = &add_cases[i];
        gtid_set_t *s = P(U1 ":10-20:30");
        char err[GTID_ERR_SIZE] = "";
        bool ok = gtid_set_add(s, c->uuid, c->tag, c->first, c->last, err, sizeof(err));
        cr_expect_eq(ok, c->after != NULL, "case %zu: %s", i, err);
        char what[32];
        snprintf(what, sizeof(what), "case %zu", i);
        expect_set(s, c->after ? c->after : U1 ":10-20:30", what);
        if (c->err)
            cr_expect_str_eq(err, c->err, "case %zu: got \"%s\"", i, err);
    }
}

Test(gtid_set_ops, group_view_in_canonical_order)
{
    gtid_set_t *s = P(U2 ":4," U1 ":t:2:3,\n" U1 ":1:5");
    cr_assert_eq(gtid_set_group_count(s), 3);
    gtid_group_t g = gtid_set_group(s, 0);
    cr_expect_str_eq(g.uuid, U1);
    cr_expect_str_eq(g.tag, "");
    cr_assert_eq(g.n_iv, 2);
    cr_expect(g.iv[0].first == 1 && g.iv[0].last == 1);
    cr_expect(g.iv[1].first == 5 && g.iv[1].last == 5);
    g = gtid_set_group(s, 1);
    cr_expect_str_eq(g.uuid, U1);
    cr_expect_str_eq(g.tag, "t");
    cr_assert_eq(g.n_iv, 1);
    cr_expect(g.iv[0].first == 2 && g.iv[0].last == 3);
    g = gtid_set_group(s, 2);
    cr_expect_str_eq(g.uuid, U2);
    g = gtid_set_group(s, 3);
    cr_expect_eq(g.n_iv, 0, "out of range gives an empty view");
    gtid_set_free(s);
}

/* ------------------------------------------------------------------ */
/* MySQL sets: text in, text out                                       */
/* ------------------------------------------------------------------ */

Test(gtid_text, server_functions_on_text)
{
    char err[GTID_ERR_SIZE] = "";
    char *r = gtid_text_subtract(U1 ":1-10," U2 ":1-5", U1 ":3-4,\n" U2 ":1-5", err, sizeof(err));
    cr_expect_str_eq(r, U1 ":1-2:5-10");
    free(r);
    r = gtid_text_union(U2 ":1", U1 ":1", err, sizeof(err));
    cr_expect_str_eq(r, U1 ":1,\n" U2 ":1");
    free(r);
    r = gtid_text_intersect(U1 ":1-10", U1 ":5-20", err, sizeof(err));
    cr_expect_str_eq(r, U1 ":5-10");
    free(r);
    r = gtid_text_normalize(" " U1_UPPER ":3:1-2 ", err, sizeof(err));
    cr_expect_str_eq(r, U1 ":1-3");
    free(r);
    cr_expect_eq(gtid_text_subset(U1 ":1-3", U1 ":1-10", err, sizeof(err)), 1);
    cr_expect_eq(gtid_text_subset(U1 ":1-30", U1 ":1-10", err, sizeof(err)), 0);
    cr_expect_eq(gtid_text_subset("", "", err, sizeof(err)), 1);
}

Test(gtid_text, errors_name_the_argument)
{
    char err[GTID_ERR_SIZE] = "";
    cr_expect_null(gtid_text_subtract(U1 ":0", U1 ":1", err, sizeof(err)));
    cr_expect_str_eq(err,
                     "first set: offset 37: transaction number 0 is not allowed (they start at 1)");
    cr_expect_null(gtid_text_union(U1 ":1", U1 ":1,", err, sizeof(err)));
    cr_expect_str_eq(err, "second set: offset 38: trailing comma");
    cr_expect_null(gtid_text_intersect("x", "", err, sizeof(err)));
    cr_expect_str_eq(err, "first set: offset 0: expected a UUID, found 'x'");
    cr_expect_eq(gtid_text_subset(U1 ":1", U1 ":5-3", err, sizeof(err)), -1);
    cr_expect_str_eq(err, "second set: offset 37: reversed interval 5-3");
    cr_expect_eq(gtid_text_subset(U1, U1 ":1", err, sizeof(err)), -1);
    cr_expect_str_eq(err, "first set: offset 0: UUID without transaction numbers");
    cr_expect_null(gtid_text_normalize(U1 ":1:", err, sizeof(err)));
    cr_expect_str_eq(err,
                     "set: offset 39: expected a transaction number or a tag, found end of text");
}

/* ------------------------------------------------------------------ */
/* MariaDB positions                                                   */
/* ------------------------------------------------------------------ */

static const canon_case_t pos_canon_cases[] = {
    {"", ""},
    {" \n ", ""},
    {"0-1-100", "0-1-100"},
    {"0-1-100,1-2-7", "0-1-100,1-2-7"},
    {"1-2-7,0-1-100", "0-1-100,1-2-7"},
    {" 0-1-100 ,\n 1-2-7 \n", "0-1-100,1-2-7"},
    {"10-1-1,9-1-1,100-1-1", "9-1-1,10-1-1,100-1-1"},
    {"0-0-0", "0-0-0"},
    {"4294967295-4294967295-18446744073709551615", "4294967295-4294967295-18446744073709551615"},
};

Test(gtid_pos, parse_and_format_sorted_by_domain)
{
    for (size_t i = 0; i < sizeof(pos_canon_cases) / sizeof(pos_canon_cases[0]); i++) {
        const canon_case_t *c = &pos_canon_cases[i];
        char err[GTID_ERR_SIZE] = "";
        gtid_pos_t *p = gtid_pos_parse(c->in, err, sizeof(err));
        cr_expect_not_null(p, "case %zu \"%s\": %s", i, c->in, err);
        if (!p)
            continue;
        char *got = gtid_pos_format(p);
        cr_expect_str_eq(got, c->canonical, "case %zu: got \"%s\"", i, got);
        gtid_pos_t *again = PP(got);
        cr_expect(gtid_pos_equal(p, again), "case %zu roundtrip", i);
        free(got);
        gtid_pos_free(p);
        gtid_pos_free(again);
    }
}

static const error_case_t pos_error_cases[] = {
    {"0-1-100,0-2-5", "offset 8: duplicate domain 0 (first at offset 0)"},
    {"1-1-1,0-1-100,1-2-5", "offset 14: duplicate domain 1 (first at offset 0)"},
    {"0-1-100,", "offset 7: trailing comma"},
    {"0-1-100 , \n", "offset 8: trailing comma"},
    {",0-1-1", "offset 0: empty element (a comma without a GTID before it)"},
    {"0-1-1,,1-1-1", "offset 6: empty element (a comma without a GTID before it)"},
    {"0", "offset 1: expected '-' after the domain id, found end of text"},
    {"0-1", "offset 3: expected '-' after the server id, found end of text"},
    {"0-1-", "offset 4: expected a sequence number, found end of text"},
    {"0 -1-1", "offset 1: expected '-' after the domain id, found ' '"},
    {"-1-1-1", "offset 0: expected a domain id, found '-'"},
    {"a-1-1", "offset 0: expected a domain id, found 'a'"},
    {"0-b-1", "offset 2: expected a server id, found 'b'"},
    {"0-1-1x", "offset 5: expected ',', found 'x'"},
    {"0-1-1 0-2-2", "offset 6: expected ',', found '0'"},
    {"0-1-1-1", "offset 5: expected ',', found '-'"},
    {"4294967296-1-1", "offset 0: domain id 4294967296 is too large (largest is 4294967295)"},
    {"0-4294967296-1", "offset 2: server id 4294967296 is too large (largest is 4294967295)"},
    {"0-1-18446744073709551616",
     "offset 4: sequence number 18446744073709551616 is too large (largest is "
     "18446744073709551615)"},
    {"0-1-01", "offset 4: leading zero in sequence number"},
    {"00-1-1", "offset 0: leading zero in domain id"},
    {U1 ":1", "offset 1: expected '-' after the domain id, found 'e'"},
};

Test(gtid_pos, malformed_text_is_rejected_with_what_and_where)
{
    for (size_t i = 0; i < sizeof(pos_error_cases) / sizeof(pos_error_cases[0]); i++) {
        const error_case_t *c = &pos_error_cases[i];
        char err[GTID_ERR_SIZE] = "";
        gtid_pos_t *p = gtid_pos_parse(c->in, err, sizeof(err));
        cr_expect_null(p, "case %zu \"%s\" parsed", i, c->in);
        gtid_pos_free(p);
        cr_expect_str_eq(err, c->err, "case %zu \"%s\": got \"%s\"", i, c->in, err);
    }
    char err[GTID_ERR_SIZE];
    cr_expect_null(gtid_pos_parse(NULL, err, sizeof(err)));
    cr_expect_str_eq(err, "no GTID position text");
}

typedef struct {
    const char *a, *b;
    bool a_covers_b;
    const char *diff; /* gtid_pos_diff_format(gtid_pos_diff(a, b)) */
    const char *max;  /* gtid_pos_max(a, b) */
} pos_cmp_case_t;

static const pos_cmp_case_t pos_cmp_cases[] = {
    {"", "", true, "", ""},
    {"0-1-100", "", true, "", "0-1-100"},
    {"", "0-1-100", false, "0-1-100", "0-1-100"},
    {"0-1-100", "0-1-100", true, "", "0-1-100"},
    {"0-1-101", "0-1-100", true, "", "0-1-101"},
    {"0-1-100", "0-1-101", false, "0-1-101", "0-1-101"},
    /* the server id does not order positions; a tie keeps a's entry */
    {"0-1-100", "0-2-100", true, "", "0-1-100"},
    {"0-2-100", "0-1-100", true, "", "0-2-100"},
    {"0-1-100", "0-2-99", true, "", "0-1-100"},
    /* a domain missing in a is behind */
    {"0-1-100", "0-1-50,1-1-1", false, "1-1-1", "0-1-100,1-1-1"},
    /* a domain only a has does not matter */
    {"0-1-100,1-1-5", "1-1-5", true, "", "0-1-100,1-1-5"},
    /* ahead in one domain, behind in another */
    {"0-1-100,1-1-1", "0-1-50,1-1-2", false, "1-1-2", "0-1-100,1-1-2"},
    {"0-1-90,2-1-5", "0-2-100,1-2-7,2-1-5", false, "0-2-100,1-2-7", "0-2-100,1-2-7,2-1-5"},
    {"0-0-18446744073709551615", "0-0-18446744073709551614", true, "", "0-0-18446744073709551615"},
    /* a missing domain counts as sequence number 0, as in MASTER_GTID_WAIT:
     * an entry with sequence number 0 is reached by every position */
    {"", "0-1-0", true, "", "0-1-0"},
    {"1-1-5", "0-1-0,1-1-5", true, "", "0-1-0,1-1-5"},
    {"1-1-5", "0-1-1,1-1-5", false, "0-1-1", "0-1-1,1-1-5"},
    {"0-2-0", "0-1-0", true, "", "0-2-0"},
};

Test(gtid_pos, covers_diff_and_max_per_domain)
{
    for (size_t i = 0; i < sizeof(pos_cmp_cases) / sizeof(pos_cmp_cases[0]); i++) {
        const pos_cmp_case_t *c = &pos_cmp_cases[i];
        gtid_pos_t *a = PP(c->a), *b = PP(c->b);
        cr_expect_eq(gtid_pos_covers(a, b), c->a_covers_b, "case %zu covers", i);
        gtid_pos_diff_t *d = gtid_pos_diff(a, b);
        cr_expect_eq(d->n == 0, c->a_covers_b, "case %zu: empty diff iff covers", i);
        char *t = gtid_pos_diff_format(d);
        cr_expect_str_eq(t, c->diff, "case %zu diff: got \"%s\"", i, t);
        free(t);
        gtid_pos_diff_free(d);
        gtid_pos_t *m = gtid_pos_max(a, b);
        t = gtid_pos_format(m);
        cr_expect_str_eq(t, c->max, "case %zu max: got \"%s\"", i, t);
        cr_expect(gtid_pos_covers(m, a) && gtid_pos_covers(m, b), "case %zu max covers", i);
        free(t);
        gtid_pos_free(m);
        gtid_pos_free(a);
        gtid_pos_free(b);
    }
}

Test(gtid_pos, diff_tells_each_sides_sequence_number)
{
    gtid_pos_t *a = PP("0-1-90,2-1-5"), *b = PP("0-2-100,1-2-7,2-1-5");
    gtid_pos_diff_t *d = gtid_pos_diff(a, b);
    cr_assert_eq(d->n, 2);
    cr_expect_eq(d->gap[0].domain, 0);
    cr_expect(d->gap[0].a_has);
    cr_expect_eq(d->gap[0].a_seq, 90);
    cr_expect(d->gap[0].b.domain == 0 && d->gap[0].b.server == 2 && d->gap[0].b.seq == 100);
    cr_expect_eq(d->gap[1].domain, 1);
    cr_expect_not(d->gap[1].a_has);
    cr_expect(d->gap[1].b.server == 2 && d->gap[1].b.seq == 7);
    gtid_pos_diff_free(d);
    gtid_pos_diff_free(NULL);
    gtid_pos_free(a);
    gtid_pos_free(b);
}

Test(gtid_pos, set_find_copy)
{
    gtid_pos_t *p = gtid_pos_new();
    gtid_pos_set(p, 5, 1, 10);
    gtid_pos_set(p, 1, 1, 3);
    gtid_pos_set(p, 9, 2, 1);
    gtid_pos_set(p, 5, 3, 11);
    char *t = gtid_pos_format(p);
    cr_expect_str_eq(t, "1-1-3,5-3-11,9-2-1");
    free(t);
    const gtid_pos_entry_t *e = gtid_pos_find(p, 5);
    cr_assert_not_null(e);
    cr_expect(e->server == 3 && e->seq == 11);
    cr_expect_null(gtid_pos_find(p, 4));
    gtid_pos_t *c = gtid_pos_copy(p);
    cr_expect(gtid_pos_equal(p, c));
    gtid_pos_set(c, 1, 1, 4);
    cr_expect_not(gtid_pos_equal(p, c));
    gtid_pos_t *other_server = PP("1-2-3,5-3-11,9-2-1");
    cr_expect_not(gtid_pos_equal(p, other_server), "equal compares server ids too");
    gtid_pos_free(other_server);
    gtid_pos_free(c);
    gtid_pos_free(p);
    gtid_pos_free(NULL);
}

/* ------------------------------------------------------------------ */
/* The most advanced replica                                           */
/* ------------------------------------------------------------------ */

#define MAXN 4

typedef struct {
    const char *name;
    size_t n;
    const char *in[MAXN]; /* NULL: no state */
    int want;
    const char *missing[MAXN];
} adv_case_t;

static const adv_case_t adv_set_cases[] = {
    {"no replicas", 0, {NULL}, -1, {NULL}},
    {"one replica", 1, {U1 ":1-5"}, 0, {""}},
    {"one empty replica", 1, {""}, 0, {""}},
    {"a chain", 3, {U1 ":1-5", U1 ":1-10", U1 ":1-7"}, 1, {U1 ":6-10", "", U1 ":8-10"}},
    {"a tie goes to the lowest index",
     3,
     {U1 ":1-5", U1 ":1-10", U1 ":1-10"},
     1,
     {U1 ":6-10", "", ""}},
    {"all equal", 3, {"", "", ""}, 0, {"", "", ""}},
    {"all equal, not empty", 2, {U1 ":1-3", U1 ":1-3"}, 0, {"", ""}},
    {"diverged: each has what the other lacks",
     2,
     {U1 ":1-10", U1 ":1-9," U2 ":1"},
     -1,
     {U2 ":1", U1 ":10"}},
    {"diverged, three ways",
     3,
     {U1 ":1-3," U2 ":1-2", U1 ":1-2", U2 ":1-5"},
     -1,
     {U2 ":3-5", U1 ":3," U2 ":1-5", U1 ":1-3"}},
    {"a tagged transaction counts", 2, {U1 ":1-5:t:1", U1 ":1-5"}, 0, {"", U1 ":t:1"}},
    {"a hole counts", 2, {U1 ":1-4:6-10", U1 ":1-10"}, 1, {U1 ":5", ""}},
    {"no state counts as empty", 2, {NULL, U1 ":1"}, 1, {U1 ":1", ""}},
};

static const adv_case_t adv_pos_cases[] = {
    {"no replicas", 0, {NULL}, -1, {NULL}},
    {"one replica", 1, {"0-1-5"}, 0, {""}},
    {"ahead in the only domain", 2, {"0-1-100", "0-1-90"}, 0, {"", "0-1-100"}},
    {"a tie goes to the lowest index",
     3,
     {"0-1-90", "0-2-100,1-2-7", "0-2-100,1-2-7"},
     1,
     {"0-2-100,1-2-7", "", ""}},
    {"a missing domain is behind", 2, {"0-1-100", "0-1-100,1-3-1"}, 1, {"1-3-1", ""}},
    {"diverged: each ahead in a domain",
     2,
     {"0-1-100,1-1-5", "0-1-90,1-1-9"},
     -1,
     {"1-1-9", "0-1-100"}},
    {"all empty", 2, {"", ""}, 0, {"", ""}},
    {"equal seq, other server: not behind", 2, {"0-1-100", "0-2-100"}, 0, {"", ""}},
    {"no state counts as empty", 3, {"0-1-1", NULL, "0-1-2"}, 2, {"0-1-2", "0-1-2", ""}},
    {"sequence number 0 in a domain another lacks is nothing to lack",
     2,
     {"1-1-5", "0-1-0,1-1-4"},
     0,
     {"", "1-1-5"}},
};

static void check_advanced(const adv_case_t *c, gtid_advanced_t *r)
{
    cr_expect_eq(r->most_advanced, c->want, "%s: most advanced %d, want %d", c->name,
                 r->most_advanced, c->want);
    cr_expect_eq(r->n, c->n);
    for (size_t i = 0; i < c->n; i++) {
        char *t = gtid_advanced_missing_text(r, i);
        cr_expect_str_eq(t, c->missing[i], "%s: replica %zu lacks \"%s\", want \"%s\"", c->name, i,
                         t, c->missing[i]);
        cr_expect_eq(gtid_advanced_lacks(r, i), c->missing[i][0] != '\0', "%s: lacks(%zu)", c->name,
                     i);
        free(t);
    }
    cr_expect_not(gtid_advanced_lacks(r, c->n), "out of range lacks nothing");
    char *t = gtid_advanced_missing_text(r, c->n);
    cr_expect_str_eq(t, "");
    free(t);
}

Test(gtid_advanced, mysql_sets)
{
    for (size_t k = 0; k < sizeof(adv_set_cases) / sizeof(adv_set_cases[0]); k++) {
        const adv_case_t *c = &adv_set_cases[k];
        gtid_set_t *sets[MAXN] = {NULL};
        for (size_t i = 0; i < c->n; i++)
            sets[i] = c->in[i] ? P(c->in[i]) : NULL;
        gtid_advanced_t *r = gtid_set_most_advanced((const gtid_set_t *const *)sets, c->n);
        cr_expect_not_null(r->missing_set);
        cr_expect_null(r->missing_pos);
        check_advanced(c, r);
        gtid_advanced_free(r);
        for (size_t i = 0; i < c->n; i++)
            gtid_set_free(sets[i]);
    }
    gtid_advanced_free(NULL);
}

Test(gtid_advanced, mariadb_positions)
{
    for (size_t k = 0; k < sizeof(adv_pos_cases) / sizeof(adv_pos_cases[0]); k++) {
        const adv_case_t *c = &adv_pos_cases[k];
        gtid_pos_t *pos[MAXN] = {NULL};
        for (size_t i = 0; i < c->n; i++)
            pos[i] = c->in[i] ? PP(c->in[i]) : NULL;
        gtid_advanced_t *r = gtid_pos_most_advanced((const gtid_pos_t *const *)pos, c->n);
        cr_expect_null(r->missing_set);
        cr_expect_not_null(r->missing_pos);
        check_advanced(c, r);
        gtid_advanced_free(r);
        for (size_t i = 0; i < c->n; i++)
            gtid_pos_free(pos[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Randomized properties                                               */
/* ------------------------------------------------------------------ */

#define CASES 10000

/* splitmix64: small, fast, the same on every platform. */
static uint64_t rng_next(uint64_t *st)
{
    uint64_t z = (*st += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *st, uint64_t n)
{
    return rng_next(st) % n;
}

/* The small universe: 4 UUIDs x 4 tags x transactions 1..64, one bit each.
 * Both lists are in canonical (byte) order. */
#define NU 4
#define NT 4
#define NG (NU * NT)
static const char *const pool_uuid[NU] = {
    "0f0e0d0c-0b0a-4908-8706-050403020100",
    U1,
    U2,
    U3,
};
static const char *const pool_tag[NT] = {"", "_x", "t1", "zz9"};

typedef struct {
    uint64_t bits[NG]; /* bit k of group u * NT + t: transaction k + 1 */
} model_t;

static model_t model_random(uint64_t *st)
{
    model_t m;
    memset(&m, 0, sizeof(m));
    /* Sparse in groups, dense-ish in runs, so that merging is exercised. */
    int groups = (int)rnd(st, 5);
    for (int g = 0; g < groups; g++) {
        int gi = (int)rnd(st, NG);
        int runs = 1 + (int)rnd(st, 4);
        for (int r = 0; r < runs; r++) {
            unsigned a = (unsigned)rnd(st, 64), len = 1 + (unsigned)rnd(st, 12);
            for (unsigned k = a; k < a + len && k < 64; k++)
                m.bits[gi] |= UINT64_C(1) << k;
        }
    }
    return m;
}

static void ws(buf_t *b, uint64_t *st)
{
    static const char *const choice[] = {"", "", "", "", " ", "\n", "\t", " \r\n "};
    buf_puts(b, choice[rnd(st, 8)]);
}

static void put_cased(buf_t *b, const char *s, uint64_t *st)
{
    bool upper = rnd(st, 3) == 0;
    for (; *s; s++) {
        char c = *s;
        if (upper && c >= 'a' && c <= 'z' && rnd(st, 2))
            c = (char)(c - 'a' + 'A');
        buf_putc(b, c);
    }
}

typedef struct {
    int g;
    unsigned first, last; /* 1-based transaction numbers */
} atom_t;

/* Writes a messy text of the model: pieces split, overlapping, repeated and
 * shuffled, UUIDs given several times, random case and whitespace. */
static char *model_messy_text(const model_t *m, uint64_t *st)
{
    atom_t atoms[NG * 64 * 2];
    size_t n = 0;
    for (int g = 0; g < NG; g++) {
        for (unsigned k = 0; k < 64;) {
            if (!(m->bits[g] >> k & 1)) {
                k++;
                continue;
            }
            unsigned end = k;
            while (end + 1 < 64 && (m->bits[g] >> (end + 1) & 1))
                end++;
            /* cover [k, end] with pieces that may overlap */
            unsigned from = k;
            while (from <= end) {
                unsigned to = from + (unsigned)rnd(st, end - from + 1);
                atoms[n++] = (atom_t){g, from + 1, to + 1};
                if (rnd(st, 4) == 0)
                    atoms[n++] = (atom_t){g, from + 1, to + 1};
                unsigned next = to + 1;
                if (next <= end && rnd(st, 3) == 0 && next > from)
                    next -= (unsigned)rnd(st, next - from); /* overlap back */
                from = next > from ? next : to + 1;
            }
            k = end + 1;
        }
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd(st, i);
        atom_t t = atoms[i - 1];
        atoms[i - 1] = atoms[j];
        atoms[j] = t;
    }
    buf_t b = BUF_INIT;
    if (n == 0) {
        ws(&b, st);
        return buf_steal(&b);
    }
    ws(&b, st);
    bool used[NG * 64 * 2];
    memset(used, 0, sizeof(used));
    size_t left = n;
    bool first_elem = true;
    while (left) {
        /* An element: the first unused atom's UUID and some of its atoms. */
        size_t s0 = 0;
        while (used[s0])
            s0++;
        int u = atoms[s0].g / NT;
        size_t pick[NG * 64 * 2], np = 0;
        for (size_t i = s0; i < n; i++) {
            if (!used[i] && atoms[i].g / NT == u && (i == s0 || rnd(st, 4) != 0)) {
                pick[np++] = i;
                used[i] = true;
                left--;
            }
        }
        if (!first_elem) {
            buf_putc(&b, ',');
            ws(&b, st);
        }
        first_elem = false;
        put_cased(&b, pool_uuid[u], st);
        /* Untagged items come first: a tag applies to the items after it. */
        for (int pass = 0; pass < 2; pass++) {
            int cur_tag = 0;
            for (size_t k = 0; k < np; k++) {
                const atom_t *a = &atoms[pick[k]];
                int t = a->g % NT;
                if ((pass == 0) != (t == 0))
                    continue;
                if (t != cur_tag || (t != 0 && rnd(st, 5) == 0)) {
                    ws(&b, st);
                    buf_putc(&b, ':');
                    ws(&b, st);
                    put_cased(&b, pool_tag[t], st);
                    cur_tag = t;
                }
                ws(&b, st);
                buf_putc(&b, ':');
                ws(&b, st);
                if (a->first == a->last && rnd(st, 3))
                    buf_printf(&b, "%u", a->first);
                else
                    buf_printf(&b, "%u-%u", a->first, a->last);
            }
        }
        ws(&b, st);
    }
    return buf_steal(&b);
}

/* The canonical text of a model, written independently of the library. */
static char *model_canonical(const model_t *m)
{
    buf_t b = BUF_INIT;
    bool any = false;
    for (int u = 0; u < NU; u++) {
        bool uuid_done = false;
        for (int t = 0; t < NT; t++) {
            uint64_t bits = m->bits[u * NT + t];
            if (!bits)
                continue;
            if (!uuid_done) {
                if (any)
                    buf_puts(&b, ",\n");
                buf_puts(&b, pool_uuid[u]);
                uuid_done = any = true;
            }
            if (t)
                buf_printf(&b, ":%s", pool_tag[t]);
            for (unsigned k = 0; k < 64;) {
                if (!(bits >> k & 1)) {
                    k++;
                    continue;
                }
                unsigned end = k;
                while (end + 1 < 64 && (bits >> (end + 1) & 1))
                    end++;
                if (end == k)
                    buf_printf(&b, ":%u", k + 1);
                else
                    buf_printf(&b, ":%u-%u", k + 1, end + 1);
                k = end + 1;
            }
        }
    }
    return buf_steal(&b);
}

static uint64_t model_count(const model_t *m)
{
    uint64_t c = 0;
    for (int g = 0; g < NG; g++)
        c += (uint64_t)__builtin_popcountll(m->bits[g]);
    return c;
}

static gtid_set_t *model_set(const model_t *m, uint64_t *st, char **text_out)
{
    char *text = model_messy_text(m, st);
    char err[GTID_ERR_SIZE] = "";
    gtid_set_t *s = gtid_set_parse(text, err, sizeof(err));
    cr_assert_not_null(s, "messy text \"%s\" rejected: %s", text, err);
    if (text_out)
        *text_out = text;
    else
        free(text);
    return s;
}

static void expect_model(const gtid_set_t *s, const model_t *m, const char *what, uint64_t seed)
{
    char *got = gtid_set_format(s), *want = model_canonical(m);
    cr_assert_str_eq(got, want, "%s (case seed %" PRIu64 "): got \"%s\" want \"%s\"", what, seed,
                     got, want);
    cr_assert_eq(gtid_set_count(s), model_count(m));
    free(got);
    free(want);
}

Test(gtid_properties, parse_of_messy_text_is_canonical_and_idempotent)
{
    uint64_t st = 42;
    for (int i = 0; i < CASES; i++) {
        uint64_t seed = st;
        model_t m = model_random(&st);
        char *text;
        gtid_set_t *s = model_set(&m, &st, &text);
        /* format(parse(x)) is the canonical text of x's transactions */
        expect_model(s, &m, text, seed);
        /* and formatting it again changes nothing */
        char *once = gtid_set_format(s);
        gtid_set_t *again = P(once);
        char *twice = gtid_set_format(again);
        cr_assert_str_eq(once, twice);
        cr_assert(gtid_set_equal(s, again));
        free(once);
        free(twice);
        free(text);
        gtid_set_free(s);
        gtid_set_free(again);
    }
}

Test(gtid_properties, algebra_agrees_with_the_bitmap_model)
{
    uint64_t st = 7;
    int subsets = 0;
    for (int i = 0; i < CASES; i++) {
        uint64_t seed = st;
        model_t ma = model_random(&st), mb = model_random(&st);
        /* A third of the cases make a ⊆ b, so both outcomes of subset are tested. */
        if (rnd(&st, 3) == 0)
            for (int g = 0; g < NG; g++)
                ma.bits[g] &= mb.bits[g] | (rnd(&st, 8) == 0 ? rng_next(&st) : 0);
        model_t mu, md, mi;
        bool sub = true, eq = true;
        for (int g = 0; g < NG; g++) {
            mu.bits[g] = ma.bits[g] | mb.bits[g];
            md.bits[g] = ma.bits[g] & ~mb.bits[g];
            mi.bits[g] = ma.bits[g] & mb.bits[g];
            sub = sub && md.bits[g] == 0;
            eq = eq && ma.bits[g] == mb.bits[g];
        }
        subsets += sub;
        gtid_set_t *a = model_set(&ma, &st, NULL), *b = model_set(&mb, &st, NULL);
        gtid_set_t *u = gtid_set_union(a, b), *d = gtid_set_subtract(a, b),
                   *n = gtid_set_intersect(a, b);
        expect_model(u, &mu, "union", seed);
        expect_model(d, &md, "subtract", seed);
        expect_model(n, &mi, "intersect", seed);
        cr_assert_eq(gtid_set_is_subset(a, b), sub, "subset (case seed %" PRIu64 ")", seed);
        cr_assert_eq(gtid_set_equal(a, b), eq, "equal (case seed %" PRIu64 ")", seed);
        cr_assert_eq(gtid_set_is_empty(d), sub);
        gtid_set_free(a);
        gtid_set_free(b);
        gtid_set_free(u);
        gtid_set_free(d);
        gtid_set_free(n);
    }
    cr_expect(subsets > CASES / 4 && subsets < CASES * 3 / 4, "subset cases: %d", subsets);
}

/* Random sets over the whole range of transaction numbers, built with
 * gtid_set_add, endpoints often at 1, 2, the maximum and its neighbours. */
static uint64_t wide_number(uint64_t *st)
{
    switch (rnd(st, 8)) {
    case 0: return 1;
    case 1: return 2 + rnd(st, 3);
    case 2: return GTID_TXN_MAX;
    case 3: return GTID_TXN_MAX - rnd(st, 3);
    case 4: return 1 + rnd(st, 100);
    default: return 1 + rnd(st, GTID_TXN_MAX);
    }
}

static gtid_set_t *wide_random(uint64_t *st)
{
    gtid_set_t *s = gtid_set_new();
    int n = (int)rnd(st, 7);
    for (int i = 0; i < n; i++) {
        uint64_t x = wide_number(st), y = wide_number(st);
        if (x > y) {
            uint64_t t = x;
            x = y;
            y = t;
        }
        /* two UUIDs x two tags: the count of a set stays below 2^64 */
        const char *uuid = pool_uuid[1 + rnd(st, 2)];
        const char *tag = rnd(st, 3) ? NULL : "t1";
        cr_assert(gtid_set_add(s, uuid, tag, x, y, NULL, 0));
    }
    return s;
}

Test(gtid_properties, set_algebra_laws_over_the_whole_range)
{
    uint64_t st = 2024;
    int subsets = 0;
    for (int i = 0; i < CASES; i++) {
        gtid_set_t *a = wide_random(&st), *b = wide_random(&st);
        if (rnd(&st, 3) == 0) { /* make a ⊆ b */
            gtid_set_t *t = gtid_set_intersect(a, b);
            gtid_set_free(a);
            a = t;
        }
        gtid_set_t *u = gtid_set_union(a, b), *u2 = gtid_set_union(b, a);
        gtid_set_t *d = gtid_set_subtract(a, b), *n = gtid_set_intersect(a, b);
        gtid_set_t *n2 = gtid_set_intersect(b, a);
        gtid_set_t *dn = gtid_set_union(d, n), *db = gtid_set_intersect(d, b);
        /* A ∪ B ⊇ A, B */
        cr_assert(gtid_set_is_subset(a, u) && gtid_set_is_subset(b, u), "case %d", i);
        /* union and intersection commute */
        cr_assert(gtid_set_equal(u, u2), "case %d", i);
        cr_assert(gtid_set_equal(n, n2), "case %d", i);
        /* (A − B) ∪ (A ∩ B) = A, and (A − B) ∩ B = ∅ */
        cr_assert(gtid_set_equal(dn, a), "case %d", i);
        cr_assert(gtid_set_is_empty(db), "case %d", i);
        /* A ⊆ B ⇔ A − B = ∅ */
        bool sub = gtid_set_is_subset(a, b);
        cr_assert_eq(sub, gtid_set_is_empty(d), "case %d", i);
        subsets += sub;
        /* |A ∪ B| + |A ∩ B| = |A| + |B|, summed in 128 bits; skipped when the
         * union's count saturates */
        unsigned __int128 lhs = (unsigned __int128)gtid_set_count(u) + gtid_set_count(n);
        unsigned __int128 rhs = (unsigned __int128)gtid_set_count(a) + gtid_set_count(b);
        if (gtid_set_count(u) != UINT64_MAX)
            cr_assert(lhs == rhs, "case %d: counts", i);
        /* canonical text survives a round trip, on one line too */
        char *t1 = gtid_set_format(u), *l1 = gtid_set_format_line(u);
        gtid_set_t *r1 = P(t1), *r2 = P(l1);
        char *t2 = gtid_set_format(r1);
        cr_assert_str_eq(t1, t2);
        cr_assert(gtid_set_equal(r1, u) && gtid_set_equal(r2, u));
        free(t1);
        free(l1);
        free(t2);
        gtid_set_free(r1);
        gtid_set_free(r2);
        gtid_set_t *all[] = {a, b, u, u2, d, n, n2, dn, db};
        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
            gtid_set_free(all[k]);
    }
    cr_expect(subsets > CASES / 4, "subset cases: %d", subsets);
}

Test(gtid_properties, most_advanced_set_contains_all_others)
{
    uint64_t st = 99;
    int found = 0;
    for (int i = 0; i < CASES; i++) {
        size_t n = 1 + rnd(&st, 4);
        gtid_set_t *s[4];
        model_t base = model_random(&st);
        for (size_t k = 0; k < n; k++) {
            /* replicas are mostly prefixes of one history, sometimes with extras */
            model_t m = base;
            for (int g = 0; g < NG; g++) {
                if (rnd(&st, 2))
                    m.bits[g] &= (UINT64_C(1) << rnd(&st, 64)) - 1;
                if (rnd(&st, 40) == 0)
                    m.bits[g] |= UINT64_C(1) << rnd(&st, 64);
            }
            s[k] = model_set(&m, &st, NULL);
        }
        gtid_advanced_t *r = gtid_set_most_advanced((const gtid_set_t *const *)s, n);
        gtid_set_t *all = gtid_set_new();
        for (size_t k = 0; k < n; k++)
            gtid_set_add_set(all, s[k]);
        for (size_t k = 0; k < n; k++) {
            gtid_set_t *want = gtid_set_subtract(all, s[k]);
            cr_assert(gtid_set_equal(r->missing_set[k], want), "case %d replica %zu", i, k);
            gtid_set_free(want);
        }
        if (r->most_advanced >= 0) {
            found++;
            for (size_t k = 0; k < n; k++) {
                cr_assert(gtid_set_is_subset(s[k], s[r->most_advanced]), "case %d", i);
                if ((int)k < r->most_advanced)
                    cr_assert(gtid_advanced_lacks(r, k), "case %d: a lower index lacks", i);
            }
        } else {
            for (size_t k = 0; k < n; k++)
                cr_assert(gtid_advanced_lacks(r, k), "case %d: divergence", i);
        }
        gtid_set_free(all);
        gtid_advanced_free(r);
        for (size_t k = 0; k < n; k++)
            gtid_set_free(s[k]);
    }
    cr_expect(found > CASES / 4 && found < CASES, "cases with a most advanced replica: %d", found);
}

static gtid_pos_t *pos_random(uint64_t *st)
{
    gtid_pos_t *p = gtid_pos_new();
    for (uint32_t d = 0; d < 3; d++)
        if (rnd(st, 4))
            gtid_pos_set(p, d * 7, 1 + (uint32_t)rnd(st, 3), rnd(st, 6));
    return p;
}

Test(gtid_properties, mariadb_positions)
{
    uint64_t st = 5;
    int found = 0;
    for (int i = 0; i < CASES; i++) {
        gtid_pos_t *a = pos_random(&st), *b = pos_random(&st);
        /* format and parse round trip */
        char *t = gtid_pos_format(a);
        gtid_pos_t *r = PP(t);
        cr_assert(gtid_pos_equal(a, r), "case %d", i);
        free(t);
        gtid_pos_free(r);
        /* covers(a, b) ⇔ diff(a, b) is empty; max covers both */
        gtid_pos_diff_t *d = gtid_pos_diff(a, b);
        cr_assert_eq(gtid_pos_covers(a, b), d->n == 0, "case %d", i);
        for (size_t k = 0; k < d->n; k++) {
            const gtid_pos_entry_t *ea = gtid_pos_find(a, d->gap[k].domain);
            cr_assert_eq(ea != NULL, d->gap[k].a_has);
            cr_assert(!ea || ea->seq < d->gap[k].b.seq);
        }
        gtid_pos_diff_free(d);
        gtid_pos_t *m = gtid_pos_max(a, b);
        cr_assert(gtid_pos_covers(m, a) && gtid_pos_covers(m, b), "case %d", i);
        gtid_pos_free(m);
        /* most advanced over a, b and a third */
        gtid_pos_t *c = pos_random(&st);
        const gtid_pos_t *all[3] = {a, b, c};
        gtid_advanced_t *adv = gtid_pos_most_advanced(all, 3);
        if (adv->most_advanced >= 0) {
            found++;
            for (int k = 0; k < 3; k++) {
                cr_assert(gtid_pos_covers(all[adv->most_advanced], all[k]), "case %d", i);
                if (k < adv->most_advanced)
                    cr_assert(gtid_advanced_lacks(adv, (size_t)k));
            }
        } else {
            for (size_t k = 0; k < 3; k++)
                cr_assert(gtid_advanced_lacks(adv, k), "case %d", i);
        }
        gtid_advanced_free(adv);
        gtid_pos_free(a);
        gtid_pos_free(b);
        gtid_pos_free(c);
    }
    cr_expect(found > CASES / 10 && found < CASES, "cases with a most advanced replica: %d", found);
}

/* ------------------------------------------------------------------ */
/* Size                                                                */
/* ------------------------------------------------------------------ */

/* Ten UUIDs with 2,000 intervals each (every other transaction of 1..8000 in
 * two interleaved patterns): the operations stay linear. */
Test(gtid_set_size, twenty_thousand_intervals)
{
    buf_t odd = BUF_INIT, even = BUF_INIT;
    for (int u = 0; u < 10; u++) {
        char uuid[40];
        snprintf(uuid, sizeof(uuid), "%08x-0000-4000-8000-000000000000", u * 0x11111111u);
        buf_printf(&odd, "%s%s", u ? ",\n" : "", uuid);
        buf_printf(&even, "%s%s", u ? ",\n" : "", uuid);
        for (int k = 0; k < 2000; k++) {
            buf_printf(&odd, ":%d", 4 * k + 1);
            buf_printf(&even, ":%d", 4 * k + 2);
        }
    }
    gtid_set_t *a = P(buf_str(&odd)), *b = P(buf_str(&even));
    cr_expect_eq(gtid_set_count(a), 20000);
    char *t = gtid_set_format(a);
    cr_expect_str_eq(t, buf_str(&odd), "canonical input formats to itself");
    free(t);
    gtid_set_t *u = gtid_set_union(a, b);
    cr_expect_eq(gtid_set_count(u), 40000);
    cr_expect_eq(gtid_set_group(u, 0).n_iv, 2000, "n, n+1 merged into one interval");
    gtid_set_t *d = gtid_set_subtract(u, b);
    cr_expect(gtid_set_equal(d, a));
    gtid_set_t *n = gtid_set_intersect(a, b);
    cr_expect(gtid_set_is_empty(n));
    cr_expect(gtid_set_is_subset(a, u));
    cr_expect_not(gtid_set_is_subset(u, a));
    gtid_set_free(a);
    gtid_set_free(b);
    gtid_set_free(u);
    gtid_set_free(d);
    gtid_set_free(n);
    buf_free(&odd);
    buf_free(&even);
}

/* ---- gtid_state_t: one type for both families ----------------------------- */

#define SU "3e11fa47-71ca-11e1-9e33-c80aa9429562"
#define SV "8a94f357-aab4-11df-86ab-c80aa9429562"

typedef struct {
    const char *rule;
    server_family_t fam;
    const char *a, *b;
    const char *want_union;
    bool a_covers_b;
    uint64_t beyond;         /* gtid_state_count_beyond(a, b) */
    const char *beyond_text; /* gtid_state_beyond_text(a, b) */
} state_row_t;

static const state_row_t state_rows[] = {
    {"MySQL: union merges, subset covers", FAMILY_MYSQL, SU ":1-10", SU ":1-5",
     SU ":1-10", true, 5, SU ":6-10"},
    {"MySQL: disjoint UUIDs", FAMILY_MYSQL, SU ":1-3", SV ":1-2", SU ":1-3," SV ":1-2", false,
     3, SU ":1-3"},
    {"MySQL: empty covers empty", FAMILY_MYSQL, "", "", "", true, 0, ""},
    {"MySQL: a gap is not covered", FAMILY_MYSQL, SU ":1-3:5", SU ":1-5", SU ":1-5", false, 0,
     ""},
    {"MariaDB: furthest per domain", FAMILY_MARIADB, "0-1-10,1-2-3", "0-1-7,2-3-4",
     "0-1-10,1-2-3,2-3-4", false, 6, "0-1-10,1-2-3"},
    {"MariaDB: ahead in every domain covers", FAMILY_MARIADB, "0-1-10", "0-2-9", "0-1-10",
     true, 1, "0-1-10"},
    {"MariaDB: empty is covered by anything", FAMILY_MARIADB, "0-1-1", "", "0-1-1", true, 1,
     "0-1-1"},
    {"MariaDB: behind", FAMILY_MARIADB, "0-1-5", "0-1-8", "0-1-8", false, 0, ""},
};

Test(gtid_state, operations)
{
    for (size_t i = 0; i < sizeof state_rows / sizeof state_rows[0]; i++) {
        const state_row_t *r = &state_rows[i];
        char err[GTID_ERR_SIZE];
        gtid_state_t *a = gtid_state_parse(r->fam, r->a, err, sizeof err);
        gtid_state_t *b = gtid_state_parse(r->fam, r->b, err, sizeof err);
        cr_assert(a && b, "%s: %s", r->rule, err);
        gtid_state_t *u = gtid_state_union(a, b);
        char *ut = gtid_state_format(u);
        cr_expect_str_eq(ut, r->want_union, "%s", r->rule);
        cr_expect(gtid_state_covers(u, a) && gtid_state_covers(u, b), "%s", r->rule);
        cr_expect_eq(gtid_state_covers(a, b), r->a_covers_b, "%s", r->rule);
        cr_expect_eq(gtid_state_count_beyond(a, b), r->beyond, "%s", r->rule);
        uint64_t n = 1;
        char *bt = gtid_state_beyond_text(a, b, &n);
        cr_expect_str_eq(bt, r->beyond_text, "%s", r->rule);
        cr_expect_eq(n, r->beyond + 1, "%s", r->rule);
        gtid_state_t *acc = gtid_state_copy(a);
        gtid_state_add(acc, b);
        char *at = gtid_state_format(acc);
        cr_expect_str_eq(at, ut, "%s: add is union", r->rule);
        free(ut);
        free(bt);
        free(at);
        gtid_state_free(acc);
        gtid_state_free(u);
        gtid_state_free(a);
        gtid_state_free(b);
    }
}

Test(gtid_state, parse_by_family)
{
    char err[GTID_ERR_SIZE];
    cr_expect_null(gtid_state_parse(FAMILY_MYSQL, "0-1-5", err, sizeof err));
    cr_expect(strstr(err, "offset") != NULL, "%s", err);
    cr_expect_null(gtid_state_parse(FAMILY_MARIADB, SU ":1", err, sizeof err));
    cr_expect_null(gtid_state_parse(FAMILY_MARIADB, NULL, err, sizeof err));
    cr_expect_str_eq(err, "no GTID position text");
    cr_expect_null(gtid_state_parse(FAMILY_MYSQL, NULL, err, sizeof err));
    gtid_state_t *e = gtid_state_new(FAMILY_MARIADB);
    char *t = gtid_state_format(e);
    cr_expect_str_eq(t, "");
    free(t);
    gtid_state_free(e);
    gtid_state_free(NULL);
}

Test(gtid_state, most_advanced)
{
    gtid_state_t *s[3] = {gtid_state_parse(FAMILY_MARIADB, "0-1-5", NULL, 0),
                          gtid_state_parse(FAMILY_MARIADB, "0-1-9", NULL, 0), NULL};
    gtid_advanced_t *r =
        gtid_state_most_advanced((const gtid_state_t *const *)s, 3, FAMILY_MARIADB);
    cr_expect_eq(r->most_advanced, 1);
    cr_expect(gtid_advanced_lacks(r, 0));
    cr_expect(gtid_advanced_lacks(r, 2));
    gtid_advanced_free(r);
    gtid_state_free(s[0]);
    gtid_state_free(s[1]);
}
