"""What a path given as a checkpoint is, before anything tries to unpickle it.

A failed download is the first thing many users meet: an empty or truncated file, a web page
(Google Drive answers large files with a confirmation page), a Git LFS pointer, or half of a
TensorFlow checkpoint. Each gets one line that names what the file is and what to do, instead of
an unpickler's error or a suggestion to trust the file. A folder is resolved to the checkpoint in
it, or its checkpoints are listed.
"""

import glob
import os
import re
import sys
import zipfile
from typing import Optional

from videossl.errors import UserError

REDOWNLOAD = "the download or copy did not complete: download the file again"
# What the tools save and what the authors' releases are called (.pth.tar ends in .tar).
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".tar", ".ckpt", ".bin")
# A run folder holds these; the first one present is what a user means by the folder.
RUN_FOLDER_CHOICES = ("last.pt", "best.pt")
TF_DATA_SHARD = re.compile(r"^(?P<prefix>.+)\.data-(?P<shard>\d{5})-of-(?P<count>\d{5})$")
HEAD_BYTES = 1024


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def checkpoint_path(path: str) -> str:
    """The file or TensorFlow prefix to read for ``path``; a folder becomes the checkpoint in it.
    Raises ``UserError`` for a path that cannot hold a checkpoint."""
    if path.endswith(".index") or TF_DATA_SHARD.match(path):
        return tf_prefix(path)
    if os.path.isdir(path):
        return checkpoint_in_folder(path)
    if not os.path.exists(path):
        if os.path.isfile(path + ".index") or glob.glob(glob.escape(path) + ".data-*"):
            return tf_prefix(path)
        raise UserError(f"checkpoint not found: {path}")
    check_file_content(path)
    return path


def tf_prefix(path: str) -> str:
    """The prefix of a TensorFlow checkpoint named by its prefix, its ``.index`` or a data shard,
    after checking that the index and every data shard are there."""
    match = TF_DATA_SHARD.match(path)
    prefix = match["prefix"] if match else path[: -len(".index")] if path.endswith(".index") else path
    problem = tf_checkpoint_problem(prefix)
    if problem:
        raise UserError(f"{path}: {problem}")
    return prefix


def tf_checkpoint_problem(prefix: str) -> Optional[str]:
    """What is missing of the TensorFlow checkpoint ``prefix`` (None: nothing)."""
    shards = sorted(glob.glob(glob.escape(prefix) + ".data-*-of-*"))
    has_index = os.path.isfile(prefix + ".index")
    if not has_index and not shards:
        return "no TensorFlow checkpoint here (neither its .index nor its .data files)"
    if not has_index:
        return (
            f"a TensorFlow checkpoint needs {os.path.basename(prefix)}.index beside its .data file(s); "
            f"download the .index file too and pass the prefix {prefix}"
        )
    if not shards:
        return (
            f"a TensorFlow checkpoint needs its .data-00000-of-0000N file(s) beside {os.path.basename(prefix)}.index; "
            f"download them too and pass the prefix {prefix}"
        )
    count = int(TF_DATA_SHARD.match(shards[0])["count"])
    present = {int(TF_DATA_SHARD.match(s)["shard"]) for s in shards if TF_DATA_SHARD.match(s)}
    missing = [f"{prefix}.data-{i:05d}-of-{count:05d}" for i in range(count) if i not in present]
    if missing:
        return f"{len(missing)} of the TensorFlow checkpoint's {count} data files are missing (first: {missing[0]})"
    return None


