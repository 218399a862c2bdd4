/* etcd_fixture.h - a throwaway single-member etcd on 127.0.0.1 for unit
 * tests of the coordination code (lib/io/etcd.c, lib/ops/coord*.c). */
#ifndef ETCD_FIXTURE_H
#define ETCD_FIXTURE_H

#include <sys/types.h>

typedef struct {
    char dir[32];      /* its data directory's parent, removed by stop */
    pid_t pid;         /* -1: not running */
    int port;          /* its client port */
    char endpoint[64]; /* "http://127.0.0.1:PORT" */
} etcd_fixture_t;

/* Starts etcd (skips the running test when /usr/bin/etcd is not installed;
 * fails it when etcd can't be started). The caller waits for it to answer,
 * as its client would. */
void etcd_fixture_start(etcd_fixture_t *f);
/* Ends it and removes its data; nothing when it did not start. */
void etcd_fixture_stop(etcd_fixture_t *f);

/* The same etcd over TLS with client-certificate authentication: a
 * throwaway CA signs etcd's server certificate (subjectAltName IP:127.0.0.1)
 * and a client certificate; etcd listens on https:// only and refuses a
 * client without a certificate from that CA.  A second CA signed nothing
 * (the wrong CA, for the failure cases).  Keys are 0600.  Skips the test
 * when etcd or openssl is not installed. */
typedef struct {
    etcd_fixture_t etcd;  /* endpoint "https://127.0.0.1:PORT"; dir holds the files */
    char ca[64];          /* the CA's certificate */
    char cert[64];        /* the client's certificate and key */
    char key[64];
    char other_ca[64];    /* a CA that signed nothing */
} etcd_tls_fixture_t;

void etcd_tls_fixture_start(etcd_tls_fixture_t *f);
void etcd_tls_fixture_stop(etcd_tls_fixture_t *f);

#endif
