/* test_filesafe.c - which plugins, hook programs and configuration files
 * failoverd trusts (lib/io/filesafe.c; docs/security.md, "Files"). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filesafe.h"

Test(filesafe, who_may_own_and_write_a_program_or_its_directories)
{
    static const struct {
        const char *rule;
        filesafe_stat_t st;
        uid_t self;
        bool want;
        const char *why;
    } rows[] = {
        {"root's file, 0755", {0, 0, S_IFREG | 0755}, 110, true, ""},
        {"the daemon's own file", {110, 110, S_IFREG | 0700}, 110, true, ""},
        {"another user's file", {1000, 1000, S_IFREG | 0755}, 110, false,
         "is owned by uid 1000, not by root or the daemon's user"},
        {"another user's file, daemon as root", {1000, 0, S_IFREG | 0755}, 0, false,
         "is owned by uid 1000, not by root"},
        {"group-writable", {0, 50, S_IFREG | 0775}, 110, false,
         "is writable by its group (mode 0775)"},
        {"world-writable", {0, 0, S_IFREG | 0757}, 110, false, "is writable by others (mode 0757)"},
        {"both", {0, 0, S_IFREG | 0777}, 110, false, "is writable by group and others (mode 0777)"},
        {"a group-writable directory", {0, 50, S_IFDIR | 0775}, 110, false,
         "is writable by its group (mode 0775)"},
        {"a sticky world-writable directory of root (/tmp)", {0, 0, S_IFDIR | 01777}, 110, true,
         ""},
        {"a sticky directory of another user", {1000, 0, S_IFDIR | 01777}, 110, false,
         "is owned by uid 1000"},
        {"the sticky bit does not help a file", {0, 0, S_IFREG | 01777}, 110, false,
         "is writable by group and others"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        buf_t why = BUF_INIT;
        cr_expect_eq(filesafe_trusted(&rows[i].st, rows[i].self, &why), rows[i].want, "%s",
                     rows[i].rule);
        cr_expect(strstr(buf_str(&why), rows[i].why), "%s: %s", rows[i].rule, buf_str(&why));
        buf_free(&why);
    }
}

Test(filesafe, who_may_read_a_configuration_with_passwords)
{
    static const struct {
        const char *rule;
        filesafe_stat_t st;
        bool want;
    } rows[] = {
        {"0600", {0, 0, S_IFREG | 0600}, true},
        {"0640 in the daemon's group", {0, 110, S_IFREG | 0640}, true},
        {"0640 in another group", {0, 50, S_IFREG | 0640}, false},
        {"0644 (a plain cp)", {0, 110, S_IFREG | 0644}, false},
        {"0604", {0, 0, S_IFREG | 0604}, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        buf_t why = BUF_INIT;
        cr_expect_eq(filesafe_secret_readers_ok(&rows[i].st, 110, &why), rows[i].want, "%s: %s",
                     rows[i].rule, buf_str(&why));
        buf_free(&why);
    }
}

Test(filesafe, a_relative_plugin_path_stays_in_the_plugin_directory)
{
    cr_expect(filesafe_relative_ok("vip.so"));
    cr_expect(filesafe_relative_ok("site/vip.so"));
    cr_expect(filesafe_relative_ok("..vip.so"));
    cr_expect(filesafe_relative_ok("/opt/failoverd/vip.so"), "absolute paths are the operator's");
    cr_expect_not(filesafe_relative_ok("../vip.so"));
    cr_expect_not(filesafe_relative_ok("site/../../tmp/x.so"));
    cr_expect_not(filesafe_relative_ok("site//..//x.so"));
    cr_expect_not(filesafe_relative_ok(".."));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The walk: a file in a group-writable directory is refused, by name. */
Test(filesafe, the_directories_above_a_program_count)
{
    char dir[] = "/tmp/test_filesafe.XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[128], prog[160];
    snprintf(sub, sizeof sub, "%s/hooks", dir);
    snprintf(prog, sizeof prog, "%s/hooks/run", dir);
    cr_assert_eq(mkdir(sub, 0755), 0);
    int fd = open(prog, O_WRONLY | O_CREAT, 0755);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(chmod(prog, 0755), 0);
    buf_t why = BUF_INIT;
    cr_expect(filesafe_check_path(prog, geteuid(), &why), "%s", buf_str(&why));
    cr_assert_eq(chmod(sub, 0775), 0);
    buf_reset(&why);
    cr_expect_not(filesafe_check_path(prog, geteuid(), &why));
    cr_expect(strstr(buf_str(&why), "directory ") && strstr(buf_str(&why), "/hooks is writable by "
                                                                          "its group"),
              "%s", buf_str(&why));
    cr_expect(strstr(buf_str(&why), "chmod go-w"), "the fix is named: %s", buf_str(&why));
    cr_assert_eq(chmod(sub, 0755), 0);
    cr_assert_eq(chmod(prog, 0777), 0);
    buf_reset(&why);
    cr_expect_not(filesafe_check_path(prog, geteuid(), &why));
    cr_expect(strstr(buf_str(&why), "/hooks/run is writable by group and others"), "%s",
              buf_str(&why));
    buf_free(&why);
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
