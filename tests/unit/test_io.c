/* test_io.c - Check suite for io.h: whole-file reads (plain, gzip, errors),
 * the line reader (long lines, no final newline), atomic files (commit,
 * abort, nothing visible before commit), write errors and terminals.
 * Each test works in its own temporary directory.
 */
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"

/* rc_malloc is tested with impossible sizes: under AddressSanitizer those
 * must return NULL like the real malloc instead of aborting. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

/* ---------------------------------------------------------------- helpers */

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "io");
	rc_log_init("test_io");
}

/* Remove the files of tmpdir and the directory (it has no subdirectories). */
static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static const char *tpath(const char *name)
{
	return rc_test_join(tmpdir, name);
}

/* Number of entries in tmpdir (without . and ..); the name of the last
 * one seen goes to last if it is not NULL. */
static int count_entries(char *last, size_t n)
{
	DIR *d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	int count = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			count++;
			if (last)
				snprintf(last, n, "%s", e->d_name);
		}
	closedir(d);
	return count;
}


/* The file at path holds exactly the string want. */
static void assert_content(const char *path, const char *want)
{
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(path, &data, &len), 0);
	ck_assert_str_eq(data, want);
	free(data);
}

/* Deterministic bytes, every value present. */
static void fill(unsigned char *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		p[i] = (unsigned char)(x >> 24);
	}
}

/* ---------------------------------------------------------------- read_file */

START_TEST(test_read_file)
{
	const char *p = tpath("a.txt");
	rc_test_write_file(p, "hello\nworld", 11);
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_mem_eq(data, "hello\nworld", 11);
	ck_assert_int_eq(data[len], '\0');
	free(data);
}
END_TEST

START_TEST(test_read_file_empty_and_large)
{
	char *data;
	size_t len;
	const char *e = tpath("empty");
	rc_test_write_file(e, "", 0);
	ck_assert_int_eq(rc_io_read_file(e, &data, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(data[0], '\0');
	free(data);

	size_t n = 3 * 1024 * 1024 + 17;
	unsigned char *src = malloc(n);
	fill(src, n, 1);
	const char *p = tpath("big.bin");
	rc_test_write_file(p, src, n);
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(data, src, n), 0);
	free(data);
	free(src);
}
END_TEST

START_TEST(test_read_stream_pipe)
{
	/* A pipe has no size: the buffer must grow as data arrives. */
	size_t n = 300 * 1000;
	unsigned char *src = malloc(n);
	fill(src, n, 2);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		_exit(rc_io_write_fd(fds[1], src, n, "pipe") == 0 ? 0 : 1);
	}
	close(fds[1]);
	FILE *f = fdopen(fds[0], "rb");
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_stream(f, "pipe", &data, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(data, src, n), 0);
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fclose(f);
	free(data);
	free(src);
}
END_TEST

static void write_gz(const char *path, const void *data, size_t n)
{
	gzFile gz = gzopen(path, "wb");
	ck_assert_ptr_nonnull(gz);
	ck_assert_int_eq(gzwrite(gz, data, (unsigned)n), (int)n);
	ck_assert_int_eq(gzclose(gz), Z_OK);
}

START_TEST(test_read_file_gz)
{
	/* Text compresses well, so this also checks growth beyond the
	 * compressed size. */
	size_t n = 1000 * 1000;
	char *src = malloc(n);
	for (size_t i = 0; i < n; i++)
		src[i] = "abcdefghij\n"[i % 11];
	const char *p = tpath("text.gz");
	write_gz(p, src, n);
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_uint_eq(len, n);
	ck_assert_int_eq(memcmp(data, src, n), 0);
	ck_assert_int_eq(data[len], '\0');
	free(data);
	free(src);
}
END_TEST

