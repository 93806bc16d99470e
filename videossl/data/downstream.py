"""Indexes of the downstream datasets of the SEVERE suite, read from their official annotation files.

* Something-Something v2: ``something-something-v2-labels.json`` (``{"<template>": "<index>"}``),
  ``something-something-v2-{train,validation}.json`` (``[{"id", "label", "template",
  "placeholders"}]``); the class is the template without its brackets (``Putting [something] on
  [something]`` is ``Putting something on something``). The test subset is the validation list
  (the official test list has no labels), as in SEVERE. Videos are ``<id>.webm`` (any extension,
  or a frame folder ``<id>/``) anywhere under the root.
* Diving48 (V2 labels): ``Diving48_V2_{train,test}.json`` (``[{"vid_name", "label", "start_frame",
  "end_frame"}]``, whole videos are used) and ``Diving48_vocab.json`` (48 lists of take-off,
  somersault, twist and flight position, which name the classes). Videos ``<vid_name>.mp4``.
* FineGym, Gym99 element level: SEVERE's ``gym99_{train,val}.txt`` (or ``_org.txt``), else
  FineGym's ``gym99_train_element_v1.1.txt`` (or ``v1.0``) and ``gym99_val_element.txt``
  (``<youtube id>_E_<event start>_<event end>_A_<start>_<end>[.avi|.mp4] <label>`` lines), the
  element clips named so anywhere under the root; ``gym99_categories.txt`` beside the list names
  the classes. Subsets of Gym99 classes, SEVERE's fine-grained settings: ``fx_s1`` (floor exercise, set
  1: Gym99 classes 6-16) and ``ub_s1`` (uneven bars, set 1: classes 74-88), labels counted from 0.
* NTU-60, cross-subject: ``S<setup>C<camera>P<performer>R<replication>A<action>_rgb.avi`` anywhere
  under the root; the performers of the training subset are the 20 of the NTU RGB+D paper.
* Charades (multi-label): ``Charades_v1_{train,test}.csv`` (columns ``id``, ..., ``actions``,
  ``length``; ``actions`` is ``c092 11.90 21.20;c147 0.00 12.60``: class and span in seconds, or
  empty for a video without an action, kept as a negative of every class) and
  ``Charades_v1_classes.txt`` (``c000 Holding some clothes``). Videos ``<id>.mp4`` (e.g.
  ``Charades_v1_480/``). The test subset is the official test list, SEVERE's ``val.csv``.
"""

import csv
import dataclasses
import json
import math
import os
import re
from typing import Any, Optional

import numpy as np

from videossl.data.indexes import VIDEO_EXTENSIONS, DatasetIndex, _finish, read_lines, videos_by_name
from videossl.errors import UserError

