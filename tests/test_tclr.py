"""TCLR: loss terms against naive references, the model's outputs, and the training script."""

import math
import os

import pytest
import torch
import torch.nn.functional as F

from tclr_pretraining import train_gen_all_step
from tclr_pretraining.losses import (
    global_local_temporal_loss,
    instance_global_loss,
    instance_local_loss,
    local_local_temporal_loss,
    parse_loss_weights,
    tclr_loss,
)
from tclr_pretraining.model import TCLR
from tests.helpers import run_torchrun_script, tiny_run_args
from tests.test_losses import naive_nt_xent
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import load_backbone


def embeddings(b=3, views=2, clips=4, dim=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    unit = lambda *shape: F.normalize(torch.randn(*shape, dim, generator=g, dtype=torch.float64), dim=-1)  # noqa
    return {"global": unit(b, views), "global_steps": unit(b, views, clips), "local": unit(b, views, clips)}


def naive_ce(logits, target):
    return -(logits[target] - math.log(sum(math.exp(v) for v in logits)))


@pytest.mark.parametrize("t", [0.1, 0.5])
def test_each_term_equals_a_naive_loop(t):
    out = embeddings()
    b = 3
    assert instance_global_loss(out["global"], t).item() == pytest.approx(
        naive_nt_xent(out["global"][:, 0], out["global"][:, 1], t), rel=1e-9
    )

    combos = [(v, c) for v in range(2) for c in range(4)]
    pairs = [(a, c) for a in combos for c in combos if a != c]
    assert len(pairs) == 56
    naive_local = sum(naive_nt_xent(out["local"][:, a[0], a[1]], out["local"][:, c[0], c[1]], t) for a, c in pairs) / 4
    assert instance_local_loss(out["local"], t).item() == pytest.approx(naive_local, rel=1e-9)

    naive_ll = sum(naive_nt_xent(out["local"][i, 0], out["local"][i, 1], t) for i in range(b))
    assert local_local_temporal_loss(out["local"], t).item() == pytest.approx(naive_ll, rel=1e-9)

    naive_gl = 0.0
    for g in range(2):
        for v in range(2):
            for i in range(b):
                sim = [
                    [float(out["global_steps"][i, g, r] @ out["local"][i, v, c]) / t for c in range(4)]
                    for r in range(4)
                ]
                rows = sum(naive_ce(sim[r], r) for r in range(4))
                cols = sum(naive_ce([sim[r][c] for r in range(4)], c) for c in range(4))
                naive_gl += (rows + cols) / (2 * b)
    assert global_local_temporal_loss(out["global_steps"], out["local"], t).item() == pytest.approx(naive_gl, rel=1e-9)


def test_total_is_the_weighted_sum_of_the_logged_terms():
    out = embeddings(seed=1)
    total, terms = tclr_loss(out, 0.1)
    assert total.item() == pytest.approx(sum(v.item() for v in terms.values()), rel=1e-12)
    weighted, same_terms = tclr_loss(out, 0.1, weights={"global_local": 2.0, "local_local": 0.0})
    expected = terms["instance_global"] + terms["instance_local"] + 2 * terms["global_local"]
    assert weighted.item() == pytest.approx(expected.item(), rel=1e-12)
    assert all(torch.equal(terms[k], same_terms[k]) for k in terms)
    assert parse_loss_weights("global_local=2, local_local=0") == {"global_local": 2.0, "local_local": 0.0}
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_loss_weights("temporal=1")


def test_model_outputs_unit_embeddings_with_four_time_steps():
    torch.manual_seed(0)
    contract = InputContract(frames=16, size=32)
    model = TCLR(build_backbone("r3d_18", width=0.125, keep_time_in_layer4=True), contract)
    out = model.embed(torch.rand(2, 2, 5, 3, 16, 32, 32))
    assert out["global"].shape == (2, 2, 128) and out["global_steps"].shape == (2, 2, 4, 128)
    assert out["local"].shape == (2, 2, 4, 128)
    for value in out.values():
        assert torch.allclose(value.norm(dim=-1), torch.ones(value.shape[:-1]), atol=1e-5)
    short = TCLR(build_backbone("r3d_18", width=0.125), contract)  # without the variant: 2 steps of 16 frames
    with pytest.raises(UserError, match="fewer than the 4 local clips"):
        short.embed(torch.rand(2, 2, 5, 3, 16, 32, 32))


def tiny_args(tiny_synthetic, out_dir, *extra):
    return tiny_run_args(tiny_synthetic, str(out_dir), {"batch_size": 2, "lr": 1e-3, "min_video_frames": 0}, *extra)


def test_a_tiny_run_lowers_the_loss_and_its_checkpoint_loads(tiny_synthetic, tmp_path, capsys):
    # 2 local clips of 8 frames: the 16-frame window fits the 20-frame videos
    window = ["--frames", "8", "--num_local", "2"]
    assert train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path, "--epochs", "6", *window)) == 0
    folder = tmp_path / "ss_saved_models" / "tiny"
    assert {"last.pt", "best.pt", "run_config.json"} <= set(os.listdir(folder))
    checkpoint = torch.load(folder / "last.pt", weights_only=True)
    history = [h["loss"] for h in checkpoint["training_state"]["history"]]
    assert len(history) == 6 and min(history[3:]) < history[0]  # lr warms up over 5 epochs
    backbone, contract, _ = load_backbone(str(folder / "last.pt"))
    assert backbone.config == {"width": 0.125, "keep_time_in_layer4": True} and contract.channel_order == "bgr"
    assert backbone(torch.rand(1, 3, 16, 32, 32)).shape == (1, backbone.dim, 4, 1, 1)
    assert str(folder) in capsys.readouterr().out


