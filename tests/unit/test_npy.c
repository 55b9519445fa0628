/* test_npy.c - Check suite for npy.h: headers byte for byte as numpy
 * writes them (tests/fixtures/npy/, from gen_safetensors.py), files read
 * back from numpy (versions 1.0 and 2.0), the writer in its three modes
 * (N given, N patched in a file or a redirected stdout, rows spilled for a
 * pipe), and every malformed file refused with its message.
 */
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/npy.h"

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "npy");
}

static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static const char *tmp(const char *name)
{
	return rc_test_join(tmpdir, name);
}

static const char *fixture(const char *name)
{
	return rc_test_fixture("npy", name);
}

static char *slurp(const char *path, size_t *len)
{
	return rc_test_slurp(path, len);
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	int same = la == lb && memcmp(x, y, la) == 0;
	free(x);
	free(y);
	return same;
}

/* The (3, 4) matrix of the fixture: i * 0.5 - 1. */
static void m34(float *m)
{
	for (int i = 0; i < 12; i++)
		m[i] = i * 0.5f - 1.0f;
}

START_TEST(test_header_as_numpy)
{
	char h[128];
	size_t len;
	char *np = slurp(fixture("f32_3x4.npy"), &len);
	ck_assert_uint_eq(rc_npy_header(h, sizeof h, 3, 4), 128);
	ck_assert(memcmp(h, np, 128) == 0);
	free(np);
	np = slurp(fixture("f32_0x5.npy"), &len);
	ck_assert_uint_eq(len, 128);
	ck_assert_uint_eq(rc_npy_header(h, sizeof h, 0, 5), 128);
	ck_assert(memcmp(h, np, 128) == 0);
	free(np);
	/* The largest sizes still fit 128 bytes, so N can be patched in place. */
	ck_assert_uint_eq(rc_npy_header(h, sizeof h, UINT64_MAX, UINT64_MAX), 128);
	ck_assert_int_eq(h[127], '\n');
	ck_assert_uint_eq(rc_npy_header(h, 127, 3, 4), 0);
}
END_TEST

START_TEST(test_read_numpy_files)
{
	float *d;
	size_t n, c;
	ck_assert_int_eq(rc_npy_read_f32(fixture("f32_3x4.npy"), &d, &n, &c), 0);
	ck_assert(n == 3 && c == 4);
	for (int i = 0; i < 12; i++)
		ck_assert(d[i] == i * 0.5f - 1.0f);
	free(d);
	ck_assert_int_eq(rc_npy_read_f32(fixture("f32_0x5.npy"), &d, &n, &c), 0);
	ck_assert(n == 0 && c == 5 && d != NULL);
	free(d);
	ck_assert_int_eq(rc_npy_read_f32(fixture("f32_2x3_v2.npy"), &d, &n, &c), 0);
	ck_assert(n == 2 && c == 3);
	for (int i = 0; i < 6; i++)
		ck_assert(d[i] == i + 0.5f);
	free(d);
}
END_TEST

/* Each writer mode gives numpy's file. */
START_TEST(test_write_modes)
{
	struct rc_npy_writer *w;
	float m[12];
	m34(m);
	/* N patched at close, rows in three calls (one empty). */
	ck_assert_int_eq(rc_npy_writer_open(&w, tmp("a.npy"), 4), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m, 1), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m + 4, 0), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m + 4, 2), 0);
	ck_assert_uint_eq(rc_npy_writer_count(w), 3);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	ck_assert(same_file(tmp("a.npy"), fixture("f32_3x4.npy")));
	/* N given. */
	ck_assert_int_eq(rc_npy_writer_open_n(&w, tmp("b.npy"), 3, 4), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m, 3), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	ck_assert(same_file(tmp("b.npy"), fixture("f32_3x4.npy")));
	/* No rows. */
	ck_assert_int_eq(rc_npy_writer_open(&w, tmp("c.npy"), 5), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	ck_assert(same_file(tmp("c.npy"), fixture("f32_0x5.npy")));
	/* Replacing a file. */
	ck_assert_int_eq(rc_npy_writer_open(&w, tmp("c.npy"), 4), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m, 3), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	ck_assert(same_file(tmp("c.npy"), fixture("f32_3x4.npy")));
}
END_TEST

