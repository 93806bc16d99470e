"""Nearest-neighbour video retrieval with any checkpoint: test videos query the training videos.

    cd nn_retrieval && python complete_retrieval.py --run_id EXP --saved_model PATH [--protocol tclr]

Per video: the features of its clips (preprocessed as the checkpoint's input contract says),
averaged; cosine similarity; recall@1/5/10/20/50 (a hit: any of the k nearest training videos has
the query's class). Protocols: tclr (TCLR's release: 9 clips at its positions, the centre 0.8 of the
short side, the map before temporal pooling flattened), coclr (CoCLR's: every half-overlapping
window averaged; queries and gallery each centred on their own mean), pooled (10 evenly spaced
clips, the full short side). Writes results.json and retrieval.png (queries with their top-5
neighbours, hits green, misses red) to nn_retrieval/results/<run_id>/ or --out_dir.
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videossl.cli import run_cli
from videossl.engine.training import resolve_device
from videossl.eval.common import (
    evaluate_setup,
    evaluation_parser,
    features_record,
    print_table,
    report_feature_times,
    write_results,
)
from videossl.eval.features import CLIP_STARTS
from videossl.eval.pictures import retrieval_strip
from videossl.eval.retrieval import DEFAULT_KS, PROTOCOL_VIEWS, PROTOCOLS, retrieval


def main(argv=None):
    parser = evaluation_parser(__doc__)
    parser.add_argument("--protocol", default="tclr", choices=PROTOCOLS)
    parser.add_argument(
        "--gallery_clip_starts",
        default=None,
        choices=CLIP_STARTS,
        help="the gallery's (training videos') clips, when not as --clip_starts (coclr: random, one clip)",
    )
    parser.add_argument("--picture_queries", type=int, default=6, help="queries shown in retrieval.png (0: none)")
    known, _ = parser.parse_known_args(argv)
    parser.set_defaults(**PROTOCOL_VIEWS.get(known.protocol, {}))
    args = parser.parse_args(argv)
    out_dir, contract, description, features = evaluate_setup(args, __file__)
    recall, neighbours = retrieval(
        features["test"]["maps"],
        features["test"]["labels"],
        features["train"]["maps"],
        features["train"]["labels"],
        args.protocol,
        DEFAULT_KS,
        device=resolve_device(args.device),
    )
    rows = [(f"R@{k}", value) for k, value in recall.items()]
    rows += [
        ("queries (test videos)", len(features["test"]["labels"])),
        ("gallery (train videos)", len(features["train"]["labels"])),
    ]
    print_table(f"retrieval, {args.protocol} protocol, {description['saved_model']}", rows)
    report_feature_times(features)
    clips = "every window" if args.clip_starts == "windows" else args.num_clips
    results = {
        "metrics": {f"R@{k}": v for k, v in recall.items()},
        "protocol": args.protocol,
        **description,
        "dataset": args.dataset,
        "split": args.split,
        "num_clips": clips,
        "crops": args.test_crops,
        "crop_fraction": args.crop_fraction,
        "clip_starts": args.clip_starts,
        "gallery_clip_starts": args.gallery_clip_starts or args.clip_starts,
        "contract": contract.to_dict(),
        **features_record(features),
    }
    path = write_results(out_dir, results)
    print(f"results: {path}")
    if args.picture_queries:
        picture = retrieval_strip(
            features["test"],
            features["train"],
            neighbours,
            os.path.join(out_dir, "retrieval.png"),
            args.picture_queries,
            backend=args.video_backend,
        )
        print(f"picture: {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
