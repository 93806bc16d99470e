"""VTDL's model: a query encoder (backbone + head, with gradients), a momentum key encoder and a
FIFO queue of keys (MoCo)."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from videossl.losses.contrastive import MemoryQueue, momentum_update


class VTDLHead(nn.Module):
    """Pool (done by the caller), Linear to ``embedding``, L2-normalise."""

    def __init__(self, dim, embedding=128):
        super().__init__()
        self.fc = nn.Linear(dim, embedding)

    def forward(self, x):
        return F.normalize(self.fc(x), dim=1)


class VTDLModel(nn.Module):
    def __init__(self, backbone, queue_size=5000, embedding=128, momentum=0.999):
        super().__init__()
        self.backbone = backbone
        self.head = VTDLHead(backbone.dim, embedding)
        self.key_backbone, self.key_head = copy.deepcopy(backbone), copy.deepcopy(self.head)
        for p in list(self.key_backbone.parameters()) + list(self.key_head.parameters()):
            p.requires_grad_(False)
        self.queue = MemoryQueue(queue_size, embedding)
        self.momentum = momentum

    def embed(self, clips):
        return self.head(self.backbone(clips).mean(dim=(2, 3, 4)))

    @torch.no_grad()
    def embed_keys(self, clips):
        # MoCo's order: move the key encoder towards the query encoder, then compute the keys
        momentum_update(self.backbone, self.key_backbone, self.momentum)
        momentum_update(self.head, self.key_head, self.momentum)
        return self.key_head(self.key_backbone(clips).mean(dim=(2, 3, 4)))

    def forward(self, anchor, positive, temporal_negative=None):
        """(q, k, n): query of the anchor, key of the positive, query-encoder embedding of the
        temporal negative (or None)."""
        q = self.embed(anchor)
        n = self.embed(temporal_negative) if temporal_negative is not None else None
        return q, self.embed_keys(positive), n
