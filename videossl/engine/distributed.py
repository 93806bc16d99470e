"""Process-group helpers for DDP under torchrun (and single-process runs, where they are no-ops)."""

import os

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def rank():
    return dist.get_rank() if is_distributed() else 0


def world_size():
    return dist.get_world_size() if is_distributed() else 1


def is_main_process():
    return rank() == 0


def launched_by_torchrun():
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init_from_env(device_type):
    """Join the process group torchrun describes (nccl on CUDA, gloo on CPU); returns the local rank."""
    if not launched_by_torchrun():
        return 0
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not is_distributed():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return local_rank


def shutdown():
    if is_distributed():
        dist.destroy_process_group()


def barrier():
    if is_distributed():
        dist.barrier()


def gather_with_grad(tensor):
    """All processes' ``tensor`` concatenated along dim 0, in rank order, with gradients flowing
    back to every process's own part (a plain ``all_gather`` would cut them)."""
    if not is_distributed() or world_size() == 1:
        return tensor
    return torch.cat(dist_nn.all_gather(tensor), dim=0)


def gather_no_grad(tensor):
    if not is_distributed() or world_size() == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


def all_reduce_mean(value):
    """A float averaged over processes (for logging)."""
    if not is_distributed():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    return float(t.item()) / world_size()
