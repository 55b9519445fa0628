/* rclip-retrieve - retrieval with a CLIP model, one subcommand per job as
 * git does: `embed` writes the normalised image or text embeddings of a
 * model as an (N, D) float32 .npy, one row per input in input order;
 * `search` gives the exact top-k rows of such a file (search.h)
 * for each query.
 *
 * embed reads a batch of inputs, prepares it on -j threads (images read,
 * decoded and CLIP-cropped, or taken from shards; text lines tokenized),
 * runs the model on the batch (its ops use the same threads), and appends
 * the rows, a bad input failing the run or (--skip-bad) giving a NaN row. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "text/bpe.h"
#include "base/cli.h"
#include "base/error.h"
#include "data/image.h"
#include "data/ingest.h"
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "model/backend.h"
#include "model/cpu.h"   /* interim: the encoder replaces this */
#include "data/npy.h"
#include "model/ops_cpu.h"
#include "base/progress.h"
#include "eval/search.h"
#include "data/shard.h"
#include "base/thread.h"

static const char usage_text[] =
"Usage: rclip-retrieve COMMAND [OPTION]...\n"
"Retrieval with a CLIP model (a Hugging Face CLIPModel directory).\n"
"\n"
"Commands:\n"
"  embed     write image or text embeddings as an (N, D) float32 .npy file\n"
"  search    the top-k rows of such a file for each query (embeddings or\n"
"            text lines), as TSV or JSONL\n"
"\n"
"Run 'rclip-retrieve COMMAND --help' for the options of a command.\n"
"\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error. See rclip-retrieve(1).\n";

/* ================================================================ embed */

struct embed_opts {
	const char *model;
	const char *images, *text;  /* exactly one */
	const char *out, *ids, *report, *image_root;
	long batch, threads;
	int skip_bad;
};

static const char embed_usage[] =
"Usage: rclip-retrieve embed --model DIR --images INPUT -o OUT.npy [OPTION]...\n"
"   or: rclip-retrieve embed --model DIR --text FILE -o OUT.npy [OPTION]...\n"
"Write the L2-normalised embeddings of a CLIP model as a NumPy .npy file of\n"
"float32, shape (N, D) with D the model's projection_dim: one row per image\n"
"or text line, in input order.\n"
"\n"
"  -m, --model=DIR         a Hugging Face CLIPModel directory (config.json and\n"
"                          model.safetensors; vocab.json and merges.txt, when\n"
"                          present, give the tokenizer)\n"
"  -i, --images=INPUT      a manifest (JSONL in any rclip schema, or TSV\n"
"                          image_path<TAB>caption; - reads standard input),\n"
"                          a shard list (.list) or one shard (.rcs): one row\n"
"                          per record\n"
"  -t, --text=FILE         one row per line of FILE (- is standard input),\n"
"                          tokenized as open_clip does\n"
"  -o, --output=FILE       the .npy file (written whole or not at all); - is\n"
"                          standard output, refused on a terminal\n"
"      --ids=FILE          also write one key per row: the record's key (its\n"
"                          image_path, or the id of a choice-set record) or\n"
"                          the text's line number\n"
"      --image-root=DIR    resolve relative image paths against DIR (default:\n"
"                          the manifest's directory; the current one for -)\n"
"  -b, --batch=N           inputs per forward pass (default 32)\n"
"      --skip-bad          a bad input (missing or corrupt image, malformed\n"
"                          line, damaged record) gets a row of NaN and a\n"
"                          warning instead of stopping the run\n"
"  -j, --threads=N         threads for decoding and for the model (default:\n"
"                          $OMP_NUM_THREADS, else all cores)\n"
"      --report=FILE       a JSON summary to FILE (- is standard output)\n"
"      --json              the same as --report=-\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           a summary and more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Images are CLIP-preprocessed to the model's image_size exactly as Pillow\n"
"and Hugging Face do; shards must hold images of that size. Exit status:\n"
"0 success, 1 failure (a bad input without --skip-bad, an I/O error),\n"
"2 usage error. See rclip-retrieve(1).\n";

/* the long options of both commands */
enum { OPT_IDS = 256, OPT_ROOT, OPT_SKIP_BAD, OPT_REPORT, OPT_JSON, OPT_JSONL, OPT_VERSION };