START_TEST(test_read_file_gz_bad)
{
	char *data = (char *)1;
	size_t len = 99;
	/* Not gzip at all. */
	const char *p = tpath("plain.gz");
	rc_test_write_file(p, "just text\n", 10);
	capture_begin();
	int rc = rc_io_read_file(p, &data, &len);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_FORMAT);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_nonnull(strstr(err, p));

	/* A gzip file cut in the middle. */
	size_t n = 200 * 1000;
	unsigned char *src = malloc(n);
	fill(src, n, 3);
	const char *full = tpath("full.gz");
	write_gz(full, src, n);
	FILE *f = fopen(full, "rb");
	char *gz = malloc(n * 2);
	size_t gzlen;
	gzlen = fread(gz, 1, n * 2, f);
	fclose(f);
	const char *cut = tpath("cut.gz");
	rc_test_write_file(cut, gz, gzlen / 2);
	capture_begin();
	rc = rc_io_read_file(cut, &data, &len);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	ck_assert_ptr_null(data);
	ck_assert_ptr_nonnull(strstr(err, "cut.gz"));

	/* Whole data whose CRC-32 in the trailer is wrong. */
	gz[gzlen - 8] ^= 0x5a;
	const char *bad = tpath("bad.gz");
	rc_test_write_file(bad, gz, gzlen);
	capture_begin();
	rc = rc_io_read_file(bad, &data, &len);
	capture_end();
	ck_assert_int_eq(rc, RC_E_FORMAT);
	free(gz);
	free(src);
}
END_TEST

START_TEST(test_read_file_missing)
{
	const char *p = tpath("no-such-file.txt");
	char *data = (char *)1;
	size_t len = 5;
	capture_begin();
	int rc = rc_io_read_file(p, &data, &len);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);
	ck_assert_msg(strstr(err, p) != NULL, "message lacks the path: %s", err);
	ck_assert_msg(strstr(err, strerror(ENOENT)) != NULL,
		      "message lacks the reason: %s", err);
	ck_assert_int_eq(strncmp(err, "test_io: ", 9), 0);

	/* The same for a missing .gz (zlib's open). */
	capture_begin();
	rc = rc_io_read_file(tpath("missing.gz"), &data, &len);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, "missing.gz"));

	FILE *f = (FILE *)1;
	capture_begin();
	rc = rc_io_open_read(p, &f);
	capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_null(f);
}
END_TEST

START_TEST(test_open_dash)
{
	FILE *f;
	ck_assert_int_eq(rc_io_open_read("-", &f), 0);
	ck_assert_ptr_eq(f, stdin);
	ck_assert_int_eq(rc_io_close(f, "-"), 0);
	ck_assert_int_eq(rc_io_open_write("-", &f), 0);
	ck_assert_ptr_eq(f, stdout);
	ck_assert_int_eq(rc_io_close(f, "-"), 0);
	/* stdin and stdout stay open. */
	ck_assert_int_ne(fcntl(STDOUT_FILENO, F_GETFD), -1);
}
END_TEST

/* ---------------------------------------------------------------- writes */

START_TEST(test_write_errors_name_path)
{
	if (access("/dev/full", W_OK) != 0)
		return; /* no /dev/full here: nothing to provoke ENOSPC with */
	FILE *f;
	ck_assert_int_eq(rc_io_open_write("/dev/full", &f), 0);
	char buf[4096] = { 0 };
	capture_begin();
	int rc = rc_io_write_all(f, buf, sizeof buf, "/dev/full");
	if (rc == 0)
		rc = rc_io_flush(f, "/dev/full");
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, "/dev/full: write error: "));
	ck_assert_ptr_nonnull(strstr(err, strerror(ENOSPC)));
	fclose(f);

	int fd = open("/dev/full", O_WRONLY);
	ck_assert_int_ge(fd, 0);
	capture_begin();
	rc = rc_io_write_fd(fd, buf, 10, "full-fd");
	err = capture_end();
	close(fd);
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, "full-fd: write error"));
}
END_TEST

START_TEST(test_write_fd)
{
	const char *p = tpath("fd.bin");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(rc_io_write_fd(fd, "abc", 3, p), 0);
	ck_assert_int_eq(rc_io_write_fd(fd, "", 0, p), 0);
	close(fd);
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_str_eq(data, "abc");
	free(data);
}
END_TEST

/* ---------------------------------------------------------------- lines */

