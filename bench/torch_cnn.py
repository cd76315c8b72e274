"""PyTorch side of bench/bench_cnn.cpp: the same CNN kernels on the same shapes, forward + backward, 2 threads.

Run with /usr/bin/python3 (PyTorch 1.13). Prints a JSON object {benchmark name: median milliseconds}, the names
matching bench_cnn's (without the layout / implementation suffix). Each timing is the median of 7 repeats of a
loop long enough to take ~0.2 s, after a warm-up.
"""
import json
import statistics
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)


def median_ms(fn, min_time=0.2, repeats=7):
    for _ in range(3):
        fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        if time.perf_counter() - t0 >= min_time / 4:
            break
        n *= 2
    n = max(1, int(n * (min_time / 4) / max(time.perf_counter() - t0, 1e-9)))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n * 1e3)
    return statistics.median(times)


def conv_case(xs, ws, input_grad):
    x = torch.randn(*xs, requires_grad=input_grad)
    w = torch.randn(*ws, requires_grad=True)
    b = torch.randn(ws[0], requires_grad=True)
    g = torch.randn_like(F.conv2d(x.detach(), w.detach(), b.detach()))

    def step():
        y = F.conv2d(x, w, b)
        y.backward(g)
        w.grad = None
        b.grad = None
        x.grad = None

    return median_ms(step)


def batch_norm_case(shape):
    c = shape[1]
    x = torch.randn(*shape, requires_grad=True)
    w = torch.ones(c, requires_grad=True)
    b = torch.zeros(c, requires_grad=True)
    rm, rv = torch.zeros(c), torch.ones(c)
    g = torch.randn(*shape)

    def step():
        y = F.batch_norm(x, rm, rv, w, b, training=True)
        y.backward(g)
        x.grad = w.grad = b.grad = None

    return median_ms(step)


def max_pool_case():
    x = torch.randn(128, 64, 24, 24, requires_grad=True)
    g = torch.randn(128, 64, 12, 12)

    def step():
        y = F.max_pool2d(x, 2)
        y.backward(g)
        x.grad = None

    return median_ms(step)


results = {
    "BM_Conv1": conv_case((128, 1, 28, 28), (32, 1, 3, 3), False),
    "BM_Conv2": conv_case((128, 32, 26, 26), (64, 32, 3, 3), True),
    "BM_BatchNorm/128x32x26x26": batch_norm_case((128, 32, 26, 26)),
    "BM_BatchNorm/128x128": batch_norm_case((128, 128)),
    "BM_MaxPool": max_pool_case(),
}
print(json.dumps(results))