static const struct option embed_longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"images", required_argument, NULL, 'i'},
	{"text", required_argument, NULL, 't'},
	{"output", required_argument, NULL, 'o'},
	{"ids", required_argument, NULL, OPT_IDS},
	{"image-root", required_argument, NULL, OPT_ROOT},
	{"batch", required_argument, NULL, 'b'},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"threads", required_argument, NULL, 'j'},
	{"report", required_argument, NULL, OPT_REPORT},
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int embed_parse(int argc, char **argv, struct embed_opts *o)
{
	*o = (struct embed_opts){.batch = 32};
	int c, json = 0;
	while ((c = getopt_long(argc, argv, "m:i:t:o:b:j:qvh", embed_longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'i': o->images = optarg; break;
		case 't': o->text = optarg; break;
		case 'o': o->out = optarg; break;
		case OPT_IDS: o->ids = optarg; break;
		case OPT_ROOT: o->image_root = optarg; break;
		case 'b':
			if (rc_cli_int("--batch", optarg, 1, 65536, &o->batch) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_SKIP_BAD: o->skip_bad = 1; break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_REPORT: o->report = optarg; break;
		case OPT_JSON: json = 1; break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(embed_usage, stdout); return RC_EXIT_OK;
		case OPT_VERSION:
			rc_log_init("rclip-retrieve");
			rc_cli_version(stdout);
			return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s' (inputs go with --images or "
			"--text)", argv[optind]);
	if (json && o->report)
		return rc_cli_usage_error("--json and --report exclude each other");
	if (json)
		o->report = "-";
	if (!o->model)
		return rc_cli_usage_error("no model: give --model DIR");
	if (!o->images == !o->text)
		return rc_cli_usage_error(o->images ? "--images and --text exclude each other"
			: "no input: give --images INPUT or --text FILE");
	if (!o->out)
		return rc_cli_usage_error("no output: give -o FILE (- for standard output)");
	if (o->image_root && !o->images)
		return rc_cli_usage_error("--image-root goes with --images");
	int to_stdout = !strcmp(o->out, "-");
	if (o->report && !strcmp(o->report, "-") && to_stdout)
		return rc_cli_usage_error("standard output carries the embeddings: give "
			"--report FILE for the summary");
	if (o->ids && !strcmp(o->ids, "-") && (to_stdout || (o->report && !strcmp(o->report, "-"))))
		return rc_cli_usage_error("--ids - and the %s cannot share standard output",
			to_stdout ? "embeddings" : "report");
	return -1;
}

/* ---------------------------------------------------------------- state */

enum item_kind {
	ITEM_FILE,       /* an image file of a manifest: read, decode, crop */
	ITEM_RAW,        /* a shard's S×S×3 pixels */
	ITEM_JPEG,       /* a shard's JPEG of the S×S image */
	ITEM_TEXT,       /* a text line */
};

/* One input of a batch. Its strings and bytes live in the batch's arena. */
struct item {
	int kind;
	const char *path;          /* ITEM_FILE */
	const uint8_t *data;       /* ITEM_RAW, ITEM_JPEG, ITEM_TEXT */
	size_t len;
	const char *input;         /* the file it came from, for messages */
	const char *key;           /* for --ids; NULL: empty */
	size_t key_len;
	uint64_t where;            /* line (manifest, text) or record (shard) */
	int bad;                   /* unusable: why says why */
	int fatal;                 /* out of memory and the like */
	int truncated, invalid;    /* text: cut to the context, bad UTF-8 */
	char why[256];
};

struct stats {
	uint64_t rows, bad, truncated, invalid_utf8;
};

struct embed {
	const struct embed_opts *o;
	struct rc_clip *m;
	struct rc_clip_ws *ws;
	int nthreads;
	int S, D, ctx;             /* image side, embedding width, text context */
	size_t V;                  /* the text vocabulary */
	const char *input;         /* the input being read, for messages */
	int input_records;         /* positions are records, not lines */
	/* the batch */
	struct item *items;
	int n, cap;
	struct rc_arena arena;
	float *pixels;             /* [B,3,S,S] */
	int32_t *tokens;           /* [B,ctx] */
	float *emb;                /* [B,D] the model's rows */
	float *rows;               /* [B,D] the rows written */
	/* workers */
	struct rc_bpe *bpe;
	struct rc_bpe_state **states;      /* text */
	struct rc_ingest_opts io;
	struct rc_ingest_worker **workers; /* images */
	/* output */
	struct rc_npy_writer *npy;
	struct rc_atomic_file idf;
	const char *ids_name;
	struct stats st;
	struct rc_progress prog;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static const char *display(const char *path, const char *std)
{
	return strcmp(path, "-") ? path : std;
}

/* "FILE:LINE" or "SHARD: record N", into buf. */
static const char *where(const struct embed *e, const struct item *it, char *buf, size_t n)
{
	if (e->input_records)
		snprintf(buf, n, "%s: record %llu", it->input, (unsigned long long)it->where);
	else
		snprintf(buf, n, "%s:%llu", it->input, (unsigned long long)it->where);
	return buf;
}

/* A new item at the end of the batch (the caller fills it). */
static struct item *item_new(struct embed *e, int kind, uint64_t where_)
{
	struct item *it = &e->items[e->n++];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->input = e->input;
	it->where = where_;
	return it;
}

static int item_bad(struct item *it, const char *why)
{
	it->bad = 1;
	snprintf(it->why, sizeof it->why, "%s", why);
	return 0;
}

/* ---------------------------------------------------------------- prepare */

/* Item i into its slot of the batch, on thread t: pixels for images, a
 * row of token ids for text. Sets it->bad (or it->fatal) with a reason. */
static void prepare(struct embed *e, int i, int t)
{
	struct item *it = &e->items[i];
	size_t plane = (size_t)3 * (size_t)e->S * (size_t)e->S;
	float *px = e->pixels ? e->pixels + (size_t)i * plane : NULL;
	if (it->bad)
		return;
	switch (it->kind) {
	case ITEM_FILE: {
		static const struct rc_record none = {.schema = RC_SCHEMA_DESC};
		struct rc_ingest_item ii;
		int rc = rc_ingest_file(e->workers[t], &none, it->path, &ii);
		if (rc < 0) {
			it->fatal = ii.status == RC_INGEST_ERROR;
			item_bad(it, ii.why);
		} else {
			rc_clip_pixels_from_rgb(ii.payload, e->S, px);
		}
		rc_ingest_item_free(&ii);
		return;
	}
	case ITEM_RAW:
		rc_clip_pixels_from_rgb(it->data, e->S, px);
		return;
	case ITEM_JPEG: {
		struct rc_image im;
		char why[160];
		int rc = rc_image_decode(it->data, it->len, NULL, &im, why, sizeof why);
		if (rc < 0) {
			it->fatal = rc == RC_E_NOMEM;
			item_bad(it, why);
			return;
		}
		if (im.w != e->S || im.h != e->S) {
			snprintf(it->why, sizeof it->why, "the stored image is %dx%d, not %dx%d",
				im.w, im.h, e->S, e->S);
			it->bad = 1;
		} else {
			rc_clip_pixels_from_rgb(im.rgb, e->S, px);
		}
		rc_image_free(&im);
		return;
	}
	case ITEM_TEXT: {
		const int32_t *ids;
		size_t n;
		if (rc_bpe_encode(e->states[t], (const char *)it->data, it->len, &ids, &n) < 0) {
			it->fatal = 1;
			item_bad(it, "out of memory");
			return;
		}
		it->invalid = rc_bpe_state_invalid(e->states[t]) > 0;
		/* open_clip.tokenize: start, ids, end, padded with 0 */
		rc_bpe_pack(e->bpe, ids, n, e->tokens + (size_t)i * (size_t)e->ctx, (size_t)e->ctx,
			0, &it->truncated);
		return;
	}
	}
}

/* ---------------------------------------------------------------- write */

/* A key on one line of the --ids file: '\\', '\n', '\r' and '\t' escaped. */
static int write_key(struct embed *e, const struct item *it)
{
	FILE *f = e->idf.f;
	char num[32];
	const char *k = it->key;
	size_t n = it->key_len;
	if (it->kind == ITEM_TEXT) {
		n = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)it->where);
		k = num;
	}
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		const char *esc = c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r" :
			c == '\t' ? "\\t" : NULL;
		if (esc)
			fputs(esc, f);
		else
			putc(c, f);
	}
	putc('\n', f);
	return ferror(f) ? rc_log_error(RC_E_IO, "%s: write error", e->ids_name) : 0;
}

/* The first token id of item i outside the model's vocabulary, or -1. */
static int64_t out_of_vocab(const struct embed *e, int i, int *pos)
{
	const int32_t *row = e->tokens + (size_t)i * (size_t)e->ctx;
	for (int k = 0; k < e->ctx; k++)
		if (row[k] < 0 || (size_t)row[k] >= e->V) {
			*pos = k;
			return row[k];
		}
	return -1;
}

/* Prepare the batch in parallel, then in input order: report bad items,
 * pack the good ones to the front, run the model, write every row. */

/* The batch is cut after its rows' last pooled token (the tower is
 * causal): see rc_clip_encode_text_cut. */
static int encode_text(struct embed *e, int n)
{
	return rc_clip_encode_text(e->m, e->ws, e->tokens, n,
		rc_clip_text_cut(&e->m->cfg, e->tokens, n, e->ctx), e->emb);
}

static int flush(struct embed *e)
{
	const struct embed_opts *o = e->o;
	int n = e->n;
	if (!n)
		return 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->nthreads)
	for (int i = 0; i < n; i++)
		prepare(e, i, rc_thread_id());

	size_t plane = (size_t)3 * (size_t)e->S * (size_t)e->S;
	int good = 0, rc = 0;
	char w[4352];
	for (int i = 0; i < n; i++) {
		struct item *it = &e->items[i];
		if (it->fatal)
			return rc_log_error(RC_E_NOMEM, "%s: %s", where(e, it, w, sizeof w), it->why);
		if (it->bad) {
			if (!o->skip_bad) {
				rc_log_error(RC_E_FORMAT, "%s: %s", where(e, it, w, sizeof w), it->why);
				rc_log_hint("--skip-bad writes a row of NaN for a bad input and goes on");
				return RC_E_FORMAT;
			}
			rc_log_warn("%s: %s: a row of NaN", where(e, it, w, sizeof w), it->why);
			e->st.bad++;
			continue;
		}
		if (it->kind == ITEM_TEXT) {
			int pos;
			int64_t id = out_of_vocab(e, i, &pos);
			if (id >= 0) {
				rc_log_error(RC_E_RANGE, "%s: token id %lld (position %d) is outside the "
					"model's vocabulary of %zu ids", where(e, it, w, sizeof w),
					(long long)id, pos, e->V);
				rc_log_hint("the tokenizer has %zu ids: this model's text tower was not "
					"made for it (a test model?)", rc_bpe_vocab_size(e->bpe));
				return RC_E_RANGE;
			}
			e->st.truncated += (uint64_t)it->truncated;
			if (it->invalid && e->st.invalid_utf8++ < 3)
				rc_log_warn("%s: invalid UTF-8 replaced with U+FFFD", where(e, it, w, sizeof w));
			if (good != i)
				memcpy(e->tokens + (size_t)good * (size_t)e->ctx,
					e->tokens + (size_t)i * (size_t)e->ctx, (size_t)e->ctx * sizeof *e->tokens);
		} else if (good != i) {
			memcpy(e->pixels + (size_t)good * plane, e->pixels + (size_t)i * plane,
				plane * sizeof *e->pixels);
		}
		good++;
	}
	if (good > 0) {
		rc = e->tokens ? encode_text(e, good) :
			rc_clip_encode_image(e->m, e->ws, e->pixels, good, e->emb);
		if (rc < 0)
			return rc;
	}
	size_t D = (size_t)e->D;
	for (int i = 0, g = 0; i < n; i++) {
		float *row = e->rows + (size_t)i * D;
		if (e->items[i].bad)
			for (size_t k = 0; k < D; k++)
				row[k] = NAN;
		else
			memcpy(row, e->emb + (size_t)g++ * D, D * sizeof *row);
		if (e->idf.f && (rc = write_key(e, &e->items[i])) < 0)
			return rc;
	}
	if ((rc = rc_npy_writer_rows(e->npy, e->rows, (size_t)n)) < 0)
		return rc;
	e->st.rows += (uint64_t)n;
	rc_progress_update(&e->prog, (uint64_t)n);
	e->n = 0;
	rc_arena_reset(&e->arena);
	return 0;
}

