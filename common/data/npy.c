/* npy.c - NumPy .npy float32 matrices (npy.h): a streaming writer whose
 * header is byte for byte numpy's, and a strict reader of 2-D '<f4' files.
 */
#include "data/npy.h"

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c writes floats as they are in memory: a little-endian host is needed"
#endif

#define MAGIC "\x93NUMPY"
#define GROWTH_DIGITS 21  /* numpy's GROWTH_AXIS_MAX_DIGITS */

/* ---------------------------------------------------------------- header */

size_t rc_npy_header(char *buf, size_t cap, uint64_t n, uint64_t d)
{
	char dict[160];
	int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': "
			   "False, 'shape': (%" PRIu64 ", %" PRIu64 "), }", n, d);
	char digits[24];
	int nd = snprintf(digits, sizeof digits, "%" PRIu64, n);
	size_t hlen = (size_t)len + (size_t)(GROWTH_DIGITS - nd) + 1; /* + '\n' */
	size_t pad = 64 - (10 + hlen) % 64;  /* numpy pads 1..64, never 0 */
	size_t total = 10 + hlen + pad;
	if (total > cap || hlen + pad > 0xffff)
		return 0;
	memcpy(buf, MAGIC "\x01\x00", 8);
	buf[8] = (char)((hlen + pad) & 0xff);
	buf[9] = (char)((hlen + pad) >> 8);
	memcpy(buf + 10, dict, (size_t)len);
	memset(buf + 10 + len, ' ', total - 11 - (size_t)len);
	buf[total - 1] = '\n';
	return total;
}

/* ---------------------------------------------------------------- writer */

enum { KNOWN_N, PATCH, SPILL };

struct rc_npy_writer {
	struct rc_atomic_file af;
	char *path;
	int mode;
	size_t d;
	uint64_t n;             /* rows written */
	uint64_t want;          /* KNOWN_N: rows announced */
	off_t start;            /* PATCH: where the header starts */
	size_t hlen;            /* its length */
	FILE *spill;            /* SPILL: the rows so far */
};

static int write_header(struct rc_npy_writer *w, FILE *f, uint64_t n)
{
	char h[256];
	size_t len = rc_npy_header(h, sizeof h, n, w->d);
	if (len == 0)
		return rc_log_error(RC_E_RANGE, "%s: %zu columns: the .npy header "
				    "does not fit", w->path, w->d);
	if (w->hlen && len != w->hlen)  /* cannot happen: N has spare room */
		return rc_log_error(RC_E_RANGE, "%s: header length changed", w->path);
	w->hlen = len;
	return rc_io_write_all(f, h, len, w->path);
}

/* Can the header at the current position of f be rewritten at close? */
static int can_patch(FILE *f, off_t *start)
{
	struct stat st;
	int fd = fileno(f);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_APPEND))
		return 0;
	return (*start = ftello(f)) >= 0;
}

