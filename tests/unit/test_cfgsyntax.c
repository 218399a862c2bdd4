/* A configuration with a syntax error is rejected with its file and line, and
 * rejecting it again and again (a reload loop) leaves nothing behind: libconfig
 * leaks the string token it stopped at, so it reads such a file only in a
 * child process (lib/io/cfgsyntax.c).  A reload's check runs in such a child
 * without the loop waiting for it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "cfgsyntax.h"
#include "config.h"

static char path[256];

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/failoverd-cfgsyntax-test-%d.conf", (int)getpid());
}

static void teardown(void)
{
    unlink(path);
}

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

/* ---- the check without waiting ------------------------------------------- */

#define GOOD                                                                                       \
    "clusters = ({ name = \"main\"; user = \"u\"; password = \"p\"; repl_user = \"r\"; "           \
    "repl_password = \"q\";\n  nodes = ( { name = \"db1\"; host = \"h1\"; } );\n});\n"

typedef struct {
    uv_loop_t loop;
    uv_timer_t tick, cancel;
    cfgsyntax_check_t *ck;
    int answers;
    cfgsyntax_outcome_t outcome;
    char errors[1024];
    int ticks, ticks_at_answer;
    uint64_t started, answered_ms;
} run_t;

static void on_answer(cfgsyntax_outcome_t outcome, const char *errors, void *arg)
{
    run_t *r = arg;
    r->answers++;
    r->outcome = outcome;
    snprintf(r->errors, sizeof r->errors, "%s", errors ? errors : "");
    r->ticks_at_answer = r->ticks;
    r->answered_ms = uv_now(&r->loop) - r->started;
    uv_close((uv_handle_t *)&r->tick, NULL);
}

static void on_tick(uv_timer_t *t)
{
    ((run_t *)t->data)->ticks++;
}

/* Runs one check to its end, a 10 ms timer ticking beside it. */
static void run_check(run_t *r)
{
    cr_assert_eq(uv_loop_init(&r->loop), 0);
    uv_timer_init(&r->loop, &r->tick);
    r->tick.data = r;
    uv_timer_start(&r->tick, on_tick, 10, 10);
    r->started = uv_now(&r->loop);
    r->ck = cfgsyntax_check_start(&r->loop, path, on_answer, r);
    cr_assert_not_null(r->ck);
    cr_assert_eq(r->answers, 0, "the answer never comes from within the call");
    uv_run(&r->loop, UV_RUN_DEFAULT);
    cr_expect_eq(uv_loop_close(&r->loop), 0, "every handle of the check is closed");
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "the child is reaped");
    cr_expect_eq(errno, ECHILD);
}

Test(cfgsyntax, a_check_answers_ok_for_a_good_file)
{
    write_conf(GOOD);
    run_t r = {0};
    run_check(&r);
    cr_expect_eq(r.answers, 1);
    cr_expect_eq(r.outcome, CFGSYNTAX_OK, "%s", r.errors);
}

Test(cfgsyntax, a_check_answers_the_errors_the_load_would_give)
{
    write_conf("daemon = {\n  log_level = \"info\";\n};\n\"stray\"\n");
    run_t r = {0};
    run_check(&r);
    cr_expect_eq(r.answers, 1);
    cr_expect_eq(r.outcome, CFGSYNTAX_ERRORS);
    char want[300];
    snprintf(want, sizeof want, "%s:4: syntax error", path);
    cr_expect(strstr(r.errors, want) != NULL, "errors: %s", r.errors);
}

Test(cfgsyntax, the_loop_runs_while_a_check_is_slow)
{
    write_conf(GOOD);
    setenv("FAILOVERD_TEST_CHECK_DELAY_MS", "600", 1);
    run_t r = {0};
    run_check(&r);
    unsetenv("FAILOVERD_TEST_CHECK_DELAY_MS");
    cr_expect_eq(r.outcome, CFGSYNTAX_OK);
    cr_expect_geq(r.answered_ms, 600, "the answer came after %llu ms",
                  (unsigned long long)r.answered_ms);
    /* A loop that waited for the child would not have ticked at all. */
    cr_expect_geq(r.ticks_at_answer, 20, "the loop ticked %d times during a 600 ms check",
                  r.ticks_at_answer);
}

static void on_cancel(uv_timer_t *t)
{
    run_t *r = t->data;
    cfgsyntax_check_cancel(r->ck);
    uv_close((uv_handle_t *)&r->tick, NULL);
    uv_close((uv_handle_t *)t, NULL);
}

Test(cfgsyntax, a_cancelled_check_never_answers_and_leaves_nothing)
{
    write_conf(GOOD);
    setenv("FAILOVERD_TEST_CHECK_DELAY_MS", "5000", 1);
    run_t r = {0};
    cr_assert_eq(uv_loop_init(&r.loop), 0);
    uv_timer_init(&r.loop, &r.tick);
    r.tick.data = &r;
    uv_timer_start(&r.tick, on_tick, 10, 10);
    uv_timer_init(&r.loop, &r.cancel);
    r.cancel.data = &r;
    r.ck = cfgsyntax_check_start(&r.loop, path, on_answer, &r);
    uv_timer_start(&r.cancel, on_cancel, 50, 0);
    uint64_t t0 = uv_hrtime();
    uv_run(&r.loop, UV_RUN_DEFAULT);
    unsetenv("FAILOVERD_TEST_CHECK_DELAY_MS");
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    cr_expect_eq(r.answers, 0, "a cancelled check does not answer");
    cr_expect_lt(ms, 2000, "the loop ended %llu ms after the cancel, not after the child",
                 (unsigned long long)ms);
    cr_expect_eq(uv_loop_close(&r.loop), 0, "every handle of the check is closed");
    cr_expect_eq(waitpid(-1, NULL, WNOHANG), -1, "the child is reaped");
}
