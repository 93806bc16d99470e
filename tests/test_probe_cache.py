"""The probe cache: an interrupted probe resumes, processes share the work, finished files merge."""

import os
import time

import pytest

from tests.helpers import write_index_video
from videossl.data import probe_cache
from videossl.data.indexes import folder_index
from videossl.data.probe_cache import ProbeCache, cache_folder_for, verify_frame_counts

VIDEOS = 12
REAL_PROBE = probe_cache.probe_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for i in range(VIDEOS):
        (root / f"class_{i % 3}").mkdir(exist_ok=True)
        write_index_video(str(root / f"class_{i % 3}" / f"v_{i:02d}.avi"), 10 + i, 32, 32)
    return str(root)


class Killed(BaseException):
    """What a killed job looks like to the code it interrupts (BaseException, as KeyboardInterrupt)."""


class CountingProbe:
    """Stands in for probe_video: records the paths probed and stops the run after ``stop_after``."""

    def __init__(self, monkeypatch, stop_after=None):
        self.paths, self.stop_after = [], stop_after

        def probe(path, method):
            if self.stop_after is not None and len(self.paths) == self.stop_after:
                raise Killed
            self.paths.append(path)
            return REAL_PROBE(path, method)

        monkeypatch.setattr(probe_cache, "probe_video", probe)


def test_an_interrupted_probe_resumes_where_it_stopped(dataset, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    first = CountingProbe(monkeypatch, stop_after=5)
    with pytest.raises(Killed):
        verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    second = CountingProbe(monkeypatch)
    index = verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    assert len(second.paths) == VIDEOS - 5 and not set(first.paths) & set(second.paths)
    assert all(r.num_frames == 10 + int(r.name[2:]) for r in index.records)
    third = CountingProbe(monkeypatch)
    verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    assert third.paths == []
    [merged] = ProbeCache(cache_folder_for(dataset, cache)).files()  # two runs' files, merged into one
    assert os.path.basename(merged).startswith("merged-")


def test_processes_probe_their_share_first_and_skip_what_others_cached(dataset, tmp_path, monkeypatch):
    """Rank 0 of two probes its half and is stopped; rank 1 then probes its own half first and finds
    rank 0's half in the shared cache instead of probing it again."""
    cache = str(tmp_path / "cache")
    paths = [r.path for r in folder_index(dataset).records]
    monkeypatch.setattr(probe_cache, "REFRESH_SECONDS", 0.0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    rank0 = CountingProbe(monkeypatch, stop_after=VIDEOS // 2)
    with pytest.raises(Killed):
        verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    assert rank0.paths == paths[0::2]
    monkeypatch.setenv("RANK", "1")
    rank1 = CountingProbe(monkeypatch)
    index = verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    assert rank1.paths == paths[1::2]
    assert all(r.num_frames == 10 + int(r.name[2:]) for r in index.records)


def test_a_merge_keeps_the_files_of_probes_still_running(dataset, tmp_path):
    cache = str(tmp_path / "cache")
    verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    folder = cache_folder_for(dataset, cache)
    [own] = ProbeCache(folder).files()
    text = open(own).read().splitlines(keepends=True)
    running = os.path.join(folder, "othernode-123-abcdef01.jsonl")  # another machine's probe, appending now
    finished = os.path.join(folder, "othernode-456-abcdef02.jsonl")  # one that stopped long ago
    open(running, "w").writelines(text[:2])
    open(finished, "w").writelines(text[2:4])
    old = time.time() - probe_cache.FINISHED_AFTER_SECONDS - 60
    os.utime(finished, (old, old))
    cache_object = ProbeCache(folder)
    cache_object.merge()
    left = sorted(os.path.basename(p) for p in cache_object.files())
    assert len(left) == 2 and left[0].startswith("merged-") and left[1] == os.path.basename(running)
    assert len(ProbeCache(folder).entries) == VIDEOS


def test_probe_decode_does_not_take_packet_results_from_the_cache(dataset, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    decoding = CountingProbe(monkeypatch)
    index = verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False, probe="decode")
    assert len(decoding.paths) == VIDEOS and {r.info.probe for r in index.records} == {"decoded (asked for)"}
    again = CountingProbe(monkeypatch)
    index = verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)
    assert again.paths == [] and {r.info.probe for r in index.records} == {"decoded (asked for)"}


def test_under_torchrun_a_decoding_probe_takes_no_packet_result_from_another_process(dataset, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False)  # from packets
    monkeypatch.setattr(probe_cache, "REFRESH_SECONDS", 0.0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    decoding = CountingProbe(monkeypatch)
    verify_frame_counts(folder_index(dataset), cache_dir=cache, workers=0, progress=False, probe="decode")
    assert sorted(decoding.paths) == sorted(r.path for r in folder_index(dataset).records)


def test_a_cache_folder_that_cannot_be_written_costs_a_warning_not_the_run(dataset, tmp_path, capsys):
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the cache folder would be")
    index = verify_frame_counts(folder_index(dataset), cache_dir=str(blocked), workers=0, progress=False)
    assert all(r.num_frames == 10 + int(r.name[2:]) for r in index.records)
    assert capsys.readouterr().err.count("cannot write the probe cache") == 1
