"""Loader workers forked after this process used OpenCV's thread pool must not hang (setting
OpenCV's thread count inside such a worker deadlocked it). Run in a subprocess with a timeout, so
that a hang fails the test instead of the suite."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent(
    """
    import cv2, numpy as np, torch
    from torch.utils.data import DataLoader
    from videossl.data.dataset import worker_options

    class Blurred(torch.utils.data.Dataset):
        def __len__(self):
            return 4
        def __getitem__(self, i):
            image = np.full((512, 512, 3), i, np.uint8)
            return torch.from_numpy(cv2.GaussianBlur(image, (31, 31), 5)[:1, :1, 0].copy())

    cv2.setNumThreads(2)
    Blurred()[0]  # this process uses OpenCV's thread pool first (a workers=0 loader, a kNN monitor, ...)
    loader = DataLoader(Blurred(), batch_size=2, **worker_options(1))
    print(sum(len(batch) for batch in loader))
    """
)


def test_workers_forked_after_opencv_threads_were_used_do_not_hang():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": REPO},
    )
    assert result.returncode == 0 and result.stdout.strip() == "4", result.stderr[-1000:]
