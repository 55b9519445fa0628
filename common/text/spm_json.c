/* spm_json.c - a SentencePiece-family tokenizer from a model directory:
 * tokenizer_config.json (the tokenizer class, padding side, special
 * tokens), then spiece.model / tokenizer.model (SiglipTokenizer) or
 * tokenizer.json (a Hugging Face fast tokenizer with a BPE model), with
 * the pipeline transformers builds for that class. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/spm_impl.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"

static int exists(const char *dir, const char *name, char *buf, size_t cap)
{
	struct stat sb;
	if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap)
		return 0;
	return stat(buf, &sb) == 0 && S_ISREG(sb.st_mode);
}

static json_t *read_json(const char *path)
{
	char *data;
	size_t len;
	if (rc_io_read_file(path, &data, &len) < 0)
		return NULL;
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);
	free(data);
	if (!j)
		rc_log_error(RC_E_FORMAT, "%s:%d: %s", path, je.line, je.text);
	return j;
}

/* A special token's text in tokenizer_config.json: a string, or an
 * AddedToken object {"content": ...}. */
static const char *tok_text(json_t *v)
{
	if (json_is_object(v))
		v = json_object_get(v, "content");
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *cfg_str(json_t *cfg, const char *key)
{
	return cfg ? tok_text(json_object_get(cfg, key)) : NULL;
}

/* added_tokens_decoder of tokenizer_config.json, or added_tokens of
 * tokenizer.json: every entry is split out of the text. */
static int add_specials(struct rc_spm *s, json_t *list)
{
	size_t i;
	const char *key;
	json_t *v;
	if (json_is_array(list)) {
		json_array_foreach(list, i, v) {
			const char *c = tok_text(v);
			json_t *id = json_object_get(v, "id");
			if (c && json_is_integer(id) &&
			    spm_add_special(s, c, strlen(c), (int32_t)json_integer_value(id),
				json_is_true(json_object_get(v, "lstrip")),
				json_is_true(json_object_get(v, "rstrip"))) < 0)
				return RC_E_NOMEM;
		}
	} else if (json_is_object(list)) {
		json_object_foreach(list, key, v) {
			const char *c = tok_text(v);
			if (c && spm_add_special(s, c, strlen(c), (int32_t)strtol(key, NULL, 10),
				json_is_true(json_object_get(v, "lstrip")),
				json_is_true(json_object_get(v, "rstrip"))) < 0)
				return RC_E_NOMEM;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- SigLIP */

static int load_siglip(struct rc_spm *s, const char *model, json_t *cfg)
{
	int rc = spm_read_model(s, model);
	if (rc < 0)
		return rc;
	if (s->kind != RC_SPM_UNIGRAM) {
		rc_log_error(RC_E_UNSUPPORTED, "%s: a SentencePiece BPE model without a tokenizer.json", model);
		rc_log_hint("rclip reads BPE tokenizers (Gemma) from tokenizer.json");
		return RC_E_UNSUPPORTED;
	}
	s->flavor = RC_SPM_FLAVOR_SIGLIP;
	s->norm = SPM_NORM_SENTENCEPIECE;
	snprintf(s->name, sizeof s->name, "siglip-unigram");
	const char *eos = cfg_str(cfg, "eos_token"), *pad = cfg_str(cfg, "pad_token");
	const char *unk = cfg_str(cfg, "unk_token");
	eos = eos ? eos : "</s>";
	pad = pad ? pad : "</s>";
	unk = unk ? unk : "<unk>";
	s->eos = spm_find(s, eos, strlen(eos));
	s->pad = spm_find(s, pad, strlen(pad));
	int32_t u = spm_find(s, unk, strlen(unk));
	if (s->eos < 0 || s->pad < 0 || u < 0)
		return rc_log_error(RC_E_FORMAT, "%s: the special tokens %s, %s, %s are not all pieces",
			model, eos, pad, unk);
	s->add_eos = 1;
	s->siglip = 1;
	s->canon_lower = !(cfg && json_is_false(json_object_get(cfg, "do_lower_case")));
	if (cfg && (rc = add_specials(s, json_object_get(cfg, "added_tokens_decoder"))) < 0)
		return rc;
	if (spm_add_special(s, eos, strlen(eos), s->eos, 0, 0) < 0 ||
	    spm_add_special(s, unk, strlen(unk), u, 0, 0) < 0 ||
	    spm_add_special(s, pad, strlen(pad), s->pad, 0, 0) < 0)
		return RC_E_NOMEM;
	return 0;
}

/* ---------------------------------------------------------------- tokenizer.json */

static int unsupported(const char *path, const char *what, const char *type)
{
	return rc_log_error(RC_E_UNSUPPORTED, "%s: %s \"%s\" is not supported", path, what,
		type ? type : "?");
}

static int add_norm(struct rc_spm *s, int step, const char *a, const char *b)
{
	if (s->nhf == 8)
		return RC_E_UNSUPPORTED;
	s->hf_steps[s->nhf] = step;
	s->hf_arg[s->nhf][0] = a ? rc_strdup(a) : NULL;
	s->hf_arg[s->nhf][1] = b ? rc_strdup(b) : NULL;
	if ((a && !s->hf_arg[s->nhf][0]) || (b && !s->hf_arg[s->nhf][1]))
		return RC_E_NOMEM;
	s->nhf++;
	return 0;
}

typedef int step_fn(struct rc_spm *s, json_t *n, const char *path);

/* A "Sequence" step: each of its list under key, in order. */
static int each_step(struct rc_spm *s, json_t *n, const char *key, step_fn *fn, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(n, key), i, v) {
		int rc = fn(s, v, path);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int read_normalizer(struct rc_spm *s, json_t *n, const char *path)
{
	if (!n || json_is_null(n))
		return 0;
	const char *type = json_string_value(json_object_get(n, "type"));
	if (type && !strcmp(type, "Sequence"))
		return each_step(s, n, "normalizers", read_normalizer, path);
	if (type && !strcmp(type, "Replace")) {
		const char *pat = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
		const char *con = json_string_value(json_object_get(n, "content"));
		if (!pat || !con)
			return unsupported(path, "normalizer Replace with a pattern", "Regex");
		return add_norm(s, SPM_HF_REPLACE, pat, con);
	}
	if (type && !strcmp(type, "Lowercase"))
		return add_norm(s, SPM_HF_LOWER, NULL, NULL);
	if (type && !strcmp(type, "Prepend")) {
		const char *p = json_string_value(json_object_get(n, "prepend"));
		return p ? add_norm(s, SPM_HF_PREPEND, p, NULL) : RC_E_FORMAT;
	}
	return unsupported(path, "normalizer", type);
}

static int read_pretok(struct rc_spm *s, json_t *n, const char *path)
{
	if (!n || json_is_null(n))
		return 0;
	const char *type = json_string_value(json_object_get(n, "type"));
	if (type && !strcmp(type, "Sequence"))
		return each_step(s, n, "pretokenizers", read_pretok, path);
	const char *pat = json_string_value(json_object_get(json_object_get(n, "pattern"), "String"));
	const char *beh = json_string_value(json_object_get(n, "behavior"));
	if (type && !strcmp(type, "Split") && pat && *pat && beh && !strcmp(beh, "MergedWithPrevious") &&
	    !json_is_true(json_object_get(n, "invert")) && !s->split_on)
		return (s->split_on = rc_strdup(pat)) ? 0 : RC_E_NOMEM;
	return unsupported(path, "pre_tokenizer", type);
}

/* The special tokens of the post_processor's single-sequence template:
 * at most one before $A and one after it. */
static int read_template(struct rc_spm *s, json_t *p, const char *path)
{
	if (!p || json_is_null(p))
		return 0;
	const char *type = json_string_value(json_object_get(p, "type"));
	if (!type || strcmp(type, "TemplateProcessing"))
		return unsupported(path, "post_processor", type);
	json_t *specials = json_object_get(p, "special_tokens"), *v;
	size_t i;
	int seen_a = 0;
	json_array_foreach(json_object_get(p, "single"), i, v) {
		json_t *sp = json_object_get(v, "SpecialToken");
		if (json_object_get(v, "Sequence")) {
			seen_a = 1;
			continue;
		}
		const char *name = json_string_value(json_object_get(sp, "id"));
		json_t *ids = json_object_get(json_object_get(specials, name ? name : ""), "ids");
		if (!name || json_array_size(ids) != 1 || (seen_a ? s->add_eos : s->add_bos))
			return unsupported(path, "post_processor template", "more than one special token a side");
		int32_t id = (int32_t)json_integer_value(json_array_get(ids, 0));
		if (seen_a) {
			s->add_eos = 1;
			s->eos = id;
		} else {
			s->add_bos = 1;
			s->bos = id;
		}
	}
	return 0;
}

static int read_bpe(struct rc_spm *s, json_t *model, const char *path)
{
	json_t *vocab = json_object_get(model, "vocab");
	size_t n = json_object_size(vocab);
	if (!json_is_object(vocab) || !n)
		return rc_log_error(RC_E_FORMAT, "%s: model.vocab is not an object of token ids", path);
	const char **by_id = rc_calloc(n, sizeof *by_id);
	if (!by_id)
		return RC_E_NOMEM;
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(vocab, key, v) {
		json_int_t id = json_integer_value(v);
		if (!json_is_integer(v) || id < 0 || (size_t)id >= n || by_id[id]) {
			rc = rc_log_error(RC_E_FORMAT, "%s: model.vocab: \"%s\" has a bad or repeated id "
				"(the ids must be 0..%zu)", path, key, n - 1);
			goto out;
		}
		by_id[id] = key;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = spm_add_piece(s, by_id[i], strlen(by_id[i]), 0.0f, SPM_NORMAL);
	if (rc < 0 || (rc = spm_finish(s)) < 0)
		goto out;
	size_t i;
	json_array_foreach(json_object_get(model, "merges"), i, v) {
		const char *a, *b;
		size_t al, bl;
		char tmp[1024];
		if (json_is_string(v)) {
			const char *m = json_string_value(v), *sp = strchr(m, ' ');
			if (!sp) {
				rc = rc_log_error(RC_E_FORMAT, "%s: merge %zu has no space: \"%s\"", path, i, m);
				goto out;
			}
			a = m, al = (size_t)(sp - m), b = sp + 1, bl = strlen(sp + 1);
		} else if (json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
			   json_is_string(json_array_get(v, 1))) {
			a = json_string_value(json_array_get(v, 0)), al = strlen(a);
			b = json_string_value(json_array_get(v, 1)), bl = strlen(b);
		} else {
			rc = rc_log_error(RC_E_FORMAT, "%s: merge %zu is not \"a b\" or [a, b]", path, i);
			goto out;
		}
		int32_t ia = spm_find(s, a, al), ib = spm_find(s, b, bl), ir = -1;
		if (al + bl < sizeof tmp) {
			memcpy(tmp, a, al);
			memcpy(tmp + al, b, bl);
			ir = spm_find(s, tmp, al + bl);
		}
		if (ia < 0 || ib < 0 || ir < 0) {
			rc = rc_log_error(RC_E_FORMAT, "%s: merge %zu (\"%.*s\" \"%.*s\") names a token "
				"missing from the vocabulary", path, i, (int)al, a, (int)bl, b);
			goto out;
		}
		if ((rc = spm_add_merge(s, ia, ib, (uint32_t)i, ir)) < 0)
			goto out;
	}
out:
	free(by_id);
	return rc;
}

static int load_json(struct rc_spm *s, const char *path, json_t *cfg)
{
	json_t *j = read_json(path);
	if (!j)
		return RC_E_FORMAT;
	int rc = 0;
	json_t *model = json_object_get(j, "model");
	const char *type = json_string_value(json_object_get(model, "type"));
	const char *cls = cfg_str(cfg, "tokenizer_class");
	cls = cls ? cls : "";
	/* transformers 5 rebuilds Gemma's pipeline from the class, taking only
	 * vocabulary, merges and post-processor from tokenizer.json */
	int gemma = !strncmp(cls, "GemmaTokenizer", 14) || !strcmp(cls, "Siglip2Tokenizer");
	if (!type || strcmp(type, "BPE")) {
		rc = unsupported(path, "model type", type);
		goto out;
	}
	const char *cont = json_string_value(json_object_get(model, "continuing_subword_prefix"));
	const char *eow = json_string_value(json_object_get(model, "end_of_word_suffix"));
	if ((cont && *cont) || (eow && *eow) || json_is_true(json_object_get(model, "ignore_merges"))) {
		rc = unsupported(path, "BPE option", cont && *cont ? "continuing_subword_prefix" :
			eow && *eow ? "end_of_word_suffix" : "ignore_merges");
		goto out;
	}
	s->kind = RC_SPM_BPE;
	s->flavor = RC_SPM_FLAVOR_HF;
	s->norm = SPM_NORM_HF;
	s->byte_fallback = gemma || json_is_true(json_object_get(model, "byte_fallback"));
	s->fuse_unk = gemma || json_is_true(json_object_get(model, "fuse_unk"));
	if ((rc = read_bpe(s, model, path)) < 0)
		goto out;
	const char *unk = gemma ? cfg_str(cfg, "unk_token") : json_string_value(json_object_get(model, "unk_token"));
	unk = unk ? unk : gemma ? "<unk>" : NULL;
	s->unk = unk ? spm_find(s, unk, strlen(unk)) : -1;
	if (gemma) {
		if (!strcmp(cls, "Siglip2Tokenizer"))
			rc = add_norm(s, SPM_HF_LOWER, NULL, NULL);
		if (rc == 0)
			rc = add_norm(s, SPM_HF_REPLACE, " ", "\xE2\x96\x81");
		if (rc == 0)
			rc = (s->split_on = rc_strdup(" ")) ? 0 : RC_E_NOMEM;
	} else {
		if ((rc = read_normalizer(s, json_object_get(j, "normalizer"), path)) == 0)
			rc = read_pretok(s, json_object_get(j, "pre_tokenizer"), path);
	}
	if (rc < 0 || (rc = read_template(s, json_object_get(j, "post_processor"), path)) < 0 ||
	    (rc = add_specials(s, json_object_get(j, "added_tokens"))) < 0 ||
	    (cfg && (rc = add_specials(s, json_object_get(cfg, "added_tokens_decoder"))) < 0))
		goto out;
	const char *pad = cfg_str(cfg, "pad_token");
	pad = pad ? pad : "<pad>";
	s->pad = spm_find(s, pad, strlen(pad));
	if (s->pad < 0) {
		rc = rc_log_error(RC_E_FORMAT, "%s: the pad token \"%s\" is not in the vocabulary", path, pad);
		goto out;
	}
	const char *side = cfg_str(cfg, "padding_side");
	s->pad_left = side ? !strcmp(side, "left") : gemma;
	snprintf(s->name, sizeof s->name, "%s", !strcmp(cls, "Siglip2Tokenizer") ? "siglip2-bpe" :
		gemma ? "gemma-bpe" : "hf-bpe");
out:
	json_decref(j);
	return rc;
}

/* ---------------------------------------------------------------- directory */

/* The xxh3 of the tokenizer file, then of tokenizer_config.json (cfg, or
 * NULL) seeded with it: what the ids depend on, as rc_spm_id names it. */
static int hash_files(const char *file, const char *cfg, uint64_t *h)
{
	const char *paths[2] = { file, cfg };
	*h = 0;
	for (int i = 0; i < 2 && paths[i]; i++) {
		char *data;
		size_t len;
		if (rc_io_read_file(paths[i], &data, &len) < 0)
			return RC_E_IO;
		*h = rc_hash64_seed(data, len, *h);
		free(data);
	}
	return 0;
}

int rc_spm_dir_kind(const char *dir)
{
	char p[4352];
	if (exists(dir, "spiece.model", p, sizeof p) || exists(dir, "tokenizer.model", p, sizeof p))
		return 1;
	return exists(dir, "tokenizer.json", p, sizeof p) && !exists(dir, "merges.txt", p, sizeof p);
}

int rc_spm_load_dir(struct rc_spm **out, const char *dir)
{
	char cfgp[4352], jp[4352], mp[4352];
	*out = NULL;
	json_t *cfg = NULL;
	if (exists(dir, "tokenizer_config.json", cfgp, sizeof cfgp) && !(cfg = read_json(cfgp)))
		return RC_E_FORMAT;
	const char *cls = cfg_str(cfg, "tokenizer_class");
	int has_json = exists(dir, "tokenizer.json", jp, sizeof jp);
	int has_model = exists(dir, "spiece.model", mp, sizeof mp) ||
		exists(dir, "tokenizer.model", mp, sizeof mp);
	struct rc_spm *s = spm_new();
	int rc = s ? 0 : RC_E_NOMEM;
	if (rc == 0) {
		if (has_model && (!has_json || (cls && !strncmp(cls, "SiglipTokenizer", 15)))) {
			if (cls && strncmp(cls, "SiglipTokenizer", 15))
				rc = rc_log_error(RC_E_UNSUPPORTED, "%s: tokenizer class %s with only a "
					"SentencePiece model: rclip knows SiglipTokenizer's pipeline", cfgp, cls);
			else {
				rc_log_info("tokenizer: %s (SiglipTokenizer)", mp);
				if ((rc = load_siglip(s, mp, cfg)) == 0)
					rc = hash_files(mp, cfg ? cfgp : NULL, &s->files_hash);
			}
		} else if (has_json) {
			rc_log_info("tokenizer: %s", jp);
			if ((rc = load_json(s, jp, cfg)) == 0)
				rc = hash_files(jp, cfg ? cfgp : NULL, &s->files_hash);
		} else
			rc = rc_log_error(RC_E_NOTFOUND, "%s: no tokenizer.json, spiece.model or "
				"tokenizer.model", dir);
	}
	json_decref(cfg);
	if (rc < 0) {
		rc_spm_free(s);
		return rc;
	}
	spm_set_id(s);
	*out = s;
	return 0;
}
