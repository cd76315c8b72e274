#!/usr/bin/python3
"""PyTorch's side of bench/compare_metric_losses.sh: the metric losses of pytorch-metric-learning 2.x written out in
plain PyTorch 1.13 (the package itself is not installed here), timed forward + backward like bench_metric_losses.

What each computation is (pytorch-metric-learning 2.x, default options unless said):
  distance      LpDistance(): F.normalize(x, dim=1) then torch.cdist(e, e, p=2) (CosineSimilarity: e @ f^T on
                normalised e, f; LpDistance(power=2): cdist ** 2)
  batch_hard    BatchHardMiner() (under no_grad: its own distance matrix, all pairs by torch.where on the label
                masks, per-row max over a 0/1 mask and min over an inf mask) + TripletMarginLoss(margin) on the mined
                triplets: a second distance matrix with autograd, mat[a, p], mat[a, n], relu(ap - an + margin),
                AvgNonZeroReducer
  semihard      TripletMarginMiner(margin, type_of_triplets="semihard") (under no_grad: every triplet listed by
                get_all_triplets_indices, then 0 < an - ap <= margin) + TripletMarginLoss(margin) as above
  all_triplets  TripletMarginLoss(margin), no miner: get_all_triplets_indices (one torch.where on a B x B x B byte
                tensor while B^3 < INT_MAX, otherwise its per-anchor loop and torch.cat), then as above
  contrastive   ContrastiveLoss(pos_margin=0, neg_margin=1): all pairs by torch.where, relu(d - 0) on positives,
                relu(1 - d) on negatives, AvgNonZeroReducer on each part, the parts summed
  proxy_anchor  ProxyAnchorLoss(C, D, margin=0.1, alpha=32): CosineSimilarity to the proxies, one_hot masks,
                lmu.logsumexp over dim 0 (masked_fill, a column of zeros concatenated, torch.logsumexp),
                DivisorReducer: sum(pos) / #proxies with positives + sum(neg) / C
  proxy_nca     ProxyNCALoss(C, D, softmax_scale=1): LpDistance(power=2) to the proxies, softmax of -d over the
                proxies, -log of the positive's probability, MeanReducer
  multi_similarity  MultiSimilarityMiner(epsilon=0.1) (under no_grad: CosineSimilarity, all pairs, the matrix
                with the other kind of pair set to +-finfo.max, sorted per row, the pairs within epsilon of the
                hardest of the other kind) + MultiSimilarityLoss(alpha=2, beta=50, base=0.5): a second similarity
                matrix with autograd, 0/1 masks filled from the mined pairs, lmu.logsumexp per row for each part,
                MeanReducer over all B rows

Inputs (identical to bench_metric_losses.cpp's): embeddings [B, 128] float32 from a splitmix64 stream mapped to
uniform [-1, 1) (seed 1), labels i // 16 (PK batches: B/16 classes x 16 items, as the reference's 256 x 16 at
B = 4096); the proxy losses use labels i // 8 and C = B/8 proxies (seed 2), so every proxy has 8 items. Margin 0.2
for every triplet loss and miner (trident's default and FaceNet's; pytorch-metric-learning's loss default is 0.05).
One timed call = zeroing the gradients, the forward pass and loss.backward() (gradients for the embeddings, and the
proxies where there are some).

Output, one line per (loss, B), key=value fields:
  torch loss=batch_hard B=2048 ms=123.4 best_ms=120.1 runs=5 value=0.1234 est_gb=0.1 cap_gb=16.0
  torch loss=all_triplets B=8192 skipped est_gb=64.3 cap_gb=16.0 reason=estimated_memory_over_cap
  torch loss=all_triplets B=4096 oom est_gb=16.1 cap_gb=16.0 reason=...
ms is the median over the timed runs, best_ms the fastest run (the number of runs shrinks for slow configurations so
that one configuration takes about --budget-s seconds; a run is as many calls as make ~50 ms, at least one).
est_gb is this script's estimate of the configuration's peak memory (see
estimate_bytes); a configuration whose estimate exceeds --mem-cap-gb (default: 75% of MemAvailable) is not run, and
the process's address space is limited (RLIMIT_AS) to the cap plus a margin so that a wrong estimate ends in "oom"
instead of exhausting the machine.

Usage (run with /usr/bin/python3, the interpreter with torch 1.13):
  torch_metric_losses.py [--losses a,b,..] [--sizes 128,256,..] [--repeats 7] [--threads 2] [--mem-cap-gb G]
  torch_metric_losses.py --peak-memory LOSS B     one configuration, once, then ru_maxrss of this (fresh) process:
      torch loss=all_triplets B=2048 peak_rss_mb=3012.5 baseline_rss_mb=250.1 value=...
  torch_metric_losses.py --save-check DIR [--sizes 256]   inputs and torch's values and gradients as .npy files, for
      bench_metric_losses --check DIR; then torch_metric_losses.py --compare DIR prints the differences
"""
import argparse
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

