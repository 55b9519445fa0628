/* synth.h - the synthetic "reasoning world": small drawn scenes, each built
 * around one fact of one reasoning category (S A H T P), with descriptive
 * captions, reasoning captions and a choice set whose negatives contradict
 * the fact while naming the same objects.
 *
 * Everything comes from (seed, index): scene i is the same whatever the
 * number of scenes asked for, and the same seed gives the same pixels and
 * texts on every run (a private xoshiro256** generator; no libm functions
 * that could round differently between systems). Only the split decides
 * which phrasings the texts use: the test split has sentence forms that
 * the train split never shows.
 *
 *     uint8_t rgb[128 * 128 * 3];
 *     struct rc_synth_sample s;
 *     int split = rc_synth_split(i, 0.2);
 *     if ((rc = rc_synth_render(seed, i, 64, split, rgb, &s)) < 0)
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

struct rc_synth_sample {
	int cat;                          /* 0..4: S A H T P */
	const char *kind;                 /* the scene type, e.g. "left-right" */
	char desc[3][RC_SYNTH_TEXT];      /* objects and attributes only */
	char trl[3][RC_SYNTH_TEXT];       /* three reasoning captions */
	char trp[RC_SYNTH_TEXT];          /* one reasoning caption */
	char cls_ls[3];                   /* the categories the image shows */
	char gt[RC_SYNTH_TEXT];           /* the choice set: true caption */
	char neg[4][RC_SYNTH_TEXT];       /* four false ones, distinct */
};

/* rc_synth_cat_code - 'S' 'A' 'H' 'T' 'P' for 0..4, '?' otherwise. */
char rc_synth_cat_code(int cat);

/* rc_synth_category - the category of scene index: index % 5, so that
 * every category has the same number of scenes (±1). */
int rc_synth_category(uint64_t index);

/* rc_synth_split - RC_SYNTH_TEST or RC_SYNTH_TRAIN for scene index when a
 * fraction test_frac (0..1) of each category goes to the test split:
 * scene k of its category (k = index / 5) is a test scene when
 * round((k+1)·f) > round(k·f), so the first m scenes of a category hold
 * round(m·f) test scenes, spread evenly. */
int rc_synth_split(uint64_t index, double test_frac);

/* rc_synth_render - draw scene index of the world seed into rgb (size ×
 * size × 3 bytes, row-major RGB; size in RC_SYNTH_MIN_SIZE..MAX_SIZE) and
 * write its texts into *out with the phrasings of split. The pixels do not
 * depend on split. key_objects 2..8 draws the key objects of every scene
 * (the ones its facts are about) from only the first key_objects colours
 * and shapes, so that many scenes share their objects and only the fact
 * tells them apart (0: every colour and shape; the default world).
 * Returns 0, or RC_E_ARG (not logged) for a bad size or split. Allocates
 * nothing; thread-safe. */
int rc_synth_render(uint64_t seed, uint64_t index, int size, int split, int key_objects,
	uint8_t *rgb, struct rc_synth_sample *out);

/* rc_synth_kind_name - the name of scene type k (0 <= k < rc_synth_nkinds()),
 * and its category; NULL past the end. */
int rc_synth_nkinds(void);
const char *rc_synth_kind_name(int k, int *cat);

/* rc_synth_phrasings - how many sentence forms the templates hold: core
 * templates and frames (the sentence around a core) of the reasoning
 * captions and of the descriptive ones, for split. Over all predicates. */
struct rc_synth_phrasings {
	int preds;                   /* reasoning predicates */
	int cores[2], frames[2];     /* [RC_SYNTH_TRAIN], [RC_SYNTH_TEST] */
	int cores_cat[RC_SYNTH_NCAT][2];
	int desc[2];                 /* descriptive frames */
};
void rc_synth_phrasings(struct rc_synth_phrasings *p);

#endif
