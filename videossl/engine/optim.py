"""Optimisers the methods need beyond torch's: LARS (large-batch SGD, CVRL)."""

import torch


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each weight tensor is scaled by the trust ratio
    ``eta * ||w|| / (||g|| + weight_decay * ||w||)`` (You et al., 2017; SimCLR's variant).

    Biases and normalisation parameters (tensors of one dimension) get plain SGD with momentum and
    no weight decay, as in SimCLR and CVRL."""

    def __init__(self, params, lr, momentum=0.9, weight_decay=1e-6, eta=0.001):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eta=eta))

    @torch.no_grad()
    def step(self, closure=None):
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
                    trust = torch.where((w_norm > 0) & (g_norm > 0), group["eta"] * w_norm / g_norm,
                                        torch.ones_like(w_norm))
                    grad = grad.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = grad.clone()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss
