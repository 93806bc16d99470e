"""Every GPU question of this project, answered in one run on one CUDA GPU (about 6 minutes).

    PYTHONPATH=. python scripts/bench/gpu_check.py --out gpu_check       # on the GPU machine
    PYTHONPATH=. python scripts/bench/gpu_check.py --device cpu --tiny   # the same code at toy size

Needs PyTorch (2.6 or newer), torchvision, numpy, OpenCV, tqdm and PyAV; installs nothing and
downloads nothing (its videos are made here). Writes ``gpu_check.json`` and ``gpu_check.md`` to
``--out`` and prints the tables:

- environment: GPU, memory, driver, CUDA, cuDNN, PyTorch, bf16 support;
- per method at the paper's clip shape and the largest per-GPU batch (up to the recipe's) that
  fits: training clips/s (median of timed steps after warm-up, synchronised), model FLOP
  utilisation against the GPU's dense bf16 peak (the measured bf16 matmul rate for an unknown
  GPU), the precision ``--precision auto`` chooses and its gradient check;
- peak memory (``max_memory_allocated``) of the plain step, ``--grad_cache``,
  ``--checkpoint_activations`` and both, beside ``bench_memory.py``'s count for the same step;
- fp16 with GradScaler, the plain step and ``--grad_cache``: finite loss, gradient error vs fp32;
- the loader: samples/s with 1, 4 and 8 workers on 320x240 MPEG-4 videos with B-frames, beside
  the step's demand, and whether the method is loader-bound;
- evaluation: feature extraction clips/s;
- ``--compile`` against eager: compile time and step-time ratio.
"""

import argparse
import contextlib
import dataclasses
import functools
import gc
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for path in (ROOT, HERE):  # the project from the checkout; bench_memory and bench_loader beside this file
    if path not in sys.path:
        sys.path.insert(0, path)

NEEDED = ("torch", "torchvision", "numpy", "cv2", "tqdm", "av")
BUDGET_SECONDS = 360
# Dense bf16 tensor-core peaks (FLOP/s) by a part of the device name; others use a measured matmul.
BF16_PEAKS = {
    "H100 SXM": 989e12,
    "H100 80GB HBM3": 989e12,  # how an H100 SXM names itself
    "H100 PCIe": 756e12,
    "H100": 756e12,
    "A100": 312e12,
    "L40S": 362e12,
    "L40": 181e12,
    "A6000": 155e12,
    "A40": 150e12,
    "A10": 125e12,
    "L4": 121e12,
    "4090": 165e12,
    "3090": 71e12,
}


def missing_modules() -> list:
    missing = []
    for name in NEEDED:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append({"cv2": "opencv-python", "av": "av (PyAV)"}.get(name, name))
    return missing


class Sizes:
    """The check's shapes: the recipes' at full size, toy ones with --tiny."""

    def __init__(self, tiny: bool) -> None:
        self.tiny = tiny
        self.width = 0.125 if tiny else 1.0
        self.frames = 16
        self.size = (
            {"tclr": 16, "cvrl": 32, "vtdl": 32, "tce": 32}
            if tiny
            else {"tclr": 112, "cvrl": 224, "vtdl": 224, "tce": 224}
        )
        self.batch = (
            {"tclr": 2, "cvrl": 2, "vtdl": 2, "tce": 4} if tiny else {"tclr": 40, "cvrl": 64, "vtdl": 8, "tce": 64}
        )
        self.memory_batch = {"tclr": 2} if tiny else {"tclr": 40, "vtdl": 8}
        self.fp16_scale = 2.0**8 if tiny else 2.0**16  # GradScaler's own start on a GPU; fewer halvings on a CPU
        self.warmup, self.timed = (1, 2) if tiny else (3, 8)
        self.videos, self.workers = (3, (0, 1)) if tiny else (24, (1, 4, 8))
        self.loader_samples = 3 if tiny else 6  # per worker


