/* synth_kinds.c - the kinds of scene of the synthetic world, five
 * categories of facts: each kind places its objects (synth_scene.h's
 * helpers) so that its fact is plain in the pixels and lists the readings
 * the picture makes true and false; syn_scene_draw picks one.
 *
 * What a kind draws comes from two streams: the family's (x->fr: which
 * shapes and colours its key objects have, through key_shape and
 * syn_add_coloured) and the member's (x->r: where things are, sizes,
 * distractors). The fact of a member comes from its number x->m: bit 0
 * swaps the roles of the two key objects (which one is left, full, on
 * top), bit 1 and up choose the rest (above-below rather than left-right,
 * the state, the direction), so that a family's members show its objects
 * in different facts. Every scene has a distractor or two besides: a
 * family's descriptions, which name no fact, differ by them. */
#include <string.h>

#include "synth/synth_scene.h"

static const int kind_first[RC_SYNTH_NCAT + 1] = { K_LR, K_FILL, K_REACH, K_HEADING, K_STACK,
	NKINDS };

/* ---------------------------------------------------------------- S */

/* Two shapes side by side on one level, or one above the other. */
static void kind_lr_ab(struct ctx *x, int vertical)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int a = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	int b = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	syn_roles(x, &a, &b);
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
	syn_put(x, a, ax, ay, ra);
	syn_put(x, b, bx, by, rb);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	int p = vertical ? P_ABOVE : P_LEFT, q = vertical ? P_BELOW : P_RIGHT;
	int u = vertical ? P_LEFT : P_ABOVE, v = vertical ? P_RIGHT : P_BELOW;
	syn_truth(sc, p, a, b, 0, 0);
	syn_truth(sc, q, b, a, 0, 0);
	syn_lie(sc, q, a, b, 0, 0);
	syn_lie(sc, p, b, a, 0, 0);
	syn_lie(sc, u, a, b, 0, 0);
	syn_lie(sc, v, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, b, a, 0, 0);
	syn_cls(sc, "SSS");
}

/* A small shape inside a frame or hoop, another one outside it. */
static void kind_inside(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int b = syn_add_coloured(x, syn_int(x->fr, 2) ? N_FRAME : N_HOOP, 0);
	int a = syn_add_coloured(x, syn_key_shape(x, solid, 4), 0);
	int o = syn_add_coloured(x, syn_key_shape(x, solid, 4), 0);
	syn_roles(x, &a, &o);
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
	syn_occupy(x, cx - R, cy - R, cx + R, cy + R);
	double ra = syn_unif(r, 0.05, 0.07);
	syn_shape(x->c, sc->obj[a].noun, cx + syn_unif(r, -0.03, 0.03), cy + syn_unif(r, -0.03, 0.03),
		ra, x->rgb[a]);
	syn_place(x, o, syn_unif(r, 0.05, 0.07), 0);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	syn_truth(sc, P_INSIDE, a, b, 0, 0);
	syn_truth(sc, P_OUTSIDE, o, b, 0, 0);
	syn_lie(sc, P_INSIDE, o, b, 0, 0);
	syn_lie(sc, P_OUTSIDE, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, b, a, 0, 0);
	syn_lie(sc, P_INSIDE, b, o, 0, 0);
	syn_cls(sc, "SSS");
}

/* One shape partly hidden by another drawn over it, on one level. */
static void kind_occluded(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int a = syn_add_coloured(x, syn_key_shape(x, solid, 3), 0);
	int b = syn_add_coloured(x, syn_key_shape(x, solid, 3), 0);
	syn_roles(x, &a, &b);
	double ra = syn_unif(r, 0.1, 0.13), rb = syn_unif(r, 0.1, 0.13), y = syn_unif(r, 0.3, 0.7);
	int side = syn_int(r, 2) ? 1 : -1;
	double d = syn_unif(r, 0.55, 0.8) * (ra + rb);
	double ax = 0.5 - side * d / 2 + syn_unif(r, -0.1, 0.1), bx = ax + side * d;
	syn_put(x, a, ax, y, ra);
	syn_put(x, b, bx, y, rb);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	syn_truth(sc, P_BEHIND, a, b, 0, 0);
	syn_truth(sc, P_INFRONT, b, a, 0, 0);
	syn_lie(sc, P_INFRONT, a, b, 0, 0);
	syn_lie(sc, P_BEHIND, b, a, 0, 0);
	syn_lie(sc, P_INSIDE, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, b, a, 0, 0);
	syn_lie(sc, P_ABOVE, a, b, 0, 0);
	syn_lie(sc, P_ABOVE, b, a, 0, 0);
	syn_cls(sc, "SSS");
}

