"""Mixed precision that is verified before it is trusted.

``--precision fp32|bf16|fp16|auto`` (default ``auto``). ``auto`` picks the candidate low precision
(bf16 where supported, else fp16 on CUDA) and checks it on the run's real first batch:

1. one fp32 forward/backward of the real loss, recording every parametrised leaf module's input
   and output gradient;
2. **local check**: each such module recomputes its own parameter gradients from exactly those
   tensors, in fp32 and under low-precision autocast (``gradient_errors``: weights of convolutions
   and linear layers are compared, biases and norm parameters must be finite). This isolates the
   module's own arithmetic from the rounding noise every earlier layer adds. Measured on this CPU
   (torch 2.14.1, oneDNN):
   healthy bf16 convolutions are 0.1-0.4% off, while 3x3x3 Conv3d weight gradients at temporal
   size 2 are inf, NaN or ~100% off. A module fails above ``LOCAL_TOLERANCE`` (5%) or with a
   non-finite gradient, and then runs in fp32 (autocast disabled around it, inputs cast up);
3. **end-to-end check**, a backstop for what no module owns (functional ops in the loss): one
   low-precision forward/backward of the whole model with those modules in fp32; every gradient
   must be finite and no convolution/linear weight gradient more than ``END_TO_END_TOLERANCE``
   (80%) off fp32. End to end, rounding noise accumulates through every layer (measured on
   weights: 0.39-0.45 on R3D-18 at 16x112x112 and 0.41-0.46 on TCLR's tiny CPU model, from random
   init), so the bar is loose; broken kernels end ~1 or inf. Errors are relative to max(the
   weight's fp32 gradient norm, 1e-3 x the median one, 1% of its module's largest).
   A failure here means fp32 for everything.

If fewer than ``MIN_LOW_PRECISION_SHARE`` of the multiply-accumulates would run in low precision,
the run uses fp32 and says so. The outcome (``PrecisionPlan``) is printed on one line, written to
TensorBoard and stored in every checkpoint.
"""

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from videossl.errors import UserError
from videossl.types import Device

Grads = dict[str, Optional[Tensor]]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LOCAL_TOLERANCE = 0.05
END_TO_END_TOLERANCE = 0.8
MIN_LOW_PRECISION_SHARE = 0.5
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class PrecisionPlan:
    requested: str
    dtype: str  # "fp32", "bf16" or "fp16": what autocast runs
    fp32_modules: list = field(default_factory=list)  # kept in fp32 inside a low-precision run
    reasons: dict = field(default_factory=dict)  # module -> why it is kept in fp32
    low_precision_share: float = 0.0  # share of multiply-accumulates in low precision
    worst_local_error: float = 0.0  # over modules left in low precision
    worst_end_to_end_error: float = 0.0
    worst_end_to_end_parameter: str = ""
    note: str = ""

    @property
    def autocast_dtype(self) -> Optional[torch.dtype]:
        return DTYPES.get(self.dtype)

    @property
    def needs_grad_scaler(self) -> bool:
        return self.dtype == "fp16"

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.dtype == "fp32":
            return f"precision: fp32 ({self.note or 'requested'})"
        kept = ", ".join(self.fp32_modules) if self.fp32_modules else "nothing"
        text = (
            f"precision: {self.dtype} autocast, {100 * self.low_precision_share:.0f}% of multiply-adds in "
            f"{self.dtype}; "
            f"kept in fp32: {kept}"
        )
        if self.requested == "auto":
            text += (
                f"; verified against fp32: worst local gradient error {self.worst_local_error:.2%}, "
                f"worst end-to-end {self.worst_end_to_end_error:.2f} ({self.worst_end_to_end_parameter})"
            )
        if self.reasons:
            first = next(iter(self.reasons.items()))
            text += f"; why: {first[0]}: {first[1]}"
        return text


def low_precision_supported(device: Device, dtype_name: str) -> bool:
    device = torch.device(device)
    if dtype_name == "bf16":
        if device.type == "cuda":
            return cuda_has_native_bf16()
        if device.type == "cpu":
            try:
                return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
            except (AttributeError, RuntimeError):
                return False
        return False
    if dtype_name == "fp16":  # on the CPU: slow, but the CUDA path's arithmetic (GradScaler included)
        return device.type == "cuda" or (device.type == "cpu" and _cpu_autocasts_to(torch.float16))
    return True


