/* mapguard.c - the SIGBUS guard of mapguard.h: a per-thread jump target,
 * one process-wide handler that jumps to it or restores the default. */
#include "base/mapguard.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static _Thread_local struct rc_map_guard *g_guard;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct sigaction g_old;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct rc_map_guard *g = g_guard;
	if (g) {
		g_guard = NULL;
		siglongjmp(g->env, 1);
	}
	/* not ours: the action there was before, or the default (the
	 * faulting access runs again and takes it) */
	sigaction(SIGBUS, &g_old, NULL);
	if (g_old.sa_flags & SA_SIGINFO && g_old.sa_sigaction)
		g_old.sa_sigaction(sig, si, uc);
	else if (g_old.sa_handler != SIG_DFL && g_old.sa_handler != SIG_IGN)
		g_old.sa_handler(sig);
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &g_old);
}

void rc_map_arm(struct rc_map_guard *g)
{
	pthread_once(&g_once, install);
	g_guard = g;
}

void rc_map_end(struct rc_map_guard *g)
{
	(void)g;
	g_guard = NULL;
}
