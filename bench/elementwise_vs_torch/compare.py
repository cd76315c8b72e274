# PyTorch counterpart of main.cpp: the same ops, sizes and thread count; prints the same lines.
# Run with the interpreter that has torch 1.13: /usr/bin/python3 bench/elementwise_vs_torch/compare.py [op [reps]]
import sys
import time

import torch

torch.set_num_threads(2)
N = 16 * 1024 * 1024
a = torch.rand(N)
b = torch.rand(N) + 1
c = torch.empty(N)
x = torch.rand(1 << 20) * 8 - 4
xp = torch.rand(1 << 20) * 3.99 + 0.01


def min_time_us(f, reps):
    f()
    f()
    best = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best * 1e6


which = sys.argv[1] if len(sys.argv) > 1 else "all"
reps_override = int(sys.argv[2]) if len(sys.argv) > 2 else 0
for name, f, reps in [
    ("add", lambda: torch.add(a, b), 30),
    ("mul", lambda: torch.mul(a, b), 30),
    ("add_out", lambda: torch.add(a, b, out=c), 30),
    ("mul_out", lambda: torch.mul(a, b, out=c), 30),
    ("relu", lambda: torch.relu(x), 200),
    ("sigmoid", lambda: torch.sigmoid(x), 200),
    ("exp", lambda: torch.exp(x), 200),
    ("tanh", lambda: torch.tanh(x), 200),
    ("log", lambda: torch.log(xp), 200),
    ("softplus", lambda: torch.nn.functional.softplus(x), 200),
]:
    if which in ("all", name):
        print(f"{name:10s} {min_time_us(f, reps_override or reps):10.1f} us")
