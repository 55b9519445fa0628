/* synth_impl.h - what synth_draw.c, synth_scene.c and synth_text.c share:
 * the generator, the rasteriser, the objects of a scene and its readings
 * (a predicate over objects that the scene makes true or false). Private
 * to the library. */
#ifndef RCLIP_SYNTH_IMPL_H
#define RCLIP_SYNTH_IMPL_H

#include <stdint.h>

#include "synth/synth.h"

/* Pixels must not depend on the compiler: no fused multiply-adds (GCC
 * does not fuse under -std=c11; clang would within an expression). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ---------------------------------------------------------------- random */

struct syn_rng {
	uint64_t s[4];
};

void syn_rng_seed(struct syn_rng *r, uint64_t seed, uint64_t index, uint64_t stream);
uint64_t syn_rng_next(struct syn_rng *r);
double syn_unif(struct syn_rng *r, double lo, double hi); /* [lo, hi) */
int syn_int(struct syn_rng *r, int n);                    /* 0..n-1 */

/* ---------------------------------------------------------------- drawing */

struct syn_rgb {
	uint8_t r, g, b;
};

/* Coordinates are in units of the image side, y down: (0,0) top left,
 * (1,1) bottom right. Each pixel is covered by 2×2 samples. Shapes are
 * moved by (dx, dy) and clipped to clip_x0 <= x < clip_x1 (shape
 * coordinates, before the move), which draws a broken object in halves. */
struct syn_canvas {
	uint8_t *px;
	int size;
	double dx, dy, clip_x0, clip_x1;
};

void syn_canvas_init(struct syn_canvas *c, uint8_t *px, int size, struct syn_rgb bg);
void syn_rect(struct syn_canvas *c, double x0, double y0, double x1, double y1,
	struct syn_rgb col);
void syn_circle(struct syn_canvas *c, double cx, double cy, double r, struct syn_rgb col,
	int alpha);
void syn_ring(struct syn_canvas *c, double cx, double cy, double r, double rin,
	struct syn_rgb col);
void syn_poly(struct syn_canvas *c, const double *xy, int n, struct syn_rgb col, int alpha);
void syn_tri(struct syn_canvas *c, double x0, double y0, double x1, double y1, double x2,
	double y2, struct syn_rgb col);
void syn_line(struct syn_canvas *c, double x0, double y0, double x1, double y1, double w,
	struct syn_rgb col);
struct syn_rgb syn_shade(struct syn_rgb c, int num); /* c * num / 16 */

/* ---------------------------------------------------------------- objects */

enum { POSE_REACH, POSE_LOOK, POSE_CARRY };

/* syn_shape - a plain shape (N_BALL .. N_DIAMOND) of half-size r at
 * (cx, cy), with a dark rim. */
void syn_shape(struct syn_canvas *c, int noun, double cx, double cy, double r,
	struct syn_rgb col);
/* syn_state_obj - a cup, box (N_CHEST), vase or lamp of half-width r
 * standing on y = yb, in state st; syn_state_height its height. */
void syn_state_obj(struct syn_canvas *c, int noun, double cx, double yb, double r,
	struct syn_rgb col, int st);
double syn_state_height(int noun, double r);
/* syn_person - a stick figure standing at xf on y = g, facing f (-1 left,
 * +1 right): reaching with a hand to (tx, ty), looking at (tx, ty), or
 * carrying a thing held at (tx, ty). */
void syn_person(struct syn_canvas *c, double xf, double g, int f, int pose, double tx,
	double ty);

/* ---------------------------------------------------------------- scenes */

enum syn_noun {
	N_BALL, N_BOX, N_TRIANGLE, N_RING, N_DIAMOND,   /* plain shapes */
	N_FRAME, N_HOOP,                                /* containers (S) */
	N_CUP, N_CHEST, N_VASE, N_LAMP,                 /* state objects (A, T) */
	N_BLOCK, N_PLANK, N_POST, N_RAMP, N_STAND, N_PERSON,
	N_NOUNS
};

enum { NCOLOURS = 8 };
extern const char *const syn_colour_name[NCOLOURS + 1];   /* + grey */
extern const char *const syn_noun_name[N_NOUNS][2];   /* singular, plural */