# ---- environment ------------------------------------------------------------------------------


def environment(device) -> dict:
    import torch

    env = {"pytorch": torch.__version__, "device": str(device), "cuda": torch.version.cuda}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            gpu=props.name,
            memory_gib=round(props.total_memory / 2**30, 1),
            cudnn=torch.backends.cudnn.version(),
            bf16=torch.cuda.is_bf16_supported(),
            driver=nvidia_smi("driver_version"),
        )
    else:
        from videossl.engine.precision import low_precision_supported

        env.update(gpu="none (CPU)", bf16=low_precision_supported("cpu", "bf16"), cpu=cpu_name())
    return env


def nvidia_smi(field: str) -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "unknown"


def bf16_peak(device, env: dict) -> tuple:
    """(FLOP/s, where the number comes from): the first entry of BF16_PEAKS whose words are in the
    device name (so that "A10" is not an A10G, nor "A40" an RTX A4000)."""
    name = env.get("gpu", "")
    for part, peak in BF16_PEAKS.items():
        if re.search(rf"(?<![\w]){re.escape(part)}(?![\w])", name):
            return peak, f"the {part}'s dense bf16 peak"
    import torch
    from bench_train_step import matmul_flops

    if device.type == "cuda":
        return matmul_flops(torch.bfloat16, 4096, 10, device), "a bf16 matmul measured here"
    return matmul_flops(torch.float32, 512, 10, device), "an fp32 matmul measured here"


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ---- methods ------------------------------------------------------------------------------------


def build_method(name: str, sizes: Sizes, device, batch: int = 0):
    """(method in training mode on ``device``, optimiser, batch of uint8 clips on the host)."""
    import torch
    from bench_memory import batch_of, build

    size = sizes.size[name]
    batch = batch or sizes.batch[name]
    if name != "tce":
        method, optimizer = build(name, str(device), size, False, sizes.width)
        return method, optimizer, {k: v.cpu() for k, v in batch_of(name, batch, size, "cpu").items()}
    from tce.model import TCE
    from videossl.data.input_contract import InputContract
    from videossl.models.backbones import build_backbone

    torch.manual_seed(0)
    contract = InputContract(frames=1, size=size)
    method = TCE(build_backbone("resnet18", width=sizes.width), contract, size=4 * batch, total_steps=1000)
    method = method.to(device).train()
    g = torch.Generator().manual_seed(1)
    clips = torch.randint(0, 256, (batch, 3, 3, 1, size, size), dtype=torch.uint8, generator=g)
    data = {"clips": clips, "index": torch.arange(batch), "rotation": torch.arange(batch) % 4}
    return method, torch.optim.SGD(method.parameters(), lr=0.03, momentum=0.9), data


def clips_per_sample(batch: dict) -> int:
    shape = batch["clips"].shape
    return int(shape[1] * (shape[2] if len(shape) == 7 else 1))


def train_step(method, optimizer, batch, device, grad_cache=False, scaler=None, dtype=None) -> float:
    import torch

    from videossl.engine.memory import grad_cache_step

    optimizer.zero_grad(set_to_none=True)

    def context():
        return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()

    def backward(loss):
        (scaler.scale(loss.float()) if scaler else loss.float()).backward()

    if grad_cache:
        loss, _ = grad_cache_step(method, batch, backward, context)
    else:
        with context():
            loss, _ = method.loss(batch)
        backward(loss)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return float(loss.detach())


def median_step_seconds(method, optimizer, batch, device, sizes: Sizes, **options) -> float:
    for _ in range(sizes.warmup):
        train_step(method, optimizer, batch, device, **options)
    times = []
    for _ in range(sizes.timed):
        synchronize(device)
        start = time.perf_counter()
        train_step(method, optimizer, batch, device, **options)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def free_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def auto_plan(name: str, sizes: Sizes, device):
    """``--precision auto``'s plan on this device, checked on 8 samples as the engine does."""
    from videossl.engine.precision import first_samples, verify_precision

    method, _, batch = build_method(name, sizes, device, min(8, sizes.batch[name]))
    started = time.perf_counter()
    plan = verify_precision(method, lambda m, b: m.loss(b, update_state=False)[0], first_samples(batch, 8), device)
    return plan, time.perf_counter() - started


