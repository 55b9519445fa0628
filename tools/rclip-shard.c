/* rclip-shard - image–text data into checksummed .rcs shards, and a look
 * inside shards (--inspect).
 *
 * Inputs (JSONL or TSV manifests, webdataset tars) are read as one stream
 * of items. Shard k holds the records of items k*R .. (k+1)*R-1, so the
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
#include "base/cli.h"
#include "config.h"
#include "base/error.h"
#include "base/hash.h"
#include "data/image.h"
#include "data/ingest.h"
#include "base/io.h"
#include "base/lock.h"
#include "base/log.h"
#include "data/manifest.h"
#include "base/progress.h"
#include "data/shard.h"
#include "data/shard_set.h"
#include "base/thread.h"

#define BATCH 256

struct opts {
	const char *out;          /* PREFIX */
	int schema, format;
	const char *image_root;
	long image_size, quality, store;
	long long per_shard;      /* R; 0 = about 1 GiB */
	long part_i, part_n;
	int dedup, strict, json, force;
	unsigned long long max_pixels;
	long threads;
	int inspect, records;
	const char *pixels_dir;
	char **inputs;
	int ninputs;
};

static const char usage_text[] =
"Usage: rclip-shard [OPTION]... -o PREFIX INPUT...\n"
"   or: rclip-shard --inspect [--records] [--pixels DIR] [--json] SHARD...\n"
"Read image–text records from manifests (JSONL in the four official schemas,\n"
"or TSV image_path<TAB>caption) and webdataset .tar files, preprocess every\n"
"image for CLIP, tokenize every caption, and write checksummed shards\n"
"PREFIX-000000.rcs, ... and the shard list PREFIX.list. INPUT - reads a\n"
"manifest from standard input.\n"
"\n"
"  -o, --out=PREFIX        where the shards and the list go\n"
"      --schema=NAME       descriptive, reasonlite, reasonpro or sets (default:\n"
"                          from each file's first record)\n"
"      --format=FMT        jsonl, tsv or tar (default: from the name)\n"
"      --image-root=DIR    resolve relative image paths against DIR (default:\n"
"                          the manifest's directory; the current one for -)\n"
"  -s, --image-size=S      images become S×S (default 224; 336 for ViT-L/14-336)\n"
"      --store=KIND        jpeg (default) or raw (S×S×3 bytes, exact pixels)\n"
"      --quality=Q         JPEG quality with --store jpeg (default 95)\n"
"      --records-per-shard=N  records per shard (default: about 1 GiB of images)\n"
"      --part=I/N          do part I of N (0 <= I < N): the shards k with\n"
"                          k % N = I; the list is PREFIX.part-I-of-N.list\n"
"      --dedup             drop records whose image bytes were seen before\n"
"      --strict            stop at the first bad record (exit 1)\n"
"      --force             replace a symlink found at an output name (the link\n"
"                          itself, never its target; refused without it)\n"
"      --max-pixels=N      refuse larger images (default 100000000)\n"
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
"skipped with one line FILE:LINE: reason on stderr and counted. A shard\n"
"appears under its name only when complete; rerunning the same command\n"
"goes on where it stopped. One run at a time writes a PREFIX: a second one\n"
"fails at once, naming the first one's pid (the lock PREFIX.lock).\n"
"Exit status: 0 success, 1 failure, 2 usage error.\n"
"See rclip-shard(1) and the format in rclip-shard(5).\n";

enum {
	OPT_SCHEMA = 256, OPT_FORMAT, OPT_ROOT, OPT_STORE, OPT_QUALITY, OPT_PER_SHARD, OPT_PART,
	OPT_DEDUP, OPT_STRICT, OPT_MAXPIX, OPT_JSON, OPT_INSPECT, OPT_RECORDS, OPT_PIXELS,
	OPT_FORCE, OPT_VERSION,
};

static const struct option longopts[] = {
	{"out", required_argument, NULL, 'o'},
	{"schema", required_argument, NULL, OPT_SCHEMA},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"image-root", required_argument, NULL, OPT_ROOT},
	{"image-size", required_argument, NULL, 's'},
	{"store", required_argument, NULL, OPT_STORE},
	{"quality", required_argument, NULL, OPT_QUALITY},
	{"records-per-shard", required_argument, NULL, OPT_PER_SHARD},
	{"part", required_argument, NULL, OPT_PART},
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
	{NULL, 0, NULL, 0},
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.image_size = 224, .quality = 95, .store = RC_STORE_JPEG, .part_n = 1,
		.max_pixels = RC_IMAGE_MAX_PIXELS};
	long v;
	int c;
	while ((c = getopt_long(argc, argv, "o:s:j:qvh", longopts, NULL)) != -1) {
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
			else
				return rc_cli_usage_error("unknown format '%s' (expected jsonl, tsv or tar)", optarg);
			break;
		case OPT_ROOT: o->image_root = optarg; break;
		case 's':
			if (rc_cli_int("--image-size", optarg, 1, RC_SHARD_IMAGE_SIZE_MAX, &o->image_size) < 0)
				return RC_EXIT_USAGE;
			break;
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
	struct rc_ingest_item out;
};

