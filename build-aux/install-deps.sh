#!/usr/bin/env bash
# install-deps.sh - install the Debian packages that rclip's build and tests
# need; with --fixtures also a Python virtual environment for the generators
# of the reference fixtures. Idempotent: a second run installs nothing.
#
# usage: build-aux/install-deps.sh [--fixtures] [--check] [-h]
#   --fixtures  also create or reuse a venv at ${RCLIP_VENV:-~/.cache/rclip/venv}
#               with torch, open_clip, transformers, ... and print its path
#               on stdout (the only thing this script prints on stdout)
#   --check     install nothing: list what is missing, exit 1 if anything is
#
# Environment:
#   RCLIP_VENV             where the venv lives (outside the repository)
# Python packages come from the package index pip is configured with; torch
# from there is large (its CUDA build, which also runs on the CPU): it is
# installed once per venv and reused.
set -euo pipefail

# One entry per need; "a|b" takes the first that this distribution has.
PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libturbojpeg0-dev "libjpeg62-turbo-dev|libjpeg-turbo8-dev|libjpeg-dev"
	libarchive-dev libxxhash-dev xxhash check libjansson-dev
	libutf8proc-dev libspng-dev libwebp-dev libopenblas-dev
	libsleef-dev      # SLEEF: vector exp and tanh for softmax and activations
	libgif-dev libtiff-dev  # GIF and TIFF images (BMP is read by rclip)
	libdnnl-dev       # oneDNN: the CPU backend's bf16 and int8 GEMMs
	libopenmpi-dev openmpi-bin zlib1g-dev
	libsnappy-dev libzstd-dev # Parquet pages (zlib reads the gzip ones)
	clang             # libFuzzer targets
	man-db groff-base # man page checks
	python3
)
FIXTURE_PACKAGES=(python3-venv python3-pip)
PY_PACKAGES=(torch open_clip_torch transformers ftfy regex tokenizers "Pillow>=13" numpy pyarrow
	sentencepiece protobuf) # the last two: tests/fixtures/gen_spm.py
PY_MODULES="torch, open_clip, transformers, ftfy, regex, tokenizers, PIL, numpy, pyarrow, sentencepiece, google.protobuf"

fixtures=0
check_only=0
for arg in "$@"; do
	case $arg in
	--fixtures) fixtures=1 ;;
	--check) check_only=1 ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "install-deps.sh: unknown option: $arg" >&2
		echo "usage: build-aux/install-deps.sh [--fixtures] [--check]" >&2
		exit 2
		;;
	esac
done

say() { echo "install-deps.sh: $*" >&2; }

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# A package apt can install: it has a candidate version.
available() {
	local c
	c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$c" ] && [ "$c" != "(none)" ]
}

updated=0
apt_update() {
	[ $updated = 1 ] && return 0
	say "apt-get update"
	$SUDO apt-get update -qq >&2
	updated=1
}

want=("${PACKAGES[@]}")
[ $fixtures = 1 ] && want+=("${FIXTURE_PACKAGES[@]}")

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	say "warning: not a Debian-like system (no dpkg/apt): install the" \
		"equivalents of these packages yourself:"
	say "  ${want[*]}"
	[ $check_only = 1 ] && exit 1
else
	# The packages (or alternatives) not installed yet.
	missing=()
	for entry in "${want[@]}"; do
		IFS='|' read -r -a alts <<<"$entry"
		ok=0
		for p in "${alts[@]}"; do
			if installed "$p"; then
				ok=1
				break
			fi
		done
		[ $ok = 1 ] || missing+=("$entry")
	done

	if [ ${#missing[@]} = 0 ]; then
		say "all ${#want[@]} packages are installed"
	elif [ $check_only = 1 ]; then
		say "missing: ${missing[*]}"
		exit 1
	else
		SUDO=
		if [ "$(id -u)" != 0 ]; then
			if command -v sudo >/dev/null; then
				SUDO=sudo
			else
				say "error: not root and no sudo: cannot install ${missing[*]}"
				exit 1
			fi
		fi
		# Package lists may be absent (fresh container) or stale: update
		# once when something is not installable as they are.
		pick=()
		for entry in "${missing[@]}"; do
			IFS='|' read -r -a alts <<<"$entry"
			chosen=
			for pass in 1 2; do
				for p in "${alts[@]}"; do
					if available "$p"; then
						chosen=$p
						break 2
					fi
				done
				[ $pass = 1 ] && apt_update
			done
			if [ -z "$chosen" ]; then
				say "error: no installable package for: $entry"
				exit 1
			fi
			pick+=("$chosen")
		done
		say "installing: ${pick[*]}"
		if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
			--no-install-recommends "${pick[@]}" >&2; then
			# Stale lists give 404s on download: update and try again.
			[ $updated = 1 ] && exit 1
			apt_update
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
				--no-install-recommends "${pick[@]}" >&2
		fi
	fi
fi

[ $check_only = 1 ] && exit 0
[ $fixtures = 1 ] || exit 0

# ---------------------------------------------------------------- fixtures venv
venv=${RCLIP_VENV:-${HOME:-/root}/.cache/rclip/venv}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
case "$(realpath -m "$venv")/" in
"$repo"/*)
	say "error: RCLIP_VENV=$venv is inside the repository; put it elsewhere"
	exit 1
	;;
esac
mkdir -p "$(dirname "$venv")"

if [ ! -x "$venv/bin/python" ]; then
	say "creating the virtual environment $venv"
	python3 -m venv "$venv" >&2
fi
py="$venv/bin/python"
# Pillow 13 changed the order of its resize passes for tall images (the
# image fixtures follow Pillow 13); an older one in the venv is upgraded.
if "$py" -c "import $PY_MODULES, PIL; assert int(PIL.__version__.split('.')[0]) >= 13" 2>/dev/null; then
	say "the venv already has: ${PY_PACKAGES[*]}"
else
	"$py" -m pip install -q --upgrade pip >&2
	say "installing ${PY_PACKAGES[*]}"
	"$py" -m pip install -q "${PY_PACKAGES[@]}" >&2
	"$py" -c "import $PY_MODULES"
fi
echo "$venv"
