"""Re-encode a video dataset so that it decodes fast and seeks exactly, keeping layout and names.

    python scripts/prepare_videos.py --src_root data/UCF-101 --dst_root data/UCF-101-128 \
        [--short_side 128 --gop 8 --max_quantizer 4 --workers 8]

Every video under ``--src_root`` (any depth) is decoded exactly, resized to ``--short_side``
(never enlarged), and written to the same relative path under ``--dst_root`` as MPEG-4 Part 2
without B-frames and with a key frame every ``--gop`` frames (H.264 for .mp4 files), so readers
seek straight to the frames they need. Point ``--data_root`` at the new folder; the split lists
are unchanged. Unreadable videos are listed at the end (exit status 1), not copied.
"""

import os
import sys
from concurrent.futures import ProcessPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # this checkout's code, whatever else is installed
    sys.path.insert(0, ROOT)

from tqdm import tqdm  # noqa: E402

from videossl.cli import ArgumentParser, non_negative_int, positive_int, run_cli  # noqa: E402
from videossl.data.indexes import VIDEO_EXTENSIONS  # noqa: E402
from videossl.errors import UserError  # noqa: E402
from videossl.video.reencode import reencode_one  # noqa: E402


def find_videos(root):
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                yield os.path.relpath(os.path.join(folder, name), root)


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--src_root", required=True)
    parser.add_argument("--dst_root", required=True)
    parser.add_argument("--short_side", type=positive_int, default=128)
    parser.add_argument("--gop", type=positive_int, default=8, help="frames between key frames")
    parser.add_argument("--max_quantizer", type=positive_int, default=4, help="MPEG-4 quality cap, 2 (best) to 31")
    parser.add_argument("--workers", type=non_negative_int, default=os.cpu_count())
    parser.add_argument("--overwrite", action="store_true", help="re-encode files that already exist")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.src_root):
        raise UserError(f"--src_root {args.src_root!r} is not a folder")
    if os.path.abspath(args.src_root) == os.path.abspath(args.dst_root):
        raise UserError("--dst_root must differ from --src_root")
    rels = list(find_videos(args.src_root))
    if not rels:
        raise UserError(f"no videos under {args.src_root}")
    jobs = [
        (os.path.join(args.src_root, r), os.path.join(args.dst_root, r), args.short_side, args.gop, args.max_quantizer)
        for r in rels
        if args.overwrite or not os.path.exists(os.path.join(args.dst_root, r))
    ]
    failed = []
    with ProcessPoolExecutor(max(1, args.workers)) as pool:
        for src, _, error in tqdm(
            pool.map(reencode_one, jobs, chunksize=4), total=len(jobs), desc="re-encoding", unit="video"
        ):
            if error:
                failed.append(f"{src}: {error}")
    print(f"wrote {len(jobs) - len(failed)} videos to {args.dst_root} ({len(rels) - len(jobs)} already there)")
    if failed:
        print(f"{len(failed)} videos could not be read:", *failed[:20], sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_cli(main)
