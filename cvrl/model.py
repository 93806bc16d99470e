"""CVRL's model: a 3D backbone (R3D-50 slow-only by default) and its MLP projection head."""

import torch
import torch.nn.functional as F
from torch import nn


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


class CVRLModel(nn.Module):
    """clips ``[B, 2, C, T, H, W]`` -> L2-normalised embeddings of the two clips, each ``[B, E]``.
    Both clips go through the backbone as one batch of 2B (SimCLR's way; BatchNorm sees both)."""

    def __init__(self, backbone, hidden=2048, embedding=128, layers=3):
        super().__init__()
        self.backbone = backbone
        self.head = CVRLHead(backbone.dim, hidden, embedding, layers)

    def forward(self, clips):
        b = clips.shape[0]
        features = self.backbone(torch.cat([clips[:, 0], clips[:, 1]])).mean(dim=(2, 3, 4))
        z = F.normalize(self.head(features), dim=1)
        return z[:b], z[b:]
