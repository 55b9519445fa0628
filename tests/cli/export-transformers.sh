#!/bin/sh
# export-transformers.sh - the round trip through transformers: rclip-export
# writes every fixture as a Hugging Face directory, a vision tower (with
# and without projection) and, where open_clip can express it, an open_clip
# directory and back; tests/cli/export_transformers.py loads them with
# CLIPModel, CLIPVisionModel(WithProjection), CLIPProcessor and open_clip,
# runs the fixtures' inputs and compares with their outputs (embeddings
# within 1e-5). Needs a Python with transformers (the fixtures venv,
# build-aux/install-deps.sh --fixtures, found at $RCLIP_VENV or
# ~/.cache/rclip/venv); skips (77) without it.
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
py="$venv/bin/python"
if ! [ -x "$py" ] || ! "$py" -c 'import transformers, torch, safetensors, PIL' >/dev/null 2>&1; then
	echo "SKIP: no Python with transformers at $venv"
	exit 77
fi
ex="$top_builddir/tools/rclip-export"
fx="$top_srcdir/tests/fixtures/clip"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # run CMD...: fail loudly with its stderr
	if ! "$@" >"$tmp/log" 2>&1; then
		echo "FAIL: $*"; sed 's/^/  /' "$tmp/log"
		echo "export-transformers: 0 passed, 1 failed"
		exit 1
	fi
}
for m in tiny-quickgelu tiny-gelu tiny-oddheads tiny-img64; do
	run "$ex" -q --from "$fx/$m" --to hf -o "$tmp/$m.hf" --check
	run "$ex" -q --from "$fx/$m" --to hf-vision -o "$tmp/$m.vis" --check
	run "$ex" -q --from "$fx/$m" --to hf-vision --with-projection -o "$tmp/$m.visp" --check
	# open_clip has one activation for both towers: not tiny-oddheads.
	if [ "$m" != tiny-oddheads ]; then
		run "$ex" -q --from "$fx/$m" --to open_clip -o "$tmp/$m.oc" --check
		run "$ex" -q --from "$tmp/$m.oc" --to hf -o "$tmp/$m.oc.hf" --check
	fi
done
cat >"$tmp/captions.txt" <<'EOF'
A photo of a CAT.
it's 2 dogs!
Two people riding bikes, in the rain
a naïve café, déjà vu
1234 apples & 56 oranges...
hello    world	tab
don't STOP me now -- I'm having such a good time
EOF
run "$top_builddir/tools/rclip-tokenize" "$tmp/captions.txt" -o "$tmp/ids.txt"
if ! "$py" "$top_srcdir/tests/cli/export_transformers.py" --export "$ex" --fixtures "$fx" \
	--work "$tmp" --captions "$tmp/captions.txt" --ids "$tmp/ids.txt"; then
	echo "export-transformers: 0 passed, 1 failed"
	exit 1
fi
echo "export-transformers: 1 passed, 0 failed"
