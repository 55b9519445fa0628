#!/bin/sh
# rclip against PyTorch on one device, in the same run (issue 12, point 4):
# for each MODEL:BATCH (default ViT-B-32:256 and ViT-L-14:64), rclip-train
# stage 1 from a random init (--init-config) on a synthetic shard set
# (rclip-synth, rclip-shard --store raw at the model's image size) and
# rclip-retrieve embed of its images, then tests/bench/bench_gpu_ref.py (the
# same recipe step in transformers.CLIPModel, SDPA, bf16 autocast, fused
# AdamW). Figures: training samples/s (rclip: the median of metrics.jsonl's
# samples_per_s after the warm-up steps; PyTorch: batch / median step time),
# MFU (both from the same FLOP count, bench_gpu_ref.py's docstring), peak
# memory, rclip's data-wait share (when metrics.jsonl has it), image
# embedding images/s (rclip: rows the full list has more than its first
# shard over the seconds it takes more, the median of RUNS pairs, so model
# loading cancels; PyTorch: embed batch / median batch time), and the
# targets of issue 12 with pass or fail. A table on stdout, JSON to -o FILE
# (default $OUT/bench-gpu.json when $OUT is set, else the last line of
# stdout). When rclip cannot run on the device (no CUDA backend, no build)
# its figures are null and the output says why; the reference still runs.
# A SigLIP model (issue 15: the SigLIP built-ins, tiny-siglip) trains with
# --loss siglip (the SigLIP stage-1 weights 0.6/0.3/0.5) on shards of
# SigLIP's preprocessing and context 64 (rclip-shard --model: a config.json
# of the model, from bench_gpu_ref.py, beside a tokenizer fixture of
# tests/fixtures/spm/: SigLIP's SentencePiece for a vocabulary of 32000,
# the Gemma BPE of SigLIP2, lowercased, for 256000; the fixtures are small,
# their ids within the model's vocabulary, and the texts are padded to 64
# whatever their ids); the reference is transformers.SiglipModel on the
# same recipe (bench_gpu_ref.py's docstring).
# On SIGTERM or SIGINT (a caller's time limit) it stops the program running
# and writes what it has, that side marked interrupted (exit 143).
# Informative: exits 0 unless its own setup fails.
#
# usage: tests/bench/bench-gpu.sh [--smoke] [-d DEV] [-c MODEL:BATCH]... [-s STEPS]
#          [-w WARMUP] [-e EMBED_BATCH] [-k EMBED_BATCHES] [-r RUNS] [-j THREADS]
#          [-t SECONDS] [--compile] [--peak-tflops X] [--store raw|jpeg]
#          [--logs DIR] [-o FILE]
#   -d DEV     cuda (default), cuda:N, cpu or auto, for both sides
#   -c M:B     a model (ViT-B-32, ViT-L-14, tiny, SigLIP-B-16-224,
#              SigLIP-So400M-14-384, SigLIP2-So400M-14-384,
#              SigLIP2-Giant-Opt-16-384, tiny-siglip) and its batch; repeatable
#   -s, -w     timed and warm-up training steps (default 20 and 3)
#   -e, -k     embedding batch (default 256) and batches (default 16)
#   -r RUNS    rclip embedding runs (pairs; default 3)
#   -j N       rclip's -j and torch's threads (default: all cores)
#   -t SECONDS limit for each program run (default 600)
#   --compile  torch.compile the reference's forward (slow to start)
#   --store    shard pixels raw (default: no JPEG decoding, like the
#              reference's uint8 tensors) or as JPEG (rclip decodes)
#   --logs DIR keep each model's programs' logs and outputs under DIR
#   --smoke    the tiny models (tiny, tiny-siglip) on the CPU, 1 thread, a
#              few steps: the plumbing, here, without a GPU
# environment: BUILD (default build/), PYTHON (default: the fixtures venv,
#   else python3; the reference needs torch and transformers), TMPDIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py="$here/bench_gpu_ref.py"
usage() {
	sed -n '/^# usage:/,/^# environment/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
smoke=0
for a in "$@"; do [ "$a" = --smoke ] && smoke=1; done
if [ $smoke = 1 ]; then
	dev=cpu configs="tiny:8 tiny:4 tiny-siglip:4" steps=3 warm=1 ebatch=8 ebatches=4 runs=2 threads=1
else
	dev=cuda configs='' steps=20 warm=3 ebatch=256 ebatches=16 runs=3
	threads=$(nproc 2>/dev/null || echo 1)
fi
limit=600 compile='' peak='' store=raw logs='' json='' cfg_given=''
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) shift ;;
	-d) dev=$2; shift 2 ;;
	-c) cfg_given="$cfg_given $2"; shift 2 ;;
	-s) steps=$2; shift 2 ;;
	-w) warm=$2; shift 2 ;;
	-e) ebatch=$2; shift 2 ;;
	-k) ebatches=$2; shift 2 ;;
	-r) runs=$2; shift 2 ;;
	-j) threads=$2; shift 2 ;;
	-t) limit=$2; shift 2 ;;
	--compile) compile=--compile; shift ;;
	--peak-tflops) peak=$2; shift 2 ;;
	--store) store=$2; shift 2 ;;
	--logs) logs=$2; shift 2 ;;
	-o) json=$2; shift 2 ;;
	*) usage ;;
	esac
