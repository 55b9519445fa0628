/* synth_scene.c - the scenes of the synthetic world: each kind places its
 * objects so that one fact is plain in the pixels (the left object, the
 * full cup, the arm stretched to the ball, the motion marks behind the
 * mover, the block whose centre hangs past its support), adds distractor
 * objects, and lists what the scene makes true and what it makes false.
 * A false reading is only listed when the picture contradicts it. */
#include <string.h>

#include "synth_impl.h"

const char *const syn_colour_name[NCOLOURS + 1] = {
	"red", "green", "blue", "yellow", "purple", "orange", "black", "pink", "grey",
};
enum { GREY = NCOLOURS, YELLOW = 3, BLACK = 6 };
static const struct syn_rgb palette[NCOLOURS + 1] = {
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

enum {
	K_LR, K_AB, K_IN, K_OCC, K_NF,            /* S */
	K_FILL, K_OPEN, K_BROKEN, K_LIT,          /* A */
	K_REACH, K_LOOK, K_CARRY,                 /* H */
	K_HEADING, K_PHASE,                       /* T */
	K_STACK, K_SLOPE, K_SUPPORT,              /* P */
	NKINDS
};
const char *const syn_kind_names[NKINDS] = {
	"left-right", "above-below", "inside", "occluded", "near-far",
	"full-empty", "open-closed", "broken-intact", "lit-unlit",
	"reach", "look", "carry", "heading", "before-after", "stack", "slope", "support",
};
const int syn_kind_cat[NKINDS] = { 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4 };
static const int kind_first[RC_SYNTH_NCAT + 1] = { K_LR, K_FILL, K_REACH, K_HEADING, K_STACK,
	NKINDS };

int syn_nkinds(void)
{
	return NKINDS;
}

/* ---------------------------------------------------------------- context */

struct ctx {
	struct syn_scene *sc;
	struct syn_canvas *c;
	struct syn_rng *r;
	struct syn_rgb bg;
	double occ[16][4];       /* boxes taken: x0 y0 x1 y1 */
	int nocc;
	unsigned used;           /* colours taken */
	int kcol, kshape;        /* key objects: the first kcol colours, kshape shapes */
	int distract;            /* 1 while placing distractors (any colour) */
	struct syn_rgb rgb[SYN_MAXOBJ];
};

static const int plain[] = { N_BALL, N_BOX, N_TRIANGLE, N_RING, N_DIAMOND };
static const int solid[] = { N_BALL, N_BOX, N_DIAMOND, N_TRIANGLE };

static double sqrt_d(double v)
{
	/* Newton from a guess above the root: only + * /, so the same
	 * everywhere; v is a squared length here, between 1e-4 and 2 */
	double x = v > 1 ? v : 1;
	for (int i = 0; i < 60; i++)
		x = 0.5 * (x + v / x);
	return x;
}

static int pick_colour(struct ctx *x, unsigned exclude)
{
	unsigned avail = ~(x->used | exclude) & ((1u << NCOLOURS) - 1);
	unsigned key = avail & ((1u << x->kcol) - 1);
	if (!x->distract && key)
		avail = key;
	int n = __builtin_popcount(avail), k = syn_int(x->r, n);
	for (int i = 0; i < NCOLOURS; i++)
		if ((avail >> i & 1) && k-- == 0) {
			x->used |= 1u << i;
			return i;
		}
	return GREY;   /* unreachable: at most 6 colours a scene */
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
static int add(struct ctx *x, int noun, int colour, int count, int size)
{
	struct syn_scene *sc = x->sc;
	int i = sc->nobj++;
	sc->obj[i] = (struct syn_obj){ noun, colour, count, size };
	x->rgb[i] = jitter(x, palette[colour < 0 ? BLACK : colour]);
	return i;
}

static int add_coloured(struct ctx *x, int noun, unsigned exclude)
{
	return add(x, noun, pick_colour(x, exclude), 1, 0);
}

static void occupy(struct ctx *x, double x0, double y0, double x1, double y1)
{
	if (x->nocc < 16) {
		double *o = x->occ[x->nocc++];
		o[0] = x0, o[1] = y0, o[2] = x1, o[3] = y1;
	}
}

static int is_free(const struct ctx *x, double x0, double y0, double x1, double y1, double m)
{
	for (int i = 0; i < x->nocc; i++) {
		const double *o = x->occ[i];
		if (x0 < o[2] + m && x1 > o[0] - m && y0 < o[3] + m && y1 > o[1] - m)
			return 0;
	}
	return 1;
}

static void truth(struct syn_scene *sc, int pred, int a, int b, int s, int t)
{
	if (sc->ntrue < SYN_MAXREAD)
		sc->truth[sc->ntrue++] = (struct syn_reading){ (uint8_t)pred, (uint8_t)a, (uint8_t)b,
			(uint8_t)s, (uint8_t)t };
}

static void lie(struct syn_scene *sc, int pred, int a, int b, int s, int t)
{
	if (sc->nlie < SYN_MAXREAD)
		sc->lie[sc->nlie++] = (struct syn_reading){ (uint8_t)pred, (uint8_t)a, (uint8_t)b,
			(uint8_t)s, (uint8_t)t };
}

static void cls(struct syn_scene *sc, const char *codes)
{
	memcpy(sc->cls_ls, codes, 3);
}

static void ground(struct ctx *x, double g)
{
	syn_rect(x->c, 0, g, 1, 1, syn_shade(x->bg, 13));
}

/* distractors - n small plain shapes where nothing else is (standing on
 * the ground at g when g > 0). A crowded scene may get fewer. */
static void distractors(struct ctx *x, int n, double g)
{
	x->distract = 1;
	for (int k = 0; k < n; k++) {
		int noun = plain[syn_int(x->r, 5)];   /* distractors: any shape */
		double r = syn_unif(x->r, 0.04, 0.065);
		for (int tries = 0; tries < 60; tries++) {
			double cx = syn_unif(x->r, r + 0.03, 1 - r - 0.03);
			double cy = g > 0 ? g - r - 0.012 : syn_unif(x->r, r + 0.03, 1 - r - 0.03);
			if (!is_free(x, cx - r, cy - r, cx + r, cy + r, 0.04))
				continue;
			int i = add(x, noun, pick_colour(x, 0), 1, r < 0.05 ? 1 : 0);
			syn_shape(x->c, noun, cx, cy, r, x->rgb[i]);
			occupy(x, cx - r, cy - r, cx + r, cy + r);
			break;
		}
	}
	x->distract = 0;
}

/* place - a plain object that must appear: free space is tried first, the
 * last try is taken anyway. */
static void place(struct ctx *x, int i, double r, double g)
{
	double cx = 0.5, cy = 0.5;
	for (int tries = 0; tries < 200; tries++) {
		cx = syn_unif(x->r, r + 0.02, 1 - r - 0.02);
		cy = g > 0 ? g - r - 0.012 : syn_unif(x->r, r + 0.02, 1 - r - 0.02);
		if (is_free(x, cx - r, cy - r, cx + r, cy + r, 0.03))
			break;
	}
	syn_shape(x->c, x->sc->obj[i].noun, cx, cy, r, x->rgb[i]);
	occupy(x, cx - r, cy - r, cx + r, cy + r);
}

static void put(struct ctx *x, int i, double cx, double cy, double r)
{
	syn_shape(x->c, x->sc->obj[i].noun, cx, cy, r, x->rgb[i]);
	occupy(x, cx - r, cy - r, cx + r, cy + r);
}

/* ---------------------------------------------------------------- S */

/* Two shapes side by side on one level, or one above the other. */
static void kind_lr_ab(struct ctx *x, int vertical)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int a = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	int b = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	double ra = syn_unif(r, 0.075, 0.115), rb = syn_unif(r, 0.075, 0.115);
	double ax, ay, bx, by;
	if (!vertical) {
		ay = by = syn_unif(r, 0.3, 0.7);
		ax = syn_unif(r, 0.14, 0.34);
		bx = ax + syn_unif(r, 0.34, 0.5);
		bx = bx > 0.86 ? 0.86 : bx;
	} else {
		ax = syn_unif(r, 0.25, 0.75);
		bx = ax + syn_unif(r, -0.02, 0.02);
		ay = syn_unif(r, 0.14, 0.3);
		by = ay + syn_unif(r, 0.36, 0.5);
		by = by > 0.86 ? 0.86 : by;
	}
	put(x, a, ax, ay, ra);
	put(x, b, bx, by, rb);
	distractors(x, 1 + syn_int(r, 2), 0);
	int p = vertical ? P_ABOVE : P_LEFT, q = vertical ? P_BELOW : P_RIGHT;
	int u = vertical ? P_LEFT : P_ABOVE, v = vertical ? P_RIGHT : P_BELOW;
	truth(sc, p, a, b, 0, 0);
	truth(sc, q, b, a, 0, 0);
	lie(sc, q, a, b, 0, 0);
	lie(sc, p, b, a, 0, 0);
	lie(sc, u, a, b, 0, 0);
	lie(sc, v, a, b, 0, 0);
	lie(sc, P_INSIDE, a, b, 0, 0);
	lie(sc, P_INSIDE, b, a, 0, 0);
	cls(sc, "SSS");
}

/* A small shape inside a frame or hoop, another one outside it. */
static void kind_inside(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int b = add_coloured(x, syn_int(r, 2) ? N_FRAME : N_HOOP, 0);
	int a = add_coloured(x, solid[syn_int(r, x->kshape < 4 ? x->kshape : 4)], 0);
	int o = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	double R = syn_unif(r, 0.2, 0.25), cx = syn_unif(r, 0.32, 0.68), cy = syn_unif(r, 0.32, 0.68);
	double w = 0.045;
	struct syn_rgb col = x->rgb[b];
	if (sc->obj[b].noun == N_FRAME) {
		syn_rect(x->c, cx - R, cy - R, cx + R, cy - R + w, col);
		syn_rect(x->c, cx - R, cy + R - w, cx + R, cy + R, col);
		syn_rect(x->c, cx - R, cy - R, cx - R + w, cy + R, col);
		syn_rect(x->c, cx + R - w, cy - R, cx + R, cy + R, col);
	} else {
		syn_ring(x->c, cx, cy, R, R - w, col);
	}
	occupy(x, cx - R, cy - R, cx + R, cy + R);
	double ra = syn_unif(r, 0.05, 0.07);
	syn_shape(x->c, sc->obj[a].noun, cx + syn_unif(r, -0.03, 0.03), cy + syn_unif(r, -0.03, 0.03),
		ra, x->rgb[a]);
	place(x, o, syn_unif(r, 0.05, 0.07), 0);
	distractors(x, syn_int(r, 2), 0);
	truth(sc, P_INSIDE, a, b, 0, 0);
	truth(sc, P_OUTSIDE, o, b, 0, 0);
	lie(sc, P_INSIDE, o, b, 0, 0);
	lie(sc, P_OUTSIDE, a, b, 0, 0);
	lie(sc, P_INSIDE, b, a, 0, 0);
	lie(sc, P_INSIDE, b, o, 0, 0);
	cls(sc, "SSS");
}

/* One shape partly hidden by another drawn over it, on one level. */
static void kind_occluded(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int a = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	int b = add_coloured(x, solid[syn_int(r, 3)], 0);
	double ra = syn_unif(r, 0.1, 0.13), rb = syn_unif(r, 0.1, 0.13), y = syn_unif(r, 0.3, 0.7);
	int side = syn_int(r, 2) ? 1 : -1;
	double d = syn_unif(r, 0.55, 0.8) * (ra + rb);
	double ax = 0.5 - side * d / 2 + syn_unif(r, -0.1, 0.1), bx = ax + side * d;
	put(x, a, ax, y, ra);
	put(x, b, bx, y, rb);
	distractors(x, 1 + syn_int(r, 2), 0);
	truth(sc, P_BEHIND, a, b, 0, 0);
	truth(sc, P_INFRONT, b, a, 0, 0);
	lie(sc, P_INFRONT, a, b, 0, 0);
	lie(sc, P_BEHIND, b, a, 0, 0);
	lie(sc, P_INSIDE, a, b, 0, 0);
	lie(sc, P_INSIDE, b, a, 0, 0);
	lie(sc, P_ABOVE, a, b, 0, 0);
	lie(sc, P_ABOVE, b, a, 0, 0);
	cls(sc, "SSS");
}

/* Two shapes of one kind on a floor: the nearer one big and low, the
 * farther one small and near the horizon. */
static void kind_near_far(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double h = syn_unif(r, 0.36, 0.44);
	ground(x, h);
	int noun = solid[syn_int(r, x->kshape < 4 ? x->kshape : 4)];
	int a = add(x, noun, pick_colour(x, 0), 1, 2);
	int b = add(x, noun, pick_colour(x, 0), 1, 1);
	double ra = syn_unif(r, 0.13, 0.16), rb = syn_unif(r, 0.05, 0.065);
	int s = syn_int(r, 2) ? 1 : -1;
	double ax = 0.5 - s * syn_unif(r, 0.12, 0.25), bx = 0.5 + s * syn_unif(r, 0.12, 0.3);
	double ay = syn_unif(r, 0.64, 0.76), by = h + syn_unif(r, 0, 0.03);
	ay = ay + ra > 0.95 ? 0.95 - ra : ay;
	put(x, b, bx, by, rb);
	put(x, a, ax, ay, ra);
	/* a distractor sized for its depth, so that it keeps the cue */
	if (syn_int(r, 2))
		for (int tries = 0; tries < 60; tries++) {
			double cy = syn_unif(r, h + 0.06, 0.88), rd = 0.03 + 0.11 * (cy - h) / (1 - h);
			double cx = syn_unif(r, rd + 0.02, 1 - rd - 0.02);
			if (cy + rd > 0.98 || !is_free(x, cx - rd, cy - rd, cx + rd, cy + rd, 0.04))
				continue;
			int i = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
			put(x, i, cx, cy, rd);
			break;
		}
	truth(sc, P_NEARER, a, b, 0, 0);
	truth(sc, P_FARTHER, b, a, 0, 0);
	lie(sc, P_NEARER, b, a, 0, 0);
	lie(sc, P_FARTHER, a, b, 0, 0);
	lie(sc, P_ABOVE, a, b, 0, 0);
	lie(sc, P_INSIDE, a, b, 0, 0);
	lie(sc, P_INSIDE, b, a, 0, 0);
	lie(sc, P_BEHIND, a, b, 0, 0);
	cls(sc, "SSS");
}

/* ---------------------------------------------------------------- A */

static const int state_noun[4] = { N_CUP, N_CHEST, N_VASE, N_LAMP };

/* Two objects of one kind in opposite states, or (one time in four) in
 * the same state, so that "both ..." is sometimes true. */
static void kind_state(struct ctx *x, int dim)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int noun = state_noun[dim], s = 2 * dim + syn_int(r, 2);
	unsigned ex = noun == N_LAMP ? 1u << YELLOW : 0;   /* not the colour of light */
	double g = syn_unif(r, 0.8, 0.88), rr = syn_unif(r, 0.1, 0.125);
	ground(x, g);
	int a = add_coloured(x, noun, ex), b = add_coloured(x, noun, ex);
	double xl = syn_unif(r, 0.2, 0.32), xr = syn_unif(r, 0.64, 0.8);
	int left = syn_int(r, 2), same = syn_int(r, 4) == 0;
	double xa = left ? xl : xr, xb = left ? xr : xl, hh = syn_state_height(noun, rr);
	syn_state_obj(x->c, noun, xa, g, rr, x->rgb[a], s);
	syn_state_obj(x->c, noun, xb, g, rr, x->rgb[b], same ? s : s ^ 1);
	occupy(x, xa - 1.6 * rr, g - hh, xa + 1.6 * rr, g);
	occupy(x, xb - 1.6 * rr, g - hh, xb + 1.6 * rr, g);
	distractors(x, 1, 0);
	cls(sc, "AAS");
	if (same) {
		truth(sc, P_IS, a, 0, s, 0);
		truth(sc, P_IS, b, 0, s, 0);
		truth(sc, P_BOTH, a, b, s, 0);
		lie(sc, P_IS, a, 0, s ^ 1, 0);
		lie(sc, P_IS, b, 0, s ^ 1, 0);
		lie(sc, P_BOTH, a, b, s ^ 1, 0);
		lie(sc, P_WHILE, a, b, s, s ^ 1);
		lie(sc, P_WHILE, a, b, s ^ 1, s);
		return;
	}
	truth(sc, P_IS, a, 0, s, 0);
	truth(sc, P_IS, b, 0, s ^ 1, 0);
	truth(sc, P_WHILE, a, b, s, s ^ 1);
	truth(sc, P_WHILE, b, a, s ^ 1, s);
	lie(sc, P_IS, a, 0, s ^ 1, 0);
	lie(sc, P_IS, b, 0, s, 0);
	lie(sc, P_WHILE, a, b, s ^ 1, s);
	lie(sc, P_WHILE, b, a, s, s ^ 1);
	lie(sc, P_BOTH, a, b, s, 0);
	lie(sc, P_BOTH, a, b, s ^ 1, 0);
}

