/* synth_objects.c - the things of the synthetic world drawn from
 * primitives: plain shapes with a dark rim, the four state objects (a cup
 * full or empty, a box open or closed, a vase whole or broken, a lamp lit
 * or not) and the stick figure reaching, looking or carrying. Sizes are
 * in image units (synth_impl.h). */
#include "synth/synth_impl.h"

static const struct syn_rgb ink = { 45, 45, 45 };

void syn_shape(struct syn_canvas *c, int noun, double cx, double cy, double r,
	struct syn_rgb col)
{
	struct syn_rgb rim = syn_shade(col, 8);
	double e = 0.012;
	switch (noun) {
	case N_BALL:
		syn_circle(c, cx, cy, r + e, rim, 255);
		syn_circle(c, cx, cy, r, col, 255);
		break;
	case N_BOX:
		syn_rect(c, cx - r - e, cy - r - e, cx + r + e, cy + r + e, rim);
		syn_rect(c, cx - r, cy - r, cx + r, cy + r, col);
		break;
	case N_TRIANGLE:
		syn_tri(c, cx, cy - r - 2 * e, cx - r - 1.6 * e, cy + r + e, cx + r + 1.6 * e,
			cy + r + e, rim);
		syn_tri(c, cx, cy - r, cx - r, cy + r, cx + r, cy + r, col);
		break;
	case N_RING:
		syn_ring(c, cx, cy, r + e, r * 0.5 - e, rim);
		syn_ring(c, cx, cy, r, r * 0.5, col);
		break;
	case N_DIAMOND: {
		double a = r + 1.4 * e;
		double o[8] = { cx, cy - a, cx + a, cy, cx, cy + a, cx - a, cy };
		double in[8] = { cx, cy - r, cx + r, cy, cx, cy + r, cx - r, cy };
		syn_poly(c, o, 4, rim, 255);
		syn_poly(c, in, 4, col, 255);
		break;
	}
	default:
		break;
	}
}

static void cup(struct syn_canvas *c, double cx, double yb, double r, struct syn_rgb col,
	int full)
{
	double top = yb - 1.7 * r, w = 0.22 * r;
	syn_ring(c, cx + 1.1 * r, yb - 0.9 * r, 0.45 * r, 0.25 * r, col);   /* handle */
	syn_rect(c, cx - r, top, cx + r, yb, col);
	/* the inside: water up to the rim, or the pale empty inside */
	syn_rect(c, cx - r + w, top, cx + r - w, yb - w, full ?
		(struct syn_rgb){ 80, 185, 245 } : (struct syn_rgb){ 248, 248, 248 });
	if (full)
		syn_rect(c, cx - r + w, top, cx + r - w, top + 0.14 * r,
			(struct syn_rgb){ 160, 220, 250 });
}

static void chest(struct syn_canvas *c, double cx, double yb, double r, struct syn_rgb col,
	int open)
{
	struct syn_rgb dark = syn_shade(col, 8);
	double top = yb - 1.3 * r;
	syn_rect(c, cx - r, top, cx + r, yb, col);
	syn_rect(c, cx - r, top + 0.55 * r, cx + r, top + 0.7 * r, dark);
	if (!open) {
		syn_rect(c, cx - 1.08 * r, top - 0.3 * r, cx + 1.08 * r, top + 0.02 * r, dark);
		return;
	}
	/* the dark inside shows, and the lid stands up from its hinge at the
	 * top left: a parallelogram A, A+u, A+u+v, A+v */
	syn_rect(c, cx - 0.9 * r, top, cx + 0.9 * r, top + 0.35 * r,
		(struct syn_rgb){ 45, 30, 20 });
	double ax = cx - 1.0 * r, ay = top, ux = 0.66 * r, uy = -1.95 * r;
	double vx = -0.38 * r, vy = -0.13 * r;
	double lid[8] = { ax, ay, ax + ux, ay + uy, ax + ux + vx, ay + uy + vy, ax + vx, ay + vy };
	syn_poly(c, lid, 4, dark, 255);
}

static void vase_whole(struct syn_canvas *c, double cx, double yb, double r,
	struct syn_rgb col)
{
	syn_circle(c, cx, yb - 0.75 * r, 0.75 * r, col, 255);
	syn_rect(c, cx - 0.3 * r, yb - 1.9 * r, cx + 0.3 * r, yb - 0.75 * r, col);
	syn_rect(c, cx - 0.48 * r, yb - 2.05 * r, cx + 0.48 * r, yb - 1.85 * r, syn_shade(col, 8));
}

static void vase(struct syn_canvas *c, double cx, double yb, double r, struct syn_rgb col,
	int broken)
{
	if (!broken) {
		vase_whole(c, cx, yb, r, col);
		return;
	}
	/* in two halves pushed apart, the right one sunk, and shards on the
	 * floor */
	for (int h = 0; h < 2; h++) {
		c->clip_x0 = h ? cx : -1e9;
		c->clip_x1 = h ? 1e9 : cx;
		c->dx = h ? 0.3 * r : -0.3 * r;
		c->dy = h ? 0.3 * r : 0;
		vase_whole(c, cx, yb, r, col);
	}
	c->clip_x0 = -1e9, c->clip_x1 = 1e9, c->dx = c->dy = 0;
	syn_tri(c, cx + 1.05 * r, yb, cx + 1.3 * r, yb - 0.3 * r, cx + 1.5 * r, yb, col);
	syn_tri(c, cx - 1.4 * r, yb, cx - 1.25 * r, yb - 0.25 * r, cx - 1.0 * r, yb, col);
}

