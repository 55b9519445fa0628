/* rclip-tokenize - text ↔ token ids: CLIP BPE id for id as open_clip, or
 * with --model DIR the tokenizer a model directory holds (SigLIP's
 * SentencePiece unigram, SigLIP2's Gemma BPE: text/spm.h).
 *
 * Reads lines (files or stdin), encodes a batch of lines in parallel with
 * one encoder state per thread, and writes the rows in input order: text
 * ids, fixed-width uint16 (or uint32) rows, or token counts. --decode goes
 * back (CLIP BPE). */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/bpe.h"
#include "text/spm.h"
#include "base/cli.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/progress.h"
#include "base/thread.h"

enum format { FMT_TEXT, FMT_BIN, FMT_BIN32 };

struct opts {
	enum format format;
	long ctx;         /* context length; 0 = no truncation (text only) */
	long pad;
	const char *out;
	const char *merges, *vocab, *model;
	int decode, count, json, lower, ctx_set, pad_set;
	int tokenizer;    /* enum rc_bpe_semantics */
	long threads;
	char **inputs;
	int ninputs;
};

static const char usage_text[] =
"Usage: rclip-tokenize [OPTION]... [FILE]...\n"
"   or: rclip-tokenize --decode [OPTION]... [FILE]...\n"
"Turn each line of text into CLIP BPE token ids, id for id as open_clip's\n"
"tokenize() (or with --tokenizer hf as transformers' CLIPTokenizerFast), or\n"
"(--decode) token ids back into text; with --model, into the ids of the\n"
"model's own tokenizer (SigLIP, SigLIP2/Gemma), id for id as transformers.\n"
"With no FILE, or when FILE is -, read standard input.\n"
"\n"
"  -m, --model=DIR         the tokenizer of a model directory: spiece.model\n"
"                          (SigLIP) or tokenizer.json (Gemma, SigLIP2) as\n"
"                          transformers reads them; a CLIP directory's\n"
"                          merges.txt and vocab.json; else the CLIP BPE\n"
"      --lowercase         lowercase each line first (str.lower()), as the\n"
"                          official SigLIP2 recipe does (with --model)\n"
"  -f, --format=FMT        text: one line of ids per input line, with the\n"
"                          start and end tokens (CLIP: 49406 ... 49407), no\n"
"                          padding (default);\n"
"                          bin: rows of --context-length uint16 little-endian\n"
"                          ids, padded; bin32: the same with uint32 ids (a\n"
"                          vocabulary over 65536, such as Gemma's)\n"
"  -c, --context-length=N  row length: 77 for CLIP, 64 for SigLIP and\n"
"                          SigLIP2; longer text keeps what fits beside the\n"
"                          special tokens; 0 (text only) keeps every token\n"
"      --pad=ID            padding id for bin rows (default: 0 for CLIP, the\n"
"                          tokenizer's pad token with --model)\n"
"  -d, --decode            read ids (text lines, or bin rows with -f bin) and\n"
"                          write text; the leading start token, the last end\n"
"                          token and the padding after it are dropped\n"
"      --count             write the token count of each line (with start and\n"
"                          end tokens, before truncation) and a summary on stderr\n"
"      --json              with --count: write only a JSON summary to stdout\n"
"      --merges=FILE       BPE merges (gzip'd or plain; a Hugging Face\n"
"                          merges.txt works) instead of the shipped CLIP file\n"
"      --vocab=FILE        a Hugging Face vocab.json giving the ids (with --merges)\n"
"      --tokenizer=T       open_clip: as open_clip.tokenize (default); hf: as\n"
"                          transformers' CLIPTokenizerFast (no ftfy, no HTML\n"
"                          unescaping, <|endoftext|> spelled as Hugging Face\n"
"                          does), what a Hugging Face checkpoint is evaluated with\n"
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

enum { OPT_PAD = 256, OPT_COUNT, OPT_JSON, OPT_MERGES, OPT_VOCAB, OPT_VERSION, OPT_LOWER,
	OPT_TOKENIZER, OPT_FORCE };