/* Two shapes of one kind on a floor: the nearer one big and low, the
 * farther one small and near the horizon. */
static void kind_near_far(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double h = syn_unif(r, 0.36, 0.44);
	syn_ground(x, h);
	int noun = syn_key_shape(x, solid, 4);
	int a = syn_add(x, noun, syn_pick_colour(x, 0), 1, 2);
	int b = syn_add(x, noun, syn_pick_colour(x, 0), 1, 1);
	if (syn_role(x, 0)) {   /* the other colour nearer: swap the sizes */
		struct syn_obj t = sc->obj[a];
		sc->obj[a].colour = sc->obj[b].colour, sc->obj[b].colour = t.colour;
		struct syn_rgb c = x->rgb[a];
		x->rgb[a] = x->rgb[b], x->rgb[b] = c;
	}
	double ra = syn_unif(r, 0.13, 0.16), rb = syn_unif(r, 0.05, 0.065);
	int s = syn_int(r, 2) ? 1 : -1;
	double ax = 0.5 - s * syn_unif(r, 0.12, 0.25), bx = 0.5 + s * syn_unif(r, 0.12, 0.3);
	double ay = syn_unif(r, 0.64, 0.76), by = h + syn_unif(r, 0, 0.03);
	ay = ay + ra > 0.95 ? 0.95 - ra : ay;
	syn_put(x, b, bx, by, rb);
	syn_put(x, a, ax, ay, ra);
	/* a distractor sized for its depth, so that it keeps the cue */
	x->distract = 1;
	for (int tries = 0; tries < 60; tries++) {
		double cy = syn_unif(r, h + 0.06, 0.88), rd = 0.03 + 0.11 * (cy - h) / (1 - h);
		double cx = syn_unif(r, rd + 0.02, 1 - rd - 0.02);
		if (cy + rd > 0.98 || !syn_is_free(x, cx - rd, cy - rd, cx + rd, cy + rd, 0.04))
			continue;
		int i = syn_add_coloured(x, plain[syn_int(r, 5)], 0);
		syn_put(x, i, cx, cy, rd);
		break;
	}
	x->distract = 0;
	syn_truth(sc, P_NEARER, a, b, 0, 0);
	syn_truth(sc, P_FARTHER, b, a, 0, 0);
	syn_lie(sc, P_NEARER, b, a, 0, 0);
	syn_lie(sc, P_FARTHER, a, b, 0, 0);
	syn_lie(sc, P_ABOVE, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, a, b, 0, 0);
	syn_lie(sc, P_INSIDE, b, a, 0, 0);
	syn_lie(sc, P_BEHIND, a, b, 0, 0);
	syn_cls(sc, "SSS");
}

/* ---------------------------------------------------------------- A */

static const int state_noun[4] = { N_CUP, N_CHEST, N_VASE, N_LAMP };

/* Two objects of one kind in opposite states, or (one time in four) in
 * the same state, so that "both ..." is sometimes true. */
