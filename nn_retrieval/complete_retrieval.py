"""Nearest-neighbour video retrieval with any checkpoint: test videos query the training videos.

    cd nn_retrieval && python complete_retrieval.py --run_id EXP --saved_model PATH [--protocol tclr]

Per video: the features of --num_clips evenly spaced clips (preprocessed as the checkpoint's input
contract says), averaged; cosine similarity; recall@1/5/10/20/50 (a hit: any of the k nearest
training videos has the query's class). Protocols: tclr (the map before temporal pooling,
flattened), coclr (mean-centred), pooled. Writes results.json and retrieval.png (queries with
their top-5 neighbours, hits green, misses red) to nn_retrieval/results/<run_id>/ or --out_dir.
"""

import argparse
import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from videossl.cli import run_cli
from videossl.data.args import add_data_args, index_from_args
from videossl.eval.common import (
    add_checkpoint_args, add_feature_args, feature_device, load_model_for_eval, print_table, write_results,
)
from videossl.eval.features import extract_features
from videossl.eval.pictures import retrieval_strip
from videossl.eval.retrieval import DEFAULT_KS, PROTOCOLS, retrieval

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_id", default="dummy")
    parser.add_argument("--protocol", default="tclr", choices=PROTOCOLS)
    parser.add_argument("--picture_queries", type=int, default=6, help="queries shown in retrieval.png (0: none)")
    add_checkpoint_args(parser)
    add_feature_args(parser)
    add_data_args(parser)
    args = parser.parse_args(argv)
    out_dir = args.out_dir or os.path.join(HERE, "results", args.run_id)
    backbone, contract, checkpoint_id, description = load_model_for_eval(args)
    device = feature_device(args)
    features = {}
    for subset in ("train", "test"):
        index = index_from_args(args, subset)
        features[subset] = extract_features(
            backbone, contract, index, checkpoint_id, args.num_clips, args.test_crops, args.batch_size, device,
            args.precision, args.num_workers, args.feature_cache, args.video_backend)
    recall, neighbours = retrieval(features["test"]["maps"], features["test"]["labels"], features["train"]["maps"],
                                   features["train"]["labels"], args.protocol, DEFAULT_KS)
    rows = [(f"R@{k}", value) for k, value in recall.items()]
    rows += [("queries (test videos)", len(features["test"]["labels"])),
             ("gallery (train videos)", len(features["train"]["labels"]))]
    print_table(f"retrieval, {args.protocol} protocol, {description['saved_model']}", rows)
    for subset, f in features.items():
        print(f"{subset} features: {f['seconds']:.1f} s ({'cache' if f['cached'] else 'extracted'})")
    results = {"metrics": {f"R@{k}": v for k, v in recall.items()}, "protocol": args.protocol, **description,
               "dataset": args.dataset, "split": args.split, "num_clips": args.num_clips, "crops": args.test_crops,
               "contract": contract.to_dict(),
               "feature_seconds": {s: f["seconds"] for s, f in features.items()}}
    path = write_results(out_dir, results)
    print(f"results: {path}")
    if args.picture_queries:
        picture = retrieval_strip(features["test"], features["train"], neighbours, os.path.join(out_dir, "retrieval.png"),
                                  args.picture_queries, backend=args.video_backend)
        print(f"picture: {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