/* After an item is added: a full batch goes through the model. */
static int added(struct embed *e)
{
	return e->n == e->cap ? flush(e) : 0;
}

/* ---------------------------------------------------------------- inputs */

static char *arena_join(struct rc_arena *a, const char *root, const char *path)
{
	if (path[0] == '/' || !root || !*root)
		return rc_arena_strdup(a, path);
	size_t la = strlen(root), lb = strlen(path);
	char *p = rc_arena_alloc(a, la + lb + 2);
	if (p) {
		memcpy(p, root, la);
		p[la] = '/';
		memcpy(p + la + 1, path, lb + 1);
	}
	return p;
}

static int read_manifest(struct embed *e, const char *path)
{
	char root[4096], why[256];
	const char *slash = strrchr(path, '/');
	if (e->o->image_root)
		snprintf(root, sizeof root, "%s", e->o->image_root);
	else if (!slash || !strcmp(path, "-"))
		root[0] = 0; /* the current directory */
	else if (slash == path)
		snprintf(root, sizeof root, "/");
	else
		snprintf(root, sizeof root, "%.*s", (int)(slash - path), path);

	struct rc_manifest *mf;
	int rc = rc_manifest_open(&mf, path, RC_SCHEMA_NONE, RC_MANIFEST_AUTO);
	if (rc < 0)
		return rc;
	struct rc_record rec;
	const char *img;
	uint64_t line;
	while (!interrupted &&
	       (rc = rc_manifest_next(mf, &e->arena, &rec, &img, &line, why, sizeof why)) != 0) {
		if (rc < 0 && rc != RC_E_FORMAT)
			break;
		struct item *it = item_new(e, ITEM_FILE, line);
		if (rc < 0) {
			item_bad(it, why);
		} else {
			it->key = rec.key;
			it->key_len = rec.key_len;
			if (!(it->path = arena_join(&e->arena, root, img))) {
				rc = RC_E_NOMEM;
				break;
			}
		}
		if ((rc = added(e)) < 0)
			break;
	}
	rc_manifest_close(mf);
	return rc;
}

