/* rclip-retrieve - retrieval with a CLIP model, one subcommand per job as
 * git does: `embed` writes the normalised image or text embeddings of a
 * model as an (N, D) float32 .npy, one row per input in input order;
 * `search` gives the exact top-k rows of such a file (search.h)
 * for each query.
 *
 * embed reads a batch of inputs, has the shared encoder (encode.h) turn it
 * into rows on -j threads (images read, decoded and CLIP-cropped, or taken
 * from shards; text lines tokenized; then one forward pass), and appends
 * the rows, a bad input failing the run or (--skip-bad) giving a NaN row.
 * The model is any that rclip reads (model_io.h). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
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
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/pathmap.h"
#include "data/preprocess.h"
#include "model/backend.h"
#include "model/options.h"
#include "convert/model_io.h"
#include "data/npy.h"
#include "base/progress.h"
#include "eval/encode.h"
#include "eval/search.h"
#include "data/shard.h"

static const char usage_text[] =
"Usage: rclip-retrieve COMMAND [OPTION]...\n"
"Retrieval with a CLIP model (any format rclip reads).\n"
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
	struct rc_path_map path_map;  /* --path-map OLD=NEW rules */
	long batch, threads;
	int skip_bad;
	int tokenizer;              /* enum rc_bpe_semantics, or -1: the model's */
	struct rc_device device;
};

static const char embed_usage[] =
"Usage: rclip-retrieve embed --model MODEL --images INPUT -o OUT.npy [OPTION]...\n"
"   or: rclip-retrieve embed --model MODEL --text FILE -o OUT.npy [OPTION]...\n"
"Write the L2-normalised embeddings of a CLIP model as a NumPy .npy file of\n"
"float32, shape (N, D) with D the model's projection_dim: one row per image\n"
"or text line, in input order.\n"
"\n"
"  -m, --model=PATH        the model: a Hugging Face CLIPModel directory, an\n"
"                          open_clip directory or .safetensors file, or an\n"
"                          rclip-train checkpoint (vocab.json and merges.txt\n"
"                          in the directory, when present, give the tokenizer)\n"
"  -i, --images=INPUT      a manifest (JSONL in any rclip schema, TSV\n"
"                          image_path<TAB>caption, or Parquet, images by\n"
"                          path or embedded; - reads standard input),\n"
"                          a shard list (.list) or one shard (.rcs): one row\n"
"                          per record\n"
"  -t, --text=FILE         one row per line of FILE (- is standard input)\n"
"      --tokenizer=T       how --text is tokenized: hf, open_clip or auto\n"
"                          (default: hf for a Hugging Face model directory, as\n"
"                          transformers' CLIPTokenizerFast; else open_clip)\n"
"  -o, --output=FILE       the .npy file (written whole or not at all); - is\n"
"                          standard output, refused on a terminal\n"
"      --ids=FILE          also write one key per row: the record's key (its\n"
"                          image_path, or the id of a choice-set record) or\n"
"                          the text's line number\n"
"      --image-root=DIR    resolve relative image paths against DIR (default:\n"
"                          the manifest's directory; the current one for -)\n"
"      --path-map=OLD=NEW  read an image path that starts with the directory\n"
"                          OLD under NEW instead (repeatable; the longest\n"
"                          OLD that matches wins; --ids keeps the path)\n"
"  -b, --batch=N           inputs per forward pass (default 32)\n"
"      --skip-bad          a bad input (missing or corrupt image, malformed\n"
"                          line, damaged record) gets a row of NaN and a\n"
"                          warning instead of stopping the run\n"
"      --device=DEV        cpu, cuda, cuda:N or auto (default auto: a GPU when\n"
"                          rclip has the CUDA backend and one is present)\n"
"      --precision=P       fp32, bf16, int8 or auto (default auto: fp32 on the\n"
"                          CPU, bf16 on a GPU); on the CPU bf16 and int8 are\n"
"                          faster and within a stated accuracy of fp32 (see\n"
"                          the manual page)\n"
"  -j, --threads=N         threads for decoding and for the model (default:\n"
"                          $OMP_NUM_THREADS, else all cores)\n"
"      --report=FILE       a JSON summary to FILE (- is standard output)\n"
"      --json              the same as --report=-\n"
"      --skip-finite-check  load the model without checking that every value\n"
"                          is finite (a NaN or Inf is refused by default)\n"
"      --force             replace a symlink at the output's name (the link\n"
"                          itself, never its target), or write into a FIFO or\n"
"                          device there; refused without it\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           a summary and more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Images are preprocessed to the model's image_size exactly as Pillow and\n"
"Hugging Face do: CLIP's crop, or for a SigLIP model the whole image resized;\n"
"shards must hold images of that size and preprocessing. Exit status:\n"
"0 success, 1 failure (a bad input without --skip-bad, an I/O error),\n"
"2 usage error. See rclip-retrieve(1).\n";