static int open_common(struct rc_npy_writer **out, const char *path,
		       size_t d, int known, uint64_t n)
{
	struct rc_npy_writer *w;
	int rc;

	*out = NULL;
	if (d > SIZE_MAX / 4 / 2)
		return rc_log_error(RC_E_ARG, "%s: %zu columns: too many", path, d);
	if (!(w = rc_calloc(1, sizeof *w)))
		return RC_E_NOMEM;
	w->d = d;
	w->want = n;
	if (!(w->path = rc_strdup(path))) {
		free(w);
		return RC_E_NOMEM;
	}
	if ((rc = rc_atomic_open(&w->af, path)) < 0) {
		free(w->path);
		free(w);
		return rc;
	}
	if (w->af.f == stdout && (rc = rc_io_refuse_tty(stdout)) < 0)
		goto fail;
	if (known) {
		w->mode = KNOWN_N;
		rc = write_header(w, w->af.f, n);
	} else if (can_patch(w->af.f, &w->start)) {
		w->mode = PATCH;
		rc = write_header(w, w->af.f, 0);
	} else {
		w->mode = SPILL;
		if (!(w->spill = tmpfile()))
			rc = rc_log_error(RC_E_IO, "%s: cannot create a temporary file "
					  "for the rows: %s", path, strerror(errno));
	}
	if (rc < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	rc_npy_writer_abort(w);
	return rc;
}

int rc_npy_writer_open(struct rc_npy_writer **out, const char *path, size_t d)
{
	return open_common(out, path, d, 0, 0);
}

int rc_npy_writer_open_n(struct rc_npy_writer **out, const char *path,
			 size_t n, size_t d)
{
	return open_common(out, path, d, 1, n);
}

int rc_npy_writer_rows(struct rc_npy_writer *w, const float *rows, size_t n)
{
	if (w->mode == KNOWN_N && n > w->want - w->n)
		return rc_log_error(RC_E_ARG, "%s: more than the %" PRIu64 " rows "
				    "announced", w->path, w->want);
	size_t bytes;
	if (__builtin_mul_overflow(n, w->d * sizeof(float), &bytes))
		return rc_log_error(RC_E_RANGE, "%s: %zu rows: size overflows",
				    w->path, n);
	FILE *f = w->mode == SPILL ? w->spill : w->af.f;
	int rc = rc_io_write_all(f, rows, bytes, w->mode == SPILL ?
				 "temporary file" : w->path);
	if (rc == 0)
		w->n += n;
	return rc;
}

uint64_t rc_npy_writer_count(const struct rc_npy_writer *w)
{
	return w->n;
}

/* SPILL: the header, then the temporary's rows. */
static int copy_spill(struct rc_npy_writer *w)
{
	static char buf[1 << 16];
	int rc = write_header(w, w->af.f, w->n);
	if (rc == 0 && (fflush(w->spill) != 0 || fseeko(w->spill, 0, SEEK_SET) != 0))
		rc = rc_log_error(RC_E_IO, "%s: temporary file: %s", w->path,
				  strerror(errno));
	size_t got;
	while (rc == 0 && (got = fread(buf, 1, sizeof buf, w->spill)) > 0)
		rc = rc_io_write_all(w->af.f, buf, got, w->path);
	if (rc == 0 && ferror(w->spill))
		rc = rc_log_error(RC_E_IO, "%s: temporary file: read error",
				  w->path);
	return rc;
}

int rc_npy_writer_close(struct rc_npy_writer *w)
{
	int rc = 0;
	switch (w->mode) {
	case KNOWN_N:
		if (w->n != w->want)
			rc = rc_log_error(RC_E_ARG, "%s: %" PRIu64 " rows written, %"
					  PRIu64 " announced", w->path, w->n, w->want);
		break;
	case PATCH:
		if (fflush(w->af.f) != 0 || fseeko(w->af.f, w->start, SEEK_SET) != 0)
			rc = rc_log_error(RC_E_IO, "%s: %s", w->path, strerror(errno));
		else if ((rc = write_header(w, w->af.f, w->n)) == 0 &&
			 fseeko(w->af.f, 0, SEEK_END) != 0)
			rc = rc_log_error(RC_E_IO, "%s: %s", w->path, strerror(errno));
		break;
	case SPILL:
		rc = copy_spill(w);
		break;
	}
	if (rc < 0) {
		rc_npy_writer_abort(w);
		return rc;
	}
	rc = rc_atomic_commit(&w->af);
	if (w->spill)
		fclose(w->spill);
	free(w->path);
	free(w);
	return rc;
}

void rc_npy_writer_abort(struct rc_npy_writer *w)
{
	if (!w)
		return;
	rc_atomic_abort(&w->af);
	if (w->spill)
		fclose(w->spill);
	free(w->path);
	free(w);
}

/* ---------------------------------------------------------------- reader */

struct hparse {
	const char *p, *end;
	const char *path;
};

static void skip_ws(struct hparse *h)
{
	while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' ||
				 *h->p == '\r'))
		h->p++;
}

