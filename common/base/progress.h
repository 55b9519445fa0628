/* progress.h - a progress bar on stderr for long-running loops.
 *
 * The bar shows the count (and the total when it is known), the rate per
 * second and the time left, and is redrawn at most about ten times a
 * second. It is drawn only when stderr is a terminal and the log level is
 * not quiet (-q), so it never ends up in a log file or a pipe. Updates are
 * atomic: OpenMP workers may call rc_progress_update() concurrently.
 *
 *     struct rc_progress p;
 *     rc_progress_begin(&p, "tokenize", nlines);   // 0 = total unknown
 *     #pragma omp parallel for
 *     for (size_t i = 0; i < nlines; i++) {
 *             work(i);
 *             rc_progress_update(&p, 1);
 *     }
 *     rc_progress_end(&p);
 *
 * The text of the bar comes from rc_progress_format(), a pure function, so
 * that tests can check it without a terminal:
 *
 *     tokenize [#########           ]  45% 4.50k/10.0k 1.23k/s eta 0:00:04
 *     tokenize 4.50k 1.23k/s 0:00:03                       (total unknown)
 */
#ifndef RCLIP_PROGRESS_H
#define RCLIP_PROGRESS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Width in characters of the "[###   ]" part, without the brackets. */
#define RC_PROGRESS_BAR_WIDTH 20
/* Seconds between two redraws. */
#define RC_PROGRESS_INTERVAL 0.1

struct rc_progress {
	const char *label;          /* not copied; may be NULL */
	_Atomic uint64_t total;     /* 0 when unknown */
	_Atomic uint64_t done;      /* units completed so far */
	_Atomic uint64_t last_ns;   /* time of the last redraw, from start */
	uint64_t start_ns;          /* monotonic clock at rc_progress_begin */
	int enabled;                /* stderr is a terminal and not quiet */
	_Atomic int drawn;          /* a bar is on screen: end needs a newline */
};

/* rc_progress_begin - start counting from zero towards total (0 = unknown).
 * Decides once whether the bar is drawn (stderr is a tty and the log level
 * is above RC_LOG_ERROR). label is not copied and must outlive the bar.
 * Nothing is allocated; there is no error. */
void rc_progress_begin(struct rc_progress *p, const char *label, uint64_t total);

/* rc_progress_set_total - change the total once it becomes known
 * (thread-safe). */
void rc_progress_set_total(struct rc_progress *p, uint64_t total);

/* rc_progress_update - add n completed units. Thread-safe; redraws the bar
 * when at least RC_PROGRESS_INTERVAL seconds passed since the last draw
 * (one thread draws, the others return at once). */
void rc_progress_update(struct rc_progress *p, uint64_t n);

/* rc_progress_count - the number of units completed so far. */
uint64_t rc_progress_count(struct rc_progress *p);

/* rc_progress_end - if a bar was drawn, draw the final state and end the
 * line (work shorter than one interval leaves no trace). Call it once,
 * after every worker has finished. */
void rc_progress_end(struct rc_progress *p);

/* rc_progress_format - write the bar text for `done` of `total` units (0 =
 * unknown total) after `elapsed_s` seconds into buf (n bytes, always NUL
 * terminated when n > 0). label may be NULL. Returns the length the full
 * text has, like snprintf; a result >= n means it was truncated. */
size_t rc_progress_format(char *buf, size_t n, const char *label,
			  uint64_t done, uint64_t total, double elapsed_s);

/* rc_progress_format_count - a count or rate in human units, three
 * significant digits from 1000 up: "999", "1.23k", "12.3k", "123k",
 * "1.00M", then G, T, P, E. Whole numbers below 1000 print as integers,
 * fractions as "2.50", "12.5". Returns the length, like snprintf. */
size_t rc_progress_format_count(char *buf, size_t n, double v);

/* rc_progress_format_duration - seconds as h:mm:ss ("0:00:07",
 * "12:34:56", "123:00:00"), fractions dropped; "-:--:--" for a negative,
 * infinite or NaN value or one beyond 99999 hours. Returns the length,
 * like snprintf. */
size_t rc_progress_format_duration(char *buf, size_t n, double seconds);

/* rc_seconds - a monotonic clock in seconds, for timing work. */
double rc_seconds(void);

#endif
