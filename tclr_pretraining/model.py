"""TCLR as a method: a shared backbone (R3D-18 with the layer4 variant by default), a projection
head and the four-term loss (tclr_pretraining/losses.py).

Each of the 10 clips of a sample (2 views x (global + 4 local)) goes through the backbone as its
own batch of B clips, and each head input is its own batch, as in the reference code: BatchNorm
statistics are those of one kind of clip at a time (merging them would let batch statistics mix
global and local clips).
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from tclr_pretraining.losses import TERMS, tclr_loss
from videossl.engine import distributed
from videossl.engine.method import Method
from videossl.errors import UserError


class TCLRHead(nn.Module):
    """Linear D-D, BN, ReLU, Linear D-128 (no bias), BN, L2-normalise."""

    def __init__(self, dim=512, embedding=128):
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.bn1 = nn.BatchNorm1d(dim)
        self.fc2 = nn.Linear(dim, embedding, bias=False)
        self.bn2 = nn.BatchNorm1d(embedding)

    def forward(self, x):
        return F.normalize(self.bn2(self.fc2(F.relu(self.bn1(self.fc1(x))))), dim=1)


class TCLR(Method):
    """A batch's ``clips``: ``[B, views, 1 + L, C, T, H, W]`` (index 0: the global clip)."""

    name = "tclr"
    terms = TERMS
    grad_cache_exact = True  # every clip kind is its own BatchNorm batch (module docstring)

    def __init__(self, backbone, contract, num_local=4, temperature=0.1, weights=None, embedding=128):
        super().__init__(backbone, contract)
        self.head = TCLRHead(backbone.dim, embedding)
        self.num_local, self.temperature, self.weights = num_local, temperature, weights
        self.clips_per_sample = 2 * (1 + num_local)

    def state_modules(self):
        return {"projection": self.head}

    def forward_chunks(self, batch):
        return self.clip_chunks(self.model_input(batch["clips"]))

    def loss_from_chunks(self, outputs, batch, *, update_state=True):
        gather = update_state and distributed.is_distributed()  # negatives from every process
        return tclr_loss(self.assemble(outputs, batch["clips"].shape[1]), self.temperature, self.weights, gather)

    def _steps(self, feature_map):
        steps = feature_map.shape[2]
        if steps < self.num_local:
            raise UserError(
                f"the backbone keeps {steps} time steps of the global clip, fewer than the "
                f"{self.num_local} local clips the global-local loss compares them with: use more "
                f"--frames or an architecture that keeps time (r3d_18 keeps 4 of 16 frames)"
            )
        series = feature_map[:, :, :, 0, 0]  # [B, D, T']
        if steps != self.num_local:
            series = F.adaptive_avg_pool1d(series, self.num_local)  # align time steps with local clips
        return series

    def clip_chunks(self, clips):
        """One piece per clip kind of the model input ``[B, views, 1 + L, C, T, H, W]``, in the
        order view 0's global clip, its local clips, view 1's ...: a global piece returns
        (embedding ``[B, E]``, time-step embeddings ``[B, L, E]``), a local piece its embedding."""
        views, per_view = clips.shape[1:3]
        return [
            functools.partial(self._global_piece if k == 0 else self._local_piece, clips[:, v, k])
            for v in range(views)
            for k in range(per_view)
        ]

    def _global_piece(self, clip):
        feature_map = self.backbone(clip)
        pooled = self.head(feature_map.mean(dim=(2, 3, 4)))  # before the steps: the head's BatchNorm order
        series = self._steps(feature_map)
        return pooled, torch.stack([self.head(series[:, :, s]) for s in range(self.num_local)], dim=1)

    def _local_piece(self, clip):
        return self.head(self.backbone(clip).mean(dim=(2, 3, 4)))

    @staticmethod
    def assemble(outputs, views):
        """The pieces' outputs -> ``global`` ``[B, views, E]`` (time-averaged), ``global_steps``
        ``[B, views, L, E]`` (the global clip's feature map, one time step at a time) and ``local``
        ``[B, views, L, E]`` (time-averaged)."""
        per_view = len(outputs) // views
        pieces = [outputs[v * per_view : (v + 1) * per_view] for v in range(views)]
        return {
            "global": torch.stack([p[0][0] for p in pieces], 1),
            "global_steps": torch.stack([p[0][1] for p in pieces], 1),
            "local": torch.stack([torch.stack(p[1:], 1) for p in pieces], 1),
        }

    def embed(self, clips):
        """Model input -> the embeddings ``assemble`` describes."""
        return self.assemble([chunk() for chunk in self.clip_chunks(clips)], clips.shape[1])
