/* rclip-tokenize - CLIP BPE text ↔ token ids, id for id as open_clip.
 *
 * Reads lines (files or stdin), encodes a batch of lines in parallel with
 * one encoder state per thread, and writes the rows in input order: text
 * ids, fixed-width uint16 rows, or token counts. --decode goes back. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/bpe.h"
#include "base/cli.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/thread.h"

enum format { FMT_TEXT, FMT_BIN };

struct opts {
	enum format format;
	long ctx;         /* context length; 0 = no truncation (text only) */
	long pad;
	const char *out;
	const char *merges, *vocab;
	int decode, count, json;
	long threads;
	char **inputs;
	int ninputs;
};

static const char usage_text[] =
"Usage: rclip-tokenize [OPTION]... [FILE]...\n"
"   or: rclip-tokenize --decode [OPTION]... [FILE]...\n"
"Turn each line of text into CLIP BPE token ids, id for id as open_clip's\n"
"tokenize(), or (--decode) token ids back into text. With no FILE, or when\n"
"FILE is -, read standard input.\n"
"\n"
"  -f, --format=FMT        text: one line of ids per input line, from 49406 to\n"
"                          the closing 49407, no padding (default);\n"
"                          bin: rows of --context-length uint16 little-endian\n"
"                          ids, padded with --pad\n"
"  -c, --context-length=N  row length, 77 by default; longer text keeps N-2\n"
"                          content tokens and the end token; 0 (text only)\n"
"                          keeps every token\n"
"      --pad=ID            padding id for bin rows (default 0)\n"
"  -d, --decode            read ids (text lines, or bin rows with -f bin) and\n"
"                          write text; the leading start token, the last end\n"
"                          token and the padding after it are dropped\n"
"      --count             write the token count of each line (with start and\n"
"                          end tokens, before truncation) and a summary on stderr\n"
"      --json              with --count: write only a JSON summary to stdout\n"
"      --merges=FILE       BPE merges (gzip'd or plain; a Hugging Face\n"
"                          merges.txt works) instead of the shipped CLIP file\n"
"      --vocab=FILE        a Hugging Face vocab.json giving the ids (with --merges)\n"
"  -o, --output=FILE       write to FILE (whole or not at all) instead of stdout\n"
"  -j, --threads=N         encoding threads (default: $OMP_NUM_THREADS, else\n"
"                          all cores); the output is the same for any N\n"
"      --force             replace a symlink at the output's name (the link\n"
"                          itself, never its target), or write into a FIFO or\n"
"                          device there; refused without it\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure (bad input, I/O error), 2 usage error.\n"
"Binary output is refused on a terminal. See rclip-tokenize(1).\n";

enum { OPT_PAD = 256, OPT_COUNT, OPT_JSON, OPT_MERGES, OPT_VOCAB, OPT_FORCE, OPT_VERSION };

