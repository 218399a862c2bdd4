/* redact.h - hides secrets in JSON before it leaves the daemon (pure).
 *
 * Hooks, plugins and webhooks never pass secrets on, even if an event carried
 * one by mistake: what they are handed goes through redact_json() first. */
#ifndef FAILOVERD_REDACT_H
#define FAILOVERD_REDACT_H

#include <jansson.h>

/* Replaces, at any depth, the value of every key that names a secret
 * (password, passwd, secret, token; any case) with "********". */
void redact_json(json_t *j);

#endif