/* "-" with stdout redirected to a file at an offset: patched there. */
START_TEST(test_write_stdout_file)
{
	float m[12];
	m34(m);
	int fd = open(tmp("out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "xyz", 3), 3);
	fflush(stdout);
	int saved = dup(1);
	dup2(fd, 1);
	close(fd);
	ck_assert_int_eq(fseeko(stdout, 0, SEEK_END), 0);
	struct rc_npy_writer *w;
	int rc = rc_npy_writer_open(&w, "-", 4);
	if (rc == 0) {
		rc = rc_npy_writer_rows(w, m, 3);
		rc = rc ? rc : rc_npy_writer_close(w);
	}
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	ck_assert_int_eq(rc, 0);
	size_t la, lb;
	char *a = slurp(tmp("out"), &la), *b = slurp(fixture("f32_3x4.npy"), &lb);
	ck_assert(la == lb + 3 && memcmp(a, "xyz", 3) == 0 && memcmp(a + 3, b, lb) == 0);
	free(a);
	free(b);
}
END_TEST

/* A FIFO, forced: the rows are spilled, then copied after the header. */
START_TEST(test_write_pipe)
{
	float m[12];
	m34(m);
	ck_assert_int_eq(mkfifo(tmp("fifo"), 0600), 0);
	char fifo[4200], out[4200];
	snprintf(fifo, sizeof fifo, "%s", tmp("fifo"));
	snprintf(out, sizeof out, "%s", tmp("piped.npy"));
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {         /* the reader: cat fifo > out */
		FILE *in = fopen(fifo, "rb"), *o = fopen(out, "wb");
		char buf[4096];
		size_t n;
		while (in && o && (n = fread(buf, 1, sizeof buf, in)) > 0)
			fwrite(buf, 1, n, o);
		_exit(in && o && fclose(o) == 0 ? 0 : 1);
	}
	/* a FIFO at an output's name is written into only when forced (a
	 * tool's --force); else refused without opening it */
	struct rc_npy_writer *w;
	capture_begin();
	ck_assert_int_eq(rc_npy_writer_open(&w, fifo, 4), RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(capture_end(), "is a FIFO; refusing to write to it"));
	rc_atomic_set_force(1);
	ck_assert_int_eq(rc_npy_writer_open(&w, fifo, 4), 0);
	rc_atomic_set_force(0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(rc_npy_writer_rows(w, m + 4 * i, 1), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(same_file(out, fixture("f32_3x4.npy")));
}
END_TEST

/* Read from standard input, a pipe: the size is learned as data comes. */
START_TEST(test_read_stdin_pipe)
{
	size_t len;
	char *np = slurp(fixture("f32_3x4.npy"), &len);
	for (int cut = 0; cut < 2; cut++) {
		int p[2];
		ck_assert_int_eq(pipe(p), 0);
		pid_t pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(p[0]);
			size_t n = cut ? len - 1 : len;
			_exit(write(p[1], np, n) == (ssize_t)n ? 0 : 1);
		}
		close(p[1]);
		int saved = dup(0);
		dup2(p[0], 0);
		close(p[0]);
		clearerr(stdin);
		float *d = NULL;
		size_t n = 0, c = 0;
		capture_begin();
		int rc = rc_npy_read_f32("-", &d, &n, &c);
		const char *msg = capture_end();
		dup2(saved, 0);
		close(saved);
		clearerr(stdin);
		waitpid(pid, NULL, 0);
		if (cut) {
			ck_assert_int_eq(rc, RC_E_TRUNCATED);
			ck_assert_ptr_nonnull(strstr(msg, "-: truncated: shape (3, 4) "
						     "needs 48 bytes of data, the file "
						     "holds 47"));
			ck_assert_ptr_null(d);
		} else {
			ck_assert_int_eq(rc, 0);
			ck_assert(n == 3 && c == 4 && d[11] == 4.5f);
			free(d);
		}
	}
	free(np);
}
END_TEST

START_TEST(test_writer_errors)
{
	struct rc_npy_writer *w;
	float m[12];
	m34(m);
	/* Fewer rows than announced: error, and no file. */
	ck_assert_int_eq(rc_npy_writer_open_n(&w, tmp("few.npy"), 3, 4), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m, 2), 0);
	capture_begin();
	int rc = rc_npy_writer_close(w);
	const char *msg = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(msg, "few.npy: 2 rows written, 3 announced"));
	ck_assert_int_ne(access(tmp("few.npy"), F_OK), 0);
	/* More rows than announced. */
	ck_assert_int_eq(rc_npy_writer_open_n(&w, tmp("many.npy"), 2, 4), 0);
	capture_begin();
	rc = rc_npy_writer_rows(w, m, 3);
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(msg, "more than the 2 rows announced"));
	rc_npy_writer_abort(w);
	ck_assert_int_ne(access(tmp("many.npy"), F_OK), 0);
	/* Abort keeps the old file. */
	rc_test_write_file(tmp("old.npy"), "old", 3);
	ck_assert_int_eq(rc_npy_writer_open(&w, tmp("old.npy"), 4), 0);
	ck_assert_int_eq(rc_npy_writer_rows(w, m, 3), 0);
	rc_npy_writer_abort(w);
	size_t len;
	char *old = slurp(tmp("old.npy"), &len);
	ck_assert(len == 3 && memcmp(old, "old", 3) == 0);
	free(old);
	rc_npy_writer_abort(NULL);
	/* No such directory. */
	capture_begin();
	rc = rc_npy_writer_open(&w, tmp("no/dir.npy"), 4);
	capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_null(w);
}
END_TEST

