"""The SEVERE suite's datasets, read from small trees in their official annotation formats."""

import json
import os

import pytest

from videossl.data.downstream import diving48_index, finegym_index, ntu60_index, ssv2_index
from videossl.errors import UserError


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()
    return path


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)


@pytest.fixture
def ssv2(tmp_path):
    notes = tmp_path / "annotations"
    labels = {"Approaching something with your camera": "0", "Putting something on something": "2",
              "Closing something": "1"}  # fmt: skip
    write_json(str(notes / "something-something-v2-labels.json"), labels)
    train = [
        {"id": "74225", "label": "putting a cup on a box", "template": "Putting [something] on [something]",
         "placeholders": ["a cup", "a box"]},
        {"id": "3", "label": "closing a door", "template": "Closing [something]", "placeholders": ["a door"]},
    ]  # fmt: skip
    validation = [{"id": "9", "label": "approaching a cat with your camera",
                   "template": "Approaching [something] with your camera", "placeholders": ["a cat"]}]  # fmt: skip
    write_json(str(notes / "something-something-v2-train.json"), train)
    write_json(str(notes / "something-something-v2-validation.json"), validation)
    write_json(str(notes / "something-something-v2-test.json"), [{"id": "1420"}])
    touch(str(tmp_path / "videos" / "20bn-something-something-v2" / "74225.webm"))
    os.makedirs(tmp_path / "videos" / "frames" / "3")  # a frame folder stands for a video
    touch(str(tmp_path / "videos" / "9.webm"))
    return tmp_path


def test_ssv2_classes_are_the_templates_without_brackets_in_the_labels_file_s_order(ssv2):
    train = ssv2_index(str(ssv2 / "videos"), str(ssv2), "train")
    assert train.class_names == ["Approaching something with your camera", "Closing something",
                                 "Putting something on something"]  # fmt: skip
    assert [(os.path.basename(r.path), r.label) for r in train.records] == [("74225.webm", 2), ("3", 1)]
    test = ssv2_index(str(ssv2 / "videos"), str(ssv2), "test")  # the validation list, as in SEVERE
    assert [(os.path.basename(r.path), r.label) for r in test.records] == [("9.webm", 0)]


def test_ssv2_missing_videos_and_unknown_templates_are_one_line_errors(ssv2):
    os.remove(ssv2 / "videos" / "9.webm")
    with pytest.raises(UserError, match="1 of 1 ssv2 test videos are missing"):
        ssv2_index(str(ssv2 / "videos"), str(ssv2), "test")
    write_json(str(ssv2 / "annotations" / "something-something-v2-train.json"),
               [{"id": "5", "template": "Spinning [something]", "label": "", "placeholders": []}])  # fmt: skip
    with pytest.raises(UserError, match="template 'Spinning something', not in the labels file"):
        ssv2_index(str(ssv2 / "videos"), str(ssv2), "train")


def test_diving48_names_classes_from_its_vocabulary(tmp_path):
    write_json(
        str(tmp_path / "Diving48_vocab.json"),
        [["Back", "15som", "05Twis", "FREE"], ["Forward", "1som", "NoTwis", "PIKE"]],
    )
    write_json(str(tmp_path / "Diving48_V2_train.json"),
               [{"vid_name": "8qRmKunCjtY_00016", "label": 1, "start_frame": 0, "end_frame": 78}])  # fmt: skip
    write_json(str(tmp_path / "Diving48_V2_test.json"), [{"vid_name": "CVAfPfVFulQ_00038", "label": 0,
               "start_frame": 0, "end_frame": 100}])  # fmt: skip
    touch(str(tmp_path / "rgb" / "8qRmKunCjtY_00016.mp4"))
    touch(str(tmp_path / "rgb" / "CVAfPfVFulQ_00038.mp4"))
    train = diving48_index(str(tmp_path / "rgb"), str(tmp_path), "train")
    assert train.class_names == ["Back_15som_05Twis_FREE", "Forward_1som_NoTwis_PIKE"] and train.labels == [1]
    assert diving48_index(str(tmp_path / "rgb"), str(tmp_path), "test").labels == [0]


