/* rclip-shard - image–text data into checksummed .rcs shards, and a look
 * inside shards (--inspect).
 *
 * Inputs (JSONL or TSV manifests, webdataset tars) are read as one stream
 * of items; with --captions, tars give the images and a caption table
 * (common/data/captions.h) the texts. Shard k holds the records of items k*R .. (k+1)*R-1, so the
 * split is the same on every run: --part i/N takes the shards k with
 * k % N == i, and a rerun keeps the shards already complete (the set of
 * shards: common/data/shard_set.h). Items are processed in batches on -j
 * threads (common/data/ingest.c) and written in input order. --inspect is
 * rc_shard_inspect (common/data/shard_inspect.c) for each SHARD. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/arena.h"
#include "text/bpe.h"
#include "text/spm.h"
#include "base/cli.h"
#include "config.h"
#include "base/error.h"
#include "base/hash.h"
#include "data/captions.h"
#include "data/image.h"
#include "data/ingest.h"
#include "base/io.h"
#include "base/lock.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/pathmap.h"
#include "data/preprocess.h"
#include "base/progress.h"
#include "data/shard.h"
#include "data/shard_set.h"
#include "data/tokenizer_id.h"
#include "base/thread.h"
#include "convert/model_io.h"
#include "model/model.h"

#define BATCH 256
#define NAMED 5           /* unmatched keys named in the warning */

struct opts {
	const char *out;          /* PREFIX */
	int schema, format;
	const char *image_root;
	struct rc_path_map path_map; /* --path-map OLD=NEW rules */
	long image_size, quality, store;
	int image_size_set;       /* -s given */
	int preprocess;           /* enum rc_preprocess; -1: not given */
	const char *model;        /* --model: S and the preprocessing from it */
	long long per_shard;      /* R; 0 = about 1 GiB */
	long part_i, part_n;
	int dedup, strict, json, force;
	unsigned long long max_pixels;
	long threads;
	int inspect, records;
	int tokenizer;            /* enum rc_bpe_semantics of the stored token ids */
	int tokenizer_set;        /* --tokenizer given */
	int lower;                /* --lowercase */
	char tok_dir[4096];       /* --model's SentencePiece-family tokenizer, or "" */
	long text_ctx;            /* token ids kept per text */
	const char *pixels_dir;
	const char *captions;     /* --captions FILE */
	const char *captions_key; /* --captions-key FIELD */
	char **inputs;
	int ninputs;
};

static const char usage_text[] =
"Usage: rclip-shard [OPTION]... -o PREFIX INPUT...\n"
"   or: rclip-shard --inspect [--records] [--pixels DIR] [--json] SHARD...\n"
"Read image–text records from manifests (JSONL in the four official schemas,\n"
"TSV image_path<TAB>caption, or Parquet as the official release ships them,\n"
"images embedded or by path) and webdataset .tar files, preprocess every\n"
"image for CLIP or SigLIP, tokenize every caption, and write checksummed shards\n"
"PREFIX-000000.rcs, ... and the shard list PREFIX.list. The INPUTs form one\n"
"stream. INPUT - reads a manifest from standard input. ReasonLite tb and trl\n"
"lists are made 3 each as the official data are (a shorter list padded with\n"
"its first caption, a longer one cut); records with tb only (CC12M-Refined)\n"
"train S0-Des with rclip-train --stage 0 --stream tb.\n"
"With --captions FILE the INPUTs are webdataset tars whose samples need only\n"
"an image: their texts come from FILE (JSONL or Parquet, one record a line or\n"
"row in one of the schemas), keyed by sample name.\n"
"\n"
"  -o, --out=PREFIX        where the shards and the list go\n"
"      --schema=NAME       descriptive, reasonlite, reasonpro or sets (default:\n"
"                          from each file's first record)\n"
"      --format=FMT        jsonl, tsv, parquet or tar (default: from the name,\n"
"                          then Parquet's magic bytes)\n"
"      --image-root=DIR    resolve relative image paths against DIR (default:\n"
"                          the manifest's directory; the current one for -)\n"
"      --path-map=OLD=NEW  read an image path that starts with the directory\n"
"                          OLD under NEW instead (repeatable; the longest\n"
"                          OLD that matches wins; the key stays as written)\n"
"  -s, --image-size=S      images become S×S (default 224, or the model's)\n"
"      --preprocess=KIND   clip (default: the shortest side resized to S and the\n"
"                          centre cropped) or siglip (the whole image resized\n"
"                          to S×S), both bicubic as Pillow; recorded in the shard\n"
"  -m, --model=MODEL       take S and the preprocessing from MODEL (a built-in\n"
"                          name, a config.json, a model directory or file)\n"
"      --store=KIND        jpeg (default) or raw (S×S×3 bytes, exact pixels)\n"
"      --quality=Q         JPEG quality with --store jpeg (default 95)\n"
"      --records-per-shard=N  records per shard (default: about 1 GiB of images)\n"
"      --part=I/N          do part I of N (0 <= I < N): the shards k with\n"
"                          k % N = I; the list is PREFIX.part-I-of-N.list\n"
"      --captions=FILE     join the tars' images with the records of FILE\n"
"                          (JSONL or Parquet) by sample key; FILE's record\n"
"                          wins over a sample's own .txt/.json (counted)\n"
"      --captions-key=FIELD  the field of FILE that holds the sample key\n"
"                          (default: the first of __key__, key, id and\n"
"                          image_name in its first record; image_name and\n"
"                          image_path lose their extension)\n"
"      --dedup             drop records whose image bytes were seen before\n"
"      --strict            stop at the first bad record (exit 1)\n"
"      --force             replace a symlink found at an output name (the link\n"
"                          itself, never its target; refused without it)\n"
"      --max-pixels=N      refuse larger images (default 100000000)\n"
"      --tokenizer=T       the CLIP BPE ids stored: open_clip (default, as\n"
"                          open_clip.tokenize) or hf (as transformers'\n"
"                          CLIPTokenizerFast, for a Hugging Face checkpoint)\n"
"                          With --model, a model directory holding SigLIP's\n"
"                          spiece.model or a Gemma tokenizer.json gives its\n"
"                          own ids instead, as transformers does, cut to the\n"
"                          model's context (64 at most); recorded in the shard\n"
"      --lowercase         lowercase each text first (str.lower()), as the\n"
"                          official SigLIP2 recipe does (with such a --model)\n"
"  -j, --threads=N         decoding threads (default: all cores)\n"
"      --json              the final report as JSON on standard output\n"
"      --inspect           print the header and metadata of each SHARD, check\n"
"                          every record's checksum (exit 1 on corruption)\n"
"      --records           with --inspect: every record as a JSON line\n"
"      --pixels=DIR        with --inspect: each image as DIR/KEY.ppm\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"A bad record (missing or corrupt image, malformed line, wrong schema) is\n"
"skipped with one line FILE:LINE: reason on stderr (LINE: the row of a\n"
"Parquet file) and counted; so is a sample with no record in the --captions\n"
"FILE (the first few named in one warning); an input that is not text where a manifest is\n"
"expected (a Parquet, zip or other binary file named .jsonl or .tsv) stops\n"
"the run before any shard is written. A shard\n"
"appears under its name only when complete; rerunning the same command\n"
"goes on where it stopped. One run at a time writes a PREFIX: a second one\n"
"fails at once, naming the first one's pid (the lock PREFIX.lock).\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n"
"See rclip-shard(1) and the format in rclip-shard(5).\n";

