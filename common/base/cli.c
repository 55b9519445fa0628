/* cli.c - the shared command-line conventions of the rclip programs. */
#include "base/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "base/io.h"

void rc_cli_version(FILE *f)
{
	fprintf(f, "%s (rclip) %s\n", rc_log_progname(), PACKAGE_VERSION);
	fprintf(f, "features:");
#ifdef _OPENMP
	fprintf(f, " openmp");
#endif
#ifdef HAVE_MPI
	fprintf(f, " mpi");
#endif
	/* "cuda" joins the list with the first CUDA kernels (cuda/); today
	 * HAVE_CUDA only says that configure found the toolkit. */
	fprintf(f, "\n");
}

int rc_cli_usage_error(const char *fmt, ...)
{
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		rc_log_vprint("", fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", rc_log_progname());
	return RC_EXIT_USAGE;
}

int rc_cli_int(const char *opt, const char *arg, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		rc_cli_usage_error("invalid value for %s: '%s' (expected an integer from %ld to %ld)",
			opt, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int rc_cli_double(const char *opt, const char *arg, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v >= min && v <= max)) {
		rc_cli_usage_error("invalid value for %s: '%s' (expected a number from %g to %g)",
			opt, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

void rc_cli_quiet(void) { rc_log_set_level(RC_LOG_ERROR); }

void rc_cli_verbose(void)
{
	if (rc_log_level() < RC_LOG_DEBUG)
		rc_log_set_level(rc_log_level() + 1);
}

char *rc_cli_join(int argc, char **argv, const char *sep)
{
	size_t n = 1;
	for (int i = 0; i < argc; i++)
		n += 2 * strlen(argv[i]) + 4 + strlen(sep);
	char *s = rc_malloc(n), *p = s;
	if (!s)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789-_./=:,+%@") == strlen(a);
		if (i)
			p += sprintf(p, "%s", sep);
		if (plain || !*sep) {
			p += sprintf(p, "%s", a);
			continue;
		}
		*p++ = '\'';
		for (; *a; a++) {
			if (*a == '\'')
				p += sprintf(p, "'\\''");
			else
				*p++ = *a;
		}
		*p++ = '\'';
	}
	*p = 0;
	return s;
}

void rc_cli_catch(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}
