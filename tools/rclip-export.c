/* rclip-export - convert a CLIP model between open_clip and Hugging Face
 * (a whole CLIPModel, or the vision tower for multimodal LLMs), print what
 * was written and its checksum, and with --check read the output back and
 * compare it tensor by tensor. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/bpe.h"
#include "base/cli.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "model/model.h"
#include "convert/model_io.h"

struct opts {
	const char *from, *arch, *config, *out;
	int to;             /* RC_CLIP_FMT_* */
	int check, force, projection;
};

static const char usage_text[] =
"Usage: rclip-export --from DIR|FILE [--arch NAME|--config JSON] --to FORMAT\n"
"                    -o OUT [--check] [--force]\n"
"Convert a CLIP model between open_clip and Hugging Face layouts. The input\n"
"kind is detected: a directory with config.json (Hugging Face CLIPModel or\n"
"CLIPVisionModel, SiglipModel or SiglipVisionModel), a directory with\n"
"open_clip_config.json, or an open_clip .safetensors file (visual.* names).\n"
"SigLIP and SigLIP2 models are written as hf (SiglipModel, the source's\n"
"tokenizer files copied) or hf-vision (SiglipVisionModel).\n"
"\n"
"      --from=PATH         the model to read\n"
"      --arch=NAME         the architecture of open_clip weights: ViT-B-32,\n"
"                          ViT-B-16, ViT-L-14, ViT-L-14-336 (OpenAI CLIP,\n"
"                          quick_gelu) or tiny\n"
"      --config=JSON       the architecture of open_clip weights as a JSON file:\n"
"                          an open_clip model config or open_clip_config.json,\n"
"                          or a Hugging Face config.json; without --arch or\n"
"                          --config it comes from the file's metadata or the\n"
"                          open_clip_config.json beside it\n"
"      --to=FORMAT         hf: a CLIPModel directory (config, weights, tokenizer,\n"
"                          image processor);\n"
"                          hf-vision: the vision tower as a CLIPVisionModel\n"
"                          directory, as LLaVA-style models load it;\n"
"                          open_clip: open_clip_model.safetensors and\n"
"                          open_clip_config.json\n"
"      --with-projection   hf-vision: also visual_projection\n"
"                          (CLIPVisionModelWithProjection)\n"
"  -o, --output=OUT        the directory to write; written under a temporary\n"
"                          name and renamed when complete\n"
"      --force             replace OUT when it holds an earlier export, and a\n"
"                          symlink at a file's name (the link itself)\n"
"      --check             read OUT back and compare it with the input, tensor\n"
"                          by tensor; any difference fails\n"
"      --skip-finite-check  load the model without checking that every value\n"
"                          is finite (a NaN or Inf is refused by default)\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure (bad input, I/O error, a --check\n"
"difference), 2 usage error. See rclip-export(1).\n";

enum { OPT_FROM = 256, OPT_ARCH, OPT_CONFIG, OPT_TO, OPT_PROJ, OPT_FORCE, OPT_CHECK,
	OPT_SKIP_FINITE, OPT_VERSION };

static const struct option longopts[] = {
	{"from", required_argument, NULL, OPT_FROM},
	{"arch", required_argument, NULL, OPT_ARCH},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"to", required_argument, NULL, OPT_TO},
	{"with-projection", no_argument, NULL, OPT_PROJ},
	{"output", required_argument, NULL, 'o'},
	{"force", no_argument, NULL, OPT_FORCE},
	{"check", no_argument, NULL, OPT_CHECK},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"skip-finite-check", no_argument, NULL, OPT_SKIP_FINITE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){ 0 };
	int c;
	while ((c = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FROM: o->from = optarg; break;
		case OPT_ARCH: o->arch = optarg; break;
		case OPT_CONFIG: o->config = optarg; break;
		case OPT_TO:
			if (!(o->to = rc_clip_format_parse(optarg)))
				return rc_cli_usage_error("unknown format '%s' (expected hf, hf-vision or "
					"open_clip)", optarg);
			break;
		case OPT_PROJ: o->projection = 1; break;
		case 'o': o->out = optarg; break;
		case OPT_FORCE: o->force = 1, rc_atomic_set_force(1); break;
		case OPT_CHECK: o->check = 1; break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_SKIP_FINITE: rc_clip_set_finite_check(0); break;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->from)
		return rc_cli_usage_error("--from is required");
	if (!o->to)
		return rc_cli_usage_error("--to is required (hf, hf-vision or open_clip)");
	if (!o->out)
		return rc_cli_usage_error("-o is required");
	if (o->arch && o->config)
		return rc_cli_usage_error("--arch and --config exclude each other");
	if (o->projection && o->to != RC_CLIP_FMT_HF_VISION)
		return rc_cli_usage_error("--with-projection goes with --to hf-vision");
	return -1;
}

