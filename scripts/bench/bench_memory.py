"""Memory of one pretraining step: plain, --grad_cache, --checkpoint_activations and both.

    python scripts/bench/bench_memory.py [--methods tclr,cvrl,vtdl] [--rounds 3] [--bf16] [--device cuda]

For TCLR's recipe (R3D-18 with the layer4 variant, 10 clips of 16 x 112 x 112 per video, Adam,
batch 40 on one GPU), CVRL's (R3D-50 slow-only, 2 clips of 16 x 224 x 224, SGD with momentum,
batch 128 per GPU: 1024 over the README's 8 GPUs) and VTDL's (I3D, anchor, positive and temporal
negative of 16 x 224 x 224, SGD with momentum, batch 8: its UCF101 script), in fp32:

- parameters, optimiser state, the batch (uint8 clips on the device) and the peak of the tensors a
  step allocates (activations,
  temporaries, gradients; every tensor storage created during the step is counted from its
  creation to its release, through a dispatch mode) with the tensors saved for backward at their
  peak (saved-tensor hooks; inside a checkpointed stage only its input is saved). Measured at the
  recipe's batch on the ``meta`` device (shapes without data: no memory, no arithmetic), checked
  against the same step on the CPU at a small batch (the counts must be equal) and for linearity
  in the batch (batches 2, 4 and 8);
- on the CPU at a small batch: the step time (median of ``--rounds``, after a warm-up step) as a
  ratio to the plain step in the same run, and the largest relative difference of any parameter
  gradient from the plain step's;
- ``--bf16``: the step peak under bf16 autocast, measured on the CPU at batches 2 and 4 and
  extrapolated linearly to the recipe's batch (autocast has no meta device);
- ``--device cuda``: ``torch.cuda.max_memory_allocated`` of the step at the recipe's batch.

Only what tensors hold is counted: a GPU adds its CUDA context, cuDNN workspaces and the caching
allocator's fragmentation (``--device cuda`` measures the allocator's peak).
"""

import argparse
import dataclasses
import functools
import os
import statistics
import sys
import time
import weakref
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_leaves  # noqa: E402

from cvrl.model import CVRL  # noqa: E402
from tclr_pretraining.model import TCLR  # noqa: E402
from videossl.data.input_contract import InputContract  # noqa: E402
from videossl.engine.memory import checkpoint_stages, grad_cache_step  # noqa: E402
from videossl.models.backbones import build_backbone  # noqa: E402
from vtdl.model import VTDL  # noqa: E402

GIB = 2**30
MODES = {"plain": (False, False), "grad_cache": (True, False), "checkpoint": (False, True), "both": (True, True)}


@dataclass
class Setup:
    title: str
    batch: int  # per GPU
    size: int
    cpu_size: int  # the CPU check's clip size (CVRL's 224 px steps take minutes on a CPU)
    cpu_batch: int
    modes: tuple
    width: float = 1.0


SETUPS = {
    "tclr": Setup(
        "TCLR: R3D-18 (layer4 variant), 10 clips of 16x{size}x{size} per video, Adam", 40, 112, 112, 2, tuple(MODES)
    ),
    "cvrl": Setup(
        "CVRL: R3D-50 slow-only + 3-layer MLP head, 2 clips of 16x{size}x{size} per video, SGD momentum",
        128,
        224,
        112,
        2,
        ("plain", "checkpoint"),  # --grad_cache is refused: both clips are one BatchNorm batch
    ),
    "vtdl": Setup(
        "VTDL: I3D, anchor + positive + temporal negative of 16x{size}x{size} per video, SGD momentum",
        8,  # the UCF101 script's batch (one GPU)
        224,
        224,
        2,
        tuple(MODES),
    ),
}


