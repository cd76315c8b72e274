"""PyTorch's side of examples/mnist_embed: the same embedding network, batches, loss and evaluation, in plain PyTorch.

Run with /usr/bin/python3 (PyTorch 1.13; pytorch-metric-learning is not packaged for Debian, so its computations are
written out here as that library performs them):
  - network: the mnist_classify CNN trunk -> linear 128 -> dim, BatchNorm1d, then L2 normalisation
    (embed::make_mnist_embedder in examples/common/embed_trainer.cpp)
  - batches: P classes x K images (MNIST: P = 10, K = 13 for the example's defaults), drawn with a seeded generator
  - loss: batch-hard triplet as pytorch-metric-learning's BatchHardMiner + TripletMarginLoss(margin) compute it:
    euclidean distances by torch.cdist, per anchor the farthest positive and the nearest negative, hinge
    [d_ap - d_an + margin]_+, averaged over the triplets with a non-zero loss (AvgNonZeroReducer)
  - optimiser: Adam lr 1e-3; 2 threads
  - evaluation: test images as queries against the training images as references, Precision@1, R-Precision and MAP@R
    (Musgrave et al. 2020), exact neighbours by chunked torch.cdist + topk.
Prints: torch_mnist_embed steps=... seconds=... images_per_s=... precision_at_1=... r_precision=... map_at_r=...

Usage: /usr/bin/python3 bench/torch_mnist_embed.py [--data DIR] [--epochs N] [--steps N] [--p P] [--k K]
                                                   [--margin M] [--dim D] [--threads T] [--no-eval]
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_embed_common import batch_hard_triplet_loss, pk_batches


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_mnist(directory, train):
    prefix = "train" if train else "t10k"
    def find(name):
        for candidate in (name, name + ".gz"):
            p = os.path.join(directory, candidate)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(os.path.join(directory, name))
    images = read_idx(find(f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
    labels = read_idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = (torch.from_numpy(images).unsqueeze(1) - 0.1307) / 0.3081
    return x, torch.from_numpy(labels)


class Embedder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, dim),
                                  nn.BatchNorm1d(dim))

    def forward(self, x):
        return F.normalize(self.body(x), dim=1)


@torch.no_grad()
def embed_all(model, x, batch=500):
    model.eval()
    out = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    model.train()
    return out


@torch.no_grad()
def retrieval(q, ql, r, rl, chunk=1024):
    counts = torch.bincount(rl, minlength=int(max(ql.max(), rl.max())) + 1)
    big_r = counts[ql]
    k = int(big_r.max())
    p1 = rp = mapr = 0.0
    for s in range(0, len(q), chunk):
        d = torch.cdist(q[s:s + chunk], r)
        idx = d.topk(k, dim=1, largest=False).indices
        rel = (rl[idx] == ql[s:s + chunk].unsqueeze(1)).float()
        rr = big_r[s:s + chunk]
        ranks = torch.arange(1, k + 1).unsqueeze(0)
        within = (ranks <= rr.unsqueeze(1)).float()
        rel_r = rel * within
        p1 += rel[:, 0].sum().item()
        rp += (rel_r.sum(1) / rr).sum().item()
        prec = torch.cumsum(rel_r, 1) / ranks
        mapr += ((prec * rel_r).sum(1) / rr).sum().item()
    n = len(q)
    return p1 / n, rp / n, mapr / n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.environ.get("TRIDENT_DATA") and os.path.join(os.environ["TRIDENT_DATA"], "mnist")
                        or os.path.expanduser("~/.cache/trident/mnist"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=-1, help="stop after this many steps (timing only)")
    parser.add_argument("--p", type=int, default=10)
    parser.add_argument("--k", type=int, default=13)
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-eval", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load_mnist(args.data, True)
    xt, yt = load_mnist(args.data, False)
    model = Embedder(args.dim)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(args.seed)
    per_epoch = len(x) // (args.p * args.k)
    steps = 0
    start = time.perf_counter()
    for _ in range(args.epochs):
        for idx in pk_batches(y, args.p, args.k, per_epoch, generator):
            loss = batch_hard_triplet_loss(model(x[idx]), y[idx], args.margin)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if steps == args.steps:
                break
        if steps == args.steps:
            break
    seconds = time.perf_counter() - start
    line = (f"torch_mnist_embed steps={steps} seconds={seconds:.2f} "
            f"images_per_s={steps * args.p * args.k / seconds:.1f} loss={loss.item():.4f}")
    if not args.no_eval:
        p1, rp, mapr = retrieval(embed_all(model, xt), yt, embed_all(model, x), y)
        line += f" precision_at_1={p1:.4f} r_precision={rp:.4f} map_at_r={mapr:.4f}"
    print(line)


if __name__ == "__main__":
    main()
