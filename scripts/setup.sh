#!/usr/bin/env bash
# Install the Debian 12 packages that trident's build and tests need, but only those that are missing.
#
#   bash scripts/setup.sh [--tests]
#
# --tests also installs what only the test suite uses (scripts/test-packages.txt: headless Chromium, which renders the
# examples' report.html in a test); scripts/test.sh passes it.
# When everything is present it prints nothing and exits at once (it only asks dpkg-query), so the other scripts call
# it on every run. Otherwise it runs `apt-get update` and `apt-get install` for the missing packages: directly when run
# as root, else through `sudo -n` (never a password prompt: CI has no stdin), else it stops and prints the command to
# run. The libraries are listed in scripts/debian-packages.txt (shared with the GPU packer); the tools below.
# TRIDENT_SKIP_SETUP=1 skips the check (for machines that are not Debian and have the dependencies some other way).
set -euo pipefail

[ "${TRIDENT_SKIP_SETUP:-0}" = 1 ] && exit 0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=(g++ cmake ninja-build pkg-config ccache)
# One package per line; '#' starts a comment; blank lines are ignored.
mapfile -t libraries < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/debian-packages.txt" | grep -v '^$')
if [ "${1:-}" = --tests ]; then
  mapfile -t -O "${#libraries[@]}" libraries < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/test-packages.txt" | grep -v '^$')
fi
wanted=("${tools[@]}" "${libraries[@]}")

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "setup.sh: dpkg-query not found: this script installs Debian 12 packages. Install the equivalents of" >&2
  echo "  ${wanted[*]}" >&2
  echo "yourself, then run again with TRIDENT_SKIP_SETUP=1." >&2
  exit 1
fi

# Prints the wanted packages that are not installed (one dpkg-query call for all of them).
missing_packages() {
  local -A installed=()
  local package status
  while read -r package status; do
    [[ "$status" == *" installed" ]] && installed[$package]=1
  done < <(dpkg-query -W -f='${Package} ${Status}\n' "${wanted[@]}" 2>/dev/null || true)
  for package in "${wanted[@]}"; do
    [ -n "${installed[$package]:-}" ] || echo "$package"
  done
}

mapfile -t missing < <(missing_packages)
[ ${#missing[@]} -eq 0 ] && exit 0

install_command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "setup.sh: these Debian packages are missing: ${missing[*]}" >&2
  echo "setup.sh: installing them needs root, and sudo is not available without a password. Run, as root:" >&2
  echo "  $install_command" >&2
  echo "(or: sudo sh -c '$install_command'), then run this command again." >&2
  exit 1
fi

echo "setup.sh: installing missing Debian packages: ${missing[*]}" >&2
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" update </dev/null >&2 ||
   ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null >&2; then
  echo "setup.sh: apt-get failed; the command was: $install_command" >&2
  exit 1
fi

mapfile -t still_missing < <(missing_packages)
if [ ${#still_missing[@]} -ne 0 ]; then
  echo "setup.sh: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi
echo "setup.sh: done" >&2