/* ---------------------------------------------------------------- H */

static void stand(struct ctx *x, double sx, double top, double g)
{
	struct syn_rgb grey = palette[GREY];
	syn_rect(x->c, sx - 0.022, top, sx + 0.022, g, grey);
	syn_rect(x->c, sx - 0.07, top, sx + 0.07, top + 0.024, syn_shade(grey, 11));
	occupy(x, sx - 0.07, top - 0.16, sx + 0.07, g);
}

/* A person between two things on stands: reaching for one, looking at
 * one, or carrying one away from the other. */
static void kind_human(struct ctx *x, int kind)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.86, 0.9), top = g - 0.36;
	ground(x, g);
	int f = syn_int(r, 2) ? 1 : -1;
	double xf = syn_unif(r, 0.44, 0.56);
	int p = add(x, N_PERSON, -1, 1, 0);
	int a = add_coloured(x, plain[syn_int(r, x->kshape)], 1u << BLACK);
	int b = add_coloured(x, plain[syn_int(r, x->kshape)], 1u << BLACK);
	add(x, N_STAND, GREY, kind == K_CARRY ? 1 : 2, 0);
	double ra = syn_unif(r, 0.055, 0.07), rb = syn_unif(r, 0.055, 0.07);
	double bx = xf - f * syn_unif(r, 0.25, 0.3), ax = xf + f * syn_unif(r, 0.25, 0.3);
	stand(x, bx, top, g);
	put(x, b, bx, top - rb, rb);
	occupy(x, xf - 0.16, g - 0.58, xf + 0.16, g);
	if (kind == K_CARRY) {
		double hx = xf + f * (0.09 + ra), hy = g - 0.33;
		syn_person(x->c, xf, g, f, POSE_CARRY, hx - f * 0.6 * ra, hy);
		put(x, a, hx, hy, ra);
	} else {
		stand(x, ax, top, g);
		put(x, a, ax, top - ra, ra);
		if (kind == K_REACH)
			syn_person(x->c, xf, g, f, POSE_REACH, ax - f * (ra + 0.035), top - ra + 0.005);
		else
			syn_person(x->c, xf, g, f, POSE_LOOK, ax - f * 1.3 * ra, top - ra);
	}
	distractors(x, syn_int(r, 2), g);
	int act = kind == K_REACH ? P_REACH : kind == K_LOOK ? P_LOOK : P_CARRY;
	truth(sc, act, p, a, 0, 0);
	/* reaching for a thing, one looks at it: no lie about that */
	for (int q = P_REACH; q <= P_CARRY; q++) {
		if (q != act && !(q == P_LOOK && act != P_LOOK))
			lie(sc, q, p, a, 0, 0);
		lie(sc, q, p, b, 0, 0);
	}
	cls(sc, kind == K_CARRY ? "HHP" : "HHS");
}

