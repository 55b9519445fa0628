/* synth_draw.c - the generator and the rasteriser of the synthetic world:
 * xoshiro256** seeded through splitmix64, and filled rectangles, circles,
 * rings, convex polygons and thick lines with 2×2 samples per pixel.
 * Only + - * / and comparisons on doubles (no libm), so the pixels are the
 * same wherever IEEE doubles are. */
#include <string.h>

#include "base/rng.h"
#include "synth/synth_impl.h"

/* ---------------------------------------------------------------- random */

void syn_rng_seed(struct syn_rng *r, uint64_t seed, uint64_t index, uint64_t stream)
{
	/* one independent stream per (seed, index, stream): mix the three
	 * through splitmix64 rather than adding them */
	uint64_t x = seed;
	uint64_t k = rc_rng_next(&x) ^ index;
	x = k;
	k = rc_rng_next(&x) ^ stream;
	x = k;
	for (int i = 0; i < 4; i++)
		r->s[i] = rc_rng_next(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t syn_rng_next(struct syn_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

double syn_unif(struct syn_rng *r, double lo, double hi)
{
	double u = (double)(syn_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	return lo + (hi - lo) * u;
}

int syn_int(struct syn_rng *r, int n)
{
	/* multiply-shift: unbiased enough for n this small */
	return (int)(((syn_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ---------------------------------------------------------------- shapes */

enum { SH_RECT, SH_CIRCLE, SH_RING, SH_POLY, SH_LINE };

struct shape {
	int kind, n;
	double v[8];   /* rect x0 y0 x1 y1; circle cx cy r r²; ring + rin²;
	                * poly n points; line x0 y0 x1 y1 */
	double w2;     /* line: (half width)² */
	double x0, y0, x1, y1;   /* bounding box, shape coordinates */
};

static int inside(const struct shape *s, double x, double y)
{
	switch (s->kind) {
	case SH_RECT:
		return x >= s->v[0] && x < s->v[2] && y >= s->v[1] && y < s->v[3];
	case SH_CIRCLE: {
		double ex = x - s->v[0], ey = y - s->v[1];
		return ex * ex + ey * ey <= s->v[3];
	}
	case SH_RING: {
		double ex = x - s->v[0], ey = y - s->v[1], d = ex * ex + ey * ey;
		return d <= s->v[3] && d >= s->w2;
	}
	case SH_POLY: {
		/* convex, either winding: every edge function has one sign */
		int pos = 0, neg = 0;
		for (int i = 0; i < s->n; i++) {
			int j = (i + 1) % s->n;
			double ax = s->v[2 * i], ay = s->v[2 * i + 1];
			double e = (s->v[2 * j] - ax) * (y - ay) - (s->v[2 * j + 1] - ay) * (x - ax);
			pos |= e > 0;
			neg |= e < 0;
		}
		return !(pos && neg);
	}
	case SH_LINE: {
		double ax = s->v[0], ay = s->v[1], bx = s->v[2] - ax, by = s->v[3] - ay;
		double px = x - ax, py = y - ay, ll = bx * bx + by * by;
		double t = ll > 0 ? (px * bx + py * by) / ll : 0;
		t = t < 0 ? 0 : t > 1 ? 1 : t;
		double ex = px - t * bx, ey = py - t * by;
		return ex * ex + ey * ey <= s->w2;
	}
	}
	return 0;
}

static int clampi(double v, int lo, int hi)
{
	int i = v < lo ? lo : v > hi ? hi : (int)v;
	return i;
}

static void fill(struct syn_canvas *c, const struct shape *s, struct syn_rgb col, int alpha)
{
	double S = c->size, inv = 1.0 / S;
	double bx0 = s->x0 > c->clip_x0 ? s->x0 : c->clip_x0;
	double bx1 = s->x1 < c->clip_x1 ? s->x1 : c->clip_x1;
	int px0 = clampi((bx0 + c->dx) * S - 1, 0, c->size - 1);
	int px1 = clampi((bx1 + c->dx) * S + 1, 0, c->size - 1);
	int py0 = clampi((s->y0 + c->dy) * S - 1, 0, c->size - 1);
	int py1 = clampi((s->y1 + c->dy) * S + 1, 0, c->size - 1);
	for (int py = py0; py <= py1; py++) {
		for (int px = px0; px <= px1; px++) {
			int k = 0;
			for (int q = 0; q < 4; q++) {
				double x = (px + 0.25 + 0.5 * (q & 1)) * inv - c->dx;
				double y = (py + 0.25 + 0.5 * (q >> 1)) * inv - c->dy;
				k += x >= c->clip_x0 && x < c->clip_x1 && inside(s, x, y);
			}
			if (!k)
				continue;
			int a = alpha * k;   /* out of 255 * 4 */
			uint8_t *p = c->px + ((size_t)py * c->size + px) * 3;
			p[0] = (uint8_t)((p[0] * (1020 - a) + col.r * a + 510) / 1020);
			p[1] = (uint8_t)((p[1] * (1020 - a) + col.g * a + 510) / 1020);
			p[2] = (uint8_t)((p[2] * (1020 - a) + col.b * a + 510) / 1020);
		}
	}
}

void syn_canvas_init(struct syn_canvas *c, uint8_t *px, int size, struct syn_rgb bg)
{
	*c = (struct syn_canvas){ .px = px, .size = size, .clip_x0 = -1e9, .clip_x1 = 1e9 };
	for (size_t i = 0; i < (size_t)size * size; i++) {
		px[3 * i] = bg.r;
		px[3 * i + 1] = bg.g;
		px[3 * i + 2] = bg.b;
	}
}

void syn_rect(struct syn_canvas *c, double x0, double y0, double x1, double y1,
	struct syn_rgb col)
{
	struct shape s = { .kind = SH_RECT, .v = { x0, y0, x1, y1 },
		.x0 = x0, .y0 = y0, .x1 = x1, .y1 = y1 };
	fill(c, &s, col, 255);
}

void syn_circle(struct syn_canvas *c, double cx, double cy, double r, struct syn_rgb col,
	int alpha)
{
	struct shape s = { .kind = SH_CIRCLE, .v = { cx, cy, r, r * r },
		.x0 = cx - r, .y0 = cy - r, .x1 = cx + r, .y1 = cy + r };
	fill(c, &s, col, alpha);
}

void syn_ring(struct syn_canvas *c, double cx, double cy, double r, double rin,
	struct syn_rgb col)
{
	struct shape s = { .kind = SH_RING, .v = { cx, cy, r, r * r }, .w2 = rin * rin,
		.x0 = cx - r, .y0 = cy - r, .x1 = cx + r, .y1 = cy + r };
	fill(c, &s, col, 255);
}

void syn_poly(struct syn_canvas *c, const double *xy, int n, struct syn_rgb col, int alpha)
{
	struct shape s = { .kind = SH_POLY, .n = n, .x0 = 1e9, .y0 = 1e9, .x1 = -1e9, .y1 = -1e9 };
	for (int i = 0; i < n && i < 4; i++) {
		double x = xy[2 * i], y = xy[2 * i + 1];
		s.v[2 * i] = x;
		s.v[2 * i + 1] = y;
		s.x0 = x < s.x0 ? x : s.x0;
		s.x1 = x > s.x1 ? x : s.x1;
		s.y0 = y < s.y0 ? y : s.y0;
		s.y1 = y > s.y1 ? y : s.y1;
	}
	s.n = n < 4 ? n : 4;
	fill(c, &s, col, alpha);
}

void syn_tri(struct syn_canvas *c, double x0, double y0, double x1, double y1, double x2,
	double y2, struct syn_rgb col)
{
	double xy[6] = { x0, y0, x1, y1, x2, y2 };
	syn_poly(c, xy, 3, col, 255);
}

void syn_line(struct syn_canvas *c, double x0, double y0, double x1, double y1, double w,
	struct syn_rgb col)
{
	double h = w / 2;
	struct shape s = { .kind = SH_LINE, .v = { x0, y0, x1, y1 }, .w2 = h * h,
		.x0 = (x0 < x1 ? x0 : x1) - h, .x1 = (x0 > x1 ? x0 : x1) + h,
		.y0 = (y0 < y1 ? y0 : y1) - h, .y1 = (y0 > y1 ? y0 : y1) + h };
	fill(c, &s, col, 255);
}

struct syn_rgb syn_shade(struct syn_rgb c, int num)
{
	int r = c.r * num / 16, g = c.g * num / 16, b = c.b * num / 16;
	return (struct syn_rgb){ (uint8_t)(r > 255 ? 255 : r), (uint8_t)(g > 255 ? 255 : g),
		(uint8_t)(b > 255 ? 255 : b) };
}
