#!/usr/bin/env bash
# Configure trident's build directory the way the README's commands build it:
# Release, Ninja, the CUDA backend when nvcc and cuBLAS are found (TRIDENT_CUDA=AUTO; /usr/local/cuda is looked at),
# tests, examples and benchmarks all on.
#
#   bash scripts/configure.sh [extra cmake -D options]
#
# Environment: TRIDENT_BUILD_DIR (default: build, relative to the repository root), TRIDENT_CMAKE_ARGS (extra options,
# split on spaces, e.g. "-DTRIDENT_SANITIZE=address,undefined -DCMAKE_CUDA_ARCHITECTURES=90").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TRIDENT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac

args=(-DCMAKE_BUILD_TYPE=Release -DTRIDENT_CUDA=AUTO -DTRIDENT_BUILD_TESTS=ON -DTRIDENT_BUILD_EXAMPLES=ON
      -DTRIDENT_BUILD_BENCH=ON)
# A build directory keeps the generator it was first configured with; ask for Ninja only in a new one.
[ -f "$build/CMakeCache.txt" ] || args+=(-G Ninja)
read -ra extra <<< "${TRIDENT_CMAKE_ARGS:-}"
args+=("${extra[@]}" "$@")

cmake -S "$root" -B "$build" "${args[@]}"
