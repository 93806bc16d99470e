"""Per-video features from any checkpoint: K evenly spaced clips (x 1 or 3 crops) per video,
preprocessed exactly as the checkpoint's input contract says, cached on disk.

The cache key covers the checkpoint file (path, size, modification time), the weights actually
used (random initialisation is its own key), the dataset index (root, split, subset, videos and
their frame counts) and the protocol (clips, crops, contract, precision), so a changed input never
reuses stale features.
"""

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Literal, Optional, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from videossl.data.dataset import VideoClipDataset, worker_options
from videossl.data.indexes import DatasetIndex, video_names
from videossl.data.input_contract import InputContract
from videossl.data.probe_cache import file_stamp
from videossl.data.sampling import (
    half_overlapping_windows,
    middle_clip,
    random_window,
    sample_evenly_spaced_clips,
    severe_test_clips,
    tclr_evaluation_clips,
)
from videossl.data.transforms import Resize, ResizeShortSide, crop_positions, frames_to_clip, stack_clips
from videossl.engine.precision import DTYPES, low_precision_supported
from videossl.errors import UserError, VideoReadError
from videossl.models.checkpoint import atomic_torch_save
from videossl.types import Device, Log
from videossl.video.base import ResampledReader, VideoReader

CACHE_VERSION = 3
logger = logging.getLogger(__name__)


CLIP_STARTS = ("even", "tclr", "middle", "windows", "random", "severe")
CHUNK = 64  # clips per forward pass


@dataclass(frozen=True)
class ClipView:
    """The clips an evaluation takes of every video: ``num_clips`` clips placed as ``clip_starts``
    says (``even``: evenly spaced from the first to the last position; ``tclr``: TCLR's release;
    ``middle``: one clip from the middle frame on when it fits, else from the start; ``windows``:
    CoCLR's every half-overlapping window, so the number of clips varies per video; ``random``:
    one clip at a start drawn per video from ``seed`` and the video's place in the index, CoCLR's
    gallery clip; ``severe``: SEVERE's dense test, starts ``int(linspace(0, max(N - span, 1), num_clips))``),
    each as
    ``crops`` squares of the short side resized to the clip size (1: the centre; 3: start, centre
    and end of the long side), or with ``crop_fraction`` < 1 the centre square of that fraction of
    the short side (TCLR: 0.8)."""

    num_clips: int = 10
    crops: int = 1
    crop_fraction: float = 1.0
    clip_starts: str = "even"
    seed: int = 0  # of the ``random`` starts
    fps: Optional[float] = None  # read every video as if recorded at this rate (ResampledReader)

    def __post_init__(self) -> None:
        if self.crops not in (1, 3):
            raise UserError("--test_crops must be 1 or 3")
        if not 0 < self.crop_fraction <= 1:
            raise UserError(f"--crop_fraction {self.crop_fraction}: must be in (0, 1]")
        if self.crop_fraction < 1 and self.crops != 1:
            raise UserError("--crop_fraction below 1 takes one centre crop (--test_crops 1)")
        if self.clip_starts in ("middle", "random") and self.num_clips != 1:
            raise UserError(
                f"--clip_starts {self.clip_starts} takes one clip per video, not {self.num_clips} (--num_clips 1)"
            )

    @property
    def per_video(self) -> Optional[int]:
        """The number of clips (x crops) of every video, or None where it varies (``windows``)."""
        return None if self.clip_starts == "windows" else self.num_clips * self.crops


DEFAULT_VIEW = ClipView()


class EvaluationClipBuilder:
    """``build_sample`` for ``VideoClipDataset``: uint8 ``[K * crops, C, T, H, W]`` of ``view``'s
    clips, in time order, crops within a clip in the order start/centre/end of the long side."""

    def __init__(self, contract: InputContract, view: ClipView = DEFAULT_VIEW) -> None:
        self.contract, self.view = contract, view
        self.resize = ResizeShortSide(contract.size)

    @property
    def views_per_video(self) -> Optional[int]:
        return self.view.per_video

    def __call__(self, reader: VideoReader, rng: Optional[np.random.Generator]) -> dict:
        c, view = self.contract, self.view
        reader = ResampledReader(reader, view.fps) if view.fps else reader
        if view.clip_starts == "tclr":
            indices = tclr_evaluation_clips(reader.num_frames, view.num_clips, c.frames, c.stride)
        elif view.clip_starts == "middle":
            indices = middle_clip(reader.num_frames, c.frames, c.stride)[None]
        elif view.clip_starts == "windows":
            indices = half_overlapping_windows(reader.num_frames, c.frames, c.stride)
        elif view.clip_starts == "severe":
            indices = severe_test_clips(reader.num_frames, view.num_clips, c.frames, c.stride)
        elif view.clip_starts == "random":
            indices = random_window(reader.num_frames, c.frames, c.stride, rng)
        else:
            indices = sample_evenly_spaced_clips(reader.num_frames, view.num_clips, c.frames, c.stride)
        decoded = reader.get_frames(indices.reshape(-1))  # each distinct frame decoded once
        frames = decoded.reshape(len(indices), c.frames, *decoded.shape[1:])
        if view.crop_fraction < 1:
            return {"clips": centre_fraction_clips(frames, c.size, view.crop_fraction)}
        return {"clips": evaluation_clips(frames, c.size, view.crops, self.resize)}


