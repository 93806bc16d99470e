"""Action classification on top of any checkpoint's backbone: full finetuning, or a linear probe
on augmented clips (the paper protocol), with a multi-view test.

Both train one clip per video per step, drawn at a random position and augmented (square crop of
U(0.6, 1) x the short side, flip), preprocessed as the checkpoint's input contract says. The test
takes ``num_clips`` evenly spaced clips (x 1 or 3 crops) per test video and averages their
softmax (TCE's recipe: sums their logits).
"""

import contextlib
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from videossl.data.augmentations import tclr_colour_block, vtdl_clip_augmentation
from videossl.data.indexes import DatasetIndex
from videossl.data.input_contract import InputContract
from videossl.data.sampling import sample_random_clip
from videossl.data.transforms import (
    ColorJitter,
    Compose,
    InChannelOrder,
    RandomErase,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomShortSideCrop,
    RandomSquareCrop,
    Transform,
    frames_to_clip,
    stack_clips,
)
from videossl.engine.method import Method
from videossl.eval.features import (
    DEFAULT_VIEW,
    ClipView,
    EvaluationClipBuilder,
    evaluation_loader,
    left_out,
    report_left_out,
)
from videossl.eval.linear_probe import accuracies
from videossl.eval.metrics import mean_average_precision
from videossl.types import Device
from videossl.video.base import ResampledReader

# softmax_mean: single-label classes; logit_sum: TCE's test; sigmoid_max: multi-label (SEVERE's Charades)
AGGREGATIONS = ("softmax_mean", "logit_sum", "sigmoid_max")


HEADS = ("linear", "temporal_conv")


