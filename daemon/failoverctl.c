/* failoverctl - the operator's command line for failoverd.
 *
 * Each command becomes one request on the daemon's control socket
 * (docs/protocol.md); the reply is rendered for people, or printed as JSON with
 * --json. Exit codes are those of defaults.h, listed in usage() and in the
 * protocol document.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "ctlclient.h"
#include "ctlrender.h"
#include "defaults.h"

#define DEFAULT_WAIT_MS 10000
#define LONG_WAIT_MS 120000        /* failover, and switchover without --timeout */
#define RELOAD_WAIT_MS 15000 /* over the daemon's 10 s bound on the configuration check */
/* Over the switchover's own --timeout, which bounds only what comes before
 * the promotion: the hooks, repointing and verifying that follow have their
 * own bounds (hook timeout, step_timeout, verify_timeout). */
#define SWITCHOVER_MARGIN_MS 60000

enum { O_TO = 1, O_POLICY = 2, O_DRY_RUN = 4, O_TIMEOUT = 8, O_FORCE = 16, O_LIMIT = 32,
       O_SWITCH = 64 };
enum { NO_CLUSTER, CLUSTER_OPTIONAL, CLUSTER_REQUIRED };

typedef struct {
    const char *name;
    int cluster;
    unsigned opts;
    int wait_ms;
} command_t;

static const command_t commands[] = {
    {"status", CLUSTER_OPTIONAL, 0, DEFAULT_WAIT_MS},
    {"plan", CLUSTER_REQUIRED, O_TO | O_POLICY | O_SWITCH, DEFAULT_WAIT_MS},
    {"switchover", CLUSTER_REQUIRED, O_TO | O_POLICY | O_DRY_RUN | O_TIMEOUT, LONG_WAIT_MS},
    {"failover", CLUSTER_REQUIRED, O_TO | O_FORCE | O_POLICY | O_DRY_RUN, LONG_WAIT_MS},
    {"pause", CLUSTER_REQUIRED, 0, DEFAULT_WAIT_MS},
    {"resume", CLUSTER_REQUIRED, 0, DEFAULT_WAIT_MS},
    {"ack", CLUSTER_REQUIRED, 0, DEFAULT_WAIT_MS},
    {"history", CLUSTER_OPTIONAL, O_LIMIT, DEFAULT_WAIT_MS},
    {"reload", NO_CLUSTER, 0, RELOAD_WAIT_MS},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: failoverctl [-s SOCKET] [--json] [--timeout S] COMMAND [ARGS]\n"
                 "\n"
                 "commands:\n"
                 "  status [CLUSTER]          clusters, verdicts and nodes\n"
                 "  plan CLUSTER [--switchover] [--to NODE] [--policy P]\n"
                 "                            what a failover (or switchover) would do now\n"
                 "  switchover CLUSTER [--to NODE] [--policy reliability|availability]\n"
                 "                    [--dry-run] [--timeout S]\n"
                 "                            move the primary on purpose\n"
                 "  failover CLUSTER [--to NODE] [--force] [--policy P] [--dry-run]\n"
                 "                            promote a replica now\n"
                 "  pause CLUSTER             no automatic failover until resumed\n"
                 "  resume CLUSTER            automatic failover again\n"
                 "  ack CLUSTER               acknowledge the last failover (lifts its block)\n"
                 "  history [CLUSTER] [--limit N]\n"
                 "                            past failovers and switchovers\n"
                 "  reload                    re-read the configuration file; fails (exit 1)\n"
                 "                            with the reasons when the file is rejected\n"
                 "\n"
                 "options:\n"
                 "  -s, --socket PATH  control socket (default $FAILOVERD_SOCKET, else\n"
                 "                     " FO_DEFAULT_CONTROL_SOCKET ")\n"
                 "  --json             print the daemon's result as JSON\n"
                 "  --timeout S        seconds to wait for the reply (default 10; reload 15;\n"
                 "                     failover and switchover 120, or a switchover's --timeout\n"
                 "                     + 60)\n"
                 "  -h, --help         this text;  -V, --version  the version\n"
                 "\n"
                 "exit codes: 0 done; 1 the request ran but failed (a switchover rolled back,\n"
                 "nothing to acknowledge ...); 2 a failover or switchover done but its\n"
                 "post_promotion hook failed (traffic not moved); 64 bad command line; 65\n"
                 "rejected by the daemon (bad argument, unknown cluster, not allowed ...); 69\n"
                 "failoverd unreachable; 70 internal error; 75 busy or no reply in time:\n"
                 "try again.\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("failoverctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(failoverctl --help lists the commands and options)\n", stderr);
    return FO_EXIT_USAGE;
}

