/* textclean.c - open_clip's caption cleaning (ftfy's deterministic fixes,
 * html.unescape twice, whitespace collapse, Python's lower()) on code
 * points. The order of steps and their edge cases follow the reference
 * libraries; see textclean.h for what is left out. */
#include "text/textclean.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "base/io.h"
#include "text/texttab.h"
#include "base/utf8.h"

/* A growable code point vector. */
struct vec {
	uint32_t *p;
	size_t n, cap;
};

struct rc_textclean {
	struct vec in, a, b, seg, out;
	char *u8;       /* UTF-8 scratch for NFC and table keys */
	size_t u8cap;
	size_t invalid; /* U+FFFD replacements in the last run */
	int oom;
};

static int vec_reserve(struct vec *v, size_t cap)
{
	return rc_grow((void **)&v->p, &v->cap, cap, sizeof *v->p);
}

static inline void push(struct rc_textclean *tc, struct vec *v, uint32_t cp)
{
	if (v->n == v->cap && vec_reserve(v, v->n + 1) < 0) {
		tc->oom = 1;
		return;
	}
	v->p[v->n++] = cp;
}

static void push_utf8(struct rc_textclean *tc, struct vec *v, const char *s)
{
	size_t len = strlen(s), i = 0;
	while (i < len)
		push(tc, v, rc_utf8_next(s, len, &i));
}

static void push_range(struct rc_textclean *tc, struct vec *v, const uint32_t *p, size_t n)
{
	if (n == 0) /* p and v->p may be NULL */
		return;
	if (vec_reserve(v, v->n + n) < 0) {
		tc->oom = 1;
		return;
	}
	memcpy(v->p + v->n, p, n * sizeof *p);
	v->n += n;
}

static void swap(struct vec *a, struct vec *b)
{
	struct vec t = *a;
	*a = *b;
	*b = t;
}

static int u8_reserve(struct rc_textclean *tc, size_t n)
{
	return rc_grow((void **)&tc->u8, &tc->u8cap, n, 1);
}

struct rc_textclean *rc_textclean_new(void)
{
	return calloc(1, sizeof(struct rc_textclean));
}

void rc_textclean_free(struct rc_textclean *tc)
{
	if (!tc)
		return;
	free(tc->in.p);
	free(tc->a.p);
	free(tc->b.p);
	free(tc->seg.p);
	free(tc->out.p);
	free(tc->u8);
	free(tc);
}

size_t rc_textclean_invalid(const struct rc_textclean *tc) { return tc->invalid; }

static inline int is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static inline int is_hex(uint32_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline int is_alnum(uint32_t c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---------------------------------------------------------------- html */

/* The value of a numeric character reference, as html.unescape gives it. */
static void push_charref(struct rc_textclean *tc, struct vec *o, uint32_t num)
{
	const char *fixed = rc_tt_cpmap_find(rc_tt_html_charref, rc_tt_html_charref_n, num);
	if (fixed)
		push_utf8(tc, o, fixed);
	else if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
		push(tc, o, 0xFFFD);
	else if (!rc_tt_in(rc_tt_html_dropped, rc_tt_html_dropped_n, num))
		push(tc, o, num);
}

/* Look a run of code points up in a string map (keys are ASCII, so a run
 * with anything else is not there). */
static const char *lookup_cps(const struct rc_strmap *m, size_t mn,
	const uint32_t *p, size_t n)
{
	char key[64];
	if (n >= sizeof key)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x80)
			return NULL;
		key[i] = (char)p[i];
	}
	return rc_tt_strmap_find(m, mn, key, n);
}

/* One pass of Python's html.unescape over in, appended to o. The pattern is
 * &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?). */
