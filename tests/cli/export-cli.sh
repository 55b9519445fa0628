#!/bin/sh
# export-cli.sh - rclip-export as a user runs it: help and usage errors,
# Hugging Face -> Hugging Face with --check (byte for byte the fixture's
# model.safetensors), HF -> open_clip -> HF round trips with equal
# checksums, the fixture's open_clip state dict -> HF equal to the HF
# fixture, vision-only exports, architectures given by name and JSON, and
# bad inputs (exit 1, the tensor and both shapes named, no output left).
set -u
: "${top_builddir:=.}" "${top_srcdir:=.}"
ex="$top_builddir/tools/rclip-export"
tok="$top_builddir/tools/rclip-tokenize"
fx="$top_srcdir/tests/fixtures/clip"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect STATUS CMD...: run CMD, stdout to $tmp/out, stderr to $tmp/err
expect() {
	want=$1; shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		fail "exit $got (expected $want): $*"; sed 's/^/  stderr: /' "$tmp/err"
	fi
}
has() { # has FILE PATTERN WHAT
	if grep -q -e "$2" "$1"; then ok; else fail "$3: no '$2' in: $(head -c 400 "$1")"; fi
}
hasnt() { # hasnt FILE PATTERN WHAT
	if grep -q -a -e "$2" "$1"; then fail "$3: '$2' found in $1"; else ok; fi
}
same_file() { # same_file A B WHAT
	if cmp -s "$1" "$2"; then ok; else fail "$3: $1 and $2 differ"; fi
}
sum_of() { sed -n 's/^checksum: *xxh3-128 //p' "$1"; }
no_temp() { # no temporary directory left beside the outputs
	if ls -a "$tmp/o" | grep -q '\.tmp\.'; then fail "$1: a temporary directory was left"; else ok; fi
}
mkdir "$tmp/o"

# ---- help, version, usage errors
expect 0 "$ex" --help
for opt in --from --arch --config --to --with-projection --output --force --check \
	--quiet --verbose --help --version; do
	has "$tmp/out" -- "$opt" "--help lists $opt"
done
expect 0 "$ex" --version
has "$tmp/out" "rclip-export (rclip)" "--version"
expect 2 "$ex" --no-such-option
has "$tmp/err" "Try 'rclip-export --help'" "bad option hint"
expect 2 "$ex" --to hf -o "$tmp/o/x"
has "$tmp/err" "\-\-from is required" "no --from"
expect 2 "$ex" --from "$fx/tiny-gelu" -o "$tmp/o/x"
expect 2 "$ex" --from "$fx/tiny-gelu" --to hf
expect 2 "$ex" --from "$fx/tiny-gelu" --to onnx -o "$tmp/o/x"
has "$tmp/err" "unknown format 'onnx'" "bad --to"
expect 2 "$ex" --from "$fx/tiny-gelu" --to hf -o "$tmp/o/x" --arch tiny --config c.json
expect 2 "$ex" --from "$fx/tiny-gelu" --to hf --with-projection -o "$tmp/o/x"
expect 2 "$ex" --from "$fx/tiny-gelu" --to hf -o "$tmp/o/x" extra
[ ! -e "$tmp/o/x" ] && ok || fail "a usage error wrote an output"

# ---- HF -> HF: every fixture, --check, the weights byte for byte
for m in tiny-quickgelu tiny-gelu tiny-oddheads tiny-img64; do
	expect 0 "$ex" -q --from "$fx/$m" --to hf -o "$tmp/o/$m.hf" --check
	has "$tmp/out" "^check: *ok: [0-9]* tensors read back bit for bit" "$m: --check"
	has "$tmp/out" "^check: *tokenizer: 49408 ids" "$m: tokenizer check"
	same_file "$tmp/o/$m.hf/model.safetensors" "$fx/$m/model.safetensors" "$m: model.safetensors as save_pretrained"
	for f in config.json vocab.json merges.txt tokenizer_config.json special_tokens_map.json \
		preprocessor_config.json; do
		[ -s "$tmp/o/$m.hf/$f" ] && ok || fail "$m: no $f"
	done
	# The copy reads back as the same model, through rclip itself.
	expect 0 "$ex" -q --from "$tmp/o/$m.hf" --to hf -o "$tmp/o/$m.hf2" --check
	same_file "$tmp/o/$m.hf/config.json" "$tmp/o/$m.hf2/config.json" "$m: config.json round trip"
