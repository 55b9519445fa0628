/* synth_text.c - the words of the synthetic world: descriptive captions
 * (objects, colours, sizes; no relations or states) and reasoning captions
 * rendered from a reading with one of several templates. Each predicate
 * has train templates and test-only ("hard") templates, and each caption
 * sits in a frame ("in this picture ...") of its wording: the hard
 * wording's sentences have forms and words training never shows; the fair
 * wording puts training's templates in frames training never uses, made
 * of training's words.
 *
 * Template marks: %a %b the objects ("the red ball"), %s %t state words,
 * %d the direction in s, %v the change from s to t, %c what shows state
 * s. A frame has @ where the caption goes. */
#include <stdio.h>
#include <string.h>

#include "synth/synth_impl.h"

struct tmpl {
	int cat;
	const char *tr[4];   /* train, NULL-terminated */
	const char *te[3];   /* test only */
};

static const struct tmpl tmpl[NPREDS] = {
	[P_LEFT] = { 0, { "%a is to the left of %b", "%a is left of %b",
		"%b is to the right of %a" },
		{ "%a is placed on the left side of %b", "%b has %a on its left" } },
	[P_RIGHT] = { 0, { "%a is to the right of %b", "%a is right of %b",
		"%b is to the left of %a" },
		{ "%a is placed on the right side of %b", "%b has %a on its right" } },
	[P_ABOVE] = { 0, { "%a is above %b", "%a is higher up than %b", "%b is below %a" },
		{ "%a is placed over %b", "%b has %a over it" } },
	[P_BELOW] = { 0, { "%a is below %b", "%a is lower down than %b", "%b is above %a" },
		{ "%a is placed under %b", "%b has %a under it" } },
	[P_INSIDE] = { 0, { "%a is inside %b", "%a is within %b", "%b contains %a" },
		{ "%a is enclosed by %b", "%b holds %a in it" } },
	[P_OUTSIDE] = { 0, { "%a is outside %b", "%a is not inside %b", "%b does not contain %a" },
		{ "%a lies out of %b", "%b does not hold %a" } },
	[P_BEHIND] = { 0, { "%a is partly hidden behind %b", "%a is behind %b",
		"%b is in front of %a" },
		{ "%a is occluded by %b", "%b covers part of %a" } },
	[P_INFRONT] = { 0, { "%a is in front of %b", "%a partly hides %b", "%b is behind %a" },
		{ "%a occludes %b", "%a covers part of %b" } },
	[P_NEARER] = { 0, { "%a is nearer than %b", "%a is closer to the viewer than %b",
		"%a is nearer than %b since it looks bigger" },
		{ "%a stands closer to us than %b", "%b is more distant than %a" } },
	[P_FARTHER] = { 0, { "%a is farther away than %b", "%a is farther from the viewer than %b",
		"%a is farther than %b since it looks smaller" },
		{ "%a stands farther from us than %b", "%b is less distant than %a" } },
	[P_IS] = { 1, { "%a is %s", "%a looks %s", "%a is %s because %c", "%a is %s since %c" },
		{ "%a appears to be %s", "%c, so %a must be %s", "%a seems to be %s" } },
	[P_BOTH] = { 1, { "both %a and %b are %s", "%a and %b are both %s",
		"%a as well as %b is %s" },
		{ "each of %a and %b is %s" } },
	[P_WHILE] = { 1, { "%a is %s while %b is %t", "%a is %s but %b is %t",
		"%a is %s and %b is %t" },
		{ "%a is %s, whereas %b is %t", "unlike %b, %a is %s" } },
	[P_REACH] = { 2, { "%a is reaching for %b", "%a reaches out for %b",
		"%a stretches an arm toward %b" },
		{ "%a is trying to grab %b", "%a extends a hand to get %b" } },
	[P_LOOK] = { 2, { "%a is looking at %b", "%a looks at %b", "%a is watching %b" },
		{ "%a has eyes on %b", "%a is gazing at %b" } },
	[P_CARRY] = { 2, { "%a is carrying %b", "%a carries %b", "%a is holding %b while walking" },
		{ "%a walks along with %b in hand", "%a is bringing %b somewhere" } },
	[P_TOWARD] = { 3, { "%a is moving toward %b", "%a is heading for %b", "%a will soon reach %b" },
		{ "%a is on its way to %b", "%a travels in the direction of %b" } },
	[P_AWAY] = { 3, { "%a is moving away from %b", "%a is leaving %b behind",
		"%a heads away from %b" },
		{ "%a gets farther from %b", "%a travels away from %b" } },
	[P_DIR] = { 3, { "%a is moving to the %d", "%a is heading %d", "%a goes to the %d" },
		{ "%a travels toward the %d", "%a is on its way to the %d" } },
	[P_REST] = { 3, { "%a is standing still", "%a is not moving", "%a stays where it is" },
		{ "%a is at rest", "%a does not move at all" } },
	[P_TRANS] = { 3, { "%a was %s and then %t", "first %a is %s, then it is %t" },
		{ "%a goes from %s to %t", "earlier %a was %s, later it is %t" } },
	[P_VERB] = { 3, { "%a %v", "between the two pictures %a %v" },
		{ "%a %v over time", "at some point %a %v" } },
	[P_STAY] = { 3, { "%a stayed %s", "%a is %s in both pictures" },
		{ "%a remains %s throughout", "%a is still %s at the end" } },
	[P_FALLOFF] = { 4, { "%a will fall off %b", "%a is about to fall off %b",
		"%a hangs too far over %b and will drop" },
		{ "%a is going to drop from %b", "%a cannot stay on top of %b" } },
	[P_RESTS] = { 4, { "%a rests safely on %b", "%a is stable on top of %b", "%a will stay on %b" },
		{ "%a sits firmly on %b", "%a is well balanced on %b" } },
	[P_STABLE] = { 4, { "the stack of %a and %b is stable",
		"the stack of %a and %b will not fall" },
		{ "%a and %b form a steady stack" } },
	[P_TOPPLE] = { 4, { "the stack of %a and %b will topple",
		"%a overhangs %b too far and will tip" },
		{ "%a and %b form a shaky stack", "%a sticks out too far over %b to stay" } },
	[P_ROLLTO] = { 4, { "%a will roll down toward %b", "%a will roll to %b",
		"%a is going to roll into %b" },
		{ "%a is bound to end up at %b", "%a will head down the ramp to %b" } },
	[P_ROLLDIR] = { 4, { "%a will roll down to the %d", "%a will roll to the %d" },
		{ "%a is about to roll off to the %d" } },
	[P_STAYPUT] = { 4, { "%a will stay where it is", "%a will not roll" },
		{ "%a is going to remain still" } },
	/* only ever a lie: its words must occur in other predicates' truths,
	 * which training's captions are made of */
	[P_ROLLUP] = { 4, { "%a will roll up the ramp",
		"%a will roll up to the top of the ramp" },
		{ "%a is going to go up the ramp" } },
	[P_TIPS] = { 4, { "%a will tip down on the %d", "%a will fall on its %d side" },
		{ "%a is going to sag on the %d" } },
	[P_UNSUP] = { 4, { "%a has no support on the %d", "%a is missing a post on the %d" },
		{ "%a lacks a support on its %d side" } },
	[P_HELD] = { 4, { "%a is held up at both ends", "%a rests on two posts" },
		{ "%a is supported on each end" } },
	[P_SAFE] = { 4, { "%a is safe on %b", "%a will not fall from %b" },
		{ "%a can stay put on %b" } },
	[P_SLIDE] = { 4, { "%a will slide off %b", "%a will fall off %b as it tips" },
		{ "%a is going to drop from %b as it tilts" } },
};

