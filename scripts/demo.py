"""`make demo`: the whole pipeline on the synthetic motion dataset, with no download.

Stages built so far: generate the demo-scale synthetic dataset (cached between runs) and check
it (verified frame counts, no missing or unreadable videos). Pretraining (TCLR), the linear
probe, retrieval and the plots are the next issues of the tracker; this script says so plainly
rather than pretending.
"""

import os
import subprocess
import sys
import time

from videossl.data.synthetic import SyntheticConfig, generate_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO_DATA = os.path.join(ROOT, "data", "synthetic", "demo")
DEMO_CONFIG = SyntheticConfig(classes=10, videos_per_class=40, frames=32, width=64, height=64, seed=0)


def main():
    start = time.time()
    print("== 1. synthetic motion dataset (10 classes, 40 videos each, 32 frames of 64x64)")
    video_root, split_dir = generate_dataset(DEMO_DATA, DEMO_CONFIG)
    print(f"videos: {video_root}\nsplits: {split_dir}")
    print("\n== 2. dataset check")
    check = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "check_dataset.py"),
                            "--data_root", video_root, "--split_dir", split_dir, "--min_frames", "16"])
    if check.returncode != 0:
        return check.returncode
    print("\n== 3-6. pretraining, linear probe, retrieval, plots: not built yet (issues #3-#6 of the tracker)")
    print(f"\ndemo stages that exist finished in {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
