#!/usr/bin/python3
# PyTorch side of the reduction/softmax comparison (run with /usr/bin/python3, torch 1.13, 2 threads).
# Prints the same lines as bench/time_reduce_softmax.cpp: "<case>: min <ms> median <ms>".
import time

import torch

torch.set_num_threads(2)
REPS = 40


def bench(name, f):
    for _ in range(3):
        f()
    ts = []
    for _ in range(REPS):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    ts.sort()
    print(f"{name:28s} min {ts[0] * 1e3:8.3f} ms   median {ts[len(ts) // 2] * 1e3:8.3f} ms")


torch.manual_seed(0)
x = torch.randn(4096, 4096)
s = torch.randn(4096, 1000)
xg = s.clone().requires_grad_()
g = torch.randn(4096, 1000)
bench("sum [4096,4096] dim 1", lambda: x.sum(1))
bench("sum [4096,4096] dim 0", lambda: x.sum(0))
bench("sum [4096,4096] all", lambda: x.sum())
bench("amax [4096,4096] dim 1", lambda: x.amax(1))
bench("argmax [4096,1000] dim 1", lambda: s.argmax(1))
bench("softmax [4096,1000] dim 1", lambda: torch.softmax(s, 1))
bench("log_softmax [4096,1000] dim 1", lambda: torch.log_softmax(s, 1))
bench("softmax [4096,1000] dim 0", lambda: torch.softmax(s, 0))
y = torch.softmax(s, 1)
bench("softmax backward", lambda: torch._softmax_backward_data(g, y, 1, torch.float32))
ly = torch.log_softmax(s, 1)
bench("log_softmax backward", lambda: torch._log_softmax_backward_data(g, ly, 1, torch.float32))