DIM = 128
ITEMS_PER_CLASS = 16  # PK batches for the pair and triplet losses
ITEMS_PER_PROXY_CLASS = 8  # the proxy losses: C = B / 8
MARGIN = 0.2
LOSSES = ("batch_hard", "semihard", "all_triplets", "contrastive", "proxy_anchor", "proxy_nca", "multi_similarity")
SIZES = (128, 256, 512, 1024, 2048, 4096, 8192)
INT32_MAX = 2**31 - 1


# ---------------------------------------------------------------------------------------------------------------
# Inputs shared with bench_metric_losses.cpp: value k of stream `seed` is splitmix64(seed * 2^32 + k) mapped to
# [-1, 1) through its top 24 bits (exact in float32).
def splitmix_uniform(seed, count):
    with np.errstate(over="ignore"):
        z = np.arange(count, dtype=np.uint64) + np.uint64(seed << 32)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    top24 = (z >> np.uint64(40)).astype(np.float64)
    return (top24 * (2.0 / 2**24) - 1.0).astype(np.float32)


def make_inputs(loss, batch):
    emb = torch.from_numpy(splitmix_uniform(1, batch * DIM).reshape(batch, DIM))
    if loss.startswith("proxy"):
        labels = torch.arange(batch) // ITEMS_PER_PROXY_CLASS
        classes = batch // ITEMS_PER_PROXY_CLASS
        proxies = torch.from_numpy(splitmix_uniform(2, classes * DIM).reshape(classes, DIM))
    else:
        labels = torch.arange(batch) // ITEMS_PER_CLASS
        proxies = None
    return emb, labels, proxies


# ---------------------------------------------------------------------------------------------------------------
# pytorch-metric-learning 2.x, written out.
def lp_distance(x, y=None, power=1):  # LpDistance(normalize_embeddings=True, p=2, power)
    e = F.normalize(x, p=2, dim=1)
    f = e if y is None else F.normalize(y, p=2, dim=1)
    mat = torch.cdist(e, f, p=2)
    return mat if power == 1 else mat**power


def cosine_similarity(x, y=None):  # CosineSimilarity()
    e = F.normalize(x, p=2, dim=1)
    f = e if y is None else F.normalize(y, p=2, dim=1)
    return torch.matmul(e, f.t())


def get_matches_and_diffs(labels):
    matches = (labels.unsqueeze(1) == labels.unsqueeze(0)).byte()
    diffs = matches ^ 1
    matches.fill_diagonal_(0)
    return matches, diffs


def get_all_pairs_indices(labels):
    matches, diffs = get_matches_and_diffs(labels)
    a1, p = torch.where(matches)
    a2, n = torch.where(diffs)
    return a1, p, a2, n


def get_all_triplets_indices(labels):
    matches, diffs = get_matches_and_diffs(labels)
    if matches.shape[0] * matches.shape[1] * matches.shape[1] < INT32_MAX:
        return torch.where(matches.unsqueeze(2) * diffs.unsqueeze(1))
    matches, diffs = matches.bool(), diffs.bool()  # torch.nonzero cannot take more than INT_MAX elements: loop
    anchors = torch.arange(0, len(labels))
    anchors = anchors[matches.any(dim=1) & diffs.any(dim=1)]
    a_list, p_list, n_list = [], [], []
    for i in anchors:
        pos = matches[i].nonzero(as_tuple=False).squeeze(1)
        neg = diffs[i].nonzero(as_tuple=False).squeeze(1)
        pos_rep = pos.repeat_interleave(len(neg))
        a_list.append(torch.full((len(pos_rep),), int(i), dtype=labels.dtype))
        p_list.append(pos_rep)
        n_list.append(neg.repeat(len(pos)))
    return torch.cat(a_list), torch.cat(p_list), torch.cat(n_list)


