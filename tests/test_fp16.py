"""fp16 autocast with GradScaler, run on the CPU: the arithmetic of the CUDA fp16 path (the plain
step, --grad_cache, finetuning, a scale overflow) without a GPU."""

import torch

from tclr_pretraining.model import TCLR
from tests.test_engine import Clips, Toy, engine_args
from videossl.data.input_contract import InputContract
from videossl.engine.precision import gradient_errors
from videossl.engine.schedules import MultiStep
from videossl.engine.training import TrainingRun
from videossl.eval.classifier import VideoClassifier
from videossl.models.backbones import build_backbone

# End to end, rounding noise grows through the BatchNorm layers from the loss down to the stem: for a
# tiny random-init R3D-18 classifier, `scripts/bench/gpu_check.py --device cpu --tiny` (fp16 table)
# reports the worst weight gradient 0.13-0.15 off fp32, the last layer under 0.01. A missing unscale,
# an unscaled backward or an fp16 overflow errs by 1 or more.
TOLERANCE = 0.2
HEAD_TOLERANCE = 0.02  # the layer next to the loss


def tclr():
    torch.manual_seed(0)
    backbone = build_backbone("r3d_18", width=0.125, keep_time_in_layer4=True)
    return TCLR(backbone, InputContract(frames=8, size=16), num_local=2)


def tclr_batch():
    g = torch.Generator().manual_seed(1)
    return {"clips": torch.randint(0, 256, (3, 2, 3, 3, 8, 16, 16), dtype=torch.uint8, generator=g)}


def one_step_gradients(tmp_path, method, batch, precision, *extra):
    """The unscaled parameter gradients of one engine step (scaled loss, backward, unscale)."""
    args = engine_args(tmp_path, "--precision", precision, *extra)
    run = TrainingRun(args, "fp16", str(tmp_path / precision / "ckpt"), str(tmp_path / precision / "logs"), {})
    run.choose_precision(method, batch)
    parameters = [p for p in method.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=0.0)
    assert run.scaler.is_enabled() == (precision == "fp16")
    state = {k: v.clone() for k, v in method.state_dict().items()}
    for _ in range(20):  # as the engine's first fp16 steps: an overflow halves the scale, the step is redone
        method.load_state_dict(state)  # (BatchNorm statistics as before the step)
        optimizer.zero_grad(set_to_none=True)
        torch.manual_seed(5)
        loss, _ = run.forward_backward(method, batch, parameters)
        if not run.scaler.is_enabled():
            break
        run.scaler.unscale_(optimizer)
        if all(torch.isfinite(p.grad).all() for p in parameters if p.grad is not None):
            break
        run.scaler.update()
    run.close()
    return loss, {name: p.grad.clone() for name, p in method.named_parameters() if p.grad is not None}


def assert_close_to_fp32(grads, reference):
    assert set(grads) == set(reference)
    assert all(torch.isfinite(g).all() for g in grads.values())
    weights = {k: v for k, v in grads.items() if k.endswith("weight") and v.dim() > 1}
    errors = gradient_errors(weights, {k: reference[k] for k in weights})
    worst = max(errors, key=errors.get)
    assert errors[worst] < TOLERANCE, (worst, errors[worst])
    last = list(weights)[-1]
    assert errors[last] < HEAD_TOLERANCE, (last, errors[last])


def test_grad_cache_under_fp16_gives_the_plain_fp16_step(tmp_path):
    # (TCLR from random init on noise is no test of fp16 against fp32: its clips' features are nearly
    # equal, and the contrast of their tiny differences is what low precision rounds away)
    batch = tclr_batch()
    loss, plain = one_step_gradients(tmp_path, tclr(), batch, "fp16")
    cached_loss, cached = one_step_gradients(tmp_path, tclr(), batch, "fp16", "--grad_cache")
    assert torch.allclose(cached_loss, loss, rtol=1e-3) and set(cached) == set(plain)
    for name, grad in plain.items():
        assert torch.isfinite(grad).all() and torch.isfinite(cached[name]).all(), name
        error = (cached[name] - grad).norm() / grad.norm().clamp_min(1e-12)
        assert error < 1e-2, (name, float(error))


def test_the_fp16_step_on_the_cpu_gives_the_fp32_gradients(tmp_path):
    def classifier():
        torch.manual_seed(0)
        return VideoClassifier(build_backbone("r3d_18", width=0.125), 5, contract=InputContract(frames=8, size=32))

    g = torch.Generator().manual_seed(2)
    batch = {"clips": torch.randint(0, 256, (4, 3, 8, 32, 32), dtype=torch.uint8, generator=g)}
    batch["label"] = torch.tensor([0, 1, 2, 4])
    _, fp32 = one_step_gradients(tmp_path, classifier(), batch, "fp32")
    _, fp16 = one_step_gradients(tmp_path, classifier(), batch, "fp16")
    assert_close_to_fp32(fp16, fp32)


class HugeLoss(Toy):
    """Toy's loss x 32: its fp16 gradients overflow until GradScaler's scale is down to about 1000."""

    def loss(self, batch, *, update_state=True):
        loss, terms = super().loss(batch, update_state=update_state)
        return loss * 32, terms


def test_an_fp16_scale_overflow_skips_the_step_halves_the_scale_and_loses_nothing(tmp_path):
    args = engine_args(tmp_path, "--precision", "fp16", "--max_nonfinite_steps", "2", "--epochs", "4")
    method = HugeLoss()
    run = TrainingRun(args, "toy", str(tmp_path / "ckpt"), str(tmp_path / "logs"), vars(args))
    loader = run.loader(Clips(), args.batch_size)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    optimizer = torch.optim.SGD(method.parameters(), lr=1e-9)
    scales = []

    def after_epoch(epoch, metrics):
        scales.append(run.scaler.get_scale())

    run.fit(method, loader, optimizer, MultiStep(optimizer, ()), 0, after_epoch)
    # many overflowing steps in a row (more than --max_nonfinite_steps): halved each time, never a divergence
    assert run.scaler_overflows > args.max_nonfinite_steps and run.nonfinite_total == 0
    assert scales[0] <= 65536.0 / 2**3 and scales == sorted(scales, reverse=True)
    assert run.step == 12 and run.scaler_overflows < run.step  # once the scale fits, the steps are taken
    after = method.state_dict()
    assert any(not torch.equal(after[k], before[k]) for k in before if k.endswith("weight"))
    run.close()
