"""VTDL as a method: a query encoder (backbone + head, with gradients), a momentum key encoder, a
FIFO queue of keys (MoCo), the temporal negative and temporal consistent augmentation (TCA)."""

import copy
import functools

import torch
import torch.nn.functional as F
from torch import nn

from videossl.engine.method import Method
from videossl.losses.contrastive import MemoryQueue, info_nce_with_queue, momentum_update
from vtdl.augmentation import sample_tca, temporal_consistent_augmentation


class VTDLHead(nn.Module):
    """Pool (done by the caller), Linear to ``embedding``, L2-normalise."""

    def __init__(self, dim, embedding=128):
        super().__init__()
        self.fc = nn.Linear(dim, embedding)

    def forward(self, x):
        return F.normalize(self.fc(x), dim=1)


class VTDL(Method):
    """A batch's ``clips``: uint8 ``[B, 3 (anchor, positive, temporal negative), C, T, H, W]``.
    ``temporal_negative`` and ``tca``: the paper's ablation switches."""

    name = "vtdl"
    clips_per_sample = 3
    grad_cache_exact = True  # the anchor and the temporal negative are separate BatchNorm batches

    def __init__(
        self,
        backbone,
        contract,
        queue_size=5000,
        momentum=0.999,
        temperature=0.07,
        tca_max=0.3,
        temporal_negative=True,
        tca=True,
        embedding=128,
    ):
        super().__init__(backbone, contract)
        self.head = VTDLHead(backbone.dim, embedding)
        self.key_backbone, self.key_head = copy.deepcopy(backbone), copy.deepcopy(self.head)
        for p in list(self.key_backbone.parameters()) + list(self.key_head.parameters()):
            p.requires_grad_(False)
        self.queue = MemoryQueue(queue_size, embedding)
        self.momentum, self.temperature, self.tca_max = momentum, temperature, tca_max
        self.temporal_negative, self.tca = temporal_negative, tca

    def state_modules(self):
        return {
            "projection": self.head,
            "key_backbone": self.key_backbone,
            "key_head": self.key_head,
            "queue": self.queue,
        }

    def forward_chunks(self, batch):
        """The query encoder's pieces: the anchor (after TCA), then the temporal negative."""
        clips = batch["clips"].to(self.queue.keys.device)
        anchor = clips[:, 0]
        if self.tca:  # in pixel space (0-255), before the input contract's normalisation
            lam, frame_index = sample_tca(len(anchor), anchor.shape[2], self.tca_max, device=anchor.device)
            anchor = temporal_consistent_augmentation(anchor.float(), lam, frame_index)
        pieces = [anchor, clips[:, 2]] if self.temporal_negative else [anchor]
        return [functools.partial(self.embed, self.model_input(piece)) for piece in pieces]

    def loss_from_chunks(self, outputs, batch, *, update_state=True):
        q, n = outputs if self.temporal_negative else (outputs[0], None)
        k = self.embed_keys(self.model_input(batch["clips"][:, 1].to(q.device)), move=update_state)
        loss = info_nce_with_queue(q, k, self.queue.keys.clone().detach(), self.temperature, extra_negatives=n)
        if update_state:
            self.queue.enqueue(k)  # the keys of every process, in rank order
        return loss, {}

    def embed(self, clips):
        return self.head(self.backbone(clips).mean(dim=(2, 3, 4)))

    @torch.no_grad()
    def embed_keys(self, clips, move=True):
        # MoCo's order: move the key encoder towards the query encoder, then compute the keys
        if move:
            momentum_update(self.backbone, self.key_backbone, self.momentum)
            momentum_update(self.head, self.key_head, self.momentum)
        return self.key_head(self.key_backbone(clips).mean(dim=(2, 3, 4)))