done
expect 0 "$ex" --from "$fx/tiny-quickgelu" --to hf -o "$tmp/o/summary"
has "$tmp/out" "^params: *52769 in 78 tensors$" "parameter count"
has "$tmp/out" "^config: *vision 32w 2L 4H mlp 64 quick_gelu image 32/8, text 32w" "config line"
has "$tmp/err" "vocab_size 256 is not the CLIP tokenizer's 49408" "a small vocabulary is warned about"
no_temp "HF exports"

# The tokenizer files give rclip-tokenize's ids.
printf 'A photo of a CAT.\nit'"'"'s 2 dogs!\n' >"$tmp/caps.txt"
"$tok" "$tmp/caps.txt" >"$tmp/ids.ref"
expect 0 "$tok" --merges "$tmp/o/summary/merges.txt" --vocab "$tmp/o/summary/vocab.json" "$tmp/caps.txt"
same_file "$tmp/out" "$tmp/ids.ref" "vocab.json + merges.txt give the shipped ids"

# ---- open_clip: the fixture's state dict is the HF fixture
oc="$fx/tiny-quickgelu/open_clip.safetensors"
expect 0 "$ex" -q --from "$oc" --to hf -o "$tmp/o/oc.hf" --check
same_file "$tmp/o/oc.hf/model.safetensors" "$fx/tiny-quickgelu/model.safetensors" "open_clip -> HF, tensor for tensor"
"$ex" -q --from "$fx/tiny-quickgelu" --to hf -o "$tmp/o/ref2.hf" >"$tmp/ref.sum"
"$ex" -q --from "$oc" --to hf -o "$tmp/o/oc2.hf" >"$tmp/oc.sum"
[ -n "$(sum_of "$tmp/ref.sum")" ] && [ "$(sum_of "$tmp/ref.sum")" = "$(sum_of "$tmp/oc.sum")" ] &&
	ok || fail "open_clip and HF fixtures: checksums $(sum_of "$tmp/oc.sum") / $(sum_of "$tmp/ref.sum")"
# The same with the architecture given: by JSON (open_clip's or HF's).
expect 0 "$ex" -q --from "$oc" --config "$fx/tiny-quickgelu/open_clip_config.json" --to hf -o "$tmp/o/oc3.hf"
same_file "$tmp/o/oc3.hf/model.safetensors" "$fx/tiny-quickgelu/model.safetensors" "--config open_clip JSON"
same_file "$tmp/o/oc3.hf/config.json" "$tmp/o/oc.hf/config.json" "config from metadata = --config"
expect 0 "$ex" -q --from "$oc" --config "$fx/tiny-quickgelu/config.json" --to hf -o "$tmp/o/oc4.hf"
same_file "$tmp/o/oc4.hf/model.safetensors" "$fx/tiny-quickgelu/model.safetensors" "--config HF config.json"

# ---- HF -> open_clip -> HF: equal checksums, the same bytes
for m in tiny-quickgelu tiny-gelu tiny-img64; do
	expect 0 "$ex" -q --from "$fx/$m" --to open_clip -o "$tmp/o/$m.oc" --check
	cp "$tmp/out" "$tmp/a.sum"
	has "$tmp/out" "^check: *ok" "$m -> open_clip --check"
	[ -s "$tmp/o/$m.oc/open_clip_model.safetensors" ] && [ -s "$tmp/o/$m.oc/open_clip_config.json" ] &&
		ok || fail "$m: open_clip files"
	expect 0 "$ex" -q --from "$tmp/o/$m.oc" --to hf -o "$tmp/o/$m.back" --check
	[ "$(sum_of "$tmp/a.sum")" = "$(sum_of "$tmp/out")" ] && ok ||
		fail "$m: checksum $(sum_of "$tmp/a.sum") before, $(sum_of "$tmp/out") after the round trip"
	same_file "$tmp/o/$m.back/model.safetensors" "$fx/$m/model.safetensors" "$m: round trip bytes"