struct syn_obj {
	int noun;
	int colour;    /* index into syn_colour_name, -1 = not said */
	int count;     /* 1, or 2 for "two grey posts" */
	int size;      /* 0 not said, 1 small, 2 large */
	int key;       /* 1: an object the facts are about (not a distractor) */
};

/* States come in pairs s, s^1: full/empty, open/closed, broken/intact,
 * lit/unlit. */
enum { ST_FULL, ST_EMPTY, ST_OPEN, ST_CLOSED, ST_BROKEN, ST_INTACT, ST_LIT, ST_UNLIT, NSTATES };
enum { D_LEFT = 0, D_RIGHT = 1 };

enum syn_pred {
	/* S */ P_LEFT, P_RIGHT, P_ABOVE, P_BELOW, P_INSIDE, P_OUTSIDE, P_BEHIND, P_INFRONT,
	P_NEARER, P_FARTHER,
	/* A */ P_IS, P_BOTH, P_WHILE,
	/* H */ P_REACH, P_LOOK, P_CARRY,
	/* T */ P_TOWARD, P_AWAY, P_DIR, P_REST, P_TRANS, P_VERB, P_STAY,
	/* P */ P_FALLOFF, P_RESTS, P_STABLE, P_TOPPLE, P_ROLLTO, P_ROLLDIR, P_STAYPUT, P_ROLLUP,
	P_TIPS, P_UNSUP, P_HELD, P_SAFE, P_SLIDE,
	NPREDS
};

/* pred(a, b) with states s, t (or a direction in s): P_WHILE is "a is s
 * while b is t", P_TRANS "a was s, then t", P_DIR "a moves to the s". */
struct syn_reading {
	uint8_t pred, a, b, s, t;
};

#define SYN_MAXOBJ 8
#define SYN_MAXREAD 12

struct syn_scene {
	int cat, kind;
	int group;                           /* the family's kind: kinds that
	                                        differ only in their fact (left-
	                                        right and above-below; reach,
	                                        look, carry) share one */
	const char *setting;                 /* desc prefix, e.g. "two panels with" */
	struct syn_obj obj[SYN_MAXOBJ];
	int nobj;
	struct syn_reading truth[SYN_MAXREAD], lie[SYN_MAXREAD];
	int ntrue, nlie;
	int main_truth;                      /* the truth the choice set asks: one
	                                        with a minimal lie */
	char cls_ls[3];
};

/* syn_scene_draw - pick a kind of category cat, place and draw its objects
 * on c (c->px and c->size set) and fill *sc: the kind and the key objects
 * from the family's stream fr, the fact from the member number m (the
 * member's index in its family plus a family offset), everything else
 * from the member's stream r. key_objects (2..8; other values: no limit)
 * limits the scene's key objects to the first key_objects colours and the
 * first min(key_objects, 5) shapes; distractors still take any. */
void syn_scene_draw(struct syn_scene *sc, struct syn_canvas *c, struct syn_rng *r,
	struct syn_rng *fr, int m, int cat, int key_objects);

/* syn_text_desc / syn_text_reading - render into buf (RC_SYNTH_TEXT). */
void syn_text_desc(const struct syn_scene *sc, struct syn_rng *r, int words, int frame,
	char *buf);
void syn_text_reading(const struct syn_scene *sc, const struct syn_reading *rd,
	struct syn_rng *r, int words, int frame, char *buf);
/* The number of frames of a wording (RC_SYNTH_WORDS_*), reasoning or
 * descriptive. */
int syn_text_nframes(int words, int desc);
/* syn_reading_objects - the objects a reading names, as a bit mask (its
 * a, and its b when the predicate's sentences name it). */
unsigned syn_reading_objects(const struct syn_reading *rd);
/* syn_minimal_lies - the number of sc's lies that name the same objects
 * as truth t: the lies that differ from it in the fact alone. */
int syn_minimal_lies(const struct syn_scene *sc, int t);

extern const char *const syn_kind_names[];
extern const int syn_kind_cat[];
int syn_nkinds(void);

#endif
