"""TCE as a method: a 2D ResNet applied per frame, a 128-d embedding head, a 4-way rotation head,
the memory bank of past embeddings (CMC's NCE with mined negatives, tce/hard_negatives.py)."""

import functools

import torch
import torch.nn.functional as F
from torch import nn

from tce.hard_negatives import mine_negatives, mining_threshold
from videossl.engine import distributed
from videossl.engine.method import Method
from videossl.losses.contrastive import MemoryBank, nce_memory_bank_loss


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


class TCE(Method):
    """A batch's ``clips``: frames ``[B, 3 (anchor, positive, rotated anchor), C, 1, H, W]``, with
    ``index`` (the video's bank slot) and ``rotation`` (the rotation class).

    ``size``: the dataset's videos; ``total_steps``: the run's, for the mining threshold;
    ``negative_mode``: mined, release or random (tce/hard_negatives.py)."""

    name = "tce"
    grad_cache_exact = True  # three pieces, each its own BatchNorm batch
    clips_per_sample = 3
    terms = ("nce", "rotation")

    def __init__(
        self,
        backbone,
        contract,
        size,
        total_steps,
        negatives=4096,
        negative_mode="mined",
        temperature=0.07,
        rotation_weight=1.0,
        embedding=128,
    ):
        super().__init__(backbone, contract)
        self.head = nn.Linear(backbone.dim, embedding)
        self.rotation_head = RotationHead(backbone.dim)
        self.memory = TCEMemory(size, embedding)
        self.size, self.total_steps = size, total_steps
        self.negatives, self.negative_mode = min(negatives, size - 1), negative_mode
        self.temperature, self.rotation_weight = temperature, rotation_weight

    def state_modules(self):
        return {"projection": self.head, "rotation": self.rotation_head, "memory": self.memory}

    def forward_chunks(self, batch):
        """The anchor, positive and rotated frames, each through the backbone as its own batch, as
        the release's three forward passes (pretrain.py:71-73 at 0da560c7): each is its own
        BatchNorm batch."""
        frames = self.model_input(batch["clips"])  # [B, 3, C, 1, H, W]
        return [
            functools.partial(self.embed, frames[:, 0]),
            functools.partial(self.embed, frames[:, 1]),
            functools.partial(self.rotation_logits, frames[:, 2]),
        ]

    def loss_from_chunks(self, outputs, batch, *, update_state=True):
        a, p, rotation_logits = outputs
        indices = torch.as_tensor(batch["index"], device=a.device)
        bank, normalizer = self.memory.bank, self.memory.normalizer
        if self.negative_mode == "random":
            drawn = bank.sample_negatives(indices, self.negatives)
        else:  # the release counts steps from 1 over the whole run
            threshold = mining_threshold(self.step + 1, self.total_steps, self.negative_mode)
            drawn = mine_negatives(
                a.detach(),
                bank.memory,
                indices,
                self.negatives,
                threshold,
                release_reshape=self.negative_mode == "release",
            )
        known = float(normalizer) > 0
        nce, batch_normalizer = nce_memory_bank_loss(
            a.float(), p.float(), bank.memory[drawn], self.temperature, self.size, normalizer if known else None
        )
        rotation = F.cross_entropy(rotation_logits.float(), torch.as_tensor(batch["rotation"], device=a.device))
        if update_state:
            if not known:  # CMC fixes Z after the first batch (the same value on every process)
                normalizer.fill_(distributed.all_reduce_mean(float(batch_normalizer)))
            # every process writes every process's anchors, so the banks stay identical
            bank.update(distributed.gather_no_grad(indices), distributed.gather_no_grad(a.detach()))
        return nce + self.rotation_weight * rotation, {"nce": nce.detach(), "rotation": rotation.detach()}

    def embed(self, frames):
        """Frames ``[B, C, 1, H, W]`` -> L2-normalised embeddings ``[B, D]``."""
        return F.normalize(self.head(self.backbone(frames).flatten(1)), dim=1)

    def rotation_logits(self, frames):
        return self.rotation_head(self.backbone(frames).flatten(1))


class TCEMemory(nn.Module):
    """The memory bank and CMC's normaliser Z (fixed after the first step), saved for --restart."""

    def __init__(self, size, dim=128):
        super().__init__()
        self.bank = MemoryBank(size, dim)
        self.register_buffer("normalizer", torch.zeros(()))
