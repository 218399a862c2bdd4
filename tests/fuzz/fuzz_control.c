/* The control protocol end to end: a real control socket on a libuv loop,
 * with handlers that read arguments the way the daemon's do.  Each input is
 * what one client sends before it shuts down its write side; the harness
 * reads every reply, and each reply line must be one JSON object with "ok". */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "buf.h"
#include "control.h"
#include "fuzz.h"

static uv_loop_t loop;
static control_t *ctl;
static char path[108];
static control_req_t *held; /* a request answered later, as long operations are */

static void h_echo(control_req_t *req, void *ud)
{
    static const char *const names[] = {"cluster", "node", "force", "timeout", "ratio", "policy",
                                        NULL};
    static const char *const policies[] = {"reliability", "availability", NULL};
    const char *cluster = NULL, *node = NULL, *policy = NULL;
    bool force = false;
    long long timeout = 0;
    double ratio = 0;
    if (!control_args_only(req, names) || !control_arg_string(req, "cluster", false, &cluster) ||
        !control_arg_string(req, "node", false, &node) ||
        !control_arg_bool(req, "force", false, &force) ||
        !control_arg_int(req, "timeout", false, 0, 3600000, &timeout) ||
        !control_arg_number(req, "ratio", false, 0, 1, &ratio) ||
        !control_arg_enum(req, "policy", false, policies, &policy))
        return; /* answered */
    control_reply_ok(req, json_pack("{s:s?, s:s?, s:b}", "cluster", cluster, "node", node,
                                    "force", force));
}

static void h_later(control_req_t *req, void *ud)
{
    if (held) /* the previous one: answered now, its client may be gone */
        control_reply_error(held, "busy", "replaced");
    held = req;
}

static void h_fail(control_req_t *req, void *ud)
{
    control_reply_error(req, "bad_argument", "%s", control_req_cmd(req));
}

static void cleanup(void)
{
    unlink(path);
}

static void setup(void)
{
    uv_loop_init(&loop);
    snprintf(path, sizeof path, "/tmp/fuzz_control.%d.sock", (int)getpid());
    unlink(path);
    control_opts_t o;
    control_opts_init(&o);
    o.path = path;
    o.max_request = 4096;
    o.max_output = 65536;
    o.idle_timeout_ms = 2000;
    ctl = control_create(&loop, &o);
    control_register(ctl, "echo", h_echo, NULL);
    control_register(ctl, "later", h_later, NULL);
    control_register(ctl, "fail", h_fail, NULL);
    char err[256];
    FUZZ_CHECK(control_listen(ctl, err, sizeof err), "%s", err);
    atexit(cleanup);
}

static void check_replies(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        FUZZ_CHECK(nl, "a reply without its newline");
        json_error_t e;
        json_t *j = json_loadb(p, (size_t)(nl - p), 0, &e);
        FUZZ_CHECK(json_is_object(j), "a reply is not a JSON object: %.*s", (int)(nl - p), p);
        FUZZ_CHECK(json_is_boolean(json_object_get(j, "ok")), "a reply without \"ok\"");
        json_decref(j);
        p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    if (!ctl)
        setup();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s", strerror(errno));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    size_t sent = 0;
    bool shut = false, eof = false;
    buf_t in = BUF_INIT;
    /* Bounded: the daemon answers everything or closes; 20000 turns is far more. */
    for (int turn = 0; turn < 20000 && !eof; turn++) {
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN)
                sent = size; /* the daemon closed on us (too large, too many) */
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        char chunk[4096];
        ssize_t n;
        while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
            buf_append(&in, chunk, (size_t)n);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            eof = true;
        if (shut && !eof && held) {
            control_reply_ok(held, json_pack("{s:s}", "done", "later"));
            held = NULL;
        }
        if (!eof && shut && turn > 200) {
            struct pollfd pf = {.fd = fd, .events = POLLIN};
            poll(&pf, 1, 1);
        }
    }
    FUZZ_CHECK(eof, "the daemon neither answered nor closed");
    close(fd);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_run(&loop, UV_RUN_NOWAIT);
    check_replies(buf_str(&in), in.len);
    buf_free(&in);
    return 0;
}
