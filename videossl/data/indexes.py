"""Dataset indexes: which videos make a split, with 0-based labels and class names.

Parsers read the official files exactly as distributed (CRLF line ends, trailing spaces, the
``HandstandPushups/v_HandStandPushups_...`` case mismatch of UCF101):

* UCF101: ``classInd.txt``, ``trainlist0N.txt`` (``Class/v_Class_gXX_cXX.avi 1``) and
  ``testlist0N.txt`` (path only; the label comes from the folder through classInd);
* HMDB51: ``<class>_test_split{1,2,3}.txt`` with ``video.avi <tag>`` lines, 1 = train,
  2 = test, 0 = unused; labels are the alphabetical class order;
* Kinetics-400/600: the CSV (``label,youtube_id,time_start,time_end,split``), clips named
  ``<youtube_id>_<start:06d>_<end:06d>.mp4`` anywhere under the root; missing clips are normal
  there and skipped with a count;
* a generic list (``path label`` or ``path num_frames label``; labels may be integers or names);
* a class-per-folder tree (``root/<class>/<video file or frame folder>``).

Videos that do not exist are reported with their count and the first few paths; with
``skip_missing`` the index goes on without them.
"""

import csv
import os
import re
from dataclasses import dataclass, field, replace
from typing import Optional, Union

from videossl.errors import UserError
from videossl.video.info import VideoInfo
from videossl.video.time_limit import DEFAULT_DECODE_TIMEOUT

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".flv", ".wmv")


@dataclass
class VideoRecord:
    """One video of an index: an absolute path (file or frame folder) and a 0-based label (-1 in a
    multi-label index, whose ``actions`` hold (label, start s, end s) spans instead)."""

    path: str
    label: int
    # Filled by ``verify_frame_counts``: the probe's facts, or why the video cannot be read.
    info: Optional[VideoInfo] = None
    error: Optional[str] = None
    listed_frames: Optional[int] = None  # a count given by a list file (not trusted for reading)
    actions: tuple[tuple[int, float, float], ...] = ()

    @property
    def num_frames(self) -> Optional[int]:
        return self.info.num_frames if self.info is not None else None

    @property
    def name(self) -> str:
        return os.path.splitext(os.path.basename(self.path.rstrip("/")))[0]


@dataclass
class DatasetIndex:
    """The videos of one subset of one split, with the class names that give labels meaning."""

    dataset: str
    subset: str
    split: Optional[int]
    root: str
    class_names: list[str]
    records: list[VideoRecord]
    missing: list[str] = field(default_factory=list)
    unused: int = 0  # HMDB51's tag-0 videos, for the record
    # Seconds one video may take to decode before it counts as unreadable (--decode_timeout):
    # the probe and every dataset built on this index apply it.
    decode_timeout: float = DEFAULT_DECODE_TIMEOUT
    # each video has any number of classes, with their time spans (Charades): record.actions
    multi_label: bool = False

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> VideoRecord:
        return self.records[i]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def labels(self) -> list[int]:
        column = getattr(self.records, "labels", None)  # a RecordTable keeps them as an array
        return column.tolist() if column is not None else [r.label for r in self.records]

    def readable(self) -> list[VideoRecord]:
        """The records whose probe succeeded (all records before verification)."""
        return [r for r in self.records if r.error is None]

    def describe(self) -> str:
        return f"{self.dataset} split {self.split} {self.subset}: {len(self)} videos, {self.num_classes} classes"