done
[ -n "$cfg_given" ] && configs=$cfg_given
[ -n "$configs" ] || configs="ViT-B-32:256 ViT-L-14:64"
case $store in raw | jpeg) ;; *) usage ;; esac
for c in $configs; do
	case $c in *:*[!0-9]* | *: | :*) usage ;; *:*) ;; *) usage ;; esac
done
if [ -z "$json" ] && [ -n "${OUT:-}" ]; then json=$OUT/bench-gpu.json; fi
build=${BUILD:-$root/build}
tools="$build/tools"
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
"$PYTHON" -c 'import json' 2>/dev/null || { echo "bench-gpu: no Python ($PYTHON; set PYTHON)" >&2; exit 1; }
say() { echo "bench-gpu: $*" >&2; }
# lim OUT ERR CMD...: CMD with the time limit, stdout to OUT, stderr added
# to ERR; waited for in the background so that a signal to this script (a
# caller's own time limit) is handled at once: the figures so far are
# written before it exits.
lim() {
	o=$1 e=$2
	shift 2
	timeout --foreground -k 5 "$limit" "$@" >"$o" 2>>"$e" &
	child=$!
	wait "$child"
}
child='' phase=''
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-gpu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
reports='' gpu=''

# finish_config: the report of the current model, and its files under --logs.
finish_config() {
	echo
	sm=
	[ $smoke = 1 ] && sm=--smoke
	# shellcheck disable=SC2086
	"$PYTHON" "$py" report --model "$model" --batch "$batch" --device "$dev" --gpu-name "$gpu" \
		$sm --steps "$steps" --warmup-steps "$warm" --embed-batch "$ebatch" --threads "$threads" \
		--tb-len "$tb_len" --trl-len "$trl_len" ${peak:+--peak-tflops "$peak"} \
		--ref "$w/ref.json" --ref-status "$pstatus" --ref-note "$pnote" \
		--metrics "$w/run/metrics.jsonl" --rclip-status "$rstatus" --rclip-note "$rnote" \
		--embed-status "$estatus" --embed-list "$w/embed.pairs" -o "$w/report.json" ||
		{ say "report failed"; exit 1; }
	reports="$reports $w/report.json"
	if [ -n "$logs" ]; then
		mkdir -p "$logs/$tag"
		find "$w" -maxdepth 2 -type f \( -name '*.json' -o -name '*.err' -o -name '*.jsonl' \) \
			-exec cp {} "$logs/$tag/" \;
	fi
}

write_json() {
	ver=$("$tools/rclip-train" --version 2>/dev/null | tr '\n' ' ') || ver=
	# shellcheck disable=SC2086
	"$PYTHON" "$py" combine --info "device=$dev" --info "gpu=$gpu" --info "threads=$threads" \
		--info "store=$store" --info "build=$build" --info "rclip=$ver" \
		--info "host=$(hostname 2>/dev/null || echo)" --info "nproc=$(nproc 2>/dev/null || echo)" \
		--info "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o "${json:--}" $reports
	[ -z "$json" ] || say "wrote $json"
}

