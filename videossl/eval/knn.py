"""Weighted k-nearest-neighbour classification of features, and the online monitor that runs it
during pretraining (``--knn_every N``).

The classifier is the one of instance discrimination (Wu et al. 2018) as DINO and solo-learn use
it: cosine similarities of L2-normalised features, the ``k`` most similar training videos vote
with weight ``exp(similarity / temperature)``, the class with the largest summed weight wins.
"""

import dataclasses
import json
import os
import time
from argparse import Namespace
from collections import defaultdict
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from videossl.atomic import atomic_write_json
from videossl.data.indexes import DatasetIndex
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.types import Device

KNN_K = 20
KNN_TEMPERATURE = 0.07
KNN_SUBSET_FILE = "knn_subset.json"
# Similarities held at once (a chunk of queries x every training or gallery video, float32): about
# 0.5 GB with a sort's values and indices, whatever the number of videos (Kinetics-400's 240k: 139
# queries per chunk).
SIMILARITY_BUDGET = 2**25


def balanced_subset(index: DatasetIndex, count: int, seed: int) -> DatasetIndex:
    """At most ``count`` videos of ``index``, drawn class by class in turn (so the classes' counts
    differ by one at most, as far as their videos allow), with ``seed``, from the paths in sorted
    order: the same subset whatever order the list had. ``count`` 0: the whole index."""
    if not count or count >= len(index):
        return index
    rng = np.random.default_rng(seed)
    by_class = defaultdict(list)
    for record in sorted(index.records, key=lambda r: r.path):
        by_class[record.label].append(record)
    pools = {label: [videos[i] for i in rng.permutation(len(videos))] for label, videos in sorted(by_class.items())}
    chosen = []
    while len(chosen) < count:
        for label in pools:
            if pools[label] and len(chosen) < count:
                chosen.append(pools[label].pop())
    keep = {id(r) for r in chosen}
    return dataclasses.replace(index, records=[r for r in index.records if id(r) in keep])


def stored_subset(index: DatasetIndex, paths: list) -> DatasetIndex:
    wanted = set(paths)
    return dataclasses.replace(index, records=[r for r in index.records if r.path in wanted])


def top_k(similarities: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest values of each row and their columns; equal values in column order (a stable
    sort: ``topk`` orders ties differently across devices and chunk sizes)."""
    values, columns = torch.sort(similarities, dim=1, descending=True, stable=True)
    return values[:, :k], columns[:, :k]


def weighted_knn(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    num_classes: int,
    k: int = KNN_K,
    temperature: float = KNN_TEMPERATURE,
    budget: int = SIMILARITY_BUDGET,
    device: Optional[Device] = None,
) -> torch.Tensor:
    """Predicted classes ``[M]`` of ``test_features`` ``[M, D]`` from ``train_features`` ``[N, D]``, in
    chunks of at most ``budget`` similarities on ``device`` (default: the training features')."""
    device = torch.device(device) if device is not None else train_features.device
    train = F.normalize(train_features.to(device).float(), dim=1)
    labels = train_labels.to(device)
    k = min(k, len(train))
    rows = max(1, budget // max(1, len(train)))
    predictions = []
    for start in range(0, len(test_features), rows):
        test = F.normalize(test_features[start : start + rows].to(device).float(), dim=1)
        similarity, neighbours = top_k(test @ train.T, k)
        votes = torch.zeros(len(test), num_classes, device=device)
        votes.scatter_add_(1, labels[neighbours], (similarity / temperature).exp())
        predictions.append(votes.argmax(dim=1).cpu())
    return torch.cat(predictions) if predictions else torch.zeros(0, dtype=torch.long)


def video_features(features: dict) -> torch.Tensor:
    """Extracted maps ``[N, clips, D, T']`` -> one feature per video ``[N, D]`` (time and clips averaged)."""
    from videossl.eval.features import in_chunks

    return in_chunks(features["maps"], lambda chunk: chunk.float().mean(dim=(1, 3)))


def fixed_subsets(indexes: dict, count: int, seed: int, path: Optional[str]) -> dict:
    """``balanced_subset`` of each split, the same for the whole run: read from ``path`` when a
    run stored it there (a restart), else drawn and stored."""
    if path and os.path.exists(path):
        with open(path) as f:
            stored = json.load(f)
        return {subset: stored_subset(index, stored[subset]) for subset, index in indexes.items()}
    chosen = {subset: balanced_subset(index, count, seed) for subset, index in indexes.items()}
    if path:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        atomic_write_json(path, {subset: [r.path for r in index.records] for subset, index in chosen.items()})
    return chosen


class KnnMonitor:
    """kNN top-1 of the held-out (test) videos against the training videos, on features of the
    backbone being trained, through the shared feature extraction (never cached: the weights change)."""

    def __init__(
        self,
        args: Namespace,
        contract: InputContract,
        device: Device,
        num_clips: int = 1,
        subset_file: Optional[str] = None,
    ) -> None:
        from videossl.data.args import index_from_args, require_single_label

        try:
            self.indexes = {
                subset: require_single_label(index_from_args(args, subset, progress=False), "--knn_every")
                for subset in ("train", "test")
            }
        except UserError as err:
            raise UserError(
                f"--knn_every needs labelled training and test videos (a dataset with a split): {err}"
            ) from None
        if getattr(args, "knn_subset", 0):
            self.indexes = fixed_subsets(self.indexes, args.knn_subset, args.seed, subset_file)
        self.args, self.contract, self.device, self.num_clips = args, contract, device, num_clips

    def __call__(self, backbone: torch.nn.Module) -> tuple:
        """(top-1 in percent, seconds)."""
        from videossl.eval.features import ClipView, extract_features

        started = time.perf_counter()
        was_training = backbone.training
        features = {
            subset: extract_features(
                backbone,
                self.contract,
                index,
                "knn-monitor",
                ClipView(self.num_clips),
                device=self.device,
                num_workers=self.args.num_workers,
                cache_dir=False,
                backend=self.args.video_backend,
                progress=False,
                log=lambda m: None,
            )
            for subset, index in self.indexes.items()
        }
        backbone.train(was_training)
        predicted = weighted_knn(
            video_features(features["train"]),
            features["train"]["labels"],
            video_features(features["test"]),
            len(features["train"]["class_names"]),
            device=self.device,
        )
        top1 = 100.0 * (predicted == features["test"]["labels"]).float().mean().item()
        return top1, time.perf_counter() - started