def read_lines(path: str) -> list[str]:
    """Non-empty lines with CR/LF, a UTF-8 byte-order mark and surrounding spaces removed."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
            return [line.strip() for line in f.read().splitlines() if line.strip()]
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None


def check_split(split: int, allowed: tuple = (1, 2, 3)) -> int:
    if split not in allowed:
        raise UserError(f"split must be one of {', '.join(map(str, allowed))}, got {split!r}")
    return split


class PathResolver:
    """Finds files under a root, falling back to a case-insensitive match per folder level."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._listings = {}

    def _listing(self, folder):
        if folder not in self._listings:
            try:
                names = os.listdir(folder)
            except OSError:
                names = []
            self._listings[folder] = {n.lower(): n for n in names}
        return self._listings[folder]

    def resolve(self, relpath: str) -> Optional[str]:
        """The file ``relpath`` names, or else the frame folder of the same name without its
        extension (frame dumps of UCF101/HMDB51 store ``v_X.avi`` as ``v_X/``)."""
        found = self._resolve(relpath)
        stem, ext = os.path.splitext(relpath)
        if found is None and ext:
            folder = self._resolve(stem)
            found = folder if folder is not None and os.path.isdir(folder) else None
        return found

    def _resolve(self, relpath):
        exact = os.path.join(self.root, relpath)
        if os.path.exists(exact):
            return exact
        current = self.root
        for part in relpath.replace("\\", "/").split("/"):
            real = self._listing(current).get(part.lower())
            if real is None:
                return None
            current = os.path.join(current, real)
        return current


def _finish(dataset, subset, split, root, class_names, entries, skip_missing, what="videos", unused=0, actions=None):
    """Build the index from (path or None, label, relpath, listed frames); handle missing files.
    ``actions``: {relpath: (label, start, end) spans} of a multi-label index (labels -1)."""
    records, missing, seen = [], [], set()
    for path, label, rel, listed in entries:
        if not os.path.isabs(rel) and os.path.normpath(rel).split(os.sep)[0] == os.pardir:
            raise UserError(f"the {dataset} {subset} list names {rel}, outside the data root {root}")
        unlabelled = label == -1 and (dataset == "kinetics" or actions is not None)
        if not 0 <= label < len(class_names) and not unlabelled:
            raise UserError(f"the {dataset} {subset} list gives {rel} label {label}, outside 0-{len(class_names) - 1}")
        if rel in seen:
            raise UserError(f"the {dataset} {subset} list names {rel} twice: each video once, please")
        seen.add(rel)
        if path is None:
            missing.append(rel)
        else:
            spans = tuple(actions[rel]) if actions is not None else ()
            records.append(VideoRecord(os.path.abspath(path), label, listed_frames=listed, actions=spans))
    if missing and not skip_missing:
        first = ", ".join(missing[:5])
        raise UserError(
            f"{len(missing)} of {len(entries)} {dataset} {subset} {what} are missing under {root} "
            f"(first: {first}); check --data_root, or pass --skip_missing to go on without them"
        )
    if not records:
        raise UserError(f"no {dataset} {subset} {what} found under {root}")
    index = DatasetIndex(dataset, subset, split, root, list(class_names), records, missing, unused)
    index.multi_label = actions is not None
    return index


def _check_dir(path: str, flag, what):
    if not path or not os.path.isdir(path):
        raise UserError(f"{flag} {path!r} is not a folder ({what})")


# ----------------------------------------------------------------------------------------------
# UCF101
# ----------------------------------------------------------------------------------------------


def ucf101_video_root(data_root: str) -> str:
    """The folder holding the 101 class folders: ``data_root`` or its ``UCF-101`` child."""
    nested = os.path.join(data_root, "UCF-101")
    return nested if os.path.isdir(nested) else data_root


def ucf101_split_dir(split_dir: str) -> str:
    nested = os.path.join(split_dir, "ucfTrainTestlist")
    return nested if os.path.isfile(os.path.join(nested, "classInd.txt")) else split_dir


def read_ucf101_classes(split_dir: str) -> list[str]:
    classes = {}
    for line in read_lines(os.path.join(split_dir, "classInd.txt")):
        number, name = line.split()
        classes[int(number)] = name
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise UserError(f"{split_dir}/classInd.txt must number its classes 1..N")
    return [classes[i] for i in range(1, len(classes) + 1)]


