/* synth_scene.c - what every scene of the synthetic world is made with:
 * the colour, noun and kind tables, and the helpers the kinds
 * (synth_kinds.c) place objects with (a colour not taken yet, free space,
 * distractors) and record what the picture makes true and false. A false
 * reading is only listed when the picture contradicts it. */
#include <string.h>

#include "synth/synth_scene.h"

const char *const syn_colour_name[NCOLOURS + 1] = {
	"red", "green", "blue", "yellow", "purple", "orange", "black", "pink", "grey",
};
const struct syn_rgb syn_palette[NCOLOURS + 1] = {
	{ 205, 40, 40 }, { 40, 150, 60 }, { 40, 75, 205 }, { 235, 200, 35 },
	{ 135, 55, 170 }, { 240, 130, 30 }, { 30, 30, 30 }, { 240, 120, 185 },
	{ 128, 128, 128 },
};

const char *const syn_noun_name[N_NOUNS][2] = {
	{ "ball", "balls" }, { "box", "boxes" }, { "triangle", "triangles" },
	{ "ring", "rings" }, { "diamond", "diamonds" }, { "frame", "frames" },
	{ "hoop", "hoops" }, { "cup", "cups" }, { "box", "boxes" }, { "vase", "vases" },
	{ "lamp", "lamps" }, { "block", "blocks" }, { "plank", "planks" },
	{ "post", "posts" }, { "ramp", "ramps" }, { "stand", "stands" },
	{ "person", "people" },
};

const char *const syn_kind_names[NKINDS] = {
	"left-right", "above-below", "inside", "occluded", "near-far",
	"full-empty", "open-closed", "broken-intact", "lit-unlit",
	"reach", "look", "carry", "heading", "before-after", "stack", "slope", "support",
};
const int syn_kind_cat[NKINDS] = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4 };

int syn_nkinds(void)
{
	return NKINDS;
}

/* ---------------------------------------------------------------- context */



double syn_sqrt(double v)
{
	/* Newton from a guess above the root: only + * /, so the same
	 * everywhere; v is a squared length here, between 1e-4 and 2 */
	double x = v > 1 ? v : 1;
	for (int i = 0; i < 60; i++)
		x = 0.5 * (x + v / x);
	return x;
}

int syn_pick_colour(struct ctx *x, unsigned exclude)
{
	unsigned avail = ~(x->used | exclude) & ((1u << NCOLOURS) - 1);
	unsigned key = avail & ((1u << x->kcol) - 1);
	if (!x->distract && key)
		avail = key;
	/* a key object's colour is the family's, a distractor's the member's */
	int n = __builtin_popcount(avail), k = syn_int(x->distract ? x->r : x->fr, n);
	for (int i = 0; i < NCOLOURS; i++)
		if ((avail >> i & 1) && k-- == 0) {
			x->used |= 1u << i;
			return i;
		}
	return GREY;   /* unreachable: at most 6 colours a scene */
}

/* syn_key_shape - one of the first n shapes of list (at most the key
 * objects' shape limit), the family's choice. */
int syn_key_shape(struct ctx *x, const int *list, int n)
{
	return list[syn_int(x->fr, n < x->kshape ? n : x->kshape)];
}

/* syn_role - bit of the member number: bit 0 swaps the two key objects'
 * roles, the next bits choose the rest of the fact. */
int syn_role(const struct ctx *x, int bit)
{
	return x->m >> bit & 1;
}

void syn_roles(const struct ctx *x, int *a, int *b)
{
	if (syn_role(x, 0)) {
		int t = *a;
		*a = *b, *b = t;
	}
}

static struct syn_rgb jitter(struct ctx *x, struct syn_rgb c)
{
	int v[3] = { c.r, c.g, c.b };
	for (int i = 0; i < 3; i++) {
		v[i] += syn_int(x->r, 25) - 12;
		v[i] = v[i] < 0 ? 0 : v[i] > 255 ? 255 : v[i];
	}
	return (struct syn_rgb){ (uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2] };
}