static const struct option longopts[] = {
	{"format", required_argument, NULL, 'f'},
	{"context-length", required_argument, NULL, 'c'},
	{"pad", required_argument, NULL, OPT_PAD},
	{"decode", no_argument, NULL, 'd'},
	{"count", no_argument, NULL, OPT_COUNT},
	{"json", no_argument, NULL, OPT_JSON},
	{"merges", required_argument, NULL, OPT_MERGES},
	{"vocab", required_argument, NULL, OPT_VOCAB},
	{"model", required_argument, NULL, 'm'},
	{"lowercase", no_argument, NULL, OPT_LOWER},
	{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
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
	while ((c = getopt_long(argc, argv, "f:c:dm:o:j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "text"))
				o->format = FMT_TEXT;
			else if (!strcmp(optarg, "bin"))
				o->format = FMT_BIN;
			else if (!strcmp(optarg, "bin32"))
				o->format = FMT_BIN32;
			else
				return rc_cli_usage_error("unknown format '%s' (expected text, bin or bin32)", optarg);
			break;
		case 'c':
			if (rc_cli_int("--context-length", optarg, 0, 1 << 20, &o->ctx) < 0)
				return RC_EXIT_USAGE;
			o->ctx_set = 1;
			break;
		case OPT_PAD:
			if (rc_cli_int("--pad", optarg, 0, INT32_MAX, &o->pad) < 0)
				return RC_EXIT_USAGE;
			o->pad_set = 1;
			break;
		case 'm': o->model = optarg; break;
		case OPT_LOWER: o->lower = 1; break;
		case 'd': o->decode = 1; break;
		case OPT_COUNT: o->count = 1; break;
		case OPT_JSON: o->json = 1; break;
		case OPT_MERGES: o->merges = optarg; break;
		case OPT_VOCAB: o->vocab = optarg; break;
		case OPT_TOKENIZER:
			if ((o->tokenizer = rc_bpe_semantics_parse(optarg)) < 0)
				return rc_cli_usage_error("--tokenizer: '%s' (expected open_clip or hf)",
					optarg);
			break;
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
	if (o->format != FMT_BIN32 && o->pad > 65535)
		return rc_cli_usage_error("--pad %ld does not fit a uint16 bin row (-f bin32 takes it)", o->pad);
	if (o->ctx == 1 || (o->format != FMT_TEXT && o->ctx < 2))
		return rc_cli_usage_error("--context-length must be at least 2 (or 0, text only: no truncation)");
	if (o->json && !o->count)
		return rc_cli_usage_error("--json goes with --count");
	if (o->count && o->decode)
		return rc_cli_usage_error("--count and --decode exclude each other");
	if (o->vocab && !o->merges)
		return rc_cli_usage_error("--vocab needs --merges (the merges.txt beside it)");
	if (o->model && o->merges)
		return rc_cli_usage_error("--model and --merges exclude each other");
	if (o->lower && !o->model)
		return rc_cli_usage_error("--lowercase goes with --model (CLIP BPE always lowercases)");
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
	unsigned char *rows;   /* per line: a bin row (ctx ids of width bytes) */
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
	struct rc_spm *spm;          /* --model with a SentencePiece-family tokenizer */
	struct rc_spm_state **spm_states;
	size_t width;                /* bytes per id in bin rows: 2 or 4 */
	int nthreads;
	FILE *out;
	const char *out_name;
	struct batch b;
	struct stats st;
	struct rc_progress prog;
	struct rowbuf { int32_t *p; size_t cap; } *rowbuf; /* per thread */
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
	struct rowbuf *rb = &r->rowbuf[t];
	int rc, trunc = 0;
	if (r->spm) {
		rc = rc_spm_encode(r->spm_states[t], b->text.p + b->off[i], b->len[i], &ids, &n);
		if (rc < 0)
			return rc;
		b->bad[i] = rc_spm_state_invalid(r->spm_states[t]) > 0;
	} else {
		rc = rc_bpe_encode(r->states[t], b->text.p + b->off[i], b->len[i], &ids, &n);
		if (rc < 0)
			return rc;
		b->bad[i] = rc_bpe_state_invalid(r->states[t]) > 0;
	}
	/* the frame: special tokens around the ids, truncated to ctx */
	size_t need = (o->ctx > 0 ? (size_t)o->ctx : 0) + n + 3;
	if (rb->cap < need && rc_grow((void **)&rb->p, &rb->cap, need, sizeof *rb->p) < 0)
		return RC_E_NOMEM;
	int32_t *row = rb->p;
	size_t framed = r->spm ? rc_spm_frame(r->spm, ids, n, row, 0, NULL) : n + 2;
	b->ntok[i] = (uint32_t)framed;
	b->trunc[i] = o->ctx && framed > (size_t)o->ctx;
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
	if (o->format != FMT_TEXT) {
		size_t k = r->spm ? rc_spm_pack(r->spm, ids, n, row, (size_t)o->ctx, &trunc)
			: rc_bpe_pack(r->bpe, ids, n, row, (size_t)o->ctx, (int32_t)o->pad, NULL);
		if (r->spm && o->pad_set) /* the padding is where the tokenizer puts it */
			for (size_t j = 0; j < (size_t)o->ctx - k; j++)
				row[rc_spm_pad_left(r->spm) ? j : k + j] = (int32_t)o->pad;
		unsigned char *dst = b->rows + i * (size_t)o->ctx * r->width;
		for (long j = 0; j < o->ctx; j++) {
			uint32_t v = (uint32_t)row[j];
			if (r->width == 2 && v > 65535)
				return RC_E_RANGE;
			/* little-endian on every host */
			for (size_t q = 0; q < r->width; q++)
				dst[(size_t)j * r->width + q] = (unsigned char)(v >> (8 * q));
		}
		return 0;
	}
	size_t len;
	if (r->spm)
		len = rc_spm_frame(r->spm, ids, n, row, (size_t)o->ctx, &trunc);
	else {
		size_t keep = n, cap = o->ctx ? (size_t)o->ctx : n + 2;
		if (keep + 2 > cap)
			keep = cap - 2;
		row[0] = rc_bpe_sot(r->bpe);
		if (keep) /* an empty line may have no ids at all */
			memcpy(row + 1, ids, keep * sizeof *ids);
		row[keep + 1] = rc_bpe_eot(r->bpe);
		len = keep + 2;
	}
	struct buf *ob = &b->out[i];
	ob->n = 0;
	if (buf_reserve(ob, 11 * len + 1) < 0)
		return RC_E_NOMEM;
	char *p = ob->p;
	for (size_t k = 0; k < len; k++) {
		if (k)
			*p++ = ' ';
		p = fmt_u32(p, (uint32_t)row[k]);
	}
	*p++ = '\n';
	ob->n = (size_t)(p - ob->p);
	return 0;
}

static int batch_grow(struct batch *b, const struct opts *o, size_t width)
{
	b->off = rc_calloc(BATCH_LINES, sizeof *b->off);
	b->len = rc_calloc(BATCH_LINES, sizeof *b->len);
	b->out = rc_calloc(BATCH_LINES, sizeof *b->out);
	b->ntok = rc_calloc(BATCH_LINES, sizeof *b->ntok);
	b->trunc = rc_calloc(BATCH_LINES, 1);
	b->bad = rc_calloc(BATCH_LINES, 1);
	if (buf_reserve(&b->text, BATCH_BYTES) < 0)
		return RC_E_NOMEM;
	int rows = o->format != FMT_TEXT && !o->count && !o->decode;
	if (rows)
		b->rows = rc_calloc(BATCH_LINES, (size_t)o->ctx * width);
	if (!b->off || !b->len || !b->out || !b->ntok || !b->trunc || !b->bad || (rows && !b->rows))
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
	if (err == RC_E_RANGE) {
		rc_log_error(err, "%s:%llu: a token id does not fit a uint16 bin row",
			name, (unsigned long long)(b->first_line + err_line));
		rc_log_hint("-f bin32 writes uint32 ids");
		return err;
	}
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
		if (o->format != FMT_TEXT && !o->count)
			rc = rc_io_write_all(r->out, b->rows + i * (size_t)o->ctx * r->width,
				(size_t)o->ctx * r->width, r->out_name);
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
	size_t ctx = (size_t)r->o->ctx, w = r->width;
	unsigned char *raw = rc_malloc(w * ctx);
	int32_t *ids = rc_malloc(ctx * sizeof *ids);
	int rc = 0;
	unsigned long long row = 0;
	if (!raw || !ids) {
		rc = RC_E_NOMEM;
		goto out;
	}
	for (;;) {
		size_t got = fread(raw, 1, w * ctx, f);
		if (got == 0 && !ferror(f))
			break;
		if (got < w * ctx) {
			if (ferror(f))
				rc = rc_log_error(RC_E_IO, "%s: read error", name);
			else
				rc = rc_log_error(RC_E_TRUNCATED, "%s: ends inside row %llu (%zu of %zu bytes)",
					name, row + 1, got, w * ctx);
			rc_log_hint("bin rows are --context-length (%zu) uint%zu ids", ctx, 8 * w);
			goto out;
		}
		row++;
		for (size_t k = 0; k < ctx; k++) {
			uint32_t v = 0;
			for (size_t q = 0; q < w; q++)
				v |= (uint32_t)raw[w * k + q] << (8 * q);
			ids[k] = v > INT32_MAX ? INT32_MAX : (int32_t)v;
		}
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
		rc = r->o->format != FMT_TEXT ? decode_bin(r, f, name) : decode_text(r, f, name);
	else
		rc = encode_stream(r, f, name);
	int rc2 = rc_io_close(f, name);
	return rc < 0 ? rc : rc2;
}

/* The tokenizer: --model's, or the CLIP BPE (--merges, or shipped). The
 * context length defaults to the family's. */
static int load_tokenizer(struct run *r, struct opts *o)
{
	if (o->model && rc_spm_dir_kind(o->model)) {
		if (o->decode)
			return rc_log_error(RC_E_UNSUPPORTED, "--decode reads CLIP BPE ids only; %s holds "
				"a SentencePiece-family tokenizer", o->model);
		int rc = rc_spm_load_dir(&r->spm, o->model);
		if (rc < 0)
			return rc;
		rc_spm_set_lower(r->spm, o->lower);
		if (!o->ctx_set)
			o->ctx = RC_SPM_CONTEXT;
		rc_log_info("tokenizer: %s, context %ld", rc_spm_name(r->spm), o->ctx);
		return 0;
	}
	if (o->lower)
		return rc_log_error(RC_E_ARG, "--lowercase: %s holds a CLIP tokenizer, which lowercases "
			"already", o->model);
	return o->model ? rc_bpe_load_model(&r->bpe, o->model) : rc_bpe_load(&r->bpe, o->merges, o->vocab);
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
	r.width = o.format == FMT_BIN32 ? 4 : 2;
	if (load_tokenizer(&r, &o) < 0)
		goto out;
	if (r.bpe)
		rc_bpe_set_semantics(r.bpe, o.tokenizer);
	r.states = rc_calloc((size_t)r.nthreads, sizeof *r.states);
	r.spm_states = rc_calloc((size_t)r.nthreads, sizeof *r.spm_states);
	r.rowbuf = rc_calloc((size_t)r.nthreads, sizeof *r.rowbuf);
	if (!r.states || !r.spm_states || !r.rowbuf || batch_grow(&r.b, &o, r.width) < 0)
		goto out;
	for (int t = 0; t < r.nthreads; t++)
		if (r.spm ? !(r.spm_states[t] = rc_spm_state_new(r.spm)) : !(r.states[t] = rc_bpe_state_new(r.bpe)))
			goto out;
	if (rc_atomic_open(&af, o.out) < 0)
		goto out;
	r.out = af.f;
	r.out_name = strcmp(o.out, "-") ? o.out : "(stdout)";
	if (o.format != FMT_TEXT && !o.decode && !o.count && rc_io_refuse_tty(r.out) < 0)
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
	if (r.spm_states)
		for (int t = 0; t < r.nthreads; t++)
			rc_spm_state_free(r.spm_states[t]);
	free(r.states);
	free(r.spm_states);
	rc_spm_free(r.spm);
	if (r.rowbuf)
		for (int t = 0; t < r.nthreads; t++)
			free(r.rowbuf[t].p);
	free(r.rowbuf);
	batch_free(&r.b);
	rc_bpe_free(r.bpe);
	return status;
}
