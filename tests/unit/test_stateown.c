/* A journal left by a daemon run by hand as root: a root daemon gives it to
 * the service user (the state directory's owner); the service itself says
 * whose it is and how to repair it. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stateown.h"

#define SERVICE_UID 65534 /* nobody: stands for the failoverd user */

static char dir[256], file[300];

static void setup(void)
{
    if (geteuid() != 0)
        return;
    snprintf(dir, sizeof dir, "/tmp/failoverd-stateown-test-%d", (int)getpid());
    snprintf(file, sizeof file, "%s/journal.jsonl", dir);
    cr_assert_eq(mkdir(dir, 0750), 0);
    cr_assert_eq(chown(dir, SERVICE_UID, SERVICE_UID), 0);
    int fd = open(file, O_WRONLY | O_CREAT, 0600); /* root's, as root made it */
    cr_assert_geq(fd, 0);
    close(fd);
}

static void teardown(void)
{
    if (geteuid() != 0)
        return;
    unlink(file);
    rmdir(dir);
}

TestSuite(stateown, .init = setup, .fini = teardown);

Test(stateown, the_service_says_whose_the_file_is_and_the_command_that_repairs_it)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (setgid(SERVICE_UID) != 0 || setuid(SERVICE_UID) != 0)
            _exit(2);
        char why[1024] = "";
        bool ok = stateown_check(dir, file, why, sizeof why);
        if (write(p[1], why, strlen(why)) < 0)
            _exit(3);
        _exit(ok ? 1 : 0);
    }
    close(p[1]);
    char why[1024] = "";
    ssize_t n = read(p[0], why, sizeof why - 1);
    close(p[0]);
    why[n > 0 ? n : 0] = '\0';
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the check passed: %s", why);
    struct passwd *pw = getpwuid(SERVICE_UID);
    cr_assert_not_null(pw);
    char want[512];
    cr_expect_not_null(strstr(why, "belongs to root:root"), "%s", why);
    snprintf(want, sizeof want, "chown -R %s:", pw->pw_name);
    cr_expect_not_null(strstr(why, want), "%s", why);
    cr_expect_not_null(strstr(why, dir), "%s", why);
    cr_expect_not_null(strstr(why, file), "%s", why);
}

Test(stateown, a_daemon_run_as_root_gives_the_file_to_the_service_user)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    char why[512] = "";
    cr_assert(stateown_check(dir, file, why, sizeof why), "%s", why);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0);
    cr_expect_eq(st.st_uid, SERVICE_UID);
    cr_expect_eq(st.st_gid, SERVICE_UID);
}

Test(stateown, a_root_state_directory_is_left_alone)
{
    if (geteuid() != 0)
        cr_skip_test("needs root");
    cr_assert_eq(chown(dir, 0, 0), 0);
    stateown_adopt(dir, file);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0);
    cr_expect_eq(st.st_uid, 0);
}
