/* pathmap.h - image path prefixes rewritten (--path-map OLD=NEW): a
 * manifest written on one cluster names its images under that cluster's
 * mount points, and the map points them at this machine's copy without
 * rewriting the manifest.
 *
 * A rule OLD=NEW applies to a path that is OLD or starts with OLD
 * followed by '/': OLD is replaced by NEW, the rest is kept. Prefixes are
 * matched by whole path components, as gdb's substitute-path does
 * ("/data" does not match "/database/x.jpg"); a trailing '/' on OLD or NEW
 * is ignored. When several rules match, the longest OLD wins. The map is
 * applied to the path as the record writes it, before a relative result
 * is joined to the image root; the record's key stays as written.
 *
 *     struct rc_path_map m;
 *     char why[128];
 *     rc_path_map_init(&m);
 *     if (rc_path_map_add(&m, "/gpfs/a/data=/scratch/data", why, sizeof why) < 0)
 *             usage_error(why);                 // RC_E_ARG: malformed
 *     const char *p = rc_path_map_apply(&m, &arena, "/gpfs/a/data/x/1.jpg");
 *     // "/scratch/data/x/1.jpg" (in the arena; NULL: out of memory)
 *     rc_path_map_free(&m);
 */
#ifndef RCLIP_PATHMAP_H
#define RCLIP_PATHMAP_H

#include <stddef.h>

#include "base/arena.h"

struct rc_path_rule {
	char *from, *to;      /* OLD and NEW, without a trailing '/' */
	size_t from_len;
};

struct rc_path_map {
	struct rc_path_rule *r;
	size_t n, cap;
};

/* rc_path_map_init - an empty map (allocates nothing; applying it gives
 * every path back unchanged). */
void rc_path_map_init(struct rc_path_map *m);

/* rc_path_map_add - add the rule spec, "OLD=NEW" (split at the first
 * '='). Returns 0, RC_E_ARG with a reason in why (not logged) for no '=',
 * an empty OLD or NEW, or an OLD given twice, or RC_E_NOMEM (logged). */
int rc_path_map_add(struct rc_path_map *m, const char *spec, char *why, size_t n);

/* rc_path_map_option - rc_path_map_add for a --path-map argument of a
 * program: returns -1 when added, else the exit status after saying why
 * (RC_EXIT_USAGE: "--path-map: 'ARG': reason" as rc_cli_usage_error
 * prints it; RC_EXIT_FAILURE: out of memory, logged). */
int rc_path_map_option(struct rc_path_map *m, const char *arg);

/* rc_path_map_apply - path rewritten by the longest matching rule, in a;
 * path itself (not copied) when no rule matches. NULL only when out of
 * memory (logged). */
const char *rc_path_map_apply(const struct rc_path_map *m, struct rc_arena *a,
	const char *path);

/* rc_path_map_string - the rules as "OLD=NEW;OLD=NEW" (in the order given)
 * for a record of the options; malloc'd, "" for none; NULL when out of
 * memory. */
char *rc_path_map_string(const struct rc_path_map *m);

/* rc_path_map_free - free the rules; the map is empty again. NULL-safe. */
void rc_path_map_free(struct rc_path_map *m);

#endif