static void html_unescape(struct rc_textclean *tc, const uint32_t *s, size_t n, struct vec *o)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] != '&') {
			push(tc, o, s[i++]);
			continue;
		}
		size_t j = i + 1;
		if (j < n && s[j] == '#') {
			int hex = 0;
			size_t k = j + 1;
			if (k < n && is_digit(s[k])) {
				hex = 0;
			} else if (k + 1 < n && (s[k] == 'x' || s[k] == 'X') && is_hex(s[k + 1])) {
				hex = 1;
				k++;
			} else {
				push(tc, o, s[i++]); /* no reference here */
				continue;
			}
			uint64_t num = 0;
			while (k < n && (hex ? is_hex(s[k]) : is_digit(s[k]))) {
				uint32_t c = s[k++], d;
				d = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
				num = num * (hex ? 16 : 10) + d;
				if (num > 0x110000)
					num = 0x110000; /* saturate: anything past U+10FFFF */
			}
			if (k < n && s[k] == ';')
				k++;
			push_charref(tc, o, (uint32_t)num);
			i = k;
			continue;
		}
		size_t k = j;
		while (k < n && k - j < 32) {
			uint32_t c = s[k];
			if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' ||
			    c == '&' || c == '#' || c == ';')
				break;
			k++;
		}
		if (k == j) {
			push(tc, o, s[i++]);
			continue;
		}
		if (k < n && s[k] == ';')
			k++;
		/* s[j..k) is the name. Whole, then the longest prefix of at
		 * least 2 characters, as the HTML5 rule for legacy names. */
		const char *v = lookup_cps(rc_tt_html5, rc_tt_html5_n, s + j, k - j);
		if (v) {
			push_utf8(tc, o, v);
		} else {
			size_t x;
			for (x = k - j - 1; x >= 2; x--) {
				v = lookup_cps(rc_tt_html5, rc_tt_html5_n, s + j, x);
				if (v)
					break;
			}
			if (v) {
				push_utf8(tc, o, v);
				push_range(tc, o, s + j + x, k - j - x);
			} else {
				push_range(tc, o, s + i, k - i);
			}
		}
		i = k;
	}
}

/* ---------------------------------------------------------------- ftfy */

/* ftfy's unescape_html: &#?[0-9A-Za-z]{1,24}; replaced when it names an
 * entity in ftfy's table, or is a numeric reference that html.unescape
 * consumes whole. */
static void ftfy_unescape(struct rc_textclean *tc, const uint32_t *s, size_t n, struct vec *o)
{
	size_t i = 0;
	while (i < n) {
		if (s[i] != '&') {
			push(tc, o, s[i++]);
			continue;
		}
		size_t j = i + 1;
		if (j < n && s[j] == '#')
			j++;
		size_t k = j;
		while (k < n && k - j < 25 && is_alnum(s[k]))
			k++;
		if (k == j || k - j > 24 || k >= n || s[k] != ';') {
			push(tc, o, s[i++]);
			continue;
		}
		k++; /* the ';' */
		const char *v = lookup_cps(rc_tt_ftfy_entities, rc_tt_ftfy_entities_n,
			s + i + 1, k - i - 1);
		if (v) {
			push_utf8(tc, o, v);
		} else if (s[i + 1] == '#') {
			size_t mark = o->n;
			html_unescape(tc, s + i, k - i, o);
			for (size_t t = mark; t < o->n; t++) {
				if (o->p[t] == ';') { /* only partly decoded: keep */
					o->n = mark;
					push_range(tc, o, s + i, k - i);
					break;
				}
			}
		} else {
			push_range(tc, o, s + i, k - i);
		}
		i = k;
	}
}

static int is_nd(uint32_t c)
{
	if (c < 0x80)
		return is_digit(c);
	return utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ND;
}

/* The character-level fixers, in ftfy's order, from in to o. */
static void ftfy_chars(struct rc_textclean *tc, const uint32_t *s, size_t n, struct vec *o)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t c = s[i];
		const char *v;
		if (c < 0x80) {
			if (c == '\r') { /* fix_line_breaks: \r\n and \r → \n */
				push(tc, o, '\n');
				if (i + 1 < n && s[i + 1] == '\n')
					i++;
				continue;
			}
			push(tc, o, c);
			continue;
		}
		if (c <= 0x9F) { /* fix_c1_controls */
			v = rc_tt_cpmap_find(rc_tt_ftfy_c1, rc_tt_ftfy_c1_n, c);
			if (v) {
				size_t len = strlen(v), k = 0;
				c = rc_utf8_next(v, len, &k);
			}
		}
		if ((v = rc_tt_cpmap_find(rc_tt_ftfy_ligature, rc_tt_ftfy_ligature_n, c))) {
			/* The pieces of a ligature go through the later fixers. */
			size_t len = strlen(v), k = 0;
			while (k < len) {
				uint32_t d = rc_utf8_next(v, len, &k);
				if (rc_tt_in(rc_tt_ftfy_squote, rc_tt_ftfy_squote_n, d))
					d = '\'';
				push(tc, o, d);
			}
			continue;
		}
		if ((v = rc_tt_cpmap_find(rc_tt_ftfy_width, rc_tt_ftfy_width_n, c))) {
			push_utf8(tc, o, v);
			continue;
		}
		if (rc_tt_in(rc_tt_ftfy_squote, rc_tt_ftfy_squote_n, c))
			c = '\'';
		else if (rc_tt_in(rc_tt_ftfy_dquote, rc_tt_ftfy_dquote_n, c))
			c = '"';
		else if (c == 0x2028 || c == 0x2029 || c == 0x85)
			c = '\n';
		push(tc, o, c);
	}
}

