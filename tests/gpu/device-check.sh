#!/usr/bin/env bash
# device-check.sh - everything a short stay on a GPU machine (one H100 or
# H200, PyTorch and transformers installed, no network) should yield, in one
# run of at most 8 minutes (issue 12, point 3): configure --enable-cuda,
# build, make check (the kernel tests and the whole-model parity tests run on
# the device when there is one), tests/bench/bench-gpu.sh at ViT-B/32 batch
# 256 and ViT-L/14 batch 64; every figure as JSON and every log in OUT.
# Each stage runs under `timeout` with its own budget, cut to what is left
# of the whole; the summary records which ran, passed, failed or timed out,
# and is written after every stage and at exit, whatever happened.
#
# usage: tests/gpu/device-check.sh [--smoke] [--compile] [--deps DIR]
#                                  [--prebuilt FILE] [OUT]
#   OUT        the results' directory (default $OUT); created if missing;
#              only the five files below are written there
#   --smoke    the same stages on the CPU, here: the build directory's own
#              configure again (config.status --recheck, no --enable-cuda),
#              a few tests, bench-gpu.sh --smoke (the tiny models, 1 thread)
#   --compile  also torch.compile the PyTorch reference (give the bench
#              stages more time: DC_TIME_BENCH)
#   --deps DIR unpack DIR/*.deb (the build's -dev packages and their
#              libraries, apt-get download'ed elsewhere) under the scratch
#              directory and build against them: for a machine that lacks them
#   --prebuilt FILE  no configure and no build: unpack FILE (made by
#              tests/gpu/pack.sh on a machine that builds rclip) into BUILD
#              (default build-prebuilt/), check that its programs find every
#              library (the CUDA toolkit's and PyTorch's wheels' directories
#              are added for cuBLASLt and NCCL), run the GPU tests
#              (tests/gpu/run-tests.sh) and the bench with its programs
# environment:
#   PYTHON          the Python of the reference (default: the first of
#                   $RCLIP_VENV/bin/python, ~/.cache/rclip/venv/bin/python,
#                   python3 that imports torch)
#   BUILD           build directory (default build-cuda/; --smoke: build/)
#   DC_BUDGET       seconds for the whole run (default 480)
#   DC_TIME_CONFIGURE, DC_TIME_BUILD, DC_TIME_CHECK, DC_TIME_BENCH
#                   each stage's budget (default 50, 160, 110, 60 and 80
#                   for the two bench runs; DC_TIME_BENCH sets both)
#   DC_CHECK_TESTS  run only these tests in make check (TESTS=...)
#   DC_BENCH        the bench runs, MODEL:BATCH ... (default "ViT-B-32:256
#                   ViT-L-14:64"; --smoke: "tiny:8 tiny:4 tiny-siglip:4")
#   DC_JOBS         make -j (default nproc)
#
# Files in OUT: device-check.json (the summary: stages, test counts and
# failed tests, every bench figure, the machine and versions),
# device-check.log (this script's log), device-check-logs.tar.gz (each
# stage's log, the test logs, the bench runs' files), and
# bench-gpu-MODEL-BATCH.json for each bench run. Scratch files (the bench's
# shards, TMPDIR of every stage) go under the build directory, not /tmp.
# Exit status: 0 when every stage passed, 1 when one did not, 2 usage.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
smoke=0 compile='' deps='' prebuilt='' out=${OUT:-}
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1; shift ;;
	--compile) compile=--compile; shift ;;
	--deps) deps=$(cd "$2" && pwd) || exit 2; shift 2 ;;
	--prebuilt) prebuilt=$(cd "$(dirname "$2")" && pwd)/$(basename "$2") || exit 2
		[ -f "$prebuilt" ] || { echo "device-check: no pack $2" >&2; exit 2; }
		shift 2 ;;
	-h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) echo "device-check: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) out=$1; shift ;;
	esac