class TemporalConvHead(nn.Module):
    """VTDL's I3D classifier (src/model/i3d.py, ``with_classifier``): the space-pooled map averaged
    over windows of 2 time steps (stride 1: the release's (2, 7, 7) pooling of a 7 x 7 map),
    dropout, a bias-free convolution to the classes with kernel ``steps - 1`` (7 at 64 frames) and
    TensorFlow 'SAME' zero padding (the release's Unit3Dpy default), so one output per remaining
    step, averaged over time. ``maps``: ``[B, D, steps]``."""

    def __init__(self, dim: int, num_classes: int, steps: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        kernel = max(steps - 1, 1)
        self.padding = ((kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2)  # 'SAME': the odd zero after
        self.conv = nn.Conv1d(dim, num_classes, kernel_size=kernel, bias=False)

    def forward(self, maps: Tensor) -> Tensor:
        if maps.shape[-1] > 1:
            maps = F.avg_pool1d(maps, kernel_size=2, stride=1)
        return self.conv(F.pad(self.dropout(maps), self.padding)).mean(dim=-1)


class VideoClassifier(Method):
    """backbone -> the classifier head: ``linear`` (average over time and space -> (L2-normalise)
    -> dropout -> linear) or ``temporal_conv`` (VTDL's, over ``steps`` time steps). Trained by the
    engine like a method: its loss is the cross-entropy of a batch's ``clips`` and ``label``, or,
    for multi-hot labels ``[B, classes]`` (a multi-label dataset), the mean binary cross-entropy
    of each class's logit (SEVERE's Charades loss).

    ``freeze_backbone``: the backbone gets no gradients and stays in eval mode (BatchNorm uses its
    stored statistics) unless ``update_bn_stats`` (TCLR's published linear evaluation lets BN
    statistics follow the new data)."""

    name = "classifier"
    grad_cache_refusal = (
        "a batch's clips go through the backbone as one BatchNorm batch; --checkpoint_activations is exact for it"
    )

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int,
        dropout: float = 0.0,
        freeze_backbone: bool = False,
        update_bn_stats: bool = False,
        normalize_features: bool = False,
        head: str = "linear",
        steps: int = 1,
        contract: Optional[InputContract] = None,
    ) -> None:
        super().__init__(backbone, contract)
        self.dropout = nn.Dropout(dropout)
        self.temporal_head = head == "temporal_conv"
        if self.temporal_head:
            self.fc = TemporalConvHead(backbone.dim, num_classes, steps, dropout)
        else:
            self.fc = nn.Linear(backbone.dim, num_classes)
        self.freeze_backbone, self.update_bn_stats = freeze_backbone, update_bn_stats
        self.normalize_features = normalize_features
        if freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> "VideoClassifier":
        super().train(mode)
        if self.freeze_backbone and not self.update_bn_stats:
            self.backbone.eval()
        return self

    def state_modules(self) -> dict[str, nn.Module]:
        return {"classifier": self.fc}

    def loss(self, batch: dict, *, update_state: bool = True) -> tuple[Tensor, dict[str, Tensor]]:
        logits = self.logits(self.model_input(batch["clips"]))
        labels = torch.as_tensor(batch["label"], device=logits.device)
        if labels.ndim == 2:
            return F.binary_cross_entropy_with_logits(logits.float(), labels.float()), {}
        accuracy = (logits.argmax(dim=1) == labels).float().mean() * 100
        return F.cross_entropy(logits.float(), labels), {"train_top1": accuracy.detach()}

    def logits(self, x: Tensor) -> Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            maps = self.backbone(x).float()[..., 0, 0]  # [B, D, T']
        if self.temporal_head:
            return self.fc(maps)
        f = maps.mean(dim=2)
        f = F.normalize(f, dim=1) if self.normalize_features else f
        return self.fc(self.dropout(f))


@torch.no_grad()
def temporal_steps(backbone: nn.Module, contract: InputContract) -> int:
    """T', the time steps ``backbone`` keeps of a clip of ``contract``, from a shape-only pass."""
    import copy

    probe = copy.deepcopy(backbone).to("meta")
    return probe(torch.empty(1, 3, contract.frames, contract.size, contract.size, device="meta")).shape[2]


TRAIN_CROPS = ("square", "resized", "tclr_linear", "vtdl", "severe", "short_side_jitter")


def finetune_augmentation(
    size: int, flip_p: float = 0.5, crop: str = "square", channel_order: str = "rgb"
) -> Transform:
    """The training clips' augmentation. ``square``: a square of U(0.6, 1) x the short side and a
    flip (this project's finetuning); ``resized``: CVRL's linear protocol, a random resized crop of
    area 0.3-1 and aspect 0.5-2 and a flip; ``tclr_linear``: TCLR's linear evaluation
    (linear_eval/dl_linear.py), the square crop with its mild colour operations (on the channels in
    the checkpoint's ``channel_order``, as the release's BGR frames went through them), greyscale,
    flip and erasing; ``vtdl``: VTDL's clip augmentation (its finetuning uses its pretraining transform);
    ``severe``: SEVERE's, a random resized crop of area 0.08-1, a flip and a colour jitter of 0.4
    brightness, contrast and saturation and 0.2 hue in random order; ``short_side_jitter``: SEVERE's
    Charades training, the short side resized to 256-340 (for 112; in proportion to ``size``; its
    inverse drawn uniformly), a random square of ``size`` and a flip."""
    if crop == "vtdl":
        return vtdl_clip_augmentation(size, flip_p)
    if crop == "severe":
        jitter = ColorJitter(0.4, 0.4, 0.4, 0.2, random_order=True)
        return Compose([RandomResizedCrop(size, scale=(0.08, 1.0)), RandomHorizontalFlip(flip_p), jitter])
    if crop == "short_side_jitter":
        scales = (round(size * 256 / 112), round(size * 340 / 112))
        return Compose([RandomShortSideCrop(size, scales), RandomHorizontalFlip(flip_p)])
    if crop == "resized":
        return Compose([RandomResizedCrop(size, scale=(0.3, 1.0), ratio=(0.5, 2.0)), RandomHorizontalFlip(flip_p)])
    if crop == "tclr_linear":
        mild = (0.9, 1.1)
        erase = (max(1, round(size * 9 / 112)), max(1, round(size * 18 / 112)))
        colour = tclr_colour_block(
            mild, 0.05, p_contrast=0.125, p_each=0.15, p_grey=0.1, p_channel_drop=0.0, gamma=(0.85, 1.15)
        )
        return Compose(
            [
                RandomSquareCrop(size, side=(0.6, 1.0)),
                InChannelOrder(channel_order, colour),  # the release's BGR frames through RGB operations
                RandomHorizontalFlip(flip_p),
                RandomErase(p=0.25, size=erase),
            ]
        )
    return Compose([RandomSquareCrop(size, side=(0.6, 1.0)), RandomHorizontalFlip(flip_p)])


class TrainClipBuilder:
    """``build_sample``: one randomly placed, augmented clip ``{"clips": uint8 [C, T, H, W]}`` (and
    ``seconds``, the times of its first and last frame, where the video's rate is known)."""

    def __init__(
        self,
        contract: InputContract,
        transform: Optional[Transform] = None,
        flip_p: float = 0.5,
        sample_fps: Optional[float] = None,
    ) -> None:
        self.contract = contract
        self.transform = transform or finetune_augmentation(contract.size, flip_p)
        self.frames_needed = contract.frames
        self.sample_fps = sample_fps  # read every video as if recorded at this rate (None: as it is)

    def __call__(self, reader, rng):
        c = self.contract
        reader = ResampledReader(reader, self.sample_fps) if self.sample_fps else reader
        indices = sample_random_clip(reader.num_frames, rng, c.frames, c.stride)
        clip = self.transform(frames_to_clip(reader.get_frames(indices)), rng)
        sample = {"clips": stack_clips([clip])[0]}
        if reader.fps:  # the span a multi-label clip takes its classes from
            sample["seconds"] = (float(indices.min()) / reader.fps, float(indices.max()) / reader.fps)
        return sample


@torch.no_grad()
def predict_dataset(
    model: VideoClassifier,
    contract: InputContract,
    index: DatasetIndex,
    view: ClipView = DEFAULT_VIEW,
    batch_size: int = 4,
    device: Device = "cpu",
    num_workers: int = 0,
    backend: str = "pyav",
    aggregate: str = "softmax_mean",
    precision_context: Optional[Callable[[], contextlib.AbstractContextManager]] = None,
    progress: bool = True,
) -> tuple[Tensor, Tensor, list[str]]:
    """(scores ``[N, classes]``, labels ``[N]`` (multi-hot ``[N, classes]``), unreadable paths) over
    every readable video of ``index``: each video's clips of ``view`` aggregated as ``aggregate`` says."""
    if aggregate not in AGGREGATIONS:
        raise ValueError(f"aggregate must be one of {AGGREGATIONS}")
    loader = evaluation_loader(index, EvaluationClipBuilder(contract, view), backend, batch_size, num_workers)
    was_training = model.training
    model.eval()
    scores, labels, valid = [], [], []
    for batch in tqdm(loader, desc=f"testing {index.subset} videos", disable=not progress, leave=False):
        x = contract.prepare(batch["clips"], device)
        with precision_context() if precision_context is not None else contextlib.nullcontext():
            logits = model.logits(x).float()
        scores.append(aggregate_views(logits, batch["counts"].tolist(), aggregate).cpu())
        labels.append(batch["label"])
        valid.append(batch["valid"])
    model.train(was_training)
    valid = torch.cat(valid)
    keep = valid.nonzero()[:, 0]
    unreadable = left_out(index, valid)
    report_left_out(index.subset, unreadable, tqdm.write)
    return torch.cat(scores)[keep], torch.cat(labels)[keep], unreadable


def aggregate_views(logits: Tensor, counts: list[int], aggregate: str) -> Tensor:
    """Each video's score ``[videos, classes]`` from its views' ``logits`` (``counts`` views per
    video, in order): mean softmax, summed logits, or the per-class maximum of the sigmoids."""
    if aggregate == "logit_sum":
        return torch.stack([p.sum(0) for p in logits.split(counts)])
    if aggregate == "sigmoid_max":
        return torch.stack([p.amax(0) for p in torch.sigmoid(logits).split(counts)])
    return torch.stack([p.mean(0) for p in F.softmax(logits, -1).split(counts)])


def evaluate_classifier(
    model: VideoClassifier, contract: InputContract, index: DatasetIndex, num_classes: int, **kwargs: Any
) -> tuple[dict, list[str]]:
    """accuracies (top-1, top-5, mean per class), or for a multi-label index the mean average
    precision over the classes with a positive test video, plus the counts of the multi-view test."""
    scores, labels, unreadable = predict_dataset(model, contract, index, **kwargs)
    if index.multi_label:
        mean_ap, _, kept = mean_average_precision(scores.numpy(), labels.numpy())
        metrics = {"mAP": 100 * mean_ap, "classes_scored": len(kept)}
    else:
        metrics = accuracies(scores, labels, num_classes)
    metrics.update(videos=len(labels), unreadable=len(unreadable))
    return metrics, unreadable
