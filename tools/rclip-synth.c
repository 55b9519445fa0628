/* rclip-synth - write the synthetic reasoning world: N small JPEG scenes,
 * each built around one fact of one reasoning category, with descriptive,
 * ReasonLite, ReasonPro and choice-set manifests for a train and a test
 * split that share no image. The same options give the same bytes. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/error.h"
#include "data/image.h"
#include "base/io.h"
#include "base/lock.h"
#include "base/log.h"
#include "base/progress.h"
#include "synth/synth.h"
#include "synth/synth_check.h"

#define MAX_SCENES 100000000L

struct opts {
	unsigned long long seed;
	long n, size, quality, key_objects, family;
	int test_words;      /* --test-phrasings: RC_SYNTH_WORDS_* of the test manifests */
	double test_frac;
	const char *out;
	int force;
};

static const char usage_text[] =
"Usage: rclip-synth [--seed N] [-n N] [--size S] [--family N] [--test-frac F] -o DIR\n"
"Write a synthetic world of small scenes for reasoning-aware CLIP training:\n"
"DIR/images/NNNNNN.jpg and, for a train and a test split that share no image,\n"
"the manifests desc-SPLIT.jsonl (descriptive), lite-SPLIT.jsonl (ReasonLite),\n"
"pro-SPLIT.jsonl (ReasonPro) and sets-SPLIT.jsonl (choice sets), the test\n"
"choice sets in each wording (sets-test-fair, -seen, -hard.jsonl), with\n"
"scenes.tsv and synth.json. Each scene shows one spatial (S), attribute (A),\n"
"human (H), temporal (T) or physical (P) fact. Scenes come in families that\n"
"show the same objects in different facts; the test split's families have\n"
"combinations of kind and objects that the train split never shows.\n"
"\n"
"      --seed=N            the world's seed (default 1); the same seed and\n"
"                          options give the same bytes\n"
"  -n, --count=N           the number of scenes (default 1000)\n"
"  -s, --size=S            image side in pixels, 64 to 128 (default 64)\n"
"      --family=N          scenes a family, 1 to 16 (default 4): consecutive\n"
"                          scenes with the same objects in different facts\n"
"                          (rclip-train --group N keeps them in one batch)\n"
"      --test-frac=F       the share of each category's families, and of the\n"
"                          combinations, in the test split, 0 to 1 (default 0.2)\n"
"      --quality=Q         JPEG quality (default 90)\n"
"      --key-objects=K     draw the objects each fact is about from only K\n"
"                          colours and K shapes (2 to 8; default: all), so\n"
"                          that scenes share objects and only the fact tells\n"
"                          them apart\n"
"      --test-phrasings=P  the wording of the test manifests: fair (default:\n"
"                          training's sentences in carrier sentences it never\n"
"                          uses, made of its words), seen (training's wording)\n"
"                          or hard (sentence forms and words training never\n"
"                          shows; held-out is another name for it)\n"
"  -o, --output=DIR        the directory to write; written under a temporary\n"
"                          name and renamed when complete\n"
"      --force             replace DIR when it holds an earlier rclip-synth\n"
"                          output, and a symlink at a file's name (the link)\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure, 2 usage error. See rclip-synth(1).\n";

enum { OPT_SEED = 256, OPT_FRAC, OPT_QUALITY, OPT_KEY, OPT_PHRASINGS, OPT_FAMILY, OPT_FORCE,
	OPT_VERSION };