/* ---------------------------------------------------------------- T */

/* A ball or box moving along the ground, motion marks behind it, one
 * thing ahead and one behind; or (one time in five) the same without
 * marks: standing still. */
static void kind_heading(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.8, 0.86);
	ground(x, g);
	int d = syn_int(r, 2), dir = d == D_RIGHT ? 1 : -1, still = syn_int(r, 5) == 0;
	int m = add_coloured(x, syn_int(r, 2) ? N_BALL : N_BOX, 0);
	int a = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	int b = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	double rm = syn_unif(r, 0.07, 0.09), xm = syn_unif(r, 0.44, 0.56), ym = g - rm - 0.012;
	double ra = syn_unif(r, 0.045, 0.06), rb = syn_unif(r, 0.045, 0.06);
	put(x, a, xm + dir * syn_unif(r, 0.27, 0.32), g - ra - 0.012, ra);
	put(x, b, xm - dir * syn_unif(r, 0.33, 0.37), g - rb - 0.012, rb);
	for (int k = -1; k <= 1 && !still; k++) {
		double x0 = xm - dir * (rm + 0.03), len = syn_unif(r, 0.07, 0.12);
		syn_line(x->c, x0, ym + k * 0.55 * rm, x0 - dir * len, ym + k * 0.55 * rm, 0.02,
			(struct syn_rgb){ 70, 70, 70 });
	}
	put(x, m, xm, ym, rm);
	occupy(x, xm - 0.3, ym - rm, xm + 0.3, g);
	distractors(x, syn_int(r, 2), 0);
	cls(sc, "TTP");
	if (still) {
		truth(sc, P_REST, m, 0, 0, 0);
		for (int q = D_LEFT; q <= D_RIGHT; q++)
			lie(sc, P_DIR, m, 0, q, 0);
		lie(sc, P_TOWARD, m, a, 0, 0);
		lie(sc, P_TOWARD, m, b, 0, 0);
		lie(sc, P_AWAY, m, a, 0, 0);
		lie(sc, P_AWAY, m, b, 0, 0);
		return;
	}
	truth(sc, P_TOWARD, m, a, 0, 0);
	truth(sc, P_AWAY, m, b, 0, 0);
	truth(sc, P_DIR, m, 0, d, 0);
	lie(sc, P_TOWARD, m, b, 0, 0);
	lie(sc, P_AWAY, m, a, 0, 0);
	lie(sc, P_DIR, m, 0, d ^ 1, 0);
	lie(sc, P_REST, m, 0, 0, 0);
}

