"""TCE's model: a 2D ResNet applied per frame, a 128-d embedding head and a 4-way rotation head."""

import torch.nn.functional as F
from torch import nn


class TCEModel(nn.Module):
    def __init__(self, backbone, embedding=128):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.dim, embedding)
        self.rotation_head = nn.Linear(backbone.dim, 4)

    def forward(self, frames):
        """frames ``[B, 3, C, 1, H, W]`` (anchor, positive, rotated anchor) -> (anchor embedding,
        positive embedding, rotation logits); embeddings L2-normalised."""
        b = frames.shape[0]
        features = self.backbone(frames.flatten(0, 1)).flatten(1).view(b, 3, -1)
        anchor, positive = (F.normalize(self.head(features[:, k]), dim=1) for k in range(2))
        return anchor, positive, self.rotation_head(features[:, 2])
