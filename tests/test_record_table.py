"""The flat record table gives back every record exactly, and is what the dataset's workers read."""

import numpy as np
import pytest

from videossl.data.dataset import VideoClipDataset
from videossl.data.indexes import DatasetIndex, VideoRecord
from videossl.data.probe_cache import verify_frame_counts
from videossl.data.record_table import RecordTable
from videossl.video.info import VideoInfo


def records():
    return [
        VideoRecord("/data/a/v_1.avi", 0, VideoInfo(5, 25.0, 240, 320, 6, [3, 4, 5, 6, 7], [0, 3], None, "packets")),
        VideoRecord("/data/b/v_2.mp4", 2, VideoInfo(4, 29.97, 256, 340, None, [0, 1001, 3003, 2002 + 5], [0])),
        VideoRecord("/data/b/ünïcode \udcff.mkv", 1, VideoInfo(1, None, 8, 8, 1, [7], [0], "1 decoding errors")),
        VideoRecord("/data/c/no_pts.avi", 1, VideoInfo(3, 25.0, 64, 64, 3, None, [], None, "decoded (codec ffv1)")),
        VideoRecord("/data/c/broken.avi", 0, None, "cannot open: InvalidDataError"),
        VideoRecord("/data/c/listed", 2, listed_frames=17),
    ]


def test_every_field_of_every_record_comes_back():
    table = RecordTable(records())
    assert len(table) == 6 and list(table) == records()
    assert table[-1] == records()[-1] and table[1:3] == records()[1:3]
    assert table.labels.tolist() == [0, 2, 1, 1, 0, 2]
    with pytest.raises(IndexError):
        table[6]


def test_the_table_is_a_few_arrays_however_many_videos():
    def clip(i):
        info = VideoInfo(300, 30.0, 256, 340, 300, list(range(0, 300 * 512, 512)), list(range(0, 300, 60)))
        return VideoRecord(f"/data/k400/clip_{i:06d}.mp4", i % 400, info)

    many = [clip(i) for i in range(2000)]
    table = RecordTable(many)
    arrays = [value for value in vars(table).values() if isinstance(value, np.ndarray)]
    assert len(arrays) <= 18 and table.nbytes() < 2000 * 200  # evenly spaced timestamps are a start and a step
    assert table[1234] == many[1234]
    spans = ((3, 0.0, 1.5), (7, 1.0, 2.25))  # a multi-label video's actions: two more arrays, not one per video
    labelled = RecordTable([*many[:2], VideoRecord("/data/charades/AAA01.mp4", -1, None, actions=spans)])
    assert labelled[2].actions == spans and labelled[0].actions == () and len(vars(labelled)) == len(vars(table))


def test_the_dataset_reads_through_the_table(tiny_synthetic):
    from videossl.data.indexes import build_index

    root, split_dir = tiny_synthetic
    index = verify_frame_counts(build_index("ucf101", root, split_dir, 1, "train"), workers=0, progress=False)
    dataset = VideoClipDataset(index, lambda reader, rng: {"frames": reader.get_frames([0, 5])})
    assert isinstance(dataset.index.records, RecordTable) and isinstance(index.records, list)
    assert isinstance(dataset.index, DatasetIndex) and list(dataset.index.records) == index.records
    assert dataset.index.labels == index.labels
    sample = dataset[3]
    assert sample["label"] == index.records[3].label and sample["frames"].shape[0] == 2
