/* notify.c - see notify.h. */
#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#define SEND(...) sd_notifyf(0, __VA_ARGS__)
#else
#define SEND(...) ((void)0)
#endif

void notify_ready(void) { SEND("READY=1"); }
void notify_reloading(void) { SEND("RELOADING=1"); }
void notify_stopping(void) { SEND("STOPPING=1"); }
void notify_watchdog(void) { SEND("WATCHDOG=1"); }

void notify_status(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SEND("STATUS=%s", msg);
    (void)msg;
}

uint64_t notify_watchdog_ms(void)
{
#ifdef HAVE_LIBSYSTEMD
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0)
        return usec / 1000;
#endif
    return 0;
}

bool notify_under_journal(void)
{
    /* systemd sets JOURNAL_STREAM to "dev:inode" of the stream it connected to stderr. */
    const char *js = getenv("JOURNAL_STREAM");
    struct stat st;
    unsigned long long dev, ino;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