/* The carrier sentences, by wording (RC_SYNTH_WORDS_*). The fair ones are
 * new sentences made only of words training's captions use ("drawing",
 * "scene", "simple" come from its descriptive frames), so that a model
 * meets new carriers, not new words; the hard ones bring words of their
 * own ("notice", "sketch"). */
static const char *const frames[RC_SYNTH_NWORDS][4] = {
	{ "@", "in this picture @", "we can see that @", NULL },
	{ "notice that @", "as the image shows, @", NULL, NULL },
	{ "in this drawing @", "in this simple scene @", "we can see in this picture that @", NULL },
};
static const char *const desc_frames[RC_SYNTH_NWORDS][5] = {
	{ "@", "a picture of @", "a drawing of @", "a simple scene with @", NULL },
	{ "an image showing @", "a sketch with @", NULL, NULL, NULL },
	{ "a scene with @", "a simple drawing of @", "a picture with @", NULL, NULL },
};

static const char *const state_word[NSTATES] = {
	"full", "empty", "open", "closed", "broken", "intact", "lit", "unlit",
};
static const char *const state_cue[NSTATES] = {
	"water reaches its rim", "nothing is inside it", "its lid is raised", "its lid is shut",
	"it lies in pieces", "it is in one piece", "its bulb glows", "its bulb is dark",
};
/* the change from state s to s^1 */
static const char *const change_verb[NSTATES] = {
	"was emptied", "was filled", "was shut", "was opened",
	"was mended", "broke", "was switched off", "was switched on",
};
static const char *const dir_word[2] = { "left", "right" };

/* ---------------------------------------------------------------- output */

struct out {
	char *buf;
	size_t n, len;
};

static void put_s(struct out *o, const char *s)
{
	for (; *s; s++)
		if (o->len + 1 < o->n)
			o->buf[o->len++] = *s;
	o->buf[o->len] = '\0';
}

static int count(const char *const *list, int max)
{
	int n = 0;
	while (n < max && list[n])
		n++;
	return n;
}

int syn_text_nframes(int words, int desc)
{
	return desc ? count(desc_frames[words], 5) : count(frames[words], 4);
}

