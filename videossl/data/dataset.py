"""The map-style dataset every method trains on: index + reader + the method's sample builder.

A method supplies ``build_sample(reader, rng) -> dict of tensors`` (its clip sampler, decoding
and augmentation); the dataset supplies the video, a random generator and robustness. The
generator of sample ``i`` in epoch ``e`` is seeded by (seed, e, i), so samples do not depend on
the number of workers or on their order, and a resumed run draws what the original would have.

A video that cannot be read (or whose decoding exceeds the index's ``decode_timeout``) is logged
and replaced by a readable video drawn from the same generator (at most ``max_retries`` times in
a row, never an endless loop). Each sample lists the videos skipped on its way under
``"skipped"``; ``collate_samples`` keeps these lists, so the main process can count them across
worker processes with ``SkippedVideos``.
"""

import dataclasses
import gc
import logging
from collections.abc import Iterable
from typing import Callable, Optional

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from videossl.data.downstream import clip_labels
from videossl.data.indexes import DatasetIndex, video_names
from videossl.data.record_table import RecordTable
from videossl.errors import UserError, VideoReadError
from videossl.types import Log
from videossl.video import DEFAULT_BACKEND, open_video
from videossl.video.base import VideoReader
from videossl.video.time_limit import decode_time_limit

log = logging.getLogger(__name__)

# a method's sample builder: an open video and the sample's generator -> the sample ({"clips": ...})
SampleBuilder = Callable[[VideoReader, np.random.Generator], dict]


def check_samples_fit(index: DatasetIndex, frames_needed: Optional[int]) -> None:
    """Refuse a dataset none of whose videos can be read, or whose every video has fewer than
    ``frames_needed`` frames (a sample builder's clip length: a --frames meant for another
    dataset). Some short videos are fine: samplers loop them."""
    if any(r.info is None and r.error is None for r in index.records):
        return  # not verified: nothing known about lengths
    lengths = [r.num_frames for r in index.records if r.error is None]
    if not lengths:
        raise UserError(
            f"none of the {len(index)} videos of {index.describe()} can be read "
            f"(first: {index.records[0].path}: {index.records[0].error}); check the dataset with "
            f"scripts/check_dataset.py"
        )
    if frames_needed and max(lengths) < frames_needed:
        raise UserError(
            f"every {index.subset} video is shorter than one clip: a clip has {frames_needed} frames "
            f"(--frames), the longest of the {len(lengths)} readable videos has {max(lengths)}; "
            f"use a smaller --frames"
        )


class VideoClipDataset(Dataset):
    def __init__(
        self,
        index: DatasetIndex,
        build_sample: SampleBuilder,
        backend: str = DEFAULT_BACKEND,
        seed: int = 0,
        max_retries: int = 10,
        decoder_threads: int = 1,
    ) -> None:
        if len(index) == 0:
            raise ValueError("the index holds no videos")
        check_samples_fit(index, getattr(build_sample, "frames_needed", None))
        self.index = flat_index(index)
        # replacements come from the videos the probe could read (all of them before verification)
        readable = [i for i, r in enumerate(index.records) if r.error is None]
        self.replacements = np.asarray(readable or range(len(index)))
        self.build_sample = build_sample
        self.backend = backend
        self.seed = seed
        self.max_retries = max_retries
        self.decoder_threads = decoder_threads
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Call before each epoch (workers must not be persistent, so that they see it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def rng_for(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(i)])

    def load(self, i: int, rng: Optional[np.random.Generator]) -> dict:
        """The sample built from video ``i``; raises VideoReadError when it cannot be read."""
        record = self.index.records[i]
        if record.error:
            raise VideoReadError(record.path, record.error)
        with decode_time_limit(self.index.decode_timeout, record.path):
            with open_video(record.path, self.backend, info=record.info, threads=self.decoder_threads) as reader:
                sample = self.build_sample(reader, rng)
        seconds = sample.pop("seconds", None)  # a training clip's first and last frame times
        if self.index.multi_label:
            targets = clip_labels(record.actions, self.index.num_classes, None if seconds is None else tuple(seconds))
            sample["label"] = torch.from_numpy(targets)
        else:
            sample["label"] = record.label
        sample["index"] = i
        return sample

    def __getitem__(self, i):
        rng = self.rng_for(i)
        skipped = []
        j = int(i)
        for _ in range(self.max_retries + 1):
            try:
                sample = self.load(j, rng)
                sample["skipped"] = skipped
                return sample
            except VideoReadError as err:
                log.warning("skipping unreadable video %s", err)
                last_error = err
                skipped.append(j)
                j = int(self.replacements[rng.integers(len(self.replacements))])
        raise VideoReadError(
            self.index.root,
            f"{self.max_retries + 1} videos in a row could not be read (last: {last_error}); "
            "check the dataset with scripts/check_dataset.py",
        )


def flat_index(index: DatasetIndex) -> DatasetIndex:
    """The index with its records in flat arrays (``RecordTable``): what loader workers read."""
    if isinstance(index.records, RecordTable):
        return index
    return dataclasses.replace(index, records=RecordTable(index.records))


def collate_samples(batch: list[dict]) -> dict:
    """``default_collate`` for the tensors, with the ``skipped`` lists concatenated."""
    skipped = [j for sample in batch for j in sample.pop("skipped", [])]
    out = default_collate(batch)
    out["skipped"] = skipped
    return out


class SkippedVideos:
    """Counts the videos skipped during an epoch (from collated batches) and reports them."""

    def __init__(self, index: DatasetIndex) -> None:
        self.index = index
        self.epoch_indices = []

    def update(self, skipped: Iterable[int]) -> None:
        self.epoch_indices.extend(int(j) for j in skipped)

    def report(self, epoch: int, stream: Log = print) -> int:
        """Log ``epoch E: N videos skipped ...`` when any were; returns N (distinct videos) and resets."""
        distinct = sorted(set(self.epoch_indices))
        self.epoch_indices = []
        if distinct:
            names = video_names([self.index.records[j].path for j in distinct])
            stream(f"epoch {epoch}: {len(distinct)} unreadable videos skipped: {names}")
        return len(distinct)


def init_loader_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: one torch thread per worker, no oversubscription (OpenCV's
    single thread is set before the fork: ``worker_options``). The objects inherited from the
    training process are moved out of the garbage collector's reach: a collection writes to every
    object it visits, which would copy their memory pages into the worker."""
    gc.freeze()
    torch.set_num_threads(1)


def worker_options(workers: int) -> dict:
    """A DataLoader's ``num_workers`` and ``worker_init_fn``. With workers, OpenCV gets one thread
    in this process, which the forked workers inherit: set in a worker instead, after this process
    had used OpenCV's thread pool, it hangs the worker (tests/test_dataset_workers.py)."""
    if not workers:
        return {"num_workers": 0, "worker_init_fn": None}
    cv2.setNumThreads(1)
    return {"num_workers": workers, "worker_init_fn": init_loader_worker}
