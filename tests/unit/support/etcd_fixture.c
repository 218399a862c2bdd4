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

/* ---- over TLS --------------------------------------------------------------------- */

/* Runs a shell command line of the fixture's own (openssl); fails the test
 * when it fails. */
static void tls_run(const char *cmd)
{
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "failed (%d): %s", rc, cmd);
}

/* A self-signed CA in dir: NAME.pem and NAME-key.pem. */
static void tls_make_ca(const char *dir, const char *name)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/%s-key.pem -out %s/%s.pem -days 2 -subj '/CN=failoverd test %s' "
             "2>/dev/null",
             dir, name, dir, name, name);
    tls_run(cmd);
}

/* NAME-cert.pem and NAME-key.pem in dir, signed by the CA "ca", with the
 * extensions ext (one per line). */
static void tls_make_leaf(const char *dir, const char *name, const char *ext)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s && printf '%s' > %s.ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s-key.pem -out %s.csr -subj '/CN=%s' 2>/dev/null && "
             "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial "
             "-out %s-cert.pem -days 2 -extfile %s.ext 2>/dev/null && chmod 600 %s-key.pem",
             dir, ext, name, name, name, name, name, name, name, name);
    tls_run(cmd);
}

static void tls_spawn(etcd_tls_fixture_t *f)
{
    etcd_fixture_t *e = &f->etcd;
    int peer = test_free_port();
    char peerurl[64], data[64], cluster[96], scert[64], skey[64];
    snprintf(peerurl, sizeof peerurl, "http://127.0.0.1:%d", peer);
    snprintf(data, sizeof data, "%s/data", e->dir);
    snprintf(cluster, sizeof cluster, "t=%s", peerurl);
    snprintf(scert, sizeof scert, "%s/server-cert.pem", e->dir);
    snprintf(skey, sizeof skey, "%s/server-key.pem", e->dir);
    char *argv[] = {"/usr/bin/etcd", "--name", "t", "--data-dir", data,
                    "--listen-client-urls", e->endpoint, "--advertise-client-urls", e->endpoint,
                    "--cert-file", scert, "--key-file", skey, "--trusted-ca-file", f->ca,
                    "--client-cert-auth", "--listen-peer-urls", peerurl,
                    "--initial-advertise-peer-urls", peerurl, "--initial-cluster", cluster,
                    "--log-level", "error", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    cr_assert_eq(posix_spawn(&e->pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

void etcd_tls_fixture_start(etcd_tls_fixture_t *f)
{
    etcd_fixture_t *e = &f->etcd;
    e->pid = -1;
    e->dir[0] = '\0';
    if (access("/usr/bin/etcd", X_OK) != 0)
        cr_skip_test("etcd is not installed");
    if (access("/usr/bin/openssl", X_OK) != 0)
        cr_skip_test("openssl is not installed");
    snprintf(e->dir, sizeof e->dir, "/tmp/fo-etcd-XXXXXX");
    cr_assert(mkdtemp(e->dir));
    e->port = test_free_port();
    snprintf(e->endpoint, sizeof e->endpoint, "https://127.0.0.1:%d", e->port);
    tls_make_ca(e->dir, "ca");
    tls_make_ca(e->dir, "other-ca");
    tls_make_leaf(e->dir, "server",
                  "subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
                  "keyUsage=digitalSignature,keyEncipherment\\n"
                  "extendedKeyUsage=serverAuth,clientAuth\\n");
    tls_make_leaf(e->dir, "client",
                  "basicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\n"
                  "extendedKeyUsage=clientAuth\\n");
    snprintf(f->ca, sizeof f->ca, "%s/ca.pem", e->dir);
    snprintf(f->other_ca, sizeof f->other_ca, "%s/other-ca.pem", e->dir);
    snprintf(f->cert, sizeof f->cert, "%s/client-cert.pem", e->dir);
    snprintf(f->key, sizeof f->key, "%s/client-key.pem", e->dir);
    tls_spawn(f);
}

void etcd_tls_fixture_stop(etcd_tls_fixture_t *f)
{
    if (f->etcd.pid > 0) {
        etcd_fixture_stop(&f->etcd);
    } else if (f->etcd.dir[0]) { /* openssl failed: no etcd, but the files */
        char cmd[64];
        snprintf(cmd, sizeof cmd, "rm -rf %s", f->etcd.dir);
        cr_expect_eq(system(cmd), 0);
    }
    f->etcd.dir[0] = '\0';
}