START_TEST(test_lines)
{
	/* "a", "", a 100 KiB line, "cr\r", then "last" without a newline. */
	size_t longn = 100 * 1024;
	char *longline = malloc(longn);
	for (size_t i = 0; i < longn; i++)
		longline[i] = (char)('a' + i % 26);
	const char *p = tpath("lines.txt");
	FILE *w = fopen(p, "wb");
	fputs("a\n\n", w);
	fwrite(longline, 1, longn, w);
	fputs("\ncr\r\nlast", w);
	fclose(w);

	FILE *f;
	ck_assert_int_eq(rc_io_open_read(p, &f), 0);
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, p);

	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_str_eq(lr.line, "a");
	ck_assert_uint_eq(lr.len, 1);
	ck_assert_uint_eq(lr.lineno, 1);
	ck_assert_int_eq(lr.newline, 1);

	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_str_eq(lr.line, "");
	ck_assert_uint_eq(lr.lineno, 2);

	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_uint_eq(lr.len, longn);
	ck_assert_int_eq(memcmp(lr.line, longline, longn), 0);
	ck_assert_int_eq(lr.line[longn], '\0');
	ck_assert_uint_eq(lr.lineno, 3);

	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_str_eq(lr.line, "cr\r");
	ck_assert_uint_eq(lr.lineno, 4);

	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_str_eq(lr.line, "last");
	ck_assert_uint_eq(lr.len, 4);
	ck_assert_uint_eq(lr.lineno, 5);
	ck_assert_int_eq(lr.newline, 0);

	ck_assert_int_eq(rc_io_lines_next(&lr), 0);
	ck_assert_int_eq(rc_io_lines_next(&lr), 0);
	ck_assert_uint_eq(lr.lineno, 5);
	rc_io_lines_free(&lr);
	rc_io_lines_free(&lr); /* twice is harmless */
	ck_assert_int_eq(rc_io_close(f, p), 0);
	free(longline);
}
END_TEST

START_TEST(test_lines_embedded_nul_and_empty_input)
{
	const char *p = tpath("nul.txt");
	rc_test_write_file(p, "a\0b\n", 4);
	FILE *f = fopen(p, "rb");
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, p);
	ck_assert_int_eq(rc_io_lines_next(&lr), 1);
	ck_assert_uint_eq(lr.len, 3);
	ck_assert_mem_eq(lr.line, "a\0b", 3);
	ck_assert_int_eq(rc_io_lines_next(&lr), 0);
	rc_io_lines_free(&lr);
	fclose(f);

	const char *e = tpath("empty.txt");
	rc_test_write_file(e, "", 0);
	f = fopen(e, "rb");
	rc_io_lines_init(&lr, f, e);
	ck_assert_int_eq(rc_io_lines_next(&lr), 0);
	ck_assert_uint_eq(lr.lineno, 0);
	rc_io_lines_free(&lr);
	fclose(f);
}
END_TEST

START_TEST(test_lines_read_error)
{
	/* Reading a directory fails with EISDIR: the message has the path
	 * and the number of the line that could not be read. */
	FILE *f = fopen(tmpdir, "r");
	if (!f)
		return; /* some libcs refuse to open a directory at all */
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, "dir-input");
	capture_begin();
	int rc = rc_io_lines_next(&lr);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, "dir-input:1: read error: "));
	rc_io_lines_free(&lr);
	fclose(f);
}
END_TEST

/* ---------------------------------------------------------------- atomic */

START_TEST(test_atomic_commit)
{
	const char *p = tpath("out.bin");
	struct rc_atomic_file af;
	mode_t old = umask(022);
	ck_assert_int_eq(rc_atomic_open(&af, p), 0);
	umask(old);
	ck_assert_ptr_nonnull(af.f);
	ck_assert_int_eq(rc_io_write_all(af.f, "payload", 7, p), 0);
	fflush(af.f);

	/* Before commit: only the temporary exists, hidden, in the same
	 * directory; nothing is under the final name. */
	struct stat st;
	ck_assert_int_eq(stat(p, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	char name[256];
	ck_assert_int_eq(count_entries(name, sizeof name), 1);
	ck_assert_int_eq(strncmp(name, ".out.bin.tmp.", 13), 0);
	ck_assert_uint_eq(strlen(name), 13 + 6);

	ck_assert_int_eq(rc_atomic_commit(&af), 0);
	ck_assert_ptr_null(af.f);
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(data, "payload");
	free(data);
	ck_assert_int_eq(count_entries(name, sizeof name), 1);
	ck_assert_str_eq(name, "out.bin");
	/* mkstemp makes 0600; the output gets 0666 less the umask. */
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);
	rc_atomic_abort(&af); /* after commit: a no-op */
	ck_assert_int_eq(stat(p, &st), 0);
}
END_TEST

START_TEST(test_atomic_replace_keeps_old_until_commit)
{
	const char *p = tpath("model.st");
	rc_test_write_file(p, "old", 3);
	chmod(p, 0640);
	struct rc_atomic_file af;
	ck_assert_int_eq(rc_atomic_open(&af, p), 0);
	fputs("new contents", af.f);
	fflush(af.f);
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_str_eq(data, "old");
	free(data);
	ck_assert_int_eq(rc_atomic_commit(&af), 0);
	ck_assert_int_eq(rc_io_read_file(p, &data, &len), 0);
	ck_assert_str_eq(data, "new contents");
	free(data);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0640);
	ck_assert_int_eq(count_entries(NULL, 0), 1);
}
END_TEST