/* Two panels, before (left) and after (right), an arrow between: one
 * object changes state (three times in four) or stays as it was, another
 * stays as it was. */
static void kind_phase(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	struct syn_rgb ink = { 45, 45, 45 };
	int dim = syn_int(r, 4), noun = state_noun[dim], s = 2 * dim + syn_int(r, 2);
	int same = syn_int(r, 4) == 0;
	double g = syn_unif(r, 0.8, 0.86), rr = syn_unif(r, 0.08, 0.095);
	ground(x, g);
	syn_rect(x->c, 0.494, 0.2, 0.506, 1, ink);
	syn_line(x->c, 0.4, 0.1, 0.56, 0.1, 0.03, ink);
	syn_tri(x->c, 0.61, 0.1, 0.54, 0.045, 0.54, 0.155, ink);
	sc->setting = "two panels with";
	int a = add_coloured(x, noun, noun == N_LAMP ? 1u << YELLOW : 0);
	int o = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	double ox = syn_unif(r, -0.05, 0.05), ro = syn_unif(r, 0.035, 0.05);
	double dx = 0.25 + (ox > 0 ? -1 : 1) * syn_unif(r, 0.16, 0.18);
	double dy = syn_int(r, 2) ? g - ro - 0.012 : syn_unif(r, 0.3, 0.4);
	for (int p = 0; p < 2; p++) {
		double px = 0.5 * p;
		syn_state_obj(x->c, noun, px + 0.25 + ox, g, rr, x->rgb[a], p && !same ? s ^ 1 : s);
		syn_shape(x->c, sc->obj[o].noun, px + dx, dy, ro, x->rgb[o]);
	}
	cls(sc, "TTA");
	if (same) {
		truth(sc, P_STAY, a, 0, s, 0);
		lie(sc, P_STAY, a, 0, s ^ 1, 0);
		lie(sc, P_TRANS, a, 0, s, s ^ 1);
		lie(sc, P_TRANS, a, 0, s ^ 1, s);
		lie(sc, P_VERB, a, 0, s, s ^ 1);
		lie(sc, P_VERB, a, 0, s ^ 1, s);
		return;
	}
	truth(sc, P_TRANS, a, 0, s, s ^ 1);
	truth(sc, P_VERB, a, 0, s, s ^ 1);
	lie(sc, P_TRANS, a, 0, s ^ 1, s);
	lie(sc, P_VERB, a, 0, s ^ 1, s);
	lie(sc, P_STAY, a, 0, s, 0);
	lie(sc, P_STAY, a, 0, s ^ 1, 0);
}

