/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"

#define WAKE_MS 10

static void on_wake(uv_timer_t *t)
{
    (void)t; /* only wakes the loop up */
}

bool test_run_until_fn(uv_loop_t *loop, bool (*done)(void *), void *ud, uint64_t max_ms)
{
    uint64_t end = uv_now(loop) + max_ms;
    uv_timer_t wake;
    uv_timer_init(loop, &wake);
    uv_timer_start(&wake, on_wake, WAKE_MS, WAKE_MS);
    while (!done(ud) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wake, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return done(ud);
}

static bool flag_set(void *ud)
{
    return *(const bool *)ud;
}

bool test_run_until(uv_loop_t *loop, const bool *flag, uint64_t max_ms)
{
    return test_run_until_fn(loop, flag_set, (void *)flag, max_ms);
}

void test_set_flag(void *ud)
{
    *(bool *)ud = true;
}

void test_close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "a handle was left open");
}

char *test_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    buf_t b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    return buf_steal(&b);
}

char *test_slurp_or_empty(const char *path)
{
    char *s = test_slurp(path);
    return s ? s : xstrdup("");
}

size_t test_kv_merge(failoverd_kv_t *kv, size_t n, const failoverd_kv_t *extra, size_t n_extra)
{
    for (size_t i = 0; i < n_extra; i++) {
        size_t k = 0;
        while (k < n && strcmp(kv[k].key, extra[i].key) != 0)
            k++;
        if (!extra[i].value) {
            if (k < n)
                kv[k] = kv[--n];
            continue;
        }
        kv[k] = extra[i];
        if (k == n)
            n++;
    }
    return n;
}

void test_unload_plugin(uv_loop_t *loop, plugin_t *p, uint64_t max_ms)
{
    static bool unloaded;
    unloaded = false;
    if (p) {
        plugin_unload(p, test_set_flag, &unloaded);
        test_run_until(loop, &unloaded, max_ms);
        cr_assert(unloaded, "the plugin was not unloaded");
    }
    test_close_loop(loop);
}

void test_on_answer(const plugin_result_t *r, void *ud)
{
    test_answer_t *a = ud;
    cr_assert_not(a->done, "answered twice");
    a->done = true;
    a->r = *r;
    snprintf(a->message, sizeof a->message, "%s", r->message);
    a->r.message = a->message;
}

int test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}
