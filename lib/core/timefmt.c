/* timefmt.c - see timefmt.h. */
#include "timefmt.h"

#include <stdio.h>
#include <time.h>

void format_wall_ms(uint64_t wall_ms, char *out, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char ts[24];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03uZ", ts, (unsigned)(wall_ms % 1000));
}
