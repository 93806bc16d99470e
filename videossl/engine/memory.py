"""Exact memory savings for a training step: gradient caching and activation checkpointing.

``--grad_cache`` (Gao et al., 2021, "Scaling Deep Contrastive Learning Batch Size under Memory
Limited Setup"): a method whose forward pass is made of independent pieces (``Method.forward_chunks``:
each piece its own BatchNorm batch) is run once without a graph; the loss and its gradient with
respect to the pieces' outputs are computed; then each piece is run again with a graph and
back-propagates that gradient. Only one piece's activations are alive at a time, and the
parameter gradients are those of the plain step: every piece sees the same weights, input and
random state in both passes, and the second pass leaves BatchNorm's running statistics as the
first left them.

``--checkpoint_activations``: each stage of the backbone (its direct children with parameters,
e.g. the stem and layer1-4 of a ResNet) keeps only its input and recomputes its activations in
the backward pass (``torch.utils.checkpoint``, non-reentrant); the recomputation leaves
BatchNorm's running statistics untouched, so the step is the plain step.
"""

import contextlib
from collections.abc import Iterator
from typing import Any, Callable

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from videossl.engine import distributed
from videossl.errors import UserError

Backward = Callable[[Tensor], None]


def batchnorm_state(module: nn.Module) -> dict[str, Tensor]:
    """Copies of the buffers BatchNorm layers update in a training forward pass."""
    return {
        name: buffer.clone()
        for name, buffer in module.named_buffers()
        if name.rpartition(".")[2] in ("running_mean", "running_var", "num_batches_tracked")
    }


@contextlib.contextmanager
def batchnorm_statistics_kept(module: nn.Module) -> Iterator[None]:
    """Forward passes inside leave BatchNorm's running statistics as they were (a recomputation
    must not count the same batch twice)."""
    saved = batchnorm_state(module)
    try:
        yield
    finally:
        buffers = dict(module.named_buffers())
        with torch.no_grad():
            for name, value in saved.items():
                buffers[name].copy_(value)


# ---- gradient caching ----------------------------------------------------------------------------


def _tensors(outputs: Any) -> list[Tensor]:
    flat, _ = torch.utils._pytree.tree_flatten(outputs)
    return [t for t in flat if isinstance(t, Tensor) and t.is_floating_point()]


def _as_leaves(outputs: Any) -> Any:
    """The outputs of the first pass as leaves that collect the loss's gradient."""
    return torch.utils._pytree.tree_map(
        lambda t: t.detach().requires_grad_() if isinstance(t, Tensor) and t.is_floating_point() else t, outputs
    )


def check_grad_cache(method: nn.Module) -> None:
    """Refuse ``--grad_cache`` where the method's step is not made of independent pieces."""
    if not getattr(method, "grad_cache_exact", False):
        raise UserError(f"--grad_cache: not available for {method.name}: {method.grad_cache_refusal}")


def grad_cache_step(
    method: nn.Module, batch: dict, backward: Backward, forward_context: Callable[[], Any] = contextlib.nullcontext
) -> tuple[Tensor, dict]:
    """The method's loss on ``batch`` with the plain step's parameter gradients accumulated in
    ``.grad``, holding one piece's activations at a time. ``backward(loss)`` is the engine's
    (it scales the loss under fp16); forward passes run inside ``forward_context()`` (autocast),
    backward passes outside it. Returns (detached loss, terms)."""
    chunks = method.forward_chunks(batch)
    random_states, outputs = [], []
    with torch.no_grad(), forward_context():
        for chunk in chunks:
            random_states.append(_random_state())
            outputs.append(chunk())
    leaves = [_as_leaves(output) for output in outputs]
    with forward_context():
        loss, terms = method.loss_from_chunks(leaves, batch)
    backward(loss)
    resume_state = _random_state()
    with batchnorm_statistics_kept(method):
        for chunk, state, leaf in zip(chunks, random_states, leaves):
            _set_random_state(state)
            with forward_context():
                recomputed = _tensors(chunk())
            pairs = [(out, cached.grad) for out, cached in zip(recomputed, _tensors(leaf))]
            pairs = [(out, grad) for out, grad in pairs if grad is not None and out.requires_grad]
            if pairs:
                torch.autograd.backward([out for out, _ in pairs], [grad for _, grad in pairs])
    _set_random_state(resume_state)
    return loss.detach(), terms


def average_gradients(parameters: list[nn.Parameter]) -> None:
    """DDP's gradient average, for steps that do not run through DDP's forward (``--grad_cache``):
    one all-reduce of all gradients flattened together. A parameter with a gradient on some
    processes only gets the average (zeros counted for the others); one with none anywhere keeps none."""
    if not distributed.is_distributed():
        return
    trainable = [p for p in parameters if p.requires_grad]
    if not trainable:
        return
    present = torch.tensor([p.grad is not None for p in trainable], dtype=torch.float32, device=trainable[0].device)
    torch.distributed.all_reduce(present)
    used = [p for p, count in zip(trainable, present.tolist()) if count > 0]
    if not used:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in used])
    torch.distributed.all_reduce(flat)
    flat /= distributed.world_size()
    offset = 0
    for p in used:
        average = flat[offset : offset + p.numel()].view_as(p)
        if p.grad is None:
            p.grad = average.clone()
        else:
            p.grad.copy_(average)
        offset += p.numel()


def _random_state() -> dict:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_random_state(state: dict) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


# ---- activation checkpointing --------------------------------------------------------------------


class CheckpointedForward:
    """A stage's ``forward`` that keeps only its input when training with gradients and
    recomputes the rest in the backward pass; installed as the module's instance attribute, so
    that state-dict keys stay as they are (and ``copy.deepcopy`` copies it along)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, *args: Any) -> Any:
        module = self.module
        plain = type(module).forward
        if not (module.training and torch.is_grad_enabled()):
            return plain(module, *args)
        return checkpoint(
            plain,
            module,
            *args,
            use_reentrant=False,
            context_fn=lambda: (contextlib.nullcontext(), batchnorm_statistics_kept(module)),
        )


def checkpoint_stages(backbone: nn.Module) -> list[str]:
    """Checkpoint every direct child of ``backbone`` that has parameters; returns their names."""
    names = []
    for name, child in backbone.named_children():
        if any(True for _ in child.parameters()) and not isinstance(child.forward, CheckpointedForward):
            child.forward = CheckpointedForward(child)
            names.append(name)
    return names