# A signal (the caller's time limit): stop the program running, report
# what there is, the side that was running as interrupted.
# shellcheck disable=SC2317 # (the signal trap)
on_signal() {
	trap - INT TERM
	[ -z "$child" ] || kill -TERM "$child" 2>/dev/null # timeout passes it on
	case $phase in
	train) rstatus=interrupted rnote="rclip-train stopped by a signal" ;;
	embed) estatus="interrupted by a signal" ;;
	ref) pstatus=interrupted pnote="stopped by a signal" ;;
	esac
	say "stopped by a signal${phase:+ during $phase}"
	[ -z "$phase" ] || finish_config
	write_json
	exit 143
}
trap on_signal INT TERM
have_rclip=1
for t in rclip-synth rclip-shard rclip-train rclip-retrieve rclip-tokenize; do
	[ -x "$tools/$t" ] || have_rclip=0
done
[ $have_rclip = 1 ] || say "no rclip programs in $tools (set BUILD): the reference alone"
have_torch=0
if "$PYTHON" -c 'import torch, transformers' 2>/dev/null; then have_torch=1; else
	say "no torch and transformers in $PYTHON: rclip alone"
fi
case $dev in
cpu) ;;
*)
	i=$(echo "$dev" | sed -n 's/^cuda:\([0-9]*\)$/\1/p')
	gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader -i "${i:-0}" 2>/dev/null | head -n 1) || gpu=
	;;
esac

