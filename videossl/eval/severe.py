"""The SEVERE generalisation suite (Thoker et al., ECCV 2022): its settings, its published numbers
and the table that puts a run's results beside them.

A setting is one column of SEVERE's benchmark table: a downstream dataset, finetuned with SEVERE's
recipe (``--recipe severe`` of finetune/train.py, docs/recipes.md), on all of its training videos
or on a class-balanced subset (``train_videos``). Columns are grouped by the factor they probe:
domain, samples, granularity (actions) and task.
"""

import json
import os
from dataclasses import dataclass
from typing import Optional

FACTORS = ("domains", "samples", "granularity", "tasks")


@dataclass(frozen=True)
class SuiteSetting:
    name: str  # the column's key (--datasets, result folders)
    factor: str  # one of FACTORS
    column: str  # the column's heading, as SEVERE's table names it
    dataset: str  # a --dataset of finetune/train.py
    train_videos: Optional[int] = None  # SEVERE's sample-size subset
    metric: str = "top1"  # the results.json metric the column shows
    in_benchmark: bool = True  # one of the benchmark's columns (else run only when named in --datasets)


SETTINGS = (
    SuiteSetting("ssv2", "domains", "SS-v2", "ssv2"),
    SuiteSetting("gym99", "domains", "Gym-99", "gym99"),
    SuiteSetting("ucf101_1000", "samples", "UCF (10^3)", "ucf101", train_videos=1000),
    SuiteSetting("gym99_1000", "samples", "Gym-99 (10^3)", "gym99", train_videos=1000),
    SuiteSetting("fx_s1", "granularity", "FX-S1", "fx_s1"),
    SuiteSetting("ub_s1", "granularity", "UB-S1", "ub_s1"),
    SuiteSetting("charades", "tasks", "Charades (mAP)", "charades", metric="mAP"),
    # the paper's other finetuning domains, on request
    SuiteSetting("ucf101", "domains", "UCF101", "ucf101", in_benchmark=False),
    SuiteSetting("ntu60", "domains", "NTU-60", "ntu60", in_benchmark=False),
    SuiteSetting("diving48", "domains", "Diving48", "diving48", in_benchmark=False),
    SuiteSetting("hmdb51", "domains", "HMDB51", "hmdb51", in_benchmark=False),
)
# the folder under --data_root that holds each dataset (FX-S1 and UB-S1 are Gym99's videos)
DATA_FOLDERS = {"fx_s1": "gym99", "ub_s1": "gym99"}

# Published finetuning results of R(2+1)D-18 models pretrained on Kinetics-400, from SEVERE++
# (Thoker et al., arXiv 2504.05706, which extends the ECCV 2022 paper), as transcribed by its authors
# on the project page: github.com/bpiyush/SEVERE-plus-plus-website data.js at commit 8112f02b
# (columns ft, smp, act, tsk). The ECCV 2022 tables could not be read where this was written.
PUBLISHED_SOURCE = (
    "SEVERE++ (arXiv 2504.05706) as transcribed on its project page, "
    "bpiyush/SEVERE-plus-plus-website data.js @8112f02baf5a"
)
PUBLISHED = {
    # name: (SS-v2, Gym-99, UCF 10^3, Gym-99 10^3, FX-S1, UB-S1, Charades, UCF101, NTU-60)
    "MoCo": (57.1, 90.7, 60.6, 29.0, 65.0, 84.5, 8.3, 83.3, 93.4),
    "VideoMoCo": (59.0, 90.3, 65.8, 19.1, 57.3, 83.9, 10.5, 84.9, 94.1),
    "SeLaVi": (56.2, 88.9, 69.1, 28.3, 51.3, 80.9, 8.4, 85.2, 92.8),
    "Pretext-Contrast": (56.9, 90.5, 62.7, 25.9, 66.1, 86.1, 8.9, 87.7, 93.9),
    "RSPNet": (59.0, 91.1, 75.6, 32.2, 65.4, 83.6, 9.0, 88.7, 93.9),
    "AVID-CMA": (52.0, 90.4, 68.8, 32.1, 68.0, 87.3, 8.2, 88.8, 94.0),
    "CtP": (59.6, 92.0, 63.7, 31.2, 79.1, 88.8, 9.6, 90.1, 94.3),
    "TCLR": (59.8, 91.6, 70.5, 24.4, 60.7, 84.7, 12.2, 90.8, 94.1),
    "Tubelet-Contrast": (60.2, 92.8, 67.7, 44.6, 80.1, 91.0, 9.9, 91.0, 93.7),
    "GDT": (58.0, 90.5, 77.8, 44.0, 66.0, 83.4, 8.5, 91.3, 93.9),
    "Supervised": (60.8, 92.1, 86.0, 51.2, 79.0, 87.1, 23.5, 91.4, 93.9),
}
PUBLISHED_COLUMNS = ("ssv2", "gym99", "ucf101_1000", "gym99_1000", "fx_s1", "ub_s1", "charades", "ucf101", "ntu60")


def published_rows() -> dict[str, dict[str, float]]:
    return {name: dict(zip(PUBLISHED_COLUMNS, values)) for name, values in PUBLISHED.items()}


def select_settings(settings: tuple, factors: Optional[list[str]], names: Optional[list[str]]) -> list:
    """The settings named in ``names`` (any, in the suite's order), else the benchmark's columns
    of ``factors`` (all four by default)."""
    if names:
        return [s for s in settings if s.name in names]
    factors = factors or list(FACTORS)
    return [s for s in settings if s.in_benchmark and s.factor in factors]


def read_result(folder: str, metric: str) -> Optional[float]:
    """The number a finished setting reports (results.json of finetune/train.py: the best test
    where its recipe reports the best), or None when it has not finished."""
    path = os.path.join(folder, "results.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        results = json.load(f)
    if results.get("reported") == "best" and results.get("best") is not None:
        return float(results["best"])
    return float(results["metrics"][metric])


def render_table(columns: list, measured: dict, published: dict) -> str:
    """A markdown table in the layout of SEVERE's: a row per checkpoint (measured here, then the
    published ones, marked), a column per setting under its factor."""
    factors = [s.factor for s in columns]
    header = ["checkpoint"] + [f"{s.factor}: {s.column}" if i == 0 or factors[i - 1] != s.factor else s.column
                               for i, s in enumerate(columns)]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in measured.items():
        lines.append("| " + " | ".join([name] + [_cell(row.get(s.name)) for s in columns]) + " |")
    for name, row in published.items():
        cells = [_cell(row.get(s.name)) for s in columns]
        if any(c != "-" for c in cells):
            lines.append("| " + " | ".join([f"{name} (published)"] + cells) + " |")
    return "\n".join(lines)


def _cell(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.1f}"