/* The records of one shard, in file order. Payloads are copied into the
 * arena, so a batch may span shards. */
static int read_shard(struct embed *e, const char *path, uint64_t expect, const char *list,
	uint64_t lineno)
{
	struct rc_shard *s;
	int rc = rc_shard_open(&s, path);
	if (rc < 0)
		return rc;
	const struct rc_shard_info *in = rc_shard_info(s);
	e->input = path;
	if ((int)in->image_size != e->S) {
		rc = rc_log_error(RC_E_FORMAT, "%s: images are %ux%u, the model takes %dx%d", path,
			in->image_size, in->image_size, e->S, e->S);
		rc_log_hint("shard the data again with rclip-shard -s %d", e->S);
		goto out;
	}
	if (list && rc_shard_count(s) != expect) {
		rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s: %llu records in the list, %llu in the "
			"shard", list, (unsigned long long)lineno, path, (unsigned long long)expect,
			(unsigned long long)rc_shard_count(s));
		goto out;
	}
	size_t raw = (size_t)e->S * (size_t)e->S * 3;
	for (uint64_t i = 0; i < rc_shard_count(s) && !interrupted; i++) {
		struct rc_record rec;
		struct item *it = item_new(e, in->store == RC_STORE_RAW ? ITEM_RAW : ITEM_JPEG, i);
		if ((rc = rc_shard_next(s, &rec, NULL)) < 0) { /* logged by the reader */
			snprintf(it->why, sizeof it->why, "unreadable record (%s)", rc_strerror(rc));
			it->bad = 1;
			if (rc == RC_E_NOMEM || rc == RC_E_IO)
				goto out;
		} else if (rc == 0) {
			rc = rc_log_error(RC_E_TRUNCATED, "%s: ends at record %llu", path,
				(unsigned long long)i);
			goto out;
		} else if (in->store == RC_STORE_RAW && rec.image_len != raw) {
			snprintf(it->why, sizeof it->why, "%u bytes of pixels, not %zu", rec.image_len, raw);
			it->bad = 1;
		} else {
			uint8_t *p = rc_arena_alloc(&e->arena, rec.image_len);
			char *k = rc_arena_alloc(&e->arena, rec.key_len + 1);
			if (!p || !k) {
				rc = RC_E_NOMEM;
				goto out;
			}
			memcpy(p, rec.image, rec.image_len);
			if (rec.key_len)
				memcpy(k, rec.key, rec.key_len);
			it->data = p;
			it->len = rec.image_len;
			it->key = k;
			it->key_len = rec.key_len;
		}
		if ((rc = added(e)) < 0)
			goto out;
	}
	rc = 0;