done
same_file "$tmp/o/tiny-quickgelu.back/config.json" "$tmp/o/tiny-quickgelu.hf/config.json" "round trip config.json"
# The state dict written equals the fixture's, name for name (-> HF bytes).
expect 0 "$ex" -q --from "$tmp/o/tiny-quickgelu.oc/open_clip_model.safetensors" --to hf -o "$tmp/o/ocfile.hf"
same_file "$tmp/o/ocfile.hf/model.safetensors" "$fx/tiny-quickgelu/model.safetensors" "an open_clip file found by name"
# Legacy eos_token_id 2 and eos 255 are one pooling rule: --check accepts it.
has "$tmp/o/tiny-gelu.back/config.json" '"eos_token_id": 255' "legacy eos 2 comes back as V-1"
# Two activations cannot be one open_clip quick_gelu flag.
expect 1 "$ex" -q --from "$fx/tiny-oddheads" --to open_clip -o "$tmp/o/odd.oc"
has "$tmp/err" "gelu for vision and quick_gelu for text" "mixed activations named"
[ ! -e "$tmp/o/odd.oc" ] && ok || fail "a failed export left its output"
no_temp "open_clip exports"

# ---- hf-vision: the vision tower only
expect 0 "$ex" -q --from "$fx/tiny-quickgelu" --to hf-vision -o "$tmp/o/vis" --check
has "$tmp/out" "(vision tower)$" "hf-vision summary"
has "$tmp/out" "^check: *ok: 39 tensors" "hf-vision --check"
has "$tmp/o/vis/config.json" '"model_type": "clip_vision_model"' "vision config"
has "$tmp/o/vis/config.json" '"CLIPVisionModel"' "vision architecture"
has "$tmp/o/vis/model.safetensors" "vision_model.encoder.layers.1.mlp.fc2.bias" "vision tensors"
for t in text_model text_projection logit_scale visual_projection; do
	hasnt "$tmp/o/vis/model.safetensors" "$t" "hf-vision has no $t"
done
[ -s "$tmp/o/vis/preprocessor_config.json" ] && [ ! -e "$tmp/o/vis/vocab.json" ] && ok ||
	fail "hf-vision: preprocessor config, no tokenizer"
expect 0 "$ex" -q --from "$fx/tiny-oddheads" --to hf-vision --with-projection -o "$tmp/o/visp" --check
has "$tmp/o/visp/config.json" '"CLIPVisionModelWithProjection"' "with projection"
has "$tmp/o/visp/model.safetensors" "visual_projection.weight" "visual_projection"
hasnt "$tmp/o/visp/model.safetensors" "text_model" "with projection, still no text"
expect 0 "$ex" -q --from "$tmp/o/visp" --to hf-vision --with-projection -o "$tmp/o/visp2" --check
same_file "$tmp/o/visp/model.safetensors" "$tmp/o/visp2/model.safetensors" "hf-vision read back"
expect 1 "$ex" -q --from "$tmp/o/vis" --to hf-vision --with-projection -o "$tmp/o/vis2p"
has "$tmp/err" "has no visual_projection to write" "no projection to write"
expect 0 "$ex" -q --from "$tmp/o/vis" --to hf-vision -o "$tmp/o/vis2" --check
same_file "$tmp/o/vis/model.safetensors" "$tmp/o/vis2/model.safetensors" "hf-vision without projection read back"
expect 1 "$ex" -q --from "$tmp/o/vis" --to hf -o "$tmp/o/vis2hf"
has "$tmp/err" "vision tower alone can only be written --to hf-vision" "vision -> hf refused"

