/*
 * labwriter: the lab's write checker.
 *
 * Inserts rows with strictly increasing ids into lab.writes at a steady rate
 * through one address (the VIP or a node), reconnecting after any error, and
 * logs every acknowledged id with its time and the server that acknowledged
 * it. One thread per node polls that node's writability at the same time, so
 * two writable nodes (split brain) show in the log. `lab writer verify`
 * (tests/lab/labkit.py) judges the log against the servers' rows.
 *
 * This is a test tool: it uses the blocking client API with one-second
 * connect, read and write timeouts, never the daemon's event loop.
 *
 * Log format (one event per line, fields separated by one space; times are
 * CLOCK_REALTIME microseconds since the epoch; documented in docs/lab.md):
 *   # labwriter 1 start_us=T target=HOST:PORT rate=HZ start_id=N
 *   C T SERVER_ID HOSTNAME      connected to the target
 *   X T ERRNO TEXT              connecting to the target failed
 *   A T ID SERVER_ID LATENCY_US insert of ID acknowledged by SERVER_ID
 *   E T ID ERRNO TEXT           insert of ID failed: the row may or may not exist
 *   P T NODE STATE SERVER_ID    poll of NODE: rw, ro or down (SERVER_ID 0 if down)
 *   # end end_us=T sent=N acked=N failed=N max_gap_us=N
 * An id is never sent twice; after a failed insert the writer reconnects
 * (the VIP may have moved) and goes on with the next id.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mysql.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_POLLS 16

struct target {
    char name[64];
    char host[64];
    unsigned port;
};

static volatile sig_atomic_t stopping;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *user = "writer";
static const char *password = "";
static unsigned poll_ms = 100;
static int64_t deadline_us;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void logline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logline(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&log_lock);
    va_start(ap, fmt);
    vfprintf(log_file, fmt, ap);
    va_end(ap);
    fputc('\n', log_file);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
}

/* Error texts go on one log line: no newlines. */
static const char *oneline(const char *s, char *buf, size_t size)
{
    size_t i;
    for (i = 0; s[i] && i + 1 < size; i++)
        buf[i] = (s[i] == '\n' || s[i] == '\r') ? ' ' : s[i];
    buf[i] = '\0';
    return buf;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void sleep_until_mono(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000, .tv_nsec = (t % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stopping)
        ;
}

/* A new session with one-second timeouts. NULL only when out of memory;
 * otherwise mysql_errno() of the handle says whether the connect worked, so
 * the caller can log the server's error text before closing it. */
static MYSQL *open_conn(const struct target *t)
{
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 1;
    if (!m)
        return NULL;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    /* LABWRITER_TLS=1: every session encrypted (servers that require secure
     * transport); the certificate is not checked, the writer only writes. */
    if (getenv("LABWRITER_TLS") && strcmp(getenv("LABWRITER_TLS"), "1") == 0) {
        my_bool on = 1;
        mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on);
    }
    (void)mysql_real_connect(m, t->host, user, password, NULL, t->port, NULL, 0);
    return m;
}

/* Runs a query that returns one row; copies up to two columns. */
static bool query_row(MYSQL *m, const char *sql, char *a, size_t alen, char *b, size_t blen)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    if (mysql_query(m, sql) != 0 || !(res = mysql_store_result(m)))
        return false;
    row = mysql_fetch_row(res);
    if (row && a)
        snprintf(a, alen, "%s", row[0] ? row[0] : "");
    if (row && b && mysql_num_fields(res) > 1)
        snprintf(b, blen, "%s", row[1] ? row[1] : "");
    mysql_free_result(res);
    return row != NULL;
}

static void *poll_thread(void *arg)
{
    const struct target *t = arg;
    MYSQL *m = NULL;
    int64_t next = mono_us();
    mysql_thread_init();
    while (!stopping && now_us() < deadline_us) {
        char ro[16] = "", sid[32] = "0";
        bool ok = false;
        if (!m) {
            m = open_conn(t);
            if (m && mysql_errno(m)) {
                mysql_close(m);
                m = NULL;
            }
        }
        if (m) {
            ok = query_row(m, "SELECT @@read_only, @@server_id", ro, sizeof ro, sid, sizeof sid);
            if (!ok) {
                mysql_close(m);
                m = NULL;
            }
        }
        logline("P %" PRId64 " %s %s %s", now_us(), t->name,
                ok ? (strcmp(ro, "0") == 0 ? "rw" : "ro") : "down", ok ? sid : "0");
        next += (int64_t)poll_ms * 1000;
        if (next < mono_us())
            next = mono_us();
        sleep_until_mono(next);
    }
    if (m)
        mysql_close(m);
    mysql_thread_end();
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: labwriter --host ADDR [--port 3306] [--user writer] --log FILE\n"
            "                 [--rate HZ] [--start-id N] [--poll NAME=HOST:PORT,...]\n"
            "                 [--poll-ms MS] [--max-seconds S]\n"
            "The password comes from $LABWRITER_PASSWORD. Stops on SIGTERM/SIGINT or after\n"
            "--max-seconds (default 3600).\n");
    exit(64);
}