static void lamp(struct syn_canvas *c, double cx, double yb, double r, struct syn_rgb col,
	int lit)
{
	struct syn_rgb pole = { 70, 70, 70 }, ray = { 225, 185, 25 };
	double sy = yb - 2.1 * r;   /* the bottom of the shade */
	if (lit) {
		double cone[8] = { cx - 0.6 * r, sy, cx + 0.6 * r, sy, cx + 1.5 * r, yb,
			cx - 1.5 * r, yb };
		syn_poly(c, cone, 4, (struct syn_rgb){ 255, 240, 110 }, 130);
	}
	syn_rect(c, cx - 0.55 * r, yb - 0.15 * r, cx + 0.55 * r, yb, pole);
	syn_rect(c, cx - 0.07 * r, sy, cx + 0.07 * r, yb, pole);
	syn_circle(c, cx, sy + 0.1 * r, 0.32 * r, lit ? (struct syn_rgb){ 255, 235, 80 }
		: (struct syn_rgb){ 90, 90, 90 }, 255);
	double shade[8] = { cx - 0.4 * r, sy - 0.8 * r, cx + 0.4 * r, sy - 0.8 * r,
		cx + 0.75 * r, sy, cx - 0.75 * r, sy };
	syn_poly(c, shade, 4, col, 255);
	if (lit)
		for (int k = -1; k <= 1; k += 2) {
			syn_line(c, cx + k * 0.6 * r, sy - 0.9 * r, cx + k * 0.95 * r, sy - 1.25 * r,
				0.022, ray);
			syn_line(c, cx + k * 0.95 * r, sy - 0.35 * r, cx + k * 1.4 * r, sy - 0.4 * r,
				0.022, ray);
		}
}

void syn_state_obj(struct syn_canvas *c, int noun, double cx, double yb, double r,
	struct syn_rgb col, int st)
{
	switch (noun) {
	case N_CUP: cup(c, cx, yb, r, col, st == ST_FULL); break;
	case N_CHEST: chest(c, cx, yb, r, col, st == ST_OPEN); break;
	case N_VASE: vase(c, cx, yb, r, col, st == ST_BROKEN); break;
	case N_LAMP: lamp(c, cx, yb, r, col, st == ST_LIT); break;
	default: break;
	}
}

double syn_state_height(int noun, double r)
{
	return noun == N_LAMP ? 3.2 * r : noun == N_CHEST ? 3.4 * r : 2.1 * r;
}

/* ---------------------------------------------------------------- figure */

void syn_person(struct syn_canvas *c, double xf, double g, int f, int pose, double tx,
	double ty)
{
	const double w = 0.03;
	struct syn_rgb skin = { 240, 205, 165 };
	double lean = pose == POSE_REACH ? 0.03 * f : 0;
	double hipy = g - 0.24, shy = g - 0.41, heady = g - 0.5, hr = 0.055;
	double xs = xf + lean, xh = xf + 1.3 * lean;
	/* legs: apart when standing, a stride when walking */
	double fa = pose == POSE_CARRY ? 0.11 * f : 0.06, fb = pose == POSE_CARRY ? -0.08 * f : -0.06;
	syn_line(c, xf, hipy, xf + fa, g, w, ink);
	syn_line(c, xf, hipy, xf + fb, g, w, ink);
	syn_line(c, xf, hipy, xs, shy - 0.03, w, ink);
	switch (pose) {
	case POSE_REACH:
		syn_line(c, xs, shy, tx, ty, w, ink);
		syn_line(c, xs, shy, xf - 0.06 * f, g - 0.26, w, ink);
		break;
	case POSE_LOOK: {
		syn_line(c, xs, shy, xf + 0.07, g - 0.25, w, ink);
		syn_line(c, xs, shy, xf - 0.07, g - 0.25, w, ink);
		/* the line of sight, dashed, from the eye to the thing */
		double ex = xh + 0.03 * f, ey = heady - 0.005;
		for (int k = 0; k < 4; k++) {
			double t0 = 0.22 + 0.17 * k, t1 = t0 + 0.08;
			syn_line(c, ex + t0 * (tx - ex), ey + t0 * (ty - ey), ex + t1 * (tx - ex),
				ey + t1 * (ty - ey), 0.016, (struct syn_rgb){ 95, 95, 95 });
		}
		break;
	}
	case POSE_CARRY:
		syn_line(c, xs, shy, tx, ty - 0.015, w, ink);
		syn_line(c, xs, shy + 0.01, tx, ty + 0.025, w, ink);
		break;
	}
	/* the head faces f: the eye and the nose on that side */
	syn_circle(c, xh, heady, hr, ink, 255);
	syn_circle(c, xh, heady, hr - 0.016, skin, 255);
	syn_circle(c, xh + 0.025 * f, heady - 0.01, 0.013, ink, 255);
	syn_tri(c, xh + f * (hr - 0.01), heady - 0.005, xh + f * (hr + 0.025), heady + 0.015,
		xh + f * (hr - 0.01), heady + 0.025, ink);
}