START_TEST(test_atomic_abort)
{
	const char *p = tpath("never.bin");
	struct rc_atomic_file af;
	ck_assert_int_eq(rc_atomic_open(&af, p), 0);
	fputs("partial", af.f);
	ck_assert_int_eq(count_entries(NULL, 0), 1);
	rc_atomic_abort(&af);
	ck_assert_ptr_null(af.f);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_int_eq(count_entries(NULL, 0), 0);
	rc_atomic_abort(&af); /* twice is harmless */

	/* Aborting a replacement leaves the old file as it was. */
	rc_test_write_file(p, "old", 3);
	ck_assert_int_eq(rc_atomic_open(&af, p), 0);
	fputs("new", af.f);
	rc_atomic_abort(&af);
	assert_content(p, "old");
	ck_assert_int_eq(count_entries(NULL, 0), 1);
}
END_TEST

START_TEST(test_atomic_open_fails)
{
	struct rc_atomic_file af;
	const char *p = tpath("no-dir/out.bin");
	capture_begin();
	int rc = rc_atomic_open(&af, p);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_null(af.f);
	rc_atomic_abort(&af); /* safe after a failed open */
	ck_assert_int_eq(count_entries(NULL, 0), 0);
}
END_TEST

START_TEST(test_atomic_symlink)
{
	/* A symlink at the final name is refused and its target untouched;
	 * forced, the link itself is replaced by a new file and the target
	 * still keeps its content. */
	const char *target = tpath("target.txt");
	const char *link = tpath("link.txt");
	rc_test_write_file(target, "old", 3);
	ck_assert_int_eq(symlink("target.txt", link), 0);
	struct rc_atomic_file af;
	ck_assert_int_eq(rc_atomic_open(&af, link), RC_E_ARG);
	rc_atomic_abort(&af);
	assert_content(target, "old");
	ck_assert_int_eq(count_entries(NULL, 0), 2);

	rc_atomic_set_force(1);
	ck_assert_int_eq(rc_atomic_open(&af, link), 0);
	rc_atomic_set_force(0);
	fputs("new file", af.f);
	ck_assert_int_eq(rc_atomic_commit(&af), 0);
	struct stat st;
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	assert_content(link, "new file");
	assert_content(target, "old");
	ck_assert_int_eq(count_entries(NULL, 0), 2);

	/* a dangling link too: nothing is created where it points */
	const char *dl = tpath("dangling");
	ck_assert_int_eq(symlink("nowhere.txt", dl), 0);
	ck_assert_int_eq(rc_atomic_open(&af, dl), RC_E_ARG);
	rc_atomic_abort(&af);
	ck_assert_int_eq(access(tpath("nowhere.txt"), F_OK), -1);
}
END_TEST