out:
	rc_shard_close(s);
	return rc;
}

static int read_text(struct embed *e, const char *path)
{
	FILE *f;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, e->input);
	while (!interrupted && (rc = rc_io_lines_next(&lr)) > 0) {
		struct item *it = item_new(e, ITEM_TEXT, lr.lineno);
		char *p = rc_arena_alloc(&e->arena, lr.len + 1);
		if (!p) {
			rc = RC_E_NOMEM;
			break;
		}
		memcpy(p, lr.line, lr.len + 1);
		it->data = (const uint8_t *)p;
		it->len = lr.len;
		if ((rc = added(e)) < 0)
			break;
	}
	rc_io_lines_free(&lr);
	int rc2 = rc_io_close(f, e->input);
	return rc < 0 ? rc : rc2;
}

/* The number of rows when it is known before reading (shards), else 0. */
static int count_rows(const char *images, struct rc_shard_list *l, uint64_t *n)
{
	*n = 0;
	if (rc_ends_with(images, ".list")) {
		int rc = rc_shard_list_read(l, images);
		*n = l->records;
		return rc;
	}
	if (rc_ends_with(images, ".rcs")) {
		struct rc_shard *s;
		int rc = rc_shard_open(&s, images);
		if (rc < 0)
			return rc;
		*n = rc_shard_count(s);
		rc_shard_close(s);
	}
	return 0;
}