/* the long options of both commands */
enum { OPT_IDS = 256, OPT_ROOT, OPT_SKIP_BAD, OPT_REPORT, OPT_JSON, OPT_JSONL, OPT_DEVICE,
	OPT_PRECISION, OPT_VERSION, OPT_TOKENIZER, OPT_PATH_MAP, OPT_FORCE,
	OPT_SKIP_FINITE };

static const struct option embed_longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"images", required_argument, NULL, 'i'},
	{"text", required_argument, NULL, 't'},
	{"output", required_argument, NULL, 'o'},
	{"ids", required_argument, NULL, OPT_IDS},
	{"image-root", required_argument, NULL, OPT_ROOT},
	{"path-map", required_argument, NULL, OPT_PATH_MAP},
	{"batch", required_argument, NULL, 'b'},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"threads", required_argument, NULL, 'j'},
	{"report", required_argument, NULL, OPT_REPORT},
	{"json", no_argument, NULL, OPT_JSON},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
	{"skip-finite-check", no_argument, NULL, OPT_SKIP_FINITE},
	{"force", no_argument, NULL, OPT_FORCE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int embed_parse(int argc, char **argv, struct embed_opts *o)
{
	*o = (struct embed_opts){.batch = 32, .tokenizer = -1};
	if (rc_device_parse("auto", &o->device) < 0)
		return rc_cli_usage_error("RCLIP_DEVICE: '%s' (expected cpu, cuda, cuda:N or auto)",
			getenv("RCLIP_DEVICE"));
	int c, pm, json = 0;
	while ((c = getopt_long(argc, argv, "m:i:t:o:b:j:qvh", embed_longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'i': o->images = optarg; break;
		case 't': o->text = optarg; break;
		case 'o': o->out = optarg; break;
		case OPT_IDS: o->ids = optarg; break;
		case OPT_ROOT: o->image_root = optarg; break;
		case OPT_PATH_MAP:
			if ((pm = rc_path_map_option(&o->path_map, optarg)) >= 0)
				return pm;
			break;
		case 'b':
			if (rc_cli_int("--batch", optarg, 1, 65536, &o->batch) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_SKIP_BAD: o->skip_bad = 1; break;
		case OPT_TOKENIZER:
			if (rc_tokenizer_option(optarg, &o->tokenizer))
				return RC_EXIT_USAGE;
			break;
		case OPT_PRECISION:
			if (rc_precision_option(optarg, &o->device, "fp32, bf16, int8 or auto"))
				return RC_EXIT_USAGE;
			break;
		case OPT_DEVICE:
			if (rc_device_option(optarg, &o->device))
				return RC_EXIT_USAGE;
			break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_REPORT: o->report = optarg; break;
		case OPT_JSON: json = 1; break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(embed_usage, stdout); return RC_EXIT_OK;
		case OPT_SKIP_FINITE: rc_clip_set_finite_check(0); break;
		case OPT_FORCE: rc_atomic_set_force(1); break;
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
		return rc_cli_usage_error("no model: give --model PATH");
	if (!o->images == !o->text)
		return rc_cli_usage_error(o->images ? "--images and --text exclude each other"
			: "no input: give --images INPUT or --text FILE");
	if (!o->out)
		return rc_cli_usage_error("no output: give -o FILE (- for standard output)");
	if (o->image_root && !o->images)
		return rc_cli_usage_error("--image-root goes with --images");
	if (o->path_map.n && !o->images)
		return rc_cli_usage_error("--path-map goes with --images");
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

/* One input of the batch, for messages and --ids (what the encoder reads
 * is in the batch's arrays). Its strings live in the batch's arena. */
struct item {
	const char *input;         /* the file it came from, for messages */
	uint64_t where;            /* line (manifest, text) or record (shard) */
	const char *key;           /* images, for --ids; NULL: empty */
	size_t key_len;
	char why[256];             /* why it is bad, when that is known on reading */
};

struct stats {
	uint64_t rows, bad, invalid_utf8;
};

/* embed, and search's text queries (keep): a batch of inputs read, then
 * encoded by the shared encoder (encode.h) and written. */
struct embed {
	const struct embed_opts *o;
	struct rc_clip *m;
	struct rc_bpe *bpe;
	struct rc_spm *spm;          /* a SigLIP model's tokenizer */
	struct rc_encoder *enc;
	int nthreads;
	int S, D, ctx;             /* image side, embedding width, text context */
	const char *input;         /* the input being read, for messages */
	int input_records;         /* positions are records, not lines */
	int keep;                  /* search: every row kept in rows, none written */
	/* the batch */
	struct item *items;
	struct rc_encode_image *img;   /* [B] images */
	const char **txt;              /* [B] text lines */
	uint32_t *tlen;
	uint8_t *ok;                   /* [B] the image was usable */
	int n, cap;
	struct rc_arena arena;
	float *rows;               /* [B,D] the batch's rows; with keep [kept + B,D] */
	size_t kept, rows_cap;
	int failed;                /* a bad input without --skip-bad was reported */
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

/* A new input at the end of the batch (the caller fills it in). */
static struct item *item_new(struct embed *e, uint64_t where_)
{
	struct item *it = &e->items[e->n];
	memset(it, 0, sizeof *it);
	it->input = e->input;
	it->where = where_;
	if (e->img)
		e->img[e->n] = (struct rc_encode_image){0};
	e->n++;
	return it;
}

/* An image already known to be unusable: it keeps its row (NaN). */
static void item_bad(struct embed *e, struct item *it, const char *fmt, ...) RC_PRINTF(3, 4);
static void item_bad(struct embed *e, struct item *it, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->why, sizeof it->why, fmt, ap);
	va_end(ap);
	e->img[it - e->items].bad = it->why;
}

/* ---------------------------------------------------------------- encode */

/* The encoder's report of a bad image: the first fails the run, or with
 * --skip-bad each gets a warning and a row of NaN. */
static void on_bad(void *ctx, size_t i, const char *why)
{
	struct embed *e = ctx;
	char w[4352];
	where(e, &e->items[i], w, sizeof w);
	if (!e->o->skip_bad) {
		if (!e->failed++) {
			rc_log_error(RC_E_FORMAT, "%s: %s", w, why);
			rc_log_hint("--skip-bad writes a row of NaN for a bad input and goes on");
		}
		return;
	}
	rc_log_warn("%s: %s: a row of NaN", w, why);
	e->st.bad++;
}

/* A line that was not UTF-8: the first three are named, the report counts
 * them all. */
static void on_invalid(void *ctx, size_t i, const char *why)
{
	struct embed *e = ctx;
	char w[4352];
	if (e->st.invalid_utf8++ < 3)
		rc_log_warn("%s: %s", where(e, &e->items[i], w, sizeof w), why);
}

/* A token id the model does not have, in the line of it. */
static int bad_token(const struct embed *e, const struct item *it)
{
	int32_t id;
	int pos;
	char w[4352];
	rc_encoder_bad_token(e->enc, &id, &pos);
	rc_log_error(RC_E_RANGE, "%s: token id %lld (position %d) is outside the model's "
		"vocabulary of %d ids", where(e, it, w, sizeof w), (long long)id, pos,
		e->m->cfg.text.vocab_size);
	if (!e->keep) /* search refuses in one line */
		rc_log_hint("the tokenizer has %zu ids: this model's text tower was not made for "
			"it (a test model?)", rc_bpe_vocab_size(e->bpe));
	return RC_E_RANGE;
}

/* A key on one line of the --ids file: '\\', '\n', '\r' and '\t' escaped. */
static int write_key(struct embed *e, const struct item *it)
{
	FILE *f = e->idf.f;
	char num[32];
	const char *k = it->key;
	size_t n = it->key_len;
	if (e->o->text) {
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

/* The batch through the encoder (one forward pass: it holds at most the
 * encoder's batch), then in input order a row of NaN for each bad image,
 * the rows and keys written, or kept for search. */
static int flush(struct embed *e)
{
	size_t n = (size_t)e->n, D = (size_t)e->D, bad = 0;
	if (!n)
		return 0;
	if (rc_grow((void **)&e->rows, &e->rows_cap, (e->kept + n) * D, sizeof *e->rows) < 0)
		return RC_E_NOMEM;
	float *rows = e->rows + e->kept * D;
	struct rc_progress *p = e->keep ? NULL : &e->prog;
	int rc;
	if (e->o->text) {
		rc = rc_encoder_texts(e->enc, e->txt, e->tlen, n, rows, &bad, p);
		if (rc == RC_E_RANGE)
			return bad_token(e, &e->items[bad]);
		/* NaN rows for the texts whose embedding is not finite; the
		 * pass wrote them all */
		for (size_t i = 0; rc == RC_E_FORMAT && i < n; i++)
			for (size_t k = 0; k < D; k++)
				if (!isfinite(rows[i * D + k])) {
					on_bad(e, i, "the embedding is not finite (NaN or Inf from "
						"the model)");
					for (k = 0; k < D; k++)
						rows[i * D + k] = NAN;
					break;
				}
		if (rc == RC_E_FORMAT)
			rc = e->failed ? RC_E_FORMAT : 0;
	} else {
		rc = rc_encoder_images(e->enc, e->img, n, rows, e->ok, on_bad, e, p);
		if (rc == 0 && e->failed)
			rc = RC_E_FORMAT;
	}
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (e->ok && !e->ok[i])
			for (size_t k = 0; k < D; k++)
				rows[i * D + k] = NAN;
		if (e->idf.f && (rc = write_key(e, &e->items[i])) < 0)
			return rc;
	}
	if (e->keep)
		e->kept += n;
	else if ((rc = rc_npy_writer_rows(e->npy, rows, n)) < 0)
		return rc;
	e->st.rows += n;
	e->n = 0;
	rc_arena_reset(&e->arena);
	return 0;
}

/* After an input is added: a full batch goes through the model. */
static int added(struct embed *e)
{
	return e->n == e->cap ? flush(e) : 0;
}

/* ---------------------------------------------------------------- inputs */

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
		struct item *it = item_new(e, line);
		if (rc < 0) {
			item_bad(e, it, "%s", why);
		} else if (!img) {
			/* a Parquet row with its image file's bytes embedded */
			it->key = rec.key;
			it->key_len = rec.key_len;
			e->img[e->n - 1] = (struct rc_encode_image){.data = rec.image,
				.len = rec.image_len, .source = 1};
		} else {
			it->key = rec.key;
			it->key_len = rec.key_len;
			const char *mapped = rc_path_map_apply(&e->o->path_map, &e->arena, img);
			if (!mapped || !(e->img[e->n - 1].path = rc_arena_path_join(&e->arena, root, mapped))) {
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
	if ((rc = rc_preprocess_check(path, in, e->m->cfg.family == RC_FAMILY_SIGLIP ?
		RC_PREPROCESS_SIGLIP : RC_PREPROCESS_CLIP, e->S)) < 0)
		goto out;
	if (list && rc_shard_count(s) != expect) {
		rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s: %llu records in the list, %llu in the "
			"shard", list, (unsigned long long)lineno, path, (unsigned long long)expect,
			(unsigned long long)rc_shard_count(s));
		goto out;
	}
	size_t raw = (size_t)e->S * (size_t)e->S * 3;
	for (uint64_t i = 0; i < rc_shard_count(s) && !interrupted; i++) {
		struct rc_record rec;
		struct item *it = item_new(e, i);
		struct rc_encode_image *im = &e->img[e->n - 1];
		if ((rc = rc_shard_next(s, &rec, NULL)) < 0) { /* logged by the reader */
			item_bad(e, it, "unreadable record (%s)", rc_strerror(rc));
			if (rc == RC_E_NOMEM || rc == RC_E_IO)
				goto out;
		} else if (rc == 0) {
			rc = rc_log_error(RC_E_TRUNCATED, "%s: ends at record %llu", path,
				(unsigned long long)i);
			goto out;
		} else if (in->store == RC_STORE_RAW && rec.image_len != raw) {
			item_bad(e, it, "%u bytes of pixels, not %zu", rec.image_len, raw);
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
			*im = (struct rc_encode_image){.data = p, .len = rec.image_len,
				.store = (int)in->store};
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
		item_new(e, lr.lineno);
		char *p = rc_arena_alloc(&e->arena, lr.len + 1);
		if (!p) {
			rc = RC_E_NOMEM;
			break;
		}
		memcpy(p, lr.line, lr.len + 1);
		e->txt[e->n - 1] = p;
		/* a line past 4 GiB is cut there: far beyond the context */
		e->tlen[e->n - 1] = lr.len > UINT32_MAX ? UINT32_MAX : (uint32_t)lr.len;
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
		rc_log_hint("shard it first: rclip-shard --store raw --model %s -o PREFIX %s, then "
			"--images PREFIX.list", e->o->model, in);
		return RC_E_UNSUPPORTED;
	}
	return read_manifest(e, in);
}

/* ---------------------------------------------------------------- setup */

/* The model of --model in any format rclip reads (model_io.h). A vision
 * tower without its projection (CLIPVisionModel) has no embeddings. */
static int load_model(struct embed *e)
{
	const char *path = e->o->model;
	int fmt, proj = 1;
	int rc = rc_clip_detect(path, &fmt);
	if (rc == 0)
		rc = fmt == RC_CLIP_FMT_HF_VISION ? rc_clip_load_hf_vision(&e->m, path, &proj)
			: rc_clip_load_any(&e->m, path, NULL, NULL);
	if (rc == 0 && fmt == RC_CLIP_FMT_HF_VISION)
		rc = rc_clip_check_finite(e->m, path);
	if (rc == 0 && !proj) {
		rc = rc_log_error(RC_E_UNSUPPORTED, "%s: a vision tower without its projection "
			"gives no embeddings", path);
		rc_log_hint("give the CLIPModel, or export it with rclip-export --to hf-vision "
			"--with-projection");
	}
	return rc;
}

/* The model, and the encoder: of images, or of texts with the model's
 * tokenizer. */
static int setup(struct embed *e)
{
	const struct embed_opts *o = e->o;
	int B = (int)o->batch;
	e->input = display(o->text ? o->text : o->images, "(stdin)");
	if (load_model(e) < 0)
		return -1;
	const struct rc_clip_config *cfg = &e->m->cfg;
	e->S = cfg->vision.image_size;
	e->D = cfg->projection_dim;
	e->ctx = cfg->text.max_position;
	if (o->text && e->ctx < 2)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: a text context of %d tokens is too short",
			o->model, e->ctx);
	rc_log_info("%s: image %dx%d, text context %d, vocabulary %d, embeddings of %d",
		o->model, e->S, e->S, e->ctx, cfg->text.vocab_size, e->D);
	e->cap = B;
	if (!(e->items = rc_calloc((size_t)B, sizeof *e->items)))
		return -1;
	if (o->text) {
		e->txt = rc_calloc((size_t)B, sizeof *e->txt);
		e->tlen = rc_calloc((size_t)B, sizeof *e->tlen);
		if (!e->txt || !e->tlen || rc_bpe_load_model(&e->bpe, o->model) < 0)
			return -1;
		if (o->tokenizer >= 0)
			rc_bpe_set_semantics(e->bpe, o->tokenizer);
		if (rc_encoder_new_texts(&e->enc, &o->device, e->m, e->bpe, B, e->nthreads) < 0)
			return -1;
		if (e->m->cfg.family == RC_FAMILY_SIGLIP &&
		    (rc_encoder_load_spm(&e->spm, o->model) < 0 ||
		     rc_encoder_use_spm(e->enc, e->spm) < 0))
			return -1;
		if (!e->keep) /* search's queries are not warned about */
			rc_encoder_on_invalid(e->enc, on_invalid, e);
		return 0;
	}
	e->img = rc_calloc((size_t)B, sizeof *e->img);
	e->ok = rc_calloc((size_t)B, sizeof *e->ok);
	if (!e->img || !e->ok)
		return -1;
	return rc_encoder_new(&e->enc, &o->device, e->m, NULL, B, e->nthreads);
}

static void teardown(struct embed *e)
{
	rc_npy_writer_abort(e->npy);
	rc_atomic_abort(&e->idf);
	rc_encoder_free(e->enc);
	rc_bpe_free(e->bpe);
	rc_spm_free(e->spm);
	free(e->items);
	free(e->img);
	free(e->ok);
	free(e->txt);
	free(e->tlen);
	free(e->rows);
	rc_arena_free(&e->arena);
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
		"truncated", (json_int_t)rc_encoder_truncated(e->enc), "seconds", seconds,
		"rows_per_second", rate);
	if (j && o->ids)
		json_object_set_new(j, "ids", json_string(o->ids));
	if (j && o->text) {
		json_object_set_new(j, "context_length", json_integer(e->ctx));
		json_object_set_new(j, "tokenizer",
			json_string(rc_bpe_semantics_name(rc_bpe_semantics(e->bpe))));
	}
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
	if ((rc = embed_parse(argc, argv, &o)) >= 0) {
		rc_path_map_free(&o.path_map);
		return rc;
	}
	rc_shard_list_init(&list);
	rc_arena_init(&e.arena, 0);
	e.nthreads = rc_backend_cpu_threads((int)o.threads);
	double t0 = rc_seconds();
	if (setup(&e) < 0)
		goto out;
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
	rc_cli_catch(SIGINT, on_signal);
	rc_cli_catch(SIGTERM, on_signal);

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
	rc_path_map_free(&o.path_map);
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
	int tokenizer;               /* as embed's */
	struct rc_device device;
};

static const char search_usage[] =
"Usage: rclip-retrieve search --gallery G.npy [--queries Q.npy] [OPTION]...\n"
"   or: rclip-retrieve search --gallery G.npy --model MODEL --text FILE [OPTION]...\n"
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
"  -m, --model=PATH        with --text: the CLIP model whose text tower\n"
"                          encodes the queries (as embed --text does)\n"
"  -t, --text=FILE         one query per line of FILE (- is standard input)\n"
"      --tokenizer=T       hf, open_clip or auto, as embed's (default auto)\n"
"  -k, --top=K             hits per query (default 10; all N when K > N)\n"
"  -o, --output=FILE       write the results to FILE, whole or not at all\n"
"                          (default: standard output)\n"
"      --jsonl             one JSON object per query instead of TSV:\n"
"                          {\"query_index\": I, \"ids\": [...], \"scores\": [...]}\n"
"  -b, --batch=N           text lines per forward pass (default 32)\n"
"      --device=DEV        cpu, cuda, cuda:N or auto (default auto: a GPU when\n"
"                          rclip has the CUDA backend and one is present)\n"
"      --precision=P       fp32, bf16, int8 or auto (default auto: fp32 on the\n"
"                          CPU, bf16 on a GPU); on the CPU bf16 and int8 are\n"
"                          faster and within a stated accuracy of fp32 (see\n"
"                          the manual page)\n"
"  -j, --threads=N         threads (default: $OMP_NUM_THREADS, else all cores)\n"
"      --skip-finite-check  load the model without checking that every value\n"
"                          is finite (a NaN or Inf is refused by default)\n"
"      --force             replace a symlink at the output's name (the link\n"
"                          itself, never its target), or write into a FIFO or\n"
"                          device there; refused without it\n"
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
	{"device", required_argument, NULL, OPT_DEVICE},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
	{"skip-finite-check", no_argument, NULL, OPT_SKIP_FINITE},
	{"force", no_argument, NULL, OPT_FORCE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int search_parse(int argc, char **argv, struct search_opts *o)
{
	*o = (struct search_opts){.k = 10, .batch = 32, .out = "-", .tokenizer = -1};
	if (rc_device_parse("auto", &o->device) < 0)
		return rc_cli_usage_error("RCLIP_DEVICE: '%s' (expected cpu, cuda, cuda:N or auto)",
			getenv("RCLIP_DEVICE"));
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
		case OPT_TOKENIZER:
			if (rc_tokenizer_option(optarg, &o->tokenizer))
				return RC_EXIT_USAGE;
			break;
		case OPT_JSONL: o->jsonl = 1; break;
		case OPT_PRECISION:
			if (rc_precision_option(optarg, &o->device, "fp32, bf16, int8 or auto"))
				return RC_EXIT_USAGE;
			break;
		case OPT_DEVICE:
			if (rc_device_option(optarg, &o->device))
				return RC_EXIT_USAGE;
			break;
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
		case OPT_SKIP_FINITE: rc_clip_set_finite_check(0); break;
		case OPT_FORCE: rc_atomic_set_force(1); break;
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
		return rc_cli_usage_error(o->text ? "--text needs --model PATH to encode the "
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

/* The text queries of o->text as rows of the model's embeddings (*out,
 * the caller frees it), encoded as embed --text encodes them and checked
 * against the gallery's width gd. */
static int text_queries(const struct search_opts *o, int nthreads, size_t gd, float **out,
	size_t *nq)
{
	struct embed_opts eo = {.model = o->model, .text = o->text, .batch = o->batch,
		.device = o->device, .tokenizer = o->tokenizer};
	struct embed e = {.o = &eo, .nthreads = nthreads, .keep = 1};
	int rc = -1;

	*out = NULL;
	rc_arena_init(&e.arena, 0);
	if (setup(&e) < 0)
		goto out;
	if ((size_t)e.D != gd) {
		rc = rc_log_error(RC_E_FORMAT, "%s: the model's embeddings have %d values, the "
			"rows of %s have %zu", o->model, e.D, shown(o->gallery), gd);
		goto out;
	}
	if ((rc = read_text(&e, o->text)) < 0 || (rc = flush(&e)) < 0)
		goto out;
	*out = e.rows ? e.rows : rc_malloc(0);
	*nq = e.kept;
	e.rows = NULL;
	rc = *out ? 0 : RC_E_NOMEM;
out:
	teardown(&e);
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
	struct rc_backend *be = NULL;      /* the search's: no model */
	float *q = NULL, *score = NULL;
	int64_t *index = NULL;
	char *idbuf = NULL, **ids = NULL;
	size_t nq = 0, dq = 0;
	int rc, status = RC_EXIT_FAILURE;

	rc_log_init("rclip-retrieve search");
	if ((rc = search_parse(argc, argv, &o)) >= 0)
		return rc;
	int nt = rc_backend_cpu_threads((int)o.threads);
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
		if (text_queries(&o, nt, g.d, &q, &nq) < 0)
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
	/* the search runs on the CPU's tiles and heaps whatever --device (which
	 * --text's encoding uses): the gallery is in host memory */
	struct rc_backend_opts bo = {.threads = nt};
	if (!score || !index || rc_backend_new(&be, NULL, &bo) < 0 ||
	    rc_backend_topk(be, g.data, g.n, g.d, q, nq, &so, score, index) < 0)
		goto out;
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
	rc_backend_free(be);
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
