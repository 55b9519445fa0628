/* search.c - what surrounds a top-k search (search.h): the hit count,
 * the check of its inputs, the ids and results files. The search itself
 * is the backend's (rc_backend_topk). */
#include "eval/search.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/thread.h"

size_t rc_search_hits(size_t k, size_t n)
{
	return k < n ? k : n;
}

/* ---------------------------------------------------------------- checks */

int64_t rc_search_nonfinite_row(const float *x, size_t n, size_t d)
{
	int64_t first = -1;
#pragma omp parallel
	{
		size_t lo, hi;
		rc_thread_chunk(n, rc_thread_num(), rc_thread_id(), &lo, &hi);
		for (size_t r = lo; r < hi; r++) {
			const uint32_t *b = (const uint32_t *)(const void *)(x + r * d);
			int bad = 0;
			/* all exponent bits set: an infinity or a NaN */
#pragma omp simd reduction(|:bad)
			for (size_t k = 0; k < d; k++)
				bad |= (b[k] & 0x7f800000u) == 0x7f800000u;
			if (bad) {
#pragma omp critical(rc_search_nonfinite)
				if (first < 0 || (int64_t)r < first)
					first = (int64_t)r;
				break;
			}
		}
	}
	return first;
}

/* ---------------------------------------------------------------- ids and output */

int rc_search_read_ids(const char *path, size_t n, const char *gallery, char **buf,
	char ***lines)
{
	size_t len, count = 0;
	int rc = rc_io_read_file(path, buf, &len);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < len; i++)
		count += (*buf)[i] == '\n';
	count += len > 0 && (*buf)[len - 1] != '\n';
	if (count != n)
		return rc_log_error(RC_E_FORMAT, "%s: %zu ids for the %zu rows of %s",
			path, count, n, gallery);
	if (!(*lines = rc_calloc(n + 1, sizeof **lines)))
		return RC_E_NOMEM;
	char *p = *buf;
	for (size_t i = 0; i < n; i++) {
		(*lines)[i] = p;
		char *nl = memchr(p, '\n', len - (size_t)(p - *buf));
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- output */

/* An id as a JSON string: embed's escapes (\\ \n \r \t) undone, then
 * escaped as JSON wants. */
static void json_id(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\' && s[1] && strchr("\\nrt", s[1])) {
			s++;
			c = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : '\\';
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

int rc_search_write(const char *out, int jsonl, char **ids, size_t nq, size_t kk,
	const float *score, const int64_t *index)
{
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, out);
	if (rc < 0)
		return rc;
	FILE *f = af.f;
	for (size_t i = 0; i < nq; i++) {
		const float *s = score + i * kk;
		const int64_t *x = index + i * kk;
		if (jsonl) {
			fprintf(f, "{\"query_index\": %zu, \"ids\": [", i);
			for (size_t r = 0; r < kk; r++) {
				if (r)
					fputs(", ", f);
				if (ids)
					json_id(f, ids[x[r]]);
				else
					fprintf(f, "%lld", (long long)x[r]);
			}
			fputs("], \"scores\": [", f);
			for (size_t r = 0; r < kk; r++)
				fprintf(f, "%s%.9g", r ? ", " : "", (double)s[r]);
			fputs("]}\n", f);
		} else {
			for (size_t r = 0; r < kk; r++) {
				if (ids)
					fprintf(f, "%zu\t%zu\t%s\t%.9g\n", i, r + 1, ids[x[r]], (double)s[r]);
				else
					fprintf(f, "%zu\t%zu\t%lld\t%.9g\n", i, r + 1, (long long)x[r],
						(double)s[r]);
			}
		}
		if (ferror(f))
			break;
	}
	if (ferror(f)) {
		rc = rc_log_error(RC_E_IO, "%s: write error", strcmp(out, "-") ? out :
			"(stdout)");
		rc_atomic_abort(&af);
		return rc;
	}
	return rc_atomic_commit(&af);
}