static const struct option longopts[] = {
	{"format", required_argument, NULL, 'f'},
	{"context-length", required_argument, NULL, 'c'},
	{"pad", required_argument, NULL, OPT_PAD},
	{"decode", no_argument, NULL, 'd'},
	{"count", no_argument, NULL, OPT_COUNT},
	{"json", no_argument, NULL, OPT_JSON},
	{"merges", required_argument, NULL, OPT_MERGES},
	{"vocab", required_argument, NULL, OPT_VOCAB},
	{"output", required_argument, NULL, 'o'},
	{"threads", required_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"force", no_argument, NULL, OPT_FORCE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.format = FMT_TEXT, .ctx = RC_BPE_CONTEXT, .out = "-"};
	long v;
	int c;
	while ((c = getopt_long(argc, argv, "f:c:do:j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "text"))
				o->format = FMT_TEXT;
			else if (!strcmp(optarg, "bin"))
				o->format = FMT_BIN;
			else
				return rc_cli_usage_error("unknown format '%s' (expected text or bin)", optarg);
			break;
		case 'c':
			if (rc_cli_int("--context-length", optarg, 0, 1 << 20, &o->ctx) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_PAD:
			if (rc_cli_int("--pad", optarg, 0, 65535, &o->pad) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'd': o->decode = 1; break;
		case OPT_COUNT: o->count = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MERGES: o->merges = optarg; break;
		case OPT_VOCAB: o->vocab = optarg; break;
		case 'o': o->out = optarg; break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &v) < 0)
				return RC_EXIT_USAGE;
			o->threads = v;
			break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_FORCE: rc_atomic_set_force(1); break;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (o->ctx == 1 || (o->format == FMT_BIN && o->ctx < 2))
		return rc_cli_usage_error("--context-length must be at least 2 (or 0, text only: no truncation)");
	if (o->json && !o->count)
		return rc_cli_usage_error("--json goes with --count");
	if (o->count && o->decode)
		return rc_cli_usage_error("--count and --decode exclude each other");
	if (o->vocab && !o->merges)
		return rc_cli_usage_error("--vocab needs --merges (the merges.txt beside it)");
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	return -1;
}

/* ---------------------------------------------------------------- batches */

#define BATCH_LINES 8192
#define BATCH_BYTES (4u << 20)

struct buf {
	char *p;
	size_t n, cap;
};

static int buf_reserve(struct buf *b, size_t extra)
{
	return rc_grow((void **)&b->p, &b->cap, b->n + extra, 1);
}

/* One batch of input lines and the output of each. */
struct batch {
	struct buf text;       /* the lines, back to back */
	size_t *off, *len;     /* each line in text */
	uint64_t first_line;   /* line number of the first */
	size_t n;
	struct buf *out;       /* per line: formatted text output */
	uint16_t *rows;        /* per line: a bin row */
	uint32_t *ntok;        /* per line: tokens with start and end */
	uint8_t *trunc, *bad;  /* per line: truncated, invalid UTF-8 */
	int err;               /* first error in a worker */
	size_t err_line;
};

struct stats {
	uint64_t lines, tokens, truncated, invalid_lines, max_tokens;
};

struct run {
	const struct opts *o;
	struct rc_bpe *bpe;
	struct rc_bpe_state **states;
	int nthreads;
	FILE *out;
	const char *out_name;
	struct batch b;
	struct stats st;
	struct rc_progress prog;
	int32_t *rowbuf;       /* per thread: ctx ids */
};

static char *fmt_u32(char *p, uint32_t v)
{
	char tmp[10];
	int k = 0;
	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		*p++ = tmp[--k];
	return p;
}

/* Encode line i of the batch with thread t's state. */
static int encode_line(struct run *r, size_t i, int t)
{
	const struct opts *o = r->o;
	struct batch *b = &r->b;
	const int32_t *ids;
	size_t n;
	int rc = rc_bpe_encode(r->states[t], b->text.p + b->off[i], b->len[i], &ids, &n);
	if (rc < 0)
		return rc;
	b->bad[i] = rc_bpe_state_invalid(r->states[t]) > 0;
	b->ntok[i] = (uint32_t)(n + 2);
	b->trunc[i] = o->ctx && n + 2 > (size_t)o->ctx;
	if (o->count) {
		struct buf *ob = &b->out[i];
		ob->n = 0;
		if (!o->json) {
			if (buf_reserve(ob, 12) < 0)
				return RC_E_NOMEM;
			char *e = fmt_u32(ob->p, b->ntok[i]);
			*e++ = '\n';
			ob->n = (size_t)(e - ob->p);
		}
		return 0;
	}
	if (o->format == FMT_BIN) {
		int32_t *row = r->rowbuf + (size_t)t * (size_t)o->ctx;
		rc_bpe_pack(r->bpe, ids, n, row, (size_t)o->ctx, (int32_t)o->pad, NULL);
		uint16_t *dst = b->rows + i * (size_t)o->ctx;
		for (long k = 0; k < o->ctx; k++) {
			if (row[k] < 0 || row[k] > 65535)
				return RC_E_RANGE;
			uint16_t v = (uint16_t)row[k];
			/* little-endian on every host */
			((unsigned char *)&dst[k])[0] = (unsigned char)(v & 0xFF);
			((unsigned char *)&dst[k])[1] = (unsigned char)(v >> 8);
		}
		return 0;
	}
	size_t keep = n, cap = o->ctx ? (size_t)o->ctx : n + 2;
	if (keep + 2 > cap)
		keep = cap - 2;
	struct buf *ob = &b->out[i];
	ob->n = 0;
	if (buf_reserve(ob, 11 * (keep + 2) + 1) < 0)
		return RC_E_NOMEM;
	char *p = ob->p;
	p = fmt_u32(p, (uint32_t)rc_bpe_sot(r->bpe));
	for (size_t k = 0; k < keep; k++) {
		*p++ = ' ';
		p = fmt_u32(p, (uint32_t)ids[k]);
	}
	*p++ = ' ';
	p = fmt_u32(p, (uint32_t)rc_bpe_eot(r->bpe));
	*p++ = '\n';
	ob->n = (size_t)(p - ob->p);
	return 0;
}

static int batch_grow(struct batch *b, const struct opts *o)
{
	b->off = rc_calloc(BATCH_LINES, sizeof *b->off);
	b->len = rc_calloc(BATCH_LINES, sizeof *b->len);
	b->out = rc_calloc(BATCH_LINES, sizeof *b->out);
	b->ntok = rc_calloc(BATCH_LINES, sizeof *b->ntok);
	b->trunc = rc_calloc(BATCH_LINES, 1);
	b->bad = rc_calloc(BATCH_LINES, 1);
	if (buf_reserve(&b->text, BATCH_BYTES) < 0)
		return RC_E_NOMEM;
	if (o->format == FMT_BIN && !o->count && !o->decode)
		b->rows = rc_calloc(BATCH_LINES, (size_t)o->ctx * sizeof *b->rows);
	if (!b->off || !b->len || !b->out || !b->ntok || !b->trunc || !b->bad ||
	    (o->format == FMT_BIN && !o->count && !o->decode && !b->rows))
		return RC_E_NOMEM;
	return 0;
}

static void batch_free(struct batch *b)
{
	if (b->out)
		for (size_t i = 0; i < BATCH_LINES; i++)
			free(b->out[i].p);
	free(b->text.p);
	free(b->off);
	free(b->len);
	free(b->out);
	free(b->rows);
	free(b->ntok);
	free(b->trunc);
	free(b->bad);
}

/* Encode the batch in parallel, then write it in order. */
static int flush_batch(struct run *r, const char *name)
{
	struct batch *b = &r->b;
	const struct opts *o = r->o;
	int err = 0;
	size_t err_line = 0;
#pragma omp parallel for schedule(dynamic, 64) num_threads(r->nthreads)
	for (size_t i = 0; i < b->n; i++) {
		int rc = encode_line(r, i, rc_thread_id());
		if (rc < 0) {
#pragma omp critical
			if (!err || i < err_line) {
				err = rc;
				err_line = i;
			}
		}
	}
	if (err == RC_E_RANGE)
		return rc_log_error(err, "%s:%llu: a token id does not fit a uint16 bin row",
			name, (unsigned long long)(b->first_line + err_line));
	if (err < 0)
		return rc_log_error(err, "%s:%llu: %s", name,
			(unsigned long long)(b->first_line + err_line), rc_strerror(err));
	for (size_t i = 0; i < b->n; i++) {
		struct stats *s = &r->st;
		s->lines++;
		s->tokens += b->ntok[i];
		s->truncated += b->trunc[i];
		if (b->ntok[i] > s->max_tokens)
			s->max_tokens = b->ntok[i];
		if (b->bad[i]) {
			if (s->invalid_lines < 3)
				rc_log_warn("%s:%llu: invalid UTF-8 replaced with U+FFFD", name,
					(unsigned long long)(b->first_line + i));
			s->invalid_lines++;
		}
		int rc;
		if (o->format == FMT_BIN && !o->count)
			rc = rc_io_write_all(r->out, b->rows + i * (size_t)o->ctx,
				(size_t)o->ctx * sizeof *b->rows, r->out_name);
		else
			rc = b->out[i].n ? rc_io_write_all(r->out, b->out[i].p, b->out[i].n, r->out_name) : 0;
		if (rc < 0)
			return rc;
	}
	b->first_line += b->n;
	b->n = 0;
	b->text.n = 0;
	return 0;
}

static int encode_stream(struct run *r, FILE *f, const char *name)
{
	struct rc_io_lines lr;
	struct batch *b = &r->b;
	int rc = 0;
	rc_io_lines_init(&lr, f, name);
	b->first_line = 1;
	b->n = 0;
	b->text.n = 0;
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		if (buf_reserve(&b->text, lr.len) < 0) {
			rc = RC_E_NOMEM;
			break;
		}
		if (lr.len)
			memcpy(b->text.p + b->text.n, lr.line, lr.len);
		b->off[b->n] = b->text.n;
		b->len[b->n] = lr.len;
		b->text.n += lr.len;
		b->n++;
		rc_progress_update(&r->prog, lr.len + lr.newline);
		if (b->n == BATCH_LINES || b->text.n >= BATCH_BYTES)
			if ((rc = flush_batch(r, name)) < 0)
				break;
	}
	if (rc == 0)
		rc = flush_batch(r, name);
	rc_io_lines_free(&lr);
	return rc;
}

/* ---------------------------------------------------------------- decode */

static int decode_ids(struct run *r, const int32_t *ids, size_t n, const char *name,
	unsigned long long where, const char *unit)
{
	char *txt;
	size_t bad = 0;
	int rc = rc_bpe_decode(r->bpe, ids, n, &txt, &bad);
	if (rc == RC_E_RANGE)
		return rc_log_error(rc, "%s:%llu: token id %ld is out of range (vocabulary of %zu)%s",
			name, where, (long)ids[bad], rc_bpe_vocab_size(r->bpe), unit);
	if (rc < 0)
		return rc;
	size_t len = strlen(txt);
	txt[len] = '\n';
	rc = rc_io_write_all(r->out, txt, len + 1, r->out_name);
	free(txt);
	r->st.lines++;
	return rc;
}

static int decode_text(struct run *r, FILE *f, const char *name)
{
	struct rc_io_lines lr;
	int32_t *ids = NULL;
	size_t cap = 0;
	int rc = 0;
	rc_io_lines_init(&lr, f, name);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		size_t n = 0;
		char *p = lr.line, *end = lr.line + lr.len;
		for (;;) {
			while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == ','))
				p++;
			if (p == end)
				break;
			char *e;
			long v = strtol(p, &e, 10);
			if (e == p || v < 0 || v > INT32_MAX || (e < end && *e != ' ' && *e != '\t' &&
			    *e != '\r' && *e != ',')) {
				size_t w = strcspn(p, " \t\r,");
				rc = rc_log_error(RC_E_FORMAT, "%s:%llu: not a token id: '%.*s'", name,
					(unsigned long long)lr.lineno, (int)(w < 40 ? w : 40), p);
				goto out;
			}
			if (rc_grow((void **)&ids, &cap, n + 1, sizeof *ids) < 0) {
				rc = RC_E_NOMEM;
				goto out;
			}
			ids[n++] = (int32_t)v;
			p = e;
		}
		if ((rc = decode_ids(r, ids, n, name, (unsigned long long)lr.lineno, "")) < 0)
			goto out;
	}
