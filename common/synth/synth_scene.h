/* synth_scene.h - what the scene helpers (synth_scene.c: colours, placing,
 * truths and lies) share with the scene kinds (synth_kinds.c). Private to
 * those two files. */
#ifndef RCLIP_SYNTH_SCENE_H
#define RCLIP_SYNTH_SCENE_H

#include "synth/synth_impl.h"

enum { GREY = NCOLOURS, YELLOW = 3, BLACK = 6 };
extern const struct syn_rgb syn_palette[NCOLOURS + 1];

enum {
	K_LR, K_AB, K_IN, K_OCC, K_NF,            /* S */
	K_FILL, K_OPEN, K_BROKEN, K_LIT,          /* A */
	K_REACH, K_LOOK, K_CARRY,                 /* H */
	K_HEADING, K_PHASE,                       /* T */
	K_STACK, K_SLOPE, K_SUPPORT,              /* P */
	NKINDS
};

/* The scene being drawn. */
struct ctx {
	struct syn_scene *sc;
	struct syn_canvas *c;
	struct syn_rng *r;       /* the member's stream */
	struct syn_rng *fr;      /* the family's stream: key shapes and colours */
	int m;                   /* the member number: its bits choose the fact */
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

double syn_sqrt(double v);
int syn_pick_colour(struct ctx *x, unsigned exclude);
int syn_key_shape(struct ctx *x, const int *list, int n);
int syn_role(const struct ctx *x, int bit);
void syn_roles(const struct ctx *x, int *a, int *b);
int syn_add(struct ctx *x, int noun, int colour, int count, int size);
int syn_add_coloured(struct ctx *x, int noun, unsigned exclude);
void syn_occupy(struct ctx *x, double x0, double y0, double x1, double y1);
int syn_is_free(const struct ctx *x, double x0, double y0, double x1, double y1, double m);
void syn_truth(struct syn_scene *sc, int pred, int a, int b, int s, int t);
void syn_lie(struct syn_scene *sc, int pred, int a, int b, int s, int t);
void syn_cls(struct syn_scene *sc, const char *codes);
void syn_ground(struct ctx *x, double g);
void syn_distractors(struct ctx *x, int n, double g);
void syn_place(struct ctx *x, int i, double r, double g);
void syn_put(struct ctx *x, int i, double cx, double cy, double r);

#endif