# One synthetic world for every model, big enough for the largest need:
# the training items ((WARMUP + STEPS) x BATCH; 9 (tb, trl) pairs per image)
# and the embedded images.
need=$((ebatch * ebatches))
for c in $configs; do
	b=${c#*:}
	n=$(((warm + steps) * b / 9 + 2))
	[ "$n" -gt "$need" ] && need=$n
done
if [ $have_rclip = 1 ]; then
	say "rclip-synth: $need scenes"
	"$tools/rclip-synth" -q -n "$need" --test-frac 0 -o "$tmp/world" ||
		{ say "rclip-synth failed"; exit 1; }
	man="$tmp/world/lite-train.jsonl"
	span() { # LO:HI token count of a stream's captions
		"$PYTHON" "$py" captions "$man" "$1" | "$tools/rclip-tokenize" -q --count |
			sort -n | sed -n '1p;$p' | tr '\n' ':' | sed 's/:$//'
	}
	tb_len=$(span tb) trl_len=$(span trl)
else
	tb_len=9:26 trl_len=6:20 # the lengths of rclip-synth's captions
fi


for c in $configs; do
	model=${c%%:*} batch=${c#*:}
	tag=$(echo "$model-$batch" | tr -c 'A-Za-z0-9.\n-' '_')
	w="$tmp/$tag"
	mkdir -p "$w"
	size=$("$PYTHON" "$py" size "$model") || exit 1
	spm=$("$PYTHON" "$py" siglip-tokenizer "$model") || exit 1 # empty: CLIP
	rstatus=ok rnote='' estatus=ok pstatus="not run" pnote=''
	: >"$w/embed.pairs"
	if [ $have_rclip = 0 ]; then
		rstatus=unavailable rnote="no rclip build at $build"
	else
		d="$tmp/data-$size-$store"
		shard_model='' loss=''
		if [ -n "$spm" ]; then
			# SigLIP: the model's preprocessing and context, the fixture's ids
			d="$tmp/data-$spm-$size-$store" shard_model="$d/model" loss="--loss siglip"
			mkdir -p "$shard_model"
			{ "$PYTHON" "$py" hf-config "$model" >"$shard_model/config.json" &&
				cp "$root/tests/fixtures/spm/$spm/"* "$shard_model/"; } ||
				{ say "no SigLIP model directory for rclip-shard"; exit 1; }
		fi
		if [ ! -f "$d/lite.list" ]; then
			say "rclip-shard: $need images at ${size}px, $store${spm:+, $spm tokenizer}"
			mkdir -p "$d"
			# the size (CLIP), or the model directory (SigLIP2's lowercased)
			if [ -z "$spm" ]; then set -- -s "$size"
			elif [ "$spm" = siglip2 ]; then set -- --model "$shard_model" --lowercase
			else set -- --model "$shard_model"; fi
			"$tools/rclip-shard" -q "$@" --store "$store" --records-per-shard "$ebatch" \
				-j "$threads" -o "$d/lite" "$man" || { say "rclip-shard failed"; exit 1; }
			# the first shard alone: the short embedding run
			{ grep '^#' "$d/lite.list"; grep -v '^#' "$d/lite.list" | head -n 1; } > "$d/first.list"
		fi
		say "$model batch $batch: rclip-train --device $dev, $warm + $steps steps"
		rc=0 phase=train
		# shellcheck disable=SC2086 # $loss is empty or two words
		lim /dev/null "$w/train.err" "$tools/rclip-train" --stage 1 --init-config "$model" \
			--data "$d/lite.list" --batch "$batch" --steps $((warm + steps)) --shuffle none \
			--device "$dev" -j "$threads" -q --out "$w/run" $loss || rc=$?
		if [ $rc = 0 ]; then :
		elif grep -q 'built without the CUDA backend' "$w/train.err"; then
			rstatus=unavailable rnote="rclip cannot run on $dev: $(grep -m1 'built without' "$w/train.err")"
		elif [ $rc = 124 ] || [ $rc = 137 ]; then
			rstatus="timed out" rnote="rclip-train ran past ${limit}s"
		else
			rstatus=failed rnote="rclip-train exit $rc: $(tail -n 1 "$w/train.err")"
		fi
		[ "$rstatus" = ok ] || say "$rnote"
		if [ "$rstatus" = ok ]; then
			say "$model: rclip-retrieve embed, $runs x (1 and $ebatches batches of $ebatch)"
			phase=embed
			for r in $(seq "$runs"); do
				for part in first lite; do
					rc=0
					lim /dev/null "$w/embed.err" "$tools/rclip-retrieve" embed \
						--model "$w/run/final.safetensors" --images "$d/$part.list" -o "$w/emb.npy" \
						-b "$ebatch" --device "$dev" -j "$threads" -q \
						--report "$w/embed-$part-$r.json" || rc=$?
					[ $rc = 0 ] || estatus="rclip-retrieve embed exit $rc: $(tail -n 1 "$w/embed.err")"
				done
				echo "$w/embed-first-$r.json,$w/embed-lite-$r.json" >>"$w/embed.pairs"
			done
			rm -f "$w/emb.npy" "$w/run/final.safetensors"
			[ "$estatus" = ok ] || say "$estatus"
		fi
	fi
	pstatus=ok
	if [ $have_torch = 1 ]; then
		say "$model batch $batch: PyTorch reference on $dev"
		rc=0 phase=ref
		# shellcheck disable=SC2086 # $compile is empty or one word
		lim "$w/ref.json" "$w/ref.err" env OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" \
			"$PYTHON" "$py" bench --model "$model" --batch "$batch" --device "$dev" --steps "$steps" \
			--warmup-steps "$warm" --tb-len "$tb_len" --trl-len "$trl_len" \
			--embed-batch "$ebatch" --embed-batches "$ebatches" -j "$threads" $compile \
			${peak:+--peak-tflops "$peak"} || rc=$?
		if [ $rc = 124 ] || [ $rc = 137 ]; then pstatus="timed out" pnote="ran past ${limit}s"
		elif [ $rc != 0 ]; then pstatus=failed pnote="exit $rc: $(tail -n 1 "$w/ref.err")"; fi
		[ "$pstatus" = ok ] || say "the PyTorch side: $pstatus: $pnote"
	else
		pstatus=unavailable pnote="no torch and transformers in $PYTHON"
	fi
	phase=''
	finish_config
done

write_json
exit 0
