import pytest
import torch

from videossl.data.input_contract import InputContract
from videossl.errors import UserError


def clips(seed=0, shape=(2, 3, 4, 5, 6)):
    return torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_default_is_rgb_in_unit_range():
    x = clips()
    out = InputContract().prepare(x)
    assert out.dtype == torch.float32 and torch.allclose(out, x.float() / 255)


def test_bgr_mean_std_and_value_range_by_hand():
    x = torch.zeros(1, 3, 2, 1, 1, dtype=torch.uint8)
    x[0, :, 0, 0, 0] = torch.tensor([255, 51, 0], dtype=torch.uint8)  # R, G, B of frame 0
    contract = InputContract(frames=2, channel_order="bgr", mean=[0.5, 0.5, 0.5], std=[0.5, 0.25, 0.5])
    out = contract.prepare(x)[0, :, 0, 0, 0]
    # BGR -> (0, 0.2, 1); minus 0.5; divided by (0.5, 0.25, 0.5)
    assert torch.allclose(out, torch.tensor([-1.0, -1.2, 1.0]))
    raw = InputContract(value_range="0-255").prepare(x)
    assert raw.max() == 255


def test_residual_input_keeps_the_frame_count():
    x = torch.zeros(1, 3, 4, 1, 1, dtype=torch.uint8)
    x[0, :, :, 0, 0] = torch.tensor([0, 10, 30, 60], dtype=torch.uint8)
    out = InputContract(frames=4, value_range="0-255", input_mode="residual").prepare(x)
    assert out[0, 0, :, 0, 0].tolist() == [10, 20, 30, 30]


def test_per_clip_standardisation_is_per_clip_and_channel():
    out = InputContract(standardize="per_clip").prepare(clips(shape=(2, 3, 4, 8, 8)))
    flat = out.flatten(2)
    assert torch.allclose(flat.mean(-1), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(flat.std(-1), torch.ones(2, 3), atol=1e-3)


def test_round_trip_and_bad_values():
    contract = InputContract(frames=8, stride=2, size=64, channel_order="bgr", mean=[0.1, 0.2, 0.3], std=[1, 2, 3])
    assert InputContract.from_dict(contract.to_dict()) == contract
    with pytest.raises(UserError, match="channel_order"):
        InputContract(channel_order="yuv")
    with pytest.raises(UserError, match="both mean and std"):
        InputContract(mean=[0, 0, 0])
    with pytest.raises(UserError, match="unknown fields"):
        InputContract.from_dict({"frames": 8, "colour": "rgb"})
