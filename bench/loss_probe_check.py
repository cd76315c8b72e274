#!/usr/bin/python3
"""Cross-check examples/loss_probe against plain PyTorch.

Makes random batches, runs loss_probe on them for several loss configurations, recomputes each loss and its
gradient with respect to the embeddings in plain PyTorch -- written as pytorch-metric-learning (PML) computes it:
LpDistance / CosineSimilarity on (normalised) embeddings, the PML miners' conditions, AvgNonZeroReducer /
MeanReducer -- and prints the absolute difference of the loss and the largest absolute difference of the gradient.

    /usr/bin/python3 bench/loss_probe_check.py [--probe build/examples/loss_probe/loss_probe] [--dtype float64]

(torch 1.13 and numpy; pytorch-metric-learning itself is not needed: the reference functions below follow its
source, with the PML class each one mirrors named in its docstring.) Exit status 1 when a difference exceeds the
tolerance, relative to max(1, |loss|, max|grad|): 1e-10 for float64 runs, 1e-4 for float32; 1e-7 for the float64
batch holding a duplicated embedding.

Why the duplicate batch differs by ~1e-9 in float64: trident's euclidean distance matrix is one GEMM,
sqrt(max(|x_i|^2 + |x_j|^2 - 2 x_i.x_j, 0)), so two identical rows get sqrt(rounding) ~ 1.5e-8 instead of an exact 0
(torch.cdist's direct path, used here, gives 0; its GEMM path, which torch picks for more than 25 rows, has the same
rounding). Every active tuple holding that pair moves the loss by about that much. The gradient stays finite either
way (the pair's difference vector is exactly 0).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

# ---- distances (PML LpDistance(normalize_embeddings, p=2, power), CosineSimilarity, DotProductSimilarity) ----------


def distance_matrix(x, distance, normalize):
    if normalize or distance == "cosine":
        x = F.normalize(x, p=2, dim=1)
    if distance in ("cosine", "dot"):
        return x @ x.t()
    # cdist's direct path: its backward is 0 at zero distance (PML uses torch.cdist too)
    d = torch.cdist(x, x, p=2, compute_mode="donot_use_mm_for_euclid_dist")
    return d * d if distance == "squared_euclidean" else d


def is_similarity(distance):
    return distance in ("cosine", "dot")


def margin_fn(distance, x, y):
    """PML BaseDistance.margin: x - y for distances, y - x for similarities."""
    return y - x if is_similarity(distance) else x - y


# ---- reducers ----------------------------------------------------------------------------------------------------


def reduce(losses, reduction):
    if losses.numel() == 0:
        return losses.sum() * 0
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    active = losses > 0  # AvgNonZeroReducer (threshold 0)
    n = int(active.sum())
    return losses[active].sum() / n if n > 0 else losses.sum() * 0


# ---- miners ------------------------------------------------------------------------------------------------------


def all_triplets(y):
    """PML lmu.get_all_triplets_indices."""
    same = y[:, None] == y[None, :]
    diff = ~same
    same = same & ~torch.eye(len(y), dtype=torch.bool)
    valid = same[:, :, None] & diff[:, None, :]
    return torch.where(valid)


def triplet_margin_miner(mat, y, distance, margin, kind):
    """PML TripletMarginMiner(type_of_triplets=kind)."""
    a, p, n = all_triplets(y)
    ap, an = mat[a, p], mat[a, n]
    tm = ap - an if is_similarity(distance) else an - ap
    keep = {"all": tm == tm, "hard": tm <= 0, "semihard": (tm > 0) & (tm <= margin), "easy": tm > margin}[kind]
    return a[keep], p[keep], n[keep]


def batch_hard_miner(mat, y, distance):
    """PML BatchHardMiner: per anchor the hardest positive and the hardest negative."""
    m = mat.detach()
    same = y[:, None] == y[None, :]
    pos = same & ~torch.eye(len(y), dtype=torch.bool)
    neg = ~same
    sim = is_similarity(distance)
    inf = float("inf")
    # hardest positive: farthest (smallest similarity); hardest negative: nearest (largest similarity)
    pos_val = m.masked_fill(~pos, inf if sim else -inf)
    neg_val = m.masked_fill(~neg, -inf if sim else inf)
    p = pos_val.argmin(1) if sim else pos_val.argmax(1)
    n = neg_val.argmax(1) if sim else neg_val.argmin(1)
    keep = pos.any(1) & neg.any(1)
    a = torch.arange(len(y))
    return a[keep], p[keep], n[keep]


def multi_similarity_miner(mat, y, distance, epsilon):
    """PML MultiSimilarityMiner: positive/negative pair indices (a1, p, a2, n)."""
    m = mat.detach()
    same = y[:, None] == y[None, :]
    pos = same & ~torch.eye(len(y), dtype=torch.bool)
    neg = ~same
    inf = float("inf")
    if is_similarity(distance):
        min_pos = m.masked_fill(~pos, inf).min(1, keepdim=True).values
        max_neg = m.masked_fill(~neg, -inf).max(1, keepdim=True).values
        keep_pos = pos & (m - epsilon < max_neg)
        keep_neg = neg & (m + epsilon > min_pos)
    else:
        max_pos = m.masked_fill(~pos, -inf).max(1, keepdim=True).values
        min_neg = m.masked_fill(~neg, inf).min(1, keepdim=True).values
        keep_pos = pos & (m + epsilon > min_neg)
        keep_neg = neg & (m - epsilon < max_pos)
    return keep_pos, keep_neg


# ---- losses ------------------------------------------------------------------------------------------------------


def triplet_loss(x, y, margin=0.2, mining="all", distance="euclidean", normalize=True, soft=False, swap=False,
                 reduction="avg_nonzero"):
    """PML TripletMarginLoss(margin, swap, smooth_loss) with a miner's indices_tuple."""
    mat = distance_matrix(x, distance, normalize)
    if mining == "batch_hard":
        a, p, n = batch_hard_miner(mat, y, distance)
    else:
        a, p, n = triplet_margin_miner(mat.detach(), y, distance, margin, mining)
    ap, an = mat[a, p], mat[a, n]
    if swap:
        pn = mat[p, n]
        an = torch.maximum(an, pn) if is_similarity(distance) else torch.minimum(an, pn)
    violation = margin_fn(distance, ap, an) + margin
    losses = F.softplus(violation) if soft else F.relu(violation)
    return reduce(losses, reduction)


