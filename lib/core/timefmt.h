/* timefmt.h - wall-clock times as text (pure: the time is an argument).
 *
 * Part of the core: the status view, the durability report and the event
 * records all print times the same way through this one function. */
#ifndef FAILOVERD_TIMEFMT_H
#define FAILOVERD_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* ISO-8601 UTC with milliseconds, e.g. 2026-11-23T22:50:01.123Z; out needs 32 bytes. */
void format_wall_ms(uint64_t wall_ms, char *out, size_t len);

#endif