def cuda_has_native_bf16() -> bool:
    """bf16 in hardware (Ampere and newer): older GPUs emulate it, slower than fp32."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # a PyTorch without the argument counts emulation: ask the hardware
        return torch.cuda.get_device_capability()[0] >= 8


def first_samples(batch: Any, count: int) -> Any:
    """The first ``count`` samples of a collated batch (its tensors' first dimension; the rest as
    it is): the precision check's batch, which keeps its memory small at a paper-size batch."""
    if not isinstance(batch, dict):
        return batch
    size = len(batch["clips"]) if torch.is_tensor(batch.get("clips")) else None
    return {
        k: v[:count] if torch.is_tensor(v) and v.dim() > 0 and size is not None and len(v) == size else v
        for k, v in batch.items()
    }


def _cpu_autocasts_to(dtype: torch.dtype) -> bool:
    try:
        with torch.autocast("cpu", dtype=dtype):
            return torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == dtype
    except RuntimeError:
        return False


def candidate_dtype(device: Device) -> Optional[str]:
    """What ``auto`` tries: bf16, else fp16 on CUDA (never fp16 on the CPU, where it is emulated)."""
    names = ("bf16", "fp16") if torch.device(device).type == "cuda" else ("bf16",)
    for name in names:
        if low_precision_supported(device, name):
            return name
    return None


# ---- fp32 islands inside an autocast region -----------------------------------------------------


def _enter_fp32(module: nn.Module, args: tuple) -> tuple:
    ctx = torch.autocast(device_type=module._videossl_device_type, enabled=False)
    ctx.__enter__()
    module._videossl_fp32_contexts.append(ctx)
    return tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def _leave_fp32(module: nn.Module, args: tuple, output: Any) -> None:
    module._videossl_fp32_contexts.pop().__exit__(None, None, None)


def keep_in_fp32(model: nn.Module, names: Iterable[str], device_type: str) -> list[RemovableHandle]:
    """Run the named submodules with autocast disabled (their inputs cast to fp32). Returns the hook
    handles (``remove()`` them to undo). State-dict keys do not change."""
    modules = dict(model.named_modules())
    handles = []
    for name in names:
        module = modules[name]
        module._videossl_device_type = device_type
        module._videossl_fp32_contexts = []
        handles.append(module.register_forward_pre_hook(_enter_fp32))
        handles.append(module.register_forward_hook(_leave_fp32, always_call=True))
    return handles


def autocast(plan: PrecisionPlan, device: Device) -> torch.autocast:
    device_type = torch.device(device).type
    if plan.autocast_dtype is None:
        return torch.autocast(device_type=device_type, enabled=False)
    return torch.autocast(device_type=device_type, dtype=plan.autocast_dtype)


# ---- verification ------------------------------------------------------------------------------


def _parametrised_leaves(model: nn.Module):
    return [
        (name, m)
        for name, m in model.named_modules()
        if name and not list(m.children()) and any(True for _ in m.parameters(recurse=False))
    ]


def _multiply_adds(module, output):
    if isinstance(module, nn.modules.conv._ConvNd):
        return output.numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def relative_error(value: Tensor, reference: Tensor, floor: float = 0.0) -> float:
    """||value - reference|| / max(||reference||, floor); inf when ``value`` is not finite.

    The floor keeps parameters whose true gradient is ~0 (a bias followed by BatchNorm, whose
    gradient is rounding noise in fp32 too) from counting as errors."""
    if not torch.isfinite(value).all():
        return math.inf
    ref = max(reference.double().norm().item(), floor)
    diff = (value.double() - reference.double()).norm().item()
    return diff / ref if ref > 0 else (0.0 if diff == 0 else math.inf)


GRADIENT_FLOOR = 1e-3  # x the median parameter-gradient norm of the fp32 reference
MODULE_FLOOR = 0.01  # x the largest parameter-gradient norm of the same module