def parse_ucf101_split(split_dir: str, split: int = 1, subset: str = "train") -> tuple[list[str], list]:
    """(class names, [(relative path, 0-based label)]) from the official UCF101 lists."""
    check_split(split)
    if subset not in ("train", "test"):
        raise UserError(f"UCF101 subsets are train and test, got {subset!r}")
    split_dir = ucf101_split_dir(split_dir)
    list_file = os.path.join(split_dir, f"{subset}list{split:02d}.txt")
    if not os.path.isfile(list_file):
        raise UserError(f"{list_file} not found: --split_dir must hold classInd.txt and the split lists")
    class_names = read_ucf101_classes(split_dir)
    by_lower = {n.lower(): i for i, n in enumerate(class_names)}
    entries = []
    for line in read_lines(list_file):
        parts = line.split()
        rel = parts[0].replace("\\", "/")
        folder = rel.split("/")[0]
        if folder.lower() not in by_lower:
            raise UserError(f"{list_file}: {rel} is in folder {folder!r}, which classInd.txt does not list")
        label = by_lower[folder.lower()]  # from the folder: file names differ in case (HandStandPushups)
        if len(parts) > 1 and (not parts[1].isdigit() or int(parts[1]) - 1 != label):
            raise UserError(f"{list_file}: {rel} has label {parts[1]} but its folder is class {label + 1}")
        entries.append((rel, label))
    return class_names, entries


def ucf101_index(
    data_root: str, split_dir: str, split: int = 1, subset: str = "train", skip_missing: bool = False
) -> DatasetIndex:
    _check_dir(data_root, "--data_root", "the UCF101 videos")
    class_names, parsed = parse_ucf101_split(split_dir, split, subset)
    root = ucf101_video_root(data_root)
    resolver = PathResolver(root)
    entries = [(resolver.resolve(rel), label, rel, None) for rel, label in parsed]
    return _finish("ucf101", subset, split, root, class_names, entries, skip_missing)


# ----------------------------------------------------------------------------------------------
# HMDB51
# ----------------------------------------------------------------------------------------------

HMDB_TAGS = {"train": "1", "test": "2"}
HMDB_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>[123])\.txt$")


def hmdb51_split_dir(split_dir: str) -> str:
    nested = os.path.join(split_dir, "testTrainMulti_7030_splits")
    return nested if os.path.isdir(nested) else split_dir


def parse_hmdb51_split(split_dir: str, split: int = 1, subset: str = "train") -> tuple[list[str], list, int]:
    """(class names, [(relative path, 0-based label)], number of unused videos)."""
    check_split(split)
    if subset not in HMDB_TAGS:
        raise UserError(f"HMDB51 subsets are train and test, got {subset!r}")
    split_dir = hmdb51_split_dir(split_dir)
    _check_dir(split_dir, "--split_dir", "the HMDB51 *_test_split{1,2,3}.txt files")
    files = {}
    for name in os.listdir(split_dir):
        m = HMDB_SPLIT_FILE.match(name)
        if m and int(m.group("split")) == split:
            files[m.group("cls")] = os.path.join(split_dir, name)
    if not files:
        raise UserError(f"no *_test_split{split}.txt files in {split_dir}")
    class_names = sorted(files)
    entries, unused = [], 0
    for label, cls in enumerate(class_names):
        for line in read_lines(files[cls]):
            video, tag = line.split()
            if tag == "0":
                unused += 1
            elif tag == HMDB_TAGS[subset]:
                entries.append((f"{cls}/{video}", label))
    return class_names, entries, unused


def hmdb51_index(
    data_root: str, split_dir: str, split: int = 1, subset: str = "train", skip_missing: bool = False
) -> DatasetIndex:
    _check_dir(data_root, "--data_root", "the HMDB51 class folders")
    class_names, parsed, unused = parse_hmdb51_split(split_dir, split, subset)
    root = hmdb51_video_root(data_root)
    resolver = PathResolver(root)
    entries = [(resolver.resolve(rel), label, rel, None) for rel, label in parsed]
    return _finish("hmdb51", subset, split, root, class_names, entries, skip_missing, unused=unused)


def hmdb51_video_root(data_root: str) -> str:
    """The folder holding the 51 class folders: ``data_root`` or its ``videos`` child (the layout of
    scripts/prepare_dataset.py)."""
    nested = os.path.join(data_root, "videos")
    return nested if os.path.isdir(nested) else data_root


# ----------------------------------------------------------------------------------------------
# Kinetics
# ----------------------------------------------------------------------------------------------


def kinetics_clip_name(youtube_id: str, start: Union[int, str], end: Union[int, str]) -> str:
    return f"{youtube_id}_{int(float(start)):06d}_{int(float(end)):06d}"