START_TEST(test_atomic_fifo)
{
	/* A FIFO is refused unless forced; then, as it cannot be replaced
	 * by renaming, the data goes into it and the node stays a FIFO. A
	 * child reads the other end. */
	const char *p = tpath("fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	struct rc_atomic_file af;
	ck_assert_int_eq(rc_atomic_open(&af, p), RC_E_ARG);
	rc_atomic_abort(&af);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		char buf[64];
		int fd = open(p, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
		if (n > 0 && write(fds[1], buf, (size_t)n) != n)
			_exit(2);
		_exit(n > 0 ? 0 : 1);
	}
	close(fds[1]);
	rc_atomic_set_force(1);
	ck_assert_int_eq(rc_atomic_open(&af, p), 0);
	rc_atomic_set_force(0);
	ck_assert_ptr_null(af.tmp);
	fputs("through", af.f);
	ck_assert_int_eq(rc_atomic_commit(&af), 0);
	char got[64] = { 0 };
	ck_assert_int_eq(read(fds[0], got, sizeof got - 1), 7);
	ck_assert_str_eq(got, "through");
	int status;
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	struct stat st;
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	close(fds[0]);
}
END_TEST

START_TEST(test_atomic_stdout)
{
	struct rc_atomic_file af;
	ck_assert_int_eq(rc_atomic_open(&af, "-"), 0);
	ck_assert_ptr_eq(af.f, stdout);
	ck_assert_int_eq(rc_atomic_commit(&af), 0);
	ck_assert_ptr_null(af.f);
	ck_assert_int_ne(fcntl(STDOUT_FILENO, F_GETFD), -1);
}
END_TEST

/* ---------------------------------------------------------------- memory */

START_TEST(test_alloc)
{
	char *p = rc_malloc(0);
	ck_assert_ptr_nonnull(p);
	free(p);
	p = rc_calloc(0, 8);
	ck_assert_ptr_nonnull(p);
	free(p);
	int *a = rc_calloc(100, sizeof *a);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(a[i], 0);
	a = rc_reallocarray(a, 1000, sizeof *a);
	ck_assert_ptr_nonnull(a);
	a[999] = 7;
	free(a);
	char *s = rc_strdup("dup");
	ck_assert_str_eq(s, "dup");
	free(s);
}
END_TEST

START_TEST(test_alloc_failure_logged)
{
	capture_begin();
	void *p = rc_malloc(SIZE_MAX - 4096);
	void *q = rc_calloc(SIZE_MAX / 2, 3);    /* overflows */
	void *keep = rc_malloc(16);
	void *r = rc_reallocarray(keep, SIZE_MAX / 4, 8);
	const char *err = capture_end();
	ck_assert_ptr_null(p);
	ck_assert_ptr_null(q);
	ck_assert_ptr_null(r);
	ck_assert_ptr_nonnull(strstr(err, "test_io: out of memory ("));
	free(keep); /* still owned after a failed realloc */
}
END_TEST

/* ---------------------------------------------------------------- terminals */

START_TEST(test_ends_with)
{
	ck_assert_int_eq(rc_ends_with("a.list", ".list"), 1);
	ck_assert_int_eq(rc_ends_with(".list", ".list"), 1);
	ck_assert_int_eq(rc_ends_with("a.List", ".list"), 0);
	ck_assert_int_eq(rc_ends_with("list", ".list"), 0);
	ck_assert_int_eq(rc_ends_with("", ""), 1);
	ck_assert_int_eq(rc_ends_with_nocase("A.JSONL", ".jsonl"), 1);
	ck_assert_int_eq(rc_ends_with_nocase("a.jsonl.gz", ".jsonl"), 0);
}
END_TEST

START_TEST(test_tty)
{
	FILE *f = fopen(tpath("plain"), "wb");
	ck_assert_int_eq(rc_io_is_tty(f), 0);
	ck_assert_int_eq(rc_io_refuse_tty(f), 0);
	fclose(f);

	int master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
		fprintf(stderr, "test_tty: no pseudo-terminal here, "
			"tty case skipped\n");
		if (master >= 0)
			close(master);
		return;
	}
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	FILE *tty = fdopen(slave, "wb");
	ck_assert_int_eq(rc_io_is_tty(tty), 1);
	capture_begin();
	int rc = rc_io_refuse_tty(tty);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_str_eq(err, "test_io: refusing to write binary data to a "
			 "terminal\ntest_io: hint: redirect the output or use "
			 "-o FILE\n");
	fclose(tty);
	close(master);
}
END_TEST

static Suite *io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_read_file);
	tcase_add_test(tc, test_read_file_empty_and_large);
	tcase_add_test(tc, test_read_stream_pipe);
	tcase_add_test(tc, test_read_file_gz);
	tcase_add_test(tc, test_read_file_gz_bad);
	tcase_add_test(tc, test_read_file_missing);
	tcase_add_test(tc, test_open_dash);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_errors_name_path);
	tcase_add_test(tc, test_write_fd);
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lines);
	tcase_add_test(tc, test_lines_embedded_nul_and_empty_input);
	tcase_add_test(tc, test_lines_read_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("atomic");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_atomic_commit);
	tcase_add_test(tc, test_atomic_replace_keeps_old_until_commit);
	tcase_add_test(tc, test_atomic_abort);
	tcase_add_test(tc, test_atomic_open_fails);
	tcase_add_test(tc, test_atomic_symlink);
	tcase_add_test(tc, test_atomic_fifo);
	tcase_add_test(tc, test_atomic_stdout);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_alloc);
	tcase_add_test(tc, test_alloc_failure_logged);
	tcase_add_test(tc, test_tty);
	tcase_add_test(tc, test_ends_with);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(io_suite());
}
