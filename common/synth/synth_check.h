/* synth_check.h - what rclip-synth checks about the world it wrote: that
 * the test split is new pictures of new combinations in words training
 * has met, or, for the hard wording, how many it has not.
 *
 *     struct rc_synth_check *ck;
 *     if ((rc = rc_synth_check_new(&ck)) < 0)
 *             return rc;
 *     for (each scene)
 *             rc_synth_check_add(ck, split, words, &sample);   // train first or not
 *     struct rc_synth_check_result res;
 *     rc_synth_check_result(ck, &res);
 *     rc_synth_check_free(ck);
 *
 * Training's texts are the ones a model trains on: the descriptive, the
 * ReasonLite and the ReasonPro captions of train scenes (not the train
 * choice sets). A caption is compared normalised: lowercase, every run of
 * characters other than letters and digits one space, no space at either
 * end.
 */
#ifndef RCLIP_SYNTH_CHECK_H
#define RCLIP_SYNTH_CHECK_H

#include "synth/synth.h"

struct rc_synth_check;

struct rc_synth_check_result {
	long test_scenes[RC_SYNTH_NWORDS];   /* test samples added, per wording */
	long combos_in_train;    /* test samples whose combination a train
	                            sample has (counted over the samples of
	                            the first wording that has any) */
	long captions_in_train[RC_SYNTH_NWORDS];  /* test texts (all of them:
	                            descriptive, reasoning, the choice sets)
	                            equal to a training text, normalised */
	long unseen_words[RC_SYNTH_NWORDS];  /* distinct words of the test texts
	                            that no training text uses */
	char unseen_example[RC_SYNTH_NWORDS][48];  /* the first of them, "" if none */
};

/* rc_synth_check_new - an empty check. Returns 0 with *out, or RC_E_NOMEM
 * (logged). */
int rc_synth_check_new(struct rc_synth_check **out);

/* rc_synth_check_add - the texts and combination of a sample of split
 * (RC_SYNTH_TRAIN or RC_SYNTH_TEST) worded with words; train samples are
 * expected worded RC_SYNTH_WORDS_TRAIN. Samples may come in any order.
 * Returns 0 or RC_E_NOMEM (logged). */
int rc_synth_check_add(struct rc_synth_check *c, int split, int words,
	const struct rc_synth_sample *s);

/* rc_synth_check_result - the counts, comparing every test sample added
 * with every train sample added. */
void rc_synth_check_result(const struct rc_synth_check *c, struct rc_synth_check_result *r);

void rc_synth_check_free(struct rc_synth_check *c);

#endif
