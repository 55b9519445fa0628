/* pathmap.c - image path prefixes rewritten by OLD=NEW rules (pathmap.h):
 * parsing a rule, and the longest whole-component prefix that matches. */
#include "data/pathmap.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/error.h"
#include "base/io.h"

void rc_path_map_init(struct rc_path_map *m)
{
	memset(m, 0, sizeof *m);
}

static int fail(char *why, size_t n, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return RC_E_ARG;
}

/* The length of s without trailing '/', but "/" stays itself. */
static size_t trim(const char *s, size_t len)
{
	while (len > 1 && s[len - 1] == '/')
		len--;
	return len;
}

int rc_path_map_add(struct rc_path_map *m, const char *spec, char *why, size_t n)
{
	const char *eq = strchr(spec, '=');
	if (!eq)
		return fail(why, n, "expected OLD=NEW");
	size_t lf = trim(spec, (size_t)(eq - spec)), lt = trim(eq + 1, strlen(eq + 1));
	if (lf == 0)
		return fail(why, n, "empty OLD prefix (expected OLD=NEW)");
	if (lt == 0)
		return fail(why, n, "empty NEW prefix (expected OLD=NEW)");
	for (size_t i = 0; i < m->n; i++)
		if (m->r[i].from_len == lf && !memcmp(m->r[i].from, spec, lf))
			return fail(why, n, "prefix '%.*s' mapped twice", (int)lf, spec);
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 4;
		struct rc_path_rule *r = rc_reallocarray(m->r, cap, sizeof *r);
		if (!r)
			return RC_E_NOMEM;
		m->r = r, m->cap = cap;
	}
	struct rc_path_rule *r = &m->r[m->n];
	r->from = rc_malloc(lf + 1);
	r->to = rc_malloc(lt + 1);
	if (!r->from || !r->to) {
		free(r->from), free(r->to);
		return RC_E_NOMEM;
	}
	memcpy(r->from, spec, lf), r->from[lf] = '\0';
	memcpy(r->to, eq + 1, lt), r->to[lt] = '\0';
	r->from_len = lf;
	m->n++;
	return 0;
}

int rc_path_map_option(struct rc_path_map *m, const char *arg)
{
	char why[128];
	int rc = rc_path_map_add(m, arg, why, sizeof why);
	if (rc == RC_E_NOMEM)
		return RC_EXIT_FAILURE;
	if (rc < 0)
		return rc_cli_usage_error("--path-map: '%s': %s", arg, why);
	return -1;
}

/* Whether rule r covers path: OLD itself, or OLD then a '/'. */
static int covers(const struct rc_path_rule *r, const char *path)
{
	if (strncmp(path, r->from, r->from_len))
		return 0;
	char next = path[r->from_len];
	return next == '\0' || next == '/' || r->from[r->from_len - 1] == '/';
}

const char *rc_path_map_apply(const struct rc_path_map *m, struct rc_arena *a,
	const char *path)
{
	const struct rc_path_rule *best = NULL;
	for (size_t i = 0; m && i < m->n; i++)
		if (covers(&m->r[i], path) && (!best || m->r[i].from_len > best->from_len))
			best = &m->r[i];
	if (!best)
		return path;
	const char *rest = path + best->from_len;
	while (*rest == '/')
		rest++;
	size_t lt = strlen(best->to), lr = strlen(rest);
	int sep = lr && best->to[lt - 1] != '/';
	char *p = rc_arena_alloc(a, lt + (size_t)sep + lr + 1);
	if (!p)
		return NULL;
	memcpy(p, best->to, lt);
	if (sep)
		p[lt] = '/';
	memcpy(p + lt + sep, rest, lr + 1);
	return p;
}

char *rc_path_map_string(const struct rc_path_map *m)
{
	size_t len = 1;
	for (size_t i = 0; i < m->n; i++)
		len += strlen(m->r[i].from) + strlen(m->r[i].to) + 2;
	char *s = rc_malloc(len), *p = s;
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < m->n; i++)
		p += sprintf(p, "%s%s=%s", i ? ";" : "", m->r[i].from, m->r[i].to);
	return s;
}

void rc_path_map_free(struct rc_path_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->r[i].from), free(m->r[i].to);
	free(m->r);
	rc_path_map_init(m);
}
