/* clip_fixtures.h - reading the CLIP parity fixtures of tests/fixtures/clip/
 * (written by gen_clip.py) in the Check suites: paths, presence, tensors
 * as floats, token ids. */
#ifndef RCLIP_CLIP_FIXTURES_H
#define RCLIP_CLIP_FIXTURES_H

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/safetensors.h"

/* fixture - tests/fixtures/clip/NAME[/FILE] under $top_srcdir, in one of 4
 * rotating static buffers. */
static inline const char *fixture(const char *name, const char *file)
{
	static char path[4][4096];
	static int k;
	const char *top = getenv("top_srcdir");
	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/tests/fixtures/clip/%s%s%s", top ? top : ".", name,
		file ? "/" : "", file ? file : "");
	return path[k];
}

static inline int fixture_present(const char *name)
{
	const char *files[] = { "config.json", "model.safetensors", "inputs.safetensors",
		"outputs.safetensors" };
	for (int i = 0; i < 4; i++)
		if (access(fixture(name, files[i]), R_OK) != 0)
			return 0;
	return 1;
}

/* read_f32 - tensor name of st as floats (malloc'd), *n elements (a 0-dim
 * tensor is one). */
static inline float *read_f32(const struct rc_st *st, const char *name, size_t *n)
{
	const struct rc_st_tensor *t = rc_st_find(st, name);
	ck_assert_msg(t != NULL, "%s: no tensor %s", rc_st_name(st), name);
	size_t ne = t->nelem ? t->nelem : 1;
	float *p = malloc(ne * sizeof *p);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(rc_st_read_f32(st, t, p, ne), 0);
	*n = ne;
	return p;
}

/* read_ids - input_ids (I64, read from the raw little-endian data) as
 * int32, B rows of T (malloc'd). */
static inline int32_t *read_ids(const struct rc_st *st, int *B, int *T)
{
	const struct rc_st_tensor *t = rc_st_find(st, "input_ids");
	ck_assert(t && t->dtype == RC_ST_I64 && t->ndim == 2);
	*B = (int)t->shape[0], *T = (int)t->shape[1];
	int32_t *ids = malloc(t->nelem * sizeof *ids);
	ck_assert_ptr_nonnull(ids);
	for (size_t i = 0; i < t->nelem; i++) {
		int64_t v;
		memcpy(&v, (const char *)t->data + 8 * i, 8);
		ids[i] = (int32_t)v;
	}
	return ids;
}

#endif
