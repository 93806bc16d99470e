"""CVRL as a method: a 3D backbone (R3D-50 slow-only by default), its MLP projection head and the
NT-Xent loss of two clips of a video (cvrl/losses.py)."""

import torch
import torch.nn.functional as F
from torch import nn

from cvrl.losses import cvrl_loss
from videossl.engine import distributed
from videossl.engine.method import Method


class CVRLHead(nn.Module):
    """``layers`` x (Linear ``hidden``, BN, ReLU), then Linear to ``embedding`` (the paper: 3 x 2048, 128)."""

    def __init__(self, dim, hidden=2048, embedding=128, layers=3):
        super().__init__()
        blocks = []
        for _ in range(layers):
            blocks += [nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            dim = hidden
        blocks.append(nn.Linear(dim, embedding))
        self.mlp = nn.Sequential(*blocks)

    def forward(self, x):
        return self.mlp(x)


class CVRL(Method):
    """A batch's ``clips``: ``[B, 2, C, T, H, W]``, two clips of each video."""

    name = "cvrl"
    clips_per_sample = 2
    grad_cache_refusal = (
        "both clips of every video go through the backbone as one BatchNorm batch (SyncBN: the whole "
        "global batch), so computing them in pieces would change the statistics and the gradients; "
        "--checkpoint_activations is exact for it"
    )

    def __init__(self, backbone, contract, temperature=0.1, hidden=2048, embedding=128, layers=3):
        super().__init__(backbone, contract)
        self.head = CVRLHead(backbone.dim, hidden, embedding, layers)
        self.temperature = temperature

    def state_modules(self):
        return {"projection": self.head}

    def loss(self, batch, *, update_state=True):
        z_first, z_second = self.embed(self.model_input(batch["clips"]))
        return cvrl_loss(z_first, z_second, self.temperature, gather=update_state and distributed.is_distributed()), {}

    def embed(self, clips):
        """Model input -> L2-normalised embeddings of the two clips, each ``[B, E]``. Both clips go
        through the backbone as one batch of 2B (SimCLR's way; BatchNorm sees both)."""
        b = clips.shape[0]
        features = self.backbone(torch.cat([clips[:, 0], clips[:, 1]])).mean(dim=(2, 3, 4))
        z = F.normalize(self.head(features), dim=1)
        return z[:b], z[b:]
