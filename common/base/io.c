/* io.c - checked I/O of io.h: open/read/write wrappers that log the path
 * and strerror, whole-file reads (gzip via zlib), a getline-based line
 * reader, checked allocation and atomic (temporary + rename) outputs.
 */
#include "base/io.h"

#include "base/error.h"
#include "base/fault.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK (64 * 1024)

static int is_dash(const char *path)
{
	return path[0] == '-' && path[1] == '\0';
}

/* The name of a stream in messages: "-" reads better spelled out. */
static const char *in_name(const char *path)
{
	return !path ? "(input)" : is_dash(path) ? "standard input" : path;
}

static const char *out_name(const char *path)
{
	return !path ? "(output)" : is_dash(path) ? "standard output" : path;
}

int rc_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int rc_ends_with_nocase(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* ---------------------------------------------------------------- memory */

static void *oom(size_t n)
{
	rc_log_error(RC_E_NOMEM, "out of memory (%zu bytes)", n);
	return NULL;
}

void *rc_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom(n);
}

void *rc_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return oom(SIZE_MAX);
	void *p = calloc(count ? count : 1, size ? size : 1);
	return p ? p : oom(count * size);
}

void *rc_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	return q ? q : oom(n);
}

void *rc_reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return oom(SIZE_MAX);
	return rc_realloc(p, count * size);
}

int rc_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c = c > SIZE_MAX / 2 ? need : 2 * c;
	void *q = rc_reallocarray(*p, c, elem);
	if (!q)
		return RC_E_NOMEM;
	*p = q;
	*cap = c;
	return 0;
}

char *rc_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = rc_malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

/* ---------------------------------------------------------------- files */