def engine_like(name: str, sizes: Sizes, device, batch: int, plan):
    """(method, optimiser, batch) as a run trains: the plan's fp32 islands and channels_last_3d."""
    import torch

    from videossl.engine.precision import apply_precision_plan

    method, optimizer, data = build_method(name, sizes, device, batch)
    apply_precision_plan(method, plan, device)
    if any(isinstance(m, torch.nn.Conv3d) for m in method.modules()):
        method = method.to(memory_format=torch.channels_last_3d)
    return method, optimizer, data


def fitting_batch(name: str, sizes: Sizes, device, plan):
    """The recipe's per-GPU batch, halved until a step fits in memory: (method, optimiser, batch)."""
    import torch

    batch = sizes.batch[name]
    while True:
        method, optimizer, data = engine_like(name, sizes, device, batch, plan)
        try:
            train_step(method, optimizer, data, device, **plan_options(plan, device))
            return method, optimizer, data
        except torch.OutOfMemoryError:
            pass  # freed below, outside the except: its traceback holds the step's tensors
        del method, optimizer, data
        free_memory()
        if batch <= 2:
            raise RuntimeError(f"{name}: no batch of 2 or more fits this GPU")
        batch //= 2


def plan_options(plan, device) -> dict:
    import torch

    scaler = torch.amp.GradScaler(device.type) if plan.needs_grad_scaler else None
    return {"dtype": plan.autocast_dtype, "scaler": scaler}


def throughput_row(name: str, sizes: Sizes, device, peak: float) -> dict:
    from bench_train_step import step_flops

    plan, check_seconds = auto_plan(name, sizes, device)
    free_memory()
    method, optimizer, batch = fitting_batch(name, sizes, device, plan)
    seconds = median_step_seconds(method, optimizer, batch, device, sizes, **plan_options(plan, device))
    clips = len(batch["clips"]) * clips_per_sample(batch)
    flops = step_flops(method, functools.partial(method.loss, batch, update_state=False))
    del method, optimizer
    free_memory()
    return {
        "method": name,
        "batch": len(batch["clips"]),
        "clip": f"{sizes.frames}x{sizes.size[name]}x{sizes.size[name]}" if name != "tce" else f"1x{sizes.size[name]}",
        "precision": plan.dtype,
        "step_seconds": seconds,
        "clips_per_second": clips / seconds,
        "videos_per_second": len(batch["clips"]) / seconds,
        "mfu": flops / seconds / peak,
        "auto_precision": plan.summary(),
        "auto_check_seconds": check_seconds,
    }


# ---- memory, fp16, compile ----------------------------------------------------------------------


def cuda_step_peak(name: str, mode: str, batch: int, size: int, width: float):
    """``bench_memory.py``'s ``max_memory_allocated`` of the step, or None when it does not fit."""
    import torch
    from bench_memory import SETUPS, cuda_peak

    setup = dataclasses.replace(SETUPS[name], batch=batch, size=size, width=width)
    free_memory()
    peak = None
    try:
        peak = cuda_peak(name, setup, mode)
    except torch.OutOfMemoryError:
        pass  # freed below, outside the except: its traceback holds the step's tensors
    free_memory()
    return peak