def gradient_errors(grads: Grads, reference: Grads, floor: Optional[float] = None) -> dict[str, float]:
    """Per-parameter relative errors against fp32.

    Weights of convolutions and linear layers (where the kernels that can be broken live) are
    compared; a weight whose fp32 gradient is tiny next to the model's (``GRADIENT_FLOOR`` x the
    median) or its module's largest (``MODULE_FLOOR``) is measured against that floor. Biases and
    norm parameters only have to be finite: their gradients are reductions of the output gradient,
    and for a bias followed by BatchNorm the fp32 value itself is cancellation noise around 0."""
    norms = {n: g.double().norm().item() for n, g in reference.items() if g is not None}
    if floor is None:
        ordered = sorted(norms.values())
        floor = GRADIENT_FLOOR * ordered[len(ordered) // 2] if ordered else 0.0
    module_largest = {}
    for name, norm in norms.items():
        module = name.rpartition(".")[0]
        module_largest[module] = max(module_largest.get(module, 0.0), norm)
    errors = {}
    for n in norms:
        if grads.get(n) is None:
            continue
        if n.rpartition(".")[2] == "weight" and reference[n].dim() > 1:  # convolution and linear weights
            errors[n] = relative_error(
                grads[n], reference[n], max(floor, MODULE_FLOOR * module_largest[n.rpartition(".")[0]])
            )
        else:  # biases, norm parameters: reductions whose fp32 value can be cancellation noise
            errors[n] = 0.0 if torch.isfinite(grads[n]).all() else math.inf
    return errors


def _grads(model: nn.Module):
    return {n: (p.grad.detach().clone() if p.grad is not None else None) for n, p in model.named_parameters()}


def _run(model: nn.Module, compute_loss, batch, plan, device: Device):
    model.zero_grad(set_to_none=True)
    with autocast(plan, device):
        loss = compute_loss(model, batch)
    loss.float().backward()
    return _grads(model)


def verify_precision(
    model: nn.Module,
    compute_loss: Callable[[nn.Module, Any], Tensor],
    batch: Any,
    device: Device,
    requested: str = "auto",
    seed: int = 0,
) -> PrecisionPlan:
    """Decide the run's precision. ``compute_loss(model, batch) -> scalar`` must be the run's real
    loss; model weights, buffers (BatchNorm statistics) and RNG state are restored afterwards."""
    if requested not in PRECISIONS:
        raise UserError(f"--precision must be one of {', '.join(PRECISIONS)}, got {requested!r}")
    if requested == "fp32":
        return PrecisionPlan(requested, "fp32", note="requested")
    if requested != "auto":
        if not low_precision_supported(device, requested):
            raise UserError(f"--precision {requested} is not supported on {device}; use auto or fp32")
        return PrecisionPlan(requested, requested, low_precision_share=1.0, note="requested, not verified")
    dtype = candidate_dtype(device)
    if dtype is None:
        return PrecisionPlan(requested, "fp32", note=f"no low precision supported on {device}")
    with restored_state(model) as restore:
        reference, records = _fp32_pass(model, compute_loss, batch, device, seed)
        plan = PrecisionPlan(requested, dtype)
        local_errors = _local_check(model, records, reference, plan, torch.device(device).type)
        restore()  # the local checks ran BatchNorm layers in training mode
        _account_multiply_adds(plan, records, local_errors)
        if plan.low_precision_share < MIN_LOW_PRECISION_SHARE:
            note = f"only {plan.low_precision_share:.0%} of multiply-adds would stay in {dtype} after the check"
            return PrecisionPlan(requested, "fp32", reasons=plan.reasons, note=note)
        return _end_to_end_check(model, compute_loss, batch, device, seed, plan, reference)


@contextmanager
def restored_state(model: nn.Module) -> Iterator[None]:
    """Weights, buffers, gradients and RNG states as they were before the block, whatever it did;
    the block gets ``restore()`` to put the weights and buffers back earlier."""
    saved_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    saved_rng = torch.get_rng_state()
    saved_cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None

    def restore() -> None:
        model.load_state_dict(saved_state)

    try:
        yield restore
    finally:
        restore()
        model.zero_grad(set_to_none=True)
        torch.set_rng_state(saved_rng)
        if saved_cuda_rng is not None:
            torch.cuda.set_rng_state_all(saved_cuda_rng)


def _fp32_pass(model: nn.Module, compute_loss, batch, device: Device, seed):
    """(fp32 parameter gradients, {module name: its first input, output gradient, multiply-adds}) of
    one step."""
    records = {}

    def record(name: str):
        def hook(module: nn.Module, args: tuple, output: Tensor) -> None:
            entry = records.setdefault(name, {"macs": 0})
            if args and torch.is_tensor(args[0]) and torch.is_tensor(output):
                entry["macs"] += _multiply_adds(module, output)  # every call counts
                if "input" in entry:
                    return  # a module called several times (a shared head) is checked on its first call
                entry["input"] = args[0].detach()
                if output.requires_grad:
                    output.register_hook(lambda g: entry.__setitem__("grad_output", g.detach()))

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in _parametrised_leaves(model)]
    try:
        torch.manual_seed(seed)
        reference = _run(model, compute_loss, batch, PrecisionPlan("auto", "fp32"), device)
    finally:
        for h in handles:
            h.remove()
    return reference, records


