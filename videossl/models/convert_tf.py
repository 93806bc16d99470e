"""CVRL's released TensorFlow checkpoints (tensorflow/models official/projects/video_ssl README:
``r3d_1x_k400_200ep``, ``r3d_1x_k400_800ep``, ``r3d_1x_k600_800ep``, ``imagenet``) as this
project's ``r3d_50``.

TensorFlow is an optional extra (``pip install -e '.[tf]'``); only ``tf.train.load_checkpoint`` is
used, no Model Garden code. The files are object-based checkpoints of Model Garden's ResNet3D-50
(official/vision/modeling/backbones/resnet_3d.py); the linear evaluation restores them through a
``backbone`` child (video_ssl tasks/linear_eval.py ``initialize``), so the backbone's variables sit
under a prefix ending in ``backbone/``. In a Keras functional model, the layers that own weights are
numbered in build order: ``layer_with_weights-0`` the stem convolution, ``-1`` its BatchNorm, then
one per BottleneckBlock3D (nn_blocks_3d.py), whose own layers are the attributes ``_temporal_conv``,
``_spatial_conv``, ``_expand_conv``, ``_shortcut_conv`` and ``_norm1-3``, ``_norm0``. Kernels are
``[t, h, w, in, out]`` (PyTorch: ``[out, in, t, h, w]``); BatchNorm has gamma, beta, moving mean and
variance. Input: RGB in [0, 1] without mean/std (ops preprocess_ops_3d.normalize_image), 32 frames
at stride 2, 224 px (configs/video_ssl.py linear evaluation).
"""

import os
from typing import Callable, Optional

import numpy as np
import torch

from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.models.convert import Release

TF_HINT = "reading CVRL's TensorFlow checkpoints needs TensorFlow: pip install -e '.[tf]'"
VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
STEM_KERNEL = "layer_with_weights-0/kernel" + VALUE
BLOCK_LAYERS = {
    "_temporal_conv": "conv1",
    "_norm1": "bn1",
    "_spatial_conv": "conv2",
    "_norm2": "bn2",
    "_expand_conv": "conv3",
    "_norm3": "bn3",
    "_shortcut_conv": "downsample.0",
    "_norm0": "downsample.1",
}
BN_VARIABLES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
RESNET3D_50_BLOCKS = (3, 4, 6, 3)  # resnet_3d.py RESNET_SPECS[50]
CVRL_CONTRACT = InputContract(frames=32, stride=2, size=224)


def _index_files(folder):
    return sorted(name for name in os.listdir(folder) if name.endswith(".index"))


def is_tf_checkpoint(path: str) -> bool:
    """A TensorFlow checkpoint prefix (``ckpt-N`` next to ``ckpt-N.index``) or a folder holding one."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "checkpoint")) or bool(_index_files(path))
    return os.path.isfile(path + ".index")


def checkpoint_prefix(path: str, latest_checkpoint: Callable[[str], Optional[str]]) -> str:
    """The prefix to read: ``path`` itself, or in a folder the one its ``checkpoint`` file names,
    else its only ``*.index``."""
    if not os.path.isdir(path):
        return path
    latest = latest_checkpoint(path)
    if latest:
        return latest
    indexes = _index_files(path)
    if len(indexes) != 1:
        raise UserError(
            f"{path}: {len(indexes)} TensorFlow checkpoints and no 'checkpoint' file naming one; "
            f"pass the prefix, e.g. {os.path.join(path, indexes[0][: -len('.index')])}"
        )
    return os.path.join(path, indexes[0][: -len(".index")])


def backbone_prefix(shapes: dict[str, list[int]]) -> Optional[str]:
    """The variable-name prefix of the ResNet3D backbone: where a layer_with_weights-0 kernel takes
    3 input channels through a 7x7 window (the stem). ``backbone/`` wins over other paths to it."""
    prefixes = [
        name[: -len(STEM_KERNEL)]
        for name, shape in shapes.items()
        if name.endswith(STEM_KERNEL) and len(shape) == 5 and shape[1:4] == [7, 7, 3]
    ]
    if not prefixes:
        return None
    return min(prefixes, key=lambda p: (not p.endswith("backbone/"), len(p)))


def tf_name_map(prefix: str) -> dict[str, str]:
    """{TensorFlow variable name: this project's key} for the ResNet3D-50 backbone."""
    names = {f"{prefix}layer_with_weights-0/kernel{VALUE}": "stem.0.weight"}
    names.update({f"{prefix}layer_with_weights-1/{tf}{VALUE}": f"stem.1.{pt}" for tf, pt in BN_VARIABLES.items()})
    index = 2
    for group, count in enumerate(RESNET3D_50_BLOCKS):
        for block in range(count):
            ours = f"res{group + 2}.{block}"
            for tf_layer, pt_layer in BLOCK_LAYERS.items():
                base = f"{prefix}layer_with_weights-{index}/{tf_layer}"
                if tf_layer.startswith("_norm"):
                    names.update({f"{base}/{tf}{VALUE}": f"{ours}.{pt_layer}.{pt}" for tf, pt in BN_VARIABLES.items()})
                else:
                    names[f"{base}/kernel{VALUE}"] = f"{ours}.{pt_layer}.weight"
            index += 1
    return names


def to_torch(name: str, value: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(value.copy()).float()
    return tensor.permute(4, 3, 0, 1, 2).contiguous() if tensor.dim() == 5 else tensor


def backbone_state(
    read: Callable[[str], np.ndarray], shapes: dict[str, list[int]], prefix: str
) -> dict[str, torch.Tensor]:
    """This project's r3d_50 state dict from the checkpoint's variables (``read(name)`` -> array).
    Backbone variables the map does not know are kept under their own names, so that the strict
    check reports them; a shortcut is present only where the block changes channels."""
    names = tf_name_map(prefix)
    state = {}
    for name in shapes:
        if not name.startswith(prefix) or ".OPTIMIZER_SLOT" in name:
            continue
        if name in names:
            state[names[name]] = to_torch(name, read(name))
        else:
            state[name[len(prefix) :]] = torch.zeros(shapes[name])
    for key in [k for k in state if k.endswith(".running_var")]:
        state[key[: -len("running_var")] + "num_batches_tracked"] = torch.tensor(0)
    return state


def read_cvrl(path: str, arch: Optional[str] = None) -> Release:
    try:
        import tensorflow as tf
    except ImportError:
        raise UserError(f"{path}: {TF_HINT}") from None
    prefix_path = checkpoint_prefix(path, tf.train.latest_checkpoint)
    try:
        reader = tf.train.load_checkpoint(prefix_path)
    except (tf.errors.OpError, ValueError) as err:
        raise UserError(f"{path}: not a readable TensorFlow checkpoint: {str(err).splitlines()[0][:200]}") from None
    shapes = reader.get_variable_to_shape_map()
    prefix = backbone_prefix(shapes)
    if prefix is None:
        raise UserError(
            f"{path}: a TensorFlow checkpoint without a ResNet3D stem (a 7x7 kernel over 3 channels "
            f"as layer_with_weights-0); {len(shapes)} variables, e.g. {', '.join(sorted(shapes)[:2])}"
        )
    if arch and arch != "r3d_50":
        raise UserError(f"{path}: holds a Model Garden ResNet3D-50 (r3d_50), not --arch {arch}")
    state = backbone_state(reader.get_tensor, shapes, prefix)
    return Release(
        "cvrl",
        f"CVRL TensorFlow checkpoint (Model Garden ResNet3D-50 under '{prefix}')",
        "r3d_50",
        {},
        state,
        CVRL_CONTRACT,
    )