static int expect(struct hparse *h, char c)
{
	skip_ws(h);
	if (h->p < h->end && *h->p == c) {
		h->p++;
		return 1;
	}
	return 0;
}

/* A quoted Python string ('' or ""), without escapes, into out. */
static int quoted(struct hparse *h, char *out, size_t cap)
{
	skip_ws(h);
	if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
		return 0;
	char q = *h->p++;
	size_t n = 0;
	while (h->p < h->end && *h->p != q && *h->p != '\\') {
		if (n + 1 < cap)
			out[n++] = *h->p;
		h->p++;
	}
	out[n] = '\0';
	if (h->p >= h->end || *h->p != q)
		return 0;
	h->p++;
	return 1;
}

/* A non-negative integer (a Python 2 'L' suffix allowed); -1 when there is
 * none, -2 when it overflows. */
static int64_t integer(struct hparse *h)
{
	skip_ws(h);
	if (h->p >= h->end || *h->p < '0' || *h->p > '9')
		return -1;
	uint64_t v = 0;
	while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
		if (v > (UINT64_C(1) << 62))
			return -2;
		v = v * 10 + (uint64_t)(*h->p++ - '0');
	}
	if (h->p < h->end && *h->p == 'L')
		h->p++;
	return (int64_t)v;
}

static int bad_header(const struct hparse *h, const char *what)
{
	return rc_log_error(RC_E_FORMAT, "%s: malformed .npy header: %s", h->path,
			    what);
}

/* Parse the header dict; the shape must be 2-D. */
static int parse_dict(struct hparse *h, uint64_t *n, uint64_t *d)
{
	char key[32], val[32];
	int seen = 0;
	if (!expect(h, '{'))
		return bad_header(h, "no '{'");
	while (!expect(h, '}')) {
		if (!quoted(h, key, sizeof key) || !expect(h, ':'))
			return bad_header(h, "expected 'key':");
		if (strcmp(key, "descr") == 0) {
			if (!quoted(h, val, sizeof val))
				return bad_header(h, "descr is not a string");
			if (strcmp(val, "<f4") != 0)
				return rc_log_error(RC_E_UNSUPPORTED, "%s: dtype '%s': only "
						    "little-endian float32 ('<f4') is "
						    "read", h->path, val);
			seen |= 1;
		} else if (strcmp(key, "fortran_order") == 0) {
			skip_ws(h);
			size_t left = (size_t)(h->end - h->p);
			if (left >= 5 && memcmp(h->p, "False", 5) == 0) {
				h->p += 5;
			} else if (left >= 4 && memcmp(h->p, "True", 4) == 0) {
				return rc_log_error(RC_E_UNSUPPORTED, "%s: Fortran-order "
						    "array: only C order is read", h->path);
			} else {
				return bad_header(h, "fortran_order is not True or False");
			}
			seen |= 2;
		} else if (strcmp(key, "shape") == 0) {
			int64_t dims[2];
			int ndim = 0;
			if (!expect(h, '('))
				return bad_header(h, "shape is not a tuple");
			for (;;) {
				int64_t v = integer(h);
				if (v == -2)
					return rc_log_error(RC_E_RANGE, "%s: a dimension of "
							    "the shape is too large", h->path);
				if (v < 0)
					break;
				if (ndim < 2)
					dims[ndim] = v;
				ndim++;
				if (!expect(h, ','))
					break;
			}
			if (!expect(h, ')'))
				return bad_header(h, "shape is not a tuple of integers");
			if (ndim != 2)
				return rc_log_error(RC_E_UNSUPPORTED, "%s: a %d-D array: "
						    "only 2-D (N, D) arrays are read",
						    h->path, ndim);
			*n = (uint64_t)dims[0];
			*d = (uint64_t)dims[1];
			seen |= 4;
		} else {
			return bad_header(h, "unknown key");
		}
		if (!expect(h, ',')) {
			if (!expect(h, '}'))
				return bad_header(h, "expected ',' or '}'");
			break;
		}
	}
	skip_ws(h);
	if (h->p != h->end)
		return bad_header(h, "text after the dict");
	if (seen != 7)
		return bad_header(h, "descr, fortran_order or shape missing");
	return 0;
}

