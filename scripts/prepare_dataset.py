"""Unpack the official archives of UCF101, HMDB51 and the SEVERE suite's datasets into the layout the
tools expect.

    python scripts/prepare_dataset.py --dataset ucf101 --archive UCF101.rar --out /data/UCF101
        -> /data/UCF101/UCF-101/<Class>/v_<Class>_gXX_cYY.avi, /data/UCF101/ucfTrainTestlist/*.txt
    python scripts/prepare_dataset.py --dataset hmdb51 --archive hmdb51_org.rar --out /data/HMDB51
        -> /data/HMDB51/videos/<class>/*.avi (the 51 inner archives unpacked), /data/HMDB51/splits/*.txt

The split lists are the official ones shipped in data/splits/ (byte for byte); --splits_archive
unpacks the official split archive instead. .rar needs one of `unrar`, `7z` or `bsdtar` on the
PATH (e.g. `apt install unrar` or `conda install -c conda-forge p7zip`). Every tool then takes the
--out folder as --data_root (it finds the videos and the split lists inside it); check the result:

    python scripts/check_dataset.py --dataset ucf101 --data_root /data/UCF101

The SEVERE suite's datasets that come as archives: their videos (--archive, repeatable; the
numbered parts of a split .tar.gz, e.g. SS-v2's 20bn-something-something-v2-00 to -19, served as
they are or each in a .zip, are read as one stream in name order) go to <out>/videos/, their
annotation files (--annotations, archives or the files themselves) to <out>/annotations/:

    python scripts/prepare_dataset.py --dataset charades --out /data/severe/charades \
        --archive Charades_v1_480.zip --annotations Charades.zip
    python scripts/prepare_dataset.py --dataset ssv2 --out /data/severe/ssv2 \
        --archive 20bn-something-something-v2-* --annotations 20bn-something-something-download-package-labels.zip
    python scripts/prepare_dataset.py --dataset diving48 --out /data/severe/diving48 \
        --archive Diving48_rgb.tar.gz --annotations Diving48_V2_*.json Diving48_vocab.json
    python scripts/prepare_dataset.py --dataset ntu60 --out /data/severe/ntu60 \
        --archive nturgbd_rgb_s00?.zip nturgbd_rgb_s01[0-7].zip      # setups 1-17, not NTU-120's 18-32

FineGym has no archive: its element clips are cut from YouTube videos with FineGym's own tools.
"""

import glob
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from videossl.cli import ArgumentParser, run_cli  # noqa: E402
from videossl.data.indexes import VIDEO_EXTENSIONS, build_index  # noqa: E402
from videossl.errors import UserError  # noqa: E402

LAYOUT = {"ucf101": ("UCF-101", "ucfTrainTestlist"), "hmdb51": ("videos", "splits")}
RAR_TOOLS = (
    ["unrar", "x", "-o+", "-idq", "{archive}", "{out}/"],
    ["7z", "x", "-y", "-bd", "-o{out}", "{archive}"],
    ["bsdtar", "-xf", "{archive}", "-C", "{out}"],
)


def unpack(archive, out):
    """Unpack ``archive`` (.rar, .zip, .tar.*) into ``out``."""
    if not os.path.isfile(archive):
        raise UserError(f"{archive}: no such archive")
    os.makedirs(out, exist_ok=True)
    if not archive.lower().endswith(".rar"):
        shutil.unpack_archive(archive, out)
        return
    for tool in RAR_TOOLS:
        if shutil.which(tool[0]):
            command = [part.format(archive=archive, out=out) for part in tool]
            if subprocess.run(command).returncode != 0:
                raise UserError(f"{tool[0]} could not unpack {archive}")
            return
    raise UserError("unpacking .rar needs unrar, 7z or bsdtar on the PATH (apt install unrar)")


def find_folder(top, name):
    """The folder called ``name`` under ``top`` (archives differ in their top-level folders)."""
    for folder, subfolders, _ in os.walk(top):
        if name in subfolders:
            return os.path.join(folder, name)
    return None


def prepare_ucf101(args, videos, splits):
    staging = os.path.join(args.out, ".unpacking")
    unpack(args.archive, staging)
    found = find_folder(staging, "UCF-101")
    if found is None:
        raise UserError(f"{args.archive}: no UCF-101 folder inside; is it the official UCF101.rar?")
    shutil.rmtree(videos, ignore_errors=True)
    os.replace(found, videos)
    shutil.rmtree(staging, ignore_errors=True)
    copy_splits(args, "ucf101", splits, "ucfTrainTestlist")