out:
	free(ids);
	rc_io_lines_free(&lr);
	return rc;
}

static int decode_bin(struct run *r, FILE *f, const char *name)
{
	size_t ctx = (size_t)r->o->ctx;
	unsigned char *raw = rc_malloc(2 * ctx);
	int32_t *ids = rc_malloc(ctx * sizeof *ids);
	int rc = 0;
	unsigned long long row = 0;
	if (!raw || !ids) {
		rc = RC_E_NOMEM;
		goto out;
	}
	for (;;) {
		size_t got = fread(raw, 1, 2 * ctx, f);
		if (got == 0 && !ferror(f))
			break;
		if (got < 2 * ctx) {
			if (ferror(f))
				rc = rc_log_error(RC_E_IO, "%s: read error", name);
			else
				rc = rc_log_error(RC_E_TRUNCATED, "%s: ends inside row %llu (%zu of %zu bytes)",
					name, row + 1, got, 2 * ctx);
			rc_log_hint("bin rows are --context-length (%zu) uint16 ids", ctx);
			goto out;
		}
		row++;
		for (size_t k = 0; k < ctx; k++)
			ids[k] = raw[2 * k] | raw[2 * k + 1] << 8;
		if ((rc = decode_ids(r, ids, ctx, name, row, " in this row")) < 0)
			goto out;
	}
out:
	free(raw);
	free(ids);
	return rc;
}