/* ---------------------------------------------------------------- P */

static void block(struct ctx *x, int i, double x0, double y0, double x1, double y1)
{
	syn_rect(x->c, x0 - 0.01, y0 - 0.01, x1 + 0.01, y1, syn_shade(x->rgb[i], 8));
	syn_rect(x->c, x0, y0, x1, y1, x->rgb[i]);
	occupy(x, x0, y0, x1, y1);
}

/* Two or three blocks stacked: the top one centred on its support, or
 * with its centre past the support's edge. */
static void kind_stack(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.82, 0.88), xc = syn_unif(r, 0.36, 0.64), yb = g;
	ground(x, g);
	int base = syn_int(r, 2), unstable = syn_int(r, 2), side = xc > 0.5 ? -1 : 1;
	int w = base ? add_coloured(x, N_BLOCK, 0) : -1;
	int b = add_coloured(x, N_BLOCK, 0), a = add_coloured(x, N_BLOCK, 0);
	double yx = xc;
	if (base) {
		double ww = syn_unif(r, 0.34, 0.42), hw = syn_unif(r, 0.09, 0.12);
		block(x, w, xc - ww / 2, g - hw, xc + ww / 2, g);
		yb = g - hw;
		yx = xc + syn_unif(r, -0.03, 0.03);
	}
	double wy = syn_unif(r, 0.22, 0.28), hy = syn_unif(r, 0.09, 0.12);
	double wx = syn_unif(r, 0.16, 0.22), hx = syn_unif(r, 0.08, 0.11);
	/* unstable: the top block's centre well past the edge, a quarter or
	 * less of it on its support; stable: centred within an eighth */
	double off = unstable ? wy / 2 + syn_unif(r, 0.25, 0.4) * wx : syn_unif(r, -0.12, 0.12) * wy;
	double xx = yx + side * off;
	block(x, b, yx - wy / 2, yb - hy, yx + wy / 2, yb);
	block(x, a, xx - wx / 2, yb - hy - hx, xx + wx / 2, yb - hy);
	occupy(x, xc - 0.3, yb - hy - hx - 0.05, xc + 0.3, g);
	distractors(x, syn_int(r, 2) + !base, g);
	if (unstable) {
		truth(sc, P_FALLOFF, a, b, 0, 0);
		truth(sc, P_TOPPLE, a, b, 0, 0);
		lie(sc, P_RESTS, a, b, 0, 0);
		lie(sc, P_STABLE, a, b, 0, 0);
	} else {
		truth(sc, P_RESTS, a, b, 0, 0);
		truth(sc, P_STABLE, a, b, 0, 0);
		lie(sc, P_FALLOFF, a, b, 0, 0);
		lie(sc, P_TOPPLE, a, b, 0, 0);
	}
	lie(sc, P_FALLOFF, b, a, 0, 0);
	lie(sc, P_RESTS, b, a, 0, 0);
	if (base) {
		truth(sc, P_RESTS, b, w, 0, 0);
		lie(sc, P_FALLOFF, b, w, 0, 0);
	}
	cls(sc, "PPS");
}

