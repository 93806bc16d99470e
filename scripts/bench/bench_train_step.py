"""R3D-18 training steps per second on this machine: fp32 eager, plain bf16, and --precision auto;
with --compile, torch.compile against eager for TCLR and CVRL.

    python scripts/bench/bench_train_step.py [--steps 3 --batch 4 --frames 16 --size 112 --threads N]
    python scripts/bench/bench_train_step.py --compile [--steps 5 --batch 2 --frames 16 --size 64 --width 0.5]

For torchvision's standard R3D-18 and TCLR's layer4 variant (16x112x112 clips, batch 4, a linear
head with cross-entropy, SGD): clips/s of full training steps (forward, backward, optimiser),
the worst per-parameter relative gradient error against fp32 on the same batch and weights, and
the achieved FLOP/s as a share of a large bf16 matrix product's rate measured in the same run.
Only configurations whose gradients match fp32 (every module within ``LOCAL_TOLERANCE`` of fp32 in
the per-module check, every parameter finite and within ``END_TO_END_TOLERANCE`` end to end) may
be quoted as speed-ups (last column).

``--compile``: each method's real training step (TCLR: R3D-18 with its layer4 variant, 4 local
clips; CVRL: R3D-50 slow-only with its 3-layer head) in fp32, eager and with the backbone compiled
as ``--compile`` does it: the compile time (the first compiled step less an eager step), the
median step time of each and their ratio, and the worst weight-gradient error of the compiled
step against eager on the same batch and weights (``gradient_errors``; it must be far inside the
precision check's ``LOCAL_TOLERANCE``).
"""

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from videossl.data.input_contract import InputContract
from videossl.engine.precision import (
    END_TO_END_TOLERANCE,
    LOCAL_TOLERANCE,
    PrecisionPlan,
    apply_precision_plan,
    autocast,
    gradient_errors,
    verify_precision,
)
from videossl.models.backbones import build_backbone


class Classifier(nn.Module):
    def __init__(self, backbone, classes=10):
        super().__init__()
        self.backbone, self.fc = backbone, nn.Linear(backbone.dim, classes)

    def forward(self, x):
        return self.fc(self.backbone(x).mean(dim=(2, 3, 4)))


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def matmul_flops(dtype, size=4096, repeats=5, device="cpu"):
    """FLOP/s of a square matrix product on ``device``."""
    a, b = torch.randn(size, size, dtype=dtype, device=device), torch.randn(size, size, dtype=dtype, device=device)
    a @ b
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    synchronize(device)
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def step_flops(model, forward):
    """FLOPs of a training step of ``model``: multiply-adds x 2 of its convolutions and linear
    layers in one ``forward()``, x 3 for layers that are trained (forward and a backward of twice
    the forward), x 1 for those that are not (VTDL's key encoder)."""
    total = [0.0]

    def hook(module, args, out):
        if not isinstance(module, (nn.Conv3d, nn.Conv2d, nn.Linear)):
            return
        passes = 3 if module.weight.requires_grad else 1
        if isinstance(module, nn.Linear):
            total[0] += passes * 2.0 * out.numel() * module.in_features
            return
        kernel = 1
        for k in module.kernel_size:
            kernel *= k
        total[0] += passes * 2.0 * out.numel() * module.in_channels // module.groups * kernel

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        forward()
    for h in handles:
        h.remove()
    return total[0]


def step_grads(model, x, labels, plan):
    model.zero_grad(set_to_none=True)
    with autocast(plan, "cpu"):
        loss = F.cross_entropy(model(x).float(), labels)
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


def time_steps(model, x, labels, plan, steps):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    times = []
    for i in range(steps + 1):  # the first step warms oneDNN's kernel caches up and is not counted
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with autocast(plan, "cpu"):
            loss = F.cross_entropy(model(x).float(), labels)
        loss.backward()
        optimizer.step()
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def compile_methods(args):
    """(name, method factory, batch): the two methods --compile is measured on."""
    from cvrl.model import CVRL
    from tclr_pretraining.model import TCLR

    contract = InputContract(frames=args.frames, size=args.size)
    g = torch.Generator().manual_seed(1)

    def clips(*shape):
        return torch.randint(0, 256, (*shape, 3, args.frames, args.size, args.size), dtype=torch.uint8, generator=g)

    def tclr():
        torch.manual_seed(0)
        return TCLR(build_backbone("r3d_18", width=args.width, keep_time_in_layer4=True), contract)

    def cvrl():
        torch.manual_seed(0)
        return CVRL(build_backbone("r3d_50", width=args.width), contract, hidden=int(2048 * args.width))

    return [("TCLR", tclr, {"clips": clips(args.batch, 2, 5)}), ("CVRL", cvrl, {"clips": clips(args.batch, 2)})]


def method_step(method, batch, optimizer=None):
    method.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    loss, _ = method.loss(batch)
    loss.backward()
    if optimizer is not None:
        optimizer.step()
    return {n: p.grad.detach().clone() for n, p in method.named_parameters() if p.grad is not None}