def memory_rows(sizes: Sizes, device) -> list:
    from bench_memory import MODES, step_memory

    rows = []
    for name, batch in sizes.memory_batch.items():
        size = sizes.size[name]
        for mode in MODES:
            counted = step_memory(name, mode, batch, size, width=sizes.width)
            predicted = counted["parameters"] + counted["optimizer"] + counted["batch"] + counted["step_peak"]
            if device.type == "cuda":
                measured, how = cuda_step_peak(name, mode, batch, size, sizes.width), "max_memory_allocated"
            else:  # no allocator to ask on the CPU: the same count on real tensors
                cpu = step_memory(name, mode, batch, size, "cpu", width=sizes.width)
                measured, how = cpu["parameters"] + cpu["optimizer"] + cpu["batch"] + cpu["step_peak"], "CPU count"
            rows.append(
                {
                    "method": name,
                    "gib_measured": "out of memory" if measured is None else f"{measured / 2**30:.2f}",
                    "batch": batch,
                    "mode": mode,
                    "measured_bytes": measured,
                    "how": how,
                    "predicted_bytes": predicted,
                    "ratio": measured / predicted if measured else None,
                }
            )
    return rows


def scaled_fp16_gradients(method, optimizer, batch, device, grad_cache: bool, init_scale: float) -> tuple:
    """(loss, gradients) of one fp16 step with GradScaler, the scale halved until it fits (as the
    engine's first fp16 steps do); the optimiser must have lr 0."""
    import torch

    scaler = torch.amp.GradScaler(device.type, init_scale=init_scale)
    for _ in range(30):
        loss = train_step(method, optimizer, batch, device, grad_cache, scaler, torch.float16)
        grads = {n: p.grad.float() for n, p in method.named_parameters() if p.grad is not None}
        if all(torch.isfinite(g).all() for g in grads.values()):
            break  # scaler.step has unscaled them in place
    return loss, grads


def fp32_gradients(method, optimizer, batch, device) -> dict:
    train_step(method, optimizer, batch, device)
    return {n: p.grad.float() for n, p in method.named_parameters() if p.grad is not None}


def weight_errors(grads: dict, reference: dict) -> dict:
    from videossl.engine.precision import gradient_errors

    weights = [k for k, v in reference.items() if k.endswith("weight") and v.dim() > 1]
    return gradient_errors({k: grads[k] for k in weights}, {k: reference[k] for k in weights})


def fp16_rows(sizes: Sizes, device) -> list:
    """fp16 with GradScaler: the classifier's plain step against fp32 (a well-conditioned loss:
    TCLR's contrast of nearly equal random-init features is not), and TCLR's --grad_cache against
    its plain fp16 step."""
    import math

    import torch

    from videossl.data.input_contract import InputContract
    from videossl.eval.classifier import VideoClassifier
    from videossl.models.backbones import build_backbone

    def classifier():
        torch.manual_seed(0)
        model = VideoClassifier(
            build_backbone("r3d_18", width=sizes.width),
            10,
            contract=InputContract(frames=sizes.frames, size=sizes.size["tclr"]),
        )
        return model.to(device).train()

    size = sizes.size["tclr"]
    clips = torch.randint(
        0, 256, (4, 3, sizes.frames, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)
    )
    batch = {"clips": clips, "label": torch.arange(4)}
    model = classifier()
    reference = fp32_gradients(model, torch.optim.SGD(model.parameters(), lr=0.0), batch, device)
    model = classifier()
    loss, grads = scaled_fp16_gradients(
        model, torch.optim.SGD(model.parameters(), lr=0.0), batch, device, False, sizes.fp16_scale
    )
    errors = weight_errors(grads, reference)
    rows = [
        {
            "step": "classifier, plain",
            "against": "fp32",
            "loss_finite": math.isfinite(loss),
            "worst_weight_gradient_error": max(errors.values()),
            "last_layer": errors["fc.weight"],
        }
    ]
    results = {}
    for grad_cache in (False, True):
        method, _, data = build_method("tclr", sizes, device, 2)
        results[grad_cache] = scaled_fp16_gradients(
            method, torch.optim.SGD(method.parameters(), lr=0.0), data, device, grad_cache, sizes.fp16_scale
        )
    errors = weight_errors(results[True][1], results[False][1])
    rows.append(
        {
            "step": "TCLR, --grad_cache",
            "against": "TCLR's plain fp16 step",
            "loss_finite": math.isfinite(results[True][0]),
            "worst_weight_gradient_error": max(errors.values()),
            "last_layer": errors["head.fc2.weight"],
        }
    )
    return rows