done
[ -n "$out" ] || { echo "device-check: no OUT directory (argument or \$OUT)" >&2; exit 2; }
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 2
budget=${DC_BUDGET:-480}
start=$(date +%s)
deadline=$((start + budget))
jobs=${DC_JOBS:-$(nproc 2>/dev/null || echo 2)}
if [ $smoke = 1 ]; then
	build=${BUILD:-$root/build}
	benches=${DC_BENCH:-tiny:8 tiny:4 tiny-siglip:4}
	check_tests=${DC_CHECK_TESTS-tests/layers.sh tests/cli/synth-cli.sh tests/cli/train-resume.sh}
elif [ -n "$prebuilt" ]; then
	build=${BUILD:-$root/build-prebuilt}
	benches=${DC_BENCH:-ViT-B-32:256 ViT-L-14:64}
	check_tests=
else
	build=${BUILD:-$root/build-cuda}
	benches=${DC_BENCH:-ViT-B-32:256 ViT-L-14:64}
	check_tests=${DC_CHECK_TESTS:-}
fi
mkdir -p "$build" && build=$(cd "$build" && pwd) || exit 2
scratch=$build/device-check
rm -rf "$scratch"
mkdir -p "$scratch/logs" "$scratch/tmp"
logs=$scratch/logs
export TMPDIR=$scratch/tmp
summary=$out/device-check.json
rm -f "$summary" "$out/device-check.log" "$out/device-check-logs.tar.gz" "$out"/bench-gpu-*.json
exec > >(tee "$out/device-check.log") 2>&1

say() { printf '[%4ds] %s\n' $(($(date +%s) - start)) "$*"; }
jstr() { # a JSON string of $1 on one line
	printf '"%s"' "$(printf '%s' "$1" | tr '\n\t' '  ' | tr -d '\000-\037' |
		sed 's/\\/\\\\/g; s/"/\\"/g')"
}
jnull() { if [ -n "$1" ]; then jstr "$1"; else printf null; fi; }

stages=() # one JSON object per stage, in order
status_of=() # "name=status" per stage
stage_ok() { printf '%s\n' "${status_of[@]}" | grep -qx "$1=ok"; }

# run_stage NAME BUDGET CMD...: CMD under timeout, its output in
# logs/NAME.log; returns 0 when it exited 0.
run_stage() {
	local name=$1 want=$2 t0 left t rc st
	shift 2
	t0=$(date +%s)
	left=$((deadline - t0 - 10))
	if [ "$left" -lt 10 ]; then
		say "$name: skipped, no time left"
		record "$name" skipped "" 0 0 "no time left of the ${budget}s"
		return 1
	fi
	t=$((want < left ? want : left))
	say "$name: up to ${t}s: $*"
	timeout -k 10 "$t" "$@" >"$logs/$name.log" 2>&1
	rc=$?
	case $rc in
	0) st=ok ;;
	124 | 137) st="timed out" ;;
	*) st=failed ;;
	esac
	say "$name: $st (exit $rc) in $(($(date +%s) - t0))s"
	[ $rc = 0 ] || tail -n 5 "$logs/$name.log" | sed 's/^/    /'
	record "$name" "$st" "$rc" "$(($(date +%s) - t0))" "$t" "$(tail -n 1 "$logs/$name.log" 2>/dev/null)"
	return $rc
}

# record NAME STATUS RC SECONDS LIMIT NOTE
record() {
	status_of+=("$1=$2")
	local log=null
	[ "$2" = skipped ] || log=$(jstr "logs/$1.log")
	stages+=("$(printf '{"name": %s, "status": %s, "rc": %s, "seconds": %s, "limit_s": %s, ' \
		"$(jstr "$1")" "$(jstr "$2")" "${3:-null}" "$4" "$5")\"log\": $log, \"note\": $(jnull "$6")}")
	write_summary running
}

skip() { local n=$1; shift; say "$n: skipped ($*)"; record "$n" skipped "" 0 0 "$*"; }

