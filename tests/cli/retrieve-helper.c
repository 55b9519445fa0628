/* retrieve-helper - what retrieve-cli.sh needs besides the tools, without
 * Python: a test model that takes CLIP's token ids, checks of .npy rows,
 * and reference text embeddings computed one line at a time.
 *
 *   retrieve-helper clip-vocab SRC DST   SRC (an HF dir) with its text vocabulary
 *                                        grown to CLIP's 49408 ids, into DST
 *   retrieve-helper norms FILE.npy       "ROWS DIM MAXDEV NANROWS": MAXDEV the
 *                                        largest | |row| - 1 | of the other rows
 *   retrieve-helper close A.npy B.npy TOL  exit 0 when the shapes match and every
 *                                        value is within TOL (NaN matches NaN)
 *   retrieve-helper ref-text DIR FILE OUT.npy  each line of FILE through the
 *                                        library on its own (batch 1) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "text/bpe.h"
#include "model/clip_config.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/cpu.h"
#include "data/npy.h"
#include "data/safetensors.h"

#define CLIP_VOCAB 49408

static int clip_vocab(const char *src, const char *dst)
{
	struct rc_clip *a = NULL, *b = NULL;
	struct rc_st_writer *w = NULL;
	char path[4096];
	int rc;
	if ((rc = rc_clip_load_hf(&a, src)) < 0)
		return rc;
	struct rc_clip_config cfg = a->cfg;
	cfg.text.vocab_size = CLIP_VOCAB;
	cfg.text.bos_token_id = CLIP_VOCAB - 2;
	cfg.text.eos_token_id = CLIP_VOCAB - 1;
	cfg.text.pad_token_id = CLIP_VOCAB - 1;
	if ((rc = rc_clip_new(&b, &cfg)) < 0 || (rc = rc_st_writer_new(&w)) < 0)
		goto out;
	uint64_t s = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < rc_clip_tensor_count(b); i++) {
		const struct rc_clip_param *p = rc_clip_tensor(b, i);
		const struct rc_clip_param *q = rc_clip_find_param(a, p->name);
		rc_assert(q);
		if (q->numel == p->numel) {
			memcpy(p->data, q->data, p->numel * sizeof *p->data);
		} else { /* the token embedding: the old rows, then small noise */
			memcpy(p->data, q->data, q->numel * sizeof *p->data);
			for (size_t k = q->numel; k < p->numel; k++) {
				s = s * 6364136223846793005ull + 1442695040888963407ull;
				p->data[k] = 0.02f * ((float)(s >> 40) / (float)(1 << 24) - 0.5f);
			}
		}
		if ((rc = rc_st_writer_add(w, p->name, RC_ST_F32, p->ndim, p->shape, p->data)) < 0)
			goto out;
	}
	mkdir(dst, 0777);
	snprintf(path, sizeof path, "%s/config.json", dst);
	if ((rc = rc_clip_config_save(&cfg, path)) < 0)
		goto out;
	snprintf(path, sizeof path, "%s/model.safetensors", dst);
	rc = rc_st_writer_write(w, path);
out:
	rc_st_writer_free(w);
	rc_clip_free(a);
	rc_clip_free(b);
	return rc;
}

static int norms(const char *path)
{
	float *x;
	size_t n, d, nan_rows = 0;
	int rc = rc_npy_read_f32(path, &x, &n, &d);
	if (rc < 0)
		return rc;
	double maxdev = 0;
	for (size_t i = 0; i < n; i++) {
		double ss = 0;
		int nan = 0;
		for (size_t k = 0; k < d; k++) {
			nan |= isnan(x[i * d + k]);
			ss += (double)x[i * d + k] * x[i * d + k];
		}
		if (nan) {
			nan_rows++;
			continue;
		}
		if (fabs(sqrt(ss) - 1) > maxdev)
			maxdev = fabs(sqrt(ss) - 1);
	}
	printf("%zu %zu %.3g %zu\n", n, d, maxdev, nan_rows);
	free(x);
	return 0;
}

