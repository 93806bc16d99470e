"""Dataset indexes parse the official files as they come (CRLF, trailing spaces, case mismatches)."""

import os

import pytest

from videossl.data.indexes import (
    build_index,
    folder_index,
    kinetics_index,
    list_index,
    parse_hmdb51_split,
    parse_ucf101_split,
    read_lines,
    ucf101_index,
)
from videossl.errors import UserError

SPLITS = os.path.join(os.path.dirname(__file__), "..", "data", "splits")
UCF, HMDB = os.path.join(SPLITS, "ucf101"), os.path.join(SPLITS, "hmdb51")

UCF_COUNTS = {1: (9537, 3783), 2: (9586, 3734), 3: (9624, 3696)}


def test_split_files_are_kept_byte_for_byte():
    with open(os.path.join(UCF, "trainlist01.txt"), "rb") as f:
        assert b"\r\n" in f.read(200)


@pytest.mark.parametrize("split", [1, 2, 3])
def test_ucf101_counts_and_labels(split):
    classes, train = parse_ucf101_split(UCF, split, "train")
    _, test = parse_ucf101_split(UCF, split, "test")
    assert (len(train), len(test)) == UCF_COUNTS[split]
    assert len(classes) == 101 and classes[0] == "ApplyEyeMakeup" and classes[100] == "YoYo"
    assert {label for _, label in train} == set(range(101)) == {label for _, label in test}
    # The train list's own label column equals classInd's number of the folder (1-based).
    raw = {line.split()[0]: int(line.split()[1]) for line in read_lines(os.path.join(UCF, f"trainlist0{split}.txt"))}
    assert all(raw[path] - 1 == label for path, label in train)
    assert not any("\r" in path or " " in path for path, _ in train + test)
    assert not set(p for p, _ in train) & set(p for p, _ in test)


def test_ucf101_case_mismatch_gets_the_folder_label():
    classes, test = parse_ucf101_split(UCF, 1, "test")
    handstand = [(p, label) for p, label in test if "v_HandStandPushups_" in p]
    assert handstand and all(classes[label] == "HandstandPushups" for _, label in handstand)


@pytest.mark.parametrize("split", [1, 2, 3])
def test_hmdb51_counts(split):
    classes, train, unused = parse_hmdb51_split(HMDB, split, "train")
    _, test, _ = parse_hmdb51_split(HMDB, split, "test")
    assert (len(train), len(test), unused) == (3570, 1530, 1666)
    assert len(classes) == 51 and classes == sorted(classes) and classes[0] == "brush_hair"
    assert {label for _, label in train} == set(range(51))
    assert train[0][0].startswith("brush_hair/") and train[0][0].endswith(".avi")


@pytest.mark.parametrize("split", [0, 4, "1"])
def test_bad_split_is_a_user_error(split):
    with pytest.raises(UserError, match="split must be one of 1, 2, 3"):
        parse_ucf101_split(UCF, split, "train")


def _touch(root, rel):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def test_ucf101_index_finds_files_case_insensitively_and_reports_missing(tmp_path):
    _, train = parse_ucf101_split(UCF, 1, "train")
    root = tmp_path / "UCF-101"
    for rel, _ in train[:50]:
        _touch(str(root), rel.lower() if rel.startswith("Apply") else rel)  # some with other case
    with pytest.raises(UserError) as err:
        ucf101_index(str(tmp_path), UCF, 1, "train")
    assert f"{len(train) - 50} of {len(train)}" in str(err.value) and "--skip_missing" in str(err.value)
    index = ucf101_index(str(tmp_path), UCF, 1, "train", skip_missing=True)
    assert len(index) == 50 and len(index.missing) == len(train) - 50
    assert all(os.path.exists(r.path) for r in index.records)


def test_synthetic_dataset_indexes_like_ucf101(tiny_synthetic):
    video_root, split_dir = tiny_synthetic
    train = build_index("ucf101", os.path.dirname(video_root), split_dir, 1, "train")
    test = build_index("ucf101", video_root, split_dir, 1, "test")
    assert train.num_classes == test.num_classes == 3
    assert len(train) + len(test) == 12 and len(test) > 0
    assert not {r.path for r in train.records} & {r.path for r in test.records}


def test_kinetics_csv_with_missing_clips(tmp_path):
    csv_path = tmp_path / "train.csv"
    csv_path.write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,aaa,10,20,train\nabseiling,bbb,0,10,train\nair drumming,ccc,5,15,train\n"
    )
    _touch(str(tmp_path / "clips"), "abseiling/aaa_000010_000020.mp4")
    _touch(str(tmp_path / "clips"), "air drumming/ccc_000005_000015.mp4")
    index = kinetics_index(str(tmp_path / "clips"), str(csv_path))
    assert index.class_names == ["abseiling", "air drumming"]
    assert [r.label for r in index.records] == [0, 1]
    assert index.missing == ["bbb_000000_000010.mp4"]