static void kind_state(struct ctx *x, int dim)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	int noun = state_noun[dim], s = 2 * dim + syn_role(x, 1);
	unsigned ex = noun == N_LAMP ? 1u << YELLOW : 0;   /* not the colour of light */
	double g = syn_unif(r, 0.8, 0.88), rr = syn_unif(r, 0.1, 0.125);
	syn_ground(x, g);
	int a = syn_add_coloured(x, noun, ex), b = syn_add_coloured(x, noun, ex);
	syn_roles(x, &a, &b);
	double xl = syn_unif(r, 0.2, 0.32), xr = syn_unif(r, 0.64, 0.8);
	int left = syn_int(r, 2), same = syn_int(r, 4) == 0;
	double xa = left ? xl : xr, xb = left ? xr : xl, hh = syn_state_height(noun, rr);
	syn_state_obj(x->c, noun, xa, g, rr, x->rgb[a], s);
	syn_state_obj(x->c, noun, xb, g, rr, x->rgb[b], same ? s : s ^ 1);
	syn_occupy(x, xa - 1.6 * rr, g - hh, xa + 1.6 * rr, g);
	syn_occupy(x, xb - 1.6 * rr, g - hh, xb + 1.6 * rr, g);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	syn_cls(sc, "AAS");
	if (same) {
		syn_truth(sc, P_IS, a, 0, s, 0);
		syn_truth(sc, P_IS, b, 0, s, 0);
		syn_truth(sc, P_BOTH, a, b, s, 0);
		syn_lie(sc, P_IS, a, 0, s ^ 1, 0);
		syn_lie(sc, P_IS, b, 0, s ^ 1, 0);
		syn_lie(sc, P_BOTH, a, b, s ^ 1, 0);
		syn_lie(sc, P_WHILE, a, b, s, s ^ 1);
		syn_lie(sc, P_WHILE, a, b, s ^ 1, s);
		return;
	}
	syn_truth(sc, P_IS, a, 0, s, 0);
	syn_truth(sc, P_IS, b, 0, s ^ 1, 0);
	syn_truth(sc, P_WHILE, a, b, s, s ^ 1);
	syn_truth(sc, P_WHILE, b, a, s ^ 1, s);
	syn_lie(sc, P_IS, a, 0, s ^ 1, 0);
	syn_lie(sc, P_IS, b, 0, s, 0);
	syn_lie(sc, P_WHILE, a, b, s ^ 1, s);
	syn_lie(sc, P_WHILE, b, a, s, s ^ 1);
	syn_lie(sc, P_BOTH, a, b, s, 0);
	syn_lie(sc, P_BOTH, a, b, s ^ 1, 0);
}

/* ---------------------------------------------------------------- H */

static void stand(struct ctx *x, double sx, double top, double g)
{
	struct syn_rgb grey = syn_palette[GREY];
	syn_rect(x->c, sx - 0.022, top, sx + 0.022, g, grey);
	syn_rect(x->c, sx - 0.07, top, sx + 0.07, top + 0.024, syn_shade(grey, 11));
	syn_occupy(x, sx - 0.07, top - 0.16, sx + 0.07, g);
}

/* A person between two things on stands: reaching for one, looking at
 * one, or carrying one away from the other. */