def avg_non_zero(losses):  # AvgNonZeroReducer = ThresholdReducer(low=0)
    keep = losses > 0
    if torch.sum(keep) >= 1:
        return torch.mean(losses[keep])
    return torch.mean(losses) * 0


def batch_hard_miner(emb, labels):
    with torch.no_grad():
        mat = lp_distance(emb)
        a1, p, a2, n = get_all_pairs_indices(labels)
        # get_max_per_row (positives)
        mask = torch.zeros_like(mat)
        mask[a1, p] = 1
        pos_rows = torch.any(mask != 0, dim=1)
        _, hardest_pos = torch.max(mat * mask, dim=1)
        # get_min_per_row (negatives)
        inf = float("inf")
        mask = torch.ones_like(mat) * inf
        mask[a2, n] = 1
        neg_rows = torch.any(mask != inf, dim=1)
        masked = mat.clone()
        masked[mask == inf] = inf
        _, hardest_neg = torch.min(masked, dim=1)
        keep = torch.where(pos_rows & neg_rows)
        a = torch.arange(mat.size(0))[keep]
        return a, hardest_pos[keep], hardest_neg[keep]


def triplet_margin_miner(emb, labels, margin, kind):
    with torch.no_grad():
        a, p, n = get_all_triplets_indices(labels)
        mat = lp_distance(emb)
        ap, an = mat[a, p], mat[a, n]
        triplet_margin = an - ap
        condition = triplet_margin <= margin
        if kind == "hard":
            condition &= triplet_margin <= 0
        elif kind == "semihard":
            condition &= triplet_margin > 0
        return a[condition], p[condition], n[condition]


def triplet_margin_loss(emb, labels, indices=None, margin=MARGIN):
    a, p, n = get_all_triplets_indices(labels) if indices is None else indices
    if len(a) == 0:
        return torch.sum(emb * 0)
    mat = lp_distance(emb)
    ap, an = mat[a, p], mat[a, n]
    return avg_non_zero(F.relu(ap - an + margin))


def contrastive_loss(emb, labels, pos_margin=0.0, neg_margin=1.0):
    a1, p, a2, n = get_all_pairs_indices(labels)
    mat = lp_distance(emb)
    pos = F.relu(mat[a1, p] - pos_margin)
    neg = F.relu(neg_margin - mat[a2, n])
    return avg_non_zero(pos) + avg_non_zero(neg)


def lmu_logsumexp(x, keep_mask, dim):  # loss_and_miner_utils.logsumexp with add_one=True (2-d input)
    x = x.masked_fill(~keep_mask, torch.finfo(x.dtype).min)
    zeros = torch.zeros(x.size(dim - 1), dtype=x.dtype).unsqueeze(dim)
    x = torch.cat([x, zeros], dim=dim)
    out = torch.logsumexp(x, dim=dim, keepdim=True)
    return out.masked_fill(~torch.any(keep_mask, dim=dim, keepdim=True), 0)


def proxy_anchor_loss(emb, labels, proxies, margin=0.1, alpha=32.0):
    classes = proxies.shape[0]
    miner_weights = torch.ones(len(labels), dtype=emb.dtype).unsqueeze(1) - 1  # convert_to_weights(None) - 1
    cos = cosine_similarity(emb, proxies)
    pos_mask = F.one_hot(labels, classes)
    neg_mask = 1 - pos_mask
    with_pos_proxies = torch.where(torch.sum(pos_mask, dim=0) != 0)[0]
    pos_exp = margin - cos  # CosineSimilarity.margin(cos, margin) (inverted)
    neg_exp = cos - (-margin)  # margin(-margin, cos)
    pos_term = lmu_logsumexp(alpha * pos_exp + miner_weights, pos_mask.bool(), dim=0)
    neg_term = lmu_logsumexp(alpha * neg_exp + miner_weights, neg_mask.bool(), dim=0)
    return torch.sum(pos_term.squeeze(0)) / len(with_pos_proxies) + torch.sum(neg_term.squeeze(0)) / classes


