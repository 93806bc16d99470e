"""t-SNE of any checkpoint's embeddings: over time for videos, or one point per video of a dataset.

    cd tsne && python make_tsne.py --saved_model PATH --input VIDEO --output OUT.png
    cd tsne && python make_tsne.py --vid --input VIDEO --output OUT.mp4 --saved_model PATH
    cd tsne && python make_tsne.py --ckpt PATH --model resnet50 --input V1 V2 --output OUT.png
    cd tsne && python make_tsne.py --saved_model PATH --dataset ucf101 --data_root ... --output OUT.png

With --input (video files or frame folders): an embedding every --step frames, from the clip
centred on that frame as the checkpoint's input contract says (a single frame for 2D backbones);
PCA, then t-SNE. One input: a PNG coloured by time; several: coloured by input, with a legend.
--vid also writes an MP4 with the video on the left and the embedding trajectory growing on the
right, one output frame per input frame (the PNG goes next to it).
Without --input: one point per video of the --subset split (mean over --num_clips clips, the
shared cached features), coloured by class.
--space embedding (the default for TCE checkpoints, as TCE's own t-SNE) maps the pooled feature
through the checkpoint's 128-d embedding head and L2-normalises it, and PCA keeps the components
that explain --pca_variance (default 0.85 there) of the variance; --space backbone (the default
for every other checkpoint) uses the pooled backbone feature and PCA to 50 dimensions.
Writes the picture(s), <name>_embeddings.npy (the N x D embeddings, for
make_tsne_from_embedding.py) and results.json next to --output (default: tsne/results/<run_id>/).
"""

import os
import sys
import time

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np

from videossl.cli import run_cli
from videossl.engine.training import resolve_device
from videossl.errors import UserError
from videossl.eval.common import evaluation_parser, load_model_for_eval, print_table, subset_features, write_results
from videossl.eval.features import pooled
from videossl.eval.tsne import (
    embed,
    embed_video_over_time,
    linear_embedding_head,
    plot_by_group,
    plot_over_time,
    read_all_frames,
    tsne_2d,
    write_trajectory_video,
)
from videossl.models.checkpoint import load_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))


def build_parser():
    parser = evaluation_parser(__doc__)
    parser.add_argument("--input", nargs="+", default=None, help="video files or frame folders (default: dataset mode)")
    parser.add_argument("--output", default=None, help="the PNG (or with --vid the MP4) to write")
    parser.add_argument("--vid", action="store_true", help="also write an MP4 of the video and its trajectory")
    parser.add_argument("--step", type=int, default=1, help="frames between embeddings of a video")
    parser.add_argument("--subset", default="test", choices=("train", "test"), help="dataset mode: which split")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--video_height", type=int, default=240, help="height of the --vid MP4")
    parser.add_argument(
        "--space",
        default="auto",
        choices=("auto", "backbone", "embedding"),
        help="auto: embedding for TCE checkpoints (TCE's t-SNE), backbone otherwise",
    )
    parser.add_argument(
        "--pca_variance",
        type=float,
        default=None,
        help="PCA to the components explaining this fraction of the variance (default: 0.85 in the "
        "embedding space, else 50 components)",
    )
    parser.add_argument(
        "--pca_search",
        default="exact",
        choices=("exact", "release"),
        help="with --pca_variance: the fewest components that reach it, or TCE's bisection, which can "
        "stop a little below it",
    )
    return parser


def embedding_space(args, description):
    """(head or None, PCA variance or None) as --space and --pca_variance say."""
    space = args.space
    if space == "auto":
        space = "embedding" if str(description.get("method", "")).startswith("tce") else "backbone"
    if space == "backbone" or args.saved_model == "random":
        return None, args.pca_variance
    head = linear_embedding_head(
        load_checkpoint(args.saved_model, trust=args.trust_checkpoint, source=args.checkpoint_format, arch=args.arch)
    )
    if head is None:
        raise UserError(
            f"--space embedding: {args.saved_model} has no linear embedding head (TCE's); use --space backbone"
        )
    return head, 0.85 if args.pca_variance is None else args.pca_variance