def test_finegym_reads_official_and_severe_lists_and_keeps_a_set_s_classes_from_zero(tmp_path):
    lines = ["0LtLS9wROrk_E_002407_002435_A_0003_0005 6", "0LtLS9wROrk_E_002407_002435_A_0006_0008 16",
             "0LtLS9wROrk_E_002407_002435_A_0009_0011 17", "A0xAXXysHUo_E_002184_002237_A_0035_0036 80"]  # fmt: skip
    notes = tmp_path / "annotations"
    notes.mkdir()
    (notes / "gym99_train_element_v1.1.txt").write_text("\n".join(lines) + "\n")  # FineGym's release
    (notes / "gym99_val.txt").write_text("".join(line.replace(" ", ".avi ") + "\n" for line in lines))  # SEVERE's
    (notes / "gym99_categories.txt").write_text("Clabel:   6; set: 21; Glabel:  1; (FX) switch leap with 0.5 turn\n")
    for line in lines:
        touch(str(tmp_path / "clips" / (line.split()[0] + ".mp4")))
    gym99 = finegym_index(str(tmp_path / "clips"), str(tmp_path), "train")
    assert gym99.labels == [6, 16, 17, 80] and gym99.class_names[6] == "(FX) switch leap with 0.5 turn"
    fx = finegym_index(str(tmp_path / "clips"), str(tmp_path), "test", level="fx_s1")
    assert len(fx.class_names) == 11 and fx.labels == [0, 10]  # 6-16 kept, counted from 0
    assert fx.class_names[0] == "(FX) switch leap with 0.5 turn" and fx.class_names[1] == "gym99_class_7"
    ub = finegym_index(str(tmp_path / "clips"), str(tmp_path), "train", level="ub_s1")
    assert len(ub.class_names) == 15 and ub.labels == [6]
    (notes / "gym99_val.txt").write_text("".join(line.replace(" ", ".mp4 ") + "\n" for line in lines))  # mmaction2's
    assert finegym_index(str(tmp_path / "clips"), str(tmp_path), "test").labels == [6, 16, 17, 80]
    (notes / "gym99_val.txt").write_text(lines[0] + "\n" + lines[1].split()[0] + "\n")
    with pytest.raises(UserError, match="gym99_val.txt:2: expected '<element clip name> <Gym99 label 0-98>'"):
        finegym_index(str(tmp_path / "clips"), str(tmp_path), "test")


def test_ntu60_cross_subject_by_performer(tmp_path):
    # NTU-120's setups 18-32 repeat actions 1-60 and add 61-120: neither is NTU-60
    ntu120 = ("S018C001P008R001A061", "S018C001P008R001A001")
    for name in ("S001C001P001R001A001", "S001C002P003R002A060", "S017C003P017R001A046") + ntu120:
        touch(str(tmp_path / "nturgb+d_rgb" / f"{name}_rgb.avi"))
    train = ntu60_index(str(tmp_path), "train")
    assert [(r.name, r.label) for r in train.records] == [
        ("S001C001P001R001A001_rgb", 0),
        ("S017C003P017R001A046_rgb", 45),
    ]
    assert len(train.class_names) == 60 and train.class_names[45] == "touch_back_backache"
    touch(str(tmp_path / "nturgb+d_depth_masked" / "S001C001P001R001A001" / "MDepth-00000001.png"))  # not RGB
    test = ntu60_index(str(tmp_path), "test")  # performer 3
    assert [(r.name, r.label) for r in test.records] == [("S001C002P003R002A060_rgb", 59)]


def test_check_dataset_reports_an_ntu60_tree(tmp_path, capsys):
    from scripts import check_dataset
    from tests.helpers import write_index_video

    for name in ("S001C001P001R001A001", "S001C001P002R001A002", "S001C001P003R001A001"):
        write_index_video(str(tmp_path / f"{name}_rgb.avi"), 20, 32, 32)
    assert (
        check_dataset.main(["--dataset", "ntu60", "--data_root", str(tmp_path), "--workers", "0", "--min_frames", "8"])
        == 0
    )
    table = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("| train") or line.startswith("| test")
    ]
    assert table == ["| train | 2 | 60 | 0 | 0 | 0 | 0 | 0 |", "| test | 1 | 60 | 0 | 0 | 0 | 0 | 0 |"]


@pytest.mark.parametrize("dataset", ["ssv2", "diving48", "gym99", "fx_s1", "ub_s1", "ntu60", "charades"])
def test_every_suite_dataset_is_a_build_index_choice_with_a_layout_line(dataset, tmp_path):
    from videossl.data.args import DATA_LAYOUTS
    from videossl.data.indexes import DATASETS, build_index

    assert dataset in DATASETS and DATA_LAYOUTS[dataset]
    with pytest.raises(UserError):  # an empty folder: one line naming what is missing
        build_index(dataset, str(tmp_path), str(tmp_path), 1, "train")


def test_severe_s_sample_size_subset_draws_per_class_with_one_seeded_state():
    """Labels 0, 1, 0, 2, 2, 0, 1, 2, 0, 2 and 6 videos: 2 per class. RandomState(99999) draws 1, 2 of
    class 0's four videos (positions 2, 5), then 0, 1 of class 1's two (1, 6), then 3, 1 of class
    2's four (9, 4), one state through the classes in ascending order, as SEVERE's get_subset_data."""
    from videossl.data.downstream import severe_subset
    from videossl.data.indexes import DatasetIndex, VideoRecord

    labels = [0, 1, 0, 2, 2, 0, 1, 2, 0, 2]
    index = DatasetIndex(
        "ucf101", "train", 1, "/", ["a", "b", "c"], [VideoRecord(f"/v{i}", y) for i, y in enumerate(labels)]
    )
    assert [r.path for r in severe_subset(index, 6).records] == ["/v2", "/v5", "/v1", "/v6", "/v9", "/v4"]
    # 7 videos: ceil(7 / 3) = 3 per class, and class 1 gives both of its two
    assert [r.path for r in severe_subset(index, 7).records] == ["/v2", "/v5", "/v0", "/v1", "/v6", "/v9", "/v4", "/v3"]
    with pytest.raises(UserError):
        severe_subset(index, 0)