def contrastive_loss(x, y, pos_margin=0.0, neg_margin=1.0, distance="euclidean", normalize=True,
                     reduction="avg_nonzero"):
    """PML ContrastiveLoss: positive and negative parts reduced separately, then added."""
    mat = distance_matrix(x, distance, normalize)
    same = y[:, None] == y[None, :]
    pos = same & ~torch.eye(len(y), dtype=torch.bool)
    neg = ~same
    pos_loss = F.relu(margin_fn(distance, mat[pos], torch.tensor(pos_margin, dtype=x.dtype)))
    neg_loss = F.relu(margin_fn(distance, torch.tensor(neg_margin, dtype=x.dtype), mat[neg]))
    return reduce(pos_loss, reduction) + reduce(neg_loss, reduction)


def masked_logsumexp_add_one(x, keep, dim):
    """PML lmu.logsumexp(x, keep_mask, add_one=True, dim): log(1 + sum_kept e^x); 0 where nothing is kept."""
    x = x.masked_fill(~keep, float("-inf"))
    zeros = torch.zeros_like(x.sum(dim=dim, keepdim=True))
    out = torch.logsumexp(torch.cat([x, zeros], dim=dim), dim=dim, keepdim=True)
    return out.masked_fill(~keep.any(dim=dim, keepdim=True), 0)


def multi_similarity_loss(x, y, alpha=2.0, beta=50.0, base=0.5, epsilon=0.1, distance="cosine", normalize=True,
                          mine=True):
    """PML MultiSimilarityLoss with MultiSimilarityMiner; MeanReducer over the B anchors."""
    mat = distance_matrix(x, distance, normalize)
    same = y[:, None] == y[None, :]
    pos = same & ~torch.eye(len(y), dtype=torch.bool)
    neg = ~same
    if mine:
        pos, neg = multi_similarity_miner(mat, y, distance, epsilon)
    pos_exp = margin_fn(distance, mat, torch.tensor(base, dtype=x.dtype))
    neg_exp = margin_fn(distance, torch.tensor(base, dtype=x.dtype), mat)
    pos_loss = (1.0 / alpha) * masked_logsumexp_add_one(alpha * pos_exp, pos, 1)
    neg_loss = (1.0 / beta) * masked_logsumexp_add_one(beta * neg_exp, neg, 1)
    return (pos_loss + neg_loss).mean()


