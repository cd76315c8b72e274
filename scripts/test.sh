#!/usr/bin/env bash
# The README's test command:  bash scripts/test.sh
#
# Installs the missing Debian packages (scripts/setup.sh), configures build/ (scripts/configure.sh: Release, Ninja,
# TRIDENT_CUDA=AUTO), builds everything with all cores, and runs the whole test suite with ctest. Exits non-zero when
# any step or any test fails. Environment: TRIDENT_BUILD_DIR (default build), TRIDENT_CMAKE_ARGS (extra cmake options),
# TRIDENT_SKIP_SETUP=1 (skip the package check).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${TRIDENT_BUILD_DIR:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
jobs=$(nproc 2>/dev/null || echo 2)
start=$SECONDS

bash scripts/setup.sh --tests
bash scripts/configure.sh
cmake --build "$build" -j "$jobs"

# ctest prints its summary ("100% tests passed, 0 tests failed out of N") before the list of failures; print it again
# as the last line, where a CI log's tail shows it, and fail when ctest gave none (it crashed, or found no tests).
log="$build/ctest.log"
set +e
(cd "$build" && ctest --output-on-failure -j "$jobs") 2>&1 | tee "$log"
ctest_status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
if [ -z "$summary" ]; then
  echo "test.sh: ctest printed no summary line (status $ctest_status); see $log" >&2
  exit 1
fi
echo
echo "test.sh: $summary ($((SECONDS - start)) s in all)"
exit "$ctest_status"