def evaluation_clips(frames: np.ndarray, size: int, crops: int = 1, resize: Optional[ResizeShortSide] = None) -> Tensor:
    """uint8 frames ``[K, T, H, W, 3]`` -> uint8 clips ``[K * crops, 3, T, size, size]``: short side
    resized to ``size``, then the centre crop (or start/centre/end crops of the long side)."""
    resize = resize or ResizeShortSide(size)
    clips = []
    for clip_frames in frames:
        clip = resize(frames_to_clip(clip_frames))
        for top, left in crop_positions(clip.shape[-2], clip.shape[-1], size, crops):
            clips.append(clip[..., top : top + size, left : left + size])
    return stack_clips(clips)


def centre_fraction_clips(frames: np.ndarray, size: int, fraction: float) -> Tensor:
    """uint8 frames ``[K, T, H, W, 3]`` -> uint8 clips ``[K, 3, T, size, size]``: the centre square
    of ``int(fraction x short side)`` pixels, resized to ``size`` (TCLR's evaluation crop)."""
    height, width = frames.shape[2:4]
    side = max(1, int(min(height, width) * fraction))
    top, left = crop_positions(height, width, side, 1)[0]
    resize = Resize(size)
    return stack_clips([resize(frames_to_clip(f)[..., top : top + side, left : left + side]) for f in frames])


class EvaluationDataset(torch.utils.data.Dataset):
    """Every video of the index exactly once, in index order. An unreadable video is not replaced
    by another one (that would count a video twice and skew the metrics): it is marked invalid,
    and the evaluation leaves it out and says so."""

    def __init__(self, index: DatasetIndex, builder: EvaluationClipBuilder, backend: str) -> None:
        self.clips = VideoClipDataset(index, builder, backend=backend)
        self.builder, self.index = builder, self.clips.index  # the flat copy: workers read only arrays

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        try:
            sample = self.clips.load(i, np.random.default_rng([self.builder.view.seed, i]))
            sample["valid"] = True
        except VideoReadError as err:
            logger.warning("left out of the evaluation: %s", err)
            c, views = self.builder.contract, self.builder.views_per_video or 1
            index = self.clips.index
            label = torch.zeros(index.num_classes) if index.multi_label else index.records[i].label
            sample = {
                "clips": torch.zeros((views, 3, c.frames, c.size, c.size), dtype=torch.uint8),
                "label": label,
                "index": i,
                "valid": False,
            }
        return sample


def evaluation_loader(
    index: DatasetIndex, builder: EvaluationClipBuilder, backend: str, batch_size: int, num_workers: int
) -> DataLoader:
    """Every video of ``index`` in order, as ``builder``'s views, batched by ``collate_views``."""
    return DataLoader(
        EvaluationDataset(index, builder, backend),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate_views,
        **worker_options(num_workers),
    )


def collate_views(samples: list[dict]) -> dict[str, Tensor]:
    """A batch of videos whose number of views may differ: ``clips`` of all of them concatenated
    ``[sum(counts), C, T, H, W]``, ``counts`` ``[B]``, ``label``, ``valid``."""
    return {
        "clips": torch.cat([s["clips"] for s in samples]),
        "counts": torch.tensor([len(s["clips"]) for s in samples]),
        "label": torch.stack([torch.as_tensor(s["label"]) for s in samples]),  # [B] or multi-hot [B, classes]
        "valid": torch.tensor([s["valid"] for s in samples]),
    }


def per_video(values: Tensor, counts: Tensor, views: int) -> Tensor:
    """Per-clip ``values`` ``[sum(counts), ...]`` -> ``[B, views, ...]``: as they are when every
    video has ``views`` of them, else each video's mean (``views`` 1: a varying number of clips)."""
    if views > 1:
        return values.reshape(len(counts), views, *values.shape[1:])
    return torch.stack([part.mean(dim=0) for part in values.split(counts.tolist())])[:, None]


