"""A tiny synthetic stand-in for the SEVERE suite, so that ``scripts/severe.py --tiny`` runs every
factor end to end on a CPU in seconds, through the real loaders of each dataset format:

* domains: other motion classes, another seed (a new label set, as SS-v2 is to Kinetics);
* samples: a larger coarse set trained on one video per class (about 4% of its training videos);
* granularity: classes told apart only by speed or by the order of two movements;
* tasks: multi-label, in Charades' official CSV format: each video has its motion over the first
  half and its object's appearance over the whole video, and one video has no action.
"""

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Optional

from videossl.data.synthetic import APPEARANCE_LABELS, APPEARANCE_NAMES, SyntheticConfig, generate_dataset
from videossl.eval.severe import SuiteSetting

TINY = dict(frames=16, width=32, height=32, fps=8)
DOMAIN = SyntheticConfig(motions="OscillateHorizontal,OrbitClockwise,Pulse", videos_per_class=6, seed=1, **TINY)
SAMPLES = SyntheticConfig(motions="MoveRight,MoveLeft,RotateClockwise", videos_per_class=32, seed=2, **TINY)
FINE_MOTIONS = "MoveRight,MoveRightFast,ZoomInThenOut,ZoomOutThenIn"
FINE = SyntheticConfig(motions=FINE_MOTIONS, videos_per_class=6, seed=3, **TINY)

TINY_SETTINGS = (
    SuiteSetting("domain", "domains", "other motions", "ucf101"),
    SuiteSetting("samples", "samples", "1 video per class", "ucf101", train_videos=3),
    SuiteSetting("fine", "granularity", "speed and order", "ucf101"),
    SuiteSetting("multilabel", "tasks", "multi-label (mAP)", "charades", metric="mAP"),
)


@dataclass(frozen=True)
class SettingData:
    data_root: str
    split_dir: str


def make_tiny_suite(out_dir: str, names: Optional[Iterable[str]] = None) -> dict[str, SettingData]:
    """Write (or keep) the sets of the settings ``names`` (default: all four) under ``out_dir``;
    {setting name: its data flags}."""
    names = set(names or (s.name for s in TINY_SETTINGS))
    data = {}
    for name, config in (("domain", DOMAIN), ("samples", SAMPLES), ("fine", FINE)):
        if name in names or (name == "domain" and "multilabel" in names):  # the multi-label set's videos
            config = replace(config, classes=len(config.motion_names()))
            root, split_dir = generate_dataset(os.path.join(out_dir, name), config, progress=False)
            data[name] = SettingData(root, split_dir)
    if "multilabel" in names:
        data["multilabel"] = write_charades_lists(data["domain"], os.path.join(out_dir, "multilabel"))
    return data


def write_charades_lists(source: SettingData, out_dir: str) -> SettingData:
    """Charades_v1_classes.txt and Charades_v1_{train,test}.csv over a synthetic set's videos."""
    motions = _read_classes(os.path.join(source.split_dir, "classInd.txt"))
    classes = list(motions) + list(APPEARANCE_NAMES)
    appearance = dict(line.split() for line in _lines(os.path.join(source.split_dir, APPEARANCE_LABELS)))
    seconds = DOMAIN.frames / DOMAIN.fps
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "Charades_v1_classes.txt"), "w") as f:
        f.writelines(f"c{i:03d} {name}\n" for i, name in enumerate(classes))
    for subset, list_name in (("train", "trainlist01.txt"), ("test", "testlist01.txt")):
        rows = []
        for n, line in enumerate(_lines(os.path.join(source.split_dir, list_name))):
            rel = line.split()[0]
            motion = motions.index(rel.split("/")[0])
            shape = len(motions) + APPEARANCE_NAMES.index(appearance[rel])
            actions = f"c{motion:03d} 0.00 {seconds / 2:.2f};c{shape:03d} 0.00 {seconds:.2f}"
            if subset == "train" and n == 0:
                actions = ""  # a video without an action: a negative of every class
            video_id = os.path.splitext(os.path.basename(rel))[0]
            rows.append(f"{video_id},tiny,Synthetic,7,1,Yes,,,,{actions},{seconds:.2f}\n")
        with open(os.path.join(out_dir, f"Charades_v1_{subset}.csv"), "w") as f:
            f.write("id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n")
            f.writelines(rows)
    return SettingData(source.data_root, out_dir)


def _lines(path: str) -> list[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _read_classes(path: str) -> list[str]:
    return [line.split()[1] for line in _lines(path)]
