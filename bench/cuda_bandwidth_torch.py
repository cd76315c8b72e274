"""The operations of bench/cuda_bandwidth.cpp in PyTorch, for comparison (same sizes, same byte counts, GB/s)."""
import sys
import time

import torch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 26
side = 8192
dev = torch.device("cuda:0")
f4 = 4.0 * n


def report(name, nbytes, f, iters=20):
    f()
    f()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        f()
    torch.cuda.synchronize()
    ms = (time.perf_counter() - t0) * 1e3 / iters
    print(f"{name:<44} {ms:9.3f} ms {nbytes / (ms * 1e-3) / 1e9:9.1f} GB/s")


a = torch.full((n,), 1.5, device=dev)
b = torch.full((n,), 0.25, device=dev)
out = torch.empty(n, device=dev)
out_bool = torch.empty(n, dtype=torch.bool, device=dev)
out_f64 = torch.empty(n, dtype=torch.float64, device=dev)
print(f"PyTorch {torch.__version__} CUDA bandwidth, {n} float32 elements ({f4 / 2**20:.0f} MiB per operand)")
report("copy float32", 2 * f4, lambda: out.copy_(a))
report("fill float32", f4, lambda: out.fill_(2.0))
report("unary neg float32", 2 * f4, lambda: torch.neg(a, out=out))
report("unary exp float32", 2 * f4, lambda: torch.exp(a, out=out))
report("unary sigmoid float32", 2 * f4, lambda: torch.sigmoid(a, out=out))
report("binary add float32", 3 * f4, lambda: torch.add(a, b, out=out))
report("binary add tensor + scalar float32", 2 * f4, lambda: torch.add(a, 3.0, out=out))
report("binary lt float32 -> bool", 2 * f4 + f4 / 4, lambda: torch.lt(a, b, out=out_bool))
report("where float32", 3 * f4 + f4 / 4, lambda: torch.where(out_bool, a, b, out=out))
report("convert float32 -> float64", 3 * f4, lambda: out_f64.copy_(a))
report("ops: a + b (allocating the output)", 3 * f4, lambda: a + b)
if n == side * side:
    m = a.view(side, side)
    col = torch.full((side, 1), 2.0, device=dev)
    report("strided copy: transpose 8192x8192", 2 * f4, lambda: out.view(side, side).copy_(m.t()))
    report("broadcast add [8192,8192] + [8192,1]", 2 * f4, lambda: torch.add(m, col, out=out.view(side, side)))
    report("sum over dim 1 of [8192,8192]", f4, lambda: m.sum(1))
    report("sum over dim 0 of [8192,8192]", f4, lambda: m.sum(0))
    report("argmax over dim 1 of [8192,8192]", f4, lambda: m.argmax(1))
report("sum of everything float32", f4, lambda: a.sum())
report("max of everything float32", f4, lambda: a.max())
host = a.cpu()
report("to(cuda) from pageable host memory", f4, lambda: host.to(dev), 5)
report("to(cpu) into pageable host memory", f4, lambda: a.cpu(), 5)
