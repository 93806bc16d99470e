"""CVRL's TensorFlow checkpoints: Model Garden's own ResNet3D-50 (tf-models-official) with the
video_ssl configuration, saved as the trainer saves it, converted, and compared output for output.

Needs the optional extra (``pip install -e '.[tf]'``); marked slow: ``pytest -m slow tests/test_cvrl_tensorflow.py``.
"""

import os

import numpy as np
import pytest
import torch

# torchvision before TensorFlow: the other order crashes the process (as videossl's tools import them)
from videossl.models.checkpoint import load_backbone

pytestmark = pytest.mark.slow

# official/projects/video_ssl/configs/experiments/cvrl_pretrain_k600_200ep.yaml: block specs and stem
TEMPORAL_KERNELS = [(1, 1, 1), (1, 1, 1, 1), (3, 3, 3, 3, 3, 3), (3, 3, 3)]


def model_garden_video_ssl_model(frames, size):
    """VideoSSLModel as build_video_ssl_pretrain_model builds it for the k600 experiment."""
    import tf_keras
    from official.core import exp_factory
    from official.projects.video_ssl.configs import video_ssl  # noqa: F401 (registers the experiments)
    from official.projects.video_ssl.modeling import video_ssl_model
    from official.vision.configs import backbones_3d

    config = exp_factory.get_exp_config("video_ssl_pretrain_kinetics600").task.model
    config.backbone.resnet_3d.block_specs = tuple(
        backbones_3d.ResNet3DBlock(temporal_strides=1, temporal_kernel_sizes=k, use_self_gating=False)
        for k in TEMPORAL_KERNELS
    )
    config.backbone.resnet_3d.stem_conv_temporal_kernel_size = 5
    config.backbone.resnet_3d.stem_conv_temporal_stride = 2
    config.backbone.resnet_3d.stem_pool_temporal_stride = 1
    config.norm_activation.use_sync_bn = config.hidden_norm_activation.use_sync_bn = False
    specs = tf_keras.layers.InputSpec(shape=[None, frames, size, size, 3])
    return video_ssl_model.build_video_ssl_pretrain_model(specs, config, num_classes=0)


def randomise_batch_norm(model, rng):
    """Trained-looking BatchNorm statistics, so that eval-mode normalisation is not the identity."""
    for variable in model.variables:
        name = variable.name
        if "moving_mean" in name or "beta" in name:
            variable.assign(rng.normal(0, 0.1, variable.shape).astype(np.float32))
        elif "moving_variance" in name or "gamma" in name:
            variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))


@pytest.mark.parametrize("frames, size", [(16, 64), (8, 57)])  # even sizes, and odd ones (TF pads differently)
def test_converted_cvrl_checkpoint_computes_what_tensorflow_computes(tmp_path, frames, size):
    tf = pytest.importorskip("tensorflow")
    pytest.importorskip("official.projects.video_ssl")

    tf.keras.utils.set_random_seed(0)
    model = model_garden_video_ssl_model(frames, size)
    randomise_batch_norm(model, np.random.default_rng(0))
    # the trainer's checkpoint: the model plus its checkpoint_items (the backbone)
    prefix = tf.train.Checkpoint(model=model, **model.checkpoint_items).write(str(tmp_path / "ckpt-1"))
    assert os.path.isfile(prefix + ".index")

    backbone, contract, checkpoint = load_backbone(prefix)
    clip = np.random.default_rng(1).uniform(0, 1, (2, frames, size, size, 3)).astype(np.float32)
    theirs = model.backbone(clip, training=False)["5"].numpy().mean(axis=(2, 3))  # [B, T, C], space pooled
    with torch.no_grad():
        ours = backbone.eval()(torch.from_numpy(clip).permute(0, 4, 1, 2, 3))[:, :, :, 0, 0].transpose(1, 2)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-4, rtol=1e-4)
    assert checkpoint["method"] == "cvrl-official" and backbone.name == "r3d_50"
    assert (contract.frames, contract.stride, contract.size, contract.mean) == (32, 2, 224, None)
