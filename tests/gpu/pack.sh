#!/usr/bin/env bash
# pack.sh - the GPU checks built here, for a GPU machine that cannot build
# rclip (it has nvcc and PyTorch but not the C libraries of the build, and
# nothing can be fetched there). Builds the programs and the GPU tests in
# an existing CUDA build directory and packs them, with the shared
# libraries they load that such a machine may lack, into one file that
# tests/gpu/device-check.sh --prebuilt FILE runs from. Left out: the C
# library and the compiler's runtime (every machine has them) and the
# CUDA libraries too large to carry (cuBLASLt, NCCL), which
# device-check.sh finds in the CUDA toolkit or PyTorch's wheels there.
#
# usage: tests/gpu/pack.sh [-o FILE]
#   -o FILE   the pack (default gpu-pack.tar.xz in the repository root,
#             which .gitignore ignores: carry it to the GPU machine)
# environment: BUILD (default build/: configured with the CUDA backend),
#   PACK_LIMIT_MIB (default 48: the most the pack may weigh, leaving room
#   in the 64 MiB that travels to the machine)
# Exit status: 0 packed, 1 the build or the pack failed, 2 usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BUILD:-$root/build}
out=$root/gpu-pack.tar.xz
while [ $# -gt 0 ]; do
	case $1 in
	-o) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "pack.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
say() { echo "pack.sh: $*" >&2; }
[ -f "$build/config.h" ] || { say "$build is not a configured build directory (set BUILD)"; exit 1; }
grep -q '^#define HAVE_CUDA 1' "$build/config.h" ||
	{ say "$build has no CUDA backend (configure found no nvcc?)"; exit 1; }

gpu_tests=(test_layernorm test_embed test_pool test_cast test_act test_gemm test_loss
	test_adamw test_attention test_attnpool test_backend)
progs=(tools/rclip-train tools/rclip-eval tools/rclip-retrieve tools/rclip-shard
	tools/rclip-synth tools/rclip-tokenize tools/rclip-export tests/cli/train-helper
	tests/cuda/train-gpu)
for t in "${gpu_tests[@]}"; do progs+=("tests/cuda/$t-gpu"); done
say "building ${#progs[@]} programs in $build"
make -C "$build" -j"$(nproc 2>/dev/null || echo 2)" "${progs[@]}" >&2

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib"
for p in "${progs[@]}"; do
	mkdir -p "$stage/$(dirname "$p")"
	cp "$build/$p" "$stage/$p"
done
# The libraries to carry: what the programs load, less the C library, the
# compiler's runtime and the big CUDA libraries.
skip='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libgcc_s|libstdc\+\+|libcuda|libcublas|libcublasLt|libnccl)\.so'
missing=0
while read -r name path; do
	if [ "$path" = "not" ]; then
		say "$name: not found here"; missing=1; continue
	fi
	echo "$name" | grep -Eq "$skip" && continue
	cp -L "$path" "$stage/lib/$name"
done < <(for p in "${progs[@]}"; do ldd "$stage/$p"; done |
	awk '$2 == "=>" { print $1, $3 }' | sort -u)
[ $missing = 0 ] || exit 1
# no debugging information: the pack travels within 64 MiB with the tree
find "$stage" -type f \( -path '*/lib/*' -o -perm -u+x \) -exec strip --strip-debug {} +
{
	echo "rclip GPU pack, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit $(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)$(
		git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with changes)')"
	# shellcheck source=/dev/null
	echo "built on $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), $(ldd --version | head -n 1)"
	echo "nvcc $(nvcc --version 2>/dev/null | sed -n 's/.*release //p')"
	grep -E '^#define (HAVE_CUDA|HAVE_NCCL|HAVE_MPI|RCLIP_CUDA_ARCH)' "$build/config.h" || true
	echo "programs: ${progs[*]}"
	echo "libraries: $(cd "$stage/lib" && echo *)"
} >"$stage/PACK"
tar -C "$stage" -cJf "$out.tmp" .
mib=$(( $(stat -c %s "$out.tmp") >> 20 ))
if [ "$mib" -gt "${PACK_LIMIT_MIB:-48}" ]; then
	rm -f "$out.tmp"
	say "the pack weighs ${mib} MiB, over ${PACK_LIMIT_MIB:-48}"; exit 1
fi
mv "$out.tmp" "$out"
say "$out: ${mib} MiB, $(find "$stage/lib" -type f | wc -l) libraries"
