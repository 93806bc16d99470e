"""Readers of the authors' released files (and torchvision's supervised weights) into this project's
checkpoint format.

Each reader turns one release format into a ``Release``: the backbone's state dict under this
project's names, the heads set aside, the architecture and the input contract the authors'
evaluation feeds it. Nothing is loaded into a model here: ``mismatch`` compares a ``Release`` with
its architecture's keys and shapes (the report ``scripts/inspect_checkpoint.py`` prints and every
tool's one-line error), ``to_checkpoint`` builds the checkpoint once they agree.

Formats (key names and wrapping read from the authors' code; files named relative to each repository):

- TCLR (DAVEISHAN/TCLR): ``{'epoch', 'state_dict', ...}`` of ``DataParallel(nn.Sequential(backbone,
  mlp))`` (linear_eval/train.py and nn_retrieval/complete_retrieval.py load ``state_dict``): keys
  ``module.0.<torchvision r3d_18 or r2plus1d_18 key>`` and ``module.1.<mlp key>``. Both backbones
  have TCLR's layer4 (a full 3x3x3 convolution of temporal dilation 2, no temporal stride;
  linear_eval/model.py, nn_retrieval/model.py build_rpd_encoder_ret); R(2+1)D-18 is told by its
  stem's temporal convolution ``stem.3``. Input: BGR in [0, 1], no mean/std, 16 frames at stride 2,
  112 px (linear_eval/dl_linear.py).
- VTDL (FingerRec/...): the pretraining file ``ckpt_epoch_N.pth`` / ``current.pth``
  (src/train_temporal_dis.py ``saving``): ``{'opt': argparse.Namespace, 'model', 'contrast',
  'optimizer', 'epoch', 'model_ema'}`` with ``model`` = ``DataParallel(I3D or resnet18)`` keys
  ``module.<key>`` (src/model/i3d.py, src/model/r3d.py; heads ``id_head.2`` (128-d embedding) and
  ``cls_head.2``). The finetuned file ``fine_tune_rgb_model_*.pth.tar`` (src/trainer.py): ``{'epoch',
  'arch', 'state_dict', 'best_prec1'}`` of ``DataParallel(TCN(base_model))``: ``module.base_model.<key>``
  with the classifier ``conv3d_0c_1x1_custom`` (I3D) or ``cp`` (R3D); its ``arch`` is always "i3d",
  so the architecture is read from the keys. Input: RGB in [0, 1], ImageNet mean/std, 224 px
  (src/data/config.py); clips of ``opt`` (16 frames at stride 4 by default) for pretraining files,
  64 frames at stride 1 for finetuned ones (src/option.py defaults, the readme's command).
- TCE (csiro-robotics/TCE): ``{'epoch', 'state_dict', 'optimizer', 'NCELoss'}`` of
  ``DataParallel(PreTrainNet)`` (pretrain.py, network/model.py): ``module.backbone.<torchvision ResNet
  key>`` (no fc) and the heads ``fc_contrastive``, ``fc_rotation_1-3``, ``bn_rotation_1-2`` (the
  latter absent in earlier files); bare or ``encoder.``-prefixed ResNet state dicts too. The depth is
  read from the keys. Input: single RGB frames, ImageNet mean/std, 224 px.
- CVRL (tensorflow/models official/projects/video_ssl): TensorFlow checkpoints, read by
  ``videossl.models.convert_tf`` (optional extra ``.[tf]``).
- ``torchvision:<name>``: torchvision's supervised Kinetics-400 weights, as the upper reference.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from videossl.data.input_contract import IMAGENET, InputContract
from videossl.errors import UserError
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint import FORMAT, FORMAT_VERSION

SOURCES = ("tclr", "vtdl", "tce", "cvrl")
StateDict = dict[str, torch.Tensor]
StateOf = Callable[[Any], Optional[StateDict]]  # a loaded file -> its state dict, wrappers stripped
ArchitectureOf = Callable[[StateDict], Optional[str]]  # a state dict -> the backbone its keys hold
TORCHVISION_PREFIX = "torchvision:"


@dataclass
class Release:
    """A released file read into this project's names; nothing loaded into a model yet."""

    source: str  # tclr, vtdl, tce, cvrl, torchvision
    file_format: str  # which file of the release, and the code that writes it
    arch: str
    config: dict  # build_backbone keyword arguments
    state: dict  # the backbone's state dict, this project's key names
    contract: InputContract
    heads: dict = field(default_factory=dict)  # head name -> state dict
    epoch: int = 0