/* remove_terminal_escapes (ESC [ (\d|;)* [A-Za-z]) then remove_control_chars. */
static void ftfy_controls(struct rc_textclean *tc, const uint32_t *s, size_t n, struct vec *o)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t c = s[i];
		if (c == 0x1B && i + 1 < n && s[i + 1] == '[') {
			size_t k = i + 2;
			while (k < n && (s[k] == ';' || is_nd(s[k])))
				k++;
			if (k < n && s[k] < 0x80 && ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'z')) {
				i = k;
				continue;
			}
		}
		if (rc_tt_in(rc_tt_ftfy_control, rc_tt_ftfy_control_n, c))
			continue;
		push(tc, o, c);
	}
}

/* NFC through utf8proc; text below U+0300 is already NFC. */
static void nfc(struct rc_textclean *tc, const uint32_t *s, size_t n, struct vec *o)
{
	size_t i;
	for (i = 0; i < n && s[i] < 0x300; i++)
		;
	if (i == n) {
		push_range(tc, o, s, n);
		return;
	}
	if (u8_reserve(tc, 4 * n + 1) < 0) {
		tc->oom = 1;
		return;
	}
	size_t len = rc_utf8_encode(s, n, tc->u8);
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)tc->u8, (utf8proc_ssize_t)len,
		&dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (m < 0) {
		if (m == UTF8PROC_ERROR_NOMEM)
			tc->oom = 1;
		push_range(tc, o, s, n); /* cannot happen on valid code points */
		free(dst);
		return;
	}
	size_t k = 0;
	while (k < (size_t)m)
		push(tc, o, rc_utf8_next((const char *)dst, (size_t)m, &k));
	free(dst);
}

/* One segment (a line with its '\n'), fixed until it stops changing, as
 * ftfy's fix_and_explain loops. tc->a holds it on entry and on return. */
static void ftfy_segment(struct rc_textclean *tc, int unescape)
{
	for (int round = 0; round < 64; round++) {
		struct vec *cur = &tc->a, *tmp = &tc->b;
		/* keep the round's input in seg to compare */
		tc->seg.n = 0;
		push_range(tc, &tc->seg, cur->p, cur->n);
		if (unescape) {
			tmp->n = 0;
			ftfy_unescape(tc, cur->p, cur->n, tmp);
			swap(cur, tmp);
		}
		tmp->n = 0;
		ftfy_chars(tc, cur->p, cur->n, tmp);
		swap(cur, tmp);
		tmp->n = 0;
		ftfy_controls(tc, cur->p, cur->n, tmp);
		swap(cur, tmp);
		tmp->n = 0;
		nfc(tc, cur->p, cur->n, tmp);
		swap(cur, tmp);
		if (tc->oom)
			return;
		if (cur->n == tc->seg.n &&
		    (cur->n == 0 || !memcmp(cur->p, tc->seg.p, cur->n * sizeof *cur->p)))
			return;
	}
}

/* Nothing in ftfy changes a segment that is printable ASCII (with tabs,
 * newlines and form feeds) without '&'. */
static int ftfy_noop(const uint32_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t c = s[i];
		if (c >= 0x7F || c == '&')
			return 0;
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\f')
			return 0;
	}
	return 1;
}

/* ftfy.fix_text: the segments, each fixed until stable. The result is in
 * tc->out. */
static int ftfy_text(struct rc_textclean *tc, const uint32_t *s, size_t len)
{
	const size_t max_segment = 1000000; /* ftfy's max_decode_length */
	size_t pos = 0;
	int unescape = 1; /* "auto": off from the first segment with '<' on */
	tc->oom = 0;
	tc->out.n = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && s[end] != '\n')
			end++;
		end = end < len ? end + 1 : len;
		if (end - pos > max_segment)
			end = pos + max_segment;
		for (size_t i = pos; unescape && i < end; i++)
			if (s[i] == '<')
				unescape = 0;
		if (ftfy_noop(s + pos, end - pos)) {
			push_range(tc, &tc->out, s + pos, end - pos);
		} else {
			tc->a.n = 0;
			push_range(tc, &tc->a, s + pos, end - pos);
			ftfy_segment(tc, unescape);
			push_range(tc, &tc->out, tc->a.p, tc->a.n);
		}
		if (tc->oom)
			return RC_E_NOMEM;
		pos = end;
	}
	return 0;
}

