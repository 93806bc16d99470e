"""The contract between a method and the training engine (docs/design.md, "Adding a method").

A method is one ``nn.Module`` that holds its backbone and everything else it trains or keeps
(heads, key encoders, queues, memory banks). The engine wraps it (precision plan, DDP), calls it
on every batch for ``(loss, terms)``, and saves and restores it through ``backbone`` and
``state_modules()``. The four self-supervised methods and the finetuning classifier all train
through it.
"""

from typing import Any, Callable, Optional

import torch
from torch import nn

from videossl.data.input_contract import InputContract


class Method(nn.Module):
    """Subclasses set ``name`` (recorded in checkpoints), ``clips_per_sample`` (clips one sample
    puts through the backbone: the throughput counter) and ``terms`` (loss terms shown in the
    epoch line), and implement ``loss``; ``state_modules`` when they keep more than the backbone.

    A method whose forward pass is made of independent pieces (each its own BatchNorm batch)
    implements ``forward_chunks`` and ``loss_from_chunks`` and sets ``grad_cache_exact``: the
    engine can then train it with ``--grad_cache`` (videossl/engine/memory.py); the others say
    why not in ``grad_cache_refusal``."""

    name = "method"
    clips_per_sample = 1
    terms: tuple[str, ...] = ()
    grad_cache_exact = False
    grad_cache_refusal = "its forward pass is not split into independent pieces"

    def __init__(self, backbone: nn.Module, contract: Optional[InputContract]) -> None:
        super().__init__()
        self.backbone = backbone
        self.contract = contract  # the backbone's input contract, saved with every checkpoint
        self.step = 0  # training steps done in the run; the engine sets it before every step

    def state_modules(self) -> dict[str, nn.Module]:
        """Everything besides the backbone that a checkpoint must hold to resume, by name."""
        return {}

    def loss(self, batch: dict, *, update_state: bool = True) -> tuple[torch.Tensor, dict[str, Any]]:
        """``(loss, {term: value})`` of one batch of the method's sample builder (by default: its
        ``forward_chunks`` run in order, then ``loss_from_chunks``).

        ``update_state=False``: a pure function of the batch and the weights, with no side effects
        and no communication between processes (queues and banks unchanged, no gathered
        negatives); the engine's precision check runs it on one process."""
        outputs = [chunk() for chunk in self.forward_chunks(batch)]
        return self.loss_from_chunks(outputs, batch, update_state=update_state)

    def forward_chunks(self, batch: dict) -> list[Callable[[], Any]]:
        """The forward pass as pieces, in the order the plain step runs them: each runs the
        backbone (and heads) on its own BatchNorm batch and returns the tensors the loss needs."""
        raise NotImplementedError(f"{self.name} does not split its forward pass")

    def loss_from_chunks(self, outputs: list, batch: dict, *, update_state: bool = True) -> tuple[torch.Tensor, dict]:
        """``loss`` from the outputs of ``forward_chunks``' pieces."""
        raise NotImplementedError(f"{self.name} does not split its forward pass")

    def forward(self, batch: dict, update_state: bool = True) -> tuple[torch.Tensor, dict[str, Any]]:
        # DDP synchronises gradients of what runs through its forward: the loss is the forward.
        return self.loss(batch, update_state=update_state)

    def samples_in(self, batch: dict) -> int:
        return len(batch["clips"])

    def model_input(self, clips: torch.Tensor) -> torch.Tensor:
        """uint8 clips -> the backbone's input (the contract's normalisation), on its device."""
        return self.contract.prepare(clips, next(self.backbone.parameters()).device)
