"""PyTorch's side of bench/train_throughput.cpp: training steps per second of the mnist_classify models.

Run with /usr/bin/python3 (PyTorch 1.13). The same models (examples/mnist_classify/models.h), the same kind of random
data made before timing (8 batches of N(0, 1) images of MNIST's shape used in turn, fresh random labels each step), SGD lr 0.05 momentum 0.9, `warmup` untimed steps then `steps` timed ones, 2 threads. Prints
one line in train_throughput's format:
    torch model=cnn batch=128 steps=100 seconds=... images_per_s=... peak_rss_mb=...
peak_rss_mb is resource.getrusage's ru_maxrss (KiB on Linux) in MiB: the whole process, the Python interpreter and
the torch library included, as trident's figure includes its program.

Usage: /usr/bin/python3 bench/torch_mnist_train.py [--model cnn|mlp] [--steps N] [--warmup N] [--batch B]
                                                    [--threads T]
"""
import argparse
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_model(name):
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                             nn.Linear(256, 10))
    raise ValueError(f"unknown model {name!r}: expected cnn or mlp")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = make_model(args.model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images = [torch.randn(args.batch, 1, 28, 28) for _ in range(8)]
    labels = [torch.randint(0, 10, (args.batch,)) for _ in range(args.warmup + args.steps)]
    step = 0

    def train_step():
        nonlocal step
        loss = F.cross_entropy(model(images[step % len(images)]), labels[step])
        step += 1
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(args.warmup):
        train_step()
    start = time.perf_counter()
    for _ in range(args.steps):
        last_loss = train_step().item()
    seconds = time.perf_counter() - start
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"torch model={args.model} batch={args.batch} steps={args.steps} seconds={seconds:.3f} "
          f"images_per_s={args.steps * args.batch / seconds:.1f} peak_rss_mb={peak_rss_mb:.1f} loss={last_loss:.4f}")


if __name__ == "__main__":
    main()
