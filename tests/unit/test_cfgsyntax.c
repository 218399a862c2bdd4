/* A configuration with a syntax error is rejected with its file and line, and
 * rejecting it again and again (a reload loop) leaves nothing behind: libconfig
 * leaks the string token it stopped at, so it reads such a file only in a
 * child process (lib/io/cfgsyntax.c). */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char path[256];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/failoverd-cfgsyntax-test-%d.conf", (int)getpid());
}

static void teardown(void) { unlink(path); }

TestSuite(cfgsyntax, .init = setup, .fini = teardown);

static void write_conf(const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0600);
}

static char *first_error(void)
{
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load(path, &errs);
    cr_assert_null(cfg);
    cr_assert_geq(errs.n, 1);
    char *e = strdup(errs.lines[0]);
    fo_config_errors_free(&errs);
    return e;
}

Test(cfgsyntax, a_syntax_error_names_its_file_and_line)
{
    write_conf("daemon = {\n  log_level = \"info\";\n};\n\"stray\"\n");
    char *e = first_error();
    char want[300];
    snprintf(want, sizeof want, "%s:4: syntax error", path);
    cr_expect_str_eq(e, want);
    free(e);
}

Test(cfgsyntax, rejected_files_leave_no_memory_behind)
{
    /* A string token of 64 KiB where a setting name belongs. */
    size_t big = 65536;
    char *text = malloc(big + 8);
    text[0] = '"';
    memset(text + 1, 'x', big);
    strcpy(text + 1 + big, "\"\n");
    write_conf(text);
    free(text);
    free(first_error()); /* warm up */
    struct mallinfo2 before = mallinfo2();
    for (int i = 0; i < 50; i++)
        free(first_error());
    struct mallinfo2 after = mallinfo2();
    long long grew = (long long)after.uordblks - (long long)before.uordblks;
    cr_expect_lt(grew, 256 * 1024, "50 rejected loads kept %lld bytes", grew);
}