def videos_by_name(root: str) -> dict[str, str]:
    """{name without extension: path} of the video files and frame folders at any depth under
    ``root`` (a video file wins over a folder of the same name)."""
    found, folders = {}, {}
    for folder, dirs, names in os.walk(root):
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext.lower() in VIDEO_EXTENSIONS:
                found.setdefault(stem, os.path.join(folder, name))
        for name in dirs:
            folders.setdefault(name, os.path.join(folder, name))
    return {**folders, **found}


def kinetics_index(
    data_root: str,
    csv_path: str,
    subset: Optional[str] = None,
    class_names: Optional[list[str]] = None,
    skip_missing: bool = True,
) -> DatasetIndex:
    """Kinetics from its CSV; clips are found by name anywhere under ``data_root``.

    ``class_names`` fixes the label order (pass the training CSV's classes when indexing the
    validation CSV); by default it is the sorted set of labels in this CSV.
    """
    _check_dir(data_root, "--data_root", "the Kinetics clips")
    if not os.path.isfile(csv_path):
        raise UserError(f"Kinetics CSV {csv_path!r} not found")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "youtube_id" not in rows[0]:
        raise UserError(f"{csv_path} is not a Kinetics CSV (label,youtube_id,time_start,time_end,split)")
    has_labels = "label" in rows[0]
    if class_names is None:
        class_names = sorted({r["label"] for r in rows}) if has_labels else []
    label_of = {n: i for i, n in enumerate(class_names)}
    files = videos_by_name(data_root)
    entries = []
    for r in rows:
        stem = kinetics_clip_name(r["youtube_id"], r["time_start"], r["time_end"])
        label = label_of.get(r["label"], -1) if has_labels else -1
        entries.append((files.get(stem), label, stem + ".mp4", None))
    subset = subset or (rows[0].get("split") or os.path.splitext(os.path.basename(csv_path))[0])
    index = _finish("kinetics", subset, None, data_root, class_names, entries, skip_missing, what="clips")
    if index.missing:
        print(
            f"kinetics {subset}: {len(index.missing)} of {len(rows)} clips are missing (normal for Kinetics), "
            f"using {len(index)}"
        )
    return index


# ----------------------------------------------------------------------------------------------
# Users' own data
# ----------------------------------------------------------------------------------------------


def list_index(
    list_file: str,
    data_root: str = "",
    class_names: Optional[list[str]] = None,
    skip_missing: bool = False,
    subset: str = "all",
) -> DatasetIndex:
    """``path label`` or ``path num_frames label`` lines; paths relative to ``data_root``."""
    entries_raw = []
    for n, line in enumerate(read_lines(list_file), 1):
        parts = line.split()
        if len(parts) == 2:
            rel, frames, label = parts[0], None, parts[1]
        elif len(parts) == 3 and parts[1].isdigit():
            rel, frames, label = parts[0], int(parts[1]), parts[2]
        else:
            raise UserError(f"{list_file}:{n}: expected 'path label' or 'path num_frames label', got {line!r}")
        entries_raw.append((rel, frames, label))
    named = any(not label.lstrip("-").isdigit() for _, _, label in entries_raw)
    if class_names is None:
        if named:
            class_names = sorted({label for _, _, label in entries_raw})
        else:
            class_names = [f"class_{i}" for i in range(max(int(label) for _, _, label in entries_raw) + 1)]
    label_of = {name: i for i, name in enumerate(class_names)}
    resolver = PathResolver(data_root or ".")
    entries = []
    for rel, frames, label in entries_raw:
        if named and label not in label_of:
            raise UserError(f"{list_file}: label {label!r} is not a known class")
        value = label_of[label] if named else int(label)
        path = rel if os.path.isabs(rel) and os.path.exists(rel) else resolver.resolve(rel)
        entries.append((path, value, rel, frames))
    return _finish("list", subset, None, data_root or os.path.dirname(list_file), class_names, entries, skip_missing)


