"""scripts/bench/bench_scale.py on two tiny datasets: every table is printed with consistent counts
(the full-size tables are in docs/performance.md)."""

from scripts.bench import bench_scale


def rows_of(text, first_cell_prefix):
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("| ") and line[2:].startswith(first_cell_prefix)
    ]


def test_the_scale_benchmark_prints_its_tables_for_two_tiny_sizes(tmp_path, capsys):
    argv = ["--sizes", "40,20", "--distinct", "6", "--kinetics_like", "1", "--out_dir", str(tmp_path)]
    argv += ["--target", "1000", "--cores", "4"]
    assert bench_scale.main(argv) == 0
    out = capsys.readouterr().out
    sizes = rows_of(out, "20 / ") + rows_of(out, "40 / ")
    assert [row[0] for row in sizes] == ["20 / 19", "40 / 39"]  # one clip of the CSV is missing on disk
    for row in sizes:
        assert row[8] == "0 / 1"  # every clip is probed from its packets, and the broken one is unreadable
        assert 100 < float(row[9]) < 2000 and 50 < float(row[10]) < 1000  # bytes per video: cache, table
    memory = rows_of(out, "40 | ") + rows_of(out, "40, per-video objects")
    assert len(memory) >= 2 and all("→" in row[2] for row in memory)
    costs = {row[0]: row for row in rows_of(out, "benchmark clip") + rows_of(out, "Kinetics-like clip")}
    assert set(costs) == {"benchmark clip", "Kinetics-like clip"}
    assert float(costs["Kinetics-like clip"][3].rstrip("x")) > 1  # decoding costs more than reading packets
    assert "before the first step, 1000 videos on 4 cores" in out and "Assumptions:" in out
