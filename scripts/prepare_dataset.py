"""Unpack the official UCF101 or HMDB51 archives into the layout the tools expect.

    python scripts/prepare_dataset.py --dataset ucf101 --archive UCF101.rar --out /data/UCF101
        -> /data/UCF101/UCF-101/<Class>/v_<Class>_gXX_cYY.avi, /data/UCF101/ucfTrainTestlist/*.txt
    python scripts/prepare_dataset.py --dataset hmdb51 --archive hmdb51_org.rar --out /data/HMDB51
        -> /data/HMDB51/videos/<class>/*.avi (the 51 inner archives unpacked), /data/HMDB51/splits/*.txt

The split lists are the official ones shipped in data/splits/ (byte for byte); --splits_archive
unpacks the official split archive instead. .rar needs one of `unrar`, `7z` or `bsdtar` on the
PATH (e.g. `apt install unrar` or `conda install -c conda-forge p7zip`). Every tool then takes the
--out folder as --data_root (it finds the videos and the split lists inside it); check the result:

    python scripts/check_dataset.py --dataset ucf101 --data_root /data/UCF101
"""

import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from videossl.cli import ArgumentParser, run_cli  # noqa: E402
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


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True, choices=sorted(LAYOUT))
    parser.add_argument("--archive", required=True, help="UCF101.rar or hmdb51_org.rar")
    parser.add_argument("--splits_archive", default=None, help="the official split archive (default: data/splits/)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    args.archive = os.path.abspath(args.archive)
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
