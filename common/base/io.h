/* io.h - checked file I/O and allocation: every failure is logged with the
 * path and the reason (strerror) before the function returns its code, so
 * a caller only has to pass the code up.
 *
 * "-" names stdin for reading and stdout for writing. Whole files are read
 * into one malloc'd buffer (gunzipped when the name ends in ".gz"); lines of
 * any length are read with a line reader that counts them; outputs that
 * must never be seen half-written go through an atomic file: a temporary in
 * the same directory, renamed over the final name on commit.
 *
 *     struct rc_atomic_file af;
 *     int rc = rc_atomic_open(&af, out_path);        // "-" = stdout
 *     if (rc < 0)
 *             return rc;
 *     if (af.f == stdout && (rc = rc_io_refuse_tty(stdout)) < 0)
 *             goto fail;
 *     if ((rc = rc_io_write_all(af.f, buf, n, out_path)) < 0)
 *             goto fail;
 *     return rc_atomic_commit(&af);   // fsync, rename, fsync the directory
 * fail:
 *     rc_atomic_abort(&af);           // the final name is untouched
 *     return rc;
 *
 *     struct rc_io_lines lr;
 *     rc_io_lines_init(&lr, f, path);
 *     while ((rc = rc_io_lines_next(&lr)) > 0)
 *             use(lr.line, lr.len, lr.lineno);
 *     rc_io_lines_free(&lr);          // rc is 0 at the end, < 0 on error
 */
#ifndef RCLIP_IO_H
#define RCLIP_IO_H

#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- files */

/* rc_io_open_read - open path for reading in binary mode; "-" gives stdin.
 * Returns 0 and sets *out, or RC_E_IO (logged as "path: reason"; a missing
 * file too). Close with rc_io_close(). */
int rc_io_open_read(const char *path, FILE **out);

/* rc_io_open_write - open path for writing (truncating it) in binary mode;
 * "-" gives stdout. A symlink at path is refused, never written through.
 * Not atomic: see rc_atomic_open() for outputs that must never be seen
 * incomplete. Returns 0 or RC_E_IO (logged). */
int rc_io_open_write(const char *path, FILE **out);

/* rc_io_close - close a stream from rc_io_open_*(): stdin and stdout are
 * flushed but left open. Reports a pending read or write error (ferror), a
 * failed flush or a failed close. f may be NULL. Returns 0 or RC_E_IO
 * (logged with path). */
int rc_io_close(FILE *f, const char *path);

/* rc_io_read_file - read a whole file ("-" = stdin) into a new buffer. A
 * name ending in ".gz" is decompressed with zlib (a file that is not gzip
 * data is an error then). The buffer gets one extra NUL byte after the
 * data (not counted in *len), so text can be used as a C string.
 * Returns 0 with *data (caller frees with free()) and *len set; on error
 * *data is NULL and the code is RC_E_IO (open/read failed),
 * RC_E_FORMAT (corrupt gzip data), RC_E_TRUNCATED (gzip data ends early)
 * or RC_E_NOMEM, each logged with the path. */
int rc_io_read_file(const char *path, char **data, size_t *len);

/* rc_io_read_stream - the same for an open stream (not decompressed); path
 * is only used in messages. */
int rc_io_read_stream(FILE *f, const char *path, char **data, size_t *len);

/* rc_io_write_all - write n bytes to f; path names f in the message. A
 * stream buffers, so a failure may only show at rc_io_flush() or
 * rc_io_close(). Returns 0 or RC_E_IO (logged). */
int rc_io_write_all(FILE *f, const void *buf, size_t n, const char *path);

/* rc_io_write_fd - write n bytes to a file descriptor, retrying short
 * writes and EINTR. Returns 0 or RC_E_IO (logged with path). */
int rc_io_write_fd(int fd, const void *buf, size_t n, const char *path);

/* rc_io_flush - fflush(f) and check the stream's error flag. Returns 0 or
 * RC_E_IO (logged with path). */
int rc_io_flush(FILE *f, const char *path);

/* ---------------------------------------------------------------- lines */

/* A line reader over a FILE *: lines of any length (getline). The line
 * buffer belongs to the reader and is reused by the next call. */
struct rc_io_lines {
	FILE *f;
	const char *path;   /* for messages; not copied */
	char *line;         /* current line, NUL-terminated, '\n' removed */
	size_t len;         /* its length in bytes (it may contain NULs) */
	size_t cap;         /* allocated size of line */
	uint64_t lineno;    /* 1-based number of the current line */
	int newline;        /* 1 if the current line ended with '\n' */
};

/* rc_io_lines_init - start reading lines from f (not taken over: the caller
 * closes it). path names the input in messages. Allocates nothing. */