def build(name, device, size, checkpointing, width=1.0):
    """(method, optimiser) of the recipe, initialised from seed 0."""
    torch.manual_seed(0)
    contract = InputContract(frames=16, stride=2, size=size)
    with torch.device(device):
        if name == "tclr":
            method = TCLR(build_backbone("r3d_18", width=width, keep_time_in_layer4=True), contract)
            optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
        elif name == "cvrl":
            method = CVRL(build_backbone("r3d_50", width=width), contract)
            optimizer = torch.optim.SGD(method.parameters(), lr=0.1, momentum=0.9)
        else:
            method = VTDL(build_backbone("i3d", width=width), contract, queue_size=5000)
            if device == "meta":  # the queue's pointer cannot be read there; its write is in place (no new tensor)
                method.queue.enqueue = lambda keys: None
            trained = [p for p in method.parameters() if p.requires_grad]  # not the key encoder
            optimizer = torch.optim.SGD(trained, lr=0.003, momentum=0.9)
    if checkpointing:
        checkpoint_stages(method.backbone)
    return method.train(), optimizer


def batch_of(name, batch, size, device):
    clips = {"tclr": (batch, 2, 5), "cvrl": (batch, 2), "vtdl": (batch, 3)}[name]
    g = torch.Generator().manual_seed(1)
    data = torch.randint(0, 256, (*clips, 3, 16, size, size), dtype=torch.uint8, generator=g)
    return {"clips": data.to(device)}


def forward_backward(method, batch, grad_cache):
    if grad_cache:
        grad_cache_step(method, batch, lambda loss: loss.float().backward())
    else:
        method.loss(batch)[0].float().backward()


def train_step(method, optimizer, batch, grad_cache, dtype=None):
    optimizer.zero_grad(set_to_none=True)
    if dtype is None:
        forward_backward(method, batch, grad_cache)
    else:
        with torch.autocast(next(method.parameters()).device.type, dtype=dtype):
            forward_backward(method, batch, grad_cache)
    optimizer.step()


class LiveTensorBytes(TorchDispatchMode):
    """Bytes of the tensor storages created while active, from creation to release: now and at the
    peak. Storages that existed before (``existing``: weights, buffers, optimiser state, the batch)
    are not counted when an in-place operation returns them."""

    def __init__(self, existing=()):
        super().__init__()
        self.now = self.peak = 0
        self.storages = {}
        self.existing = {t.untyped_storage()._cdata for t in existing}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in tree_leaves(out):
            if isinstance(tensor, torch.Tensor):
                self._count(tensor.untyped_storage())
        return out

    def _count(self, storage):
        key = storage._cdata
        if key in self.storages or key in self.existing:
            return
        size = storage.nbytes()
        self.storages[key] = weakref.ref(storage, lambda _, key=key, size=size: self._release(key, size))
        self.now += size
        self.peak = max(self.peak, self.now)

    def _release(self, key, size):
        if self.storages.pop(key, None) is not None:
            self.now -= size


class SavedTensorBytes:
    """Bytes of the distinct storages autograd holds for the backward pass: now and at the peak."""

    def __init__(self):
        self.live = LiveTensorBytes()  # its bookkeeping, not its dispatch mode

    def pack(self, tensor):
        self.live._count(tensor.untyped_storage())
        return tensor

    def __enter__(self):
        self.hooks = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda tensor: tensor)
        self.hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self.hooks.__exit__(*exc)


def state_bytes(tensors):
    return sum(t.numel() * t.element_size() for t in tensors)


@functools.cache
def step_memory(name, mode, batch, size, device="meta", dtype=None, width=1.0):
    """Bytes of one step after a warm-up step (so that the optimiser state exists); each
    configuration is measured once per run."""
    grad_cache, checkpointing = MODES[mode]
    method, optimizer = build(name, device, size, checkpointing, width)
    data = batch_of(name, batch, size, device)
    train_step(method, optimizer, data, grad_cache, dtype)
    optimizer.zero_grad(set_to_none=True)
    optimizer_state = [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)]
    existing = [*method.parameters(), *method.buffers(), *optimizer_state, data["clips"]]
    live, saved = LiveTensorBytes(existing), SavedTensorBytes()
    with live, saved:
        train_step(method, optimizer, data, grad_cache, dtype)
    parameters = [p for p in method.parameters() if p.requires_grad]
    return {
        "parameters": state_bytes(method.parameters()) + state_bytes(method.buffers()),
        "gradients": state_bytes(parameters),
        "batch": state_bytes([data["clips"]]),
        "optimizer": state_bytes(optimizer_state),
        "step_peak": live.peak,
        "saved_peak": saved.live.peak,
    }


