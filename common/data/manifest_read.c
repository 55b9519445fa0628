/* manifest_read.c - the manifest reader (manifest.h): a file or stream
 * read line by line, its format and schema detected from the first record,
 * every line handed to the TSV or the JSON parser, and bad lines reported
 * without stopping. It sits above manifest.c and manifest_json.c, which
 * never call it.
 */
#include "data/manifest.h"
#include "data/manifest_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/parquet.h"

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
	struct rc_parquet *pq; /* a Parquet file instead of lines */
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
	if (format == RC_MANIFEST_PARQUET)
		return rc_log_error(RC_E_ARG, "%s: parquet needs rc_manifest_open", shown);
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

/* Refuse what is not text, or say it is Parquet: from the first 4 KiB
 * of a regular file (read with pread, the stream untouched). */
static int sniff_file(FILE *f, const char *path, int *format)
{
	unsigned char head[4096];
	ssize_t got = pread(fileno(f), head, sizeof head, 0);
	if (got < 0)
		return errno == ESPIPE ? 0 : rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
	const char *what = rc_manifest_sniff(head, (size_t)got);
	if (!what)
		return 0;
	if (*format == RC_MANIFEST_AUTO && rc_parquet_is_magic(head, (size_t)got)) {
		*format = RC_MANIFEST_PARQUET;
		return 0;
	}
	rc_log_error(RC_E_FORMAT, "%s: not a text manifest: %s", path, what);
	if (rc_parquet_is_magic(head, (size_t)got))
		rc_log_hint("read it as parquet: name it .parquet or give --format parquet");
	else
		rc_log_hint("a manifest is JSONL (one object a line), TSV or Parquet");
	return RC_E_FORMAT;
}

int rc_manifest_check_text(FILE *f, const char *path)
{
	int format = RC_MANIFEST_JSONL;
	return sniff_file(f, path, &format);
}

static int open_parquet(struct rc_manifest **out, const char *path, int schema)
{
	if (schema < RC_SCHEMA_NONE || schema > RC_SCHEMA_SETS)
		return rc_log_error(RC_E_ARG, "%s: unknown schema %d", path, schema);
	struct rc_manifest *m = rc_calloc(1, sizeof *m);
	if (!m || !(m->name = rc_strdup(path))) {
		free(m);
		return RC_E_NOMEM;
	}
	int rc = rc_parquet_open(&m->pq, path);
	if (rc < 0) {
		free(m->name);
		free(m);
		return rc;
	}
	m->format = RC_MANIFEST_PARQUET;
	m->schema = schema;
	m->forced = schema != RC_SCHEMA_NONE;
	*out = m;
	return 0;
}

int rc_manifest_open(struct rc_manifest **out, const char *path, int schema,
	int format)
{
	*out = NULL;
	if (format == RC_MANIFEST_AUTO)
		format = rc_manifest_format_of(path);
	if (format == RC_MANIFEST_TAR)
		return rc_log_error(RC_E_ARG, "%s: a tar is not a manifest "
				    "(read it as webdataset)", path);
	if (format == RC_MANIFEST_PARQUET)
		return open_parquet(out, path, schema);
	FILE *f;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	if (f != stdin && (rc = sniff_file(f, path, &format)) < 0) {
		rc_io_close(f, path);
		return rc;
	}
	if (format == RC_MANIFEST_PARQUET) {
		rc_io_close(f, path);
		return open_parquet(out, path, schema);
	}
	if ((rc = rc_manifest_open_stream(out, f, path, schema, format)) < 0) {
		rc_io_close(f, path);
		return rc;
	}
	(*out)->own = 1;
	return 0;
}

/* The next row of a Parquet manifest as rc_manifest_next's record. */
static int next_row(struct rc_manifest *m, struct rc_arena *a, struct rc_record *rec,
	const char **image_path, uint64_t *lineno, char *why, size_t n)
{
	json_t *row;
	uint64_t r = 0;
	int rc = rc_parquet_next(m->pq, &row, &r, why, n);
	if (lineno)
		*lineno = r;
	if (rc == RC_E_FORMAT)
		return rc;
	if (rc < 0) {
		if (rc != RC_E_NOMEM)
			rc_log_error(rc, "%s: %s", m->name, why);
		return rc == RC_E_NOMEM ? rc : RC_E_UNSUPPORTED;
	}
	if (rc == 0)
		return 0;
	int fit;
	rc = rc_manifest_parquet_record(row, m->schema, a, rec, image_path, why, n, &fit);
	json_decref(row);
	if (rc == RC_E_FORMAT && fit == RC_FIT_OTHER && !m->forced)
		snprintf(why + strlen(why), n > strlen(why) ? n - strlen(why) : 0,
			 " (schema of row %llu)", (unsigned long long)m->schema_line);
	if (rc < 0)
		return rc;
	if (m->schema == RC_SCHEMA_NONE) {
		m->schema = rec->schema;
		m->schema_line = r;
	}
	return 1;
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
	if (m->pq)
		return next_row(m, a, rec, image_path, lineno, why, n);
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
		/* a tar (or other binary data) read as lines: refused whole, not
		 * skipped line by line into an empty success */
		if (!m->started && len >= 262 - 1 && memchr(s, '\0', len)) {
			rc_log_error(RC_E_UNSUPPORTED, "%s:%llu: binary data, not a manifest%s",
				m->lr.path, (unsigned long long)m->lr.lineno,
				len > 262 && !memcmp(s + 257, "ustar", 5) ? " (a tar)" : "");
			rc_log_hint("a webdataset tar on standard input needs --format tar");
			rc_manifest_why(why, n, "binary data");
			return RC_E_UNSUPPORTED;
		}
		int first = !m->started;
		m->started = 1;
		const char *what;
		if (first && (what = rc_manifest_sniff(s, len < 4096 ? len : 4096))) {
			/* A stream: the first line shows whether it is text. */
			rc_manifest_why(why, n, "not a text manifest: %s", what);
			rc_log_error(RC_E_FORMAT, "%s: not a text manifest: %s", m->name, what);
			return RC_E_UNSUPPORTED;
		}
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
	rc_parquet_close(m->pq);
	if (m->own)
		rc_io_close(m->f, m->name);
	free(m->name);
	free(m);
}