check_counts() { # the results of the tests make check ran this time
	local marker=$scratch/check.start
	[ -f "$marker" ] || { printf null; return; }
	local trs
	trs=$(find "$build" -name '*.trs' -newer "$marker" 2>/dev/null | sort)
	printf '{'
	for r in PASS FAIL SKIP XFAIL XPASS ERROR; do
		printf '"%s": %d, ' "$r" "$(printf '%s\n' "$trs" | grep . | xargs -r grep -l "^:test-result: $r" | wc -l)"
	done
	printf '"failed": ['
	printf '%s\n' "$trs" | grep . | xargs -r grep -lE '^:test-result: (FAIL|ERROR|XPASS)' |
		sed "s|^$build/||; s|\.trs$||" | while read -r t; do printf '%s, ' "$(jstr "$t")"; done |
		sed 's/, $//'
	printf ']}'
}

write_summary() {
	local f b tmpf=$summary.tmp
	{
		printf '{\n "script": "tests/gpu/device-check.sh", "issue": 12, "state": %s, "smoke": %s,\n' \
			"$(jstr "$1")" "$([ $smoke = 1 ] && echo true || echo false)"
		printf ' "started": %s, "wall_s": %d, "budget_s": %d, "build": %s, "python": %s,\n' \
			"$(jstr "$(date -u -d "@$start" +%Y-%m-%dT%H:%M:%SZ)")" $(($(date +%s) - start)) "$budget" \
			"$(jstr "$build")" "$(jstr "${PYTHON:-}")"
		printf ' "machine": %s,\n' "${machine:-null}"
		printf ' "stages": [\n  %s\n ],\n' "$(IFS=$'\n'
			printf '%s' "${stages[*]:-}" | sed '2,$s/^/  /' | sed '$!s/$/,/')"
		printf ' "check": %s,\n "bench": {' "$(check_counts)"
		f=1
		for b in "$out"/bench-gpu-*.json; do
			[ -s "$b" ] || continue
			[ $f = 1 ] || printf ','
			f=0
			printf '\n  %s: ' "$(jstr "$(basename "$b" .json)")"
			cat "$b"
		done
		printf '}\n}\n'
	} >"$tmpf" && mv "$tmpf" "$summary"
}