def test_list_index_with_names_and_frame_counts(tmp_path):
    for name in ("a.avi", "b.avi"):
        _touch(str(tmp_path), name)
    lst = tmp_path / "list.txt"
    lst.write_text("a.avi 30 walk\r\nb.avi 12 run \r\n")
    index = list_index(str(lst), str(tmp_path))
    assert index.class_names == ["run", "walk"] and index.labels == [1, 0]
    assert [r.listed_frames for r in index.records] == [30, 12]
    lst.write_text("a.avi\n")
    with pytest.raises(UserError, match="expected 'path label'"):
        list_index(str(lst), str(tmp_path))


@pytest.mark.parametrize(
    "lines, problem",
    [
        ("a.avi 0\n../../etc/passwd 1\n", "outside the data root"),
        ("a.avi 0\nb.avi -1\n", "label -1, outside 0-0"),
        ("a.avi walk\nb.avi run\na.avi walk\n", "names a.avi twice"),
        ("a.avi 30x 0\n", "expected 'path label'"),
    ],
    ids=["outside the root", "negative label", "duplicate", "frame count not a number"],
)
def test_bad_list_entries_are_one_clear_error(tmp_path, lines, problem):
    for name in ("a.avi", "b.avi"):
        _touch(str(tmp_path), name)
    (tmp_path / "list.txt").write_text(lines)
    with pytest.raises(UserError, match=problem):
        list_index(str(tmp_path / "list.txt"), str(tmp_path))


def test_a_split_file_with_a_byte_order_mark_reads_like_one_without(tmp_path):
    for name in ("a.avi", "b.avi"):
        _touch(str(tmp_path), name)
    (tmp_path / "list.txt").write_bytes("\ufeffa.avi 0\r\nb.avi 1\r\n".encode("utf-8"))
    index = list_index(str(tmp_path / "list.txt"), str(tmp_path))
    assert [os.path.basename(r.path) for r in index.records] == ["a.avi", "b.avi"] and index.labels == [0, 1]


def test_folder_index(tmp_path):
    _touch(str(tmp_path), "walk/x.mp4")
    _touch(str(tmp_path), "jump/y.avi")
    os.makedirs(tmp_path / "jump" / "frames_of_z")
    _touch(str(tmp_path), "walk/notes.txt")
    index = folder_index(str(tmp_path))
    assert index.class_names == ["jump", "walk"]
    assert sorted((os.path.basename(r.path), r.label) for r in index.records) == [
        ("frames_of_z", 0),
        ("x.mp4", 1),
        ("y.avi", 0),
    ]


def test_wrong_data_root_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        build_index("ucf101", str(tmp_path / "nope"), UCF, 1, "train")


def test_split_lists_are_found_beside_the_videos_or_taken_from_the_repository(tmp_path):
    from argparse import Namespace

    from videossl.data.args import OFFICIAL_SPLITS, default_split_dir

    def split_dir(dataset, root, given=None):
        return default_split_dir(Namespace(dataset=dataset, data_root=str(root), split_dir=given))

    (tmp_path / "UCF101" / "UCF-101").mkdir(parents=True)
    assert split_dir("ucf101", tmp_path / "UCF101") == OFFICIAL_SPLITS["ucf101"]  # none beside: the official copy
    (tmp_path / "UCF101" / "ucfTrainTestlist").mkdir()
    (tmp_path / "UCF101" / "ucfTrainTestlist" / "classInd.txt").write_text("1 A\n")
    beside = str(tmp_path / "UCF101" / "ucfTrainTestlist")
    assert split_dir("ucf101", tmp_path / "UCF101") == beside  # the folder prepare_dataset.py wrote
    assert split_dir("ucf101", tmp_path / "UCF101" / "UCF-101") == beside  # or its UCF-101 folder
    (tmp_path / "HMDB51" / "videos").mkdir(parents=True)
    assert split_dir("hmdb51", tmp_path / "HMDB51") == OFFICIAL_SPLITS["hmdb51"]
    (tmp_path / "HMDB51" / "splits").mkdir()
    (tmp_path / "HMDB51" / "splits" / "brush_hair_test_split1.txt").write_text("a.avi 1\n")
    assert split_dir("hmdb51", tmp_path / "HMDB51" / "videos") == str(tmp_path / "HMDB51" / "splits")
    assert split_dir("hmdb51", tmp_path / "HMDB51", given="/given") == "/given"
