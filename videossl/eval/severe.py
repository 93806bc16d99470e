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

from videossl.recipes import Recipe, Setting

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


# SEVERE's finetuning as finetune/train.py --recipe severe runs it (videossl/eval/finetune.py RECIPES),
# against SEVERE-BENCHMARK's files; rendered into docs/recipes.md by scripts/recipe_tables.py.
AR = "action_recognition/"
UCF = AR + "configs/benchmark/ucf/112x112x32-fold1.yaml"
CHARADES = "action_detection_multi_label_classification/configs/Charades/VSSL/32x8_112x112_R18_tclr_seed_1.yaml"
SLOWFAST = "action_detection_multi_label_classification/slowfast/"
SEVERE_RECIPE = Recipe(
    "severe",
    [
        Setting(
            "clip",
            "32 frames: 2 s of video read at 16 fps (frame k: the one on screen at k / 16 s), a random start "
            "(NTU-60: 16 frames, 1 s); a shorter video loops from its start",
            f"{UCF}:19-20 (clip_duration: 2.0, video_fps: 16.); {AR}utils/ioutils/av_wrappers.py:31-32 (outp_times)",
            project="`--frames 32 --stride 1 --sample_fps 16`",
        ),
        Setting(
            "training augmentation",
            "random resized crop to 112 (area 0.08-1), flip, colour jitter 0.4/0.4/0.4/0.2 in random order",
            f"{AR}datasets/preprocessing.py:36-38 (RandomResizedCrop, RandomHorizontalFlip, ColorJitter); "
            f"{UCF}:21-27 (crop_size: 112, min_area: 0.08, color: [0.4)",
            project="train crop `severe`",
        ),
        Setting(
            "clips per video and epoch",
            "10 random clips of each training video per epoch (SS-v2: 2)",
            f"{UCF}:31 (clips_per_video: 10); {AR}configs/benchmark/something/112x112x32.yaml:32 (clips_per_video: 2)",
            project="the same (a recipe value)",
        ),
        Setting(
            "optimiser",
            "Adam, lr 1e-4, no weight decay, batch 32 (NTU-60: 64); the linear layer replaces the last one, no dropout",
            f"{UCF}:18 (batch_size: 32); {UCF}:51-57 (adam, weight_decay: 0.0, base_lr: 0.0001); "
            f"{AR}finetune.py:87 (model.fc = nn.Linear)",
            project="`--optimizer adam --lr 1e-4 --weight_decay 0 --batch_size 32 --dropout 0`",
        ),
        Setting(
            "schedule",
            "x0.3 at epochs 6, 10, 14 of 16 (SS-v2: 12, 17, 20 of 22; FX-S1, UB-S1: 7, 12, 16 of 18; NTU-60: 9, 14, "
            "16 of 18), no warm-up",
            f"{UCF}:52-59 (num_epochs: 16, gamma: 0.3, milestones); "
            f"{AR}configs/benchmark/something/112x112x32.yaml:53-60 (num_epochs: 22, milestones); "
            f"{AR}configs/benchmark/gym_set_FX_S1/112x112x32.yaml:52-59 (num_epochs: 18, milestones); "
            f"{AR}configs/benchmark/ntu60/112x112x16-fold1.yaml:52-59 (num_epochs: 18, milestones)",
            project="the same (a recipe value per dataset)",
        ),
        Setting(
            "test",
            "10 clips at int(linspace(0, max(N - 32, 1), 10)), short side 128, centre 112, softmax averaged",
            f"{AR}datasets/video_db.py:134 (np.linspace); {AR}datasets/preprocessing.py:42-43 (0.875, CenterCrop); "
            f"{AR}test.py:174 (softmax, mean)",
            project="`--num_clips 10`, clip starts `severe`, the centre 0.875 of the short side resized to 112",
        ),
        Setting(
            "reported model",
            "after every epoch a test of random clips (clip top-1; per test video 5 for UCF101, HMDB51 and FX-S1, "
            "3 for Gym-99, UB-S1 and Diving48, 1 for SS-v2 and NTU-60) picks the best epoch (on the test split), "
            "whose model is tested densely",
            f"{UCF}:38 (clips_per_video: 5); {AR}finetune.py:127-128 (run_phase, eval_metric=top1); "
            f"{AR}test.py:106 (restore_best=True)",
            project="the same: `select_clips` per dataset; `best.pt` is the chosen epoch",
            difference="each epoch draws its own random clips with a fixed seed (SEVERE: unseeded)",
        ),
        Setting(
            "values for some checkpoints",
            "AVID-CMA: lr 1e-3; Tubelet-Contrast's 1000-video settings: 18 epochs, x0.3 at 8, 13, 16; TCLR's "
            "and AVID-CMA's FX-S1 selection tests: 3 clips per video",
            f"{AR}configs/benchmark/ucf/112x112x32-fold1_avid.yaml:57 (base_lr: 0.001); "
            f"{AR}configs/benchmark/ucf/112x112x32-fold1_1000_examples_tubelet.yaml:52-59 (num_epochs: 18, "
            f"milestones: [8); {AR}configs/benchmark/gym_set_FX_S1/112x112x32_tclr.yaml:38 (clips_per_video: 3)",
            project="one recipe for every checkpoint; flags override it (`--lr 1e-3`)",
            difference="the recipe takes SEVERE's common values for every checkpoint; those published rows "
            "came from the values on the left",
        ),
        Setting(
            "sample-size subsets",
            "ceil(N / classes) videos of each class, one RandomState(99999) through the classes in ascending order",
            f"{AR}datasets/utils.py:6-31 (seed = 99999, ceil, RandomState, choice)",
            project="`--train_videos 1000`; the UCF101 draw is stored as "
            "data/splits/severe/ucf101_trainlist01_1000.txt",
        ),
        Setting(
            "Charades: clip and training",
            "32 frames at stride 8 of the 24 fps frames, short side 256-340 (inverse uniform), random 112 crop, "
            "flip; SGD lr 0.0375 momentum 0.9 Nesterov, weight decay 1e-4 (none on BatchNorm), batch 16, x0.1 at "
            "epochs 41 and 49 of 57, linear warm-up from 1e-4 over 4 epochs every step, dropout 0.5, binary "
            "cross-entropy",
            f"{CHARADES}:4 (BATCH_SIZE: 16); {CHARADES}:10-17 (NUM_FRAMES: 32, SAMPLING_RATE: 8, TRAIN_JITTER_SCALES, "
            f"INV_UNIFORM_SAMPLE: True); {CHARADES}:45-54 (BASE_LR: 0.0375, STEPS: [0, MAX_EPOCH: 57, "
            f"WARMUP_EPOCHS: 4.0, WARMUP_START_LR: 0.0001); {CHARADES}:61-63 (bce_logit, DROPOUT_RATE: 0.5); "
            f"{SLOWFAST}config/defaults.py:546 (NESTEROV = True); "
            f"{SLOWFAST}config/defaults.py:26 (WEIGHT_DECAY = 0.0); "
            f"{SLOWFAST}utils/lr_policy.py:20-26 (WARMUP_START_LR, alpha)",
            project="`--sample_fps 24 --frames 32 --stride 8`, train crop `short_side_jitter`, `--optimizer sgd "
            "--lr 0.0375 --weight_decay 1e-4 --batch_size 16`",
            difference="no precise BatchNorm statistics before the test; the checkpoint's own input "
            "normalisation (SlowFast normalises every backbone's input with mean 0.45, std 0.225); a video "
            "shorter than a clip (10.4 s) loops from its start, where SlowFast repeats its first and last frames",
        ),
        Setting(
            "Charades: labels and test",
            "a training clip takes the classes of the frames it spans, a test video all of its classes; 10 clips x "
            "3 crops at 112, the sigmoids' maximum over the 30 views; mAP over the classes with a positive test video",
            f"{SLOWFAST}datasets/charades.py:89-91 (convert_to_video_level_labels); {SLOWFAST}datasets/charades.py:"
            f"219-221 (aggregate_labels); {CHARADES}:18 (ENSEMBLE_METHOD: max); {CHARADES}:68-69 (NUM_ENSEMBLE_VIEWS: "
            f"10, NUM_SPATIAL_CROPS: 3); {SLOWFAST}utils/meters.py:759-770 (average_precision_score)",
            project="`--aggregate sigmoid_max --num_clips 10 --test_crops 3`, metric `mAP`; the last epoch reported",
        ),
    ],
    release="severe",
    reproduces="the finetuning numbers of the Kinetics-400 R(2+1)D-18 checkpoints SEVERE evaluated, TCLR's "
    "included, which scripts/severe.py prints as published rows (SEVERE++'s tables; the repository lists the "
    "checkpoints, not the numbers)",
    reproduces_source="README.md:24-35 (TCLR, Supervised)",
)
