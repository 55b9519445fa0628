/* fuzz-bpe.c - libFuzzer target for the tokenizer: any bytes through
 * cleaning, pre-tokenizing, BPE, packing and decoding. Checks that every
 * id is in the vocabulary, that rows end with the end token, and that the
 * ids decode. An input whose first byte is odd is encoded with the Hugging
 * Face semantics, else with open_clip's. Build: `make fuzz`; run: tests/fuzz/fuzz-bpe CORPUS_DIR. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/bpe.h"
#include "base/log.h"

static struct rc_bpe *bpe;
static struct rc_bpe_state *st;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!bpe) {
		rc_log_init("fuzz-bpe");
		if (rc_bpe_load(&bpe, NULL, NULL) < 0 || !(st = rc_bpe_state_new(bpe)))
			abort();
	}
	rc_bpe_set_semantics(bpe, size && (data[0] & 1) ? RC_BPE_HF : RC_BPE_OPEN_CLIP);
	const int32_t *ids;
	size_t n;
	if (rc_bpe_encode(st, (const char *)data, size, &ids, &n) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0 || (size_t)ids[i] >= rc_bpe_vocab_size(bpe))
			abort();
	int32_t row[RC_BPE_CONTEXT];
	size_t k = rc_bpe_pack(bpe, ids, n, row, RC_BPE_CONTEXT, 0, NULL);
	if (k < 2 || k > RC_BPE_CONTEXT || row[0] != rc_bpe_sot(bpe) || row[k - 1] != rc_bpe_eot(bpe))
		abort();
	char *txt;
	if (rc_bpe_decode(bpe, row, RC_BPE_CONTEXT, &txt, NULL) < 0)
		abort();
	free(txt);
	return 0;
}
