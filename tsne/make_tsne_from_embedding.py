"""t-SNE plot of any N x D embedding array.

    cd tsne && python make_tsne_from_embedding.py --embeddings E.npy --output O.png [--labels L.npy]

PCA to at most 50 dimensions, then t-SNE. Points are coloured by --labels (N integers, with
--names for a legend) or, without labels, by row order (time, for a video's embeddings).
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from videossl.cli import ArgumentParser, run_cli
from videossl.errors import UserError
from videossl.eval.tsne import plot_by_group, plot_over_time, tsne_2d


def load_array(path, flag):
    if not os.path.exists(path):
        raise UserError(f"{flag} {path}: no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise UserError(f"{flag} {path}: not a NumPy .npy array ({err})") from None


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--embeddings", required=True, help="an N x D .npy array")
    parser.add_argument("--output", required=True, help="the PNG to write")
    parser.add_argument("--labels", default=None, help="N integer labels (.npy)")
    parser.add_argument("--names", default=None, help="comma-separated names of labels 0, 1, ...")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    embeddings = load_array(args.embeddings, "--embeddings")
    if embeddings.ndim != 2:
        raise UserError(f"--embeddings must be an N x D array, got shape {embeddings.shape}")
    points, kl = tsne_2d(embeddings, args.seed, args.perplexity)
    title = os.path.basename(args.embeddings)
    if args.labels:
        labels = load_array(args.labels, "--labels").astype(np.int64).reshape(-1)
        if len(labels) != len(embeddings):
            raise UserError(f"--labels has {len(labels)} entries for {len(embeddings)} embeddings")
        if labels.min() < 0:
            raise UserError("--labels must be non-negative integers")
        names = args.names.split(",") if args.names else [str(c) for c in range(labels.max() + 1)]
        if len(names) <= labels.max():
            raise UserError(f"--names gives {len(names)} names for labels up to {labels.max()}")
        plot_by_group(points, labels, names, args.output, f"t-SNE of {title}")
    else:
        plot_over_time(points, args.output, f"t-SNE of {title} (coloured by row)")
    print(f"{len(embeddings)} points, KL divergence {kl:.3f}\nwrote: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
