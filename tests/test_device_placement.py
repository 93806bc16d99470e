"""Every method's training step, grad_cache, the finetuning classifier and feature extraction
with the model and batch on the ``meta`` device: a tensor or generator of the wrong device inside
them fails here, not on a GPU (tests/device_guard.py)."""

import pytest
import torch
from torch import nn

from cvrl.model import CVRL
from tests.device_guard import WrongDevice, only_on
from tests.test_memory import tce, tce_batch, tclr, tclr_batch, vtdl, vtdl_batch
from videossl.data.input_contract import InputContract
from videossl.engine.memory import grad_cache_step
from videossl.engine.method import Method
from videossl.eval.classifier import VideoClassifier
from videossl.eval.features import backbone_maps, per_video
from videossl.models.backbones import build_backbone

CONTRACT = InputContract(frames=8, size=32)


def cvrl():
    torch.manual_seed(0)
    return CVRL(build_backbone("r3d_18", width=0.125), CONTRACT, hidden=32)


def cvrl_batch():
    return {"clips": torch.randint(0, 256, (4, 2, 3, 8, 32, 32), dtype=torch.uint8)}


def classifier():
    torch.manual_seed(0)
    return VideoClassifier(build_backbone("r3d_18", width=0.125), 5, dropout=0.5, contract=CONTRACT)


def classifier_batch():
    return {"clips": torch.randint(0, 256, (4, 3, 8, 32, 32), dtype=torch.uint8), "label": torch.tensor([0, 1, 2, 4])}


METHODS = {
    "tclr": (tclr, tclr_batch),
    "cvrl": (cvrl, cvrl_batch),
    "vtdl": (vtdl, vtdl_batch),
    "tce": (tce, tce_batch),
    "classifier": (classifier, classifier_batch),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_a_training_step_makes_no_tensor_off_the_models_device(name):
    make, batch = METHODS[name]
    method, host_batch = make().to("meta"), batch()  # the batch arrives on the host, as from the loader
    optimizer = torch.optim.Adam(method.parameters(), lr=1e-3)
    with only_on("meta"):
        loss, terms = method.loss(host_batch)
        loss.backward()
        optimizer.step()
    assert loss.device.type == "meta" and all(t.device.type == "meta" for t in terms.values())
    assert all(p.grad is None or p.grad.device.type == "meta" for p in method.parameters())


@pytest.mark.parametrize("name", ["tclr", "vtdl", "tce"])
def test_grad_cache_makes_no_tensor_off_the_models_device(name):
    make, batch = METHODS[name]
    method, host_batch = make().to("meta"), batch()
    with only_on("meta"):
        loss, _ = grad_cache_step(method, host_batch, lambda value: value.backward())
    assert loss.device.type == "meta"


def test_feature_extraction_makes_no_tensor_off_the_models_device():
    backbone = build_backbone("r3d_18", width=0.125).to("meta").eval()
    clips, counts, uneven = (
        torch.randint(0, 256, (6, 3, 8, 32, 32), dtype=torch.uint8),
        torch.tensor([3, 3]),
        torch.tensor([2, 4]),
    )
    with only_on("meta"):
        maps = backbone_maps(backbone, CONTRACT, clips, "meta")
        per_clip = per_video(maps, counts, views=3)
        per_mean = per_video(maps, uneven, views=1)
    assert per_clip.shape[:2] == (2, 3) and per_mean.shape[:2] == (2, 1) and per_mean.device.type == "meta"


class HostIndices(Method):
    """Draws indices into a bank with a host generator, or builds an index on the host."""

    def __init__(self, mistake):
        super().__init__(nn.Linear(4, 4), None)
        self.register_buffer("bank", torch.randn(10, 4))
        self.mistake = mistake

    def loss(self, batch, *, update_state=True):
        if self.mistake == "host generator":
            drawn = torch.randint(0, 10, (3,), generator=torch.Generator().manual_seed(0), device=self.bank.device)
        elif self.mistake == "host draw":
            drawn = torch.randint(0, 10, (3,)).to(self.bank.device)  # copied to the device every step
        else:
            drawn = torch.arange(3)
        return self.backbone(self.bank[drawn]).sum(), {}


@pytest.mark.parametrize("mistake", ["host generator", "host draw", "host arange"])
def test_the_guard_catches_a_host_tensor_or_generator_inside_a_step(mistake):
    method = HostIndices(mistake).to("meta")
    with pytest.raises(WrongDevice), only_on("meta"):
        method.loss({})
