"""The training engine shared by the four methods and finetuning: one loop, the bookkeeping done once.

An entry script builds its dataset and its ``Method`` (videossl/engine/method.py), then::

    run = TrainingRun(args, "tclr", checkpoint_dir=..., log_dir=..., config=...)
    loader = run.loader(dataset, args.batch_size, collate_fn)
    method = run.prepare_model(method)                     # device, channels_last_3d
    start = run.resume(method, optimizer, schedule)        # --restart: newest complete checkpoint
    run.fit(method, loader, optimizer, schedule, start, after_epoch=lambda epoch, metrics: run.save(
        epoch + 1, method, optimizer, schedule, loss=metrics["loss"]))

``fit`` verifies the precision (--precision auto), wraps the method (SyncBN, fp32 islands, DDP)
and trains epochs ``start`` .. ``args.epochs``. Under ``torchrun`` every process joins the process
group (gloo on CPU, nccl on CUDA), a DistributedSampler splits the data (re-shuffled every
epoch), only rank 0 logs and saves.
"""

import argparse
import functools
import glob
import json
import math
import os
import random
import re
import sys
import time
from argparse import ArgumentParser, Namespace, _ArgumentGroup
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from videossl.atomic import atomic_copy, atomic_write_json, remove_partial_writes
from videossl.cli import epoch_list, non_negative_int, positive_float, positive_int
from videossl.data.dataset import SkippedVideos, worker_options
from videossl.engine import distributed
from videossl.engine.memory import average_gradients, check_grad_cache, checkpoint_stages, grad_cache_step
from videossl.engine.method import Method
from videossl.engine.precision import (
    PRECISIONS,
    PrecisionPlan,
    apply_precision_plan,
    autocast,
    first_samples,
    verify_precision,
)
from videossl.engine.preemption import Preempted, ResumableSampler, StopRequest
from videossl.engine.run_lock import RunLock
from videossl.engine.schedules import Schedule
from videossl.errors import UserError
from videossl.models.checkpoint import load_state_strict, make_checkpoint, read_checkpoint_file, save_checkpoint, unwrap
from videossl.types import Log

CHECKPOINT_PATTERN = "checkpoint_epoch{:04d}.pt"


class TrainingDiverged(UserError):
    """The loss or gradients stayed NaN/inf: the run stops, its checkpoints untouched."""