/* ---------------------------------------------------------------- steps */

static int load(const struct opts *o, struct rc_clip **m, int *fmt)
{
	struct rc_clip_config cfg;
	int rc = 0;
	if (o->arch) {
		/* open_clip spells OpenAI's shapes "ViT-B-32-quickgelu" too. */
		char name[64];
		size_t n = strlen(o->arch), q = strlen("-quickgelu");
		snprintf(name, sizeof name, "%.*s", (int)(n > q && !strcmp(o->arch + n - q,
			"-quickgelu") ? n - q : n), o->arch);
		rc = rc_clip_config_builtin(&cfg, name);
	} else if (o->config) {
		rc = rc_clip_config_load_any(&cfg, o->config, NULL);
	}
	if (rc < 0)
		return rc;
	if ((rc = rc_clip_detect(o->from, fmt)) < 0)
		return rc;
	if (*fmt == RC_CLIP_FMT_HF_VISION && o->to != RC_CLIP_FMT_HF_VISION) {
		rc_log_error(RC_E_ARG, "%s: a vision tower alone can only be written --to hf-vision",
			o->from);
		return RC_E_ARG;
	}
	if (*fmt == RC_CLIP_FMT_HF_VISION && o->to == RC_CLIP_FMT_HF_VISION && !o->arch &&
	    !o->config) {
		/* A vision tower alone: its projection only if it has one. */
		int has_proj;
		if ((rc = rc_clip_load_hf_vision(m, o->from, &has_proj)) == 0)
			rc = rc_clip_check_finite(*m, o->from);
		if (rc == 0 && o->projection &&
		    !has_proj) {
			rc_log_error(RC_E_ARG, "%s: has no visual_projection to write", o->from);
			return RC_E_ARG;
		}
		return rc;
	}
	rc = rc_clip_load_any(m, o->from, o->arch || o->config ? &cfg : NULL, fmt);
	if (rc < 0 && *fmt == RC_CLIP_FMT_OPEN_CLIP && (rc == RC_E_FORMAT || rc == RC_E_NOTFOUND))
		rc_log_hint(o->arch || o->config ? "the architecture given does not match these "
			"weights: check --arch or --config" : "give the architecture with --arch or "
			"--config");
	return rc;
}

static void summary(const char *key, const char *fmt, ...) RC_PRINTF(2, 3);
static void summary(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%-9s ", key);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static const char *parts_name(int parts)
{
	switch (parts) {
	case RC_CLIP_ALL: return "";
	case RC_CLIP_VISION: return " (vision tower)";
	case RC_CLIP_VISION | RC_CLIP_VISUAL_PROJ: return " (vision tower and projection)";
	default: return " (part)";
	}
}

static int report(const struct opts *o, const struct rc_clip *m, int in_fmt, int parts,
	struct rc_hash128 *h)
{
	char buf[512], hex[RC_HASH128_HEX_SIZE];
	size_t nt, np = rc_clip_parts_count(m, parts, &nt);
	const char *name = rc_clip_config_name(&m->cfg, parts);
	int rc = rc_clip_checksum(m, parts, h);
	if (rc < 0)
		return rc;
	summary("from:", "%s (%s)", o->from, rc_clip_format_name(in_fmt));
	summary("to:", "%s (%s)", o->out, rc_clip_format_name(o->to));
	summary("config:", "%s%s%s", name ? name : "", name ? ": " : "",
		rc_clip_config_describe(&m->cfg, parts, buf, sizeof buf));
	summary("params:", "%zu in %zu tensors%s", np, nt, parts_name(parts));
	summary("checksum:", "xxh3-128 %s", rc_hash128_hex(*h, hex));
	return rc_io_flush(stdout, "-");
}

/* check_tokenizer - the vocab.json and merges.txt written give the ids of
 * the shipped vocabulary, token for token. */
static int check_tokenizer(const char *dir)
{
	char merges[4200], vocab[4200];
	struct rc_bpe *a = NULL, *b = NULL;
	snprintf(merges, sizeof merges, "%s/merges.txt", dir);
	snprintf(vocab, sizeof vocab, "%s/vocab.json", dir);
	int rc = rc_bpe_load(&a, NULL, NULL);
	if (rc < 0 || (rc = rc_bpe_load(&b, merges, vocab)) < 0)
		goto out;
	if (rc_bpe_vocab_size(a) != rc_bpe_vocab_size(b) || rc_bpe_sot(a) != rc_bpe_sot(b) ||
	    rc_bpe_eot(a) != rc_bpe_eot(b)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: %zu ids, expected %zu", vocab, rc_bpe_vocab_size(b),
			rc_bpe_vocab_size(a));
		goto out;
	}
	for (size_t id = 0; id < rc_bpe_vocab_size(a); id++) {
		size_t la, lb;
		int ea, eb;
		const char *ta = rc_bpe_token_bytes(a, (int32_t)id, &la, &ea);
		const char *tb = rc_bpe_token_bytes(b, (int32_t)id, &lb, &eb);
		if (!tb || la != lb || ea != eb || memcmp(ta, tb, la) != 0) {
			rc = rc_log_error(RC_E_FORMAT, "%s: id %zu is another token than in the CLIP "
				"vocabulary", vocab, id);
			goto out;
		}
	}
	summary("check:", "tokenizer: %zu ids, the same as the CLIP vocabulary", rc_bpe_vocab_size(a));
out:
	rc_bpe_free(a);
	rc_bpe_free(b);
	return rc;
}