static void kind_human(struct ctx *x, int kind)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.86, 0.9), top = g - 0.36;
	syn_ground(x, g);
	int f = syn_int(r, 2) ? 1 : -1;
	double xf = syn_unif(r, 0.44, 0.56);
	int p = syn_add(x, N_PERSON, -1, 1, 0);
	int a = syn_add_coloured(x, syn_key_shape(x, plain, 5), 1u << BLACK);
	int b = syn_add_coloured(x, syn_key_shape(x, plain, 5), 1u << BLACK);
	syn_roles(x, &a, &b);
	syn_add(x, N_STAND, GREY, kind == K_CARRY ? 1 : 2, 0);
	double ra = syn_unif(r, 0.055, 0.07), rb = syn_unif(r, 0.055, 0.07);
	double bx = xf - f * syn_unif(r, 0.25, 0.3), ax = xf + f * syn_unif(r, 0.25, 0.3);
	stand(x, bx, top, g);
	syn_put(x, b, bx, top - rb, rb);
	syn_occupy(x, xf - 0.16, g - 0.58, xf + 0.16, g);
	if (kind == K_CARRY) {
		double hx = xf + f * (0.09 + ra), hy = g - 0.33;
		syn_person(x->c, xf, g, f, POSE_CARRY, hx - f * 0.6 * ra, hy);
		syn_put(x, a, hx, hy, ra);
	} else {
		stand(x, ax, top, g);
		syn_put(x, a, ax, top - ra, ra);
		if (kind == K_REACH)
			syn_person(x->c, xf, g, f, POSE_REACH, ax - f * (ra + 0.035), top - ra + 0.005);
		else
			syn_person(x->c, xf, g, f, POSE_LOOK, ax - f * 1.3 * ra, top - ra);
	}
	syn_distractors(x, 1 + syn_int(r, 2), g);
	int act = kind == K_REACH ? P_REACH : kind == K_LOOK ? P_LOOK : P_CARRY;
	syn_truth(sc, act, p, a, 0, 0);
	/* reaching for a thing, one looks at it: no lie about that */
	for (int q = P_REACH; q <= P_CARRY; q++) {
		if (q != act && !(q == P_LOOK && act != P_LOOK))
			syn_lie(sc, q, p, a, 0, 0);
		syn_lie(sc, q, p, b, 0, 0);
	}
	syn_cls(sc, kind == K_CARRY ? "HHP" : "HHS");
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
	syn_ground(x, g);
	int d = syn_role(x, 1), dir = d == D_RIGHT ? 1 : -1, still = syn_int(r, 5) == 0;
	int m = syn_add_coloured(x, syn_int(x->fr, 2) ? N_BALL : N_BOX, 0);
	int a = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	int b = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	syn_roles(x, &a, &b);
	double rm = syn_unif(r, 0.07, 0.09), xm = syn_unif(r, 0.44, 0.56), ym = g - rm - 0.012;
	double ra = syn_unif(r, 0.045, 0.06), rb = syn_unif(r, 0.045, 0.06);
	syn_put(x, a, xm + dir * syn_unif(r, 0.27, 0.32), g - ra - 0.012, ra);
	syn_put(x, b, xm - dir * syn_unif(r, 0.33, 0.37), g - rb - 0.012, rb);
	for (int k = -1; k <= 1 && !still; k++) {
		double x0 = xm - dir * (rm + 0.03), len = syn_unif(r, 0.07, 0.12);
		syn_line(x->c, x0, ym + k * 0.55 * rm, x0 - dir * len, ym + k * 0.55 * rm, 0.02,
			(struct syn_rgb){ 70, 70, 70 });
	}
	syn_put(x, m, xm, ym, rm);
	syn_occupy(x, xm - 0.3, ym - rm, xm + 0.3, g);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	syn_cls(sc, "TTP");
	if (still) {
		syn_truth(sc, P_REST, m, 0, 0, 0);
		for (int q = D_LEFT; q <= D_RIGHT; q++)
			syn_lie(sc, P_DIR, m, 0, q, 0);
		syn_lie(sc, P_TOWARD, m, a, 0, 0);
		syn_lie(sc, P_TOWARD, m, b, 0, 0);
		syn_lie(sc, P_AWAY, m, a, 0, 0);
		syn_lie(sc, P_AWAY, m, b, 0, 0);
		return;
	}
	syn_truth(sc, P_TOWARD, m, a, 0, 0);
	syn_truth(sc, P_AWAY, m, b, 0, 0);
	syn_truth(sc, P_DIR, m, 0, d, 0);
	syn_lie(sc, P_TOWARD, m, b, 0, 0);
	syn_lie(sc, P_AWAY, m, a, 0, 0);
	syn_lie(sc, P_DIR, m, 0, d ^ 1, 0);
	syn_lie(sc, P_REST, m, 0, 0, 0);
}

/* Two panels, before (left) and after (right), an arrow between: one
 * object changes state (three times in four) or stays as it was, another
 * stays as it was. */