# ---- architectures: names and JSON, good and bad
cat >"$tmp/oc-eos.json" <<'EOF'
{"embed_dim": 16, "quick_gelu": true,
 "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8, "mlp_ratio": 2.0, "patch_size": 8},
 "text_cfg": {"context_length": 77, "vocab_size": 256, "width": 32, "heads": 4, "layers": 2, "mlp_ratio": 2.0,
              "pool_type": "eos", "eos_id": 255}}
EOF
expect 0 "$ex" -q --from "$oc" --config "$tmp/oc-eos.json" --to hf -o "$tmp/o/eos.hf"
has "$tmp/o/eos.hf/config.json" '"eos_token_id": 255' "pool_type eos -> eos_token_id"
sed 's/"layers": 2, "mlp_ratio": 2.0,$/"layers": 1, "mlp_ratio": 2.0,/' "$tmp/oc-eos.json" >"$tmp/oc-l1.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/oc-l1.json" --to hf -o "$tmp/o/l1"
has "$tmp/err" "tensor transformer.resblocks.1.ln_1.weight is not part of the model" "extra tensor named"
sed 's/"layers": 2, "mlp_ratio": 2.0,$/"layers": 3, "mlp_ratio": 2.0,/' "$tmp/oc-eos.json" >"$tmp/oc-l3.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/oc-l3.json" --to hf -o "$tmp/o/l3"
has "$tmp/err" "missing tensor transformer.resblocks.2.ln_1.weight \[32\]" "missing tensor named with its shape"
has "$tmp/err" "hint: the architecture given does not match" "architecture hint"
sed 's/"width": 32, "heads": 4/"width": 24, "heads": 4/' "$tmp/oc-eos.json" >"$tmp/oc-w.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/oc-w.json" --to hf -o "$tmp/o/w"
has "$tmp/err" "token_embedding.weight: shape \[256, 32\] in the file, \[256, 24\] in the config" "both shapes named"
expect 1 "$ex" -q --from "$oc" --arch ViT-B-32 --to hf -o "$tmp/o/b32"
has "$tmp/err" "visual.conv1.weight: shape \[32, 3, 8, 8\] in the file, \[768, 3, 32, 32\] in the config" "wrong --arch"
expect 1 "$ex" -q --from "$oc" --arch ViT-Q-99 --to hf -o "$tmp/o/q"
has "$tmp/err" "ViT-Q-99: no such model config" "unknown architecture"
has "$tmp/err" "ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336" "the names listed"
sed 's/"embed_dim": 16,/"embed_dim": 16, "vision_cfg_x": 1, "init_logit_bias": -10,/' "$tmp/oc-eos.json" >"$tmp/oc-siglip.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/oc-siglip.json" --to hf -o "$tmp/o/s"
has "$tmp/err" "init_logit_bias: -10 is not supported (a logit bias: SigLIP)" "unsupported key named"
sed 's/"patch_size": 8}/"patch_size": 8, "timm_model_name": "vit_base"}/' "$tmp/oc-eos.json" >"$tmp/oc-timm.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/oc-timm.json" --to hf -o "$tmp/o/t"
has "$tmp/err" "vision_cfg.timm_model_name" "timm tower refused"
printf '{"embed_dim": 16,' >"$tmp/bad.json"
expect 1 "$ex" -q --from "$oc" --config "$tmp/bad.json" --to hf -o "$tmp/o/b"
has "$tmp/err" "bad.json:1:" "bad JSON: file and line"
expect 1 "$ex" -q --from "$fx/tiny-gelu" --arch tiny --to hf -o "$tmp/o/a"
has "$tmp/err" "carries its own config.json" "--arch with an HF input"