class ProcessGroupFailed(UserError):
    """A DDP peer died or became unreachable: this process stops too, naming the last checkpoint."""


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (disk full, permissions): the previous one is kept."""


PRECISION_CHECK_SAMPLES = 8  # of the first batch, for --precision auto's check


def add_engine_args(
    parser: ArgumentParser,
    epochs: Optional[int],
    batch_size: Optional[int],
    lr: Optional[float],
    grad_cache: bool = True,
) -> _ArgumentGroup:
    """The engine's flags; ``grad_cache=False`` leaves out --grad_cache (for a tool that cannot
    split its step into separate BatchNorm batches)."""
    group = parser.add_argument_group("training engine")
    group.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:N")
    group.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="auto verifies bf16 (fp16 on GPUs without bf16) against fp32 before trusting it; bf16 and fp16 run "
        "unverified (fp16 with a GradScaler; on the CPU fp16 is slow, for testing the GPU path)",
    )
    group.add_argument("--no_channels_last", action="store_true", help="keep NCDHW memory instead of channels_last_3d")
    group.add_argument(
        "--sync_bn",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="synchronise BatchNorm statistics across processes",
    )
    add_memory_args(parser, group, grad_cache)
    group.add_argument("--epochs", type=positive_int, default=epochs)
    group.add_argument("--batch_size", type=positive_int, default=batch_size, help="over all processes")
    group.add_argument("--lr", type=positive_float, default=lr)
    group.add_argument("--num_workers", type=non_negative_int, default=4, help="data-loader processes")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--restart", action="store_true", help="resume from the newest complete checkpoint of --run_id")
    group.add_argument("--save_every", type=positive_int, default=1, help="epochs between checkpoints")
    group.add_argument("--keep_checkpoints", type=positive_int, default=3, help="how many recent checkpoints to keep")
    group.add_argument(
        "--keep_epochs",
        type=epoch_list,
        default=(),
        help="comma-separated epochs whose checkpoint_epochNNNN.pt is always written and never removed",
    )
    group.add_argument(
        "--max_nonfinite_steps",
        type=positive_int,
        default=20,
        help="stop after this many steps in a row with a non-finite loss or gradient",
    )
    group.add_argument("--log_every", type=positive_int, default=10, help="steps between TensorBoard points")
    group.add_argument(
        "--dist_timeout",
        type=positive_float,
        default=300.0,
        help="seconds a process waits for the others in a collective before it stops (DDP)",
    )
    return group


def add_memory_args(parser: ArgumentParser, group: _ArgumentGroup, grad_cache: bool) -> None:
    """The exact memory savings (videossl/engine/memory.py)."""
    if grad_cache:
        group.add_argument(
            "--grad_cache",
            action="store_true",
            help="gradient caching: the step's clips embedded without a graph, then back-propagated one "
            "BatchNorm batch at a time (the plain step's gradients, far less memory; methods whose pieces "
            "are separate BatchNorm batches: TCLR, VTDL, TCE)",
        )
    else:
        parser.set_defaults(grad_cache=False)
    group.add_argument(
        "--checkpoint_activations",
        action="store_true",
        help="keep only each backbone stage's input and recompute its activations in the backward pass",
    )
    add_compile_arg(group)


def add_compile_arg(group: _ArgumentGroup) -> None:
    group.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the backbone (in place: checkpoints are unchanged); the first steps include the "
        "compile time (docs/performance.md)",
    )


def compile_backbone(backbone: nn.Module, log: Log = print) -> None:
    """``--compile``: the backbone compiled in place, so that its state-dict keys stay as they are."""
    log(f"compiling the backbone with torch.compile (torch {torch.__version__}); the first batches take longer")
    backbone.compile()


def resolve_device(name: Optional[str]) -> torch.device:
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    return device


def seed_epoch(seed: int, rank: int, epoch: int) -> None:
    """Every RNG from (seed, rank, epoch): an epoch runs the same whether or not the run was resumed."""
    value = (seed * 1_000_003 + rank * 10_007 + epoch) % 2**31
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    numpy_state = np.random.get_state()
    state["numpy"] = [numpy_state[0], torch.from_numpy(numpy_state[1].astype(np.int64)), *numpy_state[2:]]
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_epoch(path: str) -> int:
    match = re.search(r"checkpoint_epoch(\d+)\.pt$", path)
    return int(match.group(1)) if match else -1


def newest_complete_checkpoint(folder: str, log: Log = print) -> tuple[Optional[str], Optional[dict]]:
    """(path, checkpoint) of the newest checkpoint in ``folder`` that loads, or (None, None).

    ``last.pt`` is written every epoch and the per-epoch files every --save_every epochs; a file
    that does not load (a crash mid-copy, a disk error) is skipped with a warning."""

    def first_loadable(paths):
        for path in paths:
            try:
                return path, read_checkpoint_file(path)
            except UserError as err:
                log(f"warning: skipping {err}")
        return None, None

    last = os.path.join(folder, "last.pt")
    candidates = [
        first_loadable([last] if os.path.exists(last) else []),
        first_loadable(
            sorted(glob.glob(os.path.join(folder, "checkpoint_epoch*.pt")), key=checkpoint_epoch, reverse=True)
        ),
    ]
    candidates = [c for c in candidates if c[0] is not None]
    if not candidates:
        return None, None
    return max(candidates, key=lambda c: c[1].get("epoch", -1))  # max keeps the first (last.pt) on ties


RUN_CONFIG = "run_config.json"


def check_run_config(folder: str, config: dict, keys_that_matter: Iterable[str], restart: bool) -> str:
    """Write the run's configuration next to its checkpoints; refuse to overwrite another run's
    checkpoints, and refuse to --restart with a configuration that differs where it matters."""
    path = os.path.join(folder, RUN_CONFIG)
    has_checkpoints = bool(glob.glob(os.path.join(folder, "*.pt")))
    if restart and os.path.exists(path):
        with open(path) as f:
            saved = json.load(f)
        # a key an older run did not record (a flag added since) cannot be compared
        differ = [k for k in keys_that_matter if k in saved and saved[k] != config.get(k)]
        if differ:
            details = ", ".join(f"{k}: {saved.get(k)!r} -> {config.get(k)!r}" for k in differ)
            raise UserError(
                f"--restart into {folder}: its run used a different configuration ({details}); "
                f"use the same values or another --run_id"
            )
    elif not restart and has_checkpoints:
        raise UserError(
            f"{folder} already holds checkpoints: pass --restart to continue that run, or choose "
            f"another --run_id (nothing was overwritten)"
        )
    return atomic_write_json(path, config, indent=2, sort_keys=True, default=str)


@dataclass
class EpochTally:
    """What an epoch has summed so far; a mid-epoch checkpoint stores it."""

    sums: dict = field(default_factory=dict)
    count: int = 0  # steps that updated the weights
    skipped: int = 0  # steps with a non-finite loss or gradient
    clips_seen: int = 0
    steps: int = 0

    def add(self, stepped: bool, loss: Tensor, terms: dict[str, Tensor]) -> None:
        self.steps += 1
        if not stepped:
            self.skipped += 1
            return
        for name, value in {"loss": loss, **terms}.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value.detach() if torch.is_tensor(value) else value)
        self.count += 1

    def to_dict(self) -> dict:
        return asdict(self)


def check_batch(batch_size: int, world: int, min_per_process: int = 1, samples: Optional[int] = None) -> int:
    """The per-process batch of ``batch_size`` over ``world`` processes, or ``UserError``: not
    divisible, fewer than ``min_per_process`` per process, or more than the ``samples`` there are."""
    if batch_size % world:
        raise UserError(f"--batch_size {batch_size} is not divisible by the {world} processes")
    per_process = batch_size // world
    if per_process < min_per_process:
        raise UserError(
            f"--batch_size {batch_size} over {world} process(es) is {per_process} video(s) per process; "
            f"this method needs at least {min_per_process} per process (BatchNorm statistics, in-batch "
            f"negatives): use --batch_size {min_per_process * world} or more"
        )
    if samples is not None and samples < batch_size:
        raise UserError(f"the dataset has {samples} samples, fewer than one batch of {batch_size}")
    return per_process


def load_method_weights(method: Method, checkpoint: dict, path: str) -> None:
    """A checkpoint of this project's into ``method``: its backbone and every ``state_modules()``
    part, each exactly (a missing part is one error naming ``path``)."""
    load_state_strict(method.backbone, checkpoint["backbone"]["state_dict"], "backbone", path)
    for name, head in method.state_modules().items():
        if name not in checkpoint.get("heads", {}):
            raise UserError(f"{path}: has no '{name}' state")
        load_state_strict(unwrap(head), checkpoint["heads"][name], name, path)


class TrainingRun:
    def __init__(
        self, args: Namespace, name: str, checkpoint_dir: str, log_dir: str, config: Optional[dict] = None
    ) -> None:
        """``name``: the method's, recorded in checkpoints; ``config``: the run's configuration,
        recorded in every checkpoint."""
        self.args, self.name, self.config = args, name, config or {}
        device = resolve_device(args.device)
        self.local_rank = distributed.init_from_env(device.type, args.dist_timeout)
        if device.type == "cuda" and distributed.is_distributed():
            device = torch.device("cuda", self.local_rank)
        self.device = device
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.is_main = self.rank == 0
        self.checkpoint_dir, self.log_dir = checkpoint_dir, log_dir
        self.writer = None
        self.lock = None
        if self.is_main:
            os.makedirs(checkpoint_dir, exist_ok=True)
            self.lock = RunLock(checkpoint_dir, log=self.log).acquire()  # one run per directory
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir)
        self.plan = None
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=False)
        self.step = 0
        self.nonfinite_total = 0
        self.scaler_overflows = 0  # fp16 steps skipped because the scaled gradients overflowed
        self._nonfinite_in_a_row = 0
        self._nonfinite_since = 0
        self.last_checkpoint = None
        self.best_loss = math.inf
        self.best_accuracy = -math.inf
        self.history = []  # per-epoch means of every loss term, saved with the checkpoints
        self._resumed_plan = None
        self._position, self._position_rng = None, None  # where a mid-epoch checkpoint stopped
        self.stop = StopRequest()  # SIGTERM / SIGUSR1: save this step and exit (preemption)
        seed_epoch(args.seed, self.rank, 0)

    # ---- output ------------------------------------------------------------------------------

    def log(self, message: str) -> None:
        if self.is_main:
            tqdm.write(message)

    def scalar(self, name: str, value: float, step: Optional[int] = None) -> None:
        if self.writer is not None:
            self.writer.add_scalar(name, value, self.step if step is None else step)

    def close(self) -> None:
        self.stop.restore()
        if self.writer is not None:
            self.writer.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        distributed.shutdown()

    # ---- data and model ----------------------------------------------------------------------

    def loader(
        self,
        dataset: Dataset,
        batch_size: int,
        collate_fn: Optional[Callable[[list], Any]] = None,
        shuffle: bool = True,
        drop_last: bool = True,
        min_per_process: int = 1,
    ) -> DataLoader:
        """``min_per_process``: the fewest samples one process can train on (2 for the contrastive
        methods: their BatchNorm heads and in-batch negatives need more than one)."""
        per_process = check_batch(batch_size, self.world, min_per_process, len(dataset) if drop_last else None)
        sampler = ResumableSampler(
            dataset, num_replicas=self.world, rank=self.rank, shuffle=shuffle, seed=self.args.seed, drop_last=drop_last
        )
        workers = self.args.num_workers
        return DataLoader(
            dataset,
            batch_size=per_process,
            sampler=sampler,
            collate_fn=collate_fn,
            pin_memory=self.device.type == "cuda",
            drop_last=drop_last,
            persistent_workers=False,
            **worker_options(workers),
        )  # fresh workers each epoch see dataset.set_epoch

    def prepare_model(self, model: nn.Module) -> nn.Module:
        model = model.to(self.device)
        if not self.args.no_channels_last and any(isinstance(m, torch.nn.Conv3d) for m in model.modules()):
            model = model.to(memory_format=torch.channels_last_3d)
        return model

    def to_device(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        if x.dim() == 5 and not self.args.no_channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return x

    @property
    def resumed_mid_epoch(self) -> bool:
        """Whether the checkpoint resumed from was written within an epoch (a stop signal)."""
        return self._position is not None

    def choose_precision(self, method: Method, batch: dict) -> PrecisionPlan:
        """Verify (or reuse the resumed run's) precision on rank 0 and share it with every process.
        Only rank 0 runs the method here, with ``update_state=False`` (no communication, no side
        effects). ``wrap`` installs the plan."""
        if self._resumed_plan is not None:
            plan = PrecisionPlan(**self._resumed_plan)
        else:
            plan = [None]
            if self.is_main:  # on a few samples: the check holds every module's activations twice
                plan[0] = verify_precision(
                    method,
                    lambda m, b: m(b, update_state=False)[0],
                    first_samples(batch, PRECISION_CHECK_SAMPLES),
                    self.device,
                    self.args.precision,
                    seed=self.args.seed,
                )
            if distributed.is_distributed():
                torch.distributed.broadcast_object_list(plan, src=0)  # every process runs the same plan
            plan = plan[0]
        self.plan = plan
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=plan.needs_grad_scaler)
        self.log(plan.summary())
        if self.writer is not None:
            self.writer.add_text("precision", plan.summary(), 0)
        return plan

    def wrap(self, model: nn.Module) -> nn.Module:
        """SyncBatchNorm (--sync_bn), the precision plan's fp32 islands, then DDP under torchrun."""
        if self.args.sync_bn and distributed.is_distributed():
            if self.device.type == "cuda":
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            else:  # torch's SyncBatchNorm runs on CUDA only
                self.log("--sync_bn: SyncBatchNorm needs CUDA; on the CPU each process keeps its own statistics")
        if self.plan is not None:
            apply_precision_plan(model, self.plan, self.device)
        if self.args.checkpoint_activations:
            stages = checkpoint_stages(model.backbone)
            self.log(f"activation checkpointing: {', '.join(stages)} keep only their inputs")
        if getattr(self.args, "compile", False):
            compile_backbone(model.backbone, self.log)
        if not distributed.is_distributed():
            return model
        # Buffers are not broadcast: a method keeps its queues and banks identical on every process
        # itself (they can be large), and rank 0's BatchNorm statistics are the ones saved either way.
        return DistributedDataParallel(
            model, device_ids=[self.local_rank] if self.device.type == "cuda" else None, broadcast_buffers=False
        )

    # ---- checkpoints -------------------------------------------------------------------------

    def resume(self, method: Method, optimizer: torch.optim.Optimizer, schedule: Schedule) -> int:
        """With --restart: load the newest complete checkpoint into the method (its backbone and
        ``state_modules()``), the optimiser and the schedule; returns the epoch to start from."""
        if not self.args.restart:
            return 0
        if self.is_main:
            remove_partial_writes(self.checkpoint_dir, self.log, what="checkpoint write")
        path, checkpoint = newest_complete_checkpoint(self.checkpoint_dir, self.log)
        if checkpoint is None:
            raise UserError(f"--restart: no complete checkpoint in {self.checkpoint_dir}")
        state = checkpoint.get("training_state")
        if not state:
            raise UserError(f"{path}: has no training state to resume from")
        load_method_weights(method, checkpoint, path)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.step = checkpoint["step"]
        self.nonfinite_total = state.get("nonfinite_total", 0)
        self.scaler_overflows = state.get("scaler_overflows", 0)
        self.best_loss = state.get("best_loss", math.inf)
        self.best_accuracy = state.get("best_accuracy", -math.inf)
        self.history = list(state.get("history", []))
        self._resumed_plan = checkpoint.get("precision")
        self._position, self._position_rng = state.get("position"), state["rng"]
        if self._position:
            per_process = self._position["rng"]
            if len(per_process) != self.world:
                self.log(
                    f"note: resuming mid-epoch on {self.world} processes, saved on {len(per_process)}: the rest "
                    "of that epoch will not be the one an uninterrupted run would have seen"
                )
            self._position_rng = per_process[self.rank % len(per_process)]
        self.last_checkpoint = path
        within = (
            f", step {self._position['tally'][0]['steps']} of epoch {checkpoint['epoch'] + 1}" if self._position else ""
        )
        self.log(f"resumed from {path} (epoch {checkpoint['epoch']}{within}, step {self.step})")
        return checkpoint["epoch"]

    def save(
        self,
        epochs_done: int,
        method: Method,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        loss: Optional[float] = None,
        accuracy: Optional[float] = None,
        position: Optional[dict] = None,
    ) -> Optional[str]:
        """After an epoch: ``last.pt`` always, ``checkpoint_epochNNNN.pt`` every --save_every epochs
        and at the end (the newest --keep_checkpoints kept), ``best.pt`` on a new highest
        ``accuracy`` (classifiers) or, for runs that report none, a new lowest ``loss``. Within an
        epoch (``position``: the epoch and its tally so far, on a stop signal): ``last.pt`` only."""
        is_best = False
        if position is None and accuracy is not None:
            is_best = accuracy > self.best_accuracy
            self.best_accuracy = max(self.best_accuracy, accuracy)
        elif position is None and loss is not None and loss < self.best_loss:
            is_best, self.best_loss = True, loss
        if not self.is_main:
            distributed.barrier()  # wait until rank 0 has written them
            self.last_checkpoint = os.path.join(self.checkpoint_dir, "last.pt")
            return None
        training_state = {
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": rng_state(),
            "nonfinite_total": self.nonfinite_total,
            "scaler_overflows": self.scaler_overflows,
            "best_loss": self.best_loss,
            "best_accuracy": self.best_accuracy,
            "history": self.history,
            "position": position,
        }
        checkpoint = make_checkpoint(
            self.name,
            method.backbone,
            method.contract,
            heads=method.state_modules(),
            config=self.config,
            epoch=epochs_done,
            step=self.step,
            training_state=training_state,
            precision=self.plan.to_dict() if self.plan else None,
        )
        due = epochs_done % self.args.save_every == 0 or epochs_done in (self.args.epochs, *self.args.keep_epochs)
        end_of_epoch = position is None and due
        last = self._write_checkpoint(checkpoint, epochs_done, end_of_epoch, is_best)
        distributed.barrier()
        return last

    def _write_checkpoint(self, checkpoint, epochs_done, keep_epoch_copy, is_best):
        """``last.pt``, then its copies; an OSError leaves every old file in place and stops the run."""
        target = os.path.join(self.checkpoint_dir, "last.pt")
        try:
            last = save_checkpoint(checkpoint, target)
            self.last_checkpoint = last
            if keep_epoch_copy:
                target = os.path.join(self.checkpoint_dir, CHECKPOINT_PATTERN.format(epochs_done))
                atomic_copy(last, target)
                old = sorted(glob.glob(os.path.join(self.checkpoint_dir, "checkpoint_epoch*.pt")), key=checkpoint_epoch)
                old = [path for path in old if checkpoint_epoch(path) not in self.args.keep_epochs]
                for stale in old[: -self.args.keep_checkpoints]:
                    os.remove(stale)
            if is_best:
                target = os.path.join(self.checkpoint_dir, "best.pt")
                atomic_copy(last, target)
        except OSError as err:  # disk full, permissions: the atomic write left the old file in place
            kept = self.last_checkpoint or "none (this was the first)"
            raise CheckpointWriteError(
                f"could not write {target} after epoch {epochs_done}: {err.strerror or err}; nothing was "
                f"overwritten, the newest complete checkpoint is {kept} (--restart continues from it)"
            ) from None
        return last

    # ---- the loop ----------------------------------------------------------------------------

    def _finite(self, loss, parameters) -> tuple[bool, bool]:
        """(the loss is finite, every gradient is finite), decided the same on every process (one
        skipping while another steps would make their weights drift apart)."""
        grads = [p.grad.detach().float().abs().sum() for p in parameters if p.grad is not None]
        total = torch.stack(grads).sum() if grads else torch.zeros((), device=loss.device)
        finite = torch.stack([torch.isfinite(loss.detach().float()), torch.isfinite(total)]).to(torch.float32)
        if distributed.is_distributed():
            torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
        loss_finite, grads_finite = finite.tolist()
        return bool(loss_finite), bool(grads_finite)

    def forward_backward(self, net: nn.Module, batch: dict, parameters: list[nn.Parameter]) -> tuple[Tensor, dict]:
        """The step's loss and terms, with the gradients of every process averaged into ``.grad``:
        through DDP's forward and ``backward``, or by gradient caching (``--grad_cache``)."""
        if self.args.grad_cache:
            forward_context = functools.partial(autocast, self.plan, self.device)
            loss, terms = grad_cache_step(unwrap(net), batch, self.backward, forward_context)
            average_gradients(parameters)
            return loss.float(), terms
        with autocast(self.plan, self.device):
            loss, terms = net(batch)
        self.backward(loss)
        return loss.detach().float(), terms

    def backward(self, loss: Tensor) -> None:
        (self.scaler.scale(loss.float()) if self.scaler.is_enabled() else loss.float()).backward()

    def optimizer_step(
        self, loss: Tensor, optimizer: Optimizer, schedule: Schedule, parameters: list[nn.Parameter], epoch: int
    ) -> bool:
        """The update, if the loss and every gradient are finite on every process; returns whether it
        stepped. Stops the run after --max_nonfinite_steps skipped steps in a row."""
        if self.scaler.is_enabled():
            self.scaler.unscale_(optimizer)
        loss_finite, grads_finite = self._finite(loss, parameters)
        stepped = loss_finite and grads_finite
        if stepped:
            if self.scaler.is_enabled():
                self.scaler.step(optimizer)
            else:
                optimizer.step()
            schedule.after_step()
            self._nonfinite_in_a_row = 0
        elif loss_finite and self.scaler.is_enabled() and self.scaler.get_scale() >= 1.0:
            # fp16: the scaled gradients overflowed; GradScaler halves its scale (update below) and the
            # step is skipped, as on any fp16 run's first steps. Not a divergence while the scale is >= 1.
            self.scaler_overflows += 1
            self.scalar("train/fp16_scale_overflows", self.scaler_overflows)
        else:
            self._count_nonfinite_step(epoch)
        if self.scaler.is_enabled():
            self.scaler.update()
        optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return stepped

    def _count_nonfinite_step(self, epoch):
        self.nonfinite_total += 1
        if not self._nonfinite_in_a_row:
            self._nonfinite_since = self.step + 1  # steps are counted from 1 in messages
        self._nonfinite_in_a_row += 1
        self.scalar("train/nonfinite_steps", self.nonfinite_total)
        if self._nonfinite_in_a_row >= self.args.max_nonfinite_steps:
            kept = self.last_checkpoint or "none saved yet"
            raise TrainingDiverged(
                f"loss or gradients were NaN/inf in {self._nonfinite_in_a_row} steps in a row, from step "
                f"{self._nonfinite_since} (epoch {epoch + 1}) on; stopped, no weights were updated by those "
                f"steps. Last good checkpoint: {kept}. Try a lower --lr or --precision fp32"
            )

    def _start_epoch(self, epoch, loader, model: nn.Module, schedule):
        seed_epoch(self.args.seed, self.rank, epoch + 1)
        loader.sampler.set_epoch(epoch)
        if hasattr(loader.dataset, "set_epoch"):
            loader.dataset.set_epoch(epoch)  # new augmentations every epoch
        schedule.start_epoch(epoch)
        model.train()
        return tqdm(
            iter(loader),  # now: the loader's iterator draws its seed from the global generator
            total=len(loader),
            desc=f"epoch {epoch + 1}/{self.args.epochs}",
            disable=not self.is_main,
            dynamic_ncols=True,
            leave=False,
            mininterval=0.5 if sys.stderr.isatty() else 30,
        )

    def fit(
        self,
        method: Method,
        loader: DataLoader,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        start: int,
        after_epoch: Optional[Callable[[int, dict], None]] = None,
    ) -> dict:
        """Choose the precision, wrap the method, then train epochs ``start`` .. ``args.epochs``,
        calling ``after_epoch(epoch, metrics)`` after each (save, test, log; it returns True to end
        the run there); returns the metrics of the last epoch."""
        if self.args.grad_cache:
            check_grad_cache(method)
        self.choose_precision(method, next(iter(loader)))
        net = self.wrap(method)
        metrics = {}
        try:
            for epoch in range(start, self.args.epochs):
                metrics = self.train_epoch(epoch, loader, net, optimizer, schedule)
                if after_epoch is not None and after_epoch(epoch, metrics) is True:
                    break
        except Exception as err:
            if not (distributed.is_distributed() and distributed.is_communication_failure(err)):
                raise
            silent = distributed.silent_ranks(os.path.join(self.checkpoint_dir, ".roll_call"), self.step)
            who = f"rank {', '.join(map(str, silent))} stopped" if silent else "another process stopped"
            raise ProcessGroupFailed(
                f"rank {self.rank}: the process group failed at step {self.step + 1}: {who} or cannot be reached "
                f"({str(err).splitlines()[0][:160]}); the newest complete checkpoint is "
                f"{self.last_checkpoint or 'none'} (--restart continues from it)"
            ) from None
        return metrics

    def train_epoch(
        self, epoch: int, loader: DataLoader, net: nn.Module, optimizer: torch.optim.Optimizer, schedule: Schedule
    ) -> dict:
        """One epoch of ``net`` (a wrapped ``Method``), or the rest of it after a mid-epoch
        checkpoint; returns the mean of every loss term over the epoch (averaged over processes).
        A stop signal ends it after the current step with a checkpoint of that step."""
        method = unwrap(net)
        tally = self._resumed_tally(epoch, loader)
        bar = self._start_epoch(epoch, loader, net, schedule)
        if tally.steps:
            set_rng_state(self._position_rng)  # the generators as they were after that step
        skipped_videos = SkippedVideos(loader.dataset.index) if hasattr(loader.dataset, "index") else None
        parameters = [p for group in optimizer.param_groups for p in group["params"]]
        started = time.perf_counter()
        for batch in bar:
            if skipped_videos is not None:
                skipped_videos.update(batch.get("skipped", []))
            method.step = self.step
            loss, terms = self.forward_backward(net, batch, parameters)
            tally.add(self.optimizer_step(loss, optimizer, schedule, parameters, epoch), loss, terms)
            tally.clips_seen += method.samples_in(batch) * method.clips_per_sample * self.world
            if tally.count:
                rate = tally.clips_seen / (time.perf_counter() - started)
                self._log_step(bar, loss, tally.sums["loss"] / tally.count, rate, schedule)
            if self._stop_requested():
                self._preempt(epoch, tally, method, optimizer, schedule)
        loader.sampler.skip = 0
        bar.close()
        return self._end_epoch(epoch, tally, skipped_videos, started, schedule)

    def _resumed_tally(self, epoch, loader):
        """The resumed checkpoint's tally of ``epoch`` (its sampler then skips the steps done), or
        a fresh one."""
        position, self._position = self._position, None
        if position is None or position["epoch"] != epoch:
            return EpochTally()
        per_process = position["tally"]
        tally = EpochTally(**per_process[self.rank % len(per_process)])
        loader.sampler.skip = tally.steps * loader.batch_size
        return tally

    def _stop_requested(self):
        """A stop signal reached any process (all of them stop after the same step)."""
        return distributed.any_process(self.stop.requested)

    def _preempt(self, epoch, tally, method, optimizer, schedule):
        # every process's generators: dropout and augmentation draws differ between processes
        position = {
            "epoch": epoch,
            "tally": distributed.gather_objects(tally.to_dict()),
            "rng": distributed.gather_objects(rng_state()),
        }
        self.save(epoch, method, optimizer, schedule, position=position)
        self.close()
        raise Preempted(
            f"{self.stop.signal or 'a stop signal'} after step {self.step} (step {tally.steps} of epoch {epoch + 1}): "
            f"saved {self.last_checkpoint}; --restart continues from this step"
        )

    def _log_step(self, bar, loss, mean_loss, rate, schedule) -> None:
        bar.set_postfix(loss=f"{mean_loss:.4f}", clips_s=f"{rate:.1f}", refresh=False)
        if self.step % self.args.log_every == 0:
            self.scalar("train/loss_step", float(loss.detach()))
            self.scalar("train/clips_per_s", rate)
            self.scalar("train/lr", schedule.lr)

    def _end_epoch(self, epoch, tally, skipped_videos, started, schedule):
        """Report skipped steps and videos, average the terms over processes, log and record them."""
        if tally.skipped:
            self.log(f"epoch {epoch + 1}: skipped {tally.skipped} steps with a non-finite loss or gradient")
        if skipped_videos is not None:
            videos = skipped_videos.report(epoch + 1, stream=lambda m: tqdm.write(f"rank {self.rank}: {m}"))
            self.scalar("epoch/skipped_videos", distributed.all_reduce_mean(videos) * self.world, epoch + 1)
        means = {name: distributed.all_reduce_mean(total / max(tally.count, 1)) for name, total in tally.sums.items()}
        means["seconds"] = time.perf_counter() - started
        means["clips_per_s"] = tally.clips_seen / means["seconds"]
        for name, value in means.items():
            self.scalar(f"epoch/{name}", value, epoch + 1)
        self.scalar("epoch/lr", schedule.lr, epoch + 1)
        self.history.append({"epoch": epoch + 1, "lr": schedule.lr, "skipped_steps": tally.skipped, **means})
        schedule.end_epoch(means.get("loss", math.inf))
        return means
