"""One checkpoint format for every method, loadable with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts::

    format            "videossl-checkpoint"
    format_version    1
    method            "tclr" | "cvrl" | "vtdl" | "tce" | "supervised" | an official source ("tclr-official", ...)
    backbone          {"name", "config" (constructor kwargs), "state_dict" (no "module." prefixes)}
    heads             {head name: state_dict}
    input_contract    InputContract.to_dict(): frames, stride, size, channel order, value range, mean/std, ...
    config            the run's arguments (JSON-able)
    epoch, step       completed epochs and optimiser steps
    training_state    optional: optimizer, scheduler, scaler, rng (what --restart needs)
    precision         optional: what the run computed in low precision and what it kept in fp32

Writes are atomic (a temporary file in the same folder, fsync, rename), so a crash mid-write never
leaves a truncated checkpoint under the real name. Files in other formats (the authors' releases)
are converted on load by ``videossl.models.convert``; a file that needs full unpickling is
refused unless the caller passes ``trust=True`` (``--trust_checkpoint``).
"""

import argparse
import os
import pickle
import re
import sys
import zipfile
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Optional

import torch

from videossl.atomic import atomic_open
from videossl.data.input_contract import InputContract
from videossl.errors import UserError
from videossl.models.backbones import build_backbone
from videossl.models.checkpoint_files import check_file_content, checkpoint_path

if TYPE_CHECKING:  # convert builds on this module
    from videossl.models.convert import Release

FORMAT = "videossl-checkpoint"
FORMAT_VERSION = 1
REQUIRED_KEYS = ("method", "backbone", "input_contract")
TRUST_HINT = "pass --trust_checkpoint only if you trust where the file comes from"


class YacsConfigNode:
    """Stands in for ``yacs.config.CfgNode`` in the safe load (TCE's pretrain.py saves its yacs
    config beside the weights). A node loads as an OrderedDict, the mapping torch's safe unpickler
    fills, so nothing of yacs is imported or run; ``plain_data`` then makes it a dict."""

    def __new__(cls, *args: Any) -> OrderedDict:
        node = OrderedDict()
        vars(node)[YACS_NODE] = True
        return node


YacsConfigNode.__module__, YacsConfigNode.__name__, YacsConfigNode.__qualname__ = "yacs.config", "CfgNode", "CfgNode"
YACS_NODE = "_videossl_yacs_node"
# Classes that released checkpoints hold besides tensors, allowed by name in the safe load (nothing
# else is): VTDL's train_temporal_dis.py saves its argparse options under 'opt', TCE's pretrain.py
# its yacs config under 'config'.
SAFE_RELEASE_CLASSES = [argparse.Namespace, YacsConfigNode]


def plain_data(obj: Any) -> Any:
    """``obj`` with every loaded yacs node made a plain dict (containers are walked, tensors kept)."""
    if isinstance(obj, OrderedDict) and vars(obj).get(YACS_NODE):
        return {key: plain_data(value) for key, value in obj.items()}
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, (dict, list)):
                obj[key] = plain_data(value)
    elif isinstance(obj, list):
        return [plain_data(value) for value in obj]
    return obj


# torch's weights-only unpickler names the class a file asks for: "Unsupported global: GLOBAL a.B"
UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def make_checkpoint(
    method: str,
    backbone: torch.nn.Module,
    input_contract: InputContract,
    heads: Optional[dict] = None,
    config: Optional[dict] = None,
    epoch: int = 0,
    step: int = 0,
    training_state: Optional[dict] = None,
    precision: Optional[dict] = None,
) -> dict:
    """The checkpoint dict for a backbone module (``build_backbone`` output, possibly DDP-wrapped)."""
    backbone = unwrap(backbone)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "method": method,
        "backbone": {"name": backbone.name, "config": dict(backbone.config), "state_dict": backbone.state_dict()},
        "heads": {name: unwrap(head).state_dict() for name, head in (heads or {}).items()},
        "input_contract": input_contract.to_dict(),
        "config": dict(config or {}),
        "epoch": int(epoch),
        "step": int(step),
        "training_state": training_state,
        "precision": precision,
    }


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The module inside DDP/DataParallel (whose state-dict keys carry ``module.``)."""
    return module.module if hasattr(module, "module") and isinstance(module, torch.nn.Module) else module


def save_checkpoint(checkpoint: dict, path: str) -> str:
    """Atomic write: ``path`` is either the old file or the complete new one, never a partial one."""
    return atomic_torch_save(checkpoint, path)


def atomic_torch_save(obj: Any, path: str) -> str:
    """``torch.save`` through ``videossl.atomic``: ``path`` is the old file or the complete new one."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)
    return path