/* Read n bytes, or say what ended early. */
static int get(FILE *f, void *dst, size_t n, const char *path, const char *what)
{
	errno = 0;
	if (fread(dst, 1, n, f) == n)
		return 0;
	if (ferror(f))
		return rc_log_error(RC_E_IO, "%s: read error: %s", path,
				    strerror(errno ? errno : EIO));
	return rc_log_error(RC_E_TRUNCATED, "%s: file ends inside %s", path, what);
}

static int read_header(FILE *f, const char *path, uint64_t *n, uint64_t *d)
{
	uint8_t pre[12];
	int rc;
	errno = 0;
	size_t got = fread(pre, 1, 8, f);
	if (got < 8 && ferror(f))
		return rc_log_error(RC_E_IO, "%s: read error: %s", path,
				    strerror(errno ? errno : EIO));
	if (got < 6 || memcmp(pre, MAGIC, 6) != 0)
		return rc_log_error(RC_E_FORMAT, "%s: not a NumPy .npy file (no "
				    "\\x93NUMPY magic)", path);
	if (got < 8)
		return rc_log_error(RC_E_TRUNCATED, "%s: file ends inside the .npy "
				    "header", path);
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
		return rc_log_error(RC_E_VERSION, "%s: .npy format version %u.%u "
				    "(1.0, 2.0 and 3.0 are read)", path, pre[6], pre[7]);
	size_t lenbytes = pre[6] == 1 ? 2 : 4;
	if ((rc = get(f, pre + 8, lenbytes, path, "the .npy header")) < 0)
		return rc;
	uint64_t hlen = pre[8] | (uint32_t)pre[9] << 8;
	if (lenbytes == 4)
		hlen |= (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
	if (hlen > RC_NPY_HEADER_MAX)
		return rc_log_error(RC_E_RANGE, "%s: .npy header of %" PRIu64 " bytes "
				    "(at most %d are read)", path, hlen,
				    RC_NPY_HEADER_MAX);
	char *text = rc_malloc((size_t)hlen);
	if (!text)
		return RC_E_NOMEM;
	rc = get(f, text, (size_t)hlen, path, "the .npy header");
	if (rc == 0) {
		struct hparse h = {text, text + hlen, path};
		rc = parse_dict(&h, n, d);
	}
	free(text);
	return rc;
}

/* The data size of an (rows, cols) array into *bytes, and, when f is a
 * regular file (*regular), that it holds exactly that after the header. */
static int data_size(FILE *f, const char *path, uint64_t rows, uint64_t cols,
	uint64_t *bytes, int *regular)
{
	struct stat st;
	*regular = 0;
	if (__builtin_mul_overflow(rows, cols, bytes) ||
	    __builtin_mul_overflow(*bytes, (uint64_t)4, bytes) || *bytes > SIZE_MAX)
		return rc_log_error(RC_E_RANGE, "%s: shape (%" PRIu64 ", %" PRIu64 ") "
				    "is too large", path, rows, cols);
	/* A file says how much data there is before anything is allocated. */
	off_t at = ftello(f);
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || at < 0 || st.st_size < at)
		return 0;
	*regular = 1;
	uint64_t have = (uint64_t)(st.st_size - at);
	if (have == *bytes)
		return 0;
	return have < *bytes
		? rc_log_error(RC_E_TRUNCATED, "%s: truncated: shape (%" PRIu64 ", %"
			       PRIu64 ") needs %" PRIu64 " bytes of data, the file "
			       "holds %" PRIu64, path, rows, cols, *bytes, have)
		: rc_log_error(RC_E_FORMAT, "%s: %" PRIu64 " bytes after the data of "
			       "shape (%" PRIu64 ", %" PRIu64 ")", path, have - *bytes,
			       rows, cols);
}

/* The bytes of data after the header into a new buffer (*out, never NULL
 * on success), and nothing after them. From a pipe the buffer grows with
 * what arrives, up to the size announced. */
