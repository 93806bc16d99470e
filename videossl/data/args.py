"""The data flags every command shares, and the index they describe."""

import glob
import os
from argparse import ArgumentParser, Namespace, _ArgumentGroup
from typing import Optional, Union

from videossl.cli import non_negative_float, probability
from videossl.data.indexes import DATASETS, DatasetIndex, build_index, relabel
from videossl.data.probe_cache import verify_frame_counts
from videossl.errors import UserError
from videossl.video import BACKENDS, DEFAULT_BACKEND, PROBES
from videossl.video.time_limit import DEFAULT_DECODE_TIMEOUT

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_DATA_ROOT = os.path.join(REPO_ROOT, "data", "synthetic", "demo")  # written by make demo, never a default
# The official split lists, byte for byte: the default where a dataset's copy has none beside it.
OFFICIAL_SPLITS = {name: os.path.join(REPO_ROOT, "data", "splits", name) for name in ("ucf101", "hmdb51")}
HMDB51_SPLIT_FOLDERS = ("splits", "testTrainMulti_7030_splits")  # prepare_dataset.py's, the archive's
DATA_LAYOUTS = {
    "ucf101": "the folder holding UCF-101/<Class>/v_*.avi (what scripts/prepare_dataset.py writes), or UCF-101 itself",
    "hmdb51": "the folder holding videos/<class>/*.avi (what scripts/prepare_dataset.py writes), or the class folders",
    "kinetics": "the folder of the clips (found by name at any depth), with --list_file the subset's official CSV",
    "list": "the folder the paths in --list_file are relative to",
    "folder": "a folder with train/ and test/, each holding one folder of videos per class",
    "ssv2": "the folder of the Something-Something v2 videos (<id>.webm, any depth); the official JSON files "
    "(labels, train, validation) in --split_dir (default: beside the videos, or in its annotations/)",
    "diving48": "the folder of the Diving48 videos (<vid_name>.mp4); Diving48_V2_train.json, _test.json and "
    "Diving48_vocab.json in --split_dir",
    "gym99": "the folder of the FineGym element clips (<id>_E_..._A_..._...); SEVERE's gym99_train.txt and "
    "gym99_val.txt, or FineGym's gym99_train_element_v1.1.txt and gym99_val_element.txt, in --split_dir",
    "fx_s1": "as gym99 (floor exercise, set 1: Gym99 classes 6-16)",
    "ub_s1": "as gym99 (uneven bars, set 1: Gym99 classes 74-88)",
    "ntu60": "the folder of the NTU RGB+D videos (S001C001P001R001A001_rgb.avi, any depth); cross-subject split",
    "charades": "the folder of the Charades videos (<id>.mp4, e.g. Charades_v1_480); Charades_v1_train.csv, "
    "Charades_v1_test.csv and Charades_v1_classes.txt in --split_dir",
}


def add_data_args(parser: ArgumentParser, default_dataset: str = "ucf101") -> _ArgumentGroup:
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", default=default_dataset, choices=DATASETS)
    group.add_argument(
        "--data_root",
        default=None,
        help="required: the dataset's folder; "
        + "; ".join(f"{name}: {layout}" for name, layout in DATA_LAYOUTS.items())
        + ". The synthetic demo set (make demo): data/synthetic/demo",
    )
    group.add_argument(
        "--split_dir",
        default=None,
        help="folder of the official split files (default: ucfTrainTestlist or splits beside the videos if "
        "present, else this repository's copy of the official lists in data/splits)",
    )
    group.add_argument("--split", type=int, default=1, choices=(1, 2, 3), help="official split")
    group.add_argument(
        "--list_file",
        default=None,
        help="--dataset kinetics: the training subset's official CSV; --dataset list: 'path [num_frames] label' lines",
    )
    group.add_argument(
        "--test_list_file",
        default=None,
        help="the same for the test videos of an evaluation (Kinetics: the validation CSV, validate.csv)",
    )
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
        type=non_negative_float,
        default=DEFAULT_DECODE_TIMEOUT,
        help="seconds one video may take to decode before it is skipped as unreadable (0: no limit)",
    )
    group.add_argument(
        "--probe",
        default="packets",
        choices=PROBES,
        help="how frame counts are verified once per video: from the container's packets, decoding only "
        "where packets may not be the frames (default), or by decoding every video",
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
        type=probability,
        default=0.5,
        help="probability of a horizontal flip per clip (0 where classes are mirror images)",
    )


