"""Optimisers the methods need beyond torch's: LARS (large-batch SGD, CVRL)."""

from collections.abc import Iterable
from typing import Callable, Optional

import torch
from torch import nn


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each weight tensor is its decayed gradient
    ``d = g + weight_decay * w`` scaled by the trust ratio ``eta * ||w|| / ||d||`` (You et al.,
    2017, as SimCLR's LARS computes it; 1 where either norm is 0).

    Biases and normalisation parameters (tensors of one dimension) get plain SGD with momentum and
    no weight decay, as in SimCLR and CVRL."""

    def __init__(
        self, params: Iterable, lr: float, momentum: float = 0.9, weight_decay: float = 1e-6, eta: float = 0.001
    ) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if p.ndim > 1:
                    grad = grad.add(p, alpha=group["weight_decay"])
                    w_norm, g_norm = p.norm(), grad.norm()
                    trust = torch.where(
                        (w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm, torch.ones_like(w_norm)
                    )
                    grad = grad.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def kernel_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups with ``weight_decay`` on kernels (conv and linear weights, ndim > 1) only:
    BatchNorm parameters and biases are not decayed (TensorFlow's ``l2_loss`` over kernels, as in
    CVRL's release). For plain SGD, ``weight_decay`` x w added to the gradient is the gradient of
    ``weight_decay x sum(w^2) / 2``."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in parameters if p.ndim > 1], "weight_decay": weight_decay},
        {"params": [p for p in parameters if p.ndim <= 1], "weight_decay": 0.0},
    ]


def scaled_lr(base_lr: float, batch_size: int, reference_batch: int) -> float:
    """The learning rate ``base_lr`` given for ``reference_batch``, scaled linearly to ``batch_size``."""
    return base_lr * batch_size / reference_batch
