/* log.h - leveled, structured log lines.
 *
 * Every line is "TIME LEVEL message" on stderr, or a journald entry with
 * priority and the given fields when running under systemd.  The function that
 * fails logs the failure; callers do not log it again.
 */
#ifndef FAILOVERD_LOG_H
#define FAILOVERD_LOG_H

#include <stdbool.h>

typedef enum { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_NOTICE, LOG_LVL_WARN, LOG_LVL_ERROR } log_level_t;

void log_set_level(log_level_t lvl);
log_level_t log_get_level(void);
/* "debug", "info", "notice", "warning", "error"; returns false for anything else. */
bool log_level_parse(const char *s, log_level_t *out);
const char *log_level_str(log_level_t lvl);
/* Send lines to journald (with fields) instead of stderr. */
void log_use_journal(bool on);

void log_msg(log_level_t lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A line with journald fields: cluster/node/event may be NULL. */
void log_fields(log_level_t lvl, const char *cluster, const char *node, const char *event,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
