/* manifest.c - manifests into records (manifest.h): schema and format
 * names, the checks on one caption, TSV lines, and the line reader that
 * detects a file's schema and goes on after bad lines. JSON records are
 * parsed in manifest_json.c, webdataset tars read in wds.c.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/utf8.h"

/* ---------------------------------------------------------------- names */

const char *rc_manifest_schema_name(int schema)
{
	static const char *const names[] = {
		"none", "descriptive", "reasonlite", "reasonpro", "sets",
	};
	return schema > 0 && schema <= RC_SCHEMA_SETS ? names[schema] : "none";
}

int rc_manifest_schema_parse(const char *s)
{
	static const struct { const char *name; int schema; } names[] = {
		{ "descriptive", RC_SCHEMA_DESC }, { "desc", RC_SCHEMA_DESC },
		{ "reasonlite", RC_SCHEMA_LITE }, { "lite", RC_SCHEMA_LITE },
		{ "reasonpro", RC_SCHEMA_PRO }, { "pro", RC_SCHEMA_PRO },
		{ "sets", RC_SCHEMA_SETS }, { "choice", RC_SCHEMA_SETS },
	};
	for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].schema;
	return RC_E_ARG;
}

/* A name with something before the suffix: ".jsonl" alone is no manifest. */
static int named(const char *s, const char *suffix)
{
	return strlen(s) > strlen(suffix) && rc_ends_with_nocase(s, suffix);
}

int rc_manifest_format_of(const char *path)
{
	static const char *const tars[] = {
		".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2",
	};
	if (!path || !strcmp(path, "-"))
		return RC_MANIFEST_AUTO;
	for (size_t i = 0; i < sizeof tars / sizeof tars[0]; i++)
		if (named(path, tars[i]))
			return RC_MANIFEST_TAR;
	if (named(path, ".jsonl") || named(path, ".json"))
		return RC_MANIFEST_JSONL;
	if (named(path, ".tsv") || named(path, ".txt"))
		return RC_MANIFEST_TSV;
	return RC_MANIFEST_AUTO;
}

/* ---------------------------------------------------------------- text checks */

int rc_manifest_why(char *why, size_t n, const char *fmt, ...)
{
	if (!why || n == 0)
		return RC_E_FORMAT;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* Reasons quote input (jansson's "near '...'", a category code): keep
	 * them one printable line of valid UTF-8. */
	size_t len = strlen(buf), i = 0, o = 0;
	while (i < len && o + 1 < n) {
		unsigned char c = (unsigned char)buf[i];
		if (c < 0x80) {
			why[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
			i++;
			continue;
		}
		size_t j = i;
		uint32_t cp = rc_utf8_next(buf, len, &j);
		if (cp == 0xFFFD && !(j - i == 3 && c == 0xEF)) {
			why[o++] = '?';
		} else {
			if (o + (j - i) + 1 > n)
				break;
			memcpy(why + o, buf + i, j - i);
			o += j - i;
		}
		i = j;
	}
	why[o] = '\0';
	return RC_E_FORMAT;
}

/* What Python's str.isspace() accepts (Unicode White_Space and the ASCII
 * separators 0x1C..0x1F), so that a caption of no-break spaces counts as
 * empty too. */
static int is_space(uint32_t c)
{
	return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
	       c == 0x3000;
}

int rc_manifest_is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len;)
		if (!is_space(rc_utf8_next(s, len, &i)))
			return 0;
	return 1;
}

/* The offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_bad(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t at = i;
		if (rc_utf8_next(s, len, &i) == 0xFFFD &&
		    !(i - at == 3 && (unsigned char)s[at] == 0xEF))
			return at;
	}
	return len;
}

int rc_manifest_check_caption(const char *s, size_t len, const char *what,
	char *why, size_t n)
{
	const char *nul = memchr(s, '\0', len);
	if (nul)
		return rc_manifest_why(why, n, "nul byte in %s (byte %zu)", what,
				       (size_t)(nul - s) + 1);
	size_t bad = utf8_bad(s, len);
	if (bad < len)
		return rc_manifest_why(why, n, "%s is not valid utf-8 (byte %zu)",
				       what, bad + 1);
	if (rc_manifest_is_blank(s, len))
		return rc_manifest_why(why, n, "empty %s", what);
	if (len > UINT32_MAX)
		return rc_manifest_why(why, n, "%s is longer than 4 GiB", what);
	return 0;
}

/* ---------------------------------------------------------------- drafts into records */