void rc_io_lines_init(struct rc_io_lines *lr, FILE *f, const char *path);

/* rc_io_lines_next - read the next line. Only the '\n' is removed (a "\r"
 * before it is kept); a last line without '\n' is returned with
 * newline = 0. Returns 1 with a line, 0 at the end of input, RC_E_IO
 * ("path:N: read error: reason") or RC_E_NOMEM, logged. */
int rc_io_lines_next(struct rc_io_lines *lr);

/* rc_io_lines_free - free the line buffer (the stream stays open). */
void rc_io_lines_free(struct rc_io_lines *lr);

/* ---------------------------------------------------------------- memory */

/* Checked allocation: on failure each logs "out of memory (N bytes)" and
 * returns NULL (the caller returns RC_E_NOMEM). A size of 0 allocates one
 * byte, so NULL always means failure. rc_calloc and rc_reallocarray refuse
 * a count * size that overflows. rc_realloc leaves p allocated on failure.
 * The memory is released with free(). */
void *rc_malloc(size_t n);
void *rc_calloc(size_t count, size_t size);
void *rc_realloc(void *p, size_t n);
void *rc_reallocarray(void *p, size_t count, size_t size);
char *rc_strdup(const char *s);

/* rc_grow - make *p (an array of *cap elements of elem bytes) hold at least
 * need elements, doubling; *p and *cap are updated. Returns 0, or
 * RC_E_NOMEM (logged) with *p still valid and unchanged. */
int rc_grow(void **p, size_t *cap, size_t need, size_t elem);

/* ---------------------------------------------------------------- atomic files */

/* An output written under a temporary name and renamed when complete, so a
 * file under its final name is always whole. Write through f. */
struct rc_atomic_file {
	FILE *f;        /* write here; NULL once committed or aborted */
	char *path;     /* the final name (a copy, as given) */
	char *tmp;      /* the temporary, or NULL when writing in place */
	int kind;       /* private: how the output is written */
};

/* rc_atomic_open - prepare an atomic write of path. A temporary
 * ".<base>.tmp.XXXXXX" is created in the directory of path (mkstemp), with
 * the mode of the file it replaces, or 0666 less the umask. "-" writes to
 * stdout directly. A final name that is a symlink, a FIFO or a device is
 * refused (RC_E_ARG, logged with a hint) so that nothing is ever written
 * through a link; after rc_atomic_set_force(1) a symlink is replaced by
 * the new file (the link itself, never its target) and a FIFO or device is
 * written into directly. A directory or socket is always refused.
 * Returns 0, RC_E_ARG, RC_E_IO or RC_E_NOMEM (logged); af is safe to abort
 * either way. */
int rc_atomic_open(struct rc_atomic_file *af, const char *path);

/* rc_atomic_set_force - process-wide: 1 lets rc_atomic_open() replace a
 * symlink at a final name and write into a FIFO or device there (a
 * tool's --force); 0, the default, refuses them. */
void rc_atomic_set_force(int on);

/* rc_atomic_commit - finish the file: fflush, fsync, close, rename onto
 * the final name, fsync the directory. For stdout it only flushes. On any
 * failure the temporary is removed and the old file under the final name,
 * if any, is untouched (unless only the directory fsync failed). af is
 * released in every case; a later rc_atomic_abort() does nothing.
 * Returns 0 or RC_E_IO (logged with the path). */
int rc_atomic_commit(struct rc_atomic_file *af);

/* rc_atomic_abort - drop the output: close and unlink the temporary
 * (stdout is flushed; a file written in place stays as it is). Safe to call
 * twice, after a failed open and after commit. */
void rc_atomic_abort(struct rc_atomic_file *af);

/* rc_atomic_write_file - len bytes of data as the file path, atomically
 * (rc_atomic_open, write, rc_atomic_commit; aborted on a failed write).
 * Returns 0 or the errors of those, logged. */
int rc_atomic_write_file(const char *path, const void *data, size_t len);

/* ---------------------------------------------------------------- terminals */

/* rc_io_is_tty - 1 if f is a terminal, else 0. */
int rc_io_is_tty(FILE *f);

/* rc_io_refuse_tty - for tools that write binary data: when f is a
 * terminal, log "refusing to write binary data to a terminal" and the hint
 * "redirect the output or use -o FILE", and return RC_E_ARG; else 0. */
int rc_io_refuse_tty(FILE *f);

/* rc_ends_with - 1 when the string s ends with suffix, byte for byte, else
 * 0 ("a.list" ends with ".list"; so does ".list"). rc_ends_with_nocase -
 * the same with ASCII letters compared without case (".JSONL"). */
int rc_ends_with(const char *s, const char *suffix);
int rc_ends_with_nocase(const char *s, const char *suffix);

#endif