enum {
	OPT_SCHEMA = 256, OPT_FORMAT, OPT_ROOT, OPT_STORE, OPT_QUALITY, OPT_PER_SHARD, OPT_PART,
	OPT_DEDUP, OPT_STRICT, OPT_MAXPIX, OPT_JSON, OPT_INSPECT, OPT_RECORDS, OPT_PIXELS,
	OPT_VERSION, OPT_PATH_MAP, OPT_TOKENIZER, OPT_CAPTIONS, OPT_CAPTIONS_KEY, OPT_PREPROCESS,
	OPT_FORCE, OPT_LOWER,
};

static const struct option longopts[] = {
	{"out", required_argument, NULL, 'o'},
	{"schema", required_argument, NULL, OPT_SCHEMA},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"image-root", required_argument, NULL, OPT_ROOT},
	{"path-map", required_argument, NULL, OPT_PATH_MAP},
	{"image-size", required_argument, NULL, 's'},
	{"preprocess", required_argument, NULL, OPT_PREPROCESS},
	{"model", required_argument, NULL, 'm'},
	{"store", required_argument, NULL, OPT_STORE},
	{"quality", required_argument, NULL, OPT_QUALITY},
	{"records-per-shard", required_argument, NULL, OPT_PER_SHARD},
	{"part", required_argument, NULL, OPT_PART},
	{"captions", required_argument, NULL, OPT_CAPTIONS},
	{"captions-key", required_argument, NULL, OPT_CAPTIONS_KEY},
	{"dedup", no_argument, NULL, OPT_DEDUP},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"max-pixels", required_argument, NULL, OPT_MAXPIX},
	{"threads", required_argument, NULL, 'j'},
	{"json", no_argument, NULL, OPT_JSON},
	{"inspect", no_argument, NULL, OPT_INSPECT},
	{"records", no_argument, NULL, OPT_RECORDS},
	{"pixels", required_argument, NULL, OPT_PIXELS},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
	{"lowercase", no_argument, NULL, OPT_LOWER},
	{NULL, 0, NULL, 0},
};

/* The config of --model: a built-in name, a config file (.json), a model
 * directory with its config.json, or any model rclip reads. */
static int model_config(const char *path, struct rc_clip_config *cfg)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return rc_clip_config_builtin(cfg, path);
	if (S_ISREG(sb.st_mode) && rc_ends_with(path, ".json"))
		return rc_clip_config_load_any(cfg, path, NULL);
	if (S_ISDIR(sb.st_mode)) {
		size_t n = strlen(path) + sizeof "/config.json";
		char *p = rc_malloc(n);
		if (!p)
			return RC_E_NOMEM;
		snprintf(p, n, "%s/config.json", path);
		int rc = stat(p, &sb) == 0 ? rc_clip_config_load_any(cfg, p, NULL) : 1;
		free(p);
		if (rc <= 0)
			return rc;
	}
	struct rc_clip *m;
	int rc = rc_clip_load_any(&m, path, NULL, NULL);
	if (rc == 0) {
		*cfg = m->cfg;
		rc_clip_free(m);
	}
	return rc;
}

/* --model: S and the preprocessing the model takes, unless given; given
 * and different from the model's, a usage error (its shards would be
 * refused). Returns -1 to go on, or an exit status. */