def left_out(index: DatasetIndex, valid: Tensor) -> list[str]:
    """The paths of the videos marked invalid (unreadable) in ``valid``, in index order."""
    return [index.records[i].path for i in (~valid).nonzero()[:, 0].tolist()]


def report_left_out(subset: str, paths: list[str], log: Log = print) -> None:
    """One line naming the unreadable videos an evaluation left out, with their count."""
    if paths:
        log(f"warning: {len(paths)} unreadable {subset} videos left out of the evaluation: {video_names(paths)}")


def index_fingerprint(index: DatasetIndex) -> str:
    """The videos of ``index``, each with its frame count, size and modification time (a video
    rewritten with the same frame count is another input)."""
    h = hashlib.sha256()
    h.update(f"{index.dataset}|{index.root}|{index.split}|{index.subset}".encode())
    for record in index.records:  # not the labels: they are read from the index (--labels gives others)
        try:
            stamp = file_stamp(record.path)
        except OSError:
            stamp = "missing"
        h.update(f"{record.path}|{record.num_frames}|{stamp}".encode())
    return h.hexdigest()[:16]


def file_fingerprint(path: Optional[str]) -> str:
    if path is None:
        return "none"
    if not os.path.exists(path):  # torchvision:<name>, or a TensorFlow checkpoint prefix (its .index file)
        if not os.path.exists(path + ".index"):
            return path
        path += ".index"
    stat = os.stat(path)
    return f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}"


def cache_key(checkpoint_id: str, index: DatasetIndex, contract: InputContract, view: ClipView, precision: str) -> str:
    clips = {"clips": view.num_clips, "crops": view.crops}
    if view.crop_fraction != 1.0 or view.clip_starts != "even":  # keys of the default view stay as they were
        clips.update(crop_fraction=view.crop_fraction, clip_starts=view.clip_starts)
    if view.clip_starts == "random":
        clips.update(seed=view.seed)
    if view.fps:
        clips.update(fps=view.fps)
    payload = json.dumps(
        {
            "version": CACHE_VERSION,
            "checkpoint": checkpoint_id,
            "index": index_fingerprint(index),
            "contract": contract.to_dict(),
            **clips,
            "precision": precision,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def default_cache_dir() -> str:
    return os.path.join(os.environ.get("VIDEOSSL_CACHE") or os.path.expanduser("~/.cache/videossl"), "features")


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    contract: InputContract,
    index: DatasetIndex,
    checkpoint_id: str,
    view: ClipView = DEFAULT_VIEW,
    batch_size: int = 8,
    device: Device = "cpu",
    precision: str = "fp32",
    num_workers: int = 0,
    cache_dir: Union[str, None, Literal[False]] = None,
    backend: str = "pyav",
    progress: bool = True,
    log: Log = print,
) -> dict:
    """``{"maps": [N, K * crops, D, T'] (float16, or float32 where needed), "labels": [N], "paths": [...],
    "seconds": s, "cached": bool}``.

    ``maps`` are the backbone's feature maps pooled over space, time kept: evaluations pool over
    time (linear probe) or flatten (TCLR's retrieval) as their protocol says. With ``view``'s
    ``windows`` (a varying number of clips) each video's maps are its clips' mean: ``K * crops``
    is 1. ``cache_dir=False``: neither read nor write a cache (weights that are still changing)."""
    if precision != "fp32" and not low_precision_supported(device, precision):
        raise UserError(f"--precision {precision} is not supported on {device}")
    use_cache = cache_dir is not False
    cache_dir = cache_dir or default_cache_dir()
    key = cache_key(checkpoint_id, index, contract, view, precision)
    path = os.path.join(cache_dir, f"{key}.pt")
    started = time.perf_counter()
    if use_cache and os.path.exists(path):
        try:
            cached = read_cache_entry(path, key)
            cached.update(seconds=time.perf_counter() - started, cached=True, cache_file=path)
            report_left_out(index.subset, cached["unreadable"], log)
            return with_index_labels(cached, index)
        except Exception as err:  # noqa: BLE001 - a damaged cache file is recomputed, never trusted
            log(f"warning: recomputing features, the cache file {path} is unusable ({type(err).__name__}: {err})")
    loader = evaluation_loader(index, EvaluationClipBuilder(contract, view), backend, batch_size, num_workers)
    maps, valid = video_maps(backbone, contract, loader, device, precision, progress)
    keep = valid.nonzero()[:, 0]
    result = {
        "maps": maps[keep],
        "labels": torch.tensor([index.records[i].label for i in keep.tolist()], dtype=torch.long),
        "paths": [index.records[i].path for i in keep.tolist()],
        "class_names": list(index.class_names),
        "unreadable": left_out(index, valid),
    }
    report_left_out(index.subset, result["unreadable"], log)
    if not len(keep):
        raise UserError(f"no readable video in the {index.subset} split of {index.root}")
    if use_cache:
        os.makedirs(cache_dir, exist_ok=True)
        atomic_torch_save({**result, "key": key, "checksum": maps_checksum(result["maps"])}, path)
    result.update(seconds=time.perf_counter() - started, cached=False, cache_file=path if use_cache else None)
    return result


def video_maps(
    backbone: nn.Module,
    contract: InputContract,
    loader: DataLoader,
    device: Device,
    precision: str,
    progress: bool = True,
) -> tuple[Tensor, Tensor]:
    """(``[N, views, D, T']`` maps of every video of the loader, float16 where they fit, ``[N]``
    bool readable)."""
    device = torch.device(device)
    backbone = backbone.to(device).eval()
    views = loader.dataset.builder.views_per_video or 1
    maps, valid = [], []
    interval = 0.5 if sys.stderr.isatty() else 30
    desc = f"features {loader.dataset.index.subset}"
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False, mininterval=interval):
        clips = batch["clips"].split(CHUNK)
        out = torch.cat([backbone_maps(backbone, contract, chunk, device, precision) for chunk in clips])
        maps.append(compact(per_video(out, batch["counts"], views)).cpu())
        valid.append(batch["valid"])
    return torch.cat(maps), torch.cat(valid)  # float32 as soon as one batch needed it