# ---- outputs: never half-written, never clobbered
expect 1 "$ex" -q --from "$fx/tiny-gelu" --to hf -o "$tmp/o/tiny-gelu.hf"
has "$tmp/err" "tiny-gelu.hf: exists" "existing output refused"
has "$tmp/err" "hint: --force replaces an earlier export" "--force hint"
expect 0 "$ex" -q --from "$fx/tiny-img64" --to hf -o "$tmp/o/tiny-gelu.hf" --force
same_file "$tmp/o/tiny-gelu.hf/model.safetensors" "$fx/tiny-img64/model.safetensors" "--force replaced it"
expect 0 "$ex" -q --from "$fx/tiny-img64" --to hf-vision -o "$tmp/o/tiny-gelu.hf" --force
[ ! -e "$tmp/o/tiny-gelu.hf/vocab.json" ] && ok || fail "--force left files of the old export"
mkdir -p "$tmp/o/user/sub"
expect 1 "$ex" -q --from "$fx/tiny-gelu" --to hf -o "$tmp/o/user" --force
has "$tmp/err" "holds sub, which is not a plain file; not replaced" "a directory with subdirectories is kept"
[ -d "$tmp/o/user/sub" ] && ok || fail "the user's directory was touched"
mkdir "$tmp/o/empty"
expect 0 "$ex" -q --from "$fx/tiny-gelu" --to hf -o "$tmp/o/empty/"
[ -s "$tmp/o/empty/model.safetensors" ] && ok || fail "an empty directory is taken"
echo keep >"$tmp/o/afile"
expect 1 "$ex" -q --from "$fx/tiny-gelu" --to hf -o "$tmp/o/afile" --force
has "$tmp/err" "exists and is not a directory" "a file is never replaced"
has "$tmp/o/afile" "^keep$" "the file is intact"
expect 1 "$ex" -q --from "$fx/tiny-gelu" --to hf -o "$tmp/no/such/dir"
has "$tmp/err" "cannot create a directory beside it" "missing parent"
no_temp "refused outputs"

# ---- bad inputs
expect 1 "$ex" -q --from "$tmp/nonexistent" --to hf -o "$tmp/o/n"
has "$tmp/err" "nonexistent" "missing input named"
expect 1 "$ex" -q --from "$fx" --to hf -o "$tmp/o/n"
has "$tmp/err" "no config.json (Hugging Face) or open_clip_config.json" "not a model directory"
expect 1 "$ex" -q --from "$fx/tiny-gelu/inputs.safetensors" --to hf -o "$tmp/o/n"
has "$tmp/err" "no CLIP vision tower in it" "not a model file"
expect 1 "$ex" -q --from "$fx/tiny-gelu/model.safetensors" --to hf -o "$tmp/o/n"
has "$tmp/err" "give the directory that holds it" "an HF weights file alone"
expect 1 "$ex" -q --from "$fx/tiny-gelu/config.json" --to hf -o "$tmp/o/n"
head -c 100000 "$oc" >"$tmp/trunc.safetensors"
expect 1 "$ex" -q --from "$tmp/trunc.safetensors" --to hf -o "$tmp/o/n"
has "$tmp/err" "trunc.safetensors" "truncated file named"
mkdir "$tmp/d"
cp "$fx/tiny-quickgelu/config.json" "$tmp/d/config.json"
expect 1 "$ex" -q --from "$tmp/d" --to hf -o "$tmp/o/n"
has "$tmp/err" "no model.safetensors" "HF directory without weights"
head -c 100000 "$fx/tiny-quickgelu/model.safetensors" >"$tmp/d/model.safetensors"
expect 1 "$ex" -q --from "$tmp/d" --to hf -o "$tmp/o/n"
sed 's/"hidden_size": 32,/"hidden_size": 64,/' "$fx/tiny-quickgelu/config.json" >"$tmp/d/config.json"
cp "$fx/tiny-quickgelu/model.safetensors" "$tmp/d/model.safetensors"
expect 1 "$ex" -q --from "$tmp/d" --to hf -o "$tmp/o/n"
has "$tmp/err" "shape \[32\] in the file, \[64\] in the config" "HF shape mismatch: both shapes"
[ ! -e "$tmp/o/n" ] && ok || fail "a failed input left an output"
no_temp "bad inputs"

echo "export-cli: $passes passed, $fails failed"
[ "$fails" -eq 0 ]