def read_checkpoint_file(path: str, trust: bool = False) -> Any:
    """The raw object in ``path``, loaded with ``weights_only=True`` unless ``trust`` is given."""
    if not os.path.isfile(path):
        raise UserError(f"checkpoint not found: {path}")
    check_file_content(path)
    try:
        with torch.serialization.safe_globals(SAFE_RELEASE_CLASSES):
            return plain_data(torch.load(path, map_location="cpu", weights_only=True))
    except pickle.UnpicklingError as err:
        held = UNSUPPORTED_GLOBAL.search(str(err))
        if held is None:  # not an object outside the allowlist: a damaged pickle
            raise UserError(
                f"{path}: not a readable checkpoint (damaged or truncated?): {unpickling_detail(err)}"
            ) from None
        if not trust:
            raise UserError(
                f"{path}: refused, it holds Python objects ({held[1]}) that only full unpickling can load, "
                f"and full unpickling can run code from the file; {TRUST_HINT}"
            ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise UserError(
            f"{path}: not a readable checkpoint (damaged or truncated?): {str(err).splitlines()[0][:200]}"
        ) from None
    # reached only with trust=True: the user vouched for the file with --trust_checkpoint
    print(
        f"warning: {path} needs full unpickling, which can run code from the file; loading it because "
        f"--trust_checkpoint was given",
        file=sys.stderr,
    )
    try:
        return torch.load(path, map_location="cpu", weights_only=False)  # trusted: --trust_checkpoint
    except Exception as err:  # noqa: BLE001 - any failure of a full unpickling is one line for the user
        raise UserError(f"{path}: not a readable checkpoint: {type(err).__name__}: {err}") from None


def unpickling_detail(err: Exception) -> str:
    """The line of torch's weights-only error that says what went wrong (it leads with advice)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    detail = next((line for line in lines if line.startswith(("Unsupported", "WeightsUnpickler"))), lines[0])
    return detail[:200]


def is_videossl_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def read_release_file(
    path: str, trust: bool = False, source: str = "auto", arch: Optional[str] = None
) -> tuple["Release", Optional[dict]]:
    """(``Release``, the checkpoint dict when ``path`` already is a videossl checkpoint, else None).

    ``path``: a file, a TensorFlow checkpoint prefix or folder (CVRL), or ``torchvision:<name>``.
    ``source``: "auto" (detect), "videossl", "tclr", "vtdl", "tce" or "cvrl"; ``arch`` is checked
    against the architecture a release's keys hold."""
    from videossl.models import convert, convert_tf  # both build on this module

    if path.startswith(convert.TORCHVISION_PREFIX):
        return convert.read_torchvision(path), None
    path = checkpoint_path(path)
    if source == "cvrl" or convert_tf.is_tf_checkpoint(path):
        return convert_tf.read_cvrl(path, arch), None
    obj = read_checkpoint_file(path, trust=trust)
    if is_videossl_checkpoint(obj):
        if source not in ("auto", "videossl"):
            raise UserError(
                f"{path}: is already a videossl checkpoint (method {obj.get('method')}), not a {source} release"
            )
        obj = check_videossl_checkpoint(obj, path)
        return convert.videossl_release(obj), obj
    if source == "videossl":
        raise UserError(f"{path}: not a videossl checkpoint")
    return convert.read_release(obj, path, source=source, arch=arch), None


def load_checkpoint(path: str, trust: bool = False, source: str = "auto", arch: Optional[str] = None) -> dict:
    """A checkpoint in this project's format, converting the authors' released files on the way
    (arguments as ``read_release_file``)."""
    from videossl.models.convert import to_checkpoint

    release, checkpoint = read_release_file(path, trust=trust, source=source, arch=arch)
    return checkpoint if checkpoint is not None else to_checkpoint(release, path)


def check_videossl_checkpoint(obj: dict, path: str) -> dict:
    version = obj.get("format_version")
    if version != FORMAT_VERSION:
        raise UserError(f"{path}: checkpoint format version {version}, this code reads {FORMAT_VERSION}")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    backbone = obj.get("backbone")
    if not missing and not (isinstance(backbone, dict) and {"name", "config", "state_dict"} <= set(backbone)):
        missing = ["backbone name/config/state_dict"]
    if missing:
        raise UserError(f"{path}: not a complete videossl checkpoint (missing {', '.join(missing)})")
    return obj


def load_state_strict(module: torch.nn.Module, state_dict: dict, what: str, path: str = "") -> None:
    """``load_state_dict(strict=True)`` with a one-line message instead of a page of keys."""
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    wrong = [k for k in own if k in state_dict and tuple(own[k].shape) != tuple(state_dict[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {', '.join(unexpected[:3])})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} with other shapes (first: {k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)})"
            )
        raise UserError(f"{path + ': ' if path else ''}{what} does not match its architecture: {'; '.join(parts)}")
    module.load_state_dict(state_dict, strict=True)


def backbone_from_checkpoint(checkpoint: dict, path: str = "") -> torch.nn.Module:
    spec = checkpoint["backbone"]
    backbone = build_backbone(spec["name"], **spec["config"])
    load_state_strict(backbone, spec["state_dict"], f"backbone {spec['name']}", path)
    return backbone


def load_backbone(
    path: str, trust: bool = False, source: str = "auto", arch: Optional[str] = None
) -> tuple[torch.nn.Module, InputContract, dict]:
    """(backbone with its weights, InputContract, checkpoint) from the file alone."""
    checkpoint = load_checkpoint(path, trust=trust, source=source, arch=arch)
    backbone = backbone_from_checkpoint(checkpoint, path)
    return backbone, InputContract.from_dict(checkpoint["input_contract"]), checkpoint
