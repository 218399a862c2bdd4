/* Whole configuration files.  Every input is loaded as a file; one that loads
 * is printed (as --check-config does), and the printed text must load again
 * and print the same: the printer and the loader agree on every setting. */
#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fuzz.h"

static char dir[64];

/* The scratch directory goes when the fuzzer exits. */
static void cleanup(void)
{
    char path[96];
    snprintf(path, sizeof path, "%s/f.conf", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/again.conf", dir);
    unlink(path);
    rmdir(dir);
}

static void write_file(const char *path, const char *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot write %s", path);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "short write");
    close(fd);
}

/* Nothing secret in what --check-config prints: a URL's user information is
 * masked, and so is every value whose key names a secret, in any case. */
static void check_masked(const char *text)
{
    for (const char *p = text; (p = strstr(p, "://")); p += 3) {
        size_t hl = strcspn(p + 3, "/?#\"\n");
        const char *at = memchr(p + 3, '@', hl);
        FUZZ_CHECK(!at || (at - (p + 3) == 8 && strncmp(p + 3, "********", 8) == 0),
                   "a URL's credentials are printed: %.80s", p);
    }
    static const char *const words[] = {"password", "secret", "token", NULL};
    for (const char *p = text; (p = strstr(p, " = ")); p += 3) {
        const char *k = p;
        while (k > text && (isalnum((unsigned char)k[-1]) || k[-1] == '_' || k[-1] == '-'))
            k--;
        size_t kl = (size_t)(p - k);
        if (kl >= 5 && strncasecmp(p - 5, "_file", 5) == 0)
            continue; /* password_file: a path, shown */
        bool secret = false;
        for (size_t w = 0; words[w] && !secret; w++)
            for (size_t i = 0; i + strlen(words[w]) <= kl && !secret; i++)
                secret = strncasecmp(k + i, words[w], strlen(words[w])) == 0;
        if (secret)
            FUZZ_CHECK(strncmp(p + 3, "\"********\"", 10) == 0, "a secret is printed: %.80s", k);
    }
}

static char *print_of(const fo_config_t *cfg)
{
    buf_t b = BUF_INIT;
    fo_config_print(cfg, &b);
    /* Without the first line, which names the file. */
    char *all = buf_steal(&b);
    char *rest = strchr(all, '\n');
    char *out = strdup(rest ? rest + 1 : "");
    free(all);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_config.XXXXXX");
        FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
        atexit(cleanup);
    }
    char path[96], again[96];
    snprintf(path, sizeof path, "%s/f.conf", dir);
    snprintf(again, sizeof again, "%s/again.conf", dir);
    write_file(path, (const char *)data, size);
    fo_config_errors_t errs = FO_CONFIG_ERRORS_INIT;
    fo_config_t *cfg = fo_config_load(path, &errs);
    buf_t eb = BUF_INIT;
    fo_config_errors_format(&errs, &eb);
    FUZZ_CHECK((cfg == NULL) == (errs.n > 0), "a tree exactly when there is no error");
    buf_free(&eb);
    fo_config_errors_free(&errs);
    if (cfg) {
        char *first = print_of(cfg);
        check_masked(first);
        write_file(again, first, strlen(first));
        fo_config_t *cfg2 = fo_config_load(again, &errs);
        buf_t e2 = BUF_INIT;
        fo_config_errors_format(&errs, &e2);
        FUZZ_CHECK(cfg2, "the printed configuration does not load:\n%s\n%s", buf_str(&e2), first);
        char *second = print_of(cfg2);
        FUZZ_CHECK(strcmp(first, second) == 0, "printed twice differently:\n%s\n---\n%s", first,
                   second);
        free(second);
        buf_free(&e2);
        fo_config_errors_free(&errs);
        fo_config_free(cfg2);
        free(first);
        fo_config_free(cfg);
    }
    return 0;
}