/* A ramp with a flat top at its high end, one thing at its foot, one
 * beyond its high end, and a ball on the slope or (one time in four)
 * resting on the flat top. */
static void kind_slope(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.84, 0.88);
	ground(x, g);
	int h = syn_int(r, 2) ? 1 : -1;   /* the high end: +1 right */
	int still = syn_int(r, 4) == 0;
	double wr = syn_unif(r, 0.36, 0.46), hr = syn_unif(r, 0.24, 0.34);
	double x0 = 0.5 - wr / 2 + syn_unif(r, -0.04, 0.04);
	double xl = h > 0 ? x0 : x0 + wr, xh = h > 0 ? x0 + wr : x0;
	int ramp = add(x, N_RAMP, GREY, 1, 0);
	int m = add_coloured(x, N_BALL, 0);
	int a = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	int b = add_coloured(x, plain[syn_int(r, x->kshape)], 0);
	/* corners in order around the quad: the top ones right to left */
	double wf = 0.14, t0 = h > 0 ? xh : xh + wf, t1 = h > 0 ? xh - wf : xh;
	double ramp_xy[8] = { x0, g, x0 + wr, g, t0, g - hr, t1, g - hr };
	syn_poly(x->c, ramp_xy, 4, x->rgb[ramp], 255);
	occupy(x, x0, g - hr, x0 + wr, g);
	double ra = syn_unif(r, 0.045, 0.06), rb = syn_unif(r, 0.045, 0.06);
	put(x, a, xl - h * syn_unif(r, 0.1, 0.13), g - ra - 0.012, ra);
	put(x, b, xh + h * syn_unif(r, 0.09, 0.12), g - rb - 0.012, rb);
	/* the ball touches the slope: the contact point plus the normal */
	double rm = syn_unif(r, 0.05, 0.065), t = syn_unif(r, 0.45, 0.7);
	double ws = wr - wf, len = sqrt_d(ws * ws + hr * hr), nx = -h * hr / len, ny = -ws / len;
	double px = xl + h * t * ws, py = g - t * hr;
	if (still)
		put(x, m, xh - h * wf / 2, g - hr - rm - 0.012, rm);
	else
		put(x, m, px + nx * (rm + 0.012), py + ny * (rm + 0.012), rm);
	distractors(x, syn_int(r, 2), 0);
	int low = h > 0 ? D_LEFT : D_RIGHT;
	cls(sc, "PPT");
	if (still) {
		truth(sc, P_STAYPUT, m, 0, 0, 0);
		lie(sc, P_ROLLTO, m, a, 0, 0);
		lie(sc, P_ROLLTO, m, b, 0, 0);
		lie(sc, P_ROLLDIR, m, 0, D_LEFT, 0);
		lie(sc, P_ROLLDIR, m, 0, D_RIGHT, 0);
		lie(sc, P_ROLLUP, m, 0, 0, 0);
		return;
	}
	truth(sc, P_ROLLTO, m, a, 0, 0);
	truth(sc, P_ROLLDIR, m, 0, low, 0);
	lie(sc, P_ROLLTO, m, b, 0, 0);
	lie(sc, P_ROLLDIR, m, 0, low ^ 1, 0);
	lie(sc, P_STAYPUT, m, 0, 0, 0);
	lie(sc, P_ROLLUP, m, 0, 0, 0);
}