int rc_io_open_read(const char *path, FILE **out)
{
	*out = NULL;
	if (is_dash(path)) {
		*out = stdin;
		return 0;
	}
	/* Opened without blocking and looked at before any read: a FIFO
	 * with no writer must not hang the open; a directory is refused.
	 * A FIFO or device is then read as a stream (blocking again, a
	 * signal interrupts the read). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		int rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	int fl = fcntl(fd, F_GETFL);
	FILE *f = NULL;
	if (S_ISDIR(st.st_mode))
		errno = EISDIR;
	else if (fl != -1 && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
		f = fdopen(fd, "rb");
	if (!f) {
		int rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	*out = f;
	return 0;
}

int rc_io_open_write(const char *path, FILE **out)
{
	*out = NULL;
	if (is_dash(path)) {
		*out = stdout;
		return 0;
	}
	/* O_NOFOLLOW: never written through a symlink at the name */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0666);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "wb");
	if (!f) {
		int rc = rc_log_error(RC_E_IO, "%s: %s", path, errno == ELOOP ?
				      "is a symbolic link; refusing to write through it" :
				      strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*out = f;
	return 0;
}

int rc_io_flush(FILE *f, const char *path)
{
	errno = 0;
	if (fflush(f) != 0 || ferror(f))
		return rc_log_error(RC_E_IO, "%s: write error: %s",
				    out_name(path), strerror(errno ? errno : EIO));
	return 0;
}

int rc_io_close(FILE *f, const char *path)
{
	if (!f)
		return 0;
	if (f == stdin)
		return ferror(f) ? rc_log_error(RC_E_IO, "%s: read error",
						in_name(path)) : 0;
	if (f == stdout)
		return rc_io_flush(f, path);
	int err = ferror(f);
	errno = 0;
	if (fclose(f) != 0 || err)
		return rc_log_error(RC_E_IO, "%s: %s", path,
				    errno ? strerror(errno) : "input/output error");
	return 0;
}

int rc_io_write_all(FILE *f, const void *buf, size_t n, const char *path)
{
	rc_fault_point("write");
	errno = 0;
	if (n && fwrite(buf, 1, n, f) != n)
		return rc_log_error(RC_E_IO, "%s: write error: %s",
				    out_name(path), strerror(errno ? errno : EIO));
	return 0;
}

int rc_io_write_fd(int fd, const void *buf, size_t n, const char *path)
{
	const char *p = buf;
	rc_fault_point("write fd");
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return rc_log_error(RC_E_IO, "%s: write error: %s",
					    out_name(path), strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Grow *buf so that it holds at least need bytes (doubling). */
static int grow(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : READ_CHUNK;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return RC_E_NOMEM;
		c *= 2;
	}
	char *q = rc_realloc(*buf, c);
	if (!q)
		return RC_E_NOMEM;
	*buf = q;
	*cap = c;
	return 0;
}

int rc_io_read_stream(FILE *f, const char *path, char **data, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	struct stat st;
	int rc;

	*data = NULL;
	*len = 0;
	/* A regular file's size saves the doublings (it is only a hint): one
	 * byte for the NUL and one so that the first read already meets EOF. */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0
	    && (uintmax_t)st.st_size < SIZE_MAX - 2) {
		if (!(buf = rc_malloc((size_t)st.st_size + 2)))
			return RC_E_NOMEM;
		cap = (size_t)st.st_size + 2;
	}
	for (;;) {
		/* Keep one byte free for the terminating NUL. */
		if (cap - n < 2 && (rc = grow(&buf, &cap, n + READ_CHUNK + 1)) < 0)
			goto fail;
		size_t want = cap - n - 1;
		errno = 0;
		size_t got = fread(buf + n, 1, want, f);
		n += got;
		if (got < want) {
			if (ferror(f)) {
				rc = rc_log_error(RC_E_IO, "%s: read error: %s",
						  in_name(path),
						  strerror(errno ? errno : EIO));
				goto fail;
			}
			if (feof(f))
				break;
		}
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
fail:
	if (rc == RC_E_NOMEM)
		rc_log_error(rc, "%s: file too large to read into memory",
			     in_name(path));
	free(buf);
	return rc;
}

static int read_gz(const char *path, char **data, size_t *len)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0, errnum;

	*data = NULL;
	*len = 0;
	errno = 0;
	gzFile gz = gzopen(path, "rb");
	if (!gz)
		return rc_log_error(errno == 0 ? RC_E_NOMEM : RC_E_IO, "%s: %s",
				    path, errno ? strerror(errno) : "out of memory");
	gzbuffer(gz, 128 * 1024);
	for (;;) {
		if ((rc = grow(&buf, &cap, n + READ_CHUNK + 1)) < 0) {
			rc_log_error(rc, "%s: file too large to read into memory",
				     path);
			goto out;
		}
		size_t want = cap - n - 1;
		if (want > INT_MAX)
			want = INT_MAX;
		int got = gzread(gz, buf + n, (unsigned)want);
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	/* gzread reports errors through gzerror; gzclose adds "the data ended
	 * inside a gzip stream" (Z_BUF_ERROR). */
	const char *msg = gzerror(gz, &errnum);
	if (errnum == Z_OK && gzdirect(gz)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: not in gzip format", path);
		goto out;
	}
	switch (errnum) {
	case Z_OK:
		break;
	case Z_ERRNO:
		rc = rc_log_error(RC_E_IO, "%s: read error: %s", path,
				  strerror(errno));
		goto out;
	case Z_MEM_ERROR:
		rc = rc_log_error(RC_E_NOMEM, "%s: out of memory", path);
		goto out;
	case Z_BUF_ERROR:
		rc = rc_log_error(RC_E_TRUNCATED, "%s: truncated gzip data", path);
		goto out;
	default:
		rc = rc_log_error(RC_E_FORMAT, "%s: corrupt gzip data: %s", path,
				  msg);
		goto out;
	}
out:
	errnum = gzclose_r(gz);
	if (rc == 0 && errnum == Z_BUF_ERROR)
		rc = rc_log_error(RC_E_TRUNCATED, "%s: truncated gzip data", path);
	else if (rc == 0 && errnum != Z_OK)
		rc = rc_log_error(RC_E_IO, "%s: close failed", path);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;
}

int rc_io_read_file(const char *path, char **data, size_t *len)
{
	FILE *f;
	int rc;

	*data = NULL;
	*len = 0;
	if (!is_dash(path) && rc_ends_with(path, ".gz"))
		return read_gz(path, data, len);
	if ((rc = rc_io_open_read(path, &f)) < 0)
		return rc;
	rc = rc_io_read_stream(f, path, data, len);
	int rc2 = rc_io_close(f, path);
	if (rc == 0 && rc2 < 0) {
		free(*data);
		*data = NULL;
		*len = 0;
		rc = rc2;
	}
	return rc;
}

/* ---------------------------------------------------------------- lines */

void rc_io_lines_init(struct rc_io_lines *lr, FILE *f, const char *path)
{
	memset(lr, 0, sizeof *lr);
	lr->f = f;
	lr->path = path;
}

int rc_io_lines_next(struct rc_io_lines *lr)
{
	errno = 0;
	ssize_t n = getline(&lr->line, &lr->cap, lr->f);
	if (n < 0) {
		lr->len = 0;
		lr->newline = 0;
		if (ferror(lr->f))
			return rc_log_error(RC_E_IO, "%s:%llu: read error: %s",
					    in_name(lr->path),
					    (unsigned long long)lr->lineno + 1,
					    strerror(errno ? errno : EIO));
		if (errno == ENOMEM || errno == EOVERFLOW)
			return rc_log_error(RC_E_NOMEM, "%s:%llu: line too long "
					    "to hold in memory", in_name(lr->path),
					    (unsigned long long)lr->lineno + 1);
		return 0;
	}
	lr->lineno++;
	lr->len = (size_t)n;
	lr->newline = n > 0 && lr->line[n - 1] == '\n';
	if (lr->newline)
		lr->line[--lr->len] = '\0';
	return 1;
}

void rc_io_lines_free(struct rc_io_lines *lr)
{
	free(lr->line);
	lr->line = NULL;
	lr->cap = 0;
	lr->len = 0;
}

/* ---------------------------------------------------------------- atomic files */

enum { AF_NONE, AF_TEMP, AF_STDOUT, AF_DIRECT };

/* The process umask without the race of umask(0) + umask(old) where the
 * kernel can tell it (Linux >= 4.7); the race is only a fallback. */
static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		char line[256];
		unsigned m;
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return (mode_t)m;
			}
		fclose(f);
	}
	mode_t old = umask(022);
	umask(old);
	return old;
}