static const struct option longopts[] = {
	{"seed", required_argument, NULL, OPT_SEED},
	{"count", required_argument, NULL, 'n'},
	{"size", required_argument, NULL, 's'},
	{"test-frac", required_argument, NULL, OPT_FRAC},
	{"quality", required_argument, NULL, OPT_QUALITY},
	{"key-objects", required_argument, NULL, OPT_KEY},
	{"family", required_argument, NULL, OPT_FAMILY},
	{"test-phrasings", required_argument, NULL, OPT_PHRASINGS},
	{"output", required_argument, NULL, 'o'},
	{"force", no_argument, NULL, OPT_FORCE},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ .seed = 1, .n = 1000, .size = 64, .quality = 90, .test_frac = 0.2,
		.family = 4, .test_words = RC_SYNTH_WORDS_FAIR };
	int c;
	char *end;
	while ((c = getopt_long(argc, argv, "n:s:o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SEED:
			errno = 0;
			o->seed = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-')
				return rc_cli_usage_error("--seed: '%s' is not an integer from 0 to "
					"18446744073709551615", optarg);
			break;
		case 'n':
			if (rc_cli_int("--count", optarg, 1, MAX_SCENES, &o->n) < 0)
				return RC_EXIT_USAGE;
			break;
		case 's':
			if (rc_cli_int("--size", optarg, RC_SYNTH_MIN_SIZE, RC_SYNTH_MAX_SIZE,
				&o->size) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_FRAC:
			if (rc_cli_double("--test-frac", optarg, 0, 1, &o->test_frac) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_QUALITY:
			if (rc_cli_int("--quality", optarg, 1, 100, &o->quality) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_KEY:
			if (rc_cli_int("--key-objects", optarg, 2, 8, &o->key_objects) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_FAMILY:
			if (rc_cli_int("--family", optarg, 1, RC_SYNTH_MAX_FAMILY, &o->family) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_PHRASINGS:
			if (!strcmp(optarg, "fair"))
				o->test_words = RC_SYNTH_WORDS_FAIR;
			else if (!strcmp(optarg, "hard") || !strcmp(optarg, "held-out"))
				o->test_words = RC_SYNTH_WORDS_HARD;
			else if (!strcmp(optarg, "seen"))
				o->test_words = RC_SYNTH_WORDS_TRAIN;
			else
				return rc_cli_usage_error("--test-phrasings: '%s' (expected fair, seen or "
					"hard)", optarg);
			break;
		case 'o': o->out = optarg; break;
		case OPT_FORCE: o->force = 1, rc_atomic_set_force(1); break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->out || !o->out[0])
		return rc_cli_usage_error("no output: -o DIR is required");
	return -1;
}

/* ---------------------------------------------------------------- files */

enum { M_DESC, M_LITE, M_PRO, M_SETS, NMAN };
static const char *const man_name[NMAN] = { "desc", "lite", "pro", "sets" };
static const char *const split_name[2] = { "train", "test" };
/* the test choice sets in every wording, by RC_SYNTH_WORDS_* */
static const char *const words_name[RC_SYNTH_NWORDS] = { "seen", "hard", "fair" };

/* The files rclip-synth writes in DIR beside images/, numbered: the
 * manifests NAME-SPLIT.jsonl (split-major, so a split's are NMAN in a
 * row), the test choice sets in each wording, scenes.tsv and synth.json. */
enum { F_SETS = 2 * NMAN, F_TSV = F_SETS + RC_SYNTH_NWORDS, F_INFO, NFILES };

static void file_name(int k, char *buf, size_t n)
{
	if (k < F_SETS)
		snprintf(buf, n, "%s-%s.jsonl", man_name[k % NMAN], split_name[k / NMAN]);
	else if (k < F_TSV)
		snprintf(buf, n, "sets-test-%s.jsonl", words_name[k - F_SETS]);
	else
		snprintf(buf, n, "%s", k == F_TSV ? "scenes.tsv" : "synth.json");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* remove_output - delete what rclip-synth writes in dir (images named
 * NNNNNN.jpg, the manifests, scenes.tsv, synth.json) and the directories
 * if that leaves them empty. Anything else is left alone. Returns 0 when
 * dir is gone. */
static int remove_output(const char *dir, long n)
{
	size_t len = strlen(dir) + 64;
	char *p = malloc(len);
	if (!p)
		return -1;
	for (long i = 0; i < n; i++) {
		snprintf(p, len, "%s/images/%06ld.jpg", dir, i);
		unlink(p);
	}
	for (int k = 0; k < NFILES; k++) {
		size_t d = (size_t)snprintf(p, len, "%s/", dir);
		file_name(k, p + d, len - d);
		unlink(p);
	}
	snprintf(p, len, "%s/images", dir);
	rmdir(p);
	int rc = rmdir(dir);
	free(p);
	return rc;
}

/* previous_count - the scene count of an earlier output in dir (from its
 * synth.json), or -1 when dir does not hold one. */
static long previous_count(const char *dir)
{
	char path[4200], *text = NULL;
	size_t len;
	snprintf(path, sizeof path, "%s/synth.json", dir);
	if (access(path, F_OK) < 0)
		return -1;
	if (rc_io_read_file(path, &text, &len) < 0)
		return -1;
	long n = -1;
	const char *c = strstr(text, "\"count\": ");
	if (strstr(text, "\"generator\": \"rclip-synth\"") && c)
		n = strtol(c + 9, NULL, 10);
	free(text);
	return n;
}

static void json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			putc(ch, f);
	}
	putc('"', f);
}

static void json_list(FILE *f, char (*v)[RC_SYNTH_TEXT], int n)
{
	putc('[', f);
	for (int i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		json_str(f, v[i]);
	}
	putc(']', f);
}

/* write_set - the choice-set record of scene id. */
static void write_set(FILE *f, const char *id, const struct rc_synth_sample *s)
{
	fprintf(f, "{\"id\": \"%s\", \"image_path\": \"images/%s.jpg\"", id, id);
	fprintf(f, ", \"sets\": [{\"tag\": \"%c\", \"gt\": ", rc_synth_cat_code(s->cat));
	json_str(f, s->gt);
	fputs(", \"neg\": ", f);
	json_list(f, (char (*)[RC_SYNTH_TEXT])s->neg, 4);
	fputs("}]}\n", f);
}

static void write_records(FILE **man, FILE *tsv, int split, const char *id, long family,
	const struct rc_synth_sample *s)
{
	char img[64], (*desc)[RC_SYNTH_TEXT] = (char (*)[RC_SYNTH_TEXT])s->desc;
	char c = rc_synth_cat_code(s->cat);
	snprintf(img, sizeof img, "images/%s.jpg", id);
	FILE *f = man[M_DESC];
	fputs("{\"image_path\": ", f);
	json_str(f, img);
	fputs(", \"captions\": ", f);
	json_list(f, desc, 3);
	fputs("}\n", f);

	f = man[M_LITE];
	fputs("{\"image_path\": ", f);
	json_str(f, img);
	fputs(", \"tb\": ", f);
	json_list(f, desc, 3);
	fputs(", \"trl\": ", f);
	json_list(f, (char (*)[RC_SYNTH_TEXT])s->trl, 3);
	fputs("}\n", f);

	f = man[M_PRO];
	fputs("{\"image_path\": ", f);
	json_str(f, img);
	fputs(", \"trp\": ", f);
	json_str(f, s->trp);
	fprintf(f, ", \"trp_cls\": \"%c\", \"trp_cls_ls\": [\"%c\", \"%c\", \"%c\"]}\n", c,
		s->cls_ls[0], s->cls_ls[1], s->cls_ls[2]);

	write_set(man[M_SETS], id, s);
	fprintf(tsv, "%s\t%s\t%ld\t%c\t%s\n", id, split_name[split], family, c, s->kind);
}

/* ---------------------------------------------------------------- run */

struct run {
	const struct opts *o;
	char *tmp;                   /* the directory being written */
	FILE *f[F_INFO];             /* the files but synth.json, by file_name's
	                                numbers: split s's manifests f + s·NMAN */
	long count[2][RC_SYNTH_NCAT];
	struct rc_synth_check *ck;
	struct rc_synth_check_result res;
};

static int open_outputs(struct run *w)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/images", w->tmp);
	if (mkdir(p, 0777) < 0)
		return rc_log_error(RC_E_IO, "%s: %s", p, strerror(errno));
	for (int k = 0; k < F_INFO; k++) {
		size_t d = (size_t)snprintf(p, sizeof p, "%s/", w->tmp);
		file_name(k, p + d, sizeof p - d);
		if (rc_io_open_write(p, &w->f[k]) < 0)
			return RC_E_IO;
	}
	fputs("id\tsplit\tfamily\tcategory\tkind\n", w->f[F_TSV]);
	return 0;
}

static int close_outputs(struct run *w)
{
	char p[4200];
	int rc = 0;
	for (int k = 0; k < F_INFO; k++) {
		size_t d = (size_t)snprintf(p, sizeof p, "%s/", w->tmp);
		file_name(k, p + d, sizeof p - d);
		rc |= rc_io_close(w->f[k], p);
		w->f[k] = NULL;
	}
	return rc ? RC_E_IO : 0;
}

static int write_image(const char *path, const uint8_t *rgb, int size, int quality)
{
	uint8_t *jpg;
	size_t len;
	FILE *f;
	int rc = rc_image_encode_jpeg(rgb, size, size, quality, &jpg, &len);
	if (rc < 0)
		return rc_log_error(rc, "%s: %s", path, rc_strerror(rc));
	if ((rc = rc_io_open_write(path, &f)) == 0) {
		rc = rc_io_write_all(f, jpg, len, path);
		int rc2 = rc_io_close(f, path);
		rc = rc < 0 ? rc : rc2;
	}
	free(jpg);
	return rc;
}

static int write_info(const struct run *w)
{
	const struct opts *o = w->o;
	char p[4200];
	FILE *f;
	snprintf(p, sizeof p, "%s/synth.json", w->tmp);
	if (rc_io_open_write(p, &f) < 0)
		return RC_E_IO;
	const struct rc_synth_check_result *r = &w->res;
	fprintf(f, "{\"generator\": \"rclip-synth\", \"format\": 2, \"seed\": %llu, "
		"\"count\": %ld, \"size\": %ld, \"family\": %ld, \"test_frac\": %.17g, "
		"\"quality\": %ld, \"key_objects\": %ld, \"test_phrasings\": \"%s\"", o->seed, o->n,
		o->size, o->family, o->test_frac, o->quality, o->key_objects,
		words_name[o->test_words]);
	fprintf(f, ", \"test_combinations_in_train\": %ld", r->combos_in_train);
	for (int k = 0; k < RC_SYNTH_NWORDS; k++)
		fprintf(f, ", \"%s\": {\"captions_in_train\": %ld, \"unseen_words\": %ld}",
			words_name[k], r->captions_in_train[k], r->unseen_words[k]);
	for (int s = 0; s < 2; s++) {
		fprintf(f, ", \"%s\": {", split_name[s]);
		for (int c = 0; c < RC_SYNTH_NCAT; c++)
			fprintf(f, "%s\"%c\": %ld", c ? ", " : "", rc_synth_cat_code(c), w->count[s][c]);
		fputs("}", f);
	}
	fputs("}\n", f);
	return rc_io_close(f, p);
}

static int generate(struct run *w)
{
	const struct opts *o = w->o;
	int rc = open_outputs(w);
	uint8_t *rgb = malloc((size_t)o->size * o->size * 3);
	size_t plen = strlen(w->tmp) + 64;
	char *path = malloc(plen);
	struct rc_synth_sample s;
	struct rc_progress prog;
	const struct rc_synth_world world = { .seed = o->seed, .size = (int)o->size,
		.key_objects = (int)o->key_objects, .family = (int)o->family,
		.test_frac = o->test_frac };
	if (rc == 0 && (!rgb || !path))
		rc = rc_log_error(RC_E_NOMEM, "out of memory");
	if (rc == 0)
		rc = rc_synth_check_new(&w->ck);
	rc_progress_begin(&prog, "scenes", (uint64_t)o->n);
	for (long i = 0; rc == 0 && i < o->n; i++) {
		if (interrupted) {
			rc = rc_log_error(RC_E_INTERRUPTED, "interrupted: nothing was written");
			break;
		}
		char id[32];
		int split = rc_synth_split(&world, (uint64_t)i);
		snprintf(id, sizeof id, "%06ld", i);
		/* a test scene in every wording, for its sets-test-WORDS file
		 * and the checks; its manifests in the chosen one */
		for (int k = 0; rc == 0 && k < (split ? RC_SYNTH_NWORDS : 1); k++) {
			int words = split ? (o->test_words + 1 + k) % RC_SYNTH_NWORDS :
				RC_SYNTH_WORDS_TRAIN;
			if ((rc = rc_synth_render(&world, (uint64_t)i, words, rgb, &s)) < 0)
				rc = rc_log_error(rc, "scene %ld: no four distinct false captions (a bug)",
					i);
			else if ((rc = rc_synth_check_add(w->ck, split, words, &s)) == 0 && split)
				write_set(w->f[F_SETS + words], id, &s);
		}
		if (rc < 0)
			break;
		snprintf(path, plen, "%s/images/%s.jpg", w->tmp, id);
		if ((rc = write_image(path, rgb, (int)o->size, (int)o->quality)) < 0)
			break;
		write_records(w->f + split * NMAN, w->f[F_TSV], split, id, i / o->family, &s);
		w->count[split][s.cat]++;
		rc_progress_update(&prog, 1);
	}
	rc_progress_end(&prog);
	free(rgb);
	free(path);
	if (w->ck)
		rc_synth_check_result(w->ck, &w->res);
	rc_synth_check_free(w->ck);
	w->ck = NULL;
	if (w->f[F_TSV] && close_outputs(w) < 0 && rc == 0)
		rc = RC_E_IO;
	return rc == 0 ? write_info(w) : rc;
}

/* make_tmp - an empty directory beside out, to be renamed to out. */
static char *make_tmp(const char *out)
{
	size_t n = strlen(out);
	while (n > 1 && out[n - 1] == '/')
		n--;
	const char *slash = memrchr(out, '/', n);
	size_t dl = slash ? (size_t)(slash - out) + 1 : 0;
	char *t = malloc(n + 32);
	if (!t) {
		rc_log_error(RC_E_NOMEM, "out of memory");
		return NULL;
	}
	snprintf(t, n + 32, "%.*s.%.*s.tmp.XXXXXX", (int)dl, out, (int)(n - dl), out + dl);
	if (!mkdtemp(t)) {
		rc_log_error(RC_E_IO, "%s: cannot create a directory beside it: %s", out,
			strerror(errno));
		free(t);
		return NULL;
	}
	return t;
}

/* ours - 1 when dir holds nothing but what rclip-synth writes. */
static int ours(const char *dir)
{
	char p[4200];
	int ok = 1;
	for (int level = 0; level < 2 && ok; level++) {
		snprintf(p, sizeof p, level ? "%s/images" : "%s", dir);
		DIR *d = opendir(p);
		if (!d)
			return level == 1 && errno == ENOENT;
		struct dirent *e;
		while (ok && (e = readdir(d))) {
			const char *n = e->d_name;
			size_t len = strlen(n);
			if (!strcmp(n, ".") || !strcmp(n, ".."))
				continue;
			if (level) {
				ok = len >= 10 && strspn(n, "0123456789") == len - 4 &&
					!strcmp(n + len - 4, ".jpg");
				continue;
			}
			int known = !strcmp(n, "images");
			for (int k = 0; k < NFILES && !known; k++) {
				char want[64];
				file_name(k, want, sizeof want);
				known = !strcmp(n, want);
			}
			ok = known;
		}
		closedir(d);
	}
	return ok;
}

/* check_out - before any work: out may be missing, an empty directory,
 * or, with --force, an earlier output and nothing else. Returns the scene
 * count of the earlier output to remove (0 for none), or -1 (logged). */
static long check_out(const struct opts *o)
{
	struct stat st;
	if (stat(o->out, &st) < 0)
		return 0;
	long prev = S_ISDIR(st.st_mode) ? previous_count(o->out) : -1;
	if (prev < 0) {
		DIR *d = S_ISDIR(st.st_mode) ? opendir(o->out) : NULL;
		struct dirent *e;
		int empty = d != NULL;
		while (d && (e = readdir(d)))
			empty &= !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
		if (d)
			closedir(d);
		if (empty)
			return 0;
		rc_log_error(RC_E_IO, "%s: exists and is not an empty directory", o->out);
		rc_log_hint("remove it or choose another -o");
		return -1;
	}
	if (!o->force) {
		rc_log_error(RC_E_IO, "%s: holds an earlier rclip-synth output", o->out);
		rc_log_hint("--force replaces it");
		return -1;
	}
	if (!ours(o->out)) {
		rc_log_error(RC_E_IO, "%s: holds other files than an rclip-synth output: not "
			"replaced", o->out);
		return -1;
	}
	return prev;
}

/* install - rename tmp to out, after removing the earlier output (prev
 * scenes) or the empty directory there. */
static int install(const struct opts *o, const char *tmp, long prev)
{
	struct stat st;
	if (stat(o->out, &st) == 0 && remove_output(o->out, prev) < 0)
		return rc_log_error(RC_E_IO, "%s: cannot remove the earlier output: %s", o->out,
			strerror(errno));
	if (rename(tmp, o->out) < 0)
		return rc_log_error(RC_E_IO, "%s: %s", o->out, strerror(errno));
	return 0;
}

static void report(const struct run *w, double secs)
{
	const struct opts *o = w->o;
	if (rc_log_level() < RC_LOG_WARN)
		return;
	fprintf(stderr, "%s: %ld scenes of %ldx%ld in %s (seed %llu), %.2f s\n", rc_log_progname(),
		o->n, o->size, o->size, o->out, o->seed, secs);
	fprintf(stderr, "%-6s %7s %7s %7s %7s %7s %8s\n", "split", "S", "A", "H", "T", "P", "all");
	struct rc_synth_phrasings ph;
	rc_synth_phrasings(&ph);
	for (int s = 0; s < 2; s++) {
		long all = 0;
		fprintf(stderr, "%-6s", split_name[s]);
		for (int c = 0; c < RC_SYNTH_NCAT; c++) {
			fprintf(stderr, " %7ld", w->count[s][c]);
			all += w->count[s][c];
		}
		fprintf(stderr, " %8ld\n", all);
	}
	/* what makes the test split a fair test: new combinations, and for
	 * the fair wording no caption and no word training lacks */
	const struct rc_synth_check_result *r = &w->res;
	fprintf(stderr, "test scenes whose combination of kind and objects training shows: %ld\n",
		r->combos_in_train);
	for (int k = 0; k < RC_SYNTH_NWORDS; k++) {
		int cores = k == RC_SYNTH_WORDS_HARD;
		fprintf(stderr, "%s wording (sets-test-%s.jsonl): %d reasoning templates in %d frames; "
			"test captions also in training: %ld; words training never uses: %ld%s%s%s\n",
			words_name[k], words_name[k], ph.cores[cores], ph.frames[k],
			r->captions_in_train[k], r->unseen_words[k], r->unseen_words[k] ? " (\"" : "",
			r->unseen_example[k], r->unseen_words[k] ? "\", ...)" : "");
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct run w = { .o = &o };
	int rc, status = RC_EXIT_FAILURE;
	rc_log_init("rclip-synth");
	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	const double t0 = rc_seconds();
	/* one writer per DIR: DIR.lock beside it, as DIR itself is replaced */
	struct rc_lock lock = { .fd = -1, .path = NULL };
	char lpath[4200];
	snprintf(lpath, sizeof lpath, "%s.lock", o.out);
	if (rc_lock_take(&lock, lpath, o.out) < 0)
		return RC_EXIT_FAILURE;
	long prev = check_out(&o);
	if (prev < 0 || !(w.tmp = make_tmp(o.out))) {
		rc_lock_drop(&lock);
		return RC_EXIT_FAILURE;
	}
	rc_cli_catch(SIGINT, on_signal);
	rc_cli_catch(SIGTERM, on_signal);
	if (generate(&w) == 0 && install(&o, w.tmp, prev) == 0) {
		report(&w, rc_seconds() - t0);
		status = RC_EXIT_OK;
	} else {
		for (int k = 0; k < F_INFO; k++)
			if (w.f[k])
				fclose(w.f[k]);
		if (remove_output(w.tmp, o.n) < 0)
			rc_log_warn("%s: could not remove the partial output", w.tmp);
	}
	free(w.tmp);
	rc_lock_drop(&lock);
	return status;
}