static void kind_phase(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	struct syn_rgb ink = { 45, 45, 45 };
	int dim = syn_int(x->fr, 4), noun = state_noun[dim], s = 2 * dim + syn_role(x, 0);
	int same = syn_int(r, 4) == 0;
	double g = syn_unif(r, 0.8, 0.86), rr = syn_unif(r, 0.08, 0.095);
	syn_ground(x, g);
	syn_rect(x->c, 0.494, 0.2, 0.506, 1, ink);
	syn_line(x->c, 0.4, 0.1, 0.56, 0.1, 0.03, ink);
	syn_tri(x->c, 0.61, 0.1, 0.54, 0.045, 0.54, 0.155, ink);
	sc->setting = "two panels with";
	int a = syn_add_coloured(x, noun, noun == N_LAMP ? 1u << YELLOW : 0);
	int o = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	double ox = syn_unif(r, -0.05, 0.05), ro = syn_unif(r, 0.035, 0.05);
	double dx = 0.25 + (ox > 0 ? -1 : 1) * syn_unif(r, 0.16, 0.18);
	double dy = syn_int(r, 2) ? g - ro - 0.012 : syn_unif(r, 0.3, 0.4);
	for (int p = 0; p < 2; p++) {
		double px = 0.5 * p;
		syn_state_obj(x->c, noun, px + 0.25 + ox, g, rr, x->rgb[a], p && !same ? s ^ 1 : s);
		syn_shape(x->c, sc->obj[o].noun, px + dx, dy, ro, x->rgb[o]);
	}
	syn_cls(sc, "TTA");
	if (same) {
		syn_truth(sc, P_STAY, a, 0, s, 0);
		syn_lie(sc, P_STAY, a, 0, s ^ 1, 0);
		syn_lie(sc, P_TRANS, a, 0, s, s ^ 1);
		syn_lie(sc, P_TRANS, a, 0, s ^ 1, s);
		syn_lie(sc, P_VERB, a, 0, s, s ^ 1);
		syn_lie(sc, P_VERB, a, 0, s ^ 1, s);
		return;
	}
	syn_truth(sc, P_TRANS, a, 0, s, s ^ 1);
	syn_truth(sc, P_VERB, a, 0, s, s ^ 1);
	syn_lie(sc, P_TRANS, a, 0, s ^ 1, s);
	syn_lie(sc, P_VERB, a, 0, s ^ 1, s);
	syn_lie(sc, P_STAY, a, 0, s, 0);
	syn_lie(sc, P_STAY, a, 0, s ^ 1, 0);
}

/* ---------------------------------------------------------------- P */

static void block(struct ctx *x, int i, double x0, double y0, double x1, double y1)
{
	syn_rect(x->c, x0 - 0.01, y0 - 0.01, x1 + 0.01, y1, syn_shade(x->rgb[i], 8));
	syn_rect(x->c, x0, y0, x1, y1, x->rgb[i]);
	syn_occupy(x, x0, y0, x1, y1);
}

/* Two or three blocks stacked: the top one centred on its support, or
 * with its centre past the support's edge. */
static void kind_stack(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.82, 0.88), xc = syn_unif(r, 0.36, 0.64), yb = g;
	syn_ground(x, g);
	int base = syn_int(x->fr, 2), unstable = syn_role(x, 1), side = xc > 0.5 ? -1 : 1;
	int w = base ? syn_add_coloured(x, N_BLOCK, 0) : -1;
	int b = syn_add_coloured(x, N_BLOCK, 0), a = syn_add_coloured(x, N_BLOCK, 0);
	syn_roles(x, &a, &b);
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
	syn_occupy(x, xc - 0.3, yb - hy - hx - 0.05, xc + 0.3, g);
	syn_distractors(x, 1 + syn_int(r, 2), g);
	if (unstable) {
		syn_truth(sc, P_FALLOFF, a, b, 0, 0);
		syn_truth(sc, P_TOPPLE, a, b, 0, 0);
		syn_lie(sc, P_RESTS, a, b, 0, 0);
		syn_lie(sc, P_STABLE, a, b, 0, 0);
	} else {
		syn_truth(sc, P_RESTS, a, b, 0, 0);
		syn_truth(sc, P_STABLE, a, b, 0, 0);
		syn_lie(sc, P_FALLOFF, a, b, 0, 0);
		syn_lie(sc, P_TOPPLE, a, b, 0, 0);
	}
	syn_lie(sc, P_FALLOFF, b, a, 0, 0);
	syn_lie(sc, P_RESTS, b, a, 0, 0);
	if (base) {
		syn_truth(sc, P_RESTS, b, w, 0, 0);
		syn_lie(sc, P_FALLOFF, b, w, 0, 0);
	}
	syn_cls(sc, "PPS");
}

