/* wallclock.c - see wallclock.h. */
#include "wallclock.h"

#include <stddef.h>
#include <sys/time.h>

uint64_t wall_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}