def compact(maps: Tensor) -> Tensor:
    """``maps`` as float16 where they fit (half the cache), else float32; NaN or infinite features
    are one clear error (they would make every score chance without a word)."""
    if not torch.isfinite(maps).all():
        raise UserError(
            "the backbone's features are NaN or infinite: the checkpoint has diverged, or its weights do "
            "not suit this input (try --precision fp32)"
        )
    half = maps.to(torch.float16)
    return half if torch.isfinite(half).all() else maps.float()


def maps_checksum(maps: Tensor) -> str:
    return hashlib.sha256(maps.contiguous().view(torch.uint8).numpy()).hexdigest()  # no copy of a mapped file


def read_cache_entry(path: str, key: str) -> dict:
    """A cache entry, or ``ValueError`` when it is not the complete entry of ``key`` (truncated,
    written for another key or format version, altered)."""
    # memory-mapped: the maps stay in the page cache, which the system can reclaim, instead of the
    # process's own memory (Kinetics-sized caches are gigabytes)
    cached = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if not isinstance(cached, dict) or cached.get("key") != key:
        raise ValueError("written for another key or cache version")
    if len(cached["maps"]) != len(cached["paths"]) or maps_checksum(cached["maps"]) != cached.get("checksum"):
        raise ValueError("its features do not match its checksum")
    return cached


def with_index_labels(features: dict, index: DatasetIndex) -> dict:
    """``features`` labelled as ``index`` labels its videos (cached features serve every label axis)."""
    label_of = {record.path: record.label for record in index.records}
    features["labels"] = torch.tensor([label_of[p] for p in features["paths"]], dtype=torch.long)
    features["class_names"] = list(index.class_names)
    return features


@torch.no_grad()
def backbone_maps(
    backbone: nn.Module, contract: InputContract, clips: Tensor, device: Device, precision: str = "fp32"
) -> Tensor:
    """uint8 clips ``[n, 3, T, H, W]`` -> float32 maps ``[n, D, T']`` (pooled over space), the clips
    prepared as ``contract`` says and the forward pass run in ``precision``."""
    device = torch.device(device)
    dtype = DTYPES.get(precision)
    x = contract.prepare(clips, device)
    low_precision = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
    with low_precision:
        out = backbone(x)[..., 0, 0]
    return out.float()


def in_chunks(maps: Tensor, per_video: Callable[[Tensor], Tensor], videos: int = 4096) -> Tensor:
    """``per_video(maps)`` computed ``videos`` rows at a time: the float32 copies it makes stay
    small whatever the number of videos (the maps may be a memory-mapped cache)."""
    if len(maps) <= videos:
        return per_video(maps)
    return torch.cat([per_video(maps[start : start + videos]) for start in range(0, len(maps), videos)])


def pooled(maps: Tensor) -> Tensor:
    """``[N, clips, D, T']`` -> ``[N, clips, D]`` (time averaged), float32."""
    return maps.float().mean(dim=-1)


def flattened(maps: Tensor) -> Tensor:
    """``[N, clips, D, T']`` -> ``[N, clips, D * T']`` (TCLR's retrieval: the map before temporal pooling)."""
    return maps.float().flatten(2)
