"""Gradient caching and activation checkpointing give the plain step: the same loss, parameter
gradients and BatchNorm running statistics (videossl/engine/memory.py)."""

import copy
import functools
import os

import pytest
import torch

from cvrl.model import CVRL
from tce.model import TCE
from tclr_pretraining import train_gen_all_step
from tclr_pretraining.model import TCLR
from tests.helpers import run_torchrun_script, tiny_run_args
from videossl.data.input_contract import InputContract
from videossl.engine.memory import check_grad_cache, checkpoint_stages, grad_cache_step
from videossl.engine.method import Method
from videossl.errors import UserError
from videossl.eval.classifier import VideoClassifier
from videossl.losses.contrastive import nt_xent
from videossl.models.backbones import build_backbone
from vtdl.model import VTDL

CONTRACT = InputContract(frames=16, size=32)


def tclr():
    torch.manual_seed(0)
    return TCLR(build_backbone("r3d_18", width=0.125, keep_time_in_layer4=True), CONTRACT)


def tclr_batch(batch_size=3):
    g = torch.Generator().manual_seed(1)
    return {"clips": torch.randint(0, 256, (batch_size, 2, 5, 3, 16, 32, 32), dtype=torch.uint8, generator=g)}


def vtdl():
    torch.manual_seed(0)
    return VTDL(build_backbone("r3d_18", width=0.125), CONTRACT, queue_size=16)


def vtdl_batch():
    g = torch.Generator().manual_seed(1)
    return {"clips": torch.randint(0, 256, (3, 3, 3, 16, 32, 32), dtype=torch.uint8, generator=g)}


def plain_step(method, batch):
    torch.manual_seed(5)
    loss, _ = method.loss(batch)
    loss.backward()
    return loss.detach()


def cached_step(method, batch):
    torch.manual_seed(5)
    loss, _ = grad_cache_step(method, batch, lambda value: value.backward())
    return loss


def assert_same_step(plain, other, plain_loss, other_loss):
    """Loss and every gradient within 1e-5 relative, every buffer (BatchNorm statistics, their
    batch counts, queues) equal up to float rounding."""
    assert torch.allclose(other_loss, plain_loss, rtol=1e-6), (other_loss, plain_loss)
    other_params = dict(other.named_parameters())
    for name, p in plain.named_parameters():
        if p.grad is None:
            assert other_params[name].grad is None, name
            continue
        error = (other_params[name].grad - p.grad).norm() / p.grad.norm().clamp_min(1e-12)
        assert error < 1e-5, (name, float(error))
    other_buffers = dict(other.named_buffers())
    for name, b in plain.named_buffers():
        assert torch.allclose(other_buffers[name].float(), b.float(), rtol=1e-5, atol=1e-7), name


def test_grad_cache_gives_tclrs_plain_gradients_and_batchnorm_statistics():
    plain, cached, batch = tclr(), tclr(), tclr_batch()
    assert_same_step(plain, cached, plain_step(plain, batch), cached_step(cached, batch))
    assert int(cached.backbone.stem[1].num_batches_tracked) == 10  # once per clip kind, not twice


def test_grad_cache_gives_vtdls_plain_step_with_tca_queue_and_key_encoder():
    plain, cached, batch = vtdl(), vtdl(), vtdl_batch()
    assert_same_step(plain, cached, plain_step(plain, batch), cached_step(cached, batch))
    assert not torch.equal(cached.queue.keys, vtdl().queue.keys)  # the keys were enqueued once


class DropoutPairs(Method):
    """Two pieces (each its own BatchNorm batch) with dropout: the second pass must draw the
    first pass's dropout masks, and the step must leave the generator where the plain step does."""

    grad_cache_exact = True

    def __init__(self):
        torch.manual_seed(0)
        backbone = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.Dropout(0.5))
        super().__init__(backbone, None)

    def forward_chunks(self, batch):
        return [functools.partial(self.backbone, batch["clips"][:, k]) for k in range(2)]

    def loss_from_chunks(self, outputs, batch, *, update_state=True):
        first, second = outputs
        return nt_xent(torch.nn.functional.dropout(first, 0.2), second, 0.5), {}  # the loss draws too


def tce():
    torch.manual_seed(0)
    return TCE(build_backbone("resnet18", width=0.125), InputContract(frames=1, size=32), size=10, total_steps=10)


def tce_batch():
    g = torch.Generator().manual_seed(1)
    frames = torch.randint(0, 256, (4, 3, 3, 1, 32, 32), dtype=torch.uint8, generator=g)
    return {"clips": frames, "index": torch.tensor([0, 3, 5, 7]), "rotation": torch.tensor([0, 1, 2, 3])}


def test_tces_three_frame_kinds_are_three_batchnorm_batches_and_grad_cache_gives_the_plain_step():
    plain, cached, batch = tce(), tce(), tce_batch()
    assert_same_step(plain, cached, plain_step(plain, batch), cached_step(cached, batch))
    assert int(plain.backbone.bn1.num_batches_tracked) == 3  # anchor, positive, rotated: three passes
    separate = tce().backbone.train()  # the statistics of three separate passes, not one joint one
    frames = plain.model_input(batch["clips"])
    for k in range(3):
        separate(frames[:, k])
    assert torch.allclose(plain.backbone.bn1.running_var, separate.bn1.running_var)


