"""PyTorch's side of examples/face_verify: the same network, batches, augmentation, loss, schedule and evaluation, in
plain PyTorch, to compare accuracy and time with trident on the same 2 cores.

Run with /usr/bin/python3 (PyTorch 1.13; pytorch-metric-learning is not packaged for Debian, so its batch-hard triplet
and trident's Proxy-NCA are written out here as those libraries compute them). Two recipes: the defaults are
face_verify's recipe for photo folders (--data); the old one (in brackets below) is reachable with
  --loss triplet --height 56 --width 46 --channels 32 --p 15 --k 4 --epochs 30 --erase 0 --tta none --uniformity 0
  - data: a folder of identities (ORL: att_faces/s1..s40, 10 PGM images of 112 x 92 each), subfolders and files in
    natural order; images resized to --height x --width, 40 x 33 [56 x 46], by area averaging
    (F.adaptive_avg_pool2d; ORL at 56 x 46: exactly the mean of each 2 x 2 block; for non-integer ratios such as
    40 x 33 trident's ImageFolder resize may differ slightly); train on identities 1-30, test on 31-40; normalised
    with the training pixels' mean and standard deviation
  - network (embed::make_face_embedder): 3 x [conv 3x3 pad 1 (no bias), BatchNorm2d, ReLU, max-pool 2] with C, 2C,
    4C channels (--channels C = 48 [32]), flatten (40 x 33: 5 x 4 maps, 3840 values), linear to dim, BatchNorm1d,
    L2 normalisation
  - batches: P = 6 [15] identities x K = 10 [4] images, training-set size // (P K) batches an epoch (ORL: 5 [5]);
    augmentation, in trident's order: horizontal flip with probability 1/2; random erasing with probability --erase
    0.5 [0] (per image draw u, area in [0.02, 0.2] of the image, aspect log-uniform in [0.3, 3.3], the position and a
    grey value in [0, 1]: one rectangle of that value in every channel); rotation uniform in [-8, 8] degrees, shift
    up to 5% of the size, zoom in [0.92, 1.08] (bilinear, zero fill); then the normalisation
  - loss (--loss): proxy-nca [triplet]
      proxy-nca: trident's ProxyNCALoss with the positive in the denominator: one learnt proxy per training identity
        (initialised N(0, 1), L2-normalised inside the loss), d_ic = ||x_i - P_c||^2, loss = mean over the batch of
        -log softmax_c(-kappa d_ic)[y_i], kappa = --softmax-scale 2; the proxies learn at 100 x the network's rate
      triplet: batch-hard triplet (BatchHardMiner + TripletMarginLoss(--margin 0.5), averaged over the non-zero
        triplets)
    plus --uniformity 0.5 [0] times trident's uniformity_loss (losses/uniformity.h): the log of the mean of
    exp(-2 ||e_i - e_j||^2) over the batch's pairs of different identities
  - optimiser: Adam lr 1e-3, learning rate decayed to 0 by half a cosine over the run (per step); 2 threads; the run
    lasts --steps 600 steps (ceil(steps / batches per epoch) epochs: ORL 120), or --epochs N [30]
  - test-time augmentation (--tta): flip-shift [none]: in evaluation the embedding of an image is the L2-normalised
    sum of the embeddings of several views of the normalised image: "flip" the image and its mirror image,
    "flip-shift" those two and, for each one-pixel shift right, left, down and up (zero fill), the shifted image and
    its mirror image (10 views); "none" the plain embedding
  - evaluation on the test identities: verification accuracy by 10-fold cross-validation on all same pairs plus as
    many random different pairs (threshold midway between consecutive scores, the best on 9 folds, the strictest on
    ties), for the first draw of the different pairs (the protocol's figure) and the mean, lowest and highest over 20
    draws; ROC AUC, TAR at FAR 1e-2 and 1e-3 and EER over all pairs; rank-1 identification (leave-one-out 1-NN)
Prints: torch_face_verify steps=... train_seconds=... accuracy=... accuracy_std=... accuracy_draws_mean=...
        accuracy_draws_min=... accuracy_draws_max=... auc=... tar_far_1e-2=... tar_far_1e-3=... eer=... rank1=...
        loss=... uniformity=... size=HxW channels=... p=... k=... epochs=... erase=... tta=...

Usage: /usr/bin/python3 bench/torch_face_verify.py --data DIR [--height 40] [--width 33] [--channels 48] [--p 6]
                                                   [--k 10] [--steps 600] [--epochs N] [--loss proxy-nca|triplet]
                                                   [--softmax-scale 2] [--margin 0.5] [--uniformity 0.5]
                                                   [--erase 0.5] [--tta none|flip|flip-shift] [--dim 64] [--lr 1e-3]
                                                   [--threads 2] [--seed 1] [--no-augment]
"""
import argparse
import functools
import math
import os
import re
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_embed_common import batch_hard_triplet_loss, pk_batches


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