def _module_gradients(module, entry, dtype, device_type, low):
    """One module's own parameter gradients for its recorded input and output gradient."""
    module.zero_grad(set_to_none=True)
    inp = entry["input"].detach().requires_grad_(entry["input"].is_floating_point())
    with torch.autocast(device_type=device_type, dtype=DTYPES[dtype], enabled=low):
        out = module(inp)
    out.float().backward(entry["grad_output"].float())
    return {n: p.grad.detach().clone() for n, p in module.named_parameters(recurse=False) if p.grad is not None}


def _local_check(model: nn.Module, records, reference, plan, device_type):
    """Each recorded module's gradients in low precision against fp32; the failing ones go to
    ``plan.fp32_modules`` with their reason. Returns {module name: its worst error}."""
    ordered = sorted(g.double().norm().item() for g in reference.values() if g is not None)
    floor = GRADIENT_FLOOR * ordered[len(ordered) // 2] if ordered else 0.0
    local_errors = {}
    for name, module in _parametrised_leaves(model):
        entry = records.get(name, {})
        if "input" not in entry or "grad_output" not in entry:
            continue  # not used by this loss, or not a tensor -> tensor module
        fp32, low = (_module_gradients(module, entry, plan.dtype, device_type, flag) for flag in (False, True))
        # Compared with fp32: the weight gradients of convolutions and linear layers (where the
        # kernels that can be broken live). Biases and norm affine parameters are checked for
        # finiteness only: their gradients are reductions of the output gradient, and for a bias
        # followed by BatchNorm the fp32 value itself is cancellation noise around 0.
        errors = gradient_errors(low, fp32, floor)
        worst = max(errors.values()) if errors else 0.0
        local_errors[name] = worst
        if not worst <= LOCAL_TOLERANCE:
            which = max(errors, key=lambda n: errors[n])
            plan.fp32_modules.append(name)
            plan.reasons[name] = (
                f"{plan.dtype} {which} gradient {_describe_error(worst)} vs fp32 at input {list(entry['input'].shape)}"
            )
    return local_errors


def _describe_error(worst):
    if not math.isfinite(worst):
        return "non-finite"
    return f"{worst:.0%} off" if worst < 10 else f"{worst:.1e} times its size off"


def _account_multiply_adds(plan, records, local_errors) -> None:
    """The share of multiply-adds left in low precision, and the worst error of the healthy modules."""
    total = sum(entry.get("macs", 0) for entry in records.values()) or 1
    kept = sum(records[n].get("macs", 0) for n in plan.fp32_modules if n in records)
    plan.low_precision_share = 1.0 - kept / total
    healthy = [e for n, e in local_errors.items() if n not in plan.fp32_modules]
    plan.worst_local_error = max(healthy) if healthy else 0.0


def _end_to_end_check(model: nn.Module, compute_loss, batch, device: Device, seed, plan, reference):
    """The whole step with the plan's fp32 islands against fp32: ``plan``, or fp32 when it is too far off."""
    handles = keep_in_fp32(model, plan.fp32_modules, torch.device(device).type)
    torch.manual_seed(seed)
    try:
        low = _run(model, compute_loss, batch, plan, device)
    finally:
        for h in handles:
            h.remove()
    worst, worst_name = 0.0, ""
    for name, err in gradient_errors(low, reference).items():
        if not err <= worst:
            worst, worst_name = err, name
    plan.worst_end_to_end_error, plan.worst_end_to_end_parameter = worst, worst_name
    if not worst <= END_TO_END_TOLERANCE:
        return PrecisionPlan(
            plan.requested,
            "fp32",
            fp32_modules=[],
            reasons=plan.reasons,
            worst_end_to_end_error=worst,
            worst_end_to_end_parameter=worst_name,
            note=f"{plan.dtype} gradient of {worst_name} {worst:.2f} off fp32 end to end even "
            f"with {len(plan.fp32_modules)} modules in fp32",
        )
    return plan


def apply_precision_plan(model: nn.Module, plan: PrecisionPlan, device: Device) -> list[RemovableHandle]:
    """Install the plan's fp32 islands on ``model`` (before wrapping it in DDP)."""
    if plan.dtype == "fp32" or not plan.fp32_modules:
        return []
    return keep_in_fp32(model, plan.fp32_modules, torch.device(device).type)