static int read_images(struct embed *e, const struct rc_shard_list *l)
{
	const char *in = e->o->images;
	int rc = 0;
	if (rc_ends_with(in, ".list")) {
		e->input_records = 1;
		for (size_t i = 0; i < l->n && rc == 0 && !interrupted; i++)
			rc = read_shard(e, l->e[i].full, l->e[i].records, in, l->e[i].lineno);
		return rc;
	}
	if (rc_ends_with(in, ".rcs")) {
		e->input_records = 1;
		return read_shard(e, in, 0, NULL, 0);
	}
	if (rc_manifest_format_of(in) == RC_MANIFEST_TAR) {
		rc_log_error(RC_E_UNSUPPORTED, "%s: webdataset tars are not read directly", in);
		rc_log_hint("shard it first: rclip-shard --store raw -s %d -o PREFIX %s, then "
			"--images PREFIX.list", e->S, in);
		return RC_E_UNSUPPORTED;
	}
	return read_manifest(e, in);
}

/* ---------------------------------------------------------------- setup */

static int setup(struct embed *e)
{
	const struct embed_opts *o = e->o;
	int B = (int)o->batch, text = o->text != NULL;
	if (rc_clip_load_hf(&e->m, o->model) < 0)
		return -1;
	const struct rc_clip_config *cfg = &e->m->cfg;
	e->S = cfg->vision.image_size;
	e->D = cfg->projection_dim;
	e->ctx = cfg->text.max_position;
	e->V = (size_t)cfg->text.vocab_size;
	if (text && e->ctx < 2)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: a text context of %d tokens is too short",
			o->model, e->ctx);
	rc_log_info("%s: image %dx%d, text context %d, vocabulary %zu, embeddings of %d",
		o->model, e->S, e->S, e->ctx, e->V, e->D);
	/* the workspace sizes its attention scratch for the threads set now */
	if (rc_clip_ws_new(&e->ws, e->m, text ? 0 : B, text ? B : 0, 0) < 0)
		return -1;
	e->cap = B;
	e->items = rc_calloc((size_t)B, sizeof *e->items);
	e->emb = rc_calloc((size_t)B * (size_t)e->D, sizeof *e->emb);
	e->rows = rc_calloc((size_t)B * (size_t)e->D, sizeof *e->rows);
	if (!e->items || !e->emb || !e->rows)
		return -1;
	if (text ? rc_bpe_load_model(&e->bpe, e->o->model) < 0 : rc_bpe_load(&e->bpe, NULL, NULL) < 0)
		return -1;
	if (text) {
		e->tokens = rc_calloc((size_t)B * (size_t)e->ctx, sizeof *e->tokens);
		e->states = rc_calloc((size_t)e->nthreads, sizeof *e->states);
		if (!e->tokens || !e->states)
			return -1;
		for (int t = 0; t < e->nthreads; t++)
			if (!(e->states[t] = rc_bpe_state_new(e->bpe)))
				return -1;
		return 0;
	}
	e->pixels = rc_calloc((size_t)B * 3 * (size_t)e->S * (size_t)e->S, sizeof *e->pixels);
	e->workers = rc_calloc((size_t)e->nthreads, sizeof *e->workers);
	if (!e->pixels || !e->workers)
		return -1;
	/* raw storage: the worker's payload is the S×S crop itself */
	e->io = (struct rc_ingest_opts){.image_size = e->S, .store = RC_STORE_RAW,
		.text_ctx = RC_BPE_CONTEXT};
	for (int t = 0; t < e->nthreads; t++)
		if (!(e->workers[t] = rc_ingest_worker_new(e->bpe, &e->io)))
			return -1;
	return 0;
}

