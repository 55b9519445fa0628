/* fault.c - the crash points of fault.h: nothing at all unless compiled
 * with RC_FAULT_INJECTION, which only the programs of tests/fault/ are. */
#include "base/fault.h"

#ifdef RC_FAULT_INJECTION
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long g_count, g_at = -1;
static int g_trace, g_init;
static const char *g_count_file;

static void report(void)
{
	FILE *f = fopen(g_count_file, "a");
	if (f) {
		fprintf(f, "%ld\n", g_count);
		fclose(f);
	}
}

void rc_fault_point(const char *what)
{
	if (!g_init) {
		const char *s = getenv("RCLIP_FAULT_AT");
		g_at = s && *s ? strtol(s, NULL, 10) : -1;
		g_trace = getenv("RCLIP_FAULT_TRACE") != NULL;
		if ((g_count_file = getenv("RCLIP_FAULT_COUNT")) && *g_count_file)
			atexit(report);
		g_init = 1;
	}
	long n = __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
	if (g_trace)
		fprintf(stderr, "fault %ld: %s\n", n, what);
	if (n == g_at)
		raise(SIGKILL);
}
#else
void rc_fault_point(const char *what)
{
	(void)what;
}
#endif