def proxy_anchor_loss(x, y, proxies, margin=0.1, alpha=32.0):
    """PML ProxyAnchorLoss(margin, alpha) with given proxies (CosineSimilarity)."""
    cos = F.normalize(x, dim=1) @ F.normalize(proxies, dim=1).t()
    pos_mask = F.one_hot(y, proxies.shape[0]).bool()
    neg_mask = ~pos_mask
    with_pos = pos_mask.any(0)
    pos_term = masked_logsumexp_add_one(alpha * (margin - cos), pos_mask, 0).squeeze(0)
    neg_term = masked_logsumexp_add_one(alpha * (cos + margin), neg_mask, 0).squeeze(0)
    return pos_term[with_pos].mean() + neg_term.mean()


def proxy_nca_loss(x, y, proxies, softmax_scale=1.0):
    """PML ProxyNCALoss: softmax over -||x^ - P^_c||^2, -log of the own class's probability, mean."""
    xn, pn = F.normalize(x, dim=1), F.normalize(proxies, dim=1)
    d = ((xn[:, None, :] - pn[None, :, :]) ** 2).sum(-1)
    prob = F.softmax(-softmax_scale * d, dim=1).gather(1, y[:, None]).squeeze(1)
    return -torch.log(prob[prob != 0]).mean()


# ---- the check ---------------------------------------------------------------------------------------------------


def run_probe(probe, emb_path, lab_path, args, out_path, extra=()):
    cmd = [probe, "--embeddings", emb_path, "--labels", lab_path, "--out", out_path, "--top", "0", *args, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"loss_probe failed ({' '.join(cmd)}):\n{r.stdout}{r.stderr}")
    m = re.search(r"^loss = (\S+)$", r.stdout, re.M)
    return float(m.group(1)), np.load(out_path)