static void teardown(struct embed *e)
{
	rc_npy_writer_abort(e->npy);
	rc_atomic_abort(&e->idf);
	if (e->states)
		for (int t = 0; t < e->nthreads; t++)
			rc_bpe_state_free(e->states[t]);
	if (e->workers)
		for (int t = 0; t < e->nthreads; t++)
			rc_ingest_worker_free(e->workers[t]);
	free(e->states);
	free(e->workers);
	rc_bpe_free(e->bpe);
	free(e->items);
	free(e->pixels);
	free(e->tokens);
	free(e->emb);
	free(e->rows);
	rc_arena_free(&e->arena);
	rc_clip_ws_free(e->ws);
	rc_clip_free(e->m);
}

/* ---------------------------------------------------------------- report */

static int write_report(const struct embed *e, double seconds)
{
	const struct embed_opts *o = e->o;
	const struct stats *s = &e->st;
	double rate = seconds > 0 ? (double)s->rows / seconds : 0;
	rc_log_info("%llu rows of %d floats to %s in %.2f s, %.1f rows/s",
		(unsigned long long)s->rows, e->D, display(o->out, "(stdout)"), seconds, rate);
	if (s->bad)
		rc_log_warn("%llu of %llu rows are NaN (bad inputs, --skip-bad)",
			(unsigned long long)s->bad, (unsigned long long)s->rows);
	if (s->invalid_utf8 > 3)
		rc_log_warn("%llu lines had invalid UTF-8 (replaced with U+FFFD)",
			(unsigned long long)s->invalid_utf8);
	if (!o->report)
		return 0;
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i, s:I, s:I, s:f, s:f}",
		"model", o->model, "kind", o->text ? "text" : "images",
		"input", o->text ? o->text : o->images, "output", o->out,
		"rows", (json_int_t)s->rows, "dim", e->D, "bad", (json_int_t)s->bad,
		"truncated", (json_int_t)s->truncated, "seconds", seconds, "rows_per_second", rate);
	if (j && o->ids)
		json_object_set_new(j, "ids", json_string(o->ids));
	if (j && o->text)
		json_object_set_new(j, "context_length", json_integer(e->ctx));
	else if (j)
		json_object_set_new(j, "image_size", json_integer(e->S));
	char *txt = j ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!txt)
		return rc_log_error(RC_E_NOMEM, "cannot build the JSON report");
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, o->report);
	if (rc == 0 && (rc = rc_io_write_all(af.f, txt, strlen(txt), o->report)) == 0 &&
	    (rc = rc_io_write_all(af.f, "\n", 1, o->report)) == 0)
		rc = rc_atomic_commit(&af);
	rc_atomic_abort(&af);
	free(txt);
	return rc;
}

