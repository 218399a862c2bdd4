/* cfgsyntax.h - reading a configuration file with libconfig without keeping
 * what libconfig leaks on a syntax error.
 *
 * libconfig 1.5 does not free the string token it stopped at when a file has
 * a syntax error (its parser declares no destructors): every rejected reload
 * of such a file would leave a little memory behind in a daemon that runs
 * for months. So the file is first read by libconfig in a child process,
 * which exits and takes the leak with it; only a file without a syntax error
 * is read in the daemon's own process.
 */
#ifndef FAILOVERD_CFGSYNTAX_H
#define FAILOVERD_CFGSYNTAX_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* As config_read_file(lc, path) (lc's include directory is used in the
 * child too), except that a file with a syntax error is not given to lc:
 * false then with *file (the file of the error: path or an included one),
 * *line and text filled. When the child can't be run (fork fails, or it does
 * not answer within seconds), the file is read here as before. */
bool cfgsyntax_read(config_t *lc, const char *path, char *file, size_t file_len, int *line,
                    char *text, size_t text_len);

/* ---- a reload's check, without waiting ----------------------------------
 *
 * A reload must not hold the loop while a child reads the file. So a reload
 * first has the whole file loaded and checked (fo_config_load(), its syntax
 * by libconfig included) in a child process that the loop does not wait for:
 * the child's answer comes through a pipe, the check is bounded by
 * CFGSYNTAX_TIMEOUT_MS, and the reload goes on from the callback. Only a
 * file the child found without an error is then read by the daemon itself
 * (cfgsyntax_vouch()); a file with errors never is, and the errors the
 * reload reports are the child's, the same text the daemon's own load would
 * give.
 *
 * Test knob: FAILOVERD_TEST_CHECK_DELAY_MS in the daemon's environment (a
 * number of ms) makes the child wait that long before it reads the file, so
 * that a test can see the daemon go on while a check is slow. */

#define CFGSYNTAX_TIMEOUT_MS 10000

typedef struct cfgsyntax_check cfgsyntax_check_t;

typedef enum {
    CFGSYNTAX_OK,        /* the file loads without an error */
    CFGSYNTAX_ERRORS,    /* it does not: errors holds why */
    CFGSYNTAX_NO_ANSWER, /* the child could not be run, or gave no answer in time */
} cfgsyntax_outcome_t;

/* errors: for CFGSYNTAX_ERRORS, the errors as fo_config_errors_format() writes
 * them ("file:line: message" lines); NULL otherwise. Valid during the call. */
typedef void (*cfgsyntax_cb)(cfgsyntax_outcome_t outcome, const char *errors, void *arg);

/* Loads and checks path in a child process. cb runs once, from the loop,
 * never from within this call; after it the check is gone. */
cfgsyntax_check_t *cfgsyntax_check_start(uv_loop_t *loop, const char *path, cfgsyntax_cb cb,
                                         void *arg);

/* Gives up on a check whose callback has not run: the child is killed and
 * cb never runs. The check's handles close, and the child is reaped, on the
 * loop. */
void cfgsyntax_check_cancel(cfgsyntax_check_t *ck);

/* The next cfgsyntax_read() of path reads it in this process, without a
 * child: a check has just found it free of errors (or could not tell, when
 * this process reads it as it did without a child). Should the file change
 * in between and hold a syntax error, libconfig's small leak happens once. */
void cfgsyntax_vouch(const char *path);

#endif
