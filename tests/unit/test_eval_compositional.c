/* test_eval_compositional - rclip-eval on the compositional benchmarks in
 * their released formats (tests/fixtures/compositional, written by
 * gen_compositional.py from each format's published description, with the
 * tiny model of tests/fixtures/eval): SugarCrepe, What'sUp (controlled
 * images and COCO-QA), VALSE (its validated set) and Winoground must give
 * the counts, per-tag counts and per-item decisions that the benchmarks'
 * published evaluation code gives, with the commands rclip-eval(1) lists. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "eval_fixtures.h"
#include "testutil.h"

static json_t *expected(const char *bench)
{
	return rc_test_eval_expected("compositional", bench);
}

/* The report of sets ARGS agrees with expected[bench] in every count and
 * every item's decision (and choice, where it has one). */
static void check_sets(const char *args, const char *bench)
{
	json_t *r = rc_test_eval_run("compositional", "../eval/model", args), *x = expected(bench);
	rc_test_same_sets(json_object_get(r, "metrics"), x);
	json_t *got = json_object_get(r, "items"), *want = json_object_get(x, "items"), *v;
	size_t i;
	ck_assert_int_eq(json_array_size(got), json_array_size(want));
	json_array_foreach(want, i, v) {
		json_t *g = json_array_get(got, i);
		const char *id = json_string_value(json_object_get(v, "id"));
		ck_assert_str_eq(json_string_value(json_object_get(g, "id")), id);
		ck_assert_msg(json_equal(json_object_get(g, "correct"), json_object_get(v, "correct")),
			"%s %s: correct differs", bench, id);
		if (json_object_get(v, "choice"))
			ck_assert_msg(json_equal(json_object_get(g, "choice"), json_object_get(v, "choice")),
				"%s %s: choice differs", bench, id);
	}
	const char *k[] = {"malformed_records", "unvalidated"};
	for (int q = 0; q < 2; q++)
		if (json_object_get(x, k[q]))
			ck_assert_int_eq(json_integer_value(json_object_get(r, k[q])),
				json_integer_value(json_object_get(x, k[q])));
	json_decref(r);
	json_decref(x);
}

START_TEST(sugarcrepe)
{
	check_sets("sets sugarcrepe/add_att.json", "sugarcrepe");
	check_sets("sets --format sugarcrepe sugarcrepe/add_att.json", "sugarcrepe");
}
END_TEST

START_TEST(whatsup)
{
	check_sets("sets whatsup/controlled_images_dataset.json", "whatsup");
	check_sets("sets --image-root whatsup/val2017 whatsup/coco_qa_one_obj.json", "coco_qa");
}
END_TEST

START_TEST(valse)
{
	check_sets("sets valse/existence.json", "valse");
}
END_TEST

START_TEST(winoground)
{
	json_t *r = rc_test_eval_run("compositional", "../eval/model",
		"winoground winoground/examples.jsonl"), *x = expected("winoground");
	json_t *m = json_object_get(r, "metrics");
	static const char *const names[3] = {"text score", "image score", "group score"};
	for (int q = 0; q < 3; q++)
		rc_test_same_count(m, names[q], json_object_get(x, names[q]));
	const char *tag;
	json_t *v;
	json_object_foreach(json_object_get(x, "tags"), tag, v)
		for (int q = 0; q < 3; q++)
			rc_test_same_count(json_object_get(json_object_get(m, "tags"), tag), names[q],
				json_array_get(v, (size_t)q));
	json_t *got = json_object_get(r, "items");
	size_t i;
	json_array_foreach(json_object_get(x, "items"), i, v) {
		json_t *g = json_array_get(got, i);
		ck_assert_str_eq(json_string_value(json_object_get(g, "id")),
			json_string_value(json_object_get(v, "id")));
		static const char *const f[3] = {"text", "image", "correct"};
		for (int q = 0; q < 3; q++)
			ck_assert_msg(json_equal(json_object_get(g, f[q]), json_object_get(v, f[q])),
				"winoground %zu: %s differs", i, f[q]);
	}
	ck_assert_int_eq(json_integer_value(json_object_get(r, "malformed_records")), 1);
	json_decref(r);
	json_decref(x);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eval_compositional");
	TCase *tc = tcase_create("formats");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sugarcrepe);
	tcase_add_test(tc, whatsup);
	tcase_add_test(tc, valse);
	tcase_add_test(tc, winoground);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
