#!/bin/sh
# retrieve-parity.sh - rclip-retrieve embed end to end against Hugging Face:
# fixture images through CLIPImageProcessorPil and CLIPModel.
# get_image_features, text lines through open_clip.tokenize and
# get_text_features, both normalised, within 1e-5 of the .npy rows.
# Needs the fixtures venv (build-aux/install-deps.sh --fixtures, found at
# $RCLIP_VENV or ~/.cache/rclip/venv); skips (77) without it.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import torch, transformers, open_clip, numpy, PIL' >/dev/null 2>&1; then
	echo "SKIP: no fixtures venv with transformers and open_clip at $venv"
	exit 77
fi
rr="$top_builddir/tools/rclip-retrieve"
fx="$top_srcdir/tests/fixtures"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in jpeg-rgb-q90-420-500x375.jpg png-rgba-400x300.png webp-lossy-500x375.webp \
	jpeg-gray-375x500.jpg jpeg-rgb-10x1000.jpg jpeg-cmyk-500x375.jpg; do
	printf '{"image_path": "%s", "caption": "x"}\n' "$fx/images/$f"
done >"$tmp/m.jsonl"
printf 'a photo of a cat\nA Red Car, parked.\n\nthe dog will jump because it crouches\n' >"$tmp/t.txt"
"$top_builddir/tests/cli/retrieve-helper" clip-vocab "$fx/clip/tiny-img64" "$tmp/clip" &&
"$rr" embed -q --model "$fx/clip/tiny-img64" --images "$tmp/m.jsonl" -o "$tmp/img.npy" &&
"$rr" embed -q --model "$tmp/clip" --text "$tmp/t.txt" -o "$tmp/txt.npy" || {
	echo "FAIL: rclip-retrieve embed"; echo "retrieve-parity: 0 passed, 1 failed"; exit 1; }
HF_HUB_OFFLINE=1 "$py" - "$tmp" "$fx/clip/tiny-img64" <<'EOF'
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch, open_clip
from PIL import Image
from transformers import CLIPModel, CLIPImageProcessorPil
from transformers.utils import logging
logging.set_verbosity_error()
logging.disable_progress_bar()
tmp, img_model = sys.argv[1], sys.argv[2]

def unit(f):
    f = f if torch.is_tensor(f) else f.pooler_output
    return (f / f.norm(dim=-1, keepdim=True)).numpy()

fails = 0
m = CLIPModel.from_pretrained(img_model).eval()
S = m.config.vision_config.image_size
proc = CLIPImageProcessorPil(size={"shortest_edge": S}, crop_size={"height": S, "width": S})
paths = [json.loads(l)["image_path"] for l in open(tmp + "/m.jsonl")]
px = proc(images=[Image.open(p).convert("RGB") for p in paths], return_tensors="pt")["pixel_values"]
with torch.no_grad():
    ref = unit(m.get_image_features(pixel_values=px))
d = float(np.abs(np.load(tmp + "/img.npy") - ref).max())
print(f"images: {len(paths)} rows, largest difference {d:.3g}")
fails += d > 1e-5
m = CLIPModel.from_pretrained(tmp + "/clip").eval()
lines = open(tmp + "/t.txt").read().split("\n")[:-1]
with torch.no_grad():
    ref = unit(m.get_text_features(input_ids=open_clip.tokenize(lines)))
d = float(np.abs(np.load(tmp + "/txt.npy") - ref).max())
print(f"text: {len(lines)} rows, largest difference {d:.3g}")
fails += d > 1e-5
print(f"retrieve-parity: {2 - fails} passed, {fails} failed")
sys.exit(1 if fails else 0)
EOF