static int close_enough(const char *pa, const char *pb, double tol)
{
	float *a = NULL, *b = NULL;
	size_t na, da, nb, db;
	int rc;
	if ((rc = rc_npy_read_f32(pa, &a, &na, &da)) < 0 || (rc = rc_npy_read_f32(pb, &b, &nb, &db)) < 0)
		goto out;
	if (na != nb || da != db) {
		fprintf(stderr, "shapes (%zu, %zu) and (%zu, %zu)\n", na, da, nb, db);
		rc = RC_E_FORMAT;
		goto out;
	}
	double worst = 0;
	for (size_t i = 0; i < na * da; i++) {
		if (isnan(a[i]) || isnan(b[i])) {
			if (isnan(a[i]) != isnan(b[i])) {
				fprintf(stderr, "row %zu: NaN in one file only\n", i / da);
				rc = RC_E_RANGE;
			}
			continue;
		}
		if (fabs((double)a[i] - b[i]) > worst)
			worst = fabs((double)a[i] - b[i]);
	}
	printf("%.3g\n", worst);
	if (worst > tol)
		rc = RC_E_RANGE;
out:
	free(a);
	free(b);
	return rc;
}

static int ref_text(const char *dir, const char *file, const char *out)
{
	struct rc_clip *m = NULL;
	struct rc_clip_ws *ws = NULL;
	struct rc_bpe *bpe = NULL;
	struct rc_bpe_state *st = NULL;
	struct rc_npy_writer *w = NULL;
	int32_t *row = NULL;
	float *emb = NULL;
	FILE *f = NULL;
	struct rc_io_lines lr = {0};
	int rc;
	if ((rc = rc_clip_load_hf(&m, dir)) < 0 || (rc = rc_clip_ws_new(&ws, m, 0, 1, 0)) < 0 ||
	    (rc = rc_bpe_load(&bpe, NULL, NULL)) < 0)
		goto out;
	int T = m->cfg.text.max_position, D = m->cfg.projection_dim;
	row = calloc((size_t)T, sizeof *row);
	emb = calloc((size_t)D, sizeof *emb);
	if (!(st = rc_bpe_state_new(bpe)) || !row || !emb || (rc = rc_io_open_read(file, &f)) < 0 ||
	    (rc = rc_npy_writer_open(&w, out, (size_t)D)) < 0)
		goto out;
	rc_io_lines_init(&lr, f, file);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		const int32_t *ids;
		size_t n;
		if ((rc = rc_bpe_encode(st, lr.line, lr.len, &ids, &n)) < 0)
			break;
		rc_bpe_pack(bpe, ids, n, row, (size_t)T, 0, NULL);
		if ((rc = rc_clip_encode_text(m, ws, row, 1, T, emb)) < 0 ||
		    (rc = rc_npy_writer_rows(w, emb, 1)) < 0)
			break;
	}
	if (rc == 0) {
		rc = rc_npy_writer_close(w);
		w = NULL;
	}
out:
	rc_npy_writer_abort(w);
	rc_io_lines_free(&lr);
	if (f)
		rc_io_close(f, file);
	free(row);
	free(emb);
	rc_bpe_state_free(st);
	rc_bpe_free(bpe);
	rc_clip_ws_free(ws);
	rc_clip_free(m);
	return rc;
}

int main(int argc, char **argv)
{
	rc_log_init("retrieve-helper");
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;
	if (!strcmp(cmd, "clip-vocab") && argc == 4)
		rc = clip_vocab(argv[2], argv[3]);
	else if (!strcmp(cmd, "norms") && argc == 3)
		rc = norms(argv[2]);
	else if (!strcmp(cmd, "close") && argc == 5)
		rc = close_enough(argv[2], argv[3], atof(argv[4]));
	else if (!strcmp(cmd, "ref-text") && argc == 5)
		rc = ref_text(argv[2], argv[3], argv[4]);
	else {
		fprintf(stderr, "usage: retrieve-helper clip-vocab SRC DST | norms FILE | "
			"close A B TOL | ref-text DIR FILE OUT\n");
		return 2;
	}
	return rc < 0;
}