# SEVERE's class sets, labels shifted to start at 0 (action_recognition/datasets/gym_set_FX_S1.py:34,45
# and gym_set_UB_S1.py:34,47 at SEVERE 2f99365c)
GYM_SUBSETS = {"gym99": None, "fx_s1": range(6, 17), "ub_s1": range(74, 89)}
# SEVERE's copies first (its results come from them), then FineGym's own releases
GYM99_LISTS = {
    "train": ("gym99_train.txt", "gym99_train_org.txt", "gym99_train_element_v1.1.txt", "gym99_train_element_v1.0.txt"),
    "test": ("gym99_val.txt", "gym99_val_org.txt", "gym99_val_element.txt"),
}
# the cross-subject protocol's training performers (Shahroudy et al., NTU RGB+D, CVPR 2016); the same
# as those of SEVERE's action_recognition/data/ntu60/ntu_60_cross_subject_TrainTestlist/trainlist01.txt
NTU60_TRAIN_PERFORMERS = {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
NTU60_ACTIONS = (
    "drink_water eat_meal_snack brushing_teeth brushing_hair drop pickup throw sitting_down "
    "standing_up_from_sitting_position clapping reading writing tear_up_paper wear_jacket take_off_jacket "
    "wear_a_shoe take_off_a_shoe wear_on_glasses take_off_glasses put_on_a_hat_cap take_off_a_hat_cap cheer_up "
    "hand_waving kicking_something reach_into_pocket hopping_one_foot_jumping jump_up make_a_phone_call_answer_phone "
    "playing_with_phone_tablet typing_on_a_keyboard pointing_to_something_with_finger taking_a_selfie "
    "check_time_from_watch rub_two_hands_together nod_head_bow shake_head wipe_face salute "
    "put_the_palms_together cross_hands_in_front_say_stop sneeze_cough staggering falling touch_head_headache "
    "touch_chest_stomachache_heart_pain touch_back_backache touch_neck_neckache nausea_or_vomiting_condition "
    "use_a_fan_with_hand_or_paper_feeling_warm punching_slapping_other_person kicking_other_person "
    "pushing_other_person "
    "pat_on_back_of_other_person point_finger_at_the_other_person hugging_other_person "
    "giving_something_to_other_person touch_other_person_s_pocket handshaking walking_towards_each_other "
    "walking_apart_from_each_other"
).split()
NTU_NAME = re.compile(r"^S(?P<setup>\d{3})C(\d{3})P(?P<performer>\d{3})R(\d{3})A(?P<action>\d{3})_rgb$")
NTU60_SETUPS = 17  # NTU-120 adds setups 18-32 (with actions 1-60 too) and actions 61-120


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    except ValueError as err:
        raise UserError(f"{path} is not valid JSON ({err})") from None


def annotation_file(folder: str, names: tuple, what: str) -> str:
    for name in names:
        for candidate in (os.path.join(folder, name), os.path.join(folder, "annotations", name)):
            if os.path.isfile(candidate):
                return candidate
    raise UserError(f"{what}: none of {', '.join(names)} in {folder} (--split_dir: the folder of the official files)")


def _index(dataset, subset, root, class_names, listed, skip_missing) -> DatasetIndex:
    """``listed``: [(video name, 0-based label)]; videos are found by name anywhere under ``root``."""
    if not os.path.isdir(root):
        raise UserError(f"--data_root {root!r} is not a folder (the {dataset} videos)")
    found = videos_by_name(root)
    entries = [(found.get(name), label, name, None) for name, label in listed]
    return _finish(dataset, subset, None, root, class_names, entries, skip_missing)


def ssv2_index(data_root: str, split_dir: str, subset: str = "train", skip_missing: bool = False) -> DatasetIndex:
    files = {"train": "something-something-v2-train.json", "test": "something-something-v2-validation.json"}
    if subset not in files:
        raise UserError(f"Something-Something v2 subsets are train and test (its validation list), got {subset!r}")
    labels = read_json(annotation_file(split_dir, ("something-something-v2-labels.json",), "Something-Something v2"))
    class_names = [name for name, _ in sorted(labels.items(), key=lambda item: int(item[1]))]
    listed = []
    for entry in read_json(annotation_file(split_dir, (files[subset],), "Something-Something v2")):
        template = entry["template"].replace("[", "").replace("]", "")  # SEVERE's something.py:58
        if template not in labels:
            raise UserError(f"{files[subset]}: video {entry['id']} has template {template!r}, not in the labels file")
        listed.append((str(entry["id"]), int(labels[template])))
    return _index("ssv2", subset, data_root, class_names, listed, skip_missing)


def diving48_index(data_root: str, split_dir: str, subset: str = "train", skip_missing: bool = False) -> DatasetIndex:
    if subset not in ("train", "test"):
        raise UserError(f"Diving48 subsets are train and test, got {subset!r}")
    vocab = read_json(annotation_file(split_dir, ("Diving48_vocab.json",), "Diving48"))
    class_names = ["_".join(parts) for parts in vocab]
    entries = read_json(annotation_file(split_dir, (f"Diving48_V2_{subset}.json",), "Diving48"))
    listed = [(entry["vid_name"], int(entry["label"])) for entry in entries]
    return _index("diving48", subset, data_root, class_names, listed, skip_missing)


def finegym_index(
    data_root: str, split_dir: str, subset: str = "train", level: str = "gym99", skip_missing: bool = False
) -> DatasetIndex:
    """Gym99 elements, or one of SEVERE's subsets of its classes (``fx_s1``, ``ub_s1``)."""
    if subset not in ("train", "test"):
        raise UserError(f"FineGym subsets are train and test (its validation list), got {subset!r}")
    if level not in GYM_SUBSETS:
        raise UserError(f"FineGym levels: {', '.join(GYM_SUBSETS)}; got {level!r}")
    list_file = annotation_file(split_dir, GYM99_LISTS[subset], "FineGym Gym99")
    listed = []
    for number, line in enumerate(read_lines(list_file), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) >= 99:
            raise UserError(f"{list_file}:{number}: expected '<element clip name> <Gym99 label 0-98>', got {line!r}")
        name, ext = os.path.splitext(os.path.basename(parts[0]))
        listed.append((name if ext.lower() in VIDEO_EXTENSIONS else name + ext, int(parts[1])))
    kept = GYM_SUBSETS[level] or range(99)
    names_of = gym99_class_names(os.path.dirname(list_file))
    class_names = [names_of.get(label, f"gym99_class_{label}") for label in kept]
    listed = [(name, label - kept[0]) for name, label in listed if label in kept]
    return _index(level, subset, data_root, class_names, listed, skip_missing)


def build_downstream_index(
    dataset: str, data_root: str, split_dir: str, subset: str, skip_missing: bool = False
) -> DatasetIndex:
    """The index of one of ``DOWNSTREAM_DATASETS`` (what ``build_index`` calls)."""
    if dataset == "ssv2":
        return ssv2_index(data_root, split_dir, subset, skip_missing)
    if dataset == "diving48":
        return diving48_index(data_root, split_dir, subset, skip_missing)
    if dataset in GYM_SUBSETS:
        return finegym_index(data_root, split_dir, subset, dataset, skip_missing)
    if dataset == "ntu60":
        return ntu60_index(data_root, subset, skip_missing)
    if dataset == "charades":
        return charades_index(data_root, split_dir, subset, skip_missing)
    raise UserError(f"unknown downstream dataset {dataset!r}")


def gym99_class_names(split_dir: str) -> dict[int, str]:
    """{label: name} from ``gym99_categories.txt`` (``Clabel: 0; set: 1; Glabel: 1; (VT) round off, ...``)
    when it is beside the lists; empty otherwise (classes are then named by their number)."""
    path = os.path.join(split_dir, "gym99_categories.txt")
    if not os.path.isfile(path):
        return {}
    names = {}
    for line in read_lines(path):
        fields = [field.strip() for field in line.split(";", 3)]
        if len(fields) == 4 and fields[0].startswith("Clabel:"):
            names[int(fields[0].split(":")[1])] = fields[3]
    return names


def ntu60_index(data_root: str, subset: str = "train", skip_missing: bool = False) -> DatasetIndex:
    """Cross-subject: every ``*_rgb`` video under the root, by its performer."""
    if subset not in ("train", "test"):
        raise UserError(f"NTU-60 subsets are train and test (cross-subject), got {subset!r}")
    if not os.path.isdir(data_root):
        raise UserError(f"--data_root {data_root!r} is not a folder (the NTU RGB+D *_rgb.avi videos)")
    listed = []
    for name in sorted(videos_by_name(data_root)):
        match = NTU_NAME.match(name)
        if match and int(match["setup"]) <= NTU60_SETUPS and int(match["action"]) <= 60:
            in_train = int(match["performer"]) in NTU60_TRAIN_PERFORMERS
            if in_train == (subset == "train"):
                listed.append((name, int(match["action"]) - 1))
    if not listed:
        raise UserError(f"no NTU RGB+D videos (S001C001P001R001A001_rgb.avi) under {data_root}")
    return _index("ntu60", subset, data_root, list(NTU60_ACTIONS), listed, skip_missing)


CHARADES_ACTION = re.compile(r"^c(?P<label>\d{3}) (?P<start>[\d.]+) (?P<end>[\d.]+)$")


def charades_index(data_root: str, split_dir: str, subset: str = "train", skip_missing: bool = False) -> DatasetIndex:
    """A multi-label index: each record's ``actions`` are its (class, start s, end s) spans."""
    if subset not in ("train", "test"):
        raise UserError(f"Charades subsets are train and test, got {subset!r}")
    classes_file = annotation_file(split_dir, ("Charades_v1_classes.txt",), "Charades")
    class_names = [line.split(" ", 1)[1] if " " in line else line for line in read_lines(classes_file)]
    list_file = annotation_file(split_dir, (f"Charades_v1_{subset}.csv",), "Charades")
    listed, actions = [], {}
    for row_number, row in enumerate(read_csv_rows(list_file, ("id", "actions")), 2):
        spans = []
        for part in filter(None, (p.strip() for p in row["actions"].split(";"))):
            match = CHARADES_ACTION.match(part)
            if match is None or int(match["label"]) >= len(class_names):
                raise UserError(
                    f"{list_file}:{row_number}: action {part!r} is not 'c<class 000-{len(class_names) - 1:03d}> "
                    f"<start s> <end s>'"
                )
            start, end = float(match["start"]), float(match["end"])
            spans.append((int(match["label"]), min(start, end), max(start, end)))
        listed.append((row["id"], -1))
        actions[row["id"]] = spans
    if not os.path.isdir(data_root):
        raise UserError(f"--data_root {data_root!r} is not a folder (the Charades videos)")
    found = videos_by_name(data_root)
    entries = [(found.get(name), label, name, None) for name, label in listed]
    return _finish("charades", subset, None, data_root, class_names, entries, skip_missing, actions=actions)


def read_csv_rows(path: str, required: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as err:
        raise UserError(f"cannot read {path}: {err.strerror}") from None
    if rows and not set(required) <= set(rows[0]):
        raise UserError(f"{path}: expected the columns {', '.join(required)}, found {', '.join(rows[0])}")
    return rows


def clip_labels(actions: tuple, num_classes: int, seconds: Optional[tuple[float, float]] = None) -> np.ndarray:
    """The multi-hot float32 ``[num_classes]`` target of a multi-label video: the classes of
    ``actions`` whose span overlaps ``seconds`` (a clip's first and last frame times), every class
    of the video without ``seconds``. SEVERE's Charades loader labels a training clip with the union
    of the labels of the frames it covers and a test video with the union over all its frames
    (action_detection_multi_label_classification/slowfast/datasets/charades.py:89-91,219-224)."""
    target = np.zeros(num_classes, dtype=np.float32)
    for label, start, end in actions:
        if seconds is None or (start <= seconds[1] and end >= seconds[0]):
            target[int(label)] = 1.0
    return target


SEVERE_SUBSET_SEED = 99999  # action_recognition/datasets/utils.py:6 at SEVERE 2f99365c


def severe_subset(index: DatasetIndex, videos: int, seed: int = SEVERE_SUBSET_SEED) -> DatasetIndex:
    """SEVERE's sample-size subset of a training index: ceil(videos / classes) videos of each class
    (all of a smaller class), drawn without replacement by one ``RandomState(seed)`` going through
    the classes in ascending order, each class's videos counted in the index's order. SEVERE draws
    it at load time from its list (UCF101: 10 per class, at most 1,010 videos for 1,000)."""
    labels = np.asarray(index.labels)
    present = sorted(set(labels.tolist()))
    if videos <= 0 or not present:
        raise UserError(f"a subset needs a positive number of videos and a non-empty index, got {videos}")
    per_class = math.ceil(videos / len(present))
    random_state = np.random.RandomState(seed)
    chosen = []
    for label in present:
        members = np.nonzero(labels == label)[0]
        draw = random_state.choice(len(members), min(per_class, len(members)), replace=False)
        chosen.extend(members[draw].tolist())
    return dataclasses.replace(index, records=[index.records[i] for i in chosen])