static int from_model(struct opts *o)
{
	struct rc_clip_config cfg;
	if (model_config(o->model, &cfg) < 0)
		return RC_EXIT_FAILURE;
	int kind = cfg.family == RC_FAMILY_SIGLIP ? RC_PREPROCESS_SIGLIP : RC_PREPROCESS_CLIP;
	if (o->image_size_set && o->image_size != cfg.vision.image_size)
		return rc_cli_usage_error("--image-size %ld, but %s takes %dx%d images", o->image_size,
			o->model, cfg.vision.image_size, cfg.vision.image_size);
	if (o->preprocess >= 0 && o->preprocess != kind)
		return rc_cli_usage_error("--preprocess %s, but %s takes %s", rc_preprocess_name(o->preprocess),
			o->model, rc_preprocess_name(kind));
	o->image_size = cfg.vision.image_size;
	o->preprocess = kind;
	/* the model's own tokenizer, when its directory holds one (CLIP's
	 * merges.txt is the BPE rclip ships) */
	if (rc_tokenizer_model_dir(o->model, o->tok_dir, sizeof o->tok_dir) && rc_spm_dir_kind(o->tok_dir)) {
		if (o->tokenizer_set)
			return rc_cli_usage_error("--tokenizer chooses CLIP BPE's ids, and %s has its "
				"own tokenizer", o->model);
		o->text_ctx = cfg.text.max_position < RC_SPM_CONTEXT ? cfg.text.max_position :
			RC_SPM_CONTEXT;
		return -1;
	}
	o->tok_dir[0] = '\0';
	if (o->lower)
		return rc_cli_usage_error("--lowercase: %s has no SentencePiece-family tokenizer "
			"(CLIP BPE always lowercases)", o->model);
	return -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.image_size = 224, .quality = 95, .store = RC_STORE_JPEG, .part_n = 1,
		.max_pixels = RC_IMAGE_MAX_PIXELS, .preprocess = -1, .text_ctx = RC_BPE_CONTEXT};
	long v;
	int c;
	while ((c = getopt_long(argc, argv, "o:s:m:j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case OPT_SCHEMA:
			if ((o->schema = rc_manifest_schema_parse(optarg)) < 0)
				return rc_cli_usage_error("unknown schema '%s' (expected descriptive, "
					"reasonlite, reasonpro or sets)", optarg);
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "jsonl"))
				o->format = RC_MANIFEST_JSONL;
			else if (!strcmp(optarg, "tsv"))
				o->format = RC_MANIFEST_TSV;
			else if (!strcmp(optarg, "tar"))
				o->format = RC_MANIFEST_TAR;
			else if (!strcmp(optarg, "parquet"))
				o->format = RC_MANIFEST_PARQUET;
			else
				return rc_cli_usage_error("unknown format '%s' (expected jsonl, tsv, parquet "
					"or tar)", optarg);
			break;
		case OPT_ROOT: o->image_root = optarg; break;
		case OPT_PATH_MAP:
			if ((v = rc_path_map_option(&o->path_map, optarg)) >= 0)
				return (int)v;
			break;
		case 's':
			if (rc_cli_int("--image-size", optarg, 1, RC_SHARD_IMAGE_SIZE_MAX, &o->image_size) < 0)
				return RC_EXIT_USAGE;
			o->image_size_set = 1;
			break;
		case OPT_PREPROCESS:
			if ((o->preprocess = rc_preprocess_parse(optarg)) < 0)
				return rc_cli_usage_error("unknown preprocessing '%s' (expected clip or "
					"siglip)", optarg);
			break;
		case 'm': o->model = optarg; break;
		case OPT_STORE:
			if (!strcmp(optarg, "jpeg"))
				o->store = RC_STORE_JPEG;
			else if (!strcmp(optarg, "raw"))
				o->store = RC_STORE_RAW;
			else
				return rc_cli_usage_error("unknown storage '%s' (expected jpeg or raw)", optarg);
			break;
		case OPT_QUALITY:
			if (rc_cli_int("--quality", optarg, 1, 100, &o->quality) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_PER_SHARD:
			if (rc_cli_int("--records-per-shard", optarg, 1, 1L << 40, &v) < 0)
				return RC_EXIT_USAGE;
			o->per_shard = v;
			break;
		case OPT_PART: {
			char *slash = strchr(optarg, '/'), *e1, *e2;
			long i = slash ? strtol(optarg, &e1, 10) : -1;
			long n = slash ? strtol(slash + 1, &e2, 10) : 0;
			if (!slash || e1 != slash || *e2 || n < 1 || n > 1000000 || i < 0 || i >= n)
				return rc_cli_usage_error("invalid value for --part: '%s' (expected I/N, "
					"0 <= I < N)", optarg);
			o->part_i = i;
			o->part_n = n;
			break;
		}
		case OPT_CAPTIONS: o->captions = optarg; break;
		case OPT_CAPTIONS_KEY:
			if (!*optarg)
				return rc_cli_usage_error("--captions-key needs a field name");
			o->captions_key = optarg;
			break;
		case OPT_DEDUP: o->dedup = 1; break;
		case OPT_STRICT: o->strict = 1; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_MAXPIX:
			if (rc_cli_int("--max-pixels", optarg, 1, 1L << 40, &v) < 0)
				return RC_EXIT_USAGE;
			o->max_pixels = (unsigned long long)v;
			break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_JSON: o->json = 1; break;
		case OPT_INSPECT: o->inspect = 1; break;
		case OPT_RECORDS: o->records = 1; break;
		case OPT_PIXELS: o->pixels_dir = optarg; break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		case OPT_TOKENIZER:
			if ((o->tokenizer = rc_bpe_semantics_parse(optarg)) < 0)
				return rc_cli_usage_error("--tokenizer: '%s' (expected open_clip or hf)",
					optarg);
			o->tokenizer_set = 1;
			break;
		case OPT_LOWER: o->lower = 1; break;
		default: return rc_cli_usage_error(NULL);
		}
	}
	o->inputs = argv + optind;
	o->ninputs = argc - optind;
	if (!o->inspect && (o->records || o->pixels_dir))
		return rc_cli_usage_error("--records and --pixels go with --inspect");
	if (!o->inspect && !o->out)
		return rc_cli_usage_error("no output: give -o PREFIX");
	if (o->ninputs == 0)
		return rc_cli_usage_error(o->inspect ? "no shard to inspect" : "no input");
	if (o->captions_key && !o->captions)
		return rc_cli_usage_error("--captions-key goes with --captions");
	for (int i = 0; o->captions && !o->inspect && i < o->ninputs; i++) {
		int fmt = o->format ? o->format : rc_manifest_format_of(o->inputs[i]);
		if (fmt != RC_MANIFEST_TAR)
			return rc_cli_usage_error("--captions joins webdataset tars: '%s' is not "
				"a .tar (--format tar reads a pipe as one)", o->inputs[i]);
		if (!strcmp(o->inputs[i], "-") && !strcmp(o->captions, "-"))
			return rc_cli_usage_error("the tar and the --captions file cannot both be "
				"standard input");
	}
	if (o->lower && !o->model)
		return rc_cli_usage_error("--lowercase goes with --model (CLIP BPE always lowercases)");
	if (o->model && !o->inspect && (c = from_model(o)) >= 0)
		return c;
	if (o->preprocess < 0)
		o->preprocess = RC_PREPROCESS_CLIP;
	if (!o->per_shard)
		o->per_shard = rc_shard_set_per_shard(o->image_size, (int)o->store);
	rc_atomic_set_force(o->force);
	return -1;
}

