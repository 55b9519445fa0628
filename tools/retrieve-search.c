/* retrieve-search.c - `rclip-retrieve search`: the top-k gallery rows of
 * each query by dot product (exact, common/search.h), as TSV or JSONL.
 *
 * The gallery is an (N, D) .npy, mapped rather than read; the queries are
 * an .npy of embeddings (a file, or standard input, so that `embed -o -`
 * pipes into it) or text lines encoded with a model as `embed --text`
 * does. Every input is checked (shapes, finite rows, the id count) before
 * the search, and the results are written whole or not at all. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bpe.h"
#include "cli.h"
#include "error.h"
#include "io.h"
#include "log.h"
#include "progress.h"
#include "model.h"
#include "npy.h"
#include "ops_cpu.h"
#include "search.h"
#include "thread.h"

/* The command's entry, called by rclip-retrieve.c's dispatch. */
int rc_retrieve_search(int argc, char **argv);

struct search_opts {
	const char *gallery, *ids;
	const char *queries;         /* an .npy; NULL with --text */
	const char *model, *text;    /* text queries */
	const char *out;
	long k, batch, threads;
	int jsonl;
};

static const char search_usage[] =
"Usage: rclip-retrieve search --gallery G.npy [--queries Q.npy] [OPTION]...\n"
"   or: rclip-retrieve search --gallery G.npy --model DIR --text FILE [OPTION]...\n"
"The k rows of the gallery with the largest dot product with each query,\n"
"exact (for L2-normalised embeddings: the largest cosine similarity), as\n"
"TSV lines query_index<TAB>rank<TAB>id<TAB>score on standard output.\n"
"\n"
"  -g, --gallery=FILE      an (N, D) float32 .npy, one row per item (as\n"
"                          rclip-retrieve embed writes it)\n"
"      --ids=FILE          one id per gallery row, one a line (as embed --ids\n"
"                          writes them); default: the row number, from 0\n"
"  -Q, --queries=FILE      an (M, D) float32 .npy of query embeddings; - (the\n"
"                          default without --text) is standard input\n"
"  -m, --model=DIR         with --text: the CLIP model whose text tower\n"
"                          encodes the queries (as embed --text does)\n"
"  -t, --text=FILE         one query per line of FILE (- is standard input)\n"
"  -k, --top=K             hits per query (default 10; all N when K > N)\n"
"  -o, --output=FILE       write the results to FILE, whole or not at all\n"
"                          (default: standard output)\n"
"      --jsonl             one JSON object per query instead of TSV:\n"
"                          {\"query_index\": I, \"ids\": [...], \"scores\": [...]}\n"
"  -b, --batch=N           text lines per forward pass (default 32)\n"
"  -j, --threads=N         threads (default: $OMP_NUM_THREADS, else all cores)\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           timings and sizes on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"query_index is the query's row (or line - 1), from 0; rank runs from 1;\n"
"equal scores rank by the lower gallery row. The search is exact, in tiles\n"
"on BLAS with bounded memory. Exit status: 0 success, 1 failure (a shape\n"
"mismatch, a row that is not finite, an id count that is not N, an I/O\n"
"error), 2 usage error. See rclip-retrieve(1).\n";

enum { OPT_IDS = 256, OPT_JSONL, OPT_VERSION };

