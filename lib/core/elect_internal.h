/* elect_internal.h - what elect.c and elect_gtid.c share; not for use
 * outside them. */
#ifndef FAILOVERD_ELECT_INTERNAL_H
#define FAILOVERD_ELECT_INTERNAL_H

#include "elect.h"
#include "gtid.h"

/* The GTID family of an observation's texts. */
server_family_t elect__family_of(const observation_t *o);

/* A text whose parse was checked where it entered, in the family's notation
 * (or as a MySQL set): absent text is the empty value. */
gtid_set_t *elect__set_of(const char *text);
gtid_state_t *elect__state_of(server_family_t family, const char *text);

/* Received: MySQL executed ∪ retrieved; MariaDB the furthest of IO and
 * applied. Caller frees. */
gtid_state_t *elect__received_of(const observation_t *o);

/* Transactions received (recv) but not applied. */
long long elect__backlog_of(const observation_t *o, const gtid_state_t *recv);

#endif