# shellcheck disable=SC2317 # (the EXIT trap)
finish() {
	local rc=$? state=ok s
	trap - EXIT INT TERM
	for s in "${status_of[@]}"; do
		case ${s#*=} in ok) ;; skipped) [ "$state" = ok ] && state=incomplete ;; *) state=failed ;; esac
	done
	[ "${1:-}" = interrupted ] && state=interrupted
	write_summary "$state"
	# the logs: every stage's, the bench runs', and the test logs of this run
	if [ -f "$scratch/check.start" ]; then
		mkdir -p "$logs/tests"
		(cd "$build" && find . \( -name '*.log' -o -name '*.trs' \) -newer "$scratch/check.start" \
			-not -path './device-check/*' -print0 | xargs -0r cp --parents -t "$logs/tests")
	fi
	tar -C "$scratch" -czf "$out/device-check-logs.tar.gz" logs 2>/dev/null
	say "done: $state; summary in $summary"
	[ "$state" = ok ] && exit 0
	exit $((rc ? rc : 1))
}
trap finish EXIT
trap 'finish interrupted' INT TERM

# ---------------------------------------------------------------- machine
if [ -z "${PYTHON:-}" ]; then
	for p in "${RCLIP_VENV:+$RCLIP_VENV/bin/python}" "${HOME:-/root}/.cache/rclip/venv/bin/python" python3; do
		[ -n "$p" ] || continue
		if "$p" -c 'import torch' >/dev/null 2>&1; then PYTHON=$p; break; fi
	done
	PYTHON=${PYTHON:-python3}
fi
export PYTHON
# the tests look for their Python at $RCLIP_VENV: the one with torch, if a venv
if [ -z "${RCLIP_VENV:-}" ] && [ ! -x "${HOME:-/root}/.cache/rclip/venv/bin/python" ]; then
	v=$("$PYTHON" -c 'import sys; print(sys.prefix if sys.prefix != sys.base_prefix else "")' 2>/dev/null)
	[ -n "$v" ] && [ -x "$v/bin/python" ] && export RCLIP_VENV=$v
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
pyv=$(timeout 60 "$PYTHON" -c '
import importlib
v = []
for m in ("torch", "transformers", "open_clip"):
    try:
        v.append("%s %s" % (m, importlib.import_module(m).__version__))
    except Exception:
        v.append("%s none" % m)
import torch
v.append("cuda %s" % (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"))
print(", ".join(v))' 2>/dev/null)
nvccv=$(nvcc --version 2>/dev/null | sed -n 's/.*release /release /p')
kv() { printf '"%s": %s' "$1" "$2"; }
machine="{$(kv host "$(jstr "$(hostname 2>/dev/null)")"), $(kv nproc "$(nproc 2>/dev/null || echo null)"),
  $(kv kernel "$(jstr "$(uname -r)")"), $(kv gpu "$(jnull "$gpu")"), $(kv nvcc "$(jnull "$nvccv")"),
  $(kv cc "$(jstr "$(${CC:-cc} --version 2>/dev/null | head -n 1)")"),
  $(kv python_packages "$(jnull "$pyv")"), $(kv rclip_venv "$(jnull "${RCLIP_VENV:-}")"),
  $(kv disk_free_build_kib "$(df -Pk "$build" | awk 'NR == 2 { print $4 }')"),
  $(kv disk_free_tmp_kib "$(df -Pk /tmp | awk 'NR == 2 { print $4 }')")}"
say "machine: ${gpu:-no GPU}; ${nvccv:-no nvcc}; $PYTHON: ${pyv:-no torch}"
say "build in $build, results in $out, ${budget}s in all"
write_summary running

# ---------------------------------------------------------------- stages
if [ -n "$deps" ]; then
	# The build's libraries from .deb files: headers and .pc files with
	# their prefix moved under the scratch directory.
	d=$scratch/deps
	# shellcheck disable=SC2016 # expanded by that shell
	if run_stage deps 30 sh -c 'mkdir -p "$2" && for f in "$1"/*.deb; do dpkg -x "$f" "$2" || exit 1; done &&
		find "$2" -name "*.pc" -exec sed -i "s|^prefix=/usr|prefix=$2/usr|; s|=/usr/|=$2/usr/|" {} +' \
		sh "$deps" "$d"; then
		lib=$(find "$d" -type d -name pkgconfig -printf '%p:' 2>/dev/null)
		export PKG_CONFIG_PATH=${lib}${PKG_CONFIG_PATH:-}
		lib=$(find "$d" -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
		export LD_LIBRARY_PATH=${lib}${LD_LIBRARY_PATH:-} LIBRARY_PATH=${lib}${LIBRARY_PATH:-}
		export CPATH=$d/usr/include${CPATH:+:$CPATH}
	fi
fi

cd "$build" || exit 1
if [ -n "$prebuilt" ]; then
	# the pack: its libraries first, then the big CUDA ones where this
	# machine keeps them (the toolkit, PyTorch's nvidia-* wheels)
	# shellcheck disable=SC2016 # expanded by that shell
	run_stage unpack 60 sh -c 'tar -xJf "$1" -C "$2" 2>/dev/null ||
		"$3" -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$1" "$2"' \
		sh "$prebuilt" "$build" "$PYTHON"
	sed 's/^/    /' "$build/PACK" 2>/dev/null
	cudalib=$("$PYTHON" -c 'import glob, os, nvidia
print(":".join(sorted({os.path.dirname(f) for p in nvidia.__path__
	for f in glob.glob(os.path.join(p, "*", "lib", "lib*.so*"))})))' 2>/dev/null)
	for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
		[ -d "$d" ] && cudalib=${cudalib:+$cudalib:}$d
	done
	export LD_LIBRARY_PATH=$build/lib${cudalib:+:$cudalib}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	say "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
	# shellcheck disable=SC2016 # expanded by that shell
	stage_ok unpack && run_stage libraries 30 sh -c 'bad=0
		for p in "$1"/tools/rclip-* "$1"/tests/cuda/*-gpu "$1"/tests/cli/train-helper; do
			m=$(ldd "$p" | grep "not found") || continue
			echo "$m" | sed "s|^|$(basename "$p"): |"
			bad=1
		done
		exit $bad' sh "$build"
	if stage_ok libraries; then
		touch "$scratch/check.start"
		run_stage check "${DC_TIME_CHECK:-110}" bash "$root/tests/gpu/run-tests.sh" "$build"
		bench_build=$build
	else
		skip check "the pack did not unpack, or its programs miss a library"
		bench_build=$scratch/no-build
	fi
elif [ $smoke = 1 ] && [ -x config.status ]; then
	run_stage configure "${DC_TIME_CONFIGURE:-50}" sh -c './config.status --recheck && ./config.status'
else
	if [ ! -x "$root/configure" ]; then
		if command -v autoreconf >/dev/null; then
			run_stage autoreconf 60 sh -c "cd '$root' && mkdir -p build-aux/m4 && autoreconf -fi"
		else
			skip autoreconf "no configure and no autoreconf: carry configure, Makefile.in," \
				"config.h.in, aclocal.m4 and build-aux from a checkout that ran autoreconf -fi"
		fi
	fi
	if [ -x "$root/configure" ] && ! command -v autoreconf >/dev/null; then
		# carried autotools outputs: one time stamp, so that make does not
		# try to regenerate them without automake
		(cd "$root" && touch aclocal.m4 configure config.h.in Makefile.in)
	fi
	if [ -x "$root/configure" ]; then
		if [ $smoke = 1 ]; then
			run_stage configure "${DC_TIME_CONFIGURE:-50}" "$root/configure"
		else
			run_stage configure "${DC_TIME_CONFIGURE:-50}" "$root/configure" --enable-cuda
		fi
	else
		skip configure "no configure script"
	fi
fi
[ -f config.log ] && cp config.log "$logs/config.log"
if [ -n "$prebuilt" ]; then
	: # nothing to build
elif stage_ok configure; then
	grep -E '^(#define (HAVE_CUDA|HAVE_NCCL|HAVE_MPI))' config.h >"$logs/features.txt" 2>/dev/null
	run_stage build "${DC_TIME_BUILD:-160}" make -j"$jobs"
else
	skip build "configure did not pass"
fi
if [ -n "$prebuilt" ]; then
	: # checked above
elif stage_ok build; then
	touch "$scratch/check.start"
	if [ -n "$check_tests" ]; then
		run_stage check "${DC_TIME_CHECK:-110}" make -j"$jobs" check TESTS="$check_tests"
	else
		run_stage check "${DC_TIME_CHECK:-110}" make -j"$jobs" check
	fi
	bench_build=$build
else
	skip check "the build did not pass"
	bench_build=$scratch/no-build # the bench runs the reference alone
fi

i=0
for c in $benches; do
	i=$((i + 1))
	name=bench-$(echo "$c" | tr ':' '-')
	if [ $i = 1 ]; then t=${DC_TIME_BENCH:-60}; else t=${DC_TIME_BENCH:-80}; fi
	left=$((deadline - $(date +%s) - 10))
	[ "$left" -lt "$t" ] && t=$left
	# each program gets under half the stage, so that a hung rclip leaves
	# time for the reference
	per=$(((t - 5) / 2))
	[ "$per" -lt 5 ] && per=5
	sm=()
	[ $smoke = 1 ] && sm=(--smoke)
	run_stage "$name" "$t" env BUILD="$bench_build" "$root/tests/bench/bench-gpu.sh" \
		${sm[@]+"${sm[@]}"} -c "$c" -t "$per" $compile --logs "$logs/$name" \
		-o "$out/bench-gpu-$(echo "$c" | tr ':' '-').json"
done
exit 0