def compile_rows(sizes: Sizes, device, deadline: float) -> list:
    rows = []
    for name in ("tclr",) if sizes.tiny else ("tclr", "cvrl"):  # (a compile takes 20-40 s on a CPU)
        if time.perf_counter() > deadline:
            rows.append({"method": name, "failed": "skipped: the time budget was used up"})
        else:
            rows.append(guarded(name, compile_row, name, sizes, device))
    return rows


def compile_row(name: str, sizes: Sizes, device) -> dict:
    from bench_train_step import compare_compiled

    batch = build_method(name, sizes, "cpu", 2)[2]
    return {
        "method": name,
        "batch": 2,
        **compare_compiled(lambda: build_method(name, sizes, device, 2)[0], batch, sizes.timed, device),
    }


# ---- loader and evaluation ----------------------------------------------------------------------


def sample_builder(name: str, sizes: Sizes):
    """The method's training sample builder with its recipe's values at the check's clip size."""
    size, recipe = sizes.size[name], importlib.import_module(f"{'tclr_pretraining' if name == 'tclr' else name}.recipe")
    values = recipe.RECIPE.paper_values()
    if name == "tclr":
        from tclr_pretraining.augmentation import tclr_clip_augmentation
        from tclr_pretraining.dataset import TCLRSampleBuilder

        return TCLRSampleBuilder(tclr_clip_augmentation(size, 0.5, "bgr"), values["frames"], values["num_local"])
    if name == "cvrl":
        from cvrl.augmentation import cvrl_pair_augmentations
        from cvrl.dataset import CVRLSampleBuilder

        return CVRLSampleBuilder(cvrl_pair_augmentations(size, 0.5), values["frames"], values["stride"])
    if name == "vtdl":
        from videossl.data.augmentations import vtdl_clip_augmentation
        from vtdl.dataset import VTDLSampleBuilder

        return VTDLSampleBuilder(vtdl_clip_augmentation(size, 0.0), values["frames"], values["stride"])
    from tce.dataset import TCESampleBuilder

    return TCESampleBuilder(size, values["frame_gap"], flip_p=0.5)


def video_index(folder: str, sizes: Sizes):
    from bench_loader import make_videos

    from videossl.data.indexes import DatasetIndex, VideoRecord
    from videossl.data.probe_cache import verify_frame_counts

    paths = make_videos(folder, sizes.videos, gop=12)
    index = DatasetIndex("check", "train", None, folder, ["video"], [VideoRecord(p, 0) for p in paths])
    return verify_frame_counts(index, cache_dir=folder, progress=False)


def samples_per_second(index, builder, workers: int, samples: int) -> float:
    """Samples/s once every worker has delivered one (their start is not counted)."""
    from torch.utils.data import DataLoader

    from videossl.data.dataset import VideoClipDataset, collate_samples, worker_options

    dataset = VideoClipDataset(index, builder)
    skipped = max(workers, 1)
    repeated = _Repeat(dataset, [i % len(dataset) for i in range(samples + skipped)])
    loader = DataLoader(repeated, batch_size=1, collate_fn=collate_samples, **worker_options(workers))
    iterator = iter(loader)
    for _ in range(skipped):
        next(iterator)
    start = time.perf_counter()
    count = sum(1 for _ in iterator)
    return count / (time.perf_counter() - start)


class _Repeat:
    """``dataset`` read at ``indices`` (more samples than videos: each video again)."""

    def __init__(self, dataset, indices) -> None:
        self.dataset, self.indices = dataset, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]