/* ---------------------------------------------------------------- state */

struct stats {
	uint64_t read, written, bad_lines, truncated;
	uint64_t skipped[RC_INGEST_NSTATUS];
	uint64_t duplicates;
	uint64_t no_caption, own_text; /* --captions: unmatched, own text ignored */
};

/* One item of a batch: a record read from an input, then processed. */
struct item {
	struct rc_record rec;
	const char *path;          /* the image file, resolved; NULL: bytes */
	const uint8_t *bytes;      /* the image from a tar */
	size_t nbytes;
	const char *input;         /* for messages */
	uint64_t where;            /* line or sample number */
	int bad;                   /* a bad line: out.why says why */
	int flags;                 /* ITEM_* */
	struct rc_ingest_item out;
};

enum { ITEM_UNMATCHED = 1, ITEM_OWN_TEXT = 2 };

struct dedup {
	struct rc_hash128 *slot; /* {0,0} empty */
	size_t mask, used;
};

struct run {
	const struct opts *o;
	struct rc_bpe *bpe;
	struct rc_spm *spm;        /* --model's own tokenizer, or NULL: CLIP BPE */
	struct rc_ingest_opts io;
	struct rc_ingest_worker **workers;
	int nthreads;
	struct rc_arena arena;     /* the batch's records */
	struct item items[BATCH];
	int n;
	uint64_t next_item;        /* items read so far (the global index) */
	struct rc_shard_set set;   /* the shards: which are ours, kept, written */
	struct stats st;
	struct dedup seen;
	struct rc_progress prog;
	int strict_stopped;        /* --strict met a bad record */
	struct rc_captions *cap;   /* --captions */
	char *unmatched[NAMED];    /* the first keys without a caption */
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Returns 1 when h was seen before, else records it. */
static int dedup_seen(struct dedup *d, struct rc_hash128 h)
{
	if (!h.lo && !h.hi)
		h.lo = 1; /* {0,0} marks an empty slot */
	if ((d->used + 1) * 2 > d->mask + 1) {
		size_t cap = d->mask ? 2 * (d->mask + 1) : 1 << 16;
		struct rc_hash128 *s = rc_calloc(cap, sizeof *s);
		if (!s)
			return -1;
		for (size_t i = 0; d->slot && i <= d->mask; i++) {
			if (!d->slot[i].lo && !d->slot[i].hi)
				continue;
			size_t j = d->slot[i].lo & (cap - 1);
			while (s[j].lo || s[j].hi)
				j = (j + 1) & (cap - 1);
			s[j] = d->slot[i];
		}
		free(d->slot);
		d->slot = s;
		d->mask = cap - 1;
	}
	size_t j = h.lo & d->mask;
	while (d->slot[j].lo || d->slot[j].hi) {
		if (d->slot[j].lo == h.lo && d->slot[j].hi == h.hi)
			return 1;
		j = (j + 1) & d->mask;
	}
	d->slot[j] = h;
	d->used++;
	return 0;
}

static int strict_stop(struct run *r)
{
	r->strict_stopped = 1;
	return RC_E_FORMAT;
}

/* ---------------------------------------------------------------- batches */

static int flush(struct run *r)
{
	const struct opts *o = r->o;
	int n = r->n;
#pragma omp parallel for schedule(dynamic, 4) num_threads(r->nthreads)
	for (int i = 0; i < n; i++) {
		struct item *it = &r->items[i];
		struct rc_ingest_worker *w = r->workers[rc_thread_id()];
		if (it->bad)
			continue;
		if (it->path)
			rc_ingest_file(w, &it->rec, it->path, &it->out);
		else
			rc_ingest_bytes(w, &it->rec, it->bytes, it->nbytes, &it->out);
	}
	int rc = 0;
	for (int i = 0; i < n; i++) {
		struct item *it = &r->items[i];
		struct rc_ingest_item *out = &it->out;
		rc_progress_update(&r->prog, 1);
		if (rc < 0) {
			rc_ingest_item_free(out);
			continue;
		}
		if (it->bad && (it->flags & ITEM_UNMATCHED)) {
			if (r->st.no_caption < NAMED &&
			    !(r->unmatched[r->st.no_caption] = rc_strdup(it->rec.key)))
				rc = RC_E_NOMEM;
			r->st.no_caption++;
			if (o->strict) {
				rc_log_error(RC_E_FORMAT, "%s:%llu: %s", it->input,
					(unsigned long long)it->where, out->why);
				rc = strict_stop(r);
			} else {
				rc_log_debug("%s:%llu: %s", it->input, (unsigned long long)it->where,
					out->why);
			}
		} else if (it->bad) {
			r->st.bad_lines++;
			rc_log_warn("%s:%llu: %s", it->input, (unsigned long long)it->where, out->why);
			rc = o->strict ? strict_stop(r) : 0;
		} else if (out->status == RC_INGEST_ERROR) {
			rc = rc_log_error(RC_E_NOMEM, "%s:%llu: %s", it->input,
				(unsigned long long)it->where, out->why);
		} else if (out->status != RC_INGEST_OK) {
			r->st.skipped[out->status]++;
			rc_log_warn("%s:%llu: %s", it->input, (unsigned long long)it->where, out->why);
			rc = o->strict ? strict_stop(r) : 0;
		} else if (o->dedup && dedup_seen(&r->seen, out->source_hash)) {
			r->st.duplicates++;
			rc_log_debug("%s:%llu: duplicate image", it->input, (unsigned long long)it->where);
		} else if (r->set.w && out->rec.schema != r->set.schema) {
			/* (2) one schema per shard: say where the other one starts */
			rc = rc_log_error(RC_E_FORMAT, "%s:%llu: a %s record among %s records: "
				"shard inputs of each schema separately", it->input,
				(unsigned long long)it->where, rc_shard_schema_name(out->rec.schema),
				rc_shard_schema_name(r->set.schema));
		} else if ((rc = rc_shard_set_add(&r->set, &out->rec)) == 0) {
			if ((it->flags & ITEM_OWN_TEXT) && !r->st.own_text++)
				rc_log_warn("%s:%llu: %.*s: its own text member is ignored: its record "
					"comes from %s (such samples are counted)", it->input,
					(unsigned long long)it->where, (int)out->rec.key_len,
					out->rec.key, o->captions);
			r->st.written++;
			r->st.truncated += out->truncated;
		}
		rc_ingest_item_free(out);
	}
	r->n = 0;
	rc_arena_reset(&r->arena);
	return rc;
}

/* Join a relative image path to the root (in the arena). */
static const char *resolve(struct run *r, const char *root, const char *path)
{
	if (path[0] == '/' || !root || !*root)
		return path;
	size_t a = strlen(root), b = strlen(path);
	char *p = rc_arena_alloc(&r->arena, a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, root, a);
	p[a] = '/';
	memcpy(p + a + 1, path, b + 1);
	return p;
}

/* Before an item is read: when it starts a new shard, finish the batch and
 * the shard first (flushing resets the arena the item will be read into). */
static int next_shard(struct run *r)
{
	int64_t k = rc_shard_set_index(&r->set, r->next_item);
	int err = 0;
	if (r->set.shard >= 0 && k != r->set.shard &&
	    ((err = flush(r)) < 0 || (err = rc_shard_set_end(&r->set, r->o->schema)) < 0))
		return err;
	return 0;
}

/* One item read: batch it, or skip it when its shard is not ours. */
static int take(struct run *r, int rc, const struct rc_record *rec, const char *root,
	const char *image_path, const uint8_t *bytes, size_t nbytes, const char *input,
	uint64_t where, const char *why, int flags)
{
	int64_t k = rc_shard_set_index(&r->set, r->next_item++);
	int err;
	if (k != r->set.shard && (err = rc_shard_set_begin(&r->set, k)) < 0) /* its first item */
		return err;
	if (!r->set.active) {
		rc_progress_update(&r->prog, 1);
		return 0;
	}
	r->st.read++;
	struct item *it = &r->items[r->n++];
	memset(it, 0, sizeof *it);
	it->input = input;
	it->where = where;
	it->flags = flags;
	if (rc < 0) { /* reported in order, when the batch is written */
		it->bad = 1;
		if (flags & ITEM_UNMATCHED)
			it->rec = *rec;
		snprintf(it->out.why, sizeof it->out.why, "%s", why);
	} else if (image_path) {
		it->rec = *rec;
		const char *mapped = rc_path_map_apply(&r->o->path_map, &r->arena, image_path);
		if (!mapped || !(it->path = resolve(r, root, mapped)))
			return RC_E_NOMEM;
	} else {
		it->rec = *rec;
		it->bytes = bytes;
		it->nbytes = nbytes;
	}
	if (rc >= 0 && rc_manifest_lite_three(&r->arena, &it->rec) < 0)
		return RC_E_NOMEM;
	return r->n == BATCH ? flush(r) : 0;
}

static int dirname_of(const char *path, char *buf, size_t n)
{
	const char *s = strrchr(path, '/');
	if (!s || !strcmp(path, "-"))
		return snprintf(buf, n, "%s", ".") < 0;
	snprintf(buf, n, "%.*s", (int)(s - path), path);
	if (!buf[0])
		snprintf(buf, n, "/");
	return 0;
}

static int read_input(struct run *r, const char *path)
{
	const struct opts *o = r->o;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	int fmt = o->format ? o->format : rc_manifest_format_of(path);
	char root[4096], why[512];
	struct rc_record rec;
	int rc, err = 0;
	if (o->image_root)
		snprintf(root, sizeof root, "%s", o->image_root);
	else
		dirname_of(path, root, sizeof root);

	if (fmt == RC_MANIFEST_TAR) {
		struct rc_wds *w;
		if ((rc = rc_wds_open(&w, path, o->schema)) < 0)
			return rc;
		if (r->cap)
			rc_wds_image_only(w);
		const uint8_t *img;
		size_t nimg;
		uint64_t sample = 0;
		while (!err && !interrupted && (err = next_shard(r)) == 0 &&
		       (rc = rc_wds_next(w, &r->arena, &rec, &img, &nimg, why, sizeof why)) != 0) {
			sample++;
			if (rc == RC_E_TRUNCATED || rc == RC_E_IO) {
				/* the rest of the tar is lost: one bad item */
				rc_log_warn("%s: %s", name, why);
				r->st.read++;
				r->st.bad_lines++;
				err = o->strict ? strict_stop(r) : 0;
				break;
			}
			if (rc == RC_E_NOMEM) {
				err = rc;
				break;
			}
			int flags = 0;
			if (rc == 1 && r->cap && !rc_captions_join(r->cap, &rec)) {
				flags = ITEM_UNMATCHED;
				rc = RC_E_FORMAT;
				snprintf(why, sizeof why, "%.*s: no record in %s",
					(int)(rec.key_len > 200 ? 200 : rec.key_len), rec.key, o->captions);
			} else if (rc == 1 && r->cap && rc_wds_sample_text(w)) {
				flags = ITEM_OWN_TEXT;
			}
			err = take(r, rc, &rec, NULL, NULL, img, nimg, name, sample, why, flags);
		}
		rc_wds_close(w);
		return err;
	}
	struct rc_manifest *m;
	if ((rc = rc_manifest_open(&m, path, o->schema, fmt)) < 0)
		return rc;
	const char *img;
	uint64_t line;
	while (!err && !interrupted && (err = next_shard(r)) == 0 &&
	       (rc = rc_manifest_next(m, &r->arena, &rec, &img, &line, why, sizeof why)) != 0) {
		if (rc < 0 && rc != RC_E_FORMAT) {
			err = rc;
			break;
		}
		/* a Parquet row with its image embedded: no path, the bytes */
		err = take(r, rc, &rec, root, img, rc >= 0 ? rec.image : NULL,
			rc >= 0 ? rec.image_len : 0, name, line, why, 0);
	}
	rc_manifest_close(m);
	return err;
}

/* ---------------------------------------------------------------- report */

static void report(const struct run *r)
{
	const struct stats *s = &r->st;
	uint64_t skipped = s->bad_lines + s->duplicates + s->no_caption;
	for (int i = 1; i < RC_INGEST_NSTATUS; i++)
		skipped += s->skipped[i];
	if (r->o->json) {
		json_t *j = json_pack("{s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:I, s:s}",
			"records_read", (json_int_t)s->read, "records_written", (json_int_t)s->written,
			"skipped", "bad_line", (json_int_t)s->bad_lines,
			"missing_image", (json_int_t)s->skipped[RC_INGEST_NO_IMAGE],
			"unreadable_image", (json_int_t)s->skipped[RC_INGEST_BAD_IMAGE],
			"image_size", (json_int_t)s->skipped[RC_INGEST_IMAGE_SIZE],
			"duplicate", (json_int_t)s->duplicates,
			"truncated_captions", (json_int_t)s->truncated, "bytes", (json_int_t)r->set.bytes,
			"shards_written", (json_int_t)r->set.written,
			"shards_kept", (json_int_t)r->set.kept, "list", r->set.list_path);
		if (j && r->cap) {
			json_object_set_new(json_object_get(j, "skipped"), "no_caption",
				json_integer((json_int_t)s->no_caption));
			json_object_set_new(j, "captions", json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}",
				"file", r->o->captions, "key_field", rc_captions_key_field(r->cap),
				"schema", rc_manifest_schema_name(rc_captions_schema(r->cap)),
				"records", (json_int_t)rc_captions_count(r->cap),
				"bad", (json_int_t)rc_captions_bad(r->cap),
				"never_matched", (json_int_t)rc_captions_unused(r->cap, NULL, 0),
				"own_text_ignored", (json_int_t)s->own_text));
		}
		char *txt = j ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
		if (txt)
			printf("%s\n", txt);
		free(txt);
		json_decref(j);
		return;
	}
	if (rc_log_level() < RC_LOG_WARN)
		return;
	char cap[512] = "", nocap[64] = "";
	if (r->cap) {
		snprintf(nocap, sizeof nocap, ", no caption %llu", (unsigned long long)s->no_caption);
		snprintf(cap, sizeof cap, "; captions %s: %llu records keyed by %s, never matched "
			"%llu, own text ignored %llu", r->o->captions,
			(unsigned long long)rc_captions_count(r->cap), rc_captions_key_field(r->cap),
			(unsigned long long)rc_captions_unused(r->cap, NULL, 0),
			(unsigned long long)s->own_text);
	}
	fprintf(stderr, "%s: %llu records read, %llu written, %llu skipped (bad line %llu, "
		"missing image %llu, unreadable image %llu, image size %llu, duplicate %llu%s); "
		"%llu captions truncated; %llu bytes in %llu shards (%llu kept); list %s%s\n",
		rc_log_progname(), (unsigned long long)s->read, (unsigned long long)s->written,
		(unsigned long long)skipped, (unsigned long long)s->bad_lines,
		(unsigned long long)s->skipped[RC_INGEST_NO_IMAGE],
		(unsigned long long)s->skipped[RC_INGEST_BAD_IMAGE],
		(unsigned long long)s->skipped[RC_INGEST_IMAGE_SIZE],
		(unsigned long long)s->duplicates, nocap, (unsigned long long)s->truncated,
		(unsigned long long)r->set.bytes, (unsigned long long)r->set.written,
		(unsigned long long)r->set.kept, r->set.list_path, cap);
}