def folder_index(data_root: str, subset: str = "all") -> DatasetIndex:
    """``data_root/<class>/<video file or frame folder>``; classes in alphabetical order."""
    _check_dir(data_root, "--data_root", "one folder per class")
    class_names = sorted(d for d in os.listdir(data_root) if os.path.isdir(os.path.join(data_root, d)))
    entries = []
    for label, cls in enumerate(class_names):
        folder = os.path.join(data_root, cls)
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path) or os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                entries.append((path, label, f"{cls}/{name}", None))
    if not entries:
        raise UserError(f"no videos found in the class folders under {data_root}")
    return _finish("folder", subset, None, data_root, class_names, entries, False)


# the SEVERE suite's datasets (videossl.data.downstream)
DOWNSTREAM_DATASETS = ("ssv2", "diving48", "gym99", "fx_s1", "ub_s1", "ntu60", "charades")
DATASETS = ("ucf101", "hmdb51", "kinetics", "list", "folder") + DOWNSTREAM_DATASETS


def build_index(
    dataset: str,
    data_root: str,
    split_dir: Optional[str] = None,
    split: int = 1,
    subset: str = "train",
    skip_missing: bool = False,
    list_file: Optional[str] = None,
    class_names: Optional[list[str]] = None,
) -> DatasetIndex:
    """One entry point for every dataset kind (what the command-line flags map to)."""
    if dataset == "ucf101":
        return ucf101_index(data_root, split_dir or data_root, split, subset, skip_missing)
    if dataset == "hmdb51":
        return hmdb51_index(data_root, split_dir or data_root, split, subset, skip_missing)
    if dataset == "kinetics":
        if not list_file:
            raise UserError("kinetics needs --list_file pointing at the CSV of the subset (e.g. train.csv)")
        return kinetics_index(data_root, list_file, subset, class_names, skip_missing=True)
    if dataset == "list":
        if not list_file:
            raise UserError("--dataset list needs --list_file")
        return list_index(list_file, data_root, class_names, skip_missing, subset)
    if dataset == "folder":
        return folder_index(data_root, subset)
    if dataset in DOWNSTREAM_DATASETS:
        from videossl.data.downstream import build_downstream_index  # it builds on this module

        return build_downstream_index(dataset, data_root, split_dir or data_root, subset, skip_missing)
    raise UserError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")


def relabel(index: DatasetIndex, label_file: str) -> DatasetIndex:
    """The same videos with the labels of ``label_file`` ('<video path> <class name>' lines, paths
    relative to the index's root; classes in alphabetical order): a second label axis over the same
    videos (the synthetic set's appearance_labels.txt). Every video of the index needs a label."""
    by_path = {}
    for n, line in enumerate(read_lines(label_file), 1):
        parts = line.split()
        if len(parts) != 2:
            raise UserError(f"{label_file}:{n}: expected '<video path> <class name>', got {line!r}")
        by_path[os.path.normpath(parts[0])] = parts[1]
    class_names = sorted(set(by_path.values()))
    label_of = {name: i for i, name in enumerate(class_names)}
    records, unlabelled = [], []
    for record in index.records:
        name = by_path.get(os.path.normpath(os.path.relpath(record.path, index.root)))
        if name is None:
            unlabelled.append(record.path)
            continue
        records.append(replace(record, label=label_of[name]))
    if unlabelled:
        raise UserError(
            f"{label_file}: {len(unlabelled)} of the {len(index)} {index.subset} videos have no label "
            f"there (first: {unlabelled[0]})"
        )
    return replace(index, class_names=class_names, records=records)


def video_names(paths: list, limit: int = 10) -> str:
    """'a.avi, b.avi and N more': the first ``limit`` file names of ``paths`` for a one-line message."""
    names = ", ".join(os.path.basename(os.fspath(p).rstrip("/")) for p in paths[:limit])
    return names + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def check_same_classes(train_classes: list[str], test_classes: list[str]) -> None:
    """The training and test subsets of an evaluation must name the same classes in the same order."""
    if list(train_classes) != list(test_classes):
        only = sorted(set(train_classes) ^ set(test_classes))
        detail = f" (in one only: {', '.join(only[:5])})" if only else " (the same names in another order)"
        raise UserError(f"the training and test indexes disagree on the classes{detail}")