def linearity(name, mode, size, width):
    """Relative distance of the step peak at batch 4 from the line through batches 2 and 8."""
    peaks = {b: step_memory(name, mode, b, size, width=width)["step_peak"] for b in (2, 4, 8)}
    line = peaks[2] + (peaks[8] - peaks[2]) * (4 - 2) / (8 - 2)
    return abs(peaks[4] - line) / peaks[4]


def cpu_check(name, setup, rounds):
    """Per mode: (seconds per step, largest relative gradient difference from plain, CPU peak / meta peak)."""
    out, reference = {}, None
    for mode in setup.modes:
        grad_cache, checkpointing = MODES[mode]
        method, optimizer = build(name, "cpu", setup.cpu_size, checkpointing, setup.width)
        data = batch_of(name, setup.cpu_batch, setup.cpu_size, "cpu")
        optimizer.zero_grad(set_to_none=True)
        forward_backward(method, data, grad_cache)
        grads = {n: p.grad.clone() for n, p in method.named_parameters() if p.grad is not None}
        reference = reference or grads
        difference = max(float((grads[n] - g).norm() / g.norm().clamp_min(1e-30)) for n, g in reference.items())
        optimizer.step()
        seconds = []
        for _ in range(rounds):
            start = time.perf_counter()
            train_step(method, optimizer, data, grad_cache)
            seconds.append(time.perf_counter() - start)
        cpu = step_memory(name, mode, setup.cpu_batch, setup.cpu_size, "cpu", width=setup.width)["step_peak"]
        meta = step_memory(name, mode, setup.cpu_batch, setup.cpu_size, width=setup.width)["step_peak"]
        out[mode] = (statistics.median(seconds), difference, cpu / meta)
        print(f"  cpu {mode}: {out[mode][0]:.1f} s/step, gradient difference {difference:.1e}", file=sys.stderr)
    return out


def bf16_peak(name, setup, mode):
    """The bf16 step peak at the recipe's batch, extrapolated from CPU batches 2 and 4."""
    small = {b: step_memory(name, mode, b, setup.size, "cpu", torch.bfloat16, setup.width)["step_peak"] for b in (2, 4)}
    return small[2] + (small[4] - small[2]) * (setup.batch - 2) / 2


def cuda_peak(name, setup, mode):
    grad_cache, checkpointing = MODES[mode]
    method, optimizer = build(name, "cuda", setup.size, checkpointing, setup.width)
    data = batch_of(name, setup.batch, setup.size, "cuda")
    train_step(method, optimizer, data, grad_cache)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    train_step(method, optimizer, data, grad_cache)
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def gib(value):
    return f"{value / GIB:.2f}"