def make_batch(classes, per_class, dim, seed, duplicate=False):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, dim, generator=g, dtype=torch.float64)
    y = torch.arange(classes).repeat_interleave(per_class)
    x = centres[y] + 0.8 * torch.randn(len(y), dim, generator=g, dtype=torch.float64)
    if duplicate:  # the last item (last class) becomes an exact copy of the first (class 0): a negative at distance 0
        x[-1] = x[0]
    perm = torch.randperm(len(y), generator=g)
    return x[perm].contiguous(), y[perm].contiguous()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--probe", default=os.path.join(here, "..", "build", "examples", "loss_probe", "loss_probe"))
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    opt = ap.parse_args()
    np_dtype = np.float64 if opt.dtype == "float64" else np.float32
    tol = 1e-10 if opt.dtype == "float64" else 1e-4

    configs = [
        # (name, loss_probe flags, reference)
        ("triplet all, euclidean", ["--loss", "triplet", "--mining", "all"], lambda x, y, P: triplet_loss(x, y)),
        ("triplet batch_hard", ["--loss", "triplet", "--mining", "batch_hard"],
         lambda x, y, P: triplet_loss(x, y, mining="batch_hard")),
        ("triplet semihard, margin 0.3", ["--loss", "triplet", "--mining", "semihard", "--margin", "0.3"],
         lambda x, y, P: triplet_loss(x, y, margin=0.3, mining="semihard")),
        ("triplet hard, no normalize", ["--loss", "triplet", "--mining", "hard", "--no-normalize"],
         lambda x, y, P: triplet_loss(x, y, mining="hard", normalize=False)),
        ("triplet all, cosine", ["--loss", "triplet", "--distance", "cosine"],
         lambda x, y, P: triplet_loss(x, y, distance="cosine")),
        ("triplet batch_hard, cosine", ["--loss", "triplet", "--mining", "batch_hard", "--distance", "cosine"],
         lambda x, y, P: triplet_loss(x, y, mining="batch_hard", distance="cosine")),
        ("triplet all, squared_euclidean, mean", ["--loss", "triplet", "--distance", "squared_euclidean",
                                                  "--reduction", "mean"],
         lambda x, y, P: triplet_loss(x, y, distance="squared_euclidean", reduction="mean")),
        ("triplet all, swap", ["--loss", "triplet", "--swap"], lambda x, y, P: triplet_loss(x, y, swap=True)),
        ("triplet all, soft (smooth_loss)", ["--loss", "triplet", "--soft"],
         lambda x, y, P: triplet_loss(x, y, soft=True)),
        ("triplet batch_hard, sum", ["--loss", "triplet", "--mining", "batch_hard", "--reduction", "sum"],
         lambda x, y, P: triplet_loss(x, y, mining="batch_hard", reduction="sum")),
        ("contrastive, euclidean", ["--loss", "contrastive"], lambda x, y, P: contrastive_loss(x, y)),
        ("contrastive, pos 0.3 neg 2.5, no normalize", ["--loss", "contrastive", "--pos-margin", "0.3",
                                                        "--neg-margin", "2.5", "--no-normalize"],
         lambda x, y, P: contrastive_loss(x, y, pos_margin=0.3, neg_margin=2.5, normalize=False)),
        ("contrastive, cosine pos 1 neg 0", ["--loss", "contrastive", "--distance", "cosine", "--pos-margin", "1",
                                             "--neg-margin", "0"],
         lambda x, y, P: contrastive_loss(x, y, pos_margin=1.0, neg_margin=0.0, distance="cosine")),
        ("multi-similarity (mined)", ["--loss", "multi-similarity"], lambda x, y, P: multi_similarity_loss(x, y)),
        ("proxy-anchor (given proxies)", ["--loss", "proxy-anchor"], lambda x, y, P: proxy_anchor_loss(x, y, P)),
        ("proxy-nca (given proxies)", ["--loss", "proxy-nca"], lambda x, y, P: proxy_nca_loss(x, y, P)),
    ]
    # (name, batch, tolerance)
    batches = [("4 classes x 8, D 16", make_batch(4, 8, 16, seed=1), tol),
               ("6 classes x 5, D 8, one cross-class duplicate", make_batch(6, 5, 8, seed=2, duplicate=True),
                max(tol, 1e-7))]

    print(f"loss_probe vs plain PyTorch (pytorch-metric-learning's formulas), {opt.dtype} inputs")
    print(f"{'batch':<46} {'configuration':<44} {'loss':>14} {'|dloss|':>9} {'max|dgrad|':>10}")
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for bname, (x64, y), btol in batches:
            worst = 0.0
            emb, lab, prox = (os.path.join(tmp, f) for f in ("e.npy", "y.npy", "p.npy"))
            np.save(emb, x64.numpy().astype(np_dtype))
            np.save(lab, y.numpy().astype(np.int64))
            classes = int(y.max()) + 1
            proxies = torch.randn(classes, x64.shape[1], generator=torch.Generator().manual_seed(3),
                                  dtype=torch.float64)
            np.save(prox, proxies.numpy().astype(np_dtype))
            # The reference works in float64 on exactly the values loss_probe read.
            x_in = torch.from_numpy(np.load(emb).astype(np.float64))
            p_in = torch.from_numpy(np.load(prox).astype(np.float64))
            for name, flags, ref in configs:
                extra = ["--proxies", prox] if "proxy" in name else []
                value, grad = run_probe(opt.probe, emb, lab, flags, os.path.join(tmp, "g.npy"), extra)
                assert grad.dtype == np_dtype and grad.shape == tuple(x64.shape), (grad.dtype, grad.shape)
                x = x_in.clone().requires_grad_(True)
                loss = ref(x, y, p_in)
                loss.backward()
                g_ref = x.grad.numpy()
                assert np.all(np.isfinite(g_ref)) and np.all(np.isfinite(grad))
                dl = abs(value - loss.item())
                dg = float(np.max(np.abs(grad.astype(np.float64) - g_ref)))
                scale = max(1.0, abs(loss.item()), float(np.max(np.abs(g_ref))))
                worst = max(worst, max(dl, dg) / scale)
                print(f"{bname:<46} {name:<44} {value:>14.9f} {dl:>9.1e} {dg:>10.1e}")
            print(f"  {bname}: largest difference relative to max(1, |loss|, max|grad|): {worst:.1e} "
                  f"(tolerance {btol:g})")
            if worst > btol:
                failed.append(bname)
    print("FAILED: " + ", ".join(failed) if failed else "all within tolerance")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