/* ---------------------------------------------------------------- main */

static int run_input(struct run *r, const char *path)
{
	FILE *f;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	if (r->o->decode)
		rc = r->o->format == FMT_BIN ? decode_bin(r, f, name) : decode_text(r, f, name);
	else
		rc = encode_stream(r, f, name);
	int rc2 = rc_io_close(f, name);
	return rc < 0 ? rc : rc2;
}

/* The summary: JSON on the output with --json; else on stderr for
 * --count (a result the user asked for) or with -v. */
static int report(const struct run *r)
{
	const struct stats *s = &r->st;
	const struct opts *o = r->o;
	if (o->json) {
		fprintf(r->out, "{\"lines\": %llu, \"tokens\": %llu, \"max_tokens\": %llu, "
			"\"truncated\": %llu, \"context_length\": %ld, \"invalid_utf8_lines\": %llu}\n",
			(unsigned long long)s->lines, (unsigned long long)s->tokens,
			(unsigned long long)s->max_tokens, (unsigned long long)s->truncated, o->ctx,
			(unsigned long long)s->invalid_lines);
		return ferror(r->out) ? rc_log_error(RC_E_IO, "%s: write error", r->out_name) : 0;
	}
	if (s->invalid_lines > 3)
		rc_log_warn("%llu lines had invalid UTF-8 (replaced with U+FFFD)",
			(unsigned long long)s->invalid_lines);
	if (o->count && rc_log_level() >= RC_LOG_WARN) {
		char trunc[64] = "no truncation";
		if (o->ctx)
			snprintf(trunc, sizeof trunc, "%llu truncated at %ld",
				(unsigned long long)s->truncated, o->ctx);
		fprintf(stderr, "%s: %llu lines, %llu tokens (max %llu), %s\n",
			rc_log_progname(), (unsigned long long)s->lines, (unsigned long long)s->tokens,
			(unsigned long long)s->max_tokens, trunc);
	}
	else
		rc_log_info("%llu lines, %llu tokens, %llu truncated", (unsigned long long)s->lines,
			(unsigned long long)s->tokens, (unsigned long long)s->truncated);
	return 0;
}