struct dedup {
	struct rc_hash128 *slot; /* {0,0} empty */
	size_t mask, used;
};

struct run {
	const struct opts *o;
	struct rc_bpe *bpe;
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
		if (it->bad) {
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
	uint64_t where, const char *why)
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
	if (rc < 0) { /* reported in order, when the batch is written */
		it->bad = 1;
		snprintf(it->out.why, sizeof it->out.why, "%s", why);
	} else if (image_path) {
		it->rec = *rec;
		if (!(it->path = resolve(r, root, image_path)))
			return RC_E_NOMEM;
	} else {
		it->rec = *rec;
		it->bytes = bytes;
		it->nbytes = nbytes;
	}
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
			err = take(r, rc, &rec, NULL, NULL, img, nimg, name, sample, why);
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
		err = take(r, rc, &rec, root, img, NULL, 0, name, line, why);
	}
	rc_manifest_close(m);
	return err;
}

/* ---------------------------------------------------------------- report */

static void report(const struct run *r)
{
	const struct stats *s = &r->st;
	uint64_t skipped = s->bad_lines + s->duplicates;
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
		char *txt = j ? json_dumps(j, JSON_PRESERVE_ORDER) : NULL;
		if (txt)
			printf("%s\n", txt);
		free(txt);
		json_decref(j);
		return;
	}
	if (rc_log_level() < RC_LOG_WARN)
		return;
	fprintf(stderr, "%s: %llu records read, %llu written, %llu skipped (bad line %llu, "
		"missing image %llu, unreadable image %llu, image size %llu, duplicate %llu); "
		"%llu captions truncated; %llu bytes in %llu shards (%llu kept); list %s\n",
		rc_log_progname(), (unsigned long long)s->read, (unsigned long long)s->written,
		(unsigned long long)skipped, (unsigned long long)s->bad_lines,
		(unsigned long long)s->skipped[RC_INGEST_NO_IMAGE],
		(unsigned long long)s->skipped[RC_INGEST_BAD_IMAGE],
		(unsigned long long)s->skipped[RC_INGEST_IMAGE_SIZE],
		(unsigned long long)s->duplicates, (unsigned long long)s->truncated,
		(unsigned long long)r->set.bytes, (unsigned long long)r->set.written,
		(unsigned long long)r->set.kept, r->set.list_path);
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
 * is kept on a rerun only when this is the same. */
static char *options_string(const struct opts *o)
{
	size_t n = 256 + (o->image_root ? strlen(o->image_root) : 0);
	char *s = rc_malloc(n);
	if (s)
		snprintf(s, n, "image_size=%ld store=%s quality=%ld max_pixels=%llu dedup=%d "
			"schema=%s format=%d root=%s", o->image_size, rc_shard_store_name((int)o->store),
			o->store == RC_STORE_JPEG ? o->quality : 0, o->max_pixels, o->dedup,
			rc_manifest_schema_name(o->schema), o->format,
			o->image_root ? o->image_root : "");
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
		.quality = (int)o->quality, .max_pixels = o->max_pixels, .text_ctx = RC_BPE_CONTEXT};
	rc_arena_init(&r.arena, 0);
	r.nthreads = rc_thread_set((int)o->threads);
	struct rc_shard_set_opts so = {.prefix = o->out, .per_shard = o->per_shard,
		.part_i = o->part_i, .part_n = o->part_n, .tool = "rclip-shard " PACKAGE_VERSION,
		.info = {.store = (uint32_t)o->store, .image_size = (uint32_t)o->image_size,
			.text_ctx = RC_BPE_CONTEXT}};
	char *cmdline = rc_cli_join(argc, argv, " ");
	char *sources = rc_cli_join(o->ninputs, o->inputs, ", ");
	char *options = NULL;
	r.workers = rc_calloc((size_t)r.nthreads, sizeof *r.workers);
	if (!cmdline || !sources || !r.workers)
		goto out;
	if (check_out_dir(o->out) < 0 || take_lock(o, &lock) < 0 ||
	    !(options = options_string(o)))
		goto out;
	so.command = cmdline;
	so.sources = sources;
	so.options = options;
	if (rc_shard_set_init(&r.set, &so) < 0 || rc_bpe_load(&r.bpe, NULL, NULL) < 0)
		goto out;
	for (int t = 0; t < r.nthreads; t++)
		if (!(r.workers[t] = rc_ingest_worker_new(r.bpe, &r.io)))
			goto out;
	/* Without SA_RESTART, a read from a stalled pipe returns at once. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
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
	report(&r);
	status = o->json && rc_io_flush(stdout, "-") < 0 ? RC_EXIT_FAILURE : RC_EXIT_OK;
out:
	rc_lock_drop(&lock);
	rc_shard_set_free(&r.set);
	for (int i = 0; i < r.n; i++)
		rc_ingest_item_free(&r.items[i].out);
	if (r.workers)
		for (int t = 0; t < r.nthreads; t++)
			rc_ingest_worker_free(r.workers[t]);
	free(r.workers);
	rc_bpe_free(r.bpe);
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
	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	return o.inspect ? inspect_main(&o) : shard_main(&o, argc, argv);
}
