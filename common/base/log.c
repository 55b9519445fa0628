/* log.c - stderr diagnostics with levels (see log.h). Each message is
 * formatted into one buffer and written with one call so that lines from
 * threads do not interleave. */
#include "base/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_progname = "rclip";
static int log_level = RC_LOG_WARN;
static _Atomic int bar_drawn;

void rc_log_init(const char *progname)
{
	if (progname) {
		const char *slash = strrchr(progname, '/');
		log_progname = slash ? slash + 1 : progname;
	}
}

const char *rc_log_progname(void) { return log_progname; }
void rc_log_set_level(int level) { log_level = level; }
int rc_log_level(void) { return log_level; }

void rc_log_bar_drawn(int on) { bar_drawn = on; }

void rc_log_vprint(const char *prefix, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = snprintf(buf, sizeof buf, "%s%s: %s", bar_drawn ? "\r\033[K" : "", log_progname,
		prefix ? prefix : "");
	if (n < 0)
		return;
	if ((size_t)n < sizeof buf) {
		int m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n >= sizeof buf - 1)
		n = (int)sizeof buf - 2; /* truncated: keep the newline */
	buf[n++] = '\n';
	/* One write(2) per line; a short write to stderr is not recoverable. */
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
	(void)w;
}

#define LOG_AT(level, prefix)                      \
	do {                                       \
		if (log_level < (level))           \
			return;                    \
		va_list ap;                        \
		va_start(ap, fmt);                 \
		rc_log_vprint((prefix), fmt, ap);  \
		va_end(ap);                        \
	} while (0)

void rc_log_warn(const char *fmt, ...) { LOG_AT(RC_LOG_WARN, "warning: "); }
void rc_log_info(const char *fmt, ...) { LOG_AT(RC_LOG_INFO, ""); }
void rc_log_debug(const char *fmt, ...) { LOG_AT(RC_LOG_DEBUG, "debug: "); }
void rc_log_hint(const char *fmt, ...) { LOG_AT(RC_LOG_ERROR, "hint: "); }

int rc_log_error(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rc_log_vprint("", fmt, ap);
	va_end(ap);
	return code;
}

void rc_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rc_log_vprint("", fmt, ap);
	va_end(ap);
	exit(1);
}

void rc_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "%s: %s:%d: assertion failed: %s\n", log_progname, file, line, expr);
	abort();
}
