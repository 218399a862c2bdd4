/* mysqld_fixture.c - throwaway MariaDB servers for loop tests (see the header). */
#include "mysqld_fixture.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHARED_ENV "FAILOVERD_TEST_MYSQLD"
#define START_TIMEOUT_MS 30000
#define STOP_TIMEOUT_MS 10000
#define POLL_MS 10

static mysqld_t shared;

/* Copies of the servers this process started and has not stopped, so that a
 * test that failed half-way can still stop them (mysqld_stop_all). A forked
 * child inherits the table; owner_pid keeps it from stopping its parent's. */
#define MAX_OWNED 8
static mysqld_t owned[MAX_OWNED];
static pid_t owner_pid[MAX_OWNED];

static mysqld_t *owned_find(const char *dir)
{
    for (int i = 0; i < MAX_OWNED; i++)
        if (owned[i].dir[0] && strcmp(owned[i].dir, dir) == 0)
            return &owned[i];
    return NULL;
}

double mysqld_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A port nobody listens on right now; the server may still lose a race for it,
 * which mysqld_start() handles by trying another. */
static unsigned free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    unsigned port = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* fork + exec with output to a log file; the child dies with its parent. */
static pid_t spawn(char *const argv[], const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "mysqld fixture: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Wait up to ms for pid to exit; its exit status in *status. */
static bool reap(pid_t pid, int ms, int *status)
{
    double until = mysqld_now_ms() + ms;
    do {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        pause_ms(POLL_MS);
    } while (mysqld_now_ms() < until);
    return false;
}

static void show_log(const char *path)
{
    char line[512];
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fprintf(stderr, "--- %s\n", path);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fclose(f);
}

static bool file_contains(const char *path, const char *needle)
{
    char line[512];
    bool found = false;
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static MYSQL *root_connect(const mysqld_t *m, unsigned timeout_s)
{
    MYSQL *my = mysql_init(NULL);
    if (!my)
        return NULL;
    mysql_options(my, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
    if (!mysql_real_connect(my, NULL, "root", NULL, NULL, 0, m->sock, CLIENT_MULTI_STATEMENTS)) {
        mysql_close(my);
        return NULL;
    }
    return my;
}

bool mysqld_sql(const mysqld_t *m, const char *sql)
{
    MYSQL *my = root_connect(m, 5);
    bool ok;
    int more;
    if (!my) {
        fprintf(stderr, "mysqld fixture: cannot connect to %s\n", m->sock);
        return false;
    }
    ok = mysql_query(my, sql) == 0;
    if (ok) {
        do {
            MYSQL_RES *r = mysql_store_result(my);
            mysql_free_result(r);
            more = mysql_next_result(my);
        } while (more == 0);
        ok = more < 0;
    }
    if (!ok)
        fprintf(stderr, "mysqld fixture: %s: %s\n", sql, mysql_error(my));
    mysql_close(my);
    return ok;
}

static bool install(const mysqld_t *m)
{
    char datadir[200], log[200];
    int status;
    pid_t pid;

    snprintf(datadir, sizeof(datadir), "--datadir=%s/data", m->dir);
    snprintf(log, sizeof(log), "%s/install.log", m->dir);
    char *argv[] = {"mariadb-install-db",
                    "--no-defaults",
                    datadir,
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--innodb-log-file-size=4M",
                    "--innodb-buffer-pool-size=16M",
                    NULL};
    pid = spawn(argv, log);
    if (pid < 0)
        return false;
    if (!reap(pid, START_TIMEOUT_MS, &status)) {
        kill(pid, SIGKILL);
        reap(pid, STOP_TIMEOUT_MS, &status);
        fprintf(stderr, "mysqld fixture: mariadb-install-db did not finish\n");
        return false;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "mysqld fixture: mariadb-install-db failed\n");
        show_log(log);
        return false;
    }
    return true;
}

/* Start the server on m->port; false if it exited or did not answer. */
static bool launch(mysqld_t *m, bool *port_taken)
{
    char datadir[200], sock[200], port[32], errlog[200], pidfile[200], out[200], tmpdir[200];
    double until = mysqld_now_ms() + START_TIMEOUT_MS;
    int status;

    snprintf(datadir, sizeof(datadir), "--datadir=%s/data", m->dir);
    snprintf(sock, sizeof(sock), "--socket=%s", m->sock);
    snprintf(port, sizeof(port), "--port=%u", m->port);
    snprintf(errlog, sizeof(errlog), "--log-error=%s/error.log", m->dir);
    snprintf(pidfile, sizeof(pidfile), "--pid-file=%s/mariadbd.pid", m->dir);
    snprintf(tmpdir, sizeof(tmpdir), "--tmpdir=%s", m->dir);
    snprintf(out, sizeof(out), "%s/stdout.log", m->dir);
    char *argv[] = {"mariadbd",
                    "--no-defaults",
                    "--user=root",
                    datadir,
                    sock,
                    port,
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    errlog,
                    pidfile,
                    tmpdir,
                    "--innodb-log-file-size=4M",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-use-native-aio=0",
                    "--performance-schema=OFF",
                    "--skip-log-bin",
                    "--max-connections=100",
                    NULL};

    *port_taken = false;
    m->pid = spawn(argv, out);
    if (m->pid < 0) {
        m->pid = 0;
        return false;
    }
    while (mysqld_now_ms() < until) {
        MYSQL *my;
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
            char path[200];
            m->pid = 0;
            snprintf(path, sizeof(path), "%s/error.log", m->dir);
            *port_taken = file_contains(path, "Address already in use");
            if (!*port_taken)
                show_log(path);
            return false;
        }
        if (access(m->sock, F_OK) == 0 && (my = root_connect(m, 1)) != NULL) {
            mysql_close(my);
            return true;
        }
        pause_ms(POLL_MS);
    }
    fprintf(stderr, "mysqld fixture: server in %s did not answer within %d ms\n", m->dir,
            START_TIMEOUT_MS);
    mysqld_kill(m);
    return false;
}

bool mysqld_start(mysqld_t *m)
{
    bool taken = true;
    memset(m, 0, sizeof(*m));
    snprintf(m->dir, sizeof(m->dir), "/tmp/fod-mysqld-XXXXXX");
    if (!mkdtemp(m->dir)) {
        fprintf(stderr, "mysqld fixture: mkdtemp: %s\n", strerror(errno));
        return false;
    }
    snprintf(m->sock, sizeof(m->sock), "%s/sock", m->dir);
    if (!install(m))
        goto fail;
    for (int attempt = 0; attempt < 5 && taken; attempt++) {
        m->port = free_port();
        if (launch(m, &taken))
            break;
    }
    if (!m->pid)
        goto fail;
    for (int i = 0; i < MAX_OWNED; i++)
        if (!owned[i].dir[0]) {
            owned[i] = *m;
            owner_pid[i] = getpid();
            break;
        }
    if (!mysqld_sql(m, "CREATE USER '" MYSQLD_USER "'@'%' IDENTIFIED BY '" MYSQLD_PASSWORD "';"
                       "GRANT ALL ON *.* TO '" MYSQLD_USER "'@'%' WITH GRANT OPTION;"
                       "CREATE DATABASE " MYSQLD_DB))
        goto fail;
    return true;
fail:
    mysqld_stop(m);
    return false;
}

/* True when every thread of pid is stopped ('T' in /proc/PID/task/TID/stat). */
static bool all_stopped(pid_t pid)
{
    char path[64], line[256];
    struct dirent *e;
    bool stopped = true;
    int seen = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if (!(d = opendir(path)))
        return false;
    while (stopped && (e = readdir(d))) {
        FILE *f;
        char *p;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%.20s/stat", (int)pid, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        /* "tid (comm) S ...": the state follows the last ')'. */
        if (fgets(line, sizeof(line), f) && (p = strrchr(line, ')')) && p[1] == ' ')
            stopped = p[2] == 'T' || p[2] == 't';
        fclose(f);
        seen++;
    }
    closedir(d);
    return stopped && seen > 0;
}

/* kill() returns before the threads have stopped; a test that relies on the
 * server not answering must wait until they have. */
bool mysqld_pause(const mysqld_t *m)
{
    double until = mysqld_now_ms() + STOP_TIMEOUT_MS;
    if (m->pid <= 0 || kill(m->pid, SIGSTOP) != 0)
        return false;
    while (!all_stopped(m->pid)) {
        if (mysqld_now_ms() > until) {
            fprintf(stderr, "mysqld fixture: pid %d did not stop\n", (int)m->pid);
            return false;
        }
        pause_ms(1);
    }
    return true;
}

bool mysqld_resume(const mysqld_t *m)
{
    return m->pid > 0 && kill(m->pid, SIGCONT) == 0;
}

void mysqld_kill(mysqld_t *m)
{
    mysqld_t *o = owned_find(m->dir);
    int status;
    if (o)
        o->pid = 0; /* reaped below: its pid may be reused */
    if (m->pid <= 0)
        return;
    kill(m->pid, SIGKILL);
    if (!reap(m->pid, STOP_TIMEOUT_MS, &status))
        fprintf(stderr, "mysqld fixture: pid %d survived SIGKILL\n", (int)m->pid);
    m->pid = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void mysqld_stop(mysqld_t *m)
{
    mysqld_t *o = owned_find(m->dir);
    int status;
    if (o)
        memset(o, 0, sizeof(*o));
    if (m->pid > 0) {
        kill(m->pid, SIGCONT);
        kill(m->pid, SIGTERM);
        if (!reap(m->pid, STOP_TIMEOUT_MS, &status))
            mysqld_kill(m);
        m->pid = 0;
    }
    if (m->dir[0] && strncmp(m->dir, "/tmp/fod-mysqld-", 16) == 0)
        nftw(m->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    m->dir[0] = '\0';
}

void mysqld_stop_all(void)
{
    for (int i = 0; i < MAX_OWNED; i++)
        if (owned[i].dir[0] && owner_pid[i] == getpid()) {
            mysqld_t m = owned[i];
            mysqld_stop(&m);
        }
}

bool mysqld_shared_start(void)
{
    char env[400];
    if (!mysqld_start(&shared))
        return false;
    snprintf(env, sizeof(env), "%d %u %s %s", (int)shared.pid, shared.port, shared.dir,
             shared.sock);
    setenv(SHARED_ENV, env, 1);
    return true;
}

bool mysqld_shared(mysqld_t *m)
{
    const char *env = getenv(SHARED_ENV);
    int pid;
    memset(m, 0, sizeof(*m));
    if (!env || sscanf(env, "%d %u %127s %159s", &pid, &m->port, m->dir, m->sock) != 4)
        return false;
    m->pid = pid;
    return true;
}

void mysqld_shared_stop(void)
{
    mysqld_stop(&shared);
    unsetenv(SHARED_ENV);
}
