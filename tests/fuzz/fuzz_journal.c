/* The journal reader: any file content (torn lines, bad JSON, records out of
 * order, huge numbers) is read without crashing, and what the journal then
 * says of a cluster (open operation, records, damage) can be asked. */
#include <fcntl.h>
#include <unistd.h>

#include "fuzz.h"
#include "journal.h"

static char dir[64];

/* The scratch directory goes when the fuzzer exits. */
static void cleanup(void)
{
    char path[96];
    snprintf(path, sizeof path, "%s/journal", dir);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/fuzz_journal.XXXXXX");
        FUZZ_CHECK(mkdtemp(dir), "mkdtemp");
        atexit(cleanup);
    }
    char path[96];
    snprintf(path, sizeof path, "%s/journal", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0, "cannot write %s", path);
    FUZZ_CHECK(write(fd, data, size) == (ssize_t)size, "short write");
    close(fd);
    char err[256];
    journal_t *j = journal_open(path, err, sizeof err);
    if (!j)
        return 0;
    static const char *const clusters[] = {"main", "", "other", "a\"b"};
    for (size_t i = 0; i < sizeof clusters / sizeof clusters[0]; i++) {
        char why[256];
        (void)journal_damage(j, clusters[i], why, sizeof why);
        json_decref(journal_open_op(j, clusters[i]));
        json_decref(journal_records(j, clusters[i]));
    }
    (void)journal_broken(j);
    free(journal_new_op_id(j));
    journal_close(j);
    return 0;
}
