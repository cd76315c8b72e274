#!/usr/bin/env bash
# The README's demo command:  bash scripts/demo.sh
#
# Installs the missing Debian packages (scripts/setup.sh), configures build/ (scripts/configure.sh), builds only the
# demo program, fetches MNIST once (scripts/fetch-mnist.sh, verified by MD5) and runs the demo: examples/mnist_embed
# trains a digit embedding with batch-hard triplet loss for one epoch and reports its retrieval accuracy
# (Precision@1, R-Precision, MAP@R), writing its plots and report.html into mnist_embed_out/. Arguments are passed to
# the program (e.g. --loss proxy-anchor --epochs 2, or --dim 2). Environment: as scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TRIDENT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
jobs=$(nproc 2>/dev/null || echo 2)

demo_target=mnist_embed
demo_program="$build/examples/mnist_embed/mnist_embed"

bash scripts/setup.sh
bash scripts/configure.sh
cmake --build "$build" -j "$jobs" --target "$demo_target"
bash scripts/fetch-mnist.sh
echo
exec "$demo_program" "$@"
