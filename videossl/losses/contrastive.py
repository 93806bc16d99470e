"""NT-Xent (SimCLR), InfoNCE against a queue (MoCo) and NCE against a memory bank (CMC).

Embeddings are expected L2-normalised; similarities are dot products divided by a temperature.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from videossl.engine import distributed


def nt_xent(z_a: Tensor, z_b: Tensor, temperature: float = 0.1, gather: bool = False) -> Tensor:
    """SimCLR's NT-Xent over the 2N embeddings of two views ``[N, D]``.

    Each of the 2N embeddings is an anchor; its positive is the other view of the same item and its
    2N - 2 negatives are all other embeddings; the loss is the mean over the 2N anchors of
    ``-log softmax`` of the positive. With ``gather=True`` under DDP the candidates are the
    embeddings of all processes (gathered with gradients) while the anchors stay local, so that
    averaging over processes (as DDP does with gradients) gives the loss of the whole batch.
    """
    n = z_a.shape[0]
    local = torch.cat([z_a, z_b], dim=0)  # [2N, D]
    if gather and distributed.world_size() > 1:
        world, r = distributed.world_size(), distributed.rank()
        all_a, all_b = distributed.gather_with_grad(z_a), distributed.gather_with_grad(z_b)
        candidates = torch.cat([all_a, all_b], dim=0)  # [2WN, D]: all first views, then all second views
        offset, total = r * n, world * n
    else:
        candidates, offset, total = local, 0, n
    logits = local @ candidates.T / temperature  # [2N, 2WN]
    rows = torch.arange(2 * n, device=local.device)
    own = torch.where(rows < n, offset + rows, total + offset + rows - n)  # each anchor's own column
    positive = torch.where(rows < n, own + total, own - total)
    logits = logits.masked_fill(F.one_hot(own, logits.shape[1]).bool(), float("-inf"))
    return F.cross_entropy(logits, positive)


def info_nce_with_queue(
    q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.07, extra_negatives: Optional[Tensor] = None
) -> Tensor:
    """MoCo's loss: cross-entropy over ``[q.k, q.queue (, q.extra)] / T`` with target 0.

    ``q``, ``k``: ``[N, D]``; ``queue``: ``[K, D]`` keys of earlier batches; ``extra_negatives``:
    ``[N, D]``, one more negative per query (VTDL's temporal negative)."""
    positive = (q * k).sum(dim=1, keepdim=True)
    logits = [positive, q @ queue.T]
    if extra_negatives is not None:
        logits.append((q * extra_negatives).sum(dim=1, keepdim=True))
    logits = torch.cat(logits, dim=1) / temperature
    return F.cross_entropy(logits, torch.zeros(len(q), dtype=torch.long, device=q.device))


class MemoryQueue(torch.nn.Module):
    """MoCo's FIFO queue of keys; under DDP every process enqueues the keys of all processes."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("keys", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        keys = distributed.gather_no_grad(keys.detach()).to(self.keys.dtype)
        size, start, count = len(self.keys), int(self.pointer), len(keys)
        kept = keys[-size:]  # more keys than slots: the older ones would be overwritten in this same step
        index = (start + count - len(kept) + torch.arange(len(kept), device=keys.device)) % size
        self.keys[index] = kept
        self.pointer.fill_((start + count) % size)


@torch.no_grad()
def momentum_update(online: nn.Module, target: nn.Module, momentum: float = 0.999) -> None:
    """target <- momentum * target + (1 - momentum) * online, for the parameters only: the target's
    BatchNorm statistics are its own, kept by its own forward passes in training mode (VTDL's
    moment_update, src/train_temporal_dis.py:184-187 at 3f2b782b; MoCo does the same)."""
    for p_online, p_target in zip(online.parameters(), target.parameters()):
        p_target.mul_(momentum).add_(p_online.detach(), alpha=1 - momentum)


class MemoryBank(torch.nn.Module):
    """One slot per dataset item (CMC, TCE): embeddings of past epochs serve as negatives."""

    def __init__(self, size: int, dim: int, momentum: float = 0.0) -> None:
        super().__init__()
        stdv = 1.0 / math.sqrt(dim / 3)
        self.register_buffer("memory", F.normalize(torch.rand(size, dim) * 2 * stdv - stdv, dim=1))
        self.momentum = momentum  # 0: the slot is overwritten (TCE); CMC uses 0.5

    def sample_negatives(self, indices: Tensor, count: int, generator: Optional[torch.Generator] = None) -> Tensor:
        """``[N, count]`` slot indices drawn uniformly, never an anchor's own slot."""
        size = len(self.memory)
        draws = torch.randint(0, size - 1, (len(indices), count), generator=generator, device=self.memory.device)
        return draws + (draws >= indices[:, None]).long()  # skip the own slot without a loop

    @torch.no_grad()
    def update(self, indices: Tensor, embeddings: Tensor) -> None:
        embeddings = embeddings.detach().to(self.memory.dtype)
        if self.momentum:
            embeddings = self.memory[indices] * self.momentum + embeddings * (1 - self.momentum)
        self.memory[indices] = F.normalize(embeddings, dim=1)


def nce_memory_bank_loss(
    anchor: Tensor,
    positive: Tensor,
    negatives: Tensor,
    temperature: float = 0.07,
    num_data: Optional[int] = None,
    normalizer: Optional[Tensor] = None,
) -> tuple[Tensor, Tensor]:
    """CMC's NCE loss with a memory bank.

    ``anchor``, ``positive``: ``[N, D]``; ``negatives``: ``[N, K, D]`` drawn from the bank.
    Scores are ``exp(s / T) / Z``; the noise distribution is uniform over ``num_data`` items
    (``Pn = 1 / num_data``). ``Z`` is CMC's constant: if ``normalizer`` is None it is estimated from
    this batch as ``mean(exp(s / T)) * num_data``. Loss, per anchor and averaged:
    ``-log(P_pos / (P_pos + K Pn)) - sum_k log(K Pn / (P_k + K Pn))``. Returns (loss, Z).
    """
    k = negatives.shape[1]
    pos = torch.exp((anchor * positive).sum(dim=1, keepdim=True) / temperature)  # [N, 1]
    neg = torch.exp(torch.einsum("nd,nkd->nk", anchor, negatives) / temperature)  # [N, K]
    scores = torch.cat([pos, neg], dim=1)
    if normalizer is None:
        normalizer = scores.detach().mean() * num_data
    scores = scores / normalizer
    noise = k / num_data
    log_pos = torch.log(scores[:, 0] / (scores[:, 0] + noise))
    log_neg = torch.log(noise / (scores[:, 1:] + noise)).sum(dim=1)
    return -(log_pos + log_neg).mean(), normalizer