def test_restart_after_epoch_1_matches_an_uninterrupted_run(tiny_synthetic, tmp_path, capsys):
    train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / "straight", "--epochs", "2"))
    train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / "resumed", "--epochs", "1"))
    with pytest.raises(UserError, match="already holds checkpoints"):  # no silent overwrite
        train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / "resumed", "--epochs", "2"))
    with pytest.raises(UserError, match="size: 32 -> 48"):
        train_gen_all_step.main(
            tiny_args(tiny_synthetic, tmp_path / "resumed", "--epochs", "2", "--restart", "--size", "48")
        )
    # --run_id and --restart alone continue the run with the flags it recorded (the release's usage)
    resumed = ["--run_id", "tiny", "--out_dir", str(tmp_path / "resumed"), "--restart", "--epochs", "2"]
    train_gen_all_step.main(resumed)
    a = torch.load(tmp_path / "straight" / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    for name, value in a["backbone"]["state_dict"].items():
        assert torch.equal(value, b["backbone"]["state_dict"][name]), name
    for name, value in a["heads"]["projection"].items():
        assert torch.equal(value, b["heads"]["projection"][name]), name
    train_gen_all_step.main(resumed)  # a finished run: says so, trains nothing
    assert "nothing to train: the run has done its 2 epochs" in capsys.readouterr().out
    with pytest.raises(UserError, match="--restart: there is no run 'other'"):
        train_gen_all_step.main(["--run_id", "other", "--out_dir", str(tmp_path / "resumed"), "--restart"])


def test_two_processes_under_torchrun_complete(tiny_synthetic, tmp_path):
    run_torchrun_script(
        os.path.join("tclr_pretraining", "train_gen_all_step.py"),
        tiny_args(tiny_synthetic, tmp_path, "--epochs", "1", "--batch_size", "4"),
        tmp_path,
    )
    checkpoint = torch.load(tmp_path / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["config"]["batch_size"] == 4


def test_compile_trains_the_same_model_and_keeps_the_checkpoint_keys(tiny_synthetic, tmp_path):
    window = ["--frames", "8", "--num_local", "2", "--epochs", "1"]
    for name, extra in (("eager", []), ("compiled", ["--compile"])):
        assert train_gen_all_step.main(tiny_args(tiny_synthetic, tmp_path / name, *window, *extra)) == 0
    eager, compiled = (
        torch.load(tmp_path / name / "ss_saved_models" / "tiny" / "last.pt", weights_only=True)
        for name in ("eager", "compiled")
    )
    assert list(compiled["backbone"]["state_dict"]) == list(eager["backbone"]["state_dict"])  # no _orig_mod.
    for key, value in eager["backbone"]["state_dict"].items():
        assert torch.allclose(compiled["backbone"]["state_dict"][key].float(), value.float(), rtol=1e-3, atol=1e-4), key