/* A plank on two posts, or on one post at one end with the other end
 * free; a thing on the plank. */
static void kind_support(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.84, 0.88);
	ground(x, g);
	int held = syn_int(r, 2), miss = syn_int(r, 2);
	double wp = syn_unif(r, 0.5, 0.6), th = 0.045, yp = g - syn_unif(r, 0.26, 0.32);
	double xp = 0.5 - wp / 2 + syn_unif(r, -0.04, 0.04);
	int p = add_coloured(x, N_PLANK, 0);
	add(x, N_POST, GREY, held ? 2 : 1, 0);
	int o = add_coloured(x, syn_int(r, 2) ? N_BOX : N_BALL, 0);
	struct syn_rgb grey = palette[GREY];
	if (held || miss == D_RIGHT)
		syn_rect(x->c, xp + 0.03, yp + th, xp + 0.08, g, grey);
	if (held || miss == D_LEFT)
		syn_rect(x->c, xp + wp - 0.08, yp + th, xp + wp - 0.03, g, grey);
	block(x, p, xp, yp, xp + wp, yp + th);
	occupy(x, xp, yp, xp + wp, g);
	double ro = syn_unif(r, 0.05, 0.06), t = syn_unif(r, 0.3, 0.7);
	if (!held) {
		t = syn_unif(r, 0.62, 0.8);
		t = miss == D_RIGHT ? t : 1 - t;
	}
	put(x, o, xp + t * wp, yp - ro - 0.012, ro);
	distractors(x, syn_int(r, 2), g);
	if (held) {
		truth(sc, P_HELD, p, 0, 0, 0);
		truth(sc, P_SAFE, o, p, 0, 0);
		for (int d = D_LEFT; d <= D_RIGHT; d++) {
			lie(sc, P_TIPS, p, 0, d, 0);
			lie(sc, P_UNSUP, p, 0, d, 0);
		}
		lie(sc, P_SLIDE, o, p, 0, 0);
	} else {
		truth(sc, P_TIPS, p, 0, miss, 0);
		truth(sc, P_UNSUP, p, 0, miss, 0);
		truth(sc, P_SLIDE, o, p, 0, 0);
		lie(sc, P_TIPS, p, 0, miss ^ 1, 0);
		lie(sc, P_UNSUP, p, 0, miss ^ 1, 0);
		lie(sc, P_HELD, p, 0, 0, 0);
		lie(sc, P_SAFE, o, p, 0, 0);
	}
	cls(sc, "PPS");
}


