/* synth.h - the synthetic "reasoning world": small drawn scenes, each built
 * around one fact of one reasoning category (S A H T P), with descriptive
 * captions, reasoning captions and a choice set whose negatives contradict
 * the fact while naming the same objects.
 *
 * Scenes come in families: the members of a family show the same objects
 * (kind, shapes, colours) in different facts (the ball left of the box,
 * then right of it; the red cup full, then empty), so that a batch holding
 * a family can only be told apart by its reasoning words. A family's
 * objects form its combination; the test split's families draw their
 * combinations from a part of the combination space that the train split
 * never uses, so test scenes are new pictures of new combinations.
 *
 * Everything comes from (world, index): scene i is the same whatever the
 * number of scenes asked for, and the same world gives the same pixels and
 * texts on every run (a private xoshiro256** generator; no libm functions
 * that could round differently between systems). The wording decides only
 * the sentences: training's, the fair test wording (new carrier sentences
 * made of training's words) or the hard one (sentence forms and words that
 * training never shows).
 *
 *     struct rc_synth_world w = { .seed = 1, .size = 64, .family = 4, .test_frac = 0.2 };
 *     uint8_t rgb[128 * 128 * 3];
 *     struct rc_synth_sample s;
 *     int split = rc_synth_split(&w, i);
 *     int words = split == RC_SYNTH_TEST ? RC_SYNTH_WORDS_FAIR : RC_SYNTH_WORDS_TRAIN;
 *     if ((rc = rc_synth_render(&w, i, words, rgb, &s)) < 0)
 *             return rc;
 *     encode(rgb); write(s.desc, s.trl, s.trp, s.gt, s.neg);
 */
#ifndef RCLIP_SYNTH_H
#define RCLIP_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#define RC_SYNTH_MIN_SIZE 64
#define RC_SYNTH_MAX_SIZE 128
#define RC_SYNTH_TEXT 200        /* bytes per text, NUL included */
#define RC_SYNTH_NCAT 5          /* S A H T P, as DESIGN.md numbers them */

enum { RC_SYNTH_TRAIN = 0, RC_SYNTH_TEST = 1 };

/* The sentences a sample is worded with. */
enum {
	RC_SYNTH_WORDS_TRAIN = 0,   /* training's templates and carrier sentences */
	RC_SYNTH_WORDS_HARD = 1,    /* test-only templates, words training never shows */
	RC_SYNTH_WORDS_FAIR = 2,    /* training's templates in carrier sentences that
	                               training never uses, made of its words */
	RC_SYNTH_NWORDS
};

#define RC_SYNTH_MAX_FAMILY 16

/* What decides every scene. */
struct rc_synth_world {
	uint64_t seed;
	int size;           /* image side, RC_SYNTH_MIN_SIZE..RC_SYNTH_MAX_SIZE */
	int key_objects;    /* 2..8: the objects the facts are about are drawn
	                       from only the first key_objects colours and
	                       shapes; 0: all (the default world) */
	int family;         /* scenes a family, 1..RC_SYNTH_MAX_FAMILY; family f
	                       is scenes f·family .. f·family + family - 1 */
	double test_frac;   /* the share of each category's families (and of
	                       the combinations) that is test, 0..1 */
};

struct rc_synth_sample {
	int cat;                          /* 0..4: S A H T P */
	const char *kind;                 /* the scene type, e.g. "left-right" */
	uint64_t combo;                   /* the family's combination: a hash of
	                                     its kind and its objects */
	char desc[3][RC_SYNTH_TEXT];      /* objects and attributes only */
	char trl[3][RC_SYNTH_TEXT];       /* three reasoning captions */
	char trp[RC_SYNTH_TEXT];          /* one reasoning caption */
	char cls_ls[3];                   /* the categories the image shows */
	char gt[RC_SYNTH_TEXT];           /* the choice set: true caption */
	char neg[4][RC_SYNTH_TEXT];       /* four false ones, distinct */
};

/* rc_synth_cat_code - 'S' 'A' 'H' 'T' 'P' for 0..4, '?' otherwise. */
char rc_synth_cat_code(int cat);

/* rc_synth_category - the category of scene index: that of its family,
 * family % 5, so that every category has the same number of families
 * (±1). */
int rc_synth_category(const struct rc_synth_world *w, uint64_t index);

/* rc_synth_split - RC_SYNTH_TEST or RC_SYNTH_TRAIN for scene index: family
 * k of its category (k = family / 5) is a test family when
 * round((k+1)·f) > round(k·f), f = w->test_frac, so the first m families
 * of a category hold round(m·f) test families, spread evenly. */
int rc_synth_split(const struct rc_synth_world *w, uint64_t index);

/* rc_synth_render - draw scene index of world w into rgb (w->size ×
 * w->size × 3 bytes, row-major RGB) and write its texts into *out, worded
 * with words (RC_SYNTH_WORDS_*). The pixels do not depend on words.
 * Returns 0, RC_E_ARG (not logged) for a bad world or words, or RC_E_RANGE
 * when no four distinct false captions could be written (a bug).
 * Allocates nothing; thread-safe. */
int rc_synth_render(const struct rc_synth_world *w, uint64_t index, int words, uint8_t *rgb,
	struct rc_synth_sample *out);

/* rc_synth_kind_name - the name of scene type k (0 <= k < rc_synth_nkinds()),
 * and its category; NULL past the end. */
int rc_synth_nkinds(void);
const char *rc_synth_kind_name(int k, int *cat);

/* rc_synth_phrasings - how many sentence forms the templates hold: core
 * templates and frames (the sentence around a core) of the reasoning
 * captions and of the descriptive ones, for split. Over all predicates. */
struct rc_synth_phrasings {
	int preds;                   /* reasoning predicates */
	int cores[2], frames[RC_SYNTH_NWORDS];  /* cores: [TRAIN], [HARD] (the
	                                           fair wording uses training's) */
	int cores_cat[RC_SYNTH_NCAT][2];
	int desc[RC_SYNTH_NWORDS];   /* descriptive frames */
};
void rc_synth_phrasings(struct rc_synth_phrasings *p);

#endif
