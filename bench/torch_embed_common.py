"""What the PyTorch transcriptions of the metric-learning examples share (bench/torch_mnist_embed.py,
bench/torch_face_verify.py): PK batches and pytorch-metric-learning's batch-hard triplet loss, written out.

The scripts import it from their own folder (Python puts a script's folder first on sys.path).
"""
import torch
import torch.nn.functional as F


def batch_hard_triplet_loss(embeddings, labels, margin):
    """BatchHardMiner + TripletMarginLoss(margin) + AvgNonZeroReducer, as pytorch-metric-learning computes them:
    euclidean distances by torch.cdist; per anchor with a positive and a negative, the farthest positive (not itself)
    and the nearest negative; the hinge [d_ap - d_an + margin]_+ averaged over the triplets with a non-zero loss."""
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
    """num_batches index tensors of P random classes x K of their items (without replacement when a class has K)."""
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