void syn_scene_draw(struct syn_scene *sc, struct syn_canvas *c, struct syn_rng *r, int cat,
	int key_objects)
{
	memset(sc, 0, sizeof *sc);
	struct ctx x = { .sc = sc, .c = c, .r = r, .kcol = key_objects, .kshape = key_objects };
	if (x.kcol > NCOLOURS || x.kcol < 2)
		x.kcol = NCOLOURS;
	if (x.kshape > 5 || x.kshape < 2)
		x.kshape = 5;
	int k = kind_first[cat] + syn_int(r, kind_first[cat + 1] - kind_first[cat]);
	sc->cat = cat;
	sc->kind = k;
	x.bg = (struct syn_rgb){ (uint8_t)(205 + syn_int(r, 40)), (uint8_t)(205 + syn_int(r, 40)),
		(uint8_t)(205 + syn_int(r, 40)) };
	syn_canvas_init(c, c->px, c->size, x.bg);
	switch (k) {
	case K_LR: case K_AB: kind_lr_ab(&x, k == K_AB); break;
	case K_IN: kind_inside(&x); break;
	case K_OCC: kind_occluded(&x); break;
	case K_NF: kind_near_far(&x); break;
	case K_FILL: case K_OPEN: case K_BROKEN: case K_LIT: kind_state(&x, k - K_FILL); break;
	case K_REACH: case K_LOOK: case K_CARRY: kind_human(&x, k); break;
	case K_HEADING: kind_heading(&x); break;
	case K_PHASE: kind_phase(&x); break;
	case K_STACK: kind_stack(&x); break;
	case K_SLOPE: kind_slope(&x); break;
	case K_SUPPORT: kind_support(&x); break;
	}
	sc->main_truth = syn_int(r, sc->ntrue);
}