def proxy_nca_loss(embeddings, labels, proxies, kappa):
    """trident's ProxyNCALoss (positive in the denominator): -log softmax_c(-kappa ||x_i - P_c||^2)[y_i], averaged."""
    d = (embeddings[:, None] - F.normalize(proxies, dim=1)[None]).pow(2).sum(2)
    return F.cross_entropy(-kappa * d, labels)


def uniformity_loss(embeddings, labels, t=2.0):
    """trident's uniformity_loss: log mean_{i<j, y_i != y_j} exp(-t ||e_i - e_j||^2)."""
    d2 = (embeddings[:, None] - embeddings[None]).pow(2).sum(2)
    mask = torch.triu(labels[:, None] != labels[None], diagonal=1)
    return torch.logsumexp(-t * d2[mask], 0) - math.log(int(mask.sum()))


def random_erase(x, p, generator):
    """trident's RandomErasing: with probability p one rectangle of 2-20% of the image, aspect ratio log-uniform in
    [0.3, 3.3], filled with a value uniform in [0, 1] in every channel; per image the draws u, area, aspect, fy, fx,
    value (in that order)."""
    n, _, h, w = x.shape
    u, area, aspect, fy, fx, value = torch.rand(n, 6, generator=generator, dtype=torch.float64).unbind(1)
    area = (0.02 + 0.18 * area) * h * w
    aspect = torch.exp(math.log(0.3) + (math.log(3.3) - math.log(0.3)) * aspect)
    eh = torch.floor(torch.sqrt(area * aspect) + 0.5).clamp(1, h)  # llround: halves away from zero
    ew = torch.floor(torch.sqrt(area / aspect) + 0.5).clamp(1, w)
    y0 = torch.minimum(h - eh, torch.floor(fy * (h - eh + 1)))
    x0 = torch.minimum(w - ew, torch.floor(fx * (w - ew + 1)))
    rows, cols = torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64)
    in_rows = (rows >= y0[:, None]) & (rows < (y0 + eh)[:, None]) & (u < p)[:, None]
    in_cols = (cols >= x0[:, None]) & (cols < (x0 + ew)[:, None])
    inside = in_rows[:, None, :, None] & in_cols[:, None, None, :]
    return torch.where(inside, value.to(x.dtype)[:, None, None, None], x)


