"""scripts/bench/gpu_check.py as its documentation runs it: every section at toy size on the CPU,
and one line with exit 2 where it cannot run."""

import json
import os
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join("scripts", "bench", "gpu_check.py")


def run(*args, extra_path=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*extra_path, "."])}
    return subprocess.run([sys.executable, SCRIPT, *args], cwd=REPO, env=env, capture_output=True, text=True)


def test_the_tiny_check_runs_every_section_on_the_cpu(tmp_path):
    result = run("--device", "cpu", "--tiny", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert (tmp_path / "gpu_check.md").read_text().startswith("# GPU check")
    assert [row["method"] for row in report["methods"]] == ["tclr", "cvrl", "vtdl", "tce"]
    assert all(row["clips_per_second"] > 0 and 0 < row["mfu"] for row in report["methods"])
    assert all(row["auto_precision"].startswith("precision: ") for row in report["methods"])
    # the CPU count of each memory row is bench_memory.py's count on real tensors: equal
    assert {row["mode"] for row in report["memory"]} == {"plain", "grad_cache", "checkpoint", "both"}
    assert all(row["ratio"] == 1.0 for row in report["memory"])
    classifier, cached = report["fp16"]
    assert classifier["loss_finite"] and classifier["worst_weight_gradient_error"] < 0.3
    assert classifier["last_layer"] < 0.02 and cached["worst_weight_gradient_error"] < 1e-2
    assert all(row["verdict"].startswith(("keeps up", "loader-bound")) for row in report["loader"])
    assert "fp32" in report["evaluation"]["clips_per_second"]
    compiled = report["compile"][0]
    assert compiled["method"] == "tclr" and compiled["speedup"] > 0
    # the compiled step trains what eager trains (0.035 here end to end at toy size; a wrong graph errs by ~1)
    assert compiled["worst_gradient_error"] < 0.2


def test_it_says_in_one_line_why_it_cannot_run(tmp_path):
    no_tiny = run("--device", "cpu", "--out", str(tmp_path))
    assert no_tiny.returncode == 2 and no_tiny.stderr.strip().count("\n") == 0 and "--tiny" in no_tiny.stderr
    (tmp_path / "av.py").write_text("raise ImportError('no PyAV here')\n")  # a machine without PyAV
    no_av = run("--device", "cpu", "--tiny", "--out", str(tmp_path / "out"), extra_path=[str(tmp_path)])
    assert no_av.returncode == 2 and no_av.stderr.strip() == (
        "error: gpu_check needs av (PyAV) (pip install them; nothing else is needed)"
    )
    if not torch.cuda.is_available():
        no_gpu = run("--out", str(tmp_path / "gpu"))
        assert no_gpu.returncode == 2 and "no CUDA GPU is visible" in no_gpu.stderr
    assert not (tmp_path / "out").exists()
