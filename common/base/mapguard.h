/* mapguard.h - reading a mapped file that may shrink under the reader.
 * A file truncated while mapped raises SIGBUS on the first access past
 * its new end, which would kill the process without a word. Code that
 * reads a mapping does so between RC_MAP_TRY and rc_map_end: a SIGBUS in
 * between (in this thread) returns to RC_MAP_TRY, which then yields
 * nonzero, and the caller reports "FILE: truncated while reading". A
 * SIGBUS anywhere else keeps its default action.
 *
 *     struct rc_map_guard g;
 *     if (RC_MAP_TRY(&g))
 *             return rc_log_error(RC_E_TRUNCATED, "%s: truncated while reading", path);
 *     rc = parse(map, size);     // may touch every byte of the mapping
 *     rc_map_end(&g);
 *
 * Variables that the guarded code changes and the caller reads after a
 * fault must be volatile (sigsetjmp's rule). Guards do not nest. */
#ifndef RCLIP_MAPGUARD_H
#define RCLIP_MAPGUARD_H

#include <setjmp.h>

struct rc_map_guard {
	sigjmp_buf env;
};

/* rc_map_arm - install the SIGBUS handler (once per process) and make g
 * this thread's guard. Use through RC_MAP_TRY. */
void rc_map_arm(struct rc_map_guard *g);

/* rc_map_end - this thread has no guard any more. */
void rc_map_end(struct rc_map_guard *g);

/* RC_MAP_TRY - 0 when armed; nonzero after a SIGBUS under the guard (the
 * guard is then already ended). */
#define RC_MAP_TRY(g) (rc_map_arm(g), sigsetjmp((g)->env, 1) ? (rc_map_end(g), 1) : 0)

#endif
