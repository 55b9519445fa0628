#!/bin/sh
# siglip-text.sh - a SigLIP model's texts from strings, end to end against
# transformers: a tiny random SiglipModel saved with the SentencePiece
# fixture's tokenizer (tests/fixtures/spm/siglip), text lines through
# rclip-retrieve embed --text and through SiglipTokenizer (padding to the
# model's context, truncation) and get_text_features, normalised, within
# 1e-5; the same model without its tokenizer files is refused in one line.
# Needs the fixtures venv (build-aux/install-deps.sh --fixtures, found at
# $RCLIP_VENV or ~/.cache/rclip/venv); skips (77) without it.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import torch, transformers, numpy, sentencepiece' >/dev/null 2>&1; then
	echo "SKIP: no fixtures venv with transformers and sentencepiece at $venv"
	exit 77
fi
rr="$top_builddir/tools/rclip-retrieve"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

HF_HUB_OFFLINE=1 "$py" - "$tmp/m" <<'EOF' || { echo "FAIL: the model"; exit 1; }
import sys, warnings
warnings.filterwarnings("ignore")
import torch
from transformers import SiglipConfig, SiglipModel
from transformers.utils import logging
logging.set_verbosity_error()
logging.disable_progress_bar()
torch.manual_seed(0)
cfg = SiglipConfig(
    text_config=dict(vocab_size=3000, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=2, max_position_embeddings=16, pad_token_id=1,
                     eos_token_id=1, projection_size=32),
    vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, image_size=32, patch_size=16))
SiglipModel(cfg).eval().save_pretrained(sys.argv[1])
EOF
cp -r "$tmp/m" "$tmp/bare"
cp "$fx/spm/siglip/spiece.model" "$fx/spm/siglip/tokenizer_config.json" "$tmp/m/"
printf 'a photo of a cat\nA Red Car, parked!\n\nthe dog will jump because it crouches on the old wooden bench near the river\n' >"$tmp/t.txt"

if "$rr" embed -q --model "$tmp/m" --text "$tmp/t.txt" -o "$tmp/txt.npy" 2>"$tmp/err"; then
	ok
else
	fail "embed --text with a SigLIP model: $(cat "$tmp/err")"
fi
if HF_HUB_OFFLINE=1 "$py" - "$tmp/m" "$tmp/t.txt" "$tmp/txt.npy" <<'EOF'
import sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch
from transformers import SiglipModel, SiglipTokenizer
from transformers.utils import logging
logging.set_verbosity_error()
logging.disable_progress_bar()
d, texts, npy = sys.argv[1:4]
lines = open(texts, encoding="utf-8").read().split("\n")[:-1]
tok = SiglipTokenizer.from_pretrained(d)
m = SiglipModel.from_pretrained(d).eval()
ids = tok(lines, padding="max_length", max_length=16, truncation=True, return_tensors="pt")
with torch.no_grad():
    f = m.get_text_features(input_ids=ids["input_ids"])
    f = getattr(f, "pooler_output", f)
f = torch.nn.functional.normalize(f, dim=-1).numpy()
got = np.load(npy)
assert got.shape == f.shape, (got.shape, f.shape)
err = float(np.abs(got - f).max())
print(f"siglip text rows: {len(lines)}, largest difference {err:.3g}")
sys.exit(0 if err <= 1e-5 else 1)
EOF
then ok; else fail "text rows against transformers"; fi

# without its tokenizer files: refused, nothing written
if "$rr" embed -q --model "$tmp/bare" --text "$tmp/t.txt" -o "$tmp/bare.npy" 2>"$tmp/err"; then
	fail "a SigLIP model without its tokenizer was not refused"
elif grep -q 'no SigLIP tokenizer beside it' "$tmp/err" && ! [ -e "$tmp/bare.npy" ]; then
	ok
else
	fail "refusal: $(cat "$tmp/err")"
fi
echo "siglip-text: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
