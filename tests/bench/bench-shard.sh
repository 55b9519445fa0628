#!/bin/sh
# Throughput of rclip-shard against a Pillow pipeline doing the same work
# (decode -> CLIP resize + center crop -> JPEG encode), on a generated set
# of 2,000 JPEGs around 500x375, one thread each; then rclip-shard on all
# cores, and its peak memory for 2,000 and for 20,000 records.
# Informative: always exits 0 unless its own setup fails.
#
# usage: tests/bench/bench-shard.sh [-n RUNS] [RCLIP_SHARD]
# environment: PYTHON (default: the fixtures venv, $RCLIP_VENV or
#   ~/.cache/rclip/venv, else python3; it needs Pillow), THREADS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=3
if [ "${1:-}" = "-n" ]; then runs=$2; shift 2; fi
bin=${1:-}
if [ -z "$bin" ]; then
	for b in "$root/build/tools/rclip-shard" "$root/tools/rclip-shard"; do
		if [ -x "$b" ]; then bin=$b; break; fi
	done
fi
[ -x "$bin" ] || { echo "bench-shard: no rclip-shard binary (build first)" >&2; exit 1; }
threads=${THREADS:-$(nproc 2>/dev/null || echo 1)}
if [ -z "${PYTHON:-}" ]; then
	venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
	if [ -x "$venv/bin/python" ]; then PYTHON=$venv/bin/python; else PYTHON=python3; fi
fi
py="$here/bench_shard_ref.py"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rclip-bench-shard.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "generating 2000 JPEGs ..." >&2
"$PYTHON" "$py" make-images "$tmp/img" 2000
m="$tmp/img/manifest.jsonl"
# 20,000 records: the same images ten times over, under other keys.
for i in 0 1 2 3 4 5 6 7 8 9; do sed "s/\"caption\": \"/\"caption\": \"copy $i of /" "$m"; done >"$tmp/img/m20k.jsonl"

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }

# rclip-shard: wall time of the whole run (process start included)
rclip_rate() { # threads manifest records
	for r in $(seq 1 "$runs"); do
		rm -rf "$tmp/out"; mkdir "$tmp/out"
		t0=$(now)
		"$bin" -q -j "$1" -o "$tmp/out/s" "$2"
		t1=$(now)
		echo "$3 $t0 $t1" | awk '{printf "%.1f\n", $1 / ($3 - $2)}'
	done | median
}
pillow_rate() {
	for r in $(seq 1 "$runs"); do
		"$PYTHON" "$py" pillow "$m" 224 95 | sed 's/.*records_per_s=\([0-9.]*\).*/\1/'
	done | median
}
rss() { # manifest
	rm -rf "$tmp/out"; mkdir "$tmp/out"
	/usr/bin/time -f %M "$bin" -q -j 1 -o "$tmp/out/s" "$1" 2>&1 >/dev/null | tail -n 1
}

r1=$(rclip_rate 1 "$m" 2000)
rn=$(rclip_rate "$threads" "$m" 2000)
p1=$(pillow_rate)
pver=$("$PYTHON" -c 'import PIL; print(PIL.__version__)')
rss2k=$(rss "$m")
rss20k=$(rss "$tmp/img/m20k.jsonl")

echo "data:   2000 JPEGs around 500x375 (bench_shard_ref.py), S=224, JPEG quality 95; median of $runs runs"
echo "rclip:  $bin (wall time, process start included)"
echo "Pillow: $pver, one process: open, convert(RGB), resize BICUBIC, crop, save JPEG q95"
echo
printf '%-24s %8s %12s %16s\n' pipeline threads records/s records/s/thread
printf '%-24s %8d %12.1f %16.1f\n' "rclip-shard -j 1" 1 "$r1" "$r1"
printf '%-24s %8d %12.1f %16.1f\n' "rclip-shard -j $threads" "$threads" "$rn" "$(echo "$rn $threads" | awk '{print $1 / $2}')"
printf '%-24s %8d %12.1f %16.1f\n' "Pillow" 1 "$p1" "$p1"
echo
echo "rclip/Pillow per core: $(echo "$r1 $p1" | awk '{printf "%.2f", $1 / $2}')"
echo "peak RSS of rclip-shard -j 1: ${rss2k} KiB for 2000 records, ${rss20k} KiB for 20000 records"