/* A list of up to NAMED keys, ", ..." when there are more. */
static void name_keys(char *buf, size_t n, const char *const *keys, uint64_t count)
{
	size_t k = 0;
	buf[0] = '\0';
	for (uint64_t i = 0; i < count && i < NAMED && k + 1 < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%.*s", i ? ", " : "", 100, keys[i]);
	if (count > NAMED && k + 1 < n)
		snprintf(buf + k, n - k, ", ...");
}

/* --captions: the samples that had no record, and the records no sample
 * asked for, each in one warning. */
static void report_captions(const struct run *r)
{
	char names[1024];
	const char *first[NAMED];
	uint64_t n = r->st.no_caption;
	if (n) {
		name_keys(names, sizeof names, (const char *const *)r->unmatched, n);
		rc_log_warn("%llu sample%s had no record in %s, skipped: %s",
			(unsigned long long)n, n == 1 ? "" : "s", r->o->captions, names);
	}
	if ((n = rc_captions_unused(r->cap, first, NAMED)) != 0) {
		name_keys(names, sizeof names, first, n);
		rc_log_warn("%llu record%s of %s matched no sample: %s", (unsigned long long)n,
			n == 1 ? "" : "s", r->o->captions, names);
	}
}

/* ---------------------------------------------------------------- inspect */

static int inspect_main(const struct opts *o)
{
	int status = RC_EXIT_OK;
	if (o->pixels_dir) {
		struct stat sb;
		if (stat(o->pixels_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
			rc_log_error(RC_E_IO, "%s: not a directory", o->pixels_dir);
			return RC_EXIT_FAILURE;
		}
	}
	struct rc_shard_inspect_opts io = {.json = o->json, .records = o->records,
		.pixels_dir = o->pixels_dir};
	for (int i = 0; i < o->ninputs; i++)
		if (rc_shard_inspect(stdout, o->inputs[i], &io) < 0)
			status = RC_EXIT_FAILURE;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		rc_log_error(RC_E_IO, "(stdout): write error");
		status = RC_EXIT_FAILURE;
	}
	return status;
}

/* ---------------------------------------------------------------- main */

/* The directory of PREFIX must exist: say so before any work. */
static int check_out_dir(const char *prefix)
{
	char dir[4096];
	struct stat sb;
	dirname_of(prefix, dir, sizeof dir);
	if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
		return 0;
	rc_log_error(RC_E_IO, "%s: no such directory for the shards", dir);
	rc_log_hint("create it first: mkdir -p '%s'", dir);
	return RC_E_IO;
}

/* Everything besides the inputs that a record's bytes depend on: a shard
 * is kept on a rerun only when this is the same. tok is a model
 * tokenizer's rc_spm_id, or NULL (CLIP BPE). */
static char *options_string(const struct opts *o, const char *tok)
{
	char *map = rc_path_map_string(&o->path_map);
	if (!map)
		return NULL;
	char ctx[24];
	snprintf(ctx, sizeof ctx, "%ld", o->text_ctx);
	size_t n = 384 + (o->image_root ? strlen(o->image_root) : 0) + strlen(map) +
		(o->captions ? strlen(o->captions) : 0) + (o->captions_key ? strlen(o->captions_key) : 0);
	char *s = rc_malloc(n);
	/* an empty map adds nothing: shards written before --path-map are kept */
	if (s)
		snprintf(s, n, "image_size=%ld store=%s quality=%ld max_pixels=%llu dedup=%d "
			"schema=%s format=%d root=%s tokenizer=%s%s%s%s%s%s%s%s%s%s", o->image_size,
			rc_shard_store_name((int)o->store),
			o->store == RC_STORE_JPEG ? o->quality : 0, o->max_pixels, o->dedup,
			rc_manifest_schema_name(o->schema), o->format,
			o->image_root ? o->image_root : "",
			tok ? tok : rc_bpe_semantics_name(o->tokenizer),
			/* only with a model's tokenizer: CLIP's options stay as they were */
			tok ? " text_ctx=" : "", tok ? ctx : "",
			*map ? " path_map=" : "", map,
			o->captions ? " captions=" : "", o->captions ? o->captions : "",
			o->captions ? " captions_key=" : "",
			o->captions ? (o->captions_key ? o->captions_key : "auto") : "",
			/* only when not CLIP's: a rerun of an older command keeps its shards */
			o->preprocess == RC_PREPROCESS_SIGLIP ? " preprocess=siglip" : "");
	free(map);
	return s;
}

/* take_lock - one writer per PREFIX (per part with --part): PREFIX.lock or
 * PREFIX.part-I-of-N.lock. */
static int take_lock(const struct opts *o, struct rc_lock *lk)
{
	size_t n = strlen(o->out) + 64;
	char *p = rc_malloc(n);
	if (!p)
		return RC_E_NOMEM;
	if (o->part_n > 1)
		snprintf(p, n, "%s.part-%ld-of-%ld.lock", o->out, o->part_i, o->part_n);
	else
		snprintf(p, n, "%s.lock", o->out);
	int rc = rc_lock_take(lk, p, o->out);
	free(p);
	return rc;
}

static int shard_main(const struct opts *o, int argc, char **argv)
{
	struct run r = {.o = o};
	struct rc_lock lock = {.fd = -1, .path = NULL};
	int status = RC_EXIT_FAILURE, rc = 0;
	r.io = (struct rc_ingest_opts){.image_size = (int)o->image_size, .store = (int)o->store,
		.quality = (int)o->quality, .max_pixels = o->max_pixels, .text_ctx = (int)o->text_ctx,
		.preprocess = o->preprocess};
	rc_arena_init(&r.arena, 0);
	r.nthreads = rc_thread_set((int)o->threads);
	struct rc_shard_set_opts so = {.prefix = o->out, .per_shard = o->per_shard,
		.part_i = o->part_i, .part_n = o->part_n, .tool = "rclip-shard " PACKAGE_VERSION,
		.tokenizer = o->tokenizer == RC_BPE_HF ? "clip-bpe-hf" : "clip-bpe",
		.info = {.store = (uint32_t)o->store, .image_size = (uint32_t)o->image_size,
			.text_ctx = (uint32_t)o->text_ctx, .preprocess = (uint32_t)o->preprocess}};
	char *cmdline = rc_cli_join(argc, argv, " ");
	char *sources = rc_cli_join(o->ninputs, o->inputs, ", ");
	char *options = NULL;
	r.workers = rc_calloc((size_t)r.nthreads, sizeof *r.workers);
	if (!cmdline || !sources || !r.workers)
		goto out;
	if (o->tok_dir[0]) {
		if (rc_spm_load_dir(&r.spm, o->tok_dir) < 0)
			goto out;
		rc_spm_set_lower(r.spm, o->lower);
		r.io.spm = r.spm;
		so.tokenizer = rc_spm_id(r.spm);
		/* ids over 16 bits: format v2; else v1, as CLIP's */
		so.info.token_bytes = rc_spm_vocab_size(r.spm) > 65536 ? 4 : 2;
		rc_log_info("tokenizer: %s, context %ld, %u-byte ids", so.tokenizer, o->text_ctx,
			so.info.token_bytes);
	}
	/* Set before the lock is taken: a signal once the lock names this
	 * process (while the tokenizer loads) stops it with its message, not
	 * silently. */
	rc_cli_catch(SIGINT, on_signal);
	rc_cli_catch(SIGTERM, on_signal);
	if (check_out_dir(o->out) < 0 || take_lock(o, &lock) < 0 ||
	    !(options = options_string(o, r.spm ? so.tokenizer : NULL)))
		goto out;
	so.command = cmdline;
	so.sources = sources;
	so.options = options;
	if (o->captions) {
		struct rc_captions_opts co = {.schema = o->schema, .key_field = o->captions_key,
			.strict = o->strict};
		if (rc_captions_load(&r.cap, o->captions, &co) < 0)
			goto out;
		rc_log_info("%s: %llu records (%s) keyed by %s, %zu bytes in memory", o->captions,
			(unsigned long long)rc_captions_count(r.cap),
			rc_manifest_schema_name(rc_captions_schema(r.cap)),
			rc_captions_key_field(r.cap), rc_captions_bytes(r.cap));
	}
	if (rc_shard_set_init(&r.set, &so) < 0 || (!r.spm && rc_bpe_load(&r.bpe, NULL, NULL) < 0))
		goto out;
	if (r.bpe)
		rc_bpe_set_semantics(r.bpe, o->tokenizer);
	for (int t = 0; t < r.nthreads; t++)
		if (!(r.workers[t] = rc_ingest_worker_new(r.bpe, &r.io)))
			goto out;
	rc_progress_begin(&r.prog, "records", 0);
	for (int i = 0; i < o->ninputs && rc == 0 && !interrupted; i++)
		rc = read_input(&r, o->inputs[i]);
	if (rc == 0 && !interrupted)
		rc = flush(&r);
	rc_progress_end(&r.prog);
	if (interrupted) {
		rc_log_error(RC_E_INTERRUPTED, "interrupted: the shard being written is dropped; "
			"run the same command again to go on");
		goto out;
	}
	if (rc < 0) {
		if (r.strict_stopped)
			rc_log_error(rc, "stopped at the first bad record (--strict)");
		goto out;
	}
	if (rc_shard_set_end(&r.set, o->schema) < 0 ||
	    rc_shard_list_write(&r.set.list, r.set.list_path) < 0)
		goto out;
	if (r.cap && rc_log_level() >= RC_LOG_WARN)
		report_captions(&r);
	report(&r);
	status = o->json && rc_io_flush(stdout, "-") < 0 ? RC_EXIT_FAILURE : RC_EXIT_OK;
out:
	rc_lock_drop(&lock);
	rc_shard_set_free(&r.set);
	rc_captions_free(r.cap);
	for (int i = 0; i < NAMED; i++)
		free(r.unmatched[i]);
	for (int i = 0; i < r.n; i++)
		rc_ingest_item_free(&r.items[i].out);
	if (r.workers)
		for (int t = 0; t < r.nthreads; t++)
			rc_ingest_worker_free(r.workers[t]);
	free(r.workers);
	rc_bpe_free(r.bpe);
	rc_spm_free(r.spm);
	rc_arena_free(&r.arena);
	free(r.seen.slot);
	free(options);
	free(cmdline);
	free(sources);
	return status;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;
	rc_log_init("rclip-shard");
	if ((rc = parse_args(argc, argv, &o)) >= 0) {
		rc_path_map_free(&o.path_map);
		return rc;
	}
	rc = o.inspect ? inspect_main(&o) : shard_main(&o, argc, argv);
	rc_path_map_free(&o.path_map);
	return rc;
}
