/* wallclock.h - reads the wall clock (io: the core never calls this; it gets
 * times as arguments). */
#ifndef FAILOVERD_WALLCLOCK_H
#define FAILOVERD_WALLCLOCK_H

#include <stdint.h>

/* Now, in ms since the epoch. */
uint64_t wall_now_ms(void);

#endif
