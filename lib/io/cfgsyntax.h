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

/* As config_read_file(lc, path) (lc's include directory is used in the
 * child too), except that a file with a syntax error is not given to lc:
 * false then with *file (the file of the error: path or an included one),
 * *line and text filled. When the child can't be run (fork fails, or it does
 * not answer within seconds), the file is read here as before. */
bool cfgsyntax_read(config_t *lc, const char *path, char *file, size_t file_len, int *line,
                    char *text, size_t text_len);

#endif