static int cmd_embed(int argc, char **argv)
{
	struct embed_opts o;
	struct embed e = {.o = &o};
	struct rc_shard_list list;
	int status = RC_EXIT_FAILURE, rc;
	uint64_t total = 0;

	rc_log_init("rclip-retrieve embed");
	if ((rc = embed_parse(argc, argv, &o)) >= 0)
		return rc;
	rc_shard_list_init(&list);
	rc_arena_init(&e.arena, 0);
	e.nthreads = rc_ops_set_threads((int)o.threads); /* OpenBLAS serial, OpenMP n */
	double t0 = rc_seconds();
	if (setup(&e) < 0)
		goto out;
	e.input = display(o.text ? o.text : o.images, "(stdin)");
	if (o.images && count_rows(o.images, &list, &total) < 0)
		goto out;
	/* a known count writes the header first: any output, no temporary */
	rc = total ? rc_npy_writer_open_n(&e.npy, o.out, total, (size_t)e.D)
		: rc_npy_writer_open(&e.npy, o.out, (size_t)e.D);
	if (rc < 0)
		goto out;
	if (o.ids) {
		if (rc_atomic_open(&e.idf, o.ids) < 0)
			goto out;
		e.ids_name = display(o.ids, "(stdout)");
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc_progress_begin(&e.prog, "embed", total);
	rc = o.text ? read_text(&e, o.text) : read_images(&e, &list);
	if (rc == 0 && !interrupted)
		rc = flush(&e);
	rc_progress_end(&e.prog);
	if (interrupted) {
		rc_log_error(RC_E_INTERRUPTED, "interrupted: nothing written");
		goto out;
	}
	if (rc < 0)
		goto out;
	rc = rc_npy_writer_close(e.npy);
	e.npy = NULL;
	if (rc < 0 || (e.idf.f && rc_atomic_commit(&e.idf) < 0))
		goto out;
	if (write_report(&e, rc_seconds() - t0) < 0)
		goto out;
	status = RC_EXIT_OK;
out:
	teardown(&e);
	rc_shard_list_free(&list);
	return status;
}

/* ================================================================ search
 *
 * The top-k gallery rows of each query by dot product (exact, search.h), as
 * TSV or JSONL. The gallery is an (N, D) .npy, mapped rather than read; the
 * queries are an .npy of embeddings (a file, or standard input, so that
 * `embed -o -` pipes into it) or text lines encoded with a model as
 * `embed --text` does. Every input is checked (shapes, finite rows, the id
 * count) before the search, and the results are written whole or not at
 * all. */

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
	int rc = rc_clip_encode_text(t->m, t->ws, t->tokens, n,
		rc_clip_text_cut(&t->m->cfg, t->tokens, n, t->ctx),
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

static int cmd_search(int argc, char **argv)
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
	if (o.ids && rc_search_read_ids(shown(o.ids), g.n, shown(o.gallery), &idbuf, &ids) < 0)
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
	struct rc_topk_opts so = {.k = (size_t)o.k};
	struct rc_backend_opts bo = {.threads = nt};
	struct rc_backend *be = NULL;
	if (!score || !index || rc_backend_new(&be, NULL, &bo) < 0 ||
	    rc_backend_topk(be, g.data, g.n, g.d, q, nq, &so, score, index) < 0) {
		rc_backend_free(be);
		goto out;
	}
	rc_backend_free(be);
	double t2 = rc_seconds();
	/* finite rows can still overflow a product */
	for (size_t i = 0; i < nq * kk; i++)
		if (!isfinite(score[i])) {
			rc_log_error(RC_E_RANGE, "%s: query %zu: a score overflows float32 (rows of "
				"very large values)", shown(o.gallery), i / kk);
			goto out;
		}
	if (rc_search_write(o.out, o.jsonl, ids, nq, kk, score, index) < 0)
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

/* ================================================================ main */


struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{"embed", cmd_embed},
	{"search", cmd_search},
};

int main(int argc, char **argv)
{
	rc_log_init("rclip-retrieve");
	if (argc < 2)
		return rc_cli_usage_error("no command (expected embed or search)");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		fputs(usage_text, stdout);
		return RC_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		rc_cli_version(stdout);
		return RC_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return rc_cli_usage_error("the command comes first: rclip-retrieve COMMAND "
			"[OPTION]... (unknown '%s')", cmd);
	return rc_cli_usage_error("unknown command '%s' (expected embed or search)", cmd);
}
