/* cli.h - what every rclip program does the same way: --version, usage
 * errors (exit 2), checked numeric option values, -q/-v, and the exit codes.
 *
 *     case 'j':
 *             if (rc_cli_int("-j", optarg, 0, 4096, &v) < 0)
 *                     return RC_EXIT_USAGE;
 *             ...
 *     default:
 *             return rc_cli_usage_error(NULL);   // "Try 'prog --help'."
 */
#ifndef RCLIP_CLI_H
#define RCLIP_CLI_H

#include <stdio.h>

#include "base/log.h"

enum { RC_EXIT_OK = 0, RC_EXIT_FAILURE = 1, RC_EXIT_USAGE = 2 };

/* rc_cli_version - print "PROG (rclip) VERSION" and the build's features
 * to f. */
void rc_cli_version(FILE *f);

/* rc_cli_usage_error - print the message (if fmt is not NULL) and the line
 * "Try 'PROG --help' for more information." on stderr; returns
 * RC_EXIT_USAGE. */
int rc_cli_usage_error(const char *fmt, ...) RC_PRINTF(1, 2);

/* rc_cli_int - parse arg as a decimal integer within [min, max] for the
 * option named opt. Returns 0 with *out, or -1 after a usage message. */
int rc_cli_int(const char *opt, const char *arg, long min, long max, long *out);

/* rc_cli_double - the same for a finite number within [min, max]. */
int rc_cli_double(const char *opt, const char *arg, double min, double max, double *out);

/* rc_cli_verbosity - adjust the log level: -q lowers it, -v raises it. */
void rc_cli_quiet(void);
void rc_cli_verbose(void);

/* rc_cli_join - argv[0..argc) as one string, the arguments separated by
 * sep; with a non-empty sep an argument a shell would split or expand is
 * single-quoted, so the line can be run again (the command line a shard or
 * a checkpoint records). Returns a malloc'd string, or NULL (logged) when
 * out of memory. */
char *rc_cli_join(int argc, char **argv, const char *sep);

/* rc_cli_catch - handle signal sig with handler, without SA_RESTART: a
 * read blocked on a stalled pipe returns at once (EINTR), so the program
 * sees the signal and stops with its own message. */
void rc_cli_catch(int sig, void (*handler)(int));

#endif
