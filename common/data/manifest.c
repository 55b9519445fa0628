/* manifest.c - one line or caption into a record (manifest.h): schema and
 * format names, reasons, the checks on one caption, checked drafts copied
 * into records, and TSV lines. What the readers share: JSON records
 * (manifest_json.c), the line reader (manifest_read.c) and webdataset
 * tars (wds.c) call this file, and it calls none of them.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/error.h"
#include "base/io.h"
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
	if (named(path, ".parquet"))
		return RC_MANIFEST_PARQUET;
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

/* ---------------------------------------------------------------- ReasonLite 3 x 3 */

int rc_manifest_lite_three(struct rc_arena *a, struct rc_record *rec)
{
	if (rec->schema != RC_SCHEMA_LITE)
		return 0;
	static const uint8_t roles[2] = { RC_ROLE_TB, RC_ROLE_TRL };
	struct rc_text *t = rc_arena_calloc(a, 6, sizeof *t);
	uint32_t nt = 0;
	if (!t)
		return RC_E_NOMEM;
	for (int r = 0; r < 2; r++) {
		const struct rc_text *first = NULL;
		uint32_t k = 0;
		for (uint32_t i = 0; i < rec->ntexts && k < 3; i++)
			if (rec->texts[i].role == roles[r]) {
				if (!first)
					first = &rec->texts[i];
				t[nt++] = rec->texts[i];
				k++;
			}
		while (first && k++ < 3)
			t[nt++] = *first;
	}
	rec->texts = t;
	rec->ntexts = nt;
	return 0;
}
