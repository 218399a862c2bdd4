/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#ifdef HAVE_LIBSYSTEMD
#include <syslog.h>
#include <systemd/sd-journal.h>
#endif

static log_level_t current = LOG_LVL_INFO;
static bool to_journal;

static const char *const names[] = {"debug", "info", "notice", "warning", "error"};

void log_set_level(log_level_t lvl) { current = lvl; }
log_level_t log_get_level(void) { return current; }
void log_use_journal(bool on) { to_journal = on; }

const char *log_level_str(log_level_t lvl)
{
    return (unsigned)lvl < sizeof names / sizeof names[0] ? names[lvl] : "?";
}

bool log_level_parse(const char *s, log_level_t *out)
{
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (log_level_t)i;
            return true;
        }
    }
    return false;
}

static void vemit(log_level_t lvl, const char *cluster, const char *node, const char *event,
                  const char *fmt, va_list ap)
{
    if (lvl < current)
        return;
    char msg[4096];
    vsnprintf(msg, sizeof msg, fmt, ap);
#ifdef HAVE_LIBSYSTEMD
    if (to_journal) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERR};
        sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio[lvl],
                        "SYSLOG_IDENTIFIER=failoverd", "CLUSTER=%s", cluster ? cluster : "",
                        "NODE=%s", node ? node : "", "EVENT=%s", event ? event : "", NULL);
        return;
    }
#endif
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char ctx[256] = "";
    if (cluster || node || event)
        snprintf(ctx, sizeof ctx, "%s%s%s%s%s%s ", cluster ? "cluster=" : "", cluster ? cluster : "",
                 node ? " node=" : "", node ? node : "", event ? " event=" : "", event ? event : "");
    fprintf(stderr, "%s.%03dZ %-7s %s%s\n", ts, (int)(tv.tv_usec / 1000), log_level_str(lvl),
            ctx[0] == ' ' ? ctx + 1 : ctx, msg);
}

void log_msg(log_level_t lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(lvl, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_fields(log_level_t lvl, const char *cluster, const char *node, const char *event,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(lvl, cluster, node, event, fmt, ap);
    va_end(ap);
}
