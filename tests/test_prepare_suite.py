"""prepare_dataset.py for the SEVERE suite's archives: videos to videos/, annotation files to
annotations/, split .tar.gz parts read as one stream; the result is what the indexes read."""

import io
import json
import os
import tarfile
import zipfile

import pytest

from scripts import prepare_dataset
from tests.helpers import write_index_video
from videossl.data.indexes import build_index
from videossl.errors import UserError

CSV_HEADER = "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"


def video_bytes(tmp_path, seed):
    path = write_index_video(str(tmp_path / f"staging_{seed}.mp4"), 12 + seed, 32, 32)
    data = open(path, "rb").read()
    os.remove(path)
    return data


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def test_charades_zips_become_the_layout_its_index_reads(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "Charades_v1_480.zip", "w") as z:
        for n, video_id in enumerate(("46GP8", "N11GT", "ZZXQF")):
            z.writestr(f"Charades_v1_480/{video_id}.mp4", video_bytes(tmp_path, n))
    with zipfile.ZipFile(tmp_path / "Charades.zip", "w") as z:
        z.writestr("Charades/Charades_v1_classes.txt", "c000 Holding some clothes\nc001 Putting clothes somewhere\n")
        z.writestr(
            "Charades/Charades_v1_train.csv",
            CSV_HEADER + "46GP8,A,B,6,7,Yes,,,,c000 0.0 1.0,2.0\nN11GT,A,B,6,7,Yes,,,,,2.0\n",
        )
        z.writestr(
            "Charades/Charades_v1_test.csv",
            CSV_HEADER + "ZZXQF,A,B,6,7,Yes,,,,c001 0 1,2.0\nGONE1,A,B,6,7,Yes,,,,,2.0\n",
        )
        z.writestr("Charades/README.txt", "not needed")
    out = tmp_path / "severe" / "charades"
    argv = ["--dataset", "charades", "--out", str(out), "--archive", str(tmp_path / "Charades_v1_480.zip")]
    assert prepare_dataset.main([*argv, "--annotations", str(tmp_path / "Charades.zip")]) == 0
    printed = capsys.readouterr().out
    assert "3 videos in" in printed and "test: 1 videos listed and found, 1 listed but not found" in printed
    assert sorted(os.listdir(out / "annotations")) == [
        "Charades_v1_classes.txt",
        "Charades_v1_test.csv",
        "Charades_v1_train.csv",
    ]
    train = build_index("charades", str(out), str(out), 1, "train")
    assert [r.name for r in train.records] == ["46GP8", "N11GT"] and train.records[0].actions == ((0, 0.0, 1.0),)


def test_ssv2_split_tar_parts_are_one_stream_and_the_newer_label_names_are_read(tmp_path):
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        for n, video_id in enumerate(("74225", "3", "9")):
            add(tar, f"20bn-something-something-v2/{video_id}.webm", video_bytes(tmp_path, n))
    data = stream.getvalue()
    cut = len(data) // 2
    (tmp_path / "20bn-something-something-v2-00").write_bytes(data[:cut])
    (tmp_path / "20bn-something-something-v2-01").write_bytes(data[cut:])
    templates = {"Closing something": "0", "Putting something on something": "1"}

    def row(video_id, template):
        return {"id": video_id, "template": template, "label": "x", "placeholders": []}

    rows = {
        "train": [row("74225", "Putting [something] on [something]"), row("3", "Closing [something]")],
        "validation": [row("9", "Closing [something]")],
    }
    with zipfile.ZipFile(tmp_path / "labels.zip", "w") as z:
        z.writestr("labels/labels.json", json.dumps(templates))
        for subset, entries in rows.items():
            z.writestr(f"labels/{subset}.json", json.dumps(entries))
    out = tmp_path / "ssv2"
    parts = [
        str(tmp_path / "20bn-something-something-v2-01"),
        str(tmp_path / "20bn-something-something-v2-00"),
    ]  # any order
    assert prepare_dataset.main(["--dataset", "ssv2", "--out", str(out), "--archive", *parts,
                                 "--annotations", str(tmp_path / "labels.zip")]) == 0  # fmt: skip
    train = build_index("ssv2", str(out), str(out), 1, "train")
    assert [(r.name, r.label) for r in train.records] == [("74225", 1), ("3", 0)]
    assert os.path.getsize(train.records[0].path) == len(video_bytes(tmp_path, 0))  # the whole file, across the cut


