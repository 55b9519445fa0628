/* log.h - diagnostics on stderr, the only way librclip prints.
 *
 * Messages follow the house form "rclip-tool: what: why" (lowercase, error
 * first, no full stop). The program name is set once by the tool. Levels:
 * quiet (errors only), normal (warnings too), verbose (info), debug.
 *
 *     rc_log_init("rclip-tokenize");
 *     rc_log_set_level(RC_LOG_INFO);          // -v
 *     rc_log_warn("%s:%zu: invalid UTF-8 replaced", path, line);
 *     return rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
 *
 * rc_die() is for tools only (it exits); library code returns codes.
 */
#ifndef RCLIP_LOG_H
#define RCLIP_LOG_H

#include <stdarg.h>

enum rc_log_level {
	RC_LOG_ERROR = 0, /* -q: errors only */
	RC_LOG_WARN = 1,  /* default */
	RC_LOG_INFO = 2,  /* -v */
	RC_LOG_DEBUG = 3, /* -vv */
};

#if defined(__GNUC__)
#define RC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RC_NORETURN __attribute__((noreturn))
#else
#define RC_PRINTF(a, b)
#define RC_NORETURN
#endif

/* rc_log_init - set the program name that prefixes every message (the
 * string is not copied and must outlive logging). */
void rc_log_init(const char *progname);
const char *rc_log_progname(void);
void rc_log_set_level(int level);
int rc_log_level(void);

/* Each prints "progname: message\n" when the level allows it. Warnings and
 * info are serialised between threads. */
void rc_log_warn(const char *fmt, ...) RC_PRINTF(1, 2);
void rc_log_info(const char *fmt, ...) RC_PRINTF(1, 2);
void rc_log_debug(const char *fmt, ...) RC_PRINTF(1, 2);
/* rc_log_hint - "hint: ..." on its own line, after an error whose fix is
 * known. Printed at every level. */
void rc_log_hint(const char *fmt, ...) RC_PRINTF(1, 2);

/* rc_log_error - print the message (always) and return code, so that a
 * function can end with `return rc_log_error(RC_E_IO, ...)`. */
int rc_log_error(int code, const char *fmt, ...) RC_PRINTF(2, 3);

/* rc_log_vprint - the primitive: prefix, message, newline, one write. */
void rc_log_vprint(const char *prefix, const char *fmt, va_list ap);

/* rc_log_bar_drawn - progress.c says whether its bar holds the current
 * stderr line; while it does, each message first erases that line (the
 * bar is drawn again below the message at its next update). */
void rc_log_bar_drawn(int on);

/* rc_die - for tools only: print the message and exit(1). */
void rc_die(const char *fmt, ...) RC_PRINTF(1, 2) RC_NORETURN;

/* rc_assert - a broken invariant: print file:line and abort. Always on. */
#define rc_assert(cond) \
	((cond) ? (void)0 : rc_assert_fail(#cond, __FILE__, __LINE__))
void rc_assert_fail(const char *expr, const char *file, int line) RC_NORETURN;

#endif