/* dir of path ("." when it has no slash), as a new string. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return rc_strdup(".");
	if (slash == path)
		return rc_strdup("/");
	size_t n = (size_t)(slash - path);
	char *d = rc_malloc(n + 1);
	if (d) {
		memcpy(d, path, n);
		d[n] = '\0';
	}
	return d;
}

static void af_release(struct rc_atomic_file *af)
{
	free(af->path);
	free(af->tmp);
	af->path = NULL;
	af->tmp = NULL;
	af->f = NULL;
	af->kind = AF_NONE;
}

static int g_force;

void rc_atomic_set_force(int on)
{
	g_force = on != 0;
}

/* kind_name - what a file that is not a regular file is, for messages. */
static const char *kind_name(mode_t m)
{
	return S_ISLNK(m) ? "a symbolic link" : S_ISDIR(m) ? "a directory" :
		S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" :
		S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

int rc_atomic_open(struct rc_atomic_file *af, const char *path)
{
	struct stat st;
	mode_t mode;
	int fd;

	memset(af, 0, sizeof *af);
	if (is_dash(path)) {
		af->f = stdout;
		af->kind = AF_STDOUT;
		return 0;
	}
	/* lstat: the final name itself, never what a link points to. A
	 * link, FIFO or device there is refused unless forced; then a link is
	 * replaced by the new file (rename never follows the last component)
	 * and a FIFO or device is written into as a stream. */
	int exists = lstat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode) || !g_force) {
			rc_log_error(RC_E_ARG, "%s: is %s; refusing to write %s it", path,
				     kind_name(st.st_mode), S_ISLNK(st.st_mode) ?
				     "through" : "to");
			if (!S_ISDIR(st.st_mode) && !S_ISSOCK(st.st_mode))
				rc_log_hint(S_ISLNK(st.st_mode) ? "remove the link, or give "
					    "--force to replace the link itself (never its "
					    "target)" : "give --force to write into it as "
					    "a stream");
			return RC_E_ARG;
		}
		if (!S_ISLNK(st.st_mode)) {
			if (!(af->path = rc_strdup(path)))
				return RC_E_NOMEM;
			/* O_NOFOLLOW: a link put there since lstat is not
			 * followed either */
			int dfd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (dfd < 0 || !(af->f = fdopen(dfd, "wb"))) {
				int rc = rc_log_error(RC_E_IO, "%s: %s", path,
						      strerror(errno));
				if (dfd >= 0)
					close(dfd);
				af_release(af);
				return rc;
			}
			af->kind = AF_DIRECT;
			return 0;
		}
		exists = 0;     /* a new file takes the link's place */
	}
	if (!(af->path = rc_strdup(path)))
		return RC_E_NOMEM;
	mode = exists ? (st.st_mode & 07777) : (0666 & ~current_umask());

	const char *slash = strrchr(af->path, '/');
	const char *base = slash ? slash + 1 : af->path;
	size_t dirlen = (size_t)(base - af->path);
	size_t n = dirlen + 1 + strlen(base) + sizeof ".tmp.XXXXXX";
	if (!(af->tmp = rc_malloc(n))) {
		af_release(af);
		return RC_E_NOMEM;
	}
	snprintf(af->tmp, n, "%.*s.%s.tmp.XXXXXX", (int)dirlen, af->path, base);
	if ((fd = mkstemp(af->tmp)) < 0) {
		int rc = rc_log_error(RC_E_IO, "%s: cannot create a temporary "
				      "file: %s", path, strerror(errno));
		af_release(af);
		return rc;
	}
	if (fchmod(fd, mode) != 0 || !(af->f = fdopen(fd, "wb"))) {
		int rc = rc_log_error(RC_E_IO, "%s: %s", af->tmp, strerror(errno));
		close(fd);
		unlink(af->tmp);
		af_release(af);
		return rc;
	}
	af->kind = AF_TEMP;
	return 0;
}