static int read_data(FILE *f, const char *path, uint64_t rows, uint64_t cols,
	uint64_t bytes, float **out)
{
	char *buf = NULL;
	size_t cap = 0, have = 0;
	int rc = 0;
	while (rc == 0 && have < bytes) {
		size_t chunk = bytes - have < ((size_t)1 << 24) ? (size_t)(bytes - have)
								: (size_t)1 << 24;
		if ((rc = rc_grow((void **)&buf, &cap, have + chunk, 1)) < 0)
			break;
		errno = 0;
		size_t got = fread(buf + have, 1, chunk, f);
		have += got;
		if (got == chunk)
			continue;
		rc = ferror(f) ? rc_log_error(RC_E_IO, "%s: read error: %s", path,
					      strerror(errno ? errno : EIO))
			       : rc_log_error(RC_E_TRUNCATED, "%s: truncated: shape (%"
					      PRIu64 ", %" PRIu64 ") needs %" PRIu64
					      " bytes of data, the file holds %zu",
					      path, rows, cols, bytes, have);
	}
	if (rc == 0 && !buf && !(buf = rc_malloc(0)))
		rc = RC_E_NOMEM;
	if (rc == 0 && fgetc(f) != EOF)
		rc = rc_log_error(RC_E_FORMAT, "%s: bytes after the data of shape (%"
				  PRIu64 ", %" PRIu64 ")", path, rows, cols);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = (float *)(void *)buf;
	return 0;
}

int rc_npy_read_f32(const char *path, float **data, size_t *n, size_t *d)
{
	FILE *f;
	uint64_t rows = 0, cols = 0, bytes;
	int rc, regular;

	*data = NULL;
	if ((rc = rc_io_open_read(path, &f)) < 0)
		return rc;
	if ((rc = read_header(f, path, &rows, &cols)) < 0 ||
	    (rc = data_size(f, path, rows, cols, &bytes, &regular)) < 0 ||
	    (rc = read_data(f, path, rows, cols, bytes, data)) < 0) {
		rc_io_close(f, path);
		return rc;
	}
	if ((rc = rc_io_close(f, path)) < 0) {
		free(*data);
		*data = NULL;
		return rc;
	}
	*n = (size_t)rows;
	*d = (size_t)cols;
	return 0;
}

/* ---------------------------------------------------------------- mapped */

int rc_npy_map_f32(const char *path, struct rc_npy_map *m)
{
	FILE *f;
	uint64_t rows = 0, cols = 0, bytes;
	int rc, regular;

	memset(m, 0, sizeof *m);
	if ((rc = rc_io_open_read(path, &f)) < 0)
		return rc;
	if ((rc = read_header(f, path, &rows, &cols)) < 0 ||
	    (rc = data_size(f, path, rows, cols, &bytes, &regular)) < 0)
		goto fail;
	off_t at = ftello(f);
	if (regular && bytes > 0 && at % 4 == 0) {
		/* the mapping outlives the stream; pages come from the page cache */
		size_t len = (size_t)at + (size_t)bytes;
		void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fileno(f), 0);
		if (p == MAP_FAILED) {
			rc = rc_log_error(RC_E_IO, "%s: cannot map: %s", path, strerror(errno));
			goto fail;
		}
		m->base = p;
		m->len = len;
		m->data = (const float *)(const void *)((const char *)p + at);
	} else {
		/* a pipe, no rows, or rows not 4-byte aligned: a copy */
		if ((rc = read_data(f, path, rows, cols, bytes, &m->owned)) < 0)
			goto fail;
		m->data = m->owned;
	}
	m->n = (size_t)rows;
	m->d = (size_t)cols;
	if ((rc = rc_io_close(f, path)) < 0)
		rc_npy_unmap(m);
	return rc;
fail:
	rc_io_close(f, path);
	return rc;
}

void rc_npy_unmap(struct rc_npy_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	free(m->owned);
	memset(m, 0, sizeof *m);
}