/* check - read what was written back and compare it with m. */
static int check(const struct opts *o, const struct rc_clip *m, int parts,
	const struct rc_hash128 *h)
{
	struct rc_clip *back = NULL;
	struct rc_clip_diff d;
	struct rc_hash128 h2;
	char hex[RC_HASH128_HEX_SIZE];
	int rc, has_proj = 0;
	switch (o->to) {
	case RC_CLIP_FMT_HF: rc = rc_clip_load_hf(&back, o->out); break;
	case RC_CLIP_FMT_HF_VISION: rc = rc_clip_load_hf_vision(&back, o->out, &has_proj); break;
	default: rc = rc_clip_load_open_clip(&back, o->out, NULL); break;
	}
	if (rc < 0)
		goto out;
	if (o->to == RC_CLIP_FMT_HF_VISION && has_proj != !!(parts & RC_CLIP_VISUAL_PROJ)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: visual_projection is %s", o->out,
			has_proj ? "there though it should not be" : "missing");
		goto out;
	}
	if ((rc = rc_clip_config_compare(&m->cfg, &back->cfg, parts, o->out)) < 0 ||
	    (rc = rc_clip_compare(m, back, parts, &d)) < 0 ||
	    (rc = rc_clip_checksum(back, parts, &h2)) < 0)
		goto out;
	if (d.ndiff) {
		rc = rc_log_error(RC_E_CHECKSUM, "check: %zu of %zu tensors differ; the largest "
			"difference is %.3g, in %s", d.ndiff, d.ntensors, d.max_abs, d.worst);
		goto out;
	}
	if (h2.lo != h->lo || h2.hi != h->hi) {
		rc = rc_log_error(RC_E_CHECKSUM, "check: checksum %s read back differs",
			rc_hash128_hex(h2, hex));
		goto out;
	}
	summary("check:", "ok: %zu tensors read back bit for bit, checksum %s", d.ntensors,
		rc_hash128_hex(h2, hex));
	if (o->to == RC_CLIP_FMT_HF && m->cfg.family != RC_FAMILY_SIGLIP)
		rc = check_tokenizer(o->out);     /* SigLIP's are copied, not written */
out:
	rc_clip_free(back);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct rc_clip *m = NULL;
	struct rc_hash128 h;
	int rc, fmt = 0;

	rc_log_init("rclip-export");
	if ((rc = parse_args(argc, argv, &o)) >= 0)
		return rc;
	int flags = (o.force ? RC_CLIP_SAVE_FORCE : 0) | (o.projection ? RC_CLIP_SAVE_PROJECTION : 0);
	int parts = rc_clip_save_parts(o.to, flags);
	if ((rc = rc_clip_save_check(o.out, flags)) < 0) {
		struct stat st;
		if (!o.force && stat(o.out, &st) == 0 && S_ISDIR(st.st_mode))
			rc_log_hint("--force replaces an earlier export");
		goto out;
	}
	if ((rc = load(&o, &m, &fmt)) < 0 || (rc = rc_clip_save(m, o.to, o.out, flags, o.from)) < 0)
		goto out;
	if ((rc = report(&o, m, fmt, parts, &h)) < 0) {
		/* OUT is whole by now: say so, so that a retry knows it */
		if (rc == RC_E_IO)
			rc_log_hint("%s is written and whole; only the report was lost (--force "
				"writes it again)", o.out);
		goto out;
	}
	if (o.check)
		rc = check(&o, m, parts, &h);
out:
	rc_clip_free(m);
	return rc < 0 ? RC_EXIT_FAILURE : RC_EXIT_OK;
}