def check_data_args(args: Namespace, evaluation: bool = False) -> None:
    """The data flags that can be checked before anything runs or is written: one line naming the
    flag and the layout it expects. An ``evaluation`` needs test videos too."""
    if not args.data_root:
        raise UserError(
            f"--data_root is required for --dataset {args.dataset}: {DATA_LAYOUTS[args.dataset]}. "
            f"The synthetic demo set, once make demo has made it: --data_root {DEMO_DATA_ROOT}"
        )
    if not os.path.isdir(args.data_root):
        raise UserError(f"--data_root {args.data_root!r} is not a folder ({DATA_LAYOUTS[args.dataset]})")
    if args.split_dir and not os.path.isdir(args.split_dir):
        raise UserError(f"--split_dir {args.split_dir!r} is not a folder")
    if args.dataset in ("kinetics", "list") and not args.list_file:
        raise UserError(f"--dataset {args.dataset} needs --list_file ({DATA_LAYOUTS[args.dataset]})")
    for flag in ("list_file", "test_list_file"):
        path = getattr(args, flag, None)
        if path and not os.path.isfile(path):
            raise UserError(f"--{flag} {path!r}: no such file")
    if getattr(args, "labels", None) and not os.path.isfile(args.labels):
        raise UserError(f"--labels {args.labels!r}: no such file")
    if evaluation:
        subset_list_file(args, "test")


def default_split_dir(args: Namespace) -> str:
    """--split_dir, else the split lists beside the videos, else this repository's official copy."""
    if args.split_dir or args.dataset not in OFFICIAL_SPLITS:
        return args.split_dir or args.data_root
    root = os.path.abspath(args.data_root)
    parent = os.path.dirname(root)
    if args.dataset == "ucf101":
        candidates = [os.path.join(root, "ucfTrainTestlist"), os.path.join(parent, "ucfTrainTestlist")]
        found = [c for c in candidates if os.path.isfile(os.path.join(c, "classInd.txt"))]
    else:
        candidates = [os.path.join(folder, name) for folder in (root, parent) for name in HMDB51_SPLIT_FOLDERS]
        found = [c for c in candidates + [root] if glob.glob(os.path.join(glob.escape(c), "*_test_split1.txt"))]
    return found[0] if found else OFFICIAL_SPLITS[args.dataset]


def subset_list_file(args: Namespace, subset: str) -> Optional[str]:
    """The list of ``subset`` for the datasets that come as lists: the test videos have their own."""
    if subset != "test" or args.dataset not in ("kinetics", "list"):
        return args.list_file
    if not args.test_list_file:
        raise UserError(
            f"--dataset {args.dataset}: an evaluation needs --test_list_file, the list of the test videos "
            f"(Kinetics: validate.csv); --list_file is the training videos'"
        )
    return args.test_list_file


def require_single_label(index: DatasetIndex, what: str) -> DatasetIndex:
    """``index``, unless it is multi-label (Charades), which ``what`` cannot evaluate."""
    if index.multi_label:
        raise UserError(
            f"--dataset {index.dataset} gives each video several classes: {what} needs one class per video; "
            f"evaluate it with finetune/train.py, which reports mAP"
        )
    return index


def index_from_args(
    args: Namespace,
    subset: str,
    verify: bool = True,
    skip_missing: Optional[bool] = None,
    workers: Optional[int] = None,
    progress: bool = True,
) -> DatasetIndex:
    """Build the index the flags describe; with ``verify``, probe frame counts (cached)."""
    check_data_args(args)
    index = build_index(
        args.dataset,
        args.data_root,
        default_split_dir(args),
        args.split,
        subset,
        skip_missing=args.skip_missing if skip_missing is None else skip_missing,
        list_file=subset_list_file(args, subset),
    )
    index.decode_timeout = args.decode_timeout
    if getattr(args, "labels", None):
        index = relabel(index, args.labels)
    if verify:
        probe = getattr(args, "probe", "packets")
        verify_frame_counts(index, cache_dir=args.cache_dir, workers=workers, progress=progress, probe=probe)
    return index