/* the object: "the red ball", "the person"; with indef, "a red ball",
 * "an orange box", "a small red ball", "two grey posts" */
static void object(struct out *o, const struct syn_obj *ob, int indef)
{
	char w[64];
	/* sizes only in descriptions: "the large ball is nearer" would give
	 * the answer away without looking */
	int size = indef ? ob->size : 0;
	snprintf(w, sizeof w, "%s%s%s", size == 1 ? "small " : size == 2 ? "large " : "",
		ob->colour >= 0 ? syn_colour_name[ob->colour] : "", ob->colour >= 0 ? " " : "");
	if (!indef)
		put_s(o, "the ");
	else if (ob->count == 2)
		put_s(o, "two ");
	else
		put_s(o, strchr("aeiou", w[0] ? w[0] : syn_noun_name[ob->noun][0][0]) ? "an " : "a ");
	put_s(o, w);
	put_s(o, syn_noun_name[ob->noun][ob->count == 2]);
}

static void core(struct out *o, const struct syn_scene *sc, const struct syn_reading *rd,
	const char *t)
{
	for (; *t; t++) {
		if (*t != '%' || !t[1]) {
			char ch[2] = { *t, 0 };
			put_s(o, ch);
			continue;
		}
		switch (*++t) {
		case 'a': object(o, &sc->obj[rd->a], 0); break;
		case 'b': object(o, &sc->obj[rd->b], 0); break;
		case 's': put_s(o, state_word[rd->s % NSTATES]); break;
		case 't': put_s(o, state_word[rd->t % NSTATES]); break;
		case 'd': put_s(o, dir_word[rd->s & 1]); break;
		case 'v': put_s(o, change_verb[rd->s % NSTATES]); break;
		case 'c': put_s(o, state_cue[rd->s % NSTATES]); break;
		}
	}
}

unsigned syn_reading_objects(const struct syn_reading *rd)
{
	return 1u << rd->a | (strstr(tmpl[rd->pred].tr[0], "%b") ? 1u << rd->b : 0);
}

int syn_minimal_lies(const struct syn_scene *sc, int t)
{
	unsigned want = syn_reading_objects(&sc->truth[t]);
	int n = 0;
	for (int i = 0; i < sc->nlie; i++)
		n += syn_reading_objects(&sc->lie[i]) == want;
	return n;
}

void syn_text_reading(const struct syn_scene *sc, const struct syn_reading *rd,
	struct syn_rng *r, int words, int frame, char *buf)
{
	const struct tmpl *tp = &tmpl[rd->pred];
	int hard = words == RC_SYNTH_WORDS_HARD;
	const char *const *list = hard ? tp->te : tp->tr;
	int n = hard ? count(tp->te, 3) : count(tp->tr, 4);
	const char *t = list[syn_int(r, n)];
	const char *f = frames[words][frame % syn_text_nframes(words, 0)];
	struct out o = { buf, RC_SYNTH_TEXT, 0 };
	buf[0] = '\0';
	for (; *f; f++) {
		if (*f == '@') {
			core(&o, sc, rd, t);
		} else {
			char ch[2] = { *f, 0 };
			put_s(&o, ch);
		}
	}
}

void syn_text_desc(const struct syn_scene *sc, struct syn_rng *r, int words, int frame,
	char *buf)
{
	int order[SYN_MAXOBJ];
	for (int i = 0; i < sc->nobj; i++)
		order[i] = i;
	for (int i = sc->nobj - 1; i > 0; i--) {
		int j = syn_int(r, i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	const char *f = desc_frames[words][frame % syn_text_nframes(words, 1)];
	struct out o = { buf, RC_SYNTH_TEXT, 0 };
	buf[0] = '\0';
	for (; *f; f++) {
		if (*f != '@') {
			char ch[2] = { *f, 0 };
			put_s(&o, ch);
			continue;
		}
		if (sc->setting) {
			put_s(&o, sc->setting);
			put_s(&o, " ");
		}
		for (int i = 0; i < sc->nobj; i++) {
			if (i)
				put_s(&o, i == sc->nobj - 1 ? " and " : ", ");
			object(&o, &sc->obj[order[i]], 1);
		}
	}
}

void rc_synth_phrasings(struct rc_synth_phrasings *p)
{
	memset(p, 0, sizeof *p);
	p->preds = NPREDS;
	for (int i = 0; i < NPREDS; i++) {
		int a = count(tmpl[i].tr, 4), b = count(tmpl[i].te, 3);
		p->cores[0] += a;
		p->cores[1] += b;
		p->cores_cat[tmpl[i].cat][0] += a;
		p->cores_cat[tmpl[i].cat][1] += b;
	}
	for (int s = 0; s < RC_SYNTH_NWORDS; s++) {
		p->frames[s] = syn_text_nframes(s, 0);
		p->desc[s] = syn_text_nframes(s, 1);
	}
}
