#!/usr/bin/python3
"""PyTorch's side of bench/compare_core.sh: the operations of bench_core (and bench_softmax), same shapes, dtypes
and thread count, timed the same way (wall clock, warm-up first, median of repeats).

Prints one JSON object to stdout: {benchmark name: milliseconds per call}, keyed by the names bench_core gives
its benchmarks (without the "/real_time" suffix) so that the comparison script can join the two, plus "_torch":
the torch version and the BLAS it was built with (matmul speed depends on it: Debian's torch uses a generic BLAS).

Run with /usr/bin/python3 (the interpreter that has torch 1.13).
"""
import json
import statistics
import sys
import time

import torch

THREADS = 2
WARMUP_CALLS = 3
REPEATS = 7
MIN_REPEAT_SECONDS = 0.05  # each repeat runs enough calls to last at least this long


def median_ms(fn):
    """Median over REPEATS of the mean wall time of one call, in milliseconds."""
    for _ in range(WARMUP_CALLS):
        fn()
    calls = 1
    while True:  # calibrate the calls per repeat
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start >= MIN_REPEAT_SECONDS:
            break
        calls *= 2
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times) * 1e3


def main():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    results = {}
    with torch.no_grad():
        for n in (256, 512, 1024, 2048):
            a, b = torch.randn(n, n), torch.randn(n, n)
            results[f"BM_Matmul/F32/{n}"] = median_ms(lambda: torch.matmul(a, b))
        for n in (256, 1024):
            a, b = torch.randn(n, n, dtype=torch.float64), torch.randn(n, n, dtype=torch.float64)
            results[f"BM_Matmul/F64/{n}"] = median_ms(lambda: torch.matmul(a, b))
        a, b = torch.randn(8, 8), torch.randn(8, 8)
        results["BM_Matmul/F32Tiny/8"] = median_ms(lambda: torch.matmul(a, b))

        n = 16 * 1024 * 1024
        a, b = torch.randn(n), torch.randn(n)
        results["BM_Add/F32/16M"] = median_ms(lambda: torch.add(a, b))
        results["BM_Mul/F32/16M"] = median_ms(lambda: torch.mul(a, b))

        x = torch.randn(4096, 4096)
        results["BM_SumLastDim/F32/4096x4096"] = median_ms(lambda: torch.sum(x, dim=-1))

        logits = torch.randn(4096, 1000)
        results["BM_Softmax/F32/4096x1000"] = median_ms(lambda: torch.softmax(logits, dim=-1))
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")),
                "unknown")
    results["_torch"] = {"version": torch.__version__, "blas": blas, "threads": torch.get_num_threads()}
    json.dump(results, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