def proxy_nca_loss(emb, labels, proxies, softmax_scale=1.0):
    classes = proxies.shape[0]
    mat = -lp_distance(emb, proxies, power=2)
    same = (labels.unsqueeze(1) == torch.arange(classes).unsqueeze(0)).to(emb.dtype)
    prob = torch.sum(F.softmax(softmax_scale * mat, dim=1) * same, dim=1)
    non_zero = prob != 0
    return torch.mean(-torch.log(prob[non_zero]))  # miner weights 1; MeanReducer


def multi_similarity_miner(emb, labels, epsilon=0.1):  # MultiSimilarityMiner(epsilon), CosineSimilarity
    with torch.no_grad():
        mat = cosine_similarity(emb)
        a1, p, a2, n = get_all_pairs_indices(labels)
        if len(a1) == 0 or len(a2) == 0:
            empty = torch.tensor([], dtype=torch.long)
            return empty.clone(), empty.clone(), empty.clone(), empty.clone()
        mat_neg_sorting = mat
        mat_pos_sorting = mat.clone()
        pos_ignore, neg_ignore = torch.finfo(mat.dtype).max, torch.finfo(mat.dtype).min  # inverted (similarity)
        mat_pos_sorting[a2, n] = pos_ignore
        mat_neg_sorting[a1, p] = neg_ignore
        mat_pos_sorting.fill_diagonal_(pos_ignore)
        mat_neg_sorting.fill_diagonal_(neg_ignore)
        pos_sorted, pos_sorted_idx = torch.sort(mat_pos_sorting, dim=1)
        neg_sorted, neg_sorted_idx = torch.sort(mat_neg_sorting, dim=1)
        hard_pos = torch.where(pos_sorted - epsilon < neg_sorted[:, -1].unsqueeze(1))
        hard_neg = torch.where(neg_sorted + epsilon > pos_sorted[:, 0].unsqueeze(1))
        a1, a2 = hard_pos[0], hard_neg[0]
        return a1, pos_sorted_idx[a1, hard_pos[1]], a2, neg_sorted_idx[a2, hard_neg[1]]


def multi_similarity_loss(emb, labels, indices=None, alpha=2.0, beta=50.0, base=0.5):
    a1, p, a2, n = get_all_pairs_indices(labels) if indices is None else indices
    if all(len(x) <= 1 for x in (a1, p, a2, n)):  # GenericPairLoss.compute_loss: zero_losses()
        return torch.sum(emb * 0)
    mat = cosine_similarity(emb)
    pos_mask, neg_mask = torch.zeros_like(mat), torch.zeros_like(mat)
    pos_mask[a1, p] = 1
    neg_mask[a2, n] = 1
    pos_loss = (1.0 / alpha) * lmu_logsumexp(alpha * (base - mat), pos_mask.bool(), dim=1)
    neg_loss = (1.0 / beta) * lmu_logsumexp(beta * (mat - base), neg_mask.bool(), dim=1)
    return torch.mean(pos_loss + neg_loss)


def loss_fn(loss):
    if loss == "batch_hard":
        return lambda e, y, _: triplet_margin_loss(e, y, batch_hard_miner(e, y))
    if loss == "semihard":
        return lambda e, y, _: triplet_margin_loss(e, y, triplet_margin_miner(e, y, MARGIN, "semihard"))
    if loss == "all_triplets":
        return lambda e, y, _: triplet_margin_loss(e, y)
    if loss == "contrastive":
        return lambda e, y, _: contrastive_loss(e, y)
    if loss == "proxy_anchor":
        return proxy_anchor_loss
    if loss == "proxy_nca":
        return proxy_nca_loss
    if loss == "multi_similarity":
        return lambda e, y, _: multi_similarity_loss(e, y, multi_similarity_miner(e, y))
    raise ValueError(f"unknown loss {loss!r}: expected one of {', '.join(LOSSES)}")