/* add - a named object; its drawing colour is x->rgb[index]. */
int syn_add(struct ctx *x, int noun, int colour, int count, int size)
{
	struct syn_scene *sc = x->sc;
	int i = sc->nobj++;
	sc->obj[i] = (struct syn_obj){ noun, colour, count, size, !x->distract };
	x->rgb[i] = jitter(x, syn_palette[colour < 0 ? BLACK : colour]);
	return i;
}

int syn_add_coloured(struct ctx *x, int noun, unsigned exclude)
{
	return syn_add(x, noun, syn_pick_colour(x, exclude), 1, 0);
}

void syn_occupy(struct ctx *x, double x0, double y0, double x1, double y1)
{
	if (x->nocc < 16) {
		double *o = x->occ[x->nocc++];
		o[0] = x0, o[1] = y0, o[2] = x1, o[3] = y1;
	}
}

int syn_is_free(const struct ctx *x, double x0, double y0, double x1, double y1, double m)
{
	for (int i = 0; i < x->nocc; i++) {
		const double *o = x->occ[i];
		if (x0 < o[2] + m && x1 > o[0] - m && y0 < o[3] + m && y1 > o[1] - m)
			return 0;
	}
	return 1;
}

void syn_truth(struct syn_scene *sc, int pred, int a, int b, int s, int t)
{
	if (sc->ntrue < SYN_MAXREAD)
		sc->truth[sc->ntrue++] = (struct syn_reading){ (uint8_t)pred, (uint8_t)a, (uint8_t)b,
			(uint8_t)s, (uint8_t)t };
}

void syn_lie(struct syn_scene *sc, int pred, int a, int b, int s, int t)
{
	if (sc->nlie < SYN_MAXREAD)
		sc->lie[sc->nlie++] = (struct syn_reading){ (uint8_t)pred, (uint8_t)a, (uint8_t)b,
			(uint8_t)s, (uint8_t)t };
}

void syn_cls(struct syn_scene *sc, const char *codes)
{
	memcpy(sc->cls_ls, codes, 3);
}

void syn_ground(struct ctx *x, double g)
{
	syn_rect(x->c, 0, g, 1, 1, syn_shade(x->bg, 13));
}

/* distractors - n small plain shapes where nothing else is (standing on
 * the ground at g when g > 0). A crowded scene may get fewer. */
void syn_distractors(struct ctx *x, int n, double g)
{
	x->distract = 1;
	for (int k = 0; k < n; k++) {
		int noun = plain[syn_int(x->r, 5)];   /* distractors: any shape */
		double r = syn_unif(x->r, 0.04, 0.065);
		for (int tries = 0; tries < 60; tries++) {
			double cx = syn_unif(x->r, r + 0.03, 1 - r - 0.03);
			double cy = g > 0 ? g - r - 0.012 : syn_unif(x->r, r + 0.03, 1 - r - 0.03);
			if (!syn_is_free(x, cx - r, cy - r, cx + r, cy + r, 0.04))
				continue;
			int i = syn_add(x, noun, syn_pick_colour(x, 0), 1, r < 0.05 ? 1 : 0);
			syn_shape(x->c, noun, cx, cy, r, x->rgb[i]);
			syn_occupy(x, cx - r, cy - r, cx + r, cy + r);
			break;
		}
	}
	x->distract = 0;
}

/* place - a plain object that must appear: free space is tried first, the
 * last try is taken anyway. */
void syn_place(struct ctx *x, int i, double r, double g)
{
	double cx = 0.5, cy = 0.5;
	for (int tries = 0; tries < 200; tries++) {
		cx = syn_unif(x->r, r + 0.02, 1 - r - 0.02);
		cy = g > 0 ? g - r - 0.012 : syn_unif(x->r, r + 0.02, 1 - r - 0.02);
		if (syn_is_free(x, cx - r, cy - r, cx + r, cy + r, 0.03))
			break;
	}
	syn_shape(x->c, x->sc->obj[i].noun, cx, cy, r, x->rgb[i]);
	syn_occupy(x, cx - r, cy - r, cx + r, cy + r);
}

void syn_put(struct ctx *x, int i, double cx, double cy, double r)
{
	syn_shape(x->c, x->sc->obj[i].noun, cx, cy, r, x->rgb[i]);
	syn_occupy(x, cx - r, cy - r, cx + r, cy + r);
}

