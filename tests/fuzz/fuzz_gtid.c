/* GTID sets (MySQL) and positions (MariaDB) as servers send them.
 * Input: "A|B" (B optional).  Besides not crashing, every input that parses
 * must keep the algebra's laws: format then parse gives the same set, the
 * union contains both, (A - B) ∪ B = A ∪ B, A ∩ B is in both, A - B shares
 * nothing with B; for positions the maximum covers both, and a diff is empty
 * exactly when one covers the other. */
#include "fuzz.h"
#include "gtid.h"

static gtid_set_t *reparse(const gtid_set_t *s)
{
    char *text = gtid_set_format(s);
    char err[GTID_ERR_SIZE];
    gtid_set_t *back = gtid_set_parse(text, err, sizeof err);
    FUZZ_CHECK(back, "the formatted set \"%s\" does not parse: %s", text, err);
    FUZZ_CHECK(gtid_set_equal(back, s), "\"%s\" parses to another set", text);
    char *again = gtid_set_format(back);
    FUZZ_CHECK(strcmp(again, text) == 0, "format is not stable: \"%s\" then \"%s\"", text, again);
    char *line = gtid_set_format_line(s);
    gtid_set_t *from_line = gtid_set_parse(line, err, sizeof err);
    FUZZ_CHECK(from_line && gtid_set_equal(from_line, s), "one-line form \"%s\"", line);
    gtid_set_free(from_line);
    free(line);
    free(again);
    free(text);
    return back;
}

static void sets(const char *ta, const char *tb)
{
    char err[GTID_ERR_SIZE];
    gtid_set_t *a = gtid_set_parse(ta, err, sizeof err);
    gtid_set_t *b = gtid_set_parse(tb, err, sizeof err);
    if (a)
        gtid_set_free(reparse(a));
    if (a && b) {
        gtid_set_t *u = gtid_set_union(a, b);
        FUZZ_CHECK(gtid_set_is_subset(a, u) && gtid_set_is_subset(b, u), "union contains both");
        gtid_set_t *d = gtid_set_subtract(a, b);
        FUZZ_CHECK(gtid_set_is_subset(d, a), "a - b is in a");
        gtid_set_t *db = gtid_set_intersect(d, b);
        FUZZ_CHECK(gtid_set_is_empty(db), "a - b shares nothing with b");
        gtid_set_t *back = gtid_set_union(d, b);
        FUZZ_CHECK(gtid_set_equal(back, u), "(a - b) u b = a u b");
        gtid_set_t *i = gtid_set_intersect(a, b);
        FUZZ_CHECK(gtid_set_is_subset(i, a) && gtid_set_is_subset(i, b), "a n b is in both");
        FUZZ_CHECK(gtid_set_count(u) == gtid_set_count(d) + gtid_set_count(b) ||
                       gtid_set_count(u) < gtid_set_count(d), /* counts saturate */
                   "|a u b| = |a - b| + |b|");
        FUZZ_CHECK(gtid_set_is_subset(a, b) == gtid_set_is_empty(d), "a in b iff a - b empty");
        FUZZ_CHECK(gtid_set_equal(a, b) == (gtid_set_is_subset(a, b) && gtid_set_is_subset(b, a)),
                   "equal iff subsets both ways");
        gtid_set_t *c = gtid_set_copy(a);
        gtid_set_add_set(c, b);
        FUZZ_CHECK(gtid_set_equal(c, u), "add_set is union");
        const gtid_set_t *both[2] = {a, b};
        gtid_advanced_t *adv = gtid_set_most_advanced(both, 2);
        for (size_t k = 0; k < 2; k++)
            free(gtid_advanced_missing_text(adv, k));
        gtid_advanced_free(adv);
        gtid_set_free(c);
        gtid_set_free(i);
        gtid_set_free(back);
        gtid_set_free(db);
        gtid_set_free(d);
        gtid_set_free(u);
    }
    free(gtid_text_union(ta, tb, err, sizeof err));
    free(gtid_text_subtract(ta, tb, err, sizeof err));
    free(gtid_text_intersect(ta, tb, err, sizeof err));
    (void)gtid_text_subset(ta, tb, err, sizeof err);
    gtid_set_free(a);
    gtid_set_free(b);
}

static void positions(const char *ta, const char *tb)
{
    char err[GTID_ERR_SIZE];
    gtid_pos_t *a = gtid_pos_parse(ta, err, sizeof err);
    gtid_pos_t *b = gtid_pos_parse(tb, err, sizeof err);
    if (a) {
        char *text = gtid_pos_format(a);
        gtid_pos_t *back = gtid_pos_parse(text, err, sizeof err);
        FUZZ_CHECK(back && gtid_pos_equal(back, a), "position \"%s\" round-trips", text);
        gtid_pos_free(back);
        free(text);
    }
    if (a && b) {
        gtid_pos_t *m = gtid_pos_max(a, b);
        FUZZ_CHECK(gtid_pos_covers(m, a) && gtid_pos_covers(m, b), "max covers both");
        gtid_pos_diff_t *d = gtid_pos_diff(a, b);
        FUZZ_CHECK((d->n == 0) == gtid_pos_covers(a, b), "diff empty iff covers");
        char *dt = gtid_pos_diff_format(d);
        if (d->n) {
            gtid_pos_t *target = gtid_pos_parse(dt, err, sizeof err);
            FUZZ_CHECK(target, "diff text \"%s\" parses: %s", dt, err);
            gtid_pos_free(target);
        }
        uint64_t count = 0;
        free(gtid_pos_diff_format_range(d, &count));
        free(dt);
        gtid_pos_diff_free(d);
        const gtid_pos_t *both[2] = {a, b};
        gtid_advanced_t *adv = gtid_pos_most_advanced(both, 2);
        for (size_t k = 0; k < 2; k++)
            free(gtid_advanced_missing_text(adv, k));
        gtid_advanced_free(adv);
        gtid_pos_free(m);
    }
    gtid_pos_free(a);
    gtid_pos_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *a = fuzz_str(data, size);
    char *b = fuzz_split(a, '|');
    sets(a, b);
    positions(a, b);
    free(a);
    return 0;
}