static bool parse_seconds(const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* A reload that was taken, and what of it waits for a restart. */
static void render_reload(buf_t *out, const json_t *result)
{
    const char *file = json_string_value(json_object_get(result, "file"));
    buf_printf(out, "configuration reloaded from %s\n", file ? file : "?");
    const json_t *restart = json_object_get(result, "restart_needed");
    size_t i;
    const json_t *v;
    if (json_array_size(restart) > 0) {
        buf_puts(out, "not applied until failoverd restarts:");
        json_array_foreach(restart, i, v) buf_printf(out, " %s", json_string_value(v));
        buf_puts(out, "\n");
    }
    json_array_foreach(json_object_get(result, "deferred"), i, v)
        buf_printf(out, "deferred: %s\n", json_string_value(v));
}

/* "CLUSTER: text", wrapped to the terminal's 80 columns like every other line
 * (a long cluster name or message would run past them). */
static void render_cluster_line(buf_t *out, const char *cluster, const char *text)
{
    buf_t prefix = BUF_INIT;
    buf_printf(&prefix, "%s: ", cluster);
    ctlrender_message(out, buf_str(&prefix), text);
    buf_free(&prefix);
}

/* The human rendering of a command's result (or of the operation a failed
 * switchover or failover reports). */
static void render(buf_t *out, const command_t *cmd, const json_t *args, const json_t *result)
{
    const char *name = cmd->name;
    bool dry = json_is_true(json_object_get(args, "dry_run"));
    const char *cluster = json_string_value(json_object_get(result, "cluster"));
    if (strcmp(name, "status") == 0 && json_is_object(result))
        ctlrender_status(out, result);
    else if (strcmp(name, "plan") == 0 || dry)
        ctlrender_plan(out, result);
    else if (strcmp(name, "switchover") == 0 || strcmp(name, "failover") == 0)
        ctlrender_operation(out, result);
    else if (strcmp(name, "history") == 0)
        ctlrender_history(out, result);
    else if ((strcmp(name, "pause") == 0 || strcmp(name, "resume") == 0) && cluster)
        render_cluster_line(out, cluster,
                            json_is_true(json_object_get(result, "paused"))
                                ? "automatic failover paused"
                                : "automatic failover resumed");
    else if (strcmp(name, "ack") == 0 && json_string_value(json_object_get(result, "message")))
        render_cluster_line(out, cluster ? cluster : "?",
                            json_string_value(json_object_get(result, "message")));
    else if (strcmp(name, "reload") == 0 && json_is_object(result))
        render_reload(out, result);
    else
        ctlrender_generic(out, result);
}

/* Print the reply; returns the exit code. */
static int show(const command_t *cmd, const json_t *args, const json_t *reply, bool as_json)
{
    int code = ctlclient_exit_code(CTLCLIENT_OK, reply);
    const json_t *result = json_object_get(reply, "result");
    if (code != FO_EXIT_OK && json_is_true(json_object_get(reply, "ok"))) {
        /* A failover or switchover that ran and failed: why on stderr, then
         * its record like any result. */
        const char *msg = json_string_value(json_object_get(result, "error"));
        fprintf(stderr, "failoverctl: %s: %s\n", cmd->name, msg ? msg : "the operation failed");
    } else if (code != FO_EXIT_OK) {
        const json_t *e = json_object_get(reply, "error");
        const char *ecode = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        const json_t *op = json_object_get(e, "operation");
        if (as_json) {
            char *s = json_dumps(reply, JSON_INDENT(2));
            if (s)
                puts(s);
            free(s);
        } else if (json_is_object(op)) {
            /* What a failed operation did, before why it failed (which
             * follows on stderr, so not twice). */
            json_t *what = json_deep_copy(op);
            json_object_del(what, "message");
            buf_t out = BUF_INIT;
            render(&out, cmd, args, what);
            json_decref(what);
            fputs(buf_str(&out), stdout);
            buf_free(&out);
            fflush(stdout);
        }
        buf_t prefix = BUF_INIT, text = BUF_INIT;
        buf_printf(&prefix, "failoverctl: %s: ", cmd->name);
        ctlrender_message(&text, buf_str(&prefix), msg ? msg : "the request failed");
        if (ecode)
            buf_printf(&text, "failoverctl: (error code %s)\n", ecode);
        fputs(buf_str(&text), stderr);
        buf_free(&prefix);
        buf_free(&text);
        return code;
    }
    if (as_json) {
        char *s = json_dumps(result ? result : json_null(), JSON_INDENT(2) | JSON_ENCODE_ANY);
        if (s)
            puts(s);
        free(s);
        return code;
    }
    buf_t out = BUF_INIT;
    render(&out, cmd, args, result);
    fputs(buf_str(&out), stdout);
    buf_free(&out);
    return code;
}

enum { OPT_JSON = 1000, OPT_TIMEOUT, OPT_TO, OPT_POLICY, OPT_DRY_RUN, OPT_FORCE, OPT_LIMIT,
       OPT_SWITCH };

static const struct option global_opts[] = {
    {"socket", required_argument, NULL, 's'},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static const struct option cmd_opts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"to", required_argument, NULL, OPT_TO},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"force", no_argument, NULL, OPT_FORCE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"switchover", no_argument, NULL, OPT_SWITCH},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What the command line asks for, gathered before the request is sent. */
