#!/usr/bin/env bash
# The README's demo command:  bash scripts/demo.sh
#
# Installs the missing Debian packages (scripts/setup.sh), configures build/ (scripts/configure.sh), builds only the
# demo program and runs it. Arguments are passed to the program. Environment: as scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TRIDENT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
jobs=$(nproc 2>/dev/null || echo 2)

# The demo: examples/quickstart (a linear regression trained with autograd) until the MNIST example arrives.
demo_target=quickstart
demo_program="$build/examples/quickstart/quickstart"

bash scripts/setup.sh
bash scripts/configure.sh
cmake --build "$build" -j "$jobs" --target "$demo_target"
echo
exec "$demo_program" "$@"
