"""Converters from the authors' released checkpoints to this project's format.

- TCLR: ``{"state_dict": ...}`` of ``nn.Sequential(r3d_18 with the layer4 variant, mlp)`` saved
  through DataParallel: keys ``module.0.<torchvision r3d_18 key>`` (backbone) and ``module.1.fc1...``
  (head), sometimes without ``module.``; BGR input in [0, 1], no mean/std, 16 frames at stride 2
  for evaluation (the released linear evaluation's ``fix_skip``). The R(2+1)D-18 release has
  torchvision's r2plus1d_18 keys (its stem has a temporal ``stem.3``) with the same full 3x3x3
  layer4 convolution (the shapes its loader, nn_retrieval/model.py build_rpd_encoder_ret, loads
  strictly).
- VTDL: ``{"model": ...}`` with ``module.``, MoCo encoders as ``encoder_q.`` / ``encoder_k.``
  (the query encoder is kept); the architecture is not recorded, so ``arch`` names it.
- TCE: a 2D ResNet state dict (``state_dict``/``model`` entry or bare), keys possibly under
  ``module.``/``encoder.``; ``arch`` names the depth (resnet18 ... resnet152; default resnet50).
  pretrain.py saves ``{'epoch', 'state_dict', 'optimizer', 'NCELoss'}`` of a DataParallel
  PreTrainNet: ``module.backbone.<torchvision-named ResNet key>`` (no fc) and the heads
  ``module.fc_contrastive``, ``module.fc_rotation_1-3``, ``module.bn_rotation_1-2``.

Backbone keys after the wrappers are stripped must match this project's layout (torchvision's
names); classifier and projection keys are set aside as heads. Anything else that does not fit
is one clear error (``load_state_strict``), never a silent partial load.
"""

import torch

from videossl.data.input_contract import IMAGENET, InputContract
from videossl.errors import UserError
from videossl.models.backbones import RESNETS_2D, build_backbone
from videossl.models.checkpoint import FORMAT, FORMAT_VERSION, load_state_strict

SOURCES = ("tclr", "vtdl", "tce")
WRAPPER_PREFIXES = ("module.", "encoder_q.", "encoder.", "backbone.", "base_model.", "model.")
# TCE's PreTrainNet (network/model.py) adds fc_contrastive, fc_rotation_1-3 and bn_rotation_1-2.
HEAD_PREFIXES = ("fc.", "head.", "classifier.", "mlp.", "projection.", "logits.", "fc_", "proj.", "bn_rotation_")


def _state_dict_of(obj, path):
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict", "net"):
            if isinstance(obj.get(key), dict):
                return obj[key]
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise UserError(f"{path}: no state dict found (looked for 'state_dict', 'model' and a bare state dict)")


def _strip(key, prefixes):
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if key.startswith(prefix):
                key, changed = key[len(prefix):], True
    return key


def detect_source(obj):
    """"tclr", "vtdl" or "tce" from the shape of a released file, or None."""
    if not isinstance(obj, dict):
        return None
    state = obj.get("state_dict") if isinstance(obj.get("state_dict"), dict) else None
    if state is not None and any(_strip(k, ("module.",)).startswith("0.stem.") for k in state):
        return "tclr"
    try:
        state = _state_dict_of(obj, "")
    except UserError:
        return None
    first_conv = [v for k, v in state.items() if _strip(k, WRAPPER_PREFIXES) == "conv1.weight"]
    if first_conv and first_conv[0].dim() == 4:
        return "tce"  # a 2D ResNet
    if isinstance(obj.get("model"), dict):
        return "vtdl"
    return None


def _split_backbone_and_heads(state, backbone_keys):
    backbone, heads = {}, {}
    for key, value in state.items():
        if key in backbone_keys:
            backbone[key] = value
        else:
            heads[key] = value
    return backbone, heads