static uint64_t input_bytes(const struct opts *o)
{
	uint64_t total = 0;
	for (int i = 0; i < o->ninputs; i++) {
		struct stat sb;
		if (!strcmp(o->inputs[i], "-") || stat(o->inputs[i], &sb) || !S_ISREG(sb.st_mode))
			return 0;
		total += (uint64_t)sb.st_size;
	}
	return o->ninputs ? total : 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run r = {0};
	struct rc_atomic_file af = {0};
	int status = RC_EXIT_FAILURE, rc;

	rc_log_init("rclip-tokenize");
	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	r.o = &o;
	r.nthreads = rc_thread_set((int)o.threads);
	if (rc_bpe_load(&r.bpe, o.merges, o.vocab) < 0)
		goto out;
	r.states = rc_calloc((size_t)r.nthreads, sizeof *r.states);
	r.rowbuf = rc_calloc((size_t)r.nthreads, (size_t)(o.ctx ? o.ctx : 1) * sizeof *r.rowbuf);
	if (!r.states || !r.rowbuf || batch_grow(&r.b, &o) < 0)
		goto out;
	for (int t = 0; t < r.nthreads; t++)
		if (!(r.states[t] = rc_bpe_state_new(r.bpe)))
			goto out;
	if (rc_atomic_open(&af, o.out) < 0)
		goto out;
	r.out = af.f;
	r.out_name = strcmp(o.out, "-") ? o.out : "(stdout)";
	if (o.format == FMT_BIN && !o.decode && !o.count && rc_io_refuse_tty(r.out) < 0)
		goto out;
	setvbuf(r.out, NULL, _IOFBF, 1 << 20);

	rc_progress_begin(&r.prog, o.decode ? "decode" : "tokenize", input_bytes(&o));
	static char *stdin_only[] = {"-"};
	char **inputs = o.ninputs ? o.inputs : stdin_only;
	int ninputs = o.ninputs ? o.ninputs : 1;
	for (int i = 0; i < ninputs; i++)
		if (run_input(&r, inputs[i]) < 0) {
			rc_progress_end(&r.prog);
			goto out;
		}
	rc_progress_end(&r.prog);
	if (report(&r) < 0 || rc_atomic_commit(&af) < 0)
		goto out;
	status = RC_EXIT_OK;
out:
	rc_atomic_abort(&af);
	if (r.states)
		for (int t = 0; t < r.nthreads; t++)
			rc_bpe_state_free(r.states[t]);
	free(r.states);
	free(r.rowbuf);
	batch_free(&r.b);
	rc_bpe_free(r.bpe);
	return status;
}
