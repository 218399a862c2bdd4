/* etcd_fixture.c - see etcd_fixture.h. */
#include "etcd_fixture.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void etcd_fixture_start(etcd_fixture_t *f)
{
    f->pid = -1;
    if (access("/usr/bin/etcd", X_OK) != 0)
        cr_skip_test("etcd is not installed");
    snprintf(f->dir, sizeof f->dir, "/tmp/fo-etcd-XXXXXX");
    cr_assert(mkdtemp(f->dir));
    f->port = test_free_port();
    int peer = test_free_port();
    char peerurl[64], data[64], cluster[96];
    snprintf(f->endpoint, sizeof f->endpoint, "http://127.0.0.1:%d", f->port);
    snprintf(peerurl, sizeof peerurl, "http://127.0.0.1:%d", peer);
    snprintf(data, sizeof data, "%s/data", f->dir);
    snprintf(cluster, sizeof cluster, "t=%s", peerurl);
    char *argv[] = {"/usr/bin/etcd", "--name", "t", "--data-dir", data,
                    "--listen-client-urls", f->endpoint, "--advertise-client-urls", f->endpoint,
                    "--listen-peer-urls", peerurl, "--initial-advertise-peer-urls", peerurl,
                    "--initial-cluster", cluster, "--log-level", "error", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    cr_assert_eq(posix_spawn(&f->pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

void etcd_fixture_stop(etcd_fixture_t *f)
{
    if (f->pid <= 0)
        return;
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    f->pid = -1;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    cr_expect_eq(system(cmd), 0);
}