/* A file of a v1.0 header around dict (padded like numpy) and ndata bytes. */
static int read_bad(const char *dict, int major, size_t ndata, const char **msg)
{
	char buf[1024] = {0};
	size_t dl = strlen(dict), lb = major == 1 ? 2 : 4;
	size_t hl = dl + 1;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (char)major;
	buf[7] = 0;
	buf[8] = (char)(hl & 0xff);
	buf[9] = (char)(hl >> 8);
	memcpy(buf + 8 + lb, dict, dl);
	buf[8 + lb + dl] = '\n';
	rc_test_write_file(tmp("bad.npy"), buf, 8 + lb + hl + ndata);
	float *d = (float *)1;
	size_t n, c;
	capture_begin();
	int rc = rc_npy_read_f32(tmp("bad.npy"), &d, &n, &c);
	*msg = capture_end();
	if (rc == 0)
		free(d);
	else
		ck_assert_ptr_null(d);
	return rc;
}

START_TEST(test_read_refuses)
{
	struct {
		const char *dict;
		int major;
		size_t ndata;
		int rc;
		const char *msg;
	} cases[] = {
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, 24, 0, ""},
		{"{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}", 1, 24, 0, ""},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}", 1, 24, 0, ""},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2, 24, 0, ""},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 3, 24, 0, ""},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 4, 24,
		 RC_E_VERSION, ".npy format version 4.0"},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 1, 48,
		 RC_E_UNSUPPORTED, "dtype '<f8': only little-endian float32"},
		{"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 1, 24,
		 RC_E_UNSUPPORTED, "dtype '>f4'"},
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 1, 24,
		 RC_E_UNSUPPORTED, "Fortran-order array"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 1, 24,
		 RC_E_UNSUPPORTED, "a 1-D array: only 2-D"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 1, 24,
		 RC_E_UNSUPPORTED, "a 3-D array"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 1, 4,
		 RC_E_UNSUPPORTED, "a 0-D array"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, 23,
		 RC_E_TRUNCATED, "truncated: shape (2, 3) needs 24 bytes of data, the "
		 "file holds 23"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1, 25,
		 RC_E_FORMAT, "1 bytes after the data of shape (2, 3)"},
		{"{'descr': '<f4', 'fortran_order': False}", 1, 0, RC_E_FORMAT,
		 "descr, fortran_order or shape missing"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", 1, 24,
		 RC_E_FORMAT, "unknown key"},
		{"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", 1, 24,
		 RC_E_FORMAT, "fortran_order is not True or False"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", 1, 24,
		 RC_E_FORMAT, "shape is not a tuple"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", 1, 24,
		 RC_E_FORMAT, "shape is not a tuple of integers"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", 1, 24,
		 RC_E_FORMAT, "text after the dict"},
		{"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", 1, 24,
		 RC_E_FORMAT, "expected ',' or '}'"},
		{"['descr']", 1, 0, RC_E_FORMAT, "no '{'"},
		{"{'descr: '<f4'}", 1, 0, RC_E_FORMAT, "malformed .npy header"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': "
		 "(99999999999999999999999, 3)}", 1, 0, RC_E_RANGE, "too large"},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': "
		 "(4611686018427387904, 4)}", 1, 0, RC_E_RANGE,
		 "shape (4611686018427387904, 4) is too large"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *msg;
		int rc = read_bad(cases[i].dict, cases[i].major, cases[i].ndata, &msg);
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d: %s", i, rc, msg);
		ck_assert_msg(strstr(msg, cases[i].msg), "case %zu: %s", i, msg);
		if (rc < 0)
			ck_assert_msg(strstr(msg, "bad.npy: ") &&
				      strchr(msg, '\n') == msg + strlen(msg) - 1,
				      "case %zu: %s", i, msg);
	}
}
END_TEST

