"""scripts/bench/bench_memory.py on a tiny TCLR: the table it prints holds consistent counts, and
the savings it reports are real (the full-size table is in the README)."""

import re

from scripts.bench import bench_memory


def table_rows(text):
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_the_memory_benchmark_measures_the_savings_of_a_tiny_tclr(capsys):
    argv = ["--methods", "tclr", "--modes", "grad_cache", "--width", "0.125", "--size", "32", "--batch", "8"]
    argv += ["--rounds", "1", "--bf16"]
    assert bench_memory.main(argv) == 0
    out = capsys.readouterr().out
    rows = table_rows(out)
    assert set(rows) == {"plain", "--grad_cache"}
    parameters, optimizer, batch, _, step, total = (float(c.strip("*")) for c in rows["plain"][1:7])
    assert abs(total - (parameters + optimizer + batch + step)) <= 0.02  # GiB, each rounded to 0.01
    vs_plain = {mode: float(cells[7].rstrip("x")) for mode, cells in rows.items()}
    assert vs_plain["--grad_cache"] < 0.5
    assert all(float(cells[9]) < 1e-5 for cells in rows.values())  # gradients of the plain step
    bf16 = {mode: float(cells[10]) for mode, cells in rows.items()}
    assert bf16["--grad_cache"] < bf16["plain"] < total  # half-size activations
    ratios = re.search(r"CPU step peak / meta step peak at batch 2, 32 px: (.*)", out).group(1)
    assert re.findall(r"\d+\.\d+", ratios) == ["1.0000"] * 2  # the meta count is the CPU step's count