static const struct option search_longopts[] = {
	{"gallery", required_argument, NULL, 'g'},
	{"ids", required_argument, NULL, OPT_IDS},
	{"queries", required_argument, NULL, 'Q'},
	{"model", required_argument, NULL, 'm'},
	{"text", required_argument, NULL, 't'},
	{"top", required_argument, NULL, 'k'},
	{"output", required_argument, NULL, 'o'},
	{"jsonl", no_argument, NULL, OPT_JSONL},
	{"batch", required_argument, NULL, 'b'},
	{"threads", required_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int search_parse(int argc, char **argv, struct search_opts *o)
{
	*o = (struct search_opts){.k = 10, .batch = 32, .out = "-"};
	int c;
	while ((c = getopt_long(argc, argv, "g:Q:m:t:k:o:b:j:qvh", search_longopts, NULL)) != -1) {
		switch (c) {
		case 'g': o->gallery = optarg; break;
		case OPT_IDS: o->ids = optarg; break;
		case 'Q': o->queries = optarg; break;
		case 'm': o->model = optarg; break;
		case 't': o->text = optarg; break;
		case 'k':
			if (rc_cli_int("-k", optarg, 1, INT32_MAX, &o->k) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'o': o->out = optarg; break;
		case OPT_JSONL: o->jsonl = 1; break;
		case 'b':
			if (rc_cli_int("--batch", optarg, 1, 65536, &o->batch) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(search_usage, stdout); return RC_EXIT_OK;
		case OPT_VERSION:
			rc_log_init("rclip-retrieve");
			rc_cli_version(stdout);
			return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s' (the gallery goes with "
			"--gallery, the queries with --queries or --text)", argv[optind]);
	if (!o->gallery)
		return rc_cli_usage_error("no gallery: give --gallery FILE.npy");
	if (o->text && o->queries)
		return rc_cli_usage_error("--queries and --text exclude each other");
	if (!o->text != !o->model)
		return rc_cli_usage_error(o->text ? "--text needs --model DIR to encode the "
			"queries" : "--model goes with --text (queries given as embeddings need "
			"no model)");
	if (!o->text && !o->queries) {
		if (rc_io_is_tty(stdin))
			return rc_cli_usage_error("no queries: give --queries FILE.npy, --text FILE, "
				"or an .npy on standard input");
		o->queries = "-";
	}
	const char *qin = o->text ? o->text : o->queries;
	if (!strcmp(o->gallery, "-") && !strcmp(qin, "-"))
		return rc_cli_usage_error("the gallery and the queries cannot both be standard "
			"input");
	if (o->ids && !strcmp(o->ids, "-") && (!strcmp(qin, "-") || !strcmp(o->gallery, "-")))
		return rc_cli_usage_error("--ids - and the %s cannot share standard input",
			strcmp(qin, "-") ? "gallery" : "queries");
	return -1;
}

static const char *shown(const char *path)
{
	return strcmp(path, "-") ? path : "(stdin)";
}

/* ---------------------------------------------------------------- text */

/* What encoding text queries needs: the model, its workspace, the
 * tokenizer and one batch of token rows. */
struct text_enc {
	struct rc_clip *m;
	struct rc_clip_ws *ws;
	struct rc_bpe *bpe;
	struct rc_bpe_state *st;
	int32_t *tokens;          /* [B,ctx] */
	int B, ctx, D;
	size_t V;
	float *rows;              /* the embeddings so far, [n,D] */
	size_t n, cap;
};

/* Encode the batch's n rows and append them. As embed does, the batch is
 * cut after its last pooled token (the first eos, or the largest id under
 * the legacy rule): the causal text tower gives the same rows. */
static int text_flush(struct text_enc *t, int n)
{
	if (n == 0)
		return 0;
	size_t D = (size_t)t->D;
	if (rc_grow((void **)&t->rows, &t->cap, (t->n + (size_t)n) * D, sizeof *t->rows) < 0)
		return RC_E_NOMEM;
	int rc = rc_clip_encode_text_cut(t->m, t->ws, t->tokens, n, t->ctx,
		t->rows + t->n * D);
	if (rc < 0)
		return rc;
	t->n += (size_t)n;
	return 0;
}

/* The text queries of o->text as rows of the model's embeddings (*out,
 * the caller frees it), checked against the gallery's width gd. */
static int text_queries(const struct search_opts *o, size_t gd, float **out, size_t *nq)
{
	struct text_enc t = {.B = (int)o->batch};
	const char *in = shown(o->text);
	FILE *f = NULL;
	struct rc_io_lines lr = {0};
	int rc, nb = 0;

	*out = NULL;
	if ((rc = rc_clip_load_hf(&t.m, o->model)) < 0)
		goto out;
	t.D = t.m->cfg.projection_dim;
	t.ctx = t.m->cfg.text.max_position;
	t.V = (size_t)t.m->cfg.text.vocab_size;
	if ((size_t)t.D != gd) {
		rc = rc_log_error(RC_E_FORMAT, "%s: the model's embeddings have %d values, the "
			"rows of %s have %zu", o->model, t.D, shown(o->gallery), gd);
		goto out;
	}
	if (t.ctx < 2) {
		rc = rc_log_error(RC_E_UNSUPPORTED, "%s: a text context of %d tokens is too short",
			o->model, t.ctx);
		goto out;
	}
	if ((rc = rc_clip_ws_new(&t.ws, t.m, 0, t.B, 0)) < 0 ||
	    (rc = rc_bpe_load_model(&t.bpe, o->model)) < 0)
		goto out;
	t.st = rc_bpe_state_new(t.bpe);
	t.tokens = rc_calloc((size_t)t.B * (size_t)t.ctx, sizeof *t.tokens);
	if (!t.st || !t.tokens) {
		rc = RC_E_NOMEM;
		goto out;
	}
	if ((rc = rc_io_open_read(o->text, &f)) < 0)
		goto out;
	rc_io_lines_init(&lr, f, in);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		const int32_t *ids;
		size_t n;
		int truncated;
		if ((rc = rc_bpe_encode(t.st, lr.line, lr.len, &ids, &n)) < 0)
			break;
		int32_t *row = t.tokens + (size_t)nb * (size_t)t.ctx;
		/* open_clip.tokenize: start, ids, end, padded with 0 */
		rc_bpe_pack(t.bpe, ids, n, row, (size_t)t.ctx, 0, &truncated);
		for (int i = 0; i < t.ctx; i++)
			if (row[i] < 0 || (size_t)row[i] >= t.V) {
				rc = rc_log_error(RC_E_RANGE, "%s:%llu: token id %d (position %d) is "
					"outside the model's vocabulary of %zu ids", in,
					(unsigned long long)lr.lineno, row[i], i, t.V);
				goto out;
			}
		if (++nb == t.B) {
			if ((rc = text_flush(&t, nb)) < 0)
				break;
			nb = 0;
		}
	}
	if (rc == 0)
		rc = text_flush(&t, nb);
	if (rc == 0)
		rc = rc_io_close(f, in);
	f = NULL;
	if (rc == 0) {
		*out = t.rows ? t.rows : rc_malloc(0);
		*nq = t.n;
		t.rows = NULL;
		rc = *out ? 0 : RC_E_NOMEM;
	}
out:
	rc_io_lines_free(&lr);
	if (f)
		rc_io_close(f, in);
	free(t.rows);
	free(t.tokens);
	rc_bpe_state_free(t.st);
	rc_bpe_free(t.bpe);
	rc_clip_ws_free(t.ws);
	rc_clip_free(t.m);
	return rc;
}

/* ---------------------------------------------------------------- ids */

/* The lines of o->ids, one per gallery row: *lines points into *buf. */
static int read_ids(const char *path, size_t n, const char *gallery, char **buf,
	char ***lines)
{
	size_t len, count = 0;
	int rc = rc_io_read_file(path, buf, &len);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < len; i++)
		count += (*buf)[i] == '\n';
	count += len > 0 && (*buf)[len - 1] != '\n';
	if (count != n)
		return rc_log_error(RC_E_FORMAT, "%s: %zu ids for the %zu rows of %s",
			shown(path), count, n, shown(gallery));
	if (!(*lines = rc_calloc(n + 1, sizeof **lines)))
		return RC_E_NOMEM;
	char *p = *buf;
	for (size_t i = 0; i < n; i++) {
		(*lines)[i] = p;
		char *nl = memchr(p, '\n', len - (size_t)(p - *buf));
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- output */

/* An id as a JSON string: embed's escapes (\\ \n \r \t) undone, then
 * escaped as JSON wants. */
static void json_id(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\' && s[1] && strchr("\\nrt", s[1])) {
			s++;
			c = *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s == 't' ? '\t' : '\\';
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

static int write_results(const struct search_opts *o, char **ids, size_t nq, size_t kk,
	const float *score, const int64_t *index)
{
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, o->out);
	if (rc < 0)
		return rc;
	FILE *f = af.f;
	for (size_t i = 0; i < nq; i++) {
		const float *s = score + i * kk;
		const int64_t *x = index + i * kk;
		if (o->jsonl) {
			fprintf(f, "{\"query_index\": %zu, \"ids\": [", i);
			for (size_t r = 0; r < kk; r++) {
				if (r)
					fputs(", ", f);
				if (ids)
					json_id(f, ids[x[r]]);
				else
					fprintf(f, "%lld", (long long)x[r]);
			}
			fputs("], \"scores\": [", f);
			for (size_t r = 0; r < kk; r++)
				fprintf(f, "%s%.9g", r ? ", " : "", (double)s[r]);
			fputs("]}\n", f);
		} else {
			for (size_t r = 0; r < kk; r++) {
				if (ids)
					fprintf(f, "%zu\t%zu\t%s\t%.9g\n", i, r + 1, ids[x[r]], (double)s[r]);
				else
					fprintf(f, "%zu\t%zu\t%lld\t%.9g\n", i, r + 1, (long long)x[r],
						(double)s[r]);
			}
		}
		if (ferror(f))
			break;
	}
	if (ferror(f)) {
		rc = rc_log_error(RC_E_IO, "%s: write error", strcmp(o->out, "-") ? o->out :
			"(stdout)");
		rc_atomic_abort(&af);
		return rc;
	}
	return rc_atomic_commit(&af);
}

/* ---------------------------------------------------------------- main */

/* The first non-finite row of x as an error naming the file, or 0. */
static int check_finite(const float *x, size_t n, size_t d, const char *what, const char *path)
{
	int64_t bad = rc_search_nonfinite_row(x, n, d);
	if (bad < 0)
		return 0;
	return rc_log_error(RC_E_FORMAT, "%s: %s row %lld is not finite (NaN or infinity)",
		shown(path), what, (long long)bad);
}

int rc_retrieve_search(int argc, char **argv)
{
	struct search_opts o;
	struct rc_npy_map g = {0};
	float *q = NULL, *score = NULL;
	int64_t *index = NULL;
	char *idbuf = NULL, **ids = NULL;
	size_t nq = 0, dq = 0;
	int rc, status = RC_EXIT_FAILURE;

	rc_log_init("rclip-retrieve search");
	if ((rc = search_parse(argc, argv, &o)) >= 0)
		return rc;
	int nt = rc_ops_set_threads((int)o.threads); /* OpenBLAS serial, OpenMP n */
	double t0 = rc_seconds();

	if (rc_npy_map_f32(o.gallery, &g) < 0)
		goto out;
	if (g.n == 0 || g.d == 0) {
		rc_log_error(RC_E_FORMAT, "%s: an empty gallery (shape (%zu, %zu))",
			shown(o.gallery), g.n, g.d);
		goto out;
	}
	if (o.ids && read_ids(o.ids, g.n, o.gallery, &idbuf, &ids) < 0)
		goto out;
	if (o.text) {
		if (text_queries(&o, g.d, &q, &nq) < 0)
			goto out;
		dq = g.d;
	} else {
		if (rc_npy_read_f32(o.queries, &q, &nq, &dq) < 0)
			goto out;
		if (dq != g.d) {
			rc_log_error(RC_E_FORMAT, "%s: queries of %zu values, the rows of %s have %zu",
				shown(o.queries), dq, shown(o.gallery), g.d);
			goto out;
		}
		if (check_finite(q, nq, dq, "query", o.queries) < 0)
			goto out;
	}
	if (check_finite(g.data, g.n, g.d, "gallery", o.gallery) < 0)
		goto out;
	double t1 = rc_seconds();

	size_t kk = rc_search_hits((size_t)o.k, g.n);
	score = rc_calloc(nq * kk + 1, sizeof *score);
	index = rc_calloc(nq * kk + 1, sizeof *index);
	struct rc_search_opts so = {.k = (size_t)o.k};
	if (!score || !index || rc_search_topk(g.data, g.n, g.d, q, nq, &so, score, index) < 0)
		goto out;
	double t2 = rc_seconds();
	/* finite rows can still overflow a product */
	for (size_t i = 0; i < nq * kk; i++)
		if (!isfinite(score[i])) {
			rc_log_error(RC_E_RANGE, "%s: query %zu: a score overflows float32 (rows of "
				"very large values)", shown(o.gallery), i / kk);
			goto out;
		}
	if (write_results(&o, ids, nq, kk, score, index) < 0)
		goto out;
	rc_log_info("%zu queries, top %zu of %zu rows of %zu, %d threads: inputs %.2f s, "
		"search %.2f s (%.1f queries/s)", nq, kk, g.n, g.d, nt, t1 - t0, t2 - t1,
		t2 > t1 ? (double)nq / (t2 - t1) : 0.0);
	status = RC_EXIT_OK;
out:
	rc_npy_unmap(&g);
	free(q);
	free(score);
	free(index);
	free(ids);
	free(idbuf);
	return status;
}