/* Make a rename durable: fsync the directory that holds the entry. Some
 * filesystems cannot fsync a directory (EINVAL); that is not an error. */
static int sync_dir(const char *path)
{
	char *dir = dir_of(path);
	if (!dir)
		return RC_E_NOMEM;
	int rc = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != EROFS))
		rc = rc_log_error(RC_E_IO, "%s: cannot sync directory: %s", dir,
				  strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int rc_atomic_commit(struct rc_atomic_file *af)
{
	int rc = 0;

	switch (af->kind) {
	case AF_NONE:
		return rc_log_error(RC_E_ARG, "atomic file: commit without open");
	case AF_STDOUT:
		rc = rc_io_flush(stdout, "-");
		break;
	case AF_DIRECT:
		rc = rc_io_close(af->f, af->path);
		break;
	case AF_TEMP:
		rc_fault_point("commit: flush");
		errno = 0;
		if (fflush(af->f) != 0 || ferror(af->f))
			rc = rc_log_error(RC_E_IO, "%s: write error: %s", af->path,
					  strerror(errno ? errno : EIO));
		else if (fsync(fileno(af->f)) != 0 && errno != EINVAL)
			rc = rc_log_error(RC_E_IO, "%s: fsync: %s", af->path,
					  strerror(errno));
		if (fclose(af->f) != 0 && rc == 0)
			rc = rc_log_error(RC_E_IO, "%s: close: %s", af->path,
					  strerror(errno));
		af->f = NULL;
		if (rc == 0)
			rc_fault_point("commit: rename");
		if (rc == 0 && rename(af->tmp, af->path) != 0)
			rc = rc_log_error(RC_E_IO, "%s: cannot rename %s into "
					  "place: %s", af->path, af->tmp,
					  strerror(errno));
		if (rc < 0) {
			unlink(af->tmp);
		} else {
			rc_fault_point("commit: renamed");
			rc = sync_dir(af->path);
		}
		break;
	}
	af_release(af);
	return rc;
}

void rc_atomic_abort(struct rc_atomic_file *af)
{
	switch (af->kind) {
	case AF_STDOUT:
		fflush(stdout);
		break;
	case AF_DIRECT:
		fclose(af->f);
		break;
	case AF_TEMP:
		fclose(af->f);
		unlink(af->tmp);
		break;
	}
	af_release(af);
}

int rc_atomic_write_file(const char *path, const void *data, size_t len)
{
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, path);
	if (rc < 0)
		return rc;
	if ((rc = rc_io_write_all(af.f, data, len, path)) < 0) {
		rc_atomic_abort(&af);
		return rc;
	}
	return rc_atomic_commit(&af);
}

/* ---------------------------------------------------------------- terminals */

int rc_io_is_tty(FILE *f)
{
	int fd = fileno(f);
	return fd >= 0 && isatty(fd) ? 1 : 0;
}

int rc_io_refuse_tty(FILE *f)
{
	if (!rc_io_is_tty(f))
		return 0;
	rc_log_error(RC_E_ARG, "refusing to write binary data to a terminal");
	rc_log_hint("redirect the output or use -o FILE");
	return RC_E_ARG;
}
