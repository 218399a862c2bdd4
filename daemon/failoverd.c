/* failoverd - the failover manager daemon. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "defaults.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: failoverd [-c FILE] [--check-config [FILE]] [--version]\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            printf("failoverd %s\n", FAILOVERD_VERSION);
            return FO_EXIT_OK;
        case 'h':
            usage(stdout);
            return FO_EXIT_OK;
        case 'c':
            break;
        default:
            usage(stderr);
            return FO_EXIT_USAGE;
        }
    }
    fprintf(stderr, "failoverd: the daemon loop is not built yet\n");
    return FO_EXIT_SOFTWARE;
}