def loader_rows(sizes: Sizes, folder: str, demand: dict) -> list:
    index, rows = video_index(folder, sizes), []
    for name in ("tclr", "cvrl", "vtdl", "tce"):
        builder = sample_builder(name, sizes)
        rates = {w: samples_per_second(index, builder, w, sizes.loader_samples * max(w, 1)) for w in sizes.workers}
        needed = demand.get(name)
        enough = [w for w, rate in rates.items() if needed and rate >= needed]
        verdict = (
            "no step measured"
            if not needed
            else f"keeps up with {enough[0]} worker(s)"
            if enough
            else f"loader-bound with {max(rates)} workers ({max(rates.values()):.1f} of {needed:.1f} videos/s)"
        )
        rates_text = ", ".join(f"{w} workers: {rate:.1f}" for w, rate in rates.items())
        rows.append({"method": name, "samples_per_second": rates_text, "step_demand": needed, "verdict": verdict})
    return rows


def evaluation_row(sizes: Sizes, device) -> dict:
    import torch

    from videossl.data.input_contract import InputContract
    from videossl.eval.features import backbone_maps
    from videossl.models.backbones import build_backbone

    size, clips = sizes.size["tclr"], 4 if sizes.tiny else 64
    backbone = build_backbone("r3d_18", width=sizes.width, keep_time_in_layer4=True).to(device).eval()
    contract = InputContract(frames=sizes.frames, size=size)
    data = torch.randint(0, 256, (clips, 3, sizes.frames, size, size), dtype=torch.uint8)
    rates = {}
    for precision in ("fp32", "bf16"):
        with torch.no_grad():
            backbone_maps(backbone, contract, data, device, precision)
            synchronize(device)
            start = time.perf_counter()
            for _ in range(sizes.timed):
                backbone_maps(backbone, contract, data, device, precision)
            synchronize(device)
        rates[precision] = clips * sizes.timed / (time.perf_counter() - start)
    rates_text = ", ".join(f"{precision}: {rate:.1f}" for precision, rate in rates.items())
    return {"backbone": "r3d_18 (TCLR)", "clip": f"{sizes.frames}x{size}x{size}", "clips_per_second": rates_text}


# ---- report -------------------------------------------------------------------------------------


def table(rows: list, columns: list) -> list:
    lines = ["| " + " | ".join(title for title, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(row, key) for _, key in columns) + " |")
    return lines


def cell(row: dict, key) -> str:
    value = key(row) if callable(key) else row.get(key, "")
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def markdown(result: dict) -> str:
    env = result["environment"]
    lines = ["# GPU check", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in env.items()]
    sections = {
        "methods": [
            ("method", "method"),
            ("precision (auto)", "precision"),
            ("batch", "batch"),
            ("clip", "clip"),
            ("clips/s", "clips_per_second"),
            ("step (s)", "step_seconds"),
            ("MFU", "mfu"),
            ("--precision auto", "auto_precision"),
            ("note", "failed"),
        ],
        "memory": [
            ("method", "method"),
            ("batch", "batch"),
            ("step", "mode"),
            ("measured GiB", "gib_measured"),
            ("counted GiB (bench_memory.py)", lambda r: r["predicted_bytes"] / 2**30),
            ("measured / counted", "ratio"),
            ("measured by", "how"),
        ],
        "fp16": [
            ("fp16 step", "step"),
            ("against", "against"),
            ("loss finite", "loss_finite"),
            ("worst weight gradient error", "worst_weight_gradient_error"),
            ("last layer", "last_layer"),
        ],
        "loader": [
            ("method", "method"),
            ("samples/s by workers", "samples_per_second"),
            ("step demand (videos/s)", "step_demand"),
            ("verdict", "verdict"),
        ],
        "evaluation": [("backbone", "backbone"), ("clip", "clip"), ("feature extraction clips/s", "clips_per_second")],
        "compile": [
            ("method", "method"),
            ("compile (s)", "compile_seconds"),
            ("eager step (s)", "eager_step_seconds"),
            ("compiled step (s)", "compiled_step_seconds"),
            ("speed-up", "speedup"),
            ("gradients vs eager", "worst_gradient_error"),
            ("note", "failed"),
        ],
    }
    for name, columns in sections.items():
        value = result.get(name)
        lines += ["", f"## {name}", ""]
        if isinstance(value, str):
            lines.append(value)
        elif value:
            lines += table(value if isinstance(value, list) else [value], columns)
    lines += ["", f"peak used for MFU: {result['peak']}; total {result['seconds']:.0f} s"]
    return "\n".join(lines) + "\n"


