#!/usr/bin/env bash
# Training throughput of the mnist_classify models (cnn, mlp), trident vs PyTorch 1.13, side by side.
#
# Both sides train the same network on random data of MNIST's shape made beforehand (no file reading while timed):
# WARMUP untimed steps, then STEPS timed ones, batch BATCH, SGD lr 0.05 momentum 0.9, 2 threads (OMP_NUM_THREADS=2,
# torch.set_num_threads(2)). Each measurement is its own process, so peak RSS (getrusage ru_maxrss) is per model.
# The two sides run alternately, REPEATS times each, and the table shows the best (highest images/s) run of each:
# the machine is shared, and the best run is the one least disturbed by others.
#
# Mind which PyTorch this is: Debian's python3-torch 1.13 (/usr/bin/python3) is built with BLAS_INFO=generic, the
# unoptimised reference BLAS (see torch.__config__.show()), so its nn.Linear is slow -- a [128, 784] x [784, 256]
# matmul takes ~8 ms on 2 threads. Its convolutions go through oneDNN (mkldnn) and are representative; the MLP's
# ratio is not what a PyTorch built with MKL or OpenBLAS would give.
#
# Usage: bash bench/train_vs_torch.sh [BUILD_DIR]    (BUILD_DIR holds bench/train_throughput; default: build)
#   env: STEPS (100), WARMUP (10), BATCH (128), REPEATS (3), PYTHON (/usr/bin/python3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
bin=$build/bench/train_throughput
python=${PYTHON:-/usr/bin/python3}
steps=${STEPS:-100}
warmup=${WARMUP:-10}
batch=${BATCH:-128}
repeats=${REPEATS:-3}
export OMP_NUM_THREADS=2

if [[ ! -x $bin ]]; then
  echo "train_vs_torch: $bin not found; build it with: cmake --build $build --target train_throughput" >&2
  exit 1
fi

field() {  # field NAME LINE -> the value of NAME=... in LINE
  sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"
}
best() {  # best LINES -> the line with the highest images_per_s
  awk '{ for (i = 1; i <= NF; ++i) if ($i ~ /^images_per_s=/) { split($i, a, "="); v = a[2] }
    if (v > bv) { bv = v; bl = $0 } } END { print bl }' <<<"$1"
}

printf "steps %s after %s warm-up, batch %s, 2 threads, best of %s runs\n\n" "$steps" "$warmup" "$batch" "$repeats"
printf "%-5s %16s %16s %8s %18s %18s\n" model "trident img/s" "torch img/s" ratio "trident RSS MiB" "torch RSS MiB"
for model in cnn mlp; do
  ours="" theirs=""
  for ((r = 0; r < repeats; ++r)); do
    ours+=$("$bin" --model "$model" --steps "$steps" --warmup "$warmup" --batch "$batch" --threads 2)$'\n'
    theirs+=$("$python" "$here/torch_mnist_train.py" --model "$model" --steps "$steps" --warmup "$warmup" \
      --batch "$batch" --threads 2)$'\n'
  done
  o=$(best "$ours")
  t=$(best "$theirs")
  oi=$(field images_per_s "$o") ti=$(field images_per_s "$t")
  printf "%-5s %16s %16s %7.2fx %18s %18s\n" "$model" "$oi" "$ti" "$(awk "BEGIN { print $oi / $ti }")" \
    "$(field peak_rss_mb "$o")" "$(field peak_rss_mb "$t")"
done
