#!/usr/bin/env bash
# tests/run.sh - the whole test run, from a fresh clone on a fresh machine:
# dependencies, autoreconf, a normal build + make check in build/, then an
# ASan+UBSan build + make check in build-asan/. Ends with one summary line.
#
# usage: tests/run.sh            (from any directory)
# Environment: RCLIP_CONFIGURE_FLAGS  extra configure arguments for both builds
#              RCLIP_SKIP_DEPS=1      do not run build-aux/install-deps.sh
#              RCLIP_SKIP_ASAN=1      only the normal build
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd -P)
jobs=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
read -r -a extra_flags <<<"${RCLIP_CONFIGURE_FLAGS:-}"
builds=(build)
[ "${RCLIP_SKIP_ASAN:-0}" = 1 ] || builds+=(build-asan)
step="start"
failed=()

section() {
	step=$*
	printf '\n==== %s ====\n' "$*"
}

# shellcheck disable=SC2317 # (run from the EXIT trap)
# Sum a counter ("# PASS:  3") over the test-suite.log of every build.
count() {
	local total=0 n b
	for b in "${builds[@]}"; do
		[ -f "$root/$b/test-suite.log" ] || continue
		n=$(sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$root/$b/test-suite.log" | head -n 1)
		total=$((total + ${n:-0}))
	done
	echo "$total"
}

# shellcheck disable=SC2317 # (the EXIT trap)
summary() {
	local status=$?
	trap - EXIT
	local pass fail skip
	pass=$(($(count PASS) + $(count XFAIL)))
	fail=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
	skip=$(count SKIP)
	echo
	if [ "$status" != 0 ]; then
		if [ ${#failed[@]} = 0 ]; then
			failed=("$step")
		fi
		local f
		for f in "${failed[@]}"; do
			echo "run.sh: failed: $f"
		done
		[ "$fail" != 0 ] || fail=1 # a failed build is a failed test
	fi
	echo "tests: $pass passed, $fail failed, $skip skipped"
	exit "$status"
}
trap summary EXIT

# Print the log of each test whose result is not PASS, SKIP or XFAIL.
show_failures() {
	local trs
	find "$1" -name '*.trs' | sort | while read -r trs; do
		if grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
			echo "---- ${trs%.trs}.log ----"
			cat "${trs%.trs}.log" 2>/dev/null || echo "(no log)"
		fi
	done
}

# build DIR [configure arguments...]: configure out of tree, make, check.
# Runs under `||`, where set -e does not apply: each step is checked.
build() {
	local dir=$1
	shift
	section "configure ($dir)"
	rm -rf "${root:?}/$dir"
	mkdir -p "$root/$dir"
	cd "$root/$dir" || return 1
	if ! ../configure "$@" "${extra_flags[@]}"; then
		failed+=("configure ($dir)")
		cd "$root"
		return 1
	fi
	section "make ($dir)"
	if ! make -j"$jobs"; then
		failed+=("make ($dir)")
		cd "$root"
		return 1
	fi
	section "make check ($dir)"
	if ! make -j"$jobs" check; then
		failed+=("make check ($dir)")
		section "failed tests ($dir)"
		show_failures "$root/$dir"
		cd "$root"
		return 1
	fi
	cd "$root"
}

if [ "${RCLIP_SKIP_DEPS:-0}" != 1 ]; then
	section "dependencies"
	build-aux/install-deps.sh
fi

section "autoreconf"
mkdir -p build-aux/m4 # git does not keep the empty directory
autoreconf -fi

status=0
build build || status=1

if [ "${RCLIP_SKIP_ASAN:-0}" != 1 ]; then
	# Leak checking stays on; UBSan stops at the first finding.
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	# CXXFLAGS too: the CUDA kernel tests are C++ (tests/cuda/)
	san="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	build build-asan CFLAGS="$san" CXXFLAGS="$san" \
		LDFLAGS="-fsanitize=address,undefined" || status=1
fi

exit $status
