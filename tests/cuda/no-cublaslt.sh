#!/bin/sh
# no-cublaslt.sh - stands in for tests/cuda/test_gemm where configure found
# the CUDA headers but not libcublasLt: the emulated GEMM builds its
# descriptors with the real library, so it cannot be built (77: skip).
echo "no-cublaslt.sh: tests/cuda/test_gemm needs libcublasLt (cuBLASLt descriptors: no in configure): not built" >&2
exit 77