def mismatch(release: Release) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped) keys of ``release.state`` against its architecture, built on
    the meta device (no memory, no computation)."""
    with torch.device("meta"):
        own = {k: tuple(v.shape) for k, v in build_backbone(release.arch, **release.config).state_dict().items()}
    state = release.state
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} vs {own[k]}" for k in own if k in state and tuple(state[k].shape) != own[k]]
    return missing, unexpected, wrong


def mismatch_text(missing: list[str], unexpected: list[str], wrong: list[str]) -> str:
    parts = []
    for name, keys in (("missing", missing), ("unexpected", unexpected), ("with other shapes", wrong)):
        if keys:
            parts.append(f"{len(keys)} {name} (first: {', '.join(keys[:3])})")
    return "; ".join(parts)


def parameter_count(state: StateDict) -> int:
    return sum(
        v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )


def to_checkpoint(release: Release, path: str) -> dict:
    """The videossl checkpoint of ``release``, or one line naming every difference from its architecture."""
    problems = mismatch_text(*mismatch(release))
    if problems:
        raise UserError(f"{path}: {release.file_format}: the {release.arch} backbone does not match: {problems}")
    method = "torchvision-supervised" if release.source == "torchvision" else f"{release.source}-official"
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": method,
        "backbone": {"name": release.arch, "config": dict(release.config), "state_dict": release.state},
        "heads": release.heads,
        "input_contract": release.contract.to_dict(),
        "config": {"converted_from": {"source": release.source, "format": release.file_format, "file": path}},
        "epoch": int(release.epoch),
        "step": 0,
        "training_state": None,
        "precision": None,
    }


def videossl_release(checkpoint: dict) -> Release:
    """A videossl checkpoint seen as a ``Release`` (nothing renamed), for the same report."""
    spec = checkpoint["backbone"]
    return Release(
        checkpoint["method"],
        f"videossl checkpoint (method {checkpoint['method']}, format version {checkpoint['format_version']})",
        spec["name"],
        dict(spec["config"]),
        spec["state_dict"],
        InputContract.from_dict(checkpoint["input_contract"]),
        checkpoint.get("heads") or {},
        checkpoint.get("epoch") or 0,
    )


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def strip_prefix(key: str, prefixes: Sequence[str]) -> str:
    """``key`` without any of ``prefixes`` at its start, repeatedly (``module.base_model.x`` -> ``x``)."""
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if key.startswith(prefix):
                key, changed = key[len(prefix) :], True
    return key


def tensors_under(obj: Any, *names: str) -> Optional[StateDict]:
    """The first of ``obj[name]`` that is a dict of tensors, or ``obj`` itself when it is one."""
    if isinstance(obj, dict):
        for name in names:
            value = obj.get(name)
            if isinstance(value, dict) and value and all(isinstance(v, torch.Tensor) for v in value.values()):
                return value
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    return None


def split_heads(state: StateDict, head_prefixes: Sequence[str]) -> tuple[StateDict, dict[str, StateDict]]:
    """(backbone state, {head prefix: its state with the prefix removed})."""
    backbone, heads = {}, {}
    for key, value in state.items():
        prefix = next((p for p in head_prefixes if key.startswith(p)), None)
        if prefix is None:
            backbone[key] = value
        else:
            heads.setdefault(prefix, {})[key[len(prefix) :]] = value
    return backbone, heads


def identify(obj: Any, state_of: StateOf, architecture_of: ArchitectureOf) -> tuple[Optional[StateDict], Optional[str]]:
    """(the file's state dict with its wrappers stripped, the architecture its keys hold), or (None, None)."""
    state = state_of(obj)
    found = architecture_of(state) if state is not None else None
    return (state, found) if found is not None else (None, None)


def _check_arch(asked, found, path: str):
    if asked and asked != found:
        raise UserError(f"{path}: holds a {found} backbone, not --arch {asked}")


def identified(
    obj: Any, path: str, arch: Optional[str], state_of: StateOf, architecture_of: ArchitectureOf, what: str
) -> tuple[StateDict, str]:
    """``identify``, or one line saying the file is not ``what``; ``arch`` must be what it holds."""
    state, found = identify(obj, state_of, architecture_of)
    if found is None:
        raise UserError(f"{path}: not {what}")
    _check_arch(arch, found, path)
    return state, found


def _epoch(obj):
    epoch = obj.get("epoch") if isinstance(obj, dict) else None
    return epoch if isinstance(epoch, int) else 0


# ---------------------------------------------------------------------------------------------
# TCLR
# ---------------------------------------------------------------------------------------------


def is_tclr(obj: Any) -> bool:
    state = tensors_under(obj, "state_dict")
    return state is not None and any(strip_prefix(k, ("module.",)).startswith("0.stem.") for k in state)


def read_tclr(obj: Any, path: str, arch: Optional[str] = None) -> Release:
    raw = tensors_under(obj, "state_dict")
    state, mlp = {}, {}
    for key, value in raw.items():
        key = strip_prefix(key, ("module.",))
        if key.startswith("1."):
            mlp[key[2:]] = value
        elif not key.startswith("0.fc."):  # the unused torchvision classifier inside the released backbone
            state[key[2:] if key.startswith("0.") else key] = value
    factorised = "stem.3.weight" in state
    found = "r2plus1d_18" if factorised else "r3d_18"
    _check_arch(arch, found, path)
    contract = InputContract(frames=16, stride=2, size=112, channel_order="bgr", value_range="0-1")
    return Release(
        "tclr",
        "TCLR release (DataParallel(Sequential(backbone, mlp)) under 'state_dict')",
        found,
        {"keep_time_in_layer4": True},
        state,
        contract,
        {"projection": mlp} if mlp else {},
        _epoch(obj),
    )


# ---------------------------------------------------------------------------------------------
# VTDL
# ---------------------------------------------------------------------------------------------

VTDL_WRAPPERS = ("module.", "base_model.")
VTDL_HEADS = {
    "id_head.2.": "projection",
    "cls_head.2.": "pretext_classifier",
    "conv3d_0c_1x1_custom.": "classifier",
    "cp.": "classifier",
}


def _vtdl_state(obj):
    raw = tensors_under(obj, "model", "state_dict")
    return None if raw is None else {strip_prefix(k, VTDL_WRAPPERS): v for k, v in raw.items()}


def vtdl_architecture(state: StateDict) -> Optional[str]:
    """i3d or r3d_18_hara from the keys (VTDL's src/model/i3d.py and r3d.py), or None."""
    if "conv3d_1a_7x7.conv3d.weight" in state:
        return "i3d"
    conv1 = state.get("conv1.weight")
    if conv1 is not None and conv1.dim() == 5 and "layer1.0.conv1.weight" in state:
        return "r3d_18_hara"
    return None


NOT_VTDL = "a VTDL I3D or R3D file (VTDL's C3D and R(2+1)D definitions are not supported)"


def is_vtdl(obj: Any) -> bool:
    return identify(obj, _vtdl_state, vtdl_architecture)[1] is not None


def read_vtdl(obj: Any, path: str, arch: Optional[str] = None) -> Release:
    state, found = identified(obj, path, arch, _vtdl_state, vtdl_architecture, NOT_VTDL)
    state, by_prefix = split_heads(state, tuple(VTDL_HEADS))
    heads = {VTDL_HEADS[p]: s for p, s in by_prefix.items()}
    pretraining = isinstance(obj.get("model"), dict)
    # the clip the file was trained on: the pretraining's saved options, or the finetuning's defaults
    # (option.py and the readme's command: 64 frames at stride 1)
    defaults = (
        {"data_length": 16, "stride": 4, "spatial_size": 224}
        if pretraining
        else {"data_length": 64, "stride": 1, "spatial_size": 224}
    )
    opt = obj.get("opt")
    frames, stride, size = (int(getattr(opt, name, default)) for name, default in defaults.items())
    contract = InputContract(frames=frames, stride=stride, size=size, **IMAGENET)
    kind = (
        "VTDL pretraining checkpoint ('model', train_temporal_dis.py)"
        if pretraining
        else "VTDL finetuned model ('state_dict', trainer.py)"
    )
    return Release("vtdl", kind, found, {}, state, contract, heads, _epoch(obj))


# ---------------------------------------------------------------------------------------------
# TCE
# ---------------------------------------------------------------------------------------------

TCE_WRAPPERS = ("module.", "encoder.", "backbone.")
TCE_HEADS = ("fc_contrastive.", "fc_rotation_", "bn_rotation_", "fc.")
RESNET_DEPTHS = {
    ("basic", (2, 2, 2, 2)): "resnet18",
    ("basic", (3, 4, 6, 3)): "resnet34",
    ("bottleneck", (3, 4, 6, 3)): "resnet50",
    ("bottleneck", (3, 4, 23, 3)): "resnet101",
    ("bottleneck", (3, 8, 36, 3)): "resnet152",
}


def _tce_state(obj):
    raw = tensors_under(obj, "state_dict", "model")
    if raw is None:
        return None
    return {strip_prefix(k, TCE_WRAPPERS): v for k, v in raw.items()}


def resnet_depth(state: StateDict) -> Optional[str]:
    """The torchvision 2D ResNet whose blocks the keys hold (e.g. resnet50), or None."""
    conv1 = state.get("conv1.weight")
    if conv1 is None or conv1.dim() != 4:
        return None
    block = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
    counts = []
    for layer in range(1, 5):
        blocks = {int(m.group(1)) for k in state for m in [re.match(rf"layer{layer}\.(\d+)\.", k)] if m}
        counts.append(max(blocks) + 1 if blocks else 0)
    return RESNET_DEPTHS.get((block, tuple(counts)))


NOT_TCE = "a TCE ResNet file (no torchvision ResNet-18/34/50/101/152 keys found)"


def is_tce(obj: Any) -> bool:
    return identify(obj, _tce_state, resnet_depth)[1] is not None


def read_tce(obj: Any, path: str, arch: Optional[str] = None) -> Release:
    state, found = identified(obj, path, arch, _tce_state, resnet_depth, NOT_TCE)
    state, heads = split_heads(state, TCE_HEADS)
    heads = {"head": {p + k: v for p, s in heads.items() for k, v in s.items()}} if heads else {}
    contract = InputContract(frames=1, stride=1, size=224, **IMAGENET)
    return Release(
        "tce", "TCE release (PreTrainNet or ResNet state dict)", found, {}, state, contract, heads, _epoch(obj)
    )


# ---------------------------------------------------------------------------------------------
# torchvision's supervised Kinetics-400 weights
# ---------------------------------------------------------------------------------------------

KINETICS_MEAN_STD = {"mean": [0.43216, 0.394666, 0.37645], "std": [0.22803, 0.22145, 0.216989]}
# torchvision/models/video: resnet.py (16 frames at 15 fps, 112 px) and s3d.py (128 frames at 15 fps, 224 px);
# Kinetics is mostly 30 fps, hence stride 2.
TORCHVISION_WEIGHTS = {
    "r3d_18": ("R3D_18_Weights.KINETICS400_V1", InputContract(frames=16, stride=2, size=112, **KINETICS_MEAN_STD)),
    "r2plus1d_18": (
        "R2Plus1D_18_Weights.KINETICS400_V1",
        InputContract(frames=16, stride=2, size=112, **KINETICS_MEAN_STD),
    ),
    "s3d": ("S3D_Weights.KINETICS400_V1", InputContract(frames=128, stride=2, size=224, **KINETICS_MEAN_STD)),
}


def read_torchvision(name: str) -> Release:
    """``torchvision:<name>``: the supervised weights, from the torch hub cache or downloaded into it."""
    import torchvision

    arch = name[len(TORCHVISION_PREFIX) :]
    if arch not in TORCHVISION_WEIGHTS:
        raise UserError(
            f"{name}: torchvision's Kinetics-400 weights exist for "
            f"{', '.join(TORCHVISION_PREFIX + a for a in TORCHVISION_WEIGHTS)}"
        )
    weights_name, contract = TORCHVISION_WEIGHTS[arch]
    weights = torchvision.models.get_weight(weights_name)
    try:
        raw = weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad hash is a RuntimeError
        reason = str(err).splitlines()[0][:120]
        raise UserError(
            f"{name}: could not download {weights.url} into {torch.hub.get_dir()} ({reason}); "
            f"on a machine without internet, copy the file there"
        ) from None
    state, heads = split_heads(raw, ("fc.", "classifier."))
    classifier = next(iter(heads.values()), None)  # fc. (the ResNets) or classifier. (S3D)
    return Release(
        "torchvision",
        f"torchvision {weights_name} (supervised, Kinetics-400)",
        arch,
        {},
        state,
        contract,
        {"kinetics400_classifier": classifier} if classifier else {},
    )


# ---------------------------------------------------------------------------------------------
# dispatch
# ---------------------------------------------------------------------------------------------

READERS = {"tclr": (is_tclr, read_tclr), "vtdl": (is_vtdl, read_vtdl), "tce": (is_tce, read_tce)}


def detect_source(obj: Any) -> Optional[str]:
    """ "tclr", "vtdl" or "tce" from the content of a released file, or None."""
    return next((source for source, (matches, _) in READERS.items() if matches(obj)), None)


def describe_unknown(obj: Any) -> str:
    """What a file that is no known format holds, in one line."""
    if not isinstance(obj, dict):
        return f"a {type(obj).__name__}, not a dict"
    state = tensors_under(obj, "state_dict", "model", "model_state_dict", "net")
    top = ", ".join(list(map(str, obj))[:6])
    if state is None:
        return f"top-level keys {top}, no state dict among them"
    keys = ", ".join(list(state)[:3])
    return f"top-level keys {top}; {len(state)} tensors, first {keys}"


def read_release(obj: Any, path: str, source: str = "auto", arch: Optional[str] = None) -> Release:
    """The ``Release`` in a loaded file: ``source`` "auto" detects it."""
    if source == "auto":
        source = detect_source(obj)
        if source is None:
            raise UserError(
                f"{path}: not a known checkpoint format ({describe_unknown(obj)}); known: videossl, "
                f"TCLR, VTDL (I3D, R3D), TCE, CVRL (TensorFlow), {TORCHVISION_PREFIX}<name>"
            )
    if source not in READERS:
        raise UserError(f"unknown checkpoint format {source!r}: use auto, videossl, {', '.join(SOURCES)}")
    return READERS[source][1](obj, path, arch)
