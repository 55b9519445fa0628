/* progress.c - the stderr progress bar of progress.h: a pure formatter and
 * a thread-safe counter that redraws the bar when enough time has passed.
 * Each redraw is one write(2) of "\r<text>\033[K" so that it never tears.
 */
#include "base/progress.h"

#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double rc_seconds(void)
{
	return (double)now_ns() * 1e-9;
}

/* snprintf's result as a size_t, or 0 when it failed. */
static size_t fmt_len(int r)
{
	return r < 0 ? 0 : (size_t)r;
}

size_t rc_progress_format_count(char *buf, size_t n, double v)
{
	static const char units[] = "kMGTPE";

	if (!(v >= 0.0))
		return fmt_len(snprintf(buf, n, "--"));
	if (v < 999.5) {
		if (v == (double)(uint64_t)v)
			return fmt_len(snprintf(buf, n, "%.0f", v));
		if (v < 9.995)
			return fmt_len(snprintf(buf, n, "%.2f", v));
		if (v < 99.95)
			return fmt_len(snprintf(buf, n, "%.1f", v));
		return fmt_len(snprintf(buf, n, "%.0f", v));
	}
	/* Pick the unit after which the rounded mantissa stays below 1000,
	 * so that 999999 reads "1.00M" and not "1000k". */
	size_t u = 0;
	v /= 1000.0;
	while (v >= 999.5 && u + 1 < sizeof units - 1) {
		v /= 1000.0;
		u++;
	}
	if (v < 9.995)
		return fmt_len(snprintf(buf, n, "%.2f%c", v, units[u]));
	if (v < 99.95)
		return fmt_len(snprintf(buf, n, "%.1f%c", v, units[u]));
	return fmt_len(snprintf(buf, n, "%.0f%c", v, units[u]));
}

size_t rc_progress_format_duration(char *buf, size_t n, double seconds)
{
	if (!(seconds >= 0.0) || seconds >= 99999.0 * 3600.0)
		return fmt_len(snprintf(buf, n, "-:--:--"));
	uint64_t s = (uint64_t)seconds;
	return fmt_len(snprintf(buf, n, "%llu:%02u:%02u",
				(unsigned long long)(s / 3600),
				(unsigned)(s / 60 % 60), (unsigned)(s % 60)));
}

size_t rc_progress_format(char *buf, size_t n, const char *label,
			  uint64_t done, uint64_t total, double elapsed_s)
{
	char cdone[16], ctotal[16], crate[16], ctime[24];
	char bar[RC_PROGRESS_BAR_WIDTH + 1];
	const char *sep = label && *label ? " " : "";
	double rate = elapsed_s > 0.0 ? (double)done / elapsed_s : -1.0;

	if (!label)
		label = "";
	rc_progress_format_count(cdone, sizeof cdone, (double)done);
	rc_progress_format_count(crate, sizeof crate, rate);

	if (total == 0) {
		rc_progress_format_duration(ctime, sizeof ctime, elapsed_s);
		return fmt_len(snprintf(buf, n, "%s%s%s %s/s %s", label, sep,
					cdone, crate, ctime));
	}

	uint64_t shown = done < total ? done : total;
	/* In long double so that counts near 2^64 do not overflow. */
	unsigned pct = (unsigned)((long double)shown * 100 / total);
	size_t fill = (size_t)((long double)shown * RC_PROGRESS_BAR_WIDTH / total);
	memset(bar, '#', fill);
	memset(bar + fill, ' ', RC_PROGRESS_BAR_WIDTH - fill);
	bar[RC_PROGRESS_BAR_WIDTH] = '\0';

	double eta = -1.0;
	if (done >= total)
		eta = 0.0;
	else if (rate > 0.0)
		eta = (double)(total - done) / rate;
	rc_progress_format_count(ctotal, sizeof ctotal, (double)total);
	rc_progress_format_duration(ctime, sizeof ctime, eta);
	return fmt_len(snprintf(buf, n, "%s%s[%s] %3u%% %s/%s %s/s eta %s",
				label, sep, bar, pct, cdone, ctotal, crate,
				ctime));
}

/* Columns of the terminal on stderr, 80 when it cannot be asked. */
static size_t term_columns(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void draw(struct rc_progress *p, uint64_t t)
{
	char line[256];
	size_t cols = term_columns();
	uint64_t done = atomic_load(&p->done);
	uint64_t total = atomic_load(&p->total);

	line[0] = '\r';
	size_t len = rc_progress_format(line + 1, sizeof line - 5, p->label,
					done, total, (double)t / 1e9);
	if (len > sizeof line - 6)
		len = sizeof line - 6;
	/* A line wider than the terminal wraps, and "\r" then redraws only
	 * its last row: cut it one short of the width. */
	if (cols > 1 && len > cols - 1)
		len = cols - 1;
	memcpy(line + 1 + len, "\033[K", 3);
	ssize_t w = write(STDERR_FILENO, line, len + 4);
	(void)w; /* nothing useful to do when stderr fails */
	atomic_store(&p->drawn, 1);
	rc_log_bar_drawn(1);
}

void rc_progress_begin(struct rc_progress *p, const char *label, uint64_t total)
{
	p->label = label;
	atomic_init(&p->total, total);
	atomic_init(&p->done, 0);
	atomic_init(&p->last_ns, 0);
	atomic_init(&p->drawn, 0);
	p->start_ns = now_ns();
	p->enabled = isatty(STDERR_FILENO) && rc_log_level() > RC_LOG_ERROR;
}

void rc_progress_set_total(struct rc_progress *p, uint64_t total)
{
	atomic_store(&p->total, total);
}

void rc_progress_update(struct rc_progress *p, uint64_t n)
{
	atomic_fetch_add_explicit(&p->done, n, memory_order_relaxed);
	if (!p->enabled)
		return;
	uint64_t t = now_ns() - p->start_ns;
	uint64_t last = atomic_load_explicit(&p->last_ns, memory_order_relaxed);
	if (t < last || t - last < (uint64_t)(RC_PROGRESS_INTERVAL * 1e9))
		return;
	/* The thread that moves last_ns draws; the others go back to work. */
	if (atomic_compare_exchange_strong(&p->last_ns, &last, t))
		draw(p, t);
}

uint64_t rc_progress_count(struct rc_progress *p)
{
	return atomic_load(&p->done);
}

void rc_progress_end(struct rc_progress *p)
{
	if (!p->enabled || !atomic_load(&p->drawn))
		return;
	draw(p, now_ns() - p->start_ns);
	ssize_t w = write(STDERR_FILENO, "\n", 1);
	(void)w;
	rc_log_bar_drawn(0);
	p->enabled = 0;
}
