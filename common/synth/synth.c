/* synth.c - one sample of the synthetic world: draw scene index of a
 * world (its family's kind and objects, its own fact) and write its
 * captions: three descriptive, three reasoning (ReasonLite),
 * one reasoning with its categories (ReasonPro), and a choice set of the
 * true caption and four distinct false ones in the same frame. */
#include <string.h>

#include "base/error.h"
#include "synth/synth_impl.h"

char rc_synth_cat_code(int cat)
{
	return cat >= 0 && cat < RC_SYNTH_NCAT ? "SAHTP"[cat] : '?';
}

static int world_ok(const struct rc_synth_world *w)
{
	return w && w->size >= RC_SYNTH_MIN_SIZE && w->size <= RC_SYNTH_MAX_SIZE &&
		w->family >= 1 && w->family <= RC_SYNTH_MAX_FAMILY &&
		w->test_frac >= 0 && w->test_frac <= 1;
}

int rc_synth_category(const struct rc_synth_world *w, uint64_t index)
{
	return (int)(index / (uint64_t)w->family % RC_SYNTH_NCAT);
}

int rc_synth_split(const struct rc_synth_world *w, uint64_t index)
{
	double k = (double)(index / (uint64_t)w->family / RC_SYNTH_NCAT);
	/* rounded counts of test families among the first k and k+1 */
	uint64_t a = (uint64_t)(k * w->test_frac + 0.5), b = (uint64_t)((k + 1) * w->test_frac + 0.5);
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
static void desc3(const struct syn_scene *sc, struct syn_rng *r, int words,
	char (*out)[RC_SYNTH_TEXT])
{
	int n = 0, nf = syn_text_nframes(words, 1);
	for (int tries = 0; n < 3 && tries < 40; tries++) {
		syn_text_desc(sc, r, words, syn_int(r, nf), out[n]);
		n += !seen(out, n, out[n]);
	}
	for (; n < 3; n++)
		memcpy(out[n], out[0], RC_SYNTH_TEXT);
}

static void trl3(const struct syn_scene *sc, struct syn_rng *r, int words,
	char (*out)[RC_SYNTH_TEXT])
{
	int n = 0, nf = syn_text_nframes(words, 0), k = syn_int(r, sc->ntrue);
	for (int tries = 0; n < 3 && tries < 40; tries++) {
		const struct syn_reading *rd = &sc->truth[(k + tries) % sc->ntrue];
		syn_text_reading(sc, rd, r, words, syn_int(r, nf), out[n]);
		n += !seen(out, n, out[n]);
	}
	for (; n < 3; n++)
		memcpy(out[n], out[0], RC_SYNTH_TEXT);
}

/* The choice set: the scene's main truth and four lies, all in one frame
 * so that the frame tells nothing, and naming the same objects as the
 * truth, so that naming objects tells nothing either: the lies that
 * differ from the truth in the fact alone (the state flipped, the
 * relation or the roles swapped, the other outcome), each once, then
 * again in other sentences of the same wrong fact, and only when those
 * run out (no scene so far) lies about other objects. Two readings can
 * share a sentence (A left of B, B right of A): such a repeat is rendered
 * again. */
static int choice(const struct syn_scene *sc, struct syn_rng *r, int words,
	struct rc_synth_sample *out)
{
	int frame = syn_int(r, syn_text_nframes(words, 0));
	int order[SYN_MAXREAD], n = 0, nmin = 0;
	char (*neg)[RC_SYNTH_TEXT] = out->neg;
	const struct syn_reading *truth = &sc->truth[sc->main_truth];
	syn_text_reading(sc, truth, r, words, frame, out->gt);
	for (int i = 0; i < sc->nlie; i++)
		order[i] = i;
	for (int i = sc->nlie - 1; i > 0; i--) {
		int j = syn_int(r, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	/* the minimal lies first, in their shuffled order */
	for (int i = 0; i < sc->nlie; i++)
		if (syn_reading_objects(&sc->lie[order[i]]) == syn_reading_objects(truth)) {
			int t = order[i];
			order[i] = order[nmin];
			order[nmin++] = t;
		}
	for (int pass = 0; pass < 9 && n < 4; pass++) {
		int end = pass < 8 ? nmin : sc->nlie;
		for (int i = pass < 8 ? 0 : nmin; i < end && n < 4; i++)
			for (int tries = 0; tries < 8; tries++) {
				syn_text_reading(sc, &sc->lie[order[i]], r, words, frame, neg[n]);
				if (strcmp(neg[n], out->gt) && !seen(neg, n, neg[n])) {
					n++;
					break;
				}
			}
	}
	return n == 4 ? 0 : RC_E_RANGE;
}

static uint64_t mix64(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15u + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9u;
	return h ^ h >> 29;
}

/* combination - a hash of the scene's family kind and its coloured key
 * objects as a set (noun and colour, sorted: the members that swap their
 * roles share it); grey and uncoloured props (stands, posts, the person)
 * are the same in every scene of a kind and left out. */
static uint64_t combination(uint64_t seed, const struct syn_scene *sc)
{
	uint32_t k[SYN_MAXOBJ];
	int n = 0;
	for (int i = 0; i < sc->nobj; i++)
		if (sc->obj[i].key && sc->obj[i].colour >= 0 && sc->obj[i].colour < NCOLOURS)
			k[n++] = (uint32_t)sc->obj[i].noun << 8 | (uint32_t)sc->obj[i].colour;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && k[j - 1] > k[j]; j--) {
			uint32_t t = k[j];
			k[j] = k[j - 1], k[j - 1] = t;
		}
	uint64_t h = mix64(seed, (uint64_t)sc->group + 1);
	for (int i = 0; i < n; i++)
		h = mix64(h, k[i]);
	return h;
}

/* Which split a combination belongs to: the hash's top 53 bits as a
 * fraction, test below test_frac. */
static int combination_split(uint64_t combo, double test_frac)
{
	double u = (double)(combo >> 11) * 0x1.0p-53;
	return u < test_frac ? RC_SYNTH_TEST : RC_SYNTH_TRAIN;
}

/* The family's draws are tried until its combination falls in its split's
 * part of the combination space; a world too small to have one there (a
 * low --key-objects) gives up after this many and takes the last (the
 * generator's check counts such scenes). */
#define COMBO_TRIES 400

int rc_synth_render(const struct rc_synth_world *w, uint64_t index, int words, uint8_t *rgb,
	struct rc_synth_sample *out)
{
	if (!world_ok(w) || !rgb || !out || words < 0 || words >= RC_SYNTH_NWORDS)
		return RC_E_ARG;
	const uint64_t fam = index / (uint64_t)w->family;
	const int split = rc_synth_split(w, index), cat = rc_synth_category(w, index);
	struct syn_canvas c = { .px = rgb, .size = w->size };
	struct syn_scene sc;
	for (int t = 0; t < COMBO_TRIES; t++) {
		/* the pixels from the member's stream and the family's, the
		 * texts of each wording from a stream of their own */
		struct syn_rng pr, fr;
		syn_rng_seed(&pr, w->seed, index, 0);
		syn_rng_seed(&fr, w->seed, fam, 16 + (uint64_t)t);
		int m = syn_int(&fr, 64) + (int)(index % (uint64_t)w->family);
		syn_scene_draw(&sc, &c, &pr, &fr, m, cat, w->key_objects);
		out->combo = combination(w->seed, &sc);
		if (combination_split(out->combo, w->test_frac) == split)
			break;
	}
	struct syn_rng tr;
	syn_rng_seed(&tr, w->seed, index, 1 + (uint64_t)words);
	uint64_t combo = out->combo;
	memset(out, 0, sizeof *out);
	out->combo = combo;
	out->cat = sc.cat;
	out->kind = syn_kind_names[sc.kind];
	memcpy(out->cls_ls, sc.cls_ls, 3);
	desc3(&sc, &tr, words, out->desc);
	trl3(&sc, &tr, words, out->trl);
	syn_text_reading(&sc, &sc.truth[syn_int(&tr, sc.ntrue)], &tr, words,
		syn_int(&tr, syn_text_nframes(words, 0)), out->trp);
	return choice(&sc, &tr, words, out);
}