def test_diving48_takes_its_json_files_as_they_are_and_names_a_missing_one(tmp_path):
    with tarfile.open(tmp_path / "Diving48_rgb.tar.gz", "w:gz") as tar:
        add(tar, "rgb/-mmq0PT-u8k_00155.mp4", video_bytes(tmp_path, 0))
    vocab = [["Back", "15som", "05Twis", "FREE"], ["Forward", "25som", "NoTwis", "PIKE"]]
    entry = {"vid_name": "-mmq0PT-u8k_00155", "label": 1, "start_frame": 0, "end_frame": 9}
    notes = {"Diving48_vocab.json": vocab, "Diving48_V2_train.json": [entry], "Diving48_V2_test.json": [entry]}
    for name, content in notes.items():
        (tmp_path / name).write_text(json.dumps(content))
    argv = ["--dataset", "diving48", "--out", str(tmp_path / "d48"), "--archive", str(tmp_path / "Diving48_rgb.tar.gz")]
    with pytest.raises(UserError, match="--annotations: Diving48_V2_test.json not found in"):
        prepare_dataset.main(
            [*argv, "--annotations", str(tmp_path / "Diving48_vocab.json"), str(tmp_path / "Diving48_V2_train.json")]
        )
    assert prepare_dataset.main([*argv, "--annotations", *(str(tmp_path / name) for name in notes)]) == 0
    train = build_index("diving48", str(tmp_path / "d48"), str(tmp_path / "d48"), 1, "train")
    assert [(r.name, r.label) for r in train.records] == [("-mmq0PT-u8k_00155", 1)]
    assert train.class_names[1] == "Forward_25som_NoTwis_PIKE"


def test_parts_that_are_not_one_tar_archive_are_one_error(tmp_path):
    (tmp_path / "x-00").write_bytes(b"not a tar archive at all")
    with pytest.raises(UserError, match="x-00: not the complete parts of one tar archive"):
        prepare_dataset.main(["--dataset", "ntu60", "--out", str(tmp_path / "o"), "--archive", str(tmp_path / "x-00")])


def test_ntu60_takes_its_setup_zips_without_annotations(tmp_path, capsys):
    for n, name in enumerate(("S001C001P001R001A001_rgb.avi", "S001C001P003R001A002_rgb.avi")):
        with zipfile.ZipFile(tmp_path / f"nturgbd_rgb_s00{n + 1}.zip", "w") as z:
            z.writestr(f"nturgb+d_rgb/{name}", video_bytes(tmp_path, n))
    zips = [str(tmp_path / f"nturgbd_rgb_s00{n}.zip") for n in (1, 2)]
    assert prepare_dataset.main(["--dataset", "ntu60", "--out", str(tmp_path / "ntu"), "--archive", *zips]) == 0
    out = capsys.readouterr().out
    assert "train: 1 videos listed and found" in out and "test: 1 videos listed and found" in out


def split_tar(tmp_path, names, pieces=3):
    stream = io.BytesIO()
    with tarfile.open(fileobj=stream, mode="w:gz") as tar:
        for n, name in enumerate(names):
            add(tar, name, video_bytes(tmp_path, n))
    data = stream.getvalue()
    cut = [len(data) * k // pieces for k in range(pieces + 1)]
    return [data[cut[k] : cut[k + 1]] for k in range(pieces)]


def test_zipped_parts_given_by_repeated_flags_are_one_stream_and_a_missing_part_is_named(tmp_path):
    names = ["nturgb+d_rgb/S001C001P001R001A001_rgb.avi", "nturgb+d_rgb/S001C001P003R001A002_rgb.avi"]
    zips = []
    for k, piece in enumerate(split_tar(tmp_path, names)):  # each part in a zip of its own, as SS-v2's are served
        zips.append(str(tmp_path / f"part-0{k}.zip"))
        with zipfile.ZipFile(zips[-1], "w") as z:
            z.writestr(f"part-0{k}", piece)
    base = ["--dataset", "ntu60", "--out", str(tmp_path / "ntu")]
    assert prepare_dataset.main([*base, "--archive", zips[2], zips[0], "--archive", zips[1]]) == 0
    assert len(build_index("ntu60", str(tmp_path / "ntu"), None, 1, "train")) == 1
    with pytest.raises(UserError, match="part-00, part-01: not the complete parts of one tar archive"):
        prepare_dataset.main([*base, "--archive", zips[0], zips[1]])  # the last part missing