/* A ramp with a flat top at its high end, one thing at its foot, one
 * beyond its high end, and a ball on the slope or (one time in four)
 * resting on the flat top. */
static void kind_slope(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.84, 0.88);
	syn_ground(x, g);
	int h = syn_role(x, 1) ? 1 : -1;   /* the high end: +1 right */
	int still = syn_int(r, 4) == 0;
	double wr = syn_unif(r, 0.36, 0.46), hr = syn_unif(r, 0.24, 0.34);
	double x0 = 0.5 - wr / 2 + syn_unif(r, -0.04, 0.04);
	double xl = h > 0 ? x0 : x0 + wr, xh = h > 0 ? x0 + wr : x0;
	int ramp = syn_add(x, N_RAMP, GREY, 1, 0);
	int m = syn_add_coloured(x, N_BALL, 0);
	int a = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	int b = syn_add_coloured(x, syn_key_shape(x, plain, 5), 0);
	syn_roles(x, &a, &b);
	/* corners in order around the quad: the top ones right to left */
	double wf = 0.14, t0 = h > 0 ? xh : xh + wf, t1 = h > 0 ? xh - wf : xh;
	double ramp_xy[8] = { x0, g, x0 + wr, g, t0, g - hr, t1, g - hr };
	syn_poly(x->c, ramp_xy, 4, x->rgb[ramp], 255);
	syn_occupy(x, x0, g - hr, x0 + wr, g);
	double ra = syn_unif(r, 0.045, 0.06), rb = syn_unif(r, 0.045, 0.06);
	syn_put(x, a, xl - h * syn_unif(r, 0.1, 0.13), g - ra - 0.012, ra);
	syn_put(x, b, xh + h * syn_unif(r, 0.09, 0.12), g - rb - 0.012, rb);
	/* the ball touches the slope: the contact point plus the normal */
	double rm = syn_unif(r, 0.05, 0.065), t = syn_unif(r, 0.45, 0.7);
	double ws = wr - wf, len = syn_sqrt(ws * ws + hr * hr), nx = -h * hr / len, ny = -ws / len;
	double px = xl + h * t * ws, py = g - t * hr;
	if (still)
		syn_put(x, m, xh - h * wf / 2, g - hr - rm - 0.012, rm);
	else
		syn_put(x, m, px + nx * (rm + 0.012), py + ny * (rm + 0.012), rm);
	syn_distractors(x, 1 + syn_int(r, 2), 0);
	int low = h > 0 ? D_LEFT : D_RIGHT;
	syn_cls(sc, "PPT");
	if (still) {
		syn_truth(sc, P_STAYPUT, m, 0, 0, 0);
		syn_lie(sc, P_ROLLTO, m, a, 0, 0);
		syn_lie(sc, P_ROLLTO, m, b, 0, 0);
		syn_lie(sc, P_ROLLDIR, m, 0, D_LEFT, 0);
		syn_lie(sc, P_ROLLDIR, m, 0, D_RIGHT, 0);
		syn_lie(sc, P_ROLLUP, m, 0, 0, 0);
		return;
	}
	syn_truth(sc, P_ROLLTO, m, a, 0, 0);
	syn_truth(sc, P_ROLLDIR, m, 0, low, 0);
	syn_lie(sc, P_ROLLTO, m, b, 0, 0);
	syn_lie(sc, P_ROLLDIR, m, 0, low ^ 1, 0);
	syn_lie(sc, P_STAYPUT, m, 0, 0, 0);
	syn_lie(sc, P_ROLLUP, m, 0, 0, 0);
}

/* A plank on two posts, or on one post at one end with the other end
 * free; a thing on the plank. */
