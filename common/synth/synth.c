/* synth.c - one sample of the synthetic world: draw scene (seed, index)
 * and write its captions: three descriptive, three reasoning (ReasonLite),
 * one reasoning with its categories (ReasonPro), and a choice set of the
 * true caption and four distinct false ones in the same frame. */
#include <string.h>

#include "base/error.h"
#include "synth/synth_impl.h"

char rc_synth_cat_code(int cat)
{
	return cat >= 0 && cat < RC_SYNTH_NCAT ? "SAHTP"[cat] : '?';
}

int rc_synth_category(uint64_t index)
{
	return (int)(index % RC_SYNTH_NCAT);
}

int rc_synth_split(uint64_t index, double test_frac)
{
	double k = (double)(index / RC_SYNTH_NCAT);
	/* rounded counts of test scenes among the first k and k+1 */
	uint64_t a = (uint64_t)(k * test_frac + 0.5), b = (uint64_t)((k + 1) * test_frac + 0.5);
	return b > a ? RC_SYNTH_TEST : RC_SYNTH_TRAIN;
}

int rc_synth_nkinds(void)
{
	return syn_nkinds();
}

const char *rc_synth_kind_name(int k, int *cat)
{
	if (k < 0 || k >= syn_nkinds())
		return NULL;
	if (cat)
		*cat = syn_kind_cat[k];
	return syn_kind_names[k];
}

static int seen(char (*list)[RC_SYNTH_TEXT], int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

/* Three distinct texts when the templates allow, else repeats. */
static void desc3(const struct syn_scene *sc, struct syn_rng *r, int split,
	char (*out)[RC_SYNTH_TEXT])
{
	int n = 0, nf = syn_text_nframes(split, 1);
	for (int tries = 0; n < 3 && tries < 40; tries++) {
		syn_text_desc(sc, r, split, syn_int(r, nf), out[n]);
		n += !seen(out, n, out[n]);
	}
	for (; n < 3; n++)
		memcpy(out[n], out[0], RC_SYNTH_TEXT);
}

static void trl3(const struct syn_scene *sc, struct syn_rng *r, int split,
	char (*out)[RC_SYNTH_TEXT])
{
	int n = 0, nf = syn_text_nframes(split, 0), k = syn_int(r, sc->ntrue);
	for (int tries = 0; n < 3 && tries < 40; tries++) {
		const struct syn_reading *rd = &sc->truth[(k + tries) % sc->ntrue];
		syn_text_reading(sc, rd, r, split, syn_int(r, nf), out[n]);
		n += !seen(out, n, out[n]);
	}
	for (; n < 3; n++)
		memcpy(out[n], out[0], RC_SYNTH_TEXT);
}

/* The choice set: the scene's main truth and four lies, all in one frame
 * so that the frame tells nothing. Every scene has at least four lies, and
 * lies are distinct readings, but two readings can share a sentence (A
 * left of B, B right of A): such a repeat is rendered again. */
static int choice(const struct syn_scene *sc, struct syn_rng *r, int split,
	struct rc_synth_sample *out)
{
	int frame = syn_int(r, syn_text_nframes(split, 0));
	int order[SYN_MAXREAD], n = 0;
	char (*neg)[RC_SYNTH_TEXT] = out->neg;
	syn_text_reading(sc, &sc->truth[sc->main_truth], r, split, frame, out->gt);
	for (int i = 0; i < sc->nlie; i++)
		order[i] = i;
	for (int i = sc->nlie - 1; i > 0; i--) {
		int j = syn_int(r, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < sc->nlie && n < 4; i++)
		for (int tries = 0; tries < 8; tries++) {
			syn_text_reading(sc, &sc->lie[order[i]], r, split, frame, neg[n]);
			if (strcmp(neg[n], out->gt) && !seen(neg, n, neg[n])) {
				n++;
				break;
			}
		}
	return n == 4 ? 0 : RC_E_RANGE;
}

int rc_synth_render(uint64_t seed, uint64_t index, int size, int split, int key_objects,
	uint8_t *rgb, struct rc_synth_sample *out)
{
	if (size < RC_SYNTH_MIN_SIZE || size > RC_SYNTH_MAX_SIZE || !rgb || !out ||
	    (split != RC_SYNTH_TRAIN && split != RC_SYNTH_TEST))
		return RC_E_ARG;
	/* the pixels from one stream, the texts of each split from another */
	struct syn_rng pr, tr;
	syn_rng_seed(&pr, seed, index, 0);
	syn_rng_seed(&tr, seed, index, 1 + (uint64_t)split);
	struct syn_canvas c = { .px = rgb, .size = size };
	struct syn_scene sc;
	syn_scene_draw(&sc, &c, &pr, rc_synth_category(index), key_objects);

	memset(out, 0, sizeof *out);
	out->cat = sc.cat;
	out->kind = syn_kind_names[sc.kind];
	memcpy(out->cls_ls, sc.cls_ls, 3);
	desc3(&sc, &tr, split, out->desc);
	trl3(&sc, &tr, split, out->trl);
	syn_text_reading(&sc, &sc.truth[syn_int(&tr, sc.ntrue)], &tr, split,
		syn_int(&tr, syn_text_nframes(split, 0)), out->trp);
	return choice(&sc, &tr, split, out);
}
