#!/bin/sh
# train-gpu.sh - train-emu.sh's checks on a real GPU: the training job on
# the CUDA backend against the CPU's, a checkpoint moved between them, and
# bf16 against fp32. Exit 77 where there is no GPU (the driver says so).
DRIVER=train-gpu exec sh "$(dirname "$0")/train-emu.sh"
