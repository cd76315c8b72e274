"""PyTorch's side of examples/face_verify: the same network, batches, augmentation, loss, schedule and evaluation, in
plain PyTorch, to compare accuracy and time with trident on the same 2 cores.

Run with /usr/bin/python3 (PyTorch 1.13; pytorch-metric-learning is not packaged for Debian, so its batch-hard triplet
is written out here as that library computes it):
  - data: a folder of identities (ORL: att_faces/s1..s40, 10 PGM images of 112 x 92 each), subfolders and files in
    natural order; images resized to 56 x 46 by area averaging (ORL: exactly the mean of each 2 x 2 block); train on
    identities 1-30, test on 31-40; normalised with the training pixels' mean and standard deviation
  - network (embed::make_face_embedder): 3 x [conv 3x3 pad 1 (no bias), BatchNorm2d, ReLU, max-pool 2] with 32, 64,
    128 channels, flatten, linear to dim, BatchNorm1d, L2 normalisation
  - batches: P = 15 identities x K = 4 images, training-set size / (P K) batches an epoch; augmentation: horizontal
    flip with probability 1/2, rotation uniform in [-8, 8] degrees, shift up to 5% of the size, zoom in [0.92, 1.08]
    (bilinear, zero fill), then the normalisation
  - loss: batch-hard triplet (BatchHardMiner + TripletMarginLoss(margin), averaged over the non-zero triplets)
  - not done here: face_verify's test-time flip averaging (compare with face_verify --no-test-flip)
  - optimiser: Adam lr 1e-3, learning rate decayed to 0 by half a cosine over the run (per step); 2 threads
  - evaluation on the test identities: verification accuracy by 10-fold cross-validation on all same pairs plus as
    many random different pairs (threshold midway between consecutive scores, the best on 9 folds, the strictest on
    ties); ROC AUC, TAR at FAR 1e-2 and 1e-3 and EER over all pairs; rank-1 identification (leave-one-out 1-NN)
Prints: torch_face_verify steps=... train_seconds=... accuracy=... accuracy_std=... auc=... tar_far_1e-2=...
        tar_far_1e-3=... eer=... rank1=...

Usage: /usr/bin/python3 bench/torch_face_verify.py --data DIR [--epochs 30] [--p 15] [--k 4] [--margin 0.5]
                                                   [--dim 64] [--lr 1e-3] [--threads 2] [--seed 1] [--no-augment]
"""
import argparse
import math
import os
import re
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def natural_key(name):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", name) if t]


def read_pgm(path):
    with open(path, "rb") as f:
        data = f.read()
    tokens, pos = [], 0
    while len(tokens) < 4:  # magic, width, height, maxval (comments start with '#')
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        tokens.append(data[pos:end])
        pos = end
    magic, w, h, maxval = tokens[0], int(tokens[1]), int(tokens[2]), int(tokens[3])
    if magic == b"P5":
        dtype = np.uint8 if maxval < 256 else ">u2"
        pixels = np.frombuffer(data, dtype=dtype, count=w * h, offset=pos + 1)
    elif magic == b"P2":
        pixels = np.array(data[pos:].split()[:w * h], dtype=np.float64)
    else:
        raise ValueError(f"{path}: not a PGM file")
    return pixels.reshape(h, w).astype(np.float32) / maxval