def output_paths(args):
    default = "video.mp4" if args.vid else "tsne.png"
    output = args.output or os.path.join(args.out_dir or os.path.join(HERE, "results", args.run_id), default)
    stem, ext = os.path.splitext(output)
    if args.vid and ext.lower() not in (".mp4", ".mkv", ".mov", ".avi"):
        raise UserError(f"--vid writes a video: give --output a .mp4 name, not {output!r}")
    if not args.vid and ext.lower() != ".png":
        raise UserError(f"--output must be a .png file without --vid, got {output!r}")
    return {"video": output if args.vid else None, "png": stem + ".png", "embeddings": stem + "_embeddings.npy"}


def videos_mode(args, backbone, contract, device, paths, head=None, pca_variance=None):
    if args.vid and len(args.input) != 1:
        raise UserError("--vid draws one video's trajectory: give a single --input")
    embeddings, groups, first = [], [], None
    for g, video in enumerate(args.input):
        if not os.path.exists(video):
            raise UserError(f"--input {video}: no such file or folder")
        frames, fps = read_all_frames(video, args.video_backend)
        positions, e = embed_video_over_time(
            backbone, contract, frames, device, args.precision, args.step, args.batch_size
        )
        embeddings.append(embed(e, head))
        groups += [g] * len(e)
        if first is None:
            first = (frames, fps, positions)
    embeddings = np.concatenate(embeddings)
    points, kl = tsne_2d(embeddings, args.seed, args.perplexity, pca_variance, args.pca_search)
    names = [os.path.basename(os.path.normpath(v)) for v in args.input]
    if len(args.input) == 1:
        plot_over_time(points, paths["png"], f"{names[0]}: t-SNE of embeddings over time")
    else:
        plot_by_group(points, groups, names, paths["png"], "t-SNE of embeddings over time, by video")
    if args.vid:
        frames, fps, positions = first
        write_trajectory_video(frames, positions, points, paths["video"], fps, args.video_height)
    return embeddings, kl, {"inputs": [os.path.abspath(v) for v in args.input], "step": args.step}


def dataset_mode(args, backbone, contract, checkpoint_id, paths, head=None, pca_variance=None):
    if args.vid:
        raise UserError("--vid needs --input VIDEO (a dataset has no single trajectory)")
    features = subset_features(args, backbone, contract, checkpoint_id, args.subset)
    embeddings = embed(pooled(features["maps"]).mean(dim=1).numpy(), head)
    points, kl = tsne_2d(embeddings, args.seed, args.perplexity, pca_variance, args.pca_search)
    plot_by_group(
        points,
        features["labels"].numpy(),
        features["class_names"],
        paths["png"],
        f"t-SNE of {args.dataset} {args.subset} videos (split {args.split}), by class",
    )
    return (
        embeddings,
        kl,
        {
            "dataset": args.dataset,
            "split": args.split,
            "subset": args.subset,
            "num_clips": args.num_clips,
            "unreadable": {args.subset: features["unreadable"]},
        },
    )


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.step < 1:
        raise UserError("--step must be at least 1")
    paths = output_paths(args)
    started = time.perf_counter()
    backbone, contract, checkpoint_id, description = load_model_for_eval(args)
    device = resolve_device(args.device)
    head, pca_variance = embedding_space(args, description)
    if args.input:
        embeddings, kl, details = videos_mode(args, backbone, contract, device, paths, head, pca_variance)
    else:
        embeddings, kl, details = dataset_mode(args, backbone, contract, checkpoint_id, paths, head, pca_variance)
    details.update(space="embedding" if head is not None else "backbone", pca_variance=pca_variance)
    np.save(paths["embeddings"], embeddings)
    seconds = time.perf_counter() - started
    print_table(
        f"t-SNE, {description['saved_model']}",
        [
            ("points", len(embeddings)),
            ("embedding size", embeddings.shape[1]),
            ("KL divergence", kl),
            ("seconds", seconds),
        ],
    )
    results = {
        "metrics": {"points": len(embeddings), "kl_divergence": kl, "seconds": seconds},
        **description,
        **details,
        "contract": contract.to_dict(),
        "outputs": paths,
    }
    written = [p for p in (paths["png"], paths["video"], paths["embeddings"]) if p]
    written.append(write_results(os.path.dirname(os.path.abspath(paths["png"])), results))
    for path in written:
        print(f"wrote: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