def test_grad_cache_replays_each_pieces_random_draws():
    batch = {"clips": torch.randn(5, 2, 6, generator=torch.Generator().manual_seed(3))}
    plain, cached = DropoutPairs(), DropoutPairs()
    assert_same_step(plain, cached, plain_step(plain, batch), cached_step(cached, batch))
    plain_step(DropoutPairs(), batch)
    after_plain = torch.rand(1)
    cached_step(DropoutPairs(), batch)
    assert torch.equal(torch.rand(1), after_plain)  # the generator ends where the plain step leaves it


def test_activation_checkpointing_gives_the_plain_step_and_keeps_the_keys():
    plain, checkpointed, batch = tclr(), tclr(), tclr_batch()
    keys = list(checkpointed.state_dict())
    assert checkpoint_stages(checkpointed.backbone) == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert list(checkpointed.state_dict()) == keys
    assert_same_step(plain, checkpointed, plain_step(plain, batch), plain_step(checkpointed, batch))
    both = tclr()
    checkpoint_stages(both.backbone)
    assert_same_step(plain, both, plain_step(tclr(), batch), cached_step(both, batch))
    copied = copy.deepcopy(checkpointed.backbone)  # the copy's stages run the copy's weights
    with torch.no_grad():
        for p in copied.parameters():
            p.zero_()
    assert copied.layer1.forward.module is copied.layer1
    assert float(copied(torch.rand(1, 3, 16, 32, 32)).detach().abs().sum()) == 0.0


def test_grad_cache_is_refused_where_it_would_change_batchnorm_statistics():
    contract = InputContract(frames=16, size=32)
    with pytest.raises(UserError, match="--grad_cache: not available for cvrl: both clips .* one BatchNorm batch"):
        check_grad_cache(CVRL(build_backbone("r3d_18", width=0.125), contract, hidden=8, layers=1))
    with pytest.raises(UserError, match="not available for classifier: .* one BatchNorm batch"):
        check_grad_cache(VideoClassifier(build_backbone("r3d_18", width=0.125), 3))
    check_grad_cache(tclr())
    check_grad_cache(vtdl())
    check_grad_cache(tce())


def tiny_args(tiny_synthetic, out_dir, *extra):
    flags = {"batch_size": 4, "lr": 1e-3, "min_video_frames": 0}
    return tiny_run_args(tiny_synthetic, str(out_dir), flags, "--epochs", "1", *extra)


def final_weights(out_dir):
    checkpoint = torch.load(os.path.join(out_dir, "ss_saved_models", "tiny", "last.pt"), weights_only=True)
    return checkpoint["backbone"]["state_dict"], checkpoint["training_state"]["history"][-1]["loss"]


def assert_same_run(a, b):
    (weights_a, loss_a), (weights_b, loss_b) = final_weights(a), final_weights(b)
    assert loss_b == pytest.approx(loss_a, rel=1e-5)
    for name, value in weights_a.items():
        assert torch.allclose(weights_b[name].float(), value.float(), rtol=1e-4, atol=1e-5), name


def test_tclr_pretraining_with_both_flags_ends_where_the_plain_run_ends(tiny_synthetic, tmp_path):
    assert train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / "plain")) == 0
    flags = ("--grad_cache", "--checkpoint_activations")
    assert train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / "saving", *flags)) == 0
    assert_same_run(tmp_path / "plain", tmp_path / "saving")


def test_grad_cache_under_two_processes_ends_where_the_plain_ddp_run_ends(tiny_synthetic, tmp_path):
    script = os.path.join("tclr_pretraining", "train_gen_all_step.py")
    run_torchrun_script(script, tiny_args(tiny_synthetic, tmp_path / "plain"), tmp_path)
    run_torchrun_script(script, tiny_args(tiny_synthetic, tmp_path / "cached", "--grad_cache"), tmp_path)
    assert_same_run(tmp_path / "plain", tmp_path / "cached")


def _average_worker(rank, init_file, out_dir):
    import torch.distributed as dist

    from videossl.engine.memory import average_gradients

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    both, one, none = (torch.nn.Parameter(torch.zeros(3)) for _ in range(3))
    both.grad = torch.full((3,), float(rank + 1))  # 1 and 2: mean 1.5
    if rank == 1:
        one.grad = torch.full((3,), 4.0)  # rank 0 counts zeros: mean 2
    average_gradients([both, one, none])
    torch.save([both.grad, one.grad, none.grad], os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def test_gradients_are_averaged_over_processes_even_where_some_have_none(tmp_path):
    torch.multiprocessing.spawn(_average_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in range(2):
        both, one, none = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.equal(both, torch.full((3,), 1.5)) and torch.equal(one, torch.full((3,), 2.0)) and none is None
