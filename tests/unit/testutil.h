/* testutil.h - what the Check suites here share: running one suite as a
 * program's main, temporary directories, the committed fixtures, and
 * capturing what the code under test writes to stderr (log.h writes to
 * fd 2), by pointing fd 2 at a temporary file. */
#ifndef RCLIP_TESTUTIL_H
#define RCLIP_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/io.h"

/* rc_test_run - run the suite, free it; the exit status for main. */
static inline int rc_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* rc_test_tmpdir - make a fresh directory $TMPDIR/rclip-test-NAME.XXXXXX
 * into buf (n bytes). */
static inline void rc_test_tmpdir(char *buf, size_t n, const char *name)
{
	const char *base = getenv("TMPDIR");
	snprintf(buf, n, "%s/rclip-test-%s.XXXXXX", base && *base ? base : "/tmp", name);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

/* rc_test_rmdir - remove the files of dir and dir (no subdirectories). */
static inline void rc_test_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char p[8192];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* rc_test_join - "dir/name" in one of 4 rotating static buffers, so that
 * a call may hold a few at once (rc_test_join(d, "a"), rc_test_join(d, "b")). */
static inline const char *rc_test_join(const char *dir, const char *name)
{
	static char p[4][8192];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
	return p[k];
}

/* rc_test_fixture - $top_srcdir/tests/fixtures/DIR/NAME ($top_srcdir
 * defaults to "."), in one of 4 rotating static buffers. */
static inline const char *rc_test_fixture(const char *dir, const char *name)
{
	static char p[4][4096];
	static int k;
	const char *top = getenv("top_srcdir");
	k = (k + 1) % 4;
	snprintf(p[k], sizeof p[k], "%s/tests/fixtures/%s/%s", top ? top : ".", dir, name);
	return p[k];
}

/* rc_test_slurp - the whole file at path (malloc'd; *len its size), or
 * fail the test naming the path and $top_srcdir. */
static inline char *rc_test_slurp(const char *path, size_t *len)
{
	char *d;
	int rc = rc_io_read_file(path, &d, len);
	ck_assert_msg(rc == 0, "cannot read %s (top_srcdir=%s)", path,
		getenv("top_srcdir") ? getenv("top_srcdir") : "unset");
	return d;
}

/* rc_test_write_file - write n bytes to path, or fail the test. */
static inline void rc_test_write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static int rc_test_saved_fd = -1;
static FILE *rc_test_cap_file;

static inline void capture_begin(void)
{
	fflush(stderr);
	rc_test_cap_file = tmpfile();
	ck_assert_ptr_nonnull(rc_test_cap_file);
	rc_test_saved_fd = dup(STDERR_FILENO);
	ck_assert_int_ge(rc_test_saved_fd, 0);
	ck_assert_int_ge(dup2(fileno(rc_test_cap_file), STDERR_FILENO), 0);
}

/* capture_end - restore stderr; what was written (a static buffer). */
static inline const char *capture_end(void)
{
	static char buf[16384];
	fflush(stderr);
	dup2(rc_test_saved_fd, STDERR_FILENO);
	close(rc_test_saved_fd);
	rewind(rc_test_cap_file);
	size_t n = fread(buf, 1, sizeof buf - 1, rc_test_cap_file);
	buf[n] = '\0';
	fclose(rc_test_cap_file);
	return buf;
}

#endif
