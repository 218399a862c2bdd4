/* notify.h - systemd service notifications (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING). A no-op when failoverd is built without libsystemd or runs
 * outside systemd (no NOTIFY_SOCKET). */
#ifndef FAILOVERD_NOTIFY_H
#define FAILOVERD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_watchdog(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The watchdog interval systemd asked for (WATCHDOG_USEC), in ms; 0 when none. */
uint64_t notify_watchdog_ms(void);
/* True when running under systemd with a journal (JOURNAL_STREAM matches stderr). */
bool notify_under_journal(void);

#endif