def prepare_hmdb51(args, videos, splits):
    staging = os.path.join(args.out, ".unpacking")
    unpack(args.archive, staging)
    inner = sorted(glob.glob(os.path.join(staging, "**", "*.rar"), recursive=True))
    if len(inner) != 51:
        raise UserError(f"{args.archive}: expected the 51 per-class archives inside, found {len(inner)}")
    os.makedirs(videos, exist_ok=True)
    for archive in inner:  # each <class>.rar holds a <class>/ folder of .avi files
        unpack(archive, videos)
    shutil.rmtree(staging, ignore_errors=True)
    copy_splits(args, "hmdb51", splits, "testTrainMulti_7030_splits")


def copy_splits(args, dataset, splits, archive_folder):
    shutil.rmtree(splits, ignore_errors=True)
    if args.splits_archive:
        staging = os.path.join(args.out, ".splits")
        unpack(args.splits_archive, staging)
        found = find_folder(staging, archive_folder)
        if found is None:
            raise UserError(f"{args.splits_archive}: no {archive_folder} folder inside")
        os.replace(found, splits)
        shutil.rmtree(staging, ignore_errors=True)
    else:
        shutil.copytree(os.path.join(ROOT, "data", "splits", dataset), splits)


# the annotation files each suite dataset needs (found by name anywhere in what --annotations gives)
SUITE_ANNOTATIONS = {
    "ssv2": ("something-something-v2-labels.json", "something-something-v2-train.json",
             "something-something-v2-validation.json"),
    "diving48": ("Diving48_V2_train.json", "Diving48_V2_test.json", "Diving48_vocab.json"),
    "charades": ("Charades_v1_train.csv", "Charades_v1_test.csv", "Charades_v1_classes.txt"),
    "ntu60": (),
}  # fmt: skip
# other names of the same files: the newer SS-v2 download package's labels/ folder
ANNOTATION_ALIASES = {
    "something-something-v2-labels.json": "labels.json",
    "something-something-v2-train.json": "train.json",
    "something-something-v2-validation.json": "validation.json",
}
ARCHIVE = re.compile(r"\.(zip|rar|tar|tgz|tar\.gz|tar\.bz2|tar\.xz)$", re.IGNORECASE)


PART = re.compile(r"-\d{2}$")  # 20bn-something-something-v2-00: a part of a split .tar.gz


class JoinedFiles(io.RawIOBase):
    """The bytes of several files, one after another: the parts of a split archive as one stream.
    ``parts``: callables that open each part (a file, or a member of a zip holding a part)."""

    def __init__(self, parts):
        self.parts, self.current = list(parts), None

    def readable(self):
        return True

    def readinto(self, buffer):
        while len(buffer):
            if self.current is None:
                if not self.parts:
                    return 0
                self.current = self.parts.pop(0)()
            n = self.current.readinto(buffer) if hasattr(self.current, "readinto") else None
            if n is None:  # a zip member: read() only
                data = self.current.read(len(buffer))
                n = len(data)
                buffer[:n] = data
            if n:
                return n
            self.current.close()
            self.current = None
        return 0

    def close(self):
        if self.current is not None:
            self.current.close()
            self.current = None
        super().close()


def split_parts(archives):
    """(whole archives, [(name, opener)] of the parts of a split tar stream in name order): a part is
    a file named ``*-NN`` or a zip holding only such files (how SS-v2's parts are served)."""
    whole, parts = [], []
    for archive in archives:
        if PART.search(archive):
            parts.append((os.path.basename(archive), lambda path=archive: open(path, "rb")))
            continue
        if archive.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                members = [m for m in z.namelist() if not m.endswith("/")]
            if members and all(PART.search(m) for m in members):
                parts += [(os.path.basename(m), lambda a=archive, m=m: zipfile.ZipFile(a).open(m)) for m in members]
                continue
        whole.append(archive)
    return whole, sorted(parts, key=lambda part: part[0])


