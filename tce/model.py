"""TCE's model: a 2D ResNet applied per frame, a 128-d embedding head and a 4-way rotation head."""

import torch
import torch.nn.functional as F
from torch import nn

from videossl.losses.contrastive import MemoryBank


class RotationHead(nn.Module):
    """(Linear 200, ReLU, BN) twice, then Linear 4: the release's fc_rotation_1-3 and
    bn_rotation_1-2 (network/model.py, PreTrainNet), ReLU before BatchNorm as there."""

    def __init__(self, dim, hidden=200, classes=4):
        super().__init__()
        self.fc_rotation_1, self.bn_rotation_1 = nn.Linear(dim, hidden), nn.BatchNorm1d(hidden)
        self.fc_rotation_2, self.bn_rotation_2 = nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden)
        self.fc_rotation_3 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = self.bn_rotation_1(torch.relu(self.fc_rotation_1(x)))
        x = self.bn_rotation_2(torch.relu(self.fc_rotation_2(x)))
        return self.fc_rotation_3(x)


class TCEModel(nn.Module):
    def __init__(self, backbone, embedding=128):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.dim, embedding)
        self.rotation_head = RotationHead(backbone.dim)

    def forward(self, frames):
        """frames ``[B, 3, C, 1, H, W]`` (anchor, positive, rotated anchor) -> (anchor embedding,
        positive embedding, rotation logits); embeddings L2-normalised."""
        b = frames.shape[0]
        features = self.backbone(frames.flatten(0, 1)).flatten(1).view(b, 3, -1)
        anchor, positive = (F.normalize(self.head(features[:, k]), dim=1) for k in range(2))
        return anchor, positive, self.rotation_head(features[:, 2])


class TCEMemory(nn.Module):
    """The memory bank and CMC's normaliser Z (fixed after the first step), saved for --restart."""

    def __init__(self, size, dim=128):
        super().__init__()
        self.bank = MemoryBank(size, dim)
        self.register_buffer("normalizer", torch.zeros(()))
