"""Action classification on top of any checkpoint's backbone: full finetuning, or a linear probe
on augmented clips (the paper protocol), with a multi-view test.

Both train one clip per video per step, drawn at a random position and augmented (square crop of
U(0.6, 1) x the short side, flip), preprocessed as the checkpoint's input contract says. The test
takes ``num_clips`` evenly spaced clips (x 1 or 3 crops) per test video and averages their
softmax (TCE's recipe: sums their logits).
"""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from videossl.data.dataset import init_loader_worker
from videossl.data.sampling import sample_random_clip
from videossl.data.transforms import Compose, RandomHorizontalFlip, RandomSquareCrop, frames_to_clip, stack_clips
from videossl.eval.features import EvaluationClipBuilder, EvaluationDataset, left_out, report_left_out
from videossl.eval.linear_probe import accuracies

AGGREGATIONS = ("softmax_mean", "logit_sum")


class VideoClassifier(nn.Module):
    """backbone -> average over time and space -> (L2-normalise) -> dropout -> linear.

    ``freeze_backbone``: the backbone gets no gradients and stays in eval mode (BatchNorm uses its
    stored statistics) unless ``update_bn_stats`` (TCLR's published linear evaluation lets BN
    statistics follow the new data)."""

    def __init__(self, backbone, num_classes, dropout=0.0, freeze_backbone=False, update_bn_stats=False,
                 normalize_features=False):
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(backbone.dim, num_classes)
        self.freeze_backbone, self.update_bn_stats = freeze_backbone, update_bn_stats
        self.normalize_features = normalize_features
        if freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_backbone and not self.update_bn_stats:
            self.backbone.eval()
        return self

    def features(self, x):
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            f = self.backbone(x).float().mean(dim=(2, 3, 4))
        return F.normalize(f, dim=1) if self.normalize_features else f

    def forward(self, x):
        return self.fc(self.dropout(self.features(x)))


def finetune_augmentation(size, flip_p=0.5):
    return Compose([RandomSquareCrop(size, side=(0.6, 1.0)), RandomHorizontalFlip(flip_p)])


class TrainClipBuilder:
    """``build_sample``: one randomly placed, augmented clip ``{"clips": uint8 [C, T, H, W]}``."""

    def __init__(self, contract, transform=None, flip_p=0.5):
        self.contract = contract
        self.transform = transform or finetune_augmentation(contract.size, flip_p)
        self.frames_needed = contract.frames

    def __call__(self, reader, rng):
        c = self.contract
        indices = sample_random_clip(reader.num_frames, rng, c.frames, c.stride)
        clip = self.transform(frames_to_clip(reader.get_frames(indices)), rng)
        return {"clips": stack_clips([clip])[0]}


@torch.no_grad()
def predict_dataset(model, contract, index, num_clips=10, crops=1, batch_size=4, device="cpu", num_workers=0,
                    backend="pyav", aggregate="softmax_mean", precision_context=None, progress=True):
    """(scores ``[N, classes]``, labels ``[N]``, unreadable paths) over every readable video of
    ``index``: each video's ``num_clips x crops`` views aggregated as ``aggregate`` says."""
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"aggregate must be one of {AGGREGATIONS}")
    dataset = EvaluationDataset(index, EvaluationClipBuilder(contract, num_clips, crops), backend)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        worker_init_fn=init_loader_worker if num_workers else None)
    was_training = model.training
    model.eval()
    scores, labels, valid = [], [], []
    for batch in tqdm(loader, desc=f"testing {index.subset} videos", disable=not progress, leave=False):
        b, n = batch["clips"].shape[:2]
        x = contract.prepare(batch["clips"].flatten(0, 1), device)
        if precision_context is not None:
            with precision_context():
                logits = model(x).float()
        else:
            logits = model(x).float()
        logits = logits.reshape(b, n, -1)
        scores.append((logits.sum(dim=1) if aggregate == "logit_sum" else F.softmax(logits, -1).mean(dim=1)).cpu())
        labels.append(torch.as_tensor(batch["label"]))
        valid.append(torch.as_tensor(batch["valid"]))
    model.train(was_training)
    valid = torch.cat(valid)
    keep = valid.nonzero()[:, 0]
    unreadable = left_out(index, valid)
    report_left_out(index.subset, unreadable, tqdm.write)
    return torch.cat(scores)[keep], torch.cat(labels)[keep], unreadable


def evaluate_classifier(model, contract, index, num_classes, **kwargs):
    """accuracies (top-1, top-5, mean per class) plus the counts of the multi-view test."""
    scores, labels, unreadable = predict_dataset(model, contract, index, **kwargs)
    metrics = accuracies(scores, labels, num_classes)
    metrics.update(videos=len(labels), unreadable=len(unreadable))
    return metrics, unreadable