START_TEST(test_read_refuses_raw)
{
	float *d;
	size_t n, c;
	struct {
		const char *bytes;
		size_t len;
		int rc;
		const char *msg;
	} cases[] = {
		{"", 0, RC_E_FORMAT, "not a NumPy .npy file"},
		{"PK\3\4", 4, RC_E_FORMAT, "no \\x93NUMPY magic"},
		{"\x93NUMPY", 6, RC_E_TRUNCATED, "file ends inside the .npy header"},
		{"\x93NUMPY\x01\x00\x10", 9, RC_E_TRUNCATED, "file ends inside"},
		{"\x93NUMPY\x01\x00\x10\x00{'de", 14, RC_E_TRUNCATED, "file ends inside"},
		{"\x93NUMPY\x01\x01\x00\x00", 10, RC_E_VERSION, "version 1.1"},
		{"\x93NUMPY\x02\x00\x01\x00\x01\x00", 12, RC_E_RANGE,
		 ".npy header of 65537 bytes"},
		{"\x93NUMPY\x02\x00\xff\xff\xff\xff", 12, RC_E_RANGE, "header of 4294967295"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rc_test_write_file(tmp("raw.npy"), cases[i].bytes, cases[i].len);
		capture_begin();
		int rc = rc_npy_read_f32(tmp("raw.npy"), &d, &n, &c);
		const char *msg = capture_end();
		ck_assert_msg(rc == cases[i].rc, "case %zu: rc %d: %s", i, rc, msg);
		ck_assert_msg(strstr(msg, cases[i].msg), "case %zu: %s", i, msg);
	}
	capture_begin();
	int rc = rc_npy_read_f32(tmp("missing.npy"), &d, &n, &c);
	capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
}
END_TEST

/* Write then read a bigger matrix through every mode. */
START_TEST(test_roundtrip_large)
{
	enum { N = 1000, D = 77 };
	float *m = malloc(sizeof(float) * N * D);
	for (size_t i = 0; i < (size_t)N * D; i++)
		m[i] = (float)i * 0.001f - 3.0f;
	struct rc_npy_writer *w;
	ck_assert_int_eq(rc_npy_writer_open(&w, tmp("big.npy"), D), 0);
	for (size_t r = 0; r < N; r += 64)
		ck_assert_int_eq(rc_npy_writer_rows(w, m + r * D, r + 64 <= N ? 64 : N - r), 0);
	ck_assert_int_eq(rc_npy_writer_close(w), 0);
	float *d;
	size_t n, c;
	ck_assert_int_eq(rc_npy_read_f32(tmp("big.npy"), &d, &n, &c), 0);
	ck_assert(n == N && c == D && memcmp(d, m, sizeof(float) * N * D) == 0);
	free(d);
	free(m);
	struct stat st;
	ck_assert_int_eq(stat(tmp("big.npy"), &st), 0);
	ck_assert_int_eq(st.st_size, 128 + 4 * N * D);
}
END_TEST

static Suite *npy_suite(void)
{
	Suite *s = suite_create("npy");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_header_as_numpy);
	tcase_add_test(tc, test_read_numpy_files);
	tcase_add_test(tc, test_write_modes);
	tcase_add_test(tc, test_write_stdout_file);
	tcase_add_test(tc, test_write_pipe);
	tcase_add_test(tc, test_read_stdin_pipe);
	tcase_add_test(tc, test_writer_errors);
	tcase_add_test(tc, test_read_refuses);
	tcase_add_test(tc, test_read_refuses_raw);
	tcase_add_test(tc, test_roundtrip_large);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_log_init("test_npy");
	return rc_test_run(npy_suite());
}
