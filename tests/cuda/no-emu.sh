#!/bin/sh
# no-emu.sh - stands in for the CUDA kernel tests (tests/cuda/test_*.cc)
# where configure found no CUDA headers or no C++17 compiler, or was given
# --disable-cuda-emu: they cannot be built, so they are skipped (77).
echo "no-emu.sh: the CUDA kernel tests need the toolkit's headers (cuda_bf16.h) and a C++17 compiler: not built" >&2
exit 77