def load_folder(root, first, last, height, width):
    """Identities [first, last) (0-based) of root's subfolders in natural order -> x [N, 1, H, W], y [N]."""
    people = sorted([d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")],
                    key=natural_key)[first:last]
    images, labels = [], []
    for label, person in enumerate(people):
        folder = os.path.join(root, person)
        for name in sorted(os.listdir(folder), key=natural_key):
            if name.lower().endswith(".pgm"):
                images.append(torch.from_numpy(read_pgm(os.path.join(folder, name)))[None, None])
                labels.append(label)
    x = torch.cat(images)
    x = F.adaptive_avg_pool2d(x, (height, width))  # area averaging (exact 2 x 2 means for 112 x 92 -> 56 x 46)
    return x, torch.tensor(labels)


class FaceEmbedder(nn.Module):
    def __init__(self, dim, height, width, channels=32):
        super().__init__()
        layers, c_in, h, w = [], 1, height, width
        for c in (channels, 2 * channels, 4 * channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, h, w = c, h // 2, w // 2
        layers += [nn.Flatten(), nn.Linear(c_in * h * w, dim), nn.BatchNorm1d(dim)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return F.normalize(self.body(x), dim=1)


def batch_hard_triplet_loss(embeddings, labels, margin):
    mat = torch.cdist(embeddings, embeddings)
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    pos_mask = same.clone()
    pos_mask.fill_diagonal_(False)
    with torch.no_grad():
        p_idx = torch.where(pos_mask, mat, torch.full_like(mat, -float("inf"))).argmax(1)
        n_idx = torch.where(~same, mat, torch.full_like(mat, float("inf"))).argmin(1)
        keep = pos_mask.any(1) & (~same).any(1)
        a_idx = torch.arange(len(labels))[keep]
        p_idx, n_idx = p_idx[keep], n_idx[keep]
    losses = F.relu(mat[a_idx, p_idx] - mat[a_idx, n_idx] + margin)
    nonzero = (losses > 0).sum()
    return losses.sum() / nonzero if nonzero > 0 else losses.sum() * 0


def pk_batches(labels, p, k, num_batches, generator):
    classes = torch.unique(labels)
    by_class = [torch.nonzero(labels == c).flatten() for c in classes]
    for _ in range(num_batches):
        parts = []
        for c in torch.randperm(len(classes), generator=generator)[:p].tolist():
            items = by_class[c]
            if len(items) >= k:
                parts.append(items[torch.randperm(len(items), generator=generator)[:k]])
            else:
                parts.append(items[torch.randint(len(items), (k,), generator=generator)])
        yield torch.cat(parts)


def augment(x, generator):
    """Flip, then rotate/shift/zoom about the centre (bilinear, zeros outside), image by image."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(8)
    tx = (torch.rand(n, generator=generator) * 2 - 1) * 0.05 * 2  # in grid units ([-1, 1] spans the image)
    ty = (torch.rand(n, generator=generator) * 2 - 1) * 0.05 * 2
    scale = 0.92 + torch.rand(n, generator=generator) * 0.16
    # affine_grid maps output coordinates to input coordinates: the inverse of "rotate by angle, scale, move".
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin * h / w, -(cos * tx - sin * ty * h / w)], 1),
                         torch.stack([sin * w / h, cos, -(sin * w / h * tx + cos * ty)], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def roc(scores, same):
    """ROC over every distinct distance threshold (predict same when distance <= t), from (0, 0) to (1, 1)."""
    order = np.argsort(scores, kind="mergesort")
    s, y = scores[order], same[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(y)[last], np.cumsum(1 - y)[last]
    tpr = np.r_[0, tp / y.sum()]
    fpr = np.r_[0, fp / (1 - y).sum()]
    return fpr, tpr


def eer(fpr, tpr):
    # The root of 1 - x - TPR(x) on the linearly interpolated curve.
    f = 1 - fpr - tpr
    i = np.nonzero(f <= 0)[0][0]
    if i == 0:
        return 0.0
    t = f[i - 1] / (f[i - 1] - f[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def kfold_accuracy(scores, same, folds, rng):
    order = rng.permutation(len(scores))
    parts = np.array_split(order, folds)
    accuracies = []
    for i in range(folds):
        test = parts[i]
        train = np.concatenate([parts[j] for j in range(folds) if j != i])
        u = np.unique(scores[train])
        candidates = np.r_[-np.inf, (u[1:] + u[:-1]) / 2, np.inf]
        acc = [((scores[train] <= t) == same[train]).mean() for t in candidates]
        t = candidates[int(np.argmax(acc))]  # the first maximum: the strictest threshold
        accuracies.append(((scores[test] <= t) == same[test]).mean())
    return float(np.mean(accuracies)), float(np.std(accuracies))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--train-ids", default="1-30")
    parser.add_argument("--test-ids", default="31-40")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--p", type=int, default=15)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--margin", type=float, default=0.5)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-augment", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.perf_counter()
    a, b = (int(v) for v in args.train_ids.split("-"))
    c, d = (int(v) for v in args.test_ids.split("-"))
    x, y = load_folder(args.data, a - 1, b, 56, 46)
    xt, yt = load_folder(args.data, c - 1, d, 56, 46)
    mean, std = x.mean(), x.std(unbiased=False)
    x, xt = (x - mean) / std, (xt - mean) / std

    model = FaceEmbedder(args.dim, 56, 46)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    per_epoch = max(1, len(x) // (args.p * args.k))
    total = per_epoch * args.epochs
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
    generator = torch.Generator().manual_seed(args.seed)
    steps = 0
    for _ in range(args.epochs):
        for idx in pk_batches(y, args.p, args.k, per_epoch, generator):
            batch = x[idx] * std + mean  # augment the [0, 1] images (zero fill = black), then normalise
            batch = batch if args.no_augment else augment(batch, generator)
            loss = batch_hard_triplet_loss(model((batch - mean) / std), y[idx], args.margin)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
    train_seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        e = model(xt).double()
    dist = torch.cdist(e, e).numpy()
    labels = yt.numpy()
    iu = np.triu_indices(len(labels), 1)
    scores, same = dist[iu], (labels[iu[0]] == labels[iu[1]]).astype(np.int64)
    rng = np.random.default_rng(args.seed)
    pos, neg = np.nonzero(same)[0], np.nonzero(1 - same)[0]
    neg = rng.permutation(neg)[:len(pos)]
    balanced = np.r_[pos, neg]
    acc, acc_std = kfold_accuracy(scores[balanced], same[balanced], 10, rng)
    fpr, tpr = roc(scores, same)
    auc = float(np.trapz(tpr, fpr))
    tar = {far: float(tpr[fpr <= far].max()) for far in (1e-2, 1e-3)}
    np.fill_diagonal(dist, np.inf)
    rank1 = float((labels[dist.argmin(1)] == labels).mean())
    print(f"torch_face_verify steps={steps} train_seconds={train_seconds:.1f} accuracy={acc:.4f} "
          f"accuracy_std={acc_std:.4f} auc={auc:.4f} tar_far_1e-2={tar[1e-2]:.4f} tar_far_1e-3={tar[1e-3]:.4f} "
          f"eer={eer(fpr, tpr):.4f} rank1={rank1:.4f}")


if __name__ == "__main__":
    main()
