/* testutil.h - scaffolding the loop and plugin tests share: running a libuv
 * loop until something happens (bounded), reading a file a child wrote, and
 * loading, answering and unloading a plugin.
 *
 * Waits are measured in loop time and always bounded; a timer wakes the loop
 * every few milliseconds so that a wait ends on time even when nothing else
 * is pending.  The helpers that check (test_close_loop, test_unload_plugin)
 * fail the running criterion test.
 */
#ifndef FAILOVERD_TEST_TESTUTIL_H
#define FAILOVERD_TEST_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "plugin.h"

/* Runs loop until *flag is set or max_ms pass; returns *flag. */
bool test_run_until(uv_loop_t *loop, const bool *flag, uint64_t max_ms);

/* Runs loop until done(ud) says so or max_ms pass; returns done(ud). */
bool test_run_until_fn(uv_loop_t *loop, bool (*done)(void *), void *ud, uint64_t max_ms);

/* A completion callback that sets the bool ud points to. */
void test_set_flag(void *ud);

/* A TCP port on 127.0.0.1 that nobody listened on a moment ago. */
int test_free_port(void);

/* Runs loop until nothing is left and fails the test when a handle stays
 * open (libuv's rule: uv_loop_close() must return 0). */
void test_close_loop(uv_loop_t *loop);

/* The whole file at path (free() it), or NULL when it cannot be opened. */
char *test_slurp(const char *path);

/* The same, but "" when it cannot be opened. */
char *test_slurp_or_empty(const char *path);

/* Settings kv[0..n) with extra[0..n_extra) applied: an extra one replaces the
 * setting of the same key or is added; one with a NULL value removes it.
 * kv must have room for n + n_extra; returns the new count. */
size_t test_kv_merge(failoverd_kv_t *kv, size_t n, const failoverd_kv_t *extra, size_t n_extra);

/* Unloads p (when not NULL) and waits up to max_ms for it; then closes the
 * loop as test_close_loop(). */
void test_unload_plugin(uv_loop_t *loop, plugin_t *p, uint64_t max_ms);

/* A plugin's answer, kept after its callback. */
typedef struct {
    bool done;
    plugin_result_t r;
    char message[512];
} test_answer_t;

/* A plugin_result_fn that fills the test_answer_t ud points to (and fails the
 * test when called twice). */
void test_on_answer(const plugin_result_t *r, void *ud);

#endif