static int parse_polls(char *spec, struct target *polls)
{
    int n = 0;
    for (char *save = NULL, *tok = strtok_r(spec, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *colon = strrchr(tok, ':');
        if (!eq || !colon || colon < eq || n == MAX_POLLS)
            usage();
        *eq = *colon = '\0';
        snprintf(polls[n].name, sizeof polls[n].name, "%s", tok);
        snprintf(polls[n].host, sizeof polls[n].host, "%s", eq + 1);
        polls[n].port = (unsigned)strtoul(colon + 1, NULL, 10);
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'h'},        {"port", required_argument, NULL, 'P'},
        {"user", required_argument, NULL, 'u'},        {"rate", required_argument, NULL, 'r'},
        {"start-id", required_argument, NULL, 's'},    {"log", required_argument, NULL, 'l'},
        {"poll", required_argument, NULL, 'p'},        {"poll-ms", required_argument, NULL, 'm'},
        {"max-seconds", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0}};
    struct target target = {.name = "target", .port = 3306};
    struct target polls[MAX_POLLS];
    pthread_t threads[MAX_POLLS];
    int npolls = 0, c;
    double rate = 100;
    uint64_t id = 1, sent = 0, acked = 0, failed = 0;
    int64_t max_seconds = 3600, last_ack = 0, max_gap = 0;
    const char *logpath = NULL;
    char *pollspec = NULL;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': snprintf(target.host, sizeof target.host, "%s", optarg); break;
        case 'P': target.port = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'u': user = optarg; break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 's': id = strtoull(optarg, NULL, 10); break;
        case 'l': logpath = optarg; break;
        case 'p': pollspec = optarg; break;
        case 'm': poll_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'x': max_seconds = strtoll(optarg, NULL, 10); break;
        default: usage();
        }
    }
    if (!target.host[0] || !logpath || rate <= 0 || rate > 10000 || poll_ms == 0 ||
        max_seconds <= 0)
        usage();
    if (getenv("LABWRITER_PASSWORD"))
        password = getenv("LABWRITER_PASSWORD");
    if (pollspec)
        npolls = parse_polls(pollspec, polls);
    log_file = fopen(logpath, "a");
    if (!log_file) {
        perror(logpath);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (mysql_library_init(0, NULL, NULL)) {
        fprintf(stderr, "labwriter: client library init failed\n");
        return 1;
    }
    deadline_us = now_us() + max_seconds * 1000000;
    logline("# labwriter 1 start_us=%" PRId64 " target=%s:%u rate=%g start_id=%" PRIu64, now_us(),
            target.host, target.port, rate, id);
    for (int i = 0; i < npolls; i++)
        pthread_create(&threads[i], NULL, poll_thread, &polls[i]);

    const int64_t period = (int64_t)(1000000.0 / rate);
    int64_t next = mono_us();
    MYSQL *m = NULL;
    char server_id[32] = "0", errbuf[256];
    while (!stopping && now_us() < deadline_us) {
        if (!m) {
            m = open_conn(&target);
            if (!m || mysql_errno(m)) {
                logline("X %" PRId64 " %u %s", now_us(), m ? mysql_errno(m) : 0,
                        m ? oneline(mysql_error(m), errbuf, sizeof errbuf) : "out of memory");
                if (m)
                    mysql_close(m);
                m = NULL;
            } else {
                char host[128] = "";
                if (query_row(m, "SELECT @@server_id, @@hostname", server_id, sizeof server_id,
                              host, sizeof host)) {
                    logline("C %" PRId64 " %s %s", now_us(), server_id, host);
                } else {
                    logline("X %" PRId64 " %u %s", now_us(), mysql_errno(m),
                            oneline(mysql_error(m), errbuf, sizeof errbuf));
                    mysql_close(m);
                    m = NULL;
                }
            }
        }
        if (m) {
            char sql[256];
            int64_t t0 = now_us();
            snprintf(sql, sizeof sql,
                     "INSERT INTO lab.writes (id, sent_us, origin) VALUES (%" PRIu64 ", %" PRId64
                     ", @@server_id)",
                     id, t0);
            sent++;
            if (mysql_query(m, sql) == 0) {
                int64_t t1 = now_us();
                logline("A %" PRId64 " %" PRIu64 " %s %" PRId64, t1, id, server_id, t1 - t0);
                acked++;
                if (last_ack && t1 - last_ack > max_gap)
                    max_gap = t1 - last_ack;
                last_ack = t1;
            } else {
                logline("E %" PRId64 " %" PRIu64 " %u %s", now_us(), id, mysql_errno(m),
                        oneline(mysql_error(m), errbuf, sizeof errbuf));
                failed++;
                mysql_close(m);
                m = NULL;
            }
            id++;
        }
        /* A steady schedule; after a stall the writer goes on at once instead
         * of sending a burst of catch-up inserts. */
        next += period;
        if (next < mono_us())
            next = mono_us();
        sleep_until_mono(next);
    }
    if (m)
        mysql_close(m);
    stopping = 1;
    for (int i = 0; i < npolls; i++)
        pthread_join(threads[i], NULL);
    logline("# end end_us=%" PRId64 " sent=%" PRIu64 " acked=%" PRIu64 " failed=%" PRIu64
            " max_gap_us=%" PRId64,
            now_us(), sent, acked, failed, max_gap);
    fclose(log_file);
    mysql_library_end();
    return 0;
}
