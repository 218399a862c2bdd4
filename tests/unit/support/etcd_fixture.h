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

#endif