def report(name, setup, rows):
    plain_total = rows["plain"]["total"]
    plain_time = rows["plain"]["seconds"]
    title = setup.title.format(size=setup.size) + (f", width {setup.width}" if setup.width != 1 else "")
    print(f"\n{title}; batch {setup.batch} per GPU, fp32 (GiB)\n")
    header = [
        "setting",
        "parameters",
        "optimiser state",
        "batch (uint8 clips)",
        "saved for backward (peak)",
        "step peak",
        "total",
        "vs plain",
        f"CPU step, batch {setup.cpu_batch} at {setup.cpu_size} px",
        "gradient difference",
    ]
    header += [c for c in ("bf16 total", "CUDA peak") if c in rows["plain"]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for mode, r in rows.items():
        cells = [
            f"`{' '.join(FLAGS[mode]) or 'plain'}`",
            gib(r["parameters"]),
            gib(r["optimizer"]),
            gib(r["batch"]),
            gib(r["saved_peak"]),
            gib(r["step_peak"]),
            f"**{gib(r['total'])}**",
            f"{r['total'] / plain_total:.2f}x",
            f"{r['seconds']:.1f} s ({r['seconds'] / plain_time:.2f}x)",
            f"{r['difference']:.1e}",
        ]
        cells += [gib(r[c]) for c in ("bf16 total", "CUDA peak") if c in r]
        print("| " + " | ".join(cells) + " |")
    checks = ", ".join(f"{m} {r['cpu_over_meta']:.4f}" for m, r in rows.items())
    linear = ", ".join(f"{m} {100 * r['nonlinearity']:.2f}%" for m, r in rows.items())
    print(f"\nCPU step peak / meta step peak at batch {setup.cpu_batch}, {setup.cpu_size} px: {checks}")
    print(f"step peak at batch 4 off the line through batches 2 and 8: {linear}")


FLAGS = {
    "plain": (),
    "grad_cache": ("--grad_cache",),
    "checkpoint": ("--checkpoint_activations",),
    "both": ("--grad_cache", "--checkpoint_activations"),
}


def measure(name, args):
    """Every row of one method's table (bytes, seconds), printed as a table."""
    setup, rows = with_overrides(SETUPS[name], args), {}
    timing = cpu_check(name, setup, args.rounds)
    for mode in setup.modes:
        r = dict(step_memory(name, mode, setup.batch, setup.size, width=setup.width))
        r["total"] = r["parameters"] + r["optimizer"] + r["batch"] + r["step_peak"]
        r["seconds"], r["difference"], r["cpu_over_meta"] = timing[mode]
        r["nonlinearity"] = linearity(name, mode, setup.size, setup.width)
        if args.bf16:
            r["bf16 total"] = r["parameters"] + r["optimizer"] + r["batch"] + bf16_peak(name, setup, mode)
        if args.device == "cuda":
            r["CUDA peak"] = cuda_peak(name, setup, mode)
        rows[mode] = r
        print(f"  {name} {mode}: total {gib(r['total'])} GiB", file=sys.stderr)
    report(name, setup, rows)
    return rows


def with_overrides(setup, args):
    """The recipe's setup, or a smaller one (--width, --size, --batch: quick checks of this script)."""
    changes = {"width": args.width}
    if args.modes:
        chosen = args.modes.split(",")  # the plain step is the reference of every other row
        changes.update(modes=tuple(m for m in setup.modes if m == "plain" or m in chosen))
    if args.size:
        changes.update(size=args.size, cpu_size=args.size)
    if args.batch:
        changes.update(batch=args.batch)
    return dataclasses.replace(setup, **changes)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="tclr,cvrl,vtdl", help="comma-separated: tclr, cvrl, vtdl")
    parser.add_argument("--rounds", type=int, default=3, help="timed CPU steps per setting (median)")
    parser.add_argument("--bf16", action="store_true", help="also the bf16 autocast step (CPU batches 2 and 4)")
    parser.add_argument("--device", default="meta", choices=("meta", "cuda"), help="cuda: also the allocator's peak")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--modes", default=None, help=f"comma-separated, of: {', '.join(MODES)} (default: all; plain always)"
    )
    parser.add_argument("--width", type=float, default=1.0, help="backbone width (below 1: a quick check)")
    parser.add_argument("--size", type=int, default=None, help="clip size instead of the recipe's")
    parser.add_argument("--batch", type=int, default=None, help="batch instead of the recipe's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine")
    for name in args.methods.split(","):
        if name not in SETUPS:
            parser.error(f"--methods: unknown {name!r}; known: {', '.join(SETUPS)}")
        measure(name, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
