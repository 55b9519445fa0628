/* synth_check.c - the checks of synth_check.h: sets of 64-bit hashes of
 * training's words, captions and combinations, and the test samples'
 * kept until the counts are asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/log.h"
#include "synth/synth_check.h"

/* ---------------------------------------------------------------- sets */

/* A set of 64-bit hashes, open addressing; 0 is stored as a flag. */
struct set {
	uint64_t *v;
	size_t cap, n;
	int zero;
};

static int set_has(const struct set *s, uint64_t h)
{
	if (!h)
		return s->zero;
	for (size_t i = h & (s->cap - 1); s->cap && s->v[i]; i = (i + 1) & (s->cap - 1))
		if (s->v[i] == h)
			return 1;
	return 0;
}

/* set_put - add h; 1 when it is new, 0 when it was there, RC_E_NOMEM. */
static int set_put(struct set *s, uint64_t h)
{
	if (!h) {
		int fresh = !s->zero;
		s->zero = 1;
		return fresh;
	}
	if (set_has(s, h))
		return 0;
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		uint64_t *v = calloc(cap, sizeof *v);
		if (!v)
			return RC_E_NOMEM;
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t j = s->v[i] & (cap - 1);
				while (v[j])
					j = (j + 1) & (cap - 1);
				v[j] = s->v[i];
			}
		free(s->v);
		s->v = v, s->cap = cap;
	}
	size_t i = h & (s->cap - 1);
	while (s->v[i])
		i = (i + 1) & (s->cap - 1);
	s->v[i] = h;
	s->n++;
	return 1;
}

/* A growing list of hashes. */
struct list {
	uint64_t *v;
	size_t n, cap;
};

static int list_put(struct list *l, uint64_t h)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		uint64_t *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return RC_E_NOMEM;
		l->v = v, l->cap = cap;
	}
	l->v[l->n++] = h;
	return 0;
}

/* ---------------------------------------------------------------- check */

struct test_words {
	struct set seen;          /* distinct words of this wording's test texts */
	struct list words;        /* their hashes, in first-seen order */
	char **text;              /* and their spellings */
	struct list caps, combos;
	long scenes;
};

struct rc_synth_check {
	struct set words, caps, combos;   /* training's */
	struct test_words test[RC_SYNTH_NWORDS];
};

int rc_synth_check_new(struct rc_synth_check **out)
{
	if (!(*out = calloc(1, sizeof **out)))
		return rc_log_error(RC_E_NOMEM, "out of memory");
	return 0;
}

void rc_synth_check_free(struct rc_synth_check *c)
{
	if (!c)
		return;
	free(c->words.v);
	free(c->caps.v);
	free(c->combos.v);
	for (int w = 0; w < RC_SYNTH_NWORDS; w++) {
		struct test_words *t = &c->test[w];
		for (size_t i = 0; i < t->words.n; i++)
			free(t->text[i]);
		free(t->text);
		free(t->seen.v);
		free(t->words.v);
		free(t->caps.v);
		free(t->combos.v);
	}
	free(c);
}

/* normalise - s lowercased, runs of other characters than ASCII letters
 * and digits one space, trimmed, into buf (RC_SYNTH_TEXT bytes). Bytes
 * over 0x7f are kept: they are letters of some script. */
static size_t normalise(const char *s, char *buf)
{
	size_t n = 0;
	int gap = 0;
	for (; *s && n + 2 < RC_SYNTH_TEXT; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		int word = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch >= 0x80;
		if (!word) {
			gap = n > 0;
			continue;
		}
		if (gap)
			buf[n++] = ' ';
		gap = 0;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	return n;
}

/* add_text - one text: its hash to caps (a set for training, a list for a
 * test wording), its words to training's set or to the wording's. */
static int add_text(struct rc_synth_check *c, struct test_words *t, const char *text)
{
	char norm[RC_SYNTH_TEXT];
	size_t n = normalise(text, norm);
	int rc = t ? list_put(&t->caps, rc_hash64(norm, n)) : set_put(&c->caps, rc_hash64(norm, n));
	for (size_t i = 0; rc >= 0 && i < n;) {
		size_t j = i;
		while (j < n && norm[j] != ' ')
			j++;
		uint64_t h = rc_hash64(norm + i, j - i);
		if (!t) {
			rc = set_put(&c->words, h);
		} else if ((rc = set_put(&t->seen, h)) > 0) {
			char **text2 = realloc(t->text, (t->words.n + 1) * sizeof *text2);
			if (!text2 || !(text2[t->words.n] = strndup(norm + i, j - i))) {
				if (text2)
					t->text = text2;
				return rc_log_error(RC_E_NOMEM, "out of memory");
			}
			t->text = text2;
			rc = list_put(&t->words, h);
		}
		i = j + 1;
	}
	return rc < 0 ? rc_log_error(RC_E_NOMEM, "out of memory") : 0;
}

int rc_synth_check_add(struct rc_synth_check *c, int split, int words,
	const struct rc_synth_sample *s)
{
	if (words < 0 || words >= RC_SYNTH_NWORDS)
		return RC_E_ARG;
	struct test_words *t = split == RC_SYNTH_TEST ? &c->test[words] : NULL;
	int rc = t ? list_put(&t->combos, s->combo) : set_put(&c->combos, s->combo);
	if (rc < 0)
		return rc_log_error(RC_E_NOMEM, "out of memory");
	if (t)
		t->scenes++;
	/* training's texts: what it trains on; a test sample: all of it */
	for (int i = 0; rc >= 0 && i < 3; i++)
		rc = add_text(c, t, s->desc[i]);
	for (int i = 0; rc >= 0 && i < 3; i++)
		rc = add_text(c, t, s->trl[i]);
	if (rc >= 0)
		rc = add_text(c, t, s->trp);
	if (t && rc >= 0)
		rc = add_text(c, t, s->gt);
	for (int i = 0; t && rc >= 0 && i < 4; i++)
		rc = add_text(c, t, s->neg[i]);
	return rc < 0 ? rc : 0;
}

void rc_synth_check_result(const struct rc_synth_check *c, struct rc_synth_check_result *r)
{
	memset(r, 0, sizeof *r);
	int counted = 0;   /* the combinations: those of one wording's samples */
	for (int w = 0; w < RC_SYNTH_NWORDS; w++) {
		const struct test_words *t = &c->test[w];
		r->test_scenes[w] = t->scenes;
		for (size_t i = 0; !counted && i < t->combos.n; i++)
			r->combos_in_train += set_has(&c->combos, t->combos.v[i]);
		counted |= t->combos.n > 0;
		for (size_t i = 0; i < t->caps.n; i++)
			r->captions_in_train[w] += set_has(&c->caps, t->caps.v[i]);
		for (size_t i = 0; i < t->words.n; i++)
			if (!set_has(&c->words, t->words.v[i]) && r->unseen_words[w]++ == 0)
				snprintf(r->unseen_example[w], sizeof r->unseen_example[w], "%s",
					t->text[i]);
	}
}
