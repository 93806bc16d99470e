"""Pictures of evaluation results."""

import os
from typing import Optional

import matplotlib
import numpy as np
from torch import Tensor

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from videossl.errors import VideoReadError  # noqa: E402
from videossl.video import open_video  # noqa: E402


def middle_frame(path: str, backend: str = "pyav") -> Optional[np.ndarray]:
    try:
        with open_video(path, backend) as reader:
            return reader.get_frames([reader.num_frames // 2])[0]
    except VideoReadError:
        return None


def retrieval_strip(
    queries: dict, gallery: dict, neighbours: Tensor, path: str, count: int = 6, top: int = 5, backend: str = "pyav"
) -> str:
    """Rows of [query | its ``top`` nearest training videos], middle frames, hits framed green and
    misses red. Queries are spread over the test set (every N-th) so that several classes show."""
    total = len(queries["labels"])
    count = min(count, total)
    rows = [round(i * (total - 1) / max(count - 1, 1)) for i in range(count)]
    top = min(top, neighbours.shape[1])
    fig, axes = plt.subplots(count, top + 1, figsize=(1.8 * (top + 1), 1.9 * count), squeeze=False)
    names = queries["class_names"]
    for r, q in enumerate(rows):
        label = int(queries["labels"][q])
        cells = [(queries["paths"][q], label, None)] + [
            (gallery["paths"][g], int(gallery["labels"][g]), int(gallery["labels"][g]) == label)
            for g in neighbours[q, :top].tolist()
        ]
        for c, (video, cls, hit) in enumerate(cells):
            ax = axes[r][c]
            frame = middle_frame(video, backend)
            if frame is not None:
                ax.imshow(frame)
            ax.set_xticks([]), ax.set_yticks([])
            colour = "black" if hit is None else ("green" if hit else "red")
            for spine in ax.spines.values():
                spine.set_color(colour)
                spine.set_linewidth(3 if hit is not None else 1)
            title = ("query: " if hit is None else f"{c}. ") + names[cls][:18]
            ax.set_title(title, fontsize=7, color=colour)
    fig.suptitle("test queries (left) and their nearest training videos: green = same class", fontsize=9)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
