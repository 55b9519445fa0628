#!/bin/sh
# export-siglip.sh - SigLIP models through rclip-export (issue 15): every
# fixture of tests/fixtures/siglip/ written as a SiglipModel directory
# (--to hf), as a SiglipVisionModel one (--to hf-vision), and exported
# again from what was written (transformers -> rclip -> transformers),
# each read back with --check; tests/cli/export_siglip.py loads them with
# transformers and compares with the fixtures' outputs (embeddings within
# 1e-5). Also: the tokenizer files of the source directory are copied as
# they are, a source without them is warned about, and --to open_clip is
# refused in one line with nothing written. The transformers part needs
# the fixtures venv ($RCLIP_VENV or ~/.cache/rclip/venv); without it the
# rest runs and the test exits 77.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
ex="$top_builddir/tools/rclip-export"
fx="$top_srcdir/tests/fixtures/siglip"
names="siglip-oddheads siglip-img64 siglip-remainder"
for m in $names; do
	[ -f "$fx/$m/model.safetensors" ] || { echo "$fx/$m missing (gen_siglip.py)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0
. "$top_srcdir/tests/cli/testlib.sh"

for m in $names; do
	expect 0 "$ex" -q --from "$fx/$m" --to hf -o "$tmp/$m.hf" --check
	expect 0 "$ex" -q --from "$fx/$m" --to hf-vision -o "$tmp/$m.vis" --check
	expect 0 "$ex" -q --from "$tmp/$m.hf" --to hf -o "$tmp/$m.back" --check
done
m=siglip-oddheads
has "$tmp/$m.hf/config.json" '"model_type": "siglip"' "hf: a SiglipModel config"
has "$tmp/$m.vis/config.json" '"SiglipVisionModel"' "hf-vision: its architecture"
has "$tmp/$m.vis/config.json" '"model_type": "siglip_vision_model"' "hf-vision: its type"
expect 0 "$ex" --from "$fx/$m" --to hf -o "$tmp/warn.hf"
has "$tmp/err" "no tokenizer files to copy" "a source without tokenizer files"
has "$tmp/out" "SigLIP vision 24w" "the summary names the family"

# the source's tokenizer files, copied byte for byte
mkdir -p "$tmp/src"
cp "$fx/$m/config.json" "$fx/$m/model.safetensors" "$tmp/src/"
printf '{"tokenizer_class": "SiglipTokenizer"}\n' >"$tmp/src/tokenizer_config.json"
printf 'not really a sentencepiece model\001\002' >"$tmp/src/spiece.model"
expect 0 "$ex" -q --from "$tmp/src" --to hf -o "$tmp/tok.hf"
same "$tmp/src/spiece.model" "$tmp/tok.hf/spiece.model" "spiece.model copied"
same "$tmp/src/tokenizer_config.json" "$tmp/tok.hf/tokenizer_config.json" \
	"tokenizer_config.json copied"

# open_clip cannot hold it: one line, exit 1, nothing written
expect 1 "$ex" -q --from "$fx/$m" --to open_clip -o "$tmp/oc"
has "$tmp/err" "^rclip-export: $tmp/oc: rclip writes SigLIP models as hf or hf-vision, not as open_clip$" \
	"open_clip refused"
absent "$tmp/oc" "a refused open_clip export"

venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import transformers, torch, safetensors' >/dev/null 2>&1; then
	echo "export-siglip: $passes passed, $fails failed; no Python with transformers at $venv"
	[ "$fails" -eq 0 ] && exit 77
	exit 1
fi
expect 0 "$py" "$top_srcdir/tests/cli/export_siglip.py" --fixtures "$fx" --work "$tmp" $names
cat "$tmp/out"
echo "export-siglip: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