def timed_steps(method, batch, steps, device="cpu"):
    optimizer = torch.optim.SGD(method.parameters(), lr=1e-6)
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        method_step(method, batch, optimizer)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def compare_compiled(make, batch, steps, device="cpu"):
    """The backbone compiled as ``--compile`` does it against eager, fp32, on ``make()``'s method:
    compile time (the first compiled step less an eager one), median step times, their ratio and
    the worst weight-gradient error of the compiled step against eager on the same weights."""
    eager = make()
    state = {k: v.clone() for k, v in eager.state_dict().items()}
    reference = method_step(eager, batch)
    eager.load_state_dict(state)
    eager_seconds = statistics.median(timed_steps(eager, batch, steps + 1, device)[1:])  # the first warms up
    compiled = make()
    compiled.load_state_dict(state)
    compiled.backbone.compile()
    synchronize(device)
    started = time.perf_counter()
    grads = method_step(compiled, batch)  # compiles the forward and the backward
    synchronize(device)
    first = time.perf_counter() - started
    weights = {k: v for k, v in grads.items() if k.endswith("weight") and v.dim() > 1}
    worst = max(gradient_errors(weights, {k: reference[k] for k in weights}).values())
    compiled_seconds = statistics.median(timed_steps(compiled, batch, steps, device))
    return {
        "compile_seconds": first - eager_seconds,
        "eager_step_seconds": eager_seconds,
        "compiled_step_seconds": compiled_seconds,
        "speedup": eager_seconds / compiled_seconds,
        "worst_gradient_error": worst,
    }


def compile_table(args):
    print(
        f"--compile against eager, fp32, batch {args.batch} x {args.frames}x{args.size}x{args.size}, width "
        f"{args.width}, {args.threads} threads, torch {torch.__version__}; median of {args.steps} steps\n"
    )
    print("| method | compile time (s) | eager step (s) | compiled step (s) | speed-up | worst grad error vs eager |")
    print("|---|---|---|---|---|---|")
    for name, make, batch in compile_methods(args):
        r = compare_compiled(make, batch, args.steps)
        print(
            f"| {name} | {r['compile_seconds']:.1f} | {r['eager_step_seconds']:.3f} | {r['compiled_step_seconds']:.3f} "
            f"| {r['speedup']:.2f}x | {r['worst_gradient_error']:.2g} |"
        )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--compile", action="store_true", help="measure torch.compile against eager (TCLR, CVRL)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.compile:
        return compile_table(args)

    peak = matmul_flops(torch.bfloat16)
    print(
        f"R3D-18 training steps, {args.batch} x {args.frames}x{args.size}x{args.size}, {args.threads} threads; "
        f"bf16 4096^2 matmul: {peak / 1e9:.0f} GFLOP/s; median of {args.steps} steps\n"
    )
    rows = []
    for label, variant in (("torchvision r3d_18", False), ("TCLR layer4 variant", True)):
        torch.manual_seed(0)
        model = Classifier(build_backbone("r3d_18", width=args.width, keep_time_in_layer4=variant))
        x = torch.randn(args.batch, 3, args.frames, args.size, args.size)
        labels = torch.arange(args.batch) % 10
        flops = step_flops(model, lambda: model(x))
        state = {k: v.clone() for k, v in model.state_dict().items()}
        fp32 = PrecisionPlan("fp32", "fp32")
        reference = step_grads(model, x, labels, fp32)

        def measure(name, plan, channels_last, fp32_rate=None):
            model.load_state_dict(state)
            net = model.to(memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)
            inp = x.contiguous(memory_format=torch.channels_last_3d) if channels_last else x.contiguous()
            handles = apply_precision_plan(net, plan, "cpu")
            grads = step_grads(net, inp, labels, plan)
            worst = max(gradient_errors(grads, reference).values())
            model.load_state_dict(state)
            seconds = time_steps(net, inp, labels, plan, args.steps)
            for h in handles:
                h.remove()
            rate = args.batch / seconds
            ok = worst <= END_TO_END_TOLERANCE and not (name.startswith("bf16") and auto_plan.fp32_modules)
            speedup = f"{rate / fp32_rate:.2f}x" if fp32_rate and ok else ("(wrong gradients)" if not ok else "1.00x")
            rows.append((label, name, rate, flops / seconds / peak, worst, speedup))
            return rate

        model.to(memory_format=torch.channels_last_3d)
        started = time.perf_counter()
        auto_plan = verify_precision(
            model,
            lambda m, b: F.cross_entropy(m(b).float(), labels),
            x.contiguous(memory_format=torch.channels_last_3d),
            "cpu",
        )
        check = time.perf_counter() - started
        print(f"{label}: auto check took {check:.0f} s: {auto_plan.summary()}")
        fp32_rate = measure("fp32 eager", fp32, channels_last=False)
        # Plain bf16 is correct only if the per-module check found nothing to keep in fp32.
        measure("bf16 + channels_last_3d (plain)", PrecisionPlan("bf16", "bf16"), True, fp32_rate)
        measure(
            f"auto ({auto_plan.dtype}, {len(auto_plan.fp32_modules)} modules fp32) + channels_last_3d",
            auto_plan,
            True,
            fp32_rate,
        )

    print(
        "\n| model               | configuration                                  | clips/s | share of bf16 matmul "
        "FLOP/s | worst grad error vs fp32 | speed-up vs fp32 (if gradients match) |"
    )
    print(
        "|---------------------|------------------------------------------------|---------|----------------------------"
        "|--------------------------|----------------------------------------|"
    )
    for label, name, rate, share, worst, speedup in rows:
        print(f"| {label:19s} | {name:46s} | {rate:7.2f} | {100 * share:25.1f}% | {worst:24.3g} | {speedup:>38s} |")
    print(
        f"\nGradients match when every module's own bf16 gradients are within {LOCAL_TOLERANCE:.0%} of fp32 "
        f"(the auto check; healthy ones are 0.1-0.4% off) and no conv/linear weight ends more than "
        f"{END_TO_END_TOLERANCE:.0%} off end to end (rounding noise alone reaches 0.4-0.46 here)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