def _checkpoint(method, backbone, state, contract, heads, extra):
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "method": method,
            "backbone": {"name": backbone.name, "config": dict(backbone.config), "state_dict": state},
            "heads": heads, "input_contract": contract.to_dict(), "config": {"converted_from": extra},
            "epoch": int(extra.get("epoch") or 0), "step": 0, "training_state": None, "precision": None}


def tclr_architecture(state):
    """r2plus1d_18 when the backbone's stem is factorised (a temporal ``stem.3`` convolution), else r3d_18."""
    factorised = any(_strip(k, ("module.", "0.")) == "stem.3.weight" for k in state)
    return "r2plus1d_18" if factorised else "r3d_18"


def convert_tclr(obj, path):
    raw = _state_dict_of(obj, path)
    arch = tclr_architecture(raw)
    backbone = build_backbone(arch, keep_time_in_layer4=True)
    state, head = {}, {}
    for key, value in raw.items():
        key = _strip(key, ("module.",))
        if key.startswith("0."):
            key = key[2:]
            if not key.startswith("fc."):  # the unused torchvision classifier of the released backbone
                state[key] = value
        elif key.startswith("1."):
            head[key[2:]] = value
        else:
            state[key] = value  # a bare backbone state dict
    load_state_strict(backbone, state, f"TCLR backbone ({arch}, layer4 variant)", path)
    contract = InputContract(frames=16, stride=2, size=112, channel_order="bgr", value_range="0-1")
    epoch = obj.get("epoch") if isinstance(obj, dict) else None
    return _checkpoint("tclr-official", backbone, state, contract, {"projection": head} if head else {},
                       {"source": "tclr", "file": path, "epoch": epoch if isinstance(epoch, int) else 0})


def _convert_by_arch(obj, path, arch, method, contract):
    raw = _state_dict_of(obj, path)
    backbone = build_backbone(arch)
    own = set(backbone.state_dict())
    keys = {}
    for key in raw:
        if "encoder_k." in key or "queue" in key:  # MoCo's momentum encoder and queue: not the model
            continue
        keys[key] = _strip(key, WRAPPER_PREFIXES)
    stripped = {new: raw[old] for old, new in keys.items()}
    state, rest = _split_backbone_and_heads(stripped, own)
    unknown = {k: v for k, v in rest.items() if not k.startswith(HEAD_PREFIXES)}
    load_state_strict(backbone, {**state, **unknown}, f"{method} backbone ({arch})", path)
    heads = {k: v for k, v in rest.items() if k.startswith(HEAD_PREFIXES)}
    return _checkpoint(f"{method}-official", backbone, state, contract, {"head": heads} if heads else {},
                       {"source": method, "file": path, "arch": arch})


def convert_vtdl(obj, path, arch):
    if arch is None:
        raise UserError(f"{path}: VTDL checkpoints do not record their architecture: pass --arch "
                        f"(i3d, r2plus1d_18, r3d_18 or c3d)")
    return _convert_by_arch(obj, path, arch, "vtdl", InputContract(frames=16, stride=4, size=112))


def convert_tce(obj, path, arch):
    arch = arch or "resnet50"
    if arch not in RESNETS_2D:
        raise UserError(f"TCE models are 2D ResNets ({', '.join(RESNETS_2D)}), not {arch}")
    return _convert_by_arch(obj, path, arch, "tce", InputContract(frames=1, stride=1, size=224, **IMAGENET))


def convert_official(obj, path, source="auto", arch=None):
    if source == "auto":
        source = detect_source(obj)
        if source is None:
            raise UserError(f"{path}: not a videossl checkpoint and not recognisable as a TCLR, VTDL or TCE "
                            f"release; name it with --checkpoint_format tclr|vtdl|tce")
    if source == "tclr":
        return convert_tclr(obj, path)
    if source == "vtdl":
        return convert_vtdl(obj, path, arch)
    if source == "tce":
        return convert_tce(obj, path, arch)
    raise UserError(f"unknown checkpoint format {source!r}: use auto, videossl, {', '.join(SOURCES)}")