# ---------------------------------------------------------------------------------------------------------------
# Memory: an estimate of each configuration's peak, to skip what cannot fit before trying.
def triplet_count(batch):
    k = ITEMS_PER_CLASS
    return batch * (k - 1) * (batch - k)


def estimate_bytes(loss, batch):
    """Peak bytes of one forward + backward, from the tensors the computation holds at its fullest.

    Triplet listings: 3 int64 indices per triplet (24 T), held twice while get_all_triplets_indices concatenates
    its per-anchor pieces (or while torch.where lists the B^3 byte tensor), plus float32 ap, an, hinge, mask and
    their gradients: about 64 bytes per triplet (the reference's 16 GB for its 250.7 M triplets at B = 4096 is 64 B
    per triplet). Pair losses: a few dozen B x B tensors (int64 pair indices: 16 B per pair each side)."""
    base = 64 * batch * DIM + (256 << 20)
    if loss in ("all_triplets", "semihard"):
        return base + 64 * triplet_count(batch) + (batch**3 if batch**3 < INT32_MAX else 0)
    if loss.startswith("proxy"):
        return base + 40 * batch * (batch // ITEMS_PER_PROXY_CLASS)
    return base + 64 * batch * batch


def mem_available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 8 << 30


def limit_address_space(cap_bytes):
    # torch itself maps ~2-3 GB of address space (libraries, thread stacks, allocator arenas) that is never touched
    limit = int(cap_bytes + (6 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


# ---------------------------------------------------------------------------------------------------------------
def one_call(fn, emb, labels, proxies):
    emb.grad = None
    if proxies is not None:
        proxies.grad = None
    value = fn(emb, labels, proxies)
    value.backward()
    return value


def time_config(loss, batch, repeats, budget_s):
    emb, labels, proxies = make_inputs(loss, batch)
    emb.requires_grad_(True)
    if proxies is not None:
        proxies.requires_grad_(True)
    fn = loss_fn(loss)
    start = time.perf_counter()
    value = one_call(fn, emb, labels, proxies)  # warm-up (also sizes the runs)
    first = time.perf_counter() - start
    runs = max(1, min(repeats, int(budget_s / max(first, 1e-9))))
    calls = max(1, int(0.05 / max(first, 1e-9)))  # calls per run: at least ~50 ms of work per run
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(calls):
            one_call(fn, emb, labels, proxies)
        times.append((time.perf_counter() - start) / calls)
    return statistics.median(times) * 1e3, min(times) * 1e3, runs, float(value)


def run_timings(args):
    cap = args.mem_cap_gb * (1 << 30) if args.mem_cap_gb else 0.75 * mem_available_bytes()
    limit_address_space(cap)
    for batch in args.sizes:
        for loss in args.losses:
            est = estimate_bytes(loss, batch)
            head = f"torch loss={loss} B={batch}"
            tail = f"est_gb={est / 2**30:.2f} cap_gb={cap / 2**30:.1f}"
            if est > cap:
                print(f"{head} skipped {tail} reason=estimated_memory_over_cap", flush=True)
                continue
            try:
                ms, best_ms, runs, value = time_config(loss, batch, args.repeats, args.budget_s)
            except (RuntimeError, MemoryError) as e:
                reason = str(e).splitlines()[0].replace(" ", "_")[:80] if str(e) else type(e).__name__
                print(f"{head} oom {tail} reason={reason}", flush=True)
                continue
            print(f"{head} ms={ms:.3f} best_ms={best_ms:.3f} runs={runs} value={value:.6g} {tail}", flush=True)


def run_peak_memory(loss, batch, cap_gb):
    est = estimate_bytes(loss, batch)
    cap = cap_gb * (1 << 30) if cap_gb else 0.75 * mem_available_bytes()
    head = f"torch loss={loss} B={batch}"
    if est > cap:
        print(f"{head} skipped est_gb={est / 2**30:.2f} cap_gb={cap / 2**30:.1f} reason=estimated_memory_over_cap")
        return
    limit_address_space(cap)
    emb, labels, proxies = make_inputs(loss, batch)
    emb.requires_grad_(True)
    if proxies is not None:
        proxies.requires_grad_(True)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    start = time.perf_counter()
    try:
        value = float(one_call(loss_fn(loss), emb, labels, proxies))
    except (RuntimeError, MemoryError) as e:
        print(f"{head} oom est_gb={est / 2**30:.2f} reason={type(e).__name__}")
        return
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"{head} peak_rss_mb={peak:.1f} baseline_rss_mb={baseline:.1f} seconds={seconds:.3f} value={value:.6g} "
          f"est_gb={est / 2**30:.2f}")


# ---------------------------------------------------------------------------------------------------------------
# Cross-check with trident: same inputs, compare values and gradients.
def save_check(directory, sizes, losses):
    os.makedirs(directory, exist_ok=True)
    for batch in sizes:
        for loss in losses:
            emb, labels, proxies = make_inputs(loss, batch)
            emb = emb.double().requires_grad_(True)  # float64: the comparison measures semantics, not rounding
            if proxies is not None:
                proxies = proxies.double().requires_grad_(True)
            value = loss_fn(loss)(emb, labels, proxies)
            value.backward()
            stem = os.path.join(directory, f"{loss}_{batch}")
            np.save(f"{stem}_emb.npy", emb.detach().numpy())
            np.save(f"{stem}_labels.npy", labels.numpy())
            np.save(f"{stem}_torch_value.npy", np.array([float(value)]))
            np.save(f"{stem}_torch_grad.npy", emb.grad.numpy())
            if proxies is not None:
                np.save(f"{stem}_proxies.npy", proxies.detach().numpy())
                np.save(f"{stem}_torch_proxy_grad.npy", proxies.grad.numpy())
            print(f"saved {stem}_* value={float(value):.10g}")


def compare(directory):
    """Prints, for each saved configuration that bench_metric_losses --check answered, the value and the largest
    gradient difference relative to the largest gradient entry."""
    ok = True
    for name in sorted(os.listdir(directory)):
        if not name.endswith("_torch_value.npy"):
            continue
        stem = os.path.join(directory, name[: -len("_torch_value.npy")])
        if not os.path.exists(f"{stem}_trident_value.npy"):
            print(f"{os.path.basename(stem)}: no trident result")
            continue
        tv, mv = float(np.load(f"{stem}_torch_value.npy")[0]), float(np.load(f"{stem}_trident_value.npy")[0])
        worst = abs(tv - mv) / max(abs(tv), 1e-300)
        line = f"{os.path.basename(stem)}: torch {tv:.10g} trident {mv:.10g} rel {worst:.2e}"
        for which in ("grad", "proxy_grad"):
            if os.path.exists(f"{stem}_torch_{which}.npy") and os.path.exists(f"{stem}_trident_{which}.npy"):
                tg, mg = np.load(f"{stem}_torch_{which}.npy"), np.load(f"{stem}_trident_{which}.npy")
                rel = float(np.max(np.abs(tg - mg)) / max(np.max(np.abs(tg)), 1e-300))
                worst = max(worst, rel)
                line += f" {which} max|diff|/max|g| {rel:.2e}"
        ok &= worst < 1e-6
        print(line + ("" if worst < 1e-6 else "   <-- MISMATCH"))
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget-s", type=float, default=10.0, help="time budget per configuration (seconds)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mem-cap-gb", type=float, default=0.0, help="default: 75%% of MemAvailable")
    parser.add_argument("--peak-memory", nargs=2, metavar=("LOSS", "B"))
    parser.add_argument("--save-check", metavar="DIR")
    parser.add_argument("--compare", metavar="DIR")
    args = parser.parse_args()
    args.losses = [s for s in args.losses.split(",") if s]
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    for loss in args.losses:
        loss_fn(loss)  # validates the name
    torch.set_num_threads(args.threads)
    if args.compare:
        sys.exit(0 if compare(args.compare) else 1)
    if args.save_check:
        save_check(args.save_check, args.sizes, args.losses)
        return
    if args.peak_memory:
        run_peak_memory(args.peak_memory[0], int(args.peak_memory[1]), args.mem_cap_gb)
        return
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, D = {DIM}, float32, forward + backward",
          flush=True)
    run_timings(args)


if __name__ == "__main__":
    main()