# ---- the run ------------------------------------------------------------------------------------


def guarded(what: str, function, *args):
    """``function(*args)``, or a row saying why it failed (one failure must not lose the rest)."""
    try:
        return function(*args)
    except Exception as err:  # noqa: BLE001 - reported in the table, the check goes on
        free_memory()
        return {"method": what, "failed": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}


def run_sections(args, device, sizes: Sizes, deadline: float, save) -> dict:
    """Every section in order of importance, each saved as soon as it ends (``save(result)``); one
    that would start past the time budget is skipped and says so, one that fails says why."""
    result = {"environment": environment(device)}
    peak, source = bf16_peak(device, result["environment"])
    result["peak"] = f"{peak / 1e12:.1f} TFLOP/s ({source})"
    demand = {}

    def methods():
        rows = [guarded(name, throughput_row, name, sizes, device, peak) for name in ("tclr", "cvrl", "vtdl", "tce")]
        demand.update({row["method"]: row["videos_per_second"] for row in rows if "failed" not in row})
        return rows

    with tempfile.TemporaryDirectory() as videos:
        sections = {
            "methods": methods,
            "memory": lambda: memory_rows(sizes, device),
            "fp16": lambda: fp16_rows(sizes, device),
            "loader": lambda: loader_rows(sizes, videos, demand),
            "evaluation": lambda: evaluation_row(sizes, device),
            "compile": lambda: compile_rows(sizes, device, deadline),
        }
        for name, section in sections.items():
            if time.perf_counter() > deadline:
                result[name] = f"skipped: the {args.budget:.0f} s budget was used up"
                continue
            started = time.perf_counter()
            rows = guarded(name, section)
            result[name] = f"failed: {rows['failed']}" if isinstance(rows, dict) and "failed" in rows else rows
            print(f"{name}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
            save(result)
    return result


def check_setup(args):
    """The device to run on, or a one-line reason (exit 2)."""
    missing = missing_modules()
    if missing:
        return None, f"gpu_check needs {', '.join(missing)} (pip install them; nothing else is needed)"
    import torch

    if args.device == "cpu" and not args.tiny:
        return None, "without a GPU only --tiny runs (--device cpu --tiny): the full check takes hours on a CPU"
    if args.device == "cuda" and not torch.cuda.is_available():
        return None, "no CUDA GPU is visible (torch.cuda.is_available() is False); --device cpu --tiny tests the code"
    return torch.device(args.device), ""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--tiny", action="store_true", help="toy sizes (what make test runs, on the CPU)")
    parser.add_argument("--out", default="gpu_check", help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument(
        "--budget", type=float, default=BUDGET_SECONDS, help="seconds before later sections are skipped"
    )
    args = parser.parse_args(argv)
    device, problem = check_setup(args)
    if device is None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)

    def save(result):
        result["seconds"] = time.perf_counter() - started
        with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
            json.dump(result, f, indent=1, default=str)
        with open(os.path.join(args.out, "gpu_check.md"), "w") as f:
            f.write(markdown(result))

    result = run_sections(args, device, Sizes(args.tiny), started + args.budget, save)
    save(result)
    print(markdown(result))
    print(f"written: {os.path.join(args.out, 'gpu_check.json')}, gpu_check.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