/* ---------------------------------------------------------------- case */

static inline int py_space(uint32_t c)
{
	if (c < 0x80)
		return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1C && c <= 0x1F);
	return rc_tt_in(rc_tt_py_space, rc_tt_py_space_n, c);
}

static int ignorable(uint32_t c) { return rc_tt_in(rc_tt_case_ignorable, rc_tt_case_ignorable_n, c); }
static int cased(uint32_t c) { return rc_tt_in(rc_tt_cased, rc_tt_cased_n, c); }

/* Python's Final_Sigma: cased ignorable* Σ !(ignorable* cased). */
static uint32_t sigma(const uint32_t *s, size_t n, size_t i)
{
	size_t j = i;
	while (j > 0 && ignorable(s[j - 1]))
		j--;
	if (j == 0 || !cased(s[j - 1]))
		return 0x3C3;
	j = i + 1;
	while (j < n && ignorable(s[j]))
		j++;
	return (j == n || !cased(s[j])) ? 0x3C2 : 0x3C3;
}

/* str.split() joined with single spaces, then str.lower(). out needs room
 * for 2*n code points (U+0130 lowers to two). The final-sigma context is
 * read on the collapsed text, as Python applies lower() to it. */
static size_t collapse_lower(uint32_t *s, size_t n, uint32_t *out)
{
	size_t m = 0;
	int pending = 0;
	/* Collapse in place first: lower() needs the collapsed neighbours. */
	for (size_t i = 0; i < n; i++) {
		if (py_space(s[i])) {
			pending = m > 0;
			continue;
		}
		if (pending) {
			s[m++] = ' ';
			pending = 0;
		}
		s[m++] = s[i];
	}
	size_t k = 0;
	for (size_t i = 0; i < m; i++) {
		uint32_t c = s[i];
		if (c < 0x80) {
			out[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
			continue;
		}
		if (c == 0x3A3) {
			out[k++] = sigma(s, m, i);
			continue;
		}
		const char *v = rc_tt_cpmap_find(rc_tt_lower, rc_tt_lower_n, c);
		if (!v) {
			out[k++] = c;
			continue;
		}
		size_t len = strlen(v), t = 0;
		while (t < len)
			out[k++] = rc_utf8_next(v, len, &t);
	}
	return k;
}

/* ---------------------------------------------------------------- run */

/* Printable ASCII with spaces, tabs and newlines and no '&': every step but
 * the last is a no-op; collapse and lower in one pass. */
static int ascii_fast(struct rc_textclean *tc, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		unsigned c = u[i];
		if (c >= 0x7F || c == '&' || (c < 0x20 && c != '\t' && c != '\n' && c != '\f'))
			return 0;
	}
	if (vec_reserve(&tc->out, len) < 0)
		return -1;
	uint32_t *o = tc->out.p;
	size_t m = 0;
	int pending = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned c = u[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\f') {
			pending = m > 0;
			continue;
		}
		if (pending) {
			o[m++] = ' ';
			pending = 0;
		}
		o[m++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
	}
	tc->out.n = m;
	return 1;
}

int rc_textclean_run(struct rc_textclean *tc, const char *s, size_t len,
	const uint32_t **out, size_t *n)
{
	tc->invalid = 0;
	tc->oom = 0;
	int fast = ascii_fast(tc, s, len);
	if (fast < 0)
		return RC_E_NOMEM;
	if (fast) {
		*out = tc->out.p;
		*n = tc->out.n;
		return 0;
	}
	if (vec_reserve(&tc->in, len + 1) < 0)
		return RC_E_NOMEM;
	tc->in.n = rc_utf8_decode(s, len, tc->in.p, &tc->invalid);

	int rc = ftfy_text(tc, tc->in.p, tc->in.n);
	if (rc < 0)
		return rc;
	swap(&tc->out, &tc->in); /* ftfy's result now in tc->in */
	uint32_t *buf = tc->in.p;
	size_t m = tc->in.n;
	for (int pass = 0; pass < 2; pass++) {
		tc->b.n = 0;
		html_unescape(tc, buf, m, &tc->b);
		if (tc->oom)
			return RC_E_NOMEM;
		swap(&tc->b, &tc->in);
		buf = tc->in.p;
		m = tc->in.n;
	}
	if (vec_reserve(&tc->out, 2 * m + 1) < 0)
		return RC_E_NOMEM;
	tc->out.n = collapse_lower(buf, m, tc->out.p);
	*out = tc->out.p;
	*n = tc->out.n;
	return 0;
}
