/* eval_fixtures.h - what the Check suites of rclip-eval share: running
 * rclip-eval --json in a fixture directory under tests/fixtures and reading
 * one task of that directory's expected.json (both fail the test on
 * error). Needs jansson and check.h. */
#ifndef RCLIP_EVAL_FIXTURES_H
#define RCLIP_EVAL_FIXTURES_H

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The report of `rclip-eval -q -j 2 --json -m MODEL ARGS` run in
 * tests/fixtures/DIR (the caller frees it). */
static inline json_t *rc_test_eval_run(const char *dir, const char *model, const char *args)
{
	const char *b = getenv("top_builddir"), *s = getenv("top_srcdir");
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "cd '%s/tests/fixtures/%s' && '%s/tools/rclip-eval' -q -j 2 "
		"--json -m %s %s", s ? s : ".", dir, b ? b : ".", model, args);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	json_error_t je;
	json_t *j = json_loadf(p, 0, &je);
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_msg(j != NULL, "%s: %s", cmd, je.text);
	return j;
}

/* rc_test_eval_run with the directory's own model/. */
static inline json_t *rc_test_eval_json(const char *dir, const char *args)
{
	return rc_test_eval_run(dir, "model", args);
}

/* expected.json[task] of tests/fixtures/DIR (the caller frees it). */
static inline json_t *rc_test_eval_expected(const char *dir, const char *task)
{
	const char *s = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/%s/expected.json", s ? s : ".", dir);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	ck_assert_msg(j != NULL, "%s: %s", path, je.text);
	json_t *t = json_incref(json_object_get(j, task));
	json_decref(j);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* metrics[name] has exactly want = [hits, total], and the rate printed
 * at the table's precision (0.01 %) is the reference's. */
static inline void rc_test_same_count(json_t *metrics, const char *name, json_t *want)
{
	json_t *m = json_object_get(metrics, name);
	ck_assert_msg(m != NULL, "no metric %s", name);
	long long h = json_integer_value(json_object_get(m, "hits"));
	long long n = json_integer_value(json_object_get(m, "total"));
	long long wh = json_integer_value(json_array_get(want, 0));
	long long wn = json_integer_value(json_array_get(want, 1));
	ck_assert_msg(h == wh && n == wn, "%s: %lld/%lld, reference %lld/%lld", name, h, n, wh, wn);
	char a[32], b[32];
	snprintf(a, sizeof a, "%.2f", 100 * json_real_value(json_object_get(m, "rate")));
	snprintf(b, sizeof b, "%.2f", 100.0 * (double)wh / (double)wn);
	ck_assert_str_eq(a, b);
}

/* The sets metrics of a report (overall and per tag) are x's exactly. */
static inline void rc_test_same_sets(json_t *metrics, json_t *x)
{
	rc_test_same_count(metrics, "overall", json_object_get(x, "overall"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(x, "tags"), k, v)
		rc_test_same_count(json_object_get(metrics, "tags"), k, v);
	ck_assert_int_eq(json_object_size(json_object_get(metrics, "tags")),
		json_object_size(json_object_get(x, "tags")));
}

/* Every "... R@K" [hits, total] of x exactly, every "... rank" number to
 * 1e-9, in metrics; returns how many were compared. */
static inline int rc_test_same_ranks(json_t *metrics, json_t *x)
{
	const char *k;
	json_t *v;
	int n = 0;
	json_object_foreach(x, k, v) {
		if (json_is_array(v) && strstr(k, " R@")) {
			rc_test_same_count(metrics, k, v);
		} else if (json_is_number(v) && strstr(k, " rank")) {
			double got = json_real_value(json_object_get(metrics, k));
			ck_assert_msg(fabs(got - json_number_value(v)) < 1e-9,
				"%s: %.17g, reference %.17g", k, got, json_number_value(v));
		} else {
			continue;
		}
		n++;
	}
	return n;
}

#endif
