"""Feature caches that cannot lie: a truncated, altered or misplaced entry is discarded with one
warning and recomputed; two processes writing the same entry leave one complete entry."""

import os
import shutil
import subprocess
import sys

import torch

from videossl.data.indexes import list_index
from videossl.data.input_contract import InputContract
from videossl.data.probe_cache import verify_frame_counts
from videossl.eval.features import ClipView, extract_features, read_cache_entry
from videossl.models.backbones import build_backbone

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
CONTRACT = InputContract(frames=4, size=32)


def index_of(tiny_synthetic):
    root, split_dir = tiny_synthetic
    lines = open(os.path.join(split_dir, "testlist01.txt")).read().splitlines()
    names = {line.split("/")[0] for line in lines}
    list_file = os.path.join(os.path.dirname(split_dir), "cache_test_list.txt")
    with open(list_file, "w") as f:
        f.write("".join(f"{line} {sorted(names).index(line.split('/')[0])}\n" for line in lines))
    return verify_frame_counts(list_index(list_file, root), progress=False)


def features(index, cache_dir, messages):
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125)
    return extract_features(
        backbone,
        CONTRACT,
        index,
        "random:0",
        ClipView(num_clips=2),
        cache_dir=str(cache_dir),
        progress=False,
        log=messages.append,
    )


def test_damaged_entries_are_recomputed_with_one_warning(tiny_synthetic, tmp_path):
    index = index_of(tiny_synthetic)
    messages = []
    first = features(index, tmp_path, messages)
    path = first["cache_file"]
    good = open(path, "rb").read()
    entry = torch.load(path, weights_only=True)
    other = tmp_path / "other.pt"
    torch.save({**entry, "key": "another"}, other)
    altered = {**entry, "maps": entry["maps"] + 1}
    damaged = {
        "truncated": lambda: open(path, "wb").write(good[: len(good) // 2]),
        "another key": lambda: shutil.copy(other, path),
        "altered features": lambda: torch.save(altered, path),
    }
    for name, damage in damaged.items():
        damage()
        messages.clear()
        again = features(index, tmp_path, messages)
        warnings = [m for m in messages if m.startswith("warning")]
        assert not again["cached"] and len(warnings) == 1 and "recomputing features" in warnings[0], name
        assert torch.equal(again["maps"], first["maps"]), name
        assert read_cache_entry(path, os.path.basename(path)[:-3])["paths"] == first["paths"], name
    messages.clear()
    assert features(index, tmp_path, messages)["cached"] and not messages


def test_two_processes_writing_one_entry_leave_one_complete_entry(tiny_synthetic, tmp_path):
    script = f"""
import sys
sys.path.insert(0, {ROOT!r})
from tests.faults.test_feature_cache import features, index_of
index = index_of(({tiny_synthetic[0]!r}, {tiny_synthetic[1]!r}))
print(features(index, {str(tmp_path)!r}, [])["cache_file"])
"""
    writers = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    paths = {writer.communicate(timeout=300)[0].strip() for writer in writers}
    assert all(writer.returncode == 0 for writer in writers) and len(paths) == 1
    path = paths.pop()
    assert read_cache_entry(path, os.path.basename(path)[:-3])
    left = [name for name in os.listdir(tmp_path) if os.path.isfile(tmp_path / name)]
    assert left == [os.path.basename(path)]  # no temporary file left behind


def test_a_damaged_or_old_probe_cache_is_probed_again(tiny_synthetic, tmp_path, capsys):
    from videossl.data.probe_cache import ProbeCache, cache_folder_for

    index = verify_frame_counts(index_of(tiny_synthetic), cache_dir=str(tmp_path), workers=0, progress=False)
    counts = [record.num_frames for record in index.records]
    folder = cache_folder_for(index.root, str(tmp_path))
    [path] = ProbeCache(folder).files()
    text = open(path).read()
    capsys.readouterr()
    damaged = {
        "cut mid-line (a killed probe)": (text[: len(text) // 2], 0),
        "a garbled line": ("{not json\n" + text, 1),
        "another version": (text.replace('"v": 2', '"v": 1'), 0),
    }
    for name, (content, warnings_expected) in damaged.items():
        open(path, "w").write(content)
        again = verify_frame_counts(index_of(tiny_synthetic), cache_dir=str(tmp_path), workers=0, progress=False)
        assert [record.num_frames for record in again.records] == counts, name
        warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning")]
        assert len(warnings) == warnings_expected, name
        merged = ProbeCache(folder, warn=False)
        [path] = merged.files()  # merged into one file again, without the damaged lines
        assert len(merged.entries) == len(counts) and not merged.damaged, name