typedef struct {
    const char *socket_path;
    bool as_json;
    double wait_s;     /* 0: the command's default */
    double op_timeout; /* a switchover's own --timeout, 0 when not given */
    json_t *args;
} invocation_t;

/* Continue parsing: the value the option handlers return when all went well. */
#define GO_ON (-1)

/* The global options before the command; GO_ON, or the exit code. */
static int parse_global(int argc, char **argv, invocation_t *inv)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+s:hV", global_opts, NULL)) != -1) {
        switch (c) {
        case 's': inv->socket_path = optarg; break;
        case OPT_JSON: inv->as_json = true; break;
        case OPT_TIMEOUT:
            if (!parse_seconds(optarg, &inv->wait_s))
                return usage_error("--timeout needs seconds (0 < S <= 86400), not '%s'", optarg);
            break;
        case 'h': usage(stdout); return FO_EXIT_OK;
        case 'V': printf("failoverctl %s\n", FAILOVERD_VERSION); return FO_EXIT_OK;
        default: return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    return GO_ON;
}

/* The O_* flag a command must carry to accept option C (0: every command). */
static unsigned option_flag(int c)
{
    return c == OPT_TO        ? O_TO
           : c == OPT_POLICY  ? O_POLICY
           : c == OPT_DRY_RUN ? O_DRY_RUN
           : c == OPT_FORCE   ? O_FORCE
           : c == OPT_LIMIT   ? O_LIMIT
           : c == OPT_SWITCH  ? O_SWITCH
                              : 0;
}

/* The options that carry a value into the request; GO_ON, or the exit code. */
static int take_valued_option(int c, const command_t *cmd, invocation_t *inv)
{
    switch (c) {
    case OPT_TIMEOUT:
        if (!parse_seconds(optarg, (cmd->opts & O_TIMEOUT) ? &inv->op_timeout : &inv->wait_s))
            return usage_error("--timeout needs seconds (0 < S <= 86400), not '%s'", optarg);
        if (cmd->opts & O_TIMEOUT)
            json_object_set_new(inv->args, "timeout_s", json_real(inv->op_timeout));
        return GO_ON;
    case OPT_TO: {
        json_t *to = json_string(optarg);
        if (!to)
            return usage_error("the node name '%s' is not valid UTF-8", optarg);
        json_object_set_new(inv->args, "to", to);
        return GO_ON;
    }
    case OPT_POLICY:
        if (strcmp(optarg, "reliability") != 0 && strcmp(optarg, "availability") != 0)
            return usage_error("--policy is reliability or availability, not '%s'", optarg);
        json_object_set_new(inv->args, "policy", json_string(optarg));
        return GO_ON;
    default: { /* OPT_LIMIT */
        char *end;
        long n = strtol(optarg, &end, 10);
        if (end == optarg || *end || n < 1 || n > 100000)
            return usage_error("--limit needs a positive count, not '%s'", optarg);
        json_object_set_new(inv->args, "limit", json_integer(n));
        return GO_ON;
    }
    }
}

