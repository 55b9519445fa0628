/* npy.h - NumPy .npy files of float32 rows: the (N, D) embedding matrices
 * that rclip-retrieve writes and reads.
 *
 * The writer produces exactly what numpy.save writes for a C-order '<f4'
 * array of shape (N, D): format version 1.0, the magic "\x93NUMPY", a
 * little-endian u16 header length, the header
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (N, D), }
 * followed by numpy's spare spaces for N, padded with spaces and a final
 * '\n' so that the data starts at a multiple of 64 bytes, then the rows.
 * The spare space means N can be patched in place, so rows are streamed:
 *
 *     struct rc_npy_writer *w;
 *     if ((rc = rc_npy_writer_open(&w, out_path, 512)) < 0)  // "-" = stdout
 *         return rc;
 *     while (more)
 *         if ((rc = rc_npy_writer_rows(w, batch, nrows)) < 0)
 *             break;          // logged
 *     if (rc < 0)
 *         rc_npy_writer_abort(w);         // out_path untouched
 *     else
 *         rc = rc_npy_writer_close(w);    // header patched, committed
 *
 * How N gets into the header depends on the output:
 *  - rc_npy_writer_open_n() is given N: the header is written first and
 *    rows go straight through, on any output (pipes included); close
 *    checks that exactly N rows came.
 *  - rc_npy_writer_open() to a file (written atomically, rc_atomic_open)
 *    or to a standard output that is a regular file: rows go straight
 *    through and the header is rewritten with the count at close.
 *  - rc_npy_writer_open() to a pipe or a device: rows are spilled to an
 *    unnamed temporary file (tmpfile(3), in $TMPDIR or /tmp) and copied
 *    out after the header at close: constant memory, the disk holds N x D
 *    x 4 bytes for a while. Use rc_npy_writer_open_n() when N is known.
 *
 * The reader takes the same files, and also version 2.0 and 3.0 headers,
 * any key order and spacing, and refuses anything but a 2-D C-order '<f4'
 * array with a clear message.
 */
#ifndef RCLIP_NPY_H
#define RCLIP_NPY_H

#include <stddef.h>
#include <stdint.h>

#define RC_NPY_HEADER_MAX 65536  /* bytes of header dict the reader accepts */

struct rc_npy_writer;

/* rc_npy_writer_open - start an (N, d) float32 file at path ("-" is
 * stdout; a terminal is refused), N counted as rows come (see the top).
 * Returns 0 with *out, or RC_E_IO, RC_E_ARG (a terminal) or RC_E_NOMEM,
 * logged; *out is NULL then. */
int rc_npy_writer_open(struct rc_npy_writer **out, const char *path, size_t d);

/* rc_npy_writer_open_n - the same with N given: exactly n rows must be
 * written. Works on any output without a temporary. */
int rc_npy_writer_open_n(struct rc_npy_writer **out, const char *path,
	size_t n, size_t d);

/* rc_npy_writer_rows - append n rows of d floats (n x d values, row after
 * row). Returns 0, RC_E_IO (logged with the path), or RC_E_ARG (logged)
 * when more rows than the N given to rc_npy_writer_open_n() come. */
int rc_npy_writer_rows(struct rc_npy_writer *w, const float *rows, size_t n);

/* rc_npy_writer_count - the rows written so far. */
uint64_t rc_npy_writer_count(const struct rc_npy_writer *w);

/* rc_npy_writer_close - finish the file: header with the final N, flush,
 * commit (rename into place). w is freed in every case. Returns 0,
 * RC_E_IO, or RC_E_ARG when fewer rows than a given N came (the output is
 * dropped then), logged. */
int rc_npy_writer_close(struct rc_npy_writer *w);

/* rc_npy_writer_abort - drop the output (a file keeps its old contents,
 * stdout gets what was written) and free w; w may be NULL. */
void rc_npy_writer_abort(struct rc_npy_writer *w);

/* rc_npy_header - the header numpy writes for an (n, d) '<f4' C-order
 * array, into buf (cap bytes; 128 are always enough for 64-bit sizes).
 * Returns its length (a multiple of 64), or 0 when cap is too small. */
size_t rc_npy_header(char *buf, size_t cap, uint64_t n, uint64_t d);

/* rc_npy_read_f32 - read a 2-D C-order '<f4' .npy file ("-" = stdin) into
 * a new array of *n x *d floats (*data; the caller frees it; never NULL on
 * success, even for no rows). Returns 0, or, logged as "path: reason":
 * RC_E_IO, RC_E_FORMAT (not an .npy file, a malformed header, bytes after
 * the data), RC_E_VERSION (a format version other than 1, 2 or 3),
 * RC_E_UNSUPPORTED (another dtype, Fortran order, not 2-D), RC_E_RANGE (a
 * header over RC_NPY_HEADER_MAX or a size that overflows), RC_E_TRUNCATED
 * (less data than the shape needs), RC_E_NOMEM; *data is NULL then. */
int rc_npy_read_f32(const char *path, float **data, size_t *n, size_t *d);

/* A read-only view of a 2-D '<f4' .npy file: the rows are mapped from a
 * regular file (mmap, so a 2 GB gallery is paged in, not copied), or read
 * into memory from a pipe or a file whose data is not 4-byte aligned. */
struct rc_npy_map {
	const float *data;  /* n x d floats, row after row */
	size_t n, d;
	void *base;         /* private: the mapping, or NULL */
	size_t len;         /* private: its length */
	float *owned;       /* private: the copy, or NULL */
};

/* rc_npy_map_f32 - open path ("-" = stdin, read into memory) as a view
 * *m. Checks as rc_npy_read_f32() does (the same codes, logged as "path:
 * reason"); an empty file (n = 0) gives a non-NULL data pointer. On error
 * *m is zeroed. Release with rc_npy_unmap(). */
int rc_npy_map_f32(const char *path, struct rc_npy_map *m);

/* rc_npy_unmap - release a view from rc_npy_map_f32() (zeroed or mapped). */
void rc_npy_unmap(struct rc_npy_map *m);

#endif