def augment(x, erase, generator):
    """Flip, random erasing with probability erase, then rotate/shift/zoom about the centre (bilinear, zeros
    outside), image by image."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if erase > 0:  # no draws at 0: the random stream of the recipe without erasing
        x = random_erase(x, erase, generator)
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


def shift_images(x, dx, dy):
    """The content moved dx pixels right and dy down (negative: left, up), zeros shifted in."""
    h, w = x.shape[2:]
    top, left = max(-dy, 0), max(-dx, 0)
    padded = F.pad(x, (max(dx, 0), left, max(dy, 0), top))
    return padded[:, :, top:top + h, left:left + w]


def embed(model, x, tta):
    """The embeddings of x in evaluation: plain ("none"), or the normalised sum over the views of --tta."""
    if tta == "none":
        return model(x)
    views = [x]
    if tta == "flip-shift":
        views += [shift_images(x, dx, dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
    return F.normalize(sum(model(v) + model(v.flip(3)) for v in views), dim=1)


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
    parser.add_argument("--height", type=int, default=40)
    parser.add_argument("--width", type=int, default=33)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--epochs", type=int, help="the run's length in epochs instead of --steps")
    parser.add_argument("--p", type=int, default=6)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--loss", choices=("proxy-nca", "triplet"), default="proxy-nca")
    parser.add_argument("--softmax-scale", type=float, default=2.0, help="proxy-nca's kappa")
    parser.add_argument("--margin", type=float, default=0.5, help="triplet's margin")
    parser.add_argument("--uniformity", type=float, default=0.5, help="weight of the uniformity regulariser")
    parser.add_argument("--erase", type=float, default=0.5)
    parser.add_argument("--tta", choices=("none", "flip", "flip-shift"), default="flip-shift")
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
    x, y = load_folder(args.data, a - 1, b, args.height, args.width)
    xt, yt = load_folder(args.data, c - 1, d, args.height, args.width)
    mean, std = x.mean(), x.std(unbiased=False)
    x, xt = (x - mean) / std, (xt - mean) / std

    model = FaceEmbedder(args.dim, args.height, args.width, args.channels)
    groups = [{"params": model.parameters()}]
    if args.loss == "proxy-nca":
        proxies = nn.Parameter(torch.randn(int(y.max()) + 1, args.dim))
        groups.append({"params": [proxies], "lr": 100 * args.lr})  # the proxies learn 100 x faster
        criterion = functools.partial(proxy_nca_loss, proxies=proxies, kappa=args.softmax_scale)
        loss_setting = f"softmax_scale={args.softmax_scale:g}"
    else:
        criterion = functools.partial(batch_hard_triplet_loss, margin=args.margin)
        loss_setting = f"margin={args.margin:g}"
    optimizer = torch.optim.Adam(groups, lr=args.lr)
    per_epoch = max(1, len(x) // (args.p * args.k))
    epochs = args.epochs if args.epochs is not None else math.ceil(args.steps / per_epoch)
    total = per_epoch * epochs
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
    generator = torch.Generator().manual_seed(args.seed)
    steps = 0
    for _ in range(epochs):
        for idx in pk_batches(y, args.p, args.k, per_epoch, generator):
            batch = x[idx] * std + mean  # augment the [0, 1] images (zero fill = black), then normalise
            batch = batch if args.no_augment else augment(batch, args.erase, generator)
            embeddings = model((batch - mean) / std)
            loss = criterion(embeddings, y[idx])
            if args.uniformity > 0:
                loss = loss + args.uniformity * uniformity_loss(embeddings, y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
    train_seconds = time.perf_counter() - start

    model.eval()
    with torch.no_grad():
        e = embed(model, xt, args.tta).double()
    dist = torch.cdist(e, e).numpy()
    labels = yt.numpy()
    iu = np.triu_indices(len(labels), 1)
    scores, same = dist[iu], (labels[iu[0]] == labels[iu[1]]).astype(np.int64)
    pos, negatives = np.nonzero(same)[0], np.nonzero(1 - same)[0]
    draws = []  # the accuracy for 20 draws of the different pairs; the first is the protocol's figure (as face_verify)
    for draw in range(20):
        rng = np.random.default_rng(args.seed if draw == 0 else [args.seed, draw])
        balanced = np.r_[pos, rng.permutation(negatives)[:len(pos)]]
        draws.append(kfold_accuracy(scores[balanced], same[balanced], 10, rng))
    acc, acc_std = draws[0]
    draw_means = [mean for mean, _ in draws]
    fpr, tpr = roc(scores, same)
    auc = float(np.trapz(tpr, fpr))
    tar = {far: float(tpr[fpr <= far].max()) for far in (1e-2, 1e-3)}
    np.fill_diagonal(dist, np.inf)
    rank1 = float((labels[dist.argmin(1)] == labels).mean())
    print(f"torch_face_verify steps={steps} train_seconds={train_seconds:.1f} accuracy={acc:.4f} "
          f"accuracy_std={acc_std:.4f} accuracy_draws_mean={np.mean(draw_means):.4f} "
          f"accuracy_draws_min={min(draw_means):.4f} accuracy_draws_max={max(draw_means):.4f} auc={auc:.4f} "
          f"tar_far_1e-2={tar[1e-2]:.4f} tar_far_1e-3={tar[1e-3]:.4f} "
          f"eer={eer(fpr, tpr):.4f} rank1={rank1:.4f} loss={args.loss} {loss_setting} uniformity={args.uniformity:g} "
          f"size={args.height}x{args.width} "
          f"channels={args.channels} p={args.p} k={args.k} epochs={epochs} erase={args.erase:g} tta={args.tta}")


if __name__ == "__main__":
    main()