static void kind_support(struct ctx *x)
{
	struct syn_scene *sc = x->sc;
	struct syn_rng *r = x->r;
	double g = syn_unif(r, 0.84, 0.88);
	syn_ground(x, g);
	int held = syn_role(x, 0), miss = syn_role(x, 1);
	double wp = syn_unif(r, 0.5, 0.6), th = 0.045, yp = g - syn_unif(r, 0.26, 0.32);
	double xp = 0.5 - wp / 2 + syn_unif(r, -0.04, 0.04);
	int p = syn_add_coloured(x, N_PLANK, 0);
	syn_add(x, N_POST, GREY, held ? 2 : 1, 0);
	int o = syn_add_coloured(x, syn_int(x->fr, 2) ? N_BOX : N_BALL, 0);
	struct syn_rgb grey = syn_palette[GREY];
	if (held || miss == D_RIGHT)
		syn_rect(x->c, xp + 0.03, yp + th, xp + 0.08, g, grey);
	if (held || miss == D_LEFT)
		syn_rect(x->c, xp + wp - 0.08, yp + th, xp + wp - 0.03, g, grey);
	block(x, p, xp, yp, xp + wp, yp + th);
	syn_occupy(x, xp, yp, xp + wp, g);
	double ro = syn_unif(r, 0.05, 0.06), t = syn_unif(r, 0.3, 0.7);
	if (!held) {
		t = syn_unif(r, 0.62, 0.8);
		t = miss == D_RIGHT ? t : 1 - t;
	}
	syn_put(x, o, xp + t * wp, yp - ro - 0.012, ro);
	syn_distractors(x, 1 + syn_int(r, 2), g);
	if (held) {
		syn_truth(sc, P_HELD, p, 0, 0, 0);
		syn_truth(sc, P_SAFE, o, p, 0, 0);
		for (int d = D_LEFT; d <= D_RIGHT; d++) {
			syn_lie(sc, P_TIPS, p, 0, d, 0);
			syn_lie(sc, P_UNSUP, p, 0, d, 0);
		}
		syn_lie(sc, P_SLIDE, o, p, 0, 0);
	} else {
		syn_truth(sc, P_TIPS, p, 0, miss, 0);
		syn_truth(sc, P_UNSUP, p, 0, miss, 0);
		syn_truth(sc, P_SLIDE, o, p, 0, 0);
		syn_lie(sc, P_TIPS, p, 0, miss ^ 1, 0);
		syn_lie(sc, P_UNSUP, p, 0, miss ^ 1, 0);
		syn_lie(sc, P_HELD, p, 0, 0, 0);
		syn_lie(sc, P_SAFE, o, p, 0, 0);
	}
	syn_cls(sc, "PPS");
}


void syn_scene_draw(struct syn_scene *sc, struct syn_canvas *c, struct syn_rng *r,
	struct syn_rng *fr, int m, int cat, int key_objects)
{
	memset(sc, 0, sizeof *sc);
	struct ctx x = { .sc = sc, .c = c, .r = r, .fr = fr, .m = m, .kcol = key_objects,
		.kshape = key_objects };
	if (x.kcol > NCOLOURS || x.kcol < 2)
		x.kcol = NCOLOURS;
	if (x.kshape > 5 || x.kshape < 2)
		x.kshape = 5;
	/* the family's kind; left-right and above-below, and the three
	 * actions, are one family kind whose members differ in the fact */
	int k = kind_first[cat] + syn_int(fr, kind_first[cat + 1] - kind_first[cat]);
	if (k == K_LR || k == K_AB)
		sc->group = K_LR, k = syn_role(&x, 1) ? K_AB : K_LR;
	else if (k >= K_REACH && k <= K_CARRY)
		sc->group = K_REACH, k = K_REACH + (m >> 1) % 3;
	else
		sc->group = k;
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
	/* the choice set asks a truth that some lie contradicts with the
	 * same objects (every kind has one) */
	int cand[SYN_MAXREAD], nc = 0;
	for (int t = 0; t < sc->ntrue; t++)
		if (syn_minimal_lies(sc, t))
			cand[nc++] = t;
	sc->main_truth = nc ? cand[syn_int(r, nc)] : syn_int(r, sc->ntrue);
}
