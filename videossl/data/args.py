"""The data flags every command shares, and the index they describe."""

import os
from argparse import ArgumentParser, Namespace, _ArgumentGroup
from typing import Optional, Union

from videossl.data.indexes import DATASETS, DatasetIndex, build_index, relabel
from videossl.data.probe_cache import verify_frame_counts
from videossl.video import BACKENDS, DEFAULT_BACKEND
from videossl.video.time_limit import DEFAULT_DECODE_TIMEOUT

# The demo dataset (make demo) inside the repository, so that the default works from any folder
# (users run the method scripts from inside their folders).
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_DATA_ROOT = os.path.join(REPO_ROOT, "data", "synthetic", "demo", "UCF-101")


def add_data_args(parser: ArgumentParser, default_dataset: str = "ucf101") -> _ArgumentGroup:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", default=default_dataset, choices=DATASETS)
    group.add_argument(
        "--data_root",
        default=DEMO_DATA_ROOT,
        help="folder of the videos (UCF101: the folder holding UCF-101/ or the class folders)",
    )
    group.add_argument(
        "--split_dir",
        default=None,
        help="folder of the official split files (default: --data_root's sibling ucfTrainTestlist for UCF101)",
    )
    group.add_argument("--split", type=int, default=1, help="official split, 1-3")
    group.add_argument("--list_file", default=None, help="Kinetics CSV, or a 'path [num_frames] label' list")
    group.add_argument("--skip_missing", action="store_true", help="go on without videos that are not on disk")
    group.add_argument(
        "--labels",
        default=None,
        help="'<video path> <class name>' lines that replace the split's labels: another label axis "
        "over the same videos and the same cached features (the synthetic set's "
        "ucfTrainTestlist/appearance_labels.txt)",
    )
    group.add_argument("--video_backend", default=DEFAULT_BACKEND, choices=sorted(BACKENDS))
    group.add_argument(
        "--decode_timeout",
        type=float,
        default=DEFAULT_DECODE_TIMEOUT,
        help="seconds one video may take to decode before it is skipped as unreadable (0: no limit)",
    )
    group.add_argument(
        "--cache_dir",
        default=None,
        help="where verified frame counts are cached (default: $VIDEOSSL_CACHE or ~/.cache/videossl)",
    )
    return group


def add_flip_arg(parser: Union[ArgumentParser, _ArgumentGroup]) -> None:
    """Horizontal flips are label-preserving for human actions (every paper flips with p 0.5), but
    not where left and right are the classes: the synthetic set's MoveRight flipped is MoveLeft."""
    parser.add_argument(
        "--flip_prob",
        type=float,
        default=0.5,
        help="probability of a horizontal flip per clip (0 where classes are mirror images)",
    )


def default_split_dir(args: Namespace) -> str:
    if args.split_dir:
        return args.split_dir
    if args.dataset == "ucf101":
        root = args.data_root.rstrip("/")
        parent = os.path.dirname(root) if os.path.basename(root) == "UCF-101" else root
        return os.path.join(parent, "ucfTrainTestlist")
    return args.data_root


def index_from_args(
    args: Namespace,
    subset: str,
    verify: bool = True,
    skip_missing: Optional[bool] = None,
    workers: Optional[int] = None,
    progress: bool = True,
) -> DatasetIndex:
    """Build the index the flags describe; with ``verify``, probe frame counts (cached)."""
    index = build_index(
        args.dataset,
        args.data_root,
        default_split_dir(args),
        args.split,
        subset,
        skip_missing=args.skip_missing if skip_missing is None else skip_missing,
        list_file=args.list_file,
    )
    index.decode_timeout = args.decode_timeout
    if getattr(args, "labels", None):
        index = relabel(index, args.labels)
    if verify:
        verify_frame_counts(index, cache_dir=args.cache_dir, workers=workers, progress=progress)
    return index