def unpack_parts(parts, out):
    """The parts of one split tar archive, streamed in order into ``out`` (nothing joined on disk)."""
    joined = JoinedFiles(opener for _, opener in parts)
    names = ", ".join(name for name, _ in parts)
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with io.BufferedReader(joined) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
            tar.extractall(out, **safe)
            for _ in tar:  # the rest of the stream: a truncated part raises here
                pass
            unread = len(joined.parts)
    except (tarfile.TarError, EOFError, OSError, zipfile.BadZipFile) as err:
        raise UserError(f"{names}: not the complete parts of one tar archive ({err})") from None
    if unread:
        raise UserError(f"{names}: the archive ended before its last {unread} part(s); is a part damaged?")


def gather_annotations(dataset, sources, out):
    """The dataset's annotation files from ``sources`` (archives or files) into ``out``."""
    staging = os.path.join(out, ".unpacking")
    shutil.rmtree(staging, ignore_errors=True)  # a failed earlier run's
    os.makedirs(staging)
    try:
        for source in sources:
            if ARCHIVE.search(source):
                unpack(source, staging)
            else:
                shutil.copy(source, staging)
        found = {name: os.path.join(folder, name) for folder, _, names in os.walk(staging) for name in names}
        for name, alias in ANNOTATION_ALIASES.items():  # renamed to the names the index reads
            if name in SUITE_ANNOTATIONS[dataset] and name not in found and alias in found:
                found[name] = found[alias]
        missing = [name for name in SUITE_ANNOTATIONS[dataset] if name not in found]
        if missing:
            raise UserError(f"--annotations: {', '.join(missing)} not found in {', '.join(sources) or 'nothing'}")
        for name in SUITE_ANNOTATIONS[dataset]:
            os.replace(found[name], os.path.join(out, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def prepare_suite_dataset(args):
    """Annotation files to <out>/annotations (first: a missing one stops before hours of unpacking),
    videos to <out>/videos; then each subset's counts (exit 1 when a subset has no video)."""
    archives = [os.path.abspath(a) for a in args.archive]
    notes = [os.path.abspath(a) for a in args.annotations]
    absent = [path for path in archives + notes if not os.path.isfile(path)]
    if absent:
        raise UserError(f"{absent[0]}: no such file")
    gather_annotations(args.dataset, notes, os.path.join(args.out, "annotations"))
    videos = os.path.join(args.out, "videos")
    whole, parts = split_parts(archives)
    for archive in whole:
        unpack(archive, videos)
    if parts:
        unpack_parts(parts, videos)
    count = sum(1 for _, _, names in os.walk(videos) for n in names if n.lower().endswith(VIDEO_EXTENSIONS))
    print(f"{count} videos in {videos}")
    status = 0
    for subset in ("train", "test"):
        try:
            index = build_index(args.dataset, args.out, args.out, 1, subset, skip_missing=True)
        except UserError as err:  # e.g. no video of the subset unpacked yet
            print(f"{subset}: {err}")
            status = 1
            continue
        print(f"{subset}: {len(index)} videos listed and found, {len(index.missing)} listed but not found")
    print(f"next: python scripts/check_dataset.py --dataset {args.dataset} --data_root {args.out}")
    return status


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=sorted(LAYOUT) + sorted(SUITE_ANNOTATIONS))
    parser.add_argument(
        "--archive",
        required=True,
        nargs="+",
        action="extend",
        help="UCF101.rar, hmdb51_org.rar, or a suite dataset's video archives (or the parts of a split one)",
    )
    parser.add_argument(
        "--annotations", nargs="+", action="extend", default=[], help="a suite dataset's annotation archives or files"
    )
    parser.add_argument("--splits_archive", default=None, help="the official split archive (default: data/splits/)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.dataset in SUITE_ANNOTATIONS:
        return prepare_suite_dataset(args)
    if len(args.archive) != 1:
        raise UserError(f"--dataset {args.dataset} takes one --archive, got {len(args.archive)}")
    args.archive = os.path.abspath(args.archive[0])
    videos, splits = (os.path.join(args.out, name) for name in LAYOUT[args.dataset])
    (prepare_ucf101 if args.dataset == "ucf101" else prepare_hmdb51)(args, videos, splits)
    count = len(glob.glob(os.path.join(videos, "*", "*.avi")))
    print(
        f"{count} videos in {videos}\nsplit lists in {splits}\nnext: python scripts/check_dataset.py "
        f"--dataset {args.dataset} --data_root {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