static char *copy(struct rc_arena *a, const char *s, size_t len)
{
	char *d = rc_arena_alloc(a, len + 1);
	if (d) {
		if (len)
			memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

int rc_manifest_build(const struct rc_manifest_draft *p, struct rc_arena *a,
	struct rc_record *rec, const char **image_path)
{
	memset(rec, 0, sizeof *rec);
	rec->schema = (uint8_t)p->schema;
	struct rc_text *t = rc_arena_calloc(a, p->nt, sizeof *t);
	if (!t)
		return RC_E_NOMEM;
	for (size_t i = 0; i < p->nt; i++) {
		char *s = copy(a, p->t[i].s, p->t[i].len);
		if (!s)
			return RC_E_NOMEM;
		t[i].role = p->t[i].role;
		t[i].group = p->t[i].group;
		t[i].s = s;
		t[i].len = (uint32_t)p->t[i].len;
	}
	rec->texts = t;
	rec->ntexts = (uint32_t)p->nt;
	if (p->nl) {
		uint8_t *l = rc_arena_alloc(a, p->nl);
		if (!l)
			return RC_E_NOMEM;
		memcpy(l, p->labels, p->nl);
		rec->labels = l;
		rec->nlabels = (uint32_t)p->nl;
	}
	const char *path = NULL;
	if (p->path && !(path = copy(a, p->path, p->path_len)))
		return RC_E_NOMEM;
	if (image_path)
		*image_path = path;
	if (p->key) {
		if (!(rec->key = copy(a, p->key, p->key_len)))
			return RC_E_NOMEM;
		rec->key_len = (uint32_t)p->key_len;
	} else if (path) {
		rec->key = path;
		rec->key_len = (uint32_t)p->path_len;
	}
	return 0;
}

/* ---------------------------------------------------------------- TSV and text */

int rc_manifest_text_record(struct rc_arena *a, struct rc_record *rec,
	const char *s, size_t len, const char *key, size_t key_len)
{
	struct rc_manifest_draft p;
	p.schema = RC_SCHEMA_DESC;
	p.t[0] = (struct rc_manifest_text){ s, len, RC_ROLE_CAPTION, 0 };
	p.nt = 1;
	p.nl = 0;
	p.path = NULL;
	p.path_len = 0;
	p.key = key;
	p.key_len = key_len;
	return rc_manifest_build(&p, a, rec, NULL);
}

int rc_manifest_parse_tsv(const char *line, size_t len, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n)
{
	if (len && line[len - 1] == '\r')
		len--;
	const char *tab = memchr(line, '\t', len);
	if (!tab)
		return rc_manifest_why(why, n, "no tab: expected image_path<TAB>caption");
	size_t plen = (size_t)(tab - line);
	const char *cap = tab + 1;
	size_t clen = len - plen - 1;
	if (memchr(cap, '\t', clen)) {
		size_t fields = 2;
		for (size_t i = 0; i < clen; i++)
			fields += cap[i] == '\t';
		return rc_manifest_why(why, n, "%zu tab-separated fields, expected 2 "
				       "(image_path, caption)", fields);
	}
	if (memchr(line, '\0', plen))
		return rc_manifest_why(why, n, "nul byte in image_path");
	if (rc_manifest_is_blank(line, plen))
		return rc_manifest_why(why, n, "empty image_path");
	int rc = rc_manifest_check_caption(cap, clen, "caption", why, n);
	if (rc < 0)
		return rc;
	struct rc_manifest_draft p;
	p.schema = RC_SCHEMA_DESC;
	p.t[0] = (struct rc_manifest_text){ cap, clen, RC_ROLE_CAPTION, 0 };
	p.nt = 1;
	p.nl = 0;
	p.path = line;
	p.path_len = plen;
	p.key = NULL;
	p.key_len = 0;
	if ((rc = rc_manifest_build(&p, a, rec, image_path)) < 0)
		rc_manifest_why(why, n, "out of memory");
	return rc;
}

/* ---------------------------------------------------------------- reader */

struct rc_manifest {
	FILE *f;
	int own;              /* f was opened here */
	char *name;
	struct rc_io_lines lr;
	int format;
	int schema;           /* forced or detected; NONE before */
	int forced;
	uint64_t schema_line; /* the line it was detected on */
	int started;          /* a non-blank line was seen */
};

int rc_manifest_open_stream(struct rc_manifest **out, FILE *f,
	const char *name, int schema, int format)
{
	*out = NULL;
	const char *shown = name ? name : "(input)";
	if (schema < RC_SCHEMA_NONE || schema > RC_SCHEMA_SETS)
		return rc_log_error(RC_E_ARG, "%s: unknown schema %d", shown, schema);
	if (format == RC_MANIFEST_AUTO)
		format = rc_manifest_format_of(name);
	if (format == RC_MANIFEST_TAR)
		return rc_log_error(RC_E_ARG, "%s: a tar is not a manifest "
				    "(read it as webdataset)", shown);
	if (format < RC_MANIFEST_AUTO || format > RC_MANIFEST_TSV)
		return rc_log_error(RC_E_ARG, "%s: unknown manifest format %d",
				    shown, format);
	if (format == RC_MANIFEST_TSV && schema > RC_SCHEMA_DESC)
		return rc_log_error(RC_E_ARG, "%s: a tsv manifest holds descriptive "
				    "captions, not %s", shown,
				    rc_manifest_schema_name(schema));
	struct rc_manifest *m = rc_calloc(1, sizeof *m);
	if (!m || !(m->name = rc_strdup(shown))) {
		free(m);
		return RC_E_NOMEM;
	}
	m->f = f;
	m->format = format;
	m->schema = schema;
	m->forced = schema != RC_SCHEMA_NONE;
	rc_io_lines_init(&m->lr, f, m->name);
	*out = m;
	return 0;
}

int rc_manifest_open(struct rc_manifest **out, const char *path, int schema,
	int format)
{
	*out = NULL;
	if (format == RC_MANIFEST_AUTO && rc_manifest_format_of(path) == RC_MANIFEST_TAR)
		format = RC_MANIFEST_TAR;
	if (format == RC_MANIFEST_TAR)
		return rc_log_error(RC_E_ARG, "%s: a tar is not a manifest "
				    "(read it as webdataset)", path);
	FILE *f;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	if ((rc = rc_manifest_open_stream(out, f, path, schema, format)) < 0) {
		rc_io_close(f, path);
		return rc;
	}
	(*out)->own = 1;
	return 0;
}

/* Spaces, tabs and a '\r' only: a line to skip. */
static int blank_line(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\f\v", s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

static int is_tsv_header(const char *s, size_t len)
{
	if (len && s[len - 1] == '\r')
		len--;
	return (len == 18 && !memcmp(s, "image_path\tcaption", 18)) ||
	       (len == 14 && !memcmp(s, "filepath\ttitle", 14));
}

/* Add where the file's schema came from to a mismatch reason. */
static void add_origin(const struct rc_manifest *m, char *why, size_t n)
{
	size_t k = why && n ? strlen(why) : 0;
	if (k + 1 >= n)
		return;
	if (m->forced)
		snprintf(why + k, n - k, " (schema given)");
	else
		snprintf(why + k, n - k, " (schema of line %llu)",
			 (unsigned long long)m->schema_line);
}

int rc_manifest_next(struct rc_manifest *m, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, uint64_t *lineno,
	char *why, size_t n)
{
	const char *path_dummy;
	if (!image_path)
		image_path = &path_dummy;
	for (;;) {
		int rc = rc_io_lines_next(&m->lr);
		if (lineno)
			*lineno = m->lr.lineno + (rc < 0);
		if (rc == 0)
			return 0;
		if (rc < 0) {
			rc_manifest_why(why, n, "%s", rc == RC_E_NOMEM ?
					"out of memory" : "read error");
			return rc;
		}
		const char *s = m->lr.line;
		size_t len = m->lr.len;
		if (m->lr.lineno == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
			s += 3; /* a byte order mark */
			len -= 3;
		}
		if (blank_line(s, len))
			continue;
		int first = !m->started;
		m->started = 1;
		if (m->format == RC_MANIFEST_AUTO) {
			size_t i = 0;
			while (i < len && strchr(" \t\r\f\v", s[i]) && s[i])
				i++;
			m->format = s[i] == '{' || s[i] == '[' ?
				RC_MANIFEST_JSONL : RC_MANIFEST_TSV;
		}
		if (m->format == RC_MANIFEST_TSV) {
			if (first && is_tsv_header(s, len))
				continue;
			rc = rc_manifest_parse_tsv(s, len, a, rec, image_path, why, n);
			if (rc == 0 && m->schema > RC_SCHEMA_DESC) {
				rc = rc_manifest_why(why, n, "descriptive record (tsv), "
						     "expected %s",
						     rc_manifest_schema_name(m->schema));
				add_origin(m, why, n);
			}
		} else {
			int fit;
			rc = rc_manifest_json_record(s, len, m->schema, a, rec,
						     image_path, why, n, &fit);
			if (rc == RC_E_FORMAT && fit == RC_FIT_OTHER)
				add_origin(m, why, n);
		}
		if (rc < 0)
			return rc;
		if (m->schema == RC_SCHEMA_NONE) {
			m->schema = rec->schema;
			m->schema_line = m->lr.lineno;
		}
		return 1;
	}
}

int rc_manifest_schema(const struct rc_manifest *m)
{
	return m->schema;
}

int rc_manifest_format(const struct rc_manifest *m)
{
	return m->format;
}

void rc_manifest_close(struct rc_manifest *m)
{
	if (!m)
		return;
	rc_io_lines_free(&m->lr);
	if (m->own)
		rc_io_close(m->f, m->name);
	free(m->name);
	free(m);
}
