/* failoverd - the failover manager daemon. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "metrics.h"
#include "names.h"
#include "config.h"
#include "daemon.h"
#include "defaults.h"
#include "filesafe.h"
#include "wiring.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: failoverd [-c FILE]                 run with the configuration FILE\n"
            "                                           (default %s)\n"
            "       failoverd --check-config [FILE]     validate FILE and print the effective\n"
            "                                           configuration, passwords masked\n"
            "       failoverd --print-config-doc        the settings reference (Markdown)\n"
            "       failoverd --print-events-doc        the tables of docs/events.md (Markdown)\n"
            "       failoverd --print-metrics-doc       the metrics reference (Markdown)\n"
            "       failoverd --version | --help\n"
            "exit status: 0 ok, %d invalid configuration, %d bad command line\n",
            FO_DEFAULT_CONFIG_FILE, FO_EXIT_CONFIG, FO_EXIT_USAGE);
}

/* Load path; on failure print every error (one per line, "file:line: setting:
 * message") to stderr and return NULL. */
static fo_config_t *load_config(const char *path)
{
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load(path, &errs);
    if (!cfg) {
        buf_t b = BUF_INIT;
        fo_config_errors_format(&errs, &b);
        size_t n = errs.n + errs.more;
        fprintf(stderr, "%sfailoverd: %s: %zu error%s, configuration rejected\n", buf_str(&b), path,
                n, n == 1 ? "" : "s");
        buf_free(&b);
    }
    fo_config_errors_free(&errs);
    buf_t unsafe = BUF_INIT;
    if (cfg && !filesafe_check_config(cfg, geteuid(), getegid(), &unsafe)) {
        fprintf(stderr, "%sfailoverd: %s: files others could change or read, configuration "
                        "rejected\n", buf_str(&unsafe), path);
        fo_config_free(cfg);
        cfg = NULL;
    }
    buf_free(&unsafe);
    return cfg;
}

static void hooks_closed(void *ud) { (void)ud; }

/* Loads every cluster's plugins and checks its hook commands, as the daemon
 * would at start, and unloads them again. false (errors printed) when one fails. */
static bool check_plugins(const fo_config_t *cfg)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return false;
    bool ok = true;
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        char err[1024];
        hooks_t *h = wiring_cluster_hooks(&loop, &cfg->clusters[i], err, sizeof err);
        if (!h) {
            fprintf(stderr, "%s\n", err);
            ok = false;
            continue;
        }
        hooks_close(h, hooks_closed, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return ok;
}

static int check_config(const char *path)
{
    fo_config_t *cfg = load_config(path);
    if (!cfg)
        return FO_EXIT_CONFIG;
    if (!check_plugins(cfg)) {
        fprintf(stderr, "failoverd: %s: configuration rejected\n", path);
        fo_config_free(cfg);
        return FO_EXIT_CONFIG;
    }
    buf_t b = BUF_INIT;
    fo_config_print(cfg, &b);
    fputs(buf_str(&b), stdout);
    buf_free(&b);
    fo_config_free(cfg);
    fprintf(stderr, "failoverd: %s: configuration is valid\n", path);
    return FO_EXIT_OK;
}

int main(int argc, char **argv)
{
    enum { OPT_CHECK_CONFIG = 256, OPT_PRINT_CONFIG_DOC, OPT_PRINT_METRICS_DOC,
           OPT_PRINT_EVENTS_DOC };
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", optional_argument, NULL, OPT_CHECK_CONFIG},
        {"print-config-doc", no_argument, NULL, OPT_PRINT_CONFIG_DOC},
        {"print-metrics-doc", no_argument, NULL, OPT_PRINT_METRICS_DOC},
        {"print-events-doc", no_argument, NULL, OPT_PRINT_EVENTS_DOC},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_file = NULL;
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'V': printf("failoverd %s\n", FAILOVERD_VERSION); return FO_EXIT_OK;
        case 'h': usage(stdout); return FO_EXIT_OK;
        case 'c': config_file = optarg; break;
        case OPT_CHECK_CONFIG:
            check = true;
            /* getopt binds an optional argument only as --check-config=FILE; also
             * take the next word when it is no option: --check-config FILE. */
            if (optarg)
                config_file = optarg;
            else if (optind < argc && argv[optind][0] != '-')
                config_file = argv[optind++];
            break;
        case OPT_PRINT_METRICS_DOC: {
            buf_t b = BUF_INIT;
            metrics_doc(&b);
            fputs(buf_str(&b), stdout);
            buf_free(&b);
            return FO_EXIT_OK;
        }
        case OPT_PRINT_CONFIG_DOC: {
            buf_t b = BUF_INIT;
            fo_config_doc(&b);
            fputs(buf_str(&b), stdout);
            buf_free(&b);
            return FO_EXIT_OK;
        }
        case OPT_PRINT_EVENTS_DOC: {
            buf_t b = BUF_INIT;
            fo_events_doc(&b);
            fputs(buf_str(&b), stdout);
            buf_free(&b);
            return FO_EXIT_OK;
        }
        default: usage(stderr); return FO_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "failoverd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return FO_EXIT_USAGE;
    }
    if (!config_file)
        config_file = FO_DEFAULT_CONFIG_FILE;
    if (check)
        return check_config(config_file);

    fo_config_t *cfg = load_config(config_file);
    if (!cfg)
        return FO_EXIT_CONFIG;
    return daemon_run(cfg);
}
