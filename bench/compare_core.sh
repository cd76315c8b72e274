#!/usr/bin/env bash
# trident against PyTorch on the core-engine benchmarks, as one table.
#
#   bench/compare_core.sh <build dir>
#
# The build dir must have been configured with -DTRIDENT_BUILD_BENCH=ON and built (this script builds nothing).
# It runs <build dir>/bench/bench_core and bench_softmax with
# Google Benchmark's JSON output, and bench/torch_core.py with /usr/bin/python3, both on OMP_NUM_THREADS=2
# threads, and prints
#   op | trident ms | torch ms | ratio
# where ratio = torch ms / trident ms (above 1: trident is faster). Both sides report the median: Google Benchmark
# over BENCH_REPETITIONS repetitions (default 5), torch_core.py over 7 repeats after a warm-up.
# The row "oneDNN direct" is oneDNN's matmul primitive called without trident: the ceiling for trident's float32
# matmul, not a trident measurement.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 <build dir>" >&2
  exit 2
fi
build_dir=$1
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bench_core="$build_dir/bench/bench_core"
bench_softmax="$build_dir/bench/bench_softmax"
if [[ ! -x "$bench_core" ]]; then
  echo "$0: $bench_core not found: configure $build_dir with -DTRIDENT_BUILD_BENCH=ON and build bench_core" >&2
  exit 1
fi

export OMP_NUM_THREADS=2
repetitions=${BENCH_REPETITIONS:-5}
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT

benchmark_args=(--benchmark_format=json --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true)
echo "running bench_core ($repetitions repetitions) ..." >&2
"$bench_core" "${benchmark_args[@]}" >"$work_dir/trident_core.json"
if [[ -x "$bench_softmax" ]]; then
  echo "running bench_softmax ..." >&2
  "$bench_softmax" "${benchmark_args[@]}" >"$work_dir/trident_softmax.json"
fi
echo "running torch_core.py ..." >&2
/usr/bin/python3 "$script_dir/torch_core.py" >"$work_dir/torch.json"

/usr/bin/python3 - "$work_dir" <<'PY'
import glob
import json
import os
import sys

work_dir = sys.argv[1]
to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}

# trident: name (without "/real_time") -> (median ms, counters)
trident = {}
for path in sorted(glob.glob(os.path.join(work_dir, "trident_*.json"))):
    with open(path) as f:
        report = json.load(f)
    for b in report["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).removesuffix("/real_time")
        trident[name] = (b["real_time"] * to_ms[b["time_unit"]], b)
with open(os.path.join(work_dir, "torch.json")) as f:
    torch_ms = json.load(f)

# (label, trident benchmark, torch key)
rows = [
    ("matmul f32 256^3", "BM_Matmul/F32/256", "BM_Matmul/F32/256"),
    ("matmul f32 512^3", "BM_Matmul/F32/512", "BM_Matmul/F32/512"),
    ("matmul f32 1024^3", "BM_Matmul/F32/1024", "BM_Matmul/F32/1024"),
    ("matmul f32 2048^3", "BM_Matmul/F32/2048", "BM_Matmul/F32/2048"),
    ("  oneDNN direct f32 1024^3 (reference)", "BM_OneDnnMatmul/F32/1024", "BM_Matmul/F32/1024"),
    ("matmul f32 8^3 (per-call overhead)", "BM_Matmul/F32Tiny/8", "BM_Matmul/F32Tiny/8"),
    ("  oneDNN direct f32 8^3 (reference)", "BM_OneDnnMatmul/F32Tiny/8", "BM_Matmul/F32Tiny/8"),
    ("matmul f64 256^3", "BM_Matmul/F64/256", "BM_Matmul/F64/256"),
    ("matmul f64 1024^3", "BM_Matmul/F64/1024", "BM_Matmul/F64/1024"),
    ("add f32 16M", "BM_Add/F32/16M", "BM_Add/F32/16M"),
    ("mul f32 16M", "BM_Mul/F32/16M", "BM_Mul/F32/16M"),
    ("sum last dim f32 [4096, 4096]", "BM_SumLastDim/F32/4096x4096", "BM_SumLastDim/F32/4096x4096"),
    ("softmax rows f32 [4096, 1000]", "BM_Softmax/F32/4096x1000", "BM_Softmax/F32/4096x1000"),
]


def fmt_ms(v):
    return "-" if v is None else (f"{v:.4f}" if v < 0.1 else f"{v:.3f}")


table = [("op", "trident ms", "torch ms", "ratio")]
for label, t_name, p_name in rows:
    t = trident.get(t_name, (None, None))[0]
    p = torch_ms.get(p_name)
    if t is None and p is None:
        continue
    ratio = "-" if t is None or p is None else f"{p / t:.2f}"
    table.append((label, fmt_ms(t), fmt_ms(p), ratio))
widths = [max(len(r[i]) for r in table) for i in range(4)]
for i, r in enumerate(table):
    print(" | ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j]) for j, c in enumerate(r)))
    if i == 0:
        print("-+-".join("-" * w for w in widths))
info = torch_ms.get("_torch", {})
print(f"(torch {info.get('version', '?')}, {info.get('threads', '?')} threads, BLAS: {info.get('blas', '?')};"
      f" trident and torch both on OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
if "BM_Softmax/F32/4096x1000" not in trident:
    print("(softmax: trident side not built: build the bench_softmax target)")

print("\nmatmul GFLOP/s (2 n^3 / median time):")
for name in ("BM_Matmul/F32/256", "BM_Matmul/F32/512", "BM_Matmul/F32/1024", "BM_Matmul/F32/2048",
             "BM_OneDnnMatmul/F32/1024", "BM_Matmul/F64/256", "BM_Matmul/F64/1024"):
    if name not in trident:
        continue
    n = int(name.rsplit("/", 1)[1])
    gflops = 2 * n**3 / (trident[name][0] * 1e-3) / 1e9
    torch_key = name.replace("BM_OneDnnMatmul", "BM_Matmul")
    torch_gflops = 2 * n**3 / (torch_ms[torch_key] * 1e-3) / 1e9 if torch_key in torch_ms else None
    who = "oneDNN direct" if "OneDnn" in name else "trident"
    extra = f"   (torch {torch_gflops:.1f})" if torch_gflops else ""
    print(f"  {who:13s} {name.split('/', 1)[1]:10s} {gflops:7.1f}{extra}")
PY