def checkpoint_in_folder(folder: str) -> str:
    """A TensorFlow checkpoint folder as it is; a run folder's ``last.pt`` (or ``best.pt``), or
    the folder's only checkpoint file, with a note saying which; otherwise the candidates."""
    indexes = sorted(glob.glob(os.path.join(glob.escape(folder), "*.index")))
    if indexes or os.path.isfile(os.path.join(folder, "checkpoint")):
        problems = [tf_checkpoint_problem(i[: -len(".index")]) for i in indexes]
        if indexes and all(problems):
            raise UserError(f"{folder}: {problems[-1]}")
        return folder
    files = sorted(
        (os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(CHECKPOINT_SUFFIXES)),
        key=os.path.getmtime,
        reverse=True,
    )
    files = [f for f in files if os.path.isfile(f)]
    chosen = next((os.path.join(folder, n) for n in RUN_FOLDER_CHOICES if os.path.join(folder, n) in files), None)
    if chosen is None and len(files) == 1:
        chosen = files[0]
    if chosen is not None:
        others = len(files) - 1
        note(
            f"{folder} is a folder; using {os.path.basename(chosen)}"
            + (f" ({others} other checkpoint file(s) there: pass one by name to use it)" if others else "")
        )
        return checkpoint_path(chosen)
    if not files:
        raise UserError(
            f"{folder}: a folder with no checkpoint in it (no {', '.join(CHECKPOINT_SUFFIXES)} file, "
            f"no TensorFlow checkpoint); pass the checkpoint file itself"
        )
    names = ", ".join(os.path.basename(f) for f in files[:5]) + (", ..." if len(files) > 5 else "")
    raise UserError(f"{folder}: a folder with {len(files)} checkpoints, newest first: {names}; pass one of them")


def check_file_content(path: str) -> None:
    """Raise ``UserError`` naming what ``path`` is when its first bytes show it is no PyTorch
    checkpoint (zip or pickle); a plausible checkpoint passes."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
    problem = content_problem(path, head, size)
    if problem:
        raise UserError(f"{path}: {problem}")


def content_problem(path: str, head: bytes, size: int) -> Optional[str]:
    if size == 0:
        return f"an empty file (0 bytes), not a checkpoint: {REDOWNLOAD}"
    if head.startswith(b"PK\x03\x04"):
        return zip_problem(path, size)
    if head.startswith(b"\x80") and len(head) > 1 and 2 <= head[1] <= 5:
        return None  # a pickle: torch's legacy format, or an older release
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy array file (.npy), not a checkpoint: features or embeddings, not model weights"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (Keras .h5 weights?), not a PyTorch or TensorFlow checkpoint"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive, not a checkpoint: unpack it first (tar -xzf) and pass the file inside"
    text = as_text(head)
    if text is None:
        return (
            f"not a checkpoint: its first bytes match no known format (a PyTorch zip or pickle file, a "
            f"TensorFlow checkpoint); {size:,} bytes, beginning {head[:8].hex(' ')}. Is it damaged?"
        )
    if text.startswith("version https://git-lfs"):
        return (
            "a Git LFS pointer (a small text file that stands for the real file), not the checkpoint: "
            "run `git lfs pull` in the repository it came from, or download the file from its release page"
        )
    lowered = text.lstrip().lower()
    if lowered.startswith(("<!doctype html", "<html", "<head", "<?xml")) or "<html" in lowered[:512]:
        return (
            "a web page (HTML), not a checkpoint: the download did not complete (Google Drive and other "
            "hosts answer with a page for large files, e.g. a virus-scan warning); open the link in a "
            "browser and save the file it offers"
        )
    first = " ".join(text.strip().split())[:60]
    return f"a text file, not a checkpoint (it begins: {first!r}); pass the downloaded .pth/.pt file"


def as_text(head: bytes) -> Optional[str]:
    """``head`` as text when it reads as text (UTF-8, no control bytes besides white space)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # the cut at HEAD_BYTES may split a character
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in text):
        return None
    return text


def zip_problem(path: str, size: int) -> Optional[str]:
    """PyTorch's format is a zip archive holding ``<name>/data.pkl``."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return f"a truncated or damaged zip archive ({size:,} bytes; PyTorch saves zip archives): {REDOWNLOAD}"
    if any(n.endswith("data.pkl") for n in names):
        return None
    if names and all(n.endswith(".npy") for n in names):
        return "a NumPy archive (.npz), not a checkpoint: features or embeddings, not model weights"
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return f"a zip archive that is not a PyTorch checkpoint (it holds {shown or 'nothing'}): unpack it first"
