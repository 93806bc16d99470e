"""Process-group helpers for DDP under torchrun (and single-process runs, where they are no-ops)."""

import datetime
import os
import time
from typing import Any

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init_from_env(device_type: str, timeout_seconds: float = 300.0) -> int:
    """Join the process group the environment describes (torchrun, or RANK/WORLD_SIZE/MASTER_ADDR/
    MASTER_PORT set per task, e.g. by srun); nccl on CUDA, gloo on CPU; returns the local rank.
    ``timeout_seconds`` bounds every collective: a process whose peer died on another node stops
    after it instead of holding its devices for the backend's default (10-30 minutes)."""
    if not launched_by_torchrun():
        return 0
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not is_distributed():
        dist.init_process_group(
            backend="nccl" if device_type == "cuda" else "gloo", timeout=datetime.timedelta(seconds=timeout_seconds)
        )
    return local_rank


def is_communication_failure(err: BaseException) -> bool:
    """A collective that failed because a peer process stopped or cannot be reached (a closed
    connection, a time-out), as gloo and nccl report it."""
    if isinstance(err, getattr(dist, "DistError", ())):
        return True
    text = str(err)
    return isinstance(err, RuntimeError) and ("gloo" in text or "NCCL" in text or "Timed out" in text)


def shutdown() -> None:
    if is_distributed():
        dist.barrier()  # no process tears the group down while another still uses it (gloo aborts)
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward hands every process the gradient of its own part, summed over
    the processes that used it (an all_reduce then a slice: works on gloo and nccl alike)."""

    @staticmethod
    def forward(ctx, tensor):
        ctx.rows = tensor.shape[0]
        parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        start = dist.get_rank() * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """All processes' ``tensor`` (same shape everywhere) concatenated along dim 0 in rank order,
    with gradients flowing back to every process's own part (a plain ``all_gather`` cuts them)."""
    if not is_distributed() or world_size() == 1:
        return tensor
    return _GatherWithGrad.apply(tensor)


def gather_no_grad(tensor: torch.Tensor) -> torch.Tensor:
    if not is_distributed() or world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


def silent_ranks(folder: str, step: int, wait_seconds: float = 3.0) -> list:
    """After a failed collective: every surviving process leaves its rank in ``folder`` (the run
    directory, shared by all nodes) and waits a moment for the others; the ranks that left nothing
    are the ones that stopped. Empty when the folder is not shared or nobody is missing."""
    try:
        os.makedirs(folder, exist_ok=True)
        open(os.path.join(folder, f"step{step}_rank{rank()}"), "w").close()
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            present = {name for name in os.listdir(folder) if name.startswith(f"step{step}_rank")}
            missing = [r for r in range(world_size()) if f"step{step}_rank{r}" not in present]
            if not missing:
                return []
            time.sleep(0.2)
        return missing
    except OSError:
        return []


def gather_objects(obj: Any) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` without DDP)."""
    if not is_distributed():
        return [obj]
    objects = [None] * world_size()
    dist.all_gather_object(objects, obj)
    return objects


def any_process(flag: bool) -> bool:
    """``flag`` on any process (every process gets the same answer)."""
    if not is_distributed():
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.to(torch.device("cuda", torch.cuda.current_device()))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def all_reduce_mean(value: float) -> float:
    """A float averaged over processes (for logging)."""
    if not is_distributed():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.to(torch.device("cuda", torch.cuda.current_device()))
    dist.all_reduce(t)
    return float(t.item()) / world_size()