/* One of the command's own options; GO_ON, or the exit code. */
static int take_option(int c, const command_t *cmd, invocation_t *inv, char **sub_argv)
{
    unsigned need = option_flag(c);
    if (need && !(cmd->opts & need)) {
        const char *name = "?";
        for (const struct option *o = cmd_opts; o->name; o++)
            if (o->val == c)
                name = o->name;
        return usage_error("%s takes no option '--%s'", cmd->name, name);
    }
    switch (c) {
    case OPT_JSON: inv->as_json = true; return GO_ON;
    case OPT_TIMEOUT:
    case OPT_TO:
    case OPT_POLICY:
    case OPT_LIMIT: return take_valued_option(c, cmd, inv);
    case OPT_DRY_RUN: json_object_set_new(inv->args, "dry_run", json_true()); return GO_ON;
    case OPT_FORCE: json_object_set_new(inv->args, "force", json_true()); return GO_ON;
    case OPT_SWITCH:
        json_object_set_new(inv->args, "kind", json_string("switchover"));
        return GO_ON;
    case 'h': usage(stdout); return FO_EXIT_OK;
    default: return usage_error("unknown or incomplete option '%s'", sub_argv[optind - 1]);
    }
}

/* The command's own options and operands; GNU getopt lets them mix.
 * GO_ON, or the exit code. */
static int parse_command(int sub_argc, char **sub_argv, const command_t *cmd, invocation_t *inv)
{
    int c, rc;
    optind = 0; /* restart getopt on the sub-vector */
    while ((c = getopt_long(sub_argc, sub_argv, "h", cmd_opts, NULL)) != -1)
        if ((rc = take_option(c, cmd, inv, sub_argv)) != GO_ON)
            return rc;
    int operands = sub_argc - optind;
    if (operands > (cmd->cluster == NO_CLUSTER ? 0 : 1))
        return usage_error("too many arguments for %s", cmd->name);
    if (operands == 0 && cmd->cluster == CLUSTER_REQUIRED)
        return usage_error("%s needs a CLUSTER", cmd->name);
    if (operands == 1) {
        json_t *name = json_string(sub_argv[optind]);
        if (!name)
            return usage_error("the cluster name '%s' is not valid UTF-8", sub_argv[optind]);
        json_object_set_new(inv->args, "cluster", name);
    }
    return GO_ON;
}

/* Send the request and show the reply; returns the exit code. */
static int call(const command_t *cmd, const invocation_t *inv)
{
    int wait_ms = cmd->wait_ms;
    if (inv->wait_s > 0)
        wait_ms = (int)(inv->wait_s * 1000);
    else if (inv->op_timeout > 0)
        wait_ms = (int)(inv->op_timeout * 1000) + SWITCHOVER_MARGIN_MS;

    char err[512];
    json_t *reply = NULL;
    ctlclient_status_t st =
        ctlclient_call(inv->socket_path, cmd->name, inv->args, wait_ms, &reply, err, sizeof err);
    if (st != CTLCLIENT_OK) {
        fprintf(stderr, "failoverctl: %s\n", err);
        return ctlclient_exit_code(st, NULL);
    }
    int rc = show(cmd, inv->args, reply, inv->as_json);
    json_decref(reply);
    return rc;
}

int main(int argc, char **argv)
{
    invocation_t inv = {.socket_path = getenv("FAILOVERD_SOCKET")};
    if (!inv.socket_path || !*inv.socket_path)
        inv.socket_path = FO_DEFAULT_CONTROL_SOCKET;

    int rc = parse_global(argc, argv, &inv);
    if (rc != GO_ON)
        return rc;
    if (optind >= argc) {
        usage(stderr);
        return FO_EXIT_USAGE;
    }
    const command_t *cmd = find_command(argv[optind]);
    if (!cmd)
        return usage_error("unknown command '%s'", argv[optind]);

    inv.args = json_object();
    rc = parse_command(argc - optind, argv + optind, cmd, &inv);
    if (rc == GO_ON)
        rc = call(cmd, &inv);
    json_decref(inv.args);
    return rc;
}
